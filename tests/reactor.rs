//! The reactor end to end on loopback: the seeds' examples, minion start and auth reactions,
//! the queue's decommission pattern, alerts through real SMTP and HTTP servers, both
//! argument schemas, duplicate IDs, render errors, the dry run, runtime rules, throttling a
//! reaction loop, caller reactions on a minion's own reactor, and edited reactor files
//! taking effect for the next event.

use crate::common::*;
use brine::client::BusClient;
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// Writes a file under `dir` and returns its path as text.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// A client subscribed to every event of `m`.
fn watch(m: &Master) -> BusClient {
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "").expect("subscribe");
    m.wait_subscribed(1);
    c
}

/// The next event whose tag satisfies `pred`: (tag, data).
fn wait_event(
    c: &mut BusClient,
    what: &str,
    pred: impl Fn(&str, &Value) -> bool,
) -> (String, Value) {
    let end = Instant::now() + T;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no event: {what}");
        if let Ok(ev) = c.next_event(Some(left)) {
            let data = Value::Object(ev.data.clone());
            if pred(&ev.tag, &data) {
                return (ev.tag, data);
            }
        }
    }
}

fn run_ok(m: &Master, args: &[&str]) -> String {
    let o = m.run(args);
    assert!(
        o.status.success(),
        "brine-run {args:?}: {} {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn the_seed_examples_with_correct_indentation_work_as_described() {
    let d = tempfile::tempdir().unwrap();
    let start = write(
        d.path(),
        "start.sls",
        "{% if data['id'] == 'mysql1' %}\ndelete_file:\n  cmd.cmd.run:\n    - tgt: 'G@os:CentOS'\n    - expr_form: compound\n    - arg:\n      - echo cleaned\n{% endif %}\n",
    );
    let monitor = write(
        d.path(),
        "monitor.sls",
        "seen:\n  runner.event.send:\n    - tag: monitor/seen\n    - data: {id: {{ data['id'] }}}\n",
    );
    let other = write(
        d.path(),
        "other.sls",
        "{% if data['data']['state'] == 'refresh' %}\noverstate_run:\n  runner.event.send:\n    - args:\n      - tag: refreshed/{{ tag }}\n{% endif %}\n",
    );
    let m = Master::start_with(&format!(
        "auto_accept: True\nreactor:\n  - 'testtag':\n    - {start}\n    - {monitor}\n  - 'test1*tag':\n    - {other}\n"
    ));
    let mysql = Minion::start(&m, "mysql1", "grains: {os: CentOS}");
    let _web = Minion::start(&m, "web1", "grains: {os: Debian}");
    mysql.wait_log("authenticated with the master", 1);
    m.wait_log("cached the grains of", 2);
    let mut c = watch(&m);
    run_ok(&m, &["event.send", "testtag", "{id: mysql1}"]);
    // The job, its return and the runner reaction's event, in whatever order they come.
    let (mut new, mut ret, mut seen) = (None, None, false);
    let end = Instant::now() + T;
    while new.is_none() || ret.is_none() || !seen {
        assert!(Instant::now() < end, "new {new:?} ret {ret:?} seen {seen}");
        let Ok(ev) = c.next_event(Some(T)) else {
            continue;
        };
        let d = Value::Object(ev.data.clone());
        if ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/new") && d["fun"] == "cmd.run" {
            new = Some(d);
        } else if ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/ret/mysql1") {
            ret = Some(d);
        } else if ev.tag == "monitor/seen" {
            assert_eq!(d["id"], "mysql1");
            seen = true;
        }
    }
    let (new, ret) = (new.unwrap_or_default(), ret.unwrap_or_default());
    assert_eq!(new["tgt"], "G@os:CentOS");
    assert_eq!(new["tgt_type"], "compound");
    assert_eq!(new["minions"], json!(["mysql1"]));
    assert_eq!(new["arg"], json!(["echo cleaned"]));
    assert_eq!(ret["jid"], new["jid"]);
    assert_eq!(ret["return"], "cleaned");
    // The wildcard rule, from an event a minion sends (its data arrives wrapped).
    let o = mysql.call(&["event.fire_master", "{state: refresh}", "test1-db-tag"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_event(&mut c, "other.sls", |t, _| t == "refreshed/test1-db-tag");
    // expr_form is read as tgt_type, with Salt's warning.
    assert!(m.log().contains("expr_form"), "{}", m.log());
}

#[test]
fn the_seed_examples_as_printed_give_clear_errors() {
    // The master config block exactly as the seed prints it.
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("conf");
    std::fs::create_dir_all(conf.join("master.d")).unwrap();
    std::fs::write(
        conf.join("master"),
        format!(
            "sock_dir: {p}/run\ncachedir: {p}/cache\npki_dir: {p}/pki\nlog_file: {p}/log\ninterface: 127.0.0.1\npublish_port: {}\nret_port: {}\n",
            free_port(),
            free_port(),
            p = d.path().display()
        ),
    )
    .unwrap();
    let printed = "reactor:\n - 'testtag':                    ##接收到的tag\n   - /srv/reactor/start.sls\n- /srv/reactor/monitor.sls\n - 'test1*tag':                  ##接收到的tag，支持通配符\n   - /srv/reactor/other.sls\n";
    std::fs::write(conf.join("master.d/reactor.conf"), printed).unwrap();
    let child = Command::new(bin("brine-master"))
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, T);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("master.d/reactor.conf:4:"), "{err}");

    // start.sls exactly as printed: the event's reactions are dropped, and why is on the bus.
    let start = write(
        d.path(),
        "start.sls",
        "{% if data['id'] == 'mysql1' %}\ndelete_file:\n cmd.cmd.run:\n   - tgt: 'G@os:CentOS'\n- expr_form: compound\n- arg:\n - rm -rf /tmp/*\n{% endif %}\n",
    );
    let m = Master::start_with(&format!("reactor:\n  - 'testtag':\n    - {start}\n"));
    let mut c = watch(&m);
    run_ok(&m, &["event.send", "testtag", "{id: mysql1}"]);
    let (_, e) = wait_event(&mut c, "salt/reactor/error", |t, _| {
        t == "salt/reactor/error"
    });
    assert_eq!(e["tag"], "testtag");
    assert_eq!(e["sls"], start.as_str());
    let msg = e["error"].as_str().unwrap();
    assert!(msg.starts_with(&format!("{start}:5:")), "{msg}");
    m.wait_log("Unable to render reactions for event testtag", 1);
}

#[test]
fn minion_start_and_pending_auth_react() {
    let d = tempfile::tempdir().unwrap();
    let start = write(
        d.path(),
        "start.sls",
        "hello:\n  local.cmd.run:\n    - tgt: {{ data['id'] }}\n    - arg:\n      - echo hello {{ data['id'] }}\n",
    );
    let auth = write(
        d.path(),
        "auth.sls",
        "{% if data.get('act') == 'pend' %}\naccept_{{ data['id'] }}:\n  wheel.key.accept:\n    - args:\n      - match: {{ data['id'] }}\n{% endif %}\n",
    );
    let m = Master::start_with(&format!(
        "reactor:\n  - 'salt/minion/*/start':\n    - {start}\n  - 'salt/auth':\n    - {auth}\n"
    ));
    let mut c = watch(&m);
    let mi = Minion::start(&m, "m1", "");
    let (_, w) = wait_event(&mut c, "the wheel reaction", |t, d| {
        t.starts_with("salt/wheel/") && t.ends_with("/ret") && d["fun"] == "wheel.key.accept"
    });
    assert_eq!(w["user"], "Reactor");
    assert_eq!(w["success"], true);
    mi.wait_log("authenticated with the master", 1);
    let (_, ret) = wait_event(&mut c, "the start reaction's return", |t, _| {
        t.starts_with("salt/job/") && t.ends_with("/ret/m1")
    });
    assert_eq!(ret["fun"], "cmd.run");
    assert_eq!(ret["return"], "hello m1");
}

#[test]
fn a_queue_process_event_drives_one_wheel_reaction_per_item() {
    let d = tempfile::tempdir().unwrap();
    // salt-spec §11.4, verbatim.
    let decom = write(
        d.path(),
        "decom.sls",
        "{% for minion in data['items'] %}\ndelete_key_{{ minion }}:\n  wheel.key.delete:\n    - args:\n      - match: {{ minion }}\n{% endfor %}\n",
    );
    let m = Master::start_with(&format!(
        "auto_accept: True\nreactor:\n  - 'salt/queue/decom/process':\n    - {decom}\n"
    ));
    for id in ["old1", "old2", "keep1"] {
        let mut mi = Minion::start(&m, id, "");
        mi.wait_log("authenticated with the master", 1);
        let _ = mi.stop();
    }
    let mut c = watch(&m);
    assert_eq!(
        run_ok(&m, &["queue.insert", "decom", "['old1','old2']"]),
        "True\n"
    );
    run_ok(&m, &["queue.process_queue", "decom", "all"]);
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let (_, k) = wait_event(&mut c, "salt/key delete", |t, d| {
            t == "salt/key" && d["act"] == "delete"
        });
        deleted.push(k["id"].as_str().unwrap().to_owned());
    }
    deleted.sort();
    assert_eq!(deleted, ["old1", "old2"]);
    let keys = run_ok(&m, &["--out", "json", "wheel.key.list_all"]);
    let keys: Value = serde_json::from_str(&keys).unwrap();
    assert_eq!(keys["minions"], json!(["keep1"]));
    // An empty queue still fires the event; nothing is rendered into a reaction.
    run_ok(&m, &["queue.process_queue", "decom", "all"]);
    wait_event(&mut c, "the empty process event", |t, d| {
        t == "salt/queue/decom/process" && d["items"] == json!([])
    });
}

#[test]
fn an_alert_reaches_real_smtp_and_http_servers() {
    let d = tempfile::tempdir().unwrap();
    let mail_dir = d.path().join("mail");
    std::fs::create_dir_all(&mail_dir).unwrap();
    let out = mail_dir.display().to_string();
    let (_smtp, smtp_port) = py_server("smtp_sink.py", &["--mode", "plain", "--out", &out]);
    let (_http, http_port) = py_server("http_echo.py", &[]);
    let alert = write(
        d.path(),
        "alert.sls",
        &format!(
            "mail_ops:\n  local.smtp.send_msg:\n    - tgt: mon1\n    - args:\n      - recipient: ops@example.com\n      - message: \"disk full on {{{{ data['host'] }}}}\"\n      - subject: \"ALERT {{{{ data['host'] }}}}\"\n      - sender: brine@example.com\n      - server: 127.0.0.1:{smtp_port}\n      - use_ssl: False\nnotify_http:\n  local.http.query:\n    - tgt: mon1\n    - args:\n      - url: http://127.0.0.1:{http_port}/echo\n      - method: POST\n      - data: {{{{ data|json }}}}\n"
        ),
    );
    let m = Master::start_with(&format!(
        "auto_accept: True\nreactor:\n  - 'myco/alert/*':\n    - {alert}\n"
    ));
    let mi = Minion::start(&m, "mon1", "");
    mi.wait_log("authenticated with the master", 1);
    let mut c = watch(&m);
    run_ok(
        &m,
        &["event.send", "myco/alert/disk", "{host: db7, pct: 97}"],
    );
    // Both returns, in whatever order the two child processes finish.
    let (mut smtp, mut http) = (None, None);
    let end = Instant::now() + T;
    while smtp.is_none() || http.is_none() {
        assert!(
            Instant::now() < end,
            "returns: smtp {smtp:?} http {http:?}\n{}",
            mi.log()
        );
        let Ok(ev) = c.next_event(Some(T)) else {
            continue;
        };
        let d = Value::Object(ev.data.clone());
        if ev.tag.contains("/ret/mon1") && d["fun"] == "smtp.send_msg" {
            smtp = Some(d);
        } else if ev.tag.contains("/ret/mon1") && d["fun"] == "http.query" {
            http = Some(d);
        }
    }
    let (smtp, http) = (smtp.unwrap_or_default(), http.unwrap_or_default());
    assert_eq!(smtp["return"], true, "{smtp}\n{}", mi.log());
    let mail = wait_for("the mail", T, || mails(&mail_dir).into_iter().next());
    assert_eq!(mail["rcpt_tos"], json!(["ops@example.com"]), "{mail}");
    let raw = mail["data"].as_str().unwrap_or_default();
    assert!(raw.contains("Subject: ALERT db7"), "{raw}");
    assert!(raw.contains("disk full on db7"), "{raw}");
    let body: Value = serde_json::from_str(http["return"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["method"], "POST", "{http}");
    assert!(body["body"].as_str().unwrap().contains("db7"), "{body}");
}

#[test]
fn schemas_duplicates_render_errors_dry_run_and_runtime_rules() {
    let d = tempfile::tempdir().unwrap();
    let a = write(
        d.path(),
        "a.sls",
        "same:\n  runner.event.send:\n    - tag: dup/a\nlegacy:\n  runner.event.send:\n    - tag: legacy/{{ data['n'] }}\n    - data: {n: {{ data['n'] }}}\n",
    );
    let b = write(
        d.path(),
        "b.sls",
        "same:\n  runner.event.send:\n    - args:\n      - tag: dup/b\nnew_style:\n  runner.event.send:\n    - args:\n      - tag: new/{{ data.get('n', 0) }}\n      - data: {{ {'k': 'v'}|tojson }}\n",
    );
    let bad = write(d.path(), "bad.sls", "x: {{ salt['foo.bar']() }}\n");
    let m = Master::start_with(&format!(
        "reactor:\n  - 'both/*':\n    - {a}\n    - {b}\n  - 'bad/*': {bad}\n"
    ));
    let mut c = watch(&m);
    run_ok(&m, &["event.send", "both/x", "{n: 7}"]);
    let mut tags = Vec::new();
    while tags.len() < 3 {
        let (t, data) = wait_event(&mut c, "the reactions", |t, _| {
            !t.starts_with("salt/") && t != "both/x"
        });
        if t == "new/7" {
            assert_eq!(data["k"], "v");
        }
        if t == "legacy/7" {
            assert_eq!(data["n"], 7);
        }
        tags.push(t);
    }
    // Definition order; the later file's `same` replaced the earlier one's in its place.
    assert_eq!(tags, ["dup/b", "legacy/7", "new/7"]);
    // The runner events of reactions carry user Reactor (and so do not react again).
    run_ok(&m, &["event.send", "bad/y"]);
    let (_, e) = wait_event(&mut c, "the render error", |t, _| t == "salt/reactor/error");
    let msg = e["error"].as_str().unwrap();
    assert!(msg.starts_with(&format!("{bad}:1")), "{msg}");
    assert!(msg.contains("foo.bar"), "{msg}");

    // The dry run shows the rules, the rendered text and the reactions, running nothing.
    let dry = run_ok(&m, &["--out", "json", "reactor.test", "both/z", "{n: 3}"]);
    let dry: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["matched"], json!([{"both/*": [a, b]}]));
    assert!(dry["rendered"][&a]
        .as_str()
        .unwrap()
        .contains("tag: legacy/3"));
    let ids: Vec<&str> = dry["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["same", "legacy", "new_style"]);
    // Legacy keys bind by name to event.send(tag, data).
    assert_eq!(dry["reactions"][1]["arg"], json!(["legacy/3"]));
    assert_eq!(dry["reactions"][1]["kwarg"], json!({"data": {"n": 3}}));
    std::thread::sleep(Duration::from_millis(300));
    while let Ok(ev) = c.next_event(Some(Duration::from_millis(200))) {
        assert!(!ev.tag.starts_with("legacy/3"), "the dry run ran something");
    }

    // Rules at run time, then SIGHUP back to the configuration.
    let added = run_ok(
        &m,
        &[
            "--out",
            "json",
            "reactor.add",
            "extra/*",
            &format!("reactors={a}"),
        ],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&added).unwrap(),
        json!({"status": true, "comment": "Reactor added."})
    );
    run_ok(&m, &["event.send", "extra/1", "{n: 9}"]);
    wait_event(&mut c, "the added rule", |t, _| t == "legacy/9");
    let listed: Value =
        serde_json::from_str(&run_ok(&m, &["--out", "json", "reactor.list"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let gone: Value = serde_json::from_str(&run_ok(
        &m,
        &["--out", "json", "reactor.delete", "nothing/*"],
    ))
    .unwrap();
    assert_eq!(gone["comment"], "Reactor does not exists.");
    m.signal(libc::SIGHUP);
    m.wait_log("configuration reloaded", 1);
    let listed: Value =
        serde_json::from_str(&run_ok(&m, &["--out", "json", "reactor.list"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[test]
fn a_reaction_loop_is_held_by_the_throttle_and_the_master_stays_responsive() {
    let d = tempfile::tempdir().unwrap();
    // Each loop/ping makes the minion fire loop/ping again: without a throttle, forever.
    let sls = write(
        d.path(),
        "loop.sls",
        "again:\n  local.event.fire_master:\n    - tgt: loop1\n    - args:\n      - data: {n: 1}\n      - tag: loop/ping\n",
    );
    let m = Master::start_with(&format!(
        "auto_accept: True\nreactor:\n  - tag: 'loop/*'\n    sls: [{sls}]\n    throttle: {{once_within: 2, group_by: [tag]}}\n"
    ));
    let mi = Minion::start(&m, "loop1", "");
    mi.wait_log("authenticated with the master", 1);
    let mut c = watch(&m);
    run_ok(&m, &["event.send", "loop/ping"]);
    let t0 = Instant::now();
    let mut jobs = 0;
    let mut pings = 0;
    while t0.elapsed() < Duration::from_secs(5) {
        if let Ok(ev) = c.next_event(Some(Duration::from_millis(100))) {
            if ev.tag.starts_with("salt/job/") && ev.tag.ends_with("/new") {
                jobs += 1;
            }
            if ev.tag == "loop/ping" {
                pings += 1;
            }
        }
    }
    // The minion's loop/ping came back within the window and was suppressed, so the loop
    // stopped after one job (without the throttle it would spin until the master stops).
    assert_eq!(jobs, 1, "{jobs} jobs in 5 s");
    assert_eq!(pings, 2, "the first event and the minion's answer to it");
    let t = Instant::now();
    run_ok(&m, &["manage.up"]);
    assert!(t.elapsed() < Duration::from_secs(2), "the master answers");
    let listed: Value =
        serde_json::from_str(&run_ok(&m, &["--out", "json", "reactor.list"])).unwrap();
    assert!(listed[0]["suppressed"].as_u64().unwrap() >= 1, "{listed}");
}

#[test]
fn caller_reactions_run_on_the_minions_own_reactor() {
    let d = tempfile::tempdir().unwrap();
    let marker = d.path().join("touched");
    let sls = write(
        d.path(),
        "local.sls",
        &format!(
            "touch_it:\n  caller.cmd.run:\n    - args:\n      - cmd: touch {}\nskip_me:\n  local.test.ping:\n    - tgt: c1\n",
            marker.display()
        ),
    );
    let m = Master::start_with("auto_accept: True\n");
    let mi = Minion::start(
        &m,
        "c1",
        &format!("reactor:\n  - 'myco/local/*':\n    - {sls}\n"),
    );
    mi.wait_log("authenticated with the master", 1);
    let o = mi.call(&["event.fire", "{x: 1}", "myco/local/a"]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for("the caller reaction", T, || marker.exists().then_some(()));
    mi.wait_log("Reactor 'touch_it' ran caller 'cmd.run'", 1);
    mi.wait_log("only caller reactions run on a minion", 1);
}

#[test]
fn runner_reactions_past_reactor_worker_hwm_are_dropped_and_logged() {
    let d = tempfile::tempdir().unwrap();
    let mut sls = String::new();
    for i in 1..=5 {
        sls.push_str(&format!(
            "r{i}:\n  runner.event.send:\n    - args:\n      - tag: hwm/{i}\n"
        ));
    }
    let sls = write(d.path(), "many.sls", &sls);
    let m = Master::start_with(&format!(
        "reactor_worker_hwm: 2\nreactor:\n  - 'burst/*':\n    - {sls}\n"
    ));
    let mut c = watch(&m);
    run_ok(&m, &["event.send", "burst/1"]);
    let mut got = Vec::new();
    while got.len() < 2 {
        let (t, _) = wait_event(&mut c, "the queued reactions", |t, _| t.starts_with("hwm/"));
        got.push(t);
    }
    assert_eq!(got, ["hwm/1", "hwm/2"]);
    m.wait_log("TaskPool queue is full", 3);
    assert!(m.log().contains("(3 dropped so far)"), "{}", m.log());
    while let Ok(ev) = c.next_event(Some(Duration::from_millis(300))) {
        assert!(!ev.tag.starts_with("hwm/"), "{} was not dropped", ev.tag);
    }
}

/// The ids in the files `reactor.test` rendered for `tag` (a missing file is an error of
/// the dry run, so its reactions would show none).
fn dry_ids(m: &Master, tag: &str) -> Vec<String> {
    let dry = run_ok(m, &["--out", "json", "reactor.test", tag, "{}"]);
    let dry: Value = serde_json::from_str(&dry).unwrap();
    let mut ids: Vec<String> = dry["rendered"]
        .as_object()
        .map(|files| {
            files
                .values()
                .filter_map(|t| t.as_str()?.split(':').next().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn an_edited_created_or_removed_reactor_file_takes_effect_for_the_next_event() {
    let d = tempfile::tempdir().unwrap();
    let reaction = |id: &str| format!("{id}:\n  local.test.ping:\n    - tgt: '*'\n");
    let one = write(d.path(), "one.sls", &reaction("first"));
    let later = d.path().join("later/two.sls");
    let glob = format!("{}/many/*.sls", d.path().display());
    let m = Master::start_with(&format!(
        "reactor:\n  - 'edit/*':\n    - {one}\n    - {}\n    - {glob}\n",
        later.display()
    ));
    assert_eq!(dry_ids(&m, "edit/a"), ["first"]);
    // An edit in place, a file made in a directory that did not exist, a file matching
    // the glob: each is seen by the next event, with no restart or SIGHUP.
    write(d.path(), "one.sls", &reaction("edited"));
    assert_eq!(dry_ids(&m, "edit/a"), ["edited"]);
    std::fs::create_dir(d.path().join("later")).unwrap();
    std::fs::write(&later, reaction("created")).unwrap();
    std::fs::create_dir(d.path().join("many")).unwrap();
    write(d.path(), "many/x.sls", &reaction("globbed"));
    assert_eq!(dry_ids(&m, "edit/a"), ["created", "edited", "globbed"]);
    // Replaced by rename (as editors save), then removed.
    write(d.path(), "tmp.sls", &reaction("renamed"));
    std::fs::rename(d.path().join("tmp.sls"), &one).unwrap();
    std::fs::remove_file(&later).unwrap();
    assert_eq!(dry_ids(&m, "edit/a"), ["globbed", "renamed"]);
}
