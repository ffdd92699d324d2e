//! Salt's `highstate` outputter (`salt/output/highstate.py`), byte for byte with colour off:
//! what `salt-call state.apply`, `salt '*' state.apply` and `salt-run state.orchestrate` print.
//!
//! The input is `{minion_id: return}`. A return is a state dict `{tag: state return}`, a list of
//! errors (`Data failed to compile:`), a string or a number. Salt's code reads the return with
//! Python's loose rules and fails on shapes it does not expect (a state without `comment`, a
//! `result` that is a list); `try_printout` then prints the whole data with the nested
//! outputter instead. [`format`] does the same: each such point returns [`Fallback`], and the
//! nested text is of the data as Salt had changed it by then (durations already `"… ms"`),
//! because Salt edits the returns in place while it renders them.
//!
//! Ground truth is differential: `tests/fixtures/salt/highstate.json`, made by Salt 3007.15
//! (`tests/fixtures/gen_highstate_fixtures.py`).

mod compress;

use super::output::{self, Outputter};
use crate::py::{is_py_space, python_float, python_str, truthy};
use serde_json::{Map, Value};

/// The options Salt's outputter reads from the master or minion configuration (and the
/// `--state-output`/`--state-verbose` flags), with Salt's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct HighstateOpts {
    /// full, terse, mixed, changes or filter, each also with `_id` (any case; Salt matches
    /// prefixes, so an unknown word is full).
    pub state_output: String,
    /// False hides the states that succeeded without changes.
    pub state_verbose: bool,
    /// Show Started/Duration and the total run time.
    pub state_output_profile: bool,
    /// Show only the states that changed or failed (`salt --output-diff`).
    pub state_output_diff: bool,
    /// Add `Success %` and `Failure %` to the summary.
    pub state_output_pct: bool,
    /// Fold the states of one ID and result (its `names`) into one.
    pub state_compress_ids: bool,
    /// Terse lines as aligned columns.
    pub state_tabular: bool,
    /// For `filter`: results (`True`, `False`, `None`) whose states are not shown, a list or a
    /// comma-separated string.
    pub state_output_exclude: Value,
    /// For `filter`: results whose states are shown terse.
    pub state_output_terse: Value,
    /// The command line's keyword arguments (`exclude=`, `terse=`), which win over the two
    /// above, as Salt reads them from `opts["arg"]`.
    pub cli_kwargs: Map<String, Value>,
}

impl Default for HighstateOpts {
    fn default() -> Self {
        HighstateOpts {
            state_output: "full".into(),
            state_verbose: true,
            state_output_profile: true,
            state_output_diff: false,
            state_output_pct: false,
            state_compress_ids: false,
            state_tabular: false,
            state_output_exclude: Value::Array(Vec::new()),
            state_output_terse: Value::Array(Vec::new()),
            cli_kwargs: Map::new(),
        }
    }
}

impl HighstateOpts {
    /// Reads Salt's option names from a configuration's values; missing ones keep Salt's
    /// defaults, and a flag is on when its value is truthy, as Salt tests it.
    pub fn from_opts(opts: &Map<String, Value>) -> HighstateOpts {
        let mut o = HighstateOpts::default();
        let flag = |name: &str, default: bool| opts.get(name).map_or(default, truthy);
        if let Some(v) = opts.get("state_output") {
            o.state_output = python_str(v);
        }
        o.state_verbose = flag("state_verbose", o.state_verbose);
        o.state_output_profile = flag("state_output_profile", o.state_output_profile);
        o.state_output_diff = flag("state_output_diff", o.state_output_diff);
        o.state_output_pct = flag("state_output_pct", o.state_output_pct);
        o.state_compress_ids = flag("state_compress_ids", o.state_compress_ids);
        // Salt tests `is True`: any other value (a custom format string) is not tabular.
        o.state_tabular = opts.get("state_tabular") == Some(&Value::Bool(true));
        if let Some(v) = opts.get("state_output_exclude") {
            o.state_output_exclude = v.clone();
        }
        if let Some(v) = opts.get("state_output_terse") {
            o.state_output_terse = v.clone();
        }
        // The last `{"__kwarg__": True, ...}` item of the command line's arguments.
        if let Some(Value::Array(args)) = opts.get("arg") {
            for item in args {
                if let Value::Object(m) = item {
                    if m.contains_key("__kwarg__") {
                        o.cli_kwargs = m.clone();
                    }
                }
            }
        }
        o
    }
}

/// The modes `state_output` and `--state-output` take (also in any case).
pub const STATE_OUTPUTS: &[&str] = &[
    "full",
    "terse",
    "mixed",
    "changes",
    "filter",
    "full_id",
    "terse_id",
    "mixed_id",
    "changes_id",
    "filter_id",
];

/// True when `mode` is one of [`STATE_OUTPUTS`], in any case.
pub fn is_state_output(mode: &str) -> bool {
    STATE_OUTPUTS.contains(&mode.to_lowercase().as_str())
}

/// The state functions whose returns Salt prints with this outputter (`__outputter__` of
/// `salt/modules/state.py`; `state.show_*` and the rest print nested).
pub const STATE_FUNCTIONS: &[&str] = crate::states::apply::HIGHSTATE_OUTPUT;

/// True when Salt prints the return of execution function `fun` with this outputter.
pub fn is_state_function(fun: &str) -> bool {
    STATE_FUNCTIONS.contains(&fun)
}

/// Where Salt's code raised a KeyError, TypeError or AttributeError: the caller prints the
/// data with the nested outputter instead.
#[derive(Debug)]
struct Fallback;

type R<T> = Result<T, Fallback>;

/// Renders `{minion_id: return}` as `salt-call`/`salt` print it, without the final newline
/// and with trailing whitespace stripped ("" prints nothing).
pub fn format(data: &Value, opts: &HighstateOpts) -> String {
    // Salt renders and edits the same objects; on a fallback the edits show in the nested text.
    let mut work = data.clone();
    match output(&mut work, 1, opts) {
        Ok(text) => text.trim_end_matches(is_py_space).to_string(),
        Err(Fallback) => output::render(Outputter::Nested, &work),
    }
}

/// `output()`: unwraps the envelopes Salt accepts (`return`, `data`, a job lookup), drops
/// an orchestration's `retcode`, and formats each host. `level` is how deep in orchestrations.
fn output(data: &mut Value, level: usize, o: &HighstateOpts) -> R<String> {
    let path = envelope(data)?;
    let mut data = data;
    for key in &path {
        data = match data.get_mut(key.as_str()) {
            Some(v) => v,
            None => return Err(Fallback),
        };
    }
    let map = match data {
        Value::String(s) => return Ok(s.clone()),
        Value::Null => return Ok("None".into()),
        // An int goes back to try_printout, which cannot rstrip it; anything else has no keys.
        Value::Object(m) => m,
        _ => return Err(Fallback),
    };
    let masters = map.keys().filter(|k| k.ends_with("_master")).count();
    if map.contains_key("retcode") && masters == 1 {
        map.shift_remove("retcode");
    }
    if o.state_compress_ids {
        if let Some(c) = compress::compress_ids(map) {
            *map = c;
        }
    }
    let mut hosts = Vec::new();
    for (host, hostdata) in map.iter_mut() {
        hosts.push(format_host(host, hostdata, level, o)?.0);
    }
    Ok(hosts.join("\n"))
}

/// The keys that lead from the data to the host map inside Salt's envelopes.
fn envelope(data: &Value) -> R<Vec<String>> {
    let mut path: Vec<String> = Vec::new();
    let mut cur = data;
    for key in ["return", "data"] {
        if let Some(inner) = cur.as_object().and_then(|m| m.get(key)) {
            path.push(key.into());
            cur = inner;
        }
    }
    // A job lookup, {id: {jid, fun, return: {data: ...}}}.
    if let Some(m) = cur.as_object().filter(|m| m.len() == 1) {
        if let Some((id, Value::Object(job))) = m.iter().next() {
            if job.contains_key("jid") && job.contains_key("fun") {
                match job.get("return") {
                    None => {}
                    Some(Value::Object(r)) if r.contains_key("data") => {
                        path.extend([id.clone(), "return".into(), "data".into()]);
                    }
                    Some(Value::Object(_)) => {}
                    Some(_) => return Err(Fallback),
                }
            }
        }
    }
    Ok(path)
}

/// A result as a key of Salt's count dict: Python's `True == 1 == 1.0` share one key.
#[derive(Clone, Debug, PartialEq)]
enum Key {
    Num(f64),
    Str(String),
    None,
}

const TRUE: Key = Key::Num(1.0);
const FALSE: Key = Key::Num(0.0);

fn key_of(v: &Value) -> R<Key> {
    match v {
        Value::Bool(b) => Ok(Key::Num(if *b { 1.0 } else { 0.0 })),
        Value::Number(n) => Ok(Key::Num(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => Ok(Key::Str(s.clone())),
        Value::Null => Ok(Key::None),
        // Unhashable.
        _ => Err(Fallback),
    }
}

/// The per-result counts of a host, in first-seen order.
#[derive(Default)]
struct Counts(Vec<(Key, u64)>);

impl Counts {
    fn add(&mut self, key: Key, n: u64) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += n,
            None => self.0.push((key, n)),
        }
    }
    fn get(&self, key: &Key) -> u64 {
        self.0.iter().find(|(k, _)| k == key).map_or(0, |(_, c)| *c)
    }
    fn sum(&self) -> u64 {
        self.0.iter().map(|(_, c)| c).sum()
    }
}

fn warnings_key() -> Key {
    Key::Str("warnings".into())
}

/// What a host's states add up to while they are rendered.
#[derive(Default)]
struct Tally {
    counts: Counts,
    /// Durations of states run in sequence, and of parallel ones (which count as their max).
    serial: Vec<f64>,
    parallel: Vec<f64>,
    /// States with changes.
    changes: u64,
}

/// `_format_host`: one host's text, and whether any of its states changed something.
fn format_host(host: &str, data: &mut Value, level: usize, o: &HighstateOpts) -> R<(String, bool)> {
    let mut lines: Vec<String> = Vec::new();
    let mut changed = false;
    if is_int(data) {
        changed = true;
        lines.push(format!("    {}", python_str(data)));
    }
    match data {
        // A string (from salt.function in an orchestration) is always a change.
        Value::String(s) => {
            changed = true;
            for line in output::py_splitlines(s) {
                lines.push(format!("    {line}"));
            }
        }
        Value::Array(errors) => {
            lines.push("    Data failed to compile:".into());
            for err in errors.iter() {
                let text = match err {
                    Value::String(s) => s.replace('\x1b', "?"),
                    other => python_str(other),
                };
                lines.push(format!("----------\n    {text}"));
            }
        }
        Value::Object(states) => {
            let mut tally = Tally::default();
            format_states(states, level, o, &mut lines, &mut tally)?;
            summary(host, o, &tally, &mut lines);
            changed = tally.changes > 0;
        }
        _ => {}
    }
    lines.insert(0, format!("{}:", host.replace('\x1b', "?")));
    Ok((lines.join("\n"), changed))
}

fn is_int(v: &Value) -> bool {
    v.is_boolean() || v.is_i64() || v.is_u64()
}

/// The states of one host, in run order, each full or terse as the options say.
fn format_states(
    states: &mut Map<String, Value>,
    level: usize,
    o: &HighstateOpts,
    lines: &mut Vec<String>,
    tally: &mut Tally,
) -> R<()> {
    let mut tags = Vec::new();
    for (tag, info) in states.iter() {
        let Value::Object(m) = info else { continue };
        if tag != "changes" && !m.is_empty() && !m.contains_key("__run_num__") {
            lines.insert(0, crate::py::pformat(info));
            lines.insert(
                0,
                "The State execution failed to record the order in which all states were \
                 executed. The state return missing data is:"
                    .into(),
            );
        }
        if m.contains_key("result") {
            tags.push(tag.clone());
        }
    }
    let tags = run_order(states, tags)?;
    let state_output = o.state_output.to_lowercase();
    for tag in tags {
        let Some(Value::Object(ret)) = states.get_mut(&tag) else {
            continue;
        };
        format_state(&tag, ret, level, o, &state_output, lines, tally)?;
    }
    Ok(())
}

/// The tags sorted by `__run_num__` (0 when missing), stable; Python cannot order mixed types.
fn run_order(states: &Map<String, Value>, tags: Vec<String>) -> R<Vec<String>> {
    let zero = Value::from(0);
    let mut keyed: Vec<(&Value, String)> = tags
        .into_iter()
        .map(|t| {
            let n = states
                .get(&t)
                .and_then(|s| s.get("__run_num__"))
                .unwrap_or(&zero);
            (n, t)
        })
        .collect();
    if keyed.len() < 2 {
        return Ok(keyed.into_iter().map(|(_, t)| t).collect());
    }
    let numbers: Option<Vec<f64>> = keyed.iter().map(|(n, _)| number(n)).collect();
    if let Some(numbers) = numbers {
        let mut order: Vec<usize> = (0..keyed.len()).collect();
        order.sort_by(|a, b| numbers[*a].total_cmp(&numbers[*b]));
        return Ok(order.into_iter().map(|i| keyed[i].1.clone()).collect());
    }
    if keyed.iter().all(|(n, _)| n.is_string()) {
        keyed.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
        return Ok(keyed.into_iter().map(|(_, t)| t).collect());
    }
    Err(Fallback)
}

/// A number as Python compares it (bools are 0 and 1).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// One state: counted, then shown full or terse, or hidden.
fn format_state(
    tag: &str,
    ret: &mut Map<String, Value>,
    level: usize,
    o: &HighstateOpts,
    state_output: &str,
    lines: &mut Vec<String>,
    tally: &mut Tally,
) -> R<()> {
    let result = ret.get("result").cloned().unwrap_or(Value::Null);
    let compressed = if o.state_compress_ids && tag.contains("_|-state_compressed_") {
        compress::count_of(tag)
    } else {
        1
    };
    tally.counts.add(key_of(&result)?, compressed);
    let zero = Value::from(0);
    if let Some(d) = duration(ret.get("duration").unwrap_or(&zero))? {
        if ret.contains_key("__parallel__") {
            tally.parallel.push(d);
        } else {
            tally.serial.push(d);
        }
    }
    let orchestration = matches!(
        ret.get("name").and_then(Value::as_str),
        Some("state.orch" | "state.orchestrate" | "state.sls")
    );
    let (schanged, ctext) = if orchestration {
        // A runner's return under changes is itself rendered, one level deeper.
        let changes = ret.get_mut("changes").ok_or(Fallback)?;
        let nested = output(changes, level + 1, o)?;
        let pad = " ".repeat(14 * level);
        let text: Vec<String> = format!("\n{nested}")
            .split('\n')
            .map(|l| format!("{pad}{l}"))
            .collect();
        tally.changes += 1;
        (true, text.join("\n"))
    } else {
        let changes = ret.get_mut("changes").ok_or(Fallback)?;
        let (schanged, ctext) = format_changes(changes, o)?;
        if schanged && compressed > 1 {
            let n = match changes {
                Value::Object(m) => match m.get("compressed changes") {
                    None => 0,
                    Some(Value::Object(c)) => c.len(),
                    Some(Value::Array(c)) => c.len(),
                    Some(Value::String(c)) => c.chars().count(),
                    Some(_) => return Err(Fallback),
                },
                _ => return Err(Fallback),
            };
            tally.changes += n.max(1) as u64;
        } else if schanged {
            tally.changes += 1;
        }
        (schanged, ctext)
    };
    let ok_unchanged = truthy(&result) && !schanged;
    if (o.state_output_diff || !o.state_verbose) && ok_unchanged {
        return Ok(());
    }
    let mut comps: Vec<String> = tag.split("_|-").map(str::to_string).collect();
    if state_output.ends_with("_id") {
        // The ID in place of the name (Salt #35137).
        let id = comps.get(1).cloned().ok_or(Fallback)?;
        *comps.get_mut(2).ok_or(Fallback)? = id;
    }
    if state_output.starts_with("filter") {
        let pick = |key: &str, opt: &Value| o.cli_kwargs.get(key).unwrap_or(opt).clone();
        let shown = python_str(&result);
        if contains(&pick("terse", &o.state_output_terse), &shown)? {
            lines.push(terse_line(&comps, ret, o)?);
            return Ok(());
        }
        if contains(&pick("exclude", &o.state_output_exclude), &shown)? {
            return Ok(());
        }
    } else if state_output.starts_with("terse")
        || (state_output.starts_with("mixed") && result != Value::Bool(false))
        || (state_output.starts_with("changes") && ok_unchanged)
    {
        lines.push(terse_line(&comps, ret, o)?);
        return Ok(());
    }
    full_state(&comps, ret, o, &result, &ctext, lines, tally)
}

/// Python's `x in container` for the filter lists: a string is split at commas first.
fn contains(container: &Value, s: &str) -> R<bool> {
    match container {
        Value::String(c) => Ok(c.split(',').any(|p| p == s)),
        Value::Array(a) => Ok(a.iter().any(|x| x.as_str() == Some(s))),
        Value::Object(m) => Ok(m.contains_key(s)),
        _ => Err(Fallback),
    }
}

/// Python's `float(duration)`, then the text before " ms"; `None` when neither parses (Salt
/// logs it and leaves the state out of the total).
fn duration(v: &Value) -> R<Option<f64>> {
    match v {
        Value::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) => {
            Ok(py_float(s).or_else(|| s.split_once(" ms").and_then(|(head, _)| py_float(head))))
        }
        _ => Err(Fallback),
    }
}

/// Python's `float(str)`: surrounding whitespace and underscores between digits allowed.
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_py_space);
    let chars: Vec<char> = t.chars().collect();
    let underscores_ok = chars.iter().enumerate().all(|(i, c)| {
        *c != '_'
            || (i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
    });
    if !underscores_ok {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// `_format_changes`: whether the changes count, and their text after `Changes:   `.
fn format_changes(changes: &mut Value, o: &HighstateOpts) -> R<(bool, String)> {
    if !truthy(changes) {
        return Ok((false, String::new()));
    }
    let Value::Object(m) = changes else {
        return Ok((
            true,
            format!("Invalid Changes data: {}", python_str(changes)),
        ));
    };
    let nested_highstate = m.get("ret").is_some_and(|r| !r.is_null())
        && m.get("out").and_then(Value::as_str) == Some("highstate");
    if !nested_highstate {
        return Ok((true, format!("\n{}", output::nested_at(changes, 14))));
    }
    // An orchestration's salt.state: each minion's highstate, indented under Changes.
    let Some(Value::Object(hosts)) = m.get_mut("ret") else {
        return Err(Fallback);
    };
    let mut text = String::new();
    let mut changed = false;
    for (host, hostdata) in hosts.iter_mut() {
        let (s, c) = format_host(host, hostdata, 1, o)?;
        for line in output::py_splitlines(&s) {
            text.push_str("\n              ");
            text.push_str(line);
        }
        changed |= c;
    }
    Ok((changed, text))
}

/// Python's `"\n".join(warnings)`: strings only; a string joins its characters, a dict its keys.
fn joined_warnings(w: &Value) -> R<String> {
    let parts: Vec<String> = match w {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or(Fallback))
            .collect::<R<_>>()?,
        Value::String(s) => s.chars().map(String::from).collect(),
        Value::Object(m) => m.keys().cloned().collect(),
        _ => return Err(Fallback),
    };
    Ok(parts.join("\n"))
}

/// `_format_terse`: one line for a state.
fn terse_line(comps: &[String], ret: &Map<String, Value>, o: &HighstateOpts) -> R<String> {
    let result = match ret.get("result") {
        Some(Value::Bool(false)) => "Failed",
        Some(Value::Null) => "Differs",
        _ if ret.get("changes").is_some_and(truthy) => "Changed",
        _ => "Clean",
    };
    let name = comps.get(2).ok_or(Fallback)?;
    let (module, fun) = (&comps[0], comps.last().unwrap_or(&comps[0]));
    let warnings = match ret.get("warnings") {
        Some(w) => Some(joined_warnings(w)?),
        None => None,
    };
    let timing = match (o.state_output_profile, ret.get("start_time")) {
        (true, Some(start)) => {
            let d = ret.get("duration").ok_or(Fallback)?;
            Some((python_str(start), python_str(d)))
        }
        _ => None,
    };
    let mut s = String::new();
    if o.state_tabular {
        if let Some(w) = warnings {
            s.push_str(&format!("Warnings:\n{w}\n"));
        }
        if let Some((start, d)) = timing {
            s.push_str(&format!("{start} [{d:>7} ms] "));
        }
        s.push_str(&format!("{module:>10}.{fun:<10} {result:7}   Name: {name}"));
    } else {
        // The warnings run straight into the line, as Salt prints them.
        if let Some(w) = warnings {
            s.push_str(&format!("Warnings:\n{w}"));
        }
        s.push_str(&format!(
            "  Name: {name} - Function: {module}.{fun} - Result: {result}"
        ));
        if let Some((start, d)) = timing {
            s.push_str(&format!(" - Started: {start} - Duration: {d} ms"));
        }
    }
    Ok(s)
}

/// The full block of a state: ID, Function, Name, Result, Comment, Started, Duration,
/// Changes and Warnings. Edits `ret` as Salt does (comment made a string, duration "… ms").
fn full_state(
    comps: &[String],
    ret: &mut Map<String, Value>,
    o: &HighstateOpts,
    result: &Value,
    ctext: &str,
    lines: &mut Vec<String>,
    tally: &mut Tally,
) -> R<()> {
    let part = |i: usize| comps.get(i).ok_or(Fallback);
    let (module, id, name, fun) = (part(0)?, part(1)?, part(2)?, part(3)?);
    let timed = o.state_output_profile && ret.contains_key("start_time");
    let comment = ret.get_mut("comment").ok_or(Fallback)?;
    if !comment.is_string() {
        *comment = Value::String(python_str(comment));
    }
    let mut comment = comment
        .as_str()
        .unwrap_or("")
        .trim_matches(is_py_space)
        .replace('\n', &format!("\n{}", " ".repeat(14)));
    match ret.get("data") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                comment = format!("{comment} {}", python_str(item));
            }
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                comment = format!("{comment}\n\t\t{k}: {}", python_str(v));
            }
        }
        Some(other) => comment = format!("{comment} {}", python_str(other)),
    }
    for key in ["start_time", "duration"] {
        ret.entry(key)
            .or_insert_with(|| Value::String(String::new()));
    }
    if ret.get("duration") != Some(&Value::String(String::new())) {
        let d = ret.get("duration").map(python_str).unwrap_or_default();
        ret.insert("duration".into(), Value::String(format!("{d} ms")));
    }
    lines.push("----------".into());
    lines.push(format!("          ID: {id}"));
    lines.push(format!("    Function: {module}.{fun}"));
    if id != name {
        lines.push(format!("        Name: {name}"));
    }
    lines.push(format!("      Result: {}", python_str(result)));
    lines.push(format!("     Comment: {comment}"));
    if timed {
        let shown = |k: &str| ret.get(k).map(python_str).unwrap_or_default();
        lines.push(format!("     Started: {}", shown("start_time")));
        lines.push(format!("    Duration: {}", shown("duration")));
    }
    lines.push(format!("     Changes:   {ctext}"));
    if let Some(w) = ret.get("warnings") {
        tally.counts.add(warnings_key(), 1);
        let text =
            crate::py::textwrap::fill(&joined_warnings(w)?, 80, &" ".repeat(14), &" ".repeat(14));
        lines.push(format!(
            "    Warnings: {}",
            text.trim_start_matches(is_py_space)
        ));
    }
    Ok(())
}

/// The summary block: counts right-aligned to the widest count, then the total run time.
fn summary(host: &str, o: &HighstateOpts, tally: &Tally, lines: &mut Vec<String>) {
    let c = &tally.counts;
    let widest =
        c.0.iter()
            .map(|(_, n)| n.to_string().len())
            .max()
            .unwrap_or(0);
    // "Succeeded" is the longest label; 2 for ": ".
    let width = 9 + widest + 2;
    let row = |label: &str, value: &str| {
        let pad = width.saturating_sub(label.chars().count() + 2);
        format!("{label}: {value:>pad$}")
    };
    lines.push(format!("\nSummary for {host}\n{}", "-".repeat(width)));
    let (ok, none, failed) = (c.get(&TRUE), c.get(&Key::None), c.get(&FALSE));
    let mut stats = Vec::new();
    if none > 0 {
        stats.push(format!("unchanged={none}"));
    }
    if tally.changes > 0 {
        stats.push(format!("changed={}", tally.changes));
    }
    let stats = if stats.is_empty() {
        String::new()
    } else {
        format!(" ({})", stats.join(", "))
    };
    lines.push(format!(
        "{}{stats}",
        row("Succeeded", &(ok + none).to_string())
    ));
    lines.push(row("Failed", &failed.to_string()));
    let warnings = c.get(&warnings_key());
    let run = c.sum() - warnings;
    if o.state_output_pct && run > 0 {
        let pct = |n: u64| python_float(py_round(n as f64 / run as f64 * 100.0, 2));
        lines.push(row("Success %", &pct(ok + none)));
        lines.push(row("Failure %", &pct(failed)));
    }
    if warnings > 0 {
        lines.push(row("Warnings", &warnings.to_string()));
    }
    let pad = width.saturating_sub(7);
    lines.push(format!(
        "{}\nTotal states run: {run:>pad$}",
        "-".repeat(width)
    ));
    if o.state_output_profile {
        let mut total: f64 = tally.serial.iter().fold(0.0, |a, b| a + b);
        if let Some(max) = tally.parallel.iter().copied().reduce(f64::max) {
            total += max;
        }
        let mut unit = "ms";
        if total > 999.0 {
            total /= 1000.0;
            unit = "s";
        }
        let pad = width.saturating_sub(5);
        lines.push(format!("Total run time: {:>pad$} {unit}", fixed3(total)));
    }
}

/// Python's `f"{x:.3f}"`.
fn fixed3(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:.3}")
    }
}

/// Python's `round(x, digits)` for a float: the nearest decimal, ties to even on the exact
/// binary value, which is also how Rust's `{:.N}` rounds.
fn py_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests;
