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

/// The event log's directory of a master started by the harness (cachedir/events).
fn log_dir(m: &Master) -> std::path::PathBuf {
    let dir = m.dir.path().join("cache/events");
    assert!(dir.is_dir(), "no event log at {}", dir.display());
    dir
}

/// Every event from `since` on that a fresh listener gets, until `quiet` passes with none.
fn replay_all(m: &Master, prefix: &str, since: u64) -> Vec<(u64, String)> {
    let mut c = m.client();
    c.subscribe_since(MatchType::StartsWith, prefix, Some(Since::Seq(since)))
        .unwrap();
    let mut out = Vec::new();
    while let Ok(ev) = c.next_event(Some(Duration::from_secs(3))) {
        assert_ne!(ev.tag, brine::bus::LOST_TAG, "nothing lost: {:?}", ev.data);
        out.push((ev.seq.expect("seq"), ev.tag));
    }
    out
}

fn assert_contiguous(seqs: &[u64]) {
    for w in seqs.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "a gap or a duplicate: {} then {}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn with_the_event_log_a_killed_master_replays_everything_it_sent_and_numbers_go_on() {
    let mut m = Master::start_with("event_log: True\n");
    let mut live = m.client();
    live.subscribe(MatchType::StartsWith, "crash/").unwrap();
    m.wait_subscribed(1);
    let sock = m.socket();
    let firer = std::thread::spawn(move || {
        // Fires until the master dies under it.
        let f = std::panic::catch_unwind(|| fire_burst(&sock, "crash/e", 2_000_000));
        drop(f);
    });
    // Let part of the burst through, note the last event the live listener saw, kill.
    let mut seen = 0u64;
    while seen < 100_000 {
        let ev = live.next_event(Some(T)).expect("live event");
        seen = ev.seq.expect("seq");
    }
    m.signal(libc::SIGKILL);
    let _ = m.wait_exit(Duration::from_secs(10));
    let _ = firer.join();
    m.spawn();
    assert!(m.log().contains("next sequence number"), "{}", m.log());
    let got = replay_all(&m, "crash/", 1);
    let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(seqs.first(), Some(&1));
    assert_contiguous(&seqs);
    // With event_log_sync: commit, an event reaches a listener only after its commit.
    let last = *seqs.last().unwrap();
    assert!(
        last >= seen,
        "the log kept {last} events, a listener had seen {seen}"
    );
    // Numbers go on after the restart: the next event follows the last one kept.
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "after/").unwrap();
    m.wait_subscribed(3);
    let out = m.run(&["event.send", "after/x", "{}"]);
    assert!(out.status.success());
    let ev = c.next_event(Some(T)).unwrap();
    assert!(ev.seq.unwrap() > last, "{} after {last}", ev.seq.unwrap());
    // And across a clean restart too.
    m.stop();
    m.spawn();
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "again/").unwrap();
    m.wait_subscribed(4);
    let before = ev.seq.unwrap();
    let out = m.run(&["event.send", "again/x", "{}"]);
    assert!(out.status.success());
    let ev = c.next_event(Some(T)).unwrap();
    assert!(ev.seq.unwrap() > before);
}

#[test]
fn a_torn_final_record_is_cut_and_damaged_segments_are_refused_by_name() {
    let mut m = Master::start_with("event_log: True\n");
    for i in 0..10 {
        let out = m.run(&["event.send", &format!("torn/{i}"), "{}"]);
        assert!(out.status.success());
    }
    m.stop();
    let dir = log_dir(&m);
    let mut segs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    let last = segs.last().unwrap().clone();
    let good_len = std::fs::metadata(&last).unwrap().len();
    // Half a record: what a crash in the middle of a write leaves.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    drop(f);
    m.spawn();
    m.wait_log("torn tail", 1);
    assert_eq!(
        std::fs::metadata(&last).unwrap().len(),
        good_len,
        "cut at the last good record"
    );
    let tags: Vec<String> = replay_all(&m, "torn/", 1)
        .into_iter()
        .map(|g| g.1)
        .collect();
    assert_eq!(tags.len(), 10, "{tags:?}");
    // The sequence number the log goes on at: one past the newest event.
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "mark/").unwrap();
    m.wait_subscribed(2);
    assert!(m.run(&["event.send", "mark/x", "{}"]).status.success());
    let next = c.next_event(Some(T)).unwrap().seq.unwrap() + 2;
    m.stop();
    // A newest segment of garbage is refused at start, with one line naming the file.
    let seg = |n: u64| dir.join(format!("{n:020}.log"));
    let bad = seg(next);
    let start_refused = || {
        let out = Command::new(bin("brine-master"))
            .arg("-c")
            .arg(m.conf())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        stderr(&out)
    };
    std::fs::write(&bad, b"this is not an event log segment at all").unwrap();
    let err = start_refused();
    eprintln!("garbage: {}", err.lines().last().unwrap_or_default());
    let line = err.lines().last().unwrap_or_default();
    assert!(line.contains(&bad.display().to_string()), "{err}");
    assert!(!m.socket().exists(), "no socket left behind");
    assert!(line.contains("not an event log segment"), "{line}");
    // A truncated segment (shorter than its header) that is not the newest: refused too
    // (the newest may be short after a crash while it was created, and is repaired).
    let mut header = b"BRINELOG".to_vec();
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&(next + 1).to_le_bytes());
    std::fs::write(seg(next + 1), &header).unwrap();
    std::fs::write(&bad, b"BRINE").unwrap();
    let err = start_refused();
    eprintln!("truncated: {}", err.lines().last().unwrap_or_default());
    assert!(err.contains(&bad.display().to_string()), "{err}");
}

#[test]
fn with_the_log_on_a_listener_that_falls_off_the_ring_continues_from_disk_without_loss() {
    let m = Master::start_with("event_log: True\nevent_ring_size: 65536\n");
    let mut stalled = m.client();
    stalled.subscribe(MatchType::StartsWith, "deep/").unwrap();
    m.wait_subscribed(1);
    let n = 50_000u64;
    // 50,000 events of ~100 bytes: far more than the 64 KiB ring.
    fire_burst(&m.socket(), "deep/e", n);
    fire_burst(&m.socket(), "deep/end", 1);
    let mut seqs = Vec::new();
    loop {
        let ev = stalled.next_event(Some(T)).expect("event");
        assert_ne!(ev.tag, brine::bus::LOST_TAG, "nothing lost: {:?}", ev.data);
        seqs.push(ev.seq.unwrap());
        if ev.tag == "deep/end" {
            break;
        }
    }
    assert_eq!(seqs.len() as u64, n + 1);
    assert_contiguous(&seqs);
    assert!(
        m.log().contains("goes on from the event log"),
        "{}",
        m.log()
    );
}
