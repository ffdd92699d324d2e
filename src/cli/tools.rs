//! The flag tables and man-page prose of every brine tool.

use super::flags::{flag_set, roff_escape, roff_prose, Flag, Section, Tool};
use crate::config::KeyDoc;

const CONFIG_DIR: Flag = Flag {
    short: Some('c'),
    long: "config-dir",
    value: Some("DIR"),
    doc: "Read the configuration from DIR (default /etc/brine).",
};
const LOG_LEVEL: Flag = Flag {
    short: Some('l'),
    long: "log-level",
    value: Some("LEVEL"),
    doc: "Log level: all, garbage, trace, debug, profile, info, warning, error, critical or quiet (default: log_level from the configuration).",
};
const HELP: Flag = Flag {
    short: Some('h'),
    long: "help",
    value: None,
    doc: "Print the options and exit.",
};
const VERSION: Flag = Flag {
    short: Some('V'),
    long: "version",
    value: None,
    doc: "Print the version and exit.",
};
const OUT: Flag = Flag {
    short: None,
    long: "out",
    value: Some("OUTPUTTER"),
    doc: "Print the result with OUTPUTTER: nested, json, yaml, raw or quiet. Without it, state runs print with the highstate outputter and everything else nested; --out highstate means the same as no --out, as in Salt.",
};
const STATE_OUTPUT: Flag = Flag {
    short: None,
    long: "state-output",
    value: Some("MODE"),
    doc: "How the highstate outputter shows each state: full, terse, mixed, changes or filter, each also with _id (default: state_output from the configuration, full). Also spelled --state_output.",
};
const STATE_VERBOSE: Flag = Flag {
    short: None,
    long: "state-verbose",
    value: Some("BOOL"),
    doc: "True or False: False leaves out the states that succeeded without changes (default: state_verbose from the configuration, True). Also spelled --state_verbose.",
};
const RETCODE_PASSTHROUGH: Flag = Flag {
    short: None,
    long: "retcode-passthrough",
    value: None,
    doc: "Exit with the function's retcode instead of 1 when it is not 0.",
};

/// The highstate outputter, as the man pages of the tools that print state runs describe it.
const STATE_OUTPUT_SECTION: Section = Section {
    title: "STATE OUTPUT",
    body: "The returns of state runs (state.apply, state.sls, state.highstate, state.single, state.test, state.top and the other functions Salt marks so, and a return that says out: highstate) print with Salt's highstate outputter, byte for byte as Salt 3007 prints them without colour: the minion id, then one block per state in the order the states ran, then a summary.\n\n  local:\n  ----------\n            ID: /tmp/motd\n      Function: file.managed\n        Result: True\n       Comment: File /tmp/motd updated\n       Started: 10:00:00.000001\n      Duration: 3.512 ms\n       Changes:\n                ----------\n                diff:\n                    New file\n\n  Summary for local\n  ------------\n  Succeeded: 1 (changed=1)\n  Failed:    0\n  ------------\n  Total states run:     1\n  Total run time:   3.512 ms\n\nA Name line follows Function when the name differs from the ID. Result is True, False or None (test=True: it would change). Succeeded counts True and None, with unchanged= for the None ones and changed= for the states that changed something; the total run time is in seconds once it is over 999 ms. A list return (a render or compile error) prints Data failed to compile: and each error. A return the outputter cannot read prints with the nested outputter, as Salt falls back to it.\n\n--state-output (or state_output in the configuration) picks the layout: full, the default, as above; terse, one line per state ( Name: NAME - Function: STATE.FUN - Result: Clean|Changed|Failed|Differs - Started: ... - Duration: ... ms); mixed, terse unless the state failed; changes, terse unless it failed or changed; filter, full, with state_output_exclude and state_output_terse (lists of True, False, None, or a comma-separated string of them; exclude= and terse= arguments on the command line win) to leave out or shorten the states of those results. With _id (terse_id, ...) the ID is shown in place of the name. --state-verbose False (state_verbose) leaves out the states that succeeded without changes. state_output_profile, state_output_diff, state_output_pct, state_compress_ids and state_tabular are read from the configuration too.\n\n--out json, yaml or nested print the raw return instead.",
};
const TIMEOUT: Flag = Flag {
    short: Some('t'),
    long: "timeout",
    value: Some("SECONDS"),
    doc:
        "Give up waiting for the master after SECONDS (default: timeout from the configuration, 5).",
};

const EXIT_DAEMON: Section = Section {
    title: "EXIT STATUS",
    body: "0 after a clean shutdown (SIGTERM or SIGINT). 1 when the daemon cannot run (a socket cannot be bound, another daemon holds the socket). 2 for a usage or configuration error: an unknown option, unreadable YAML or a wrong-typed value, reported in one line with file, line and column.",
};

const SIGNALS: Section = Section {
    title: "SIGNALS",
    body: "SIGTERM and SIGINT shut the daemon down cleanly: clients are disconnected and the socket files and the pid file are removed.\n\nSIGHUP re-reads the configuration directory. Limits (max_event_size, event_listener_buffer, event_listener_overflow, event_match_type) and log_level take effect at once; sock_dir and the ports need a restart. A configuration that fails to load is logged and the old one stays in force.",
};

flag_set! {
    /// brine-master's and brine-minion's flags (the same table).
    pub enum DaemonFlag {
        ConfigDir => CONFIG_DIR,
        Daemon => Flag {
            short: Some('d'),
            long: "daemon",
            value: None,
            doc: "Run in the background: detach from the terminal and log to log_file.",
        },
        PidFile => Flag {
            short: None,
            long: "pid-file",
            value: Some("FILE"),
            doc: "Write the daemon's pid to FILE; it is removed at shutdown.",
        },
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine-master`.
pub const MASTER: Tool = Tool {
    name: "brine-master",
    section: 8,
    summary: "the brine master daemon: event bus, runners, jobs",
    usage: &["[-c DIR] [-d] [--pid-file FILE] [-l LEVEL]"],
    description: "brine-master is the central daemon of brine, a re-implementation of the event system, reactor and queue of SaltStack. It runs one thread and one event loop.\n\nIt owns the master event bus: a Unix socket named master_event.ipc in sock_dir (mode 0660; only root and the daemon's own user may connect, checked with SO_PEERCRED). Local clients fire events into it and listen with a tag filter; brine-event(1) and brine-run(1) are such clients. Every event is a tag and a map, encoded as the tag, two newlines and the msgpack of the map, inside a length-prefixed frame.\n\nEach listener has a bounded outbound buffer (event_listener_buffer bytes). A listener that stops reading never blocks the daemon or the other listeners: past the bound it loses events, and when it reads again it first receives a salt/event/lost event whose data holds the count of events it lost. The daemon logs each such loss.\n\nThe configuration is DIR/master, then DIR/master.d/*.conf in name order; see brine-master.conf(5).",
    flags: DaemonFlag::TABLE,
    sections: &[
        SIGNALS,
        EXIT_DAEMON,
        Section {
            title: "FILES",
            body: "/etc/brine/master, /etc/brine/master.d/*.conf: the configuration.\n\nsock_dir/master_event.ipc: the event bus socket.",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master.conf(5), brine-event(1), brine-run(1)",
        },
    ],
};

flag_set! {
    /// brine-event's flags.
    pub enum EventFlag {
        ConfigDir => CONFIG_DIR,
        Node => Flag {
            short: Some('n'),
            long: "node",
            value: Some("NODE"),
            doc: "Watch the master bus (master, the default) or the minion bus (minion).",
        },
        Tag => Flag {
            short: None,
            long: "tag",
            value: Some("PATTERN"),
            doc: "Print only events whose tag matches PATTERN, a glob or an anchored regular expression (default *).",
        },
        Count => Flag {
            short: None,
            long: "count",
            value: Some("N"),
            doc: "Exit after N matching events (default: run until interrupted).",
        },
        Pretty => Flag {
            short: None,
            long: "pretty",
            value: None,
            doc: "Print the data with sorted keys and a 4-space indent.",
        },
        Json => Flag {
            short: None,
            long: "json",
            value: None,
            doc: "Print one JSON object with tag and data per line.",
        },
        Quiet => Flag {
            short: Some('q'),
            long: "quiet",
            value: None,
            doc: "Print nothing; with --count, wait for N matching events and exit.",
        },
        SockDir => Flag {
            short: None,
            long: "sock-dir",
            value: Some("DIR"),
            doc: "Use the socket in DIR instead of sock_dir from the configuration.",
        },
        Since => Flag {
            short: None,
            long: "since",
            value: Some("SEQ|TIME"),
            doc: "Start at the event with sequence number SEQ, or at the first event published at or after TIME (ISO 8601, UTC unless a zone is given, as in 2026-12-02T16:53:00), then follow live.",
        },
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine-event`.
pub const EVENT: Tool = Tool {
    name: "brine-event",
    section: 1,
    summary: "watch a brine event bus",
    usage: &["[-c DIR] [--node master|minion] [--tag PATTERN] [--since SEQ|TIME] [--count N] [--pretty | --json] [--quiet]"],
    description: "brine-event connects to the event bus of a running daemon and prints the events whose tag matches PATTERN. It is Salt's eventlisten.py and salt-run state.event in one tool.\n\nThe tag filter is state.event's: an event matches when its tag matches PATTERN as a shell glob (* also crosses /) or as a regular expression anchored at both ends. The default * matches every event.\n\nThe default output is state.event's: one line per event, the tag, a TAB, and the data as compact JSON with Python's separators. --pretty sorts the keys and indents by 4 spaces. --json prints one JSON object {\"tag\": ..., \"data\": ..., \"seq\": N} per line, for scripts; seq is the event's sequence number on the daemon's bus, kept apart from the data, which has Salt's shape unchanged.\n\nEvery event on a bus has a sequence number that rises by one per event. The daemon keeps recent events in a ring (event_ring_size) and, on the master with event_log on, in a log on disk. --since starts from a sequence number or a time instead of from now: what the ring or the log still holds from there is printed first, then live events follow. A listener that falls behind keeps its place and catches up; only one that falls off the ring (and the log) loses events, and the daemon first sends it a salt/event/lost event with count, the number it lost, and next_seq, the sequence number it resumes at; brine-event prints it like any other.\n\nWhen the daemon restarts, brine-event reconnects and goes on after the last event it printed, so with the master's event log on nothing is missed or printed twice.",
    flags: EventFlag::TABLE,
    sections: &[
        Section {
            title: "EXIT STATUS",
            body: "0 after --count matching events. 2 for a usage or configuration error, and when no daemon listens at the socket at start: brine-event: no event bus at PATH (is brine-master running?).",
        },
        Section {
            title: "EXAMPLES",
            body: "Watch every job return:\n\n  brine-event --tag 'salt/job/*/ret/*'\n\nWait for one event and print it as JSON:\n\n  brine-event --tag myco/build/done --count 1 --json\n\nReplay what happened since a moment, then follow:\n\n  brine-event --since 2026-12-02T16:00:00 --json\n\nCarry on from the last sequence number a script saw:\n\n  brine-event --since 1042 --json",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-run(1)",
        },
    ],
};

flag_set! {
    /// brine-run's flags.
    pub enum RunFlag {
        ConfigDir => CONFIG_DIR,
        Out => OUT,
        StateOutput => STATE_OUTPUT,
        StateVerbose => STATE_VERBOSE,
        Timeout => TIMEOUT,
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine-run`.
pub const RUN: Tool = Tool {
    name: "brine-run",
    section: 1,
    summary: "run a runner function on the brine master",
    usage: &["[-c DIR] [--out OUTPUTTER] [--state-output MODE] [--state-verbose BOOL] [-t SECONDS] FUN [ARG ...] [KEY=VALUE ...]"],
    description: "brine-run calls the runner function FUN on the running brine-master and prints what it returns, as salt-run does. Each call fires salt/run/JID/new before it runs and salt/run/JID/ret after, with a 20-digit jid.\n\nArguments are parsed as Salt parses them: each word is read as YAML (so 6 is an integer, true a boolean, ['a','b'] a list and {a: 1} a map, while all and a: b stay strings); a word KEY=VALUE whose KEY is an identifier is a keyword argument.\n\nThe result is printed with the nested outputter by default: True, False and None as Python prints them, lists as - item lines, maps with sorted keys and values indented by 4 spaces. A runner that names its outputter in its return ({data: ..., outputter: highstate}, as state.orchestrate does) is printed with that one; see STATE OUTPUT.",
    flags: RunFlag::TABLE,
    sections: &[
        STATE_OUTPUT_SECTION,
        Section {
            title: "RUNNERS",
            body: "event.send TAG [DATA]\n\nFire DATA, a map (default {}), on the master bus under TAG. The data is not wrapped: a reactor reads data['key'], unlike events sent from a minion. Returns True.\n\nstate.event [TAGMATCH] [count=N] [pretty=True] [quiet=True]\n\nPrint the events whose tag matches TAGMATCH (a glob or an anchored regular expression, default *) as the tag, a TAB and the data as JSON, until COUNT events matched (-1, the default, means forever). This is brine-event(1) under Salt's name.",
        },
        Section {
            title: "WHEEL",
            body: "brine-run wheel.FUN runs a wheel function in the master, as a wheel reaction does: key.list_all, key.list, key.accept, key.reject, key.delete, key.finger (each with match=GLOB), minions.connected and config.values (the master's settings without secrets). Each fires salt/wheel/JID/new and salt/wheel/JID/ret; key changes also fire salt/key.\n\n  brine-run wheel.key.accept match=m1\n  brine-run wheel.key.finger match='web*'\n  brine-run --out json wheel.minions.connected",
        },
        Section {
            title: "REACTOR",
            body: "reactor.list shows the reactor rules in force (a throttled rule with its throttle and the number of events it suppressed); reactor.add EVENT reactors=PATH and reactor.delete EVENT change them until the next SIGHUP; reactor.test TAG [DATA] is a dry run that shows the matching rules, the rendered files and the reactions with their resolved arguments, running nothing. See brine-reactor(5).",
        },
        Section {
            title: "ORCHESTRATION",
            body: "state.orchestrate MODS [saltenv=ENV] [test=True] [pillar={...}] [exclude=SLS] (aliases state.orch and state.sls) renders the SLS files MODS from the master's file_roots with Jinja and YAML, compiles them with the same compiler and requisites as a minion's state.apply, and runs them on the master as its own minion (the master's id setting, else the host id with _master appended). The return is {data: {ID: {state returns}}, outputter: highstate, retcode: 0 or 1}, printed with the highstate outputter, each minion's return nested under its step's Changes; brine-run exits with the retcode. pillar= is merged over the master's pillar and reaches the SLS's Jinja, as a reactor passes event_data.\n\nThe salt.state (tgt, tgt_type, sls, highstate, top, pillar, test, fail_minions, allow_fail, timeout, queue, concurrent, expect_minions, failhard, batch, subset), salt.function (arg, kwarg, fail_function, fail_minions, expect_minions, timeout, batch, subset), salt.runner, salt.wheel and salt.wait_for_event (id_list, event_id, timeout, node) states behave as Salt 3007's, with its comments and test-mode returns; each salt.state and salt.function step fires salt/run/JID/args. test.* states run in the master; any other state module (cmd.run, file.managed) and onlyif/unless commands run on a thread of the master, never in its event loop.\n\nAn orchestration never holds the master's loop: a step that publishes a job waits for the returns (or its timeout; without one, for as long as the minions stay connected), salt.wait_for_event watches the bus until its timeout, and many orchestrations run at once while the master answers everything else. brine-run waits for an orchestration for as long as it runs unless -t is given.\n\nstate.over [SALTENV] [OS_FN] is the OverState Salt removed in 2015.8 (use state.orchestrate): it reads overstate.sls (the master's overstate setting, or the file OS_FN) from the saltenv's file_roots and runs its stages in name order, each {match: COMPOUND, sls: [...] | function: {FUN: [ARGS]}, require: [STAGE, ...]}, a required stage first; a stage runs only when the stages it requires succeeded on every minion. Without an overstate file it runs a highstate on every minion. It prints what the 2015.5 OverState printed (Executing the following Over State:, each stage, Executed Stage:, Stage execution results: and the minions' results with the highstate outputter), fires them as salt/run/JID/progress events, and returns {STAGE: {MINION: {ret, fun, retcode, success}}}; a stage whose requisite failed holds Requisite STAGE failed for stage on minion MINION. The master logs once per call that the OverState is deprecated. state.show_stages prints the stages without running them.",
        },
        Section {
            title: "QUEUES",
            body: "The queue.* runners keep Salt's names, signatures and output. Every one takes backend=lmdb (the default) or backend=sqlite. An item is a string or a map; a list inserts or deletes several.\n\nThe lmdb backend lives in the master's store under cachedir. A queue is a set (an item is stored once: a duplicate insert prints Item already exists in this queue., or One or more items already exists in this queue. for a list, which then inserts none of its items) that pops oldest first. Every write is on disk before brine-run is answered, and the writes of one turn of the master's loop share one transaction and one commit. Two pops never return the same item.\n\nThe sqlite backend reads and writes Salt's own files: one QUEUE.db per queue in sqlite_queue_dir (default cachedir/queues) with a table named after the queue (id INTEGER PRIMARY KEY, name TEXT UNIQUE). A queue directory written by Salt's salt-run works here unchanged, and the other way round. Duplicates print Salt's message with SQLite's text after sqlite error:. Unlike Salt, names and items are quoted properly (any name without / works, an item may hold quotes), items pop oldest first rather than in text order (salt#56421), a list with a duplicate inserts none of its items, and a pop takes its items in one immediate transaction, so concurrent pops never share one. A queue file locked by another process is an error at once; the master never waits for it.\n\nqueue.process_queue fires salt/queue/QUEUE/process with items, backend and queue (also when nothing was popped) for a reactor to act on, and prints that map. A bad quantity fires salt/run/JID/progress with errors and prints False. queue.insert_runner and queue.process_runner queue runner calls ({fun, args, kwargs}) and run them in order; their queue and backend default to the master's runner_queue setting ({queue: NAME, backend: lmdb}).",
        },
        Section {
            title: "EXIT STATUS",
            body: "0 when the runner succeeded. 1 when it failed or does not exist ('foo.bar' is not available.), and when an orchestration's retcode is 1. 2 for a usage or configuration error, or when no master is running.",
        },
        Section {
            title: "EXAMPLES",
            body: "  brine-run event.send myco/deploy/done '{version: 1.2, ok: true}'\n  brine-run state.event 'salt/job/*' count=3 pretty=True\n  brine-run --out json event.send t\n  brine-run queue.insert myqueue '[\"item2\", \"item3\"]'\n  brine-run queue.pop myqueue all\n  brine-run queue.process_queue decom all\n  brine-run queue.list_items myqueue backend=sqlite\n  brine-run queue.migrate sqlite lmdb myqueue\n  brine-run queue.insert_runner event.send my/tag kwargs='{data: {a: 1}}' queue=runners\n  brine-run state.orchestrate orch.deploy pillar='{event_data: {id: web1}}'\n  brine-run state.orch orch.deploy test=True\n  brine-run state.over",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-event(1), brine-reactor(5), brine-master.conf(5)",
        },
    ],
};

/// `brine-minion`.
pub const MINION: Tool = Tool {
    name: "brine-minion",
    section: 8,
    summary: "the brine minion daemon",
    usage: &["[-c DIR] [-d] [--pid-file FILE] [-l LEVEL]"],
    description: "brine-minion is the agent of brine. It runs one thread and one event loop, and keeps to a few megabytes of memory.\n\nOn its first start it generates its keys in pki_dir: a box key pair (X25519) and a signing key pair (Ed25519), minion.pem (mode 0600) and minion.pub. It refuses to start when minion.pem is readable by other users.\n\nIt connects to the master's request port (master_port) and presents its public keys. While the key is pending on the master it asks again every acceptance_wait_time seconds; a rejected or denied key makes it exit, unless rejected_retry is set. Once accepted it receives the session key sealed to its own key, fires salt/minion/ID/start on the master's bus (and minion_start when enable_legacy_startup_events is on), and listens on the master's publish port. On first contact it pins the master's public key in minion_master.pub and from then on refuses a master whose key differs. When the master rotates its session key the minion re-authenticates after a random delay of up to random_reauth_delay seconds; publications that came under the new key meanwhile are kept and run once the new key arrives, so a job published right after a rotation is not lost. A heartbeat every heartbeat_interval seconds notices a restarted master, and the minion re-authenticates with it.\n\nThe minion has its own event bus, a Unix socket named minion_event.ipc in sock_dir, with the same protocol and limits as the master's; brine-event --node minion watches it and brine-call(1) runs functions through it.\n\nThe configuration is DIR/minion, then DIR/minion.d/*.conf in name order; see brine-minion.conf(5).",
    flags: DaemonFlag::TABLE,
    sections: &[
        SIGNALS,
        Section {
            title: "EXIT STATUS",
            body: "0 after a clean shutdown (SIGTERM or SIGINT). 1 when the minion cannot run: its key is rejected or denied by the master (without rejected_retry), its secret key file is readable by others, or a socket cannot be bound. 2 for a usage or configuration error, reported in one line with file, line and column.",
        },
        Section {
            title: "FILES",
            body: "pki_dir/minion.pem, pki_dir/minion.pub: the minion's keys.\n\npki_dir/minion_master.pub: the pinned master key. Remove it to trust a master that was re-keyed on purpose; a running minion notices at its next auth attempt.\n\nsock_dir/minion_event.ipc: the minion's event bus.",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-minion.conf(5), brine-call(1), brine-key(1), brine-master(8), brine-event(1)",
        },
    ],
};

flag_set! {
    /// brine-call's flags.
    pub enum CallFlag {
        ConfigDir => CONFIG_DIR,
        Local => Flag {
            short: None,
            long: "local",
            value: None,
            doc: "Run the function in this process, without the minion daemon or a master.",
        },
        Return => Flag {
            short: None,
            long: "return",
            value: None,
            doc: "Also send the result to the master as a job return (jid req: the master assigns one).",
        },
        Out => OUT,
        StateOutput => STATE_OUTPUT,
        StateVerbose => STATE_VERBOSE,
        RetcodePassthrough => RETCODE_PASSTHROUGH,
        Timeout => TIMEOUT,
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine-call`.
pub const CALL: Tool = Tool {
    name: "brine-call",
    section: 1,
    summary: "run an execution function on this minion",
    usage: &["[-c DIR] [--local] [--return] [--out OUTPUTTER] [--state-output MODE] [--state-verbose BOOL] [--retcode-passthrough] [-t SECONDS] FUN [ARG ...] [KEY=VALUE ...]"],
    description: "brine-call runs the execution function FUN on the minion of this host, through the running brine-minion, and prints what it returns under the id local, as salt-call does. Arguments are parsed as Salt parses them (see brine-run(1)).\n\nWith --local it runs the function in its own process, without a minion daemon or a master (masterless: event.fire_master returns False). With --return the result is also sent to the master as a job return; the master gives it a jid and fires salt/job/JID/ret/ID.\n\nState functions print with the highstate outputter (see STATE OUTPUT), with state_output and state_verbose from the minion configuration unless --state-output and --state-verbose say otherwise.",
    flags: CallFlag::TABLE,
    sections: &[
        STATE_OUTPUT_SECTION,
        Section {
            title: "FUNCTIONS",
            body: "event.fire DATA TAG\n\nFire DATA, a map, on the minion's own event bus under TAG. Returns True, or False when DATA is not a map.\n\nevent.fire_master DATA TAG\n\nSend an event to the master's bus. It arrives there wrapped, as Salt's minion events do: {\"id\": ID, \"cmd\": \"_minion_event\", \"pretag\": null, \"tag\": TAG, \"data\": DATA}, so a reactor reads data['data']. DATA may be any value. The request also shows on the minion's own bus under the tag fire_master. Returns False in masterless mode (local: True, or file_client: local without use_master_when_local).\n\nevent.send TAG [DATA] [with_grains=True] [with_env=True] [KEY=VALUE ...]\n\nSend an event to the master (or to the minion's bus when masterless) whose data is built from, in increasing precedence: the environment of brine-call itself, as with salt-call (with_env=True, or a list of variable names; in a job published by the master, the minion daemon's), its grains (with_grains=True, or a list of grain names), the extra KEY=VALUE arguments, and DATA.",
        },
        Section {
            title: "EXIT STATUS",
            body: "0 when the function succeeded (retcode 0). 1 when its retcode is not 0, as salt-call exits (a failed state run has retcode 2, a render error 1, a function that does not exist 1: 'foo.bar' is not available.); with --retcode-passthrough, the retcode itself. 1 when no minion is running: brine-call: no minion at PATH (is brine-minion running?). 2 for a usage or configuration error.",
        },
        Section {
            title: "EXAMPLES",
            body: "  brine-call event.fire_master '{state: refresh}' myco/app/refresh\n  brine-call event.send myco/build/done result=ok\n  brine-call event.fire '{data: some message}' tag\n  brine-call state.apply web --state-output terse --retcode-passthrough\n  brine-call --out json state.apply web test=True",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-minion(8), brine-event(1), brine-run(1)",
        },
    ],
};

flag_set! {
    /// brine-swarm's flags.
    pub enum SwarmFlag {
        ConfigDir => CONFIG_DIR,
        Minions => Flag {
            short: Some('n'),
            long: "minions",
            value: Some("N"),
            doc: "How many minions to run.",
        },
        IdPrefix => Flag {
            short: None,
            long: "id-prefix",
            value: Some("PREFIX"),
            doc: "Prefix of the minion ids (default swarm-).",
        },
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine-swarm`.
pub const SWARM: Tool = Tool {
    name: "brine-swarm",
    section: 1,
    summary: "run many minions in one process, for tests and benchmarks",
    usage: &["[-c DIR] --minions N [--id-prefix PREFIX]"],
    description: "brine-swarm runs N minions in one process and one event loop. Each is a full minion on the wire: its own id (PREFIX followed by a five-digit number), its own keys under pki_dir/ID/, its own request and publish sockets, its own auth and session. They share the configuration read from DIR/minion. They have no local event bus.",
    flags: SwarmFlag::TABLE,
    sections: &[
        Section {
            title: "EXIT STATUS",
            body: "0 after SIGTERM or SIGINT. 1 when a minion cannot start or its key is rejected. 2 for a usage or configuration error.",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-minion(8)",
        },
    ],
};

flag_set! {
    /// brine's flags.
    pub enum BrineFlag {
        ConfigDir => CONFIG_DIR,
        Pcre => Flag { short: Some('E'), long: "pcre", value: None, doc: "TARGET is a regular expression over minion ids, anchored at the start." },
        List => Flag { short: Some('L'), long: "list", value: None, doc: "TARGET is a comma-separated list of minion ids." },
        Grain => Flag { short: Some('G'), long: "grain", value: None, doc: "TARGET is KEY:GLOB over grains." },
        GrainPcre => Flag { short: Some('P'), long: "grain-pcre", value: None, doc: "TARGET is KEY:REGEX over grains." },
        Ipcidr => Flag { short: Some('S'), long: "ipcidr", value: None, doc: "TARGET is an IP address or network (CIDR)." },
        Compound => Flag { short: Some('C'), long: "compound", value: None, doc: "TARGET is a compound expression." },
        Nodegroup => Flag { short: Some('N'), long: "nodegroup", value: None, doc: "TARGET is the name of a nodegroup from the master configuration." },
        Timeout => TIMEOUT,
        GatherJobTimeout => Flag { short: None, long: "gather-job-timeout", value: Some("SECONDS"), doc: "How long minions get to say whether they still run the job (default: gather_job_timeout, 10)." },
        Async => Flag { short: None, long: "async", value: None, doc: "Publish, print the job id and exit without waiting." },
        Static => Flag { short: None, long: "static", value: None, doc: "Print all returns together at the end instead of each as it arrives." },
        Out => OUT,
        StateOutput => STATE_OUTPUT,
        StateVerbose => STATE_VERBOSE,
        OutputDiff => Flag { short: None, long: "output-diff", value: None, doc: "Show only the states that failed or changed something (state_output_diff)." },
        RetcodePassthrough => Flag { short: None, long: "retcode-passthrough", value: None, doc: "Exit with the first non-zero retcode a minion returned." },
        Batch => Flag { short: Some('b'), long: "batch", value: Some("SIZE"), doc: "Batch mode: run the job on at most SIZE minions at a time, a number or a percentage of the minions that answer (25%), starting the next one as each returns (see BATCH MODE)." },
        BatchSize => Flag { short: None, long: "batch-size", value: Some("SIZE"), doc: "The same as --batch." },
        BatchWait => Flag { short: None, long: "batch-wait", value: Some("SECONDS"), doc: "In batch mode, keep the slot of a minion that finished busy for SECONDS before the next minion takes it (default 0)." },
        LogLevel => LOG_LEVEL,
        Help => HELP,
        Version => VERSION,
    }
}

/// `brine`.
pub const BRINE: Tool = Tool {
    name: "brine",
    section: 1,
    summary: "run a function on targeted minions",
    usage: &["[-c DIR] [-E|-L|-G|-P|-S|-C|-N] [-t SECONDS] [-b SIZE [--batch-wait SECONDS]] [--async] [--static] [--out OUTPUTTER] [--state-output MODE] [--state-verbose BOOL] [--output-diff] TARGET FUN [ARG ...] [KEY=VALUE ...]"],
    description: "brine publishes a job, the execution function FUN with its arguments, to the minions that TARGET selects, and prints each minion's return as it arrives: the minion id, then the return indented, as salt prints it.\n\nThe master fires the bare JID event and salt/job/JID/new with the expected minions, publishes the job sealed with its session key and signed, and fires salt/job/JID/ret/ID for each return. brine waits --timeout seconds; then it asks the minions that did not return whether they are still running the job (saltutil.find_job, a job of its own with --gather-job-timeout to answer) and keeps waiting for those that are. The others are shown as Minion did not return. [No response], or [Not connected] when the master has no live session with them.\n\nArguments are passed as typed; each minion parses them as Salt does (YAML coercion, KEY=VALUE keyword arguments).\n\nA return that says out: highstate, or the return of a state function, prints with the highstate outputter (see STATE OUTPUT), with state_output and state_verbose from the master configuration unless --state-output and --state-verbose say otherwise.\n\nTARGETING\n\nThe target is a glob over minion ids unless an option says otherwise. Every minion evaluates the target itself; the master computes the minions it expects from the accepted keys and the grains minions reported.\n\n  brine '*' test.ping                      glob over ids\n  brine -E 'web\\d+' test.ping               regular expression, anchored at the start\n  brine -L web1,db1 test.ping              list of ids\n  brine -G 'os:Ubuntu' test.ping           grain match (case-insensitive, globs)\n  brine -G 'roles:web*' test.ping          a list grain matches when any element does\n  brine -P 'os:(Debian|Ubuntu)' test.ping  grain regular expression\n  brine -S 10.0.0.0/24 test.ping           IPv4/IPv6 address or network\n  brine -C 'G@os:Debian and web* or E@db.*' test.ping\n  brine -N webservers test.ping            nodegroup from the master configuration\n\nA compound target combines G@, P@, L@, E@, S@, N@ and bare globs with and, or, not and parentheses (separate words): not binds tighter than and, and than or, and a not that follows a target means and not (web* not db* is web* and not db*). A grain target is KEY:VALUE where KEY may be a path through nested maps and lists (ip_interfaces:eth0:10.0.*).",
    flags: BrineFlag::TABLE,
    sections: &[
        STATE_OUTPUT_SECTION,
        Section {
            title: "BATCH MODE",
            body: "With -b SIZE the job runs as salt -b runs it (Salt 3007.15's batch.py). brine first sends test.ping to TARGET, waiting as for any job (--timeout, then the saltutil.find_job check), and prints Minion ID did not respond. No job will be sent. for each targeted minion that did not answer. The minions that answered are the batch: SIZE is a number of them, or a percentage such as 25% (%25 also works), rounded down, but up to 1 below one minion, and never less than 1.\n\nThen a rolling window: brine publishes the job to SIZE minions as a list target, and each time one returns (or fails) the next starts, after --batch-wait seconds when given. Each publication prints its minions first, sorted and between blank lines, as salt does:\n\n  Executing run on ['web1', 'web2']\n\nand each return prints as it arrives, as without -b. A minion that has not returned --timeout seconds after its start is asked whether it still runs the job (saltutil.find_job, --gather-job-timeout to answer); one that does, gets another --timeout; one that does not, counts as failed and prints as salt prints it, with an empty return (ID: and ----------, or {} with --out json). With --static only the returns print, together at the end. --async does not apply in batch mode.\n\nAn invalid SIZE is refused with salt's message (Invalid batch data sent: SIZE, Data must be in the form of %10, 10% or 3) and exit status 2; so are negative sizes, on which salt would loop forever.",
        },
        Section {
            title: "EXIT STATUS",
            body: "0 when every targeted minion returned with retcode 0. 1 when a minion did not return or returned a non-zero retcode (with --retcode-passthrough, that retcode). 2 when no minion matched the target (No minions matched the target.), for a bad target expression, a usage or configuration error, or when no master is running.\n\nIn batch mode, as salt -b: the highest retcode any minion returned (at most 255), and 2 with ERROR: No return received when no minion answered test.ping. Unlike Salt 3007.15, which then exits 0, the status is at least 1 when a targeted minion did not respond to test.ping or did not return the job.",
        },
        Section {
            title: "EXAMPLES",
            body: "  brine '*' test.ping\n  brine -G 'os_family:Debian' cmd.run 'uptime'\n  brine -C 'G@roles:web and not web9' cmd.run 'systemctl reload nginx' timeout=30\n  brine '*' event.fire '{data: x}' tag\n  brine --async '*' test.sleep 60\n  brine -b 2 'web*' cmd.run 'systemctl restart nginx'\n  brine -b 25% --batch-wait 10 '*' state.apply",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-minion(8), brine-call(1), brine-run(1)",
        },
    ],
};

/// `brine-api`.
pub const API: Tool = Tool {
    name: "brine-api",
    section: 8,
    summary: "Salt's REST API (rest_cherrypy) for brine: webhooks, jobs, the event stream, metrics",
    usage: &["[-c DIR] [-d] [--pid-file FILE] [-l LEVEL]"],
    description: "brine-api serves Salt's salt-api REST interface in its rest_cherrypy dialect, so existing curl recipes, scripts and Salt's own API clients (pepper) work unchanged. It is a daemon of its own, one thread and one event loop, that reaches the master only through the master's Unix socket in sock_dir, as brine-run(1) does: HTTP is never parsed in the master.\n\nIt reads the master's configuration directory (brine-master.conf(5)): the rest_cherrypy section (port is required; TLS with ssl_crt and ssl_key unless disable_ssl is True, as Salt refuses to start without them), external_auth, netapi_enable_clients, token_expire, sharedsecret and auth.pam.service.\n\nEvery request is authenticated and authorized before anything is sent to the master, for every client: a token from /login (header X-Auth-Token or cookie session_id), or username, password and eauth in a /run chunk. eauth backends: pam (with the account check, so a locked or expired account is refused), file (plaintext or hashed, text or htpasswd) and sharedsecret. Permissions are Salt's external_auth lists, matched against the whole function name and argument (Salt matches only the start, so test.ping there also allows test.pingpong). Tokens are kept in the master's store with their expiry, checked on every use, and revoked by /logout.",
    flags: DaemonFlag::TABLE,
    sections: &[
        Section {
            title: "URLS",
            body: "GET / lists the enabled clients. POST / runs lowstate chunks with the session's token; POST /run with each chunk's own credentials or token. Clients: local, local_async, runner, runner_async, wheel, wheel_async, each only when listed in netapi_enable_clients (none by default, as since Salt 3006). Answers are {\"return\": [one per chunk]} in JSON or YAML by Accept.\n\nPOST /login, POST /logout, POST /token: sessions. GET /minions[/ID] (grains), POST /minions (a job, 202), GET /jobs[/JID], GET /keys[/ID], POST /keys (a new key pair, accepted, as a tar).\n\nPOST /hook/PATH fires salt/netapi/hook/PATH on the master's bus with Salt's data: body (the raw text), post (the parsed body), headers (title-cased, with Remote-Addr). The headers named in webhook_strip_headers (X-Auth-Token, Cookie and Authorization by default) are left out so that no token reaches the bus. webhook_disable_auth: True takes hooks without a token.\n\nGET /events streams the master's events as Server-Sent Events in Salt's framing (retry: 400, then tag: and data: lines); authenticated by header or cookie only, never by query string. A user whose permissions hold @events: [GLOB, ...] sees only those tags. A client that falls sse_buffer bytes behind loses events and then receives salt/event/lost with their count.\n\nGET /metrics (Prometheus text) and GET /stats (JSON), with collect_stats: True: the master's counters and brine-api's.\n\napp_path (default /app) serves the file named by app, or, when app is unset, brine's web console: log in, watch the events with a tag filter, run jobs and see each return arrive, accept and reject keys. static and static_path serve a directory; paths that leave it are refused.",
        },
        Section {
            title: "DEPARTURES FROM SALT",
            body: "On purpose: function and argument patterns match whole names; user patterns in external_auth match the user (Salt reverses them); /login does not change the configured permissions; a bad YAML body is 400 (Salt: 500); max_request_body_size is enforced with 413 (Salt ignores it); webhook events leave out credential headers; CORS is off unless cors_origins lists the origin (Salt reflects every Origin with credentials); the token /login returns is the token itself, valid for /run and /events too; unauthenticated callers cannot learn which clients are enabled.",
        },
        Section {
            title: "LIMITS",
            body: "max_connections (10000), max_header_size (16384 bytes), max_request_body_size (1048576 bytes), request_timeout (10 s for a whole request to arrive), idle_timeout (60 s between requests on a kept-alive connection), sse_buffer (1048576 bytes an /events client may fall behind).",
        },
        Section {
            title: "SIGNALS",
            body: "SIGTERM and SIGINT stop brine-api. SIGHUP is logged: restart the daemon to apply a changed configuration.",
        },
        EXIT_DAEMON,
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-master.conf(5), brine-run(1)",
        },
    ],
};

/// Every tool with a man page of its own.
pub const ALL: &[Tool] = &[
    BRINE,
    MASTER,
    API,
    MINION,
    EVENT,
    RUN,
    CALL,
    super::key_cmd::TOOL,
    super::cloud_cmd::TOOL,
    SWARM,
];

/// The introduction of `brine-minion.conf(5)`.
pub const MINION_CONF_INTRO: &str = "brine-minion reads its configuration from DIR/minion and then from every DIR/minion.d/*.conf in name order, where DIR is given with -c (default /etc/brine). Each file is a YAML map; a key in a later file replaces the same key from an earlier one. Keys and defaults follow Salt's minion configuration; keys brine does not know are reported with a warning and ignored. A file that is not valid YAML, or a value of the wrong type, stops the daemon with one line naming the file, line and column, and exit status 2.";

/// The introduction of `brine-master.conf(5)`.
pub const MASTER_CONF_INTRO: &str = "brine-master reads its configuration from DIR/master and then from every DIR/master.d/*.conf in name order, where DIR is given with -c (default /etc/brine). Each file is a YAML map; a key in a later file replaces the same key from an earlier one. Keys and defaults follow Salt's master configuration, so an existing Salt master file works; keys brine does not know are reported with a warning and ignored.\n\nYAML 1.1 booleans are read as Salt reads them (yes, no, on, off, True, False). A file that is not valid YAML, or a value of the wrong type, stops the daemon with one line naming the file, line and column, and exit status 2.";

/// A configuration man page listing every key with its default.
pub fn config_page(
    name: &str,
    summary: &str,
    intro: &str,
    keys: &[KeyDoc],
    extra: &[Section],
) -> String {
    let mut s = format!(
        ".TH {} 5 \"\" \"brine {}\" \"brine manual\"\n.SH NAME\n{name} \\- {}\n.SH DESCRIPTION\n",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION"),
        roff_escape(summary)
    );
    s.push_str(&roff_prose(intro));
    s.push_str(".SH KEYS\n");
    for k in keys {
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR (default: {})\n{}\n",
            roff_escape(k.name),
            roff_escape(k.default),
            roff_escape(k.doc)
        ));
    }
    for sec in extra {
        s.push_str(&format!(".SH {}\n", roff_escape(sec.title)));
        s.push_str(&roff_prose(sec.body));
    }
    s.push_str(".SH SEE ALSO\nbrine\\-master(8)\n");
    s
}

/// A man page of prose sections only (`brine-reactor(5)`).
pub fn prose_page(name: &str, section: u8, summary: &str, sections: &[Section]) -> String {
    let mut s = format!(
        ".TH {} {section} \"\" \"brine {}\" \"brine manual\"\n.SH NAME\n{} \\- {}\n",
        name.to_uppercase(),
        env!("CARGO_PKG_VERSION"),
        roff_escape(name),
        roff_escape(summary)
    );
    for sec in sections {
        s.push_str(&format!(".SH {}\n", roff_escape(sec.title)));
        s.push_str(&roff_prose(sec.body));
    }
    s
}

/// Sections of `brine-master.conf(5)` after its keys.
pub const MASTER_CONF_SECTIONS: &[Section] = &[Section {
    title: "BRINE-API",
    body: "brine-api(8) reads rest_cherrypy, external_auth, netapi_enable_clients, token_expire, token_expire_user_override, sharedsecret, permissive_acl and auth.pam.service from this file. A minimal API with one operator allowed everything, over TLS:\n\n  rest_cherrypy:\n    port: 8000\n    ssl_crt: /etc/pki/tls/certs/localhost.crt\n    ssl_key: /etc/pki/tls/certs/localhost.key\n  netapi_enable_clients: [local, local_async, runner, wheel]\n  external_auth:\n    pam:\n      saltops: ['.*', '@runner', '@wheel']\n      'web-team%':\n        - 'web*':\n          - test.*\n          - state.apply\n      auditor: [{'@events': ['salt/job/*']}]\n\nA GitHub push webhook, verified in the reactor file with the secret configured on GitHub (the signature is an HMAC of the raw body, in the X-Hub-Signature-256 header). In the master configuration:\n\n  rest_cherrypy:\n    port: 8000\n    ssl_crt: /etc/pki/tls/certs/localhost.crt\n    ssl_key: /etc/pki/tls/certs/localhost.key\n    webhook_disable_auth: True\n  reactor:\n    - 'salt/netapi/hook/github':\n      - /srv/reactor/github.sls\n\nand /srv/reactor/github.sls:\n\n  {% set sig = data['headers'].get('X-Hub-Signature-256', '') %}\n  {% if salt['hashutil.github_signature'](data['body'], 'my-webhook-secret', sig) %}\n  deploy:\n    local.state.apply:\n      - tgt: 'web*'\n      - kwarg:\n          pillar:\n            ref: {{ data['post']['ref'] | json }}\n  {% endif %}\n\nGitHub posts to https://master:8000/hook/github. Hook data is data: it is never rendered as a template, so a body holding Jinja stays text.",
}, Section {
    title: "LIMITS",
    body: "No client, local or remote, can make the master hold memory without bound or flood its log. A connection to the bus socket may hold event_listener_max_subscriptions tag filters (a filter sent again, or one that a match-everything filter covers, costs nothing); its unsent events are bounded by event_listener_buffer. Unfinished frames of all local clients together may hold four times max_event_size or 64 MiB, whichever is more: past it the client that has been in the middle of a frame the longest is cut off, and so is any client that sits in the middle of a frame for 10 seconds. A peer of the publisher costs at most pub_hwm publications and is dropped when it stops answering heartbeats for pub_heartbeat_timeout seconds. Events a listener cannot read (strings that are not UTF-8, map keys that are not strings, binary or extension values, data nested deeper than 64 levels) are refused when fired, with an error to the client that fired them. A log line a peer can cause (a malformed frame, a refused auth, a failing reactor file) is written once per peer and cause, then counted: the count follows within 10 seconds, or at the next maintenance tick. Reactor files render in a child process bounded by reactor_render_timeout and reactor_render_memory (see brine-reactor(5)). Jobs whose minions never return leave jobs.active after their timeout plus keep_jobs_seconds; at most 100000 are tracked. The master creates cachedir, its LMDB store and the sqlite queue files private to its user (0700 directories, 0600 files) and warns at start about any of them, or pki_dir, that others may read.",
}, Section {
    title: "SCHEDULE",
    body: "schedule: runs runner functions periodically, as timers of the master's event loop. Each entry is a map under a name of your choice with function (a runner, such as queue.process_queue), an interval as any sum of seconds, minutes, hours and days, and optionally args (a list), kwargs (a map), splay (a number N for a random extra delay of 0 to N seconds, or {start: A, end: B}), run_on_start (run once as soon as the master starts) and enabled (false turns the entry off; enabled: false at the top turns the whole schedule off). Each run fires the runner's salt/run/JID/new and salt/run/JID/ret events with user Schedule. An entry with an unknown function, no interval, or a cron or when key is logged with its name and does not run; the others do. SIGHUP re-reads the schedule.\n\nThe decommission pattern (a queue drained every five minutes into a reactor):\n\n  schedule:\n    decom_queue:\n      function: queue.process_queue\n      minutes: 5\n      args: [decom]\n      kwargs: {quantity: all}\n\nQueued runner calls, two each minute:\n\n  runner_queue: {queue: runners, backend: lmdb}\n  schedule:\n    runner queue:\n      function: queue.process_runner\n      minutes: 1\n      kwargs: {quantity: 2}",
}];
