//! A small `log` backend: one line per record to stderr (with `<N>` syslog priority
//! prefixes that journald understands) in the foreground, or to `log_file` with a
//! timestamp when daemonized. Daemons never print to stdout.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Where log lines go.
enum Sink {
    Stderr,
    File(File),
}

struct Logger {
    sink: Mutex<Sink>,
    name: &'static str,
}

/// Maps Salt's level names (and the usual Rust ones) to a `log` filter.
pub fn level_filter(name: &str) -> Option<log::LevelFilter> {
    Some(match name.to_ascii_lowercase().as_str() {
        "quiet" => log::LevelFilter::Off,
        "critical" | "error" => log::LevelFilter::Error,
        "warning" | "warn" => log::LevelFilter::Warn,
        "info" | "profile" => log::LevelFilter::Info,
        "debug" => log::LevelFilter::Debug,
        "trace" | "garbage" | "all" => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// The level names `-l` accepts, as Salt spells them.
pub const LEVELS: &[&str] = &[
    "all", "garbage", "trace", "debug", "profile", "info", "warning", "error", "critical", "quiet",
];

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let (prio, word) = match r.level() {
            log::Level::Error => (3, "ERROR"),
            log::Level::Warn => (4, "WARNING"),
            log::Level::Info => (6, "INFO"),
            log::Level::Debug => (7, "DEBUG"),
            log::Level::Trace => (7, "TRACE"),
        };
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        // A full disk or a closed stderr must never take the daemon down: drop the line.
        let _ = match &mut *sink {
            Sink::Stderr => writeln!(
                std::io::stderr(),
                "<{prio}>{}: [{word}] {}",
                self.name,
                r.args()
            ),
            Sink::File(f) => writeln!(
                f,
                "{} [{}][{word}] {}",
                crate::clock::stamp(std::time::SystemTime::now()),
                self.name,
                r.args()
            ),
        };
    }

    fn flush(&self) {
        if let Ok(mut sink) = self.sink.lock() {
            if let Sink::File(f) = &mut *sink {
                let _ = f.flush();
            }
        }
    }
}

/// Installs the logger once per process; `file` switches from stderr to that file.
pub fn init(
    name: &'static str,
    level: log::LevelFilter,
    file: Option<&Path>,
) -> std::io::Result<()> {
    let sink = match file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            Sink::File(OpenOptions::new().create(true).append(true).open(path)?)
        }
        None => Sink::Stderr,
    };
    let logger = Box::new(Logger {
        sink: Mutex::new(sink),
        name,
    });
    log::set_max_level(level);
    // A second init (tests) keeps the first logger; only the level changes.
    let _ = log::set_boxed_logger(logger);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_level_names() {
        assert_eq!(level_filter("warning"), Some(log::LevelFilter::Warn));
        assert_eq!(level_filter("garbage"), Some(log::LevelFilter::Trace));
        assert_eq!(level_filter("quiet"), Some(log::LevelFilter::Off));
        assert_eq!(level_filter("loud"), None);
        for l in LEVELS {
            assert!(level_filter(l).is_some(), "{l}");
        }
    }
}
