//! Deploying brine-minion to a machine over SSH (Salt's `bootstrap` and `deploy_script`):
//! the minion's configuration, its keys (made and accepted by the master), the deploy
//! script, and the `deploying`/`deploy_script` events. Every remote step runs with a deadline
//! and fails with an error naming the VM and the step.

use super::events;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// What a deploy needs from the master: its bus and its wheel (through the Unix socket).
pub trait Master {
    /// Fires an event on the master's bus.
    fn fire(&mut self, tag: &str, data: Map<String, Value>) -> Result<(), String>;
    /// Calls a wheel function (`key.gen_accept`, `key.delete`).
    fn wheel(&mut self, fun: &str, kwarg: Map<String, Value>) -> Result<Value, String>;
}

/// Why a create or destroy failed: the VM and what went wrong.
#[derive(Debug, PartialEq)]
pub struct CloudError {
    /// The VM's name.
    pub vm: String,
    /// The step (`keys`, `wait_for_port`, `upload`, `deploy script`, ...).
    pub step: String,
    /// What happened.
    pub why: String,
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.vm, self.step, self.why)
    }
}

impl std::error::Error for CloudError {}

/// An error for `vm` at `step`.
pub fn err(vm: &str, step: &str, why: impl std::fmt::Display) -> CloudError {
    CloudError {
        vm: vm.to_string(),
        step: step.to_string(),
        why: why.to_string(),
    }
}

/// brine's default deploy script (`script: brine-bootstrap`): installs the brine-minion
/// binary that came with the deploy, its configuration and keys, and starts it. It takes its
/// places from the environment (`script_env`), so that a test can deploy under a temp root.
pub const BOOTSTRAP: &str = r#"#!/bin/sh
# brine-bootstrap: install and start brine-minion from the files brine-cloud uploaded.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${BRINE_PREFIX:-/usr/local}
conf=${BRINE_CONF:-/etc/brine}
mkdir -p "$prefix/bin" "$conf"
install -m 0755 "$here/brine-minion" "$prefix/bin/brine-minion"
install -m 0644 "$here/minion" "$conf/minion"
pki=$(sed -n 's/^pki_dir: *//p' "$conf/minion" | tr -d '"')
pki=${pki:-$conf/pki/minion}
mkdir -p "$pki"
chmod 0700 "$pki"
install -m 0600 "$here/minion.pem" "$pki/minion.pem"
install -m 0644 "$here/minion.pub" "$pki/minion.pub"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && [ "$prefix" = /usr/local ]; then
  cat > /etc/systemd/system/brine-minion.service <<UNIT
[Unit]
Description=brine minion
After=network-online.target
[Service]
ExecStart=$prefix/bin/brine-minion -c $conf
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now brine-minion
else
  "$prefix/bin/brine-minion" -c "$conf" -d --pid-file "$conf/brine-minion.pid"
fi
"#;

/// The minion configuration Salt's `bootstrap` writes (`master: salt`, `id`, `log_level`,
/// `hash_type`, then the `minion:` options), with the `salt-cloud` grains unless
/// `enable_cloud_grains` is false, then the `grains:` option.
pub fn minion_conf(vm: &Map<String, Value>) -> Map<String, Value> {
    let name = vm.get("name").and_then(Value::as_str).unwrap_or("");
    let mut c = Map::new();
    c.insert("master".into(), json!("salt"));
    c.insert("log_level".into(), json!("info"));
    c.insert("hash_type".into(), json!("sha256"));
    c.insert("id".into(), json!(name));
    if let Some(Value::Object(m)) = vm.get("minion") {
        for (k, v) in m {
            c.insert(k.clone(), v.clone());
        }
    }
    let mut grains = match c.remove("grains") {
        Some(Value::Object(g)) => g,
        _ => Map::new(),
    };
    if vm.get("enable_cloud_grains") != Some(&Value::Bool(false)) {
        grains.insert(
            "salt-cloud".into(),
            json!({"driver": vm.get("driver"), "provider": vm.get("provider"), "profile": vm.get("profile")}),
        );
    }
    if let Some(Value::Object(g)) = vm.get("grains") {
        for (k, v) in g {
            grains.insert(k.clone(), v.clone());
        }
    }
    c.insert("grains".into(), Value::Object(grains));
    c
}

/// The `deploying` event's data: Salt's `kwargs` keys, scrubbed of secrets.
pub fn deploying_data(
    vm: &Map<String, Value>,
    host: &str,
    port: u16,
    conf: &Map<String, Value>,
) -> Map<String, Value> {
    let g = |k: &str| vm.get(k).cloned().unwrap_or(Value::Null);
    let kwargs = json!({
        "cloud_grains": {"driver": g("driver"), "profile": g("profile"), "provider": g("provider")},
        "display_ssh_output": vm.get("display_ssh_output").cloned().unwrap_or(json!(true)),
        "file_map": g("file_map"),
        "host": host,
        "keep_tmp": vm.get("keep_tmp").cloned().unwrap_or(json!(false)),
        "key_filename": g("key_filename"),
        "known_hosts_file": g("known_hosts_file"),
        "make_minion": true,
        "minion_conf": conf,
        "name": g("name"),
        "port": port,
        "preflight_cmds": vm.get("preflight_cmds").cloned().unwrap_or(json!([])),
        "script_args": g("script_args"),
        "script_env": g("script_env"),
        "start_action": g("start_action"),
        "tmp_dir": vm.get("tmp_dir").cloned().unwrap_or(json!("/tmp/.saltcloud")),
        "username": vm.get("ssh_username").cloned().unwrap_or(json!("root")),
        "vm_": Value::Object(vm.clone()),
    });
    let mut a = Map::new();
    a.insert("kwargs".into(), kwargs);
    events::data("executing deploy script", a)
}

/// A string option of the VM.
pub fn opt<'a>(vm: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    vm.get(k).and_then(Value::as_str)
}

/// A number option of the VM, in seconds.
pub fn secs(vm: &Map<String, Value>, k: &str, default: u64) -> Duration {
    let n = match vm.get(k) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(default as f64),
        Some(Value::String(s)) => s.parse().unwrap_or(default as f64),
        _ => default as f64,
    };
    Duration::from_secs_f64(n.clamp(0.0, 86_400.0))
}

/// The minion's key pair, made and accepted by the master (which fires `salt/key`).
pub fn make_keys(master: &mut dyn Master, name: &str) -> Result<(String, String), CloudError> {
    if !crate::pki::valid_id(name) {
        return Err(err(
            name,
            "keys",
            "not a valid minion id (no '/', '\\', '..', control characters; at most 255 bytes)",
        ));
    }
    let mut kw = Map::new();
    kw.insert("id_".into(), json!(name));
    let ret = master
        .wheel("key.gen_accept", kw)
        .map_err(|e| err(name, "keys", e))?;
    match (ret.get("priv").and_then(Value::as_str), ret.get("pub").and_then(Value::as_str)) {
        (Some(p), Some(q)) => Ok((p.to_string(), q.to_string())),
        _ if ret.as_object().is_some_and(|m| m.is_empty()) => Err(err(
            name,
            "keys",
            "the master already has an accepted key for this id: destroy the machine or delete the key first",
        )),
        _ => Err(err(name, "keys", format!("the master answered {ret}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minion_conf_as_salts_bootstrap() {
        let vm = json!({"name": "web1", "driver": "saltify", "provider": "p:saltify", "profile": "pr",
                        "minion": {"master": "10.0.0.1", "grains": {"role": "web"}}, "grains": {"dc": "x"}});
        let c = minion_conf(vm.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            Value::Object(c),
            json!({"master": "10.0.0.1", "log_level": "info", "hash_type": "sha256", "id": "web1",
                   "grains": {"role": "web", "salt-cloud": {"driver": "saltify", "provider": "p:saltify", "profile": "pr"}, "dc": "x"}})
        );
    }

    #[test]
    fn deploying_carries_no_secret() {
        let vm = json!({"name": "web1", "password": "hunter2", "priv_key": "-----BEGIN", "script": "#!/bin/sh\nx",
                        "ssh_username": "root", "driver": "saltify"});
        let vm = vm.as_object().cloned().unwrap_or_default();
        let d = deploying_data(&vm, "127.0.0.1", 22, &minion_conf(&vm));
        let text = serde_json::to_string(&d).unwrap_or_default();
        assert!(
            !text.contains("hunter2") && !text.contains("BEGIN") && !text.contains("#!/bin/sh"),
            "{text}"
        );
        assert_eq!(d.get("event"), Some(&json!("executing deploy script")));
        assert_eq!(d["kwargs"]["host"], json!("127.0.0.1"));
    }
}
