//! The master's keys (`brine-master.conf(5)`) and the rules between them.

use super::check::*;
use super::host::current_user_name;
use super::loader::{load_table, Table};
#[cfg(test)]
use super::value::shown_default_matches;
use super::value::FromValue;
use super::{ConfigError, ConfigWarning, KeyDoc};
use serde_json::Value;
use std::path::{Path, PathBuf};

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
    event_ring_size: usize = 134_217_728, shown "134217728", check ring_size,
        "Bytes of the ring that holds recent events, each stored once for every listener \
         (128 MiB holds about 600,000 typical events). A listener that falls behind keeps its \
         place and catches up; only one more than this far behind loses events \
         (event_listener_overflow), unless the event log is on. Memory is taken as events \
         arrive, up to this size.";
    event_listener_buffer: usize = 4_194_304, shown "4194304", check positive_usize,
        "Bytes of replies and notices held for one bus client that does not read them; past \
         it the client is disconnected. Events are not held here but in the ring.";
    event_listener_overflow: String = "drop".to_owned(), shown "drop",
        check event_listener_overflow,
        "What happens to a listener that falls off the ring's tail (and the event log's, when \
         it is on): drop (it loses those events and is told how many, and where it resumes) \
         or disconnect.";
    event_log: bool = false, shown "false",
        "Also append every event to a durable log on disk (event_log_dir): a listener that \
         falls off the ring continues from it, brine-event --since replays from it, and \
         sequence numbers keep rising across restarts.";
    event_log_dir: PathBuf = PathBuf::from("/var/cache/brine/master/events"),
        shown "cachedir/events",
        "Directory of the event log's segment files.";
    event_log_size: u64 = 1_073_741_824, shown "1073741824", check positive_u64,
        "Bytes the event log may hold; past it the oldest segments are dropped.";
    event_log_retention: u64 = 604_800, shown "604800",
        "Seconds an event is kept in the event log at most: segments whose \
         newest event is older are dropped (0: no age limit).";
    event_log_sync: String = "commit".to_owned(), shown "commit", check event_log_sync,
        "When the event log is flushed to disk: commit (at every loop turn that wrote \
         events), a number of milliseconds (at most that long after a write), or never \
         (left to the kernel). After a crash the log is whole up to its last flush.";
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
    id: Option<String> = None, shown "unset",
        "The master's own minion id in orchestrations (state.orchestrate runs as it); unset, \
         it is the host's id with _master appended, as Salt names it.";
    test: bool = false, shown "false",
        "Whether orchestrations run in test mode unless state.orchestrate is given test=.";
    failhard: bool = false, shown "false",
        "Whether an orchestration stops at the first step that fails.";
    overstate: String = "overstate.sls".to_owned(), shown "overstate.sls",
        "The OverState file state.over reads from the saltenv's file_roots.";
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

    file_roots: Value = serde_json::json!({"base": ["/srv/salt"]}), shown "{base: [/srv/salt]}",
        check roots,
        "The file server's roots: a map from a saltenv to a list of directories. salt://path \
         is the file under the first directory of its saltenv that has it; paths that leave \
         their root (.., absolute, NUL, a symlink out) are refused. The reactor reads salt:// \
         SLS files from here too.";
    file_ignore_regex: Value = Value::Array(Vec::new()), shown "[]", check list,
        "Regular expressions; a file whose path (relative to its root) matches one is not served.";
    file_ignore_glob: Value = Value::Array(Vec::new()), shown "[]", check list,
        "Glob patterns; a file whose path (relative to its root) matches one is not served.";
    file_buffer_size: usize = 1_048_576, shown "1048576", check positive_usize,
        "Most bytes of a file sent in one answer to a minion; a big file goes in many, read off \
         the event loop.";
    pillar_roots: Value = serde_json::json!({"base": ["/srv/pillar"]}),
        shown "{base: [/srv/pillar]}", check roots,
        "The pillar's roots: a map from a pillar environment to a list of directories, each \
         with a top.sls saying which SLS files each minion gets.";
    pillar_source_merging_strategy: String = "smart".to_owned(), shown "smart",
        "How pillar SLS files merge: smart or recurse (nested maps merged), overwrite (a later \
         key replaces the whole value) or none.";
    pillar_merge_lists: bool = false, shown "false",
        "When true, lists in pillar SLS files are concatenated instead of replaced.";
    state_output: String = "full".to_owned(), shown "full", check state_output,
        "How brine and brine-run prints state runs (the highstate outputter): full (every state in a block), \
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

    rest_cherrypy: Value = Value::Null, shown "unset", check map_or_unset,
        "brine-api's settings, Salt's rest_cherrypy section: port (required), host, ssl_crt, \
         ssl_key, ssl_chain, disable_ssl, webhook_url, webhook_disable_auth, \
         webhook_strip_headers, max_request_body_size, root_prefix, enable_sessions, \
         authorized_ips, api_acl, collect_stats, stats_disable_auth, static, static_path, app, \
         app_path, cors_origins, max_connections, max_header_size, idle_timeout, \
         request_timeout, sse_buffer; see brine-api(8).";
    external_auth: Value = Value::Object(serde_json::Map::new()), shown "{}", check map,
        "Who may do what through brine-api: a map from an eauth backend (pam, file, \
         sharedsecret) to a map from a user (a glob; group% for a group; * for everyone) to \
         a list of permissions in Salt's format (function regexes, targets with function \
         lists, @runner, @wheel, @jobs, and brine's @events tag globs). Function and \
         argument patterns must match the whole name (Salt matches only the start).";
    netapi_enable_clients: Value = Value::Array(Vec::new()), shown "[]", check list,
        "The brine-api clients that may be used (local, local_async, runner, runner_async, \
         wheel, wheel_async); none by default, as since Salt 3006.";
    token_expire: u64 = 43_200, shown "43200", check positive_u64,
        "Seconds an eauth token from brine-api's /login stays valid.";
    token_expire_user_override: Value = Value::Bool(false), shown "false",
        "True lets every user ask /login for its own token_expire; a map from eauth to a \
         list of users lets only those.";
    sharedsecret: String = String::new(), shown "unset",
        "The password of the sharedsecret eauth backend (any user name); empty turns the \
         backend off.";
    permissive_acl: bool = false, shown "false",
        "When true, the external_auth entry * applies to every user, not only to users no \
         named entry matches.";
    auth_pam_service: String = "login".to_owned(), shown "login",
        "The PAM service the pam eauth backend authenticates with (auth.pam.service, as Salt \
         spells it, wins).";
}

/// The master keeps only Salt's dotted PAM options (`auth.pam.service`), which brine-api
/// reads; every other key it does not know is reported.
fn no_module_options(key: &str, _value: &Value) -> bool {
    key.starts_with("auth.pam.")
}

/// Salt's rule for its older retention key: a `keep_jobs` other than 24 counts only when
/// `keep_jobs_seconds` was left at its default.
fn finish_master(config: &mut MasterConfig) {
    // Salt's default queue directory lives under cachedir, wherever cachedir is.
    if config.sqlite_queue_dir == Path::new("/var/cache/brine/master/queues") {
        config.sqlite_queue_dir = config.cachedir.join("queues");
    }
    if config.event_log_dir == Path::new("/var/cache/brine/master/events") {
        config.event_log_dir = config.cachedir.join("events");
    }
    if config.keep_jobs != 24 && config.keep_jobs_seconds == 86_400 {
        config.keep_jobs_seconds = config.keep_jobs.saturating_mul(3600);
    }
}
