//! Messages to the master: sealed on the session when there is one, queued in the outbox
//! while there is not, and events remembered until the master acknowledges them.

use super::session::Phase;
use super::{Action, Minion};
use crate::clock::Now;
use crate::proto::{self, serde_bytes_compat::Bytes, Load};
use serde_json::{json, Map, Value};

/// How many events for the master a minion keeps while it is not connected.
const OUTBOX_LIMIT: usize = 1000;

impl Minion {
    /// `salt/minion/<id>/start` (and `minion_start`), once per process (salt-spec §2.3).
    pub(super) fn fire_start(&mut self, now: Now) {
        let id = self.cfg.id.clone();
        let text = format!(
            "Minion {id} started at {}",
            crate::clock::asctime_local(now.wall)
        );
        let mut extra = Map::new();
        if let Value::Array(names) = &self.cfg.start_event_grains {
            if !names.is_empty() {
                let grains = self.grains();
                let mut picked = Map::new();
                for n in names.iter().filter_map(Value::as_str) {
                    if let Some(v) = grains.get(n) {
                        picked.insert(n.to_string(), v.clone());
                    }
                }
                extra.insert("grains".into(), Value::Object(picked));
            }
        }
        let mut tags = vec![format!("salt/minion/{id}/start")];
        if self.cfg.enable_legacy_startup_events {
            tags.push("minion_start".to_string());
        }
        for tag in tags {
            self.send_load(&Load::MinionEvent {
                id: id.clone(),
                tag: Some(tag),
                data: Some(Value::String(text.clone())),
                pretag: None,
                events: None,
                extra: extra.clone(),
            });
        }
    }

    /// Recomputes nothing (grains are computed by the loop at start) but sends the
    /// current grains to the master's cache.
    pub fn refresh_grains(&mut self) {
        let grains = self.grains();
        self.send_load(&Load::Grains { grains });
    }

    pub(super) fn send_load(&mut self, load: &Load) -> Option<u64> {
        let Phase::Accepted(s) = &self.phase else {
            if matches!(
                load,
                Load::Ping {} | Load::Bye {} | Load::Grains { .. } | Load::Return { .. }
            ) {
                return None;
            }
            if self.outbox.len() >= OUTBOX_LIMIT {
                self.drops.outbox += 1;
                log::warn!("not connected to the master and the outbox is full: dropped an event");
                return None;
            }
            self.outbox.push_back(load.clone());
            return None;
        };
        self.ctr += 1;
        let aad = proto::aad(&self.cfg.id, s.sid, self.ctr);
        let data = s.shared.encrypt(&aad, &proto::encode(load));
        let req = proto::Request::Sealed {
            id: self.cfg.id.clone(),
            sid: s.sid,
            ctr: self.ctr,
            data: Bytes(data),
        };
        self.actions.push_back(Action::Send(proto::encode(&req)));
        if matches!(load, Load::MinionEvent { .. }) {
            if self.unacked.len() >= OUTBOX_LIMIT {
                self.unacked.pop_front();
                self.drops.outbox += 1;
            }
            self.unacked.push_back((self.ctr, load.clone()));
        }
        Some(self.ctr)
    }

    /// Sends an event to the master bus (`_minion_event`, salt-spec §1.5).
    pub fn fire_master(&mut self, tag: &str, data: Value) {
        let data = match data {
            Value::Null => json!({}),
            other => other,
        };
        self.send_load(&Load::MinionEvent {
            id: self.cfg.id.clone(),
            tag: Some(tag.to_string()),
            data: Some(data),
            pretag: None,
            events: None,
            extra: Map::new(),
        });
    }

    /// Tells the master this minion is leaving (a clean shutdown).
    pub fn goodbye(&mut self) {
        if self.is_accepted() {
            self.send_load(&Load::Bye {});
        }
    }
}
