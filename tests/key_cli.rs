//! brine-key against a key store with no master running: the exact output of salt-key
//! (salt-spec §7.5), the prompts read from standard input, the files moved, exit statuses.

use brine::pki::{self, KeyPair, KeyState, KeyStore, PublicKey};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use KeyState::{Accepted as Acc, Denied as Den, Pending as Pre, Rejected as Rej};

/// A configuration directory whose pki_dir and sock_dir live in a temp dir (no master).
struct Env {
    dir: tempfile::TempDir,
    store: KeyStore,
}

/// What one run printed and how it exited.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("conf");
        std::fs::create_dir(&conf).unwrap();
        std::fs::write(
            conf.join("master"),
            format!(
                "pki_dir: {}\nsock_dir: {}\n",
                dir.path().join("pki").display(),
                dir.path().join("run").display()
            ),
        )
        .unwrap();
        let store = KeyStore::open(&dir.path().join("pki")).unwrap();
        Env { dir, store }
    }

    /// Puts a fresh key for `id` in `state` and returns it.
    fn key(&self, state: KeyState, id: &str) -> PublicKey {
        let k = KeyPair::generate().public;
        self.store.put(state, id, &k.to_pem()).unwrap();
        k
    }

    fn keys(&self, keys: &[(KeyState, &str)]) {
        for (state, id) in keys {
            self.key(*state, id);
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// Runs brine-key -c CONF with `args`, feeding `stdin` (None: standard input closed).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brine-key"));
        cmd.arg("-c").arg(self.conf()).args(args);
        run(cmd, stdin)
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let r = self.run(args, stdin);
        assert_eq!(r.status, 0, "{args:?}: {r:?}");
        assert_eq!(r.stderr, "", "{args:?}");
        r.stdout
    }

    fn list(&self, state: KeyState) -> Vec<String> {
        self.store.list(state).unwrap()
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut input = child.stdin.take().unwrap();
        // brine-key may exit without reading (nothing matched): a broken pipe is fine.
        let _ = input.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn pem_lines(k: &PublicKey) -> String {
    k.to_pem()
}

#[test]
fn list_all_prints_every_header_in_salts_order() {
    let e = Env::new();
    e.keys(&[
        (Acc, "minion1"),
        (Acc, "alpha"),
        (Acc, "Zeta"),
        (Pre, "minion2"),
        (Den, "minion1"),
    ]);
    // Salt's key outputter sorts ids with sorted(): by code point, so Zeta before alpha.
    let want = "Accepted Keys:\nZeta\nalpha\nminion1\nDenied Keys:\nminion1\nUnaccepted Keys:\nminion2\nRejected Keys:\n";
    assert_eq!(e.ok(&["-L"], None), want);
    assert_eq!(e.ok(&["--list-all"], None), want);
    assert_eq!(e.ok(&[], None), want);
    assert_eq!(e.ok(&["-l", "all"], None), want);
    let empty = Env::new();
    assert_eq!(
        empty.ok(&["-L"], None),
        "Accepted Keys:\nDenied Keys:\nUnaccepted Keys:\nRejected Keys:\n"
    );
}

#[test]
fn list_one_state() {
    let e = Env::new();
    e.keys(&[
        (Acc, "a1"),
        (Pre, "p1"),
        (Pre, "p2"),
        (Rej, "r1"),
        (Den, "d1"),
    ]);
    for (arg, want) in [
        ("acc", "Accepted Keys:\na1\n"),
        ("accepted", "Accepted Keys:\na1\n"),
        ("un", "Unaccepted Keys:\np1\np2\n"),
        ("unaccepted", "Unaccepted Keys:\np1\np2\n"),
        ("pre", "Unaccepted Keys:\np1\np2\n"),
        ("rej", "Rejected Keys:\nr1\n"),
        ("rejected", "Rejected Keys:\nr1\n"),
        ("den", "Denied Keys:\nd1\n"),
        ("denied", "Denied Keys:\nd1\n"),
    ] {
        assert_eq!(e.ok(&["-l", arg], None), want, "{arg}");
    }
    assert_eq!(e.ok(&["--list=acc"], None), "Accepted Keys:\na1\n");
    let r = e.run(&["-l", "foo"], None);
    assert_eq!(r.status, 2);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "brine-key: 'foo' is not a valid argument to '--list'\n"
    );
}

#[test]
fn accept_asks_and_takes_yes_no_and_empty() {
    let e = Env::new();
    e.keys(&[(Pre, "minion2"), (Pre, "other")]);
    let shown =
        "The following keys are going to be accepted:\nUnaccepted Keys:\nminion2\nProceed? [n/Y] ";

    assert_eq!(e.ok(&["-a", "minion2"], Some("n\n")), shown);
    assert_eq!(e.list(Pre), ["minion2", "other"]);
    assert_eq!(e.ok(&["-a", "minion2"], Some("nope\n")), shown);
    assert_eq!(e.list(Acc), Vec::<String>::new());

    assert_eq!(
        e.ok(&["-a", "minion2"], Some("y\n")),
        format!("{shown}Key for minion minion2 accepted.\n")
    );
    assert_eq!(e.list(Acc), ["minion2"]);
    assert_eq!(e.list(Pre), ["other"]);

    // An empty answer is yes for accept; "Yes" counts too.
    assert_eq!(
        e.ok(&["--accept", "oth*"], Some("\n")),
        "The following keys are going to be accepted:\nUnaccepted Keys:\nother\nProceed? [n/Y] Key for minion other accepted.\n"
    );
    assert_eq!(e.list(Acc), ["minion2", "other"]);
    e.key(Pre, "third");
    assert!(e
        .ok(&["-a", "third"], Some("Yes\n"))
        .ends_with("Key for minion third accepted.\n"));
}

#[test]
fn no_answer_on_stdin_changes_nothing() {
    let e = Env::new();
    e.key(Pre, "m1");
    let r = e.run(&["-a", "m1"], None);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout,
        "The following keys are going to be accepted:\nUnaccepted Keys:\nm1\nProceed? [n/Y] \n"
    );
    assert!(
        r.stderr.contains("no answer on standard input"),
        "{}",
        r.stderr
    );
    assert_eq!(e.list(Pre), ["m1"]);
}

#[test]
fn accept_all_with_yes() {
    let e = Env::new();
    e.keys(&[(Pre, "b"), (Pre, "A"), (Pre, "c"), (Rej, "r"), (Acc, "old")]);
    assert_eq!(
        e.ok(&["-A", "-y"], None),
        "The following keys are going to be accepted:\nUnaccepted Keys:\nA\nb\nc\nKey for minion A accepted.\nKey for minion b accepted.\nKey for minion c accepted.\n"
    );
    assert_eq!(e.list(Acc), ["A", "b", "c", "old"]);
    assert_eq!(e.list(Rej), ["r"]);
    let r = e.run(&["-A", "-y"], None);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout,
        "The key glob '*' does not match any unaccepted keys.\n"
    );
}

#[test]
fn comma_separated_globs() {
    let e = Env::new();
    e.keys(&[(Pre, "web1"), (Pre, "web2"), (Pre, "db1"), (Pre, "db2")]);
    assert_eq!(
        e.ok(&["-y", "-a", "web*,db1"], None),
        "The following keys are going to be accepted:\nUnaccepted Keys:\ndb1\nweb1\nweb2\nKey for minion db1 accepted.\nKey for minion web1 accepted.\nKey for minion web2 accepted.\n"
    );
    assert_eq!(e.list(Pre), ["db2"]);
}

#[test]
fn reject_and_its_include_flags() {
    let e = Env::new();
    e.keys(&[(Pre, "m1"), (Acc, "m2"), (Den, "m3")]);
    assert_eq!(
        e.ok(&["-r", "m*"], Some("y\n")),
        "The following keys are going to be rejected:\nUnaccepted Keys:\nm1\nProceed? [n/Y] Key for minion m1 rejected.\n"
    );
    assert_eq!(e.list(Rej), ["m1"]);
    let r = e.run(&["-r", "m*"], Some("y\n"));
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (1, "The key glob 'm*' does not match any unaccepted keys.\n")
    );
    // --include-all means accepted keys for reject, not denied ones.
    assert_eq!(
        e.ok(&["-r", "m*", "--include-all", "-y"], None),
        "The following keys are going to be rejected:\nAccepted Keys:\nm2\nKey for minion m2 rejected.\n"
    );
    assert_eq!(
        e.ok(&["-R", "--include-denied", "-y"], None),
        "The following keys are going to be rejected:\nDenied Keys:\nm3\nKey for minion m3 rejected.\n"
    );
    assert_eq!(e.list(Rej), ["m1", "m2", "m3"]);
    let r = e.run(
        &["-r", "zz", "--include-accepted", "--include-denied"],
        None,
    );
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout,
        "The key glob 'zz' does not match any unaccepted, accepted or denied keys.\n"
    );
}

#[test]
fn accept_with_include_rejected_denied_and_all() {
    let e = Env::new();
    let old = e.key(Acc, "m1");
    let new = e.key(Den, "m1");
    e.keys(&[(Rej, "r1"), (Den, "d2")]);
    let r = e.run(&["-a", "r1"], None);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (1, "The key glob 'r1' does not match any unaccepted keys.\n")
    );
    assert_eq!(
        e.ok(&["-a", "r1", "--include-rejected", "-y"], None),
        "The following keys are going to be accepted:\nRejected Keys:\nr1\nKey for minion r1 accepted.\n"
    );
    // --include-all does not take denied keys, as in salt-key.
    let r = e.run(&["-a", "d2", "--include-all", "-y"], None);
    assert_eq!(
        r.stdout,
        "The key glob 'd2' does not match any unaccepted or rejected keys.\n"
    );
    // Accepting a denied key replaces the accepted key of that id.
    assert_ne!(old, new);
    assert_eq!(
        e.ok(&["-a", "m1", "--include-denied"], Some("y\n")),
        "The following keys are going to be accepted:\nDenied Keys:\nm1\nProceed? [n/Y] Key for minion m1 accepted.\n"
    );
    let now = PublicKey::from_pem(&e.store.get(Acc, "m1").unwrap().unwrap()).unwrap();
    assert_eq!(now, new);
    assert_eq!(e.list(Den), ["d2"]);
    let r = e.run(&["-a", "x", "--include-all", "--include-denied"], None);
    assert_eq!(
        r.stdout,
        "The key glob 'x' does not match any unaccepted, rejected or denied keys.\n"
    );
}

#[test]
fn delete_defaults_to_no_and_acts_on_every_state() {
    let e = Env::new();
    e.keys(&[
        (Acc, "m1"),
        (Den, "m1"),
        (Pre, "m2"),
        (Rej, "m3"),
        (Acc, "keep"),
    ]);
    let shown = "The following keys are going to be deleted:\nAccepted Keys:\nm1\nDenied Keys:\nm1\nUnaccepted Keys:\nm2\nRejected Keys:\nm3\nProceed? [N/y] ";
    assert_eq!(e.ok(&["-d", "m*"], Some("\n")), shown);
    assert_eq!(e.ok(&["-d", "m*"], Some("n\n")), shown);
    assert_eq!(e.list(Acc), ["keep", "m1"]);
    // Reported in the order Salt walks the directories: accepted, pending, rejected, denied.
    assert_eq!(
        e.ok(&["--delete", "m*"], Some("y\n")),
        format!("{shown}Key for minion m1 deleted.\nKey for minion m2 deleted.\nKey for minion m3 deleted.\nKey for minion m1 deleted.\n")
    );
    for s in [Pre, Rej, Den] {
        assert!(e.list(s).is_empty());
    }
    assert_eq!(e.list(Acc), ["keep"]);
    // salt-key names only unaccepted keys here, though delete looks everywhere.
    let r = e.run(&["-d", "m*"], Some("y\n"));
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout,
        "The key glob 'm*' does not match any unaccepted keys.\n"
    );
}

#[test]
fn delete_all_with_yes_keeps_the_masters_keys() {
    let e = Env::new();
    pki::load_or_generate(e.store.pki_dir(), "master").unwrap();
    e.keys(&[(Acc, "a"), (Pre, "b")]);
    assert_eq!(
        e.ok(&["-D", "-y"], None),
        "The following keys are going to be deleted:\nAccepted Keys:\na\nUnaccepted Keys:\nb\nKey for minion a deleted.\nKey for minion b deleted.\n"
    );
    assert!(e.list(Acc).is_empty() && e.list(Pre).is_empty());
    assert!(e.store.pki_dir().join("master.pem").exists());
}

#[test]
fn fingerprints() {
    let e = Env::new();
    let master = pki::load_or_generate(e.store.pki_dir(), "master").unwrap();
    let m1 = e.key(Pre, "m1");
    let a1 = e.key(Acc, "a1");
    assert_eq!(
        e.ok(&["-f", "m1"], None),
        format!("Unaccepted Keys:\nm1:  {}\n", m1.fingerprint())
    );
    let fp = master.public.fingerprint();
    let all = format!(
        "Local Keys:\nmaster.pem:  {fp}\nmaster.pub:  {fp}\nAccepted Keys:\na1:  {}\nUnaccepted Keys:\nm1:  {}\n",
        a1.fingerprint(),
        m1.fingerprint()
    );
    assert_eq!(e.ok(&["-F"], None), all);
    assert_eq!(e.ok(&["--finger-all"], None), all);
    assert_eq!(e.ok(&["--finger", "*"], None), all);
    assert_eq!(m1.fingerprint().len(), 95);
    let r = e.run(&["-f", "nobody"], None);
    assert_eq!((r.status, r.stdout.as_str()), (1, ""));
}

#[test]
fn print_public_keys() {
    let e = Env::new();
    let m1 = e.key(Pre, "m1");
    let m2 = e.key(Pre, "m2");
    let a = e.key(Acc, "a");
    assert_eq!(
        e.ok(&["-p", "m1"], None),
        format!("Unaccepted Keys:\nm1:  {}", pem_lines(&m1))
    );
    // Each PEM ends with a newline, so keys are separated by a blank line, as in salt-key.
    assert_eq!(
        e.ok(&["-P"], None),
        format!(
            "Accepted Keys:\na:  {}\nUnaccepted Keys:\nm1:  {}\nm2:  {}",
            pem_lines(&a),
            pem_lines(&m1),
            pem_lines(&m2)
        )
    );
    let r = e.run(&["-p", "zz"], None);
    assert_eq!((r.status, r.stdout.as_str()), (1, ""));
}

#[test]
fn json_output() {
    let e = Env::new();
    pki::load_or_generate(e.store.pki_dir(), "master").unwrap();
    e.keys(&[(Acc, "b"), (Acc, "A"), (Pre, "p")]);
    assert_eq!(
        e.ok(&["-L", "--out", "json"], None),
        "{\n    \"minions\": [\n        \"A\",\n        \"b\"\n    ],\n    \"minions_pre\": [\n        \"p\"\n    ],\n    \"minions_rejected\": [],\n    \"minions_denied\": []\n}\n"
    );
    assert_eq!(
        e.ok(&["-l", "un", "--out=json"], None),
        "{\n    \"minions_pre\": [\n        \"p\"\n    ]\n}\n"
    );
    // The listing before the question is JSON too; the messages stay text.
    assert_eq!(
        e.ok(&["-a", "p", "-y", "--out", "json"], None),
        "The following keys are going to be accepted:\n{\n    \"minions_pre\": [\n        \"p\"\n    ]\n}\nKey for minion p accepted.\n"
    );
    let f = e.ok(&["-f", "p", "--out", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&f).unwrap();
    assert_eq!(v["minions"]["p"].as_str().map(str::len), Some(95));
    let r = e.run(&["-L", "--out", "xml"], None);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("unknown outputter 'xml'"), "{}", r.stderr);
}

#[test]
fn gen_keys_writes_a_pair_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let gen = |name: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brine-key"));
        cmd.args(["--gen-keys", name, "--gen-keys-dir"]).arg(&dir);
        run(cmd, None)
    };
    let r = gen("web3");
    assert_eq!(r.status, 0, "{r:?}");
    let public =
        PublicKey::from_pem(&std::fs::read_to_string(dir.join("web3.pub")).unwrap()).unwrap();
    assert_eq!(r.stdout, format!("return:\n    {}\n", public.fingerprint()));
    let pair =
        KeyPair::from_secret_pem(&std::fs::read_to_string(dir.join("web3.pem")).unwrap()).unwrap();
    assert_eq!(pair.public, public);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("web3.pem")), 0o600);
    assert_eq!(mode(&dir.join("web3.pub")), 0o644);
    let r = gen("web3");
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("web3.pem already exists"), "{}", r.stderr);
    let r = gen("../escape");
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("invalid minion id"), "{}", r.stderr);
    // The current directory by default.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brine-key"));
    cmd.args(["--gen-keys", "here"]).current_dir(tmp.path());
    assert_eq!(run(cmd, None).status, 0);
    assert!(tmp.path().join("here.pem").exists() && tmp.path().join("here.pub").exists());
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let e = Env::new();
    for args in [
        &["--bogus"][..],
        &["-a"],
        &["stray"],
        &["--log-level", "loud"],
    ] {
        let r = e.run(args, None);
        assert_eq!(r.status, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.starts_with("brine-key: "),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
    std::fs::write(e.conf().join("master"), "pki_dir: [unclosed\n").unwrap();
    let r = e.run(&["-L"], None);
    assert_eq!(r.status, 2, "{r:?}");
    let h = e.run(&["--help"], None);
    assert_eq!(h.status, 0);
    assert!(h.stdout.contains("--include-denied"));
    let v = e.run(&["-V"], None);
    assert_eq!(
        v.stdout,
        format!("brine-key {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unwritable_pki_dir_is_a_one_line_failure() {
    if unsafe { libc::geteuid() } == 0 {
        // root writes anywhere; nothing to test.
        return;
    }
    let e = Env::new();
    e.key(Pre, "m1");
    let pre = e.store.pki_dir().join("minions_pre");
    std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o000)).unwrap();
    let r = e.run(&["-L"], None);
    std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(r.status, 1, "{r:?}");
    assert!(
        r.stderr.contains("minions_pre: cannot list"),
        "{}",
        r.stderr
    );
}
