//! Rendering one reactor SLS file to YAML text with Jinja (salt-spec §4.3), the way Salt's
//! default `jinja|yaml` pipeline does it.
//!
//! The template sees `tag`, `data`, `opts` and a small `salt` object (the few master-side
//! functions reactor files use: `environ.get`, `config.get`, `grains.get`, `pillar.get`,
//! `log.*`, `hashutil.hmac_signature`, `hashutil.github_signature`). Undefined values are
//! errors, as with Salt's
//! `StrictUndefined`; Python's methods on values (`data.get('id')`, `tag.startswith(...)`) come
//! from minijinja-contrib's pycompat, and `{{ value }}` prints what Python's `str()` prints, so
//! `None`, `True` and dicts render as Salt renders them.
//!
//! Templates are user input on the master's hot path: every render has a fuel budget (minijinja
//! instructions) and an output cap, so a runaway loop ends with an error instead of stalling
//! the reactor.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior, Value};
use serde_json::{Map, Value as Json};

use super::ReactorError;
use crate::py::{json_dumps, python_float, python_repr};

/// Everything a render may consult besides the event: the caller gathers it, so rendering
/// never reads the process environment, the disk or the clock.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RenderEnv {
    /// The master's options, read-only (`opts` in templates, and `config.get`).
    pub opts: Map<String, Json>,
    /// The master's grains, for `grains.get` (and `config.get`'s fallback).
    pub grains: Map<String, Json>,
    /// Environment variables, for `environ.get`.
    pub environ: BTreeMap<String, String>,
    /// The master's own pillar, for `pillar.get` (compiled from `pillar_roots` off the loop).
    #[serde(default)]
    pub pillar: Map<String, Json>,
    /// The configured pipeline (`renderer`, Salt's default `jinja|yaml`); `#!` overrides it.
    pub renderer: String,
    /// Most minijinja instructions one file may execute.
    pub fuel: u64,
    /// Most bytes one file may render to.
    pub max_output: usize,
}

/// Enough for any real reactor file (a few thousand instructions), small enough that a
/// runaway loop stops within a fraction of a second.
pub const DEFAULT_FUEL: u64 = 2_000_000;
/// Reactor files render to a few KiB; this is a guard, not a budget.
pub const DEFAULT_MAX_OUTPUT: usize = 4 << 20;

impl Default for RenderEnv {
    fn default() -> RenderEnv {
        RenderEnv {
            opts: Map::new(),
            grains: Map::new(),
            environ: BTreeMap::new(),
            pillar: Map::new(),
            renderer: "jinja|yaml".to_owned(),
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

/// The renderers a pipeline may name; anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pipeline {
    jinja: bool,
}

/// Reads the pipeline from a `#!` first line, or from the configured default. A `#!/` line is
/// an interpreter line, not a pipeline, as Salt's `template_shebang` sees it.
fn pipeline(file: &Path, text: &str, default: &str) -> Result<Pipeline, ReactorError> {
    let first = text.lines().next().unwrap_or("");
    let spec = match first.strip_prefix("#!") {
        Some(rest) if !rest.starts_with('/') && !rest.trim().is_empty() => rest,
        _ => default,
    };
    let mut jinja = false;
    for name in spec.split('|').map(str::trim) {
        match name {
            "jinja" => jinja = true,
            // YAML is implied: the result is always read as YAML.
            "yaml" | "" => {}
            other => {
                return Err(ReactorError::Renderer {
                    file: file.to_path_buf(),
                    renderer: other.to_owned(),
                })
            }
        }
    }
    Ok(Pipeline { jinja })
}

/// Renders one SLS file's text to YAML text for this event. The `#!` line stays in the output,
/// where YAML reads it as a comment, so line numbers in YAML errors match the file.
pub fn render(
    file: &Path,
    text: &str,
    tag: &str,
    data: &Map<String, Json>,
    env: &RenderEnv,
) -> Result<String, ReactorError> {
    if !pipeline(file, text, &env.renderer)?.jinja {
        return Ok(text.to_owned());
    }
    let name = file.to_string_lossy();
    let jinja = environment(env.fuel);
    let template_error = |e: Error| ReactorError::Template {
        file: file.to_path_buf(),
        line: e.line(),
        message: error_message(&e, env.fuel, env.max_output),
    };
    let template = jinja
        .template_from_named_str(&name, text)
        .map_err(template_error)?;
    let ctx = minijinja::context! {
        tag => tag,
        data => Value::from_serialize(data),
        opts => Value::from_serialize(&env.opts),
        salt => Value::from_object(SaltFn {
            path: String::new(),
            ctx: Arc::new(Ctx {
                opts: env.opts.clone(),
                grains: env.grains.clone(),
                environ: env.environ.clone(),
                pillar: env.pillar.clone(),
            }),
        }),
    };
    render_capped(&template, ctx, env.max_output).map_err(template_error)
}

/// Renders `template` with `ctx`, refusing to produce more than `limit` bytes (the overflow
/// is an error of kind `WriteFailure`, which [`error_message`] names).
pub(crate) fn render_capped(
    template: &minijinja::Template<'_, '_>,
    ctx: Value,
    limit: usize,
) -> Result<String, Error> {
    let mut out = Capped {
        buf: Vec::new(),
        limit,
    };
    template.render_captured_to(ctx, &mut out)?;
    // Every piece minijinja writes is a whole `str`, so the bytes are UTF-8; lossy is a
    // formality that cannot panic.
    Ok(String::from_utf8(out.buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The Jinja environment Salt's renderer configures, shared by reactor files and the state
/// system's SLS files and templates: strict undefined values, a fuel budget, Python's methods
/// and `str()` printing, and Salt's serialising filters.
pub(crate) fn environment(fuel: u64) -> Environment<'static> {
    let mut jinja = Environment::new();
    jinja.set_undefined_behavior(UndefinedBehavior::Strict);
    jinja.set_fuel(Some(fuel));
    jinja.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    jinja.set_formatter(python_formatter);
    jinja.add_filter("json", json_filter);
    jinja.add_filter("tojson", tojson_filter);
    jinja.add_filter("yaml", yaml_filter);
    jinja
}

/// A render error as one line: the limits named in words, otherwise minijinja's kind and
/// detail.
pub(crate) fn error_message(e: &Error, fuel: u64, max_output: usize) -> String {
    let message = match e.kind() {
        ErrorKind::OutOfFuel => {
            format!("the template ran past its limit of {fuel} steps (a runaway loop?)")
        }
        ErrorKind::WriteFailure => {
            format!("the template rendered more than {max_output} bytes, the limit")
        }
        kind => match e.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    // Error text may quote template source; an error is one line.
    message.replace(['\n', '\r'], " ")
}

/// A writer that refuses to grow past `limit`, which aborts the render (as a write failure).
struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(bytes.len()) > self.limit {
            return Err(io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Printing and filters

/// `{{ value }}` as Jinja2 prints it: Python's `str()`. minijinja would print `none`, `true` and
/// JSON-quoted maps, which YAML then reads differently from what Salt produced.
fn python_formatter(
    out: &mut minijinja::Output,
    state: &State,
    value: &Value,
) -> Result<(), Error> {
    let text = match value.kind() {
        minijinja::value::ValueKind::None => "None".to_owned(),
        minijinja::value::ValueKind::Bool => {
            if value.is_true() { "True" } else { "False" }.to_owned()
        }
        minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map => {
            python_repr(&to_json(value)?)
        }
        _ => return minijinja::escape_formatter(out, state, value),
    };
    out.write_str(&text)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "output limit"))
}

/// A template value as JSON, for the serialising filters.
fn to_json(value: &Value) -> Result<Json, Error> {
    serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot serialise {}: {e}", value.kind()),
        )
    })
}

/// Salt's `json` filter: `json.dumps(value, sort_keys=True)`, ASCII-only, on one line unless
/// `indent` is given.
fn json_filter(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let indent = check_indent(kwargs.get("indent")?)?;
    kwargs.assert_all_used()?;
    let out = json_dumps(&to_json(value)?, indent, sort_keys.unwrap_or(true), true);
    Ok(Value::from_safe_string(out))
}

/// Salt's `tojson` filter: key order kept, ASCII-only, and `<`, `>`, `&`, `'` escaped so the
/// text is safe inside HTML.
fn tojson_filter(value: &Value, indent: Option<usize>) -> Result<Value, Error> {
    let indent = check_indent(indent)?;
    let out = json_dumps(&to_json(value)?, indent, false, true)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027");
    Ok(Value::from_safe_string(out))
}

/// Widest `indent` the JSON filters take: the text is repeated per nesting level, so a huge
/// one would allocate without bound before the output cap could see it.
const MAX_INDENT: usize = 16;

fn check_indent(indent: Option<usize>) -> Result<Option<usize>, Error> {
    match indent {
        Some(n) if n > MAX_INDENT => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("indent {n} is wider than {MAX_INDENT}"),
        )),
        _ => Ok(indent),
    }
}

/// Salt's `yaml` filter: the value as one line of flow-style YAML (`{a: 1, b: [x, y]}`), keys
/// sorted as PyYAML sorts them, strings quoted wherever plain text would read back differently.
fn yaml_filter(value: &Value) -> Result<Value, Error> {
    let mut out = String::new();
    write_yaml_flow(&mut out, &to_json(value)?);
    Ok(Value::from_safe_string(out))
}

fn write_yaml_flow(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => {
                // PyYAML's float: repr, and `1e+20` becomes `1.0e+20` (YAML 1.1 needs a dot).
                let mut s = python_float(f).to_lowercase();
                if !s.contains('.') && s.contains('e') {
                    s = s.replacen('e', ".0e", 1);
                }
                out.push_str(&s);
            }
            _ => out.push_str(&n.to_string()),
        },
        Json::String(s) => yaml_str(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_yaml_flow(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                yaml_str(out, key);
                out.push_str(": ");
                write_yaml_flow(out, item);
            }
            out.push('}');
        }
    }
}

/// A string as a flow-context YAML scalar: plain when that reads back as the same string,
/// single-quoted when printable, double-quoted (JSON escapes are valid YAML) otherwise.
fn yaml_str(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else if s
        .chars()
        .all(|c| (' '..='~').contains(&c) || (c > '\u{9f}' && c != '\u{feff}'))
    {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        match serde_json::to_string(s) {
            Ok(quoted) => out.push_str(&quoted),
            Err(_) => out.push_str("''"),
        }
    }
}

/// Whether `s` may be written unquoted inside a flow collection. Conservative: quoting
/// something PyYAML would leave plain changes nothing once the YAML is read back.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`=~<".contains(first) || first.is_ascii_digit() || first == '.' {
        return false;
    }
    if s.ends_with([' ', ':']) || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_alphanumeric() || " _-./:@+$^()~\\".contains(c))
    {
        return false;
    }
    // Words PyYAML resolves to booleans or null (`y` and `n` are strings there).
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off" | "null"
    )
}

// ---------------------------------------------------------------------------------------------
// The `salt` object

/// What the `salt` functions read, shared by every `SaltFn` of one render.
#[derive(Debug)]
struct Ctx {
    opts: Map<String, Json>,
    grains: Map<String, Json>,
    environ: BTreeMap<String, String>,
    pillar: Map<String, Json>,
}

/// `salt`, `salt.environ`, `salt['environ.get']`...: a dotted path that becomes a call when
/// invoked. Looking a name up never fails, so both `salt.x.y(...)` and `salt['x.y'](...)` reach
/// `call`, which names an unknown function in its error.
#[derive(Debug)]
struct SaltFn {
    path: String,
    ctx: Arc<Ctx>,
}

impl SaltFn {
    fn child(&self, name: &str) -> SaltFn {
        let path = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        SaltFn {
            path,
            ctx: Arc::clone(&self.ctx),
        }
    }
}

impl Object for SaltFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from_object(self.child(key.as_str()?)))
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        call_salt(&self.path, &self.ctx, args)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        call_salt(&self.child(method).path, &self.ctx, args)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<salt function {}>", self.path)
    }
}

/// The functions reactor files may call, for the error that lists them.
const SALT_FUNCTIONS: &str = "config.get, environ.get, grains.get, \
                              hashutil.github_signature, hashutil.hmac_signature, \
                              log.critical/debug/error/info/warning, pillar.get";

fn call_salt(path: &str, ctx: &Ctx, args: &[Value]) -> Result<Value, Error> {
    match path {
        "environ.get" => {
            let [key, default] = bind(path, args, ["key", "default"], 1)?;
            let key = key.map(|k| k.to_string()).unwrap_or_default();
            Ok(match ctx.environ.get(&key) {
                Some(v) => Value::from(v.as_str()),
                None => default.unwrap_or_else(|| Value::from("")),
            })
        }
        "config.get" | "grains.get" => {
            let [key, default] = bind(path, args, ["key", "default"], 1)?;
            let key = key.map(|k| k.to_string()).unwrap_or_default();
            // config.get looks in the options, then the grains, as Salt's does on the master.
            let found = if path == "config.get" {
                traverse(&ctx.opts, &key).or_else(|| traverse(&ctx.grains, &key))
            } else {
                traverse(&ctx.grains, &key)
            };
            Ok(match found {
                Some(v) => Value::from_serialize(v),
                None => default.unwrap_or_else(|| Value::from("")),
            })
        }
        // The master's own pillar (empty without pillar_roots): a missing key gives the default.
        "pillar.get" => {
            let [key, default] = bind(path, args, ["key", "default"], 1)?;
            let key = key.map(|k| k.to_string()).unwrap_or_default();
            Ok(match traverse(&ctx.pillar, &key) {
                Some(v) => Value::from_serialize(v),
                None => default.unwrap_or_else(|| Value::from("")),
            })
        }
        "log.debug" | "log.info" | "log.warning" | "log.error" | "log.critical" => {
            let [message] = bind(path, args, ["message"], 1)?;
            let message = message.map(|m| m.to_string()).unwrap_or_default();
            let level = match path {
                "log.debug" => log::Level::Debug,
                "log.info" => log::Level::Info,
                "log.warning" => log::Level::Warn,
                _ => log::Level::Error,
            };
            log::log!(target: "brine::reactor", level, "{message}");
            Ok(Value::from(""))
        }
        "hashutil.hmac_signature" | "hashutil.github_signature" => {
            let [string, secret, challenge] =
                bind(path, args, ["string", "shared_secret", "challenge_hmac"], 3)?;
            let text = |v: Option<Value>, name: &str| match v.as_ref().and_then(Value::as_str) {
                Some(s) => Ok(s.to_owned()),
                None => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{path}(): {name} must be a string"),
                )),
            };
            let (string, secret, challenge) = (
                text(string, "string")?,
                text(secret, "shared_secret")?,
                text(challenge, "challenge_hmac")?,
            );
            if path == "hashutil.github_signature" {
                return Ok(Value::from(github_signature(&string, &secret, &challenge)));
            }
            let digest = crate::crypto::hmac_sha256(secret.as_bytes(), string.as_bytes());
            let valid = crate::crypto::base64_encode(&digest);
            Ok(Value::from(crate::crypto::constant_time_eq(
                valid.as_bytes(),
                challenge.as_bytes(),
            )))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "salt['{path}'] is not available in reactor files (they have {SALT_FUNCTIONS})"
            ),
        )),
    }
}

/// Salt's `hashutil.github_signature`: `challenge` is GitHub's `X-Hub-Signature(-256)` header,
/// `<hashlib name>=<hex HMAC>` (`sha1=...`, `sha256=...`), checked against the HMAC of
/// `string` under `secret`, in constant time, hex compared as written (lower case, as GitHub
/// sends it and as Python's `hexdigest` gives it).
///
/// Salt raises (so the reaction fails to render) when the header has no single `=` or names
/// an algorithm hashlib lacks; here those are `false`, because the header is the sender's to
/// write and a forged one should read as "not verified", not as a broken reactor file.
fn github_signature(string: &str, secret: &str, challenge: &str) -> bool {
    let mut parts = challenge.split('=');
    let (Some(algo), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    match crate::digest::hmac_hex(algo, secret.as_bytes(), string.as_bytes()) {
        Some(valid) => crate::digest::constant_time_eq(valid.as_bytes(), hex.as_bytes()),
        None => false,
    }
}

/// Python-style binding of positional and keyword arguments to named parameters, the first
/// `required` of which must be given.
pub(crate) fn bind<const N: usize>(
    fun: &str,
    args: &[Value],
    names: [&str; N],
    required: usize,
) -> Result<[Option<Value>; N], Error> {
    let (positional, kwargs) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Some(Kwargs::try_from(last.clone())?)),
        _ => (args, None),
    };
    if positional.len() > N {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!(
                "{fun}() takes at most {N} arguments ({} given)",
                positional.len()
            ),
        ));
    }
    let mut bound: [Option<Value>; N] = std::array::from_fn(|i| positional.get(i).cloned());
    if let Some(kwargs) = &kwargs {
        for (slot, name) in bound.iter_mut().zip(names) {
            if let Some(v) = kwargs.get::<Option<Value>>(name)? {
                if slot.is_some() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("{fun}() got multiple values for argument '{name}'"),
                    ));
                }
                *slot = Some(v);
            }
        }
        kwargs.assert_all_used()?;
    }
    if let Some(name) = names
        .iter()
        .zip(&bound)
        .take(required)
        .find(|(_, v)| v.is_none())
    {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            format!("{fun}() missing required argument '{}'", name.0),
        ));
    }
    Ok(bound)
}

/// Salt's `traverse_dict_and_list`: `a:b:0` walks maps by key and lists by index.
pub(crate) fn traverse<'a>(root: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    let mut parts = key.split(':');
    let mut node = root.get(parts.next()?)?;
    for part in parts {
        node = match node {
            Json::Object(map) => map.get(part)?,
            Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    fn file() -> PathBuf {
        PathBuf::from("/srv/reactor/test.sls")
    }

    fn map(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn render_with(text: &str, data: Json, env: &RenderEnv) -> Result<String, ReactorError> {
        render(&file(), text, "salt/minion/web1/start", &map(data), env)
    }

    fn ok(text: &str, data: Json) -> String {
        match render_with(text, data, &RenderEnv::default()) {
            Ok(s) => s,
            Err(e) => panic!("render failed: {e}"),
        }
    }

    fn err(text: &str, data: Json) -> String {
        match render_with(text, data, &RenderEnv::default()) {
            Ok(s) => panic!("rendered: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tag_data_and_python_methods() {
        let data = json!({"id": "web1", "data": {"k": "v"}});
        assert_eq!(
            ok("{{ tag }} {{ data['id'] }}", data.clone()),
            "salt/minion/web1/start web1"
        );
        assert_eq!(ok("{{ data.get('id') }}", data.clone()), "web1");
        assert_eq!(ok("{{ data.get('nope') }}", data.clone()), "None");
        assert_eq!(ok("{{ data.get('nope', 'd') }}", data.clone()), "d");
        assert_eq!(
            ok(
                "{{ tag.startswith('salt/') }} {{ tag.endswith('x') }}",
                data.clone()
            ),
            "True False"
        );
        assert_eq!(
            ok(
                "{% for k, v in data['data'].items() %}{{ k }}={{ v }}{% endfor %}",
                data.clone()
            ),
            "k=v"
        );
        assert_eq!(
            ok("{{ data.keys()|list|join(',') }}", data.clone()),
            "id,data"
        );
        assert_eq!(ok("{{ tag.split('/')[2] }}", data.clone()), "web1");
        assert_eq!(
            ok("{{ ' A '.strip().lower() }}{{ 'b'.upper() }}", json!({})),
            "aB"
        );
        assert_eq!(ok("{{ 'a-b'.replace('-', '_') }}", json!({})), "a_b");
        assert_eq!(ok("{{ '{}/{}'.format('a', 1) }}", json!({})), "a/1");
        assert_eq!(
            ok("{{ data['id']|upper }} {{ data|length }}", data.clone()),
            "WEB1 2"
        );
        assert_eq!(ok("{{ data.missing|default('x') }}", data), "x");
    }

    #[test]
    fn values_print_as_python_str() {
        let data = json!({"m": {"a": true, "b": null, "c": [1, "x"]}, "t": true});
        assert_eq!(
            ok("{{ data['m'] }} {{ data['t'] }}", data),
            "{'a': True, 'b': None, 'c': [1, 'x']} True"
        );
    }

    #[test]
    fn set_do_if_for() {
        let text = "{% set n = data['items']|length %}{% do salt.log.debug('n') %}\
                    {% for i in data['items'] %}{% if loop.index > 1 %},{% endif %}{{ i }}\
                    {% endfor %}/{{ n }}";
        assert_eq!(ok(text, json!({"items": ["a", "b"]})), "a,b/2");
        assert_eq!(
            ok(
                "{% for i in range(5) %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}",
                json!({})
            ),
            "01"
        );
    }

    #[test]
    fn json_tojson_and_yaml_filters() {
        let data = json!({"d": {"z": 1, "a": "é<", "f": 1.5, "n": null, "l": [true]}});
        assert_eq!(
            ok("{{ data['d']|json }}", data.clone()),
            r#"{"a": "\u00e9<", "f": 1.5, "l": [true], "n": null, "z": 1}"#
        );
        assert_eq!(
            ok("{{ data['d']|tojson }}", data.clone()),
            r#"{"z": 1, "a": "\u00e9\u003c", "f": 1.5, "n": null, "l": [true]}"#
        );
        assert_eq!(
            ok("{{ data['d']|yaml }}", data),
            "{a: 'é<', f: 1.5, l: [true], n: null, z: 1}"
        );
        assert_eq!(
            ok(
                "{{ {'a': 'yes', 'b': 'x: y', 'c': '1', 'd': 'web1', 'e': ''}|yaml }}",
                json!({})
            ),
            "{a: 'yes', b: 'x: y', c: '1', d: web1, e: ''}"
        );
        assert_eq!(ok("{{ 'a\nb'|yaml }}", json!({})), r#""a\nb""#);
        assert_eq!(
            ok("{{ [1, 2]|json(indent=2) }}", json!({})),
            "[\n  1,\n  2\n]"
        );
    }

    #[test]
    fn salt_functions_in_both_styles() {
        let env = RenderEnv {
            opts: map(json!({"id": "master1", "nested": {"k": [10, 20]}})),
            grains: map(json!({"os": "Debian", "ip4": ["10.0.0.1"]})),
            environ: [("HOME".to_owned(), "/root".to_owned())].into(),
            ..RenderEnv::default()
        };
        let r = |t: &str| match render_with(t, json!({}), &env) {
            Ok(s) => s,
            Err(e) => panic!("{t}: {e}"),
        };
        assert_eq!(r("{{ salt['environ.get']('HOME') }}"), "/root");
        assert_eq!(r("{{ salt.environ.get('NOPE', default='d') }}"), "d");
        assert_eq!(r("[{{ salt['environ.get']('NOPE') }}]"), "[]");
        assert_eq!(r("{{ salt['config.get']('nested:k:1') }}"), "20");
        assert_eq!(r("{{ salt['config.get']('os') }}"), "Debian");
        assert_eq!(r("{{ salt['config.get']('nested:x', 'dflt') }}"), "dflt");
        assert_eq!(r("{{ salt.grains.get('ip4:0') }}"), "10.0.0.1");
        assert_eq!(r("{{ salt['pillar.get']('a:b', 'p') }}"), "p");
        assert_eq!(
            r("[{{ salt.log.info('hello') }}{{ salt['log.error']('x') }}]"),
            "[]"
        );
        assert_eq!(r("{{ opts['id'] }}"), "master1");
    }

    #[test]
    fn unknown_salt_function_is_an_error_naming_it() {
        let e = err("a: 1\nb: {{ salt['foo.bar']('x') }}", json!({}));
        assert!(e.starts_with("/srv/reactor/test.sls:2: "), "{e}");
        assert!(e.contains("salt['foo.bar'] is not available"), "{e}");
        let e = err("{{ salt.cmd.run('reboot') }}", json!({}));
        assert!(e.contains("salt['cmd.run'] is not available"), "{e}");
        let e = err("{{ salt['environ.get']() }}", json!({}));
        assert!(
            e.contains("environ.get() missing required argument 'key'"),
            "{e}"
        );
        let e = err("{{ salt['environ.get']('a', nope=1) }}", json!({}));
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn webhook_hmac_check_with_rfc_4231_vector() {
        // RFC 4231 test case 2: key "Jefe", HMAC-SHA256 5bdcc146...3843, here in base64.
        let data = json!({
            "body": "what do ya want for nothing?",
            "headers": {"X-Sig": "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="}
        });
        let text = "{% if salt['hashutil.hmac_signature'](data['body'], 'Jefe', \
                    data['headers']['X-Sig']) %}ok{% else %}bad{% endif %}";
        assert_eq!(ok(text, data), "ok");
        let forged = json!({"body": "what do ya want for something?",
                            "headers": {"X-Sig": "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="}});
        assert_eq!(ok(text, forged), "bad");
        let e = err(
            "{{ salt['hashutil.hmac_signature'](1, 'k', 'x') }}",
            json!({}),
        );
        assert!(e.contains("string must be a string"), "{e}");
    }

    #[test]
    fn github_webhook_signatures_checked_as_salt_checks_them() {
        // GitHub's documented example, recomputed with Python's hmac: secret "It's a Secret
        // to Everybody", payload "Hello, World!".
        let data = json!({
            "body": "Hello, World!",
            "headers": {
                "X-Hub-Signature-256":
                    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                "X-Hub-Signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
            }
        });
        let check = |header: &str| {
            format!(
                "{{% if salt['hashutil.github_signature'](data['body'], \
                 \"It's a Secret to Everybody\", data['headers']['{header}']) %}}ok\
                 {{% else %}}bad{{% endif %}}"
            )
        };
        assert_eq!(ok(&check("X-Hub-Signature-256"), data.clone()), "ok");
        assert_eq!(ok(&check("X-Hub-Signature"), data.clone()), "ok");
        // Keyword arguments bind as in Salt's signature.
        let kw = "{{ salt['hashutil.github_signature'](string='Hello, World!', \
                  shared_secret=\"It's a Secret to Everybody\", \
                  challenge_hmac='sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59') }}";
        assert_eq!(ok(kw, json!({})), "True");
        let verdict = |body: &str, challenge: &str| {
            let data = json!({"body": body, "c": challenge});
            ok(
                "{{ salt['hashutil.github_signature'](data['body'], \
                 \"It's a Secret to Everybody\", data['c']) }}",
                data,
            )
        };
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(verdict("Hello, World!", good), "True");
        assert_eq!(verdict("Hello, World?", good), "False");
        // A wrong algorithm for the digest, an unknown one, no `=`, two `=`: all "not verified".
        assert_eq!(
            verdict("Hello, World!", &good.replace("sha256=", "sha512=")),
            "False"
        );
        assert_eq!(
            verdict("Hello, World!", &good.replace("sha256=", "sha3=")),
            "False"
        );
        assert_eq!(verdict("Hello, World!", &good.replace('=', "")), "False");
        assert_eq!(verdict("Hello, World!", &format!("{good}=")), "False");
        // Salt compares the hex as written: upper case does not verify.
        assert_eq!(
            verdict(
                "Hello, World!",
                &good.to_uppercase().replace("SHA256", "sha256")
            ),
            "False"
        );
        let e = err(
            "{{ salt['hashutil.github_signature']('x', 1, 'sha1=00') }}",
            json!({}),
        );
        assert!(e.contains("shared_secret must be a string"), "{e}");
    }

    #[test]
    fn shebang_selects_the_pipeline() {
        assert_eq!(ok("#!yaml\na: {{ x }}", json!({})), "#!yaml\na: {{ x }}");
        assert_eq!(
            ok("#!jinja|yaml\na: {{ 1 + 1 }}", json!({})),
            "#!jinja|yaml\na: 2"
        );
        assert_eq!(
            ok("#! yaml | jinja\na: {{ 1 + 1 }}", json!({})),
            "#! yaml | jinja\na: 2"
        );
        assert_eq!(ok("#!jinja\na: {{ 1 + 1 }}", json!({})), "#!jinja\na: 2");
        assert_eq!(
            err("#!py\ndef run(): pass", json!({})),
            "/srv/reactor/test.sls: renderer 'py' is not supported (brine renders jinja|yaml)"
        );
        assert!(err("#!mako|yaml\n", json!({})).contains("renderer 'mako' is not supported"));
        let yaml_only = RenderEnv {
            renderer: "yaml".to_owned(),
            ..RenderEnv::default()
        };
        assert_eq!(
            render_with("a: {{ x }}", json!({}), &yaml_only)
                .ok()
                .as_deref(),
            Some("a: {{ x }}")
        );
    }

    #[test]
    fn undefined_values_and_syntax_errors_name_the_line() {
        let e = err("a: 1\n\nb: {{ data['nope']['x'] }}", json!({}));
        assert!(
            e.starts_with("/srv/reactor/test.sls:3: undefined value"),
            "{e}"
        );
        let e = err("a: 1\n{% if %}", json!({}));
        assert!(
            e.starts_with("/srv/reactor/test.sls:2: syntax error"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn runaway_templates_stop_quickly() {
        let start = Instant::now();
        let e = err(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            json!({}),
        );
        assert!(e.contains("ran past its limit"), "{e}");
        assert!(e.starts_with("/srv/reactor/test.sls:1: "), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let small = RenderEnv {
            max_output: 1000,
            ..RenderEnv::default()
        };
        let e = match render_with("{{ 'x' * 2000 }}", json!({}), &small) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("rendered past the cap"),
        };
        assert!(e.contains("more than 1000 bytes"), "{e}");
    }
}
