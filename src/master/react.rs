//! The master's reactor: events the bus kept for it are matched, rendered and compiled by the
//! [`Engine`], and their reactions carried out: `local` publishes a job at once, `runner` and
//! `wheel` wait in a bounded queue (`reactor_worker_hwm`) that each loop turn works through.

use super::{Master, Now};
use crate::bus::Request;
use crate::reactor::engine::{self, Engine, Reacted};
use crate::reactor::{Call, Reaction, RenderEnv, RenderJob, RenderReply};
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

/// A reactor for this configuration, with no rules yet: the I/O layer reads them
/// ([`Master::set_reactor_rules`]), as it reads the files they name.
pub(super) fn engine(cfg: &crate::config::MasterConfig) -> Engine {
    // Grains and the environment are host facts the I/O layer gathers (`Master::set_host`).
    let env = RenderEnv {
        opts: public_opts(cfg),
        ..RenderEnv::default()
    };
    Engine::new(Vec::new(), env)
}

/// The signatures of the functions a reaction may call, for the legacy argument schema: the
/// master's runners and wheel, and the execution modules a local reaction runs on minions.
pub fn signatures(
    kind: crate::reactor::Kind,
    fun: &str,
) -> Option<&'static [crate::signature::Param]> {
    use crate::reactor::Kind;
    match kind {
        Kind::Runner => crate::runners::find(fun).map(|r| r.params),
        Kind::Wheel => crate::wheel::params(fun),
        Kind::Local | Kind::Caller => crate::modules::find(fun).map(|f| f.params),
    }
}

/// Reactions one after the other (a runner reaction firing an event another reaction
/// takes, ...) after which the reactor stops following the chain: a rule whose runner
/// reaction fires its own tag ends there instead of looping without end.
pub const MAX_CHAIN: u8 = 8;

/// An event whose files are with the renderer process.
pub(super) struct PendingRender {
    tag: String,
    chain: u8,
    /// What gathering found (rules, files, missing ones); `compiled` comes with the reply.
    reacted: Reacted,
    /// Set for `reactor.test`: the run to answer.
    dry: Option<DryRun>,
}

/// A `reactor.test` waiting for its render.
pub(super) struct DryRun {
    client: Option<crate::bus::ClientId>,
    jid: String,
    load: Map<String, Value>,
}

/// A runner or wheel reaction waiting for its turn.
pub(super) struct Work {
    /// How many reactions led to it (events it fires carry one more).
    chain: u8,
    id: String,
    wheel: bool,
    fun: String,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
}

impl Master {
    /// The host's grains and environment, for templates (`grains.get`, `environ.get`);
    /// the I/O layer gathers them before the first turn.
    pub fn set_host(
        &mut self,
        grains: Map<String, Value>,
        environ: std::collections::BTreeMap<String, String>,
    ) {
        self.reactor.env.grains = grains;
        self.reactor.env.environ = environ;
        self.render_env_gen += 1;
    }

    /// The master's own pillar, for `salt['pillar.get']` in reactor templates.
    pub fn set_pillar(&mut self, pillar: Map<String, Value>) {
        self.reactor.env.pillar = pillar;
        self.render_env_gen += 1;
    }

    /// The master's grains, as the I/O layer gathered them.
    pub fn host_grains(&self) -> &Map<String, Value> {
        &self.reactor.env.grains
    }

    /// The reactor's rules, as the I/O layer read them from `reactor:` (at start; a reload
    /// brings its own in [`super::Loaded`]).
    pub fn set_reactor_rules(&mut self, rules: Vec<engine::Rule>) {
        if !rules.is_empty() {
            log::info!("reactor: {} rules", rules.len());
        }
        self.reactor.set_rules(rules);
        self.reactor_rules_changed();
    }

    /// The rules changed: point the bus at them and have the loop read their files.
    pub(super) fn reactor_rules_changed(&mut self) {
        self.bus.set_tap(Some(self.reactor.matcher()));
        self.reactor_sources_changed = true;
    }

    /// When the rules changed since the last call: every SLS entry they name, for the loop
    /// to read and watch, handing back [`super::Input::ReactorSource`] for each file (and
    /// again whenever one changes). The loop calls this before [`Master::react`].
    pub fn take_reactor_sources(&mut self) -> Option<Vec<String>> {
        std::mem::take(&mut self.reactor_sources_changed).then(|| self.reactor.sources())
    }

    /// Takes the reloaded rules (SIGHUP) and the reloaded options for templates.
    pub(super) fn reload_reactor(&mut self, rules: Vec<engine::Rule>) {
        self.reactor.env.opts = public_opts(&self.cfg);
        self.render_env_gen += 1;
        self.reactor.set_rules(rules);
        self.reactor_rules_changed();
    }

    /// True while the reactor has events or reactions waiting.
    pub(super) fn reactor_busy(&self) -> bool {
        self.bus.has_tapped() || !self.reactor_work.is_empty() || !self.render_out.is_empty()
    }

    /// Renders the I/O layer's renderer process should do, oldest first. With none taken
    /// (no renderer: tests, tools) the core renders in-process; see [`Master::set_renderer`].
    pub fn take_renders(&mut self) -> Vec<RenderJob> {
        std::mem::take(&mut self.render_out)
    }

    /// From now on reactor files are rendered by a renderer process: the loop takes the
    /// jobs with [`Master::take_renders`] and hands back [`super::Input::Rendered`].
    pub fn set_renderer(&mut self, on: bool) {
        self.render_in_child = on;
    }

    /// The render environment and its generation (it changes with a reload).
    pub fn render_env(&self) -> (u64, &RenderEnv) {
        (self.render_env_gen, &self.reactor.env)
    }

    /// Handles the events the bus kept for the reactor, then runs waiting reactions.
    pub fn react(&mut self, now: Now) {
        self.orchestrate_events(now);
        for t in self.bus.take_tapped(EVENTS_PER_TURN) {
            self.react_one(now, &t);
        }
        for _ in 0..WORK_PER_TURN {
            let Some(w) = self.reactor_work.pop_front() else {
                break;
            };
            let kind = if w.wheel { "wheel" } else { "runner" };
            // What the reaction fires is one more link of its chain.
            self.bus.set_chain(w.chain);
            let answer = if w.wheel {
                Some(self.wheel_call(now, &w.fun, w.arg, w.kwarg, "Reactor"))
            } else {
                self.run_internal(now, &w.fun, w.arg, w.kwarg, "Reactor")
            };
            self.bus.set_chain(0);
            if let Some(a) = answer.filter(|a| !a.success) {
                crate::log_limited!(
                    Error,
                    format!("reactor:failed:{}", w.id),
                    "Reactor '{}' failed to execute {kind} '{}': {}",
                    w.id,
                    w.fun,
                    crate::py::python_str(&a.ret)
                );
            }
        }
    }

    fn react_one(&mut self, now: Now, tapped: &crate::bus::Tapped) {
        let (tag, chain) = (tapped.tag.as_str(), tapped.chain);
        let data = match tapped.data() {
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
        if chain >= MAX_CHAIN {
            crate::log_limited!(
                Warn,
                format!("reactor:chain:{tag}"),
                "reactor: {tag} comes at the end of a chain of {chain} reactions, each fired by the one before; not reacting to it (a rule whose reaction fires an event it matches would loop)"
            );
            return;
        }
        if !self.render_in_child {
            let r = self.reactor.react(tag, &data, now.mono, &signatures, false);
            self.log_throttled(tag, &r);
            self.count_reacted(&r);
            self.reacted(now, tag, chain, &r);
            return;
        }
        let r = self.reactor.gather(tag, &data, now.mono, false);
        self.log_throttled(tag, &r);
        self.count_reacted(&r);
        if r.texts.is_empty() {
            self.reacted(now, tag, chain, &r);
            return;
        }
        self.send_to_renderer(tag, data, chain, r, None);
    }

    fn log_throttled(&self, tag: &str, r: &Reacted) {
        for &i in &r.throttled {
            if let Some(rule) = self.reactor.rules().get(i) {
                log::debug!("reactor: {tag} throttled by the rule for {}", rule.tag);
            }
        }
    }

    /// Hands an event's files to the renderer process; the rest waits for its reply.
    fn send_to_renderer(
        &mut self,
        tag: &str,
        data: Map<String, Value>,
        chain: u8,
        mut reacted: Reacted,
        dry: Option<DryRun>,
    ) {
        self.render_seq += 1;
        self.render_out.push(RenderJob {
            seq: self.render_seq,
            files: std::mem::take(&mut reacted.texts),
            tag: tag.to_owned(),
            data,
        });
        self.renders.insert(
            self.render_seq,
            PendingRender {
                tag: tag.to_owned(),
                chain,
                reacted,
                dry,
            },
        );
    }

    /// The renderer process answered (or failed) one event's files.
    pub(super) fn rendered(&mut self, now: Now, result: Result<RenderReply, (u64, String)>) {
        let (seq, outcome) = match result {
            Ok(reply) => (reply.seq, Ok(reply.compiled)),
            Err((seq, why)) => (seq, Err(why)),
        };
        let Some(mut p) = self.renders.remove(&seq) else {
            return;
        };
        match outcome {
            Ok(compiled) => p.reacted.compiled = Some(compiled),
            Err(why) => {
                let file = p
                    .reacted
                    .files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                p.reacted
                    .missing
                    .push((file.clone(), format!("{file}: {why}")));
            }
        }
        match p.dry {
            Some(d) => {
                let value = self.dry_result(&p.reacted);
                let answer =
                    self.finish_run(now, d.jid, d.load, crate::runners::Outcome::ok(value));
                if let Some(id) = d.client {
                    self.bus.answer(id, &answer);
                }
            }
            None => self.reacted(now, &p.tag, p.chain, &p.reacted),
        }
    }

    /// A client went away: its dry runs have no one to answer.
    pub(super) fn forget_dry_client(&mut self, id: crate::bus::ClientId) {
        for p in self.renders.values_mut() {
            if let Some(d) = p.dry.as_mut() {
                if d.client == Some(id) {
                    d.client = None;
                }
            }
        }
    }

    /// Carries out what one event's files compiled to, or reports why they did not.
    fn reacted(&mut self, now: Now, tag: &str, chain: u8, r: &Reacted) {
        if let Some(reactions) = self.reaction_errors(now, tag, r) {
            self.counters.reactor_reactions += reactions.len() as u64;
            for reaction in reactions {
                self.dispatch(now, reaction, chain);
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
            self.counters.reactor_render_errors += errors.len() as u64;
            let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
            crate::log_limited!(
                Error,
                format!("reactor:render:{}", files.join(",")),
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

    fn dispatch(&mut self, now: Now, r: Reaction, chain: u8) {
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
                        crate::py::python_str(&a.ret)
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
                    chain: chain.saturating_add(1),
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
        let r = self.reactor.react(tag, &data, now.mono, &signatures, true);
        self.dry_result(&r)
    }

    /// `reactor.test` with the renderer process: the answer comes with the render. `None`
    /// when it is deferred; the answer when nothing needed rendering or the call was bad.
    pub(super) fn reactor_test_deferred(
        &mut self,
        now: Now,
        req: &Request,
        client: Option<crate::bus::ClientId>,
    ) -> Option<crate::bus::Answer> {
        let runner = crate::runners::find("reactor.test")?;
        let args = match crate::runners::bind(runner, &req.arg, &req.kwarg) {
            Ok(a) => a,
            Err(e) => {
                return Some(crate::bus::Answer {
                    jid: None,
                    ret: Value::String(format!("Passed invalid arguments: {e}.")),
                    success: false,
                    retcode: 1,
                })
            }
        };
        let jid = self.jids.next(now.wall);
        let user = req.user.clone().unwrap_or_else(|| "UNKNOWN".into());
        let mut load = Map::new();
        load.insert("fun".into(), json!("runner.reactor.test"));
        load.insert("jid".into(), json!(jid));
        load.insert("user".into(), json!(user));
        load.insert(
            "fun_args".into(),
            crate::runners::fun_args(&req.arg, &req.kwarg),
        );
        self.fire(&format!("salt/run/{jid}/new"), load.clone(), now);
        let tag = match &args[0] {
            Value::String(s) => s.clone(),
            other => crate::py::python_str(other),
        };
        let data = match &args[1] {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                let outcome = crate::runners::Outcome::exception(
                    "reactor.test",
                    &format!("data must be a map, not {}", crate::py::python_str(other)),
                );
                return Some(self.finish_run(now, jid, load, outcome));
            }
        };
        let r = self.reactor.gather(&tag, &data, now.mono, true);
        if r.texts.is_empty() {
            let value = self.dry_result(&r);
            return Some(self.finish_run(now, jid, load, crate::runners::Outcome::ok(value)));
        }
        self.send_to_renderer(&tag, data, 0, r, Some(DryRun { client, jid, load }));
        None
    }

    /// What `reactor.test` shows for a gathered (and rendered) event.
    fn dry_result(&self, r: &Reacted) -> Value {
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
