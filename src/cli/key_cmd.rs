//! `brine-key`: Salt's `salt-key` (salt-spec §7.5). It lists, accepts, rejects, deletes,
//! prints and fingerprints minion keys through the master's `wheel.key.*` functions, so
//! `salt/key` events fire; with no master running it calls the same functions on
//! `pki_dir` itself.
//!
//! The flow is `salt.key.KeyCLI.run`'s: match the glob (`key.name_match`), keep the states
//! the command acts on, show them, ask, then act on exactly the keys shown
//! (`key.accept_dict`, ...). Listings use Salt's `key` outputter, which sorts states by
//! directory name and ids by code point (`sorted()`), whatever order the return has.

use super::args;
use super::flags::{flag_set, switch, valued, CliError, Parsed, Section, Tool};
use super::output::{self, Outputter};
use super::{fail, EXIT_USAGE};
use crate::bus::Request;
use crate::client::{self, BusClient, ClientError};
use crate::config::MasterConfig;
use crate::pki::{self, KeyStore};
use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

/// How long brine-key waits for the master's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

flag_set! {
    /// brine-key's flags.
    pub enum KeyFlag {
        ConfigDir => valued(
            Some('c'),
            "config-dir",
            "DIR",
            "Read the master configuration from DIR (default /etc/brine) for pki_dir and sock_dir.",
        ),
        ListAll => switch(
            Some('L'),
            "list-all",
            "List all keys by state (the default action).",
        ),
        List => valued(
            Some('l'),
            "list",
            "STATE",
            "List the keys in one state: acc or accepted, un, unaccepted or pre, rej or rejected, den or denied, or all.",
        ),
        Accept => valued(
            Some('a'),
            "accept",
            "GLOB",
            "Accept the unaccepted keys GLOB matches (comma-separated globs allowed).",
        ),
        AcceptAll => switch(Some('A'), "accept-all", "Accept all unaccepted keys."),
        Reject => valued(
            Some('r'),
            "reject",
            "GLOB",
            "Reject the unaccepted keys GLOB matches (comma-separated globs allowed).",
        ),
        RejectAll => switch(Some('R'), "reject-all", "Reject all unaccepted keys."),
        Delete => valued(
            Some('d'),
            "delete",
            "GLOB",
            "Delete the keys GLOB matches, in every state (comma-separated globs allowed).",
        ),
        DeleteAll => switch(Some('D'), "delete-all", "Delete all keys."),
        Finger => valued(
            Some('f'),
            "finger",
            "GLOB",
            "Print the fingerprints of the keys GLOB matches, the master's own included.",
        ),
        FingerAll => switch(Some('F'), "finger-all", "Print the fingerprints of all keys."),
        Print => valued(
            Some('p'),
            "print",
            "GLOB",
            "Print the public keys GLOB matches.",
        ),
        PrintAll => switch(Some('P'), "print-all", "Print all public keys."),
        Yes => switch(
            Some('y'),
            "yes",
            "Answer yes to the question before accepting, rejecting or deleting.",
        ),
        IncludeRejected => switch(
            None,
            "include-rejected",
            "With -a or -A, accept rejected keys too.",
        ),
        IncludeDenied => switch(
            None,
            "include-denied",
            "With -a, -A, -r or -R, act on denied keys too.",
        ),
        IncludeAccepted => switch(
            None,
            "include-accepted",
            "With -r or -R, reject accepted keys too.",
        ),
        IncludeAll => switch(
            None,
            "include-all",
            "With -a or -A, the same as --include-rejected; with -r or -R, the same as --include-accepted (as in salt-key, denied keys need --include-denied).",
        ),
        GenKeys => valued(
            None,
            "gen-keys",
            "NAME",
            "Write a new key pair to NAME.pem (mode 0600) and NAME.pub in the --gen-keys-dir directory and print its fingerprint; existing files are never overwritten.",
        ),
        GenKeysDir => valued(
            None,
            "gen-keys-dir",
            "DIR",
            "Where --gen-keys writes (default: the current directory; created when missing).",
        ),
        Out => valued(
            None,
            "out",
            "OUTPUTTER",
            "Print listings with OUTPUTTER instead of the key listing: json, yaml, nested, raw or quiet.",
        ),
        LogLevel => valued(
            None,
            "log-level",
            "LEVEL",
            "Log level on standard error: all, garbage, trace, debug, profile, info, warning (the default), error, critical or quiet.",
        ),
        Help => switch(Some('h'), "help", "Print the options and exit."),
        Version => switch(Some('V'), "version", "Print the version and exit."),
    }
}

/// `brine-key`: its flags and man page.
pub const TOOL: Tool = Tool {
    name: "brine-key",
    section: 1,
    summary: "list, accept, reject and delete minion keys on the brine master",
    usage: &[
        "[-c DIR] [-L | -l STATE] [--out OUTPUTTER]",
        "[-c DIR] [-y] [--include-rejected] [--include-denied] -a GLOB[,GLOB...] | -A",
        "[-c DIR] [-y] [--include-accepted] [--include-denied] -r GLOB[,GLOB...] | -R",
        "[-c DIR] [-y] -d GLOB[,GLOB...] | -D",
        "[-c DIR] -f GLOB | -F | -p GLOB | -P",
        "--gen-keys NAME [--gen-keys-dir DIR]",
    ],
    description: "brine-key manages the keys minions present to brine-master, as salt-key does. The master keeps one file per minion id, named after the id, in four directories under pki_dir: minions (accepted), minions_pre (unaccepted, waiting for a decision), minions_rejected and minions_denied (a known id that presented a different key). Only minions whose key is accepted may talk to the master.\n\nWhen brine-master runs, brine-key asks it to do the work (the wheel.key functions), so every key accepted, rejected or deleted fires a salt/key event with id, act (accept, reject or delete) and result, and rejecting or deleting a key rotates the session key at once (with rotate_aes_key, the default), so that minion can no longer read publications. When no master runs, brine-key changes the directories itself and no event fires.\n\nWith no action, brine-key lists all keys (-L). Listings print a header for each state, Accepted Keys:, Denied Keys:, Unaccepted Keys: and Rejected Keys:, each followed by its ids, one a line. When several actions are given, the first of --gen-keys, -l, -L, -p, -P, -a, -A, -r, -R, -d, -D, -f, -F runs, as with salt-key.\n\nA GLOB is a shell pattern matched against minion ids as Python's fnmatch does (*, ?, [seq], [!seq]); several may be given separated by commas. Accepting acts on unaccepted keys only unless --include-rejected or --include-denied widen it; rejecting acts on unaccepted keys unless --include-accepted or --include-denied widen it; deleting acts on keys in every state. Before acting, brine-key prints The following keys are going to be accepted: (or rejected:, deleted:) with the keys it matched, then asks Proceed? [n/Y] (accept and reject: an empty answer means yes) or Proceed? [N/y] (delete: an empty answer means no). An answer starting with y or Y proceeds. The question is read from standard input even when it is not a terminal; -y skips it. For each key changed it prints Key for minion ID accepted. (or rejected., deleted.). When nothing matches it prints The key glob 'GLOB' does not match any unaccepted keys. (the states named follow the --include flags).\n\nAccepting a denied key (--include-denied) replaces the accepted key of that id with it: do this only when the minion's key really changed.\n\nA fingerprint is the SHA-256 of a public key's 64 raw bytes as colon-separated hex; -f and -F also show the master's own key files under Local Keys:. Before accepting a key, compare its fingerprint with the one of the minion's own public key.",
    flags: KeyFlag::TABLE,
    sections: &[
        Section {
            title: "EXIT STATUS",
            body: "0 when the listing was printed or the keys were changed, and when the question was answered no. 1 when nothing matched the glob, when no answer could be read from standard input, when the master reported an error, or when the key files cannot be read or written. 2 for a usage or configuration error: an unknown option, an invalid --list argument, an unreadable configuration.",
        },
        Section {
            title: "EXAMPLES",
            body: "List every key:\n\n  brine-key -L\n\nAccept the waiting keys of two minions without a question:\n\n  brine-key -y -a 'web1,web2'\n\nAccept a minion whose key changed (it is listed under Denied Keys):\n\n  brine-key -a web1 --include-denied\n\nCheck a fingerprint, then delete every key of the db minions:\n\n  brine-key -f web1\n  brine-key -d 'db*'\n\nPrint the listing for a script:\n\n  brine-key -L --out json\n\nPre-seed a minion's keys, then copy them to the minion's pki_dir as minion.pem and minion.pub:\n\n  brine-key --gen-keys minion --gen-keys-dir /tmp/web3",
        },
        Section {
            title: "FILES",
            body: "pki_dir/minions, pki_dir/minions_pre, pki_dir/minions_rejected, pki_dir/minions_denied: the minion keys, one file per id (default pki_dir /etc/brine/pki/master).\n\npki_dir/master.pem, pki_dir/master.pub: the master's own keys, its Local Keys.\n\nsock_dir/master_event.ipc: the socket brine-key reaches the master through.",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-master.conf(5), brine-event(1), brine-run(1)",
        },
    ],
};

/// What the command line asks for, after salt-key's priority between actions.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cmd {
    GenKeys(String),
    List(String),
    Print(String),
    Change(Verb, String),
    Finger(String),
}

/// The actions that move or remove keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Accept,
    Reject,
    Delete,
}

impl Verb {
    /// As Salt builds it: `cmd.rstrip("e") + "ed"`.
    fn done(self) -> &'static str {
        match self {
            Verb::Accept => "accepted",
            Verb::Reject => "rejected",
            Verb::Delete => "deleted",
        }
    }

    fn dict_fun(self) -> &'static str {
        match self {
            Verb::Accept => "key.accept_dict",
            Verb::Reject => "key.reject_dict",
            Verb::Delete => "key.delete_dict",
        }
    }
}

/// Which states besides the unaccepted one an action takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Include {
    accepted: bool,
    rejected: bool,
    denied: bool,
}

/// One action's two flags and the command they make.
type Choice = (KeyFlag, KeyFlag, fn(String) -> Cmd);

/// The action, chosen as `KeyCLI._update_opts` does: the first one given in this order
/// wins (an empty glob counts as not given), and listing everything is the default.
fn command(p: &Parsed<KeyFlag>) -> Cmd {
    let given = |flag| p.value(flag).filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(name) = given(KeyFlag::GenKeys) {
        return Cmd::GenKeys(name);
    }
    if let Some(state) = given(KeyFlag::List) {
        return Cmd::List(state);
    }
    if p.has(KeyFlag::ListAll) {
        return Cmd::List("all".into());
    }
    // (the flag with a glob, the flag meaning every key, the command they make)
    let order: [Choice; 5] = [
        (KeyFlag::Print, KeyFlag::PrintAll, Cmd::Print),
        (KeyFlag::Accept, KeyFlag::AcceptAll, |g| {
            Cmd::Change(Verb::Accept, g)
        }),
        (KeyFlag::Reject, KeyFlag::RejectAll, |g| {
            Cmd::Change(Verb::Reject, g)
        }),
        (KeyFlag::Delete, KeyFlag::DeleteAll, |g| {
            Cmd::Change(Verb::Delete, g)
        }),
        (KeyFlag::Finger, KeyFlag::FingerAll, Cmd::Finger),
    ];
    for (one, every, make) in order {
        if let Some(glob) = given(one) {
            return make(glob);
        }
        if p.has(every) {
            return make("*".into());
        }
    }
    Cmd::List("all".into())
}

/// The include flags as salt-key sets them for each action: `--include-all` means
/// rejected keys for accept and accepted keys for reject, never denied ones.
fn include(p: &Parsed<KeyFlag>, verb: Verb) -> Include {
    let mut inc = Include {
        accepted: p.has(KeyFlag::IncludeAccepted),
        rejected: p.has(KeyFlag::IncludeRejected),
        denied: p.has(KeyFlag::IncludeDenied),
    };
    let all = p.has(KeyFlag::IncludeAll);
    match verb {
        Verb::Accept => {
            inc.rejected |= all;
            inc.accepted = false;
        }
        Verb::Reject => {
            inc.accepted |= all;
            inc.rejected = false;
        }
        Verb::Delete => {}
    }
    inc
}

/// What brine-key's command line asks for, checked.
struct KeyArgs {
    conf_dir: PathBuf,
    log_level: log::LevelFilter,
    /// None is Salt's `key` outputter, the default.
    out: Option<Outputter>,
    cmd: Cmd,
    /// The states an accept or reject takes besides the unaccepted one.
    include: Include,
    /// Act without asking.
    yes: bool,
    /// Where `--gen-keys` writes.
    gen_keys_dir: PathBuf,
}

impl KeyArgs {
    fn from_parsed(p: Parsed<KeyFlag>) -> Result<KeyArgs, CliError> {
        if let Some(word) = p.positionals.first() {
            return Err(CliError(format!(
                "unexpected argument '{word}' (see brine-key --help)"
            )));
        }
        let log_level = args::log_level(p.value(KeyFlag::LogLevel))?;
        let out = match p.value(KeyFlag::Out) {
            None | Some("key") => None,
            Some(name) => Some(Outputter::from_name(name).ok_or_else(|| {
                CliError(format!(
                    "unknown outputter '{name}' (one of key, {})",
                    Outputter::NAMES.join(", ")
                ))
            })?),
        };
        let cmd = command(&p);
        if let Cmd::List(state) = &cmd {
            if !["acc", "pre", "un", "rej", "den", "all"]
                .iter()
                .any(|p| state.starts_with(p))
            {
                return Err(CliError(format!(
                    "'{state}' is not a valid argument to '--list'"
                )));
            }
        }
        let include = match &cmd {
            Cmd::Change(verb, _) => include(&p, *verb),
            _ => Include::default(),
        };
        Ok(KeyArgs {
            conf_dir: args::conf_dir(p.value(KeyFlag::ConfigDir)),
            log_level,
            out,
            cmd,
            include,
            yes: p.has(KeyFlag::Yes),
            gen_keys_dir: PathBuf::from(p.value(KeyFlag::GenKeysDir).unwrap_or(".")),
        })
    }
}

/// `The key glob 'G' does not match any unaccepted, accepted or rejected keys.`
fn no_match(glob: &str, inc: Include) -> String {
    let mut states = vec!["unaccepted"];
    for (on, name) in [
        (inc.accepted, "accepted"),
        (inc.rejected, "rejected"),
        (inc.denied, "denied"),
    ] {
        if on {
            states.push(name);
        }
    }
    let words = match states.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => states.join(""),
    };
    format!("The key glob '{glob}' does not match any {words} keys.")
}

/// The header Salt's key outputter prints for a state directory.
fn title(status: &str) -> Option<&'static str> {
    if status == "local" {
        return Some("Local Keys:");
    }
    pki::KeyState::from_dir_name(status).map(|s| s.title())
}

/// Salt's `key` outputter: states sorted by name (so Local, Accepted, Denied, Unaccepted,
/// Rejected), each header followed by its ids sorted by code point, or by `id:  value`
/// lines for maps. None for data it cannot show (Salt then falls back to nested).
fn key_listing(data: &Value) -> Option<String> {
    let Value::Object(m) = data else {
        return None;
    };
    let mut statuses: Vec<&String> = m.keys().collect();
    statuses.sort();
    let mut s = String::new();
    for status in statuses {
        s.push_str(title(status)?);
        s.push('\n');
        match &m[status] {
            Value::Array(items) => {
                let mut ids: Vec<String> = items.iter().map(crate::py::python_str).collect();
                ids.sort();
                for id in ids {
                    s.push_str(&id);
                    s.push('\n');
                }
            }
            Value::Object(map) => {
                let mut ids: Vec<&String> = map.keys().collect();
                ids.sort();
                for id in ids {
                    s.push_str(&format!("{id}:  {}\n", crate::py::python_str(&map[id])));
                }
            }
            _ => {}
        }
    }
    Some(s)
}

/// Renders as `display_output` does: the outputter's text with trailing whitespace cut.
fn render(out: Option<Outputter>, data: &Value) -> String {
    match out {
        Some(o) => output::render(o, data),
        None => match key_listing(data) {
            Some(text) => text.trim_end().to_string(),
            None => output::render(Outputter::Nested, data),
        },
    }
}

/// Prints the rendering and a newline, or nothing when it is empty.
fn display(out: Option<Outputter>, data: &Value) {
    let text = render(out, data);
    if !text.is_empty() {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
    }
}

/// Where the wheel functions run: in the master (events fire) or here (master down).
enum Backend {
    Master(BusClient),
    Local(KeyStore),
}

impl Backend {
    /// The master when it runs, else the key directories under `pki_dir`.
    fn open(cfg: &MasterConfig) -> Result<Backend, String> {
        let socket = client::master_socket(&cfg.sock_dir);
        match BusClient::connect(&socket) {
            Ok(bus) => Ok(Backend::Master(bus)),
            Err(ClientError::NoDaemon(_)) => match KeyStore::open(&cfg.pki_dir) {
                Ok(store) => Ok(Backend::Local(store)),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(format!(
                "cannot reach the master at {}: {e}",
                socket.display()
            )),
        }
    }

    fn call(&mut self, fun: &str, kwarg: Map<String, Value>) -> Result<Value, String> {
        match self {
            Backend::Master(bus) => {
                let req = Request {
                    fun: format!("wheel.{fun}"),
                    arg: Vec::new(),
                    kwarg,
                    user: Some(client::calling_user()),
                    send_return: false,
                };
                match bus.call(&req, Some(ANSWER_TIMEOUT)) {
                    Ok(a) if a.success => Ok(a.ret),
                    Ok(a) => Err(crate::py::python_str(&a.ret)),
                    Err(e) => Err(format!("the master did not answer: {e}")),
                }
            }
            Backend::Local(store) => match crate::wheel::key::call(store, fun, &[], &kwarg) {
                Some(Ok((ret, events))) => {
                    if !events.is_empty() {
                        log::debug!(
                            "{} key change(s) made without a master: no salt/key event fired",
                            events.len()
                        );
                    }
                    Ok(ret)
                }
                Some(Err(e)) => Err(e),
                None => Err(format!("'{fun}' is not available.")),
            },
        }
    }
}

fn kw(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Asks on stdout and reads one line from stdin, as Python's `input()`; None at end of input.
fn ask(question: &str) -> Option<String> {
    let mut o = std::io::stdout().lock();
    let _ = write!(o, "{question}");
    let _ = o.flush();
    drop(o);
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            if line.ends_with('\n') {
                line.pop();
            }
            Some(line)
        }
    }
}

/// Runs brine-key with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let tool = &TOOL;
    let a = match args::build(tool, argv, KeyArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    args::init_log(tool, a.log_level);
    if let Cmd::GenKeys(name) = &a.cmd {
        return match pki::generate_files(&a.gen_keys_dir, name) {
            Ok(keys) => {
                // Salt's key outputter cannot show this, so it falls back to nested.
                display(a.out, &json!({"return": keys.public.fingerprint()}));
                0
            }
            Err(e) => fail(tool.name, e, 1),
        };
    }
    let cfg = match MasterConfig::load(&a.conf_dir) {
        Ok((cfg, _)) => cfg,
        Err(e) => return fail(tool.name, e, EXIT_USAGE),
    };
    let mut backend = match Backend::open(&cfg) {
        Ok(b) => b,
        Err(e) => return fail(tool.name, e, 1),
    };
    match run(&mut backend, &a) {
        Ok(status) => status,
        Err(e) => fail(tool.name, e, 1),
    }
}

fn run(backend: &mut Backend, a: &KeyArgs) -> Result<i32, String> {
    let out = a.out;
    match &a.cmd {
        Cmd::List(state) => {
            let mut ret = backend.call("key.list", kw(&[("match", json!(state))]))?;
            // Salt's CLI drops the master's own keys from listings.
            if let Value::Object(m) = &mut ret {
                m.remove("local");
            }
            display(out, &ret);
            Ok(0)
        }
        Cmd::Print(glob) | Cmd::Finger(glob) => {
            let fun = if matches!(a.cmd, Cmd::Print(_)) {
                "key.print"
            } else {
                "key.finger"
            };
            let ret = backend.call(fun, kw(&[("match", json!(glob))]))?;
            display(out, &ret);
            let nothing = ret.as_object().is_some_and(Map::is_empty);
            Ok(if nothing { 1 } else { 0 })
        }
        Cmd::Change(verb, glob) => change(backend, *verb, glob, a.include, a.yes, out),
        Cmd::GenKeys(_) => Ok(0),
    }
}

/// Accept, reject or delete: match, show, ask, act on exactly the keys shown.
fn change(
    backend: &mut Backend,
    verb: Verb,
    glob: &str,
    inc: Include,
    yes: bool,
    out: Option<Outputter>,
) -> Result<i32, String> {
    let matched = backend.call("key.name_match", kw(&[("match", json!(glob))]))?;
    let Value::Object(matched) = matched else {
        display(out, &matched);
        return Ok(1);
    };
    let chosen = match verb {
        Verb::Delete => matched,
        _ => {
            let mut keep = Map::new();
            let nonempty = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
            for (status, on, need_items) in [
                ("minions_pre", true, false),
                ("minions", inc.accepted, true),
                ("minions_rejected", inc.rejected, true),
                ("minions_denied", inc.denied, true),
            ] {
                if let Some(v) = matched.get(status) {
                    if on && (!need_items || nonempty(v)) {
                        keep.insert(status.to_string(), v.clone());
                    }
                }
            }
            keep
        }
    };
    if chosen.is_empty() {
        println!("{}", no_match(glob, inc));
        return Ok(1);
    }
    println!("The following keys are going to be {}:", verb.done());
    let chosen = Value::Object(chosen);
    display(out, &chosen);
    if !yes {
        let (question, empty_means) = match verb {
            Verb::Delete => ("Proceed? [N/y] ", "n"),
            _ => ("Proceed? [n/Y] ", "y"),
        };
        let Some(answer) = ask(question) else {
            println!();
            return Err("no answer on standard input; nothing was changed (-y answers yes)".into());
        };
        let answer = if answer.is_empty() {
            empty_means.to_string()
        } else {
            answer
        };
        if !answer.to_lowercase().starts_with('y') {
            return Ok(0);
        }
    }
    let args = match verb {
        Verb::Accept => kw(&[
            ("match", chosen.clone()),
            ("include_rejected", json!(inc.rejected)),
            ("include_denied", json!(inc.denied)),
        ]),
        Verb::Reject => kw(&[
            ("match", chosen.clone()),
            ("include_accepted", json!(inc.accepted)),
            ("include_denied", json!(inc.denied)),
        ]),
        Verb::Delete => kw(&[("match", chosen.clone())]),
    };
    let ret = backend.call(verb.dict_fun(), args)?;
    // Salt reports deletions from the list it showed, the rest from where the keys are now.
    let report = if verb == Verb::Delete { chosen } else { ret };
    let mut o = std::io::stdout().lock();
    if let Value::Object(m) = &report {
        for ids in m.values() {
            for id in ids.as_array().into_iter().flatten() {
                let _ = writeln!(
                    o,
                    "Key for minion {} {}.",
                    crate::py::python_str(id),
                    verb.done()
                );
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags;

    fn p(args: &[&str]) -> Parsed<KeyFlag> {
        flags::parse(&TOOL, args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn every_flag_spelling_parses() {
        for args in [
            &["-a", "web*"][..],
            &["-aweb*"],
            &["--accept", "web*"],
            &["--accept=web*"],
        ] {
            assert_eq!(
                command(&p(args)),
                Cmd::Change(Verb::Accept, "web*".into()),
                "{args:?}"
            );
        }
        for (args, want) in [
            (&["-L"][..], Cmd::List("all".into())),
            (&["--list-all"], Cmd::List("all".into())),
            (&[], Cmd::List("all".into())),
            (&["-l", "acc"], Cmd::List("acc".into())),
            (&["--list=un"], Cmd::List("un".into())),
            (&["-A"], Cmd::Change(Verb::Accept, "*".into())),
            (&["--accept-all"], Cmd::Change(Verb::Accept, "*".into())),
            (&["-r", "x"], Cmd::Change(Verb::Reject, "x".into())),
            (&["--reject=x"], Cmd::Change(Verb::Reject, "x".into())),
            (&["-R"], Cmd::Change(Verb::Reject, "*".into())),
            (&["--reject-all"], Cmd::Change(Verb::Reject, "*".into())),
            (&["-d", "x"], Cmd::Change(Verb::Delete, "x".into())),
            (&["--delete", "x"], Cmd::Change(Verb::Delete, "x".into())),
            (&["-D"], Cmd::Change(Verb::Delete, "*".into())),
            (&["--delete-all"], Cmd::Change(Verb::Delete, "*".into())),
            (&["-f", "x"], Cmd::Finger("x".into())),
            (&["--finger", "x"], Cmd::Finger("x".into())),
            (&["-F"], Cmd::Finger("*".into())),
            (&["--finger-all"], Cmd::Finger("*".into())),
            (&["-p", "x"], Cmd::Print("x".into())),
            (&["--print", "x"], Cmd::Print("x".into())),
            (&["-P"], Cmd::Print("*".into())),
            (&["--print-all"], Cmd::Print("*".into())),
            (&["--gen-keys", "m"], Cmd::GenKeys("m".into())),
            (
                &["--gen-keys=m", "--gen-keys-dir", "/tmp"],
                Cmd::GenKeys("m".into()),
            ),
            // An empty glob counts as not given, as in salt-key.
            (&["-a", ""], Cmd::List("all".into())),
            // salt-key's priority between actions.
            (
                &["-d", "x", "-a", "y"],
                Cmd::Change(Verb::Accept, "y".into()),
            ),
            (&["-F", "-l", "acc"], Cmd::List("acc".into())),
            (&["-A", "-p", "x"], Cmd::Print("x".into())),
        ] {
            assert_eq!(command(&p(args)), want, "{args:?}");
        }
        let all = p(&[
            "-y",
            "--yes",
            "--include-rejected",
            "--include-denied",
            "--include-accepted",
            "--include-all",
            "-c",
            "/etc/x",
            "--config-dir=/etc/y",
            "--out",
            "json",
            "--out=yaml",
            "--log-level",
            "debug",
            "-h",
            "--help",
            "-V",
            "--version",
        ]);
        for flag in [
            KeyFlag::Yes,
            KeyFlag::IncludeRejected,
            KeyFlag::IncludeDenied,
            KeyFlag::IncludeAccepted,
            KeyFlag::IncludeAll,
            KeyFlag::Help,
            KeyFlag::Version,
        ] {
            assert!(all.has(flag), "{flag:?}");
        }
        assert_eq!(all.value(KeyFlag::ConfigDir), Some("/etc/y"));
        assert_eq!(all.value(KeyFlag::Out), Some("yaml"));
        assert_eq!(all.value(KeyFlag::LogLevel), Some("debug"));
    }

    #[test]
    fn include_flags_follow_salt_key() {
        let inc = |args: &[&str], verb| include(&p(args), verb);
        let none = Include::default();
        assert_eq!(inc(&["--include-accepted"], Verb::Accept), none);
        assert_eq!(
            inc(&["--include-all"], Verb::Accept),
            Include {
                rejected: true,
                ..none
            }
        );
        assert_eq!(
            inc(&["--include-all", "--include-rejected"], Verb::Reject),
            Include {
                accepted: true,
                ..none
            }
        );
        assert_eq!(
            inc(&["--include-denied", "--include-accepted"], Verb::Delete),
            Include {
                accepted: true,
                denied: true,
                ..none
            }
        );
    }

    #[test]
    fn no_match_names_the_states_searched() {
        let all = Include {
            accepted: true,
            rejected: true,
            denied: true,
        };
        assert_eq!(
            no_match("x", Include::default()),
            "The key glob 'x' does not match any unaccepted keys."
        );
        assert_eq!(
            no_match(
                "w*",
                Include {
                    rejected: true,
                    ..Include::default()
                }
            ),
            "The key glob 'w*' does not match any unaccepted or rejected keys."
        );
        assert_eq!(
            no_match("x", all),
            "The key glob 'x' does not match any unaccepted, accepted, rejected or denied keys."
        );
    }

    #[test]
    fn the_key_outputter_sorts_states_by_name_and_ids_by_code_point() {
        let data = json!({
            "minions_rejected": [],
            "minions_pre": ["b", "A", "a"],
            "minions": ["z"],
            "minions_denied": ["d"],
        });
        assert_eq!(
            render(None, &data),
            "Accepted Keys:\nz\nDenied Keys:\nd\nUnaccepted Keys:\nA\na\nb\nRejected Keys:"
        );
        let fp = json!({"local": {"master.pub": "aa:bb"}, "minions_pre": {"m1": "cc:dd"}});
        assert_eq!(
            render(None, &fp),
            "Local Keys:\nmaster.pub:  aa:bb\nUnaccepted Keys:\nm1:  cc:dd"
        );
        // What the key outputter cannot show goes to nested, as in Salt.
        assert_eq!(render(None, &json!({"return": "aa"})), "return:\n    aa");
        assert_eq!(render(None, &json!({})), "");
        assert_eq!(
            render(Some(Outputter::Json), &json!({"minions": ["a"]})),
            "{\n    \"minions\": [\n        \"a\"\n    ]\n}"
        );
    }

    #[test]
    fn the_man_page_and_help_cover_every_flag() {
        let man = flags::man(&TOOL);
        for section in ["EXIT STATUS", "EXAMPLES", "SEE ALSO"] {
            assert!(man.contains(&format!(".SH {section}")), "{section}");
        }
        let help = flags::help(&TOOL);
        for f in TOOL.flags {
            assert!(help.contains(&format!("--{}", f.long)), "{}", f.long);
        }
        let mut shorts: Vec<char> = TOOL.flags.iter().filter_map(|f| f.short).collect();
        let n = shorts.len();
        shorts.sort();
        shorts.dedup();
        assert_eq!(shorts.len(), n, "a short flag is used twice");
    }
}
