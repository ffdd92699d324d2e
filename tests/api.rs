//! brine-api against Salt's own rest_cherrypy: the webhook corpus of
//! `tests/fixtures/salt/netapi_hook.json` (made by `tests/fixtures/gen_netapi_fixtures.py`
//! running Salt 3007.15's app) replayed byte for byte at a real brine-api in front of a real
//! master, and the same tags, data and statuses required; plus the endpoints of
//! `netapi_misc.json`.

use crate::common::{Api, Master};
use brine::matcher::MatchType;
use serde_json::{json, Value};
use std::time::Duration;

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/salt")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("fixture JSON")
}

/// Where brine answers differently from Salt on purpose, beyond what the fixture marks.
const DEPARTURES: &[(&str, &str)] = &[
    ("options_hook", "Salt answers OPTIONS with 500 (its CORS tool uses a session that does not exist yet); brine answers 200 without CORS headers"),
    ("options_hook_preflight", "as options_hook"),
    ("json_big_int", "Salt's msgpack turns an integer past 64 bits into its decimal string; brine's JSON reader makes it a float"),
];

/// The raw request of a case.
fn request(case: &Value) -> Vec<u8> {
    let mut out = format!(
        "{} {} HTTP/1.1\r\n",
        case["method"].as_str().unwrap_or("POST"),
        case["path"].as_str().unwrap_or("/")
    )
    .into_bytes();
    for h in case["headers"].as_array().into_iter().flatten() {
        out.extend_from_slice(
            format!(
                "{}: {}\r\n",
                h[0].as_str().unwrap_or(""),
                h[1].as_str().unwrap_or("")
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    match &case["body_repeat"] {
        Value::Object(r) => {
            let unit = r["unit"].as_str().unwrap_or("a");
            out.extend_from_slice(
                unit.repeat(r["count"].as_u64().unwrap_or(0) as usize)
                    .as_bytes(),
            );
        }
        _ => out.extend_from_slice(case["body"].as_str().unwrap_or("").as_bytes()),
    }
    out
}

fn status_of(resp: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(resp);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn strip(mut data: Value) -> Value {
    if let Some(m) = data.as_object_mut() {
        m.remove("_stamp");
        if let Some(Value::Object(h)) = m.get_mut("headers") {
            for k in ["Host", "User-Agent", "Content-Length"] {
                h.remove(k);
            }
        }
    }
    data
}

#[test]
fn hooks_fire_what_salts_rest_cherrypy_fires() {
    let fx = fixture("netapi_hook.json");
    let master = Master::start_with(
        "external_auth:\n  sharedsecret:\n    hooker: ['@runner']\nsharedsecret: s3cret\n",
    );
    let open = Api::start(&master, "webhook_disable_auth: True", "");
    let mut bus = master.client();
    bus.subscribe(MatchType::StartsWith, "salt/netapi/hook")
        .expect("subscribe");
    // brine-api's own subscription and this one.
    master.wait_subscribed(2);
    let mut secured: Option<Api> = None;
    let mut failures = Vec::new();
    for case in fx["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("?");
        let departure = DEPARTURES.iter().find(|(n, _)| *n == name);
        let api = if case.get("config").is_some_and(|c| !c.is_null()) {
            &*secured.get_or_insert_with(|| {
                // The same master; a second brine-api with auth on, on its own port.
                Api::start(&master, "", "")
            })
        } else {
            &open
        };
        let resp = api.raw(&request(case), Duration::from_secs(10));
        let want_status = case
            .get("brine_status")
            .and_then(Value::as_u64)
            .or(case["status"].as_u64())
            .unwrap_or(0) as u16;
        let got_status = status_of(&resp);
        // A marker after each case: the events before it are this case's.
        let marker = api.raw(
            b"POST /hook/__marker__ HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        );
        let mut got = Vec::new();
        if status_of(&marker) == 200 {
            loop {
                let ev = bus
                    .next_event(Some(Duration::from_secs(5)))
                    .expect("an event before the marker");
                if ev.tag == "salt/netapi/hook/__marker__" {
                    break;
                }
                got.push(json!({"tag": ev.tag, "data": strip(Value::Object(ev.data))}));
            }
        } else {
            // The secured API refuses the marker too: wait a moment for strays instead.
            while let Ok(ev) = bus.next_event(Some(Duration::from_millis(200))) {
                got.push(json!({"tag": ev.tag, "data": strip(Value::Object(ev.data))}));
            }
        }
        let want_events: Vec<Value> = case
            .get("brine_events")
            .filter(|v| !v.is_null())
            .unwrap_or(&case["events"])
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| json!({"tag": e["tag"], "data": strip(e["data"].clone())}))
            .collect();
        let same = got_status == want_status && got == want_events;
        match (same, departure) {
            (true, Some((_, why))) => failures.push(format!(
                "{name}: listed as a departure ({why}) but brine now answers as Salt"
            )),
            (true, None) | (false, Some(_)) => {}
            (false, None) => failures.push(format!(
                "{name}: status {got_status} (want {want_status}), events {} (want {})",
                serde_json::to_string(&got).unwrap_or_default(),
                serde_json::to_string(&want_events).unwrap_or_default()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        fx["cases"].as_array().map_or(0, |c| c.len()),
        failures.join("\n")
    );
}

#[test]
fn root_and_login_pages_as_salt() {
    let fx = fixture("netapi_misc.json");
    let master = Master::start_with("netapi_enable_clients: [local, runner]\n");
    let api = Api::start(&master, "", "");
    let (status, _, body) = api.curl(&[&api.url("/")]);
    let want = &fx["get_root"]["netapi_enable_clients: [local, runner]"];
    assert_eq!(status as u64, want["status"].as_u64().unwrap_or(0));
    // brine lists the clients that are enabled, not every method of its class (Salt's
    // list is introspected and includes `destroy`, which is no client).
    let got: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        got,
        json!({"return": "Welcome", "clients": ["local", "runner"]})
    );
    let (status, head, body) = api.curl(&[&api.url("/login")]);
    let want = &fx["get_login"];
    assert_eq!(status as u64, want["status"].as_u64().unwrap_or(0));
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: session"),
        "{head}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(want["response"].clone())
    );
    // Errors are HTML pages, as CherryPy's.
    let (status, head, _) = api.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        "[{\"client\": \"local\", \"tgt\": \"*\", \"fun\": \"test.ping\"}]",
        &api.url("/"),
    ]);
    assert_eq!(status, 401);
    assert!(head.contains("text/html"), "{head}");
    let (status, _, _) = api.curl(&["-H", "Accept: text/html", &api.url("/")]);
    assert_eq!(
        status as u64,
        fx["error_406"]["status"].as_u64().unwrap_or(406)
    );
}
