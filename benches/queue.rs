//! Queue figures against a real master on this machine's disk. Prints, for the `lmdb` and
//! `sqlite` backends in the same run:
//! - durable inserts per second with 1 and 16 concurrent clients, each waiting for its
//!   answer (which the master sends only after the commit holding the insert);
//! - the same with 16 clients keeping 8 requests in flight each (pipelined);
//! - durable pops per second with 1 and 16 clients;
//! - the wall time of one `brine-run queue.insert` process, end to end (p50/p99 over 100
//!   runs, ms).
//!
//! `cargo bench --bench queue` (`BRINE_QUEUE_OPS=N` sets the operations per figure).

mod common;

use brine::bus::{Answer, Request};
use brine::client::{self, BusClient};
use brine::wire::kind;
use common::Kill;
use serde_json::{json, Map, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn request(fun: &str, arg: Vec<Value>) -> Vec<u8> {
    rmp_serde::to_vec_named(&Request {
        fun: fun.into(),
        arg,
        kwarg: Map::new(),
        user: Some("bench".into()),
        send_return: false,
    })
    .unwrap()
}

/// `clients` connections, each with `window` requests in flight, `per_client` requests
/// each built by `make`; returns operations per second.
fn drive(
    sock: &std::path::Path,
    clients: usize,
    window: usize,
    per_client: usize,
    make: fn(usize, usize) -> Vec<u8>,
) -> f64 {
    let start = std::sync::Barrier::new(clients + 1);
    let t0 = std::thread::scope(|s| {
        for c in 0..clients {
            let start = &start;
            s.spawn(move || {
                let mut bus = BusClient::connect(sock).unwrap();
                start.wait();
                let mut sent = 0;
                let mut done = 0;
                while done < per_client {
                    while sent < per_client && sent - done < window {
                        bus.send_frame(kind::REQUEST, &make(c, sent)).unwrap();
                        sent += 1;
                    }
                    let (k, p) = bus.next_frame(Some(Duration::from_secs(60))).unwrap();
                    if k == kind::ANSWER {
                        let a: Answer = rmp_serde::from_slice(&p).unwrap();
                        assert!(a.success, "{:?}", a.ret);
                        done += 1;
                    }
                }
            });
        }
        start.wait();
        Instant::now()
    });
    (clients * per_client) as f64 / t0.elapsed().as_secs_f64()
}

fn insert_lmdb(c: usize, i: usize) -> Vec<u8> {
    request(
        "queue.insert",
        vec![json!("bench"), json!(format!("c{c}-item-{i}"))],
    )
}
fn insert_sqlite(c: usize, i: usize) -> Vec<u8> {
    request(
        "queue.insert",
        vec![
            json!("bench"),
            json!(format!("c{c}-item-{i}")),
            json!("sqlite"),
        ],
    )
}
fn pop_lmdb(_: usize, _: usize) -> Vec<u8> {
    request("queue.pop", vec![json!("bench")])
}
fn pop_sqlite(_: usize, _: usize) -> Vec<u8> {
    request("queue.pop", vec![json!("bench"), json!(1), json!("sqlite")])
}

fn clear(sock: &std::path::Path, backend: &str) {
    let mut bus = BusClient::connect(sock).unwrap();
    let req = Request {
        fun: "queue.pop".into(),
        arg: vec![json!("bench"), json!("all"), json!(backend)],
        kwarg: Map::new(),
        user: None,
        send_return: false,
    };
    bus.call(&req, Some(Duration::from_secs(120))).unwrap();
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let ops: usize = std::env::var("BRINE_QUEUE_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4800);
    // On the real disk (not tmpfs), so every commit is an fsync that costs what it costs.
    let base = std::env::current_dir().unwrap().join("target");
    let dir = tempfile::tempdir_in(&base).unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let port = |_: u8| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap()
    };
    std::fs::write(
        conf.join("master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\nsock_dir: {d}/run\ncachedir: {d}/cache\npki_dir: {d}/pki\nlog_file: {d}/log\nlog_level: warning\n",
            port(0),
            port(1),
            d = dir.path().display()
        ),
    )
    .unwrap();
    let _master = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let sock = client::master_socket(&dir.path().join("run"));
    let t = Instant::now();
    while BusClient::connect(&sock).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "master did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "queue benchmark: {ops} operations per figure, storage under {}",
        base.display()
    );
    for (backend, insert, pop) in [
        (
            "lmdb",
            insert_lmdb as fn(usize, usize) -> Vec<u8>,
            pop_lmdb as fn(usize, usize) -> Vec<u8>,
        ),
        ("sqlite", insert_sqlite, pop_sqlite),
    ] {
        let r1 = drive(&sock, 1, 1, ops / 4, insert);
        clear(&sock, backend);
        let r16 = drive(&sock, 16, 1, ops / 16, insert);
        clear(&sock, backend);
        let r16w = drive(&sock, 16, 8, ops / 16, insert);
        // The queue now holds `ops` items to pop.
        let p1 = drive(&sock, 1, 1, ops / 4, pop);
        let p16 = drive(&sock, 16, 1, (ops - ops / 4) / 16, pop);
        clear(&sock, backend);
        println!(
            "{backend:>6}: durable inserts/s: 1 client {r1:.0}, 16 clients {r16:.0}, 16 clients x 8 in flight {r16w:.0}; durable pops/s: 1 client {p1:.0}, 16 clients {p16:.0}"
        );
    }
    let mut wall = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_brine-run"))
            .arg("-c")
            .arg(&conf)
            .arg("queue.insert")
            .arg("wall")
            .arg(format!("item{i}"))
            .output()
            .unwrap();
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.stdout, b"True\n");
    }
    println!(
        "brine-run queue.insert wall time: p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut wall, 0.5),
        pct(&mut wall, 0.99)
    );
}
