//! Orchestration end to end: `brine-run state.orchestrate` on a real master with real
//! minions (salt.state, salt.function, salt.wait_for_event, requisites, a failing minion,
//! test mode, a timeout), ten orchestrations at once while the master keeps answering, and
//! the seed's reactor file whose `runner.state.over` reaches a highstate on the minions.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn run(m: &Master, args: &[&str]) -> Output {
    Command::new(bin("brine-run"))
        .arg("-c")
        .arg(m.conf())
        .args(args)
        .output()
        .expect("run brine-run")
}

/// `roots/web.sls` changes something on m1 and m2 and fails on m3; `top.sls` gives every
/// minion `web`; `orch/*.sls` are the orchestrations.
fn trees(d: &Path) {
    let roots = d.join("roots");
    std::fs::create_dir_all(roots.join("orch")).unwrap();
    std::fs::write(
        roots.join("web.sls"),
        "{% if grains['id'] == 'm3' %}\nbroken:\n  test.fail_without_changes: []\n{% else %}\ndeployed:\n  test.succeed_with_changes: []\n{% endif %}\n",
    )
    .unwrap();
    std::fs::write(roots.join("top.sls"), "base:\n  '*':\n    - web\n").unwrap();
    std::fs::create_dir_all(roots.join("tops")).unwrap();
    std::fs::write(roots.join("tops/alt.sls"), "base:\n  'm1':\n    - calm\n").unwrap();
    std::fs::write(
        roots.join("calm.sls"),
        "calm:\n  test.succeed_without_changes: []\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/top.sls"),
        "via_top:\n  salt.state:\n    - tgt: m1\n    - top: salt://tops/alt.sls\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/deploy.sls"),
        "deploy:\n  salt.state:\n    - tgt: 'm*'\n    - sls: web\n    - fail_minions: m3\n\
         ping:\n  salt.function:\n    - name: test.ping\n    - tgt: '{{ pillar.get('event_data', {}).get('who', 'm*') }}'\n    - require:\n      - salt: deploy\n\
         ready:\n  salt.wait_for_event:\n    - name: orch/ready\n    - id_list: [m1]\n    - timeout: 60\n    - require:\n      - salt: ping\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/strict.sls"),
        "deploy:\n  salt.state:\n    - tgt: 'm*'\n    - sls: web\n\
         after:\n  salt.function:\n    - name: test.ping\n    - tgt: m1\n    - require:\n      - salt: deploy\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/wait.sls"),
        "ready:\n  salt.wait_for_event:\n    - name: orch/{{ pillar['n'] }}\n    - id_list: [m1]\n    - timeout: {{ pillar.get('timeout', 60) }}\n",
    )
    .unwrap();
}

fn master(d: &Path, extra: &str) -> Master {
    Master::start_with(&format!(
        "auto_accept: True\nfile_roots:\n  base: [{}]\n{extra}",
        d.join("roots").display()
    ))
}

fn minions(m: &Master) -> Vec<Minion> {
    let all: Vec<Minion> = ["m1", "m2", "m3"]
        .iter()
        .map(|id| Minion::start(m, id, ""))
        .collect();
    for mi in &all {
        mi.wait_log("authenticated with the master", 1);
    }
    all
}

fn json_out(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

/// Fires `orch/<n>` from m1 every half second until stopped.
fn keep_firing(mi: &Minion, tag: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (s, conf, tag) = (stop.clone(), mi.conf(), tag.to_string());
    let h = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            let _ = Command::new(bin("brine-call"))
                .arg("-c")
                .arg(&conf)
                .args(["event.fire_master", "{id: m1}", &tag])
                .output();
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    (stop, h)
}

#[test]
fn an_orchestration_across_three_minions_with_requisites_and_a_failing_minion() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let m = master(d.path(), "");
    let all = minions(&m);
    let (stop, h) = keep_firing(&all[0], "orch/ready");
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.deploy"]);
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["retcode"], 0);
    assert_eq!(v["outputter"], "highstate");
    let data = v["data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "{v}");
    let (id, steps) = data.iter().next().unwrap();
    assert!(id.ends_with("_master"), "{id}");
    let deploy = &steps["salt_|-deploy_|-deploy_|-state"];
    assert_eq!(deploy["result"], true, "{deploy}");
    // m3 failed but is excused; its failed return is among the changes, as in Salt.
    assert_eq!(
        deploy["comment"],
        "States ran successfully. Updating m1, m2, m3."
    );
    assert_eq!(deploy["changes"]["out"], "highstate");
    assert_eq!(
        deploy["changes"]["ret"]["m1"]["test_|-deployed_|-deployed_|-succeed_with_changes"]
            ["result"],
        true
    );
    assert!(deploy["__jid__"].is_string());
    let ping = &steps["salt_|-ping_|-test.ping_|-function"];
    assert_eq!(ping["result"], true, "{ping}");
    assert_eq!(
        ping["changes"]["ret"],
        json!({"m1": true, "m2": true, "m3": true})
    );
    let ready = &steps["salt_|-ready_|-orch/ready_|-wait_for_event"];
    assert_eq!(ready["result"], true, "{ready}");
    assert_eq!(ready["changes"]["minions_seen"], json!(["m1"]));
    assert!(ready["comment"]
        .as_str()
        .unwrap()
        .starts_with("All events seen in "));
    assert_eq!(deploy["__run_num__"], 0);
    assert_eq!(ready["__run_num__"], 2);

    // Without fail_minions the failing minion fails the step and what requires it; the
    // highstate outputter nests the minions' returns.
    let o = run(&m, &["state.orch", "orch.strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("Run failed on minions: m3"), "{text}");
    assert!(
        text.contains("One or more requisite failed: orch.strict.deploy"),
        "{text}"
    );
    assert!(text.contains("_master"), "{text}");
    assert!(text.contains("Summary for"), "{text}");

    // Test mode publishes the state run with test=True and changes nothing.
    let o = run(
        &m,
        &[
            "--out",
            "json",
            "state.orchestrate",
            "orch.deploy",
            "test=True",
        ],
    );
    let v = json_out(&o);
    let steps = v["data"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let deploy = &steps["salt_|-deploy_|-deploy_|-state"];
    assert_eq!(deploy["result"], Value::Null, "{deploy}");
    assert_eq!(
        deploy["changes"]["ret"]["m1"]["test_|-deployed_|-deployed_|-succeed_with_changes"]
            ["comment"],
        "If we weren't testing, this would be successful with changes"
    );
    assert_eq!(
        steps["salt_|-ping_|-test.ping_|-function"]["comment"],
        "Function test.ping would be executed on target m*"
    );
    assert_eq!(
        steps["salt_|-ready_|-orch/ready_|-wait_for_event"]["comment"],
        "Orchestration would wait for event 'orch/ready'"
    );

    // A timeout, and a missing SLS, each with retcode 1.
    let o = run(
        &m,
        &[
            "--out",
            "json",
            "state.orchestrate",
            "orch.wait",
            r#"pillar={"n": "never", "timeout": 1}"#,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json_out(&o);
    let steps = v["data"].as_object().unwrap().values().next().unwrap();
    assert_eq!(
        steps["salt_|-ready_|-orch/never_|-wait_for_event"]["comment"],
        "Timeout value reached."
    );
    // salt.state's top: publishes state.top with that top file.
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.top"]);
    let v = json_out(&o);
    let steps = v["data"].as_object().unwrap().values().next().unwrap();
    let s = &steps["salt_|-via_top_|-via_top_|-state"];
    assert_eq!(
        s["comment"], "States ran successfully. No changes made to m1.",
        "{s}"
    );
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json_out(&o);
    assert_eq!(
        v["data"].as_object().unwrap().values().next().unwrap(),
        &json!(["No matching sls found for 'orch.nosuch' in env 'base'"])
    );
}

#[test]
fn ten_orchestrations_wait_at_once_while_the_master_answers() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let m = master(d.path(), "");
    let all = minions(&m);
    let mut c = m.client();
    c.subscribe(brine::matcher::MatchType::StartsWith, "salt/run/")
        .unwrap();
    m.wait_subscribed(1);
    let mut runs: Vec<std::process::Child> = (0..10)
        .map(|n| {
            Command::new(bin("brine-run"))
                .arg("-c")
                .arg(m.conf())
                .args([
                    "--out",
                    "json",
                    "state.orchestrate",
                    "orch.wait",
                    &format!(r#"pillar={{"n": "go{n}"}}"#),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut started = 0;
    let end = std::time::Instant::now() + Duration::from_secs(30);
    while started < 10 {
        assert!(
            std::time::Instant::now() < end,
            "{started} orchestrations started"
        );
        if let Ok(ev) = c.next_event(Some(Duration::from_secs(5))) {
            if ev.tag.ends_with("/new")
                && ev.data.get("fun") == Some(&json!("runner.state.orchestrate"))
            {
                started += 1;
            }
        }
    }
    // All ten wait on the bus; the master answers other runners meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    let o = run(&m, &["--out", "json", "event.send", "probe/y"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in runs.iter_mut() {
        assert!(
            r.try_wait().unwrap().is_none(),
            "an orchestration ended before its event"
        );
    }
    for n in 0..10 {
        let o = all[0].call(&["event.fire_master", "{id: m1}", &format!("orch/go{n}")]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for c in runs {
        let o = output_within(c, Duration::from_secs(60));
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
        assert_eq!(json_out(&o)["retcode"], 0);
    }
}

#[test]
fn the_seed_reactor_runs_state_over_to_a_highstate_on_the_minions() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let other = d.path().join("other.sls");
    // The seed's other.sls, its indentation fixed.
    std::fs::write(
        &other,
        "{% if data['data']['state'] == 'refresh' %}\noverstate_run:\n  runner.state.over: []\n{% endif %}\n",
    )
    .unwrap();
    let deploy = d.path().join("deploy.sls");
    std::fs::write(
        &deploy,
        "orch:\n  runner.state.orchestrate:\n    - args:\n      - mods: orch.wait\n      - pillar:\n          n: {{ data['data']['n'] }}\n          timeout: 1\n",
    )
    .unwrap();
    let m = master(
        d.path(),
        &format!(
            "reactor:\n  - 'test1*tag':\n    - {}\n  - 'deploy/*':\n    - {}\n",
            other.display(),
            deploy.display()
        ),
    );
    let all = minions(&m);
    let mut c = m.client();
    c.subscribe(brine::matcher::MatchType::StartsWith, "salt/")
        .unwrap();
    m.wait_subscribed(1);
    let o = all[0].call(&["event.fire_master", "{state: refresh}", "test1-db-tag"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // No overstate.sls: a highstate on every minion, and the OverState's progress events.
    let mut highstates = std::collections::BTreeSet::new();
    let mut over_ret = None;
    let mut messages = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(60);
    while highstates.len() < 3 || over_ret.is_none() {
        assert!(
            std::time::Instant::now() < end,
            "{highstates:?} {over_ret:?}"
        );
        let Ok(ev) = c.next_event(Some(Duration::from_secs(5))) else {
            continue;
        };
        let d = Value::Object(ev.data.clone());
        if ev.tag.contains("/ret/") && d["fun"] == "state.highstate" {
            highstates.insert(d["id"].as_str().unwrap_or_default().to_string());
        }
        if ev.tag.ends_with("/progress") {
            if let Some(msg) = d["message"].as_str() {
                messages.push(msg.to_string());
            }
        }
        if ev.tag.starts_with("salt/run/")
            && ev.tag.ends_with("/ret")
            && d["fun"] == "runner.state.over"
        {
            over_ret = Some(d);
        }
    }
    let ret = over_ret.unwrap();
    assert_eq!(ret["user"], "Reactor");
    assert_eq!(ret["return"]["highstate"]["m1"]["fun"], "state.highstate");
    assert_eq!(ret["return"]["highstate"]["m3"]["success"], false);
    assert_eq!(
        messages,
        [
            "Executing the following Over State:",
            "Executed Stage:",
            "Stage execution results:"
        ]
    );
    assert!(m.log().contains("use state.orchestrate"), "{}", m.log());

    // runner.state.orchestrate from a reactor file, the event's data in the pillar.
    let o = all[1].call(&["event.fire_master", "{n: fromreactor}", "deploy/web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(std::time::Instant::now() < end, "no orchestrate return");
        let Ok(ev) = c.next_event(Some(Duration::from_secs(5))) else {
            continue;
        };
        let d = Value::Object(ev.data.clone());
        if ev.tag.ends_with("/ret") && d["fun"] == "runner.state.orchestrate" {
            let steps = d["return"]["data"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone();
            assert!(
                steps
                    .get("salt_|-ready_|-orch/fromreactor_|-wait_for_event")
                    .is_some(),
                "{steps}"
            );
            break;
        }
    }
}

/// A comment with each run of minion ids (`m2, m1, m3`) in sorted order: Salt joins them in
/// the order returns arrived, brine sorts them.
fn sorted_ids(comment: &str) -> String {
    let mut out = String::new();
    let mut rest = comment;
    while let Some(i) = rest
        .find("m1")
        .into_iter()
        .chain(rest.find("m2"))
        .chain(rest.find("m3"))
        .min()
    {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let mut ids = Vec::new();
        let mut t = tail;
        loop {
            if t.len() >= 2 && t.starts_with('m') && t.as_bytes()[1].is_ascii_digit() {
                ids.push(&t[..2]);
                t = &t[2..];
                if let Some(n) = t.strip_prefix(", ") {
                    if n.starts_with('m') {
                        t = n;
                        continue;
                    }
                }
            }
            break;
        }
        ids.sort();
        out.push_str(&ids.join(", "));
        rest = t;
    }
    out.push_str(rest);
    out
}

/// Highstate text with its times and durations blanked as the fixtures have them, and the
/// minion lists of comments sorted.
fn normal_text(text: &str) -> String {
    // salt-run runs the orchestration in its own process, whose LocalClient prints this line
    // for a target that matches nothing; brine's runs in the master and prints nothing.
    let lines = text
        .lines()
        .filter(|l| {
            *l != "No minions matched the target. No command was sent, no jid was assigned."
        })
        .map(|l| {
            let blank =
                |key: &str, with: &str| l.find(key).map(|i| format!("{}{key}{with}", &l[..i]));
            blank("Started: ", "<time>")
                .or_else(|| blank("Duration: ", "0 ms"))
                .or_else(|| blank("Total run time: ", "<dur>"))
                .unwrap_or_else(|| sorted_ids(l))
        })
        .collect::<Vec<_>>();
    sort_minion_blocks(&lines).join("\n")
}

/// Whether line `i` still belongs to a minion's block: indented under `Changes:`, or blank
/// with an indented line after it.
fn in_block(lines: &[String], i: usize, pad: &str) -> bool {
    if lines[i].trim().is_empty() {
        return lines.get(i + 1).is_some_and(|n| n.starts_with(pad));
    }
    lines[i].starts_with(pad)
}

/// The minions' nested returns under a step's `Changes:` in id order: Salt prints them in
/// the order they arrived, brine sorts them.
fn sort_minion_blocks(lines: &[String]) -> Vec<String> {
    let pad = " ".repeat(14);
    let is_head = |l: &str| {
        l.strip_prefix(&pad)
            .is_some_and(|r| r.len() == 3 && r.starts_with('m') && r.ends_with(':'))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_head(&lines[i]) {
            out.push(lines[i].clone());
            i += 1;
            continue;
        }
        let mut blocks: Vec<Vec<String>> = Vec::new();
        while i < lines.len() && is_head(&lines[i]) {
            let mut b = vec![lines[i].clone()];
            i += 1;
            while i < lines.len() && !is_head(&lines[i]) && in_block(lines, i, &pad) {
                b.push(lines[i].clone());
                i += 1;
            }
            blocks.push(b);
        }
        blocks.sort();
        out.extend(blocks.into_iter().flatten());
    }
    out
}

#[test]
fn orchestrate_matches_salt_3007_fixtures() {
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/salt/orch.json").unwrap())
            .unwrap();
    let d = tempfile::tempdir().unwrap();
    let roots = d.path().join("roots");
    std::fs::create_dir_all(roots.join("orch")).unwrap();
    let m = master(d.path(), "id: master\n");
    let all = minions(&m);
    // Deliberate differences: brine has no `test` runner module; PyYAML's error text.
    let skip = ["runner_test_arg", "wait_seen"];
    let mut compared = 0;
    for case in fx["cases"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        if skip.contains(&name) {
            continue;
        }
        for (path, text) in case["files"].as_object().unwrap() {
            let p = roots.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text.as_str().unwrap()).unwrap();
        }
        let mut args = vec![
            "--out",
            "json",
            "state.orchestrate",
            case["mods"].as_str().unwrap(),
        ];
        for a in case["args"].as_array().unwrap() {
            args.push(a.as_str().unwrap());
        }
        let o = run(&m, &args);
        assert_eq!(
            o.status.code(),
            case["exit_code"].as_i64().map(|c| c as i32),
            "{name}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        let v = json_out(&o);
        let want = case["return"]["data"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        let got = v["data"].as_object().unwrap().values().next().unwrap();
        match want {
            Value::Array(_) => assert!(got.is_array(), "{name}: {got}"),
            Value::Object(states) => {
                for (tag, w) in states {
                    let g = &got[tag];
                    assert_eq!(g["result"], w["result"], "{name} {tag}: {g}");
                    let (wc, gc) = (
                        w["comment"].as_str().unwrap_or_default(),
                        g["comment"].as_str().unwrap_or_default(),
                    );
                    if name == "wheel_key_list_all" || wc.starts_with("All events seen") {
                        assert_eq!(g["result"], w["result"]);
                    } else {
                        assert_eq!(sorted_ids(gc), sorted_ids(wc), "{name} {tag}");
                    }
                    let keys = |v: &Value| -> Vec<String> {
                        let mut k: Vec<String> = v["changes"]["ret"]
                            .as_object()
                            .map(|m| m.keys().cloned().collect())
                            .unwrap_or_default();
                        k.sort();
                        k
                    };
                    assert_eq!(keys(g), keys(w), "{name} {tag}: {g}");
                    assert_eq!(g["__run_num__"], w["__run_num__"], "{name} {tag}");
                    assert_eq!(
                        g.get("__jid__").is_some(),
                        w.get("__jid__").is_some(),
                        "{name} {tag}: __jid__"
                    );
                }
            }
            other => panic!("{name}: {other}"),
        }
        // The highstate text, as salt-run printed it (PyYAML's error text and the master's
        // own key names differ by nature).
        if !["render_error", "wheel_key_list_all"].contains(&name) {
            let o = run(&m, &args[2..]);
            assert_eq!(
                normal_text(&stdout(&o)),
                normal_text(case["text"].as_str().unwrap()),
                "{name}"
            );
        }
        compared += 1;
    }
    assert!(compared >= 20, "{compared}");
    drop(all);
}

#[test]
fn state_over_prints_its_stages_and_steps_run_on_the_master() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let roots = d.path().join("roots");
    std::fs::write(
        roots.join("overstate.sls"),
        "database:\n  match: m1\n  sls:\n    - web\napp:\n  match: 'm2 or m3'\n  require:\n    - database\n",
    )
    .unwrap();
    let touched = d.path().join("touched");
    std::fs::write(
        roots.join("orch/master.sls"),
        format!(
            "touch:\n  cmd.run:\n    - name: echo hi > {t}\n    - unless: test -e {t}\n\
             sub:\n  salt.runner:\n    - name: state.orchestrate\n    - mods: orch.inner\n\
             some:\n  salt.function:\n    - name: test.ping\n    - tgt: 'm*'\n    - subset: 1\n\
             keys:\n  salt.wheel:\n    - name: key.list_all\n\
             enqueue:\n  salt.runner:\n    - name: queue.insert\n    - queue: orchq\n    - items: job1\n\
             dequeue:\n  salt.runner:\n    - name: queue.pop\n    - queue: orchq\n    - require:\n      - salt: enqueue\n",
            t = touched.display()
        ),
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/inner.sls"),
        "inner:\n  test.succeed_with_changes: []\n",
    )
    .unwrap();
    let m = master(d.path(), "id: conductor\n");
    let _all = minions(&m);

    let o = run(&m, &["state.over"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let expect_start = "Executing the following Over State:\napp: \n    match: m2 or m3\n    require: ['database']\ndatabase: \n    match: m1\n    sls: ['web']\nExecuted Stage:\ndatabase: \n    match: m1\n    sls: ['web']\nStage execution results:\nm1:\n";
    assert!(text.starts_with(expect_start), "{text}");
    assert!(text.contains("Executed Stage:\napp: \n    match: m2 or m3\n    require: ['database']\nStage execution results:\n"), "{text}");
    assert!(text.contains("\napp:\n    ----------\n    m2:\n"), "{text}");
    let o = run(&m, &["--out", "json", "state.show_stages"]);
    assert_eq!(
        json_out(&o),
        json!([{"app": {"match": "m2 or m3", "require": ["database"]}},
               {"database": {"match": "m1", "sls": ["web"]}}])
    );

    // A master-side state (off the loop, with its unless), a nested orchestration, a subset.
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.master"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let v = json_out(&o);
    let steps = &v["data"]["conductor"];
    assert_eq!(
        steps["cmd_|-touch_|-echo hi > ".to_string() + &touched.display().to_string() + "_|-run"]
            ["result"],
        true,
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&touched).unwrap(), "hi\n");
    let sub = &steps["salt_|-sub_|-state.orchestrate_|-runner"];
    assert_eq!(
        sub["comment"], "Runner function 'state.orchestrate' executed.",
        "{sub}"
    );
    assert_eq!(
        sub["changes"]["return"]["data"]["conductor"]
            ["test_|-inner_|-inner_|-succeed_with_changes"]["result"],
        true
    );
    let some = &steps["salt_|-some_|-test.ping_|-function"];
    assert_eq!(
        some["changes"]["ret"].as_object().unwrap().len(),
        1,
        "{some}"
    );
    assert_eq!(
        steps["salt_|-keys_|-key.list_all_|-wheel"]["changes"]["return"]["minions"],
        json!(["m1", "m2", "m3"])
    );
    // A queue runner's answer comes after the turn's commit, and reaches its step.
    assert_eq!(
        steps["salt_|-dequeue_|-queue.pop_|-runner"]["changes"]["return"],
        json!(["job1"]),
        "{v}"
    );
    // The second time the unless command says the file exists.
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.master"]);
    let v = json_out(&o);
    let touch = v["data"]["conductor"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("cmd_|-touch"))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(touch["comment"], "unless condition is true", "{touch}");
}

#[test]
fn a_minion_that_does_not_answer_fails_its_step_after_the_timeout() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let roots = d.path().join("roots");
    std::fs::write(
        roots.join("ok.sls"),
        "fine:\n  test.succeed_without_changes: []\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/slow.sls"),
        "all_at_once:\n  salt.state:\n    - tgt: 'm*'\n    - sls: ok\n    - timeout: 2\n\
         one_by_one:\n  salt.state:\n    - tgt: 'm*'\n    - sls: ok\n    - batch: 1\n    - timeout: 2\n",
    )
    .unwrap();
    let m = master(d.path(), "");
    let all = minions(&m);
    let stopped = all[2].pid() as i32;
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(stopped, libc::SIGSTOP) };
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.slow"]);
    // SAFETY: as above.
    unsafe { libc::kill(stopped, libc::SIGCONT) };
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json_out(&o);
    let steps = v["data"].as_object().unwrap().values().next().unwrap();
    for tag in [
        "salt_|-all_at_once_|-all_at_once_|-state",
        "salt_|-one_by_one_|-one_by_one_|-state",
    ] {
        let s = &steps[tag];
        assert_eq!(s["result"], false, "{s}");
        assert_eq!(
            s["comment"], "Run failed on minions: m3\nMinion m3 did not return a state result.",
            "{tag}"
        );
        assert_eq!(s["changes"]["ret"], json!({"m3": false}), "{s}");
    }
    assert!(steps["salt_|-one_by_one_|-one_by_one_|-state"]
        .get("__jid__")
        .is_none());
}

#[test]
fn bad_steps_fail_with_a_clear_comment_and_the_master_stays_up() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let roots = d.path().join("roots");
    std::fs::write(
        roots.join("orch/bad.sls"),
        "bad_batch:\n  salt.state:\n    - tgt: 'm*'\n    - sls: web\n    - batch: 'x%y'\n\
         bad_type:\n  salt.function:\n    - name: test.ping\n    - tgt: m1\n    - tgt_type: nonsense\n\
         no_tgt:\n  salt.function:\n    - name: test.ping\n\
         unknown:\n  salt.nosuch:\n    - tgt: m1\n\
         bad_allow:\n  salt.state:\n    - tgt: m1\n    - sls: web\n    - allow_fail: many\n",
    )
    .unwrap();
    std::fs::write(roots.join("orch/notdict.sls"), "- just\n- a list\n").unwrap();
    std::fs::write(
        roots.join("m1fails.sls"),
        "{% if grains['id'] == 'm1' %}\nno:\n  test.fail_without_changes: []\n{% else %}\nyes:\n  test.succeed_without_changes: []\n{% endif %}\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("orch/hard.sls"),
        "rolling:\n  salt.state:\n    - tgt: 'm*'\n    - sls: m1fails\n    - batch: 1\n    - failhard: True\n",
    )
    .unwrap();
    let m = master(d.path(), "");
    let _all = minions(&m);
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.bad"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json_out(&o);
    let steps = v["data"].as_object().unwrap().values().next().unwrap();
    let comment = |tag: &str| {
        steps[tag]["comment"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        comment("salt_|-bad_batch_|-bad_batch_|-state").contains("Invalid batch data sent: x%y"),
        "{v}"
    );
    assert_eq!(
        comment("salt_|-bad_type_|-test.ping_|-function"),
        "Unknown target type 'nonsense'"
    );
    assert_eq!(
        comment("salt_|-no_tgt_|-test.ping_|-function"),
        "Missing parameter tgt for state salt.function\n"
    );
    assert!(
        comment("salt_|-unknown_|-unknown_|-nosuch").contains("'salt.nosuch' is not available"),
        "{v}"
    );
    assert_eq!(
        comment("salt_|-bad_allow_|-bad_allow_|-state"),
        "Passed invalid value for 'allow_fail', must be an int"
    );
    for s in steps.as_object().unwrap().values() {
        assert_eq!(s["result"], false, "{s}");
    }
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.notdict"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(json_out(&o)["data"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .is_array());
    let o = run(
        &m,
        &[
            "--out",
            "json",
            "state.orchestrate",
            "orch.bad",
            "pillar=[1, 2]",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("Pillar data must be formatted as a dictionary"),
        "{}",
        stdout(&o)
    );
    // failhard in a batch: after m1 fails, no other minion starts.
    let o = run(&m, &["--out", "json", "state.orchestrate", "orch.hard"]);
    let v = json_out(&o);
    let s = &v["data"].as_object().unwrap().values().next().unwrap()
        ["salt_|-rolling_|-rolling_|-state"];
    assert_eq!(s["comment"], "Run failed on minions: m1", "{s}");
    assert_eq!(s["changes"]["ret"].as_object().unwrap().len(), 1, "{s}");
    // Still answering.
    let o = run(&m, &["--out", "json", "event.send", "still/up"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
