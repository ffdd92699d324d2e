//! Fleet figures with real daemons on loopback. Prints:
//! - brine-minion idle RSS (KiB): VmRSS sampled every second from 3 s to 15 s after it
//!   authenticated (so across two heartbeats; min/max/last), and again after it served the
//!   200 `test.ping` jobs and idled 8 s,
//! - time for N brine-swarm minions to authenticate against one master (ms, from the
//!   swarm's start until the master fired N `salt/auth` accept events),
//! - master RSS with N minions connected (KiB),
//! - `test.ping` round trip to 1 minion (p50/p99 over 200 jobs, ms), and to 100 and N
//!   swarm minions (time until every minion returned, p50/p99 over 20 jobs, ms).
//!
//! `cargo bench --bench fleet` (N = 1000; `BRINE_FLEET=N` to change it).

mod common;

use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use common::{free_port, status_kib, Kill};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Publishes `test.ping` to `tgt` and waits until `n` minions returned; the elapsed time.
fn ping(bus: &mut BusClient, tgt: &str, tgt_type: &str, n: usize) -> Duration {
    let mut kw = serde_json::Map::new();
    kw.insert("tgt".into(), serde_json::json!(tgt));
    kw.insert("tgt_type".into(), serde_json::json!(tgt_type));
    kw.insert("fun".into(), serde_json::json!("test.ping"));
    kw.insert("arg".into(), serde_json::json!([]));
    let req = brine::bus::Request {
        fun: "publish".into(),
        arg: Vec::new(),
        kwarg: kw,
        user: Some("bench".into()),
        send_return: false,
    };
    let t0 = Instant::now();
    let a = bus
        .call(&req, Some(Duration::from_secs(30)))
        .expect("publish");
    let jid = a.jid.expect("a jid");
    let prefix = format!("salt/job/{jid}/ret/");
    let mut got = 0;
    while got < n {
        let ev = bus
            .next_event(Some(Duration::from_secs(60)))
            .expect("returns");
        if ev.tag.starts_with(&prefix) {
            got += 1;
        }
    }
    t0.elapsed()
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::var("BRINE_FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let (pp, rp) = (free_port(), free_port());
    let mconf = dir.path().join("master");
    std::fs::create_dir_all(&mconf).unwrap();
    std::fs::write(
        mconf.join("master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\nauto_accept: True\npki_dir: {}\nsock_dir: {}\nlog_level: warning\n",
            dir.path().join("mpki").display(),
            dir.path().join("mrun").display()
        ),
    )
    .unwrap();
    let master = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(&mconf)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sock = client::master_socket(&dir.path().join("mrun"));
    let end = Instant::now() + Duration::from_secs(10);
    let mut bus = loop {
        if let Ok(b) = BusClient::connect(&sock) {
            break b;
        }
        assert!(Instant::now() < end, "master did not start");
        std::thread::sleep(Duration::from_millis(10));
    };
    bus.subscribe(MatchType::StartsWith, "salt/auth").unwrap();
    std::thread::sleep(Duration::from_millis(100));

    // One real minion: idle RSS.
    let nconf = dir.path().join("minion");
    std::fs::create_dir_all(&nconf).unwrap();
    let minion_cfg = |extra: &str| {
        format!(
            "master: 127.0.0.1\nmaster_port: {rp}\npublish_port: {pp}\nlog_level: warning\nacceptance_wait_time: 1\n{extra}\n"
        )
    };
    std::fs::write(
        nconf.join("minion"),
        minion_cfg(&format!(
            "id: idle1\npki_dir: {}\nsock_dir: {}",
            dir.path().join("npki").display(),
            dir.path().join("nrun").display()
        )),
    )
    .unwrap();
    let minion = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-minion"))
            .arg("-c")
            .arg(&nconf)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ev = bus
        .next_event(Some(Duration::from_secs(20)))
        .expect("the minion authenticated");
    assert_eq!(ev.data["id"], "idle1");
    std::thread::sleep(Duration::from_secs(2));
    // Heartbeats every 5 s fault code back in: sample a window that spans two of them.
    let samples: Vec<u64> = (0..13)
        .map(|_| {
            std::thread::sleep(Duration::from_secs(1));
            status_kib(minion.0.id(), "VmRSS")
        })
        .collect();
    let idle_hwm = status_kib(minion.0.id(), "VmHWM");
    println!(
        "brine-minion idle RSS 3-15 s after auth: min {} KiB, max {} KiB, last {} KiB (VmHWM {idle_hwm} KiB)",
        samples.iter().min().unwrap(),
        samples.iter().max().unwrap(),
        samples.last().unwrap()
    );
    let master_before = status_kib(master.0.id(), "VmRSS");
    let mut jobs = BusClient::connect(&sock).unwrap();
    jobs.subscribe(MatchType::StartsWith, "salt/job/").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut one: Vec<Duration> = (0..200)
        .map(|_| ping(&mut jobs, "idle1", "glob", 1))
        .collect();
    println!(
        "test.ping round trip to 1 minion over 200 jobs: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut one, 0.5),
        pct(&mut one, 0.99)
    );
    std::thread::sleep(Duration::from_secs(8));
    println!(
        "brine-minion RSS after 200 jobs and 8 s idle: {} KiB",
        status_kib(minion.0.id(), "VmRSS")
    );

    // The swarm.
    let sconf = dir.path().join("swarm");
    std::fs::create_dir_all(&sconf).unwrap();
    std::fs::write(
        sconf.join("minion"),
        minion_cfg(&format!("pki_dir: {}", dir.path().join("spki").display())),
    )
    .unwrap();
    // Keys are generated on the first start; make them first so the timing is of auth.
    let mut gen = Command::new(env!("CARGO_BIN_EXE_brine-swarm"))
        .arg("-c")
        .arg(&sconf)
        .args(["--minions", &n.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let last = dir
        .path()
        .join(format!("spki/swarm-{:05}/minion.pub", n - 1));
    while !last.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = gen.kill();
    let _ = gen.wait();
    // Forget the auth events of that first run.
    std::thread::sleep(Duration::from_secs(1));
    while bus.next_event(Some(Duration::from_millis(500))).is_ok() {}
    let t0 = Instant::now();
    let swarm = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-swarm"))
            .arg("-c")
            .arg(&sconf)
            .args(["--minions", &n.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut accepted = HashSet::new();
    while accepted.len() < n {
        let ev = bus
            .next_event(Some(Duration::from_secs(120)))
            .expect("every swarm minion authenticated");
        if ev.data["act"] == "accept" {
            if let Some(id) = ev.data["id"].as_str() {
                if id.starts_with("swarm-") {
                    accepted.insert(id.to_string());
                }
            }
        }
    }
    let took = t0.elapsed();
    println!(
        "{n} swarm minions authenticated in {:.0} ms (including key loading and connecting)",
        took.as_secs_f64() * 1000.0
    );
    std::thread::sleep(Duration::from_secs(3));
    for (label, tgt, count) in [
        ("100", "swarm-000[0-9][0-9]", 100usize.min(n)),
        ("all", "swarm-*", n),
    ] {
        let mut runs: Vec<Duration> = (0..20)
            .map(|_| ping(&mut jobs, tgt, "glob", count))
            .collect();
        println!(
            "test.ping to {count} swarm minions ({label}), until all returned, 20 jobs: p50 {:.1} ms, p99 {:.1} ms",
            pct(&mut runs, 0.5),
            pct(&mut runs, 0.99)
        );
    }
    let with = status_kib(master.0.id(), "VmRSS");
    let hwm = status_kib(master.0.id(), "VmHWM");
    println!(
        "brine-master RSS: {master_before} KiB with 1 minion, {with} KiB with {} minions connected (VmHWM {hwm} KiB)",
        n + 1
    );
    println!(
        "brine-swarm RSS with {n} minions: {} KiB",
        status_kib(swarm.0.id(), "VmRSS")
    );
}
