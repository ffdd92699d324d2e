//! brine-api's eauth tokens in a running master, through its socket as brine-api reaches
//! them: stored, read back, still there after the master is killed and restarted, removed,
//! and never returned once expired.

use crate::common::*;
use brine::bus::{Answer, Request};
use brine::client::BusClient;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T: Duration = Duration::from_secs(30);

fn call(c: &mut BusClient, fun: &str, kwarg: Value) -> Answer {
    let req = Request {
        fun: fun.into(),
        arg: Vec::new(),
        kwarg: kwarg.as_object().cloned().unwrap_or_default(),
        user: Some("api".into()),
        send_return: false,
    };
    c.call(&req, Some(T)).expect("an answer")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn data(start: f64, expire: f64) -> Value {
    json!({"start": start, "expire": expire, "name": "fred", "eauth": "pam",
           "groups": ["wheel", "adm"], "perms": [".*", "@runner"]})
}

#[test]
fn tokens_are_stored_durably_removed_and_expire() {
    let mut m = Master::start();
    let t1 = "0123456789abcdef".repeat(4);
    let t2 = "fedcba9876543210".repeat(4);
    let now = unix_now();
    let d1 = data(now, now + 3600.0);
    let mut c = m.client();
    assert_eq!(
        call(&mut c, "token.put", json!({"token": t1, "data": d1})).ret,
        json!(true)
    );
    let got = call(&mut c, "token.get", json!({"token": t1}));
    assert!(got.success);
    assert_eq!(got.ret, d1);

    // Answered means on disk: a master killed without a chance to flush still has it.
    drop(c);
    m.signal(libc::SIGKILL);
    m.wait_exit(T);
    m.spawn();
    let mut c = m.client();
    assert_eq!(call(&mut c, "token.get", json!({"token": t1})).ret, d1);

    assert_eq!(
        call(&mut c, "token.rm", json!({"token": t1})).ret,
        json!(true)
    );
    assert_eq!(
        call(&mut c, "token.get", json!({"token": t1})).ret,
        Value::Null
    );
    assert_eq!(
        call(&mut c, "token.rm", json!({"token": t1})).ret,
        json!(false)
    );

    // A token that expires a moment from now works until then and never after.
    let now = unix_now();
    let d2 = data(now, now + 1.0);
    assert_eq!(
        call(&mut c, "token.put", json!({"token": t2, "data": d2})).ret,
        json!(true)
    );
    assert_eq!(call(&mut c, "token.get", json!({"token": t2})).ret, d2);
    std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..2 {
        assert_eq!(
            call(&mut c, "token.get", json!({"token": t2})).ret,
            Value::Null
        );
    }
    // It was deleted when asked for: there is nothing left to remove.
    assert_eq!(
        call(&mut c, "token.rm", json!({"token": t2})).ret,
        json!(false)
    );

    // Garbage is refused with one line, and the master goes on answering.
    let bad = call(&mut c, "token.put", json!({"token": "nothex", "data": {}}));
    assert!(!bad.success);
    assert_eq!(
        bad.ret,
        json!("token.put: bad token: 6 characters where 64 hex digits are expected")
    );
    let bad = call(
        &mut c,
        "token.put",
        json!({"token": t2, "data": {"name": "x"}}),
    );
    assert_eq!(
        bad.ret,
        json!("token.put: data must hold expire, a number of Unix seconds")
    );
    assert_eq!(
        call(&mut c, "token.get", json!({"token": "nothex"})).ret,
        Value::Null
    );
}

#[test]
fn metrics_master_reports_families_brine_api_can_render() {
    let m = Master::start();
    let mut c = m.client();
    let a = call(
        &mut c,
        "queue.insert",
        json!({"queue": "jobs", "items": ["a", "b"]}),
    );
    assert!(a.success, "{a:?}");
    let a = call(&mut c, "metrics.master", json!({}));
    assert!(a.success, "{a:?}");
    let fams = a.ret.as_array().expect("a list of families").clone();
    let sample = |name: &str| {
        fams.iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["samples"][0]
            .clone()
    };
    // At least the queue call's salt/run events went in.
    assert!(
        sample("brine_master_events_in_total")["value"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_eq!(
        sample("brine_master_queue_length"),
        json!({"labels": {"queue": "jobs"}, "value": 2})
    );
    assert!(
        sample("brine_master_uptime_seconds")["value"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
}
