//! Daemon configuration: `DIR/master` then `DIR/master.d/*.conf` (and the same for the minion),
//! YAML with Salt's key names and defaults.
//!
//! Each daemon has one declarative table of keys (`config_table!`): it generates the typed
//! struct, its defaults, the key setter the loader uses and the `KeyDoc` table the man page is
//! generated from, so the documentation cannot drift from the code.
//!
//! YAML is read by serde-saphyr into an untyped tree that keeps the position of every node;
//! the types are checked here, so every error carries `file:line:column`. serde-saphyr's YAML
//! 1.1 scalars are a little wider than PyYAML's (it reads `y`, `n` and `yEs` as booleans, `1e3`
//! and `0o17` as numbers); those scalars are put back to what Salt's PyYAML reads, from the
//! source text. Limits on size, depth, aliases and nodes turn hostile input into an error.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{DuplicateKeyPolicy, Location, Spanned};
use std::ffi::CStr;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One documented configuration key, for --help-style listings and the man page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key as written in the file.
    pub name: &'static str,
    /// The default as shown to a user, e.g. "4505", "/var/run/brine/master", "startswith".
    pub default: &'static str,
    /// What the key does, in one or two sentences.
    pub doc: &'static str,
}

/// A problem that does not stop the daemon (an unknown key); the caller logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file the key is in.
    pub file: PathBuf,
    /// 1-based line of the key.
    pub line: usize,
    /// 1-based column (in characters) of the key.
    pub column: usize,
    /// What is wrong, e.g. "unknown key 'foo' (ignored)".
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Why a configuration could not be loaded. `Display` is one line naming the file (and, for
/// anything inside a file, the line and column), for the daemon to print before it exits 2.
#[derive(Debug)]
pub enum ConfigError {
    /// The configuration directory (`-c DIR`) is missing or is not a directory.
    ConfDir { dir: PathBuf, error: io::Error },
    /// A file or the drop-in directory exists but could not be read.
    Read { path: PathBuf, error: io::Error },
    /// A configuration path is something other than a regular file (a directory, a FIFO...).
    NotAFile { path: PathBuf },
    /// A file is larger than `limit` bytes; configuration files are small, so this is refused.
    TooLarge { file: PathBuf, limit: usize },
    /// Not YAML that brine reads: syntax, encoding, a duplicate key or a limit against hostile
    /// input.
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The top level of a file is not a map of keys to values (`found` says what it is).
    NotAMap {
        file: PathBuf,
        line: usize,
        column: usize,
        found: &'static str,
    },
    /// A key's value has the wrong type or is not one of the values the key accepts.
    Value {
        file: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ConfDir { dir, error } => write!(
                f,
                "{}: cannot use as the configuration directory: {error}",
                dir.display()
            ),
            ConfigError::Read { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ConfigError::NotAFile { path } => {
                write!(f, "{}: not a regular file", path.display())
            }
            ConfigError::TooLarge { file, limit } => write!(
                f,
                "{}: larger than {limit} bytes, the limit for a configuration file",
                file.display()
            ),
            ConfigError::Yaml {
                file,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: {message}", file.display()),
            ConfigError::NotAMap {
                file,
                line,
                column,
                found,
            } => write!(
                f,
                "{}:{line}:{column}: expected a map of keys to values at the top level, \
                 found {found}",
                file.display()
            ),
            ConfigError::Value {
                file,
                line,
                column,
                key,
                message,
            } => write!(f, "{}:{line}:{column}: {key}: {message}", file.display()),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::ConfDir { error, .. } | ConfigError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The key tables.

/// Generates, from one list of keys, a daemon's config struct (one documented field per key,
/// plus `conf_dir`), its `defaults` and `load`, the `KeyDoc` table, and the setter the generic
/// loader calls. Each key reads
/// `name: Type = default_expr, shown "default as a user sees it" [, check fn], "doc";`
/// where `check` is a `fn(Type) -> Result<Type, String>` that validates or normalizes.
macro_rules! config_table {
    (
        $(#[doc = $struct_doc:literal])*
        pub struct $Config:ident in $file:literal, documented by $KEYS:ident,
            finished by $finish:path, module options by $module_option:path;
        $(
            $key:ident : $ty:ty = $default:expr, shown $shown:literal
                $(, check $check:path)?, $doc:literal;
        )*
    ) => {
        $(#[doc = $struct_doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $Config {
            $(
                #[doc = concat!($doc, " Default: `", $shown, "`.")]
                pub $key: $ty,
            )*
            /// The configuration directory (`-c DIR`); set by the loader, not a key.
            pub conf_dir: PathBuf,
            /// Keys that are not in the table but that execution modules read (`smtp.*` and
            /// profiles of them), kept as they were read, in file order.
            pub module_options: serde_json::Map<String, Value>,
        }

        #[doc = concat!("Every key of `", $file, "`, with its default and what it does.")]
        pub const $KEYS: &[KeyDoc] = &[
            $( KeyDoc { name: stringify!($key), default: $shown, doc: $doc }, )*
        ];

        impl $Config {
            /// Defaults, as if DIR held no files.
            pub fn defaults(conf_dir: &Path) -> $Config {
                $Config {
                    $( $key: $default, )*
                    conf_dir: conf_dir.to_path_buf(),
                    module_options: serde_json::Map::new(),
                }
            }

            /// Every key with its value (`config.values`, the reactor's `opts`).
            pub fn values(&self) -> serde_json::Map<String, Value> {
                let mut m = serde_json::Map::new();
                $(
                    m.insert(
                        stringify!($key).to_owned(),
                        serde_json::to_value(&self.$key).unwrap_or(Value::Null),
                    );
                )*
                m
            }

            #[doc = concat!("Read `DIR/", $file, "` then `DIR/", $file,
                ".d/*.conf` in name order, later files overriding earlier keys one by one.")]
            pub fn load(conf_dir: &Path) -> Result<($Config, Vec<ConfigWarning>), ConfigError> {
                load_table::<$Config>(conf_dir)
            }

            /// Keys whose shown default does not read back as the default (tests only).
            #[cfg(test)]
            fn shown_default_mismatches() -> Vec<&'static str> {
                let defaults = $Config::defaults(Path::new("/etc/brine"));
                let mut bad = Vec::new();
                $(
                    if !shown_default_matches::<$ty>(&defaults.$key, $shown) {
                        bad.push(stringify!($key));
                    }
                )*
                bad
            }
        }

        impl Table for $Config {
            const FILE: &'static str = $file;

            fn defaults(conf_dir: &Path) -> Self {
                $Config::defaults(conf_dir)
            }

            fn set(&mut self, key: &str, value: Value) -> Option<Result<(), String>> {
                match key {
                    $(
                        stringify!($key) => Some(
                            <$ty as FromValue>::from_value(value)
                                $( .and_then($check) )?
                                .map(|v| self.$key = v),
                        ),
                    )*
                    _ if $module_option(key, &value) => {
                        self.module_options.insert(key.to_owned(), value);
                        Some(Ok(()))
                    }
                    _ => None,
                }
            }

            fn finish(&mut self) {
                $finish(self)
            }
        }
    };
}

config_table! {
    /// Configuration of `brine-master`: `DIR/master` then `DIR/master.d/*.conf`.
    pub struct MasterConfig in "master", documented by MASTER_KEYS, finished by finish_master,
        module options by no_module_options;

    interface: String = "0.0.0.0".to_owned(), shown "0.0.0.0", check ip_address,
        "Address the publisher and the request server bind to.";
    publish_port: u16 = 4505, shown "4505",
        "TCP port of the publisher, which sends jobs to minions.";
    ret_port: u16 = 4506, shown "4506",
        "TCP port of the request server, where minions authenticate and send returns and events.";
    pub_hwm: usize = 1000, shown "1000", check positive_usize,
        "Most publications queued for one peer of the publisher (Salt's default): a peer that \
         does not read costs at most this many publications of memory, then misses the \
         newest. A peer that stops answering ZeroMQ heartbeats is disconnected after \
         pub_heartbeat_timeout.";
    pub_heartbeat_timeout: u64 = 30, shown "30", check positive_u64,
        "Seconds a peer of the publisher may go without answering a heartbeat (sent every \
         5 seconds) before it is disconnected and what was queued for it is freed.";
    worker_threads: u64 = 5, shown "5",
        "Accepted for compatibility with Salt and unused: brine serves every request on one \
         event loop.";
    user: String = current_user_name(), shown "the user running the daemon",
        "User the master runs as and that owns its sockets and files.";

    sock_dir: PathBuf = PathBuf::from("/var/run/brine/master"), shown "/var/run/brine/master",
        "Directory of the master's Unix sockets: the event bus and the local clients' socket.";
    cachedir: PathBuf = PathBuf::from("/var/cache/brine/master"),
        shown "/var/cache/brine/master",
        "Directory of the master's store: job cache, queues and minion data.";
    pki_dir: PathBuf = PathBuf::from("/etc/brine/pki/master"), shown "/etc/brine/pki/master",
        "Directory of the master's keys and of the accepted, pending, rejected and denied \
         minion keys.";
    log_file: PathBuf = PathBuf::from("/var/log/brine/master"), shown "/var/log/brine/master",
        "File the master logs to.";
    log_level: String = "warning".to_owned(), shown "warning", check log_level,
        "Least severe messages logged: garbage, trace, debug, info, warning, error, critical \
         or quiet (nothing).";

    max_event_size: usize = 1_048_576, shown "1048576", check positive_usize,
        "Largest event in bytes of serialized data; larger events have their largest values \
         replaced by \"VALUE_TRIMMED\".";
    event_match_type: String = "startswith".to_owned(), shown "startswith",
        check event_match_type,
        "How an event listener's tag filter matches when the listener does not say: \
         startswith, endswith, find, regex or fnmatch.";
    event_listener_buffer: usize = 4_194_304, shown "4194304", check positive_usize,
        "Bytes of unsent events held for one bus listener; past it the listener is too slow \
         and event_listener_overflow applies.";
    event_listener_overflow: String = "drop".to_owned(), shown "drop",
        check event_listener_overflow,
        "What happens to a listener that is too slow: drop (it loses events and is told how \
         many) or disconnect.";
    event_listener_max_subscriptions: usize = 256, shown "256", check positive_usize,
        "Most tag filters one bus connection may hold; a subscription past it is refused with \
         an error. A filter sent again, or one that a match-everything filter already covers, \
         is not counted.";

    timeout: u64 = 5, shown "5",
        "Seconds the command line waits for minions' returns before it reports the missing \
         ones.";
    gather_job_timeout: u64 = 10, shown "10",
        "Seconds to wait for minions to say whether they still run a job (saltutil.find_job).";
    job_cache: bool = true, shown "true",
        "Whether job returns are stored in the job cache.";
    keep_jobs_seconds: u64 = 86_400, shown "86400",
        "Seconds job returns stay in the job cache before the maintenance loop removes them.";
    keep_jobs: u64 = 24, shown "24",
        "Hours job returns stay in the job cache; Salt's older form of keep_jobs_seconds, used \
         when that is left at 86400.";
    loop_interval: u64 = 60, shown "60", check positive_u64,
        "Seconds between runs of the maintenance loop: presence events, job cache cleanup, key \
         rotation checks and the schedule.";
    presence_events: bool = false, shown "false",
        "Whether the master fires salt/presence/present and salt/presence/change every \
         loop_interval.";
    presence_timeout: u64 = 30, shown "30", check positive_u64,
        "Seconds since a minion last spoke (minions send a heartbeat every \
         heartbeat_interval) after which it no longer counts as present.";
    minion_data_cache: bool = true, shown "true",
        "Whether the master caches minions' grains and pillar, which grain targeting on the \
         master and presence need.";
    minion_data_cache_events: bool = true, shown "true",
        "Whether the master fires salt/minion/<id>/refresh when a minion's cached data is \
         refreshed.";

    auth_events: bool = true, shown "true",
        "Whether the master fires salt/auth for every minion authentication. New key files \
         (pending, denied, rejected, auto-accepted) are written at most 200 a second after a \
         burst of 2000; an attempt past that is answered pending, with no event, and the \
         minion asks again after acceptance_wait_time.";
    auto_accept: bool = false, shown "false",
        "Accept every new minion key without review; only for trusted networks.";
    autosign_file: Option<PathBuf> = None, shown "unset",
        "File of minion ids, one a line (globs allowed), whose new keys are accepted \
         automatically.";
    autoreject_file: Option<PathBuf> = None, shown "unset",
        "File of minion ids, one a line (globs allowed), whose new keys are rejected \
         automatically; it wins over autosign_file and auto_accept.";
    open_mode: bool = false, shown "false",
        "Accept any key from any minion, replacing the key on file; this turns \
         authentication off and is for recovery only.";
    max_minions: u64 = 0, shown "0",
        "Most minions connected at once (heard from within presence_timeout); 0 means no \
         limit. As in Salt, a new minion is refused only when more than max_minions are \
         connected.";
    publish_session: u64 = 86_400, shown "86400",
        "Seconds between rotations of the session key that encrypts publications.";
    rotate_aes_key: bool = true, shown "true",
        "Whether the session key is rotated at once when a minion key is deleted or rejected.";

    reactor: Value = Value::Array(Vec::new()), shown "[]", check list_or_path,
        "Reactor rules: a list of maps, each from a tag pattern to a list of rule files, or the \
         path of a YAML file holding that list (see brine-reactor(5)).";
    reactor_refresh_interval: u64 = 60, shown "60",
        "Seconds a reactor client is kept before it is built afresh.";
    reactor_worker_threads: usize = 10, shown "10", check positive_usize,
        "Number of workers that run runner and wheel reactions, and so how many run at once.";
    reactor_render_timeout: u64 = 5, shown "5", check positive_u64,
        "Seconds the reactor's renderer process may take over one event's SLS files; past it \
         the renderer is stopped and restarted, and the event gets a salt/reactor/error.";
    reactor_render_memory: u64 = 512, shown "512", check positive_u64,
        "MiB of address space the reactor's renderer process may use; a template that needs \
         more stops it (the master is untouched) and its event gets a salt/reactor/error.";
    reactor_worker_hwm: usize = 10_000, shown "10000",
        "Most reactions waiting for a worker; past it new ones are dropped and logged. 0 means \
         no limit.";

    nodegroups: Value = Value::Object(serde_json::Map::new()), shown "{}", check map,
        "Named targets: a map from a group name to a compound expression or a list of minion \
         ids.";
    sqlite_queue_dir: PathBuf = PathBuf::from("/var/cache/brine/master/queues"),
        shown "cachedir/queues",
        "Directory of the queues of Salt's sqlite queue backend.";
    runner_queue: Value = Value::Null, shown "unset", check map_or_unset,
        "Default queue and backend of queue.insert_runner and queue.process_runner, as a map \
         with queue and backend.";
    schedule: Value = Value::Object(serde_json::Map::new()), shown "{}", check map,
        "The master's schedule: a map from a job name to what to run and when, as in Salt.";
}

config_table! {
    /// Configuration of `brine-minion`: `DIR/minion` then `DIR/minion.d/*.conf`.
    pub struct MinionConfig in "minion", documented by MINION_KEYS, finished by finish_minion,
        module options by minion_module_option;

    id: String = String::new(), shown "the host's fully qualified domain name",
        "The minion's id: its name on the master, in targets and in event tags.";
    master: String = "salt".to_owned(), shown "salt",
        "Host name or address of the master.";
    master_port: u16 = 4506, shown "4506",
        "The master's request port (its ret_port).";
    publish_port: u16 = 4505, shown "4505",
        "The master's publish port.";
    user: String = current_user_name(), shown "the user running the daemon",
        "User the minion runs as and that owns its sockets and files.";
    pki_dir: PathBuf = PathBuf::from("/etc/brine/pki/minion"), shown "/etc/brine/pki/minion",
        "Directory of the minion's keys (minion.pem, minion.pub) and of the pinned master key \
         (minion_master.pub).";
    sock_dir: PathBuf = PathBuf::from("/var/run/brine/minion"), shown "/var/run/brine/minion",
        "Directory of the minion's event bus socket, minion_event.ipc.";
    cachedir: PathBuf = PathBuf::from("/var/cache/brine/minion"),
        shown "/var/cache/brine/minion",
        "Directory of the minion's cache (running job records in proc/).";
    log_file: PathBuf = PathBuf::from("/var/log/brine/minion"), shown "/var/log/brine/minion",
        "Where the daemon logs when it runs in the background (-d).";
    log_level: String = "warning".to_owned(), shown "warning", check log_level,
        "Least severe level logged: garbage, trace, debug, info, warning, error, critical or \
         quiet.";
    acceptance_wait_time: u64 = 10, shown "10",
        "Seconds between auth attempts while the minion's key is pending on the master.";
    acceptance_wait_time_max: u64 = 0, shown "0",
        "When non-zero, the wait grows by acceptance_wait_time per attempt up to this many \
         seconds.";
    rejected_retry: bool = false, shown "false",
        "Keep retrying (as if pending) when the key is rejected or denied, instead of exiting.";
    random_reauth_delay: u64 = 10, shown "10",
        "Upper bound in seconds of the random delay before re-authenticating after the master \
         rotated its session key, so minions do not all re-auth at once.";
    auth_timeout: u64 = 5, shown "5",
        "Seconds to wait for the master's answer to one auth attempt.";
    auth_tries: u64 = 7, shown "7",
        "Auth attempts without an answer before the minion waits acceptance_wait_time and \
         starts over.";
    heartbeat_interval: u64 = 5, shown "5", check positive_u64,
        "Seconds between heartbeats to the master. They keep the minion present and make it \
         notice a master restart (and re-authenticate) within a few seconds.";
    grains: Value = Value::Object(serde_json::Map::new()), shown "{}", check map,
        "Static grains: a map that is merged over the computed grains (it wins).";
    start_event_grains: Value = Value::Array(Vec::new()), shown "[]", check list,
        "Names of grains to include in the salt/minion/ID/start event.";
    reactor_render_timeout: u64 = 5, shown "5", check positive_u64,
        "Seconds the minion reactor's renderer process may take over one event's SLS files; \
         past it the renderer is stopped and the event gets a salt/reactor/error.";
    reactor_render_memory: u64 = 512, shown "512", check positive_u64,
        "MiB of address space the minion reactor's renderer process may use.";
    reactor: Value = Value::Array(Vec::new()), shown "[]", check list_or_path,
        "Reactor rules of the minion's own reactor, which watches the minion's bus and runs \
         caller reactions (execution functions on this minion); same syntax as the master's \
         (see brine-reactor(5)).";
    enable_legacy_startup_events: bool = true, shown "true",
        "Also fire the legacy minion_start event when the minion starts.";
    max_event_size: usize = 1_048_576, shown "1048576", check positive_usize,
        "Largest event in bytes; a larger one is trimmed by replacing its largest values with \
         VALUE_TRIMMED.";
    event_match_type: String = "startswith".to_owned(), shown "startswith",
        check event_match_type,
        "How a bus listener's tag is compared with event tags when it does not say.";
    event_listener_buffer: usize = 4_194_304, shown "4194304", check positive_usize,
        "Bytes of outbound buffer per minion bus listener.";
    event_listener_overflow: String = "drop".to_owned(), shown "drop",
        check event_listener_overflow,
        "What happens to a listener whose buffer is full: drop (count its lost events) or \
         disconnect.";
    event_listener_max_subscriptions: usize = 256, shown "256", check positive_usize,
        "Most tag filters one minion bus connection may hold; a subscription past it is \
         refused with an error. Repeated and redundant filters are not counted.";
    return_retry_timer: u64 = 5, shown "5",
        "Seconds before a job return the master did not acknowledge is sent again.";
    return_retry_timer_max: u64 = 10, shown "10",
        "When larger than return_retry_timer, each retry waits a random time up to this.";
    return_retry_tries: u64 = 3, shown "3",
        "How many times a job return is sent before it is given up.";
    local: bool = false, shown "false",
        "Masterless: event.fire_master does not send and event.send fires locally.";
    file_client: String = "remote".to_owned(), shown "remote",
        "local means masterless, as with local: True.";
    use_master_when_local: bool = false, shown "false",
        "With file_client local, still send events to the master.";
    master_type: String = "str".to_owned(), shown "str",
        "disable means no master: event.send fires on the local bus.";
    multiprocessing: bool = true, shown "true",
        "Accepted for compatibility with Salt: blocking jobs always run in child processes.";
    http_connect_timeout: u64 = 20, shown "20", check positive_u64,
        "Seconds http.query waits for a connection.";
    http_request_timeout: u64 = 3600, shown "3600", check positive_u64,
        "Seconds a whole http.query request may take, unless the call passes timeout.";
}

/// Module options the minion keeps besides its table (documented in its man page).
pub const MINION_MODULE_OPTIONS: &[KeyDoc] = &[
    KeyDoc {
        name: "smtp.server",
        default: "unset",
        doc: "SMTP server (host or host:port) smtp.send_msg uses when the call names none \
              and no profile.",
    },
    KeyDoc {
        name: "smtp.tls",
        default: "unset",
        doc: "smtp.send_msg's use_ssl when the call leaves it at its default.",
    },
    KeyDoc {
        name: "smtp.sender",
        default: "unset",
        doc: "From address of smtp.send_msg when the call names none.",
    },
    KeyDoc {
        name: "smtp.username",
        default: "unset",
        doc: "SMTP login of smtp.send_msg when the call names none.",
    },
    KeyDoc {
        name: "smtp.password",
        default: "unset",
        doc: "SMTP password of smtp.send_msg when the call names none.",
    },
    KeyDoc {
        name: "smtp.port",
        default: "unset",
        doc: "SMTP port of smtp.send_msg when the call names none.",
    },
    KeyDoc {
        name: "PROFILE",
        default: "unset",
        doc: "A map of smtp.* keys under any name, used by smtp.send_msg profile=PROFILE.",
    },
];

/// The master keeps no module options: every key it does not know is reported.
fn no_module_options(_key: &str, _value: &Value) -> bool {
    false
}

/// Keys the minion keeps for execution modules: `smtp.*` keys, and profiles (maps holding
/// `smtp.*` keys) as smtp.send_msg's `profile=` names them. Anything else unknown is still
/// reported, so a typo in a daemon key does not pass silently.
fn minion_module_option(key: &str, value: &Value) -> bool {
    key.starts_with("smtp.")
        || value
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.starts_with("smtp.")))
}

/// A minion with no id configured takes the host's fully qualified domain name.
fn finish_minion(config: &mut MinionConfig) {
    if config.id.is_empty() {
        config.id = host_fqdn();
    }
}

/// The host's FQDN: the canonical name of `gethostname()`, or that name itself; looked up
/// once per process, and given up on after two seconds.
pub fn host_fqdn() -> String {
    static FQDN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FQDN.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // A broken resolver can make getaddrinfo block for a long time: ask from a thread
        // and take the plain host name after FQDN_WAIT (the thread ends when it returns).
        let asked = std::thread::Builder::new()
            .name("fqdn".into())
            .spawn(move || {
                let _ = tx.send(lookup_fqdn());
            });
        match asked {
            Ok(_) => rx.recv_timeout(FQDN_WAIT).unwrap_or_else(|_| {
                log::warn!(
                    "the host name did not resolve within {} s; using it as the fqdn",
                    FQDN_WAIT.as_secs()
                );
                host_name()
            }),
            Err(_) => host_name(),
        }
    })
    .clone()
}

/// How long the fqdn lookup may take.
const FQDN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `gethostname`, or `localhost`.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The canonical name of the host name (a DNS lookup, which may block).
fn lookup_fqdn() -> String {
    let host = host_name();
    if host.contains('.') {
        return host;
    }
    let Ok(c_host) = std::ffi::CString::new(host.clone()) else {
        return host;
    };
    // SAFETY: hints is zeroed as getaddrinfo expects; the result list is freed below.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) != 0
            || res.is_null()
        {
            return host;
        }
        let name = if (*res).ai_canonname.is_null() {
            host.clone()
        } else {
            CStr::from_ptr((*res).ai_canonname)
                .to_string_lossy()
                .into_owned()
        };
        libc::freeaddrinfo(res);
        if name.is_empty() {
            host
        } else {
            name
        }
    }
}

/// Salt's rule for its older retention key: a `keep_jobs` other than 24 counts only when
/// `keep_jobs_seconds` was left at its default.
fn finish_master(config: &mut MasterConfig) {
    // Salt's default queue directory lives under cachedir, wherever cachedir is.
    if config.sqlite_queue_dir == Path::new("/var/cache/brine/master/queues") {
        config.sqlite_queue_dir = config.cachedir.join("queues");
    }
    if config.keep_jobs != 24 && config.keep_jobs_seconds == 86_400 {
        config.keep_jobs_seconds = config.keep_jobs.saturating_mul(3600);
    }
}

/// The levels `log_level` accepts, least severe first.
const LOG_LEVELS: &[&str] = &[
    "garbage", "trace", "debug", "info", "warning", "error", "critical", "quiet",
];

fn log_level(level: String) -> Result<String, String> {
    // Salt lower-cases the level before looking it up, so `INFO` works there too.
    let lower = level.to_ascii_lowercase();
    one_of(lower, LOG_LEVELS)
}

/// The ways a bus listener's tag filter can match, as Salt names them.
const EVENT_MATCH_TYPES: &[&str] = &["startswith", "endswith", "find", "regex", "fnmatch"];

fn event_match_type(kind: String) -> Result<String, String> {
    one_of(kind, EVENT_MATCH_TYPES)
}

fn event_listener_overflow(what: String) -> Result<String, String> {
    one_of(what, &["drop", "disconnect"])
}

fn one_of(value: String, allowed: &[&str]) -> Result<String, String> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!(
            "expected one of {}, found {}",
            allowed.join(", "),
            quote(&value)
        ))
    }
}

/// `interface`: an IPv4 or IPv6 address, as Salt requires (a name would need a DNS lookup
/// at bind time, and the error would name the port).
fn ip_address(value: String) -> Result<String, String> {
    match value.parse::<std::net::IpAddr>() {
        Ok(_) => Ok(value),
        Err(_) => Err(format!(
            "expected an IP address (such as 0.0.0.0 or ::), found {}",
            quote(&value)
        )),
    }
}

/// A map; an empty key (`schedule:` with nothing after it) is the empty map.
fn map(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        Value::Object(_) => Ok(value),
        other => Err(expected("a map", &other)),
    }
}

/// A map, or unset.
fn map_or_unset(value: Value) -> Result<Value, String> {
    match value {
        Value::Null | Value::Object(_) => Ok(value),
        other => Err(expected("a map", &other)),
    }
}

/// A list; an empty key is the empty list.
fn list(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::Array(_) => Ok(value),
        other => Err(expected("a list", &other)),
    }
}

/// `reactor`: a list of rules, or the path of a file holding one.
fn list_or_path(value: Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Array(Vec::new())),
        Value::Array(_) | Value::String(_) => Ok(value),
        other => Err(expected(
            "a list of rules or the path of a file holding one",
            &other,
        )),
    }
}

fn positive_u64(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("expected a positive integer, found 0".to_owned())
    } else {
        Ok(n)
    }
}

fn positive_usize(n: usize) -> Result<usize, String> {
    if n == 0 {
        Err("expected a positive integer, found 0".to_owned())
    } else {
        Ok(n)
    }
}

/// The name of the effective user, as the default `user`; "root" when it has no name.
pub fn current_user_name() -> String {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::geteuid() };
    // getpwuid_r rather than getpwuid: the latter returns a static buffer that another thread
    // may overwrite (tests load configs in parallel).
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain C data; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to live memory we own, and buf.len() is its true length.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return "root".to_owned();
        }
        // SAFETY: on success pw_name points at a NUL-terminated string inside buf.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return name.to_string_lossy().into_owned();
    }
}

// ---------------------------------------------------------------------------------------------
// Typed values from the untyped tree.

/// A key's type: how it is read from a YAML value. The error says what was expected and what
/// was found, e.g. `expected an integer, found "abc"`; the loader adds file, position and key.
trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, String>;
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            // YAML reads `user: 1000` as a number; it is still a usable name.
            Value::Number(n) => Ok(n.to_string()),
            other => Err(expected("a string", &other)),
        }
    }
}

impl FromValue for PathBuf {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(PathBuf::from(s)),
            other => Err(expected("a path", &other)),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(expected("a boolean (true or false)", &other)),
        }
    }
}

/// An unset key (`~`, `null`, nothing after the colon, or `''`, which Salt also reads as
/// unset) is `None`.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

macro_rules! unsigned_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self, String> {
                match &value {
                    Value::Number(n) if n.is_i64() && !n.is_u64() => {
                        Err(format!("expected a non-negative integer, found {n}"))
                    }
                    Value::Number(n) if n.is_u64() => n
                        .as_u64()
                        .and_then(|u| <$t>::try_from(u).ok())
                        .ok_or_else(|| {
                            format!("expected an integer from 0 to {}, found {n}", <$t>::MAX)
                        }),
                    other => Err(expected("an integer", other)),
                }
            }
        }
    )*};
}

unsigned_from_value!(u16, u64, usize);

fn expected(what: &str, found: &Value) -> String {
    format!("expected {what}, found {}", describe(found))
}

/// A value as an error message shows it: short, on one line.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

/// A string quoted and escaped so that it stays on one line, cut at 60 characters.
fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut shown: String = s.chars().take(MAX_CHARS).collect();
    let cut = shown.len() < s.len();
    shown = format!("{shown:?}");
    if cut {
        shown.push_str("...");
    }
    shown
}

// ---------------------------------------------------------------------------------------------
// The generic loader.

/// What the loader needs from a daemon's table; `config_table!` implements it.
trait Table: Sized {
    /// The main file's name in DIR; the drop-in directory is `<FILE>.d`.
    const FILE: &'static str;
    fn defaults(conf_dir: &Path) -> Self;
    /// Set `key`; `None` when the table has no such key.
    fn set(&mut self, key: &str, value: Value) -> Option<Result<(), String>>;
    /// Rules between keys, applied once every file is read.
    fn finish(&mut self);
}

/// Files larger than this are refused before they are parsed. Salt configs are a few KiB.
const MAX_FILE_BYTES: usize = 4 << 20;
/// Deepest nesting of lists and maps, the top-level map included. Real configs stay under 10.
/// The limit also bounds the recursion of the tree builder, which takes about 20 KiB of stack
/// a level in a debug build: 32 levels fit a 1 MiB stack (a test thread has 2 MiB).
const MAX_DEPTH: usize = 32;
/// Most nodes that aliases may replay in one file (billion laughs stops here).
const MAX_REPLAYED_EVENTS: usize = 100_000;
/// Most bytes of scalar text in one file, aliases' copies included.
const MAX_SCALAR_BYTES: usize = 8 << 20;

fn load_table<C: Table>(conf_dir: &Path) -> Result<(C, Vec<ConfigWarning>), ConfigError> {
    match fs::metadata(conf_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(ConfigError::ConfDir {
                dir: conf_dir.to_path_buf(),
                error: io::Error::other("not a directory"),
            })
        }
        Err(error) => {
            return Err(ConfigError::ConfDir {
                dir: conf_dir.to_path_buf(),
                error,
            })
        }
    }
    let mut config = C::defaults(conf_dir);
    let mut warnings = Vec::new();
    for file in config_files(conf_dir, C::FILE)? {
        let bytes = read_limited(&file)?;
        for entry in parse_entries(&file, &bytes)? {
            match config.set(&entry.key, entry.value) {
                Some(Ok(())) => {}
                Some(Err(message)) => {
                    return Err(ConfigError::Value {
                        file,
                        line: entry.value_at.line,
                        column: entry.value_at.column,
                        key: entry.key,
                        message,
                    })
                }
                None => warnings.push(ConfigWarning {
                    line: entry.key_at.line,
                    column: entry.key_at.column,
                    // Escaped: a quoted key may hold a newline, and a warning is one line.
                    message: format!("unknown key '{}' (ignored)", entry.key.escape_debug()),
                    file: file.clone(),
                }),
            }
        }
    }
    config.finish();
    Ok((config, warnings))
}

/// `DIR/<name>` if it exists, then `DIR/<name>.d/*.conf` sorted by name as Python's
/// `sorted(glob(...))` does it: by code point, and without names that start with a dot.
fn config_files(conf_dir: &Path, name: &str) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    let main = conf_dir.join(name);
    if regular_file(&main)? {
        files.push(main);
    }
    let drop_in = conf_dir.join(format!("{name}.d"));
    let entries = match fs::read_dir(&drop_in) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(error) => {
            return Err(ConfigError::Read {
                path: drop_in,
                error,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| ConfigError::Read {
            path: drop_in.clone(),
            error,
        })?;
        let file_name = entry.file_name();
        let bytes = file_name.as_encoded_bytes();
        if bytes.ends_with(b".conf") && !bytes.starts_with(b".") {
            names.push(file_name);
        }
    }
    // UTF-8 byte order is code point order, which is Python's string order.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for file_name in names {
        let path = drop_in.join(file_name);
        if !regular_file(&path)? {
            // Listed a moment ago, gone now: as if it had never been there.
            continue;
        }
        files.push(path);
    }
    Ok(files)
}

/// Whether `path` is a regular file (following links); missing is `false`, anything else that
/// is not a file is an error, because opening a FIFO would block the daemon forever.
fn regular_file(path: &Path) -> Result<bool, ConfigError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(true),
        Ok(_) => Err(ConfigError::NotAFile {
            path: path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// The file's bytes, reading at most one byte past the limit so a huge file costs nothing.
fn read_limited(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let read_error = |error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    };
    let file = fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Pos {
    fn of(location: &Location) -> Pos {
        Pos {
            line: usize::try_from(location.line()).unwrap_or(usize::MAX),
            column: usize::try_from(location.column()).unwrap_or(usize::MAX),
        }
    }
}

/// One top-level `key: value` of a file, with where each half is.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_at: Pos,
    pub(crate) value: Value,
    pub(crate) value_at: Pos,
}

/// The top-level entries of one file, in file order. Empty and comment-only files have none.
/// The reactor reads its rendered SLS with this too, so both read YAML as Salt's PyYAML does.
pub(crate) fn parse_entries(file: &Path, bytes: &[u8]) -> Result<Vec<Entry>, ConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = position_of(bytes, e.valid_up_to());
        ConfigError::Yaml {
            file: file.to_path_buf(),
            line: at.line,
            column: at.column,
            message: "not valid UTF-8".to_owned(),
        }
    })?;
    // Stripped here, not by serde-saphyr, so that its byte offsets index `text`.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_total_scalar_bytes: MAX_SCALAR_BYTES,
        },
        alias_limits: AliasLimits {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
            ..AliasLimits::default()
        },
        // Salt's YAML loader refuses duplicate keys ("found conflicting ID").
        duplicate_keys: DuplicateKeyPolicy::Error,
        // YAML 1.1 booleans on; the few extra ones (`y`, `n`) are undone in `pyyaml_scalar`.
        strict_booleans: false,
        // `0755` stays 755, as Salt's loader reads it.
        legacy_octal_numbers: false,
        // The error must stay one line: no source snippet.
        with_snippet: false,
        crop_radius: 0,
    };
    let doc: Spanned<Raw> =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(file, &e))?;
    let top = Pos::of(&doc.referenced);
    let pairs = match doc.value {
        Raw::Null => return Ok(Vec::new()),
        Raw::Map(pairs) => pairs,
        other => {
            return Err(ConfigError::NotAMap {
                file: file.to_path_buf(),
                line: top.line,
                column: top.column,
                found: other.kind(),
            })
        }
    };
    let mut entries = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let bad_key = |(at, found): (Pos, &str)| ConfigError::Yaml {
            file: file.to_path_buf(),
            line: at.line,
            column: at.column,
            message: format!("a key must be text or a number, found {found}"),
        };
        let key_at = Pos::of(&key.referenced);
        let value_at = Pos::of(&value.referenced);
        entries.push(Entry {
            key: key_text(key, text).map_err(bad_key)?,
            key_at,
            value: to_json(value, text).map_err(bad_key)?,
            value_at,
        });
    }
    Ok(entries)
}

/// Line and column of byte `offset` in `bytes` (whose prefix up to `offset` is valid UTF-8).
fn position_of(bytes: &[u8], offset: usize) -> Pos {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or(&[]))
        .chars()
        .count()
        + 1;
    Pos {
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column,
    }
}

fn yaml_error(file: &Path, error: &serde_saphyr::Error) -> ConfigError {
    let error = error.without_snippet();
    // A location is missing only for errors that cannot happen on a string (I/O); 1:1 still
    // names the file.
    let at = error
        .location()
        .map_or(Pos { line: 1, column: 1 }, |l| Pos::of(&l));
    let message = match error {
        serde_saphyr::Error::Budget { breach, .. } => budget_message(breach),
        _ => {
            let text = error.to_string();
            // serde-saphyr appends the location in words; ours goes in front.
            let suffix = format!(" at line {}, column {}", at.line, at.column);
            let text = text.strip_suffix(&suffix).unwrap_or(&text);
            if text.starts_with("multiple YAML documents") {
                "more than one YAML document; a configuration file is one map".to_owned()
            } else if text.starts_with("alias replay limit exceeded") {
                format!(
                    "aliases expand to more than {MAX_REPLAYED_EVENTS} nodes \
                     (a limit against hostile input)"
                )
            } else {
                text.replace('\n', " ")
            }
        }
    };
    ConfigError::Yaml {
        file: file.to_path_buf(),
        line: at.line,
        column: at.column,
        message,
    }
}

fn budget_message(breach: &BudgetBreach) -> String {
    let what = match breach {
        BudgetBreach::Depth { .. } => format!("lists and maps nested deeper than {MAX_DEPTH}"),
        BudgetBreach::ScalarBytes { .. } => {
            format!("more than {MAX_SCALAR_BYTES} bytes of text, aliases included")
        }
        BudgetBreach::Events { .. } | BudgetBreach::Nodes { .. } => "too many values".to_owned(),
        BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
            "too many aliases".to_owned()
        }
        BudgetBreach::Anchors { .. } => "too many anchors".to_owned(),
        BudgetBreach::MergeKeys { .. } => "too many merge keys (<<)".to_owned(),
        other => format!("{other:?}"),
    };
    format!("{what} (a limit against hostile input)")
}

// ---------------------------------------------------------------------------------------------
// The untyped tree.

/// A YAML node as serde-saphyr hands it over, before the PyYAML corrections. Every node keeps
/// its position (`Spanned`), so a top-level value can be blamed precisely and a scalar's source
/// text can be looked at again.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl Raw {
    /// What the node is, as an error message names it.
    fn kind(&self) -> &'static str {
        match self {
            Raw::Null => "nothing",
            Raw::Bool(_) => "a boolean",
            Raw::Unsigned(_) | Raw::Signed(_) | Raw::Float(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Seq(_) => "a list",
            Raw::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Raw, D::Error> {
        inner.deserialize_any(RawVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    // `!!binary` scalars; Salt configs have no use for bytes, so keep them readable.
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(Raw::Map(pairs))
    }
}

/// The node as JSON, its scalars read as Salt's PyYAML reads them. Err: a map key that is a
/// list or a map (PyYAML refuses those too, as unhashable), where it is and what it is.
fn to_json(node: Spanned<Raw>, text: &str) -> Result<Value, (Pos, &'static str)> {
    let source = source_text(&node.defined, text);
    Ok(match node.value {
        Raw::Null => Value::Null,
        Raw::Str(s) => Value::String(s),
        Raw::Bool(b) => pyyaml_scalar(source, Value::Bool(b)),
        Raw::Unsigned(u) => pyyaml_scalar(source, Value::from(u)),
        Raw::Signed(i) => pyyaml_scalar(source, Value::from(i)),
        // JSON has no infinities or NaN; keep what was written.
        Raw::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => pyyaml_scalar(source, Value::Number(n)),
            None => Value::String(source.map_or_else(|| f.to_string(), str::to_owned)),
        },
        Raw::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json(item, text))
                .collect::<Result<_, _>>()?,
        ),
        Raw::Map(pairs) => {
            let mut map = serde_json::Map::with_capacity(pairs.len());
            for (key, value) in pairs {
                map.insert(key_text(key, text)?, to_json(value, text)?);
            }
            Value::Object(map)
        }
    })
}

/// A map key as text: strings as they are, numbers and booleans as JSON writes them (and as
/// Salt's JSON output shows PyYAML's int and bool keys), null as "null".
fn key_text(key: Spanned<Raw>, text: &str) -> Result<String, (Pos, &'static str)> {
    let at = Pos::of(&key.referenced);
    match to_json(key, text)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) => Err((at, "a list")),
        Value::Object(_) => Err((at, "a map")),
    }
}

/// The source text of a scalar node, if serde-saphyr knows where it is.
fn source_text<'t>(location: &Location, text: &'t str) -> Option<&'t str> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    text.get(start..start.checked_add(len)?)
}

/// serde-saphyr typed a plain scalar as a boolean or a number; keep that only if PyYAML's
/// YAML 1.1 resolver agrees, otherwise it is the string that was written (`y`, `n`, `yEs`,
/// `0o17`, `1e3`). Without the source text, serde-saphyr's reading stands.
fn pyyaml_scalar(source: Option<&str>, typed: Value) -> Value {
    let Some(source) = source else {
        return typed;
    };
    match PyScalar::resolve(source) {
        PyScalar::Bool(b) => Value::Bool(b),
        PyScalar::Number => typed,
        PyScalar::Other => Value::String(source.to_owned()),
    }
}

/// What PyYAML's implicit resolver (`yaml/resolver.py`) makes of a plain scalar, as far as the
/// corrections above need: booleans exactly, numbers by shape only.
#[derive(Debug, PartialEq)]
enum PyScalar {
    Bool(bool),
    Number,
    Other,
}

impl PyScalar {
    fn resolve(s: &str) -> PyScalar {
        match s {
            "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                PyScalar::Bool(true)
            }
            "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
                PyScalar::Bool(false)
            }
            _ if py_int(s) || py_float(s) => PyScalar::Number,
            _ => PyScalar::Other,
        }
    }
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
///  | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
fn py_int(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if let Some(bits) = s.strip_prefix("0b") {
        return !bits.is_empty() && bits.bytes().all(|b| matches!(b, b'0' | b'1' | b'_'));
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    if s == "0" {
        return true;
    }
    if let Some(octal) = s.strip_prefix('0') {
        return !octal.is_empty() && octal.bytes().all(|b| matches!(b, b'0'..=b'7' | b'_'));
    }
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or("");
    leading_digits(head, b'1') == head.len() && !head.is_empty() && parts.all(sexagesimal_digit)
}

/// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
///  | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
fn py_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']);
    let signed = unsigned.is_some();
    let s = unsigned.unwrap_or(s);
    if matches!(s, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if let Some(fraction) = s.strip_prefix('.') {
        let digits = leading_digits(fraction, b'0');
        return !signed && digits > 0 && exponent(&fraction[digits..]);
    }
    let digits = leading_digits(s, b'0');
    if digits == 0 {
        return false;
    }
    let rest = &s[digits..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let frac_len = fraction
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'_')
            .count();
        return exponent(&fraction[frac_len..]);
    }
    // Sexagesimal: groups of `:[0-5]?[0-9]`, then `.` and a fraction without exponent.
    let Some((groups, fraction)) = rest.split_once('.') else {
        return false;
    };
    groups.starts_with(':')
        && groups[1..].split(':').all(sexagesimal_digit)
        && fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Length of a leading `[first-9][0-9_]*`.
fn leading_digits(s: &str, first: u8) -> usize {
    match s.as_bytes().first() {
        Some(b) if (first..=b'9').contains(b) => {
            1 + s.as_bytes()[1..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'_')
                .count()
        }
        _ => 0,
    }
}

/// `[0-5]?[0-9]`
fn sexagesimal_digit(part: &str) -> bool {
    match part.as_bytes() {
        [d] => d.is_ascii_digit(),
        [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
        _ => false,
    }
}

/// `([eE][-+][0-9]+)?` and nothing after it.
fn exponent(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let Some(rest) = s.strip_prefix(['e', 'E']) else {
        return false;
    };
    let Some(digits) = rest.strip_prefix(['-', '+']) else {
        return false;
    };
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a key's shown default, read as YAML the way a file is, gives its real default.
/// "unset" stands for null; a shown default that is prose (the user) does not match.
#[cfg(test)]
fn shown_default_matches<T: FromValue + PartialEq>(default: &T, shown: &str) -> bool {
    let yaml = if shown == "unset" { "~" } else { shown };
    let Ok(entries) = parse_entries(Path::new("shown"), format!("k: {yaml}").as_bytes()) else {
        return false;
    };
    match entries.into_iter().next() {
        Some(entry) => T::from_value(entry.value).is_ok_and(|v| &v == default),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("brine-config-{}-{name}-{n}", std::process::id()));
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
        let file = dir.write("master.d/x.conf", "timeout: 9\n\nfile_roots: {}\n");
        let (config, warnings) = MasterConfig::load(dir.path()).unwrap();
        assert_eq!(config.timeout, 9);
        assert_eq!(warnings.len(), 1);
        assert_eq!((warnings[0].line, warnings[0].column), (3, 1));
        assert_eq!(
            warnings[0].to_string(),
            format!("{}:3:1: unknown key 'file_roots' (ignored)", file.display())
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
        ];
        for (line, want) in cases {
            let err = master_with(&format!("# a comment\n\n{line}\n")).unwrap_err();
            assert!(err.ends_with(&format!("master:{want}")), "{line}: {err}");
        }
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
        let c = master_with("schedule: {a: 'yes', b: \"1\", c: &x y, d: *x, e: &t on, f: *t}\n")
            .unwrap();
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
    fn pyyaml_number_shapes() {
        for s in [
            "0", "-0", "+12", "1_0", "0b1_0", "0x_f", "07", "1:30", "-1:30:59", "0_7",
        ] {
            assert!(py_int(s), "{s} is a PyYAML int");
        }
        for s in [
            "", "-", "0b", "0x", "08", "0o7", "1:60", "1:3:", ":30", "1__a", "1e3",
        ] {
            assert!(!py_int(s), "{s} is not a PyYAML int");
        }
        for s in [
            "1.", "1.5", "-1.5", "1_0.0_1", ".5", ".5e-3", "1.0e+10", "1:30.5", ".inf", "-.Inf",
            ".NaN",
        ] {
            assert!(py_float(s), "{s} is a PyYAML float");
        }
        for s in [
            "1e3", "1.5e3", "-.5", "+.5", ".", "1.e", "1.0e+", "-.nan", "1:30", "abc",
        ] {
            assert!(!py_float(s), "{s} is not a PyYAML float");
        }
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
        // The user is computed at run time; its shown default is prose, as is the queue
        // directory's, which follows cachedir.
        assert_eq!(
            MasterConfig::shown_default_mismatches(),
            ["user", "sqlite_queue_dir"]
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
}
