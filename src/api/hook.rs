//! `/hook/<path>`: the webhook's event, with Salt's tag and data (spec-api.md A.6).

use super::http::Request;
use serde_json::{Map, Value};

/// The tag Salt's `Webhook.POST` fires for the (already percent-decoded) path after the
/// webhook URL: always `salt/netapi/hook`, then the non-empty segments (so `%2F` separates,
/// `//` and a trailing slash vanish, `.` and `..` stay as they are).
pub fn tag(rest: &str) -> String {
    let mut tag = String::from("salt/netapi/hook");
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        tag.push('/');
        tag.push_str(seg);
    }
    tag
}

/// Python's `str.title()`, which CherryPy applies to header names: a letter is upper case
/// after a character that is not a letter, lower case after one that is.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut prev_cased = false;
    for c in name.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

/// The request's headers as CherryPy's header map holds them: `Remote-Addr` first, names
/// title-cased, a repeated header keeping its last value, `Content-Type` and
/// `Content-Length` last (they come from the WSGI environ's own keys), and the names in
/// `strip` left out.
pub fn headers(req: &Request, remote_addr: &str, strip: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("Remote-Addr".into(), Value::String(remote_addr.into()));
    let mut tail = Map::new();
    for (name, value) in &req.headers {
        if strip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        let key = title_case(name);
        let v = Value::String(value.clone());
        if key == "Content-Type" || key == "Content-Length" {
            tail.insert(key, v);
        } else {
            out.insert(key, v);
        }
    }
    for k in ["Content-Type", "Content-Length"] {
        if let Some(v) = tail.remove(k) {
            out.insert(k.to_string(), v);
        }
    }
    out
}

/// The event data (before `_stamp`): the raw body, the parsed body (`{}` when it is
/// falsy, as Salt's `or {}`), and the headers.
pub fn data(
    raw: Option<&str>,
    post: Option<Value>,
    headers: Map<String, Value>,
) -> Map<String, Value> {
    let post = match post {
        Some(v) if crate::py::truthy(&v) => v,
        _ => Value::Object(Map::new()),
    };
    let mut d = Map::new();
    d.insert("body".into(), Value::String(raw.unwrap_or("").to_string()));
    d.insert("post".into(), post);
    d.insert("headers".into(), Value::Object(headers));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_from_paths() {
        assert_eq!(tag(""), "salt/netapi/hook");
        assert_eq!(tag("/"), "salt/netapi/hook");
        assert_eq!(tag("/a/b/"), "salt/netapi/hook/a/b");
        assert_eq!(tag("/a/b/c d"), "salt/netapi/hook/a/b/c d");
        assert_eq!(tag("//a/./b/../c"), "salt/netapi/hook/a/./b/../c");
    }

    #[test]
    fn header_names_as_python_title() {
        assert_eq!(title_case("x-my-secret-key"), "X-My-Secret-Key");
        assert_eq!(title_case("CONTENT-TYPE"), "Content-Type");
        assert_eq!(title_case("x-123abc_def"), "X-123Abc_Def");
    }

    #[test]
    fn data_shape() {
        let req = Request {
            method: "POST".into(),
            path: "/hook".into(),
            query: None,
            minor: 1,
            headers: vec![
                ("host".into(), "h".into()),
                ("X-Auth-Token".into(), "secret".into()),
                ("content-type".into(), "text/plain".into()),
                ("x-a".into(), "1".into()),
                ("X-A".into(), "2".into()),
            ],
            body: Vec::new(),
            chunked: false,
        };
        let h = headers(&req, "127.0.0.1", &["x-auth-token".to_string()]);
        assert_eq!(
            Value::Object(h.clone()),
            json!({"Remote-Addr": "127.0.0.1", "Host": "h", "X-A": "2", "Content-Type": "text/plain"})
        );
        let keys: Vec<&String> = h.keys().collect();
        assert_eq!(keys, ["Remote-Addr", "Host", "X-A", "Content-Type"]);
        let d = data(Some(""), Some(json!([])), h);
        assert_eq!(d.get("post"), Some(&json!({})));
        assert_eq!(d.get("body"), Some(&json!("")));
    }
}
