//! brine-api (Salt's rest_cherrypy dialect) on real daemons and, where Salt 3007.15 is
//! installed (/work/saltvenv, or $SALT_PYTHON), beside Salt's own salt-api on the same
//! workload (`benches/salt_api.py` runs Salt's master and salt-api). Prints:
//!
//! 1. `POST /hook/bench` requests/s: 8 keep-alive connections in 2 client threads, each
//!    keeping a window of 16 pipelined requests in flight, for 5 s, fixed 36-byte JSON body;
//!    and the same on one connection. Salt's salt-api on one connection (it fails concurrent
//!    hooks, see `salt_side`), then with 8 last, showing the failure; the ratios;
//! 2. hook → `salt/netapi/hook/lat` on the master's bus: p50/p99/max in ms, hooks paced at
//!    1,000/s for 5 s on one keep-alive connection, each body carrying its send time (wall
//!    clock, µs); a `BusClient` for brine, Salt's own `salt.utils.event` for Salt (paced at
//!    100/s);
//! 3. hook → the `salt/job/<jid>/new` of the reactor's `local.test.ping` on one real
//!    brine-minion (rule `salt/netapi/hook/deploy`), p50/p99 over 200 hooks, brine only;
//! 4. `/events` fan-out: 1,000 SSE clients on one brine-api, 1,000 events fired into the
//!    master's bus, the time until every client has every event, events delivered/s, and
//!    brine-api's VmRSS/VmHWM with the clients connected;
//! 5. idle RSS after start and one `/login`: brine-api's VmRSS, and the sum over salt-api's
//!    process group.
//!
//! `CARGO_TARGET_DIR=/work/tgt flock /tmp/brine-build.lock cargo bench --bench api`
//! (`BRINE_API_SALT=0` skips Salt's side; `BRINE_API_RUNS=1,4` runs only those figures).

mod common;

use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use common::{free_port, status_kib, Kill};
use mio::{Events, Interest, Poll, Token};
use serde_json::{json, Map, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The hook body of the throughput run.
const HOOK_BODY: &[u8] = br#"{"id": "bench", "ok": true, "n": 42}"#;
const LOAD_CONNS: usize = 8;
const LOAD_THREADS: usize = 2;
/// Salt's /hook fails under concurrent requests (see `salt_side`): one connection.
const SALT_CONNS: usize = 1;
/// brine-api reads no more from a connection with 32 requests unanswered; stay under it.
const LOAD_WINDOW: usize = 16;
const LOAD_SECS: f64 = 5.0;
const SSE_CLIENTS: usize = 1000;
const SSE_EVENTS: usize = 1000;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// 1,000 SSE clients need more descriptors than the usual soft limit of 1,024; children
/// (brine-api among them) inherit the raised limit.
fn raise_nofile() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Whether figure `n` is to be measured (`BRINE_API_RUNS`, default all).
fn wanted(n: u32) -> bool {
    match std::env::var("BRINE_API_RUNS") {
        Ok(v) => v.split(',').any(|x| x.trim() == n.to_string()),
        Err(_) => true,
    }
}

/// The kernel's count of connections dropped because a listen queue was full.
fn listen_overflows() -> u64 {
    let t = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = t.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let i = names
            .split_whitespace()
            .position(|n| n == "ListenOverflows");
        if let Some(v) = i.and_then(|i| values.split_whitespace().nth(i)) {
            return v.parse().unwrap_or(0);
        }
    }
    0
}

fn salt_python() -> Option<PathBuf> {
    if std::env::var("BRINE_API_SALT").as_deref() == Ok("0") {
        return None;
    }
    if let Ok(p) = std::env::var("SALT_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("/work/saltvenv/bin/python");
    p.exists().then_some(p)
}

// ---------------------------------------------------------------------------------------
// HTTP on the client side

fn hook_request(port: u16, path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// One whole response at the front of a buffer.
struct Resp {
    status: u16,
    /// Bytes of the buffer it took.
    len: usize,
    body: Vec<u8>,
}

/// A chunked body from `buf`: the body and the bytes taken, None while incomplete.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = memchr::memmem::find(&buf[pos..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|e| e.to_string())?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailers, then a blank line.
            loop {
                let Some(eol) = memchr::memmem::find(&buf[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// The first response in `buf`, None while it is incomplete.
fn take_response(buf: &[u8]) -> Result<Option<Resp>, String> {
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut hs);
    let head = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let shown = String::from_utf8_lossy(&buf[..buf.len().min(200)]).into_owned();
            return Err(format!("bad response ({e}): {shown:?}"));
        }
    };
    let status = r.code.unwrap_or(0);
    let mut length = None;
    let mut chunked = false;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        }
    }
    if chunked {
        return Ok(dechunk(&buf[head..])?.map(|(body, n)| Resp {
            status,
            len: head + n,
            body,
        }));
    }
    let n = length.unwrap_or(0);
    if buf.len() < head + n {
        return Ok(None);
    }
    Ok(Some(Resp {
        status,
        len: head + n,
        body: buf[head..head + n].to_vec(),
    }))
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Reads one response from a blocking stream, keeping what follows it in `buf`.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Resp, String> {
    let mut scratch = [0u8; 16384];
    loop {
        if let Some(r) = take_response(buf)? {
            buf.drain(..r.len);
            return Ok(r);
        }
        match s.read(&mut scratch) {
            Ok(0) => return Err("connection closed before the response".into()),
            Ok(n) => buf.extend_from_slice(&scratch[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the response: {e}")),
        }
    }
}

/// One request on its own connection.
fn request(port: u16, raw: &[u8]) -> Result<Resp, String> {
    let mut s = connect(port).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    s.write_all(raw).map_err(|e| format!("write: {e}"))?;
    read_response(&mut s, &mut Vec::new())
}

fn post_hook(port: u16, path: &str, body: &[u8]) -> Result<Resp, String> {
    request(port, &hook_request(port, path, body))
}

/// `POST /login` with the sharedsecret eauth; the token.
fn login(port: u16) -> Result<String, String> {
    let body = br#"{"username": "bench", "password": "s3cret", "eauth": "sharedsecret"}"#;
    let r = request(port, &hook_request(port, "/login", body))?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("login answer: {e}"))?;
    v["return"][0]["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("login: {} {}", r.status, String::from_utf8_lossy(&r.body)))
}

fn wait_api(port: u16, child: &mut Child, what: &str) {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(r) = post_hook(port, "/hook/bench", b"{}") {
            assert_eq!(
                r.status,
                200,
                "{what}: {}",
                String::from_utf8_lossy(&r.body)
            );
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited: {st}");
        }
        assert!(Instant::now() < end, "{what} did not answer /hook in 15 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// 1. Throughput: pipelined keep-alive hooks

struct LoadConn {
    s: mio::net::TcpStream,
    out: Vec<u8>,
    inb: Vec<u8>,
    inflight: usize,
    dead: bool,
}

impl LoadConn {
    /// Writes until done or the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.s.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct LoadResult {
    ok: u64,
    bad: u64,
    errors: Vec<String>,
}

fn load_thread(port: u16, conns: usize, req: &[u8], end: Instant) -> LoadResult {
    let mut res = LoadResult::default();
    let mut poll = Poll::new().unwrap();
    let mut cs: Vec<LoadConn> = (0..conns)
        .map(|i| {
            let s = connect(port).unwrap();
            s.set_nonblocking(true).unwrap();
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE | Interest::WRITABLE)
                .unwrap();
            let mut out = Vec::with_capacity(req.len() * LOAD_WINDOW);
            for _ in 0..LOAD_WINDOW {
                out.extend_from_slice(req);
            }
            LoadConn {
                s,
                out,
                inb: Vec::new(),
                inflight: LOAD_WINDOW,
                dead: false,
            }
        })
        .collect();
    let mut events = Events::with_capacity(64);
    let mut scratch = vec![0u8; 65536];
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        if poll.poll(&mut events, Some(left)).is_err() {
            continue;
        }
        for ev in events.iter() {
            let c = &mut cs[ev.token().0];
            if c.dead {
                continue;
            }
            if ev.is_readable() {
                loop {
                    match c.s.read(&mut scratch) {
                        Ok(0) => {
                            res.errors.push(format!(
                                "the server closed a connection ({} requests in flight)",
                                c.inflight
                            ));
                            c.dead = true;
                            break;
                        }
                        Ok(n) => c.inb.extend_from_slice(&scratch[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            res.errors.push(format!("read: {e}"));
                            c.dead = true;
                            break;
                        }
                    }
                }
                let mut pos = 0;
                loop {
                    match take_response(&c.inb[pos..]) {
                        Ok(Some(r)) => {
                            pos += r.len;
                            c.inflight -= 1;
                            if r.status == 200 {
                                res.ok += 1;
                            } else {
                                res.bad += 1;
                                if res.errors.len() < 5 {
                                    res.errors.push(format!(
                                        "status {}: {}",
                                        r.status,
                                        String::from_utf8_lossy(&r.body)
                                    ));
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            res.errors.push(e);
                            c.dead = true;
                            break;
                        }
                    }
                }
                c.inb.drain(..pos);
                if Instant::now() < end {
                    while c.inflight < LOAD_WINDOW {
                        c.out.extend_from_slice(req);
                        c.inflight += 1;
                    }
                }
            }
            if !c.dead {
                if let Err(e) = c.flush() {
                    res.errors.push(format!("write: {e}"));
                    c.dead = true;
                }
            }
        }
    }
    res
}

/// Hook requests/s over `conns` pipelined keep-alive connections in `threads` threads.
fn throughput(port: u16, conns: usize, threads: usize) -> (f64, LoadResult) {
    let req = Arc::new(hook_request(port, "/hook/bench", HOOK_BODY));
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(LOAD_SECS);
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let req = req.clone();
            std::thread::spawn(move || load_thread(port, conns / threads, &req, end))
        })
        .collect();
    let mut all = LoadResult::default();
    for h in hs {
        let r = h.join().unwrap();
        all.ok += r.ok;
        all.bad += r.bad;
        all.errors.extend(r.errors);
    }
    let secs = t0.elapsed().as_secs_f64();
    (all.ok as f64 / secs, all)
}

fn print_load(who: &str, conns: usize, threads: usize, rate: f64, r: &LoadResult) {
    println!(
        "1. POST /hook/bench, {conns} keep-alive connection(s) x {LOAD_WINDOW} pipelined, {threads} client thread(s), {LOAD_SECS} s: {who} {rate:.0} requests/s answered 200 ({} answered 200, {} other)",
        r.ok, r.bad
    );
    for e in r.errors.iter().take(3) {
        println!("   {who} error: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Hook to the bus

/// Sends `n` hooks to `path` paced at `rate`/s on one keep-alive connection, each body
/// `{"t": <send time, µs>, "i": i}`; the answers are read on another thread so a slow one
/// does not hold the next send back. Returns the non-200 answers and errors.
fn paced_hooks(port: u16, path: &str, rate: f64, n: usize) -> Vec<String> {
    let mut s = connect(port).unwrap();
    let mut r = s.try_clone().unwrap();
    r.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut errs = Vec::new();
        let mut buf = Vec::new();
        for _ in 0..n {
            match read_response(&mut r, &mut buf) {
                Ok(resp) if resp.status == 200 => {}
                Ok(resp) => errs.push(format!(
                    "status {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body)
                )),
                Err(e) => {
                    errs.push(e);
                    break;
                }
            }
        }
        errs
    });
    let t0 = Instant::now();
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let body = format!(r#"{{"t": {}, "i": {i}}}"#, now_us());
        if let Err(e) = s.write_all(&hook_request(port, path, body.as_bytes())) {
            return vec![format!("write: {e}")];
        }
    }
    reader.join().unwrap()
}

/// Latencies (ms) of hooks to `salt/netapi/hook/lat` on brine's bus.
fn hook_latency_brine(port: u16, sock: &Path, rate: f64, n: usize) -> (Vec<f64>, Vec<String>) {
    let mut bus = BusClient::connect(sock).unwrap();
    bus.subscribe(MatchType::StartsWith, "salt/netapi/hook/lat")
        .unwrap();
    // The subscription is live once a probe comes through.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        post_hook(port, "/hook/lat", br#"{"probe": true}"#).unwrap();
        if bus.next_event(Some(Duration::from_millis(200))).is_ok() {
            break;
        }
        assert!(Instant::now() < end, "no hook event reached the bus");
    }
    let sub = std::thread::spawn(move || {
        let mut lat = Vec::with_capacity(n);
        while lat.len() < n {
            let Ok(ev) = bus.next_event(Some(Duration::from_secs(5))) else {
                break;
            };
            let arrived = now_us();
            if let Some(t) = ev
                .data
                .get("post")
                .and_then(|p| p.get("t"))
                .and_then(Value::as_u64)
            {
                lat.push(arrived.saturating_sub(t) as f64 / 1000.0);
            }
        }
        lat
    });
    let errs = paced_hooks(port, "/hook/lat", rate, n);
    (sub.join().unwrap(), errs)
}

/// Salt's side of 2: a subscriber on Salt's master bus through Salt's own event API, which
/// prints `ready` once it has seen a probe hook, then one JSON list of latencies (ms) after
/// the hook whose body has `done`.
const SALT_SUBSCRIBER: &str = r#"
import json, sys, time
import salt.config, salt.utils.event
opts = salt.config.master_config(sys.argv[1])
ev = salt.utils.event.get_event("master", sock_dir=opts["sock_dir"], opts=opts, listen=True)
ready = False
lat = []
end = time.time() + 300
while time.time() < end:
    e = ev.get_event(wait=0.5, tag="salt/netapi/hook/lat", full=True)
    if e is None:
        continue
    now = time.time()
    post = e["data"].get("post") or {}
    if post.get("probe"):
        if not ready:
            ready = True
            print("ready", flush=True)
        continue
    if post.get("done"):
        break
    if "t" in post:
        lat.append((now * 1e6 - post["t"]) / 1000.0)
print(json.dumps(lat), flush=True)
"#;

fn hook_latency_salt(
    py: &Path,
    dir: &Path,
    port: u16,
    rate: f64,
    n: usize,
) -> Result<(Vec<f64>, Vec<String>), String> {
    let script = dir.join("subscriber.py");
    std::fs::write(&script, SALT_SUBSCRIBER).map_err(|e| e.to_string())?;
    let mut child = Kill(
        Command::new(py)
            .arg(&script)
            .arg(dir.join("master"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", py.display()))?,
    );
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        post_hook(port, "/hook/lat", br#"{"probe": true}"#)?;
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            if l == "ready" {
                break;
            }
        }
        if Instant::now() > end {
            return Err("Salt's subscriber saw no probe hook in 30 s".into());
        }
    }
    let errs = paced_hooks(port, "/hook/lat", rate, n);
    post_hook(port, "/hook/lat", br#"{"done": true}"#)?;
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "Salt's subscriber gave no result".to_string())?;
    let lat: Vec<f64> = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
    Ok((lat, errs))
}

fn print_latency(who: &str, rate: f64, n: usize, lat: &mut [f64], errs: &[String]) {
    let got = lat.len();
    println!(
        "2. POST /hook/lat -> salt/netapi/hook/lat on the master bus, {n} hooks at {rate:.0}/s: {who} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({got} of {n} seen)",
        pct(lat, 0.5),
        pct(lat, 0.99),
        pct(lat, 1.0)
    );
    for e in errs.iter().take(5) {
        println!("   {who} error: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Hook to the reactor's job

/// Hook (or, with `direct`, the same event fired on the bus) to the reactor's job.
fn reactor_latency(port: u16, sock: &Path, rounds: usize, direct: bool) -> Vec<f64> {
    let mut watch = BusClient::connect(sock).unwrap();
    watch.subscribe(MatchType::StartsWith, "salt/job/").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut bus = BusClient::connect(sock).unwrap();
    let mut s = connect(port).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut v = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let req = hook_request(port, "/hook/deploy", format!(r#"{{"i": {i}}}"#).as_bytes());
        let mut data = Map::new();
        data.insert("post".into(), json!({ "i": i }));
        let t0 = Instant::now();
        if direct {
            bus.fire("salt/netapi/hook/deploy", data, 1 << 20).unwrap();
        } else {
            s.write_all(&req).unwrap();
        }
        loop {
            let ev = watch
                .next_event(Some(Duration::from_secs(10)))
                .expect("the reactor's salt/job/<jid>/new");
            if ev.tag.ends_with("/new") {
                break;
            }
        }
        v.push(t0.elapsed().as_secs_f64() * 1e3);
        if !direct {
            let r = read_response(&mut s, &mut buf).unwrap();
            assert_eq!(r.status, 200);
        }
        // Let the job's return pass before the next hook, as spaced hooks would.
        std::thread::sleep(Duration::from_millis(3));
    }
    v
}

// ---------------------------------------------------------------------------------------
// 4. /events fan-out

/// A chunked-transfer decoder that can be fed any split of the stream.
#[derive(Clone, Copy)]
enum Chunk {
    Size(usize),
    Ext(usize),
    SizeLf(usize),
    Data(usize),
    DataCr,
    DataLf,
    End,
}

impl Chunk {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            *self = match *self {
                Chunk::Size(n) => match b {
                    b'0'..=b'9' => Chunk::Size(n * 16 + (b - b'0') as usize),
                    b'a'..=b'f' => Chunk::Size(n * 16 + (b - b'a' + 10) as usize),
                    b'A'..=b'F' => Chunk::Size(n * 16 + (b - b'A' + 10) as usize),
                    b'\r' => Chunk::SizeLf(n),
                    _ => Chunk::Ext(n),
                },
                Chunk::Ext(n) => match b {
                    b'\r' => Chunk::SizeLf(n),
                    _ => Chunk::Ext(n),
                },
                Chunk::SizeLf(0) => Chunk::End,
                Chunk::SizeLf(n) => Chunk::Data(n),
                Chunk::Data(n) => {
                    let take = n.min(input.len() - i);
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    *self = if take == n {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(n - take)
                    };
                    continue;
                }
                Chunk::DataCr => Chunk::DataLf,
                Chunk::DataLf => Chunk::Size(0),
                Chunk::End => Chunk::End,
            };
            i += 1;
        }
    }
}

struct SseConn {
    s: mio::net::TcpStream,
    head: Vec<u8>,
    /// None until the response head is in: then whether the body is chunked.
    chunked: Option<bool>,
    chunk: Chunk,
    /// The decoded stream's unfinished line.
    line: Vec<u8>,
    warm: usize,
    fan: usize,
    dead: bool,
}

#[derive(Default)]
struct Progress {
    headed: AtomicUsize,
    warmed: AtomicUsize,
    finished: AtomicUsize,
    delivered: AtomicU64,
    stop: AtomicBool,
    errors: Mutex<Vec<String>>,
}

impl SseConn {
    /// Counts the `tag:` lines of decoded stream bytes.
    fn lines(&mut self, bytes: &[u8], p: &Progress) {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', bytes) {
            let seg = &bytes[start..nl];
            start = nl + 1;
            if self.line.is_empty() {
                self.count(seg, p);
            } else {
                let mut l = std::mem::take(&mut self.line);
                l.extend_from_slice(seg);
                self.count(&l, p);
                l.clear();
                self.line = l;
            }
        }
        self.line.extend_from_slice(&bytes[start..]);
    }

    fn count(&mut self, line: &[u8], p: &Progress) {
        if line == b"tag: bench/fan" {
            self.fan += 1;
            p.delivered.fetch_add(1, Ordering::Relaxed);
            if self.fan == SSE_EVENTS {
                p.finished.fetch_add(1, Ordering::Relaxed);
            }
        } else if line == b"tag: bench/warm" {
            self.warm += 1;
            if self.warm == 1 {
                p.warmed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn readable(&mut self, scratch: &mut [u8], decoded: &mut Vec<u8>, p: &Progress) {
        loop {
            let n = match self.s.read(scratch) {
                Ok(0) => {
                    p.errors.lock().unwrap().push(format!(
                        "brine-api closed an /events stream after {} events",
                        self.fan
                    ));
                    self.dead = true;
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    p.errors.lock().unwrap().push(format!("/events read: {e}"));
                    self.dead = true;
                    return;
                }
            };
            let body = if self.chunked.is_some() {
                scratch[..n].to_vec()
            } else {
                self.head.extend_from_slice(&scratch[..n]);
                let Some(end) = memchr::memmem::find(&self.head, b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&self.head[..end]).to_ascii_lowercase();
                if !head.starts_with("http/1.1 200") {
                    p.errors
                        .lock()
                        .unwrap()
                        .push(format!("/events answered {head:?}"));
                    self.dead = true;
                    return;
                }
                self.chunked = Some(head.contains("transfer-encoding: chunked"));
                p.headed.fetch_add(1, Ordering::Relaxed);
                self.head.split_off(end + 4)
            };
            decoded.clear();
            if self.chunked == Some(true) {
                self.chunk.feed(&body, decoded);
            } else {
                decoded.extend_from_slice(&body);
            }
            let d = std::mem::take(decoded);
            self.lines(&d, p);
            *decoded = d;
        }
    }
}

fn sse_thread(streams: Vec<TcpStream>, p: Arc<Progress>) {
    let mut poll = Poll::new().unwrap();
    let mut cs: Vec<SseConn> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.set_nonblocking(true).unwrap();
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)
                .unwrap();
            SseConn {
                s,
                head: Vec::new(),
                chunked: None,
                chunk: Chunk::Size(0),
                line: Vec::new(),
                warm: 0,
                fan: 0,
                dead: false,
            }
        })
        .collect();
    let mut scratch = vec![0u8; 65536];
    let mut decoded = Vec::with_capacity(65536);
    // What arrived before registration.
    for c in cs.iter_mut() {
        c.readable(&mut scratch, &mut decoded, &p);
    }
    let mut events = Events::with_capacity(1024);
    while !p.stop.load(Ordering::Relaxed) {
        if poll
            .poll(&mut events, Some(Duration::from_millis(50)))
            .is_err()
        {
            continue;
        }
        for ev in events.iter() {
            let c = &mut cs[ev.token().0];
            if !c.dead {
                c.readable(&mut scratch, &mut decoded, &p);
            }
        }
    }
}

fn wait_for(what: &AtomicUsize, n: usize, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while what.load(Ordering::Relaxed) < n {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    true
}

fn fanout(port: u16, sock: &Path, token: &str, api_pid: u32) {
    let p = Arc::new(Progress::default());
    let req = format!(
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\nX-Auth-Token: {token}\r\n\r\n"
    );
    let overflows = listen_overflows();
    let t0 = Instant::now();
    let mut groups: Vec<Vec<TcpStream>> = vec![Vec::new(), Vec::new()];
    for i in 0..SSE_CLIENTS {
        let mut s = match connect(port) {
            Ok(s) => s,
            Err(e) => {
                println!("4. /events fan-out: connection {i} failed: {e}");
                return;
            }
        };
        s.write_all(req.as_bytes()).unwrap();
        groups[i % 2].push(s);
    }
    let hs: Vec<_> = groups
        .into_iter()
        .map(|g| {
            let p = p.clone();
            std::thread::spawn(move || sse_thread(g, p))
        })
        .collect();
    let stop = |p: &Progress, hs: Vec<std::thread::JoinHandle<()>>| {
        p.stop.store(true, Ordering::Relaxed);
        for h in hs {
            let _ = h.join();
        }
    };
    if !wait_for(&p.headed, SSE_CLIENTS, 30) {
        println!(
            "4. /events fan-out: only {} of {SSE_CLIENTS} streams started in 30 s; {:?}",
            p.headed.load(Ordering::Relaxed),
            p.errors.lock().unwrap().iter().take(3).collect::<Vec<_>>()
        );
        stop(&p, hs);
        return;
    }
    let connected = t0.elapsed();
    let overflows = listen_overflows() - overflows;
    let mut bus = BusClient::connect(sock).unwrap();
    // Every stream follows the bus once one warm-up event reached them all.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        bus.fire("bench/warm", Map::new(), 1 << 20).unwrap();
        if wait_for(&p.warmed, SSE_CLIENTS, 1) {
            break;
        }
        if Instant::now() > end {
            println!(
                "4. /events fan-out: a warm-up event reached {} of {SSE_CLIENTS} streams in 20 s",
                p.warmed.load(Ordering::Relaxed)
            );
            stop(&p, hs);
            return;
        }
    }
    let t1 = Instant::now();
    for i in 0..SSE_EVENTS {
        let mut data = Map::new();
        data.insert("i".into(), json!(i));
        data.insert("msg".into(), json!("fan-out"));
        bus.fire("bench/fan", data, 1 << 20).unwrap();
    }
    let fired = t1.elapsed();
    let all = wait_for(&p.finished, SSE_CLIENTS, 60);
    let took = t1.elapsed();
    let delivered = p.delivered.load(Ordering::Relaxed);
    let (rss, hwm) = (status_kib(api_pid, "VmRSS"), status_kib(api_pid, "VmHWM"));
    println!(
        "4. /events fan-out, {SSE_CLIENTS} SSE clients connected in {:.2} s (one thread, connect and GET back to back; {overflows} listen-queue overflows), {SSE_EVENTS} events fired in {:.1} ms: {} every client had every event after {:.3} s; {delivered} of {} delivered, {:.0} events delivered/s",
        connected.as_secs_f64(),
        fired.as_secs_f64() * 1e3,
        if all { "" } else { "NOT ALL DELIVERED:" },
        took.as_secs_f64(),
        SSE_CLIENTS * SSE_EVENTS,
        delivered as f64 / took.as_secs_f64()
    );
    println!("   brine-api with {SSE_CLIENTS} /events clients: VmRSS {rss} KiB, VmHWM {hwm} KiB");
    for e in p.errors.lock().unwrap().iter().take(5) {
        println!("   error: {e}");
    }
    stop(&p, hs);
}

// ---------------------------------------------------------------------------------------
// The daemons

/// brine-master, one brine-minion and brine-api.
struct Brine {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    port: u16,
    api: Kill,
    _minion: Kill,
    _master: Kill,
}

fn brine() -> Brine {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (pp, rp, port) = (free_port(), free_port(), free_port());
    write(
        &d.join("deploy.sls"),
        "ping_all:\n  local.test.ping:\n    - tgt: '*'\n",
    );
    write(
        &d.join("mconf/master"),
        &format!(
            "interface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\nsock_dir: {p}/mrun\ncachedir: {p}/mcache\npki_dir: {p}/mpki\nlog_file: {p}/mlog\nlog_level: warning\nauto_accept: True\n\
reactor:\n  - 'salt/netapi/hook/deploy':\n    - {p}/deploy.sls\n\
rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n  disable_ssl: True\n  webhook_disable_auth: True\n  collect_stats: True\n\
external_auth:\n  sharedsecret:\n    bench:\n      - '.*'\n      - '@runner'\n\
sharedsecret: s3cret\nnetapi_enable_clients: [local, runner]\n",
            p = d.display()
        ),
    );
    write(
        &d.join("nconf/minion"),
        &format!(
            "id: bench1\nmaster: 127.0.0.1\nmaster_port: {rp}\npublish_port: {pp}\nsock_dir: {p}/nrun\ncachedir: {p}/ncache\npki_dir: {p}/npki\nlog_file: {p}/nlog\nlog_level: warning\nacceptance_wait_time: 1\n",
            p = d.display()
        ),
    );
    let master = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(d.join("mconf"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sock = client::master_socket(&d.join("mrun"));
    let t = Instant::now();
    while BusClient::connect(&sock).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "brine-master did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut watch = BusClient::connect(&sock).unwrap();
    watch
        .subscribe(MatchType::StartsWith, "salt/minion/")
        .unwrap();
    let minion = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-minion"))
            .arg("-c")
            .arg(d.join("nconf"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    loop {
        let ev = watch
            .next_event(Some(Duration::from_secs(30)))
            .expect("the minion started");
        if ev.tag == "salt/minion/bench1/start" {
            break;
        }
    }
    let mut api = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-api"))
            .arg("-c")
            .arg(d.join("mconf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("api.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_api(port, &mut api.0, "brine-api");
    Brine {
        _dir: dir,
        sock,
        port,
        api,
        _minion: minion,
        _master: master,
    }
}

/// `benches/salt_api.py`: Salt's master and salt-api, stopped when its stdin closes.
struct Salt {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    api_pid: u32,
}

impl Drop for Salt {
    fn drop(&mut self) {
        // Closing stdin makes the script stop both process groups (SIGTERM, then SIGKILL).
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn salt(py: &Path) -> Result<Salt, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/salt_api.py");
    let mut child = Command::new(py)
        .arg(script)
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let mut w = line.split_whitespace();
    let api_pid = match (w.next(), w.next().and_then(|p| p.parse().ok())) {
        (Some("ready"), Some(pid)) => pid,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("benches/salt_api.py did not start: {line:?}"));
        }
    };
    Ok(Salt {
        child,
        dir,
        port,
        api_pid,
    })
}

/// VmRSS summed over the processes of process group `pgid`, and how many there are.
fn group_rss(pgid: u32) -> (u64, usize) {
    let mut kib = 0;
    let mut n = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name (which may hold spaces) in parentheses:
        // state, ppid, pgrp.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if rest
            .split_whitespace()
            .nth(2)
            .and_then(|g| g.parse::<u32>().ok())
            == Some(pgid)
        {
            kib += status_kib(pid, "VmRSS");
            n += 1;
        }
    }
    (kib, n)
}

/// Salt's figures; its idle RSS (KiB, processes). The run with `LOAD_CONNS` connections
/// comes last: Salt 3007.15's `Webhook` shares one `SaltEvent` among CherryPy's worker
/// threads, so concurrent hooks fail with 500 ("This event loop is already running") and
/// the event's socket is closed on the way, after which every hook gets 500.
fn salt_side(py: &Path, s: &Salt, brine_rate: (f64, f64)) -> (u64, usize) {
    if let Err(e) = login(s.port) {
        println!("   salt-api /login: {e}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle = group_rss(s.api_pid);
    if wanted(1) {
        let (rate, r) = throughput(s.port, SALT_CONNS, 1);
        print_load("Salt 3007.15 salt-api", SALT_CONNS, 1, rate, &r);
        println!(
            "   brine-api / salt-api on {SALT_CONNS} connection: {:.0}x; brine-api with {LOAD_CONNS} connections / salt-api: {:.0}x",
            brine_rate.1 / rate,
            brine_rate.0 / rate
        );
    }
    if wanted(2) {
        let (rate, n) = (100.0, 500);
        match hook_latency_salt(py, s.dir.path(), s.port, rate, n) {
            Ok((mut lat, errs)) => print_latency("Salt 3007.15", rate, n, &mut lat, &errs),
            Err(e) => println!("2. Salt's hook latency failed: {e}"),
        }
    }
    if wanted(1) {
        let (rate, r) = throughput(s.port, LOAD_CONNS, LOAD_THREADS);
        print_load("Salt 3007.15 salt-api", LOAD_CONNS, LOAD_THREADS, rate, &r);
        match post_hook(s.port, "/hook/bench", HOOK_BODY) {
            Ok(r) => println!(
                "   Salt 3007.15: one hook on a fresh connection afterwards: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(e) => println!("   Salt 3007.15: one hook afterwards: {e}"),
        }
    }
    idle
}

fn main() {
    raise_nofile();
    let bench_start = Instant::now();

    // brine
    let b = brine();
    let api_pid = b.api.0.id();
    let token = login(b.port).expect("brine-api /login");
    std::thread::sleep(Duration::from_millis(200));
    let idle_rss = status_kib(api_pid, "VmRSS");
    let idle_hwm = status_kib(api_pid, "VmHWM");

    let mut brine_rate = (f64::NAN, f64::NAN);
    if wanted(1) {
        let (rate, r) = throughput(b.port, LOAD_CONNS, LOAD_THREADS);
        print_load("brine-api", LOAD_CONNS, LOAD_THREADS, rate, &r);
        let (one, r) = throughput(b.port, SALT_CONNS, 1);
        print_load("brine-api", SALT_CONNS, 1, one, &r);
        brine_rate = (rate, one);
    }
    if wanted(2) {
        let (rate, n) = (1000.0, 5000);
        let (mut lat, errs) = hook_latency_brine(b.port, &b.sock, rate, n);
        print_latency("brine", rate, n, &mut lat, &errs);
    }
    if wanted(3) {
        let mut rl = reactor_latency(b.port, &b.sock, 200, false);
        let mut direct = reactor_latency(b.port, &b.sock, 200, true);
        println!(
            "3. POST /hook/deploy -> salt/job/<jid>/new of the reactor's local.test.ping on 1 brine-minion, 200 hooks 3 ms apart: brine p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (the same event fired on the bus directly: p50 {:.3} ms, p99 {:.3} ms); Salt skipped (benches/salt_api.py starts no minion or reactor)",
            pct(&mut rl, 0.5),
            pct(&mut rl, 0.99),
            pct(&mut rl, 1.0),
            pct(&mut direct, 0.5),
            pct(&mut direct, 0.99)
        );
    }
    if wanted(4) {
        fanout(b.port, &b.sock, &token, api_pid);
    }
    println!(
        "   brine-api after all runs: VmRSS {} KiB, VmHWM {} KiB",
        status_kib(api_pid, "VmRSS"),
        status_kib(api_pid, "VmHWM")
    );
    drop(b);

    // Salt
    let mut salt_idle = None;
    match salt_python() {
        None => {
            println!("1./2./5. Salt not installed (no /work/saltvenv or $SALT_PYTHON, or BRINE_API_SALT=0), skipped");
        }
        Some(py) => match salt(&py) {
            Err(e) => println!("Salt's side failed to start: {e}"),
            Ok(s) => salt_idle = Some(salt_side(&py, &s, brine_rate)),
        },
    }

    println!(
        "5. idle RSS after start and one /login: brine-api VmRSS {idle_rss} KiB (VmHWM {idle_hwm} KiB){}",
        match salt_idle {
            Some((kib, n)) => format!(
                "; Salt 3007.15 salt-api {kib} KiB (VmRSS summed over its {n} processes), {:.0}x",
                kib as f64 / idle_rss.max(1) as f64
            ),
            None => "; Salt skipped".into(),
        }
    );
    println!("whole bench: {:.0} s", bench_start.elapsed().as_secs_f64());
}
