//! The `cp` execution module: `salt://` files from the master's file server (or the
//! minion's own `file_roots` masterless) to the minion. Fetching can take long (a big file,
//! a slow master), so every call runs in a module child (`--module-child cp.run`), which
//! fetches through the minion's cache.

use super::{child, Call, Function, Step};
use crate::fileserver::{self, FsError, Source};
use crate::signature::{Default, Param};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a `cp` child is given: the call, and where files come from, resolved by the minion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpRequest {
    /// The function (`cp.get_file`, ...).
    pub fun: String,
    /// Its named arguments, bound.
    pub args: Map<String, Value>,
    /// The minion's configuration (`file_roots` masterless).
    pub opts: Map<String, Value>,
    /// No master: files from `file_roots`.
    pub masterless: bool,
    /// The minion's bus socket, through which the master's files come (None masterless).
    pub socket: Option<PathBuf>,
    /// The minion's cache directory (`cachedir/files`).
    pub cachedir: PathBuf,
}

/// The name a `cp` call's module child is started with.
pub const CHILD: &str = "cp.run";

/// How long one `cp` call may take (a big file over a slow link).
const TIMEOUT: Duration = Duration::from_secs(3600);

const PATH: Param = Param {
    name: "path",
    default: Default::Required,
};
const SALTENV: Param = Param {
    name: "saltenv",
    default: Default::Str("base"),
};

const GET_FILE_PARAMS: &[Param] = &[
    PATH,
    Param {
        name: "dest",
        default: Default::Required,
    },
    SALTENV,
    Param {
        name: "makedirs",
        default: Default::Bool(false),
    },
    Param {
        name: "template",
        default: Default::Null,
    },
    Param {
        name: "gzip",
        default: Default::Null,
    },
];

/// `cp.get_file salt://path dest`: the file copied to DEST (a directory gets its basename).
pub const GET_FILE: Function = Function {
    name: "cp.get_file",
    params: GET_FILE_PARAMS,
    kwargs: true,
    varargs: false,
    doc:
        "Copy salt://PATH to DEST on the minion; returns DEST, or False when there is no such file.",
    run: |c, a, kw| start(c, "cp.get_file", GET_FILE_PARAMS, a, kw),
};

const PATH_ENV: &[Param] = &[PATH, SALTENV];

/// `cp.get_file_str salt://path`: the file's text.
pub const GET_FILE_STR: Function = Function {
    name: "cp.get_file_str",
    params: PATH_ENV,
    kwargs: true,
    varargs: false,
    doc: "Return the contents of salt://PATH as a string, or False when there is no such file.",
    run: |c, a, kw| start(c, "cp.get_file_str", PATH_ENV, a, kw),
};

/// `cp.cache_file salt://path`: the file in the minion's cache.
pub const CACHE_FILE: Function = Function {
    name: "cp.cache_file",
    params: PATH_ENV,
    kwargs: true,
    varargs: false,
    doc: "Fetch salt://PATH into the minion's cache (only when its hash changed); returns the cached path, or False.",
    run: |c, a, kw| start(c, "cp.cache_file", PATH_ENV, a, kw),
};

/// `cp.hash_file salt://path`: the file's hash on the file server.
pub const HASH_FILE: Function = Function {
    name: "cp.hash_file",
    params: PATH_ENV,
    kwargs: true,
    varargs: false,
    doc: "Return {hsum, hash_type} of salt://PATH on the file server, or {} when there is no such file.",
    run: |c, a, kw| start(c, "cp.hash_file", PATH_ENV, a, kw),
};

const LIST_PARAMS: &[Param] = &[
    SALTENV,
    Param {
        name: "prefix",
        default: Default::Str(""),
    },
];

/// `cp.list_master`: every file of a saltenv.
pub const LIST_MASTER: Function = Function {
    name: "cp.list_master",
    params: LIST_PARAMS,
    kwargs: true,
    varargs: false,
    doc: "List the files of SALTENV on the file server (those under PREFIX).",
    run: |c, a, kw| start(c, "cp.list_master", LIST_PARAMS, a, kw),
};

fn start(
    c: &mut Call<'_>,
    fun: &str,
    params: &[Param],
    a: &[Value],
    kw: &Map<String, Value>,
) -> Step {
    let mut args = Map::new();
    for (p, v) in params.iter().zip(a) {
        args.insert(p.name.to_owned(), v.clone());
    }
    let cfg = c.minion.config();
    let _ = kw;
    let req = CpRequest {
        fun: fun.to_owned(),
        args,
        opts: cfg.values(),
        masterless: c.minion.masterless(),
        socket: (!c.minion.masterless()).then(|| crate::client::minion_socket(&cfg.sock_dir)),
        cachedir: cfg.cachedir.clone(),
    };
    let request = serde_json::to_value(&req).unwrap_or(Value::Null);
    Step::Child(child::spec(CHILD, &request, TIMEOUT), child::finish)
}

/// The work of a `cp` child.
pub fn child_main(request: &Value) -> child::Reply {
    let req: CpRequest = match serde_json::from_value(request.clone()) {
        Ok(r) => r,
        Err(e) => return failed(format!("a cp request that cannot be read: {e}")),
    };
    let mut files = match fileserver::open_source(
        &req.opts,
        req.masterless,
        req.socket.as_deref(),
        &req.cachedir,
    ) {
        Ok(f) => f,
        Err(e) => return failed(e.to_string()),
    };
    match run(&req, files.as_mut()) {
        Ok(value) => child::Reply {
            value,
            retcode: 0,
            errors: Vec::new(),
        },
        Err(e) => failed(e.to_string()),
    }
}

fn failed(why: String) -> child::Reply {
    child::Reply {
        value: json!(why),
        retcode: 1,
        errors: vec![why],
    }
}

/// The `salt://` path and saltenv of argument `path`; the URL's `?saltenv=` wins over the
/// argument, as in Salt.
fn target(req: &CpRequest) -> Result<(String, String), FsError> {
    let url = req.args.get("path").map(super::text).unwrap_or_default();
    let env = req
        .args
        .get("saltenv")
        .filter(|v| !v.is_null())
        .map(super::text)
        .unwrap_or_else(|| "base".to_owned());
    match fileserver::url::split_url(&url) {
        Some((path, Some(e))) => Ok((path, e)),
        Some((path, None)) => Ok((path, env)),
        None => Err(FsError::Refused(format!(
            "{url}: only salt:// URLs can be fetched from the file server"
        ))),
    }
}

fn run(req: &CpRequest, files: &mut dyn Source) -> Result<Value, FsError> {
    match req.fun.as_str() {
        "cp.list_master" => {
            let env = req
                .args
                .get("saltenv")
                .map(super::text)
                .unwrap_or_else(|| "base".into());
            let prefix = req.args.get("prefix").map(super::text).unwrap_or_default();
            let list = files.list(&env)?;
            Ok(json!(list
                .into_iter()
                .filter(|p| p.starts_with(&prefix))
                .collect::<Vec<_>>()))
        }
        "cp.hash_file" => {
            let (path, env) = target(req)?;
            Ok(match files.hash(&env, &path)? {
                Some(h) => json!({"hsum": h, "hash_type": "sha256"}),
                None => json!({}),
            })
        }
        "cp.cache_file" => {
            let (path, env) = target(req)?;
            Ok(match files.get(&env, &path)? {
                Some(p) => json!(p.to_string_lossy()),
                None => json!(false),
            })
        }
        "cp.get_file_str" => {
            let (path, env) = target(req)?;
            match files.get(&env, &path)? {
                Some(p) => {
                    let bytes = std::fs::read(&p)
                        .map_err(|e| FsError::Io(format!("salt://{path}: {e}")))?;
                    Ok(json!(String::from_utf8_lossy(&bytes)))
                }
                None => Ok(json!(false)),
            }
        }
        "cp.get_file" => {
            let (path, env) = target(req)?;
            let dest = req.args.get("dest").map(super::text).unwrap_or_default();
            let makedirs = req.args.get("makedirs").is_some_and(crate::py::truthy);
            if req.args.get("template").is_some_and(|t| !t.is_null()) {
                return Err(FsError::Refused(
                    "cp.get_file: template= is not supported; use file.managed with template: jinja"
                        .into(),
                ));
            }
            let Some(src) = files.get(&env, &path)? else {
                return Ok(json!(false));
            };
            let dest = destination(Path::new(&dest), &path);
            copy_to(&src, &dest, makedirs)?;
            Ok(json!(dest.to_string_lossy()))
        }
        other => Err(FsError::Refused(format!("{other} is not a cp function"))),
    }
}

/// A destination that is a directory (or ends in `/`) gets the file's basename.
fn destination(dest: &Path, path: &str) -> PathBuf {
    let base = path.rsplit('/').next().unwrap_or(path);
    if dest.is_dir() || dest.to_string_lossy().ends_with('/') {
        dest.join(base)
    } else {
        dest.to_path_buf()
    }
}

/// Copies atomically (a temp file beside the destination, then rename).
fn copy_to(src: &Path, dest: &Path, makedirs: bool) -> Result<(), FsError> {
    let io =
        |what: &str, e: std::io::Error| FsError::Io(format!("{}: {what}: {e}", dest.display()));
    let dir = dest.parent().unwrap_or(Path::new("."));
    if makedirs {
        std::fs::create_dir_all(dir).map_err(|e| io("create its directory", e))?;
    }
    let tmp = dir.join(format!(
        ".{}.brine-tmp.{}",
        dest.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        std::fs::copy(src, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    Ok(())
}
