//! Master and minions on 127.0.0.1 with ephemeral ports: keys, auth, sessions, the
//! minion bus, brine-call and brine-key through a running master.

use crate::common::*;
use brine::matcher::MatchType;
use serde_json::Value;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn the_key_life_cycle_with_events_and_brine_key_output() {
    let m = Master::start();
    let watch = m.event(&["--tag", "salt/*", "--json"]);
    m.wait_subscribed(1);
    let mut mi = Minion::start(&m, "m1", "");
    // Pending first.
    wait_for("m1 pending", T, || {
        m.pki().join("minions_pre/m1").exists().then_some(())
    });
    let listing = m.key(&["-L"], "");
    assert_eq!(
        stdout(&listing),
        "Accepted Keys:\nDenied Keys:\nUnaccepted Keys:\nm1\nRejected Keys:\n"
    );
    // Accept with the prompt answered by an empty line (yes).
    let acc = m.key(&["-a", "m1"], "\n");
    assert_eq!(
        stdout(&acc),
        "The following keys are going to be accepted:\nUnaccepted Keys:\nm1\nProceed? [n/Y] Key for minion m1 accepted.\n"
    );
    // The minion re-auths within acceptance_wait_time and starts.
    mi.wait_log("authenticated with the master", 1);
    // A second minion with the same id but another key is denied.
    let mut imposter = Minion::start(&m, "m1", "");
    wait_for("the denied key", T, || {
        m.pki().join("minions_denied/m1").exists().then_some(())
    });
    assert_eq!(imposter.wait_exit(T), Some(1), "a denied minion exits");
    assert!(imposter.log().contains("denied our key"));
    let listing = m.key(&["-L"], "");
    assert_eq!(
        stdout(&listing),
        "Accepted Keys:\nm1\nDenied Keys:\nm1\nUnaccepted Keys:\nRejected Keys:\n"
    );
    // Delete (empty answer means no, then y).
    let no = m.key(&["-d", "m1"], "\n");
    assert!(stdout(&no).ends_with("Proceed? [N/y] "), "{}", stdout(&no));
    assert!(m.pki().join("minions/m1").exists());
    let del = m.key(&["-d", "m1", "--include-denied"], "y\n");
    assert!(
        stdout(&del).contains("Key for minion m1 deleted."),
        "{}",
        stdout(&del)
    );
    assert!(!m.pki().join("minions/m1").exists());
    // The deleted minion is refused and comes back as pending.
    mi.wait_log("re-authenticating", 1);
    wait_for("m1 pending again", T, || {
        m.pki().join("minions_pre/m1").exists().then_some(())
    });
    // Reject it: at its next attempt the minion hears so and exits 1.
    let rej = m.key(&["-r", "m1", "-y"], "");
    assert!(
        stdout(&rej).contains("Key for minion m1 rejected."),
        "{}",
        stdout(&rej)
    );
    assert!(m.pki().join("minions_rejected/m1").exists());
    assert_eq!(mi.wait_exit(T), Some(1), "a rejected minion exits");
    assert!(mi.log().contains("rejected our key"), "{}", mi.log());
    let text = m.log();
    assert!(text.contains("minion m1 authenticated"));
    // Everything above was on the bus, in this order.
    let mut watch = watch;
    let _ = watch.kill();
    let out = watch.wait_with_output().unwrap();
    let seen: Vec<(String, String)> = json_lines(&String::from_utf8_lossy(&out.stdout))
        .iter()
        .filter(|e| e["data"]["id"] == "m1")
        .filter_map(|e| {
            let tag = e["tag"].as_str()?.to_string();
            let act = e["data"]["act"].as_str().unwrap_or("").to_string();
            (tag == "salt/auth" || tag == "salt/key" || tag.starts_with("salt/minion/"))
                .then_some((tag, act))
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("salt/auth", "pend"),
        ("salt/key", "accept"),
        ("salt/auth", "accept"),
        ("salt/minion/m1/start", ""),
        ("salt/auth", "denied"),
        ("salt/key", "delete"),
        ("salt/auth", "pend"),
        ("salt/key", "reject"),
        // salt-spec §2.2: an attempt with a rejected key has no act.
        ("salt/auth", ""),
    ]
    .iter()
    .map(|(t, a)| (t.to_string(), a.to_string()))
    .collect();
    // Retries repeat an act (pend, pend, ...): compare the sequence without repeats.
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup, want, "{seen:?}");
}

#[test]
fn auth_and_key_events_on_the_master_bus() {
    let m = Master::start();
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/").unwrap();
    m.wait_subscribed(1);
    let mi = Minion::start(&m, "ev1", "");
    wait_for("pending", T, || {
        m.pki().join("minions_pre/ev1").exists().then_some(())
    });
    let out = m.key(&["-A", "-y"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    mi.wait_log("authenticated with the master", 1);
    let mut seen = Vec::new();
    while let Ok(ev) = c.next_event(Some(T)) {
        let done = ev.tag == "salt/minion/ev1/start";
        seen.push(ev);
        if done {
            break;
        }
    }
    let pos = |f: &dyn Fn(&brine::client::OwnedEvent) -> bool| seen.iter().position(f);
    let pend = pos(&|e| e.tag == "salt/auth" && e.data["act"] == "pend").expect("pend");
    let key = pos(&|e| e.tag == "salt/key").expect("salt/key");
    let accept = pos(&|e| e.tag == "salt/auth" && e.data["act"] == "accept").expect("accept");
    let start = pos(&|e| e.tag == "salt/minion/ev1/start").expect("start");
    assert!(pend < key && key < accept && accept < start, "{seen:?}");
    let p = &seen[pend].data;
    assert_eq!(
        (p["result"].as_bool(), p["id"].as_str()),
        (Some(true), Some("ev1"))
    );
    assert!(p["pub"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN BRINE PUBLIC KEY-----"));
    let k = &seen[key].data;
    assert_eq!(
        (k["act"].as_str(), k["id"].as_str(), k["result"].as_bool()),
        (Some("accept"), Some("ev1"), Some(true))
    );
    assert_eq!(seen[accept].data["result"], true);
    let st = &seen[start].data;
    assert_eq!(st["cmd"], "_minion_event");
    assert_eq!(st["pretag"], Value::Null);
    assert_eq!(st["id"], "ev1");
    assert!(st["data"]
        .as_str()
        .unwrap()
        .starts_with("Minion ev1 started at "));
}

#[test]
fn fire_master_reaches_brine_event_wrapped_and_the_minion_bus_works() {
    let m = Master::start_with("auto_accept: True");
    let mi = Minion::start(&m, "web1", "");
    mi.wait_log("authenticated with the master", 1);
    let watch = m.event(&["--tag", "myco/*", "--json", "--count", "1"]);
    m.wait_subscribed(1);
    let out = mi.call(&["event.fire_master", "{state: refresh}", "myco/app/refresh"]);
    assert_eq!(stdout(&out), "local:\n    True\n", "{}", stderr(&out));
    let ev = json_lines(&stdout(&output_within(watch, T)));
    assert_eq!(ev[0]["tag"], "myco/app/refresh");
    let d = &ev[0]["data"];
    assert_eq!(d["id"], "web1");
    assert_eq!(d["cmd"], "_minion_event");
    assert_eq!(d["pretag"], Value::Null);
    assert_eq!(d["tag"], "myco/app/refresh");
    assert_eq!(d["data"]["state"], "refresh");
    assert!(d["_stamp"].is_string());
    // event.fire: the minion's own bus, seen with brine-event --node minion.
    let local = Command::new(bin("brine-event"))
        .arg("-c")
        .arg(mi.conf())
        .args(["--node", "minion", "--tag", "tag", "--count", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the minion-bus subscription", T, || {
        mi.log().contains(" subscribed: ").then_some(())
    });
    let out = mi.call(&["event.fire", "{'data': 'some message'}", "tag"]);
    assert_eq!(stdout(&out), "local:\n    True\n");
    let line = stdout(&output_within(local, T));
    assert!(
        line.starts_with("tag\t{\"data\": \"some message\", \"_stamp\": "),
        "{line}"
    );
    // event.send with extra kwargs.
    let watch = m.event(&["--tag", "myco/build/*", "--json", "--count", "1"]);
    m.wait_subscribed(2);
    let out = mi.call(&[
        "event.send",
        "myco/build/done",
        "result=ok",
        "with_grains=[id]",
    ]);
    assert!(out.status.success());
    let ev = json_lines(&stdout(&output_within(watch, T)));
    assert_eq!(ev[0]["data"]["data"]["result"], "ok");
    assert_eq!(ev[0]["data"]["data"]["grains"]["id"], "web1");
    // with_env reports the environment of brine-call, as salt-call does, not the daemon's.
    let watch = m.event(&["--tag", "myco/env", "--json", "--count", "1"]);
    m.wait_subscribed(3);
    let out = Command::new(bin("brine-call"))
        .arg("-c")
        .arg(mi.conf())
        .env("BRINE_CALLER_ONLY", "yes")
        .args([
            "event.send",
            "myco/env",
            "with_env=[BRINE_CALLER_ONLY, HOME]",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = json_lines(&stdout(&output_within(watch, T)));
    let env = &ev[0]["data"]["data"]["environ"];
    assert_eq!(env["BRINE_CALLER_ONLY"], "yes", "{env}");
    assert!(ev[0]["data"]["data"].get("__caller_environ__").is_none());
    // Unknown function.
    let out = mi.call(&["foo.bar"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "local:\n    'foo.bar' is not available.\n");
}

#[test]
fn brine_call_without_a_minion_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("minion"),
        format!("id: x\nsock_dir: {}\n", dir.path().join("run").display()),
    )
    .unwrap();
    let out = Command::new(bin("brine-call"))
        .arg("-c")
        .arg(dir.path())
        .args(["event.fire_master", "x", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is brine-minion running?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_readable_secret_key_stops_the_daemon() {
    let m = Master::start_with("auto_accept: True");
    let mut mi = Minion::start(&m, "perm1", "");
    mi.wait_log("authenticated with the master", 1);
    let _ = mi.stop();
    let pem = mi.pki().join("minion.pem");
    std::fs::set_permissions(&pem, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = Command::new(bin("brine-minion"))
        .arg("-c")
        .arg(mi.conf())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("minion.pem") && err.contains("readable by others"),
        "{err}"
    );
}

#[test]
fn a_minion_refuses_a_master_whose_key_changed() {
    let mut m = Master::start_with("auto_accept: True");
    let mut mi = Minion::start(&m, "pin1", "");
    mi.wait_log("authenticated with the master", 1);
    assert!(mi.pki().join("minion_master.pub").exists());
    // Re-key the master.
    assert_eq!(m.stop(), Some(0));
    std::fs::remove_file(m.pki().join("master.pem")).unwrap();
    std::fs::remove_file(m.pki().join("master.pub")).unwrap();
    m.spawn();
    mi.wait_log("remove", 1);
    let log = mi.log();
    assert!(log.contains("the master's public key has changed"), "{log}");
    assert!(log.contains(&mi.pki().join("minion_master.pub").display().to_string()));
    // Doing what the line says is enough: the running minion trusts the new key.
    std::fs::remove_file(mi.pki().join("minion_master.pub")).unwrap();
    mi.wait_log("authenticated with the master", 2);
    assert!(mi
        .log()
        .contains("was removed: trusting the master's new key"));
    let pin = std::fs::read_to_string(mi.pki().join("minion_master.pub")).unwrap();
    let new_key = std::fs::read_to_string(m.pki().join("master.pub")).unwrap();
    assert_eq!(pin.trim(), new_key.trim());
    let _ = mi.stop();
}

#[test]
fn garbage_on_both_ports_leaves_the_master_working() {
    let m = Master::start_with("auto_accept: True");
    for port in [m.publish_port, m.ret_port] {
        for junk in [
            &b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"[..],
            &[0u8; 4096],
            b"GET / HTTP/1.0\r\n\r\n",
        ] {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(junk);
            }
        }
    }
    // A real ZeroMQ peer sending protocol garbage on the request port.
    let ctx = brine::io::zsock::ZContext::new();
    let mut dealer = brine::io::zsock::ZSocket::new(&ctx, brine::io::zsock::ZKind::Dealer).unwrap();
    dealer
        .connect(&format!("tcp://127.0.0.1:{}", m.ret_port))
        .unwrap();
    for junk in [
        &b"not msgpack"[..],
        b"\x81\xa3cmd\xa7_sealed",
        b"\x93\x01\x02\x03",
        &[0x82; 64],
    ] {
        dealer.send(&[junk]).unwrap();
    }
    dealer.send(&[b"one", b"two"]).unwrap();
    // Repeats of one cause are counted, not logged: one line per cause.
    m.wait_log("dropped a", 2);
    let mi = Minion::start(&m, "after-junk", "");
    mi.wait_log("authenticated with the master", 1);
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "ok/").unwrap();
    m.wait_subscribed(1);
    let out = mi.call(&["event.fire_master", "{}", "ok/after"]);
    assert!(out.status.success());
    assert_eq!(c.next_event(Some(T)).unwrap().tag, "ok/after");
}

#[test]
fn minions_reauth_within_seconds_of_a_master_restart() {
    let mut m = Master::start_with("auto_accept: True");
    let minions: Vec<Minion> = (0..3)
        .map(|i| Minion::start(&m, &format!("r{i}"), ""))
        .collect();
    for mi in &minions {
        mi.wait_log("authenticated with the master", 1);
    }
    // A swarm of 20 more.
    let swarm_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        swarm_dir.path().join("minion"),
        format!(
            "master: 127.0.0.1\nmaster_port: {}\npublish_port: {}\npki_dir: {}\nheartbeat_interval: 1\nacceptance_wait_time: 1\nlog_level: info\n",
            m.ret_port,
            m.publish_port,
            swarm_dir.path().join("pki").display()
        ),
    )
    .unwrap();
    let swarm_log = std::fs::File::create(swarm_dir.path().join("swarm.stderr")).unwrap();
    let _swarm = Bg(Command::new(bin("brine-swarm"))
        .arg("-c")
        .arg(swarm_dir.path())
        .args(["--minions", "20"])
        .stderr(swarm_log)
        .spawn()
        .unwrap());
    m.wait_log("authenticated", 23);
    let before = m.log().matches("authenticated").count();
    assert_eq!(m.stop(), Some(0));
    let t0 = std::time::Instant::now();
    m.spawn();
    wait_for(
        "every minion re-authenticated",
        Duration::from_secs(15),
        || (m.log().matches("authenticated").count() >= before + 23).then_some(()),
    );
    for mi in &minions {
        mi.wait_log("authenticated with the master", 2);
    }
    assert!(t0.elapsed() < Duration::from_secs(15));
    // And they keep working.
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "after/").unwrap();
    m.wait_subscribed(1);
    let out = minions[1].call(&["event.fire_master", "{n: 1}", "after/restart"]);
    assert!(out.status.success());
    let ev = match c.next_event(Some(T)) {
        Ok(ev) => ev,
        Err(e) => panic!(
            "{e}: minion log:\n{}\nmaster log:\n{}",
            minions[1].log(),
            m.log()
        ),
    };
    assert_eq!(ev.data["id"], "r1");
}

#[test]
fn a_daemonized_minion_authenticates_answers_jobs_and_stops_on_sigterm() {
    let m = Master::start_with("auto_accept: True");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("minion.log");
    let pid_file = dir.path().join("minion.pid");
    std::fs::write(
        dir.path().join("minion"),
        format!(
            "id: d1\nmaster: 127.0.0.1\nmaster_port: {}\npublish_port: {}\npki_dir: {}\nsock_dir: {}\ncachedir: {}\nlog_file: {}\nlog_level: info\n",
            m.ret_port,
            m.publish_port,
            dir.path().join("pki").display(),
            dir.path().join("run").display(),
            dir.path().join("cache").display(),
            log.display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("brine-minion"))
        .arg("-c")
        .arg(dir.path())
        .args(["-d", "--pid-file"])
        .arg(&pid_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let pid: i32 = wait_for("the pid file", T, || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    // ZeroMQ's threads start after the fork: the detached minion is on the wire.
    wait_for("auth", T, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("authenticated with the master").then_some(())
    });
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(["--out", "json", "--static", "-t", "10", "d1", "test.ping"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out)).unwrap_or_default(),
        serde_json::json!({"d1": true}),
        "{}",
        stderr(&out)
    );
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("the pid file to go", T, || {
        (!pid_file.exists()).then_some(())
    });
    // Gone, or a zombie when nothing reaps orphans here.
    wait_for("the process to exit", T, || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        (!status.contains("State:\tS") && !status.contains("State:\tR")).then_some(())
    });
}

#[test]
fn huge_intervals_and_timeouts_do_not_overflow_the_clock() {
    let m = Master::start_with(
        "auto_accept: True\npublish_session: 18446744073709551615\nloop_interval: 18446744073709551615",
    );
    let mi = Minion::start(&m, "big1", "return_retry_timer: 18446744073709551615");
    mi.wait_log("authenticated with the master", 1);
    // Also: the minion has unmapped its start-up pages by now and runs on.
    mi.wait_log("unmapped start-up pages", 1);
    let out = mi.call(&["cmd.run", "echo hi", "timeout=1e300"]);
    assert_eq!(stdout(&out), "local:\n    hi\n", "{}", stderr(&out));
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args([
            "-t",
            "1e300",
            "--out",
            "json",
            "--static",
            "big1",
            "test.ping",
        ])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out)).unwrap_or_default(),
        serde_json::json!({"big1": true}),
        "{}",
        stderr(&out)
    );
    // Both daemons are still up and answering.
    assert!(mi.call(&["test.ping"]).status.success());
    assert!(m.run(&["manage.up"]).status.success());
}

#[test]
fn auth_options_on_real_daemons() {
    let files = tempfile::tempdir().unwrap();
    let (sign, reject) = (
        files.path().join("autosign"),
        files.path().join("autoreject"),
    );
    std::fs::write(&sign, "auto*\n").unwrap();
    std::fs::write(&reject, "bad*\n").unwrap();
    let policy = format!(
        "autosign_file: {}\nautoreject_file: {}",
        sign.display(),
        reject.display()
    );
    let mut m = Master::start_with(&policy);
    let watch = m.event(&["--tag", "*", "--json"]);
    m.wait_subscribed(1);
    // autosign_file accepts; start_event_grains picks grains; no legacy minion_start.
    let auto = Minion::start(
        &m,
        "auto1",
        "start_event_grains: [os, kernel]\nenable_legacy_startup_events: False",
    );
    auto.wait_log("authenticated with the master", 1);
    // autoreject_file rejects; rejected_retry keeps the minion trying instead of exiting.
    let bad = Minion::start(&m, "bad1", "rejected_retry: True");
    bad.wait_log("retrying (rejected_retry)", 2);
    assert!(m.pki().join("minions_rejected/bad1").exists());
    let state = std::fs::read_to_string(format!("/proc/{}/status", bad.pid())).unwrap();
    assert!(!state.contains("State:\tZ"), "bad1 keeps running");
    // A pending key is asked for again after 1, 2, 3, 3 ... s (acceptance_wait_time_max).
    let pend = Minion::start(&m, "pend1", "acceptance_wait_time_max: 3");
    pend.wait_log("retrying in 3 s", 2);
    let log = pend.log();
    let waits: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("retrying in ").nth(1))
        .collect();
    assert_eq!(waits[..4], ["1 s", "2 s", "3 s", "3 s"], "{log}");
    // auth_events off (SIGHUP): no salt/auth for a new minion, which still starts.
    m.set_extra(&format!("{policy}\nauth_events: False"));
    m.signal(libc::SIGHUP);
    m.wait_log("configuration reloaded", 1);
    let quiet = Minion::start(&m, "auto2", "");
    quiet.wait_log("authenticated with the master", 1);
    let mut watch = watch;
    wait_for("auto2's start event", T, || {
        m.log().contains("minion auto2 authenticated").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let _ = watch.kill();
    let events = json_lines(&String::from_utf8_lossy(
        &watch.wait_with_output().unwrap().stdout,
    ));
    let auth_act = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["tag"] == "salt/auth" && e["data"]["id"] == id)
            .map(|e| e["data"]["act"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(auth_act("auto1"), ["accept"]);
    assert!(auth_act("bad1").len() >= 2);
    assert_eq!(auth_act("bad1")[0], "reject");
    assert!(auth_act("pend1").iter().all(|a| a == "pend"));
    assert!(auth_act("auto2").is_empty(), "auth_events: False");
    let start = |id: &str| {
        events
            .iter()
            .find(|e| e["tag"] == format!("salt/minion/{id}/start"))
            .cloned()
    };
    let s1 = start("auto1").expect("auto1 started");
    let grains = s1["data"]["grains"].as_object().expect("grains");
    assert!(
        grains.contains_key("os") && grains.contains_key("kernel"),
        "{s1}"
    );
    assert_eq!(grains.len(), 2);
    assert!(start("auto2").is_some());
    assert!(
        !events
            .iter()
            .any(|e| e["tag"] == "minion_start" && e["data"]["id"] == "auto1"),
        "enable_legacy_startup_events: False"
    );
    assert!(
        events
            .iter()
            .any(|e| e["tag"] == "minion_start" && e["data"]["id"] == "auto2"),
        "legacy start events are on by default"
    );
}

#[test]
fn one_refused_swarm_minion_does_not_stop_the_others() {
    let files = tempfile::tempdir().unwrap();
    let reject = files.path().join("autoreject");
    std::fs::write(&reject, "swarm-00001\n").unwrap();
    let m = Master::start_with(&format!(
        "auto_accept: True\nautoreject_file: {}",
        reject.display()
    ));
    std::fs::write(
        files.path().join("minion"),
        format!(
            "master: 127.0.0.1\nmaster_port: {}\npublish_port: {}\npki_dir: {}\nacceptance_wait_time: 1\nlog_level: info\n",
            m.ret_port,
            m.publish_port,
            files.path().join("pki").display()
        ),
    )
    .unwrap();
    let log = files.path().join("swarm.stderr");
    let mut swarm = Bg(Command::new(bin("brine-swarm"))
        .arg("-c")
        .arg(files.path())
        .args(["--minions", "3"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap());
    wait_for("the refused minion to stop", T, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("minion swarm-00001 stopped").then_some(())
    });
    m.wait_log("minion swarm-00000 authenticated", 1);
    m.wait_log("minion swarm-00002 authenticated", 1);
    assert!(swarm.0.try_wait().unwrap().is_none(), "the swarm runs on");
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args([
            "--out",
            "json",
            "--static",
            "-t",
            "10",
            "swarm-*",
            "test.ping",
        ])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out)).unwrap_or_default(),
        serde_json::json!({"swarm-00000": true, "swarm-00002": true}),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_start_event_gives_local_time_as_salt_does() {
    let m = Master::start_with("auto_accept: True");
    let watch = m.event(&["--tag", "salt/minion/tz1/start", "--json", "--count", "1"]);
    m.wait_subscribed(1);
    // POSIX TZ "XYZ-3": three hours east of UTC.
    let mi = Minion::start_with_env(&m, "tz1", "", &[("TZ", "XYZ-3")]);
    mi.wait_log("authenticated with the master", 1);
    let ev = json_lines(&stdout(&output_within(watch, T)));
    let text = ev[0]["data"]["data"].as_str().unwrap().to_string();
    let stamp = ev[0]["data"]["_stamp"].as_str().unwrap().to_string();
    let utc_hour: u32 = stamp[11..13].parse().unwrap();
    // "Minion tz1 started at Sun Nov 22 09:41:02 2026"
    let local_hour: u32 = text.rsplit(' ').nth(1).unwrap()[..2].parse().unwrap();
    assert_eq!(local_hour, (utc_hour + 3) % 24, "{text} vs {stamp}");
}
