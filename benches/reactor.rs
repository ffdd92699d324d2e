//! Reactor figures. Prints:
//! - the cost of matching one event's tag against 10, 1,000 and 10,000 rules (criterion,
//!   ns per event; the rules are realistic shapes: exact tags, `prefix/*`, `*/suffix`,
//!   `salt/minion/*/start`-like, and a few with wildcards in the middle);
//! - end-to-end reaction latency on a real master with one minion: from an event fired
//!   with the `event.send` runner until the `salt/job/<jid>/new` of its `local` reaction
//!   arrives on the bus (p50/p99 over 500 events, ms), and the same from the start of a
//!   `brine-run event.send` process (p50/p99 over 100 runs, ms).
//!
//! `cargo bench --bench reactor`

mod common;

use brine::bus::Request;
use brine::client::{self, BusClient};
use brine::matcher::MatchType;
use brine::reactor::RuleSet;
use common::{free_port, Kill};
use criterion::{black_box, Criterion};
use serde_json::{json, Map};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rules(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 5 {
            0 => format!("myco/app{i}/deploy/done"),
            1 => format!("myco/team{i}/*"),
            2 => format!("*/alert{i}"),
            3 => format!("salt/minion/web{i}*/start"),
            _ => format!("myco/*/x{i}/*"),
        })
        .collect()
}

fn tags() -> Vec<String> {
    vec![
        "salt/job/20261122041446961775/ret/web17".into(),
        "myco/team3/build/ok".into(),
        "salt/minion/web2003/start".into(),
        "myco/app5000/deploy/done".into(),
        "monitoring/disk/alert7".into(),
        "myco/eu/x9/y".into(),
        "salt/auth".into(),
        "nothing/matches/this/tag".into(),
    ]
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn latency() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("r.sls"),
        "run_it:\n  local.test.ping:\n    - tgt: bench1\n",
    )
    .unwrap();
    let (pp, rp) = (free_port(), free_port());
    std::fs::create_dir_all(d.join("mconf")).unwrap();
    std::fs::write(
        d.join("mconf/master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\nsock_dir: {p}/mrun\ncachedir: {p}/mcache\npki_dir: {p}/mpki\nlog_file: {p}/mlog\nlog_level: warning\nauto_accept: True\nreactor:\n  - 'bench/*':\n    - {p}/r.sls\n",
            p = d.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("nconf")).unwrap();
    std::fs::write(
        d.join("nconf/minion"),
        format!(
            "id: bench1\nmaster: 127.0.0.1\nmaster_port: {rp}\npublish_port: {pp}\nsock_dir: {p}/nrun\ncachedir: {p}/ncache\npki_dir: {p}/npki\nlog_file: {p}/nlog\nlog_level: warning\nacceptance_wait_time: 1\n",
            p = d.display()
        ),
    )
    .unwrap();
    let _master = Kill(
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
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut watch = BusClient::connect(&sock).unwrap();
    watch.subscribe(MatchType::StartsWith, "salt/").unwrap();
    let _minion = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-minion"))
            .arg("-c")
            .arg(d.join("nconf"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    loop {
        let ev = watch.next_event(Some(Duration::from_secs(30))).unwrap();
        if ev.tag == "salt/minion/bench1/start" {
            break;
        }
    }
    let mut bus = BusClient::connect(&sock).unwrap();
    let wait_new = |watch: &mut BusClient| loop {
        let ev = watch.next_event(Some(Duration::from_secs(10))).unwrap();
        if ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/new") {
            return;
        }
    };
    // event.send of `tag` with data {n: i}, the reactor's trigger.
    let send = |tag: String, i: i32| Request {
        fun: "event.send".into(),
        arg: vec![json!(tag), json!({ "n": i })],
        kwarg: Map::new(),
        user: Some("bench".into()),
        send_return: false,
    };
    let mut v = Vec::new();
    for i in 0..500 {
        let req = send(format!("bench/{i}"), i);
        let t0 = Instant::now();
        bus.call(&req, Some(Duration::from_secs(10))).unwrap();
        wait_new(&mut watch);
        v.push(t0.elapsed().as_secs_f64() * 1e3);
        // Let the job's return pass before the next event, as spaced events would.
        std::thread::sleep(Duration::from_millis(2));
    }
    println!(
        "reaction latency, event.send on the bus -> salt/job/<jid>/new of its local reaction: p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut v, 0.5),
        pct(&mut v, 0.99)
    );
    // End to end: the event, the reaction's job on the minion, and its return event back
    // on the master's bus.
    // The reaction's own job: its salt/job/<jid>/new names the jid whose return counts
    // (returns of the jobs above may still be on their way).
    let wait_ret = |watch: &mut BusClient| {
        let jid = loop {
            let ev = watch.next_event(Some(Duration::from_secs(10))).unwrap();
            if ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/new") {
                break ev.tag["salt/job/".len()..ev.tag.len() - "/new".len()].to_string();
            }
        };
        let want = format!("salt/job/{jid}/ret/bench1");
        loop {
            let ev = watch.next_event(Some(Duration::from_secs(10))).unwrap();
            if ev.tag == want {
                return;
            }
        }
    };
    std::thread::sleep(Duration::from_millis(200));
    while watch.next_event(Some(Duration::from_millis(100))).is_ok() {}
    let mut v = Vec::new();
    for i in 0..1000 {
        let req = send(format!("bench/e{i}"), i);
        let t0 = Instant::now();
        bus.call(&req, Some(Duration::from_secs(10))).unwrap();
        wait_ret(&mut watch);
        v.push(t0.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(5));
    }
    let max = v.iter().cloned().fold(0.0, f64::max);
    println!(
        "end to end, event.send -> reaction -> local job on the minion -> salt/job/<jid>/ret/<minion> on the master bus: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} events)",
        pct(&mut v, 0.5),
        pct(&mut v, 0.9),
        pct(&mut v, 0.99),
        max,
        v.len()
    );
    let mut v = Vec::new();
    for i in 0..100 {
        let t0 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_brine-run"))
            .arg("-c")
            .arg(d.join("mconf"))
            .args(["event.send", &format!("bench/p{i}")])
            .output()
            .unwrap();
        assert!(out.status.success());
        wait_new(&mut watch);
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "reaction latency, brine-run event.send process start -> salt/job/<jid>/new: p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut v, 0.5),
        pct(&mut v, 0.99)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let tags = tags();
    for n in [10, 1_000, 10_000] {
        let set = RuleSet::new(rules(n));
        let mut out = Vec::new();
        let mut i = 0;
        c.bench_function(&format!("reactor match, {n} rules (per event)"), |b| {
            b.iter(|| {
                i = (i + 1) % tags.len();
                set.matches(black_box(&tags[i]), &mut out);
                black_box(out.len())
            })
        });
    }
    c.final_summary();
    latency();
}
