//! Module children: execution functions whose work blocks (an SMTP session, an HTTP request)
//! run it in a child process of the minion's own binary, started with
//! `--module-child FUNCTION`, so the minion's event loop only watches pipes and a deadline.
//!
//! The protocol is one JSON document each way. The minion writes the request (the bound
//! arguments with whatever configuration the function needs already resolved) to the child's
//! stdin and closes it; the child does the work and prints a [`Reply`] on stdout, then exits 0.
//! Anything else (a crash, a signal, garbage on stdout, the deadline) is a failure of the call
//! with one line saying what happened, and retcode 1.
//!
//! Every binary that runs execution functions (`brine-minion`, `brine-call`, `brine-swarm`)
//! calls [`run_if_requested`] first thing in `main`.

use super::{ChildResult, ChildSpec, Ret};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The hidden first argument that starts a module child.
pub const FLAG: &str = "--module-child";

/// The largest request a child reads from stdin (requests carry arguments, not files).
const MAX_REQUEST: u64 = 16 << 20;

/// What a child prints on stdout.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Reply {
    /// The function's return value.
    #[serde(rename = "return")]
    pub value: Value,
    /// The job's retcode.
    #[serde(default)]
    pub retcode: i32,
    /// Why the work failed, for the minion to log at error level.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// The work of one function in a child: the request in, the reply out.
type Work = fn(&Value) -> Reply;

/// The functions that run in module children.
const WORK: &[(&str, Work)] = &[
    (super::cp::CHILD, super::cp::child_main),
    ("http.query", super::http::child_main),
    ("smtp.send_msg", super::smtp::child_main),
    (super::state::CHILD, super::state::child_main),
];

/// The program a module child runs: this very binary. `/proc/self/exe` is resolved by the
/// kernel at exec time to the image the minion runs, even after a package upgrade replaced
/// or removed the file on disk, so parent and child always speak the same protocol.
fn self_exe() -> String {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if proc_exe.exists() {
        return proc_exe.to_string_lossy().into_owned();
    }
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/proc/self/exe".to_owned())
}

/// The child that runs `fun` on `request`, killed after `timeout`.
pub fn spec(fun: &str, request: &Value, timeout: Duration) -> ChildSpec {
    ChildSpec {
        argv: vec![self_exe(), FLAG.to_owned(), fun.to_owned()],
        cwd: None,
        env: BTreeMap::new(),
        clean_env: false,
        // Serializing a `Value` cannot fail: its keys are strings.
        stdin: serde_json::to_vec(request).unwrap_or_default(),
        runas: None,
        timeout: Some(timeout),
        merge_stderr: false,
        rstrip: false,
    }
}

/// Turns a finished module child into the call's return; the child's errors are logged here,
/// in the minion (or `brine-call`), at error level.
pub fn finish(spec: &ChildSpec, r: &ChildResult) -> Ret {
    let fun = spec
        .argv
        .get(2)
        .map(String::as_str)
        .unwrap_or("module child");
    match reply_of(spec, r) {
        Ok(reply) => {
            for e in &reply.errors {
                log::error!("{fun}: {e}");
            }
            Ret {
                value: reply.value,
                retcode: reply.retcode,
            }
        }
        Err(e) => {
            log::error!("{fun}: {e}");
            Ret::fail(format!("{fun}: {e}"))
        }
    }
}

/// The reply a child printed, or why there is none.
fn reply_of(spec: &ChildSpec, r: &ChildResult) -> Result<Reply, String> {
    if let Some(e) = &r.spawn_error {
        return Err(format!("cannot start the module child: {e}"));
    }
    if r.timed_out {
        let secs = spec.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0);
        return Err(format!("timed out after {secs} seconds"));
    }
    if r.status != 0 {
        let why = String::from_utf8_lossy(&r.stderr);
        let last = why.lines().rev().find(|l| !l.trim().is_empty());
        return Err(match last {
            Some(line) => format!(
                "the module child failed with status {}: {}",
                r.status,
                line.trim()
            ),
            None => format!("the module child failed with status {}", r.status),
        });
    }
    serde_json::from_slice(&r.stdout)
        .map_err(|e| format!("the module child printed no valid reply: {e}"))
}

/// In a module child (`argv[1]` is `--module-child`), does the work and returns the exit
/// status for `main` to exit with; `None` in any other process.
pub fn run_if_requested() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(FLAG)) {
        return None;
    }
    let fun = args.next().map(|f| f.to_string_lossy().into_owned());
    Some(serve(fun.as_deref().unwrap_or(""), std::io::stdin().lock()))
}

/// Reads a request from `input`, runs `fun` and prints its reply; the exit status.
fn serve(fun: &str, input: impl Read) -> i32 {
    let Some((_, work)) = WORK.iter().find(|(name, _)| *name == fun) else {
        eprintln!("brine module child: no function {fun:?}");
        return 2;
    };
    let mut bytes = Vec::new();
    if let Err(e) = input.take(MAX_REQUEST).read_to_end(&mut bytes) {
        eprintln!("brine module child: cannot read the request: {e}");
        return 2;
    }
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("brine module child: the request is not JSON: {e}");
            return 2;
        }
    };
    let reply = work(&request);
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &reply)
        .map_err(std::io::Error::other)
        .and_then(|_| out.flush());
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("brine module child: cannot write the reply: {e}");
            1
        }
    }
}

/// Trust anchors for TLS: the system's roots, as OpenSSL finds them (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` replace the system store when set, which is how tests trust their own CA).
/// Each is one DER certificate.
pub(super) fn trust_roots() -> Vec<Vec<u8>> {
    rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// An error and its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !s.contains(&more) {
            s.push_str(": ");
            s.push_str(&more);
        }
        cause = c.source();
    }
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(status: i32, stdout: &str, stderr: &str) -> ChildResult {
        ChildResult {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            status,
            pid: 1,
            timed_out: false,
            spawn_error: None,
        }
    }

    #[test]
    fn a_spec_runs_this_binary_with_the_request_on_stdin() {
        let s = spec("smtp.send_msg", &json!({"a": 1}), Duration::from_secs(9));
        assert_eq!(&s.argv[1..], ["--module-child", "smtp.send_msg"]);
        assert!(std::path::Path::new(&s.argv[0]).exists());
        assert_eq!(s.stdin, br#"{"a":1}"#);
        assert_eq!(s.timeout, Some(Duration::from_secs(9)));
    }

    #[test]
    fn a_reply_becomes_the_return() {
        let s = spec("smtp.send_msg", &json!({}), Duration::from_secs(1));
        let r = result(0, r#"{"return": false, "errors": ["boom"]}"#, "");
        assert_eq!(finish(&s, &r), Ret::ok(json!(false)));
        let r = result(0, r#"{"return": {"body": "x"}, "retcode": 0}"#, "");
        assert_eq!(finish(&s, &r), Ret::ok(json!({"body": "x"})));
    }

    #[test]
    fn crashes_garbage_and_timeouts_are_one_line_failures() {
        let s = spec("http.query", &json!({}), Duration::from_secs(3));
        let crash = finish(&s, &result(101, "", "thread 'main' panicked\nnote: x\n"));
        assert_eq!(
            crash,
            Ret::fail("http.query: the module child failed with status 101: note: x")
        );
        let garbage = finish(&s, &result(0, "not json", ""));
        assert_eq!(garbage.retcode, 1);
        assert!(
            garbage
                .value
                .as_str()
                .is_some_and(|t| t.starts_with("http.query: the module child printed no valid")),
            "{garbage:?}"
        );
        let mut late = result(137, "", "");
        late.timed_out = true;
        assert_eq!(
            finish(&s, &late),
            Ret::fail("http.query: timed out after 3 seconds")
        );
        let mut unstarted = result(-1, "", "");
        unstarted.spawn_error = Some("no such file".into());
        assert_eq!(
            finish(&s, &unstarted),
            Ret::fail("http.query: cannot start the module child: no such file")
        );
    }

    #[test]
    fn serve_refuses_unknown_functions_and_bad_requests() {
        assert_eq!(serve("nope.nope", &b"{}"[..]), 2);
        assert_eq!(serve("smtp.send_msg", &b"{not json"[..]), 2);
    }
}
