//! Start-up shared by brine-master and brine-minion: flags, configuration, logging, the
//! SIGHUP re-reader, detaching and the pid file.

use super::args;
use super::flags::{self, CliError, Parsed};
use super::tools::DaemonFlag;
use super::{fail, EXIT_USAGE};
use crate::config::{ConfigError, ConfigWarning, MasterConfig, MinionConfig};
use crate::io::process::{self, PidFile};
use std::path::{Path, PathBuf};

/// A daemon's configuration as start-up needs it.
pub trait DaemonConfig: Sized + 'static {
    /// Reads the configuration directory.
    fn load(dir: &Path) -> Result<(Self, Vec<ConfigWarning>), ConfigError>;
    /// The configured log level, which `--log-level` overrides.
    fn log_level_mut(&mut self) -> &mut String;
    /// Where a detached daemon logs.
    fn log_file(&self) -> &Path;
    /// Resolves relative paths against `base` (the directory the daemon was started in),
    /// since a detached daemon works from `/`.
    fn absolutize(&mut self, base: &Path);
    /// The main file's name in the configuration directory.
    const FILE: &'static str;
}

fn resolve(base: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

/// The accessors both configurations have under the same names, and the paths `absolutize`
/// resolves.
macro_rules! daemon_config {
    ($config:ty, $file:literal, [$($path:ident),*], [$($optional:ident),*]) => {
        impl DaemonConfig for $config {
            const FILE: &'static str = $file;
            fn load(dir: &Path) -> Result<(Self, Vec<ConfigWarning>), ConfigError> {
                <$config>::load(dir)
            }
            fn log_level_mut(&mut self) -> &mut String {
                &mut self.log_level
            }
            fn log_file(&self) -> &Path {
                &self.log_file
            }
            fn absolutize(&mut self, base: &Path) {
                $(resolve(base, &mut self.$path);)*
                $(if let Some(p) = self.$optional.as_mut() {
                    resolve(base, p);
                })*
            }
        }
    };
}

daemon_config!(
    MasterConfig,
    "master",
    [pki_dir, cachedir, sock_dir, log_file, sqlite_queue_dir],
    [autosign_file, autoreject_file]
);
daemon_config!(
    MinionConfig,
    "minion",
    [pki_dir, cachedir, sock_dir, log_file],
    []
);

/// What a daemon's command line asks for, checked (brine-master and brine-minion share
/// their flags).
struct DaemonArgs {
    conf_dir: PathBuf,
    /// Detach from the terminal and log to log_file.
    daemon: bool,
    pid_file: Option<PathBuf>,
    /// `-l`, which overrides the configuration's log_level at start and at every SIGHUP
    /// (checked with it).
    log_level: Option<String>,
}

impl DaemonArgs {
    fn from_parsed(p: Parsed<DaemonFlag>) -> Result<DaemonArgs, CliError> {
        if let Some(extra) = p.positionals.first() {
            return Err(CliError(format!("unexpected argument '{extra}'")));
        }
        Ok(DaemonArgs {
            conf_dir: args::conf_dir(p.value(DaemonFlag::ConfigDir)),
            daemon: p.has(DaemonFlag::Daemon),
            pid_file: p.value(DaemonFlag::PidFile).map(PathBuf::from),
            log_level: p.value(DaemonFlag::LogLevel).map(str::to_string),
        })
    }
}

/// A daemon whose flags are read, configuration loaded and logging set up.
pub struct Started<C> {
    tool: &'static flags::Tool,
    args: DaemonArgs,
    dir: PathBuf,
    /// The directory the daemon was started in, for relative paths in its configuration.
    cwd: PathBuf,
    /// The configuration, `--log-level` applied.
    pub cfg: C,
    /// With `--daemon`, the pipe the command's process waits on until start-up is done.
    readiness: std::cell::RefCell<Option<process::Readiness>>,
}

/// Parses the flags, loads the configuration and starts logging (to stderr, or to
/// `log_file` with `--daemon`); `Err` is the exit status, the error already printed.
pub fn start<C: DaemonConfig>(
    tool: &'static flags::Tool,
    argv: Vec<std::ffi::OsString>,
) -> Result<Started<C>, i32> {
    let args = args::build(tool, argv, DaemonArgs::from_parsed)?;
    // Absolute, because a daemon changes its directory to / and SIGHUP re-reads it.
    let dir = std::path::absolute(&args.conf_dir).unwrap_or_else(|_| args.conf_dir.clone());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let (mut cfg, warnings) = C::load(&dir).map_err(|e| fail(tool.name, e, EXIT_USAGE))?;
    cfg.absolutize(&cwd);
    if let Some(l) = &args.log_level {
        *cfg.log_level_mut() = l.clone();
    }
    let level_name = cfg.log_level_mut().clone();
    let Some(level) = crate::log::level_filter(&level_name) else {
        return Err(fail(
            tool.name,
            format!(
                "unknown log level '{level_name}' (one of {})",
                crate::log::LEVELS.join(", ")
            ),
            EXIT_USAGE,
        ));
    };
    let log_file = args.daemon.then_some(cfg.log_file());
    if let Err(e) = crate::log::init(tool.name, level, log_file) {
        return Err(fail(
            tool.name,
            format!("log_file {}: {e}", cfg.log_file().display()),
            1,
        ));
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    Ok(Started {
        tool,
        args,
        dir,
        cwd,
        cfg,
        readiness: std::cell::RefCell::new(None),
    })
}

impl<C: DaemonConfig> Started<C> {
    /// Re-reads the configuration on SIGHUP; a `--log-level` flag keeps winning.
    pub fn reloader(&self) -> Box<dyn FnMut() -> Result<C, String>> {
        let dir = self.dir.clone();
        let cwd = self.cwd.clone();
        let cli_level = self.args.log_level.clone();
        // A main file that was there at start and is gone now is a mistake (or a package
        // upgrade half done), not a wish for every default: the daemon keeps what it runs.
        let main = dir.join(C::FILE);
        let had_main = main.exists();
        Box::new(move || {
            if had_main && !main.exists() {
                return Err(format!(
                    "{} is gone (it was there at start); create it again or restart the daemon",
                    main.display()
                ));
            }
            let (mut cfg, warnings) = C::load(&dir).map_err(|e| e.to_string())?;
            cfg.absolutize(&cwd);
            for w in &warnings {
                log::warn!("{w}");
            }
            if let Some(l) = &cli_level {
                *cfg.log_level_mut() = l.clone();
            }
            Ok(cfg)
        })
    }

    /// Prints a start-up error (and logs it to `log_file` with `--daemon`); returns the
    /// exit status 1.
    pub fn fail(&self, e: impl std::fmt::Display) -> i32 {
        if self.args.daemon {
            log::error!("{e}");
        }
        // Detached: the terminal is the waiting process's, which prints it and exits 1.
        if let Some(r) = self.readiness.borrow_mut().take() {
            r.failed(&e.to_string());
            return 1;
        }
        fail(self.tool.name, e, 1)
    }

    /// Start-up is done: a detached daemon lets the process that ran it exit 0.
    pub fn ready(&self) {
        if let Some(r) = self.readiness.borrow_mut().take() {
            r.ready();
        }
    }

    /// Detaches with `--daemon` and writes `--pid-file` (removed when the guard drops).
    /// Call it before ZeroMQ or LMDB start (their threads and locks do not survive the
    /// fork), and [`Started::ready`] once they did: until then the process that ran the
    /// command waits, and prints any error passed to [`Started::fail`].
    pub fn detach(&self) -> Result<Option<PidFile>, i32> {
        self.detach_then(|| {})
    }

    /// [`Started::detach`], running `undo` (closing what start-up bound, so that its socket
    /// files are gone) before a failure is reported: the waiting command exits as soon as it
    /// hears of it, and must find nothing left behind.
    pub fn detach_then(&self, undo: impl FnOnce()) -> Result<Option<PidFile>, i32> {
        if self.args.daemon {
            match process::daemonize(self.tool.name) {
                Ok(r) => *self.readiness.borrow_mut() = Some(r),
                Err(e) => return Err(self.fail(format!("cannot daemonize: {e}"))),
            }
        }
        // Relative to where the daemon was started, not to / where it now works.
        let path = self.args.pid_file.as_ref().map(|p| self.cwd.join(p));
        match path.map(|p| (PidFile::create(&p), p)) {
            Some((Ok(p), _)) => Ok(Some(p)),
            Some((Err(e), p)) => {
                undo();
                Err(self.fail(format!("pid file {}: {e}", p.display())))
            }
            None => Ok(None),
        }
    }
}

/// The exit status of a daemon's event loop: its own, or 1 (logged) when it failed.
pub fn exit_status<E: std::fmt::Display>(r: Result<i32, E>) -> i32 {
    r.unwrap_or_else(|e| {
        log::error!("{e}");
        1
    })
}
