//! State runs, side by side with Salt 3007.15's `salt-call --local` on the same trees.
//!
//! Prints, in one run: the wall time of a 1,000-state `file.managed` SLS (1,000 small files
//! from `salt://`) and of a 200-state `test.*` SLS (with requisites), each first run (every
//! file new) and second run (nothing to change), for `brine-call --local` and, when Salt is
//! installed, for `salt-call --local` (found as $SALT_CALL, on PATH, or in
//! /work/saltvenv/bin), with the ratio; then the minion daemon's VmRSS idle, right after a
//! state run through the master, and a few seconds later.

mod common;

use common::{free_port, status_kib, Kill};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILES: usize = 1000;
const TESTS: usize = 200;

/// The trees: `files/f0000..` and `many.sls` managing each into `dest`, and `tests.sls`.
fn trees(root: &Path, dest: &Path) {
    std::fs::create_dir_all(root.join("files")).unwrap();
    let mut sls = String::new();
    for i in 0..FILES {
        std::fs::write(
            root.join(format!("files/f{i:04}")),
            format!("file {i}\nline two\n"),
        )
        .unwrap();
        sls.push_str(&format!(
            "f{i:04}:\n  file.managed:\n    - name: {}/f{i:04}\n    - source: salt://files/f{i:04}\n    - makedirs: True\n",
            dest.display()
        ));
    }
    std::fs::write(root.join("many.sls"), sls).unwrap();
    let mut t = String::new();
    let funs = [
        "nop",
        "succeed_with_changes",
        "succeed_without_changes",
        "configurable_test_state",
    ];
    for i in 0..TESTS {
        t.push_str(&format!("t{i:03}:\n  test.{}:\n", funs[i % funs.len()]));
        if i % 5 == 4 {
            t.push_str(&format!("    - require:\n      - test: t{:03}\n", i - 1));
        } else if i % 7 == 6 {
            t.push_str(&format!("    - watch:\n      - test: t{:03}\n", i - 2));
        } else {
            t.push_str("    - comment: bench\n");
        }
    }
    std::fs::write(root.join("tests.sls"), t).unwrap();
}

fn salt_call() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SALT_CALL") {
        return Some(PathBuf::from(p));
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("salt-call");
        if p.exists() {
            return Some(p);
        }
    }
    let p = PathBuf::from("/work/saltvenv/bin/salt-call");
    p.exists().then_some(p)
}

/// Runs one command to completion; its wall time in seconds.
fn time(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

fn main() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("roots");
    let brine_dest = d.path().join("dest-brine");
    let salt_dest = d.path().join("dest-salt");
    // One tree per tool: the SLS names the destination.
    trees(&root.join("brine"), &brine_dest);
    trees(&root.join("salt"), &salt_dest);
    let bconf = d.path().join("bconf");
    std::fs::create_dir_all(&bconf).unwrap();
    std::fs::write(
        bconf.join("minion"),
        format!(
            "id: bench\nfile_client: local\nfile_roots: {{base: [{}]}}\npillar_roots: {{base: [{p}/pillar]}}\ncachedir: {p}/bcache\nsock_dir: {p}/brun\npki_dir: {p}/bpki\nlog_level: warning\n",
            root.join("brine").display(),
            p = d.path().display()
        ),
    )
    .unwrap();
    let salt = salt_call();
    let sconf = d.path().join("sconf");
    if salt.is_some() {
        std::fs::create_dir_all(&sconf).unwrap();
        std::fs::write(
            sconf.join("minion"),
            format!(
                "id: bench\nfile_client: local\nfile_roots: {{base: [{}]}}\npillar_roots: {{base: [{p}/pillar]}}\nroot_dir: {p}/sroot\ncachedir: {p}/scache\nsock_dir: {p}/srun\npki_dir: {p}/spki\nlog_file: {p}/slog\n",
                root.join("salt").display(),
                p = d.path().display()
            ),
        )
        .unwrap();
    }
    let brine = |sls: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_brine-call"));
        c.arg("-c")
            .arg(&bconf)
            .args(["--local", "--out", "quiet", "state.apply", sls]);
        c
    };
    let salt_cmd = |sls: &str| {
        let mut c = Command::new(salt.as_ref().unwrap());
        c.arg(format!("--config-dir={}", sconf.display())).args([
            "--local",
            "--out=quiet",
            "-l",
            "quiet",
            "state.apply",
            sls,
        ]);
        c
    };
    if salt.is_none() {
        println!("Salt is not installed (no $SALT_CALL, salt-call on PATH or /work/saltvenv): its column is skipped");
    }
    for (sls, what) in [
        ("many", "1,000 file.managed from salt://"),
        ("tests", "200 test.* with requisites"),
    ] {
        for run in ["first run", "second run"] {
            let b = time(&mut brine(sls));
            match &salt {
                Some(_) => {
                    let s = time(&mut salt_cmd(sls));
                    println!(
                        "{what}, {run}: brine {:.3} s, salt-call {:.3} s, {:.1}x",
                        b,
                        s,
                        s / b
                    );
                }
                None => println!("{what}, {run}: brine {b:.3} s"),
            }
        }
    }
    let files = std::fs::read_dir(&brine_dest)
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(files, FILES, "brine managed every file");

    // The minion's memory around a state run through a master.
    let (pp, rp) = (free_port(), free_port());
    let p = d.path().display().to_string();
    std::fs::create_dir_all(d.path().join("mconf")).unwrap();
    std::fs::create_dir_all(d.path().join("nconf")).unwrap();
    std::fs::write(
        d.path().join("mconf/master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\npki_dir: {p}/mpki\nsock_dir: {p}/mrun\ncachedir: {p}/mcache\nlog_level: warning\nauto_accept: True\nfile_roots: {{base: [{}]}}\npillar_roots: {{base: [{p}/pillar]}}\n",
            root.join("brine").display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.path().join("nconf/minion"),
        format!(
            "id: bench1\nmaster: 127.0.0.1\nmaster_port: {rp}\npublish_port: {pp}\nsock_dir: {p}/nrun\ncachedir: {p}/ncache\npki_dir: {p}/npki\nlog_file: {p}/nlog\nlog_level: warning\nacceptance_wait_time: 1\n"
        ),
    )
    .unwrap();
    let _master = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-master"))
            .arg("-c")
            .arg(d.path().join("mconf"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let minion = Kill(
        Command::new(env!("CARGO_BIN_EXE_brine-minion"))
            .arg("-c")
            .arg(d.path().join("nconf"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ping = || {
        Command::new(env!("CARGO_BIN_EXE_brine"))
            .arg("-c")
            .arg(d.path().join("mconf"))
            .args(["bench1", "test.ping", "--out", "json"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
            .unwrap_or(false)
    };
    let t = Instant::now();
    while !ping() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the minion never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let start-up settle (the minion trims its heap when idle).
    std::thread::sleep(Duration::from_secs(4));
    let pid = minion.0.id();
    let idle = status_kib(pid, "VmRSS");
    let t = time(
        Command::new(env!("CARGO_BIN_EXE_brine"))
            .arg("-c")
            .arg(d.path().join("mconf"))
            .args([
                "bench1",
                "state.apply",
                "tests",
                "--out",
                "quiet",
                "-t",
                "60",
            ]),
    );
    let after = status_kib(pid, "VmRSS");
    std::thread::sleep(Duration::from_secs(4));
    let later = status_kib(pid, "VmRSS");
    assert!(ping(), "the minion still answers");
    println!(
        "minion VmRSS: idle {idle} KiB, right after a 200-state run through the master ({t:.3} s) {after} KiB, 4 s later {later} KiB, VmHWM {} KiB",
        status_kib(pid, "VmHWM")
    );
}
