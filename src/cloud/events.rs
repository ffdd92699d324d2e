//! The `salt/cloud/<vm name>/<task>` events, as Salt Cloud fires them (spec-cloud.md B.1-B.2):
//! the data is the event's own keys plus `event`, the step's text; `creating`, `requesting`
//! and `created` go through `filter_events`.
//!
//! Unlike Salt, nothing secret reaches the bus: Salt's `deploying` event carries the SSH
//! password, the new minion's private key and provider credentials inside `kwargs.vm_`, and the
//! whole rendered deploy script. [`scrub`] removes every key named in [`SECRET_WORDS`] (at
//! any depth) and the scripts, from every event.

use serde_json::{Map, Value};

/// A key whose lowercased name contains one of these is removed from every event, at any
/// depth: passwords, private keys, tokens, provider secrets.
pub const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "priv",
    "apikey",
    "api_key",
    "access_key",
    "minion_pem",
    "master_pem",
    "minion_pub",
];

/// Keys removed from every event because they hold a rendered deploy script (which may
/// carry secrets the template put in).
pub const SCRIPT_KEYS: &[&str] = &["script", "inline_script", "deploy_script_text"];

/// Whether a key is removed from events.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| k.contains(w)) || SCRIPT_KEYS.contains(&k.as_str())
}

/// Removes the secret keys, at every depth.
pub fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_secret(k));
            for (_, x) in m.iter_mut() {
                scrub(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The tag of a VM's step.
pub fn tag(name: &str, task: &str) -> String {
    format!("salt/cloud/{name}/{task}")
}

/// Salt's `fire_event(key="event", msg, tag, args)`: the args with `event` set to the text,
/// scrubbed.
pub fn data(text: &str, args: Map<String, Value>) -> Map<String, Value> {
    let mut v = Value::Object(args);
    scrub(&mut v);
    let mut m = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("event".into(), Value::String(text.to_string()));
    m
}

/// Salt's `filter_event(tag, data, defaults)`: the default keys, or the keys `filter_events`
/// names for this task (`{task: {keys: [...], use_defaults: bool}}`), plus both when
/// `use_defaults` is true.
pub fn filter(
    task: &str,
    data: &Map<String, Value>,
    defaults: &[&str],
    filter_events: &Value,
) -> Map<String, Value> {
    let mut keys: Vec<String> = defaults.iter().map(|s| s.to_string()).collect();
    if let Some(spec) = filter_events.get(task) {
        let listed: Vec<String> = spec
            .get("keys")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let use_defaults = spec
            .get("use_defaults")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if !use_defaults {
            keys.clear();
        }
        keys.extend(listed);
    }
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = data.get(&k) {
            out.insert(k, v.clone());
        }
    }
    out
}

/// The default keys of `creating`, `requesting` and `created` (Salt's drivers pass these).
pub const DEFAULT_KEYS: &[&str] = &["name", "profile", "provider", "driver"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_leave_every_depth() {
        let mut v = json!({"kwargs": {"host": "h", "password": "hunter2", "script": "#!/bin/sh\nsecret",
            "vm_": {"priv_key": "-----BEGIN", "pub_key": "ok", "ssh_gateway_password": "x",
                    "minion": {"master": "m"}, "api_token": "t", "key_filename": "/k"}}});
        scrub(&mut v);
        assert_eq!(
            v,
            json!({"kwargs": {"host": "h", "vm_": {"pub_key": "ok", "minion": {"master": "m"}, "key_filename": "/k"}}})
        );
        let text = serde_json::to_string(&v).unwrap_or_default();
        assert!(!text.contains("hunter2") && !text.contains("BEGIN"));
    }

    #[test]
    fn data_and_filters_as_salt() {
        let mut a = Map::new();
        a.insert("name".into(), json!("web1"));
        a.insert("size".into(), json!("s"));
        assert_eq!(
            Value::Object(data("starting create", a.clone())),
            json!({"name": "web1", "size": "s", "event": "starting create"})
        );
        assert_eq!(
            Value::Object(filter("creating", &a, DEFAULT_KEYS, &Value::Null)),
            json!({"name": "web1"})
        );
        let fe = json!({"creating": {"keys": ["size"], "use_defaults": false}});
        assert_eq!(
            Value::Object(filter("creating", &a, DEFAULT_KEYS, &fe)),
            json!({"size": "s"})
        );
        let fe = json!({"creating": {"keys": ["size"]}});
        assert_eq!(
            Value::Object(filter("creating", &a, DEFAULT_KEYS, &fe)),
            json!({"name": "web1", "size": "s"})
        );
        assert_eq!(tag("web1", "deploying"), "salt/cloud/web1/deploying");
    }
}
