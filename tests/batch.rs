//! `brine -b`, Salt's batch mode, through a real master and three real minions: the
//! rolling window seen in the printed lines and in the job events, and minions that do not
//! answer the ping or do not return the job.

use crate::common::*;
use brine::matcher::MatchType;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// brine against this master.
fn brine(m: &Master, args: &[&str]) -> Output {
    Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(args)
        .output()
        .expect("run brine")
}

/// A master with db1, web1 and web2 accepted and connected.
fn fleet() -> (Master, Vec<Minion>) {
    let m = Master::start_with("auto_accept: True\n");
    let minions: Vec<Minion> = ["db1", "web1", "web2"]
        .iter()
        .map(|id| Minion::start(&m, id, ""))
        .collect();
    for mi in &minions {
        mi.wait_log("authenticated with the master", 1);
    }
    // A minion that just authenticated may not hear a publication yet; the batch runs
    // below must not count it down for that.
    wait_for("all three answer", Duration::from_secs(30), || {
        let out = brine(&m, &["--static", "-t", "5", "*", "test.ping"]);
        out.status.success().then_some(())
    });
    (m, minions)
}

/// What salt -b prints before each group it starts.
fn executing(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
    format!("\nExecuting run on [{}]\n\n", quoted.join(", "))
}

/// The job events of one run, in bus order: ("new", tgt) and ("ret", minion), without the
/// test.ping that finds the minions (the only glob-targeted job).
fn job_events(c: &mut brine::client::BusClient) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    while let Ok(ev) = c.next_event(Some(Duration::from_millis(300))) {
        if ev.tag.ends_with("/new") && ev.data["tgt_type"] == "list" {
            out.push(("new".to_string(), ev.data["tgt"].clone()));
        } else if ev.tag.contains("/ret/") && ev.data["fun"] == "cmd.run" {
            out.push(("ret".to_string(), ev.data["id"].clone()));
        }
    }
    out
}

#[test]
fn a_window_of_one_runs_the_minions_one_at_a_time() {
    let (m, _minions) = fleet();
    let out = brine(&m, &["-b", "1", "*", "test.ping"]);
    let want = [
        executing(&["db1"]),
        "db1:\n    True\n".into(),
        executing(&["web1"]),
        "web1:\n    True\n".into(),
        executing(&["web2"]),
        "web2:\n    True\n".into(),
    ]
    .concat();
    assert_eq!(stdout(&out), want, "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));

    // The bus shows it: each group is a list-targeted job of its own, published only
    // after the previous minion's return. 50% of 3 minions rounds down to 1, as in salt.
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/job/").unwrap();
    m.wait_subscribed(1);
    let out = brine(&m, &["--batch-size", "50%", "*", "cmd.run", "echo hi"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).starts_with(&executing(&["db1"])));
    let evs = job_events(&mut c);
    let shown: Vec<String> = evs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    assert_eq!(
        shown,
        [
            r#"new ["db1"]"#,
            r#"ret "db1""#,
            r#"new ["web1"]"#,
            r#"ret "web1""#,
            r#"new ["web2"]"#,
            r#"ret "web2""#,
        ],
    );
}

#[test]
fn a_window_of_two_starts_the_third_minion_when_one_returns() {
    let (m, _minions) = fleet();
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/job/").unwrap();
    m.wait_subscribed(1);
    // 67% of 3 is 2.01: a window of 2.
    let out = brine(
        &m,
        &["--batch", "67%", "--out", "json", "*", "cmd.run", "echo hi"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.starts_with(&executing(&["db1", "web1"])), "{text}");
    assert!(text.contains(&executing(&["web2"])), "{text}");
    let evs = job_events(&mut c);
    // db1 and web1 together, then web2 once one of them returned (or both: they may
    // return within the same millisecond), never three at once.
    assert_eq!(
        evs[0],
        ("new".to_string(), serde_json::json!(["db1", "web1"])),
        "{evs:?}"
    );
    assert_eq!(evs[1].0, "ret", "{evs:?}");
    let third = evs
        .iter()
        .position(|e| e.0 == "new" && e.1 == serde_json::json!(["web2"]));
    assert!(matches!(third, Some(2 | 3)), "{evs:?}");
    let mut out_now = 0i32;
    for (k, v) in &evs {
        if k == "new" {
            out_now += v.as_array().map_or(0, |a| a.len() as i32);
        } else {
            out_now -= 1;
        }
        assert!(out_now <= 2, "{evs:?}");
    }
    let mut rets: Vec<String> = evs
        .iter()
        .filter(|(k, _)| k == "ret")
        .map(|(_, v)| v.as_str().unwrap_or("").to_string())
        .collect();
    rets.sort();
    assert_eq!(rets, ["db1", "web1", "web2"], "{evs:?}");

    // --batch-wait keeps a finished minion's slot busy: web2 starts a second after the
    // first return, not at once.
    let t0 = std::time::Instant::now();
    let out = brine(
        &m,
        &["-b", "2", "--batch-wait", "1", "*", "cmd.run", "echo hi"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains(&executing(&["web2"])));
    let evs = job_events(&mut c);
    assert_eq!(evs.len(), 5, "{evs:?}");
    assert!(t0.elapsed() >= Duration::from_secs(1));
}

#[test]
fn minions_that_do_not_answer_fail_the_run() {
    let (m, minions) = fleet();
    let web2 = minions[2].pid() as i32;
    let quick = ["-t", "1", "--gather-job-timeout", "1"];

    // web2 is connected but answers nothing: the ping finds it out, no job goes to it.
    unsafe { libc::kill(web2, libc::SIGSTOP) };
    let out = brine(&m, &[&quick[..], &["-b", "1", "*", "test.ping"]].concat());
    unsafe { libc::kill(web2, libc::SIGCONT) };
    let want = [
        "Minion web2 did not respond. No job will be sent.\n".to_string(),
        executing(&["db1"]),
        "db1:\n    True\n".into(),
        executing(&["web1"]),
        "web1:\n    True\n".into(),
    ]
    .concat();
    assert_eq!(stdout(&out), want, "{}", stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(1),
        "salt exits 0 here; brine does not"
    );

    // web2 answers the ping, then stops before its turn: its job times out (-t 1), the
    // find_job check gets no answer (1 s), and it counts as failed with an empty return.
    // Let web2 catch up on what it was sent while stopped first.
    std::thread::sleep(Duration::from_secs(1));
    let mut child = Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(quick)
        .args(["-b", "1", "*", "test.ping"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        if line == "Executing run on ['db1']" {
            unsafe { libc::kill(web2, libc::SIGSTOP) };
        }
        text.push_str(&line);
        text.push('\n');
    }
    let status = child.wait().unwrap();
    unsafe { libc::kill(web2, libc::SIGCONT) };
    let want = [
        executing(&["db1"]),
        "db1:\n    True\n".into(),
        executing(&["web1"]),
        "web1:\n    True\n".into(),
        executing(&["web2"]),
        "web2:\n    ----------\n".into(),
    ]
    .concat();
    assert_eq!(text, want);
    assert_eq!(status.code(), Some(1));

    // Nothing answers: salt's "No return received", exit 2.
    for mi in &minions {
        unsafe { libc::kill(mi.pid() as i32, libc::SIGSTOP) };
    }
    let out = brine(&m, &[&quick[..], &["-b", "1", "*", "test.ping"]].concat());
    for mi in &minions {
        unsafe { libc::kill(mi.pid() as i32, libc::SIGCONT) };
    }
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "ERROR: No return received\n");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_batch_size_is_refused_with_salts_message() {
    let m = Master::start();
    let out = brine(&m, &["-b", "lots", "*", "test.ping"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "brine: Invalid batch data sent: lots\nData must be in the form of %10, 10% or 3\n"
    );
}
