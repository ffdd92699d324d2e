//! The master event bus end to end: brine-master, brine-event, brine-run and raw clients.

use crate::common::*;
use brine::client::{BusClient, ClientError};
use brine::matcher::MatchType;
use brine::wire::{self, kind};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

const T: Duration = Duration::from_secs(10);

/// A tag the test fires last so it knows everything before it was delivered.
#[test]
fn brine_run_event_send_reaches_brine_event() {
    let m = Master::start();
    let ev = m.event(&["--tag", "myco/*", "--count", "1"]);
    m.wait_subscribed(1);
    let out = m.run(&["event.send", "myco/x", "{a: 1, b: [x, y]}"]);
    assert_eq!(stdout(&out), "True\n", "stderr: {}", stderr(&out));
    assert!(out.status.success());
    let got = output_within(ev, T);
    assert!(got.status.success());
    let line = stdout(&got);
    let (tag, json) = line.trim_end().split_once('\t').expect("tag TAB json");
    assert_eq!(tag, "myco/x");
    // Compact form with Python's separators, keys in the order fired, _stamp last.
    assert!(
        json.starts_with(r#"{"a": 1, "b": ["x", "y"], "_stamp": ""#),
        "{json}"
    );
    let data: Value = serde_json::from_str(json).unwrap();
    let stamp = data["_stamp"].as_str().unwrap();
    assert_eq!(stamp.len(), 26, "YYYY-MM-DDTHH:MM:SS.ffffff: {stamp}");
    assert_eq!(&stamp[10..11], "T");
}

#[test]
fn runner_events_new_and_ret_surround_the_event() {
    let m = Master::start();
    let ev = m.event(&["--count", "3", "--json"]);
    m.wait_subscribed(1);
    let out = m.run(&["event.send", "myco/y", "{k: v}"]);
    assert!(out.status.success());
    let got = stdout(&output_within(ev, T));
    let lines: Vec<Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let new_tag = lines[0]["tag"].as_str().unwrap();
    let jid = new_tag
        .strip_prefix("salt/run/")
        .and_then(|t| t.strip_suffix("/new"))
        .expect("salt/run/<jid>/new");
    assert!(brine::jobs::is_jid(jid) && jid.len() == 20, "{jid}");
    assert_eq!(lines[0]["data"]["fun"], "runner.event.send");
    assert_eq!(lines[0]["data"]["fun_args"], json!(["myco/y", {"k": "v"}]));
    assert_eq!(lines[1]["tag"], "myco/y");
    assert_eq!(lines[1]["data"]["k"], "v");
    assert_eq!(lines[2]["tag"], format!("salt/run/{jid}/ret"));
    assert_eq!(lines[2]["data"]["return"], true);
    assert_eq!(lines[2]["data"]["success"], true);
}

#[test]
fn pretty_prints_sorted_with_four_spaces() {
    let m = Master::start();
    let ev = m.event(&["--tag", "p/t", "--count", "1", "--pretty"]);
    m.wait_subscribed(1);
    assert!(m
        .run(&["event.send", "p/t", "{z: 1, a: [true]}"])
        .status
        .success());
    let text = stdout(&output_within(ev, T));
    let stamp_line = text
        .lines()
        .find(|l| l.contains("_stamp"))
        .unwrap()
        .to_string();
    let expected =
        format!("p/t\t{{\n{stamp_line}\n    \"a\": [\n        true\n    ],\n    \"z\": 1\n}}\n");
    assert_eq!(text, expected);
}

#[test]
fn tag_filter_is_glob_or_anchored_regex() {
    let m = Master::start();
    let glob = m.event(&["--tag", "salt/job/*/ret/*", "--count", "1", "--json"]);
    let regex = m.event(&["--tag", r"salt/job/\d+/new", "--count", "1", "--json"]);
    m.wait_subscribed(2);
    let mut c = m.client();
    for tag in [
        "salt/job/1/ret",
        "salt/job/x/new",
        "salt/job/12/new",
        "salt/job/1/ret/m1",
    ] {
        c.fire(tag, Map::new(), 1 << 20).unwrap();
    }
    let g: Value = serde_json::from_str(stdout(&output_within(glob, T)).trim()).unwrap();
    let r: Value = serde_json::from_str(stdout(&output_within(regex, T)).trim()).unwrap();
    assert_eq!(g["tag"], "salt/job/1/ret/m1");
    assert_eq!(r["tag"], "salt/job/12/new");
}

#[test]
fn every_match_type_on_the_wire() {
    let m = Master::start();
    let cases = [
        (MatchType::StartsWith, "salt/job", vec!["salt/job/1/new"]),
        (MatchType::EndsWith, "/new", vec!["salt/job/1/new", "x/new"]),
        (MatchType::Find, "job/1", vec!["salt/job/1/new"]),
        (MatchType::Regex, r"salt/\w+/\d", vec!["salt/job/1/new"]),
        (MatchType::Fnmatch, "*/new", vec!["salt/job/1/new", "x/new"]),
        (MatchType::Expr, "x/*", vec!["x/new"]),
    ];
    let mut clients: Vec<BusClient> = cases
        .iter()
        .map(|(mt, pat, _)| {
            let mut c = m.client();
            c.subscribe(*mt, pat).unwrap();
            c
        })
        .collect();
    m.wait_subscribed(cases.len());
    let mut f = m.client();
    for tag in ["salt/job/1/new", "x/new", "other/tag"] {
        f.fire(tag, Map::new(), 1 << 20).unwrap();
    }
    for (c, (mt, _, want)) in clients.iter_mut().zip(cases.iter()) {
        let mut got = Vec::new();
        while let Ok(ev) = c.next_event(Some(Duration::from_millis(300))) {
            got.push(ev.tag);
        }
        assert_eq!(&got, want, "{mt:?}");
    }
}

#[test]
fn ten_listeners_each_get_every_event_in_order() {
    let m = Master::start();
    let mut listeners: Vec<BusClient> = (0..10)
        .map(|_| {
            let mut c = m.client();
            c.subscribe(MatchType::StartsWith, "seq/").unwrap();
            c
        })
        .collect();
    m.wait_subscribed(10);
    let n = 5_000;
    let mut f = m.client();
    let firer = std::thread::spawn(move || {
        for i in 0..n {
            f.fire("seq/e", obj(json!({ "i": i })), 1 << 20).unwrap();
        }
    });
    let readers: Vec<_> = listeners
        .drain(..)
        .map(|mut c| {
            std::thread::spawn(move || {
                for want in 0..n {
                    let ev = c.next_event(Some(T)).expect("event");
                    assert_eq!(ev.data["i"], want);
                }
            })
        })
        .collect();
    firer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn a_stalled_listener_loses_events_bounded_and_is_told() {
    // A small ring so the loss shows quickly; 1 GiB of events flows past.
    let m = Master::start_with("event_ring_size: 16777216\nmax_event_size: 1048576");
    let mut stalled = m.client();
    stalled.subscribe(MatchType::StartsWith, "big/").unwrap();
    let mut live = m.client();
    live.subscribe(MatchType::StartsWith, "big/").unwrap();
    m.wait_subscribed(2);
    let payload = "x".repeat(64 * 1024);
    let total: usize = 1 << 30;
    let n = total / payload.len();
    // The firer stays at most `window` events ahead of the live reader (well inside its
    // buffer), so only the stalled listener can overflow.
    let window = 8;
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<usize>();
    let mut f = m.client();
    let data = obj(json!({ "pad": payload }));
    let firer = std::thread::spawn(move || {
        let mut acked = 0;
        for i in 0..n {
            while i >= acked + window {
                acked = ack_rx.recv().expect("reader alive");
            }
            let mut d = data.clone();
            d.insert("i".into(), json!(i));
            f.fire("big/e", d, 1 << 20).unwrap();
        }
    });
    #[derive(serde::Deserialize)]
    struct Seq {
        i: usize,
    }
    let mut seen = 0;
    let mut peak = 0;
    while seen < n {
        let (k, p) = live
            .next_frame(Some(T))
            .expect("the live listener keeps getting events");
        assert_eq!(k, kind::SEQ_EVENT);
        let ev = wire::Event::decode(wire::split_seq(&p).unwrap().1, usize::MAX).unwrap();
        assert_eq!(ev.tag(), "big/e", "the live listener lost nothing");
        let s: Seq = ev.data().unwrap();
        assert_eq!(s.i, seen, "in order");
        seen += 1;
        let _ = ack_tx.send(seen);
        if seen % 1024 == 0 {
            peak = peak.max(m.status_kib("VmRSS"));
        }
    }
    firer.join().unwrap();
    peak = peak.max(m.status_kib("VmHWM"));
    // Bound: the 16 MiB ring (one copy of each event however many listen) plus socket
    // buffers, read buffers and the binary itself.
    eprintln!("1 GiB past a stuck listener with a 16 MiB ring: master RSS peaked at {peak} KiB");
    assert!(peak < (16 + 40) * 1024, "master RSS peaked at {peak} KiB");
    // The stalled listener now reads: first what its socket held, then the loss notice,
    // then the events from where it resumes.
    let mut got = 0u64;
    let mut lost = 0u64;
    let mut resume = None;
    let mut last = 0;
    while let Ok(ev) = stalled.next_event(Some(Duration::from_secs(2))) {
        if ev.tag == brine::bus::LOST_TAG {
            lost += ev.data["count"].as_u64().expect("count");
            resume = ev.data["next_seq"].as_u64();
        } else {
            let seq = ev.seq.expect("a bus event has its sequence number");
            if let Some(r) = resume.take() {
                assert_eq!(seq, r, "the next event is the one the notice announced");
            } else {
                assert_eq!(seq, last + 1, "no gap without a notice");
            }
            last = seq;
            got += 1;
        }
    }
    assert!(lost > 0, "a salt/event/lost notice arrived");
    assert_eq!(
        got + lost,
        n as u64,
        "every event was either delivered or counted lost"
    );
    assert!(
        m.log().contains("is not reading"),
        "the master logged the loss"
    );
}

#[test]
fn bad_frames_get_clear_errors_and_the_daemon_stays_up() {
    let m = Master::start();
    let mut c = m.client();
    // An event that is not one: no separator.
    c.send_frame(kind::FIRE, b"no separator").unwrap();
    assert!(
        matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("no \"\\n\\n\""))
    );
    // Data that is not a map.
    let mut not_map = b"t\n\n".to_vec();
    not_map.extend(rmp_serde::to_vec(&json!([1, 2])).unwrap());
    c.send_frame(kind::FIRE, &not_map).unwrap();
    assert!(
        matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("not a msgpack map"))
    );
    // Unknown frame kind, unknown request shape, unknown function.
    c.send_frame(b'Q', b"").unwrap();
    assert!(
        matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("unknown frame kind"))
    );
    c.send_frame(kind::REQUEST, b"\x93\x01\x02\x03").unwrap();
    assert!(
        matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("bad request"))
    );
    // An oversize frame is skipped, not buffered, and the connection goes on.
    let big = vec![b'a'; 2 << 20];
    c.send_frame(kind::FIRE, &big).unwrap();
    assert!(
        matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("over max_event_size"))
    );
    let out = m.run(&["foo.bar"]);
    assert_eq!(stdout(&out), "'foo.bar' is not available.\n");
    assert_eq!(out.status.code(), Some(1));
    // A client that dies in the middle of a frame.
    let mut raw = UnixStream::connect(m.socket()).unwrap();
    raw.write_all(&100u32.to_be_bytes()).unwrap();
    raw.write_all(b"Fhalf").unwrap();
    drop(raw);
    // Garbage bytes.
    let mut raw = UnixStream::connect(m.socket()).unwrap();
    raw.write_all(&[0xff; 4096]).unwrap();
    drop(raw);
    // Still serving: a round trip works and the process is alive.
    let mut l = m.client();
    l.subscribe(MatchType::StartsWith, "after/").unwrap();
    m.wait_subscribed(1);
    c.fire("after/all", Map::new(), 1 << 20).unwrap();
    assert_eq!(l.next_event(Some(T)).unwrap().tag, "after/all");
    assert!(m.log().contains("in the middle of a frame"));
}

#[test]
fn sigterm_removes_the_socket_and_exits_zero() {
    let mut m = Master::start();
    assert!(m.socket().exists());
    assert_eq!(m.stop(), Some(0));
    assert!(!m.socket().exists(), "socket file removed");
}

#[test]
fn sighup_reloads_the_configuration() {
    let mut m = Master::start();
    let mut c = m.client();
    let data = obj(json!({"pad": "x".repeat(4000)}));
    let ev = wire::encode_fired(
        "hup/t",
        data,
        brine::clock::stamp(std::time::SystemTime::now()),
        1 << 20,
    )
    .unwrap();
    m.set_extra("max_event_size: 2048");
    m.signal(libc::SIGHUP);
    wait_for("the reload", T, || {
        m.log().contains("configuration reloaded").then_some(())
    });
    c.send_frame(kind::FIRE, &ev).unwrap();
    assert!(matches!(c.next_event(Some(T)), Err(ClientError::Refused(e)) if e.contains("2048")));
    // A broken config on reload keeps the old one and the daemon up.
    std::fs::write(m.conf().join("master"), "max_event_size: [unclosed\n").unwrap();
    m.signal(libc::SIGHUP);
    wait_for("the failed reload", T, || {
        m.log().contains("reload failed").then_some(())
    });
    assert!(
        m.log().contains(":1:"),
        "the failure names the line: {}",
        m.log()
    );
    let mut l = m.client();
    l.subscribe(MatchType::StartsWith, "still/").unwrap();
    m.wait_subscribed(1);
    c.fire("still/up", Map::new(), 1 << 20).unwrap();
    assert_eq!(l.next_event(Some(T)).unwrap().tag, "still/up");
}

#[test]
fn brine_event_without_a_daemon_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("master"),
        format!("sock_dir: {}\n", dir.path().join("run").display()),
    )
    .unwrap();
    let out = std::process::Command::new(bin("brine-event"))
        .arg("-c")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let sock = brine::client::master_socket(&dir.path().join("run"));
    assert_eq!(
        stderr(&out),
        format!(
            "brine-event: no event bus at {} (is brine-master running?)\n",
            sock.display()
        )
    );
    let out = std::process::Command::new(bin("brine-run"))
        .arg("-c")
        .arg(dir.path())
        .args(["event.send", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is brine-master running?"));
}

#[test]
fn brine_event_reconnects_when_the_master_restarts() {
    let mut m = Master::start();
    let ev = m.event(&["--tag", "re/*", "--count", "2"]);
    m.wait_subscribed(1);
    assert!(m.run(&["event.send", "re/one"]).status.success());
    assert_eq!(m.stop(), Some(0));
    m.spawn();
    // The watcher reconnects within its backoff and subscribes again.
    m.wait_subscribed(2);
    assert!(m.run(&["event.send", "re/two"]).status.success());
    let out = output_within(ev, T);
    let text = stdout(&out);
    let tags: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(tags, ["re/one", "re/two"]);
}

#[test]
fn runner_arguments_and_outputters() {
    let m = Master::start();
    let json_out = m.run(&["--out=json", "event.send", "o/t"]);
    assert_eq!(stdout(&json_out), "true\n");
    let yaml_out = m.run(&["--out", "yaml", "event.send", "o/t"]);
    assert_eq!(stdout(&yaml_out), "true\n");
    let quiet = m.run(&["--out", "quiet", "event.send", "o/t"]);
    assert_eq!(stdout(&quiet), "");
    let bad = m.run(&["event.send"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("missing 1 required positional argument: 'tag'"));
    let kw = m.run(&["event.send", "tag=o/kw", "data={a: 1}"]);
    assert!(kw.status.success(), "{}", stdout(&kw));
    let not_map = m.run(&["event.send", "o/t", "5"]);
    assert_eq!(not_map.status.code(), Some(1));
    assert!(stdout(&not_map).contains("Dict object expected"));
    let unknown_flag = m.run(&["--nope", "event.send", "o/t"]);
    assert_eq!(unknown_flag.status.code(), Some(2));
    assert_eq!(
        stderr(&unknown_flag),
        "brine-run: unknown option '--nope' (see brine-run --help)\n"
    );
}

#[test]
fn state_event_runner_prints_like_salt() {
    let m = Master::start();
    let child = std::process::Command::new(bin("brine-run"))
        .arg("-c")
        .arg(m.conf())
        .args(["state.event", "se/*", "count=2"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    m.wait_subscribed(1);
    assert!(m.run(&["event.send", "se/a", "{n: 1}"]).status.success());
    assert!(m.run(&["event.send", "se/b"]).status.success());
    let text = stdout(&output_within(child, T));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("se/a\t{\"n\": 1, \"_stamp\": "));
    assert!(lines[1].starts_with("se/b\t{\"_stamp\": "));
    assert_eq!(lines[2], "True");
}
