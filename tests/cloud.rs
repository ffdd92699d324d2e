//! brine-cloud's saltify driver end to end: a real sshd on 127.0.0.1, `brine-cloud -p`
//! deploying a real brine-minion (under a temp root) that authenticates against a real
//! master and answers `brine web1 test.ping`; the events on the bus without a secret in
//! them; `brine-cloud -d` stopping it and removing its key; the failure paths.

use crate::common::{bin, wait_for, Master, Sshd};
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Setup {
    master: Master,
    sshd: Sshd,
    root: tempfile::TempDir,
}

/// A master, an sshd, and the cloud files in the master's configuration directory with a
/// `web` profile deploying under a temp root.
fn setup(profile_extra: &str) -> Option<Setup> {
    if let Err(why) = Sshd::available() {
        eprintln!("skipped: {why}");
        return None;
    }
    let master = Master::start();
    let sshd = Sshd::start();
    let root = tempfile::tempdir().expect("tmp");
    let r = root.path();
    let conf = master.conf();
    std::fs::create_dir_all(conf.join("cloud.providers.d")).expect("dir");
    std::fs::create_dir_all(conf.join("cloud.profiles.d")).expect("dir");
    std::fs::write(
        conf.join("cloud.providers.d/saltify.conf"),
        format!(
            "my-saltify:\n  driver: saltify\n  minion:\n    master: 127.0.0.1\n    master_port: {}\n    publish_port: {}\n",
            master.ret_port, master.publish_port
        ),
    )
    .expect("providers");
    std::fs::write(
        conf.join("cloud.profiles.d/web.conf"),
        format!(
            "web:\n  provider: my-saltify\n  ssh_host: 127.0.0.1\n  ssh_port: {port}\n  ssh_username: root\n  key_filename: {key}\n  known_hosts_file: {kh}\n  wait_for_port_timeout: 10\n  brine_minion_binary: {bin}\n  tmp_dir: {r}/tmp/.saltcloud\n  script_env:\n    BRINE_PREFIX: {r}/usr\n    BRINE_CONF: {r}/etc\n  minion:\n    pki_dir: {r}/etc/pki\n    sock_dir: {r}/run\n    cachedir: {r}/cache\n    log_file: {r}/minion.log\n    acceptance_wait_time: 1\n    auth_timeout: 2\n  password: not-this-one-hunter2\n{profile_extra}\n",
            port = sshd.port,
            key = sshd.client_key.display(),
            kh = sshd.known_hosts.display(),
            bin = bin("brine-minion").display(),
            r = r.display(),
        ),
    )
    .expect("profiles");
    std::fs::create_dir_all(r.join("tmp")).expect("tmp");
    Some(Setup { master, sshd, root })
}

fn cloud(master: &Master, args: &[&str]) -> std::process::Output {
    Command::new(bin("brine-cloud"))
        .arg("-c")
        .arg(master.conf())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run brine-cloud")
}

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn saltify_deploys_a_minion_that_answers_and_destroy_takes_it_off() {
    let Some(s) = setup("") else { return };
    let mut bus = s.master.client();
    bus.subscribe(MatchType::StartsWith, "salt/")
        .expect("subscribe");
    s.master.wait_subscribed(1);
    let started = Instant::now();
    let out = cloud(&s.master, &["-p", "web", "web1", "--out", "json"]);
    let (o, e) = text(&out);
    assert!(out.status.success(), "brine-cloud -p failed: {o}{e}");
    assert_eq!(
        serde_json::from_str::<Value>(&o).ok(),
        Some(json!({"web1": {"deployed": true}})),
        "{o}"
    );
    // The minion authenticates and fires its start event.
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    let has = |seen: &[(String, Value)], tag: &str| seen.iter().any(|(t, _)| t == tag);
    while Instant::now() < end
        && !(has(&seen, "salt/minion/web1/start") && has(&seen, "salt/cloud/web1/deploy_script"))
    {
        if let Ok(ev) = bus.next_event(Some(Duration::from_secs(1))) {
            seen.push((ev.tag.clone(), Value::Object(ev.data)));
        }
    }
    let tags: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        tags.contains(&"salt/minion/web1/start"),
        "no start event: {tags:?}"
    );
    eprintln!(
        "brine-cloud -p to salt/minion/web1/start: {:?}",
        started.elapsed()
    );
    let cloud_tags: Vec<&str> = tags
        .iter()
        .copied()
        .filter(|t| t.starts_with("salt/cloud/"))
        .collect();
    assert_eq!(
        cloud_tags,
        ["salt/cloud/web1/deploying", "salt/cloud/web1/deploy_script"]
    );
    let key_ev = seen
        .iter()
        .find(|(t, _)| t == "salt/key")
        .map(|(_, d)| d.clone())
        .expect("salt/key for the new key");
    assert_eq!(
        (key_ev["id"].clone(), key_ev["act"].clone()),
        (json!("web1"), json!("accept"))
    );
    // No secret on the bus: not the new minion's private key, not the password, not the script.
    let private = std::fs::read_to_string(s.root.path().join("etc/pki/minion.pem"))
        .expect("the deployed private key");
    let dump = serde_json::to_string(&seen).unwrap_or_default();
    let secret_line = private
        .lines()
        .find(|l| l.len() > 20 && !l.starts_with("-----"))
        .unwrap_or(&private);
    assert!(
        !dump.contains(secret_line),
        "the private key reached the bus"
    );
    assert!(!dump.contains("hunter2"), "the password reached the bus");
    assert!(
        !dump.contains("brine-bootstrap: install"),
        "the deploy script reached the bus"
    );
    let deploying = &seen
        .iter()
        .find(|(t, _)| t == "salt/cloud/web1/deploying")
        .expect("deploying")
        .1;
    assert_eq!(deploying["event"], json!("executing deploy script"));
    assert_eq!(deploying["kwargs"]["minion_conf"]["id"], json!("web1"));
    assert_eq!(
        deploying["kwargs"]["minion_conf"]["grains"]["salt-cloud"]["driver"],
        json!("saltify")
    );
    // The temporary directory is gone, the minion answers.
    let left: Vec<_> = std::fs::read_dir(s.root.path().join("tmp"))
        .expect("tmp")
        .collect();
    assert!(left.is_empty(), "the deploy's temp dir was left");
    let ping = Command::new(bin("brine"))
        .arg("-c")
        .arg(s.master.conf())
        .args(["-t", "10", "web1", "test.ping"])
        .output()
        .expect("brine");
    assert!(
        String::from_utf8_lossy(&ping.stdout).contains("True"),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let q = cloud(&s.master, &["-Q", "--out", "json"]);
    let qv: Value = serde_json::from_str(&text(&q).0).unwrap_or(Value::Null);
    assert_eq!(
        qv["my-saltify"]["saltify"]["web1"]["public_ips"],
        json!(["127.0.0.1"]),
        "{qv}"
    );
    // A second -p for the same id refuses (its key is accepted) and changes nothing.
    let again = cloud(&s.master, &["-p", "web", "web1"]);
    assert!(!again.status.success());
    assert!(
        text(&again).1.contains("already has an accepted key"),
        "{}",
        text(&again).1
    );
    // Destroy: events, minion stopped, key gone.
    let pid: i32 = std::fs::read_to_string(s.root.path().join("etc/brine-minion.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let d = cloud(&s.master, &["-d", "-y", "web1", "--out", "json"]);
    let (o, e) = text(&d);
    assert!(d.status.success(), "{o}{e}");
    assert_eq!(
        serde_json::from_str::<Value>(&o).ok(),
        Some(json!({"my-saltify": {"saltify": {"web1": {"Destroyed": "web1 was destroyed."}}}}))
    );
    wait_for("the minion to stop", Duration::from_secs(10), || {
        (unsafe { libc::kill(pid, 0) } != 0).then_some(())
    });
    assert!(
        !s.master.pki().join("minions/web1").exists(),
        "the key is still accepted"
    );
    assert!(
        !s.root.path().join("etc/minion").exists(),
        "the minion config is still there"
    );
    let mut after = Vec::new();
    while let Ok(ev) = bus.next_event(Some(Duration::from_millis(500))) {
        after.push(ev.tag);
    }
    let cloud_after: Vec<&str> = after
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with("salt/cloud/"))
        .collect();
    assert_eq!(
        cloud_after,
        ["salt/cloud/web1/destroying", "salt/cloud/web1/destroyed"]
    );
    let d2 = cloud(&s.master, &["-d", "-y", "web1", "--out", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&text(&d2).0).ok(),
        Some(json!({"Not Found": ["web1"]}))
    );
    drop(s.sshd);
}

#[test]
fn failures_name_the_machine_and_the_step_and_leave_no_key() {
    let Some(s) = setup("  saltify_fire_created: True\n") else {
        return;
    };
    // An id that leaves its directory is refused before anything happens.
    let out = cloud(&s.master, &["-p", "web", "../evil"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("../evil: config: not a valid minion id"),
        "{}",
        text(&out).1
    );
    // A host that never opens its port: the timeout path.
    let closed = crate::common::free_port();
    std::fs::write(
        s.master.conf().join("cloud.profiles.d/dead.conf"),
        format!("dead:\n  extends: web\n  ssh_port: {closed}\n  wait_for_port_timeout: 2\n"),
    )
    .expect("profile");
    let t = Instant::now();
    let out = cloud(&s.master, &["-p", "dead", "gone1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("gone1: wait_for_port"),
        "{}",
        text(&out).1
    );
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(
        !s.master.pki().join("minions/gone1").exists(),
        "a failed deploy left its key accepted"
    );
    // A deploy script that fails.
    std::fs::create_dir_all(s.master.conf().join("cloud.deploy.d")).expect("dir");
    std::fs::write(
        s.master.conf().join("cloud.deploy.d/broken.sh"),
        "#!/bin/sh\necho nope >&2\nexit 3\n",
    )
    .expect("script");
    std::fs::write(
        s.master.conf().join("cloud.profiles.d/broken.conf"),
        "broken:\n  extends: web\n  script: broken\n",
    )
    .expect("profile");
    let out = cloud(&s.master, &["-p", "broken", "bad1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("bad1: deploy script"),
        "{}",
        text(&out).1
    );
    assert!(!s.master.pki().join("minions/bad1").exists());
    // Providers and profiles listed in Salt's shapes.
    let lp = cloud(&s.master, &["--list-providers", "--out", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&text(&lp).0).ok(),
        Some(json!({"my-saltify": {"saltify": {}}}))
    );
}

#[test]
fn a_map_deploys_its_machines_in_parallel_and_skips_what_exists() {
    let Some(s) = setup("") else { return };
    let map = s.master.conf().join("hosts.map");
    let r = s.root.path();
    // Three minions on the one sshd, each under its own root.
    let mut text = String::from("web:\n");
    for i in 1..=3 {
        text.push_str(&format!(
            "  - m{i}:\n      script_env: {{BRINE_PREFIX: {r}/m{i}/usr, BRINE_CONF: {r}/m{i}/etc}}\n      minion: {{pki_dir: {r}/m{i}/pki, sock_dir: {r}/m{i}/run, cachedir: {r}/m{i}/cache, log_file: {r}/m{i}/log}}\n",
            r = r.display()
        ));
    }
    std::fs::write(&map, text).expect("map");
    let out = cloud(
        &s.master,
        &["-m", &map.display().to_string(), "-P", "--out", "json"],
    );
    let (o, e) = text_of(&out);
    assert!(out.status.success(), "{o}{e}");
    let v: Value = serde_json::from_str(&o).expect("json");
    for i in 1..=3 {
        assert_eq!(v[format!("m{i}")], json!({"deployed": true}), "{o}");
    }
    let ping = Command::new(bin("brine"))
        .arg("-c")
        .arg(s.master.conf())
        .args(["-t", "15", "m*", "test.ping", "--out", "json"])
        .output()
        .expect("brine");
    let p = String::from_utf8_lossy(&ping.stdout);
    for i in 1..=3 {
        assert!(p.contains(&format!("\"m{i}\": true")), "{p}");
    }
    let again = cloud(
        &s.master,
        &["-m", &map.display().to_string(), "--out", "json"],
    );
    let v: Value = serde_json::from_str(&text_of(&again).0).expect("json");
    assert_eq!(v["m1"], json!({"Already exists": true}));
    let d = cloud(&s.master, &["-d", "-y", "m1", "m2", "m3"]);
    assert!(d.status.success(), "{}", text_of(&d).1);
}

fn text_of(o: &std::process::Output) -> (String, String) {
    text(o)
}
