//! State runs end to end: `brine '*' state.apply` through a real master to a real minion,
//! the state engine in the minion's child process, the file server and pillar behind it,
//! the highstate output, the job return event a reactor can read, test mode, the state
//! lock, state events, and a reactor that applies a state to a minion that starts.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn brine(m: &Master, args: &[&str]) -> Output {
    Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(args)
        .output()
        .expect("run brine")
}

/// A file tree and a pillar tree for the tests: `web.sls` writes `out` under `dir` with
/// pillar's `msg`, runs a command that changes only when the file changed, and `slow.sls`
/// sleeps.
fn trees(d: &Path) {
    let roots = d.join("roots");
    let pillar = d.join("pillar");
    std::fs::create_dir_all(&roots).unwrap();
    std::fs::create_dir_all(&pillar).unwrap();
    let out = d.join("out.txt");
    std::fs::write(
        roots.join("web.sls"),
        format!(
            "managed:\n  file.managed:\n    - name: {}\n    - contents: \"{{{{ pillar['msg'] }}}} from {{{{ grains['id'] }}}}\"\n\
             announce:\n  cmd.run:\n    - name: echo wrote\n    - onchanges:\n      - file: managed\n\
             noted:\n  test.succeed_without_changes:\n    - require:\n      - cmd: announce\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::write(
        roots.join("slow.sls"),
        "nap:\n  cmd.run:\n    - name: sleep 3\n",
    )
    .unwrap();
    std::fs::write(
        roots.join("marker.sls"),
        format!(
            "mark:\n  file.managed:\n    - name: {}\n    - contents: \"{{{{ pillar['stamp'] }}}}\"\n",
            d.join("marker-{{ grains['id'] }}").display()
        ),
    )
    .unwrap();
    std::fs::write(roots.join("top.sls"), "base:\n  'web*':\n    - web\n").unwrap();
    // A second saltenv whose top file speaks for itself.
    let dev = d.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(dev.join("top.sls"), "dev:\n  'web*':\n    - devonly\n").unwrap();
    std::fs::write(dev.join("devonly.sls"), "dev_state:\n  test.nop: []\n").unwrap();
    std::fs::write(pillar.join("top.sls"), "base:\n  '*':\n    - common\n").unwrap();
    std::fs::write(pillar.join("common.sls"), "msg: hello\n").unwrap();
}

fn master_conf(d: &Path, extra: &str) -> String {
    format!(
        "auto_accept: True\nfile_roots:\n  base: [{}]\n  dev: [{}]\npillar_roots:\n  base: [{}]\n{extra}",
        d.join("roots").display(),
        d.join("dev").display(),
        d.join("pillar").display()
    )
}

#[test]
fn state_apply_through_the_master_in_test_mode_then_for_real() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let m = Master::start_with(&master_conf(d.path(), ""));
    let mi = Minion::start(&m, "web1", "state_events: True");
    mi.wait_log("received the pillar from the master", 1);
    let out_file = d.path().join("out.txt");

    // test=True: the highstate outputter says what would change, and nothing changes.
    let o = brine(&m, &["web1", "state.apply", "web", "test=True"]);
    let text = stdout(&o);
    assert!(text.contains("Summary for web1"), "{text}\n{}", stderr(&o));
    assert!(text.contains("is set to be changed"), "{text}");
    assert!(!out_file.exists(), "test=True wrote the file");

    // For real, watching the job's events the way a reactor rule would.
    let mut watch = m.client();
    watch
        .subscribe(brine::matcher::MatchType::StartsWith, "salt/job/")
        .unwrap();
    m.wait_subscribed(1);
    let o = brine(&m, &["web1", "state.apply", "web", "--out", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "hello from web1\n"
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ret = &v["web1"];
    let tag = "cmd_|-announce_|-echo wrote_|-run";
    assert_eq!(ret[tag]["changes"]["stdout"], json!("wrote"), "{ret}");
    assert_eq!(ret[tag]["__run_num__"], json!(1));
    // Progress events travel beside the return (as Salt's fire_master does), so the last
    // may arrive just after it.
    let mut progs = 0;
    let mut ret_ev = None;
    while progs < 3 || ret_ev.is_none() {
        let ev = watch.next_event(Some(Duration::from_secs(20))).unwrap();
        if ev.tag.contains("/prog/web1/") {
            progs += 1;
            assert_eq!(ev.data["data"]["len"], json!(3), "{:?}", ev.data);
        }
        if ev.tag.contains("/ret/web1") {
            ret_ev = Some(ev);
        }
    }
    assert_eq!(progs, 3, "one state_events event per state");
    let ev = ret_ev.unwrap();
    assert_eq!(ev.data["out"], json!("highstate"));
    assert_eq!(ev.data["fun"], json!("state.apply"));
    assert_eq!(ev.data["return"][tag]["result"], json!(true));

    // The second run changes nothing, so the onchanges command does not run.
    let o = brine(&m, &["web1", "state.apply", "web", "--out", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["web1"][tag]["comment"],
        json!("State was not run because none of the onchanges reqs changed")
    );

    // pillar= overrides the compiled pillar for one run.
    let o = brine(
        &m,
        &[
            "web1",
            "state.apply",
            "web",
            r#"pillar={"msg": "over"}"#,
            "--out",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "over from web1\n"
    );

    // The highstate from top.sls, and a compile error as Salt's list with retcode 1.
    let o = brine(&m, &["web1", "state.highstate", "--out", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["web1"][tag].is_object(), "{v}");
    assert!(
        v["web1"]["test_|-dev_state_|-dev_state_|-nop"].is_object(),
        "{v}"
    );
    // The saltenvs come from the master (_file_envs), each top file for its own saltenv.
    let o = brine(&m, &["web1", "state.show_top", "--out", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["web1"], json!({"base": ["web"], "dev": ["devonly"]}));
    let o = brine(&m, &["web1", "state.apply", "nosuch", "--out", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["web1"],
        json!(["No matching sls found for 'nosuch' in env 'base'"])
    );
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn a_second_run_is_refused_unless_queued_and_the_minion_keeps_answering() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let m = Master::start_with(&master_conf(d.path(), ""));
    let mi = Minion::start(&m, "web1", "");
    mi.wait_log("received the pillar from the master", 1);
    let conf = mi.conf();
    let first = std::thread::spawn(move || {
        Command::new(bin("brine-call"))
            .arg("-c")
            .arg(conf)
            .args(["--out", "json", "state.apply", "slow"])
            .output()
            .unwrap()
    });
    wait_for(
        "the first run to hold the lock",
        Duration::from_secs(20),
        || {
            let lock = mi.dir.path().join("cache/state.lock");
            std::fs::read_to_string(lock)
                .ok()
                .filter(|s| s.contains("state.apply"))
        },
    );
    // The minion's loop is free while a state runs.
    let o = mi.call(&["--out", "json", "test.ping"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["local"], json!(true), "{}", stdout(&o));
    let o = mi.call(&["--out", "json", "state.apply", "slow"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let msg = v["local"][0].as_str().unwrap_or_default().to_string();
    assert!(
        msg.starts_with("The function \"state.apply\" is running as PID ")
            && msg.contains(" with jid "),
        "{v}"
    );
    assert_eq!(o.status.code(), Some(1));
    let o = mi.call(&["--out", "json", "state.apply", "slow", "queue=True"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["local"]["cmd_|-nap_|-sleep 3_|-run"]["result"],
        json!(true),
        "{v}"
    );
    let o = first.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn a_reactor_applies_a_state_to_the_minion_that_starts() {
    let d = tempfile::tempdir().unwrap();
    trees(d.path());
    let rule = d.path().join("start.sls");
    std::fs::write(
        &rule,
        "apply:\n  local.state.apply:\n    - tgt: {{ data['id'] }}\n    - arg:\n      - marker\n    - kwarg:\n        pillar: {stamp: started}\n        queue: True\n",
    )
    .unwrap();
    let m = Master::start_with(&master_conf(
        d.path(),
        &format!(
            "reactor:\n  - 'salt/minion/*/start':\n    - {}\n",
            rule.display()
        ),
    ));
    let _mi = Minion::start(&m, "web7", "");
    let marker = d.path().join("marker-web7");
    wait_for("the reactor's state run", Duration::from_secs(30), || {
        std::fs::read_to_string(&marker)
            .ok()
            .filter(|s| s == "started\n")
    });
}
