//! The fuzz target's entry point: arbitrary bytes parsed as every target type and matched
//! against a small fixed fleet.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::{Target, TgtType, DEFAULT_DELIMITER};

/// The fleet and nodegroups fuzzing runs against: the fixture's minions, plus groups that
/// cycle, nest, double at every level, and name nothing.
const FUZZ_FLEET: &str = r#"{
  "minions": [
    {"id": "web1.example.com", "grains": {"os": "Ubuntu", "roles": ["webserver", {"name": "db"}],
      "ipv4": ["10.0.0.5", "127.0.0.1"], "ipv6": ["fe80::1"], "num_cpus": 4, "virtual": true,
      "ip_interfaces": {"eth0": ["10.0.0.5"]}, "nested": {"a": {"b": "c:d"}}, "f": 1e16}},
    {"id": "db1", "grains": {"os": "Debian", "roles": [], "ipv4": "192.168.1.10", "empty": {}}},
    {"id": "x", "grains": {"ipv4": [167772165, "bogus"], "ipv6": null}},
    {"id": "nogrstates", "grains": {}}
  ],
  "nodegroups": {
    "webs": "G@roles:web*", "lst": ["web1.example.com", "db1"], "re": ["a(b", "c"],
    "nested": "N@webs or N@lst", "cycle": "N@cycle2", "cycle2": "N@cycle",
    "lost": "N@nosuch or x", "bad": 5, "d1": "N@d2 N@d2", "d2": "N@d3 N@d3", "d3": "N@d4 N@d4",
    "d4": "N@d5 N@d5", "d5": "N@d6 N@d6", "d6": "N@d7 N@d7", "d7": "N@d8 N@d8",
    "d8": "N@d9 N@d9", "d9": "N@d10 N@d10", "d10": "N@d11 N@d11", "d11": "N@d12 N@d12",
    "d12": "N@d13 N@d13", "d13": "abcdefghijklmnopqrstuvwxyz0123456789 or db*"
  }
}"#;

/// Fuzz entry: any bytes as an expression of every type (and, if they are JSON, as a value)
/// against a small fixed fleet; it must never panic.
pub fn fuzz_compound(data: &[u8]) {
    /// The parsed fleet: nodegroups, and each minion's id and grains.
    type Fleet = (Value, Vec<(String, Map<String, Value>)>);
    static FLEET: OnceLock<Fleet> = OnceLock::new();
    let (nodegroups, minions) = FLEET.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(FUZZ_FLEET).unwrap_or(Value::Null);
        let minions = doc["minions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|m| {
                        let id = m["id"].as_str().unwrap_or_default().to_string();
                        let grains = m["grains"].as_object().cloned().unwrap_or_default();
                        (id, grains)
                    })
                    .collect()
            })
            .unwrap_or_default();
        (doc["nodegroups"].take(), minions)
    });
    let accepted: Vec<String> = minions.iter().map(|(id, _)| id.clone()).collect();
    // Every other minion's grains unknown, to take the greedy paths too.
    let lookup = |id: &str| {
        minions
            .iter()
            .position(|(m, _)| m == id)
            .filter(|i| i % 2 == 0)
            .map(|i| &minions[i].1)
    };
    let mut targets = vec![Value::String(String::from_utf8_lossy(data).into_owned())];
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        targets.push(value);
    }
    for tgt in &targets {
        for tgt_type in TgtType::ALL {
            match Target::parse(tgt, tgt_type, nodegroups, DEFAULT_DELIMITER) {
                Ok(target) => {
                    for (id, grains) in minions {
                        target.matches(id, grains);
                    }
                    target.expected(&accepted, &lookup);
                    let _ = target.published();
                }
                Err(err) => {
                    let _ = err.to_string();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_survives_odd_input() {
        for data in [
            &b"web* and ( G@roles:web* or N@nested ) not S@10.0.0.0/8"[..],
            b"N@cycle or N@lost or N@bad or N@d1 or N@re",
            b"[\"L@db1\", \"or\", \"N@lst\"]",
            b"*:*:*:*:*:x",
            b"\xff\xfe( not",
            b"",
        ] {
            fuzz_compound(data);
        }
    }
}
