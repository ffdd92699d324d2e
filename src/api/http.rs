//! HTTP/1.1 framing for brine-api, without I/O: requests parsed from a connection's buffer
//! (httparse, bounded header and body sizes) and responses written as bytes.
//!
//! Bodies come with Content-Length or chunked; both at once, or two lengths, are refused (the
//! shapes request smuggling takes).

use std::fmt::Write as _;

/// Most headers one request may carry.
const MAX_HEADERS: usize = 64;

/// The limits a request is parsed under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes of the request line and headers together (431 past it).
    pub max_header: usize,
    /// Most bytes of a body (413 past it).
    pub max_body: usize,
}

/// A parsed request, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The path, still percent-encoded, without the query.
    pub path: String,
    /// The query string after `?`, if any.
    pub query: Option<String>,
    /// HTTP/1.0 (0) or HTTP/1.1 (1).
    pub minor: u8,
    /// The headers in the order sent, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty when none).
    pub body: Vec<u8>,
    /// Whether the body came chunked (Salt's API reads only Content-Length bodies, and
    /// treats a chunked one as no body).
    pub chunked: bool,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after the answer (HTTP/1.1 unless `close`;
    /// HTTP/1.0 only with `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").map(str::to_ascii_lowercase);
        match conn.as_deref() {
            Some(c) if c.split(',').any(|t| t.trim() == "close") => false,
            Some(c) if c.split(',').any(|t| t.trim() == "keep-alive") => true,
            _ => self.minor >= 1,
        }
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }
}

/// What the buffer holds so far.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Not a whole request yet.
    Partial,
    /// A request, and how many bytes of the buffer it used.
    Done(Request, usize),
    /// A request that cannot be served: the status to answer (the connection then closes).
    Bad(u16, String),
}

/// Parses the first request in `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_header {
                return Parsed::Bad(431, "request headers too large".into());
            }
            return Parsed::Partial;
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Bad(431, format!("more than {MAX_HEADERS} headers"))
        }
        Err(e) => return Parsed::Bad(400, format!("malformed request: {e}")),
    };
    if head_len > limits.max_header {
        return Parsed::Bad(431, "request headers too large".into());
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("");
    let minor = req.version.unwrap_or(1);
    let mut owned = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        // ISO-8859-1, as HTTP/1.1 defines header bytes and CherryPy decodes them (so a
        // webhook's headers reach the bus as Salt puts them there).
        owned.push((
            h.name.to_string(),
            h.value.iter().map(|&b| b as char).collect(),
        ));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut request = Request {
        method,
        path,
        query,
        minor,
        headers: owned,
        body: Vec::new(),
        chunked: false,
    };
    if let Some(te) = request.header("transfer-encoding") {
        if !te.trim().eq_ignore_ascii_case("chunked") {
            return Parsed::Bad(400, format!("Transfer-Encoding '{te}' is not supported"));
        }
        if request.header("content-length").is_some() {
            // Both is how requests are smuggled past a proxy.
            return Parsed::Bad(400, "both Transfer-Encoding and Content-Length".into());
        }
        return match dechunk(&buf[head_len..], limits.max_body) {
            Chunks::Partial => Parsed::Partial,
            Chunks::Bad(status, why) => Parsed::Bad(status, why),
            Chunks::Done(body, used) => {
                request.chunked = true;
                request.body = body;
                Parsed::Done(request, head_len + used)
            }
        };
    }
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim())
        .collect();
    let length = match lengths.as_slice() {
        [] => 0,
        [one] => match one.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Parsed::Bad(400, format!("bad Content-Length '{one}'")),
        },
        // Two lengths is how requests are smuggled past a proxy: refuse, whatever they say.
        _ => return Parsed::Bad(400, "more than one Content-Length".into()),
    };
    if length > limits.max_body {
        return Parsed::Bad(
            413,
            format!(
                "request body of {length} bytes is over max_request_body_size ({})",
                limits.max_body
            ),
        );
    }
    if buf.len() < head_len + length {
        return Parsed::Partial;
    }
    request.body = buf[head_len..head_len + length].to_vec();
    Parsed::Done(request, head_len + length)
}

enum Chunks {
    Partial,
    Bad(u16, String),
    Done(Vec<u8>, usize),
}

/// Decodes a chunked body (extensions ignored, trailers skipped).
fn dechunk(buf: &[u8], max: usize) -> Chunks {
    let mut body = Vec::new();
    let mut i = 0;
    loop {
        let Some(eol) = memchr::memmem::find(&buf[i..], b"\r\n") else {
            return if buf.len() - i > 1024 {
                Chunks::Bad(400, "bad chunk size line".into())
            } else {
                Chunks::Partial
            };
        };
        let line = &buf[i..i + eol];
        let size_text = std::str::from_utf8(line)
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Chunks::Bad(400, format!("bad chunk size '{size_text}'"));
        };
        i += eol + 2;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let Some(eol) = memchr::memmem::find(&buf[i..], b"\r\n") else {
                    return Chunks::Partial;
                };
                i += eol + 2;
                if eol == 0 {
                    return Chunks::Done(body, i);
                }
            }
        }
        if body.len() + size > max {
            return Chunks::Bad(
                413,
                format!("request body is over max_request_body_size ({max})"),
            );
        }
        if buf.len() < i + size + 2 {
            return Chunks::Partial;
        }
        body.extend_from_slice(&buf[i..i + size]);
        if &buf[i + size..i + size + 2] != b"\r\n" {
            return Chunks::Bad(400, "chunk not followed by CRLF".into());
        }
        i += size + 2;
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A response to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides Content-Length, Date and Connection.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, content type and body.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// An error page in CherryPy's shape (Salt's API answers errors as HTML).
    pub fn error(status: u16, message: &str) -> Response {
        let reason = reason(status);
        let body = format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></meta>\n<title>{status} {reason}</title>\n</head>\n<body>\n<h2>{status} {reason}</h2>\n<p>{}</p>\n</body>\n</html>\n",
            html_escape(message)
        );
        Response::new(status, "text/html;charset=utf-8", body.into_bytes())
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The bytes on the wire, with `Content-Length` and, when the connection closes after,
    /// `Connection: close`. `head` leaves the body out (a HEAD request).
    pub fn encode(&self, keep_alive: bool, head: bool, date: &str) -> Vec<u8> {
        let mut s = String::with_capacity(160 + self.headers.len() * 40);
        let _ = write!(s, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            let _ = write!(s, "{n}: {v}\r\n");
        }
        let _ = write!(
            s,
            "Content-Length: {}\r\nDate: {date}\r\nServer: brine-api\r\n",
            self.body.len()
        );
        if !keep_alive {
            s.push_str("Connection: close\r\n");
        }
        s.push_str("\r\n");
        let mut out = s.into_bytes();
        if !head {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The head of a chunked (streamed) response, for `/events`.
pub fn stream_head(status: u16, headers: &[(String, String)], date: &str) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        let _ = write!(s, "{n}: {v}\r\n");
    }
    let _ = write!(
        s,
        "Transfer-Encoding: chunked\r\nDate: {date}\r\nServer: brine-api\r\n\r\n"
    );
    s.into_bytes()
}

/// One chunk of a chunked body (an empty `data` would end the body: callers never pass one).
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Escapes text for an HTML page.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes `%XX` escapes (and, with `plus`, `+` as a space, as forms write it); invalid
/// escapes stay as they are and invalid UTF-8 is replaced, as Python's `unquote` does.
pub fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The date as HTTP writes it (`Fri, 04 Dec 2026 18:00:00 GMT`).
pub fn http_date(t: std::time::SystemTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = crate::clock::Civil::from_system(t);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[c.weekday as usize % 7],
        c.day,
        MONTHS[(c.month as usize + 11) % 12],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// The fuzz target's body: any bytes through the request parser and, for what parses, the
/// body readers and the webhook's tag and headers; none may panic.
pub fn fuzz_request(data: &[u8]) {
    let limits = Limits {
        max_header: 8192,
        max_body: 65_536,
    };
    let mut buf = data;
    for _ in 0..8 {
        match parse(buf, &limits) {
            Parsed::Done(req, n) => {
                let _ = super::body::read(req.header("content-type"), &req.body);
                let _ = super::hook::tag(&percent_decode(&req.path, false));
                let _ = super::hook::headers(&req, "127.0.0.1", &[]);
                let _ = req.cookie("session_id");
                buf = &buf[n.min(buf.len())..];
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_header: 8192,
        max_body: 1024,
    };

    #[test]
    fn a_request_with_a_body_and_one_pipelined_behind_it() {
        let buf = b"POST /hook/a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n";
        let Parsed::Done(r, n) = parse(buf, &L) else {
            panic!("not parsed")
        };
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook/a"));
        assert_eq!(r.query.as_deref(), Some("x=1"));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive());
        let Parsed::Done(r2, _) = parse(&buf[n..], &L) else {
            panic!("second not parsed")
        };
        assert_eq!(r2.method, "GET");
    }

    #[test]
    fn partial_oversize_and_malformed() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost", &L), Parsed::Partial);
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", &L),
            Parsed::Partial
        );
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", &L),
            Parsed::Bad(413, _)
        ));
        let big = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(9000));
        assert!(matches!(parse(big.as_bytes(), &L), Parsed::Bad(431, _)));
        assert!(matches!(
            parse(b"\x00\x01garbage\r\n\r\n", &L),
            Parsed::Bad(400, _)
        ));
        assert!(matches!(
            parse(
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                &L
            ),
            Parsed::Bad(400, _)
        ));
        let Parsed::Done(r, n) = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1;x=y\r\nd\r\n0\r\n\r\nNEXT", &L) else {
            panic!("chunked not parsed")
        };
        assert_eq!((r.body.as_slice(), r.chunked), (&b"abcd"[..], true));
        assert_eq!(&b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1;x=y\r\nd\r\n0\r\n\r\nNEXT"[n..], b"NEXT");
        assert_eq!(
            parse(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
                &L
            ),
            Parsed::Partial
        );
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &L),
            Parsed::Bad(400, _)
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &L),
            Parsed::Bad(400, _)
        ));
    }

    #[test]
    fn keep_alive_rules_and_cookies() {
        let Parsed::Done(r, _) =
            parse(b"GET / HTTP/1.0\r\nCookie: a=1; session_id=abc\r\n\r\n", &L)
        else {
            panic!()
        };
        assert!(!r.keep_alive());
        assert_eq!(r.cookie("session_id"), Some("abc"));
        assert_eq!(r.cookie("b"), None);
        let Parsed::Done(r, _) = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &L) else {
            panic!()
        };
        assert!(!r.keep_alive());
    }

    #[test]
    fn percent_decoding_as_python_unquote() {
        assert_eq!(percent_decode("a%2Fb", false), "a/b");
        assert_eq!(percent_decode("c%20d+e", false), "c d+e");
        assert_eq!(percent_decode("c%20d+e", true), "c d e");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%C3%A9", false), "é");
        assert_eq!(percent_decode("%", false), "%");
    }

    #[test]
    fn responses_and_dates() {
        let r = Response::new(200, "application/json", b"{}".to_vec());
        let s = String::from_utf8(r.encode(false, false, "D")).unwrap_or_default();
        assert!(s.starts_with(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        ));
        assert!(s.ends_with("Connection: close\r\n\r\n{}"));
        let at = |s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(at(1_796_500_800)),
            "Sat, 05 Dec 2026 20:00:00 GMT"
        );
        assert_eq!(chunk(b"abc"), b"3\r\nabc\r\n");
        assert!(String::from_utf8_lossy(&Response::error(401, "<x>").body).contains("&lt;x&gt;"));
    }
}
