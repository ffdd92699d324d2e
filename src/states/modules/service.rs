//! The `service.*` states: `service.running` (`enable`, `sig`, `init_delay`), `service.dead`,
//! `service.enabled`, `service.disabled` and `mod_watch` (restart, or `reload: True`), with
//! Salt 3007's comments and changes, over the host's init system: systemd when
//! `/run/systemd/system` exists (as `salt.utils.systemd.booted`), else init scripts.

mod systemd;
mod sysvinit;

use crate::states::{ret, Ctx};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

/// What a state needs from an init system; every verb says whether it worked.
pub trait Provider {
    /// The service exists on this host.
    fn available(&self, name: &str) -> bool;
    /// The service is running.
    fn status(&self, name: &str) -> bool;
    /// Starts the service.
    fn start(&self, name: &str) -> bool;
    /// Stops the service.
    fn stop(&self, name: &str) -> bool;
    /// Restarts the service.
    fn restart(&self, name: &str) -> bool;
    /// Reloads the service's configuration.
    fn reload(&self, name: &str) -> bool;
    /// Enabling at boot is possible here at all.
    fn can_enable(&self) -> bool;
    /// The service starts at boot.
    fn enabled(&self, name: &str) -> bool;
    /// Makes the service start at boot.
    fn enable(&self, name: &str) -> bool;
    /// Stops the service starting at boot.
    fn disable(&self, name: &str) -> bool;
}

/// The provider Salt's loader would pick on this host.
fn provider() -> Box<dyn Provider> {
    if Path::new("/run/systemd/system").is_dir() {
        Box::new(systemd::Systemd)
    } else {
        Box::new(sysvinit::Sysvinit)
    }
}

/// A return being built, as Salt's dict that `ret.update(...)` merges into.
struct Ret {
    name: String,
    changes: Map<String, Value>,
    result: Option<bool>,
    comment: String,
}

/// What `_enable`/`_disable` give back: only the keys they set replace the caller's.
#[derive(Default)]
struct Part {
    result: Option<Option<bool>>,
    comment: Option<String>,
    changes: Option<Map<String, Value>>,
}

impl Ret {
    fn new(name: &str) -> Ret {
        Ret {
            name: name.to_owned(),
            changes: Map::new(),
            result: Some(true),
            comment: String::new(),
        }
    }
    fn update(&mut self, p: Part) {
        if let Some(r) = p.result {
            self.result = r;
        }
        if let Some(c) = p.comment {
            self.comment = c;
        }
        if let Some(c) = p.changes {
            self.changes = c;
        }
    }
    fn done(self) -> Value {
        ret(&self.name, self.result, self.comment, self.changes)
    }
}

/// Salt's `salt.utils.data.is_true` for `enable` given as text; None when unset.
fn tri(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "yes" | "1"
        )),
        Value::Number(n) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
        _ => Some(true),
    }
}

/// `sig`: the service runs when some process's command line contains it (`status.pid`).
fn sig_running(sig: &str) -> bool {
    let me = std::process::id().to_string();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            return false;
        }
        std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").contains(sig))
            .unwrap_or(false)
    })
}

/// `service.status(name, sig)`.
fn status(p: &dyn Provider, name: &str, sig: Option<&str>) -> bool {
    match sig {
        Some(s) if !s.is_empty() => sig_running(s),
        _ => p.status(name),
    }
}

/// `init_delay`: seconds to wait after a start or stop before checking.
fn delay(args: &Map<String, Value>) -> Option<f64> {
    let d = match args.get("init_delay")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (d.is_finite() && d > 0.0).then_some(d)
}

/// The delay as Python prints it in "Delayed return for N seconds".
fn delay_text(args: &Map<String, Value>) -> String {
    match args.get("init_delay") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

fn sleep(secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs.min(86_400.0)));
}

/// Where `started` stands in Salt's `_enable`/`_disable` texts: running, desired, dead.
fn state_words(started: Option<bool>, running: &str, desired: &str, dead: &str) -> String {
    match started {
        Some(true) => running.to_owned(),
        None => desired.to_owned(),
        Some(false) => dead.to_owned(),
    }
}

/// Salt's `_enable`.
fn enable(
    ctx: &Ctx<'_>,
    p: &dyn Provider,
    name: &str,
    started: Option<bool>,
    result: bool,
) -> Part {
    if !p.available(name) {
        return Part {
            result: Some(Some(false)),
            comment: Some(format!("The named service {name} is not available")),
            changes: None,
        };
    }
    let mut part = Part {
        result: Some(Some(result)),
        ..Part::default()
    };
    if !p.can_enable() {
        part.comment = Some(state_words(
            started,
            &format!("Enable is not available on this minion, service {name} started"),
            &format!(
                "Enable is not available on this minion, service {name} is in the desired state"
            ),
            &format!("Enable is not available on this minion, service {name} is dead"),
        ));
        return part;
    }
    let before = p.enabled(name);
    if before {
        if started.is_none() {
            part.changes = Some(Map::new());
        }
        part.comment = Some(state_words(
            started,
            &format!("Service {name} is already enabled, and is running"),
            &format!("Service {name} is already enabled, and is in the desired state"),
            &format!("Service {name} is already enabled, and is dead"),
        ));
        return part;
    }
    if ctx.test {
        part.result = Some(None);
        part.comment = Some(format!("Service {name} set to be enabled"));
        return part;
    }
    if p.enable(name) {
        let mut ch = Map::new();
        if p.enabled(name) != before {
            ch.insert(name.to_owned(), Value::Bool(true));
        }
        part.changes = Some(ch);
        part.comment = Some(state_words(
            started,
            &format!("Service {name} has been enabled, and is running"),
            &format!("Service {name} has been enabled, and is in the desired state"),
            &format!("Service {name} has been enabled, and is dead"),
        ));
        return part;
    }
    part.result = Some(Some(false));
    part.comment = Some(state_words(
        started,
        &format!("Failed when setting service {name} to start at boot, but the service is running"),
        &format!("Failed when setting service {name} to start at boot, but the service was already running"),
        &format!("Failed when setting service {name} to start at boot, and the service is dead"),
    ));
    part
}

/// Salt's `_disable`.
fn disable(
    ctx: &Ctx<'_>,
    p: &dyn Provider,
    name: &str,
    started: Option<bool>,
    result: bool,
) -> Part {
    if !p.available(name) {
        return Part {
            result: Some(Some(true)),
            comment: Some(format!("The named service {name} is not available")),
            changes: None,
        };
    }
    let mut part = Part {
        result: Some(Some(result)),
        ..Part::default()
    };
    if !p.can_enable() {
        part.comment = Some(state_words(
            started,
            &format!("Disable is not available on this minion, service {name} started"),
            &format!(
                "Disable is not available on this minion, service {name} is in the desired state"
            ),
            &format!("Disable is not available on this minion, service {name} is dead"),
        ));
        return part;
    }
    // Salt's `service.disabled` is "available and not enabled".
    let before = !p.enabled(name);
    if before {
        if started.is_none() {
            part.changes = Some(Map::new());
        }
        part.comment = Some(state_words(
            started,
            &format!("Service {name} is already disabled, and is running"),
            &format!("Service {name} is already disabled, and is in the desired state"),
            &format!("Service {name} is already disabled, and is dead"),
        ));
        return part;
    }
    if ctx.test {
        part.result = Some(None);
        part.comment = Some(format!("Service {name} set to be disabled"));
        return part;
    }
    if p.disable(name) {
        let mut ch = Map::new();
        // Disabled now (not enabled) differs from disabled before.
        if p.enabled(name) == before {
            ch.insert(name.to_owned(), Value::Bool(true));
        }
        part.changes = Some(ch);
        part.comment = Some(state_words(
            started,
            &format!("Service {name} has been disabled, and is running"),
            &format!("Service {name} has been disabled, and is in the desired state"),
            &format!("Service {name} has been disabled, and is dead"),
        ));
        return part;
    }
    part.result = Some(Some(false));
    part.comment = Some(state_words(
        started,
        &format!("Failed when setting service {name} to not start at boot, and is running"),
        &format!("Failed when setting service {name} to not start at boot, but the service was already running"),
        &format!("Failed when setting service {name} to not start at boot, and the service is dead"),
    ));
    part
}

/// The checks `running` and `dead` share: the `enabled` typo and the service's presence.
/// `Err` is the finished return.
fn preflight(
    ctx: &Ctx<'_>,
    p: &dyn Provider,
    args: &Map<String, Value>,
    r: &mut Ret,
    verb: &str,
) -> Result<(), ()> {
    if args.contains_key("enabled") {
        r.result = Some(false);
        r.comment = format!(
            "Service {} uses non-existent option \"enabled\".  Perhaps \"enable\" option was intended?",
            r.name
        );
        return Err(());
    }
    if !p.available(&r.name) {
        r.comment = format!("The named service {} is not available", r.name);
        r.result = Some(verb == "stopped");
        if ctx.test {
            r.result = None;
            r.comment = format!(
                "Service {} not present; if created in this state run, it would have been {verb}",
                r.name
            );
        }
        return Err(());
    }
    Ok(())
}

/// `service.running`.
pub fn running(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let p = provider();
    let p = p.as_ref();
    let mut r = Ret::new(name);
    if preflight(ctx, p, args, &mut r, "started").is_err() {
        return r.done();
    }
    let want = tri(args.get("enable"));
    let sig = args.get("sig").and_then(Value::as_str);
    let before = status(p, name, sig);
    let before_enabled = !p.can_enable() || p.enabled(name);
    if before {
        r.comment = format!("The service {name} is already running");
        match want {
            Some(true) if !before_enabled => r.update(enable(ctx, p, name, None, true)),
            Some(false) if before_enabled => r.update(disable(ctx, p, name, None, true)),
            _ => {}
        }
        return r.done();
    }
    if ctx.test {
        r.result = None;
        r.comment = format!("Service {name} is set to start");
        return r.done();
    }
    if !p.start(name) {
        r.result = Some(false);
        r.comment = format!("Service {name} failed to start");
        match want {
            Some(true) => r.update(enable(ctx, p, name, Some(false), false)),
            Some(false) => r.update(disable(ctx, p, name, Some(false), false)),
            None => {}
        }
        return r.done();
    }
    if let Some(d) = delay(args) {
        sleep(d);
    }
    let after = status(p, name, sig);
    let after_enabled = !p.can_enable() || p.enabled(name);
    if (before_enabled != after_enabled || before != after) && r.changes.is_empty() {
        r.changes.insert(name.to_owned(), Value::Bool(after));
    }
    if after {
        r.comment = format!("Started service {name}");
    } else {
        r.comment = format!("Service {name} failed to start");
        r.result = Some(false);
    }
    match want {
        Some(true) => r.update(enable(ctx, p, name, Some(after), after)),
        Some(false) => r.update(disable(ctx, p, name, Some(after), after)),
        None => {}
    }
    if delay(args).is_some() {
        r.comment = format!(
            "{}\nDelayed return for {} seconds",
            r.comment,
            delay_text(args)
        );
    }
    r.done()
}

/// `service.dead`.
pub fn dead(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let p = provider();
    let p = p.as_ref();
    let mut r = Ret::new(name);
    if preflight(ctx, p, args, &mut r, "stopped").is_err() {
        return r.done();
    }
    let want = tri(args.get("enable"));
    let sig = args.get("sig").and_then(Value::as_str);
    let before = status(p, name, sig);
    let before_enabled = !p.can_enable() || p.enabled(name);
    if !before {
        r.comment = format!("The service {name} is already dead");
        match want {
            Some(true) if !before_enabled => r.update(enable(ctx, p, name, None, true)),
            Some(false) if before_enabled => r.update(disable(ctx, p, name, None, true)),
            _ => {}
        }
        return r.done();
    }
    if ctx.test {
        r.result = None;
        r.comment = format!("Service {name} is set to be killed");
        return r.done();
    }
    if !p.stop(name) {
        r.result = Some(false);
        r.comment = format!("Service {name} failed to die");
        match want {
            Some(true) => r.update(enable(ctx, p, name, Some(true), false)),
            Some(false) => r.update(disable(ctx, p, name, Some(true), false)),
            None => {}
        }
        return r.done();
    }
    if let Some(d) = delay(args) {
        sleep(d);
    }
    // As Salt, the check after stopping ignores `sig`.
    let after = p.status(name);
    let after_enabled = !p.can_enable() || p.enabled(name);
    if (before_enabled != after_enabled || before != after) && r.changes.is_empty() {
        r.changes.insert(name.to_owned(), Value::Bool(after));
    }
    if after {
        r.result = Some(false);
        r.comment = format!("Service {name} failed to die");
    } else {
        r.comment = format!("Service {name} was killed");
    }
    match want {
        Some(true) => r.update(enable(ctx, p, name, Some(after), !after)),
        Some(false) => r.update(disable(ctx, p, name, Some(after), !after)),
        None => {}
    }
    r.done()
}

/// `service.enabled`.
pub fn enabled(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let p = provider();
    let mut r = Ret::new(name);
    r.update(enable(ctx, p.as_ref(), name, None, true));
    if ctx.test && r.comment == format!("The named service {name} is not available") {
        r.result = None;
        r.comment = format!(
            "Service {name} not present; if created in this state run, it would have been enabled"
        );
    }
    r.done()
}

/// `service.disabled`.
pub fn disabled(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let p = provider();
    let mut r = Ret::new(name);
    r.update(disable(ctx, p.as_ref(), name, None, true));
    r.done()
}

/// `service.mod_watch`: what a `watch` that fired does. `sfun` is the watching state's
/// function (the engine passes it, as Salt's); a chunk without one counts as `running`.
pub fn mod_watch(ctx: &mut Ctx<'_>, args: &Map<String, Value>) -> Value {
    let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
    let p = provider();
    let p = p.as_ref();
    let mut r = Ret::new(name);
    let sig = args.get("sig").and_then(Value::as_str);
    let sfun = args
        .get("sfun")
        .and_then(Value::as_str)
        .unwrap_or("running");
    let (verb, past): (&str, String) = match sfun {
        "dead" => {
            if !status(p, name, sig) {
                r.comment = "Service is already stopped".into();
                return r.done();
            }
            ("stop", "stopped".into())
        }
        "running" => {
            let verb = if !status(p, name, sig) {
                "start"
            } else if tri(args.get("reload")) == Some(true) {
                "reload"
            } else {
                "restart"
            };
            (verb, format!("{verb}ed"))
        }
        other => {
            r.result = Some(false);
            r.comment = format!("Unable to trigger watch for service.{other}");
            return r.done();
        }
    };
    if ctx.test {
        r.result = None;
        r.comment = format!("Service is set to be {past}");
        return r.done();
    }
    // As Salt: a stop first, so a half-dead service starts cleanly.
    if verb == "start" {
        p.stop(name);
    }
    let ok = match verb {
        "stop" => p.stop(name),
        "start" => p.start(name),
        "reload" => p.reload(name),
        _ => p.restart(name),
    };
    if let Some(d) = delay(args) {
        sleep(d);
    }
    r.changes.insert(name.to_owned(), Value::Bool(ok));
    r.result = Some(ok);
    r.comment = if ok {
        format!("Service {past}")
    } else {
        format!("Failed to {verb} the service")
    };
    r.done()
}

#[cfg(test)]
mod tests;
