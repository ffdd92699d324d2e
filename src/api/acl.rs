//! `external_auth` ACLs: Salt's format (`doc/topics/eauth/index.rst`), decided as Salt's
//! `CkMinions.fill_auth_list`, `auth_check` and `spec_check` decide, with their bugs fixed.
//!
//! ```yaml
//! external_auth:
//!   pam:
//!     thatch:                    # a user: a glob on the name; 'group%' for a group; '*'
//!       - 'web*':                # a compound target -> function patterns on those minions
//!         - test.*
//!         - 'cmd.run':           # a function with argument limits
//!             args: ['ls']
//!             kwargs: {cwd: '/tmp'}
//!       - grains.items           # a function pattern on any minion
//!       - '@runner'              # every runner ('@runners', '@wheel', '@wheels' alike)
//!       - '@jobs'                # the runner or wheel module 'jobs'
//!       - '@runner': [jobs.*]    # runner function patterns (with limits, as above)
//!       - '@events': [salt/job/*]  # brine: the tags /events may show (none: all)
//! ```
//!
//! Departures from Salt 3007.15, each a bug or a hazard there (spec A.8):
//!
//! - A user key is a glob matched against the user name. Salt calls
//!   `expr_match(key, name)`, the name as the pattern, so the documented `dev*` matches no
//!   one while a user named `*` or `.*` receives every named entry.
//! - `'*'` applies to users no named entry matched, or to everyone with `permissive_acl`
//!   (in Salt the reversed match makes `permissive_acl` drop `'*'` for everyone). Group
//!   entries do not count as a named match, as in Salt.
//! - Function and argument patterns must match the whole text (Salt's `re.match` anchors
//!   only the start, so `test.ping` allowed `test.pingpong`).
//! - [`perms`] is computed from the list the decisions use and changes nothing (Salt's
//!   `sum_permissions` appends to the configured lists on every `/login`, and lists `'*'`
//!   entries the master then refuses).
//! - [`Acl::parse`] refuses what Salt silently ignores or crashes on (a list item with two
//!   targets, an `args` that is not a list, a misspelt `arg:`, a pattern Python's `re` rejects),
//!   so a typo cannot widen or empty a permission unnoticed. [`allows`] itself takes lists as
//!   they come (from the configuration or a token) and treats anything malformed as no match.
//! - `saltutil.find_job` is not allowed implicitly (Salt's master whitelists it for every
//!   publisher; brine's API never needs to send it for a user).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use regex::Regex;
use serde_json::{Map, Value};

use crate::matcher::{compile_python, Glob};
use crate::py::{python_repr, python_str};

/// Why an `external_auth` configuration was refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError {
    /// The eauth section (`pam`, `file`, ...); empty for the whole map.
    pub eauth: String,
    /// The user key in that section; empty for the section itself.
    pub user: String,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.eauth.is_empty(), self.user.is_empty()) {
            (true, _) => write!(f, "external_auth: {}", self.what),
            (false, true) => write!(f, "external_auth:{}: {}", self.eauth, self.what),
            (false, false) => write!(
                f,
                "external_auth:{}:{:?}: {}",
                self.eauth, self.user, self.what
            ),
        }
    }
}

impl std::error::Error for AclError {}

/// Who a user key of an eauth section applies to.
#[derive(Debug, Clone)]
enum Who {
    /// `'*'`: users no named entry matched (everyone with `permissive_acl`).
    Everyone,
    /// `name%`: members of group `name`.
    Group(String),
    /// A glob on the user name.
    User(Glob),
}

/// One user key of an eauth section and its permission list, as configured.
#[derive(Debug, Clone)]
struct Entry {
    who: Who,
    perms: Vec<Value>,
}

/// The `external_auth` ACLs, checked once when the configuration is loaded.
#[derive(Debug, Clone)]
pub struct Acl {
    /// Each eauth's entries in configuration order (which is the order of the lists).
    eauths: HashMap<String, Vec<Entry>>,
    permissive: bool,
}

/// One call to authorize, with what [`allows`] needs of it.
///
/// For runners and wheels, `arg` and `kwarg` are the call's after Salt's reformatting
/// (`RunnerClient._reformat_low`): `key=value` words of `arg` already moved into `kwarg`.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// An execution function on minions (`local`, `local_async`).
    Local {
        /// The function, `module.function`.
        fun: &'a str,
        /// Positional arguments as published.
        arg: &'a [Value],
        /// Keyword arguments.
        kwarg: &'a Map<String, Value>,
        /// The minions the target expands to on the master.
        minions: &'a [String],
        /// The target, as given (for logs; the decision uses `minions`).
        tgt: &'a str,
        /// The target type, as given.
        tgt_type: &'a str,
    },
    /// A runner function (`runner`, `runner_async`).
    Runner {
        /// The function, `module.function`.
        fun: &'a str,
        /// Positional arguments.
        arg: &'a [Value],
        /// Keyword arguments.
        kwarg: &'a Map<String, Value>,
    },
    /// A wheel function (`wheel`, `wheel_async`).
    Wheel {
        /// The function, `module.function`.
        fun: &'a str,
        /// Positional arguments.
        arg: &'a [Value],
        /// Keyword arguments.
        kwarg: &'a Map<String, Value>,
    },
}

/// The entry key of brine's `/events` tag ACL.
const EVENTS: &str = "@events";

impl Acl {
    /// The ACLs of an `external_auth` map (null for none), refusing malformed entries.
    /// `permissive_acl` is the master option of that name. Keys starting with `^` are
    /// backend options (the `file` backend's `^filename`), not users.
    pub fn parse(external_auth: &Value, permissive_acl: bool) -> Result<Acl, AclError> {
        let err = |eauth: &str, user: &str, what: String| AclError {
            eauth: eauth.to_string(),
            user: user.to_string(),
            what,
        };
        let sections = match external_auth {
            Value::Null => return Ok(Acl::empty(permissive_acl)),
            Value::Object(m) => m,
            other => {
                return Err(err(
                    "",
                    "",
                    format!("must map eauth backends to users, not {}", kind(other)),
                ))
            }
        };
        let mut eauths = HashMap::new();
        for (eauth, section) in sections {
            let users = match section {
                // `pam:` with nothing under it: configured, but nobody may do anything.
                Value::Null => {
                    eauths.insert(eauth.clone(), Vec::new());
                    continue;
                }
                Value::Object(u) => u,
                other => {
                    return Err(err(
                        eauth,
                        "",
                        format!("must map users to permission lists, not {}", kind(other)),
                    ))
                }
            };
            let mut entries = Vec::new();
            for (key, perms) in users {
                if key.starts_with('^') {
                    continue;
                }
                let Value::Array(list) = perms else {
                    return Err(err(
                        eauth,
                        key,
                        format!("must be a list of permissions, not {}", kind(perms)),
                    ));
                };
                for item in list {
                    check_item(item).map_err(|what| err(eauth, key, what))?;
                }
                let who = if key == "*" {
                    Who::Everyone
                } else if let Some(group) = key.strip_suffix('%') {
                    // Salt's rstrip('%'): `ops%%` is group `ops` too.
                    Who::Group(group.trim_end_matches('%').to_string())
                } else {
                    Who::User(Glob::new(key))
                };
                entries.push(Entry {
                    who,
                    perms: list.clone(),
                });
            }
            eauths.insert(eauth.clone(), entries);
        }
        Ok(Acl {
            eauths,
            permissive: permissive_acl,
        })
    }

    fn empty(permissive: bool) -> Acl {
        Acl {
            eauths: HashMap::new(),
            permissive,
        }
    }

    /// The permissions of `user` (with `groups`) under `eauth`: the entries of every key
    /// whose glob matches the name and of every `group%` of its groups, in configuration
    /// order, then `'*'`'s when no user key matched (`'*'` in its place, for everyone, with
    /// `permissive_acl`). Empty for an eauth without a section.
    pub fn auth_list(&self, eauth: &str, user: &str, groups: &[String]) -> Vec<Value> {
        let Some(entries) = self.eauths.get(eauth) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut named = false;
        for e in entries {
            let applies = match &e.who {
                Who::Everyone => self.permissive,
                Who::Group(g) => groups.iter().any(|have| have == g),
                Who::User(glob) => {
                    let m = glob.is_match(user);
                    named |= m;
                    m
                }
            };
            if applies {
                out.extend(e.perms.iter().cloned());
            }
        }
        if !self.permissive && !named {
            for e in entries {
                if matches!(e.who, Who::Everyone) {
                    out.extend(e.perms.iter().cloned());
                }
            }
        }
        out
    }
}

/// What a JSON value is, for errors.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A pattern's compile error, if Python's `re` (as brine reads it) rejects it.
fn check_pattern(p: &str, what: &str) -> Result<(), String> {
    match full_regex(p) {
        Some(_) => Ok(()),
        None => Err(format!("{what} {p:?} is not a valid regular expression")),
    }
}

/// Checks one item of a user's permission list.
fn check_item(item: &Value) -> Result<(), String> {
    match item {
        // `@runner`, `@jobs`, `@events` are names; any other string is a function pattern.
        Value::String(s) if s.starts_with('@') => Ok(()),
        Value::String(s) => check_pattern(s, "function pattern"),
        Value::Object(m) => {
            let mut it = m.iter();
            let (Some((key, funs)), None) = (it.next(), it.next()) else {
                return Err(format!(
                    "an entry must have exactly one key (a target, @runner, @wheel, @<module> \
                     or @events), not {}",
                    m.len()
                ));
            };
            if key.is_empty() {
                return Err("an entry's key is empty".into());
            }
            if key == EVENTS {
                return match funs {
                    Value::String(_) => Ok(()),
                    Value::Array(l) if l.iter().all(Value::is_string) => Ok(()),
                    other => Err(format!(
                        "@events must be a list of tag globs, not {}",
                        kind(other)
                    )),
                };
            }
            let funs: &[Value] = match funs {
                Value::Array(l) => l,
                single => std::slice::from_ref(single),
            };
            for f in funs {
                check_fun_spec(f).map_err(|e| format!("under {key:?}: {e}"))?;
            }
            Ok(())
        }
        other => Err(format!(
            "a permission must be a string or a one-key mapping, not {}",
            kind(other)
        )),
    }
}

/// Checks a function spec under a target: a pattern, or `{pattern: argument limits}`.
fn check_fun_spec(f: &Value) -> Result<(), String> {
    match f {
        Value::String(s) => check_pattern(s, "function pattern"),
        Value::Object(m) if m.len() == 1 => {
            let Some((fun, limits)) = m.iter().next() else {
                return Ok(());
            };
            check_pattern(fun, "function pattern")?;
            let limits: &[Value] = match limits {
                Value::Array(l) => l,
                single => std::slice::from_ref(single),
            };
            for l in limits {
                check_limits(l).map_err(|e| format!("{fun:?}: {e}"))?;
            }
            Ok(())
        }
        Value::Object(m) => Err(format!(
            "a function with limits must be a one-key mapping, not {} keys",
            m.len()
        )),
        other => Err(format!(
            "a function must be a pattern or a one-key mapping, not {}",
            kind(other)
        )),
    }
}

/// Checks one `{args: [...], kwargs: {...}}` limit.
fn check_limits(l: &Value) -> Result<(), String> {
    let Value::Object(m) = l else {
        return Err(format!(
            "argument limits must be a mapping with args and kwargs, not {}",
            kind(l)
        ));
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("args", Value::Array(list)) => {
                for a in list {
                    match a {
                        Value::Null => {}
                        Value::String(p) => check_pattern(p, "argument pattern")?,
                        other => {
                            return Err(format!(
                                "an argument pattern must be a string or null, not {}",
                                kind(other)
                            ))
                        }
                    }
                }
            }
            ("kwargs", Value::Object(kw)) => {
                for (name, p) in kw {
                    match p {
                        Value::Null => {}
                        Value::String(p) => check_pattern(p, "argument pattern")?,
                        other => {
                            return Err(format!(
                                "the pattern of kwarg {name:?} must be a string or null, not {}",
                                kind(other)
                            ))
                        }
                    }
                }
            }
            ("args", other) => return Err(format!("args must be a list, not {}", kind(other))),
            ("kwargs", other) => {
                return Err(format!("kwargs must be a mapping, not {}", kind(other)))
            }
            (other, _) => {
                return Err(format!(
                    "unknown key {other:?} in argument limits (args, kwargs)"
                ))
            }
        }
    }
    Ok(())
}

/// The regex that matches the whole of a text against Python pattern `p`, or `None` when
/// Python would reject it (Salt logs and never matches such a pattern).
///
/// Python allows global flags such as `(?i)` only at the very start, where they apply to
/// the whole pattern; inside the anchors they become a scoped group, `\A(?i:...)\Z`.
fn full_regex(p: &str) -> Option<Regex> {
    thread_local! {
        // ACL patterns come from the configuration (or a token made from it): few, and
        // asked about on every request.
        static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(p).cloned()) {
        return hit;
    }
    let mut rest = p;
    let mut flags = String::new();
    while let Some(after) = rest.strip_prefix("(?") {
        let Some(close) = after.find(')') else { break };
        let inner = &after[..close];
        // `u` is Python 3's default for text; `a` and `L` have no Rust spelling, and are
        // left in place to be refused.
        if inner.is_empty() || !inner.chars().all(|c| "imsxu".contains(c)) {
            break;
        }
        for c in inner.chars() {
            if c != 'u' && !flags.contains(c) {
                flags.push(c);
            }
        }
        rest = &after[close + 1..];
    }
    let compiled = compile_python(&format!(r"\A(?{flags}:{rest})\Z")).ok();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(p.to_string(), compiled.clone());
    });
    compiled
}

/// Salt's `match_check`, full-match: does pattern `p` match all of `text`?
fn full_match(p: &str, text: &str) -> bool {
    full_regex(p).is_some_and(|re| re.is_match(text))
}

/// Salt's `__fun_check`: does any spec of `valid` (one, or a list) allow `fun` with these
/// arguments?
fn fun_check(valid: &Value, fun: &str, arg: &[Value], kwarg: &Map<String, Value>) -> bool {
    let valid: &[Value] = match valid {
        Value::Array(l) => l,
        single => std::slice::from_ref(single),
    };
    valid.iter().any(|cond| match cond {
        Value::String(p) => full_match(p, fun),
        Value::Object(m) if m.len() == 1 => m
            .iter()
            .next()
            .is_some_and(|(p, limits)| full_match(p, fun) && args_check(limits, arg, kwarg)),
        _ => false,
    })
}

/// Salt's `__args_check`: does any limit of `valid` (one, or a list) allow these arguments?
///
/// `args` limits the first positional arguments, in order (`null`: anything, but the
/// argument must be there); more arguments than limits are allowed. `kwargs` names keyword
/// arguments that must be given and match; others are allowed. Patterns apply to Python's
/// `str()` of the value and must match all of it.
fn args_check(valid: &Value, arg: &[Value], kwarg: &Map<String, Value>) -> bool {
    let valid: &[Value] = match valid {
        Value::Array(l) => l,
        single => std::slice::from_ref(single),
    };
    let one = |p: &Value, v: &Value| match p {
        Value::Null => true,
        Value::String(p) => full_match(p, &python_str(v)),
        _ => false,
    };
    valid.iter().any(|cond| {
        let Value::Object(cond) = cond else {
            return false;
        };
        let args_ok = match cond.get("args") {
            None => true,
            Some(Value::Array(limits)) => {
                limits.len() <= arg.len() && limits.iter().zip(arg).all(|(p, v)| one(p, v))
            }
            Some(_) => false,
        };
        let kwargs_ok = match cond.get("kwargs") {
            None => true,
            Some(Value::Object(limits)) => limits
                .iter()
                .all(|(k, p)| kwarg.get(k).is_some_and(|v| one(p, v))),
            Some(_) => false,
        };
        args_ok && kwargs_ok
    })
}

/// Whether `auth_list` allows `call` (Salt's `auth_check` for local calls, `spec_check` for
/// runners and wheels). `expand` gives the minions an ACL target (a compound expression)
/// stands for; every minion the call targets must be among them.
pub fn allows(auth_list: &[Value], call: &Call, expand: &dyn Fn(&str) -> BTreeSet<String>) -> bool {
    match *call {
        Call::Local {
            fun,
            arg,
            kwarg,
            minions,
            ..
        } => local_allows(auth_list, fun, arg, kwarg, minions, expand),
        Call::Runner { fun, arg, kwarg } => spec_allows(auth_list, "runner", fun, arg, kwarg),
        Call::Wheel { fun, arg, kwarg } => spec_allows(auth_list, "wheel", fun, arg, kwarg),
    }
}

fn local_allows(
    auth_list: &[Value],
    fun: &str,
    arg: &[Value],
    kwarg: &Map<String, Value>,
    minions: &[String],
    expand: &dyn Fn(&str) -> BTreeSet<String>,
) -> bool {
    auth_list.iter().any(|entry| match entry {
        // A function pattern for every minion (`@...` names never match a function).
        Value::String(p) => !p.starts_with('@') && full_match(p, fun),
        Value::Object(m) if m.len() == 1 => {
            let Some((target, funs)) = m.iter().next() else {
                return false;
            };
            // `@runner: [...]` and `@events` are not targets.
            if target.starts_with('@') {
                return false;
            }
            // As Salt's validate_tgt: every targeted minion must be one the entry names. A
            // target that matches no minion passes this (there is nobody to refuse).
            let allowed = expand(target);
            minions.iter().all(|m| allowed.contains(m)) && fun_check(funs, fun, arg, kwarg)
        }
        _ => false,
    })
}

fn spec_allows(
    auth_list: &[Value],
    form: &str,
    fun: &str,
    arg: &[Value],
    kwarg: &Map<String, Value>,
) -> bool {
    // Salt answers a syntax error for a name that is not `module.function`; either way the
    // call does not run.
    let mut comps = fun.split('.');
    let (Some(module), Some(function), None) = (comps.next(), comps.next(), comps.next()) else {
        return false;
    };
    let plural = format!("{form}s");
    // `@runner`, `@runners` (for a runner), or `@<module>`.
    let names_all = |name: &str| name == form || name == plural || name == module;
    auth_list.iter().any(|entry| match entry {
        Value::String(s) => s
            .strip_prefix('@')
            .is_some_and(|name| s != EVENTS && names_all(name)),
        Value::Object(m) if m.len() == 1 => {
            let Some((key, funs)) = m.iter().next() else {
                return false;
            };
            let Some(name) = key.strip_prefix('@') else {
                return false;
            };
            if key == EVENTS {
                return false;
            }
            // Under `@<module>` the patterns name the function alone; under `@runner` the
            // whole `module.function`.
            (name == module && fun_check(funs, function, arg, kwarg))
                || ((name == form || name == plural) && fun_check(funs, fun, arg, kwarg))
        }
        _ => false,
    })
}

/// What `/login` lists as `perms`: Salt's `sorted_permissions` of the list, strings
/// sorted and deduplicated first, then the other entries deduplicated and sorted by their
/// Python repr; `{}` when there are none (as rest_cherrypy's `perms or {}`).
pub fn perms(auth_list: &[Value]) -> Value {
    let mut strings: Vec<&str> = Vec::new();
    let mut others: Vec<&Value> = Vec::new();
    for entry in auth_list {
        match entry {
            Value::String(s) => {
                if !strings.contains(&s.as_str()) {
                    strings.push(s);
                }
            }
            other => {
                // Mapping equality ignores key order, as Python's dict equality does.
                if !others.contains(&other) {
                    others.push(other);
                }
            }
        }
    }
    if strings.is_empty() && others.is_empty() {
        return Value::Object(Map::new());
    }
    strings.sort_unstable();
    let mut others: Vec<(String, &Value)> =
        others.into_iter().map(|v| (python_repr(v), v)).collect();
    // Stable, as Python's sorted() is.
    others.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(
        strings
            .into_iter()
            .map(|s| Value::String(s.to_string()))
            .chain(others.into_iter().map(|(_, v)| v.clone()))
            .collect(),
    )
}

/// brine's `/events` tag ACL: the tag globs of the list's `@events` entries (the string
/// `@events` alone stands for every tag), or `None` when it has none, which leaves the
/// stream unrestricted as in Salt.
pub fn event_patterns(auth_list: &[Value]) -> Option<Vec<String>> {
    let mut found = false;
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    };
    for entry in auth_list {
        match entry {
            Value::String(s) if s == EVENTS => {
                found = true;
                add("*");
            }
            Value::Object(m) if m.len() == 1 => {
                let Some(globs) = m.get(EVENTS) else { continue };
                found = true;
                match globs {
                    Value::String(g) => add(g),
                    Value::Array(l) => l.iter().filter_map(Value::as_str).for_each(&mut add),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acl(v: Value) -> Acl {
        Acl::parse(&v, false).expect("valid external_auth")
    }

    fn list(a: &Acl, user: &str, groups: &[&str]) -> Vec<Value> {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        a.auth_list("pam", user, &groups)
    }

    const MINIONS: &[&str] = &["db1", "dev1", "web1", "web2"];

    /// Glob expansion over the test minions (enough for these targets).
    fn expand(t: &str) -> BTreeSet<String> {
        MINIONS
            .iter()
            .filter(|m| crate::matcher::fnmatch(m, t))
            .map(|m| m.to_string())
            .collect()
    }

    fn local(auth: &[Value], fun: &str, arg: Value, kwarg: Value, tgt: &str) -> bool {
        let arg = arg.as_array().cloned().unwrap_or_default();
        let kwarg = kwarg.as_object().cloned().unwrap_or_default();
        let minions: Vec<String> = expand(tgt).into_iter().collect();
        allows(
            auth,
            &Call::Local {
                fun,
                arg: &arg,
                kwarg: &kwarg,
                minions: &minions,
                tgt,
                tgt_type: "glob",
            },
            &expand,
        )
    }

    fn runner(auth: &[Value], fun: &str, arg: Value, kwarg: Value) -> bool {
        let arg = arg.as_array().cloned().unwrap_or_default();
        let kwarg = kwarg.as_object().cloned().unwrap_or_default();
        let call = Call::Runner {
            fun,
            arg: &arg,
            kwarg: &kwarg,
        };
        allows(auth, &call, &|_| BTreeSet::new())
    }

    fn wheel(auth: &[Value], fun: &str) -> bool {
        let call = Call::Wheel {
            fun,
            arg: &[],
            kwarg: &Map::new(),
        };
        allows(auth, &call, &|_| BTreeSet::new())
    }

    #[test]
    fn malformed_entries_are_refused_naming_eauth_and_user() {
        let cases = [
            (
                json!([]),
                "external_auth: must map eauth backends to users, not a list",
            ),
            (
                json!({"pam": ["x"]}),
                "external_auth:pam: must map users to permission lists",
            ),
            (
                json!({"pam": {"fred": "test.*"}}),
                "external_auth:pam:\"fred\": must be a list",
            ),
            (
                json!({"pam": {"fred": null}}),
                "must be a list of permissions, not null",
            ),
            (
                json!({"pam": {"fred": [1]}}),
                "a permission must be a string or a one-key",
            ),
            (
                json!({"pam": {"fred": [{"web*": ["a"], "db*": ["b"]}]}}),
                "exactly one key",
            ),
            (
                json!({"pam": {"fred": ["test.("]}}),
                "\"test.(\" is not a valid regular",
            ),
            (
                json!({"pam": {"fred": [{"web*": [{"cmd.run": {"arg": ["ls"]}}]}]}}),
                "unknown key \"arg\" in argument limits",
            ),
            (
                json!({"pam": {"fred": [{"web*": [{"cmd.run": {"args": "ls"}}]}]}}),
                "args must be a list",
            ),
            (
                json!({"pam": {"fred": [{"web*": [{"cmd.run": {"args": [1]}}]}]}}),
                "an argument pattern must be a string or null",
            ),
            (
                json!({"pam": {"fred": [{"web*": [{"cmd.run": {"kwargs": ["x"]}}]}]}}),
                "kwargs must be a mapping",
            ),
            (
                json!({"pam": {"fred": [{"web*": [{"a": {}, "b": {}}]}]}}),
                "one-key mapping, not 2 keys",
            ),
            (
                json!({"pam": {"fred": [{"@events": {"a": 1}}]}}),
                "@events must be a list",
            ),
            (json!({"pam": {"fred": [{"web*": [[]]}]}}), "under \"web*\""),
        ];
        for (cfg, want) in cases {
            let e = Acl::parse(&cfg, false).expect_err(want).to_string();
            assert!(e.contains(want), "{e:?} lacks {want:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
        // What is fine: nulls for empty sections, single specs without a list, backend
        // options, argument limits as a list, a null pattern.
        let ok = json!({
            "pam": null,
            "file": {"^filename": "/etc/users", "^hashtype": "sha256", "fred": [".*"]},
            "sharedsecret": {"fred": [
                {"web*": "test.*"},
                {"web*": [{"cmd.run": [{"args": ["ls"]}, {"kwargs": {"cwd": null}}]}]},
                {"@runner": {"jobs.*": {"args": [null]}}},
                {"@events": "salt/*"},
                "@wheel",
                "(?i)TEST.ping"
            ]}
        });
        let a = Acl::parse(&ok, false).expect("valid");
        assert_eq!(a.auth_list("file", "fred", &[]), vec![json!(".*")]);
        assert!(a.auth_list("pam", "fred", &[]).is_empty());
        assert!(Acl::parse(&Value::Null, false).is_ok());
    }

    #[test]
    fn user_keys_are_globs_on_the_user_name() {
        // Salt's reversed expr_match: `dev*` matched no one, and a user named `*` or `.*`
        // got every named entry. Here the key is the pattern.
        let a = acl(json!({"pam": {
            "dev*": ["test.*"],
            "[ab]dmin": ["cmd.run"],
            "ci_?": ["state.apply"],
            "thatch": [{"web*": ["network.*"]}],
            "*": ["grains.items"]
        }}));
        assert_eq!(list(&a, "dev1", &[]), vec![json!("test.*")]);
        assert_eq!(list(&a, "admin", &[]), vec![json!("cmd.run")]);
        assert_eq!(list(&a, "ci_7", &[]), vec![json!("state.apply")]);
        assert_eq!(
            list(&a, "thatch", &[]),
            vec![json!({"web*": ["network.*"]})]
        );
        for sly in ["*", ".*", "de", "thatch2"] {
            assert_eq!(list(&a, sly, &[]), vec![json!("grains.items")], "{sly}");
        }
        // A key is not a regex: the documented `steve|admin.*` matches only that very name.
        let a = acl(json!({"pam": {"steve|admin.*": [".*"], "*": ["grains.items"]}}));
        assert_eq!(list(&a, "steve", &[]), vec![json!("grains.items")]);
        assert_eq!(list(&a, "steve|admin.*", &[]), vec![json!(".*")]);
        // An eauth without a section gives nothing, not '*' of another.
        assert!(a.auth_list("file", "steve", &[]).is_empty());
    }

    #[test]
    fn every_matching_key_and_group_counts_and_star_is_the_fallback() {
        let a = acl(json!({"pam": {
            "alice": ["test.ping"],
            "al*": ["grains.items"],
            "ops%%": ["@runner"],
            "devs%": [{"dev*": ["test.*"]}],
            "*": ["sys.doc"]
        }}));
        assert_eq!(
            list(&a, "alice", &["ops"]),
            vec![json!("test.ping"), json!("grains.items"), json!("@runner")]
        );
        // A group entry is not a named match: '*' is added too (Salt's rule).
        assert_eq!(
            list(&a, "dan", &["devs"]),
            vec![json!({"dev*": ["test.*"]}), json!("sys.doc")]
        );
        assert_eq!(list(&a, "dan", &["devsx", "op"]), vec![json!("sys.doc")]);
        // permissive_acl: '*' for everyone, in its place.
        let p = Acl::parse(&json!({"pam": {"*": ["sys.doc"], "bob": ["test.*"]}}), true).unwrap();
        assert_eq!(
            p.auth_list("pam", "bob", &[]),
            vec![json!("sys.doc"), json!("test.*")]
        );
        assert_eq!(p.auth_list("pam", "other", &[]), vec![json!("sys.doc")]);
    }

    #[test]
    fn function_patterns_match_the_whole_name() {
        let auth = [
            json!("test.ping"),
            json!("test"),
            json!("pkg.list_.*"),
            json!("(?i)SYS.DOC"),
        ];
        assert!(local(&auth, "test.ping", json!([]), json!({}), "*"));
        assert!(!local(&auth, "test.pingpong", json!([]), json!({}), "*"));
        assert!(!local(&auth, "test.echo", json!([]), json!({}), "*"));
        assert!(!local(&auth, "xtest.ping", json!([]), json!({}), "*"));
        assert!(local(&auth, "pkg.list_pkgs", json!([]), json!({}), "*"));
        // A leading global flag still applies (Python refuses it inside a group).
        assert!(local(&auth, "sys.doc", json!([]), json!({}), "*"));
        // An alternation is inside the anchors: `a|b` is `^(a|b)$`, not `^a|b$`.
        let alt = [json!("test.ping|test.echo")];
        assert!(local(&alt, "test.echo", json!([]), json!({}), "*"));
        assert!(!local(&alt, "test.pingx", json!([]), json!({}), "*"));
        // An invalid pattern never matches, and `@` names are not functions.
        let odd = [json!("test.("), json!("@runner")];
        assert!(!local(&odd, "test.(", json!([]), json!({}), "*"));
        assert!(!local(&odd, "@runner", json!([]), json!({}), "*"));
        assert!(!local(&[], "test.ping", json!([]), json!({}), "*"));
    }

    #[test]
    fn targeted_entries_need_every_minion_in_the_acl_target() {
        let auth = [json!({"web*": ["test.*"]}), json!({"db*": "cmd.run"})];
        assert!(local(&auth, "test.ping", json!([]), json!({}), "web*"));
        assert!(local(&auth, "test.ping", json!([]), json!({}), "web1"));
        assert!(!local(&auth, "test.ping", json!([]), json!({}), "*"));
        assert!(!local(&auth, "test.ping", json!([]), json!({}), "db1"));
        assert!(local(&auth, "cmd.run", json!(["id"]), json!({}), "db1"));
        assert!(!local(&auth, "cmd.run", json!(["id"]), json!({}), "web1"));
        // Salt's validate_tgt: a target that matches no minion passes the target test.
        assert!(local(&auth, "test.ping", json!([]), json!({}), "nomatch*"));
        // `@runner` and `@events` keys are not targets for local calls.
        let spec = [json!({"@runner": [".*"]}), json!({"@events": ["*"]})];
        assert!(!local(&spec, "test.ping", json!([]), json!({}), "nomatch*"));
        // Malformed entries (two keys) are skipped.
        let two = [json!({"web*": ["test.*"], "db*": ["test.*"]})];
        assert!(!local(&two, "test.ping", json!([]), json!({}), "web1"));
    }

    #[test]
    fn argument_limits_as_salts_args_check() {
        let auth = [json!({"*": [
            {"test.echo": {"args": ["hello.*"]}},
            {"cmd.run": {"args": ["ls"], "kwargs": {"cwd": "/tmp"}}},
            {"pkg.install": {"args": [null, "foo"]}},
            {"test.arg": [{"kwargs": {"who": null}}, {"args": ["True", "1\\.5"]}]},
            {"test.any": {}}
        ]})];
        let ok = |fun, arg, kwarg| local(&auth, fun, arg, kwarg, "*");
        assert!(ok("test.echo", json!(["hello world"]), json!({})));
        // Extra arguments beyond the limits are allowed, as in Salt.
        assert!(ok("test.echo", json!(["hello", "and more"]), json!({})));
        assert!(!ok("test.echo", json!(["say hello"]), json!({})));
        assert!(!ok("test.echo", json!([]), json!({})));
        assert!(ok(
            "cmd.run",
            json!(["ls"]),
            json!({"cwd": "/tmp", "env": {}})
        ));
        assert!(!ok("cmd.run", json!(["ls -la /"]), json!({"cwd": "/tmp"})));
        assert!(!ok("cmd.run", json!(["ls"]), json!({"cwd": "/tmpfoo"})));
        assert!(!ok("cmd.run", json!(["ls"]), json!({})));
        // null: any value, but the argument must be there.
        assert!(ok("pkg.install", json!([1, "foo"]), json!({})));
        assert!(!ok("pkg.install", json!(["foo"]), json!({})));
        assert!(ok("test.arg", json!([]), json!({"who": [1, 2]})));
        // Patterns see Python's str() of the value: True, 1.5.
        assert!(ok("test.arg", json!([true, 1.5]), json!({})));
        assert!(!ok("test.arg", json!(["true", 1.5]), json!({})));
        // An empty limit limits nothing.
        assert!(ok("test.any", json!(["x"]), json!({"y": 1})));
    }

    #[test]
    fn runner_and_wheel_specs_as_salts_spec_check() {
        let none = || json!([]);
        assert!(runner(&[json!("@runner")], "manage.up", none(), json!({})));
        assert!(runner(&[json!("@runners")], "manage.up", none(), json!({})));
        assert!(!runner(&[json!("@wheel")], "manage.up", none(), json!({})));
        assert!(wheel(&[json!("@wheel")], "key.list_all"));
        assert!(wheel(&[json!("@wheels")], "key.list_all"));
        assert!(!wheel(&[json!("@runner")], "key.list_all"));
        // `@<module>` allows that module of either kind.
        assert!(runner(
            &[json!("@jobs")],
            "jobs.list_jobs",
            none(),
            json!({})
        ));
        assert!(!runner(&[json!("@jobs")], "manage.up", none(), json!({})));
        assert!(wheel(&[json!("@key")], "key.finger"));
        // Plain patterns and targets never grant runners or wheels.
        assert!(!runner(&[json!(".*")], "manage.up", none(), json!({})));
        assert!(!runner(
            &[json!({"*": [".*"]})],
            "manage.up",
            none(),
            json!({})
        ));
        // Under `@runner`, whole names; under `@<module>`, the function alone.
        let rx = [
            json!({"@runner": ["jobs.list_job", "manage.up"]}),
            json!({"@jobs": ["lookup_.*"]}),
        ];
        assert!(runner(&rx, "jobs.list_job", none(), json!({})));
        assert!(!runner(&rx, "jobs.list_jobs", none(), json!({})));
        assert!(runner(&rx, "jobs.lookup_jid", none(), json!({})));
        assert!(!runner(&rx, "manage.down", none(), json!({})));
        assert!(!wheel(&rx, "manage.up"));
        let limits = [
            json!({"@runner": [{"jobs.lookup_jid": {"args": ["2024.*"]}},
                                         {"test.arg": {"kwargs": {"who": "me"}}}]}),
        ];
        assert!(runner(
            &limits,
            "jobs.lookup_jid",
            json!(["20240101"]),
            json!({})
        ));
        assert!(!runner(
            &limits,
            "jobs.lookup_jid",
            json!(["20230101"]),
            json!({})
        ));
        assert!(runner(&limits, "test.arg", none(), json!({"who": "me"})));
        assert!(!runner(&limits, "test.arg", none(), json!({"who": "meme"})));
        // Not module.function: refused (Salt answers a syntax error).
        for bad in ["manage", "a.b.c", ""] {
            assert!(
                !runner(&[json!("@runner")], bad, none(), json!({})),
                "{bad}"
            );
        }
        // `@events` is brine's, never a module name.
        assert!(!runner(&[json!("@events")], "events.x", none(), json!({})));
        assert!(!runner(
            &[json!({"@events": [".*"]})],
            "events.x",
            none(),
            json!({})
        ));
        assert!(!runner(&[], "manage.up", none(), json!({})));
    }

    #[test]
    fn perms_sorted_as_salts_sorted_permissions_without_touching_the_config() {
        let a = acl(
            json!({"pam": {"alice": ["z.*", {"web*": ["b"]}, "a.*", "z.*",
                                             {"db*": ["a"]}, {"web*": ["b"]}],
                                   "al*": ["a.*"]}}),
        );
        let l = list(&a, "alice", &[]);
        let want = json!(["a.*", "z.*", {"db*": ["a"]}, {"web*": ["b"]}]);
        assert_eq!(perms(&l), want);
        // Asking again gives the same: nothing was appended to the configuration.
        assert_eq!(perms(&list(&a, "alice", &[])), want);
        assert_eq!(list(&a, "alice", &[]).len(), 7);
        assert_eq!(perms(&[]), json!({}));
        // Mappings equal regardless of key order are one.
        let l = [json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1})];
        assert_eq!(perms(&l).as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn event_patterns_from_events_entries() {
        assert_eq!(event_patterns(&[json!("test.*")]), None);
        assert_eq!(event_patterns(&[]), None);
        assert_eq!(
            event_patterns(&[
                json!({"@events": ["salt/job/*", "myco/*"]}),
                json!({"@events": "myco/*"})
            ]),
            Some(vec!["salt/job/*".to_string(), "myco/*".to_string()])
        );
        assert_eq!(
            event_patterns(&[json!("@events"), json!("test.ping")]),
            Some(vec!["*".to_string()])
        );
        // Present but empty: no events at all.
        assert_eq!(event_patterns(&[json!({"@events": []})]), Some(vec![]));
    }

    /// Salt 3007.15's own decisions (tests/fixtures/gen_netapi_fixtures.py runs
    /// fill_auth_list, auth_check and spec_check) beside brine's, which must be the `brine`
    /// column, differing from Salt exactly where `differs` says why.
    #[test]
    fn decisions_agree_with_the_salt_fixture() {
        use crate::targeting::{Target, TgtType};
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/salt/netapi_acl.json"
        ));
        let doc: Value = serde_json::from_str(text).expect("fixture is JSON");
        let known: Vec<String> = doc["known_minions"]
            .as_array()
            .expect("known_minions")
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect();
        let expand = |t: &str| -> BTreeSet<String> {
            Target::parse(&json!(t), TgtType::Compound, &Value::Null, ":")
                .map(|tg| tg.expected(&known, &|_| None).0.into_iter().collect())
                .unwrap_or_default()
        };
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        // Salt's sum_permissions, from the configuration as given (what /login lists).
        let summed = |section: &Value, user: &str, groups: &[String]| -> Vec<Value> {
            let get = |k: &str| {
                section
                    .get(k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            let mut raw = get(user);
            raw.extend(get("*"));
            for g in groups {
                raw.extend(get(&format!("{g}%")));
            }
            raw
        };
        let mut bad = Vec::new();
        let mut checked = 0;
        let cases = doc["cases"].as_array().expect("cases");
        assert!(cases.len() >= 30);
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            let eauth = case["eauth"].as_str().unwrap_or("pam");
            let user = case["user"].as_str().unwrap_or_default();
            let groups = strs(&case["groups"]);
            let permissive = case["permissive_acl"].as_bool().unwrap_or(false);
            let auth_list: Vec<Value> = match Acl::parse(&case["external_auth"], permissive) {
                Ok(acl) => {
                    let ours = acl.auth_list(eauth, user, &groups);
                    let want = match &case["brine_auth_list"] {
                        Value::Null => &case["auth_list"],
                        l => l,
                    };
                    if Value::Array(ours.clone()) != *want {
                        bad.push(format!("{name}: auth_list {ours:?}, fixture says {want}"));
                    }
                    ours
                }
                // brine refuses at load what Salt never matches; the list a token could
                // still carry is decided as Salt's.
                Err(e) => {
                    if !e.to_string().contains("not a valid regular expression") {
                        bad.push(format!("{name}: refused: {e}"));
                    }
                    case["auth_list"].as_array().cloned().unwrap_or_default()
                }
            };
            let section = &case["external_auth"][eauth];
            let p = perms(&summed(section, user, &groups));
            if p != case["perms"] {
                bad.push(format!("{name}: perms {p}, Salt says {}", case["perms"]));
            }
            if let Some(second) = case.get("perms_second_call") {
                let p = perms(&summed(section, user, &strs(&second["groups"])));
                if p != second["brine_perms"] {
                    bad.push(format!(
                        "{name}: second perms {p}, fixture says {}",
                        second["brine_perms"]
                    ));
                }
            }
            for (i, k) in case["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .enumerate()
            {
                let fun = k["fun"].as_str().unwrap_or_default();
                let mut arg = k["arg"].as_array().cloned().unwrap_or_default();
                let mut kwarg = k["kwarg"].as_object().cloned().unwrap_or_default();
                let client = k["client"].as_str().unwrap_or_default();
                if client != "local" {
                    // What the API hands over for runners and wheels: key=value words
                    // already keyword arguments, as Salt's _reformat_low makes them.
                    let mut positional = Vec::new();
                    for a in arg.drain(..) {
                        match &a {
                            Value::String(w) if w.contains('=') => {
                                let (p, kw) = crate::py::args::parse_input(&[w.as_str()]);
                                positional.extend(p);
                                kwarg.extend(kw);
                            }
                            _ => positional.push(a),
                        }
                    }
                    arg = positional;
                }
                let minions = strs(&k["minions"]);
                let tgt = k["tgt"].as_str().unwrap_or_default();
                let tgt_type = k["tgt_type"].as_str().unwrap_or("glob");
                let call = match client {
                    "local" => Call::Local {
                        fun,
                        arg: &arg,
                        kwarg: &kwarg,
                        minions: &minions,
                        tgt,
                        tgt_type,
                    },
                    "runner" => Call::Runner {
                        fun,
                        arg: &arg,
                        kwarg: &kwarg,
                    },
                    _ => Call::Wheel {
                        fun,
                        arg: &arg,
                        kwarg: &kwarg,
                    },
                };
                let ours = allows(&auth_list, &call, &expand);
                let (salt, brine) = (k["salt"].as_bool(), k["brine"].as_bool());
                if Some(ours) != brine {
                    bad.push(format!(
                        "{name} #{i} {client} {fun} {arg:?} {kwarg:?} on {tgt}: brine says \
                         {ours}, the fixture {brine:?} (Salt {salt:?}; differs: {})",
                        k["differs"]
                    ));
                }
                if (salt != brine) == k["differs"].is_null() {
                    bad.push(format!(
                        "{name} #{i}: `differs` does not match salt != brine"
                    ));
                }
                checked += 1;
            }
        }
        assert!(checked >= 100, "only {checked} checks");
        assert!(
            bad.is_empty(),
            "{} disagreements:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}
