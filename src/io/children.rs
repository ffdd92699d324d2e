//! Child processes of a daemon's event loop: whatever can block (a shell command) runs
//! in one, its pipes registered in the loop, its exit noticed through a pidfd, its
//! deadline a timer. A child past its deadline is killed with its whole process group.

use crate::modules::{ChildResult, ChildSpec};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Output kept per stream; more is read (so the child never blocks) and dropped.
const OUTPUT_CAP: usize = 64 << 20;

/// Which of a child's sources a token names.
const STDOUT: usize = 0;
const STDERR: usize = 1;
const STDIN: usize = 2;
const EXIT: usize = 3;
const PER_CHILD: usize = 4;

struct Proc {
    child: Child,
    key: u64,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    input: Vec<u8>,
    written: usize,
    pidfd: Option<OwnedFd>,
    out: Vec<u8>,
    err: Vec<u8>,
    deadline: Option<Instant>,
    timed_out: bool,
    status: Option<i32>,
}

/// The children of one loop, keyed by the job key the core gave them.
pub struct Children {
    base: usize,
    procs: HashMap<usize, Proc>,
    next_slot: usize,
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: a plain syscall; the returned descriptor is ours to own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: pidfd_open returned a new descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The uid, gid and home of a user, for `runas`.
fn lookup_user(name: &str) -> Result<(u32, u32, String), String> {
    let cname =
        std::ffi::CString::new(name).map_err(|_| format!("User '{name}' is not available"))?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16384];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are valid for their sizes; result points into pwd or is null.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(format!("User '{name}' is not available"));
    }
    // SAFETY: pw_dir points into buf, NUL-terminated, while buf lives.
    let home = unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) }
        .to_string_lossy()
        .into_owned();
    Ok((pwd.pw_uid, pwd.pw_gid, home))
}

impl Children {
    /// Children whose tokens start at `base` (four per child).
    pub fn new(base: usize) -> Children {
        Children {
            base,
            procs: HashMap::new(),
            next_slot: 0,
        }
    }

    /// True when a token belongs to a child.
    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.base
    }

    /// Number of running children.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when no child runs.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The earliest deadline of a running child.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.procs
            .values()
            .filter(|p| !p.timed_out)
            .filter_map(|p| p.deadline)
            .min()
    }

    /// Starts a child; returns its pid, or why it could not start.
    pub fn spawn(
        &mut self,
        registry: &Registry,
        key: u64,
        spec: &ChildSpec,
    ) -> Result<u32, String> {
        let Some((prog, args)) = spec.argv.split_first() else {
            return Err("empty command".into());
        };
        let mut cmd = Command::new(prog);
        cmd.args(args);
        if spec.clean_env {
            cmd.env_clear();
        }
        cmd.envs(&spec.env);
        if let Some(cwd) = &spec.cwd {
            if !cwd.is_dir() {
                return Err(format!(
                    "Specified cwd '{}' either not absolute or does not exist",
                    cwd.display()
                ));
            }
            cmd.current_dir(cwd);
        }
        if let Some(user) = &spec.runas {
            let (uid, gid, home) = lookup_user(user)?;
            // SAFETY: geteuid has no side effects.
            if unsafe { libc::geteuid() } != 0 && uid != unsafe { libc::geteuid() } {
                return Err(format!("runas '{user}' needs the minion to run as root"));
            }
            cmd.uid(uid)
                .gid(gid)
                .env("HOME", home)
                .env("USER", user)
                .env("LOGNAME", user);
        }
        // Its own process group, so a timeout kills `sh -c` and whatever it started.
        cmd.process_group(0);
        cmd.stdin(if spec.stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        });
        let (out_r, out_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        if spec.merge_stderr {
            let dup = out_w.try_clone().map_err(|e| format!("pipe: {e}"))?;
            cmd.stdout(out_w).stderr(dup);
        } else {
            cmd.stdout(out_w).stderr(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("Unable to run command '{prog}': {e}"))?;
        // The write ends now live only in the child: EOF comes when it (and its heirs) exit.
        drop(cmd);
        let pid = child.id();
        let stdout: OwnedFd = out_r.into();
        let stderr: Option<OwnedFd> = child.stderr.take().map(Into::into);
        let stdin: Option<OwnedFd> = child.stdin.take().map(Into::into);
        let pidfd = pidfd_open(pid);
        let slot = self.next_slot;
        self.next_slot += 1;
        let token = |what: usize| Token(self.base + slot * PER_CHILD + what);
        for (fd, what, interest) in [
            (Some(&stdout), STDOUT, Interest::READABLE),
            (stderr.as_ref(), STDERR, Interest::READABLE),
            (stdin.as_ref(), STDIN, Interest::WRITABLE),
            (pidfd.as_ref(), EXIT, Interest::READABLE),
        ] {
            if let Some(fd) = fd {
                let raw = fd.as_raw_fd();
                let _ = set_nonblocking(raw);
                if let Err(e) = registry.register(&mut SourceFd(&raw), token(what), interest) {
                    log::warn!("cannot watch child {pid}: {e}");
                }
            }
        }
        self.procs.insert(
            slot,
            Proc {
                child,
                key,
                stdout: Some(stdout),
                stderr,
                stdin,
                input: spec.stdin.clone(),
                written: 0,
                pidfd,
                out: Vec::new(),
                err: Vec::new(),
                deadline: spec.timeout.map(|t| crate::clock::later(Instant::now(), t)),
                timed_out: false,
                status: None,
            },
        );
        // Write what stdin takes now; the rest on writable edges.
        self.pump(registry, slot, STDIN);
        Ok(pid)
    }

    /// Kills the child of job `key` (its process group).
    pub fn kill(&mut self, key: u64) {
        if let Some(p) = self.procs.values_mut().find(|p| p.key == key) {
            kill_group(p.child.id());
        }
    }

    /// Kills children past their deadline.
    pub fn check_deadlines(&mut self, now: Instant) {
        for p in self.procs.values_mut() {
            if !p.timed_out && p.deadline.is_some_and(|d| d <= now) {
                log::warn!(
                    "job child {} ran past its timeout: killing it",
                    p.child.id()
                );
                p.timed_out = true;
                kill_group(p.child.id());
            }
        }
    }

    /// Handles readiness of a child token; returns finished children.
    pub fn on_event(&mut self, registry: &Registry, token: Token) -> Vec<(u64, ChildResult)> {
        let rel = token.0 - self.base;
        let (slot, what) = (rel / PER_CHILD, rel % PER_CHILD);
        self.pump(registry, slot, what);
        self.reap(registry)
    }

    /// Looks at every child once (for pidfd-less kernels and after a kill).
    pub fn poll_all(&mut self, registry: &Registry) -> Vec<(u64, ChildResult)> {
        let slots: Vec<usize> = self.procs.keys().copied().collect();
        for slot in slots {
            for what in [STDOUT, STDERR, EXIT] {
                self.pump(registry, slot, what);
            }
        }
        self.reap(registry)
    }

    fn pump(&mut self, registry: &Registry, slot: usize, what: usize) {
        let Some(p) = self.procs.get_mut(&slot) else {
            return;
        };
        match what {
            STDOUT | STDERR => {
                let (fd, buf) = if what == STDOUT {
                    (&mut p.stdout, &mut p.out)
                } else {
                    (&mut p.stderr, &mut p.err)
                };
                if let Some(f) = fd.as_ref() {
                    if drain(f, buf) {
                        let raw = f.as_raw_fd();
                        let _ = registry.deregister(&mut SourceFd(&raw));
                        *fd = None;
                    }
                }
            }
            STDIN => {
                if let Some(f) = p.stdin.as_ref() {
                    let mut file = std::fs::File::from(match f.try_clone() {
                        Ok(c) => c,
                        Err(_) => return,
                    });
                    while p.written < p.input.len() {
                        match file.write(&p.input[p.written..]) {
                            Ok(0) => break,
                            Ok(n) => p.written += n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(_) => break,
                        }
                    }
                    let raw = f.as_raw_fd();
                    let _ = registry.deregister(&mut SourceFd(&raw));
                    // Closing stdin tells the child the input is over.
                    p.stdin = None;
                }
            }
            _ => {
                if let Ok(Some(st)) = p.child.try_wait() {
                    p.status = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
                }
            }
        }
    }

    /// Children that exited and whose output is fully read.
    fn reap(&mut self, registry: &Registry) -> Vec<(u64, ChildResult)> {
        let mut done = Vec::new();
        for (slot, p) in self.procs.iter_mut() {
            if p.status.is_none() {
                if let Ok(Some(st)) = p.child.try_wait() {
                    p.status = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
                }
            }
            // A killed child's heirs may hold the pipes open: do not wait for them.
            let pipes_done = p.stdout.is_none() && p.stderr.is_none();
            if p.status.is_some() && (pipes_done || p.timed_out) {
                done.push(*slot);
            }
        }
        let mut out = Vec::new();
        for slot in done {
            if let Some(mut p) = self.procs.remove(&slot) {
                for fd in [
                    p.stdout.take(),
                    p.stderr.take(),
                    p.stdin.take(),
                    p.pidfd.take(),
                ]
                .into_iter()
                .flatten()
                {
                    let raw = fd.as_raw_fd();
                    let _ = registry.deregister(&mut SourceFd(&raw));
                }
                out.push((
                    p.key,
                    ChildResult {
                        stdout: p.out,
                        stderr: p.err,
                        status: p.status.unwrap_or(-1),
                        pid: p.child.id(),
                        timed_out: p.timed_out,
                        spawn_error: None,
                    },
                ));
            }
        }
        out
    }

    /// Kills every child (daemon shutdown).
    pub fn kill_all(&mut self) {
        for p in self.procs.values_mut() {
            kill_group(p.child.id());
            let _ = p.child.wait();
        }
        self.procs.clear();
    }
}

fn kill_group(pid: u32) {
    // SAFETY: signalling a process group we created.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Reads what a pipe holds now; true at EOF.
fn drain(fd: &OwnedFd, buf: &mut Vec<u8>) -> bool {
    let Ok(dup) = fd.try_clone() else {
        return true;
    };
    let mut file = std::fs::File::from(dup);
    let mut chunk = [0u8; 16384];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

/// Runs one child to its end in a process that has no event loop of its own
/// (`brine-call --local`): the same pipes, deadline and kill as in a daemon's loop.
pub fn run_to_end(spec: &ChildSpec) -> std::io::Result<ChildResult> {
    let poll = mio::Poll::new()?;
    let mut children = Children::new(16);
    if let Err(e) = children.spawn(poll.registry(), 1, spec) {
        return Ok(ChildResult::spawn_failed(e));
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(10));
        children.check_deadlines(std::time::Instant::now());
        if let Some((_, result)) = children.poll_all(poll.registry()).into_iter().next() {
            return Ok(result);
        }
    }
}
