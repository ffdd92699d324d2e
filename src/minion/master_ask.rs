//! Requests a local process has the minion send to the master for it: a state run's child
//! (or `cp.*`) asks for `salt://` files and the pillar through the minion's own bus, and the
//! minion carries the request on its authenticated session, so the child never holds the
//! minion's keys. The minion also fetches its own pillar this way when it authenticates.

use super::Minion;
use crate::bus::{Answer, ClientId};
use crate::proto::Load;
use serde_json::{json, Map, Value};

/// The reserved function name a local client uses to ask the master something.
pub const MASTER_FUN: &str = "_master";

/// Requests to the master waiting for their answers at most: a runaway local client cannot
/// grow the minion's memory without bound.
const MAX_ASKS: usize = 256;

/// Who is waiting for the answer to a request sent to the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asker {
    /// A local client of the minion's bus.
    Client(ClientId),
    /// The minion itself, for its pillar.
    Pillar,
}

impl Minion {
    /// A local client asked for `kwarg.load` to be sent to the master.
    pub(super) fn ask_master(&mut self, client: ClientId, kwarg: &Map<String, Value>) {
        let load: Option<Load> = kwarg
            .get("load")
            .and_then(|l| serde_json::from_value(l.clone()).ok());
        let Some(mut load) = load.filter(Load::is_deferred) else {
            self.answer_client(
                client,
                false,
                json!("_master takes a load of _file_list, _file_envs, _file_hash, _serve_file or _pillar"),
            );
            return;
        };
        if self.masterless() {
            self.answer_client(client, false, json!("this minion runs without a master"));
            return;
        }
        if !self.is_accepted() {
            self.answer_client(client, false, json!("not connected to the master"));
            return;
        }
        if self.asks.len() >= MAX_ASKS {
            self.answer_client(
                client,
                false,
                json!("too many requests to the master are waiting; try again"),
            );
            return;
        }
        // The pillar is compiled against the minion's own grains, never ones a local
        // process made up to match another minion's targets.
        if let Load::Pillar { grains, .. } = &mut load {
            *grains = Some(self.grains());
        }
        match self.send_load(&load) {
            Some(ctr) => {
                self.asks.insert(ctr, Asker::Client(client));
            }
            None => self.answer_client(client, false, json!("not connected to the master")),
        }
    }

    /// Asks the master for this minion's pillar, with its grains now.
    pub(super) fn request_pillar(&mut self) {
        if self.asks.values().any(|a| *a == Asker::Pillar) {
            return;
        }
        let grains = self.grains();
        if let Some(ctr) = self.send_load(&Load::Pillar {
            pillarenv: None,
            grains: Some(grains),
        }) {
            self.asks.insert(ctr, Asker::Pillar);
        }
    }

    /// The master answered request `ctr`; true when someone here was waiting for it.
    pub(super) fn master_answered(
        &mut self,
        ctr: u64,
        ok: bool,
        ret: Value,
        bin: Option<Vec<u8>>,
    ) -> bool {
        let Some(asker) = self.asks.remove(&ctr) else {
            return false;
        };
        match asker {
            Asker::Client(client) => {
                let ret = match (bin, ret) {
                    // Local answers are msgpack of JSON values: the bytes travel as base64.
                    (Some(b), Value::Object(mut m)) => {
                        m.insert("data".into(), json!(crate::crypto::base64_encode(&b)));
                        Value::Object(m)
                    }
                    (_, ret) => ret,
                };
                self.answer_client(client, ok, ret);
            }
            Asker::Pillar => match ret {
                Value::Object(p) if ok => {
                    match crate::pillar::render_errors(&p) {
                        Some(errors) => log::error!(
                            "the master could not compile our pillar: {}",
                            errors.join(" ")
                        ),
                        None => {
                            log::info!("received the pillar from the master ({} keys)", p.len())
                        }
                    }
                    self.pillar = p;
                }
                other => log::error!(
                    "the master could not compile our pillar: {}",
                    crate::py::python_str(&other)
                ),
            },
        }
        true
    }

    /// The session ended: nobody gets an answer on it, so everyone waiting is told now.
    pub(super) fn asks_lost(&mut self, why: &str) {
        let asks = std::mem::take(&mut self.asks);
        for (_, asker) in asks {
            if let Asker::Client(client) = asker {
                self.answer_client(client, false, json!(format!("the master {why}")));
            }
        }
    }

    /// A local client left: its pending requests are forgotten.
    pub(super) fn asks_closed(&mut self, client: ClientId) {
        self.asks.retain(|_, a| *a != Asker::Client(client));
    }

    fn answer_client(&mut self, client: ClientId, ok: bool, ret: Value) {
        if let Some(bus) = self.bus.as_mut() {
            bus.answer(
                client,
                &Answer {
                    jid: None,
                    ret,
                    success: ok,
                    retcode: if ok { 0 } else { 1 },
                },
            );
        }
    }
}
