//! The `pam` eauth backend on the real system: a PAM service file of our own with pam_unix
//! for `auth` and `account`, test users made with the shadow tools, and `eauth::authenticate`
//! deciding. Needs root (to add users and read /etc/shadow) and, on Debian, the packages
//! libpam0g, libpam-modules (pam_unix.so) and passwd (useradd, chpasswd, usermod, chage).
//!
//! The account check is the point (CVE-2022-22967: Salt let a locked or expired account in
//! with its right password until it called `pam_acct_mgmt`).

use std::io::Write;
use std::process::{Command, Stdio};

use brine::api::eauth::{self, AccountProblem, EauthConfig, EauthError};
use serde_json::json;

const SERVICE: &str = "brine-test";
const SERVICE_FILE: &str = "/etc/pam.d/brine-test";
const GROUP: &str = "brinepamgrp";
const OK: &str = "brinepamok";
const LOCKED: &str = "brinepamlocked";
const EXPIRED: &str = "brinepamexpired";
const CHANGE: &str = "brinepamchange";
const USERS: [&str; 4] = [OK, LOCKED, EXPIRED, CHANGE];
const PASSWORD: &str = "Brine-pam-test 1!";

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (Debian: apt-get install passwd)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command whose failure is fine (removing what may not be there).
fn try_run(cmd: &str, args: &[&str]) {
    let _ = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn set_password(user: &str) {
    let mut child = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .expect("chpasswd (Debian: passwd)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{user}:{PASSWORD}\n").as_bytes())
        .expect("write to chpasswd");
    assert!(child.wait().expect("chpasswd").success(), "chpasswd {user}");
}

fn remove_all() {
    for u in USERS {
        try_run("userdel", &["-f", u]);
    }
    try_run("groupdel", &[GROUP]);
    let _ = std::fs::remove_file(SERVICE_FILE);
}

/// The service file and the users, removed again when dropped (also after a failed assert).
struct Fixture;

impl Fixture {
    fn new() -> Fixture {
        // Leftovers of an interrupted run first.
        remove_all();
        // nodelay: pam_unix would sleep about two seconds after each wrong password.
        std::fs::write(
            SERVICE_FILE,
            "auth     required pam_unix.so nodelay\naccount  required pam_unix.so\n",
        )
        .expect("write /etc/pam.d/brine-test");
        run("groupadd", &[GROUP]);
        for u in USERS {
            run(
                "useradd",
                &[
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "-G",
                    GROUP,
                    u,
                ],
            );
            set_password(u);
        }
        run("usermod", &["-L", LOCKED]);
        run("chage", &["-E", "0", EXPIRED]);
        run("chage", &["-d", "0", CHANGE]);
        Fixture
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        remove_all();
    }
}

#[test]
fn pam_accepts_the_right_password_and_refuses_locked_and_expired_accounts() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to add users and a PAM service file");
        return;
    }
    let _fx = Fixture::new();
    let cfg = EauthConfig::new(
        &json!({"pam": {"brinepam*": ["test.ping"]}}),
        None,
        Some(SERVICE),
    )
    .expect("eauth config");
    let auth = |user: &str, pw: &str| eauth::authenticate(&cfg, "pam", user, pw);

    let id = auth(OK, PASSWORD).expect("the right password is accepted");
    assert_eq!(id.name, OK);
    assert_eq!(id.eauth, "pam");
    // Its own group (Debian's useradd makes one) and the supplementary one.
    assert!(id.groups.iter().any(|g| g == GROUP), "{:?}", id.groups);
    assert!(id.groups.iter().any(|g| g == OK), "{:?}", id.groups);

    let e = auth(OK, "wrong password").unwrap_err();
    assert_eq!(
        e,
        EauthError::BadCredentials {
            eauth: "pam".into(),
            user: OK.into()
        }
    );
    assert!(!e.to_string().contains("wrong password"), "{e}");
    assert!(auth(OK, "").is_err());

    // `usermod -L` puts `!` before the hash: pam_unix's auth step already fails, the same way
    // as a wrong password (PAM does not say "locked" here).
    let e = auth(LOCKED, PASSWORD).unwrap_err();
    eprintln!("a locked account: {e}");
    assert!(
        matches!(e, EauthError::BadCredentials { .. })
            || matches!(
                e,
                EauthError::Account {
                    problem: AccountProblem::Locked,
                    ..
                }
            ),
        "{e}"
    );

    // The password is right; only pam_acct_mgmt refuses the account.
    let e = auth(EXPIRED, PASSWORD).unwrap_err();
    assert_eq!(
        e,
        EauthError::Account {
            eauth: "pam".into(),
            user: EXPIRED.into(),
            problem: AccountProblem::Expired
        },
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("eauth pam: user {EXPIRED:?} refused: account expired")
    );
    assert_ne!(
        e,
        auth(LOCKED, PASSWORD).unwrap_err(),
        "locked and expired are told apart"
    );

    let e = auth(CHANGE, PASSWORD).unwrap_err();
    assert!(
        matches!(
            e,
            EauthError::Account {
                problem: AccountProblem::PasswordChangeRequired,
                ..
            }
        ),
        "{e}"
    );

    let e = auth("brinepamnobody", PASSWORD).unwrap_err();
    assert!(
        matches!(
            e,
            EauthError::UnknownUser { .. } | EauthError::BadCredentials { .. }
        ),
        "{e}"
    );
    assert!(!e.is_server_fault(), "{e}");
}
