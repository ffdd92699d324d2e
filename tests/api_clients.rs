//! brine-api's sessions and lowstate clients on a real master and minion, through curl:
//! every client's answer shape, the gate and the ACL decided before dispatch, token expiry
//! and revocation, the event stream and its per-user tag allowlist, and a webhook verified by
//! a reactor file.

use crate::common::{wait_for, Api, Master, Minion};
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const CLIENTS: &str =
    "netapi_enable_clients: [local, local_async, runner, runner_async, wheel, wheel_async]\n";

fn master_with(acl: &str, extra: &str) -> Master {
    Master::start_with(&format!(
        "auto_accept: True\nsharedsecret: s3cret\nexternal_auth:\n  sharedsecret:\n{acl}\n{extra}"
    ))
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn login(api: &Api, user: &str) -> String {
    let creds = format!(
        "{{\"username\": \"{user}\", \"password\": \"s3cret\", \"eauth\": \"sharedsecret\"}}"
    );
    let (status, _, body) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        &creds,
        &api.url("/login"),
    ]);
    assert_eq!(status, 200, "login {user}: {body}");
    json_of(&body)["return"][0]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn post(api: &Api, token: &str, path: &str, body: &Value) -> (u16, String) {
    let b = body.to_string();
    let (status, _, text) = api.curl(&[
        "-H",
        &format!("X-Auth-Token: {token}"),
        "-H",
        "Content-Type: application/json",
        "-d",
        &b,
        &api.url(path),
    ]);
    (status, text)
}

fn get(api: &Api, token: &str, path: &str) -> (u16, String) {
    let (status, _, text) = api.curl(&["-H", &format!("X-Auth-Token: {token}"), &api.url(path)]);
    (status, text)
}

fn with_minion(acl: &str, extra: &str) -> (Master, Minion, Api) {
    let master = master_with(acl, &format!("{CLIENTS}{extra}"));
    let minion = Minion::start(&master, "m1", "");
    minion.wait_log("authenticated with the master", 1);
    let api = Api::start(&master, "", "");
    (master, minion, api)
}

#[test]
fn every_client_answers_in_salts_shape() {
    let (_master, _minion, api) = with_minion("    ops: ['.*', '@runner', '@wheel']", "");
    let (status, _, body) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username": "ops", "password": "s3cret", "eauth": "sharedsecret"}"#,
        &api.url("/login"),
    ]);
    assert_eq!(status, 200);
    let r = &json_of(&body)["return"][0];
    let token = r["token"].as_str().expect("token");
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    assert_eq!(
        (r["user"].clone(), r["eauth"].clone()),
        (json!("ops"), json!("sharedsecret"))
    );
    assert_eq!(r["perms"], json!([".*", "@runner", "@wheel"]));
    assert!(r["expire"].as_f64().unwrap_or(0.0) - r["start"].as_f64().unwrap_or(0.0) == 43200.0);

    let (s, b) = post(
        &api,
        token,
        "/",
        &json!([{"client": "local", "tgt": "*", "fun": "test.ping"}]),
    );
    assert_eq!((s, json_of(&b)), (200, json!({"return": [{"m1": true}]})));
    // pepper asks for full_return.
    let (_, b) = post(
        &api,
        token,
        "/",
        &json!({"client": "local", "tgt": "m1", "fun": "test.echo", "arg": "hi", "full_return": true}),
    );
    let ret = &json_of(&b)["return"][0]["m1"];
    assert_eq!(
        (ret["ret"].clone(), ret["retcode"].clone()),
        (json!("hi"), json!(0)),
        "{b}"
    );
    let (_, b) = post(
        &api,
        token,
        "/",
        &json!([{"client": "local_async", "tgt": "m1", "fun": "test.ping"}]),
    );
    let job = json_of(&b)["return"][0].clone();
    let jid = job["jid"].as_str().expect("jid").to_string();
    assert_eq!(job["minions"], json!(["m1"]));
    let (_, b) = post(
        &api,
        token,
        "/",
        &json!([{"client": "local", "tgt": "nobody*", "fun": "test.ping"}]),
    );
    assert_eq!(json_of(&b), json!({"return": [{}]}));
    // Two chunks, answered in order.
    let (_, b) = post(
        &api,
        token,
        "/",
        &json!([{"client": "runner", "fun": "jobs.list_job", "jid": jid}, {"client": "wheel", "fun": "key.list_all"}]),
    );
    let v = json_of(&b);
    assert_eq!(v["return"][0]["jid"], json!(jid), "{b}");
    let wheel = &v["return"][1];
    assert!(
        wheel["tag"]
            .as_str()
            .is_some_and(|t| t.starts_with("salt/wheel/")),
        "{wheel}"
    );
    assert_eq!(wheel["data"]["fun"], json!("wheel.key.list_all"));
    assert_eq!(wheel["data"]["return"]["minions"], json!(["m1"]));
    assert_eq!(wheel["data"]["success"], json!(true));
    let (_, b) = post(
        &api,
        token,
        "/",
        &json!([{"client": "runner_async", "fun": "jobs.list_jobs"}, {"client": "wheel_async", "fun": "key.list_all"}]),
    );
    let v = json_of(&b);
    let rjid = v["return"][0]["jid"]
        .as_str()
        .expect("runner jid")
        .to_string();
    assert_eq!(v["return"][0]["tag"], json!(format!("salt/run/{rjid}")));
    assert!(v["return"][1]["tag"]
        .as_str()
        .is_some_and(|t| t.starts_with("salt/wheel/")));
    // Form and YAML bodies in, YAML out.
    let (status, _, b) = api.curl(&[
        "-H",
        &format!("X-Auth-Token: {token}"),
        "-H",
        "Accept: application/x-yaml",
        "-d",
        "client=local&tgt=m1&fun=test.echo&arg=two",
        &api.url("/"),
    ]);
    assert_eq!(status, 200);
    assert_eq!(b, "return:\n- m1: two\n");
    let (status, _, b) = api.curl(&[
        "-H",
        &format!("X-Auth-Token: {token}"),
        "-H",
        "Content-Type: application/x-yaml",
        "--data-binary",
        "- client: local\n  tgt: m1\n  fun: test.ping\n",
        &api.url("/"),
    ]);
    assert_eq!(
        (status, json_of(&b)),
        (200, json!({"return": [{"m1": true}]}))
    );
    // The convenience URLs.
    let (s, b) = get(&api, token, "/minions/m1");
    assert_eq!(
        (s, json_of(&b)["return"][0]["m1"]["id"].clone()),
        (200, json!("m1"))
    );
    let (s, b) = post(
        &api,
        token,
        "/minions",
        &json!({"tgt": "m1", "fun": "test.ping"}),
    );
    let v = json_of(&b);
    assert_eq!(s, 202);
    let mjid = v["return"][0]["jid"].as_str().expect("jid");
    assert_eq!(
        v["_links"]["jobs"][0]["href"],
        json!(format!("/jobs/{mjid}"))
    );
    wait_for("the job's return", Duration::from_secs(10), || {
        let (_, b) = get(&api, token, &format!("/jobs/{mjid}"));
        let v = json_of(&b);
        (v["return"][0]["m1"] == json!(true)).then_some(())
    });
    let (_, b) = get(&api, token, &format!("/jobs/{mjid}"));
    assert_eq!(
        json_of(&b)["info"][0]["Function"],
        json!("test.ping"),
        "{b}"
    );
    let (s, b) = get(&api, token, "/keys");
    assert_eq!(
        (s, json_of(&b)["return"]["minions"].clone()),
        (200, json!(["m1"]))
    );
    let (s, b) = get(&api, token, "/keys/m1");
    assert_eq!(s, 200, "{b}");
    assert!(json_of(&b)["return"]["minions"]["m1"].is_string(), "{b}");
    // Salt's key-pair generation: a tar with minion.pub and minion.pem, the key accepted.
    let dir = tempfile::tempdir().expect("tmp");
    let tar = dir.path().join("k.tar");
    let (s, head, _) = api.curl(&[
        "-o",
        &tar.display().to_string(),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"mid": "new1", "username": "ops", "password": "s3cret", "eauth": "sharedsecret"}"#,
        &api.url("/keys"),
    ]);
    assert_eq!(s, 200, "{head}");
    assert!(head.contains("saltkeys-new1.tar"), "{head}");
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .expect("tar");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "minion.pub\nminion.pem\n"
    );
    let (_, b) = get(&api, token, "/keys");
    assert_eq!(json_of(&b)["return"]["minions"], json!(["m1", "new1"]));
    // /run takes credentials (or a token) in each chunk.
    let (s, _, b) = api.curl(&[
        "-d",
        "client=local&tgt=m1&fun=test.ping&username=ops&password=s3cret&eauth=sharedsecret",
        &api.url("/run"),
    ]);
    assert_eq!((s, json_of(&b)), (200, json!({"return": [{"m1": true}]})));
    let (s, _, b) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        &json!([{"client": "runner", "fun": "jobs.list_jobs", "token": token}]).to_string(),
        &api.url("/run"),
    ]);
    assert_eq!(s, 200, "{b}");
    let (s, _, _) = api.curl(&[
        "-d",
        "client=local&tgt=m1&fun=test.ping&username=ops&password=wrong&eauth=sharedsecret",
        &api.url("/run"),
    ]);
    assert_eq!(s, 401);
    // /token answers Salt's bare list.
    let (s, _, b) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username": "ops", "password": "s3cret", "eauth": "sharedsecret"}"#,
        &api.url("/token"),
    ]);
    let v = json_of(&b);
    assert_eq!(
        (s, v[0]["name"].clone(), v[0]["eauth"].clone()),
        (200, json!("ops"), json!("sharedsecret")),
        "{b}"
    );
}

#[test]
fn clients_are_gated_and_authorized_before_dispatch() {
    let acl = "    limited: ['test.ping']\n    'dev*': ['grains.items']\n    targeted:\n      - 'm*':\n        - test.ping\n    args:\n      - '*':\n        - 'test.echo':\n            args: ['hello']\n    '*': ['test.version']";
    let master = master_with(acl, "netapi_enable_clients: [local, runner]\n");
    let minion = Minion::start(&master, "m1", "");
    minion.wait_log("authenticated with the master", 1);
    let api = Api::start(&master, "", "");
    // A second accepted key, no daemon behind it: targets naming it leave the ACL's 'm*'.
    let mut bus = master.client();
    let gen = brine::bus::Request {
        fun: "wheel.key.gen_accept".into(),
        arg: vec![],
        kwarg: json!({"id_": "db1"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        user: None,
        send_return: false,
    };
    assert!(
        bus.call(&gen, Some(Duration::from_secs(10)))
            .expect("gen_accept")
            .success
    );
    // Unauthenticated callers learn nothing about the clients (Salt answers 400 "Client
    // disabled" first, which tells them).
    let (s, _, _) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"[{"client": "wheel", "fun": "key.list_all"}]"#,
        &api.url("/"),
    ]);
    assert_eq!(s, 401);
    let limited = login(&api, "limited");
    let cases: &[(Value, u16, &str)] = &[
        (
            json!([{"client": "wheel", "fun": "key.list_all"}]),
            400,
            "Client disabled: 'wheel'",
        ),
        (
            json!([{"client": "destroy", "fun": "x"}]),
            400,
            "Invalid client specified: 'destroy'",
        ),
        (
            json!([{"client": "ssh", "tgt": "*", "fun": "test.ping"}]),
            400,
            "Invalid client specified",
        ),
        (
            json!([{"client": "local", "tgt": "m1", "fun": "test.ping"}]),
            200,
            "\"m1\": true",
        ),
        // Salt's re.match would allow these two.
        (
            json!([{"client": "local", "tgt": "m1", "fun": "test.pingpong"}]),
            401,
            "may not run test.pingpong",
        ),
        (
            json!([{"client": "local", "tgt": "m1", "fun": "test.ping.x"}]),
            401,
            "may not run",
        ),
        (
            json!([{"client": "runner", "fun": "jobs.list_jobs"}]),
            401,
            "may not run jobs.list_jobs",
        ),
    ];
    for (body, want, needle) in cases {
        let (s, b) = post(&api, &limited, "/", body);
        assert_eq!(s, *want, "{body}: {b}");
        assert!(b.contains(needle), "{body}: {b}");
    }
    // User globs match the user (Salt matches the user name as the pattern).
    let dev = login(&api, "dev1");
    assert_eq!(
        post(
            &api,
            &dev,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "grains.items"})
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &api,
            &dev,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.ping"})
        )
        .0,
        401
    );
    // '*' applies to a user no entry names.
    let other = login(&api, "someone");
    assert_eq!(
        post(
            &api,
            &other,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.version"})
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &api,
            &other,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.ping"})
        )
        .0,
        401
    );
    // A targeted entry allows only targets inside it.
    let t = login(&api, "targeted");
    assert_eq!(
        post(
            &api,
            &t,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.ping"})
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &api,
            &t,
            "/",
            &json!({"client": "local", "tgt": "*", "fun": "test.ping"})
        )
        .0,
        401
    );
    assert_eq!(
        post(
            &api,
            &t,
            "/",
            &json!({"client": "local", "tgt": "db1", "fun": "test.ping"})
        )
        .0,
        401
    );
    // Argument specs match whole arguments.
    let a = login(&api, "args");
    assert_eq!(
        post(
            &api,
            &a,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.echo", "arg": ["hello"]})
        )
        .0,
        200
    );
    assert_eq!(
        post(
            &api,
            &a,
            "/",
            &json!({"client": "local", "tgt": "m1", "fun": "test.echo", "arg": ["hello; rm"]})
        )
        .0,
        401
    );
    // Nothing refused was published: only the allowed jobs reached the bus's job list.
    let list = brine::bus::Request {
        fun: "jobs.list_jobs".into(),
        arg: vec![],
        kwarg: Default::default(),
        user: None,
        send_return: false,
    };
    let jobs = bus
        .call(&list, Some(Duration::from_secs(10)))
        .expect("list_jobs")
        .ret;
    let funs: Vec<String> = jobs
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|j| j["Function"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !funs
            .iter()
            .any(|f| f == "test.pingpong" || f == "test.ping.x"),
        "{funs:?}"
    );
    assert_eq!(
        funs.iter().filter(|f| *f == "test.echo").count(),
        1,
        "{funs:?}"
    );
}

#[test]
fn tokens_expire_and_logout_revokes_them() {
    let master = master_with(
        "    ops: ['.*', '@wheel']",
        "token_expire: 2\nnetapi_enable_clients: [local, wheel]\n",
    );
    let api = Api::start(&master, "", "");
    let token = login(&api, "ops");
    assert_eq!(get(&api, &token, "/keys").0, 200);
    // The token reaches the master's store.
    let mut bus = master.client();
    let get_tok = brine::bus::Request {
        fun: "token.get".into(),
        arg: vec![],
        kwarg: json!({"token": token})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        user: None,
        send_return: false,
    };
    assert_eq!(
        bus.call(&get_tok, Some(Duration::from_secs(5)))
            .expect("token.get")
            .ret["name"],
        json!("ops")
    );
    std::thread::sleep(Duration::from_millis(2300));
    // Expired: refused on the first use after, not once more (CVE-2021-3144).
    assert_eq!(get(&api, &token, "/keys").0, 401);
    assert_eq!(
        bus.call(&get_tok, Some(Duration::from_secs(5)))
            .expect("token.get")
            .ret,
        Value::Null
    );
    // Logout revokes the token at once (Salt before 3007.15 left it valid for 12 h), and
    // ends its event stream.
    let master2 = master_with(
        "    ops: ['.*', '@wheel']",
        "netapi_enable_clients: [local, wheel]\n",
    );
    let api2 = Api::start(&master2, "", "");
    let token = login(&api2, "ops");
    let mut sse = std::net::TcpStream::connect(("127.0.0.1", api2.port)).expect("connect");
    sse.write_all(
        format!("GET /events HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n\r\n").as_bytes(),
    )
    .expect("send");
    sse.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = sse.read(&mut buf).expect("stream head");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("retry: 400"));
    let (s, b) = post(&api2, &token, "/logout", &json!({}));
    assert_eq!(
        (s, json_of(&b)),
        (200, json!({"return": "Your token has been cleared"}))
    );
    assert_eq!(get(&api2, &token, "/keys").0, 401);
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = sse.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the stream stayed open after logout"
    );
    assert!(
        String::from_utf8_lossy(&rest).ends_with("0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    // Tokens in URLs are refused (they end up in logs and Referer headers).
    let (s, _, _) = api2.curl(&[&api2.url(&format!("/events?token={token}"))]);
    assert_eq!(s, 400);
}

/// Reads an SSE stream into `acc` until `needle` appears in it (or 10 s pass); returns all
/// read so far.
fn read_until(s: &mut std::net::TcpStream, needle: &str, acc: &mut Vec<u8>) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 8192];
    while Instant::now() < end && !String::from_utf8_lossy(acc).contains(needle) {
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            acc.extend_from_slice(&buf[..n]);
        }
    }
    String::from_utf8_lossy(acc).into_owned()
}

/// The data lines of an SSE body with chunk framing removed.
fn sse_text(raw: &str) -> String {
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            out.push_str(tail);
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail.get(n + 2..).unwrap_or("");
    }
    out
}

#[test]
fn events_stream_in_salts_framing_with_a_per_user_allowlist() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/salt/netapi_misc.json"),
        )
        .expect("fixture"),
    )
    .expect("JSON");
    let master = master_with(
        "    ops: ['.*']\n    watcher: [{'@events': ['myco/*']}]",
        "netapi_enable_clients: [local]\n",
    );
    let api = Api::start(&master, "webhook_disable_auth: True", "");
    let ops = login(&api, "ops");
    let watcher = login(&api, "watcher");
    let open = |tok: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
        s.write_all(
            format!("GET /events HTTP/1.1\r\nHost: x\r\nCookie: session_id={tok}\r\n\r\n")
                .as_bytes(),
        )
        .expect("send");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        s
    };
    let mut a = open(&ops);
    let mut w = open(&watcher);
    let (mut acc_a, mut acc_w) = (Vec::new(), Vec::new());
    let head = read_until(&mut a, "retry: 400\n", &mut acc_a);
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n")
            && head.contains("Content-Type: text/event-stream;charset=utf-8"),
        "{head}"
    );
    read_until(&mut w, "retry: 400\n", &mut acc_w);
    master.wait_subscribed(1);
    // The fixture's events, fired through the bus, come out byte for byte as Salt writes them.
    let mut bus = master.client();
    let events = fx["sse"]["events"].as_array().cloned().unwrap_or_default();
    for e in &events {
        // Fired raw, so that the fixture's _stamp stays where Salt had it.
        let bytes =
            brine::wire::encode(e["tag"].as_str().unwrap_or(""), &e["data"]).expect("encode");
        bus.send_frame(brine::wire::kind::FIRE, &bytes)
            .expect("fire");
    }
    // A hook's headers are not for the watcher's eyes.
    let (s, _, _) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"a\": 1}",
        &api.url("/hook/secret"),
    ]);
    assert_eq!(s, 200);
    bus.fire(
        "myco/done",
        json!({"ok": true}).as_object().cloned().unwrap_or_default(),
        1 << 20,
    )
    .expect("fire");
    let got = sse_text(&read_until(&mut a, "myco/done", &mut acc_a));
    let want = fx["sse"]["stream"].as_str().expect("stream");
    let want_events = want.strip_prefix("retry: 400\n").unwrap_or(want);
    assert!(got.starts_with("retry: 400\n"), "{got}");
    assert!(got.contains(want_events), "brine:\n{got}\nSalt:\n{want}");
    let seen = sse_text(&read_until(&mut w, "myco/done", &mut acc_w));
    assert!(seen.contains("tag: myco/done\n"), "{seen}");
    assert!(
        !seen.contains("salt/netapi/hook"),
        "the watcher saw a hook: {seen}"
    );
}

#[test]
fn a_reactor_verifies_a_github_webhook_and_hook_data_is_never_a_template() {
    let dir = tempfile::tempdir().expect("tmp");
    let sls = dir.path().join("github.sls");
    std::fs::write(
        &sls,
        "{% set sig = data['headers'].get('X-Hub-Signature-256', '') %}\n\
         {% if salt['hashutil.github_signature'](data['body'], 'hooksecret', sig) %}\n\
         verified:\n  runner.event.send:\n    - args:\n      - tag: brine/github/verified\n      - data:\n          ref: {{ data['post']['ref'] | json }}\n\
         {% else %}\n\
         refused:\n  runner.event.send:\n    - args:\n      - tag: brine/github/refused\n      - data:\n          body: {{ data['body'] | json }}\n\
         {% endif %}\n",
    )
    .expect("sls");
    let master = Master::start_with(&format!(
        "reactor:\n  - 'salt/netapi/hook/github':\n    - {}\n",
        sls.display()
    ));
    let api = Api::start(&master, "webhook_disable_auth: True", "");
    let mut bus = master.client();
    bus.subscribe(MatchType::StartsWith, "brine/github/")
        .expect("subscribe");
    master.wait_subscribed(2);
    let body = r#"{"ref": "refs/heads/main", "x": "{{ 7 * 7 }}{% raw %}"}"#;
    let sig = format!(
        "sha256={}",
        brine::digest::hmac_hex("sha256", b"hooksecret", body.as_bytes()).expect("hmac")
    );
    let (s, _, _) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("X-Hub-Signature-256: {sig}"),
        "--data-binary",
        body,
        &api.url("/hook/github"),
    ]);
    assert_eq!(s, 200);
    let ev = bus
        .next_event(Some(Duration::from_secs(10)))
        .expect("the reactor's event");
    assert_eq!(
        (ev.tag.as_str(), ev.data["ref"].clone()),
        ("brine/github/verified", json!("refs/heads/main"))
    );
    // A forged signature is refused, and the template text in the body stays text.
    let (s, _, _) = api.curl(&[
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Hub-Signature-256: sha256=00",
        "--data-binary",
        body,
        &api.url("/hook/github"),
    ]);
    assert_eq!(s, 200);
    let ev = bus
        .next_event(Some(Duration::from_secs(10)))
        .expect("the reactor's event");
    assert_eq!(ev.tag, "brine/github/refused");
    assert_eq!(ev.data["body"], json!(body));
}

#[test]
fn a_sync_runner_past_rest_timeout_answers_504_and_the_api_goes_on() {
    let roots = tempfile::tempdir().expect("tmp");
    std::fs::write(
        roots.path().join("slow.sls"),
        "wait:\n  salt.wait_for_event:\n    - name: never/happens\n    - id_list: [nobody]\n    - timeout: 6\n",
    )
    .expect("sls");
    let master = master_with(
        "    ops: ['.*', '@runner']",
        &format!(
            "netapi_enable_clients: [runner]\nfile_roots:\n  base: [{}]\n",
            roots.path().display()
        ),
    );
    let api = Api::start(&master, "rest_timeout: 1", "");
    let token = login(&api, "ops");
    let started = Instant::now();
    let (s, b) = post(
        &api,
        &token,
        "/",
        &json!({"client": "runner", "fun": "state.orchestrate", "mods": "slow"}),
    );
    assert_eq!(s, 504, "{b}");
    assert!(b.contains("rest_timeout"), "{b}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let (s, _) = post(
        &api,
        &token,
        "/",
        &json!({"client": "runner", "fun": "jobs.list_jobs"}),
    );
    assert_eq!(s, 200);
}

#[test]
fn a_deep_pipeline_is_answered_whole_and_in_order() {
    // More requests than fit in flight (32) and more bytes than one read takes (past
    // max_request_body_size): readiness is edge-triggered, so the daemon must come back for
    // what it left in the socket.
    let master = master_with(
        "    ops: ['.*', '@wheel']",
        "netapi_enable_clients: [wheel]\n",
    );
    let api = Api::start(
        &master,
        "max_request_body_size: 2000\nmax_header_size: 2000",
        "",
    );
    let token = login(&api, "ops");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
    let mut batch = Vec::new();
    let n = 3000;
    for i in 0..n {
        // Every tenth needs the master (a token lookup, then a wheel call); the rest are
        // answered at once.
        if i % 10 == 0 {
            batch.extend_from_slice(
                format!("GET /keys HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n\r\n")
                    .as_bytes(),
            );
        } else {
            batch.extend_from_slice(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n");
        }
    }
    batch.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(&batch));
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&out);
    let statuses: Vec<&str> = text.matches("HTTP/1.1 ").map(|_| "").collect();
    assert_eq!(statuses.len(), n + 1, "answers");
    assert_eq!(
        text.matches("\"minions\"").count(),
        n / 10,
        "the /keys answers"
    );
    assert!(
        text.ends_with("\"clients\": [\"wheel\"]}"),
        "the last answer last: {}",
        &text[text.len().saturating_sub(200)..]
    );
}
