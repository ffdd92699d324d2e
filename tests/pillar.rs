//! Pillar end to end: the master compiles `pillar_roots` per minion with that minion's
//! grains, sends each minion its own pillar sealed to its session, and the minion answers
//! `pillar.*` from it; a render error reaches the minion as Salt's message list.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn call(mi: &Minion, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--out", "json"];
    a.extend_from_slice(args);
    let out = mi.call(&a);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|_| panic!("{args:?}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), v["local"].clone())
}

fn pillar_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(
        dir.join("top.sls"),
        "base:\n  '*':\n    - common\n  'web*':\n    - web\n  'roles:db':\n    - match: grain\n    - db\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("common.sls"),
        "site: example\nowner: {{ grains['id'] }}\nnested:\n  a: 1\n  b: [x, y]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("web.sls"),
        "web_secret: only-for-web\nnested:\n  a: 2\n",
    )
    .unwrap();
    std::fs::write(dir.join("db.sls"), "db_password: only-for-db\n").unwrap();
}

/// Waits until the minion has its pillar (it asks right after authenticating).
fn wait_pillar(mi: &Minion) {
    mi.wait_log("received the pillar from the master", 1);
}

#[test]
fn two_minions_see_their_own_pillar_and_never_each_others() {
    let d = tempfile::tempdir().unwrap();
    pillar_tree(d.path());
    let m = Master::start_with(&format!(
        "auto_accept: True\npillar_roots:\n  base: [{}]\n",
        d.path().display()
    ));
    let web = Minion::start(&m, "web1", "grains: {roles: [web]}");
    let db = Minion::start(&m, "db1", "grains: {roles: db}");
    wait_pillar(&web);
    wait_pillar(&db);
    let (_, wp) = call(&web, &["pillar.items"]);
    assert_eq!(
        wp,
        json!({"site": "example", "owner": "web1", "nested": {"a": 2, "b": ["x", "y"]}, "web_secret": "only-for-web"})
    );
    let (_, dp) = call(&db, &["pillar.items"]);
    assert_eq!(
        dp,
        json!({"site": "example", "owner": "db1", "nested": {"a": 1, "b": ["x", "y"]}, "db_password": "only-for-db"})
    );
    let (_, v) = call(&web, &["pillar.get", "nested:b:1"]);
    assert_eq!(v, json!("y"));
    let (_, v) = call(&web, &["pillar.get", "db_password", "default=none-here"]);
    assert_eq!(v, json!("none-here"));
    let (_, v) = call(&db, &["pillar.item", "db_password", "site"]);
    assert_eq!(v, json!({"db_password": "only-for-db", "site": "example"}));
    // A minion cannot ask for another's pillar: the master compiles for the session's id.
    let mut c =
        brine::client::BusClient::connect(&brine::client::minion_socket(&web.sock_dir())).unwrap();
    let mut kwarg = serde_json::Map::new();
    kwarg.insert(
        "load".into(),
        json!({"cmd": "_pillar", "id": "db1", "grains": {"id": "db1", "roles": "db"}}),
    );
    let a = c
        .call(
            &brine::bus::Request {
                fun: "_master".into(),
                arg: Vec::new(),
                kwarg,
                user: None,
                send_return: false,
            },
            Some(Duration::from_secs(20)),
        )
        .unwrap();
    assert_eq!(
        a.ret.get("web_secret"),
        Some(&json!("only-for-web")),
        "{:?}",
        a.ret
    );
    assert!(
        a.ret.get("db_password").is_none(),
        "web1 got db1's pillar: {:?}",
        a.ret
    );
    // refresh_pillar after the files change.
    std::fs::write(d.path().join("web.sls"), "web_secret: rotated\n").unwrap();
    let (_, ok) = call(&web, &["saltutil.refresh_pillar"]);
    assert_eq!(ok, json!(true));
    web.wait_log("received the pillar from the master", 2);
    let (_, v) = call(&web, &["pillar.get", "web_secret"]);
    assert_eq!(v, json!("rotated"));
}

#[test]
fn a_render_error_gives_salts_message_list_naming_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("top.sls"), "base:\n  '*':\n    - broken\n").unwrap();
    std::fs::write(d.path().join("broken.sls"), "a: 1\nb: [unclosed\n").unwrap();
    let m = Master::start_with(&format!(
        "auto_accept: True\npillar_roots:\n  base: [{}]\n",
        d.path().display()
    ));
    let mi = Minion::start(&m, "p1", "");
    mi.wait_log("could not compile our pillar", 1);
    // As Salt (pillar_safe_render_error): the minion gets the list with a safe message,
    // the master's log has the file, line and column.
    let log = mi.log();
    assert!(
        log.contains("Pillar failed to render with the following messages:")
            && log.contains("Rendering SLS 'broken' failed"),
        "{log}"
    );
    let mlog = m.log();
    let line = mlog
        .lines()
        .find(|l| l.contains("Rendering SLS 'broken' failed ("))
        .unwrap_or_else(|| panic!("{mlog}"));
    assert!(line.contains("broken.sls:2:"), "{line}");
    // The master is fine and the minion still answers.
    let (_, v) = call(&mi, &["test.ping"]);
    assert_eq!(v, json!(true));
}

#[test]
fn the_reactors_pillar_get_reads_the_masters_own_pillar() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("top.sls"), "base:\n  '*':\n    - deploy\n").unwrap();
    std::fs::write(d.path().join("deploy.sls"), "deploy:\n  tag: v42\n").unwrap();
    let rule = d.path().join("echo.sls");
    std::fs::write(
        &rule,
        "echo:\n  runner.event.send:\n    - args:\n      - tag: brine/test/echoed\n      - data: {v: \"{{ salt['pillar.get']('deploy:tag', 'none') }}\"}\n",
    )
    .unwrap();
    let m = Master::start_with(&format!(
        "pillar_roots:\n  base: [{}]\nreactor:\n  - 'brine/test/go':\n    - {}\n",
        d.path().display(),
        rule.display()
    ));
    let mut watch = m.client();
    watch
        .subscribe(brine::matcher::MatchType::StartsWith, "brine/test/echoed")
        .unwrap();
    m.wait_subscribed(1);
    // The master compiles its own pillar on a worker right after start.
    let end = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        m.client()
            .fire("brine/test/go", serde_json::Map::new(), 1 << 20)
            .unwrap();
        let ev = watch.next_event(Some(Duration::from_secs(20))).unwrap();
        if ev.data["v"] == "v42" {
            break;
        }
        assert_eq!(ev.data["v"], "none");
        assert!(std::time::Instant::now() < end, "{}", m.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}
