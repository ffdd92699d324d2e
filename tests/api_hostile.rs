//! brine-api against hostile and real clients, from the outside: malformed, oversized and
//! smuggling requests, slow and idle clients, thousands of connections and a pipelined burst
//! must each leave the daemon up and answering; paths that try to leave a directory (the
//! CVE-2020-11652 / CVE-2021-25282 class) are refused; TLS serves with the configured
//! certificate and refuses to start without one; and real clients (Salt's pepper, Python's
//! urllib) work against it.

use crate::common::*;
use brine::client::BusClient;
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// The master keys every authenticated test uses: one sharedsecret user with everything.
const AUTH: &str = "external_auth:\n  sharedsecret:\n    ops: ['.*', '@runner', '@wheel']\nsharedsecret: s3cret\nnetapi_enable_clients: [local, local_async, runner, runner_async, wheel, wheel_async]\n";

const ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

fn status_of(resp: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(resp);
    if !text.starts_with("HTTP/1.") {
        return 0;
    }
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A master with `extra`, and a bus client subscribed to the webhook tags.
fn master_and_bus(extra: &str) -> (Master, BusClient) {
    let master = Master::start_with(extra);
    let mut bus = master.client();
    bus.subscribe(MatchType::StartsWith, "salt/netapi/hook")
        .expect("subscribe");
    master.wait_subscribed(1);
    (master, bus)
}

/// Starts brine-api and waits until it has reached the master (its subscription is the
/// `n`th of the master's), so that hooks are not answered 503.
fn api_ready(master: &Master, rest: &str, top: &str, tls: bool, n: usize) -> Api {
    let api = Api::start_opts(master, rest, top, tls);
    master.wait_subscribed(n);
    api
}

/// One exchange in which the server may answer and close before it has read everything:
/// the request is written from a thread while this one reads. Returns what came back and
/// how long until the peer closed (or `limit`).
fn exchange(port: u16, raw: Vec<u8>, limit: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        for part in raw.chunks(16 * 1024) {
            if w.write_all(part).is_err() {
                return;
            }
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
        if start.elapsed() >= limit {
            break;
        }
    }
    let took = start.elapsed();
    let _ = s.shutdown(Shutdown::Both);
    let _ = writer.join();
    (out, took)
}

/// The daemon still runs and answers `GET /` with 200.
fn still_serves(api: &mut Api, after: &str) {
    assert!(api.alive(), "brine-api died after {after}:\n{}", api.log());
    let resp = api.raw(ROOT, T);
    assert_eq!(
        status_of(&resp),
        200,
        "GET / after {after}: {}\n{}",
        text(&resp),
        api.log()
    );
}

/// A kept-alive client connection that reads responses one at a time.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        Conn { s, buf: Vec::new() }
    }

    fn send(&mut self, raw: &[u8]) {
        self.s.write_all(raw).expect("write");
    }

    /// Reads into the buffer; false at the peer's close or after `limit`.
    fn fill(&mut self, limit: Duration) -> bool {
        self.s.set_read_timeout(Some(limit)).expect("timeout");
        let mut b = [0u8; 64 * 1024];
        match self.s.read(&mut b) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                true
            }
        }
    }

    /// The next response by its Content-Length: (status, head, body); None if the peer
    /// closed (or nothing came within `limit`).
    fn response(&mut self, limit: Duration) -> Option<(u16, String, Vec<u8>)> {
        let end = Instant::now() + limit;
        loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = text(&self.buf[..at]);
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= at + 4 + len {
                    let body = self.buf[at + 4..at + 4 + len].to_vec();
                    self.buf.drain(..at + 4 + len);
                    return Some((status_of(head.as_bytes()), head, body));
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.fill(left) {
                return None;
            }
        }
    }

    /// Waits for the peer to close; how long that took (None if it did not within `limit`).
    fn closed_within(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        self.s.set_read_timeout(Some(limit)).expect("timeout");
        let mut b = [0u8; 4096];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return Some(start.elapsed()),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(_) => return Some(start.elapsed()),
            }
        }
    }
}

/// Pseudo-random bytes (xorshift), the same for the same seed.
fn garbage(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Fires a marker hook and returns the hook events that came before it.
fn events_before_marker(api: &Api, bus: &mut BusClient) -> Vec<String> {
    let resp = api.raw(
        b"POST /hook/marker HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        T,
    );
    assert_eq!(status_of(&resp), 200, "the marker hook: {}", text(&resp));
    let mut before = Vec::new();
    loop {
        let ev = bus.next_event(Some(T)).expect("the marker event");
        if ev.tag == "salt/netapi/hook/marker" {
            return before;
        }
        before.push(ev.tag);
    }
}

#[test]
fn malformed_oversized_and_smuggling_requests_are_refused_and_the_daemon_stays_up() {
    let (master, mut bus) = master_and_bus("");
    let mut api = api_ready(
        &master,
        "webhook_disable_auth: True\nmax_request_body_size: 1000",
        "",
        false,
        2,
    );
    still_serves(&mut api, "start");

    // Garbage: 400, and the connection closed (not left waiting for more).
    for seed in [1u64, 7, 42, 1234567, 0xdead_beef] {
        let (resp, took) = exchange(api.port, garbage(seed, 4096), T);
        assert_eq!(
            status_of(&resp),
            400,
            "garbage seed {seed}: {}",
            text(&resp)
        );
        assert!(
            took < T,
            "garbage seed {seed}: the connection was left open"
        );
        still_serves(&mut api, &format!("garbage seed {seed}"));
    }

    let long_line = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "a".repeat(100_000)
    );
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..70 {
        many.push_str(&format!("X-Header-{i}: v{i}\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    let big_body = format!(
        "POST /hook/big HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{}",
        "c".repeat(5000)
    );
    let mut big_chunked = String::from(
        "POST /hook/bigchunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..10 {
        big_chunked.push_str(&format!("1f4\r\n{}\r\n", "d".repeat(500)));
    }
    big_chunked.push_str("0\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("a 100 KB request line", long_line.into_bytes(), &[431]),
        ("70 headers", many.into_bytes(), &[431]),
        ("a 20 KB header", big_header.into_bytes(), &[431]),
        ("a body past max_request_body_size", big_body.into_bytes(), &[413]),
        ("a chunked body past max_request_body_size", big_chunked.into_bytes(), &[413]),
        (
            "Content-Length with Transfer-Encoding",
            b"POST /hook/smuggle HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "Transfer-Encoding with Content-Length",
            b"POST /hook/smuggle2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "two equal Content-Lengths",
            b"POST /hook/twocl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            &[400],
        ),
        (
            "two different Content-Lengths",
            b"POST /hook/twocl2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc".to_vec(),
            &[400],
        ),
        (
            "a negative Content-Length",
            b"POST /hook/negcl HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\nabc".to_vec(),
            &[400],
        ),
        (
            "a chunk size that is not hex",
            b"POST /hook/badchunk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "a chunk size past 64 bits",
            b"POST /hook/hugechunk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n".to_vec(),
            &[400, 413],
        ),
        (
            "a Transfer-Encoding other than chunked",
            b"POST /hook/gzipte HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".to_vec(),
            &[400, 501],
        ),
    ];
    for (what, raw, want) in cases {
        let (resp, took) = exchange(api.port, raw, T);
        let got = status_of(&resp);
        assert!(
            want.contains(&got),
            "{what}: status {got} (want {want:?}): {}",
            text(&resp)
        );
        assert!(took < T, "{what}: the connection was left open");
        still_serves(&mut api, what);
    }
    // None of the refused hooks reached the bus.
    let stray = events_before_marker(&api, &mut bus);
    assert!(stray.is_empty(), "refused hooks fired events: {stray:?}");
}

#[test]
fn a_slowloris_client_is_cut_off_while_another_is_served() {
    let master = Master::start();
    let mut api = api_ready(&master, "request_timeout: 2", "", false, 1);
    still_serves(&mut api, "start");
    let port = api.port;
    let full = b"GET / HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\nConnection: close\r\n\r\n";
    let start = Instant::now();
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(8)))
            .expect("timeout");
        let mut w = s.try_clone().expect("clone");
        let stop = Arc::new(AtomicBool::new(false));
        let stop_w = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut sent = 0;
            for b in full.iter() {
                if stop_w.load(Ordering::SeqCst) || w.write_all(&[*b]).is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            sent
        });
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let took = start.elapsed();
        stop.store(true, Ordering::SeqCst);
        let sent = writer.join().unwrap_or(0);
        (got, took, sent)
    });
    // Meanwhile others are served at once.
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(400));
        let t = Instant::now();
        let resp = api.raw(ROOT, T);
        let took = t.elapsed();
        assert_eq!(status_of(&resp), 200, "request {i}: {}", text(&resp));
        assert!(
            took < Duration::from_secs(1),
            "request {i} during the slowloris took {took:?}"
        );
    }
    let (got, took, sent) = slow.join().expect("the slow client");
    assert!(
        took < Duration::from_millis(4500),
        "the slow client was cut off only after {took:?}"
    );
    assert!(sent < full.len(), "the slow client sent its whole request");
    let st = status_of(&got);
    assert!(
        got.is_empty() || st == 408,
        "the slow client got {}",
        text(&got)
    );
    still_serves(&mut api, "the slowloris");
}

#[test]
fn idle_connections_are_closed_after_idle_timeout() {
    let master = Master::start();
    let mut api = api_ready(&master, "idle_timeout: 2", "", false, 1);
    let req = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut c = Conn::open(api.port);
    c.send(req);
    let (st, ..) = c.response(T).expect("a first answer");
    assert_eq!(st, 200);
    // Idle for less than idle_timeout: still open, and the clock starts again.
    std::thread::sleep(Duration::from_millis(1200));
    c.send(req);
    let (st, ..) = c
        .response(T)
        .expect("a second answer on the same connection");
    assert_eq!(st, 200);
    let idle = c
        .closed_within(Duration::from_secs(6))
        .expect("the idle connection was not closed");
    assert!(
        idle >= Duration::from_millis(1500) && idle < Duration::from_millis(4500),
        "closed after {idle:?} idle (idle_timeout: 2)"
    );
    // A connection that never sends anything goes the same way.
    let mut silent = Conn::open(api.port);
    let idle = silent
        .closed_within(Duration::from_secs(6))
        .expect("the silent connection was not closed");
    assert!(
        idle >= Duration::from_millis(1500) && idle < Duration::from_millis(4500),
        "silent connection closed after {idle:?}"
    );
    still_serves(&mut api, "idle connections");
}

/// Raises this process's open-file limit to its hard limit (5,000 client sockets).
fn raise_nofile(need: libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a pointer to a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    assert!(
        lim.rlim_cur >= need,
        "RLIMIT_NOFILE {} is below the {need} this test needs",
        lim.rlim_cur
    );
}

#[test]
fn five_thousand_connections_at_once_leave_it_serving() {
    // The other tests of this binary run alongside: room for them too.
    raise_nofile(5_000 + 1_000);
    let master = Master::start();
    let mut api = api_ready(&master, "max_connections: 10000", "", false, 1);
    // In bursts of 100 with a pause of 10 ms: the listen backlog is 128 (mio's), and a
    // connect past a full backlog waits for a SYN retransmit (1 s), so 5,000 back to back
    // take half a minute without the daemon doing anything wrong but being woken late.
    let start = Instant::now();
    let mut conns = Vec::with_capacity(5000);
    for i in 0..5000 {
        match TcpStream::connect(("127.0.0.1", api.port)) {
            Ok(s) => conns.push(s),
            Err(e) => panic!("connection {i}: {e}"),
        }
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let opened = start.elapsed();
    assert_eq!(conns.len(), 5000);
    assert!(api.alive(), "brine-api died under 5000 connections");
    let t = Instant::now();
    let resp = api.raw(ROOT, T);
    assert_eq!(
        status_of(&resp),
        200,
        "a new client with 5000 open: {}",
        text(&resp)
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a new client with 5000 open took {:?}",
        t.elapsed()
    );
    // Some of the 5000 are served too: they were accepted, not just queued.
    for i in (0..5000).step_by(500) {
        let s = &mut conns[i];
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("write");
        s.set_read_timeout(Some(T)).expect("timeout");
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).unwrap_or(0);
        assert_eq!(
            status_of(&b[..n]),
            200,
            "connection {i} of 5000: {}",
            text(&b[..n])
        );
    }
    drop(conns);
    still_serves(
        &mut api,
        &format!("5000 connections (opened in {opened:?})"),
    );
}

#[test]
fn max_connections_refuses_the_one_past_it_and_serves_again_after() {
    let master = Master::start();
    let mut api = api_ready(&master, "max_connections: 100", "", false, 1);
    still_serves(&mut api, "start");
    // The start-up probe and that request are gone before the hundred come.
    std::thread::sleep(Duration::from_millis(300));
    let mut held: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", api.port)).expect("connect"))
        .collect();
    // The kernel completes the 101st handshake; brine-api accepts it after the hundred
    // (in order) and closes it unanswered.
    let (resp, took) = exchange(api.port, ROOT.to_vec(), T);
    assert_ne!(
        status_of(&resp),
        200,
        "the 101st connection was served: {}",
        text(&resp)
    );
    assert!(resp.is_empty(), "the 101st got {}", text(&resp));
    assert!(took < T, "the 101st connection was left open, not refused");
    // The hundred are served.
    let s = &mut held[99];
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    s.set_read_timeout(Some(T)).expect("timeout");
    let mut b = [0u8; 4096];
    let n = s.read(&mut b).unwrap_or(0);
    assert_eq!(status_of(&b[..n]), 200, "the 100th: {}", text(&b[..n]));
    assert!(api.log().contains("max_connections"), "{}", api.log());
    drop(held);
    // Once they are closed, new clients are served again.
    wait_for("a client served after the hundred closed", T, || {
        (status_of(&api.raw(ROOT, T)) == 200).then_some(())
    });
    still_serves(&mut api, "max_connections");
}

#[test]
fn fifty_pipelined_hooks_get_fifty_answers_in_order_and_fifty_events() {
    let (master, mut bus) = master_and_bus("");
    let mut api = api_ready(&master, "webhook_disable_auth: True", "", false, 2);
    let mut burst = Vec::new();
    let mut want = Vec::new();
    for i in 0..50 {
        let body = format!("{{\"n\": {i}}}");
        burst.extend_from_slice(
            format!(
                "POST /hook/pipe/{i} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        want.push(200);
        // A different answer every tenth: the order of answers is visible.
        if i % 10 == 9 {
            burst.extend_from_slice(b"GET /nothing/here HTTP/1.1\r\nHost: t\r\n\r\n");
            want.push(404);
        }
    }
    let mut c = Conn::open(api.port);
    c.send(&burst);
    let mut got = Vec::new();
    for k in 0..want.len() {
        let (st, head, body) = c
            .response(T)
            .unwrap_or_else(|| panic!("answer {k} of {} missing (got {got:?})", want.len()));
        if st == 200 {
            let v: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("answer {k}: {e}: {head}\n{}", text(&body)));
            assert_eq!(v, json!({"success": true}), "answer {k}");
        }
        got.push(st);
    }
    assert_eq!(got, want);
    for i in 0..50 {
        let ev = bus.next_event(Some(T)).expect("a hook event");
        assert_eq!(ev.tag, format!("salt/netapi/hook/pipe/{i}"));
        assert_eq!(ev.data.get("post"), Some(&json!({"n": i})), "event {i}");
    }
    // The connection is still good after the burst.
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response(T).map(|r| r.0), Some(200));
    assert!(
        events_before_marker(&api, &mut bus).is_empty(),
        "more than fifty events"
    );
    still_serves(&mut api, "the pipelined burst");
}

/// Logs in as `ops` and returns the token.
fn login(api: &Api) -> String {
    let (st, head, body) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username":"ops","password":"s3cret","eauth":"sharedsecret"}"#,
        &api.url("/login"),
    ]);
    assert_eq!(st, 200, "login: {head}\n{body}");
    let v: Value = serde_json::from_str(&body).expect("login JSON");
    v["return"][0]["token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// True when `body` holds a line of /etc/passwd or of the secret file.
fn leaks(body: &str) -> bool {
    body.contains("root:") || body.contains("TOP SECRET")
}

#[test]
fn paths_that_leave_their_directory_are_refused() {
    let master = Master::start_with(AUTH);
    let d = tempfile::tempdir().expect("temp dir");
    let stat = d.path().join("static");
    std::fs::create_dir_all(&stat).expect("static dir");
    std::fs::write(stat.join("ok.txt"), "hello static\n").expect("write");
    std::fs::write(d.path().join("secret.txt"), "TOP SECRET\n").expect("write");
    let mut api = api_ready(
        &master,
        &format!("static: {}\nstatic_path: /static", stat.display()),
        "",
        false,
        1,
    );
    let token = login(&api);
    let get = |path: &str| {
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nX-Auth-Token: {token}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        let resp = api.raw(raw.as_bytes(), T);
        (status_of(&resp), text(&resp))
    };
    // The token works: a refusal below is the path's, not a missing login.
    let (st, resp) = get("/jobs");
    assert_eq!(st, 200, "GET /jobs with the token: {resp}");
    let mut wrong = Vec::new();
    for path in [
        "/keys/..%2F..%2Fetc%2Fpasswd",
        "/keys/../x",
        "/keys/../../../../etc/passwd",
        "/keys/%2e%2e",
        "/keys/..%5c..%5cetc%5cpasswd",
        "/keys/a%00b",
        "/jobs/..%2f..%2fetc",
        "/jobs/..%2f..%2fetc%2fpasswd",
        "/jobs/%2e%2e",
        "/jobs/notajid",
        "/minions/..%2f..%2fetc%2fpasswd",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/..%2fsecret.txt",
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/..%5csecret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
    ] {
        let (st, resp) = get(path);
        if ![400, 403, 404].contains(&st) || leaks(&resp) {
            let first = resp.lines().next().unwrap_or("").to_string();
            wrong.push(format!(
                "GET {path}: {first} (leaked a file: {})",
                leaks(&resp)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "paths out of their directory not refused with 400/403/404:\n{}",
        wrong.join("\n")
    );
    let (st, resp) = get("/static/ok.txt");
    assert_eq!(st, 200, "{resp}");
    assert!(resp.ends_with("hello static\n"), "{resp}");
    still_serves(&mut api, "the traversal attempts");
}

#[test]
fn a_symlink_out_of_the_static_directory_is_refused() {
    let master = Master::start();
    let d = tempfile::tempdir().expect("temp dir");
    let stat = d.path().join("static");
    std::fs::create_dir_all(&stat).expect("static dir");
    std::fs::write(stat.join("ok.txt"), "hello static\n").expect("write");
    std::fs::write(d.path().join("secret.txt"), "TOP SECRET\n").expect("write");
    std::os::unix::fs::symlink(d.path().join("secret.txt"), stat.join("leak.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink("/etc", stat.join("etc")).expect("symlink");
    let mut api = api_ready(
        &master,
        &format!("static: {}\nstatic_path: /static", stat.display()),
        "",
        false,
        1,
    );
    let (st, _, body) = api.curl(&[&api.url("/static/ok.txt")]);
    assert_eq!((st, body.as_str()), (200, "hello static\n"));
    let mut served = Vec::new();
    for path in ["/static/leak.txt", "/static/etc/passwd"] {
        let (st, _, body) = api.curl(&[&api.url(path)]);
        if st == 200 || leaks(&body) {
            served.push(format!("GET {path}: {st}: {}", body.trim_end()));
        }
    }
    assert!(
        served.is_empty(),
        "symlinks out of the static directory were served:\n{}",
        served.join("\n")
    );
    still_serves(&mut api, "the symlinks");
}

/// curl checking the server's certificate against `ca`: (exit code, status, body).
fn curl_ca(ca: &Path, args: &[&str]) -> (i32, u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl runs");
    let t = stdout(&out);
    let (head, body) = t.split_once("\r\n\r\n").unwrap_or((&t, ""));
    (
        out.status.code().unwrap_or(-1),
        status_of(head.as_bytes()),
        format!("{body}{}", stderr(&out)),
    )
}

#[test]
fn tls_serves_with_its_certificate_and_survives_plain_http() {
    let pki = Pki::new();
    let (master, mut bus) = master_and_bus("");
    let mut api = api_ready(
        &master,
        &format!(
            "webhook_disable_auth: True\nssl_crt: {}\nssl_key: {}",
            pki.path("cert.pem").display(),
            pki.path("key.pem").display()
        ),
        "",
        true,
        2,
    );
    let ca = pki.path("ca.pem");
    let (rc, st, body) = curl_ca(&ca, &[&api.url("/")]);
    assert_eq!((rc, st), (0, 200), "GET / over TLS: {body}");
    let (rc, st, body) = curl_ca(
        &ca,
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"over": "tls"}"#,
            &api.url("/hook/tls"),
        ],
    );
    assert_eq!((rc, st), (0, 200), "the hook over TLS: {body}");
    let ev = bus.next_event(Some(T)).expect("the TLS hook's event");
    assert_eq!(ev.tag, "salt/netapi/hook/tls");
    assert_eq!(ev.data.get("post"), Some(&json!({"over": "tls"})));

    // Plain HTTP and garbage at the TLS port: no 200, and the daemon goes on.
    let (resp, _) = exchange(api.port, ROOT.to_vec(), Duration::from_secs(5));
    assert_ne!(
        status_of(&resp),
        200,
        "plain HTTP on the TLS port was served"
    );
    assert!(!text(&resp).contains("Welcome"), "{}", text(&resp));
    for seed in [3u64, 99] {
        let _ = exchange(api.port, garbage(seed, 2048), Duration::from_secs(5));
    }
    assert!(api.alive(), "brine-api died: {}", api.log());
    let (rc, st, body) = curl_ca(&ca, &[&api.url("/")]);
    assert_eq!(
        (rc, st),
        (0, 200),
        "GET / over TLS after plain HTTP: {body}"
    );
}

/// Runs brine-api on a configuration directory holding only `api_conf` in master.d and
/// returns (exit code, stderr); it must exit by itself.
fn api_exits(api_conf: &str) -> (Option<i32>, String) {
    let d = tempfile::tempdir().expect("temp dir");
    let conf = d.path().join("conf");
    std::fs::create_dir_all(conf.join("master.d")).expect("conf dir");
    std::fs::write(
        conf.join("master"),
        format!(
            "sock_dir: {}\ncachedir: {}\npki_dir: {}\n",
            d.path().join("run").display(),
            d.path().join("cache").display(),
            d.path().join("pki").display()
        ),
    )
    .expect("write master");
    std::fs::write(conf.join("master.d/api.conf"), api_conf).expect("write api.conf");
    let child = Command::new(bin("brine-api"))
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn brine-api");
    let out = output_within(child, T);
    (out.status.code(), stderr(&out))
}

#[test]
fn tls_without_certificates_refuses_to_start_naming_what_is_missing() {
    let port = free_port();
    let (code, err) = api_exits(&format!(
        "rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n"
    ));
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {err}");
    assert_eq!(lines.len(), 1, "want one line: {err}");
    assert!(lines[0].contains("ssl_crt"), "{err}");

    let pki = Pki::new();
    let missing = pki.path("nowhere/crt.pem");
    let (code, err) = api_exits(&format!(
        "rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n  ssl_crt: {}\n  ssl_key: {}\n",
        missing.display(),
        pki.path("key.pem").display()
    ));
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {err}");
    assert!(
        err.contains(&missing.display().to_string()),
        "the missing certificate is not named: {err}"
    );

    let missing = pki.path("nowhere/key.pem");
    let (code, err) = api_exits(&format!(
        "rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n  ssl_crt: {}\n  ssl_key: {}\n",
        pki.path("cert.pem").display(),
        missing.display()
    ));
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {err}");
    assert!(
        err.contains(&missing.display().to_string()),
        "the missing key is not named: {err}"
    );

    // A file that is not PEM at all: refused with its name, not a panic.
    let junk = pki.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("write");
    let (code, err) = api_exits(&format!(
        "rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n  ssl_crt: {}\n  ssl_key: {}\n",
        junk.display(),
        pki.path("key.pem").display()
    ));
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("junk.pem"),
        "the bad certificate is not named: {err}"
    );
}

/// pepper on PATH (CI installs it), else the development venv's; None when neither exists.
fn pepper() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pepper"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let venv = PathBuf::from("/work/saltvenv/bin/pepper");
        venv.is_file().then_some(venv)
    })
}

#[test]
fn pepper_runs_a_job_and_a_runner() {
    let Some(pepper) = pepper() else {
        println!(
            "skipped: pepper is neither on PATH nor in /work/saltvenv (pip install salt-pepper)"
        );
        return;
    };
    let master = Master::start_with(&format!("auto_accept: True\n{AUTH}"));
    let minion = Minion::start(&master, "pep1", "");
    minion.wait_log("authenticated with the master", 1);
    let api = api_ready(&master, "", "", false, 1);
    let home = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let child = Command::new(&pepper)
            .args(args)
            .env("HOME", home.path())
            .env("SALTAPI_URL", api.url(""))
            .env("SALTAPI_USER", "ops")
            .env("SALTAPI_PASS", "s3cret")
            .env("SALTAPI_EAUTH", "sharedsecret")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pepper");
        output_within(child, Duration::from_secs(30))
    };
    let out = run(&["*", "test.ping"]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "pepper '*' test.ping: {o}\n{e}");
    assert!(
        o.contains("pep1") && o.to_lowercase().contains("true"),
        "pepper '*' test.ping printed: {o}\n{e}\n{}",
        api.log()
    );
    let out = run(&["--client", "runner", "jobs.list_jobs"]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "pepper jobs.list_jobs: {o}\n{e}");
    // The test.ping above is among the jobs listed.
    assert!(o.contains("test.ping"), "jobs.list_jobs printed: {o}\n{e}");
}

/// The urllib client: logs in, posts a form to a hook, reads `/` as YAML; prints JSON.
const URLLIB: &str = r#"
import json, sys, urllib.request
base = sys.argv[1]
def call(path, data=None, headers=None):
    req = urllib.request.Request(base + path, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()
out = {}
st, ct, body = call("/login", json.dumps({"username": "ops", "password": "s3cret", "eauth": "sharedsecret"}).encode(),
                    {"Content-Type": "application/json", "Accept": "application/json"})
token = json.loads(body)["return"][0]["token"]
out["login"] = [st, ct]
st, ct, body = call("/hook/py/form", b"a=1&b=two+words", {"X-Auth-Token": token,
                    "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
out["hook"] = [st, json.loads(body)]
st, ct, body = call("/", None, {"X-Auth-Token": token, "Accept": "application/x-yaml"})
try:
    import yaml
    root = yaml.safe_load(body)
except ImportError:
    # No PyYAML here: the two keys of the answer, read by hand.
    root = {"return": "Welcome" if "return: Welcome" in body else body,
            "clients": [l.strip()[2:] for l in body.splitlines() if l.strip().startswith("- ")]}
out["root"] = [st, ct, root]
print(json.dumps(out))
"#;

#[test]
fn pythons_urllib_logs_in_posts_a_form_and_reads_yaml() {
    let (master, mut bus) = master_and_bus(AUTH);
    let api = api_ready(&master, "", "", false, 2);
    let out = Command::new("python3")
        .args(["-c", URLLIB, &api.url("")])
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the urllib client: {}\n{}",
        stderr(&out),
        api.log()
    );
    let v: Value = serde_json::from_str(stdout(&out).trim()).expect("its JSON");
    assert_eq!(v["login"][0], 200);
    assert!(v["login"][1].as_str().unwrap_or("").contains("json"), "{v}");
    assert_eq!(v["hook"], json!([200, {"success": true}]));
    assert_eq!(v["root"][0], 200);
    assert!(v["root"][1].as_str().unwrap_or("").contains("yaml"), "{v}");
    assert_eq!(v["root"][2]["return"], "Welcome", "{v}");
    assert_eq!(
        v["root"][2]["clients"],
        json!([
            "local",
            "local_async",
            "runner",
            "runner_async",
            "wheel",
            "wheel_async"
        ]),
        "{v}"
    );
    let ev = bus.next_event(Some(T)).expect("the form hook's event");
    assert_eq!(ev.tag, "salt/netapi/hook/py/form");
    assert_eq!(
        ev.data.get("post"),
        Some(&json!({"a": "1", "b": "two words"}))
    );
    assert_eq!(
        ev.data.get("body").and_then(Value::as_str),
        Some("a=1&b=two+words")
    );
    let headers = ev.data.get("headers").cloned().unwrap_or_default();
    assert!(
        headers.get("X-Auth-Token").is_none(),
        "the token reached the bus: {headers}"
    );
    assert!(
        headers
            .get("User-Agent")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with("Python-urllib")),
        "{headers}"
    );
}
