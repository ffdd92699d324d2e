//! The master bus end to end through a real brine-master socket.
//!
//! Prints: events/s delivered to each listener with 1 and 10 listeners (criterion,
//! elements/s), and latency p50/p99 in microseconds at a paced 10,000 events/s.

use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use brine::wire::{self, kind, FrameReader, Next};
use criterion::{criterion_group, Criterion, Throughput};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

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
                "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\npki_dir: {}\nsock_dir: {}\ncachedir: {}\nlog_level: warning\nevent_listener_buffer: 8388608\n",
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
                let payload = match k {
                    kind::SEQ_EVENT => &payload[8..],
                    kind::EVENT => payload,
                    _ => continue,
                };
                match wire::Event::decode(payload, usize::MAX) {
                    Ok(ev) if ev.tag() == "salt/event/lost" => {
                        lost += ev
                            .value()
                            .ok()
                            .and_then(|d| d.get("count").and_then(serde_json::Value::as_u64))
                            .unwrap_or(0);
                    }
                    _ => got += 1,
                }
            }
        }
        let _ = done.send(lost);
    })
}

fn fire_many(socket: &std::path::Path, n: u64) {
    let ev = wire::encode_fired(
        "bench/e",
        serde_json::json!({"id": "m1", "return": true})
            .as_object()
            .cloned()
            .unwrap(),
        brine::clock::stamp(SystemTime::now()),
        1 << 20,
    )
    .unwrap();
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

fn throughput(c: &mut Criterion) {
    let m = Master::start();
    let mut g = c.benchmark_group("bus");
    g.sample_size(10);
    for listeners in [1usize, 10] {
        g.throughput(Throughput::Elements(1));
        g.bench_function(
            format!("{listeners} listener(s), per-listener delivery (events/s)"),
            |b| {
                b.iter_custom(|iters| {
                    let (tx, rx) = mpsc::channel();
                    let threads: Vec<_> = (0..listeners)
                        .map(|_| listener(&m.socket, iters, tx.clone()))
                        .collect();
                    let t0 = Instant::now();
                    fire_many(&m.socket, iters);
                    let lost: u64 = (0..listeners)
                        .map(|_| rx.recv_timeout(Duration::from_secs(60)).expect("settled"))
                        .sum();
                    if lost > 0 {
                        eprintln!(
                            "{listeners} listener(s): {lost} events lost (told by salt/event/lost)"
                        );
                    }
                    let el = t0.elapsed();
                    for t in threads {
                        let _ = t.join();
                    }
                    el
                })
            },
        );
    }
    g.finish();
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
            let ev = wire::Event::decode(p, 1 << 20).unwrap();
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
    let _ = stream.read(&mut [0u8; 1]);
}

/// Sustained throughput over a fixed, large number of events (criterion's short samples
/// measure start-up as much as delivery with ten listener threads on two cores).
fn sustained() {
    let m = Master::start();
    for (listeners, n) in [(1usize, 2_000_000u64), (10, 500_000)] {
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (0..listeners)
            .map(|_| listener(&m.socket, n, tx.clone()))
            .collect();
        let t0 = Instant::now();
        fire_many(&m.socket, n);
        let lost: u64 = (0..listeners)
            .map(|_| rx.recv_timeout(Duration::from_secs(120)).expect("settled"))
            .sum();
        let el = t0.elapsed().as_secs_f64();
        for t in threads {
            let _ = t.join();
        }
        println!(
            "bus sustained: {listeners} listener(s), {n} events each in {el:.2} s: {:.0} events/s per listener, {lost} lost in all (salt/event/lost)",
            n as f64 / el
        );
    }
}

criterion_group!(benches, throughput);

fn main() {
    benches();
    sustained();
    latency();
    Criterion::default().configure_from_args().final_summary();
}
