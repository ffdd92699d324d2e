//! The minion's keys (`brine-minion.conf(5)`), the module options it keeps besides them, and
//! its default id.

use super::check::*;
use super::host::{current_user_name, host_fqdn};
use super::loader::{load_table, Table};
#[cfg(test)]
use super::value::shown_default_matches;
use super::value::FromValue;
use super::{ConfigError, ConfigWarning, KeyDoc};
use serde_json::Value;
use std::path::{Path, PathBuf};

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
    event_ring_size: usize = 8_388_608, shown "8388608", check ring_size,
        "Bytes of the ring that holds the minion bus's recent events, each stored once for \
         every listener; a listener more than this far behind loses events \
         (event_listener_overflow). Memory is taken as events arrive, up to this size.";
    event_listener_buffer: usize = 4_194_304, shown "4194304", check positive_usize,
        "Bytes of replies and notices held for one minion bus client that does not read \
         them; past it the client is disconnected.";
    event_listener_overflow: String = "drop".to_owned(), shown "drop",
        check event_listener_overflow,
        "What happens to a listener that falls off the ring's tail: drop (it loses those \
         events and is told how many, and where it resumes) or disconnect.";
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

    file_roots: Value = serde_json::json!({"base": ["/srv/salt"]}), shown "{base: [/srv/salt]}",
        check roots,
        "Masterless (file_client local, or brine-call --local): where salt:// files come from, \
         as a map from a saltenv to a list of directories. With a master, files come from the \
         master's file_roots and are cached under cachedir/files.";
    file_ignore_regex: Value = Value::Array(Vec::new()), shown "[]", check list,
        "Masterless: regular expressions of files under file_roots to hide.";
    file_ignore_glob: Value = Value::Array(Vec::new()), shown "[]", check list,
        "Masterless: glob patterns of files under file_roots to hide.";
    pillar_roots: Value = serde_json::json!({"base": ["/srv/pillar"]}),
        shown "{base: [/srv/pillar]}", check roots,
        "Masterless: the pillar's roots, each with a top.sls. With a master, the master \
         compiles this minion's pillar and sends it.";
    pillar_source_merging_strategy: String = "smart".to_owned(), shown "smart",
        "Masterless: how pillar SLS files merge (smart, recurse, overwrite or none).";
    pillar_merge_lists: bool = false, shown "false",
        "Masterless: when true, lists in pillar SLS files are concatenated.";
    state_events: bool = false, shown "false",
        "Fire salt/job/<jid>/prog/<id>/<n> on the master bus after each state of a run.";
    test: bool = false, shown "false",
        "Every state run is a test run (test=True) unless the call says test=False.";
    failhard: bool = false, shown "false",
        "A state run stops at the first state that fails.";
    state_auto_order: bool = true, shown "true",
        "States without an order run in the order they appear in the SLS files.";
    state_run_timeout: u64 = 0, shown "0",
        "When non-zero, seconds a whole state run may take before its child process is killed.";
    state_output: String = "full".to_owned(), shown "full", check state_output,
        "How brine-call prints state runs (the highstate outputter): full (every state in a block), \
         terse (one line each), mixed (terse unless it failed), changes (terse unless it \
         failed or changed) or filter (state_output_exclude and state_output_terse), each \
         also with _id (the ID in place of the name). --state-output overrides it.";
    state_verbose: bool = true, shown "true",
        "False leaves out the states that succeeded without changes. --state-verbose \
         overrides it.";
    state_output_profile: bool = true, shown "true",
        "Show each state's start and duration and the total run time.";
    state_output_diff: bool = false, shown "false",
        "Show only the states that failed or changed something.";
    state_output_pct: bool = false, shown "false",
        "Add the success and failure percentages to the summary.";
    state_compress_ids: bool = false, shown "false",
        "Fold the states of one ID and result (the names of one declaration) into one, \
         named ID (count).";
    state_tabular: bool = false, shown "false",
        "Print terse lines as aligned columns.";
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
