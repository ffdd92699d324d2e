//! The `http` execution module: `http.query`, Salt's HTTP client call, with the return shape of
//! `salt/utils/http.py` (its default tornado backend). The request is built here, in the minion;
//! it is sent in a module child (see `child`) so that a slow server never holds up the minion's
//! event loop.
//!
//! The return is a map with `body`, plus `status`, `headers`, `dict` and `text` as asked. A
//! non-2xx answer gives `{status, error: "HTTP <code>: <reason>", body}`; a request that never got
//! an answer (refused, unresolvable, TLS, timeout) gives `{error}`, with `status: 0` when
//! `status=True`.

use super::{child, text, truthy, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

const PARAMS: &[Param] = &[Param {
    name: "url",
    default: Default::Required,
}];

/// The largest body read; a larger one is an error (the return travels as one event).
const MAX_BODY: u64 = 32 << 20;

/// Redirects followed, as tornado's default.
const MAX_REDIRECTS: u32 = 5;

/// The decode types Salt knows.
const DECODE_TYPES: &str = "('json', 'xml', 'yaml', 'plain')";

/// `http.query URL [KEY=VALUE ...]`: the response as a map.
pub const QUERY: Function = Function {
    name: "http.query",
    params: PARAMS,
    kwargs: true,
    varargs: false,
    doc: "Query URL and return a map with body, plus status (status=True), headers \
          (headers=True), text (text=True) and dict (decode=True, decode_type json or auto; xml \
          and yaml are not supported). Options: method (GET), params (map, added to the query \
          string), data (string, or a map sent form-encoded), header_dict, header_list, username \
          and password (basic auth), verify_ssl (True), raise_error (True: a non-2xx answer is \
          an error), agent, timeout (seconds, default http_request_timeout). On failure the map \
          holds error, and status when the server answered.",
    run: |c, a, kw| {
        let cfg = c.minion.config();
        let defaults = Timeouts {
            connect: cfg.http_connect_timeout,
            request: cfg.http_request_timeout,
        };
        start(&a[0], kw, defaults)
    },
};

/// The minion's default timeouts, in seconds.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    connect: u64,
    request: u64,
}

/// Everything the child needs for one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Query {
    /// The URL with `params` added.
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    agent: String,
    verify_ssl: bool,
    connect_timeout: f64,
    timeout: f64,
    status: bool,
    headers_out: bool,
    text: bool,
    decode: bool,
    decode_type: String,
    raise_error: bool,
}

fn start(url: &Value, kw: &Map<String, Value>, defaults: Timeouts) -> Step {
    match build(url, kw, defaults) {
        Ok(q) => {
            // The child's own timeout ends the request first; this is a backstop.
            let deadline = crate::clock::seconds(q.timeout + q.connect_timeout + 10.0);
            let request = serde_json::to_value(&q).unwrap_or(Value::Null);
            Step::Child(child::spec(QUERY.name, &request, deadline), child::finish)
        }
        Err(e) => {
            log::error!("http.query: {e}");
            Step::Done(Ret::ok(json!({ "error": e })))
        }
    }
}

/// Salt tests these flags with `is True`: only a real boolean true counts.
fn flag(kw: &Map<String, Value>, key: &str) -> bool {
    kw.get(key) == Some(&Value::Bool(true))
}

/// Python's `urllib.parse.quote_plus`: unreserved bytes stay, space is `+`.
fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Python's `urlencode` of a map: `k=v&...`, values as `str()` gives them.
fn urlencode(m: &Map<String, Value>) -> String {
    m.iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(&text(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Seconds from a number or a numeric string, positive and finite.
fn seconds(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| text(v).trim().parse().ok())
        .filter(|t: &f64| *t > 0.0 && t.is_finite())
}

/// Builds the request from the call's keywords.
fn build(url: &Value, kw: &Map<String, Value>, defaults: Timeouts) -> Result<Query, String> {
    let mut url = text(url);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("unsupported URL '{url}': only http and https"));
    }
    match kw.get("params") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) if m.is_empty() => {}
        Some(Value::Object(m)) => {
            // tornado's url_concat: & when the URL already has a query.
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&urlencode(m));
        }
        Some(other) => return Err(format!("params must be a map, not '{}'", text(other))),
    }
    let method = kw
        .get("method")
        .filter(|v| !v.is_null())
        .map(|v| text(v).to_uppercase())
        .unwrap_or_else(|| "GET".to_owned());
    let mut headers: Vec<(String, String)> = Vec::new();
    match kw.get("header_dict") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            headers.extend(m.iter().map(|(k, v)| (k.clone(), text(v))));
        }
        Some(other) => return Err(format!("header_dict must be a map, not '{}'", text(other))),
    }
    if let Some(Value::Array(lines)) = kw.get("header_list") {
        for line in lines {
            if let Some((k, v)) = text(line).split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let body = match kw.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            if !has(&headers, "content-type") {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            Some(urlencode(m))
        }
        Some(v) => {
            // tornado's default for a POST body that does not say what it is.
            if method == "POST" && !has(&headers, "content-type") {
                headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            Some(text(v))
        }
    };
    // tornado sends basic auth as soon as there is a username.
    if let Some(user) = kw.get("username").filter(|v| !v.is_null()) {
        let password = kw
            .get("password")
            .filter(|v| !v.is_null())
            .map(text)
            .unwrap_or_default();
        let token = crate::crypto::base64_encode(format!("{}:{password}", text(user)).as_bytes());
        headers.push(("Authorization".into(), format!("Basic {token}")));
    }
    let timeout = match kw.get("timeout").filter(|v| !v.is_null()) {
        None => defaults.request as f64,
        Some(v) => seconds(v).ok_or_else(|| format!("invalid timeout '{}'", text(v)))?,
    };
    let decode_type = kw
        .get("decode_type")
        .filter(|v| !v.is_null())
        .map(text)
        .unwrap_or_else(|| "auto".to_owned());
    Ok(Query {
        url,
        method,
        headers,
        body,
        agent: kw
            .get("agent")
            .filter(|v| !v.is_null())
            .map(text)
            .unwrap_or_else(|| format!("brine/{} http.query()", env!("CARGO_PKG_VERSION"))),
        verify_ssl: kw
            .get("verify_ssl")
            .is_none_or(|v| v.is_null() || truthy(v)),
        connect_timeout: (defaults.connect as f64).min(timeout),
        timeout,
        status: flag(kw, "status"),
        headers_out: flag(kw, "headers"),
        text: flag(kw, "text"),
        decode: flag(kw, "decode"),
        decode_type,
        raise_error: kw.get("raise_error").is_none_or(truthy),
    })
}

/// tornado's header name case: `content-type` is `Content-Type`.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + &c.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An I/O error as Python prints an OSError: `[Errno 111] Connection refused`.
fn os_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let full = e.to_string();
            let plain = full
                .strip_suffix(&format!(" (os error {n})"))
                .unwrap_or(&full);
            format!("[Errno {n}] {plain}")
        }
        None => e.to_string(),
    }
}

/// A ureq error as one line, with the OS error in Python's words when there is one.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => os_error(io),
        ureq::Error::Timeout(_) => "Timeout during request".to_owned(),
        other => child::chain(other),
    }
}

/// In the module child: runs the request and shapes the answer as Salt does.
pub(super) fn child_main(request: &Value) -> child::Reply {
    let mut reply = child::Reply::default();
    let ret = match serde_json::from_value::<Query>(request.clone()) {
        Ok(q) => query(&q),
        Err(e) => json!({ "error": format!("bad request from the minion: {e}") }),
    };
    if let Some(e) = ret.get("error").and_then(Value::as_str) {
        reply.errors.push(e.to_owned());
    }
    reply.value = ret;
    reply
}

/// The status line's words for a code (`Not Found`), empty when unknown.
fn reason(code: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// One request (blocking: the child's whole job).
fn query(q: &Query) -> Value {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    use ureq::{Agent, SendBody};

    let mut ret = Map::new();
    let roots: Vec<Certificate<'static>> = child::trust_roots()
        .iter()
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .disable_verification(!q.verify_ssl)
        .build();
    let agent: Agent = Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .max_redirects(MAX_REDIRECTS)
        .user_agent(q.agent.as_str())
        .timeout_connect(Some(crate::clock::seconds(q.connect_timeout)))
        .timeout_global(Some(crate::clock::seconds(q.timeout)))
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(q.method.as_str())
        .uri(q.url.as_str());
    for (k, v) in &q.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let sent = match &q.body {
        Some(b) => builder
            .body(b.clone().into_bytes())
            .map_err(|e| e.to_string())
            .map(|r| agent.run(r)),
        None => builder
            .body(SendBody::none())
            .map_err(|e| e.to_string())
            .map(|r| agent.run(r)),
    };
    let response = match sent {
        Err(e) => {
            ret.insert("error".into(), json!(format!("invalid request: {e}")));
            return Value::Object(ret);
        }
        Ok(Err(e)) => {
            if q.status {
                ret.insert("status".into(), json!(0));
            }
            ret.insert("error".into(), json!(describe(&e)));
            return Value::Object(ret);
        }
        Ok(Ok(r)) => r,
    };
    let code = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let key = header_case(name.as_str());
        // Repeated headers are joined with commas, as a dict of tornado's HTTPHeaders is.
        match headers.get_mut(&key) {
            Some(Value::String(s)) => {
                s.push(',');
                s.push_str(&value);
            }
            _ => {
                headers.insert(key, Value::String(value));
            }
        }
    }
    let mut response = response;
    let body = match response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
    {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            if q.status {
                ret.insert("status".into(), json!(code));
            }
            ret.insert(
                "error".into(),
                json!(format!("cannot read the body: {}", describe(&e))),
            );
            return Value::Object(ret);
        }
    };
    if q.raise_error && !(200..300).contains(&code) {
        ret.insert("status".into(), json!(code));
        ret.insert(
            "error".into(),
            json!(format!("HTTP {code}: {}", reason(code))),
        );
        ret.insert("body".into(), json!(body));
        return Value::Object(ret);
    }
    ret.insert("body".into(), json!(body));
    if q.status {
        ret.insert("status".into(), json!(code));
    }
    let content_type = headers
        .get("Content-Type")
        .and_then(Value::as_str)
        .unwrap_or("application/json")
        .to_owned();
    if q.headers_out {
        ret.insert("headers".into(), Value::Object(headers));
    }
    let mut text = q.text;
    if q.decode {
        let decode_type = match q.decode_type.as_str() {
            "auto" if content_type.contains("xml") => "xml",
            "auto" if content_type.contains("json") => "json",
            "auto" if content_type.contains("yaml") => "yaml",
            "auto" => "plain",
            other => other,
        };
        match decode_type {
            "json" => match serde_json::from_str::<Value>(&body) {
                Ok(v) => {
                    ret.insert("dict".into(), v);
                }
                Err(e) => {
                    ret.insert(
                        "error".into(),
                        json!(format!("cannot decode the body as JSON: {e}")),
                    );
                    return Value::Object(ret);
                }
            },
            "xml" | "yaml" => {
                ret.insert(
                    "error".into(),
                    json!(format!(
                        "decode_type {decode_type} is not supported by brine"
                    )),
                );
                return Value::Object(ret);
            }
            "plain" => text = true,
            _ => {
                ret.insert(
                    "error".into(),
                    json!(format!(
                        "Invalid decode_type specified. Valid decode types are: {DECODE_TYPES}"
                    )),
                );
                return Value::Object(ret);
            }
        }
    }
    if text {
        ret.insert("text".into(), json!(body));
    }
    Value::Object(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Timeouts = Timeouts {
        connect: 20,
        request: 3600,
    };

    fn q(url: &str, kw: Value) -> Result<Query, String> {
        build(&json!(url), kw.as_object().unwrap_or(&Map::new()), D)
    }

    #[test]
    fn defaults_are_a_plain_get() {
        let r = q("http://h/x", json!({})).unwrap();
        assert_eq!(r.url, "http://h/x");
        assert_eq!(r.method, "GET");
        assert!(r.headers.is_empty());
        assert_eq!(r.body, None);
        assert!(r.verify_ssl && r.raise_error);
        assert!(!(r.status || r.headers_out || r.text || r.decode));
        assert_eq!(r.decode_type, "auto");
        assert_eq!((r.connect_timeout, r.timeout), (20.0, 3600.0));
        assert!(r.agent.ends_with(" http.query()"));
    }

    #[test]
    fn params_join_the_query_string_as_url_concat_does() {
        let r = q(
            "http://h/x",
            json!({"params": {"a": "b c", "n": 1, "t": true}}),
        )
        .unwrap();
        assert_eq!(r.url, "http://h/x?a=b+c&n=1&t=True");
        let r = q("http://h/x?z=1", json!({"params": {"q": "é&"}})).unwrap();
        assert_eq!(r.url, "http://h/x?z=1&q=%C3%A9%26");
        assert_eq!(
            q("http://h/", json!({"params": "a=b"})).unwrap_err(),
            "params must be a map, not 'a=b'"
        );
    }

    #[test]
    fn data_maps_are_form_encoded_and_strings_sent_as_they_are() {
        let r = q(
            "http://h/",
            json!({"method": "post", "data": {"k": "v w"}, "header_dict": {"X-A": 1}}),
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.body.as_deref(), Some("k=v+w"));
        assert_eq!(
            r.headers,
            [
                ("X-A".to_owned(), "1".to_owned()),
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned()
                )
            ]
        );
        let r = q(
            "http://h/",
            json!({"method": "PUT", "data": "{\"a\": 1}", "header_list": ["Content-Type: application/json"]}),
        )
        .unwrap();
        assert_eq!(r.body.as_deref(), Some("{\"a\": 1}"));
        assert_eq!(
            r.headers,
            [("Content-Type".to_owned(), "application/json".to_owned())]
        );
    }

    #[test]
    fn a_username_means_basic_auth() {
        let r = q("http://h/", json!({"username": "u", "password": "p"})).unwrap();
        assert_eq!(
            r.headers,
            [("Authorization".to_owned(), "Basic dTpw".to_owned())]
        );
        let r = q("http://h/", json!({"username": "u"})).unwrap();
        assert_eq!(r.headers[0].1, "Basic dTo=");
    }

    #[test]
    fn flags_must_be_real_booleans_and_timeouts_positive() {
        let r = q(
            "http://h/",
            json!({"status": true, "headers": "True", "text": true, "decode": true,
                   "verify_ssl": false, "raise_error": false, "timeout": "2.5"}),
        )
        .unwrap();
        assert!(r.status && !r.headers_out && r.text && r.decode);
        assert!(!r.verify_ssl && !r.raise_error);
        assert_eq!((r.connect_timeout, r.timeout), (2.5, 2.5));
        assert_eq!(
            q("http://h/", json!({"timeout": 0})).unwrap_err(),
            "invalid timeout '0'"
        );
        assert_eq!(
            q("ftp://h/", json!({})).unwrap_err(),
            "unsupported URL 'ftp://h/': only http and https"
        );
    }

    #[test]
    fn header_names_take_tornado_case() {
        assert_eq!(header_case("content-type"), "Content-Type");
        assert_eq!(header_case("x-REQUEST-id"), "X-Request-Id");
        assert_eq!(header_case("etag"), "Etag");
    }

    #[test]
    fn os_errors_read_as_python_prints_them() {
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(os_error(&e), "[Errno 111] Connection refused");
    }

    #[test]
    fn the_child_answers_a_bad_request_with_an_error_map() {
        let reply = child_main(&json!({"url": 1}));
        assert!(reply.value["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("bad request from the minion")));
        assert_eq!(reply.errors.len(), 1);
    }
}
