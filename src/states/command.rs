//! Running one shell command as Salt's `cmd.run_all` does: `<shell> -c <cmd>`, in a directory,
//! as a user, with extra environment, a timeout that kills the whole process group, and
//! stdout/stderr with trailing whitespace stripped. A state run is a child process of the
//! minion, so waiting here blocks nothing else.

use std::ffi::CString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How to run a command; `Default` is Salt's defaults (`/bin/sh`, the current directory and
/// user, no timeout).
#[derive(Debug, Clone, Default)]
pub struct CmdOpts {
    /// The working directory.
    pub cwd: Option<String>,
    /// The user to run as (needs root).
    pub runas: Option<String>,
    /// Variables added to the environment, in order.
    pub env: Vec<(String, String)>,
    /// The shell (`/bin/sh` when unset).
    pub shell: Option<String>,
    /// Seconds before the process group is killed.
    pub timeout: Option<f64>,
    /// Text written to the command's standard input.
    pub stdin: Option<String>,
}

/// What a finished command produced, as `cmd.run_all` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The child's pid.
    pub pid: u32,
    /// The exit status; a signal N gives -N, as Python's subprocess says.
    pub retcode: i32,
    /// Standard output, trailing whitespace stripped.
    pub stdout: String,
    /// Standard error, trailing whitespace stripped.
    pub stderr: String,
}

impl Output {
    /// stdout and stderr as one text, as `cmd.run` returns it.
    pub fn merged(&self) -> String {
        match (self.stdout.is_empty(), self.stderr.is_empty()) {
            (_, true) => self.stdout.clone(),
            (true, false) => self.stderr.clone(),
            (false, false) => format!("{}\n{}", self.stdout, self.stderr),
        }
    }
}

/// Why a command could not be run at all (a command that runs and fails is an `Output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// `runas` names no user.
    NoUser(String),
    /// The working directory does not exist.
    NoCwd(String),
    /// The shell could not be started.
    Spawn(String),
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::NoUser(u) => write!(f, "User '{u}' is not available"),
            CmdError::NoCwd(d) => write!(
                f,
                "Specified cwd '{d}' either not absolute or does not exist"
            ),
            CmdError::Spawn(e) => write!(f, "Unable to run command: {e}"),
        }
    }
}

impl std::error::Error for CmdError {}

/// A user's uid, gid and home directory, from the password database.
fn lookup_user(name: &str) -> Option<(u32, u32, String)> {
    let cname = CString::new(name).ok()?;
    // getpwnam_r with a buffer of our own: no static storage shared with other callers.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live storage of the stated size for the whole call.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    let home = if pwd.pw_dir.is_null() {
        String::from("/")
    } else {
        // SAFETY: getpwnam_r succeeded, so pw_dir points to a NUL-terminated string in buf.
        unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) }
            .to_string_lossy()
            .into_owned()
    };
    Some((pwd.pw_uid, pwd.pw_gid, home))
}

fn read_all(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error ends the capture; what was read so far is what the command printed.
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `cmd` with `opts` and waits for it (or for its timeout).
pub fn run(cmd: &str, opts: &CmdOpts) -> Result<Output, CmdError> {
    let shell = opts.shell.as_deref().unwrap_or("/bin/sh");
    let mut c = Command::new(shell);
    c.arg("-c").arg(cmd);
    if let Some(dir) = &opts.cwd {
        if !std::path::Path::new(dir).is_dir() {
            return Err(CmdError::NoCwd(dir.clone()));
        }
        c.current_dir(dir);
    }
    if let Some(user) = &opts.runas {
        let (uid, gid, home) = lookup_user(user).ok_or_else(|| CmdError::NoUser(user.clone()))?;
        c.uid(uid).gid(gid);
        c.env("HOME", home).env("USER", user).env("LOGNAME", user);
    }
    for (k, v) in &opts.env {
        c.env(k, v);
    }
    // Its own process group, so a timeout kills what the shell started too.
    c.process_group(0);
    c.stdin(if opts.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| CmdError::Spawn(format!("{shell}: {e}")))?;
    let pid = child.id();
    if let (Some(text), Some(mut input)) = (opts.stdin.clone(), child.stdin.take()) {
        thread::spawn(move || {
            use std::io::Write;
            // A command that does not read its input closes the pipe; that is not an error.
            let _ = input.write_all(text.as_bytes());
        });
    }
    let out = child.stdout.take().map(read_all);
    let err = child.stderr.take().map(read_all);
    let deadline = opts
        .timeout
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| Instant::now() + Duration::from_secs_f64(t.min(1e9)));
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                log::warn!(target: "brine::states", "waiting for {pid}: {e}");
                break None;
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
            // SAFETY: kill(2) on our child's process group; no memory is involved.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
            break child.wait().ok();
        }
        thread::sleep(Duration::from_millis(5));
    };
    let join =
        |h: Option<thread::JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    let (stdout, stderr) = (join(out), join(err));
    if timed_out {
        let secs = opts.timeout.unwrap_or_default();
        return Ok(Output {
            pid,
            retcode: 1,
            stdout: format!(
                "{cmd} : Timed out after {} seconds",
                crate::py::python_float(secs)
            ),
            stderr: String::new(),
        });
    }
    let retcode = match status {
        Some(s) => s.code().or_else(|| s.signal().map(|n| -n)).unwrap_or(1),
        None => 1,
    };
    Ok(Output {
        pid,
        retcode,
        stdout: stdout.trim_end().to_owned(),
        stderr: stderr.trim_end().to_owned(),
    })
}

/// `s` quoted for a POSIX shell: bare when it holds only safe characters, else in single
/// quotes (a quote inside becomes `'"'"'`), so names from SLS files cannot inject commands.
pub fn quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// Runs an argument vector (each word quoted) through [`run`].
pub fn run_argv<S: AsRef<str>>(argv: &[S], opts: &CmdOpts) -> Result<Output, CmdError> {
    let line = argv
        .iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ");
    run(&line, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(cmd: &str, opts: &CmdOpts) -> Output {
        match run(cmd, opts) {
            Ok(o) => o,
            Err(e) => panic!("{cmd}: {e}"),
        }
    }

    #[test]
    fn captures_both_streams_and_the_status() {
        let o = ok("echo out; echo err >&2; exit 3", &CmdOpts::default());
        assert_eq!(
            (o.retcode, o.stdout.as_str(), o.stderr.as_str()),
            (3, "out", "err")
        );
        assert_eq!(o.merged(), "out\nerr");
    }

    #[test]
    fn cwd_env_shell_and_stdin() {
        let opts = CmdOpts {
            cwd: Some("/".into()),
            env: vec![("FOO".into(), "bar".into())],
            shell: Some("/bin/sh".into()),
            stdin: Some("typed".into()),
            ..CmdOpts::default()
        };
        assert_eq!(ok("pwd; echo $FOO; cat", &opts).stdout, "/\nbar\ntyped");
        let bad = CmdOpts {
            cwd: Some("/nonexistent/x".into()),
            ..CmdOpts::default()
        };
        assert!(matches!(run("true", &bad), Err(CmdError::NoCwd(_))));
        let nobody = CmdOpts {
            runas: Some("no-such-user-brine".into()),
            ..CmdOpts::default()
        };
        assert!(matches!(run("true", &nobody), Err(CmdError::NoUser(_))));
    }

    #[test]
    fn argv_words_reach_the_command_unchanged() {
        let words = ["printf", "%s|", "a b", "it's", "$(id)", "`x`;rm", ""];
        let o = ok(&words.map(quote).join(" "), &CmdOpts::default());
        assert_eq!(o.stdout, "a b|it's|$(id)|`x`;rm||");
        assert_eq!(quote("name-1.2_x"), "name-1.2_x");
        let o = match run_argv(&["echo", "a;b"], &CmdOpts::default()) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(o.stdout, "a;b");
    }

    #[test]
    fn a_timeout_kills_the_process_group() {
        let opts = CmdOpts {
            timeout: Some(0.2),
            ..CmdOpts::default()
        };
        let start = Instant::now();
        let o = ok("sleep 30 & sleep 30", &opts);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(o.retcode, 1);
        assert!(
            o.stdout.ends_with("Timed out after 0.2 seconds"),
            "{}",
            o.stdout
        );
    }
}
