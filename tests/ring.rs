//! The bus as a ring: every event stored once with a sequence number, listeners as
//! cursors, nothing lost within the bound, and subscriptions that start in the past.

use crate::common::*;
use brine::bus::Since;
use brine::matcher::MatchType;
use brine::wire::{self, kind};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

const T: Duration = Duration::from_secs(30);

/// Fires `n` events tagged `tag` as fast as one raw client can write them.
pub fn fire_burst(socket: &Path, tag: &str, n: u64) {
    let data = serde_json::json!({"id": "m1", "return": true});
    let ev = wire::encode_fired(
        tag,
        data.as_object().cloned().unwrap_or_default(),
        brine::clock::stamp(SystemTime::now()),
        1 << 20,
    )
    .expect("encode");
    let f = wire::frame(kind::FIRE, &ev);
    let batch: Vec<u8> = f.iter().copied().cycle().take(f.len() * 256).collect();
    let mut s = UnixStream::connect(socket).expect("connect");
    let mut left = n;
    while left >= 256 {
        s.write_all(&batch).expect("fire");
        left -= 256;
    }
    for _ in 0..left {
        s.write_all(&f).expect("fire");
    }
}

/// The Python listener of tests/servers, subscribed to `prefix`, waiting for `count`.
fn python_listener(socket: &Path, prefix: &str, count: u64, extra: &[&str]) -> std::process::Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/bus_listener.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(socket)
        .arg(prefix)
        .arg(count.to_string())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = child.stdout.as_mut().expect("stdout");
    let mut r = BufReader::new(out);
    r.read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "subscribed");
    child
}

fn python_result(child: std::process::Child) -> Value {
    let out = output_within(child, Duration::from_secs(120));
    let text = stdout(&out);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_python_listener_gets_a_200k_event_burst_whole_with_the_defaults() {
    let m = Master::start();
    let n = 200_000u64;
    // The default receive buffer and a reader that pauses now and then, as a busy
    // consumer does.
    let py = python_listener(
        &m.socket(),
        "burst/",
        n,
        &["--sleep-every", "20000", "--sleep", "0.2"],
    );
    m.wait_subscribed(1);
    fire_burst(&m.socket(), "burst/e", n);
    let r = python_result(py);
    assert_eq!(r["events"], n, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["gaps"], 0, "{r}");
    assert_eq!(
        r["last"].as_u64().unwrap() - r["first"].as_u64().unwrap(),
        n - 1
    );
}

#[test]
fn ten_listeners_of_different_speeds_each_get_every_event_in_order() {
    let m = Master::start();
    let n = 100_000u64;
    let mut readers = Vec::new();
    for i in 0..10u64 {
        let mut c = m.client();
        c.subscribe(MatchType::StartsWith, "speed/").unwrap();
        readers.push(std::thread::spawn(move || {
            let mut last = 0;
            for k in 0..n {
                let ev = c.next_event(Some(T)).expect("event");
                assert_ne!(ev.tag, brine::bus::LOST_TAG, "listener {i} lost events");
                let seq = ev.seq.expect("seq");
                assert!(k == 0 || seq == last + 1, "listener {i}: {last} then {seq}");
                last = seq;
                // Listener i pauses i ms every 5,000 events: ten different speeds.
                if k % 5000 == 0 {
                    std::thread::sleep(Duration::from_millis(i * 20));
                }
            }
            last
        }));
    }
    m.wait_subscribed(10);
    fire_burst(&m.socket(), "speed/e", n);
    let lasts: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(lasts.windows(2).all(|w| w[0] == w[1]), "{lasts:?}");
}

#[test]
fn brine_event_since_replays_from_the_ring_with_sequence_numbers_then_follows() {
    let m = Master::start();
    let mut c = m.client();
    // Learn where the ring is: a listener from now sees the next number.
    c.subscribe(MatchType::StartsWith, "mark/").unwrap();
    m.wait_subscribed(1);
    for i in 0..5 {
        let out = m.run(&["event.send", &format!("mark/{i}"), "{n: 1}"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let seqs: Vec<u64> = (0..5)
        .map(|_| c.next_event(Some(T)).unwrap().seq.unwrap())
        .collect();
    // From the third event on, only mark/ tags: mark/2, mark/3, mark/4, then one live.
    let since = seqs[2].to_string();
    let ev = m.event(&[
        "--tag", "mark/*", "--since", &since, "--json", "--count", "4",
    ]);
    m.wait_subscribed(2);
    let out = m.run(&["event.send", "mark/live", "{n: 2}"]);
    assert!(out.status.success());
    let got = stdout(&output_within(ev, T));
    let lines: Vec<Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tags: Vec<&str> = lines.iter().map(|l| l["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["mark/2", "mark/3", "mark/4", "mark/live"]);
    assert_eq!(lines[0]["seq"], seqs[2]);
    assert_eq!(lines[2]["seq"], seqs[4]);
    assert!(lines[3]["seq"].as_u64().unwrap() > seqs[4]);
    // The data keeps Salt's shape: the sequence number is beside it, not in it.
    assert!(lines[0]["data"].get("seq").is_none());
    assert_eq!(lines[0]["data"]["n"], 1);
    // By time: a moment before the first mark gives all five and the live one.
    let ev = m.event(&[
        "--tag",
        "mark/*",
        "--since",
        "2000-01-01T00:00:00Z",
        "--json",
        "--count",
        "6",
    ]);
    let got = stdout(&output_within(ev, T));
    assert_eq!(got.lines().count(), 6, "{got}");
    // A bad --since is a usage error that names the value.
    let out = Command::new(bin("brine-event"))
        .arg("-c")
        .arg(m.conf())
        .args(["--since", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'yesterday' is not an ISO 8601 time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_minion_bus_numbers_its_events_and_replays_by_sequence() {
    let m = Master::start_with("auto_accept: True\n");
    let mi = Minion::start(&m, "m1", "");
    mi.wait_log("authenticated with the master", 1);
    let sock = brine::client::minion_socket(&mi.sock_dir());
    for i in 0..3 {
        let out = mi.call(&["event.fire", &format!("{{n: {i}}}"), "mine/x"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mut c = brine::client::BusClient::connect(&sock).unwrap();
    c.subscribe_since(MatchType::StartsWith, "mine/", Some(Since::Seq(1)))
        .unwrap();
    let got: Vec<(u64, i64)> = (0..3)
        .map(|_| {
            let ev = c.next_event(Some(T)).unwrap();
            (ev.seq.unwrap(), ev.data["n"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
}
