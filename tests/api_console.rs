//! brine-api's web console in a real browser: a master with sharedsecret eauth, an accepted
//! minion and brine-api; tests/api_console.py drives headless Chromium through chromedriver
//! (log in, an event fired with brine-run in the events pane, test.ping's return, the key)
//! and saves a screenshot. Skipped, with the reason printed, when Chromium or chromedriver
//! is not installed (CI installs chromium, chromium-driver and the Python selenium package).

use crate::common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// 32 hex characters from the kernel, so no two runs share a secret.
fn random_secret() -> String {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("read /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Why the browser test cannot run here, if it cannot.
fn missing_browser() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} is not installed (apt-get install chromium chromium-driver)"))
}

#[test]
fn the_console_logs_in_shows_events_runs_a_job_and_lists_keys() {
    if let Some(why) = missing_browser() {
        eprintln!("skipped: {why}");
        return;
    }
    let secret = random_secret();
    let master = Master::start_with(&format!(
        "auto_accept: True\n\
         sharedsecret: {secret}\n\
         external_auth:\n  sharedsecret:\n    ops:\n      - '.*'\n      - '@wheel'\n      - '@runner'\n\
         netapi_enable_clients: [local_async, local, wheel, runner]\n"
    ));
    let minion = Minion::start(&master, "m1", "");
    minion.wait_log("authenticated with the master", 1);
    let api = Api::start(&master, "", "");

    let out_dir = tempfile::tempdir().expect("temp dir");
    let shot: PathBuf = out_dir.path().join("console.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_console.py");
    let child = Command::new("python3")
        .arg(&script)
        .args(["--url", &api.url("/app")])
        .args(["--user", "ops", "--eauth", "sharedsecret"])
        .args(["--password", &secret])
        .arg("--brine-run")
        .arg(bin("brine-run"))
        .arg("--config")
        .arg(master.conf())
        .args(["--minion", "m1"])
        .arg("--screenshot")
        .arg(&shot)
        .args(["--chromium", CHROMIUM, "--chromedriver", CHROMEDRIVER])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with selenium: pip install selenium)");
    let out = output_within(child, Duration::from_secs(240));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}\nbrine-api log:\n{}",
        stdout(&out),
        stderr(&out),
        api.log()
    );

    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {} bytes",
        png.len()
    );
}
