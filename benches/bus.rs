//! The master bus end to end through a real brine-master socket.
//!
//! Prints, in one run: events/s delivered to each of 1, 10 and 100 listeners (Rust
//! clients) and to one plain-Python listener, beside a bare relay of the same frames
//! through Unix sockets on the same machine (the machine's limit for the work); and
//! latency p50/p99 in microseconds at a paced 10,000 events/s.

mod common;

use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use brine::wire::{self, kind, FrameReader, Next};
use common::free_port;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

struct Master {
    child: Child,
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
}

impl Master {
    fn start() -> Master {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::write(
            dir.path().join("master"),
            format!(
                "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\npki_dir: {}\nsock_dir: {}\ncachedir: {}\nlog_level: warning\n",
                free_port(),
                free_port(),
                dir.path().join("pki").display(),
                run.display(),
                dir.path().join("cache").display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let socket = client::master_socket(&run);
        let end = Instant::now() + Duration::from_secs(10);
        while BusClient::connect(&socket).is_err() {
            assert!(Instant::now() < end, "master did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Master {
            child,
            _dir: dir,
            socket,
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listener thread that counts `n` events and reports when it has them all.
fn listener(
    socket: &std::path::Path,
    n: u64,
    done: mpsc::Sender<u64>,
) -> std::thread::JoinHandle<()> {
    let mut c = BusClient::connect(socket).unwrap();
    c.subscribe(MatchType::StartsWith, "bench/").unwrap();
    // Give the subscription a moment to land before events flow.
    std::thread::sleep(Duration::from_millis(50));
    let mut stream = c.into_stream();
    std::thread::spawn(move || {
        let mut r = FrameReader::new(1 << 20);
        // A listener that falls behind its buffer loses events and is told how many
        // (salt/event/lost): those count as settled, so the run ends and reports them.
        let (mut got, mut lost) = (0u64, 0u64);
        while got + lost < n {
            if r.read_from(&mut stream).unwrap_or(0) == 0 {
                return;
            }
            while let Some(Next::Frame(k, payload)) = r.next_frame() {
                // Events are counted as the relay's listener counts frames; only a
                // notice (an E frame, never a ring event) is decoded.
                match k {
                    kind::SEQ_EVENT => got += 1,
                    kind::EVENT => {
                        if let Ok(ev) = wire::Event::decode(payload, usize::MAX) {
                            if ev.tag() == "salt/event/lost" {
                                lost += ev
                                    .value()
                                    .ok()
                                    .and_then(|d| {
                                        d.get("count").and_then(serde_json::Value::as_u64)
                                    })
                                    .unwrap_or(0);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let _ = done.send(lost);
    })
}

/// The event every throughput run fires: a small job-return-like event.
fn bench_event() -> Vec<u8> {
    wire::encode_fired(
        "bench/e",
        serde_json::json!({"id": "m1", "return": true})
            .as_object()
            .cloned()
            .unwrap(),
        brine::clock::stamp(SystemTime::now()),
        1 << 20,
    )
    .unwrap()
}

fn fire_many(socket: &std::path::Path, n: u64) {
    let ev = bench_event();
    let f = wire::frame(kind::FIRE, &ev);
    let batch: Vec<u8> = f.iter().copied().cycle().take(f.len() * 256).collect();
    let mut s = UnixStream::connect(socket).unwrap();
    let mut left = n;
    while left >= 256 {
        s.write_all(&batch).unwrap();
        left -= 256;
    }
    for _ in 0..left {
        s.write_all(&f).unwrap();
    }
}

/// Latency at a paced rate: each event carries its send time; the listener measures.
fn latency() {
    let m = Master::start();
    let rate = 10_000u64;
    let n = 30_000u64;
    let mut l = BusClient::connect(&m.socket).unwrap();
    l.subscribe(MatchType::StartsWith, "lat/").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let base = Instant::now();
    let sock = m.socket.clone();
    let sender = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&sock).unwrap();
        let gap = Duration::from_nanos(1_000_000_000 / rate);
        for i in 0..n {
            // Sleep (not spin) until due: on two cores a spinning sender would steal the
            // master's CPU and measure the scheduler, not the bus.
            let due = base + gap * i as u32;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let ns = base.elapsed().as_nanos() as u64;
            let data = serde_json::json!({"t": ns}).as_object().cloned().unwrap();
            let ev = wire::encode_fired(
                "lat/e",
                data,
                brine::clock::stamp(SystemTime::now()),
                1 << 20,
            )
            .unwrap();
            s.write_all(&wire::frame(kind::FIRE, &ev)).unwrap();
        }
    });
    let mut lat = Vec::with_capacity(n as usize);
    let mut stream = l.into_stream();
    let mut r = FrameReader::new(1 << 20);
    let mut buf_events = 0;
    while buf_events < n {
        if r.read_from(&mut stream).unwrap_or(0) == 0 {
            break;
        }
        let now = base.elapsed().as_nanos() as u64;
        while let Some(Next::Frame(_, p)) = r.next_frame() {
            let ev = wire::Event::decode(wire::split_seq(p).unwrap().1, 1 << 20).unwrap();
            #[derive(serde::Deserialize)]
            struct T {
                t: u64,
            }
            let t: T = ev.data().unwrap();
            lat.push(now.saturating_sub(t.t));
            buf_events += 1;
        }
    }
    sender.join().unwrap();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    println!(
        "bus latency at {rate} events/s over {} events: p50 {:.1} us, p99 {:.1} us, max {:.1} us",
        lat.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    drop(stream);
}

/// The events/s one listener of `listeners` gets through the master's bus: `n` events.
fn bus_rate(m: &Master, listeners: usize, n: u64) -> (f64, u64) {
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..listeners)
        .map(|_| listener(&m.socket, n, tx.clone()))
        .collect();
    let t0 = Instant::now();
    fire_many(&m.socket, n);
    let lost: u64 = (0..listeners)
        .map(|_| rx.recv_timeout(Duration::from_secs(300)).expect("settled"))
        .sum();
    let el = t0.elapsed().as_secs_f64();
    for t in threads {
        let _ = t.join();
    }
    (n as f64 / el, lost)
}

/// The bus's frames for `n` events, as a relay would forward them.
fn frames(n: u64) -> Vec<u8> {
    let ev = bench_event();
    let mut f = Vec::new();
    wire::put_seq_event(&mut f, 0, &ev);
    f.iter()
        .copied()
        .cycle()
        .take(f.len() * n as usize)
        .collect()
}

/// The machine's limit for the same work: a bare relay thread reads the same frames from
/// one Unix socket and writes each chunk to every listener's socket; listeners count frames
/// as the bus's do. Returns events/s per listener.
fn relay_rate(listeners: usize, n: u64, python: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.sock");
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut children = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..listeners {
        if python {
            children.push(python_listener(&path, n));
        } else {
            let p = path.clone();
            let tx = tx.clone();
            threads.push(std::thread::spawn(move || {
                let mut s = UnixStream::connect(&p).unwrap();
                let mut r = FrameReader::new(1 << 20);
                let mut got = 0u64;
                while got < n {
                    if r.read_from(&mut s).unwrap_or(0) == 0 {
                        break;
                    }
                    while let Some(Next::Frame(_, _)) = r.next_frame() {
                        got += 1;
                    }
                }
                let _ = tx.send(got);
            }));
        }
    }
    let mut outs: Vec<UnixStream> = (0..listeners).map(|_| l.accept().unwrap().0).collect();
    if python {
        // The Python listener sends its subscription first: the relay ignores it.
        for o in outs.iter_mut() {
            o.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = o.read(&mut [0u8; 256]);
        }
    }
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let data = frames(n);
    let t0 = Instant::now();
    let producer = std::thread::spawn(move || a.write_all(&data).unwrap());
    let relay = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let k = match b.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => k,
            };
            for o in outs.iter_mut() {
                if o.write_all(&buf[..k]).is_err() {
                    return;
                }
            }
        }
    });
    producer.join().unwrap();
    if python {
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
        }
    } else {
        for _ in 0..listeners {
            rx.recv_timeout(Duration::from_secs(300)).unwrap();
        }
    }
    let el = t0.elapsed().as_secs_f64();
    let _ = relay.join();
    for t in threads {
        let _ = t.join();
    }
    n as f64 / el
}

/// The plain-Python listener of tests/servers, waiting for `n` events on `socket`.
fn python_listener(socket: &std::path::Path, n: u64) -> Child {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/bus_listener.py");
    let mut c = Command::new("python3")
        .arg(script)
        .arg(socket)
        .arg("bench/")
        .arg(n.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 11];
    c.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    c
}

/// Events/s one Python listener gets through the bus, and the events it lost.
fn bus_python_rate(m: &Master, n: u64) -> (f64, String) {
    let c = python_listener(&m.socket, n);
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    fire_many(&m.socket, n);
    let out = c.wait_with_output().unwrap();
    let el = t0.elapsed().as_secs_f64();
    (
        n as f64 / el,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// The bus beside the bare relay, in one run: 1, 10 and 100 Rust listeners and a Python one.
fn versus_relay() {
    let m = Master::start();
    // The first events after start fault in the ring's pages (up to event_ring_size): run
    // once cold, then measure with the ring filled, as a master that has run a while is.
    let (cold, _) = bus_rate(&m, 1, 2_000_000);
    println!("bus, cold ring (first 2,000,000 events after start), 1 listener: {cold:.0} events/s");
    for (listeners, n) in [(1usize, 2_000_000u64), (10, 500_000), (100, 50_000)] {
        let relay = relay_rate(listeners, n, false);
        let (bus, lost) = bus_rate(&m, listeners, n);
        println!(
            "bus vs relay: {listeners} listener(s), {n} events each: bus {bus:.0} events/s per listener, relay {relay:.0}: {:.2} of the relay, {lost} lost",
            bus / relay
        );
    }
    let n = 500_000;
    let relay = relay_rate(1, n, true);
    let (bus, report) = bus_python_rate(&m, n);
    println!(
        "bus vs relay: 1 Python listener, {n} events: bus {bus:.0} events/s, relay {relay:.0}: {:.2} of the relay; listener: {report}",
        bus / relay
    );
    // Memory for many listeners: cursors, not buffers. A thousand listeners that never
    // read while 200,000 events pass: each holds its place in the ring.
    let rss = |m: &Master| {
        std::fs::read_to_string(format!("/proc/{}/status", m.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let before = rss(&m);
    let stuck: Vec<BusClient> = (0..1000)
        .map(|_| {
            let mut c = BusClient::connect(&m.socket).unwrap();
            c.subscribe(MatchType::StartsWith, "bench/").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let with = rss(&m);
    fire_many(&m.socket, 200_000);
    std::thread::sleep(Duration::from_millis(500));
    let after = rss(&m);
    println!(
        "1,000 listeners that never read, 200,000 events: master VmRSS {before} KiB before they connected, {with} KiB connected, {after} KiB after the events"
    );
    drop(stuck);
    println!(
        "master VmHWM after the runs: {} KiB",
        std::fs::read_to_string(format!("/proc/{}/status", m.child.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_default()
    );
}

fn main() {
    versus_relay();
    latency();
}
