//! Orchestration on the master, measured on real daemons and, where Salt 3007.15 is
//! installed (/work/saltvenv, or $SALT_PYTHON), side by side with it on the same workload
//! (`benches/salt_orch.py` runs Salt's side):
//!
//! - an event on the bus to the first minion job of the orchestration the reactor starts
//!   for it (`runner.state.orchestrate` → `salt.state` → `salt/job/<jid>/new`), p50/p99;
//! - the wall time of `brine-run state.orchestrate` whose `salt.state` step runs on every
//!   minion of a brine-swarm (100 by default; also on as many as Salt ran);
//! - the master's answer time for `event.send` while ten orchestrations wait, against idle.
//!
//! `cargo bench --bench orchestrate` (`BRINE_ORCH_MINIONS=N`, `BRINE_ORCH_SALT=K` minions
//! for Salt's side, 0 to skip it).

mod common;

use brine::bus::Request;
use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use common::{free_port, status_kib, Kill};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A master with the orchestration files and the reactor rule, and `n` swarm minions.
struct Fleet {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    sock: PathBuf,
    master: Kill,
    _swarm: Kill,
}

fn fleet(n: usize) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (pp, rp) = (free_port(), free_port());
    let roots = d.join("roots");
    write(
        &roots.join("noop.sls"),
        "noop:\n  test.succeed_without_changes: []\n",
    );
    // Swarm minions have no local bus for a state run to reach the master's file server
    // through, so they read the same roots locally (file_client: local); the master's side,
    // which is what this measures, is the same.
    write(
        &roots.join("orch/bench.sls"),
        "deploy:\n  salt.state:\n    - tgt: swarm-00000\n    - sls: noop\n",
    );
    write(
        &roots.join("orch/wide.sls"),
        "deploy:\n  salt.state:\n    - tgt: 'swarm-*'\n    - sls: noop\n",
    );
    write(
        &roots.join("orch/wait.sls"),
        "ready:\n  salt.wait_for_event:\n    - name: bench/never/{{ pillar['n'] }}\n    - id_list: [x]\n    - timeout: 600\n",
    );
    write(
        &d.join("react.sls"),
        "run:\n  runner.state.orchestrate:\n    - args:\n      - mods: orch.bench\n",
    );
    let conf = d.join("master");
    write(
        &conf.join("master"),
        &format!(
            "interface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\nauto_accept: True\npki_dir: {}\nsock_dir: {}\ncachedir: {}\nlog_level: warning\nfile_roots:\n  base: [{}]\nreactor:\n  - 'bench/go':\n    - {}\n",
            d.join("mpki").display(),
            d.join("mrun").display(),
            d.join("mcache").display(),
            roots.display(),
            d.join("react.sls").display()
        ),
    );
    let master = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(&conf)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sock = client::master_socket(&d.join("mrun"));
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
    let sconf = d.join("swarm");
    write(
        &sconf.join("minion"),
        &format!(
            "master: 127.0.0.1\nmaster_port: {rp}\npublish_port: {pp}\nlog_level: warning\nacceptance_wait_time: 1\npki_dir: {}\ncachedir: {}\nfile_client: local\nfile_roots:\n  base: [{}]\n",
            d.join("spki").display(),
            d.join("scache").display(),
            roots.display()
        ),
    );
    let swarm = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-swarm"))
            .arg("-c")
            .arg(&sconf)
            .args(["--minions", &n.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut accepted = std::collections::HashSet::new();
    while accepted.len() < n {
        let ev = bus
            .next_event(Some(Duration::from_secs(120)))
            .expect("every swarm minion authenticated");
        if ev.data["act"] == "accept" {
            if let Some(id) = ev.data["id"].as_str() {
                accepted.insert(id.to_string());
            }
        }
    }
    // Let every minion fetch its pillar before the first state run.
    std::thread::sleep(Duration::from_secs(3));
    Fleet {
        _dir: dir,
        conf,
        sock,
        master,
        _swarm: swarm,
    }
}

/// Reactor event to the orchestration's first job, `rounds` times.
fn reactor_latency(f: &Fleet, rounds: usize) -> Vec<Duration> {
    let mut watch = BusClient::connect(&f.sock).unwrap();
    watch.subscribe(MatchType::StartsWith, "salt/").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut fire = BusClient::connect(&f.sock).unwrap();
    (0..rounds)
        .map(|i| {
            let mut data = Map::new();
            data.insert("n".into(), json!(i));
            let t0 = Instant::now();
            fire.fire("bench/go", data, 1 << 20).unwrap();
            let mut first = None;
            loop {
                let ev = watch
                    .next_event(Some(Duration::from_secs(60)))
                    .expect("the orchestration's events");
                if first.is_none()
                    && ev.tag.starts_with("salt/job/")
                    && ev.tag.ends_with("/new")
                    && ev.data["fun"] == "state.sls"
                {
                    first = Some(t0.elapsed());
                }
                if ev.tag.starts_with("salt/run/")
                    && ev.tag.ends_with("/ret")
                    && ev.data["fun"] == "runner.state.orchestrate"
                {
                    break;
                }
            }
            first.expect("the orchestration published its job")
        })
        .collect()
}

/// `brine-run state.orchestrate orch.wide`, timed as a whole command.
fn wide(f: &Fleet, n: usize) -> Duration {
    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_brine-run"))
        .arg("-c")
        .arg(&f.conf)
        .args(["--out", "json", "state.orchestrate", "orch.wide"])
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let step =
        &v["data"].as_object().unwrap().values().next().unwrap()["salt_|-deploy_|-deploy_|-state"];
    assert_eq!(step["result"], true, "{step}");
    assert_eq!(
        step["comment"].as_str().unwrap().matches("swarm-").count(),
        n
    );
    took
}

/// `event.send` round trips.
fn answers(f: &Fleet, n: usize) -> Vec<Duration> {
    let mut bus = BusClient::connect(&f.sock).unwrap();
    (0..n)
        .map(|_| {
            let mut kw = Map::new();
            kw.insert("tag".into(), json!("bench/probe"));
            let req = Request {
                fun: "event.send".into(),
                arg: Vec::new(),
                kwarg: kw,
                user: Some("bench".into()),
                send_return: false,
            };
            let t0 = Instant::now();
            let a = bus.call(&req, Some(Duration::from_secs(10))).unwrap();
            assert!(a.success);
            t0.elapsed()
        })
        .collect()
}

fn median(v: &mut [Duration]) -> f64 {
    pct(v, 0.5) / 1000.0
}

fn salt_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SALT_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("/work/saltvenv/bin/python");
    p.exists().then_some(p)
}

fn main() {
    let n: usize = std::env::var("BRINE_ORCH_MINIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let salt_k: usize = std::env::var("BRINE_ORCH_SALT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let salt: Option<Value> = match (salt_python(), salt_k) {
        (Some(py), k) if k > 0 => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/salt_orch.py");
            eprintln!("running Salt 3007.15's side with {k} minions ...");
            let o = Command::new(py)
                .arg(script)
                .args([
                    "--minions",
                    &k.to_string(),
                    "--rounds",
                    "30",
                    "--wide-rounds",
                    "5",
                ])
                .stderr(Stdio::inherit())
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            out.lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
        }
        _ => None,
    };
    if salt.is_none() {
        println!("Salt's side skipped (no /work/saltvenv or $SALT_PYTHON, or BRINE_ORCH_SALT=0)");
    }

    // Salt's fleet size first, for the ratios.
    if let Some(s) = &salt {
        let k = s["minions"].as_u64().unwrap_or(10) as usize;
        let f = fleet(k);
        let mut lat = reactor_latency(&f, 30);
        let mut walls: Vec<Duration> = (0..5).map(|_| wide(&f, k)).collect();
        let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
        let wall = median(&mut walls);
        let sp50 = s["reactor_to_first_job_ms"]["p50"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let sp99 = s["reactor_to_first_job_ms"]["p99"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let swall = s["wide_orchestration_s"]["median"]
            .as_f64()
            .unwrap_or(f64::NAN);
        println!(
            "reactor event to the orchestration's first job, {k} minions, 30 rounds: brine p50 {p50:.2} ms p99 {p99:.2} ms; Salt 3007.15 p50 {sp50:.1} ms p99 {sp99:.1} ms; {:.0}x at p50",
            sp50 / p50
        );
        println!(
            "state.orchestrate with salt.state on all {k} minions, median of 5 whole brine-run/salt-run commands: brine {wall:.3} s; Salt 3007.15 {swall:.3} s; {:.1}x",
            swall / wall
        );
        println!(
            "master RSS after the runs: brine {} KiB; Salt 3007.15 (all master processes) {} KiB",
            status_kib(f.master.0.id(), "VmRSS"),
            s["master_rss_kib"]
        );
    }

    let f = fleet(n);
    let mut lat = reactor_latency(&f, 50);
    println!(
        "reactor event to the orchestration's first job, {n} swarm minions, 50 rounds: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
    let mut walls: Vec<Duration> = (0..5).map(|_| wide(&f, n)).collect();
    println!(
        "state.orchestrate with salt.state on all {n} swarm minions, 5 whole brine-run commands: median {:.3} s, min {:.3} s",
        median(&mut walls),
        walls.iter().min().unwrap().as_secs_f64()
    );
    let mut idle = answers(&f, 500);
    // Ten orchestrations waiting on the bus at once.
    let waiting: Vec<Kill> = (0..10)
        .map(|i| {
            Kill(
                Command::new(env!("CARGO_BIN_EXE_brine-run"))
                    .arg("-c")
                    .arg(&f.conf)
                    .args([
                        "state.orchestrate",
                        "orch.wait",
                        &format!("pillar={{n: {i}}}"),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let mut busy = answers(&f, 500);
    println!(
        "event.send answered by the master, 500 calls: idle p50 {:.3} ms p99 {:.3} ms; with 10 orchestrations waiting p50 {:.3} ms p99 {:.3} ms",
        pct(&mut idle, 0.5),
        pct(&mut idle, 0.99),
        pct(&mut busy, 0.5),
        pct(&mut busy, 0.99)
    );
    println!(
        "brine-master RSS with 10 orchestrations waiting: {} KiB",
        status_kib(f.master.0.id(), "VmRSS")
    );
    drop(waiting);
}
