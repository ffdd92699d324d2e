//! The master's reactor: events the bus kept for it are matched, rendered and compiled by the
//! [`Engine`], and their reactions carried out: `local` publishes a job at once, `runner` and
//! `wheel` wait in a bounded queue (`reactor_worker_hwm`) that each loop turn works through.

use super::{Master, Now};
use crate::bus::Request;
use crate::reactor::engine::{self, Engine, Reacted};
use crate::reactor::{Call, Reaction, RenderEnv};
use serde_json::{json, Map, Value};

/// Events the reactor handles per loop turn (the rest wait for the next turn).
const EVENTS_PER_TURN: usize = 32;

/// Runner and wheel reactions run per loop turn.
const WORK_PER_TURN: usize = 64;

/// Settings never shown to templates (`opts`) or by `config.values`.
fn secret(key: &str) -> bool {
    ["pass", "secret", "token", "key_pass"]
        .iter()
        .any(|s| key.contains(s))
}

/// The master's settings without secrets.
pub(super) fn public_opts(cfg: &crate::config::MasterConfig) -> Map<String, Value> {
    cfg.values()
        .into_iter()
        .filter(|(k, _)| !secret(k))
        .collect()
}

/// A reactor for this configuration; broken rules are logged.
pub(super) fn engine(cfg: &crate::config::MasterConfig) -> Engine {
    let (rules, errors) = engine::load_rules(&cfg.reactor, &cfg.conf_dir);
    for e in errors {
        log::error!("{e}");
    }
    let env = RenderEnv {
        opts: public_opts(cfg),
        grains: crate::grains::compute(&crate::config::host_fqdn()),
        environ: std::env::vars().collect(),
        ..RenderEnv::default()
    };
    if !rules.is_empty() {
        log::info!("reactor: {} rules", rules.len());
    }
    Engine::new(rules, env)
}

/// A runner or wheel reaction waiting for its turn.
pub(super) struct Work {
    id: String,
    wheel: bool,
    fun: String,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
}

impl Master {
    /// Re-reads the reactor rules (SIGHUP) and points the bus at them.
    pub(super) fn reload_reactor(&mut self) {
        let (rules, errors) = engine::load_rules(&self.cfg.reactor, &self.cfg.conf_dir);
        for e in errors {
            log::error!("{e}");
        }
        self.reactor.env.opts = public_opts(&self.cfg);
        self.reactor.set_rules(rules);
        self.bus.set_tap(Some(self.reactor.matcher()));
    }

    /// True while the reactor has events or reactions waiting.
    pub(super) fn reactor_busy(&self) -> bool {
        self.bus.has_tapped() || !self.reactor_work.is_empty()
    }

    /// Handles the events the bus kept for the reactor, then runs waiting reactions.
    pub fn react(&mut self, now: Now) {
        for (tag, raw) in self.bus.take_tapped(EVENTS_PER_TURN) {
            self.react_one(now, &tag, &raw);
        }
        for _ in 0..WORK_PER_TURN {
            let Some(w) = self.reactor_work.pop_front() else {
                break;
            };
            let kind = if w.wheel { "wheel" } else { "runner" };
            let answer = if w.wheel {
                Some(self.wheel_call(now, &w.fun, w.arg, w.kwarg, "Reactor"))
            } else {
                self.run_internal(now, &w.fun, w.arg, w.kwarg, "Reactor")
            };
            if let Some(a) = answer.filter(|a| !a.success) {
                log::error!(
                    "Reactor '{}' failed to execute {kind} '{}': {}",
                    w.id,
                    w.fun,
                    crate::cli::output::python_str(&a.ret)
                );
            }
        }
    }

    fn react_one(&mut self, now: Now, tag: &str, raw: &[u8]) {
        let data = match crate::wire::Event::decode(raw, usize::MAX).and_then(|e| e.value()) {
            Ok(m) => m,
            Err(e) => {
                log::warn!("reactor: cannot read the data of {tag}: {e}");
                return;
            }
        };
        // Salt's loop guard: what a runner or wheel reaction fired does not react again.
        if data.get("user").and_then(Value::as_str) == Some("Reactor") {
            return;
        }
        let r = self
            .reactor
            .react(tag, &data, now.mono, &engine::master_signatures, false);
        for &i in &r.throttled {
            if let Some(rule) = self.reactor.rules().get(i) {
                log::debug!("reactor: {tag} throttled by the rule for {}", rule.tag);
            }
        }
        if let Some(reactions) = self.reaction_errors(now, tag, &r) {
            for reaction in reactions {
                self.dispatch(now, reaction);
            }
        }
    }

    /// Logs and fires every error of an event; the reactions only when there was none.
    fn reaction_errors(&mut self, now: Now, tag: &str, r: &Reacted) -> Option<Vec<Reaction>> {
        let mut errors: Vec<(String, String)> = r.missing.clone();
        if let Some(c) = r.compiled.as_ref() {
            for text in &c.rendered {
                log::debug!(
                    "Rendered data from file: {}:\n{}",
                    text.file.display(),
                    text.text
                );
            }
            for e in c.file_errors.iter().chain(c.abort.iter()) {
                errors.push((e.file().display().to_string(), e.to_string()));
            }
            for n in &c.warnings {
                log::warn!("{}", n.message);
            }
            for n in &c.skipped {
                log::error!("{}", n.message);
            }
        }
        if !errors.is_empty() {
            let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
            log::error!(
                "Unable to render reactions for event {tag} due to errors ({}) in one or more of the sls files ({})",
                errors.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join("; "),
                files.join(", ")
            );
            // A rule on salt/reactor/error that fails itself only logs: no loop of errors.
            if tag != "salt/reactor/error" {
                for (sls, error) in errors {
                    let mut d = Map::new();
                    d.insert("tag".into(), json!(tag));
                    d.insert("sls".into(), json!(sls));
                    d.insert("error".into(), json!(error));
                    self.fire("salt/reactor/error", d, now);
                }
            }
            return None;
        }
        r.compiled.as_ref().map(|c| c.reactions.clone())
    }

    fn dispatch(&mut self, now: Now, r: Reaction) {
        match r.call {
            Call::Local(t) => {
                let mut arg = r.arg.clone();
                if !r.kwarg.is_empty() {
                    let mut kw = r.kwarg.clone();
                    kw.insert("__kwarg__".into(), Value::Bool(true));
                    arg.push(Value::Object(kw));
                }
                let mut kwarg = t.options.clone();
                kwarg.insert("tgt".into(), t.tgt.clone());
                kwarg.insert("tgt_type".into(), json!(t.tgt_type));
                kwarg.insert("fun".into(), json!(r.fun));
                kwarg.insert("arg".into(), Value::Array(arg));
                if let Some(ret) = &t.ret {
                    kwarg.insert("ret".into(), json!(ret));
                }
                let req = Request {
                    fun: "publish".into(),
                    arg: Vec::new(),
                    kwarg,
                    // As in Salt, a local reaction's job is the master user's.
                    user: Some(self.cfg.user.clone()),
                    send_return: false,
                };
                let a = self.publish_job(now, &req);
                if !a.success {
                    log::error!(
                        "Reactor '{}' failed to execute local '{}': {}",
                        r.id,
                        r.fun,
                        crate::cli::output::python_str(&a.ret)
                    );
                }
            }
            Call::Runner | Call::Wheel => {
                let wheel = matches!(r.call, Call::Wheel);
                let hwm = self.cfg.reactor_worker_hwm;
                if hwm > 0 && self.reactor_work.len() >= hwm {
                    self.reactor_dropped += 1;
                    log::error!(
                        "Reactor '{}' failed  to execute {} '{}': TaskPool queue is full!Consider tuning reactor_worker_threads and/or reactor_worker_hwm ({} dropped so far)",
                        r.id,
                        if wheel { "wheel" } else { "runner" },
                        r.fun,
                        self.reactor_dropped
                    );
                    return;
                }
                self.reactor_work.push_back(Work {
                    id: r.id,
                    wheel,
                    fun: r.fun,
                    arg: r.arg,
                    kwarg: r.kwarg,
                });
            }
            Call::Caller => log::warn!(
                "Reactor '{}': caller reactions run on a minion's own reactor (its reactor: setting), not on the master; skipped",
                r.id
            ),
        }
    }

    /// `reactor.test`: what an event would do, running nothing.
    pub(super) fn reactor_test(&mut self, now: Now, tag: &str, data: Map<String, Value>) -> Value {
        let r = self
            .reactor
            .react(tag, &data, now.mono, &engine::master_signatures, true);
        let rules = self.reactor.rules();
        let globs = |ix: &[usize]| -> Vec<Value> {
            ix.iter()
                .filter_map(|&i| rules.get(i))
                .map(|rule| json!({ rule.tag.clone(): rule.sls }))
                .collect()
        };
        let mut out = Map::new();
        out.insert("matched".into(), Value::Array(globs(&r.rules)));
        if !r.throttled.is_empty() {
            out.insert("throttled".into(), Value::Array(globs(&r.throttled)));
        }
        let mut errors: Vec<Value> = r.missing.iter().map(|(_, e)| json!(e)).collect();
        if let Some(c) = &r.compiled {
            let mut rendered = Map::new();
            for t in &c.rendered {
                rendered.insert(t.file.display().to_string(), json!(t.text));
            }
            out.insert("rendered".into(), Value::Object(rendered));
            errors.extend(
                c.file_errors
                    .iter()
                    .chain(c.abort.iter())
                    .map(|e| json!(e.to_string())),
            );
            let reactions: Vec<Value> = c
                .reactions
                .iter()
                .map(|x| serde_json::to_value(x).unwrap_or(Value::Null))
                .collect();
            out.insert(
                "reactions".into(),
                if errors.is_empty() {
                    Value::Array(reactions)
                } else {
                    Value::Array(Vec::new())
                },
            );
            let notes: Vec<Value> = c
                .skipped
                .iter()
                .chain(c.warnings.iter())
                .map(|n| json!(n.message))
                .collect();
            if !notes.is_empty() {
                out.insert("notices".into(), Value::Array(notes));
            }
        }
        if !errors.is_empty() {
            out.insert("errors".into(), Value::Array(errors));
        }
        Value::Object(out)
    }
}
