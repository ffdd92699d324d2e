//! Regression suite from the outside (issue 11): hostile local clients, hostile ZeroMQ
//! peers, hostile reactor files and broken configurations against real daemons. Each test
//! asserts that the daemon stays up, answers within a bound and keeps its memory under a
//! stated bound.

use crate::common::*;
use brine::client::{BusClient, ClientError};
use brine::matcher::MatchType;
use brine::wire::{self, kind};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024;

/// The master answers a runner call, and how long that took.
fn answers(m: &Master) -> Duration {
    let t = Instant::now();
    let out = m.run(&["event.send", "hostile/ping"]);
    assert!(out.status.success(), "{}", stderr(&out));
    t.elapsed()
}

/// A call for the master's socket.
fn request(fun: &str, kwarg: Map<String, Value>) -> brine::bus::Request {
    brine::bus::Request {
        fun: fun.into(),
        arg: vec![],
        kwarg,
        user: None,
        send_return: false,
    }
}

/// A job publication, as `brine TGT FUN ARG...` asks for it.
fn publish(tgt: &str, fun: &str, arg: Value) -> brine::bus::Request {
    request("publish", map(json!({"tgt": tgt, "fun": fun, "arg": arg})))
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[test]
fn a_runaway_reactor_template_costs_one_error_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let sls = dir.path().join("double.sls");
    // The template: a string doubled 40 times (a terabyte).
    std::fs::write(
        &sls,
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\nx:\n  runner.event.send:\n    - args:\n      - tag: never/{{ ns.s|length }}\n",
    )
    .unwrap();
    let ok = dir.path().join("ok.sls");
    std::fs::write(
        &ok,
        "x:\n  runner.event.send:\n    - args:\n      - tag: hostile/reacted\n",
    )
    .unwrap();
    let m = Master::start_with(&format!(
        "reactor:\n  - 'hostile/bomb': [{}]\n  - 'hostile/fine': [{}]\nreactor_render_memory: 256\n",
        sls.display(),
        ok.display()
    ));
    let rss_before = m.status_kib("RssAnon");
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/reactor/error")
        .unwrap();
    let mut ok_events = m.client();
    ok_events
        .subscribe(MatchType::StartsWith, "hostile/reacted")
        .unwrap();
    m.wait_subscribed(2);
    let t = Instant::now();
    m.run(&["event.send", "hostile/bomb"]);
    // The master keeps answering while the renderer struggles.
    assert!(answers(&m) < Duration::from_secs(2));
    let err = c
        .next_event(Some(Duration::from_secs(20)))
        .expect("salt/reactor/error");
    assert_eq!(err.tag, "salt/reactor/error");
    assert_eq!(err.data["tag"], "hostile/bomb");
    let text = err.data["error"].as_str().unwrap();
    assert!(text.contains("renderer"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    // The next event renders in a fresh renderer, and the master's memory did not move.
    m.run(&["event.send", "hostile/fine"]);
    let ev = ok_events
        .next_event(Some(Duration::from_secs(10)))
        .expect("the next reaction");
    assert_eq!(ev.tag, "hostile/reacted");
    let rss_after = m.status_kib("RssAnon");
    eprintln!(
        "runaway template: salt/reactor/error after {:?}; master RssAnon {rss_before} -> {rss_after} KiB",
        t.elapsed()
    );
    assert!(
        rss_after < rss_before + 32 * MIB,
        "master RSS {rss_before} KiB -> {rss_after} KiB"
    );
}

#[test]
fn many_subscriptions_are_refused_past_the_limit_and_memory_comes_back() {
    let m = Master::start_with("event_listener_max_subscriptions: 64\n");
    let rss_before = m.status_kib("RssAnon");
    let mut stream = UnixStream::connect(m.socket()).unwrap();
    let mut frames = Vec::new();
    // Duplicates and distinct regexes, 100,000 in all.
    for i in 0..100_000u32 {
        let pattern = format!("hostile/{}[a-z]+(x|y)*", i % 50_000);
        let sub = brine::bus::subscribe_payload(MatchType::Regex, &pattern);
        wire::put_frame(&mut frames, kind::SUBSCRIBE, &sub);
    }
    // The daemon answers refusals as we write: read them in a thread so neither side stalls.
    let mut reader = stream.try_clone().unwrap();
    let counter = std::thread::spawn(move || {
        let mut r = wire::FrameReader::new(1 << 20);
        let mut errors = 0u64;
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        while let Ok(n) = r.read_from(&mut reader) {
            if n == 0 {
                break;
            }
            while let Some(wire::Next::Frame(k, p)) = r.next_frame() {
                if k == kind::ERROR {
                    assert!(
                        String::from_utf8_lossy(p).contains("event_listener_max_subscriptions"),
                        "{}",
                        String::from_utf8_lossy(p)
                    );
                    errors += 1;
                }
            }
        }
        errors
    });
    let _ = stream.write_all(&frames);
    // Events still reach another listener at once.
    let mut l = m.client();
    l.subscribe(MatchType::StartsWith, "hostile/").unwrap();
    let t = Instant::now();
    m.run(&["event.send", "hostile/after"]);
    let ev = l.next_event(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ev.tag, "hostile/after");
    assert!(t.elapsed() < Duration::from_secs(2));
    let during = m.status_kib("RssAnon");
    drop(stream);
    let errors = counter.join().unwrap();
    assert!(errors > 0, "refusals past the limit");
    assert!(
        during < rss_before + 64 * MIB,
        "RSS {rss_before} KiB -> {during} KiB with 100,000 subscriptions sent"
    );
    assert!(answers(&m) < Duration::from_secs(2));
    let after = m.status_kib("RssAnon");
    eprintln!("100,000 subscriptions: RssAnon {rss_before} -> {during} (while) -> {after} KiB (after), {errors} refusals");
    assert!(
        after < rss_before + 32 * MIB,
        "after the client left: {after} KiB"
    );
}

#[test]
fn partial_frames_are_bounded_and_cut_off_after_the_timeout() {
    let m = Master::start();
    let rss_before = m.status_kib("RssAnon");
    // 150 clients each hold a frame cut 10 bytes short of 1 MiB: 150 MiB if kept.
    let mut held = Vec::new();
    let size: u32 = 1 << 20;
    let mut body = Vec::with_capacity(size as usize);
    body.extend_from_slice(&size.to_be_bytes());
    body.push(kind::FIRE);
    body.resize(size as usize + 4 - 10, b'x');
    for _ in 0..150 {
        let mut s = UnixStream::connect(m.socket()).unwrap();
        // The master may cut this one off while it writes (it is over the total).
        let _ = s.write_all(&body);
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(answers(&m) < Duration::from_secs(2));
    let during = m.status_kib("RssAnon");
    eprintln!("150 partial frames of 1 MiB: RssAnon {rss_before} -> {during} KiB");
    assert!(
        during < rss_before + 120 * MIB,
        "RSS {rss_before} KiB -> {during} KiB while 150 MiB of partial frames were sent"
    );
    // Past the timeout every one of them is cut off, with one log line and a count.
    for s in &held {
        s.set_nonblocking(true).unwrap();
    }
    wait_for("cut-off clients", Duration::from_secs(20), || {
        held.iter_mut()
            .all(|s| matches!(s.read(&mut [0u8; 16]), Ok(0)))
            .then_some(())
    });
    let log = m.log();
    let lines = log.lines().filter(|l| l.contains("cut off")).count();
    assert!((1..=4).contains(&lines), "{lines} cut-off lines");
    assert!(answers(&m) < Duration::from_secs(2));
}

#[test]
fn stuck_subscribers_on_the_publish_port_cost_bounded_memory() {
    // The bus ring keeps recent events (each job's salt/job/new carries the 16 KiB
    // argument): a small one, so what is measured is ZeroMQ's queues for stuck peers.
    let m = Master::start_with("auto_accept: True\nevent_ring_size: 4194304\n");
    // An accepted minion that is gone: jobs to it are published and nothing runs them.
    let mut mi = Minion::start(&m, "m1", "");
    mi.wait_log("authenticated with the master", 1);
    mi.stop();
    let ctx = zmq::Context::new();
    let mut stuck = Vec::new();
    for _ in 0..4 {
        let s = ctx.socket(zmq::SUB).unwrap();
        s.set_rcvhwm(1).unwrap();
        s.set_rcvbuf(4096).unwrap();
        s.connect(&format!("tcp://127.0.0.1:{}", m.publish_port))
            .unwrap();
        s.set_subscribe(b"").unwrap();
        stuck.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = m.status_kib("RssAnon");
    // 6,000 publications of 16 KiB: 94 MiB per stuck peer if the master kept them all
    // (HOSTILE_PUBS=20000 is the measurement).
    let count: usize = std::env::var("HOSTILE_PUBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6000);
    let mut c = m.client();
    let pad = "p".repeat(16 * 1024);
    for i in 0..count {
        let req = publish("m1", "test.arg", json!([pad, i]));
        assert!(c.call(&req, Some(Duration::from_secs(10))).unwrap().success);
    }
    let after = m.status_kib("RssAnon");
    eprintln!("master RssAnon {rss_before} KiB -> {after} KiB after {count} publications of 16 KiB with four stuck subscribers");
    // ZeroMQ shares one copy of a publication among its peers: what they hold is at most
    // pub_hwm (1000) publications of ~17 KiB, the 4 MiB ring and the master's own working
    // memory.
    assert!(
        after < rss_before + 48 * MIB,
        "RSS {rss_before} KiB -> {after} KiB with four stuck subscribers"
    );
    assert!(answers(&m) < Duration::from_secs(2));
    drop(stuck);
}

#[test]
fn a_flood_of_malformed_frames_is_one_log_line_and_a_count() {
    let m = Master::start();
    let mut s = UnixStream::connect(m.socket()).unwrap();
    let mut frames = Vec::new();
    for _ in 0..20_000 {
        wire::put_frame(&mut frames, kind::FIRE, b"garbage without a separator");
    }
    let mut reader = s.try_clone().unwrap();
    let sink = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        reader.set_read_timeout(Some(Duration::from_secs(3))).ok();
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    let _ = s.write_all(&frames);
    drop(s);
    sink.join().unwrap();
    assert!(answers(&m) < Duration::from_secs(2));
    let n = m
        .log()
        .lines()
        .filter(|l| l.contains("dropped event"))
        .count();
    assert!(n <= 3, "{n} log lines for 20,000 malformed frames");
}

#[test]
fn events_listeners_cannot_read_are_refused_at_fire_and_skipped() {
    let m = Master::start();
    let mut watcher = m.event(&[]);
    m.wait_subscribed(1);
    let mut c = m.client();
    // Invalid UTF-8 in the data, and data nested 100 levels.
    let mut bad_utf8 = b"hostile/bad\n\n".to_vec();
    bad_utf8.extend_from_slice(&[0x81, 0xa1, b'k', 0xa2, 0xff, 0xfe]);
    let mut deep = b"hostile/deep\n\n".to_vec();
    deep.extend_from_slice(&[0x81, 0xa1, b'k']);
    deep.extend(std::iter::repeat_n(0x91, 100));
    deep.push(0xc0);
    for bad in [&bad_utf8, &deep] {
        c.send_frame(kind::FIRE, bad).unwrap();
        match c.next_event(Some(Duration::from_secs(5))) {
            Err(ClientError::Refused(why)) => assert!(
                why.contains("listeners cannot read") || why.contains("deeper"),
                "{why}"
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    // A runner cannot smuggle deep data in either.
    let deep_json = format!("{}1{}", "{a: ".repeat(100), "}".repeat(100));
    let out = m.run(&["event.send", "hostile/deep2", &deep_json]);
    assert!(!out.status.success(), "{}", stdout(&out));
    // The watcher lost nothing that followed.
    for i in 0..1000 {
        c.fire("hostile/good", map(json!({"i": i})), 1 << 20)
            .unwrap();
    }
    c.fire("hostile/end", Map::new(), 1 << 20).unwrap();
    let out = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut good = 0;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        assert!(!line.starts_with("hostile/bad") && !line.starts_with("hostile/deep"));
        if line.starts_with("hostile/good") {
            good += 1;
        }
        if line.starts_with("hostile/end") {
            break;
        }
    }
    assert_eq!(good, 1000);
    let _ = watcher.kill();
    let _ = watcher.wait();
}

#[test]
fn a_detached_master_reports_start_up_failures_and_leaves_nothing() {
    let mut m = Master::start();
    let conf = m.conf();
    let sock = m.socket();
    m.stop();
    assert!(!sock.exists());
    let out = Command::new(bin("brine-master"))
        .arg("-c")
        .arg(&conf)
        .args(["-d", "--pid-file", "/etc/hostname/x.pid"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("brine-master: pid file") && err.contains("/etc/hostname/x.pid"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!sock.exists(), "the socket file was left behind");
    // A good start returns only when the daemon is ready: its socket answers at once.
    let pid_file = conf.parent().unwrap().join("m.pid");
    let out = Command::new(bin("brine-master"))
        .arg("-c")
        .arg(&conf)
        .arg("-d")
        .arg("--pid-file")
        .arg(&pid_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(BusClient::connect(&sock).is_ok(), "ready means serving");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("the daemon to stop", Duration::from_secs(10), || {
        (!sock.exists()).then_some(())
    });
}

#[test]
fn configuration_of_the_wrong_type_is_an_error_naming_the_key() {
    let cases = [
        ("reactor: 5\n", "reactor", "a list of rules"),
        ("schedule: [a, b]\n", "schedule", "a map"),
        ("nodegroups: \"web*\"\n", "nodegroups", "a map"),
        ("interface: not-an-ip\n", "interface", "an IP address"),
    ];
    for (yaml, key, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("master"),
            format!("log_level: info\n{yaml}"),
        )
        .unwrap();
        let out = Command::new(bin("brine-master"))
            .arg("-c")
            .arg(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{yaml}");
        let err = stderr(&out);
        assert!(
            err.contains("master:2:") && err.contains(key) && err.contains(want),
            "{yaml}: {err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("minion"), "id: m1\ngrains: [a]\n").unwrap();
    let out = Command::new(bin("brine-minion"))
        .arg("-c")
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("minion:2:") && err.contains("grains") && err.contains("a map"),
        "{err}"
    );
}

#[test]
fn a_reload_that_cannot_be_read_keeps_the_running_config() {
    let dir = tempfile::tempdir().unwrap();
    let sls = dir.path().join("r.sls");
    std::fs::write(&sls, "x:\n  runner.manage.up: []\n").unwrap();
    let rules = format!("reactor:\n  - 'hostile/*': [{}]\n", sls.display());
    let mut m = Master::start_with(&rules);
    // Through the socket: brine-run would need the configuration file this test removes.
    let list = |m: &Master| {
        let req = request("reactor.list", Map::new());
        m.client()
            .call(&req, Some(Duration::from_secs(5)))
            .unwrap()
            .ret
            .to_string()
    };
    assert!(list(&m).contains("hostile/*"));
    m.set_extra(&format!("{rules}schedule: [a, b]\n"));
    m.signal(libc::SIGHUP);
    m.wait_log("keeping the old configuration", 1);
    assert!(list(&m).contains("hostile/*"));
    std::fs::remove_file(m.conf().join("master")).unwrap();
    m.signal(libc::SIGHUP);
    m.wait_log("keeping the old configuration", 2);
    assert!(m.log().contains("is gone"), "{}", m.log());
    assert!(list(&m).contains("hostile/*"), "the rules stay");
}

#[test]
fn a_runner_reaction_that_fires_its_own_tag_stops() {
    let dir = tempfile::tempdir().unwrap();
    let sls = dir.path().join("loop.sls");
    std::fs::write(
        &sls,
        "again:\n  runner.event.send:\n    - args:\n      - tag: hostile/loop\n",
    )
    .unwrap();
    let m = Master::start_with(&format!(
        "reactor:\n  - 'hostile/loop': [{}]\n",
        sls.display()
    ));
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "hostile/loop").unwrap();
    m.wait_subscribed(1);
    m.run(&["event.send", "hostile/loop"]);
    let mut n = 0;
    while c.next_event(Some(Duration::from_secs(2))).is_ok() {
        n += 1;
        assert!(n < 100, "the loop did not stop");
    }
    // The first event, then one per link of the chain.
    assert_eq!(n, 9, "{n} events");
    assert!(m.log().contains("chain of 8 reactions"));
    assert!(answers(&m) < Duration::from_secs(2));
}

#[test]
fn jobs_that_never_return_are_forgotten() {
    let m = Master::start_with(
        "auto_accept: True\nkeep_jobs_seconds: 1\nloop_interval: 1\ntimeout: 1\n",
    );
    let mut mi = Minion::start(&m, "gone", "");
    mi.wait_log("authenticated with the master", 1);
    mi.stop();
    let mut c = m.client();
    for _ in 0..200 {
        let req = publish("gone", "test.ping", json!([]));
        assert!(c.call(&req, Some(Duration::from_secs(5))).unwrap().success);
    }
    let active = |m: &Master| stdout(&m.run(&["jobs.active", "--out", "json"]));
    assert!(active(&m).contains("test.ping"));
    wait_for("active jobs forgotten", Duration::from_secs(15), || {
        (active(&m).trim() == "{}").then_some(())
    });
}

#[test]
fn a_minion_id_of_255_bytes_gets_an_answer() {
    let m = Master::start();
    let id = "i".repeat(255);
    let mi = Minion::start(&m, &id, "");
    wait_for("the pending key", Duration::from_secs(15), || {
        m.pki().join("minions_pre").join(&id).exists().then_some(())
    });
    mi.wait_log("pending", 1);
}

#[test]
fn sqlite_reserved_queue_names_are_refused_before_any_file() {
    let m = Master::start();
    let out = m.run(&["queue.insert", "sqlite_master", "x", "backend=sqlite"]);
    assert!(stdout(&out).contains("reserved"), "{}", stdout(&out));
    let dir = m.dir.path().join("cache/queues");
    assert!(!dir.join("sqlite_master.db").exists());
    let out = m.run(&["queue.list_queues", "backend=sqlite", "--out", "json"]);
    assert!(!stdout(&out).contains("sqlite_master"), "{}", stdout(&out));
    // A real queue: private file in a private directory.
    let out = m.run(&["queue.insert", "q1", "secret", "backend=sqlite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("q1.db")), 0o600);
}

#[test]
fn wide_permissions_are_warned_about_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let mut m = Master::start();
    let cache = m.dir.path().join("cache");
    m.stop();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    m.spawn();
    m.wait_log("is open to other users", 1);
    assert!(m.log().contains(&format!("chmod 700 {}", cache.display())));
}

#[test]
fn a_user_the_socket_refuses_is_told_the_path_and_what_to_do() {
    let m = Master::start();
    // Runs brine-run as nobody when this test runs as root (CI does); else skips.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    // nobody may read the configuration, as on a real machine; the socket stays 0660.
    use std::os::unix::fs::PermissionsExt;
    for d in [m.dir.path().to_path_buf(), m.sock_dir()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin("brine-run"))
        .arg("-c")
        .arg(m.conf())
        .arg("test.arg")
        .stdin(Stdio::null())
        .output();
    let Ok(out) = out else {
        eprintln!("skipped: no setpriv");
        return;
    };
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&m.socket().display().to_string()) && err.contains("permission denied"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_minion_cannot_fire_a_tag_that_globs_read_as_another_minions() {
    let m = Master::start_with("auto_accept: True\n");
    let mi = Minion::start(&m, "m1", "");
    mi.wait_log("authenticated with the master", 1);
    // The globs reactors use for another minion's namespace.
    let mut foreign = m.client();
    for g in [
        "salt/job/*/ret/other",
        "salt/minion/other/*",
        "salt/minion/*/start",
    ] {
        foreign.subscribe(MatchType::Fnmatch, g).unwrap();
    }
    let mut own = m.client();
    own.subscribe(MatchType::Fnmatch, "salt/job/*/prog/m1/*")
        .unwrap();
    m.wait_subscribed(4);
    for bad in [
        "salt/job/20260101000000000000/prog/m1/ret/other",
        "salt/minion/m1/../other/start",
        "salt/minion/m1//start",
        "salt/job/20260101000000000000/prog/m1/x/ret/other",
    ] {
        let out = mi.call(&["event.fire_master", "{}", bad]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = mi.call(&[
        "event.fire_master",
        "{}",
        "salt/job/20260101000000000000/prog/m1/0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The good one arrives after the refused ones were handled: none reached the globs.
    let ev = own.next_event(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ev.tag, "salt/job/20260101000000000000/prog/m1/0");
    match foreign.next_event(Some(Duration::from_millis(300))) {
        Err(ClientError::Timeout) => {}
        other => panic!("a foreign glob got {other:?}"),
    }
    m.wait_log("it names another minion or the master", 1);
}

#[test]
fn garbage_on_the_request_port_leaves_the_master_up_and_its_log_short() {
    let m = Master::start();
    let ctx = zmq::Context::new();
    let s = ctx.socket(zmq::DEALER).unwrap();
    s.connect(&format!("tcp://127.0.0.1:{}", m.ret_port))
        .unwrap();
    for i in 0..20_000u32 {
        s.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    // Multi-part messages and a big one too.
    s.send_multipart([&b"a"[..], b"b", b"c"], 0).unwrap();
    s.send(vec![0xc1u8; 2 << 20], 0).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(answers(&m) < Duration::from_secs(2));
    let log = m.log();
    let n = log.lines().filter(|l| l.contains("request port")).count();
    assert!(n <= 6, "{n} log lines for 20,000 bad requests");
}

#[test]
fn a_full_disk_under_the_store_is_named_as_such() {
    // The master's cachedir on a small file system of its own.
    let mut m = Master::start();
    m.stop();
    let mnt = m.dir.path().join("cache");
    std::fs::remove_dir_all(&mnt).unwrap();
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.clone());
    m.spawn();
    // Fill the file system, then insert until a commit fails.
    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    let big = "x".repeat(100 * 1024);
    let mut said = String::new();
    for i in 0..200 {
        let out = m.run(&["queue.insert", "q", &format!("{i}{big}")]);
        said = format!("{}{}", stdout(&out), stderr(&out));
        if !out.status.success() || said.contains("full") || said.contains("rror") {
            break;
        }
    }
    assert!(said.contains("is full"), "{said}");
    assert!(m.log().contains("is full"), "{}", m.log());
    // The daemon is still up and answers once there is room again.
    std::fs::remove_file(&filler).unwrap();
    assert!(answers(&m) < Duration::from_secs(2));
    let out = m.run(&["queue.insert", "q", "small"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_runaway_template_in_a_minions_reactor_leaves_the_minion_answering() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.sls");
    std::fs::write(
        &bomb,
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\nx:\n  caller.test.ping: []\n",
    )
    .unwrap();
    let m = Master::start_with("auto_accept: True\n");
    let mi = Minion::start(
        &m,
        "r1",
        &format!(
            "reactor_render_memory: 256\nreactor:\n  - 'hostile/bomb':\n    - {}\n",
            bomb.display()
        ),
    );
    mi.wait_log("authenticated with the master", 1);
    let rss_before = proc_status_kib(mi.pid(), "RssAnon");
    let t = Instant::now();
    let o = mi.call(&["event.fire", "{}", "hostile/bomb"]);
    assert!(o.status.success(), "{}", stderr(&o));
    mi.wait_log("Unable to render reactions for event hostile/bomb", 1);
    assert!(mi.log().contains("renderer"), "{}", mi.log());
    assert!(t.elapsed() < Duration::from_secs(15));
    // The minion still answers, and its own memory did not move.
    let o = mi.call(&["test.ping"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rss_after = proc_status_kib(mi.pid(), "RssAnon");
    assert!(
        rss_after < rss_before + 16 * MIB,
        "{rss_before} -> {rss_after} KiB"
    );
}
