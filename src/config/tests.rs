use super::loader::Table;
use super::*;
use crate::yaml::MAX_DEPTH;
use serde_json::Value;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("brine-config-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Write `rel` (creating its directory) and return its full path.
    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn load(dir: &TempDir) -> MasterConfig {
    let (config, warnings) = MasterConfig::load(dir.path()).unwrap();
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    config
}

fn load_err(dir: &TempDir) -> String {
    MasterConfig::load(dir.path()).unwrap_err().to_string()
}

/// The master config from one `master` file holding `yaml`.
fn master_with(yaml: &str) -> Result<MasterConfig, String> {
    let dir = TempDir::new("one");
    dir.write("master", yaml);
    MasterConfig::load(dir.path())
        .map(|(config, _)| config)
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_are_salts_with_brine_paths() {
    let c = MasterConfig::defaults(Path::new("/etc/brine"));
    assert_eq!(c.interface, "0.0.0.0");
    assert_eq!((c.publish_port, c.ret_port), (4505, 4506));
    assert_eq!(c.sock_dir, Path::new("/var/run/brine/master"));
    assert_eq!(c.cachedir, Path::new("/var/cache/brine/master"));
    assert_eq!(c.pki_dir, Path::new("/etc/brine/pki/master"));
    assert_eq!(c.log_file, Path::new("/var/log/brine/master"));
    assert_eq!(c.log_level, "warning");
    assert_eq!(c.max_event_size, 1_048_576);
    assert_eq!(c.event_match_type, "startswith");
    assert_eq!(c.event_listener_buffer, 4_194_304);
    assert_eq!(c.event_listener_overflow, "drop");
    assert_eq!((c.timeout, c.loop_interval), (5, 60));
    assert_eq!((c.keep_jobs, c.keep_jobs_seconds), (24, 86_400));
    assert!(!c.presence_events && c.auth_events && !c.auto_accept && c.rotate_aes_key);
    assert_eq!(c.autosign_file, None);
    assert_eq!(c.reactor, serde_json::json!([]));
    assert_eq!(c.nodegroups, serde_json::json!({}));
    assert_eq!(c.runner_queue, Value::Null);
    assert_eq!(c.conf_dir, Path::new("/etc/brine"));
    assert!(!c.user.is_empty());
}

#[test]
fn an_empty_conf_dir_gives_the_defaults() {
    let dir = TempDir::new("empty");
    assert_eq!(load(&dir), MasterConfig::defaults(dir.path()));
}

#[test]
fn empty_and_comment_only_files_have_no_keys() {
    let dir = TempDir::new("comments");
    dir.write("master", "");
    dir.write("master.d/a.conf", "# nothing here\n\n   # nor here\n");
    dir.write("master.d/b.conf", "---\n");
    dir.write("master.d/c.conf", "\u{feff}# a BOM, then a comment\n");
    assert_eq!(load(&dir), MasterConfig::defaults(dir.path()));
}

#[test]
fn master_d_overrides_master_key_by_key_in_name_order() {
    let dir = TempDir::new("order");
    dir.write(
        "master",
        "publish_port: 1000\ntimeout: 7\nlog_level: info\n",
    );
    // Byte order, as Python's sorted(): "10-b" before "2-a".
    dir.write("master.d/2-a.conf", "publish_port: 3000\n");
    dir.write(
        "master.d/10-b.conf",
        "publish_port: 2000\nlog_level: debug\n",
    );
    dir.write("master.d/99.conf.bak", "publish_port: 9\n");
    dir.write("master.d/.hidden.conf", "publish_port: 9\n");
    let c = load(&dir);
    assert_eq!(c.publish_port, 3000);
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.timeout, 7);
    assert_eq!(c.ret_port, 4506);
}

#[test]
fn master_d_alone_is_enough() {
    let dir = TempDir::new("dropin");
    dir.write("master.d/ports.conf", "ret_port: 5506\n");
    assert_eq!(load(&dir).ret_port, 5506);
}

#[test]
fn the_minion_keeps_smtp_keys_and_profiles_for_modules() {
    let dir = TempDir::new("smtp");
    dir.write(
        "minion",
        "smtp.server: mail.x.org\nmy-smtp:\n  smtp.tls: True\n  smtp.sender: a@x.org\n\
         other_map: {a: 1}\nhttp_request_timeout: 30\n",
    );
    let (config, warnings) = MinionConfig::load(dir.path()).unwrap();
    assert_eq!(
        Value::Object(config.module_options),
        serde_json::json!({
            "smtp.server": "mail.x.org",
            "my-smtp": {"smtp.tls": true, "smtp.sender": "a@x.org"},
        })
    );
    assert_eq!(config.http_request_timeout, 30);
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages, ["unknown key 'other_map' (ignored)"]);
    // The master keeps none.
    dir.write("master", "smtp.server: mail.x.org\n");
    let (config, warnings) = MasterConfig::load(dir.path()).unwrap();
    assert!(config.module_options.is_empty());
    assert_eq!(warnings.len(), 1);
}

#[test]
fn an_unknown_key_is_a_warning_naming_file_line_and_column() {
    let dir = TempDir::new("unknown");
    let file = dir.write("master.d/x.conf", "timeout: 9\n\ngitfs_remotes: []\n");
    let (config, warnings) = MasterConfig::load(dir.path()).unwrap();
    assert_eq!(config.timeout, 9);
    assert_eq!(warnings.len(), 1);
    assert_eq!((warnings[0].line, warnings[0].column), (3, 1));
    assert_eq!(
        warnings[0].to_string(),
        format!(
            "{}:3:1: unknown key 'gitfs_remotes' (ignored)",
            file.display()
        )
    );
}

#[test]
fn a_wrong_type_is_one_line_with_file_line_and_column() {
    let dir = TempDir::new("type");
    let file = dir.write(
        "master.d/x.conf",
        "# ports\ninterface: 127.0.0.1\npublish_port: abc\n",
    );
    assert_eq!(
        load_err(&dir),
        format!(
            "{}:3:15: publish_port: expected an integer, found \"abc\"",
            file.display()
        )
    );
}

#[test]
fn type_and_value_errors_say_what_was_expected() {
    let cases = [
        (
            "publish_port: 70000",
            "3:15: publish_port: expected an integer from 0 to 65535, found 70000",
        ),
        (
            "timeout: -1",
            "3:10: timeout: expected a non-negative integer, found -1",
        ),
        (
            "timeout: 1.5",
            "3:10: timeout: expected an integer, found 1.5",
        ),
        // An empty value is placed at the colon.
        (
            "timeout:",
            "3:8: timeout: expected an integer, found nothing (null)",
        ),
        (
            "ret_port: [4506]",
            "3:11: ret_port: expected an integer, found a list",
        ),
        (
            "auto_accept: maybe",
            "3:14: auto_accept: expected a boolean (true or false), found \"maybe\"",
        ),
        (
            "open_mode: 'yes'",
            "3:12: open_mode: expected a boolean (true or false), found \"yes\"",
        ),
        (
            "job_cache: y",
            "3:12: job_cache: expected a boolean (true or false), found \"y\"",
        ),
        (
            "interface: {a: 1}",
            "3:12: interface: expected a string, found a map",
        ),
        (
            "sock_dir: yes",
            "3:11: sock_dir: expected a path, found the boolean true",
        ),
        (
            "log_level: loud",
            "3:12: log_level: expected one of garbage, trace, debug, info, warning, error, \
             critical, quiet, found \"loud\"",
        ),
        (
            "event_match_type: glob",
            "3:19: event_match_type: expected one of startswith, endswith, find, regex, \
             fnmatch, found \"glob\"",
        ),
        (
            "event_listener_overflow: block",
            "3:26: event_listener_overflow: expected one of drop, disconnect, found \"block\"",
        ),
        (
            "loop_interval: 0",
            "3:16: loop_interval: expected a positive integer, found 0",
        ),
        (
            "state_output: short",
            "3:15: state_output: expected full, terse, mixed, changes or filter, each also \
             with _id, found \"short\"",
        ),
    ];
    for (line, want) in cases {
        let err = master_with(&format!("# a comment\n\n{line}\n")).unwrap_err();
        assert!(err.ends_with(&format!("master:{want}")), "{line}: {err}");
    }
}

#[test]
fn the_highstate_outputter_keys_are_salts() {
    let c = master_with("state_output: Terse_ID\nstate_verbose: no\nstate_tabular: yes\n").unwrap();
    assert_eq!(
        (c.state_output.as_str(), c.state_verbose, c.state_tabular),
        ("Terse_ID", false, true)
    );
    let d = MinionConfig::defaults(Path::new("/etc/brine"));
    assert_eq!(
        (
            d.state_output.as_str(),
            d.state_verbose,
            d.state_output_profile
        ),
        ("full", true, true)
    );
    assert!(
        !d.state_output_diff && !d.state_output_pct && !d.state_compress_ids && !d.state_tabular
    );
    // What the outputter reads: the same names as Salt's opts.
    let o = crate::cli::highstate::HighstateOpts::from_opts(&c.values());
    assert_eq!(
        (o.state_output.as_str(), o.state_verbose, o.state_tabular),
        ("Terse_ID", false, true)
    );
}

#[test]
fn long_strings_are_cut_in_errors() {
    let err = master_with(&format!("timeout: {}\n", "x".repeat(500))).unwrap_err();
    assert!(
        err.ends_with(&format!("found \"{}\"...", "x".repeat(60))),
        "{err}"
    );
}

#[test]
fn bad_yaml_is_one_line_with_line_and_column() {
    let dir = TempDir::new("syntax");
    let file = dir.write("master", "timeout: 5\nreactor: [a, b\n");
    let err = load_err(&dir);
    assert!(err.starts_with(&format!("{}:2:", file.display())), "{err}");
    assert!(!err.contains('\n'), "{err}");

    let file = dir.write("master", "a: b\n c: d\n");
    assert_eq!(
        load_err(&dir),
        format!(
            "{}:2:3: mapping values are not allowed in this context",
            file.display()
        )
    );
}

#[test]
fn a_duplicate_key_is_an_error_as_in_salt() {
    let err = master_with("timeout: 5\ntimeout: 6\n").unwrap_err();
    assert!(err.contains("master:2:1: duplicate mapping key"), "{err}");
}

#[test]
fn more_than_one_document_is_an_error() {
    let err = master_with("timeout: 5\n---\ntimeout: 6\n").unwrap_err();
    assert!(err.contains("more than one YAML document"), "{err}");
}

#[test]
fn invalid_utf8_is_an_error_with_its_position() {
    let dir = TempDir::new("utf8");
    let file = dir.write("master", b"timeout: 5\nuser: \xc3\xa9\xff\n");
    assert_eq!(
        load_err(&dir),
        format!("{}:2:8: not valid UTF-8", file.display())
    );
}

#[test]
fn yaml_11_booleans_read_as_pyyaml_reads_them() {
    let c = master_with(concat!(
        "presence_events: yes\n",
        "auto_accept: on\n",
        "auth_events: Off\n",
        "open_mode: True\n",
        "job_cache: NO\n",
    ))
    .unwrap();
    assert!(c.presence_events && c.auto_accept && c.open_mode);
    assert!(!c.auth_events && !c.job_cache);
}

#[test]
fn any_yaml_values_keep_pyyaml_scalars_and_order() {
    // What PyYAML 6 with Salt's loader (which reads 0755 as 755) makes of each plain
    // scalar, as `scalar=JSON`; generated once with the machine's Python.
    const PYYAML: &str = r#"
        yes=true Yes=true YES=true no=false No=false NO=false
        on=true On=true ON=true off=false Off=false OFF=false
        true=true True=true TRUE=true false=false False=false FALSE=false
        y="y" Y="Y" n="n" N="N" yEs="yEs" tRUE="tRUE" oN="oN"
        ~=null null=null Null=null NULL=null
        0=0 42=42 -7=-7 +5=5 0755=755 0o17="0o17" 0x1F=31 0b101=5 1_000=1000
        1.5=1.5 1.5e+3=1500.0 1e3="1e3" 1.5e3="1.5e3"
        abc="abc" 4505abc="4505abc" 0.0.0.0="0.0.0.0"
    "#;
    for case in PYYAML.split_whitespace() {
        let (scalar, json) = case.split_once('=').unwrap();
        let want: Value = serde_json::from_str(json).unwrap();
        let c = master_with(&format!("schedule:\n  job:\n    arg: {scalar}\n")).unwrap();
        assert_eq!(c.schedule["job"]["arg"], want, "plain scalar {scalar}");
    }
    // Quoted scalars are strings, whatever they look like; aliases resolve the same way.
    let c =
        master_with("schedule: {a: 'yes', b: \"1\", c: &x y, d: *x, e: &t on, f: *t}\n").unwrap();
    assert_eq!(
        c.schedule,
        serde_json::json!({"a": "yes", "b": "1", "c": "y", "d": "y", "e": true, "f": true})
    );
    // Keys keep file order (the reactor's rules are tried in order).
    let c = master_with(concat!(
        "reactor:\n",
        "  - 'salt/minion/*/start': [/srv/reactor/start.sls]\n",
        "  - 'a/b': [x.sls, y.sls]\n",
        "nodegroups:\n",
        "  zeta: 'L@a,b'\n",
        "  alpha: [c, d]\n",
        "  1: e\n",
        "  y: f\n",
    ))
    .unwrap();
    assert_eq!(
        c.reactor,
        serde_json::json!([
            {"salt/minion/*/start": ["/srv/reactor/start.sls"]},
            {"a/b": ["x.sls", "y.sls"]},
        ])
    );
    let keys: Vec<&String> = c.nodegroups.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["zeta", "alpha", "1", "y"]);
}

#[test]
fn unset_optional_paths() {
    let c = master_with("autosign_file: /etc/brine/autosign.conf\nautoreject_file:\n").unwrap();
    let c2 = master_with("autosign_file: ''\nautoreject_file: ~\n").unwrap();
    assert_eq!((c2.autosign_file, c2.autoreject_file), (None, None));
    assert_eq!(
        c.autosign_file,
        Some(PathBuf::from("/etc/brine/autosign.conf"))
    );
    assert_eq!(c.autoreject_file, None);
}

#[test]
fn strings_take_numbers_and_log_level_any_case() {
    let c = master_with("user: 1000\nlog_level: INFO\nsock_dir: run/brine\n").unwrap();
    assert_eq!(c.user, "1000");
    assert_eq!(c.log_level, "info");
    // Relative paths stay as written.
    assert_eq!(c.sock_dir, Path::new("run/brine"));
}

#[test]
fn keep_jobs_counts_only_when_keep_jobs_seconds_is_left_alone() {
    assert_eq!(
        master_with("keep_jobs: 2\n").unwrap().keep_jobs_seconds,
        7200
    );
    let c = master_with("keep_jobs: 2\nkeep_jobs_seconds: 60\n").unwrap();
    assert_eq!(c.keep_jobs_seconds, 60);
}

#[test]
fn a_top_level_that_is_not_a_map_is_an_error_naming_the_file() {
    let dir = TempDir::new("notmap");
    let file = dir.write("master.d/list.conf", "# keys\n- publish_port: 4505\n");
    assert_eq!(
        load_err(&dir),
        format!(
            "{}:2:1: expected a map of keys to values at the top level, found a list",
            file.display()
        )
    );
    let file = dir.write("master.d/list.conf", "just words\n");
    assert_eq!(
        load_err(&dir),
        format!(
            "{}:1:1: expected a map of keys to values at the top level, found a string",
            file.display()
        )
    );
}

#[test]
fn a_top_level_key_must_be_a_scalar() {
    let err = master_with("? [a, b]\n: 1\n").unwrap_err();
    assert!(
        err.contains("master:1:3: a key must be text or a number, found a list"),
        "{err}"
    );
    let err = master_with("schedule:\n  job:\n    ? {a: 1}\n    : 1\n").unwrap_err();
    assert!(
        err.contains("master:3:7: a key must be text or a number, found a map"),
        "{err}"
    );
    // Scalar keys that are not strings are just unknown keys.
    let dir = TempDir::new("keys");
    dir.write("master", "1: a\n~: b\n");
    let (_, warnings) = MasterConfig::load(dir.path()).unwrap();
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages,
        ["unknown key '1' (ignored)", "unknown key 'null' (ignored)"]
    );
}

#[test]
fn a_missing_conf_dir_is_an_error() {
    let dir = TempDir::new("missing");
    let missing = dir.path().join("nope");
    let err = MasterConfig::load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::ConfDir { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "{}: cannot use as the configuration directory: ",
            missing.display()
        )),
        "{err}"
    );
    let file = dir.write("plain", "");
    let err = MasterConfig::load(&file).unwrap_err().to_string();
    assert!(
        err.ends_with("configuration directory: not a directory"),
        "{err}"
    );
}

#[test]
fn a_master_that_is_a_directory_is_an_error() {
    let dir = TempDir::new("isdir");
    fs::create_dir_all(dir.path().join("master")).unwrap();
    let err = load_err(&dir);
    assert_eq!(
        err,
        format!(
            "{}: not a regular file",
            dir.path().join("master").display()
        )
    );
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let lols = ["\"lol\""; 9].join(",");
    let mut yaml = format!("schedule:\n  a: &a [{lols}]\n");
    for (name, prev) in "bcdefghi".chars().zip("abcdefgh".chars()) {
        let refs = vec![format!("*{prev}"); 9].join(",");
        yaml.push_str(&format!("  {name}: &{name} [{refs}]\n"));
    }
    let started = Instant::now();
    let err = master_with(&yaml).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("a limit against hostile input"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_large_anchored_string_cannot_be_multiplied() {
    let yaml = format!(
        "schedule:\n  a: &a {}\n  b: [{}]\n",
        "x".repeat(1 << 20),
        vec!["*a"; 20].join(",")
    );
    let err = master_with(&yaml).unwrap_err();
    assert!(err.contains("bytes of text, aliases included"), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    let block = (0..200).fold(String::from("reactor:\n"), |mut s, i| {
        s.push_str(&" ".repeat(i + 1));
        s.push_str("-\n");
        s
    });
    let err = master_with(&block).unwrap_err();
    assert!(
        err.ends_with(
            "master:33:33: lists and maps nested deeper than 32 \
             (a limit against hostile input)"
        ),
        "{err}"
    );
    for flow in [
        format!("reactor: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
        format!(
            "reactor: {}1{}\n",
            "{a: ".repeat(10_000),
            "}".repeat(10_000)
        ),
    ] {
        let err = master_with(&flow).unwrap_err();
        assert!(err.contains("master:1:"), "{err}");
        assert!(
            err.contains("nested deeper") || err.contains("recursion limit"),
            "{err}"
        );
    }
}

#[test]
fn nesting_up_to_the_limit_is_fine_on_a_small_stack() {
    // The top-level map is one level, so the reactor value may hold MAX_DEPTH - 1 lists.
    let depth = MAX_DEPTH - 1;
    let yaml = format!("reactor: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let outcome = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || master_with(&yaml).map(|c| c.reactor))
        .unwrap()
        .join()
        .unwrap();
    let mut value = outcome.unwrap();
    for _ in 1..depth {
        value = value.as_array().unwrap()[0].clone();
    }
    assert_eq!(value, serde_json::json!([]));
}

#[test]
fn a_huge_file_is_refused_without_reading_it() {
    let dir = TempDir::new("huge");
    let path = dir.write("master.d/big.conf", "");
    // Sparse: 100 MB on paper, nothing on disk.
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let started = Instant::now();
    let err = load_err(&dir);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err,
        format!(
            "{}: larger than 4194304 bytes, the limit for a configuration file",
            path.display()
        )
    );
}

#[test]
fn the_key_table_documents_every_key_once() {
    let mut seen = HashSet::new();
    for key in MASTER_KEYS {
        assert!(seen.insert(key.name), "{} twice", key.name);
        assert!(
            !key.doc.is_empty() && !key.default.is_empty(),
            "{}",
            key.name
        );
        assert!(key.doc.ends_with('.'), "{}: doc is a sentence", key.name);
    }
    // Every key in the table is one the loader accepts.
    let mut config = MasterConfig::defaults(Path::new("/etc/brine"));
    for key in MASTER_KEYS {
        assert!(config.set(key.name, Value::Null).is_some(), "{}", key.name);
    }
    assert!(config.set("conf_dir", Value::Null).is_none());
}

#[test]
fn shown_defaults_are_the_defaults() {
    // The user is computed at run time; its shown default is prose, as are the queue's
    // and the event log's directories, which follow cachedir, and the empty sharedsecret
    // ("unset").
    assert_eq!(
        MasterConfig::shown_default_mismatches(),
        ["user", "event_log_dir", "sqlite_queue_dir", "sharedsecret"]
    );
    // The id is the host's FQDN, computed at load time.
    assert_eq!(MinionConfig::shown_default_mismatches(), ["id", "user"]);
}

#[test]
fn errors_and_warnings_are_one_line() {
    let dir = TempDir::new("oneline");
    let file = dir.write("master", "\"a\\nb\": 1\n");
    let (_, warnings) = MasterConfig::load(dir.path()).unwrap();
    assert_eq!(
        warnings[0].to_string(),
        format!("{}:1:1: unknown key 'a\\nb' (ignored)", file.display())
    );
    dir.write("master", "timeout: 1\n\"a\\nb\": 1\n\"a\\nb\": 2\n");
    let err = load_err(&dir);
    assert!(!err.contains('\n'), "{err}");
}
