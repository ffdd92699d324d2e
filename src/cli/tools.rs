//! The flag tables and man-page prose of every brine tool.

use super::flags::{roff_escape, roff_prose, Flag, Section, Tool};
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
    doc: "Print the result with OUTPUTTER: nested (default), json, yaml, raw or quiet.",
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

/// `brine-master`.
pub const MASTER: Tool = Tool {
    name: "brine-master",
    section: 8,
    summary: "the brine master daemon: event bus, runners, jobs",
    usage: &["[-c DIR] [-d] [--pid-file FILE] [-l LEVEL]"],
    description: "brine-master is the central daemon of brine, a re-implementation of the event system, reactor and queue of SaltStack. It runs one thread and one event loop.\n\nIt owns the master event bus: a Unix socket named master_event.ipc in sock_dir (mode 0660; only root and the daemon's own user may connect, checked with SO_PEERCRED). Local clients fire events into it and listen with a tag filter; brine-event(1) and brine-run(1) are such clients. Every event is a tag and a map, encoded as the tag, two newlines and the msgpack of the map, inside a length-prefixed frame.\n\nEach listener has a bounded outbound buffer (event_listener_buffer bytes). A listener that stops reading never blocks the daemon or the other listeners: past the bound it loses events, and when it reads again it first receives a salt/event/lost event whose data holds the count of events it lost. The daemon logs each such loss.\n\nThe configuration is DIR/master, then DIR/master.d/*.conf in name order; see brine-master.conf(5).",
    flags: &[
        CONFIG_DIR,
        Flag {
            short: Some('d'),
            long: "daemon",
            value: None,
            doc: "Run in the background: detach from the terminal and log to log_file.",
        },
        Flag {
            short: None,
            long: "pid-file",
            value: Some("FILE"),
            doc: "Write the daemon's pid to FILE; it is removed at shutdown.",
        },
        LOG_LEVEL,
        HELP,
        VERSION,
    ],
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

/// `brine-event`.
pub const EVENT: Tool = Tool {
    name: "brine-event",
    section: 1,
    summary: "watch a brine event bus",
    usage: &["[-c DIR] [--node master|minion] [--tag PATTERN] [--count N] [--pretty | --json] [--quiet]"],
    description: "brine-event connects to the event bus of a running daemon and prints the events whose tag matches PATTERN. It is Salt's eventlisten.py and salt-run state.event in one tool.\n\nThe tag filter is state.event's: an event matches when its tag matches PATTERN as a shell glob (* also crosses /) or as a regular expression anchored at both ends. The default * matches every event.\n\nThe default output is state.event's: one line per event, the tag, a TAB, and the data as compact JSON with Python's separators. --pretty sorts the keys and indents by 4 spaces. --json prints one JSON object {\"tag\": ..., \"data\": ...} per line, for scripts.\n\nWhen the daemon restarts, brine-event reconnects and goes on. When the listener falls behind, the daemon sends a salt/event/lost event with the number of events it dropped; brine-event prints it like any other.",
    flags: &[
        CONFIG_DIR,
        Flag {
            short: Some('n'),
            long: "node",
            value: Some("NODE"),
            doc: "Watch the master bus (master, the default) or the minion bus (minion).",
        },
        Flag {
            short: None,
            long: "tag",
            value: Some("PATTERN"),
            doc: "Print only events whose tag matches PATTERN, a glob or an anchored regular expression (default *).",
        },
        Flag {
            short: None,
            long: "count",
            value: Some("N"),
            doc: "Exit after N matching events (default: run until interrupted).",
        },
        Flag {
            short: None,
            long: "pretty",
            value: None,
            doc: "Print the data with sorted keys and a 4-space indent.",
        },
        Flag {
            short: None,
            long: "json",
            value: None,
            doc: "Print one JSON object with tag and data per line.",
        },
        Flag {
            short: Some('q'),
            long: "quiet",
            value: None,
            doc: "Print nothing; with --count, wait for N matching events and exit.",
        },
        Flag {
            short: None,
            long: "sock-dir",
            value: Some("DIR"),
            doc: "Use the socket in DIR instead of sock_dir from the configuration.",
        },
        LOG_LEVEL,
        HELP,
        VERSION,
    ],
    sections: &[
        Section {
            title: "EXIT STATUS",
            body: "0 after --count matching events. 2 for a usage or configuration error, and when no daemon listens at the socket at start: brine-event: no event bus at PATH (is brine-master running?).",
        },
        Section {
            title: "EXAMPLES",
            body: "Watch every job return:\n\n  brine-event --tag 'salt/job/*/ret/*'\n\nWait for one event and print it as JSON:\n\n  brine-event --tag myco/build/done --count 1 --json",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-run(1)",
        },
    ],
};

/// `brine-run`.
pub const RUN: Tool = Tool {
    name: "brine-run",
    section: 1,
    summary: "run a runner function on the brine master",
    usage: &["[-c DIR] [--out OUTPUTTER] [-t SECONDS] FUN [ARG ...] [KEY=VALUE ...]"],
    description: "brine-run calls the runner function FUN on the running brine-master and prints what it returns, as salt-run does. Each call fires salt/run/JID/new before it runs and salt/run/JID/ret after, with a 20-digit jid.\n\nArguments are parsed as Salt parses them: each word is read as YAML (so 6 is an integer, true a boolean, ['a','b'] a list and {a: 1} a map, while all and a: b stay strings); a word KEY=VALUE whose KEY is an identifier is a keyword argument.\n\nThe result is printed with the nested outputter by default: True, False and None as Python prints them, lists as - item lines, maps with sorted keys and values indented by 4 spaces.",
    flags: &[CONFIG_DIR, OUT, TIMEOUT, LOG_LEVEL, HELP, VERSION],
    sections: &[
        Section {
            title: "RUNNERS",
            body: "event.send TAG [DATA]\n\nFire DATA, a map (default {}), on the master bus under TAG. The data is not wrapped: a reactor reads data['key'], unlike events sent from a minion. Returns True.\n\nstate.event [TAGMATCH] [count=N] [pretty=True] [quiet=True]\n\nPrint the events whose tag matches TAGMATCH (a glob or an anchored regular expression, default *) as the tag, a TAB and the data as JSON, until COUNT events matched (-1, the default, means forever). This is brine-event(1) under Salt's name.",
        },
        Section {
            title: "EXIT STATUS",
            body: "0 when the runner succeeded. 1 when it failed or does not exist ('foo.bar' is not available.). 2 for a usage or configuration error, or when no master is running.",
        },
        Section {
            title: "EXAMPLES",
            body: "  brine-run event.send myco/deploy/done '{version: 1.2, ok: true}'\n  brine-run state.event 'salt/job/*' count=3 pretty=True\n  brine-run --out json event.send t",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-event(1)",
        },
    ],
};

/// Every tool with a man page of its own.
pub const ALL: &[Tool] = &[MASTER, EVENT, RUN];

/// The introduction of `brine-master.conf(5)`.
pub const MASTER_CONF_INTRO: &str = "brine-master reads its configuration from DIR/master and then from every DIR/master.d/*.conf in name order, where DIR is given with -c (default /etc/brine). Each file is a YAML map; a key in a later file replaces the same key from an earlier one. Keys and defaults follow Salt's master configuration, so an existing Salt master file works; keys brine does not know are reported with a warning and ignored.\n\nYAML 1.1 booleans are read as Salt reads them (yes, no, on, off, True, False). A file that is not valid YAML, or a value of the wrong type, stops the daemon with one line naming the file, line and column, and exit status 2.";

/// A configuration man page listing every key with its default.
pub fn config_page(name: &str, summary: &str, intro: &str, keys: &[KeyDoc]) -> String {
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
    s.push_str(".SH SEE ALSO\nbrine\\-master(8)\n");
    s
}
