//! Where `file.managed` gets a file's text: `salt://` (through the run's file server), a
//! local absolute path (or `file://`), or `http(s)://` checked against `source_hash`; a list
//! of sources takes the first that exists, as Salt's `file.source_list`.

use crate::crypto;
use crate::fileserver::url::split_url;
use crate::fileserver::FsError;
use crate::states::Ctx;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// Most bytes one HTTP source may have; a runaway download stops here.
const MAX_HTTP: u64 = 1 << 30;
/// How long one HTTP request may take in all.
const HTTP_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a source could not be had; `Display` is Salt's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// `salt://` path missing from the saltenv.
    SaltMissing {
        /// The source as given.
        source: String,
        /// The saltenv looked in.
        saltenv: String,
    },
    /// A local source path that does not exist.
    LocalMissing(String),
    /// No source of a list exists.
    NoneFound,
    /// A remote source without `source_hash` (and no `skip_verify`).
    NoHash(String),
    /// The remote source could not be downloaded.
    Fetch {
        /// The URL.
        source: String,
        /// Why, as Salt's fileclient words it.
        why: String,
    },
    /// `source_hash` is not a hash brine can use.
    BadHash(String),
    /// A scheme brine does not fetch (ftp, s3, swift).
    Scheme(String),
    /// The file server failed.
    Server(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::SaltMissing { source, saltenv } => {
                write!(f, "Source file {source} not found in saltenv '{saltenv}'")
            }
            SourceError::LocalMissing(p) => write!(f, "Local file source {p} does not exist"),
            SourceError::NoneFound => f.write_str("none of the specified sources were found"),
            SourceError::NoHash(s) => write!(
                f,
                "Unable to verify upstream hash of source file {s}, please set source_hash or set skip_verify to True"
            ),
            SourceError::Fetch { source, why } => write!(f, "Failed to cache {source}: {why}"),
            SourceError::BadHash(s) => f.write_str(s),
            SourceError::Scheme(s) => write!(f, "Unsupported source scheme for {s}"),
            SourceError::Server(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for SourceError {}

/// What kind of place a source names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `salt://`.
    Salt,
    /// A local path or `file://`.
    Local,
    /// `http://` or `https://`.
    Http,
    /// Anything else with a scheme.
    Other,
}

/// The kind of a source string.
pub fn kind(source: &str) -> Kind {
    if source.starts_with("salt://") {
        Kind::Salt
    } else if source.starts_with("http://") || source.starts_with("https://") {
        Kind::Http
    } else if source.starts_with("file://") || !source.contains("://") {
        Kind::Local
    } else {
        Kind::Other
    }
}

/// The local path of a `file://` or plain source.
fn local_path(source: &str) -> &str {
    source.strip_prefix("file://").unwrap_or(source)
}

/// A source with its hash, as chosen from the state's `source` argument.
#[derive(Debug, Clone)]
pub struct Picked {
    /// The source string.
    pub source: String,
    /// Its `source_hash` (a list entry's own, else the state's).
    pub hash: Option<String>,
}

/// The local copy of `salt://...` (its saltenv from `?saltenv=` or the run's).
fn salt_file(ctx: &mut Ctx<'_>, source: &str) -> Result<Option<std::path::PathBuf>, SourceError> {
    let Some((path, env)) = split_url(source) else {
        return Ok(None);
    };
    let env = env.unwrap_or_else(|| ctx.saltenv.to_string());
    match ctx.files.get(&env, &path) {
        Ok(p) => Ok(p),
        // An unknown saltenv holds no files, as Salt sees it.
        Err(FsError::UnknownEnv(_)) | Err(FsError::Refused(_)) => Ok(None),
        Err(e) => Err(SourceError::Server(e.to_string())),
    }
}

/// Whether a source exists (a HEAD request for a URL), for a list of sources.
fn exists(ctx: &mut Ctx<'_>, source: &str) -> Result<bool, SourceError> {
    Ok(match kind(source) {
        Kind::Salt => salt_file(ctx, source)?.is_some(),
        Kind::Local => {
            let p = local_path(source);
            p.starts_with('/') && Path::new(p).exists()
        }
        Kind::Http => agent()
            .head(source)
            .call()
            .map(|r| r.status().as_u16() < 400)
            .unwrap_or(false),
        Kind::Other => false,
    })
}

/// Salt's `file.source_list`: a string is taken as it is; of a list (strings, or one-key
/// maps of source to hash) the first that exists.
pub fn pick(
    ctx: &mut Ctx<'_>,
    source: &Value,
    source_hash: Option<&str>,
) -> Result<Picked, SourceError> {
    let list = match source {
        Value::Array(a) => a,
        other => {
            return Ok(Picked {
                source: scalar(other),
                hash: source_hash.map(str::to_string),
            })
        }
    };
    for item in list {
        let (src, hash) = match item {
            Value::Object(m) if m.len() == 1 => {
                let Some((k, v)) = m.iter().next() else {
                    continue;
                };
                let h = match v {
                    Value::Null => source_hash.map(str::to_string),
                    Value::String(s) if s.is_empty() => source_hash.map(str::to_string),
                    other => Some(scalar(other)),
                };
                (k.clone(), h)
            }
            Value::Object(_) => continue,
            other => (scalar(other), source_hash.map(str::to_string)),
        };
        if exists(ctx, &src)? {
            return Ok(Picked { source: src, hash });
        }
    }
    Err(SourceError::NoneFound)
}

/// A scalar argument as text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The HTTP agent for sources: the system's trust roots, statuses as answers.
fn agent() -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(HTTP_TIMEOUT))
        .build()
        .into()
}

/// The body of a URL; a status of 400 or more is an error in Salt's words
/// (`Error: HTTP 404: Not Found reading /path`).
fn http_get(url: &str) -> Result<Vec<u8>, SourceError> {
    let fail = |why: String| SourceError::Fetch {
        source: url.to_string(),
        why,
    };
    let resp = agent().get(url).call().map_err(|e| fail(e.to_string()))?;
    let code = resp.status().as_u16();
    if code >= 400 {
        let reason = resp.status().canonical_reason().unwrap_or("Unknown");
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        let path = path.split(['?', '#']).next().unwrap_or(path);
        return Err(fail(format!("Error: HTTP {code}: {reason} reading {path}")));
    }
    resp.into_body()
        .with_config()
        .limit(MAX_HTTP)
        .read_to_vec()
        .map_err(|e| fail(e.to_string()))
}

/// The bytes of a source (not rendered).
pub fn fetch(ctx: &mut Ctx<'_>, source: &str) -> Result<Vec<u8>, SourceError> {
    match kind(source) {
        Kind::Salt => {
            let saltenv = split_url(source)
                .and_then(|(_, e)| e)
                .unwrap_or_else(|| ctx.saltenv.to_string());
            let Some(p) = salt_file(ctx, source)? else {
                return Err(SourceError::SaltMissing {
                    source: source.to_string(),
                    saltenv,
                });
            };
            std::fs::read(&p).map_err(|e| SourceError::Server(format!("{}: {e}", p.display())))
        }
        Kind::Local => {
            let p = local_path(source);
            std::fs::read(p).map_err(|_| SourceError::LocalMissing(p.to_string()))
        }
        Kind::Http => http_get(source),
        Kind::Other => Err(SourceError::Scheme(source.to_string())),
    }
}

/// The mode of a salt:// or local source file (`mode: keep`), normalised; `None` for other
/// sources or when it cannot be read.
pub fn stat_mode(ctx: &mut Ctx<'_>, source: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = match kind(source) {
        Kind::Salt => salt_file(ctx, source).ok().flatten()?,
        Kind::Local => Path::new(local_path(source)).to_path_buf(),
        _ => return None,
    };
    let md = std::fs::metadata(path).ok()?;
    Some(format!("{:04o}", md.permissions().mode() & 0o7777))
}

/// Hex of the sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    crypto::sha256(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash type a bare hex digest of this length is (Salt's `HASHES_REVMAP`).
fn type_by_len(n: usize) -> Option<&'static str> {
    match n {
        32 => Some("md5"),
        40 => Some("sha1"),
        56 => Some("sha224"),
        64 => Some("sha256"),
        96 => Some("sha384"),
        128 => Some("sha512"),
        _ => None,
    }
}

/// A `type=hex` or bare hex digest; `None` when the text is neither.
fn parse_digest(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    let (t, hex) = match s.split_once('=') {
        Some((t, h)) => (Some(t.trim().to_lowercase()), h.trim()),
        None => (None, s),
    };
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let by_len = type_by_len(hex.len())?;
    Some((t.unwrap_or_else(|| by_len.to_string()), hex.to_lowercase()))
}

/// The message Salt gives for a `source_hash` it cannot read.
fn invalid_hash(h: &str) -> SourceError {
    SourceError::BadHash(format!(
        "Source hash {h} format is invalid. The supported formats are: 1) a hash, 2) an expression in the format <hash_type>=<hash>, or 3) either a path to a local file containing hashes, or a URI of a remote hash file."
    ))
}

/// Salt's `file.get_source_sum`: the expected (type, hex) of `source` from its `source_hash`,
/// which is a digest, or a file of digests (salt://, local or URL) where the line naming the
/// source's file name wins, else the first digest in it.
pub fn source_sum(
    ctx: &mut Ctx<'_>,
    source: &str,
    source_hash: &str,
    source_hash_name: Option<&str>,
) -> Result<(String, String), SourceError> {
    if let Some(d) = parse_digest(source_hash) {
        return Ok(d);
    }
    let text = match kind(source_hash) {
        Kind::Salt | Kind::Http => fetch(ctx, source_hash)?,
        Kind::Local if source_hash.starts_with('/') || source_hash.starts_with("file://") => {
            fetch(ctx, source_hash)?
        }
        _ => return Err(invalid_hash(source_hash)),
    };
    let text = String::from_utf8_lossy(&text);
    let want = source_hash_name.map(str::to_string).unwrap_or_else(|| {
        source
            .rsplit('/')
            .next()
            .unwrap_or(source)
            .split('?')
            .next()
            .unwrap_or("")
            .to_string()
    });
    let mut first = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(w) = words.next() else { continue };
        let Some(d) = parse_digest(w) else { continue };
        let named = words.any(|f| {
            let f = f.trim_start_matches('*');
            f == want || f.rsplit('/').next() == Some(want.as_str())
        });
        if named {
            return Ok(d);
        }
        first.get_or_insert(d);
    }
    first.ok_or_else(|| {
        SourceError::BadHash(format!(
            "Source hash file {source_hash} contains an invalid hash format, it must be in the format <hash type>=<hash>"
        ))
    })
}

/// The digest of `data` by Salt's type name; `None` for the types brine does not compute
/// (md5, sha1, sha224, sha384, sha512: libsodium gives sha256 only here).
pub fn digest(htype: &str, data: &[u8]) -> Option<String> {
    (htype == "sha256").then(|| sha256_hex(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_by_form_and_length() {
        let h = "a".repeat(64);
        assert_eq!(
            parse_digest(&format!("sha256={h}")),
            Some(("sha256".into(), h.clone()))
        );
        assert_eq!(parse_digest(&h), Some(("sha256".into(), h.clone())));
        assert_eq!(
            parse_digest(&"b".repeat(32)).map(|d| d.0),
            Some("md5".into())
        );
        assert_eq!(parse_digest("salt://x.sha256"), None);
        assert_eq!(parse_digest("abc"), None);
    }

    #[test]
    fn kinds_of_sources() {
        assert_eq!(kind("salt://a"), Kind::Salt);
        assert_eq!(kind("/etc/x"), Kind::Local);
        assert_eq!(kind("file:///etc/x"), Kind::Local);
        assert_eq!(kind("https://h/x"), Kind::Http);
        assert_eq!(kind("ftp://h/x"), Kind::Other);
        assert_eq!(
            sha256_hex(b"from http\n"),
            "3ff0cc747581bb9dc2fe752f0b9c72ee0d911e7da314d7b4f93d4d57d88d08c9"
        );
    }
}
