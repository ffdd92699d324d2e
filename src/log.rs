//! A small `log` backend: one line per record to stderr (with `<N>` syslog priority
//! prefixes that journald understands) in the foreground, or to `log_file` with a
//! timestamp when daemonized. Daemons never print to stdout.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// `log_limited!(Warn, key, "format", args...)`: a log line through [`limited`], formatted
/// only when the level is enabled.
#[macro_export]
macro_rules! log_limited {
    ($lvl:ident, $key:expr, $($arg:tt)+) => {
        if ::log::Level::$lvl <= ::log::max_level() {
            $crate::log::limited(::log::Level::$lvl, &$key, &format!($($arg)+))
        }
    };
}

/// How long repeats of one peer's line with one cause are counted instead of written.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10);

/// Keys the limiter remembers; past it the oldest windows are reported and forgotten.
const MAX_KEYS: usize = 4096;

struct Window {
    since: Instant,
    suppressed: u64,
    level: log::Level,
    last: String,
}

static LIMITER: Mutex<Option<HashMap<String, Window>>> = Mutex::new(None);

/// Logs a line a peer can cause (a malformed frame, a refused auth, a failing reactor file)
/// without letting the peer flood the log: per `key` (the peer and the cause), the first line
/// is written in full, repeats within [`REPEAT_WINDOW`] are only counted, and the count is
/// written with the next line after the window (or by [`flush_limited`]).
pub fn limited(level: log::Level, key: &str, message: &str) {
    if level > log::max_level() {
        return;
    }
    let now = Instant::now();
    let Ok(mut guard) = LIMITER.lock() else {
        return;
    };
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(w) = map.get_mut(key) {
        if now.saturating_duration_since(w.since) < REPEAT_WINDOW {
            w.suppressed += 1;
            w.last.clear();
            w.last.push_str(message);
            return;
        }
        let suppressed = std::mem::take(&mut w.suppressed);
        w.since = now;
        drop(guard);
        if suppressed > 0 {
            log::log!(
                level,
                "{message} (and {suppressed} more like it in {} s)",
                REPEAT_WINDOW.as_secs()
            );
        } else {
            log::log!(level, "{message}");
        }
        return;
    }
    if map.len() >= MAX_KEYS {
        report(map, now, Duration::ZERO);
        map.clear();
    }
    map.insert(
        key.to_owned(),
        Window {
            since: now,
            suppressed: 0,
            level,
            last: String::new(),
        },
    );
    drop(guard);
    log::log!(level, "{message}");
}

/// Writes the counts of repeats whose window has closed and forgets quiet keys; the
/// daemons call it from their maintenance tick, so a flood that stopped is still told.
pub fn flush_limited() {
    let Ok(mut guard) = LIMITER.lock() else {
        return;
    };
    if let Some(map) = guard.as_mut() {
        let now = Instant::now();
        report(map, now, REPEAT_WINDOW);
        map.retain(|_, w| now.saturating_duration_since(w.since) < REPEAT_WINDOW);
    }
}

fn report(map: &mut HashMap<String, Window>, now: Instant, older_than: Duration) {
    for w in map.values_mut() {
        if w.suppressed > 0 && now.saturating_duration_since(w.since) >= older_than {
            log::log!(
                w.level,
                "{} (repeated {} more times in {} s)",
                w.last,
                w.suppressed,
                now.saturating_duration_since(w.since).as_secs().max(1)
            );
            w.suppressed = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_not_written() {
        log::set_max_level(log::LevelFilter::Warn);
        let key = "test-peer:cause";
        for i in 0..1000 {
            limited(log::Level::Warn, key, &format!("line {i}"));
        }
        let guard = LIMITER.lock().unwrap();
        let w = &guard.as_ref().unwrap()[key];
        assert_eq!(w.suppressed, 999);
        assert_eq!(w.last, "line 999");
    }

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
