//! Deploying over SSH the way Salt's `deploy_script` does (wait for the port, wait for a
//! login, upload, run), but through OpenSSH's `ssh` and `scp` with an argument vector.
//!
//! What differs from Salt on purpose (spec B.5): no shell string on this side (every value
//! is its own argument and the remote command is one argument quoted by [`sh_quote`]), host
//! keys are checked against a known_hosts file unless the profile asks otherwise, and a
//! password never reaches a command line or an environment variable: `ssh` reads it through
//! `SSH_ASKPASS` from a 0600 file in a private directory.
//!
//! The remote side runs the command with the user's login shell, so quoting assumes a POSIX
//! shell there (sh, dash, bash, zsh, ksh); csh and fish users are not supported.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The OpenSSH client binaries (Debian's `openssh-client`).
const SSH: &str = "/usr/bin/ssh";
/// See [`SSH`].
const SCP: &str = "/usr/bin/scp";
/// How often `wait_for_port` tries to connect (Salt tries about once a second).
const PORT_RETRY: Duration = Duration::from_millis(500);
/// The pause between two `wait_for_passwd` tries (Salt's `trysleep`).
const PASSWD_RETRY: Duration = Duration::from_secs(1);

/// How `ssh` logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum SshAuth {
    /// A private key file (`key_filename`); only this key is offered.
    Key(PathBuf),
    /// A password (`password`), answered through `SSH_ASKPASS`, never on a command line.
    Password(String),
    /// Whatever keys the running ssh-agent (`SSH_AUTH_SOCK`) holds.
    Agent,
}

// By hand so a password never lands in a log line or a test failure.
impl fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshAuth::Key(p) => f.debug_tuple("Key").field(p).finish(),
            SshAuth::Password(_) => f.write_str("Password(<redacted>)"),
            SshAuth::Agent => f.write_str("Agent"),
        }
    }
}

/// Where and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Host name or address (`ssh_host`).
    pub host: String,
    /// The SSH port (`ssh_port`, 22).
    pub port: u16,
    /// The login (`ssh_username`, root).
    pub username: String,
    /// How to authenticate.
    pub auth: SshAuth,
    /// The known_hosts file the host key must be in; `None` accepts any host key
    /// (`StrictHostKeyChecking=no`, Salt's only mode), used only when the profile asks.
    pub known_hosts: Option<PathBuf>,
    /// `ssh_gateway` as `[user@]host[:port]`, passed as `ProxyJump`. The jump host's own key
    /// is checked by the user's ssh configuration, not by `known_hosts`.
    pub gateway: Option<String>,
    /// `ConnectTimeout` for every connection (rounded up to whole seconds).
    pub connect_timeout: Duration,
}

impl SshTarget {
    /// A target with key-file authentication and host-key checking against `known_hosts`.
    pub fn with_key(host: &str, port: u16, username: &str, key: &Path, known_hosts: &Path) -> Self {
        SshTarget {
            host: host.to_string(),
            port,
            username: username.to_string(),
            auth: SshAuth::Key(key.to_path_buf()),
            known_hosts: Some(known_hosts.to_path_buf()),
            gateway: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What failed, on which host, in which step.
#[derive(Debug)]
pub enum CloudSshError {
    /// The host name could become an option or is not a host name.
    InvalidHost { host: String, reason: &'static str },
    /// The user name could become an option or is not a login.
    InvalidUser { user: String, reason: &'static str },
    /// `ssh_gateway` is not `[user@]host[:port]` with a valid host and user.
    InvalidGateway {
        gateway: String,
        reason: &'static str,
    },
    /// The password cannot be answered to a prompt (a newline or NUL in it).
    InvalidPassword { host: String },
    /// A remote path or argument that cannot be passed safely.
    InvalidArgument {
        host: String,
        step: String,
        reason: String,
    },
    /// Nothing accepted a TCP connection before the deadline.
    PortClosed {
        host: String,
        port: u16,
        waited: Duration,
        last: String,
    },
    /// ssh or scp could not be started, or its temp files not written.
    Spawn {
        host: String,
        step: String,
        err: std::io::Error,
    },
    /// The step ran past its deadline and was killed.
    Timeout {
        host: String,
        step: String,
        after: Duration,
    },
    /// The host's key is not the one in known_hosts (or not in it at all).
    HostKey {
        host: String,
        step: String,
        detail: String,
    },
    /// The server refused the login.
    Auth {
        host: String,
        step: String,
        detail: String,
    },
    /// ssh itself failed (connection refused, name unknown, ...).
    Connect {
        host: String,
        step: String,
        detail: String,
    },
    /// The remote command (or scp) ran and exited non-zero.
    Remote {
        host: String,
        step: String,
        code: Option<i32>,
        detail: String,
    },
}

impl fmt::Display for CloudSshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CloudSshError::*;
        match self {
            InvalidHost { host, reason } => write!(f, "ssh host {host:?} refused: {reason}"),
            InvalidUser { user, reason } => write!(f, "ssh username {user:?} refused: {reason}"),
            InvalidGateway { gateway, reason } => {
                write!(f, "ssh_gateway {gateway:?} refused: {reason}")
            }
            InvalidPassword { host } => {
                write!(
                    f,
                    "{host}: the password holds a newline or NUL and cannot be sent"
                )
            }
            InvalidArgument { host, step, reason } => write!(f, "{host}: {step}: {reason}"),
            PortClosed {
                host,
                port,
                waited,
                last,
            } => write!(
                f,
                "{host}:{port}: wait_for_port: no connection within {:.1} s ({last})",
                waited.as_secs_f64()
            ),
            Spawn { host, step, err } => write!(f, "{host}: {step}: cannot start: {err}"),
            Timeout { host, step, after } => write!(
                f,
                "{host}: {step}: no answer within {:.1} s, killed",
                after.as_secs_f64()
            ),
            HostKey { host, step, detail } => {
                write!(f, "{host}: {step}: host key verification failed ({detail})")
            }
            Auth { host, step, detail } => {
                write!(f, "{host}: {step}: authentication refused ({detail})")
            }
            Connect { host, step, detail } => write!(f, "{host}: {step}: ssh failed ({detail})"),
            Remote {
                host,
                step,
                code,
                detail,
            } => match code {
                Some(c) => write!(f, "{host}: {step}: exited {c} ({detail})"),
                None => write!(f, "{host}: {step}: killed by a signal ({detail})"),
            },
        }
    }
}

impl std::error::Error for CloudSshError {}

/// Quotes `s` as one word for a POSIX shell: `'...'` with each `'` written `'\''`.
///
/// Words made only of characters no shell treats specially are left bare, for readable logs.
/// `=` and `~` are not among them: a bare first word `a=b` would be an assignment. A NUL
/// cannot be passed in a command line at all; [`remote_command`] refuses it.
pub fn sh_quote(s: &str) -> String {
    let plain = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '@' | '%')
    };
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The one remote command line that runs `argv` literally: each word quoted by [`sh_quote`].
pub fn remote_command(argv: &[&str]) -> Result<String, &'static str> {
    if argv.is_empty() {
        return Err("an empty command");
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err("an argument holds a NUL byte");
    }
    Ok(argv
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Checks a host name or address: it cannot start with `-` (ssh would read an option) and
/// holds only name and address characters (letters, digits, `.`, `-`, `_`, `:` for IPv6).
pub fn validate_host(host: &str) -> Result<(), CloudSshError> {
    let bad = |reason| {
        Err(CloudSshError::InvalidHost {
            host: host.to_string(),
            reason,
        })
    };
    if host.is_empty() {
        return bad("empty");
    }
    if host.len() > 253 {
        return bad("longer than 253 characters");
    }
    if host.starts_with('-') {
        return bad("starts with '-'");
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("holds whitespace or a control character");
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return bad("holds a character that is not in a host name or address");
    }
    Ok(())
}

/// Checks a login: no leading `-`, and only `[A-Za-z0-9._-]` (no `@` or `:` that would
/// change what `user@host:path` means to scp).
pub fn validate_user(user: &str) -> Result<(), CloudSshError> {
    let bad = |reason| {
        Err(CloudSshError::InvalidUser {
            user: user.to_string(),
            reason,
        })
    };
    if user.is_empty() {
        return bad("empty");
    }
    if user.len() > 256 {
        return bad("longer than 256 characters");
    }
    if user.starts_with('-') {
        return bad("starts with '-'");
    }
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("holds whitespace or a control character");
    }
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return bad("holds a character outside [A-Za-z0-9._-]");
    }
    Ok(())
}

/// Checks `ssh_gateway` (`[user@]host[:port]`) and returns it as ProxyJump wants it.
pub fn validate_gateway(gateway: &str) -> Result<String, CloudSshError> {
    let bad = |reason| {
        Err(CloudSshError::InvalidGateway {
            gateway: gateway.to_string(),
            reason,
        })
    };
    let (user, rest) = match gateway.rsplit_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, gateway),
    };
    if let Some(u) = user {
        if validate_user(u).is_err() {
            return bad("the user is not a valid login");
        }
    }
    // A bare IPv6 address has several colons; only `host:port` with one colon carries a port.
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) if !p.contains(':') => (h, Some(p)),
        _ => (rest, None),
    };
    if validate_host(host).is_err() {
        return bad("the host is not a valid host name or address");
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return bad("the port is not a number from 1 to 65535"),
        }
    }
    let mut out = String::new();
    if let Some(u) = user {
        out.push_str(u);
        out.push('@');
    }
    if host.contains(':') {
        out.push('[');
        out.push_str(host);
        out.push(']');
    } else {
        out.push_str(host);
    }
    if let Some(p) = port {
        out.push(':');
        out.push_str(p);
    }
    Ok(out)
}

/// Tries a TCP connection to `host:port` every 0.5 s until one succeeds or `timeout` passes.
pub fn wait_for_port(host: &str, port: u16, timeout: Duration) -> Result<(), CloudSshError> {
    validate_host(host)?;
    let start = Instant::now();
    let end = start + timeout;
    let mut last = String::from("not tried");
    loop {
        let now = Instant::now();
        if now >= end {
            return Err(CloudSshError::PortClosed {
                host: host.to_string(),
                port,
                waited: now - start,
                last,
            });
        }
        let left = (end - now)
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(1));
        match (host, port).to_socket_addrs() {
            Ok(addrs) => {
                let mut any = false;
                for a in addrs {
                    any = true;
                    match TcpStream::connect_timeout(&a, left) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = e.to_string(),
                    }
                }
                if !any {
                    last = String::from("the name has no address");
                }
            }
            Err(e) => last = e.to_string(),
        }
        let pause_end = (Instant::now() + PORT_RETRY).min(end);
        std::thread::sleep(pause_end.saturating_duration_since(Instant::now()));
    }
}

/// A private 0700 directory in the temp dir, removed with what it holds when dropped.
#[derive(Debug)]
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> std::io::Result<PrivateDir> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "brine-ssh-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        // create (not create_all): fails if anything sits at that name already.
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(PrivateDir(dir))
    }

    /// Creates `name` in the directory with `mode`, holding `body`.
    fn write(&self, name: &str, mode: u32, body: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.0.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        f.write_all(body)?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The askpass script and the 0600 password file it prints, in their private directory.
#[derive(Debug)]
struct Askpass {
    dir: PrivateDir,
}

// The script answers only a password prompt: a host-key question ("yes/no") gets nothing,
// so a password can never be given as the answer to something else.
const ASKPASS_SCRIPT: &str = "#!/bin/sh\n\
# brine-cloud: answers ssh's password prompt from a 0600 file; refuses anything else.\n\
case \"$1\" in\n\
  *assword*) exec cat -- \"$BRINE_ASKPASS_FILE\" ;;\n\
esac\n\
exit 1\n";

impl Askpass {
    fn create(password: &str) -> std::io::Result<Askpass> {
        let dir = PrivateDir::create()?;
        dir.write("secret", 0o600, format!("{password}\n").as_bytes())?;
        dir.write("askpass", 0o700, ASKPASS_SCRIPT.as_bytes())?;
        Ok(Askpass { dir })
    }

    /// The program ssh runs as `SSH_ASKPASS`.
    fn script(&self) -> PathBuf {
        self.dir.0.join("askpass")
    }

    /// The file holding the password, which the script prints.
    fn secret(&self) -> PathBuf {
        self.dir.0.join("secret")
    }
}

/// Runs ssh and scp against one validated target. Every call has a deadline; past it the
/// whole process group (ssh, its askpass and ProxyJump children) is killed.
#[derive(Debug)]
pub struct Ssh {
    target: SshTarget,
    jump: Option<String>,
    askpass: Option<Askpass>,
}

impl Ssh {
    /// Validates the target (host, user, gateway, password) before anything runs.
    pub fn new(target: SshTarget) -> Result<Ssh, CloudSshError> {
        validate_host(&target.host)?;
        validate_user(&target.username)?;
        let jump = match &target.gateway {
            Some(g) => Some(validate_gateway(g)?),
            None => None,
        };
        let askpass = match &target.auth {
            SshAuth::Password(p) => {
                if p.contains('\n') || p.contains('\r') || p.contains('\0') {
                    return Err(CloudSshError::InvalidPassword {
                        host: target.host.clone(),
                    });
                }
                let a = Askpass::create(p).map_err(|err| CloudSshError::Spawn {
                    host: target.host.clone(),
                    step: String::from("askpass"),
                    err,
                })?;
                Some(a)
            }
            _ => None,
        };
        Ok(Ssh {
            target,
            jump,
            askpass,
        })
    }

    /// The target this runner logs in to.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The `-o` options both ssh and scp get.
    fn common_options(&self) -> Vec<OsString> {
        let t = &self.target;
        let mut o: Vec<OsString> = Vec::new();
        let mut opt = |s: String| {
            o.push("-o".into());
            o.push(s.into());
        };
        opt(String::from("ControlPath=none"));
        opt(String::from("ControlMaster=no"));
        let secs = t.connect_timeout.as_secs() + u64::from(t.connect_timeout.subsec_nanos() > 0);
        opt(format!("ConnectTimeout={}", secs.max(1)));
        // Quiet, or a "Permanently added" warning lands in every stderr.
        opt(String::from("LogLevel=ERROR"));
        match &t.known_hosts {
            Some(file) => {
                opt(String::from("StrictHostKeyChecking=yes"));
                opt(format!("UserKnownHostsFile={}", file.display()));
                // Only the file the profile names counts, and ssh never rewrites it.
                opt(String::from("GlobalKnownHostsFile=/dev/null"));
                opt(String::from("UpdateHostKeys=no"));
            }
            None => {
                opt(String::from("StrictHostKeyChecking=no"));
                opt(String::from("UserKnownHostsFile=/dev/null"));
                // A stale global entry would make ssh turn password authentication off.
                opt(String::from("GlobalKnownHostsFile=/dev/null"));
            }
        }
        match &t.auth {
            SshAuth::Key(_) => {
                opt(String::from("BatchMode=yes"));
                opt(String::from("IdentitiesOnly=yes"));
            }
            SshAuth::Agent => opt(String::from("BatchMode=yes")),
            SshAuth::Password(_) => {
                // BatchMode would turn askpass off too.
                opt(String::from("BatchMode=no"));
                opt(String::from("PubkeyAuthentication=no"));
                opt(String::from(
                    "PreferredAuthentications=password,keyboard-interactive",
                ));
                opt(String::from("NumberOfPasswordPrompts=1"));
            }
        }
        if let Some(j) = &self.jump {
            opt(format!("ProxyJump={j}"));
        }
        if let SshAuth::Key(k) = &t.auth {
            o.push("-i".into());
            o.push(k.as_os_str().to_os_string());
        }
        o
    }

    /// The argument vector `run` gives ssh for the remote command line `cmd` (for logs and
    /// tests; it never holds the password).
    pub fn ssh_argv(&self, cmd: &str) -> Vec<OsString> {
        let t = &self.target;
        let mut a = vec![OsString::from("-T")];
        a.extend(self.common_options());
        a.push("-p".into());
        a.push(t.port.to_string().into());
        a.push("-l".into());
        a.push(t.username.clone().into());
        // `--` ends the options: nothing after it is read as one, whatever it holds.
        a.push("--".into());
        a.push(t.host.clone().into());
        a.push(cmd.into());
        a
    }

    /// The argument vector `upload` gives scp.
    pub fn scp_argv(&self, local: &Path, remote: &str) -> Vec<OsString> {
        let t = &self.target;
        let mut a = vec![OsString::from("-q")];
        a.extend(self.common_options());
        a.push("-P".into());
        a.push(t.port.to_string().into());
        a.push("--".into());
        a.push(local.as_os_str().to_os_string());
        let host = if t.host.contains(':') {
            format!("[{}]", t.host)
        } else {
            t.host.clone()
        };
        a.push(format!("{}@{host}:{remote}", t.username).into());
        a
    }

    /// Starts `program args` with no stdin and no controlling terminal (its own session),
    /// with the askpass environment when the password is used, then waits up to `timeout`.
    fn execute(
        &self,
        step: &str,
        program: &str,
        args: Vec<OsString>,
        timeout: Duration,
    ) -> Result<Output, CloudSshError> {
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(a) = &self.askpass {
            cmd.env("SSH_ASKPASS", a.script())
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0")
                .env("BRINE_ASKPASS_FILE", a.secret());
        }
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent. It gives
        // ssh no tty to prompt on (askpass is its only way to ask) and makes the child a
        // process-group leader, so a deadline kills its helpers with it.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        log::debug!("{}: {step}: {program} {:?}", self.target.host, args);
        let child = cmd.spawn().map_err(|err| CloudSshError::Spawn {
            host: self.target.host.clone(),
            step: step.to_string(),
            err,
        })?;
        match wait_deadline(child, timeout) {
            Some(out) => Ok(out),
            None => Err(CloudSshError::Timeout {
                host: self.target.host.clone(),
                step: step.to_string(),
                after: timeout,
            }),
        }
    }

    /// Turns ssh's own failures (exit 255) into typed errors; other statuses are the remote
    /// command's and returned as they are.
    fn classify(&self, step: &str, out: Output) -> Result<Output, CloudSshError> {
        if out.status.code() != Some(255) {
            return Ok(out);
        }
        let text = String::from_utf8_lossy(&out.stderr);
        let detail = last_line(&text);
        let (host, step) = (self.target.host.clone(), step.to_string());
        if text.contains("Host key verification failed")
            || text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || text.contains("No ED25519 host key is known")
            || text.contains("host key is known")
        {
            return Err(CloudSshError::HostKey { host, step, detail });
        }
        if text.contains("Permission denied") || text.contains("Too many authentication failures") {
            return Err(CloudSshError::Auth { host, step, detail });
        }
        // 255 with nothing from ssh on stderr is the remote command's own exit status.
        if text.trim().is_empty() {
            return Ok(out);
        }
        Err(CloudSshError::Connect { host, step, detail })
    }

    /// Runs the remote command line `cmd` (one argument to ssh; build it with
    /// [`remote_command`] or [`sh_quote`]) and returns its output whatever its exit status.
    pub fn run(&self, cmd: &str, timeout: Duration) -> Result<Output, CloudSshError> {
        self.run_step("run", cmd, timeout)
    }

    /// [`Ssh::run`] with the step's name for errors (`preflight_cmds`, `deploy.sh`, ...).
    pub fn run_step(
        &self,
        step: &str,
        cmd: &str,
        timeout: Duration,
    ) -> Result<Output, CloudSshError> {
        let out = self.execute(step, SSH, self.ssh_argv(cmd), timeout)?;
        self.classify(step, out)
    }

    /// Runs `argv` on the host, each word arriving literally.
    pub fn run_argv(&self, argv: &[&str], timeout: Duration) -> Result<Output, CloudSshError> {
        let cmd = remote_command(argv).map_err(|reason| CloudSshError::InvalidArgument {
            host: self.target.host.clone(),
            step: String::from("run"),
            reason: reason.to_string(),
        })?;
        self.run(&cmd, timeout)
    }

    /// Runs `argv` and fails unless it exits 0.
    pub fn run_ok(
        &self,
        step: &str,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<Output, CloudSshError> {
        let cmd = remote_command(argv).map_err(|reason| CloudSshError::InvalidArgument {
            host: self.target.host.clone(),
            step: step.to_string(),
            reason: reason.to_string(),
        })?;
        let out = self.run_step(step, &cmd, timeout)?;
        self.require_success(step, out)
    }

    fn require_success(&self, step: &str, out: Output) -> Result<Output, CloudSshError> {
        if out.status.success() {
            return Ok(out);
        }
        Err(CloudSshError::Remote {
            host: self.target.host.clone(),
            step: step.to_string(),
            code: out.status.code(),
            detail: last_line(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// Copies `local` to `remote` with scp, then sets `mode` with chmod over ssh. The whole
    /// upload shares one deadline.
    pub fn upload(
        &self,
        local: &Path,
        remote: &str,
        mode: u32,
        timeout: Duration,
    ) -> Result<(), CloudSshError> {
        let host = self.target.host.clone();
        let invalid = |reason: &str| CloudSshError::InvalidArgument {
            host: host.clone(),
            step: format!("upload {remote}"),
            reason: reason.to_string(),
        };
        check_remote_path(remote).map_err(invalid)?;
        if mode > 0o7777 {
            return Err(invalid("the mode is above 7777"));
        }
        // scp reads `a:b` as a remote path unless a '/' comes first: make it absolute.
        let local = std::path::absolute(local)
            .map_err(|_| invalid("the local path cannot be made absolute"))?;
        let end = Instant::now() + timeout;
        let step = format!("upload {remote}");
        let out = self.execute(&step, SCP, self.scp_argv(&local, remote), timeout)?;
        let out = self.classify(&step, out)?;
        self.require_success(&step, out)?;
        let left = end.saturating_duration_since(Instant::now());
        let mode = format!("{mode:o}");
        self.run_ok(
            &format!("chmod {remote}"),
            &["chmod", &mode, "--", remote],
            left,
        )?;
        Ok(())
    }

    /// Writes `bytes` to `remote` with `mode`, through a 0600 local temp file and [`Ssh::upload`].
    pub fn upload_bytes(
        &self,
        bytes: &[u8],
        remote: &str,
        mode: u32,
        timeout: Duration,
    ) -> Result<(), CloudSshError> {
        let spawn_err = |err| CloudSshError::Spawn {
            host: self.target.host.clone(),
            step: format!("upload {remote}"),
            err,
        };
        // A private directory so the file is never readable by anyone else, even briefly.
        let stage = PrivateDir::create().map_err(spawn_err)?;
        let file = stage.write("upload", 0o600, bytes).map_err(spawn_err)?;
        self.upload(&file, remote, mode, timeout)
    }

    /// Runs `date` until a login works, at most `maxtries` times (0 counts as 1) one
    /// second apart; returns the number of tries it took, or the last error.
    pub fn wait_for_passwd(&self, maxtries: u32) -> Result<u32, CloudSshError> {
        let each = self.target.connect_timeout * 2 + Duration::from_secs(5);
        let tries = maxtries.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let r = self
                .run_step("wait_for_passwd", "date", each)
                .and_then(|out| self.require_success("wait_for_passwd", out));
            match r {
                Ok(_) => return Ok(n),
                Err(e) if n >= tries => return Err(e),
                Err(e) => log::debug!("{}: try {n} of {tries}: {e}", self.target.host),
            }
            std::thread::sleep(PASSWD_RETRY);
        }
    }
}

/// A remote path for scp and chmod: absolute or relative, but never an option, and no
/// control characters (scp's SFTP mode takes it literally; chmod gets it after `--`).
fn check_remote_path(remote: &str) -> Result<(), &'static str> {
    if remote.is_empty() {
        return Err("an empty remote path");
    }
    if remote.starts_with('-') {
        return Err("the remote path starts with '-'");
    }
    if remote.chars().any(|c| c.is_control()) {
        return Err("the remote path holds a control character");
    }
    Ok(())
}

/// The last non-empty line of `text`, for one-line errors.
fn last_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}

/// Collects the child's output, killing its process group once `timeout` passes (then None).
fn wait_deadline(mut child: Child, timeout: Duration) -> Option<Output> {
    // Readers on threads: a full pipe would otherwise stall the child before it exits.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let end = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        let now = Instant::now();
        if now >= end {
            break None;
        }
        std::thread::sleep(pause.min(end - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    let status = match status {
        Some(s) => s,
        None => {
            // The child leads its own group (setsid), so this reaches its helpers too.
            let pid = child.id() as libc::pid_t;
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = out.join();
            let _ = err.join();
            return None;
        }
    };
    // A helper that outlived ssh may still hold the pipes open: end the group first.
    let pid = child.id() as libc::pid_t;
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    Some(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh -c 'printf "%s\0" ...'` receives for the quoted words.
    fn through_sh(words: &[&str]) -> Vec<String> {
        let mut argv = vec!["printf", "%s\\0"];
        argv.extend_from_slice(words);
        let line = remote_command(&argv).unwrap();
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut v: Vec<String> = text.split('\0').map(String::from).collect();
        assert_eq!(v.pop().as_deref(), Some(""));
        v
    }

    #[test]
    fn quoting_round_trips_through_sh() {
        let nasty = [
            "plain",
            "",
            " ",
            "'",
            "''",
            "a'b",
            "\"",
            "$(touch /tmp/brine-sh-quote-pwned)",
            "`id`",
            "$HOME",
            "${x:-y}",
            "a;b",
            "a && b || c",
            "line1\nline2\n",
            "tab\there",
            "\\",
            "\\'",
            "*",
            "?",
            "[a]",
            "~",
            "~root",
            "a=b",
            "-n",
            "--",
            "#comment",
            "!bang",
            "x > y < z | w",
            "unicode ✓ ü",
            "'\"'\"'",
            "%s",
        ];
        assert_eq!(through_sh(&nasty), nasty.to_vec());
        assert!(!Path::new("/tmp/brine-sh-quote-pwned").exists());
    }

    #[test]
    fn an_assignment_word_stays_a_command() {
        // Bare, `a=b` as the first word would be an assignment and run nothing.
        let line = remote_command(&["a=b"]).unwrap();
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127), "{line}");
    }

    #[test]
    fn quoting_leaves_plain_words_bare() {
        assert_eq!(sh_quote("/tmp/x-1.sh"), "/tmp/x-1.sh");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert!(remote_command(&["a\0b"]).is_err());
        assert!(remote_command(&[]).is_err());
    }

    #[test]
    fn hosts_and_users_cannot_become_options() {
        for h in [
            "-oProxyCommand=x",
            "",
            "a b",
            "a\nb",
            "a@b",
            "a/b",
            "a;b",
            "-",
        ] {
            assert!(validate_host(h).is_err(), "{h:?}");
        }
        for h in ["127.0.0.1", "::1", "web-1.example.com", "host_2"] {
            assert!(validate_host(h).is_ok(), "{h:?}");
        }
        for u in ["-l", "", "a b", "a@b", "a:b", "a\tb"] {
            assert!(validate_user(u).is_err(), "{u:?}");
        }
        assert!(validate_user("root").is_ok());
        let mut t = SshTarget::with_key(
            "-oProxyCommand=touch /tmp/x",
            22,
            "root",
            Path::new("/k"),
            Path::new("/kh"),
        );
        let e = Ssh::new(t.clone()).unwrap_err();
        assert!(e.to_string().contains("starts with '-'"), "{e}");
        t.host = String::from("h");
        t.username = String::from("-oX");
        assert!(matches!(
            Ssh::new(t).unwrap_err(),
            CloudSshError::InvalidUser { .. }
        ));
    }

    #[test]
    fn gateways_are_validated() {
        assert_eq!(validate_gateway("jump").unwrap(), "jump");
        assert_eq!(validate_gateway("me@jump:2222").unwrap(), "me@jump:2222");
        assert_eq!(validate_gateway("::1").unwrap(), "[::1]");
        for g in ["-J", "me@-x", "jump:0", "jump:99999", "a b@c", "h:x", "@h"] {
            assert!(validate_gateway(g).is_err(), "{g:?}");
        }
    }

    #[test]
    fn argv_ends_options_before_the_host_and_keeps_the_command_whole() {
        let mut t = SshTarget::with_key("h", 2222, "root", Path::new("/k"), Path::new("/kh"));
        t.gateway = Some(String::from("me@j:22"));
        let ssh = Ssh::new(t).unwrap();
        let argv = ssh.ssh_argv("echo 'a b'; x");
        let n = argv.len();
        assert_eq!(argv[n - 3], "--");
        assert_eq!(argv[n - 2], "h");
        assert_eq!(argv[n - 1], "echo 'a b'; x");
        let has = |s: &str| argv.iter().any(|a| a == s);
        assert!(has("StrictHostKeyChecking=yes") && has("UserKnownHostsFile=/kh"));
        assert!(has("BatchMode=yes") && has("ControlPath=none") && has("ProxyJump=me@j:22"));
        assert!(!has("StrictHostKeyChecking=no"));
    }

    #[test]
    fn a_password_stays_off_the_argv_and_out_of_debug() {
        let mut t = SshTarget::with_key("h", 22, "root", Path::new("/k"), Path::new("/kh"));
        t.auth = SshAuth::Password(String::from("s3cr3t-pw"));
        t.known_hosts = None;
        assert!(!format!("{t:?}").contains("s3cr3t"));
        let ssh = Ssh::new(t.clone()).unwrap();
        for a in ssh
            .ssh_argv("true")
            .iter()
            .chain(ssh.scp_argv(Path::new("/f"), "/r").iter())
        {
            assert!(!a.to_string_lossy().contains("s3cr3t"), "{a:?}");
        }
        let a = ssh.askpass.as_ref().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.secret()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir = a.dir.0.clone();
        // The script answers a password prompt and nothing else.
        let ask = |prompt: &str| {
            Command::new(a.script())
                .arg(prompt)
                .env("BRINE_ASKPASS_FILE", a.secret())
                .output()
                .unwrap()
        };
        assert_eq!(ask("root@h's password: ").stdout, b"s3cr3t-pw\n");
        let q = ask("Are you sure you want to continue connecting (yes/no/[fingerprint])? ");
        assert!(q.stdout.is_empty() && !q.status.success());
        drop(ssh);
        assert!(!dir.exists(), "the askpass directory outlived the runner");
        t.auth = SshAuth::Password(String::from("a\nb"));
        assert!(matches!(
            Ssh::new(t).unwrap_err(),
            CloudSshError::InvalidPassword { .. }
        ));
    }

    #[test]
    fn wait_for_port_gives_up_at_its_deadline() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let start = Instant::now();
        let e = wait_for_port("127.0.0.1", port, Duration::from_millis(1200)).unwrap_err();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1200) && took < Duration::from_secs(3),
            "{took:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("wait_for_port"),
            "{msg}"
        );
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        wait_for_port("127.0.0.1", port, Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn a_deadline_kills_the_whole_group() {
        let start = Instant::now();
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg("sleep 30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        assert!(wait_deadline(child, Duration::from_millis(300)).is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
