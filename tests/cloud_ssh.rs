//! brine-cloud's SSH runner against a real OpenSSH server on 127.0.0.1: commands arrive
//! literally, uploads get their mode, host keys are checked, passwords never reach an argv.

use crate::common::Sshd;
use brine::cloud::ssh::{wait_for_port, CloudSshError, Ssh, SshAuth, SshTarget};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// The running sshd, or None (with the reason printed) where one cannot run.
fn sshd() -> Option<Sshd> {
    match Sshd::available() {
        Ok(()) => Some(Sshd::start()),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn root(s: &Sshd) -> SshTarget {
    SshTarget::with_key("127.0.0.1", s.port, "root", &s.client_key, &s.known_hosts)
}

#[test]
fn nasty_arguments_arrive_literally() {
    let Some(s) = sshd() else { return };
    let ssh = Ssh::new(root(&s)).unwrap();
    let marker = s.dir.path().join("pwned");
    let inject = format!("$(touch {})", marker.display());
    let words = [
        "it's",
        "\"double\"",
        inject.as_str(),
        "`touch /tmp/brine-cloud-ssh-pwned`",
        "a; touch /tmp/brine-cloud-ssh-pwned",
        "line1\nline2",
        "$HOME",
        "*",
        "",
        "-n",
        "back\\slash",
        "ü ✓",
    ];
    let mut argv = vec!["printf", "%s\\0"];
    argv.extend_from_slice(&words);
    let out = ssh
        .run_argv(&argv, T)
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<&str> = text.split('\0').collect();
    assert_eq!(&got[..words.len()], &words[..]);
    assert_eq!(got[words.len()], "");
    assert!(!marker.exists(), "a command substitution ran");
    assert!(!Path::new("/tmp/brine-cloud-ssh-pwned").exists());
    // The remote exit status comes back as it is, not as an error.
    let out = ssh.run("exit 3", T).unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn uploads_land_with_their_mode() {
    let Some(s) = sshd() else { return };
    let ssh = Ssh::new(root(&s)).unwrap();
    let remote_dir = s.dir.path().join("remote tmp 'dir'");
    let rd = remote_dir.to_str().unwrap();
    let out = ssh
        .run_ok("mkdir", &["mkdir", "-p", "-m", "700", rd], T)
        .unwrap();
    assert!(out.status.success());
    let meta = std::fs::metadata(&remote_dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);

    let local = s.dir.path().join("deploy:script.sh");
    std::fs::write(&local, "#!/bin/sh\necho deployed \"$@\"\n").unwrap();
    let remote = format!("{rd}/deploy.sh");
    ssh.upload(&local, &remote, 0o755, T)
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    let meta = std::fs::metadata(&remote).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    let out = ssh.run_argv(&[&remote, "-c", rd], T).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("deployed -c {rd}\n")
    );

    let pem = format!("{rd}/minion.pem");
    ssh.upload_bytes(b"-----BEGIN KEY-----\n", &pem, 0o600, T)
        .unwrap();
    assert_eq!(std::fs::read(&pem).unwrap(), b"-----BEGIN KEY-----\n");
    assert_eq!(
        std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A remote path that could be an option is refused before anything runs.
    let e = ssh
        .upload(&local, "-oProxyCommand=x", 0o600, T)
        .unwrap_err();
    assert!(matches!(e, CloudSshError::InvalidArgument { .. }), "{e}");
    // A failing chmod (no such directory) names the host and the step.
    let e = ssh
        .upload_bytes(b"x", &format!("{rd}/no/such/dir/f"), 0o600, T)
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("127.0.0.1: upload "), "{msg}");
}

#[test]
fn host_keys_are_checked_unless_the_profile_asks_otherwise() {
    let Some(s) = sshd() else { return };
    let mut t = root(&s);
    t.known_hosts = Some(s.wrong_known_hosts());
    let ssh = Ssh::new(t.clone()).unwrap();
    let e = ssh.run("true", T).unwrap_err();
    assert!(matches!(e, CloudSshError::HostKey { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("127.0.0.1: run: host key verification failed"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    let e = ssh.wait_for_passwd(1).unwrap_err();
    assert!(e.to_string().contains("wait_for_passwd"), "{e}");

    // An empty known_hosts refuses too: an unknown key is not accepted on first sight.
    let empty = s.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    t.known_hosts = Some(empty.clone());
    let e = Ssh::new(t.clone()).unwrap().run("true", T).unwrap_err();
    assert!(matches!(e, CloudSshError::HostKey { .. }), "{e}");
    assert_eq!(
        std::fs::read(&empty).unwrap(),
        b"",
        "ssh wrote to known_hosts"
    );

    // known_hosts: None is Salt's mode, accepting any key.
    t.known_hosts = None;
    let out = Ssh::new(t).unwrap().run("echo ok", T).unwrap();
    assert_eq!(out.stdout, b"ok\n");
    // And the right file lets it in.
    assert_eq!(Ssh::new(root(&s)).unwrap().wait_for_passwd(3).unwrap(), 1);
}

#[test]
fn wait_for_port_times_out_on_a_closed_port() {
    let port = crate::common::free_port();
    let start = Instant::now();
    let e = wait_for_port("127.0.0.1", port, Duration::from_secs(1)).unwrap_err();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(matches!(e, CloudSshError::PortClosed { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "127.0.0.1:{port}: wait_for_port: no connection within"
        )),
        "{msg}"
    );
    let Some(s) = sshd() else { return };
    wait_for_port("127.0.0.1", s.port, Duration::from_secs(5)).unwrap();
}

/// Every process's argv (NUL-separated) as text.
fn all_cmdlines() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Ok(b) = std::fs::read(e.path().join("cmdline")) {
                v.push(String::from_utf8_lossy(&b).into_owned());
            }
        }
    }
    v
}

#[test]
fn passwords_go_through_askpass_and_never_an_argv() {
    let Some(mut s) = sshd() else { return };
    let good = "Corr3ct horse 'battery' $(staple)";
    let user = s.add_password_user(good);
    let target = |pw: &str| SshTarget {
        host: "127.0.0.1".into(),
        port: s.port,
        username: user.clone(),
        auth: SshAuth::Password(pw.into()),
        known_hosts: Some(s.known_hosts.clone()),
        gateway: None,
        connect_timeout: Duration::from_secs(5),
    };
    let ok = Ssh::new(target(good)).unwrap();
    let out = ok
        .run("id -un", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        user,
        "{}",
        s.log()
    );

    let wrong = "wr0ng-pw-brine-9f3a";
    let bad = Ssh::new(target(wrong)).unwrap();
    for a in bad.ssh_argv("true") {
        assert!(!a.to_string_lossy().contains(wrong));
    }
    // Watch every argv on the machine while the refused login runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for c in all_cmdlines() {
                    assert!(!c.contains(wrong), "the password is in an argv: {c:?}");
                    assert!(!c.contains("Corr3ct"), "the password is in an argv: {c:?}");
                    if c.starts_with("/usr/bin/ssh") {
                        seen += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            seen
        })
    };
    let start = Instant::now();
    let e = bad.run("true", T).unwrap_err();
    let e2 = bad.wait_for_passwd(2).unwrap_err();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.join().expect("no password in any argv");
    assert!(seen > 0, "the watcher never saw ssh run");
    assert!(matches!(e, CloudSshError::Auth { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("127.0.0.1: run: authentication refused"),
        "{msg}"
    );
    assert!(!msg.contains(wrong) && !e2.to_string().contains(wrong));
    assert!(e2.to_string().contains("wait_for_passwd"), "{e2}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    // The Debug form is what a failing assert would print: no password there either.
    assert!(!format!("{:?}", bad.target()).contains(wrong));
}

#[test]
fn a_host_or_user_that_could_be_an_option_never_reaches_ssh() {
    // No sshd needed: these are refused before any process starts.
    let mut t = SshTarget::with_key(
        "-oProxyCommand=touch /tmp/brine-cloud-ssh-opt",
        22,
        "root",
        Path::new("/nonexistent/key"),
        Path::new("/nonexistent/known_hosts"),
    );
    let e = Ssh::new(t.clone()).unwrap_err();
    assert!(matches!(e, CloudSshError::InvalidHost { .. }), "{e}");
    assert!(e.to_string().contains("starts with '-'"), "{e}");
    assert!(wait_for_port(&t.host, 22, Duration::from_secs(1)).is_err());
    t.host = "127.0.0.1".into();
    t.username = "-oProxyCommand=x".into();
    assert!(matches!(
        Ssh::new(t.clone()).unwrap_err(),
        CloudSshError::InvalidUser { .. }
    ));
    t.username = "root".into();
    t.gateway = Some("-oProxyCommand=x".into());
    assert!(matches!(
        Ssh::new(t).unwrap_err(),
        CloudSshError::InvalidGateway { .. }
    ));
    assert!(!Path::new("/tmp/brine-cloud-ssh-opt").exists());
}

#[test]
fn a_deadline_stops_a_hanging_command() {
    let Some(s) = sshd() else { return };
    let ssh = Ssh::new(root(&s)).unwrap();
    let start = Instant::now();
    let e = ssh
        .run_step("deploy.sh", "sleep 30", Duration::from_secs(2))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(e, CloudSshError::Timeout { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("127.0.0.1: deploy.sh: no answer within 2.0 s"),
        "{e}"
    );
}
