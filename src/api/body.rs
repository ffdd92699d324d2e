//! Request bodies in and response bodies out, as Salt's rest_cherrypy reads and writes them
//! (`hypermedia_in`, its processors, `lowdata_fmt`, `hypermedia_out`): spec-api.md A.2.

use serde_json::{Map, Value};
use std::path::Path;

/// Why a body cannot be read: the status to answer and a one-line reason.
#[derive(Debug, PartialEq)]
pub struct BodyError {
    /// 400 (a bad document) or 406 (a content type brine-api does not read).
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

fn err(status: u16, message: impl Into<String>) -> BodyError {
    BodyError {
        status,
        message: message.into(),
    }
}

/// A body as read: the raw text (Salt's `raw_body`) and the parsed value
/// (`unserialized_data`), both absent when there was no body.
#[derive(Debug, PartialEq, Default)]
pub struct Body {
    /// The body as text (None when there was none).
    pub raw: Option<String>,
    /// The parsed document (None when there was no body).
    pub data: Option<Value>,
}

/// The media type of a Content-Type header, lowercased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads a request body by its Content-Type, as Salt's processors do. An empty body (or
/// `Content-Length: 0`) is not read at all; a non-empty one needs a type brine-api knows.
pub fn read(content_type: Option<&str>, body: &[u8]) -> Result<Body, BodyError> {
    if body.is_empty() {
        return Ok(Body::default());
    }
    let Some(ct) = content_type else {
        return Err(err(406, "Content type not supported"));
    };
    let text = String::from_utf8_lossy(body).into_owned();
    let data = match media_type(ct).as_str() {
        "application/x-www-form-urlencoded" => form(&text),
        "application/json" => match serde_json::from_str::<Value>(&text) {
            Ok(v) => v,
            Err(_) => return Err(err(400, "Invalid JSON document")),
        },
        // Salt answers 500 for a bad YAML document (it catches only ValueError): brine says
        // 400, which is what it is.
        "application/x-yaml" | "text/yaml" => {
            match crate::yaml::load_value(Path::new("request body"), text.as_bytes()) {
                Ok(v) => v,
                Err(e) => return Err(err(400, format!("Invalid YAML document: {e}"))),
            }
        }
        "text/plain" => serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text.clone())),
        _ => return Err(err(406, "Content type not supported")),
    };
    Ok(Body {
        raw: Some(text),
        data: Some(data),
    })
}

/// Python's `parse_qsl(s)` (blank values dropped), each key once a string and repeated a
/// list, then `arg` and `kwarg` coerced as the CLI coerces its words.
pub fn form(text: &str) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for pair in text.split(['&', ';']) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if v.is_empty() {
            continue;
        }
        let k = super::http::percent_decode(k, true);
        let v = Value::String(super::http::percent_decode(v, true));
        match out.get_mut(&k) {
            Some(Value::Array(list)) => list.push(v),
            Some(one) => {
                let first = one.take();
                *one = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    if let Some(kw) = out.get_mut("kwarg") {
        if let Value::String(s) = kw {
            *kw = crate::py::args::yamlify_arg(s);
        }
    }
    if let Some(arg) = out.get_mut("arg") {
        match arg {
            Value::Array(list) => {
                for a in list.iter_mut() {
                    if let Value::String(s) = a {
                        *a = crate::py::args::yamlify_arg(s);
                    }
                }
            }
            Value::String(s) => *arg = Value::Array(vec![crate::py::args::yamlify_arg(s)]),
            _ => {}
        }
    }
    Value::Object(out)
}

/// Salt's `lowdata_fmt`: a map becomes a one-chunk lowstate, and its `arg` a list (in place,
/// which the webhook's `post` also shows).
pub fn lowdata(data: &mut Value) {
    if let Value::Object(m) = data {
        if let Some(arg) = m.get_mut("arg") {
            if !arg.is_array() {
                let one = arg.take();
                *arg = Value::Array(vec![one]);
            }
        }
    }
}

/// The lowstate chunks of a lowdata-formatted body (a map is one chunk, a list is many).
pub fn chunks(data: Option<&Value>) -> Vec<Value> {
    match data {
        Some(Value::Array(list)) => list.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

/// How a response body is written, picked from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/x-yaml`.
    Yaml,
}

/// The format `Accept` asks for (JSON when it allows anything), or None when it allows
/// neither (406).
pub fn format_for(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept else {
        return Some(Format::Json);
    };
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let mt = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        let f = match mt.as_str() {
            "application/json" | "*/*" | "application/*" => Format::Json,
            "application/x-yaml" | "text/yaml" => Format::Yaml,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, f));
        }
    }
    best.map(|(_, f)| f)
}

/// A value written in `format`: its bytes and its Content-Type.
pub fn write(format: Format, value: &Value) -> (Vec<u8>, &'static str) {
    match format {
        Format::Json => (
            crate::py::json_dumps(value, None, false, false).into_bytes(),
            "application/json",
        ),
        Format::Yaml => (
            crate::py::yaml::dump(value).into_bytes(),
            "application/x-yaml",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_bodies_as_salt_reads_them() {
        assert_eq!(
            form("a=1&a=2&b=&c=hello&arg=1"),
            json!({"a": ["1", "2"], "c": "hello", "arg": [1]})
        );
        assert_eq!(
            form("x=a+b%21&arg=one&arg=2"),
            json!({"x": "a b!", "arg": ["one", 2]})
        );
        assert_eq!(form("kwarg={a: 1}"), json!({"kwarg": {"a": 1}}));
    }

    #[test]
    fn content_types_and_errors() {
        let r = read(Some("application/json; charset=utf-8"), b"{\"a\": 1}").ok();
        assert_eq!(r.and_then(|b| b.data), Some(json!({"a": 1})));
        assert_eq!(
            read(Some("application/json"), b"{").map(|_| ()),
            Err(err(400, "Invalid JSON document"))
        );
        assert_eq!(
            read(Some("application/octet-stream"), b"x").map_err(|e| e.status),
            Err(406)
        );
        assert_eq!(read(None, b"x").map_err(|e| e.status), Err(406));
        assert_eq!(read(None, b"").ok(), Some(Body::default()));
        assert_eq!(
            read(Some("text/plain"), b"not json")
                .ok()
                .and_then(|b| b.data),
            Some(json!("not json"))
        );
        assert_eq!(
            read(Some("application/x-yaml"), b"a: 1\nb: [x, yes]\n")
                .ok()
                .and_then(|b| b.data),
            Some(json!({"a": 1, "b": ["x", true]}))
        );
        assert_eq!(
            read(Some("text/yaml"), b"a: [").map_err(|e| e.status),
            Err(400)
        );
    }

    #[test]
    fn lowdata_wraps_arg_and_accept_picks_a_format() {
        let mut d = json!({"fun": "test.arg", "arg": "x"});
        lowdata(&mut d);
        assert_eq!(d, json!({"fun": "test.arg", "arg": ["x"]}));
        assert_eq!(chunks(Some(&d)).len(), 1);
        assert_eq!(format_for(None), Some(Format::Json));
        assert_eq!(format_for(Some("application/x-yaml")), Some(Format::Yaml));
        assert_eq!(format_for(Some("text/html")), None);
        assert_eq!(format_for(Some("text/html, */*;q=0.8")), Some(Format::Json));
        let (b, ct) = write(Format::Json, &json!({"return": ["é"]}));
        assert_eq!(
            (String::from_utf8_lossy(&b).as_ref(), ct),
            ("{\"return\": [\"é\"]}", "application/json")
        );
    }
}
