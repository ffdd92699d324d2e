use super::*;
use crate::states::modules::testing::{is_root, sh, with_ctx, Cleanup};
use serde_json::json;

/// An LSB init script for a tiny daemon: `sleep` in the background with a pid file,
/// status from the pid file (which `stop` removes, so an unreaped zombie is not "running").
fn init_script(name: &str) -> String {
    format!(
        r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: brine test service
### END INIT INFO
PIDFILE=/tmp/{name}.pid
running() {{ [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start) running && exit 0; sleep 300 >/dev/null 2>&1 </dev/null & echo $! > "$PIDFILE" ;;
  stop) running && kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE" ;;
  restart) "$0" stop; "$0" start ;;
  reload|force-reload) running ;;
  status) running || exit 3 ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
"#
    )
}

fn call(f: StateFn, test: bool, args: Value) -> Value {
    let Value::Object(m) = args else {
        panic!("args must be a map")
    };
    with_ctx(test, &std::env::temp_dir(), |c| f(c, &m))
}

type StateFn = fn(&mut Ctx<'_>, &Map<String, Value>) -> Value;

/// (result, comment, changes) of a return.
fn rcc(v: &Value) -> (Value, Value, Value) {
    let g = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    (g("result"), g("comment"), g("changes"))
}

#[test]
fn an_init_script_service_is_started_watched_enabled_and_stopped() {
    if !is_root() {
        println!("skipped: service tests write /etc/init.d scripts and need root");
        return;
    }
    if Path::new("/run/systemd/system").is_dir() {
        println!("skipped: systemd runs here; the test drives the init-script provider");
        return;
    }
    let n = format!("brine-test-{}-{}", std::process::id(), 0x5eed);
    let script = format!("/etc/init.d/{n}");
    let _cleanup = Cleanup(vec![
        vec![script.clone(), "stop".into()],
        vec![
            "update-rc.d".into(),
            "-f".into(),
            n.clone(),
            "remove".into(),
        ],
        vec![
            "rm".into(),
            "-f".into(),
            script.clone(),
            format!("/tmp/{n}.pid"),
        ],
    ]);
    if let Err(e) = std::fs::write(&script, init_script(&n)) {
        panic!("{script}: {e}");
    }
    assert_eq!(sh(&["chmod", "755", &script]).0, 0);
    let a = json!({"name": n});

    assert_eq!(
        rcc(&call(running, true, a.clone())),
        (
            Value::Null,
            json!(format!("Service {n} is set to start")),
            json!({})
        )
    );
    assert!(!sysvinit::Sysvinit.status(&n));
    assert_eq!(
        rcc(&call(running, false, a.clone())),
        (
            json!(true),
            json!(format!("Started service {n}")),
            json!({n.clone(): true})
        )
    );
    assert_eq!(
        rcc(&call(running, false, a.clone())),
        (
            json!(true),
            json!(format!("The service {n} is already running")),
            json!({})
        )
    );
    // A watch that fires: restart by default, reload when asked.
    assert_eq!(
        rcc(&call(
            mod_watch,
            false,
            json!({"name": n, "sfun": "running"})
        )),
        (
            json!(true),
            json!("Service restarted"),
            json!({n.clone(): true})
        )
    );
    assert_eq!(
        rcc(&call(
            mod_watch,
            true,
            json!({"name": n, "sfun": "running", "reload": true})
        )),
        (
            Value::Null,
            json!("Service is set to be reloaded"),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(
            mod_watch,
            false,
            json!({"name": n, "sfun": "running", "reload": true})
        )),
        (
            json!(true),
            json!("Service reloaded"),
            json!({n.clone(): true})
        )
    );
    assert!(sysvinit::Sysvinit.status(&n));

    // Boot links through update-rc.d.
    if sysvinit::Sysvinit.can_enable() {
        assert_eq!(
            rcc(&call(enabled, true, a.clone())),
            (
                Value::Null,
                json!(format!("Service {n} set to be enabled")),
                json!({})
            )
        );
        assert_eq!(
            rcc(&call(enabled, false, a.clone())),
            (
                json!(true),
                json!(format!(
                    "Service {n} has been enabled, and is in the desired state"
                )),
                json!({n.clone(): true})
            )
        );
        assert_eq!(
            rcc(&call(running, false, json!({"name": n, "enable": true}))),
            (
                json!(true),
                json!(format!("The service {n} is already running")),
                json!({})
            )
        );
        assert_eq!(
            rcc(&call(disabled, false, a.clone())),
            (
                json!(true),
                json!(format!(
                    "Service {n} has been disabled, and is in the desired state"
                )),
                json!({n.clone(): true})
            )
        );
    }

    assert_eq!(
        rcc(&call(dead, true, a.clone())),
        (
            Value::Null,
            json!(format!("Service {n} is set to be killed")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(dead, false, a.clone())),
        (
            json!(true),
            json!(format!("Service {n} was killed")),
            json!({n.clone(): false})
        )
    );
    assert_eq!(
        rcc(&call(dead, false, a.clone())),
        (
            json!(true),
            json!(format!("The service {n} is already dead")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(mod_watch, false, json!({"name": n, "sfun": "dead"}))),
        (json!(true), json!("Service is already stopped"), json!({}))
    );
}

#[test]
fn a_missing_service_and_a_typo() {
    let n = format!("brine-missing-{}", std::process::id());
    assert_eq!(
        rcc(&call(running, false, json!({"name": n}))),
        (
            json!(false),
            json!(format!("The named service {n} is not available")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(running, true, json!({"name": n}))),
        (
            Value::Null,
            json!(format!(
                "Service {n} not present; if created in this state run, it would have been started"
            )),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(dead, false, json!({"name": n}))),
        (
            json!(true),
            json!(format!("The named service {n} is not available")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(running, false, json!({"name": n, "enabled": true}))).1,
        json!(format!(
            "Service {n} uses non-existent option \"enabled\".  Perhaps \"enable\" option was intended?"
        ))
    );
    assert_eq!(
        rcc(&call(
            mod_watch,
            false,
            json!({"name": n, "sfun": "enabled"})
        ))
        .1,
        json!("Unable to trigger watch for service.enabled")
    );
}
