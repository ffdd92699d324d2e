//! The minion's own reactor: its `reactor:` rules over the events of its bus, and the
//! caller reactions they start.

use super::jobs::Origin;
use super::Minion;
use crate::clock::Now;
use crate::modules;
use serde_json::{json, Map, Value};

/// Caller reactions running at once at most; past it new ones are dropped and logged.
const MAX_CALLER_REACTIONS: usize = 16;

impl Minion {
    /// Takes the minion's `reactor:` rules, as the loop read them, and points its bus at
    /// them; the loop then reads the files they name ([`Minion::take_reactor_sources`]).
    pub fn set_reactor_rules(&mut self, rules: Vec<crate::reactor::engine::Rule>) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        self.reactor_sources_changed = true;
        if rules.is_empty() {
            self.reactor = None;
            bus.set_tap(None);
            return;
        }
        log::info!("reactor: {} rules", rules.len());
        self.render_env_gen += 1;
        let env = crate::reactor::RenderEnv {
            opts: self
                .cfg
                .values()
                .into_iter()
                .filter(|(k, _)| !k.contains("pass") && !k.contains("secret"))
                .collect(),
            grains: self.grains.clone(),
            environ: self.environ.clone(),
            ..crate::reactor::RenderEnv::default()
        };
        let engine = crate::reactor::engine::Engine::new(rules, env);
        bus.set_tap(Some(engine.matcher()));
        self.reactor = Some(engine);
    }

    /// When the rules changed since the last call: the SLS entries they name, for the loop
    /// to read and watch, handing back [`super::Input::ReactorSource`] for each file.
    pub fn take_reactor_sources(&mut self) -> Option<Vec<String>> {
        if !std::mem::take(&mut self.reactor_sources_changed) {
            return None;
        }
        Some(
            self.reactor
                .as_ref()
                .map(|e| e.sources())
                .unwrap_or_default(),
        )
    }

    /// True while events wait for the minion's reactor, or for a bus client whose socket
    /// can take them (a write that used its budget): the loop must not sleep.
    pub fn reactor_busy(&self) -> bool {
        self.bus
            .as_ref()
            .is_some_and(|b| b.has_tapped() || b.has_ready())
            || !self.render_out.is_empty()
    }

    /// Runs the minion's reactor over the events its bus kept: caller reactions start as
    /// local calls; errors are logged and fired as `salt/reactor/error` on the minion bus.
    pub fn react(&mut self, now: Now) {
        let Some(bus) = self.bus.as_mut() else {
            return;
        };
        let events = bus.take_tapped(256);
        for tapped in events {
            let tag = tapped.tag.clone();
            let data = match tapped.data() {
                Ok(m) => m,
                Err(e) => {
                    log::warn!("reactor: cannot read the data of {tag}: {e}");
                    continue;
                }
            };
            if data.get("user").and_then(Value::as_str) == Some("Reactor") {
                continue;
            }
            let Some(engine) = self.reactor.as_mut() else {
                return;
            };
            if self.render_in_child {
                let mut r = engine.gather(&tag, &data, now.mono, false);
                if r.texts.is_empty() {
                    self.reacted(now, &tag, r);
                    continue;
                }
                self.render_seq += 1;
                self.render_out.push(crate::reactor::RenderJob {
                    seq: self.render_seq,
                    files: std::mem::take(&mut r.texts),
                    tag: tag.clone(),
                    data,
                });
                self.renders.insert(self.render_seq, (tag, r));
                continue;
            }
            let sig = |_: crate::reactor::Kind, fun: &str| modules::find(fun).map(|f| f.params);
            let r = engine.react(&tag, &data, now.mono, &sig, false);
            self.reacted(now, &tag, r);
        }
    }

    /// From now on reactor files are rendered by a renderer process: the loop takes the
    /// jobs with [`Minion::take_renders`] and hands back [`Minion::rendered`].
    pub fn set_renderer(&mut self, on: bool) {
        self.render_in_child = on;
    }

    /// Renders for the renderer process, oldest first.
    pub fn take_renders(&mut self) -> Vec<crate::reactor::RenderJob> {
        std::mem::take(&mut self.render_out)
    }

    /// The render environment and its generation, when the minion has a reactor.
    pub fn render_env(&self) -> Option<(u64, &crate::reactor::RenderEnv)> {
        self.reactor.as_ref().map(|e| (self.render_env_gen, &e.env))
    }

    /// The renderer process answered (or failed) one event's files.
    pub(super) fn rendered(
        &mut self,
        now: Now,
        result: Result<crate::reactor::RenderReply, (u64, String)>,
    ) {
        let (seq, outcome) = match result {
            Ok(reply) => (reply.seq, Ok(reply.compiled)),
            Err((seq, why)) => (seq, Err(why)),
        };
        let Some((tag, mut r)) = self.renders.remove(&seq) else {
            return;
        };
        match outcome {
            Ok(c) => r.compiled = Some(c),
            Err(why) => {
                let file = r
                    .files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                r.missing.push((file.clone(), format!("{file}: {why}")));
            }
        }
        self.reacted(now, &tag, r);
    }

    /// Starts what one event's files compiled to, or reports why they did not.
    fn reacted(&mut self, now: Now, tag: &str, r: crate::reactor::engine::Reacted) {
        let mut errors: Vec<(String, String)> = r.missing.clone();
        if let Some(c) = r.compiled.as_ref() {
            for e in c.file_errors.iter().chain(c.abort.iter()) {
                errors.push((e.file().display().to_string(), e.to_string()));
            }
            for n in c.skipped.iter() {
                log::error!("{}", n.message);
            }
            for n in c.warnings.iter() {
                log::warn!("{}", n.message);
            }
        }
        if !errors.is_empty() {
            for (sls, error) in errors {
                log::error!("Unable to render reactions for event {tag}: {error}");
                if tag == "salt/reactor/error" {
                    continue;
                }
                let mut d = Map::new();
                d.insert("tag".into(), json!(tag));
                d.insert("sls".into(), json!(sls));
                d.insert("error".into(), json!(error));
                let _ = self.fire_local(now, "salt/reactor/error", d);
            }
            return;
        }
        let reactions = r.compiled.map(|c| c.reactions).unwrap_or_default();
        for x in reactions {
            if x.kind() != crate::reactor::Kind::Caller {
                log::warn!(
                    "Reactor '{}': only caller reactions run on a minion; {} skipped",
                    x.id,
                    x.kind().name()
                );
                continue;
            }
            let running = self
                .running
                .values()
                .filter(|r| matches!(r.origin, Origin::Reactor { .. }))
                .count();
            if running >= MAX_CALLER_REACTIONS {
                self.drops.reactions += 1;
                log::error!(
                    "Reactor '{}' failed to execute caller '{}': {MAX_CALLER_REACTIONS} caller reactions are still running ({} dropped so far)",
                    x.id,
                    x.fun,
                    self.drops.reactions
                );
                continue;
            }
            let mut data = Map::new();
            data.insert("fun".into(), json!(x.fun));
            let origin = Origin::Reactor {
                id: x.id.clone(),
                fun: x.fun.clone(),
            };
            self.start_call(now, origin, data, &x.fun, &x.arg, &x.kwarg);
        }
    }
}
