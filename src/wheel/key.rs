//! Salt's wheel `key` module (`salt/wheel/key.py` over `salt/key.py`'s `Key`): list,
//! match, accept, reject, delete, print and fingerprint minion keys in a `KeyStore`.
//!
//! Return values have the shapes Salt's functions return, keyed by state directory
//! (`minions`, `minions_pre`, `minions_rejected`, `minions_denied`, and `local` for the
//! master's own key files), in the order Salt walks the directories. Every key actually
//! moved or removed yields one `KeyEvent`; the caller fires them as `salt/key`.

use crate::matcher::fnmatch;
use crate::pki::{self, KeyPair, KeyState, KeyStore, PkiError, PublicKey};
use crate::py::truthy;
use crate::signature::{self, Default, Param};
use serde_json::{json, Map, Value};

/// The tag of the event each `KeyEvent` becomes.
pub const TAG: &str = "salt/key";

/// One key moved or removed: fired as `salt/key` with `{"result": true, "act", "id"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// The minion id.
    pub id: String,
    /// "accept", "reject" or "delete".
    pub act: &'static str,
}

impl KeyEvent {
    /// The event data, in Salt's key order.
    pub fn data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("result".into(), Value::Bool(true));
        m.insert("act".into(), json!(self.act));
        m.insert("id".into(), json!(self.id));
        m
    }
}

/// What a function returns, with the events to fire.
type Outcome = Result<(Value, Vec<KeyEvent>), String>;

/// Keys grouped by state directory name, in a meaningful order (a Python dict).
type Groups = Vec<(String, Vec<String>)>;

struct Fun {
    name: &'static str,
    params: &'static [Param],
    run: fn(&KeyStore, &[Value]) -> Outcome,
}

const MATCH: Param = Param {
    name: "match",
    default: Default::Required,
};
const HASH_TYPE: Param = Param {
    name: "hash_type",
    default: Default::Null,
};
const KEYSIZE: Param = Param {
    name: "keysize",
    default: Default::Int(2048),
};

const fn flag(name: &'static str) -> Param {
    Param {
        name,
        default: Default::Bool(false),
    }
}

const FUNS: &[Fun] = &[
    Fun {
        name: "list",
        params: &[MATCH],
        run: list,
    },
    Fun {
        name: "list_all",
        params: &[],
        run: |s, _| Ok((groups_value(&all_keys(s)?), Vec::new())),
    },
    Fun {
        name: "name_match",
        params: &[MATCH],
        run: |s, a| {
            Ok((
                groups_value(&name_match(s, &globs(&a[0])?, false)?),
                Vec::new(),
            ))
        },
    },
    Fun {
        name: "accept",
        params: &[MATCH, flag("include_rejected"), flag("include_denied")],
        run: |s, a| by_glob(s, a, accept),
    },
    Fun {
        name: "accept_dict",
        params: &[MATCH, flag("include_rejected"), flag("include_denied")],
        run: |s, a| by_dict(s, a, accept),
    },
    Fun {
        name: "reject",
        params: &[MATCH, flag("include_accepted"), flag("include_denied")],
        run: |s, a| by_glob(s, a, reject),
    },
    Fun {
        name: "reject_dict",
        params: &[MATCH, flag("include_accepted"), flag("include_denied")],
        run: |s, a| by_dict(s, a, reject),
    },
    Fun {
        name: "delete",
        params: &[MATCH],
        run: |s, a| by_glob(s, a, delete),
    },
    Fun {
        name: "delete_dict",
        params: &[MATCH],
        run: |s, a| by_dict(s, a, delete),
    },
    Fun {
        name: "print",
        params: &[MATCH],
        run: print,
    },
    Fun {
        name: "finger",
        params: &[MATCH, HASH_TYPE],
        run: finger,
    },
    Fun {
        name: "finger_master",
        params: &[HASH_TYPE],
        run: finger_master,
    },
    Fun {
        name: "master_key_str",
        params: &[],
        run: master_key_str,
    },
    Fun {
        name: "gen",
        params: &[
            Param {
                name: "id_",
                default: Default::Null,
            },
            KEYSIZE,
        ],
        run: gen,
    },
    Fun {
        name: "gen_accept",
        params: &[
            Param {
                name: "id_",
                default: Default::Required,
            },
            KEYSIZE,
            flag("force"),
        ],
        run: gen_accept,
    },
    Fun {
        name: "gen_keys",
        params: &[
            Param {
                name: "keydir",
                default: Default::Null,
            },
            Param {
                name: "keyname",
                default: Default::Null,
            },
            Param {
                name: "keysize",
                default: Default::Null,
            },
            Param {
                name: "user",
                default: Default::Null,
            },
        ],
        run: gen_keys,
    },
];

/// The wheel key functions brine has, as `key.<name>`.
pub fn names() -> impl Iterator<Item = String> {
    FUNS.iter().map(|f| format!("key.{}", f.name))
}

/// The signature of `key.FUN`, if it exists.
pub fn params(fun: &str) -> Option<&'static [Param]> {
    let short = fun.strip_prefix("key.")?;
    FUNS.iter().find(|f| f.name == short).map(|f| f.params)
}

/// Calls the wheel function `fun` ("key.list_all", "key.accept", ...) with Salt's argument
/// names; None when there is no such function. Arguments that do not fit its signature
/// give Python's message as the error.
pub fn call(
    store: &KeyStore,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Option<Result<(Value, Vec<KeyEvent>), String>> {
    let short = fun.strip_prefix("key.")?;
    let f = FUNS.iter().find(|f| f.name == short)?;
    Some(
        signature::bind(short, f.params, None, args, kwargs)
            .and_then(|(bound, _)| (f.run)(store, &bound)),
    )
}

fn store_err(e: PkiError) -> String {
    e.to_string()
}

/// Salt's `match`: a glob, comma-separated globs, or a list of globs (not trimmed: in
/// `a, b` the second glob is ` b`).
fn globs(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(s.split(',').map(str::to_string).collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Ok(crate::py::python_str(other)),
            })
            .collect(),
        other => Err(format!(
            "match must be a glob, comma-separated globs or a list of globs, not {}",
            crate::py::python_repr(other)
        )),
    }
}

/// A `match_dict` as the `*_dict` functions take it: `{state dir: [ids]}`.
fn groups_arg(v: &Value) -> Result<Groups, String> {
    let Value::Object(m) = v else {
        return Err(format!(
            "match must be a map of key states to lists of ids, not {}",
            crate::py::python_repr(v)
        ));
    };
    m.iter()
        .map(|(status, ids)| match ids {
            Value::Array(items) => Ok((
                status.clone(),
                items.iter().map(crate::py::python_str).collect(),
            )),
            other => Err(format!(
                "the ids under {status} must be a list, not {}",
                crate::py::python_repr(other)
            )),
        })
        .collect()
}

fn groups_value(groups: &Groups) -> Value {
    let mut m = Map::new();
    for (status, ids) in groups {
        m.insert(status.clone(), json!(ids));
    }
    Value::Object(m)
}

fn get<'a>(groups: &'a Groups, status: &str) -> Option<&'a Vec<String>> {
    groups.iter().find(|(s, _)| s == status).map(|(_, ids)| ids)
}

/// Salt's `list_keys`: every state, in directory order, each sorted ignoring case.
fn list_keys(store: &KeyStore) -> Result<Groups, String> {
    KeyState::DIR_ORDER
        .iter()
        .map(|s| Ok((s.dir_name().to_string(), store.list(*s).map_err(store_err)?)))
        .collect()
}

/// Salt's `all_keys`: `list_keys` plus the master's own key files as `local`.
fn all_keys(store: &KeyStore) -> Result<Groups, String> {
    let mut groups = list_keys(store)?;
    groups.push(("local".into(), store.local_keys().map_err(store_err)?));
    Ok(groups)
}

/// Salt's `name_match`: the keys any glob matches, by state; states without a match are
/// left out. (Salt lists a key once per glob it matches; brine lists it once.)
fn name_match(store: &KeyStore, globs: &[String], full: bool) -> Result<Groups, String> {
    let all = if full {
        all_keys(store)?
    } else {
        list_keys(store)?
    };
    Ok(all
        .into_iter()
        .filter_map(|(status, ids)| {
            let hit: Vec<String> = ids
                .into_iter()
                .filter(|id| globs.iter().any(|g| fnmatch(id, g)))
                .collect();
            (!hit.is_empty()).then_some((status, hit))
        })
        .collect())
}

/// Salt's `dict_match`: where each id of `groups` is now. Each id is used as a glob over
/// the current keys, state by state, as Salt does.
fn dict_match(store: &KeyStore, groups: &Groups) -> Result<Groups, String> {
    let current = list_keys(store)?;
    let mut out: Groups = Vec::new();
    for (_, ids) in groups {
        let mut ids = ids.clone();
        pki::sort_ignorecase(&mut ids);
        for id in ids {
            for (status, keys) in &current {
                if keys.iter().any(|k| fnmatch(k, &id)) {
                    match out.iter_mut().find(|(s, _)| s == status) {
                        Some((_, v)) => v.push(id.clone()),
                        None => out.push((status.clone(), vec![id.clone()])),
                    }
                }
            }
        }
    }
    Ok(out)
}

/// An action over matched keys: (store, matches, first flag, second flag) -> events.
type Action = fn(&KeyStore, &mut Groups, bool, bool) -> Vec<KeyEvent>;

/// `accept(match, ...)`: acts on what the globs match, returns `name_match(match)` after.
fn by_glob(store: &KeyStore, a: &[Value], act: Action) -> Outcome {
    let g = globs(&a[0])?;
    let mut matches = name_match(store, &g, false)?;
    let flags = (a.get(1).is_some_and(truthy), a.get(2).is_some_and(truthy));
    let events = act(store, &mut matches, flags.0, flags.1);
    Ok((groups_value(&name_match(store, &g, false)?), events))
}

/// `accept_dict(match, ...)`: acts on exactly the keys given, returns `dict_match` after.
fn by_dict(store: &KeyStore, a: &[Value], act: Action) -> Outcome {
    let mut matches = groups_arg(&a[0])?;
    let flags = (a.get(1).is_some_and(truthy), a.get(2).is_some_and(truthy));
    let events = act(store, &mut matches, flags.0, flags.1);
    Ok((groups_value(&dict_match(store, &matches)?), events))
}

/// Moves the matched keys of `from` states into `to`, one event each.
fn move_all(
    store: &KeyStore,
    matches: &mut Groups,
    from: &[KeyState],
    to: KeyState,
    act: &'static str,
    check: bool,
) -> Vec<KeyEvent> {
    let mut events = Vec::new();
    let mut invalid = Vec::new();
    for &state in from {
        let Some(ids) = get(matches, state.dir_name()).cloned() else {
            continue;
        };
        for id in ids {
            if check {
                // Salt refuses to accept a key it cannot load.
                match store.get(state, &id) {
                    Ok(Some(text)) if PublicKey::from_pem(&text).is_ok() => {}
                    Ok(Some(_)) => {
                        log::error!("Unable to accept invalid key for {id}.");
                        invalid.push((state, id));
                        continue;
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        log::warn!("{e}");
                        continue;
                    }
                }
            }
            // Salt ignores a key that vanished or cannot be moved; so do we, with a log line.
            match store.move_key(state, to, &id) {
                Ok(()) => events.push(KeyEvent { id, act }),
                Err(e) => log::warn!("{e}"),
            }
        }
    }
    for (state, id) in invalid {
        if let Some((_, ids)) = matches.iter_mut().find(|(s, _)| s == state.dir_name()) {
            if let Some(i) = ids.iter().position(|k| *k == id) {
                ids.remove(i);
            }
        }
    }
    events
}

/// Pending keys (and rejected, denied ones when included) become accepted; an accepted
/// key of the same id is replaced, which is how a denied key is accepted.
fn accept(
    store: &KeyStore,
    m: &mut Groups,
    include_rejected: bool,
    include_denied: bool,
) -> Vec<KeyEvent> {
    let mut from = vec![KeyState::Pending];
    if include_rejected {
        from.push(KeyState::Rejected);
    }
    if include_denied {
        from.push(KeyState::Denied);
    }
    move_all(store, m, &from, KeyState::Accepted, "accept", true)
}

/// Pending keys (and accepted, denied ones when included) become rejected.
fn reject(
    store: &KeyStore,
    m: &mut Groups,
    include_accepted: bool,
    include_denied: bool,
) -> Vec<KeyEvent> {
    let mut from = vec![KeyState::Pending];
    if include_accepted {
        from.push(KeyState::Accepted);
    }
    if include_denied {
        from.push(KeyState::Denied);
    }
    move_all(store, m, &from, KeyState::Rejected, "reject", false)
}

/// Removes the matched keys in every state (never the master's own `local` keys).
fn delete(store: &KeyStore, m: &mut Groups, _: bool, _: bool) -> Vec<KeyEvent> {
    let mut events = Vec::new();
    for (status, ids) in m.iter() {
        let Some(state) = KeyState::from_dir_name(status) else {
            continue;
        };
        for id in ids {
            match store.remove(state, id) {
                Ok(true) => events.push(KeyEvent {
                    id: id.clone(),
                    act: "delete",
                }),
                Ok(false) => {}
                Err(e) => log::warn!("{e}"),
            }
        }
    }
    events
}

/// `list(match)`: one state by its salt-key name (`acc`, `un`, `pre`, `rej`, `den`), or
/// `all` (with `local`); anything else gives `{}`.
fn list(store: &KeyStore, a: &[Value]) -> Outcome {
    let Value::String(name) = &a[0] else {
        return Err(format!(
            "match must be a key state name, not {}",
            crate::py::python_repr(&a[0])
        ));
    };
    let groups = match KeyState::from_name(name) {
        Some(s) => vec![(s.dir_name().to_string(), store.list(s).map_err(store_err)?)],
        None if name.starts_with("all") => all_keys(store)?,
        None => Vec::new(),
    };
    Ok((groups_value(&groups), Vec::new()))
}

/// The fingerprint of a key file's text: of the public key, or of the public half of a
/// secret key file (so `master.pem` and `master.pub` show the same one); "" for text that
/// is neither.
fn finger_text(text: &str) -> String {
    if let Ok(k) = PublicKey::from_pem(text) {
        return k.fingerprint();
    }
    KeyPair::from_secret_pem(text)
        .map(|k| k.public.fingerprint())
        .unwrap_or_default()
}

fn read(store: &KeyStore, status: &str, id: &str) -> Result<Option<String>, String> {
    match KeyState::from_dir_name(status) {
        Some(state) => store.get(state, id),
        None => store.get_local(id),
    }
    .map_err(store_err)
}

/// `{status: {id: f(text)}}` for the matched keys.
fn per_key(store: &KeyStore, groups: &Groups, f: fn(&str) -> String) -> Result<Value, String> {
    let mut out = Map::new();
    for (status, ids) in groups {
        let mut m = Map::new();
        for id in ids {
            if let Some(text) = read(store, status, id)? {
                m.insert(id.clone(), Value::String(f(&text)));
            }
        }
        out.insert(status.clone(), Value::Object(m));
    }
    Ok(Value::Object(out))
}

fn print(store: &KeyStore, a: &[Value]) -> Outcome {
    let groups = name_match(store, &globs(&a[0])?, false)?;
    Ok((per_key(store, &groups, str::to_string)?, Vec::new()))
}

/// Fingerprints, local keys included; `hash_type` is accepted and ignored (always SHA-256).
fn finger(store: &KeyStore, a: &[Value]) -> Outcome {
    let groups = name_match(store, &globs(&a[0])?, true)?;
    Ok((per_key(store, &groups, finger_text)?, Vec::new()))
}

fn finger_master(store: &KeyStore, _: &[Value]) -> Outcome {
    let fp = read(store, "local", "master.pub")?
        .map(|t| finger_text(&t))
        .unwrap_or_default();
    Ok((json!({"local": {"master.pub": fp}}), Vec::new()))
}

fn master_key_str(store: &KeyStore, _: &[Value]) -> Outcome {
    let path = store.pki_dir().join("master.pub");
    let text = read(store, "local", "master.pub")?
        .ok_or_else(|| format!("{}: no such file", path.display()))?;
    Ok((json!({"local": {"master.pub": text}}), Vec::new()))
}

fn optional_str<'a>(v: &'a Value, what: &str) -> Result<Option<&'a str>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(format!(
            "{what} must be a string, not {}",
            crate::py::python_repr(other)
        )),
    }
}

fn id_arg(v: &Value) -> Result<Option<&str>, String> {
    let id = optional_str(v, "id_")?;
    match id {
        Some(id) if !pki::valid_id(id) => Err(PkiError::InvalidId(id.to_string()).to_string()),
        _ => Ok(id),
    }
}

/// A new key pair, returned and not stored: `{"priv": ..., "pub": ...}`.
fn gen(_: &KeyStore, a: &[Value]) -> Outcome {
    id_arg(&a[0])?;
    let k = KeyPair::generate();
    Ok((
        json!({"priv": k.secret_pem(), "pub": k.public.to_pem()}),
        Vec::new(),
    ))
}

/// A new key pair whose public key is stored as accepted (pre-seeding a minion); `{}` when
/// the id already has an accepted key and `force` is not set. Salt writes the key silently;
/// brine fires `salt/key` (act accept) for it, so the bus shows every key that is accepted.
fn gen_accept(store: &KeyStore, a: &[Value]) -> Outcome {
    let Some(id) = id_arg(&a[0])? else {
        return Err("gen_accept() needs an id_".into());
    };
    if store.contains(KeyState::Accepted, id).map_err(store_err)? && !truthy(&a[2]) {
        return Ok((json!({}), Vec::new()));
    }
    let k = KeyPair::generate();
    let public = k.public.to_pem();
    store
        .put(KeyState::Accepted, id, &public)
        .map_err(store_err)?;
    let accepted = KeyEvent {
        id: id.to_string(),
        act: "accept",
    };
    Ok((
        json!({"priv": k.secret_pem(), "pub": public}),
        vec![accepted],
    ))
}

/// Writes `keydir/keyname.pem` and `.pub` (defaults: pki_dir, "minion"); returns the
/// fingerprint of the new public key.
fn gen_keys(store: &KeyStore, a: &[Value]) -> Outcome {
    let dir = optional_str(&a[0], "keydir")?
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| store.pki_dir().to_path_buf());
    let name = optional_str(&a[1], "keyname")?.unwrap_or("minion");
    let k = pki::generate_files(&dir, name).map_err(store_err)?;
    Ok((Value::String(k.public.fingerprint()), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T {
        _dir: tempfile::TempDir,
        store: KeyStore,
    }

    /// A store with these keys, `(state, id)`.
    fn with(keys: &[(KeyState, &str)]) -> T {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("pki")).unwrap();
        for (state, id) in keys {
            store
                .put(*state, id, &KeyPair::generate().public.to_pem())
                .unwrap();
        }
        T { _dir: dir, store }
    }

    fn run(t: &T, fun: &str, args: Value, kwargs: Value) -> (Value, Vec<KeyEvent>) {
        let args = args.as_array().cloned().unwrap_or_default();
        let kwargs = kwargs.as_object().cloned().unwrap_or_default();
        call(&t.store, fun, &args, &kwargs)
            .expect("function exists")
            .expect("call succeeds")
    }

    fn ev(act: &'static str, ids: &[&str]) -> Vec<KeyEvent> {
        ids.iter()
            .map(|id| KeyEvent {
                id: id.to_string(),
                act,
            })
            .collect()
    }

    use KeyState::{Accepted as Acc, Denied as Den, Pending as Pre, Rejected as Rej};

    #[test]
    fn list_all_has_every_state_in_salts_order_and_local_keys() {
        let t = with(&[(Acc, "b"), (Acc, "A"), (Pre, "p1"), (Den, "d"), (Rej, "r")]);
        pki::load_or_generate(t.store.pki_dir(), "master").unwrap();
        let (v, e) = run(&t, "key.list_all", json!([]), json!({}));
        assert!(e.is_empty());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"minions":["A","b"],"minions_pre":["p1"],"minions_rejected":["r"],"minions_denied":["d"],"local":["master.pem","master.pub"]}"#
        );
    }

    #[test]
    fn list_takes_salt_key_state_names() {
        let t = with(&[(Acc, "a"), (Pre, "p")]);
        for (name, want) in [
            ("acc", json!({"minions": ["a"]})),
            ("accepted", json!({"minions": ["a"]})),
            ("un", json!({"minions_pre": ["p"]})),
            ("pre", json!({"minions_pre": ["p"]})),
            ("rej", json!({"minions_rejected": []})),
            ("den", json!({"minions_denied": []})),
            ("bogus", json!({})),
        ] {
            assert_eq!(
                run(&t, "key.list", json!([name]), json!({})).0,
                want,
                "{name}"
            );
        }
        let (all, _) = run(&t, "key.list", json!([]), json!({"match": "all"}));
        assert_eq!(all["local"], json!([]));
    }

    #[test]
    fn name_match_takes_globs_comma_lists_and_lists() {
        let t = with(&[(Acc, "web1"), (Pre, "web2"), (Pre, "db1"), (Rej, "web3")]);
        let nm = |m: Value| run(&t, "key.name_match", json!([m]), json!({})).0;
        assert_eq!(
            nm(json!("web*")),
            json!({"minions": ["web1"], "minions_pre": ["web2"], "minions_rejected": ["web3"]})
        );
        assert_eq!(
            nm(json!("db*,web1")),
            json!({"minions": ["web1"], "minions_pre": ["db1"]})
        );
        assert_eq!(
            nm(json!(["db1", "web2"])),
            json!({"minions_pre": ["db1", "web2"]})
        );
        // Overlapping globs list a key once.
        assert_eq!(
            nm(json!("db*,*1")),
            json!({"minions": ["web1"], "minions_pre": ["db1"]})
        );
        assert_eq!(nm(json!("nothing")), json!({}));
        // Globs are not trimmed, as in Salt.
        assert_eq!(nm(json!("web1, db1")), json!({"minions": ["web1"]}));
    }

    #[test]
    fn accept_moves_pending_keys_and_returns_name_match_after() {
        let t = with(&[
            (Pre, "web1"),
            (Pre, "web2"),
            (Rej, "web3"),
            (Den, "web4"),
            (Pre, "db1"),
        ]);
        let (v, e) = run(&t, "key.accept", json!(["web*"]), json!({}));
        assert_eq!(e, ev("accept", &["web1", "web2"]));
        assert_eq!(
            v,
            json!({"minions": ["web1", "web2"], "minions_rejected": ["web3"], "minions_denied": ["web4"]})
        );
        let (v, e) = run(
            &t,
            "key.accept",
            json!(["web*"]),
            json!({"include_rejected": true, "include_denied": true}),
        );
        assert_eq!(e, ev("accept", &["web3", "web4"]));
        assert_eq!(v, json!({"minions": ["web1", "web2", "web3", "web4"]}));
        assert_eq!(t.store.list(Pre).unwrap(), ["db1"]);
    }

    #[test]
    fn accepting_a_denied_key_replaces_the_accepted_one() {
        let t = with(&[(Acc, "m1")]);
        let new = KeyPair::generate().public.to_pem();
        t.store.put(Den, "m1", &new).unwrap();
        // Without include_denied nothing moves.
        let (_, e) = run(&t, "key.accept", json!(["m1"]), json!({}));
        assert!(e.is_empty());
        let (v, e) = run(
            &t,
            "key.accept_dict",
            json!([{"minions_denied": ["m1"]}]),
            json!({"include_denied": true}),
        );
        assert_eq!(e, ev("accept", &["m1"]));
        assert_eq!(v, json!({"minions": ["m1"]}));
        assert_eq!(t.store.get(Acc, "m1").unwrap(), Some(new));
        assert_eq!(t.store.list(Den).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_invalid_pending_key_is_not_accepted() {
        let t = with(&[(Pre, "good")]);
        t.store.put(Pre, "junk", "not a key").unwrap();
        let (v, e) = run(
            &t,
            "key.accept_dict",
            json!([{"minions_pre": ["good", "junk"]}]),
            json!({}),
        );
        assert_eq!(e, ev("accept", &["good"]));
        assert_eq!(v, json!({"minions": ["good"]}));
        assert_eq!(t.store.list(Pre).unwrap(), ["junk"]);
    }

    #[test]
    fn reject_moves_pending_and_included_states() {
        let t = with(&[(Pre, "a1"), (Acc, "a2"), (Den, "a3")]);
        let (v, e) = run(&t, "key.reject", json!(["a*"]), json!({}));
        assert_eq!(e, ev("reject", &["a1"]));
        assert_eq!(
            v,
            json!({"minions": ["a2"], "minions_rejected": ["a1"], "minions_denied": ["a3"]})
        );
        let (v, e) = run(
            &t,
            "key.reject_dict",
            json!([{"minions": ["a2"], "minions_denied": ["a3"]}]),
            json!({"include_accepted": true, "include_denied": true}),
        );
        assert_eq!(e, ev("reject", &["a2", "a3"]));
        assert_eq!(v, json!({"minions_rejected": ["a2", "a3"]}));
    }

    #[test]
    fn delete_removes_from_every_state_but_never_local_keys() {
        let t = with(&[
            (Acc, "m1"),
            (Pre, "m2"),
            (Rej, "m3"),
            (Den, "m1"),
            (Acc, "x"),
        ]);
        pki::load_or_generate(t.store.pki_dir(), "master").unwrap();
        let (v, e) = run(&t, "key.delete", json!(["m*"]), json!({}));
        assert_eq!(e, ev("delete", &["m1", "m2", "m3", "m1"]));
        assert_eq!(v, json!({}));
        assert_eq!(t.store.list(Acc).unwrap(), ["x"]);
        let (v, e) = run(
            &t,
            "key.delete_dict",
            json!([{"minions": ["x", "gone"], "local": ["master.pem"]}]),
            json!({}),
        );
        assert_eq!(e, ev("delete", &["x"]));
        assert_eq!(v, json!({}));
        assert!(t.store.pki_dir().join("master.pem").exists());
    }

    #[test]
    fn dict_match_reports_where_each_id_is_now() {
        // An id in two states shows in both, as Salt's dict_match reports it.
        let t = with(&[(Pre, "m1"), (Rej, "m1")]);
        let (v, e) = run(
            &t,
            "key.accept_dict",
            json!([{"minions_pre": ["m1"]}]),
            json!({}),
        );
        assert_eq!(e, ev("accept", &["m1"]));
        assert_eq!(v, json!({"minions": ["m1"], "minions_rejected": ["m1"]}));
    }

    #[test]
    fn dict_functions_ignore_ids_that_are_not_file_names() {
        let t = with(&[(Pre, "m1")]);
        let (_, e) = run(
            &t,
            "key.delete_dict",
            json!([{"minions_pre": ["../minions_pre/m1", "*"]}]),
            json!({}),
        );
        assert!(e.is_empty());
        assert_eq!(t.store.list(Pre).unwrap(), ["m1"]);
    }

    #[test]
    fn print_and_finger() {
        let t = with(&[(Pre, "m1")]);
        let master = pki::load_or_generate(t.store.pki_dir(), "master").unwrap();
        let pem = t.store.get(Pre, "m1").unwrap().unwrap();
        let (v, _) = run(&t, "key.print", json!(["m1"]), json!({}));
        assert_eq!(v, json!({"minions_pre": {"m1": pem.clone()}}));
        let fp = PublicKey::from_pem(&pem).unwrap().fingerprint();
        let (v, _) = run(
            &t,
            "key.finger",
            json!(["*"]),
            json!({"hash_type": "sha256"}),
        );
        let mfp = master.public.fingerprint();
        assert_eq!(
            v,
            json!({"minions_pre": {"m1": fp}, "local": {"master.pem": mfp, "master.pub": mfp}})
        );
        let (v, _) = run(&t, "key.finger_master", json!([]), json!({}));
        assert_eq!(v, json!({"local": {"master.pub": mfp}}));
        let (v, _) = run(&t, "key.master_key_str", json!([]), json!({}));
        assert_eq!(v, json!({"local": {"master.pub": master.public.to_pem()}}));
    }

    #[test]
    fn generating_keys() {
        let t = with(&[]);
        let (v, e) = run(&t, "key.gen", json!([]), json!({}));
        assert!(e.is_empty());
        let public = PublicKey::from_pem(v["pub"].as_str().unwrap()).unwrap();
        let pair = KeyPair::from_secret_pem(v["priv"].as_str().unwrap()).unwrap();
        assert_eq!(pair.public, public);
        let (v, e) = run(&t, "key.gen_accept", json!(["new1"]), json!({}));
        // Salt fires nothing for gen_accept; brine fires salt/key for the accepted key.
        assert_eq!(e.len(), 1, "one salt/key event for gen_accept");
        assert_eq!(
            t.store.get(Acc, "new1").unwrap().as_deref(),
            v["pub"].as_str()
        );
        assert_eq!(
            run(&t, "key.gen_accept", json!(["new1"]), json!({})).0,
            json!({})
        );
        assert!(run(
            &t,
            "key.gen_accept",
            json!(["new1"]),
            json!({"force": true})
        )
        .0["pub"]
            .is_string());
        let (fp, _) = run(&t, "key.gen_keys", json!([]), json!({"keyname": "extra"}));
        let on_disk = std::fs::read_to_string(t.store.pki_dir().join("extra.pub")).unwrap();
        assert_eq!(
            fp,
            json!(PublicKey::from_pem(&on_disk).unwrap().fingerprint())
        );
    }

    #[test]
    fn unknown_functions_and_bad_arguments() {
        let t = with(&[]);
        let none = Map::new();
        assert!(call(&t.store, "key.nope", &[], &none).is_none());
        assert!(call(&t.store, "list_all", &[], &none).is_none());
        assert!(crate::wheel::call(&t.store, "config.values", &[], &none).is_none());
        assert!(crate::wheel::call(&t.store, "key.list_all", &[], &none).is_some());
        let err = |fun: &str, args: Value, kwargs: Value| {
            call(
                &t.store,
                fun,
                args.as_array().unwrap(),
                kwargs.as_object().unwrap(),
            )
            .unwrap()
            .unwrap_err()
        };
        assert_eq!(
            err("key.accept", json!([]), json!({})),
            "accept() missing 1 required positional argument: 'match'"
        );
        assert_eq!(
            err("key.list_all", json!([1]), json!({})),
            "list_all() takes 0 positional arguments but 1 was given"
        );
        assert!(
            err("key.accept", json!([]), json!({"match": "*", "bogus": 1})).contains("bogus=1")
        );
        assert!(err("key.accept", json!([5]), json!({})).starts_with("match must be"));
        assert!(err("key.accept_dict", json!(["*"]), json!({})).starts_with("match must be a map"));
        assert!(err("key.gen_accept", json!(["../x"]), json!({})).contains("invalid minion id"));
        assert!(names().any(|n| n == "key.accept_dict"));
    }

    #[test]
    fn events_carry_salts_data() {
        let e = KeyEvent {
            id: "m1".into(),
            act: "accept",
        };
        assert_eq!(
            serde_json::to_string(&e.data()).unwrap(),
            r#"{"result":true,"act":"accept","id":"m1"}"#
        );
        assert_eq!(TAG, "salt/key");
    }
}
