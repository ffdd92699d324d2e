//! Rendering SLS files and templates the way Salt's default `jinja|yaml` pipeline does: Jinja
//! with the `salt`, `grains`, `pillar`, `opts`, `sls`, `saltenv`, `tpldir`, `slspath` and
//! `sls_path` variables, then YAML read into high data with PyYAML's scalars.
//!
//! The Jinja environment (filters, Python printing and methods, strict undefined values, the
//! fuel budget) is the reactor's ([`crate::reactor::render::environment`]); only the `salt`
//! object differs, because a state run happens on the minion, in a child process, where
//! `salt['cmd.run']` may block.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};
use serde_json::{Map, Value as Json};

use super::command::{self, CmdOpts};
use crate::reactor::render::{bind, environment, error_message, render_capped, traverse};
use crate::yaml::{self, Entry, YamlError};

/// Enough for any real SLS file (templated loops over a few hundred items).
pub const DEFAULT_FUEL: u64 = 20_000_000;
/// SLS files and managed templates render to at most a few MiB; this is a guard.
pub const DEFAULT_MAX_OUTPUT: usize = 32 << 20;

/// What a render sees of the minion: the caller gathers it, so pillar rendering (which has
/// no pillar yet) and state rendering share one entry point.
#[derive(Debug, Clone, Copy)]
pub struct RenderCtx<'a> {
    /// The minion id (`grains['id']` usually says the same).
    pub id: &'a str,
    /// `grains` and `salt['grains.get']`.
    pub grains: &'a Map<String, Json>,
    /// `pillar` and `salt['pillar.get']`; empty while pillar itself renders.
    pub pillar: &'a Map<String, Json>,
    /// `opts` and `salt['config.get']`.
    pub opts: &'a Map<String, Json>,
    /// The saltenv of the run (`saltenv` in templates).
    pub saltenv: &'a str,
    /// Most minijinja instructions one render may execute.
    pub fuel: u64,
    /// Most bytes one render may produce.
    pub max_output: usize,
}

/// Why an SLS file or a template did not render. `Display` is one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// The `#!` line names a renderer other than jinja and yaml.
    Renderer {
        /// The file.
        file: String,
        /// The renderer named.
        renderer: String,
    },
    /// Jinja failed: syntax, an undefined value, a `salt[...]` function, a limit.
    Template {
        /// The file (or template name).
        file: String,
        /// The line, when minijinja knows it.
        line: Option<usize>,
        /// What went wrong.
        message: String,
    },
    /// The rendered text is not YAML, or its top level is not a map.
    Yaml(YamlError),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Renderer { file, renderer } => write!(
                f,
                "{file}: renderer '{renderer}' is not supported (brine renders jinja|yaml)"
            ),
            RenderError::Template {
                file,
                line: Some(line),
                message,
            } => write!(f, "{file}:{line}: {message}"),
            RenderError::Template {
                file,
                line: None,
                message,
            } => write!(f, "{file}: {message}"),
            RenderError::Yaml(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RenderError {}

/// Where an SLS file sits: its dotted name and its path under the file root, from which
/// Salt derives `tpldir`, `slspath` and friends.
#[derive(Debug, Clone, Copy)]
pub struct SlsFile<'a> {
    /// The dotted name (`web.nginx`).
    pub sls: &'a str,
    /// The path under the root (`web/nginx.sls` or `web/nginx/init.sls`).
    pub rel: &'a str,
    /// The local file, for error messages and `tplpath`.
    pub path: &'a Path,
}

/// Renders one SLS file to its top-level entries (IDs and the `include`, `extend`, `exclude`
/// keys), in file order, each with where it is. An empty file has none.
pub fn render_sls(
    file: SlsFile<'_>,
    text: &str,
    ctx: &RenderCtx<'_>,
) -> Result<Vec<Entry>, RenderError> {
    render_sls_with(file, text, &Map::new(), ctx)
}

/// [`render_sls`] with `extra` names beside the file's own (an included pillar file's
/// `defaults:`); they win over the file variables.
pub fn render_sls_with(
    file: SlsFile<'_>,
    text: &str,
    extra: &Map<String, Json>,
    ctx: &RenderCtx<'_>,
) -> Result<Vec<Entry>, RenderError> {
    let name = file.path.display().to_string();
    let rendered = if uses_jinja(&name, text)? {
        let dir = match file.rel.rsplit_once('/') {
            Some((dir, _)) => dir,
            None => "",
        };
        let mut vars = Map::new();
        vars.insert("sls".into(), file.sls.into());
        vars.insert("slspath".into(), dir.into());
        // Salt's tpldir is "." at the root, where slspath is empty.
        vars.insert(
            "tpldir".into(),
            if dir.is_empty() { "." } else { dir }.into(),
        );
        vars.insert("sls_path".into(), dir.replace('/', "_").into());
        vars.insert("tpldot".into(), dir.replace('/', ".").into());
        vars.insert("tplfile".into(), file.rel.into());
        vars.insert("tplpath".into(), name.clone().into());
        vars.insert(
            "tplroot".into(),
            dir.split('/').next().unwrap_or_default().into(),
        );
        for (k, v) in extra {
            vars.insert(k.clone(), v.clone());
        }
        jinja(&name, text, &vars, ctx)?
    } else {
        text.to_owned()
    };
    yaml::parse_entries(&PathBuf::from(&name), rendered.as_bytes()).map_err(RenderError::Yaml)
}

/// Renders a Jinja template string (`file.managed`'s `template: jinja`, pillar files) with the
/// run's context plus `vars` (which win over the context's names).
pub fn render_template(
    name: &str,
    text: &str,
    vars: &Map<String, Json>,
    ctx: &RenderCtx<'_>,
) -> Result<String, RenderError> {
    jinja(name, text, vars, ctx)
}

/// Whether the `#!` line (or the default `jinja|yaml`) asks for Jinja; any renderer but
/// jinja and yaml is refused by name.
fn uses_jinja(file: &str, text: &str) -> Result<bool, RenderError> {
    let first = text.lines().next().unwrap_or("");
    let spec = match first.strip_prefix("#!") {
        // `#!/bin/...` is an interpreter line, not a pipeline.
        Some(rest) if !rest.starts_with('/') && !rest.trim().is_empty() => rest,
        _ => "jinja|yaml",
    };
    let mut jinja = false;
    for part in spec.split('|').map(str::trim) {
        match part {
            "jinja" => jinja = true,
            "yaml" | "" => {}
            other => {
                return Err(RenderError::Renderer {
                    file: file.to_owned(),
                    renderer: other.to_owned(),
                })
            }
        }
    }
    Ok(jinja)
}

fn jinja(
    name: &str,
    text: &str,
    vars: &Map<String, Json>,
    ctx: &RenderCtx<'_>,
) -> Result<String, RenderError> {
    let mut env = environment(ctx.fuel);
    // Salt puts back the final newline Jinja2 drops, so a managed file keeps it.
    env.set_keep_trailing_newline(true);
    let fail = |e: Error| RenderError::Template {
        file: name.to_owned(),
        line: e.line(),
        message: error_message(&e, ctx.fuel, ctx.max_output),
    };
    let template = env.template_from_named_str(name, text).map_err(fail)?;
    let mut all = Map::new();
    all.insert("grains".into(), Json::Object(ctx.grains.clone()));
    all.insert("pillar".into(), Json::Object(ctx.pillar.clone()));
    all.insert("opts".into(), Json::Object(ctx.opts.clone()));
    all.insert("saltenv".into(), ctx.saltenv.into());
    for (k, v) in vars {
        all.insert(k.clone(), v.clone());
    }
    let salt = Value::from_object(SaltFn {
        path: String::new(),
        data: Arc::new(Data {
            id: ctx.id.to_owned(),
            grains: ctx.grains.clone(),
            pillar: ctx.pillar.clone(),
            opts: ctx.opts.clone(),
        }),
    });
    let context = minijinja::context! { salt => salt, ..Value::from_serialize(&all) };
    render_capped(&template, context, ctx.max_output).map_err(fail)
}

// ---------------------------------------------------------------------------------------------
// The `salt` object of SLS files

/// What the `salt` functions read.
#[derive(Debug)]
struct Data {
    id: String,
    grains: Map<String, Json>,
    pillar: Map<String, Json>,
    opts: Map<String, Json>,
}

/// `salt`, `salt.grains`, `salt['grains.get']`...: a dotted path that becomes a call.
#[derive(Debug)]
struct SaltFn {
    path: String,
    data: Arc<Data>,
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
            data: Arc::clone(&self.data),
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
        call_salt(&self.path, &self.data, args)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        call_salt(&self.child(method).path, &self.data, args)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<salt function {}>", self.path)
    }
}

/// The functions SLS files may call, for the error that lists them.
const SALT_FUNCTIONS: &str = "cmd.retcode, cmd.run, cmd.run_stdout, cmd.shell, config.get, \
                              environ.get, grains.get, grains.items, log.*, pillar.get, \
                              pillar.items, test.ping";

fn text_arg(v: Option<Value>) -> String {
    v.map(|k| match k.as_str() {
        Some(s) => s.to_owned(),
        None => k.to_string(),
    })
    .unwrap_or_default()
}

fn call_salt(path: &str, data: &Data, args: &[Value]) -> Result<Value, Error> {
    match path {
        "grains.get" | "pillar.get" | "config.get" => {
            let [key, default] = bind(path, args, ["key", "default"], 1)?;
            let key = text_arg(key);
            // config.get looks in the options, then the grains, then the pillar.
            let found = match path {
                "grains.get" => traverse(&data.grains, &key),
                "pillar.get" => traverse(&data.pillar, &key),
                _ => traverse(&data.opts, &key)
                    .or_else(|| traverse(&data.grains, &key))
                    .or_else(|| traverse(&data.pillar, &key)),
            };
            Ok(match found {
                Some(v) => Value::from_serialize(v),
                None => default.unwrap_or_else(|| Value::from("")),
            })
        }
        "grains.items" => Ok(Value::from_serialize(&data.grains)),
        "pillar.items" => Ok(Value::from_serialize(&data.pillar)),
        "test.ping" => Ok(Value::from(true)),
        "environ.get" => {
            let [key, default] = bind(path, args, ["key", "default"], 1)?;
            Ok(match std::env::var(text_arg(key)) {
                Ok(v) => Value::from(v),
                Err(_) => default.unwrap_or_else(|| Value::from("")),
            })
        }
        "cmd.run" | "cmd.shell" | "cmd.run_stdout" | "cmd.retcode" => {
            let [cmd, cwd] = bind(path, args, ["cmd", "cwd"], 1)?;
            let opts = CmdOpts {
                cwd: cwd.and_then(|c| c.as_str().map(str::to_owned)),
                ..CmdOpts::default()
            };
            let cmd = text_arg(cmd);
            log::debug!(target: "brine::states", "{path} in a template: {cmd}");
            let out = command::run(&cmd, &opts).map_err(|e| {
                Error::new(ErrorKind::InvalidOperation, format!("{path}({cmd:?}): {e}"))
            })?;
            Ok(match path {
                "cmd.retcode" => Value::from(out.retcode),
                "cmd.run_stdout" => Value::from(out.stdout),
                // cmd.run merges stderr into stdout, as Salt's does by default.
                _ => Value::from(out.merged()),
            })
        }
        "log.debug" | "log.info" | "log.warning" | "log.error" | "log.critical" => {
            let [message] = bind(path, args, ["message"], 1)?;
            let level = match path {
                "log.debug" => log::Level::Debug,
                "log.info" => log::Level::Info,
                "log.warning" => log::Level::Warn,
                _ => log::Level::Error,
            };
            log::log!(target: "brine::states", level, "{} ({})", text_arg(message), data.id);
            Ok(Value::from(""))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("salt['{path}'] is not available in SLS files (they have {SALT_FUNCTIONS})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn render(rel: &str, sls: &str, text: &str) -> Result<Vec<Entry>, RenderError> {
        let grains = obj(json!({"role": "web", "id": "web1"}));
        let pillar = obj(json!({"app": {"port": 8080}}));
        let opts = obj(json!({"id": "web1"}));
        let ctx = RenderCtx {
            id: "web1",
            grains: &grains,
            pillar: &pillar,
            opts: &opts,
            saltenv: "base",
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let path = PathBuf::from(format!("/srv/salt/{rel}"));
        render_sls(
            SlsFile {
                sls,
                rel,
                path: &path,
            },
            text,
            &ctx,
        )
    }

    #[test]
    fn jinja_then_yaml_with_the_sls_context() {
        let text = "{% for i in range(2) %}s{{ i }}:\n  test.nop:\n    - comment: {{ grains['role'] }}\n{% endfor %}\
                    ctx:\n  test.nop:\n    - comment: \"{{ sls }} {{ slspath }} {{ sls_path }} {{ saltenv }} {{ salt['pillar.get']('app:port') }} {{ salt['cmd.run']('echo hi') }}\"\n";
        let entries = match render("a/b/c.sls", "a.b.c", text) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["s0", "s1", "ctx"]);
        assert_eq!(entries[0].value, json!({"test.nop": [{"comment": "web"}]}));
        assert_eq!(
            entries[2].value,
            json!({"test.nop": [{"comment": "a.b.c a/b a_b base 8080 hi"}]})
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = render("x.sls", "x", "a:\n  b: {{ nope.x }}\n").err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("/srv/salt/x.sls:2: undefined value"), "{e}");
        let e = render("x.sls", "x", "#!py\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("/srv/salt/x.sls: renderer 'py' is not supported (brine renders jinja|yaml)")
        );
        let e = render("x.sls", "x", "a: [\n").err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("/srv/salt/x.sls:"), "{e}");
        let e = render("x.sls", "x", "{{ salt['state.apply']() }}").err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("salt['state.apply'] is not available"), "{e}");
    }

    #[test]
    fn yaml_only_files_are_not_templated() {
        let entries = match render("x.sls", "x", "#!yaml\na: '{{ b }}'\n") {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(entries[0].value, json!("{{ b }}"));
    }

    #[test]
    fn templates_keep_their_final_newline_and_see_vars() {
        let (grains, pillar, opts) = (Map::new(), Map::new(), Map::new());
        let ctx = RenderCtx {
            id: "m",
            grains: &grains,
            pillar: &pillar,
            opts: &opts,
            saltenv: "base",
            fuel: DEFAULT_FUEL,
            max_output: DEFAULT_MAX_OUTPUT,
        };
        let vars = obj(json!({"port": 80}));
        let out = render_template("motd", "port {{ port }}\n", &vars, &ctx);
        assert_eq!(out.ok().as_deref(), Some("port 80\n"));
    }
}
