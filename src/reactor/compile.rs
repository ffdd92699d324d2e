//! From rendered reactor YAML to reactions (salt-spec §4.3 step 4, §4.4, §4.5).
//!
//! The steps follow Salt's: each file's IDs are merged into one ordered "high data" map (a later
//! file's ID replaces the body but keeps the earlier position); the whole map is validated as
//! `verify_high` does, and any error drops every reaction of the event; the IDs become chunks,
//! ordered as Salt's state compiler orders them; and each chunk's arguments are resolved as
//! `ReactWrap.run` resolves them, where a bad chunk is skipped with Salt's log line and the
//! others still run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ReactorError;
use crate::py::python_repr;
use crate::signature::Param;
use crate::yaml::{parse_entries, YamlError};

/// Looks up a runner's or wheel function's signature by `module.function`, for the legacy
/// schema that binds chunk keys to parameters by name. `None`: no such function.
pub type Signatures<'a> = &'a dyn Fn(Kind, &str) -> Option<&'static [Param]>;

/// The four reaction types (`cmd` is an alias of `local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Publish a job to minions, like `LocalClient.cmd_async`.
    Local,
    /// A runner on the master's worker pool.
    Runner,
    /// A wheel function on the master's worker pool.
    Wheel,
    /// An execution function run in-process by a minion-side reactor engine.
    Caller,
}

impl Kind {
    /// The type as written before the first dot of the function key, aliases included.
    pub fn from_state(state: &str) -> Option<Kind> {
        match state {
            "local" | "cmd" => Some(Kind::Local),
            "runner" => Some(Kind::Runner),
            "wheel" => Some(Kind::Wheel),
            "caller" => Some(Kind::Caller),
            _ => None,
        }
    }

    /// The canonical name, as Salt's log lines print it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Runner => "runner",
            Kind::Wheel => "wheel",
            Kind::Caller => "caller",
        }
    }
}

/// One reaction to dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    /// The ID it was declared under.
    pub id: String,
    /// The SLS file that declared it (the last one, when files share the ID).
    pub sls: PathBuf,
    /// The function, `module.function`.
    pub fun: String,
    /// Positional arguments.
    pub arg: Vec<Value>,
    /// Keyword arguments.
    pub kwarg: Map<String, Value>,
    /// The type, with what only `local` has.
    #[serde(flatten)]
    pub call: Call,
}

impl Reaction {
    /// The reaction type.
    pub fn kind(&self) -> Kind {
        match self.call {
            Call::Local(_) => Kind::Local,
            Call::Runner => Kind::Runner,
            Call::Wheel => Kind::Wheel,
            Call::Caller => Kind::Caller,
        }
    }
}

/// How a reaction is dispatched. Runner and wheel reactions run with `__user__: "Reactor"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Call {
    /// `LocalClient.cmd_async(tgt, fun, arg, kwarg, tgt_type, ret, ...)`.
    Local(Box<Target>),
    /// `RunnerClient.low(fun, {arg, kwarg, __user__: "Reactor"})`.
    Runner,
    /// `Wheel.low(fun, {arg, kwarg, __user__: "Reactor"})`.
    Wheel,
    /// `Caller.cmd(fun, *arg, **kwarg)`.
    Caller,
}

/// Where and how a local reaction publishes its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The target expression (a string, or a list for `list` targeting).
    pub tgt: Value,
    /// `tgt_type` (or the older `expr_form`), default `glob`.
    pub tgt_type: String,
    /// Returners, comma-separated, as `cmd_async`'s `ret`.
    pub ret: Option<String>,
    /// `timeout` in seconds, when given.
    pub timeout: Option<u64>,
    /// Any other chunk keys, which `cmd_async` passes on to the publication.
    pub options: Map<String, Value>,
}

/// A per-reaction message: a reaction skipped, or a warning about one that still runs. The
/// message is Salt's log line where Salt has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The reaction's ID.
    pub id: String,
    /// The SLS file that declared it.
    pub sls: PathBuf,
    /// The log line.
    pub message: String,
}

/// One top-level ID of a rendered file.
#[derive(Debug, Clone, PartialEq)]
pub struct Id {
    /// The ID.
    pub id: String,
    /// The 1-based line of the ID in the rendered text.
    pub line: usize,
    /// Everything under it.
    pub body: Value,
}

/// What [`compile`] produced when the high data was valid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// Reactions to dispatch, in order.
    pub reactions: Vec<Reaction>,
    /// Reactions skipped, each with Salt's log line.
    pub skipped: Vec<Notice>,
    /// Warnings about reactions that still run.
    pub warnings: Vec<Notice>,
}

/// Reads one file's rendered YAML as Salt's PyYAML loader reads it: an ordered map of IDs
/// (none for an empty render), with the line of each.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Id>, ReactorError> {
    let entries = parse_entries(file, text.as_bytes()).map_err(|e| match e {
        YamlError::Syntax {
            file,
            line,
            column,
            message,
        } => ReactorError::Yaml {
            file,
            line,
            column,
            message,
        },
        YamlError::NotAMap {
            file,
            line,
            column,
            found,
        } => ReactorError::Yaml {
            file,
            line,
            column,
            message: format!("expected a map of reaction IDs at the top level, found {found}"),
        },
    })?;
    Ok(entries
        .into_iter()
        .map(|e| Id {
            id: e.key,
            line: e.key_at.line,
            body: e.value,
        })
        .collect())
}

/// Keys of a chunk that are bookkeeping, never arguments (Salt's `REACTOR_INTERNAL_KEYWORDS`).
const INTERNAL: &[&str] = &["__id__", "__sls__", "name", "order", "fun", "key", "state"];

/// Merges, validates and compiles the IDs of each file (in the order the files matched) into
/// reactions. Err: the merged data is invalid, and no reaction of this event runs.
pub fn compile(
    files: Vec<(PathBuf, Vec<Id>)>,
    signatures: Signatures<'_>,
) -> Result<Output, ReactorError> {
    let high = merge(files);
    let chunks = verify(&high)?;
    let mut out = Output::default();
    for chunk in order(chunks) {
        match resolve(&chunk, signatures, &mut out.warnings) {
            Ok(reaction) => out.reactions.push(reaction),
            Err(message) => out.skipped.push(Notice {
                id: chunk.id.clone(),
                sls: chunk.sls.clone(),
                message,
            }),
        }
    }
    Ok(out)
}

/// One ID of the merged high data.
struct Declared {
    id: String,
    sls: PathBuf,
    line: usize,
    body: Value,
}

/// Python's `dict.update` across files: a later body wins, the first position stays.
fn merge(files: Vec<(PathBuf, Vec<Id>)>) -> Vec<Declared> {
    let mut high: Vec<Declared> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (sls, ids) in files {
        for Id { id, line, body } in ids {
            match index.get(&id) {
                Some(&at) => {
                    if let Some(slot) = high.get_mut(at) {
                        slot.sls.clone_from(&sls);
                        slot.line = line;
                        slot.body = body;
                    }
                }
                None => {
                    index.insert(id.clone(), high.len());
                    high.push(Declared {
                        id,
                        sls: sls.clone(),
                        line,
                        body,
                    });
                }
            }
        }
    }
    high
}

/// A compiled chunk: one ID's function and its arguments.
#[derive(Debug)]
struct Chunk {
    id: String,
    sls: PathBuf,
    kind: Kind,
    fun: String,
    /// Salt's low data: `state`, `name`, `__sls__`, `__id__`, every argument, then `fun`.
    low: Map<String, Value>,
}

/// An error of the merged data, before it becomes the event's one error.
struct Problem {
    sls: PathBuf,
    line: usize,
    message: String,
}

/// `verify_high` and `compile_high_data`: every ID must be one `type.module.function` key (or
/// the `id: type.module.function` shorthand) with a list of one-key maps as arguments.
fn verify(high: &[Declared]) -> Result<Vec<Chunk>, ReactorError> {
    let mut chunks = Vec::with_capacity(high.len());
    let mut problems = Vec::new();
    for declared in high {
        match chunk(declared) {
            Ok(Some(chunk)) => chunks.push(chunk),
            Ok(None) => {}
            Err(message) => problems.push(Problem {
                sls: declared.sls.clone(),
                line: declared.line,
                message: format!("ID '{}': {message}", declared.id),
            }),
        }
    }
    let mut problems = problems.into_iter();
    match problems.next() {
        None => Ok(chunks),
        Some(first) => Err(ReactorError::Invalid {
            file: first.sls,
            line: Some(first.line),
            message: first.message,
            more: problems.len(),
        }),
    }
}

/// One ID's chunk; `None` for IDs Salt skips (those starting with `__`).
fn chunk(declared: &Declared) -> Result<Option<Chunk>, String> {
    if declared.id.starts_with("__") {
        return Ok(None);
    }
    // The function key (`local.cmd.run`, or just `local`) and its argument list.
    let (key, args): (String, Vec<Value>) = match &declared.body {
        // The shorthand `clear: runner.cache.clear_grains` is a function with no arguments.
        Value::String(fun) => {
            if !fun.contains('.') {
                return Err(format!(
                    "'{fun}' is not a function (expected type.module.function, \
                     e.g. runner.cache.clear_grains)"
                ));
            }
            (fun.clone(), Vec::new())
        }
        Value::Object(body) => {
            let decls: Vec<(&String, &Value)> =
                body.iter().filter(|(k, _)| !k.starts_with("__")).collect();
            match decls.as_slice() {
                [] => return Err("declares no function".to_owned()),
                [(key, Value::Array(args))] => ((*key).clone(), args.clone()),
                [(key, other)] => {
                    return Err(format!(
                        "the arguments of '{key}' must be a list of one-key maps \
                         (- key: value), found {}",
                        kind_of(other)
                    ))
                }
                more => {
                    let keys: Vec<&str> = more.iter().map(|(k, _)| k.as_str()).collect();
                    return Err(format!(
                        "declares more than one function ({}); a reaction ID has exactly one",
                        keys.join(", ")
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "must be a map of one function to its list of arguments, found {}",
                kind_of(other)
            ))
        }
    };
    // Salt's pad_funcs: `local.cmd.run` is type `local` plus the function `cmd.run`; a key
    // without a dot (`local:`) takes its function from a string in the list instead.
    let (state, mut funs) = match key.split_once('.') {
        Some((state, fun)) => (state.to_owned(), vec![fun.to_owned()]),
        None => (key.clone(), Vec::new()),
    };
    let kind = Kind::from_state(&state).ok_or_else(|| {
        format!(
            "unknown reaction type '{state}' in '{key}' (use local, cmd, runner, wheel or caller)"
        )
    })?;
    let mut low = Map::new();
    low.insert("state".to_owned(), Value::String(state.clone()));
    low.insert("name".to_owned(), Value::String(declared.id.clone()));
    low.insert(
        "__sls__".to_owned(),
        Value::String(declared.sls.to_string_lossy().into_owned()),
    );
    low.insert("__id__".to_owned(), Value::String(declared.id.clone()));
    for (n, arg) in args.iter().enumerate() {
        match arg {
            Value::String(fun) => {
                if fun.trim().contains(' ') {
                    return Err(format!(
                        "the function \"{fun}\" has whitespace; is it an argument missing a ':'?"
                    ));
                }
                funs.push(fun.clone());
            }
            Value::Object(map) if map.len() == 1 => {
                for (k, v) in map {
                    match k.as_str() {
                        // Salt never lets an argument override the type.
                        "state" => {}
                        "name" if !v.is_string() => {
                            low.insert(k.clone(), Value::String(declared.id.clone()));
                        }
                        _ => {
                            low.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            Value::Object(map) => {
                return Err(format!(
                    "argument {} of '{key}' has {} keys; each argument is a one-key map \
                     (- key: value)",
                    n + 1,
                    map.len()
                ))
            }
            // Salt's compiler passes over anything else (an empty `- ` item, a number).
            _ => {}
        }
    }
    let fun = match funs.as_slice() {
        [] => {
            return Err(format!(
                "'{key}' names no function (expected {key}.module.function)"
            ))
        }
        [fun] if fun.is_empty() => return Err(format!("'{key}' names no function")),
        [fun] => fun.clone(),
        more => {
            return Err(format!(
                "declares more than one function ({})",
                more.join(", ")
            ))
        }
    };
    low.insert("fun".to_owned(), Value::String(fun.clone()));
    Ok(Some(Chunk {
        id: declared.id.clone(),
        sls: declared.sls.clone(),
        kind,
        fun,
        low,
    }))
}

/// What a value is, as a message names it.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// By `order` (unset means after every numbered chunk; `first` and `last` as in states), then
/// in definition order, as salt-spec §4.4 describes the auto-assigned order. (Salt 3007's code
/// breaks ties by the text `state + name + fun`, which runs reactions grouped by type; a
/// reactor file reads top to bottom here.)
fn order(chunks: Vec<Chunk>) -> Vec<Chunk> {
    let mut cap = 1.0_f64;
    for chunk in &chunks {
        if let Some(n) = chunk.low.get("order").and_then(Value::as_i64) {
            let n = n as f64;
            if n > cap - 1.0 && n > 0.0 {
                cap = n + 100.0;
            }
        }
    }
    let mut keyed: Vec<(f64, Chunk)> = chunks
        .into_iter()
        .map(|chunk| {
            let mut at = match chunk.low.get("order") {
                None => cap,
                Some(Value::Number(n)) => n.as_f64().unwrap_or(cap),
                Some(Value::String(s)) if s == "last" => cap + 1_000_000.0,
                Some(Value::String(s)) if s == "first" => 0.0,
                Some(_) => cap,
            };
            if at < 0.0 {
                at += cap + 1_000_000.0;
            }
            (at, chunk)
        })
        .collect();
    // Stable: equal orders keep their definition order.
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, chunk)| chunk).collect()
}

/// `ReactWrap.run`: the chunk's arguments in the new (`args`) or legacy schema. Err: the
/// reaction is skipped, with this log line.
fn resolve(
    chunk: &Chunk,
    signatures: Signatures<'_>,
    warnings: &mut Vec<Notice>,
) -> Result<Reaction, String> {
    let (id, kind, fun, low) = (&chunk.id, chunk.kind, &chunk.fun, &chunk.low);
    let failed = |why: &str| {
        format!(
            "Reactor '{id}' failed to execute {} '{fun}': {why}",
            kind.name()
        )
    };
    let mut warn = |message: String| {
        warnings.push(Notice {
            id: id.clone(),
            sls: chunk.sls.clone(),
            message,
        })
    };
    let (arg, kwarg): (Value, Value) = if let Some(args) = low.get("args") {
        for key in ["arg", "kwarg"] {
            if let Some(v) = low.get(key) {
                warn(format!(
                    "Reactor '{id}' is ignoring '{key}' param {} due to presence of 'args' \
                     param. Check the Reactor System documentation for the correct argument \
                     format.",
                    python_repr(v)
                ));
            }
        }
        // Legacy caller reactions used `args` for a positional list.
        let (arg, kwarg) = match args {
            Value::Array(items) if kind == Kind::Caller && !is_dictlist(items) => {
                (args.clone(), Value::Object(Map::new()))
            }
            _ => (Value::Array(Vec::new()), args.clone()),
        };
        let kwarg = match kwarg {
            Value::Object(map) => Value::Object(map),
            other => match repack_dictlist(&other) {
                Some(map) if !map.is_empty() => Value::Object(map),
                _ => {
                    return Err(failed(
                        "Incorrect argument format, check the Reactor System documentation \
                         for the correct format.",
                    ))
                }
            },
        };
        (arg, kwarg)
    } else {
        let (mut bound_arg, mut bound_kwarg) =
            (Value::Array(Vec::new()), Value::Object(Map::new()));
        if matches!(kind, Kind::Runner | Kind::Wheel)
            && !(low.contains_key("arg") && low.contains_key("kwarg"))
        {
            let params = signatures(kind, fun).ok_or_else(|| failed("function not available"))?;
            let (a, k, extra) = format_call(fun, params, low).map_err(|why| failed(&why))?;
            for key in extra {
                warn(format!(
                    "Reactor '{id}': '{key}' is not a parameter of {} '{fun}' (ignored)",
                    kind.name()
                ));
            }
            bound_arg = Value::Array(a);
            bound_kwarg = Value::Object(k);
        }
        (
            low.get("arg").cloned().unwrap_or(bound_arg),
            low.get("kwarg").cloned().unwrap_or(bound_kwarg),
        )
    };
    let arg = match arg {
        Value::Array(items) => items,
        other => {
            return Err(failed(&format!(
                "arg must be a list, found {}",
                kind_of(&other)
            )))
        }
    };
    let kwarg = match kwarg {
        Value::Object(map) => map,
        other => {
            return Err(failed(&format!(
                "kwarg must be a map, found {}",
                kind_of(&other)
            )))
        }
    };
    let call = match kind {
        Kind::Runner => Call::Runner,
        Kind::Wheel => Call::Wheel,
        Kind::Caller => Call::Caller,
        Kind::Local => local_call(low, &failed, &mut warn)?,
    };
    Ok(Reaction {
        id: id.clone(),
        sls: chunk.sls.clone(),
        fun: fun.clone(),
        arg,
        kwarg,
        call,
    })
}

/// Chunk keys a local reaction reads itself; the rest go to `cmd_async` as they are.
const LOCAL_KEYS: &[&str] = &[
    "__id__",
    "__sls__",
    "tgt",
    "tgt_type",
    "expr_form",
    "ret",
    "timeout",
    "arg",
    "kwarg",
    "args",
];

/// The target and `cmd_async` options of a local reaction.
fn local_call(
    low: &Map<String, Value>,
    failed: &dyn Fn(&str) -> String,
    warn: &mut dyn FnMut(String),
) -> Result<Call, String> {
    let tgt = low
        .get("tgt")
        .cloned()
        .ok_or_else(|| failed("local() missing required argument 'tgt'"))?;
    // `tgt_type` wins; `expr_form` is its pre-2017.7 name (salt-spec §6.6).
    let tgt_type = match (low.get("tgt_type"), low.get("expr_form")) {
        (Some(Value::String(t)), _) => t.clone(),
        (None, Some(Value::String(t))) => {
            warn(format!(
                "Reactor '{}': 'expr_form' is the old name of 'tgt_type'; read as tgt_type: {t}",
                low.get("__id__").and_then(Value::as_str).unwrap_or("")
            ));
            t.clone()
        }
        (None, None) => "glob".to_owned(),
        (Some(other), _) | (None, Some(other)) => {
            return Err(failed(&format!(
                "tgt_type must be a string, found {}",
                kind_of(other)
            )))
        }
    };
    let ret = match low.get("ret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(failed(&format!(
                "ret must be a string, found {}",
                kind_of(other)
            )))
        }
    };
    let timeout = match low.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            failed(&format!(
                "timeout must be a whole number of seconds, found {v}"
            ))
        })?),
    };
    let options = low
        .iter()
        .filter(|(k, _)| !INTERNAL.contains(&k.as_str()) && !LOCAL_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Call::Local(Box::new(Target {
        tgt,
        tgt_type,
        ret,
        timeout,
        options,
    })))
}

/// Salt's `is_dictlist`: a list whose every item is a one-key map (an empty list is one).
fn is_dictlist(items: &[Value]) -> bool {
    items
        .iter()
        .all(|item| matches!(item, Value::Object(m) if m.len() == 1))
}

/// Salt's `repack_dictlist`: a list of one-key maps (and bare scalars, which become `key:
/// null`) as one map. `None` for anything else, which Salt also turns into `{}`.
fn repack_dictlist(v: &Value) -> Option<Map<String, Value>> {
    let Value::Array(items) = v else {
        return None;
    };
    let mut map = Map::new();
    for item in items {
        match item {
            Value::Object(m) if m.len() == 1 => map.extend(m.clone()),
            Value::String(s) => {
                map.insert(s.clone(), Value::Null);
            }
            Value::Number(n) => {
                map.insert(n.to_string(), Value::Null);
            }
            Value::Bool(b) => {
                map.insert(b.to_string(), Value::Null);
            }
            _ => return None,
        }
    }
    Some(map)
}

/// Salt's `format_call` for the legacy schema: parameters without a default take the chunk key
/// of that name as positional arguments, parameters with one as keyword arguments (the default
/// when the key is absent). Also returns the chunk keys that match no parameter, which a
/// function without `**kwargs` drops.
type Bound = (Vec<Value>, Map<String, Value>, Vec<String>);

fn format_call(fun: &str, params: &[Param], low: &Map<String, Value>) -> Result<Bound, String> {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    let mut missing = 0;
    for p in params {
        match (low.get(p.name), p.default.value()) {
            (Some(v), None) => args.push(v.clone()),
            (None, None) => missing += 1,
            (Some(v), Some(_)) => {
                kwargs.insert(p.name.to_owned(), v.clone());
            }
            (None, Some(default)) => {
                kwargs.insert(p.name.to_owned(), default);
            }
        }
    }
    if missing > 0 {
        let total = args.len() + missing;
        return Err(format!(
            "{fun} takes at least {total} argument{} ({} given)",
            if total == 1 { "" } else { "s" },
            args.len()
        ));
    }
    let extra = low
        .keys()
        .filter(|k| !INTERNAL.contains(&k.as_str()) && !params.iter().any(|p| p.name == k.as_str()))
        // `arg` or `kwarg` given alone is used as such, not bound.
        .filter(|k| !k.starts_with("__") && !matches!(k.as_str(), "arg" | "kwarg"))
        .cloned()
        .collect();
    Ok((args, kwargs, extra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(entries: &[(&str, usize, Value)]) -> Vec<Id> {
        entries
            .iter()
            .map(|(id, line, body)| Id {
                id: id.to_string(),
                line: *line,
                body: body.clone(),
            })
            .collect()
    }

    #[test]
    fn merge_replaces_the_body_and_keeps_the_first_position() {
        let a = ids(&[
            ("one", 1, json!("runner.a.b")),
            ("dup", 2, json!("runner.c.d")),
        ]);
        let b = ids(&[
            ("dup", 7, json!("wheel.e.f")),
            ("two", 8, json!("runner.g.h")),
        ]);
        let high = merge(vec![("/a.sls".into(), a), ("/b.sls".into(), b)]);
        let shown: Vec<(&str, &str, usize, &Value)> = high
            .iter()
            .map(|d| (d.id.as_str(), d.sls.to_str().unwrap_or(""), d.line, &d.body))
            .collect();
        assert_eq!(
            shown,
            [
                ("one", "/a.sls", 1, &json!("runner.a.b")),
                ("dup", "/b.sls", 7, &json!("wheel.e.f")),
                ("two", "/b.sls", 8, &json!("runner.g.h")),
            ]
        );
    }

    #[test]
    fn parse_reads_pyyaml_scalars_and_reports_positions() {
        let parsed = parse(
            Path::new("/r.sls"),
            "a:\n  local.x.y:\n    - on: yes\n    - n: n\n",
        );
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(parsed[0].line, 1);
        assert_eq!(
            parsed[0].body,
            json!({"local.x.y": [{"true": true}, {"n": "n"}]})
        );
        assert_eq!(
            parse(Path::new("/r.sls"), "# nothing\n").ok(),
            Some(Vec::new())
        );
        let err = parse(Path::new("/r.sls"), "- a\n")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("/r.sls:1:1: expected a map of reaction IDs at the top level, found a list")
        );
        let err = parse(Path::new("/r.sls"), "a: 1\na: 2\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.is_some_and(|e| e.starts_with("/r.sls:2:")),
            "duplicate IDs in one file"
        );
    }

    #[test]
    fn reactions_serialise_for_a_dry_run() {
        let r = Reaction {
            id: "a".into(),
            sls: "/a.sls".into(),
            fun: "test.ping".into(),
            arg: vec![],
            kwarg: Map::new(),
            call: Call::Local(Box::new(Target {
                tgt: json!("*"),
                tgt_type: "glob".into(),
                ret: None,
                timeout: Some(5),
                options: Map::new(),
            })),
        };
        assert_eq!(
            serde_json::to_value(&r).ok(),
            Some(
                json!({"id": "a", "sls": "/a.sls", "fun": "test.ping", "arg": [], "kwarg": {},
                        "type": "local", "tgt": "*", "tgt_type": "glob", "ret": null,
                        "timeout": 5, "options": {}})
            )
        );
        assert_eq!(r.kind(), Kind::Local);
        assert_eq!(Kind::from_state("cmd"), Some(Kind::Local));
        assert_eq!(Kind::from_state("state"), None);
    }
}
