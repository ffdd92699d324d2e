//! Jobs end to end on loopback: targeting, publication and returns, execution modules in
//! child processes, the job cache, retries and presence.

use crate::common::*;
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// brine against this master.
fn brine(m: &Master, args: &[&str]) -> Output {
    Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(args)
        .output()
        .expect("run brine")
}

/// Three minions with different grains, accepted automatically.
fn fleet(extra_master: &str) -> (Master, Vec<Minion>) {
    let m = Master::start_with(&format!(
        "auto_accept: True\nnodegroups:\n  webs: 'G@roles:web'\n  dbs: [db1]\n  both: 'N@webs or N@dbs'\n{extra_master}"
    ));
    let specs = [
        ("web1", "grains: {roles: [web, cache], env: prod, tier: 1}"),
        ("web2", "grains: {roles: [web], env: Staging, tier: 2}"),
        ("db1", "grains: {roles: [db], env: prod, tier: 3}"),
    ];
    let minions: Vec<Minion> = specs
        .iter()
        .map(|(id, g)| Minion::start(&m, id, g))
        .collect();
    for mi in &minions {
        mi.wait_log("authenticated with the master", 1);
    }
    // Grains reach the master's cache right after auth.
    m.wait_log("cached the grains of", 3);
    (m, minions)
}

fn ids(out: &Output) -> Vec<String> {
    let v: Value = serde_json::from_str(&stdout(out)).unwrap_or(json!({}));
    let mut ids: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn every_targeting_type_against_three_minions() {
    let (m, _minions) = fleet("");
    let cases: &[(&[&str], &[&str])] = &[
        (&["*"], &["db1", "web1", "web2"]),
        (&["web*"], &["web1", "web2"]),
        (&["-E", "web"], &["web1", "web2"]),
        (&["-E", r"(db|web)1"], &["db1", "web1"]),
        (&["-L", "web2,db1"], &["db1", "web2"]),
        (&["-G", "roles:web"], &["web1", "web2"]),
        (&["-G", "env:PROD"], &["db1", "web1"]),
        (&["-G", "roles:cach*"], &["web1"]),
        (&["-P", "env:(staging|dev)"], &["web2"]),
        (&["-S", "127.0.0.0/8"], &["db1", "web1", "web2"]),
        (&["-C", "G@env:prod and not web*"], &["db1"]),
        (&["-C", "web* or db1 and G@tier:2"], &["web1", "web2"]),
        (&["-C", "( web* or db1 ) and G@tier:3"], &["db1"]),
        (&["-C", "web* not G@env:staging"], &["web1"]),
        (&["-N", "webs"], &["web1", "web2"]),
        (&["-N", "both"], &["db1", "web1", "web2"]),
        (&["-C", "N@dbs or L@web2"], &["db1", "web2"]),
    ];
    for (args, want) in cases {
        let mut a: Vec<&str> = vec!["--out", "json", "--static", "-t", "10"];
        a.extend_from_slice(args);
        a.push("test.ping");
        let out = brine(&m, &a);
        assert_eq!(
            ids(&out),
            *want,
            "{args:?}: {} {}",
            stdout(&out),
            stderr(&out)
        );
        assert!(out.status.success(), "{args:?}");
    }
    // Nothing matches: no events, exit 2.
    let out = brine(&m, &["nomatch*", "test.ping"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "No minions matched the target.\n");
    // A bad expression is a clear error.
    let out = brine(&m, &["-C", "and web*", "test.ping"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).is_empty());
    let out = brine(&m, &["-N", "nosuch", "test.ping"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn output_and_the_event_sequence_with_a_minion_down() {
    let (m, mut minions) = fleet("");
    // db1 goes away: its key stays accepted.
    let _ = minions[2].stop();
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "").unwrap();
    m.wait_subscribed(1);
    let t0 = Instant::now();
    let out = brine(
        &m,
        &[
            "-L",
            "web1,db1",
            "-t",
            "1",
            "--gather-job-timeout",
            "1",
            "test.ping",
        ],
    );
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "a dead minion is not waited for long"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "web1:\n    True\ndb1:\n    Minion did not return. [Not connected]\n"
    );
    let mut tags = Vec::new();
    while let Ok(ev) = c.next_event(Some(Duration::from_millis(500))) {
        tags.push((ev.tag, Value::Object(ev.data)));
    }
    let jid = tags[0].0.clone();
    assert!(
        brine::jobs::is_jid(&jid),
        "the bare jid event comes first: {tags:?}"
    );
    assert_eq!(tags[0].1["minions"], json!(["db1", "web1"]));
    assert_eq!(tags[1].0, format!("salt/job/{jid}/new"));
    let new = &tags[1].1;
    assert_eq!(new["tgt"], "web1,db1");
    assert_eq!(new["tgt_type"], "list");
    assert_eq!(new["fun"], "test.ping");
    assert_eq!(new["arg"], json!([]));
    assert_eq!(new["missing"], json!([]));
    assert_eq!(tags[2].0, format!("salt/job/{jid}/ret/web1"));
    let ret = &tags[2].1;
    for (k, v) in [
        ("cmd", json!("_return")),
        ("id", json!("web1")),
        ("jid", json!(jid)),
        ("fun", json!("test.ping")),
        ("fun_args", json!([])),
        ("return", json!(true)),
        ("retcode", json!(0)),
        ("success", json!(true)),
    ] {
        assert_eq!(ret[k], v, "{k}");
    }
    // The find_job probe: its bare jid event and its new event.
    let probe_jid = &tags[3].0;
    assert!(brine::jobs::is_jid(probe_jid) && probe_jid > &jid);
    assert_eq!(tags[3].1["minions"], json!(["db1"]));
    let probe = &tags[4].1;
    assert_eq!(tags[4].0, format!("salt/job/{probe_jid}/new"));
    assert_eq!(probe["fun"], "saltutil.find_job");
    assert_eq!(probe["tgt_type"], "list");
    assert_eq!(probe["tgt"], json!(["db1"]));
    assert_eq!(probe["arg"], json!([jid]));
    // The job cache has it.
    let look = m.run(&["jobs.lookup_jid", &jid]);
    assert_eq!(stdout(&look), "web1:\n    True\n");
}

#[test]
fn execution_modules_and_shell_commands() {
    let (m, _minions) = fleet("");
    let out = brine(&m, &["web1", "cmd.run", "echo out; echo err >&2; exit 3"]);
    assert_eq!(stdout(&out), "web1:\n    out\n    err\n");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a non-zero retcode fails the command"
    );
    let out = brine(&m, &["--retcode-passthrough", "web1", "cmd.run", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = brine(
        &m,
        &[
            "--out",
            "json",
            "web1",
            "cmd.run_all",
            "printf hi; printf oops >&2",
        ],
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["web1"]["stdout"], "hi");
    assert_eq!(v["web1"]["stderr"], "oops");
    assert_eq!(v["web1"]["retcode"], 0);
    assert!(v["web1"]["pid"].as_u64().unwrap() > 0);
    let out = brine(&m, &["web1", "cmd.retcode", "exit 7"]);
    assert_eq!(stdout(&out), "web1:\n    7\n");
    let out = brine(
        &m,
        &[
            "web1",
            "cmd.run",
            "pwd; echo $GREETING; cat",
            "cwd=/tmp",
            "env={GREETING: hello}",
            "stdin=piped in",
        ],
    );
    assert_eq!(stdout(&out), "web1:\n    /tmp\n    hello\n    piped in\n");
    let out = brine(&m, &["web1", "cmd.run", "sleep 30", "timeout=1"]);
    assert_eq!(stdout(&out), "web1:\n    Timed out after 1 seconds\n");
    let out = brine(&m, &["web1", "test.echo", "{a: 1}"]);
    assert_eq!(stdout(&out), "web1:\n    ----------\n    a:\n        1\n");
    let out = brine(&m, &["web1", "grains.get", "roles:1"]);
    assert_eq!(stdout(&out), "web1:\n    cache\n");
    let out = brine(&m, &["web1", "grains.get", "nope", "default=fallback"]);
    assert_eq!(stdout(&out), "web1:\n    fallback\n");
    let out = brine(&m, &["--out", "json", "web1", "grains.item", "env", "tier"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["web1"], json!({"env": "prod", "tier": 1}));
    let out = brine(&m, &["--out", "json", "web1", "grains.items"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for g in [
        "os",
        "os_family",
        "kernel",
        "num_cpus",
        "mem_total",
        "cpuarch",
        "ipv4",
        "fqdn",
        "host",
    ] {
        assert!(v["web1"].get(g).is_some(), "grain {g} computed");
    }
    let out = brine(&m, &["web1", "foo.bar"]);
    assert_eq!(stdout(&out), "web1:\n    'foo.bar' is not available.\n");
    assert_eq!(out.status.code(), Some(1));
    let out = brine(&m, &["--out", "json", "web1", "sys.list_functions", "test"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["web1"],
        json!([
            "test.echo",
            "test.false",
            "test.ping",
            "test.retcode",
            "test.sleep",
            "test.true",
            "test.version"
        ])
    );
    // event.fire from the master reaches the minion's bus.
    let out = brine(&m, &["web1", "event.fire", "{data: x}", "tag"]);
    assert_eq!(stdout(&out), "web1:\n    True\n");
}

#[test]
fn the_minion_answers_while_ten_long_jobs_run_and_kill_works() {
    let (m, minions) = fleet("");
    for _ in 0..10 {
        let out = brine(&m, &["--async", "web1", "cmd.run", "sleep 30"]);
        assert!(stdout(&out).starts_with("Executed command with job ID: "));
    }
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let out = brine(&m, &["web1", "test.ping"]);
    assert_eq!(stdout(&out), "web1:\n    True\n");
    assert!(t0.elapsed() < Duration::from_secs(3));
    let out = brine(&m, &["--out", "json", "web1", "saltutil.running"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let running = v["web1"].as_array().unwrap();
    assert_eq!(running.len(), 10);
    let proc_dir = minions[0].dir.path().join("cache/proc");
    assert_eq!(
        std::fs::read_dir(&proc_dir).unwrap().count(),
        10,
        "a record per running job"
    );
    let jid = running[0]["jid"].as_str().unwrap().to_string();
    let out = brine(&m, &["web1", "saltutil.kill_job", &jid]);
    assert!(stdout(&out).contains("Signal 9 sent"), "{}", stdout(&out));
    wait_for("the killed job's record to go", T, || {
        (std::fs::read_dir(&proc_dir).unwrap().count() == 9).then_some(())
    });
}

#[test]
fn a_minion_killed_mid_job_leaves_no_records_after_restart() {
    let (m, mut minions) = fleet("");
    let out = brine(&m, &["--async", "web2", "test.sleep", "20"]);
    assert!(out.status.success());
    let proc_dir = minions[1].dir.path().join("cache/proc");
    wait_for("the job record", T, || {
        (std::fs::read_dir(&proc_dir).map(|d| d.count()).unwrap_or(0) == 1).then_some(())
    });
    let pid = minions[1].pid();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = minions[1].child.take().map(|mut c| c.wait());
    let out = brine(
        &m,
        &["-t", "1", "--gather-job-timeout", "1", "web2", "test.ping"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("Minion did not return."));
    minions[1].spawn();
    minions[1].wait_log("authenticated with the master", 2);
    assert_eq!(
        std::fs::read_dir(&proc_dir).unwrap().count(),
        0,
        "stale records removed"
    );
    let out = brine(&m, &["web2", "test.ping"]);
    assert_eq!(stdout(&out), "web2:\n    True\n");
}

#[test]
fn a_ten_mib_return_is_refused_clearly() {
    let (m, _minions) = fleet("");
    let out = brine(
        &m,
        &["web1", "cmd.run", "head -c 10485760 /dev/zero | tr '\\0' a"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("is over max_event_size"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn returns_are_retried_across_a_master_restart() {
    let (mut m, _minions) = fleet("");
    let out = brine(&m, &["--async", "web1", "test.sleep", "3"]);
    let jid = stdout(&out).trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(m.stop(), Some(0));
    std::thread::sleep(Duration::from_secs(4));
    m.spawn();
    wait_for("the retried return in the job cache", T, || {
        let look = m.run(&["jobs.lookup_jid", &jid]);
        (stdout(&look) == "web1:\n    True\n").then_some(())
    });
}

#[test]
fn presence_new_and_lost() {
    let m = Master::start_with(
        "auto_accept: True\npresence_events: True\nloop_interval: 1\npresence_timeout: 3",
    );
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/presence/change")
        .unwrap();
    m.wait_subscribed(1);
    let mut mi = Minion::start(&m, "pres1", "");
    let ev = c.next_event(Some(T)).unwrap();
    assert_eq!(ev.data["new"], json!(["pres1"]));
    assert_eq!(ev.data["lost"], json!([]));
    let up = m.run(&["manage.up"]);
    assert_eq!(stdout(&up), "- pres1\n");
    let _ = mi.stop();
    let ev = c.next_event(Some(T)).unwrap();
    assert_eq!(ev.data["lost"], json!(["pres1"]));
    assert_eq!(stdout(&m.run(&["manage.down"])), "- pres1\n");
    mi.spawn();
    let ev = c.next_event(Some(T)).unwrap();
    assert_eq!(ev.data["new"], json!(["pres1"]));
}

#[test]
fn brine_call_local_and_return() {
    let (m, minions) = fleet("");
    let out = minions[0].call(&["--local", "cmd.run", "echo local"]);
    assert_eq!(stdout(&out), "local:\n    local\n");
    let out = minions[0].call(&["--local", "event.fire_master", "{}", "t"]);
    assert_eq!(
        stdout(&out),
        "local:\n    False\n",
        "masterless fire_master is False"
    );
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/job/").unwrap();
    m.wait_subscribed(1);
    let out = minions[0].call(&["--return", "test.echo", "hi"]);
    assert_eq!(stdout(&out), "local:\n    hi\n");
    let ev = c.next_event(Some(T)).unwrap();
    assert!(
        ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/ret/web1"),
        "{}",
        ev.tag
    );
    assert_eq!(ev.data["return"], "hi");
    assert!(brine::jobs::is_jid(ev.data["jid"].as_str().unwrap()));
}
