//! The reactor's renderer: a long-lived child process of the master's loop that renders and
//! compiles reactor SLS files, so that a template which loops, or builds a string of a
//! terabyte, costs one `salt/reactor/error` and never blocks or aborts the master.
//!
//! The child is the master's own binary started with [`FLAG`] (`/proc/self/exe`, so both
//! always speak the same protocol). It limits its own address space (`RLIMIT_AS`) before it
//! reads anything, then answers jobs one by one over its stdin and stdout in the bus's
//! frames: `E` the render environment (options, grains, environment), `J` a job, `R` a
//! reply. The loop writes jobs as they come (pipelined), reads replies as they come, and
//! watches one deadline, that of the oldest job not yet answered. A job past its deadline,
//! or a child that dies (an allocation over the limit aborts it), fails that one job; the
//! child is started afresh and the jobs behind it are sent to the new one.

use crate::reactor::{self, RenderEnv, RenderJob, RenderReply};
use crate::wire::{self, FrameReader, Next};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The hidden first argument that makes the binary a renderer child.
pub const FLAG: &str = "--reactor-renderer";

/// Frame kinds between the loop and the child.
const ENV: u8 = b'E';
const JOB: u8 = b'J';
const REPLY: u8 = b'R';

/// Largest frame either side accepts: files are at most 4 MiB each, output is capped.
const MAX_FRAME: usize = 256 << 20;

/// How long to wait before starting a child again after a start failed.
const RESPAWN_BACKOFF: Duration = Duration::from_secs(1);

/// A job that ended without a reply.
#[derive(Debug)]
pub struct Failed {
    /// The job's number.
    pub seq: u64,
    /// Why, in one line.
    pub why: String,
}

/// What the renderer has for the core.
#[derive(Debug)]
pub enum Done {
    /// The child rendered the job.
    Rendered(RenderReply),
    /// It did not.
    Failed(Failed),
}

struct Live {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: std::process::ChildStdout,
    reader: FrameReader,
    out: Vec<u8>,
    env_gen: Option<u64>,
}

/// The renderer child and the jobs it owes.
pub struct Renderer {
    out_token: Token,
    in_token: Token,
    timeout: Duration,
    memory: u64,
    live: Option<Live>,
    /// Jobs not answered yet, oldest first, with their encoded frames.
    jobs: VecDeque<(u64, Vec<u8>)>,
    /// How many of `jobs` the live child has been sent.
    sent: usize,
    /// When the oldest job became the oldest (its deadline runs from then).
    head_since: Option<Instant>,
    env: (u64, Vec<u8>),
    start_after: Option<Instant>,
}

fn nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn self_exe() -> String {
    if std::path::Path::new("/proc/self/exe").exists() {
        return "/proc/self/exe".to_owned();
    }
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/proc/self/exe".to_owned())
}

impl Renderer {
    /// A renderer whose child's stdout and stdin use these tokens; a job may take
    /// `timeout`, the child `memory` bytes of address space. The child starts with the
    /// first job.
    pub fn new(out_token: Token, in_token: Token, timeout: Duration, memory: u64) -> Renderer {
        Renderer {
            out_token,
            in_token,
            timeout,
            memory,
            live: None,
            jobs: VecDeque::new(),
            sent: 0,
            head_since: None,
            env: (0, Vec::new()),
            start_after: None,
        }
    }

    /// True when `token` is one of the child's pipes.
    pub fn owns(&self, token: Token) -> bool {
        token == self.out_token || token == self.in_token
    }

    /// Sets the render environment (generation `gen`); a child gets it before its next job.
    pub fn set_env(&mut self, gen: u64, env: &RenderEnv) {
        if self.env.0 != gen || self.env.1.is_empty() {
            self.env = (gen, serde_json::to_vec(env).unwrap_or_default());
        }
    }

    /// Queues a job for the child.
    pub fn submit(&mut self, registry: &Registry, job: &RenderJob) {
        let Ok(payload) = serde_json::to_vec(job) else {
            return;
        };
        if self.jobs.is_empty() {
            self.head_since = Some(Instant::now());
        }
        self.jobs.push_back((job.seq, payload));
        self.pump(registry);
    }

    /// The deadline of the oldest job, or when a child may be started again.
    pub fn next_deadline(&self) -> Option<Instant> {
        let head = self
            .head_since
            .filter(|_| !self.jobs.is_empty())
            .map(|t| t + self.timeout);
        [head, self.start_after.filter(|_| !self.jobs.is_empty())]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles readiness of one of the child's pipes; returns what finished.
    pub fn on_event(&mut self, registry: &Registry, token: Token) -> Vec<Done> {
        let mut done = Vec::new();
        if token == self.out_token {
            self.read(registry, &mut done);
        }
        self.pump(registry);
        done
    }

    /// Fails the oldest job when its deadline has passed (killing the child), and starts a
    /// child when one is due; the loop calls it every turn.
    pub fn check(&mut self, registry: &Registry) -> Vec<Done> {
        let mut done = Vec::new();
        let now = Instant::now();
        if let Some(since) = self.head_since.filter(|_| !self.jobs.is_empty()) {
            if now.saturating_duration_since(since) >= self.timeout {
                let why = format!(
                    "rendering took longer than {} s (reactor_render_timeout): the renderer was stopped",
                    self.timeout.as_secs_f64()
                );
                self.stop(registry);
                self.fail_head(why, &mut done);
            }
        }
        self.pump(registry);
        done
    }

    fn fail_head(&mut self, why: String, done: &mut Vec<Done>) {
        if let Some((seq, _)) = self.jobs.pop_front() {
            done.push(Done::Failed(Failed { seq, why }));
        }
        self.head_since = Some(Instant::now());
    }

    fn read(&mut self, registry: &Registry, done: &mut Vec<Done>) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let mut eof = false;
        loop {
            match live.reader.read_from(&mut live.stdout) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        let mut replies = Vec::new();
        let mut garbage = false;
        while let Some(next) = live.reader.next_frame() {
            match next {
                Next::Frame(REPLY, payload) => {
                    match serde_json::from_slice::<RenderReply>(payload) {
                        Ok(r) => replies.push(r),
                        Err(_) => garbage = true,
                    }
                }
                _ => garbage = true,
            }
        }
        for r in replies {
            // Replies come in job order; anything else is a broken child.
            if self.jobs.front().map(|(seq, _)| *seq) == Some(r.seq) {
                self.jobs.pop_front();
                self.sent = self.sent.saturating_sub(1);
                self.head_since = Some(Instant::now());
                done.push(Done::Rendered(r));
            } else {
                garbage = true;
            }
        }
        if garbage || eof {
            let status = self.stop(registry);
            let why = if garbage {
                "the renderer sent a reply out of order; it was restarted".to_owned()
            } else {
                format!(
                    "the renderer died while rendering ({status}); a template that needs more than {} MiB (reactor_render_memory) stops it",
                    self.memory >> 20
                )
            };
            if !self.jobs.is_empty() {
                self.fail_head(why, done);
            }
        }
    }

    /// Kills and reaps the child; the jobs it was sent go to the next one. Returns how it
    /// ended, for the error line.
    fn stop(&mut self, registry: &Registry) -> String {
        let Some(mut live) = self.live.take() else {
            return "not running".into();
        };
        let _ = registry.deregister(&mut SourceFd(&live.stdout.as_raw_fd()));
        let _ = registry.deregister(&mut SourceFd(&live.stdin.as_raw_fd()));
        let status = match live.child.try_wait() {
            Ok(Some(s)) => Some(s),
            _ => {
                let _ = live.child.kill();
                // After SIGKILL the kernel reaps at once: this wait is short.
                live.child.wait().ok()
            }
        };
        self.sent = 0;
        match status {
            Some(s) => {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (_, Some(sig)) => format!("signal {sig}"),
                    (Some(c), _) => format!("exit status {c}"),
                    _ => "unknown status".into(),
                }
            }
            None => "unknown status".into(),
        }
    }

    fn spawn(&mut self, registry: &Registry) -> io::Result<()> {
        let mut child = Command::new(self_exe())
            .arg(FLAG)
            .arg(self.memory.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("no pipes to the renderer"));
        };
        nonblocking(stdin.as_raw_fd())?;
        nonblocking(stdout.as_raw_fd())?;
        registry.register(
            &mut SourceFd(&stdout.as_raw_fd()),
            self.out_token,
            Interest::READABLE,
        )?;
        registry.register(
            &mut SourceFd(&stdin.as_raw_fd()),
            self.in_token,
            Interest::WRITABLE,
        )?;
        log::debug!("reactor renderer started (pid {})", child.id());
        self.live = Some(Live {
            child,
            stdin,
            stdout,
            reader: FrameReader::new(MAX_FRAME),
            out: Vec::new(),
            env_gen: None,
        });
        Ok(())
    }

    /// Starts a child if jobs wait, sends it what it has not had, writes what the pipe takes.
    fn pump(&mut self, registry: &Registry) {
        if self.jobs.is_empty() {
            return;
        }
        if self.live.is_none() {
            if self.start_after.is_some_and(|t| Instant::now() < t) {
                return;
            }
            if let Err(e) = self.spawn(registry) {
                crate::log_limited!(
                    Error,
                    "renderer:spawn",
                    "cannot start the reactor renderer: {e}"
                );
                self.start_after = Some(Instant::now() + RESPAWN_BACKOFF);
                return;
            }
            self.start_after = None;
        }
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if live.env_gen != Some(self.env.0) {
            wire::put_frame(&mut live.out, ENV, &self.env.1);
            live.env_gen = Some(self.env.0);
        }
        for (_, job) in self.jobs.iter().skip(self.sent) {
            wire::put_frame(&mut live.out, JOB, job);
        }
        self.sent = self.jobs.len();
        let mut written = 0;
        while written < live.out.len() {
            match live.stdin.write(&live.out[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock waits for the writable edge; a dead pipe shows as EOF on stdout.
                Err(_) => break,
            }
        }
        live.out.drain(..written);
        if live.out.capacity() > 1 << 20 && live.out.is_empty() {
            live.out = Vec::new();
        }
    }
}

/// Runs the renderer child when the binary was started as one (`FLAG MEMORY`); returns the
/// exit status then. `brine-master` calls it first thing.
pub fn run_if_requested() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(FLAG)) {
        return None;
    }
    let memory = args
        .next()
        .and_then(|m| m.to_str().and_then(|m| m.parse::<u64>().ok()))
        .unwrap_or(512 << 20);
    Some(child_main(memory))
}

fn child_main(memory: u64) -> i32 {
    let limit = libc::rlimit {
        rlim_cur: memory,
        rlim_max: memory,
    };
    // SAFETY: setrlimit on this process with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        eprintln!(
            "reactor renderer: cannot limit its memory: {}",
            io::Error::last_os_error()
        );
        return 1;
    }
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut reader = FrameReader::new(MAX_FRAME);
    let mut env = RenderEnv::default();
    let mut out = Vec::new();
    loop {
        while let Some(next) = reader.next_frame() {
            let Next::Frame(kind, payload) = next else {
                return 1;
            };
            match kind {
                ENV => match serde_json::from_slice(payload) {
                    Ok(e) => env = e,
                    Err(_) => return 1,
                },
                JOB => {
                    let Ok(job) = serde_json::from_slice::<RenderJob>(payload) else {
                        return 1;
                    };
                    let compiled = reactor::react(
                        &job.files,
                        &job.tag,
                        &job.data,
                        &env,
                        &crate::master::reaction_signatures,
                    );
                    let reply = RenderReply {
                        seq: job.seq,
                        compiled,
                    };
                    let Ok(bytes) = serde_json::to_vec(&reply) else {
                        return 1;
                    };
                    out.clear();
                    wire::put_frame(&mut out, REPLY, &bytes);
                    if stdout
                        .write_all(&out)
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        return 0;
                    }
                }
                _ => return 1,
            }
        }
        match reader.read_from(&mut stdin) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return 1,
        }
    }
}
