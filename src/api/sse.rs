//! `/events` framing, exactly Salt's (spec-api.md A.5): `retry: 400` first, then per event
//! a `tag:` line and a `data:` line holding `{"data": ..., "tag": ...}` in that key order.

use serde_json::{Map, Value};

/// What a stream starts with (no blank line: Salt's first event shares the block).
pub const START: &[u8] = b"retry: 400\n";

/// One event as the stream writes it.
pub fn event(tag: &str, data: &Map<String, Value>) -> Vec<u8> {
    let mut doc = Map::new();
    doc.insert("data".into(), Value::Object(data.clone()));
    doc.insert("tag".into(), Value::String(tag.to_string()));
    let json = crate::py::json_dumps(&Value::Object(doc), None, false, false);
    // A tag with a line break would end the field early; Salt's tags never have one, and
    // one that does is written with the break escaped rather than split.
    let tag_line = tag.replace('\n', "\\n").replace('\r', "\\r");
    format!("tag: {tag_line}\ndata: {json}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn salt_framing() {
        let d = json!({"id": "web1", "_stamp": "2026-12-02T02:00:00.000001", "msg": "héllo"});
        let Some(m) = d.as_object() else { return };
        let got = String::from_utf8(super::event("salt/minion/web1/start", m)).unwrap_or_default();
        assert_eq!(
            got,
            "tag: salt/minion/web1/start\ndata: {\"data\": {\"id\": \"web1\", \"_stamp\": \"2026-12-02T02:00:00.000001\", \"msg\": \"héllo\"}, \"tag\": \"salt/minion/web1/start\"}\n\n"
        );
    }
}
