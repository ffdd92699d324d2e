//! Local clients of the minion's own event bus: their events, and the calls they ask
//! for (`brine-call`).

use super::jobs::Origin;
use super::Minion;
use crate::bus::{ClientId, ClientInput, Local};
use crate::clock::Now;
use serde_json::{json, Map, Value};

impl Minion {
    /// What a local client of the minion bus did.
    pub(super) fn client(&mut self, now: Now, input: ClientInput<'_>) {
        let max = self.cfg.max_event_size;
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        match input {
            ClientInput::Opened { id, pid } => bus.open(id, pid),
            ClientInput::Closed { id } => {
                bus.close(id);
                self.asks_closed(id);
            }
            ClientInput::Frame { id, kind, payload } => self.client_frame(now, id, kind, payload),
            ClientInput::Oversize { id, size } => bus.refuse(
                id,
                &format!("frame of {size} bytes is over max_event_size {max}"),
            ),
            ClientInput::Empty { id } => bus.refuse(id, "empty frame"),
        }
    }

    /// A frame from a local client of the minion bus.
    fn client_frame(&mut self, now: Now, id: ClientId, kind: u8, payload: &[u8]) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        let max = self.cfg.max_event_size;
        match bus.handle_frame(id, kind, payload, now.wall, self.default_match, max) {
            Local::Nothing => {}
            Local::Fired(ev) => {
                // Salt's minion forwards what is fired locally under `fire_master`.
                if ev.tag() == "fire_master" {
                    if let Ok(d) = ev.value() {
                        let tag = d.get("tag").and_then(Value::as_str).map(str::to_string);
                        let data = d.get("data").cloned().unwrap_or(Value::Null);
                        if let Some(tag) = tag {
                            self.fire_master(&tag, data);
                        }
                    }
                }
            }
            Local::Request(req) if req.fun == super::master_ask::MASTER_FUN => {
                self.ask_master(id, &req.kwarg);
            }
            Local::Request(req) => {
                let mut data = Map::new();
                data.insert("fun".into(), json!(req.fun));
                let mut fun_args = req.arg.clone();
                if !req.kwarg.is_empty() {
                    let mut kw = req.kwarg.clone();
                    kw.insert("__kwarg__".into(), Value::Bool(true));
                    fun_args.push(Value::Object(kw));
                }
                let origin = Origin::Local {
                    client: id,
                    fun: req.fun.clone(),
                    fun_args,
                    send_return: req.send_return,
                };
                self.start_call(now, origin, data, &req.fun, &req.arg, &req.kwarg);
            }
        }
    }

    /// Fires an event on the minion's own bus.
    pub fn fire_local(
        &mut self,
        now: Now,
        tag: &str,
        data: Map<String, Value>,
    ) -> Result<(), String> {
        match self.bus.as_mut() {
            Some(bus) => bus.fire(tag, data, now.wall).map_err(|e| e.to_string()),
            None => Err("this minion has no local bus".into()),
        }
    }
}
