//! The one harness every whole-system test uses: real daemons in temp directories,
//! real CLI processes, loopback only.
#![allow(dead_code)]

use brine::client::{self, BusClient};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of one of the crate's binaries.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "brine-master" => PathBuf::from(env!("CARGO_BIN_EXE_brine-master")),
        "brine-event" => PathBuf::from(env!("CARGO_BIN_EXE_brine-event")),
        "brine-run" => PathBuf::from(env!("CARGO_BIN_EXE_brine-run")),
        "brine-minion" => PathBuf::from(env!("CARGO_BIN_EXE_brine-minion")),
        "brine-call" => PathBuf::from(env!("CARGO_BIN_EXE_brine-call")),
        "brine-key" => PathBuf::from(env!("CARGO_BIN_EXE_brine-key")),
        "brine-swarm" => PathBuf::from(env!("CARGO_BIN_EXE_brine-swarm")),
        "brine-api" => PathBuf::from(env!("CARGO_BIN_EXE_brine-api")),
        "brine-cloud" => PathBuf::from(env!("CARGO_BIN_EXE_brine-cloud")),
        "brine" => PathBuf::from(env!("CARGO_BIN_EXE_brine")),
        other => panic!("no binary {other}"),
    }
}

/// Polls `f` every 10 ms until it returns Some, or panics after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running brine-master in its own temp directory.
pub struct Master {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    extra: String,
    /// Watchers started with `event`: they reconnect forever, so they die with the master.
    watchers: std::cell::RefCell<Vec<u32>>,
    /// The publish port (4505's stand-in).
    pub publish_port: u16,
    /// The request port (4506's stand-in).
    pub ret_port: u16,
}

/// A TCP port nobody listens on right now (the kernel's pick, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Master {
    /// Starts a master with the default test configuration.
    pub fn start() -> Master {
        Master::start_with("")
    }

    /// Starts a master whose config file has `extra` YAML appended.
    pub fn start_with(extra: &str) -> Master {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut m = Master {
            dir,
            child: None,
            extra: extra.to_string(),
            watchers: std::cell::RefCell::new(Vec::new()),
            publish_port: free_port(),
            ret_port: free_port(),
        };
        m.write_config();
        m.spawn();
        m
    }

    /// The configuration directory (`-c`).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// The sock_dir.
    pub fn sock_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The bus socket.
    pub fn socket(&self) -> PathBuf {
        client::master_socket(&self.sock_dir())
    }

    /// The daemon's stderr log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("master.stderr")
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Rewrites the config file with `extra` appended.
    pub fn set_extra(&mut self, extra: &str) {
        self.extra = extra.to_string();
        self.write_config();
    }

    fn write_config(&self) {
        let d = self.dir.path();
        std::fs::create_dir_all(self.conf()).expect("conf dir");
        let cfg = format!(
            "interface: 127.0.0.1\npublish_port: {}\nret_port: {}\nsock_dir: {}\ncachedir: {}\npki_dir: {}\nlog_file: {}\nlog_level: debug\n{}\n",
            self.publish_port,
            self.ret_port,
            self.sock_dir().display(),
            d.join("cache").display(),
            d.join("pki").display(),
            d.join("master.log").display(),
            self.extra
        );
        std::fs::write(self.conf().join("master"), cfg).expect("write config");
    }

    /// Starts the daemon process and waits until its socket answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(bin("brine-master"))
            .arg("-c")
            .arg(self.conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn brine-master");
        self.child = Some(child);
        let sock = self.socket();
        wait_for("the master socket", Duration::from_secs(10), || {
            BusClient::connect(&sock).ok()
        });
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.pid() as i32, sig) };
    }

    /// Waits for the daemon to exit and returns its status code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st.code();
            }
            assert!(Instant::now() < end, "the master did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the daemon with SIGTERM.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(10))
    }

    /// A field of /proc/PID/status in KiB (VmRSS, VmHWM).
    pub fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(self.pid(), field)
    }

    /// A connected bus client.
    pub fn client(&self) -> BusClient {
        BusClient::connect(&self.socket()).expect("connect to the bus")
    }

    /// Runs brine-run against this master.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(bin("brine-run"))
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run brine-run")
    }

    /// The master's pki_dir.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Runs brine-key against this master with `input` on stdin.
    pub fn key(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(bin("brine-key"))
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn brine-key");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(input.as_bytes());
        }
        output_within(child, Duration::from_secs(20))
    }

    /// Waits until the daemon's log contains `needle` `n` times.
    pub fn wait_log(&self, needle: &str, n: usize) {
        wait_for(needle, Duration::from_secs(20), || {
            (self.log().matches(needle).count() >= n).then_some(())
        });
    }

    /// Starts brine-event against this master with its stdout piped.
    pub fn event(&self, args: &[&str]) -> Child {
        let child = Command::new(bin("brine-event"))
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn brine-event");
        self.watchers.borrow_mut().push(child.id());
        child
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        for pid in self.watchers.borrow().iter() {
            unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A field of /proc/PID/status in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Waits for a child to exit within `limit` and returns its output; kills it otherwise.
pub fn output_within(mut child: Child, limit: Duration) -> Output {
    let end = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "process did not exit in {limit:?}; stdout: {} stderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// True when a path exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

impl Master {
    /// Waits until `n` subscriptions in total were logged by the daemon.
    pub fn wait_subscribed(&self, n: usize) {
        wait_for("subscriptions", Duration::from_secs(10), || {
            (self.log().matches(" subscribed: ").count() >= n).then_some(())
        });
    }
}

/// A running brine-minion in its own temp directory.
pub struct Minion {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub id: String,
    /// Environment variables the daemon and `call` get on top of the test's.
    pub env: Vec<(String, String)>,
}

impl Minion {
    /// Starts a minion with this id against `master`, with short retry timers.
    pub fn start(master: &Master, id: &str, extra: &str) -> Minion {
        Minion::start_with_env(master, id, extra, &[])
    }

    /// Starts a minion as `start` does, with these environment variables added.
    pub fn start_with_env(master: &Master, id: &str, extra: &str, env: &[(&str, &str)]) -> Minion {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut m = Minion {
            dir,
            child: None,
            id: id.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        m.write_config(master, extra);
        m.spawn();
        m
    }

    /// The configuration directory.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// The minion's pki_dir.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// The minion's sock_dir.
    pub fn sock_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("minion.stderr")).unwrap_or_default()
    }

    /// Rewrites the config (e.g. to point at a restarted master on new ports).
    pub fn write_config(&self, master: &Master, extra: &str) {
        std::fs::create_dir_all(self.conf()).expect("conf dir");
        let d = self.dir.path();
        let cfg = format!(
            "id: {}\nmaster: 127.0.0.1\nmaster_port: {}\npublish_port: {}\npki_dir: {}\nsock_dir: {}\ncachedir: {}\nlog_file: {}\nlog_level: debug\nacceptance_wait_time: 1\nrandom_reauth_delay: 1\nheartbeat_interval: 1\nauth_timeout: 2\n{}\n",
            self.id,
            master.ret_port,
            master.publish_port,
            d.join("pki").display(),
            d.join("run").display(),
            d.join("cache").display(),
            d.join("minion.log").display(),
            extra
        );
        std::fs::write(self.conf().join("minion"), cfg).expect("write minion config");
    }

    /// Starts the daemon (it authenticates in the background).
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("minion.stderr"))
            .expect("log file");
        let child = Command::new(bin("brine-minion"))
            .arg("-c")
            .arg(self.conf())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn brine-minion");
        self.child = Some(child);
        let sock = client::minion_socket(&self.sock_dir());
        // Up when its socket answers; a minion that exits at once (denied) is up too.
        let child = self.child.as_mut().expect("just spawned");
        wait_for("the minion socket", Duration::from_secs(10), || {
            if BusClient::connect(&sock).is_ok() {
                return Some(());
            }
            match child.try_wait() {
                Ok(Some(_)) => Some(()),
                _ => None,
            }
        });
    }

    /// Waits until the daemon's log contains `needle` `n` times.
    pub fn wait_log(&self, needle: &str, n: usize) {
        wait_for(needle, Duration::from_secs(20), || {
            (self.log().matches(needle).count() >= n).then_some(())
        });
    }

    /// Runs brine-call against this minion (with the minion's environment, for --local).
    pub fn call(&self, args: &[&str]) -> Output {
        Command::new(bin("brine-call"))
            .arg("-c")
            .arg(self.conf())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run brine-call")
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// Stops the daemon with SIGTERM and returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st.code();
            }
            if Instant::now() > end {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the daemon to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st.code();
            }
            assert!(Instant::now() < end, "the minion did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Minion {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A background process killed when the guard goes out of scope (also when a test fails).
pub struct Bg(pub Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Python test server from tests/servers that prints its port once it listens.
pub fn py_server(script: &str, args: &[&str]) -> (Bg, u16) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with aiosmtpd: .ci/run installs it)");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    let port = match line.trim().parse() {
        Ok(p) => p,
        Err(_) => {
            let out = output_within(child, Duration::from_secs(5));
            panic!(
                "{script} did not start (is aiosmtpd installed? .ci/run installs it): {}",
                stderr(&out)
            );
        }
    };
    (Bg(child), port)
}

/// The messages a sink accepted so far, in order.
pub fn mails(out: &Path) -> Vec<serde_json::Value> {
    let mut v = Vec::new();
    for n in 1.. {
        match std::fs::read_to_string(out.join(format!("{n}.json"))) {
            Ok(text) => v.push(serde_json::from_str(&text).expect("a sink record")),
            Err(_) => return v,
        }
    }
    v
}

/// A running brine-api in front of a test master: its settings go into the master's
/// configuration directory (`master.d/api.conf`), as an operator would put them.
pub struct Api {
    /// The daemon.
    pub child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its stderr log.
    pub log_path: PathBuf,
    /// Whether it serves TLS.
    pub tls: bool,
}

impl Api {
    /// Starts brine-api for `master`, plain HTTP, with `rest_extra` YAML lines (indented by
    /// this function) added to its `rest_cherrypy` section and `top_extra` to the file.
    pub fn start(master: &Master, rest_extra: &str, top_extra: &str) -> Api {
        Api::start_opts(master, rest_extra, top_extra, false)
    }

    /// As [`Api::start`]; with `tls` the section holds its own ssl_crt/ssl_key lines and
    /// no `disable_ssl`.
    pub fn start_opts(master: &Master, rest_extra: &str, top_extra: &str, tls: bool) -> Api {
        let port = free_port();
        let dir = master.conf().join("master.d");
        std::fs::create_dir_all(&dir).expect("master.d");
        let mut rest = format!("rest_cherrypy:\n  port: {port}\n  host: 127.0.0.1\n");
        if !tls {
            rest.push_str("  disable_ssl: True\n");
        }
        for line in rest_extra.lines().filter(|l| !l.trim().is_empty()) {
            rest.push_str("  ");
            rest.push_str(line);
            rest.push('\n');
        }
        rest.push_str(top_extra);
        rest.push('\n');
        std::fs::write(dir.join("api.conf"), rest).expect("write api.conf");
        let log_path = master.dir.path().join(format!("api-{port}.stderr"));
        let log = std::fs::File::create(&log_path).expect("api log");
        let child = Command::new(bin("brine-api"))
            .arg("-c")
            .arg(master.conf())
            .arg("-l")
            .arg("debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn brine-api");
        let mut api = Api {
            child: Some(child),
            port,
            log_path,
            tls,
        };
        let addr = format!("127.0.0.1:{port}");
        wait_for("brine-api to listen", Duration::from_secs(10), || {
            if let Some(c) = api.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "brine-api exited with {st}: {}",
                        std::fs::read_to_string(&api.log_path).unwrap_or_default()
                    );
                }
            }
            std::net::TcpStream::connect(&addr).ok()
        });
        api
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// Whether the daemon still runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// One raw HTTP exchange on a new connection: sends `raw` and reads until the peer
    /// closes or `limit` passes (send `Connection: close`).
    pub fn raw(&self, raw: &[u8], limit: Duration) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(limit)).expect("timeout");
        // A server that refuses the request early (413) may close before all of it is sent.
        let _ = s.write_all(raw);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    /// A request through curl: `(status, headers, body)`.
    pub fn curl(&self, args: &[&str]) -> (u16, String, String) {
        let out = Command::new("curl")
            .args(["-sS", "-k", "-D", "-", "--max-time", "20"])
            .args(args)
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_string(), body.to_string())
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A throwaway OpenSSH server on 127.0.0.1 with its own host key, config and authorized_keys
/// in a temp dir (what brine-cloud's saltify deploys are tested against). Needs root.
pub struct Sshd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The private key `authorized_keys` lets in (as root).
    pub client_key: PathBuf,
    /// `[127.0.0.1]:PORT ssh-ed25519 ...`: the server's real host key.
    pub known_hosts: PathBuf,
    /// Local users made by `add_password_user`, deleted on drop.
    users: Vec<String>,
    child: Option<Child>,
}

impl Sshd {
    /// Why an sshd cannot be run here, if it cannot (not root, no sshd or ssh-keygen).
    pub fn available() -> Result<(), String> {
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: sshd needs root to log users in".into());
        }
        for b in [
            "/usr/sbin/sshd",
            "/usr/bin/ssh-keygen",
            "/usr/bin/ssh",
            "/usr/bin/scp",
        ] {
            if !Path::new(b).exists() {
                return Err(format!("{b} is missing (.ci/run installs openssh-server)"));
            }
        }
        Ok(())
    }

    /// A fresh ed25519 key pair at `path` (and `path.pub`), no passphrase.
    pub fn keygen(path: &Path) {
        let out = Command::new("/usr/bin/ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "brine-test", "-f"])
            .arg(path)
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
    }

    /// Starts sshd on a free loopback port and waits until it answers.
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let host_key = d.join("host_key");
        let client_key = d.join("client_key");
        Self::keygen(&host_key);
        Self::keygen(&client_key);
        let pubkey = std::fs::read_to_string(d.join("client_key.pub")).expect("client_key.pub");
        std::fs::write(d.join("authorized_keys"), pubkey).expect("authorized_keys");
        // sshd's privilege-separation directory; Debian's init script would make it.
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut last = String::new();
        // A free port can be taken between the probe and sshd's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin yes\n\
                 PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPidFile {d}/sshd.pid\nMaxStartups 100:30:200\n\
                 LogLevel VERBOSE\nSubsystem sftp internal-sftp\n",
                hk = host_key.display(),
                d = d.display()
            );
            let cfg = d.join("sshd_config");
            std::fs::write(&cfg, config).expect("sshd_config");
            let log = std::fs::File::create(d.join("sshd.log")).expect("sshd.log");
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("sshd starts");
            let end = Instant::now() + Duration::from_secs(10);
            let mut up = false;
            while Instant::now() < end {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !up {
                let _ = child.kill();
                let _ = child.wait();
                last = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                continue;
            }
            let hostpub = std::fs::read_to_string(d.join("host_key.pub")).expect("host_key.pub");
            let mut fields = hostpub.split_whitespace();
            let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            let known_hosts = d.join("known_hosts");
            std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {kind} {key}\n"))
                .expect("known_hosts");
            return Sshd {
                port,
                client_key,
                known_hosts,
                users: Vec::new(),
                child: Some(child),
                dir,
            };
        }
        panic!("sshd did not start: {last}");
    }

    /// A known_hosts file naming this server with some other key (a man in the middle).
    pub fn wrong_known_hosts(&self) -> PathBuf {
        let other = self.dir.path().join("other_host_key");
        if !other.exists() {
            Self::keygen(&other);
        }
        let text = std::fs::read_to_string(self.dir.path().join("other_host_key.pub"))
            .expect("other_host_key.pub");
        let mut fields = text.split_whitespace();
        let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        let path = self.dir.path().join("wrong_known_hosts");
        std::fs::write(&path, format!("[127.0.0.1]:{} {kind} {key}\n", self.port))
            .expect("wrong_known_hosts");
        path
    }

    /// A throwaway local user with `password` (removed on drop); returns its name.
    pub fn add_password_user(&mut self, password: &str) -> String {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("brsh{}x{seq}", std::process::id());
        let out = Command::new("useradd")
            .args(["--no-create-home", "--home-dir", "/", "--shell", "/bin/sh"])
            .arg(&name)
            .output()
            .expect("useradd runs");
        assert!(out.status.success(), "useradd: {}", stderr(&out));
        self.users.push(name.clone());
        let mut c = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chpasswd runs");
        {
            use std::io::Write;
            let mut stdin = c.stdin.take().expect("piped");
            writeln!(stdin, "{name}:{password}").expect("chpasswd stdin");
        }
        let out = c.wait_with_output().expect("chpasswd ends");
        assert!(out.status.success(), "chpasswd: {}", stderr(&out));
        name
    }

    /// What sshd logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).output();
        }
    }
}

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost, as PEM
/// files (`ca.pem`, `cert.pem`, `key.pem`), for the TLS servers and clients of the tests.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Makes the CA and the certificate.
    pub fn new() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "brine test CA");
        let ca = CertifiedIssuer::self_signed(ca, ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("an address")));
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write");
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write");
        Pki { dir }
    }

    /// The path of one of its files.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
