//! brine-master as a process: configuration errors, daemonizing, the pid file, flags.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

fn master(args: &[&str]) -> std::process::Output {
    Command::new(bin("brine-master"))
        .args(args)
        .output()
        .expect("run brine-master")
}

#[test]
fn bad_yaml_is_one_line_with_file_line_column_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("master"),
        "interface: 127.0.0.1\npublish_port: [4505\n",
    )
    .unwrap();
    let out = master(&["-c", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let file = dir.path().join("master");
    assert!(
        err.starts_with(&format!("brine-master: {}:", file.display())),
        "{err}"
    );
}

#[test]
fn wrong_typed_value_in_master_d_names_the_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("master"), "log_level: info\n").unwrap();
    std::fs::create_dir(dir.path().join("master.d")).unwrap();
    std::fs::write(
        dir.path().join("master.d/x.conf"),
        "\n\npublish_port: abc\n",
    )
    .unwrap();
    let out = master(&["-c", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let file = dir.path().join("master.d/x.conf");
    assert_eq!(
        stderr(&out),
        format!(
            "brine-master: {}:3:15: publish_port: expected an integer, found \"abc\"\n",
            file.display()
        )
    );
}

#[test]
fn unknown_keys_are_warnings_and_the_daemon_runs() {
    let m = Master::start_with("file_roots: {base: [/srv/salt]}\nno_such_key: 1");
    wait_for("the warning", Duration::from_secs(5), || {
        m.log().contains("unknown key 'no_such_key'").then_some(())
    });
    assert!(m.log().contains("master:"), "the warning names the file");
}

#[test]
fn daemonizes_writes_and_removes_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let log = dir.path().join("log/master");
    std::fs::write(
        dir.path().join("master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\npki_dir: {}\nsock_dir: {}\nlog_file: {}\nlog_level: info\n",
            free_port(),
            free_port(),
            dir.path().join("pki").display(),
            run.display(),
            log.display()
        ),
    )
    .unwrap();
    let pid_file = dir.path().join("master.pid");
    let out = master(&[
        "-c",
        dir.path().to_str().unwrap(),
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "the foreground parent exits 0");
    let pid: i32 = wait_for("the pid file", Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    let sock = brine::client::master_socket(&run);
    wait_for("the socket", Duration::from_secs(10), || {
        brine::client::BusClient::connect(&sock).ok()
    });
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("the pid file to go", Duration::from_secs(10), || {
        (!pid_file.exists()).then_some(())
    });
    assert!(!sock.exists());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("listening on"),
        "daemons log to log_file: {logged}"
    );
}

#[test]
fn version_help_and_usage_errors() {
    let v = master(&["--version"]);
    assert_eq!(
        stdout(&v),
        format!("brine-master {}\n", env!("CARGO_PKG_VERSION"))
    );
    let h = master(&["--help"]);
    assert!(stdout(&h).contains("--pid-file FILE"));
    let bad = master(&["--frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        stderr(&bad),
        "brine-master: unknown option '--frobnicate' (see brine-master --help)\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let lvl = master(&["-l", "loud", "-c", dir.path().to_str().unwrap()]);
    assert_eq!(lvl.status.code(), Some(2));
    assert!(stderr(&lvl).contains("unknown log level 'loud'"));
    let missing = master(&["-c", "/nonexistent-brine-dir"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent-brine-dir"));
    for tool in ["brine-event", "brine-run"] {
        let out = Command::new(bin(tool)).arg("-V").output().unwrap();
        assert_eq!(
            stdout(&out),
            format!("{tool} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn a_second_master_on_the_same_socket_refuses_to_start() {
    let m = Master::start();
    let out = master(&["-c", m.conf().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another daemon is listening there"),
        "{}",
        stderr(&out)
    );
    // The first one is untouched.
    let mut c = m.client();
    c.subscribe(brine::matcher::MatchType::StartsWith, "")
        .unwrap();
}

#[test]
fn relative_paths_and_pid_file_are_taken_from_where_it_was_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    std::fs::write(
        dir.path().join("conf/master"),
        format!(
            "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\npki_dir: pki\nsock_dir: run\ncachedir: cache\nlog_file: master.log\n",
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(bin("brine-master"))
        .current_dir(dir.path())
        .args(["-c", "conf", "-d", "--pid-file", "master.pid"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_file = dir.path().join("master.pid");
    let pid: i32 = wait_for("the pid file", Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    let sock = brine::client::master_socket(&dir.path().join("run"));
    wait_for("the socket", Duration::from_secs(10), || {
        brine::client::BusClient::connect(&sock).ok()
    });
    // The job cache opened after detaching, under the start directory, not under /.
    wait_for("the cache", Duration::from_secs(10), || {
        dir.path().join("cache").exists().then_some(())
    });
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("the pid file to go", Duration::from_secs(10), || {
        (!pid_file.exists()).then_some(())
    });
}
