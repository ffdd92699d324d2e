//! smtp.send_msg and http.query end to end: a master and a minion on loopback, a real SMTP
//! server (aiosmtpd: STARTTLS, SMTPS, plain, refusing) and a real HTTP(S) server (Python's
//! http.server), both on ephemeral ports, with a throwaway CA the minion trusts through
//! SSL_CERT_FILE. Calls go through `brine-call` (the daemon and --local) and `brine`.

use crate::common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// An SMTP sink in `mode`, writing what it accepts to `out`.
fn smtp_sink(pki: &Pki, mode: &str, out: &Path, auth: Option<&str>) -> (Bg, u16) {
    let (cert, key, out) = (
        pki.path("cert.pem").display().to_string(),
        pki.path("key.pem").display().to_string(),
        out.display(),
    );
    let out = out.to_string();
    let mut args = vec![
        "--mode", mode, "--cert", &cert, "--key", &key, "--out", &out,
    ];
    if let Some(a) = auth {
        args.extend(["--auth", a]);
    }
    py_server("smtp_sink.py", &args)
}

/// The minion's error lines, for assertion messages.
fn errors(mi: &Minion) -> String {
    let log = mi.log();
    log.lines()
        .filter(|l| l.contains("[ERROR]"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `brine-call --out json ARGS` against `mi` returned.
fn call(mi: &Minion, args: &[&str]) -> Value {
    let mut a = vec!["--out", "json"];
    a.extend_from_slice(args);
    let out = mi.call(&a);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| {
        panic!(
            "brine-call {args:?}: {} / {}\nminion log:\n{}",
            stdout(&out),
            stderr(&out),
            mi.log()
        )
    });
    v["local"].clone()
}

/// The return of a `brine-call --out json` call.
fn local(o: &Output) -> Value {
    let v: Value = serde_json::from_str(&stdout(o))
        .unwrap_or_else(|_| panic!("not JSON: {} / {}", stdout(o), stderr(o)));
    v["local"].clone()
}

/// A master that accepts every key, and one minion that trusts `pki`'s CA.
fn minion_trusting(pki: &Pki, id: &str, extra: &str) -> (Master, Minion) {
    let m = Master::start_with("auto_accept: True\n");
    let ca = pki.path("ca.pem").display().to_string();
    let mi = Minion::start_with_env(&m, id, extra, &[("SSL_CERT_FILE", ca.as_str())]);
    mi.wait_log("authenticated with the master", 1);
    (m, mi)
}

fn brine(m: &Master, args: &[&str]) -> Value {
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(m.conf())
        .args(["--out", "json", "--static", "-t", "20"])
        .args(args)
        .output()
        .expect("run brine");
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|_| panic!("not JSON: {} / {}", stdout(&out), stderr(&out)))
}

#[test]
fn smtp_send_msg_delivers_with_starttls_smtps_profiles_and_attachments() {
    let pki = Pki::new();
    let spool = tempfile::tempdir().expect("temp dir");
    let dirs: Vec<PathBuf> = ["starttls", "smtps", "plain", "reject"]
        .iter()
        .map(|d| {
            let p = spool.path().join(d);
            std::fs::create_dir_all(&p).expect("spool dir");
            p
        })
        .collect();
    let (_s1, starttls) = smtp_sink(&pki, "starttls", &dirs[0], Some("bob:hunter2"));
    let (_s2, smtps) = smtp_sink(&pki, "smtps", &dirs[1], None);
    let (_s3, plain) = smtp_sink(&pki, "plain", &dirs[2], None);
    let (_s4, reject) = smtp_sink(&pki, "reject", &dirs[3], None);
    let extra = format!(
        "smtp.sender: flat@brine.test\n\
         mail-prof:\n  smtp.server: 127.0.0.1:{starttls}\n  smtp.tls: True\n  \
         smtp.sender: alerts@brine.test\n  smtp.username: bob\n  smtp.password: hunter2\n\
         not_a_key: 1\n"
    );
    let (m, mi) = minion_trusting(&pki, "mailer", &extra);
    // The profile and the flat smtp.* key are taken; a stray key is still reported.
    assert!(mi.log().contains("unknown key 'not_a_key'"), "{}", mi.log());
    assert!(!mi.log().contains("unknown key 'mail-prof'"));
    assert!(!mi.log().contains("unknown key 'smtp.sender'"));

    // A profile: STARTTLS (offered, so used) and AUTH, two recipients, an attachment.
    let report = spool.path().join("report.txt");
    std::fs::write(&report, "disk /var is 97% full\n").expect("write");
    let attachments = format!("[{}]", report.display());
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "ops@brine.test, dba@brine.test",
            "The disk is nearly full.",
            "subject=Disk alert",
            "profile=mail-prof",
            &format!("attachments={attachments}"),
        ],
    );
    assert_eq!(got, json!(true), "{}", errors(&mi));
    let got = mails(&dirs[0]);
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(mail["mail_from"], "alerts@brine.test");
    assert_eq!(
        mail["rcpt_tos"],
        json!(["ops@brine.test", "dba@brine.test"])
    );
    assert_eq!(mail["starttls"], true);
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["login"], "bob");
    let data = mail["data"].as_str().unwrap_or_default();
    assert!(data.contains("Subject: Disk alert"), "{data}");
    assert!(
        data.contains("To: ops@brine.test, dba@brine.test"),
        "{data}"
    );
    assert!(data.contains("The disk is nearly full."), "{data}");
    let attachment = data
        .split_once("Content-Disposition: attachment; filename=\"report.txt\"")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no attachment: {data}"));
    assert!(attachment.contains("disk /var is 97% full"), "{data}");

    // Through the master: the default use_ssl='True' is SMTPS, the sender the flat key.
    let ret = brine(
        &m,
        &[
            "mailer",
            "smtp.send_msg",
            "oncall@brine.test",
            "hello",
            &format!("server=127.0.0.1:{smtps}"),
        ],
    );
    assert_eq!(ret, json!({"mailer": true}));
    let mail = &mails(&dirs[1])[0];
    assert_eq!(mail["mail_from"], "flat@brine.test");
    assert_eq!(
        (&mail["tls"], &mail["starttls"]),
        (&json!(true), &json!(false))
    );
    assert!(mail["data"]
        .as_str()
        .is_some_and(|d| d.contains("Subject: Message from Salt")));

    // A server without STARTTLS: plain SMTP, as Salt does.
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "a@brine.test",
            "plain",
            &format!("server=127.0.0.1:{plain}"),
            "use_ssl=False",
        ],
    );
    assert_eq!(got, json!(true), "{}", errors(&mi));
    assert_eq!(mails(&dirs[2])[0]["tls"], false);

    // A server that refuses the recipient: False, and the minion logs why.
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "nobody@brine.test",
            "x",
            &format!("server=127.0.0.1:{reject}"),
            "use_ssl=False",
        ],
    );
    assert_eq!(got, json!(false));
    mi.wait_log(
        &format!("[ERROR] smtp.send_msg: cannot send the message through 127.0.0.1:{reject}"),
        1,
    );
    assert!(mi.log().contains("no such user here"), "{}", mi.log());

    // A wrong password is refused: False.
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "a@brine.test",
            "x",
            "profile=mail-prof",
            "password=wrong",
        ],
    );
    assert_eq!(got, json!(true), "the profile's password wins, as in Salt");
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "a@brine.test",
            "x",
            &format!("server=127.0.0.1:{starttls}"),
            "use_ssl=False",
            "username=bob",
            "password=wrong",
        ],
    );
    assert_eq!(got, json!(false));

    // An SMTPS server whose certificate nobody vouches for: False, not a silent send.
    let rogue = Pki::new();
    let rogue_dir = spool.path().join("rogue");
    std::fs::create_dir_all(&rogue_dir).expect("dir");
    let (_s5, rogue_port) = smtp_sink(&rogue, "smtps", &rogue_dir, None);
    let got = call(
        &mi,
        &[
            "smtp.send_msg",
            "a@brine.test",
            "x",
            &format!("server=127.0.0.1:{rogue_port}"),
        ],
    );
    assert_eq!(got, json!(false));
    assert!(mails(&rogue_dir).is_empty());

    // brine-call --local runs the same child from brine-call itself.
    let got = call(
        &mi,
        &[
            "--local",
            "smtp.send_msg",
            "local@brine.test",
            "from brine-call",
            "profile=mail-prof",
        ],
    );
    assert_eq!(got, json!(true), "{}", errors(&mi));
    assert_eq!(mails(&dirs[0]).len(), 3);
    assert_eq!(mails(&dirs[0])[2]["rcpt_tos"], json!(["local@brine.test"]));
}

#[test]
fn http_query_shapes_answers_and_failures_as_salt_does() {
    let pki = Pki::new();
    let (_h, port) = py_server("http_echo.py", &[]);
    let (cert, key) = (
        pki.path("cert.pem").display().to_string(),
        pki.path("key.pem").display().to_string(),
    );
    let (_hs, tls_port) = py_server("http_echo.py", &["--cert", &cert, "--key", &key]);
    let (m, mi) = minion_trusting(&pki, "web", "");
    let base = format!("http://127.0.0.1:{port}");
    let query = |args: &[&str]| {
        let mut a = vec!["http.query"];
        a.extend_from_slice(args);
        call(&mi, &a)
    };

    // GET with params, status, headers and a JSON decode.
    let r = query(&[
        &format!("{base}/echo"),
        "params={q: salt, n: 2}",
        "status=True",
        "headers=True",
        "decode=True",
    ]);
    assert_eq!(r["status"], 200);
    assert_eq!(r["headers"]["X-Test"], "one");
    assert_eq!(r["headers"]["Content-Type"], "application/json");
    assert_eq!(r["dict"]["method"], "GET");
    assert_eq!(r["dict"]["query"], json!({"q": ["salt"], "n": ["2"]}));
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap_or("")).expect("JSON");
    assert_eq!(body, r["dict"]);
    assert!(r.get("text").is_none());

    // POST a map (form-encoded) and a string with its own content type.
    let r = query(&[
        &format!("{base}/echo"),
        "method=POST",
        "data={k: v w, x: 1}",
        "decode=True",
        "decode_type=json",
    ]);
    assert_eq!(r["dict"]["method"], "POST");
    assert_eq!(r["dict"]["body"], "k=v+w&x=1");
    assert_eq!(
        r["dict"]["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let r = query(&[
        &format!("{base}/echo"),
        "method=PUT",
        r#"data={"a": 1}"#,
        r#"header_dict={"Content-Type": "application/json", "X-Who": "brine"}"#,
        "decode=True",
    ]);
    assert_eq!(r["dict"]["method"], "PUT");
    assert_eq!(r["dict"]["headers"]["x-who"], "brine");
    assert_eq!(r["dict"]["headers"]["content-type"], "application/json");

    // text=True, and a body that is not JSON with decode_type auto is plain text.
    let r = query(&[
        &format!("{base}/auth"),
        "username=admin",
        "password=s3cret",
        "decode=True",
    ]);
    assert_eq!(r, json!({"body": "welcome", "text": "welcome"}));

    // Non-2xx: status, error and body, whatever status= says.
    let r = query(&[&format!("{base}/auth"), "username=admin", "password=nope"]);
    assert_eq!(
        r,
        json!({"status": 401, "error": "HTTP 401: Unauthorized", "body": "who are you"})
    );
    let r = query(&[&format!("{base}/status/500"), "text=True"]);
    assert_eq!(r["status"], 500);
    assert_eq!(r["error"], "HTTP 500: Internal Server Error");
    // raise_error=False keeps a non-2xx answer a plain answer.
    let r = query(&[
        &format!("{base}/status/404"),
        "raise_error=False",
        "status=True",
    ]);
    assert_eq!(r, json!({"body": "status 404", "status": 404}));

    // Unsupported decodes say so.
    let r = query(&[&format!("{base}/xml"), "decode=True"]);
    assert_eq!(r["error"], "decode_type xml is not supported by brine");

    // No server: the OS error in Python's words, status 0 when asked.
    let closed = free_port();
    let r = query(&[&format!("http://127.0.0.1:{closed}/"), "status=True"]);
    assert_eq!(
        r,
        json!({"status": 0, "error": "[Errno 111] Connection refused"})
    );
    mi.wait_log("[ERROR] http.query: [Errno 111] Connection refused", 1);

    // HTTPS: trusted through SSL_CERT_FILE; an untrusted server fails unless verify_ssl=False.
    let r = query(&[&format!("https://127.0.0.1:{tls_port}/echo"), "decode=True"]);
    assert_eq!(r["dict"]["path"], "/echo", "{r}");
    let rogue = Pki::new();
    let (rc, rk) = (
        rogue.path("cert.pem").display().to_string(),
        rogue.path("key.pem").display().to_string(),
    );
    let (_hr, rogue_port) = py_server("http_echo.py", &["--cert", &rc, "--key", &rk]);
    let r = query(&[&format!("https://127.0.0.1:{rogue_port}/echo")]);
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("certificate")),
        "{r}"
    );
    let r = query(&[
        &format!("https://127.0.0.1:{rogue_port}/echo"),
        "verify_ssl=False",
        "status=True",
    ]);
    assert_eq!(r["status"], 200, "{r}");

    // A slow server: the call times out, and meanwhile the minion answers other calls.
    let slow = Command::new(bin("brine-call"))
        .arg("-c")
        .arg(mi.conf())
        .args(["--out", "json", "http.query"])
        .arg(format!("{base}/slow"))
        .arg("timeout=2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brine-call");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(call(&mi, &["test.ping"]), json!(true));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "test.ping waited for http.query"
    );
    let out = output_within(slow, T);
    assert_eq!(local(&out), json!({"error": "Timeout during request"}));

    // Through the master, and through brine-call --local.
    let ret = brine(
        &m,
        &["web", "http.query", &format!("{base}/echo"), "status=True"],
    );
    assert_eq!(ret["web"]["status"], 200, "{ret}");
    let got = call(
        &mi,
        &[
            "--local",
            "http.query",
            &format!("https://127.0.0.1:{tls_port}/status/202"),
            "status=True",
        ],
    );
    assert_eq!(got, json!({"body": "status 202", "status": 202}));
}
