//! brine-api's settings, read from the master configuration's `rest_cherrypy` section and
//! the master keys the API depends on (`external_auth`, `netapi_enable_clients`, ...).

use crate::config::MasterConfig;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The clients brine-api offers (Salt finds its list by introspection and lists `destroy`
/// by accident; this one is explicit).
pub const CLIENTS: &[&str] = &[
    "local",
    "local_async",
    "runner",
    "runner_async",
    "wheel",
    "wheel_async",
];

/// Headers never copied into a webhook event by default: bearer credentials.
pub const STRIP_HEADERS: &[&str] = &["X-Auth-Token", "Cookie", "Authorization"];

/// A bad `rest_cherrypy` section: one line naming the key.
#[derive(Debug, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rest_cherrypy: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// TLS files.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsFiles {
    /// The certificate (PEM).
    pub crt: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Intermediate certificates sent after it (PEM), if any.
    pub chain: Option<PathBuf>,
}

/// Everything brine-api is configured with.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Port to listen on.
    pub port: u16,
    /// Address to listen on.
    pub host: String,
    /// TLS, unless `disable_ssl`.
    pub tls: Option<TlsFiles>,
    /// The webhook's URL segment (default `hook`).
    pub webhook_url: String,
    /// Webhooks without a token.
    pub webhook_disable_auth: bool,
    /// Header names left out of webhook events.
    pub webhook_strip_headers: Vec<String>,
    /// Largest request body (413 past it).
    pub max_body: usize,
    /// Largest request head.
    pub max_header: usize,
    /// The URL prefix everything is under (`/` by default).
    pub root_prefix: String,
    /// `/login`, `/logout`, `/minions`, `/jobs` on.
    pub enable_sessions: bool,
    /// Client addresses allowed (empty: all).
    pub authorized_ips: Vec<String>,
    /// `api_acl`: users and the addresses they may log in from.
    pub api_acl: Option<Map<String, Value>>,
    /// `/stats` and `/metrics` on.
    pub collect_stats: bool,
    /// `/stats` and `/metrics` without a token.
    pub stats_disable_auth: bool,
    /// A directory served at `static_path`.
    pub static_dir: Option<PathBuf>,
    /// Where `static` is served.
    pub static_path: String,
    /// A user's HTML app served at `app_path` (brine's console when unset).
    pub app: Option<PathBuf>,
    /// Where the app is served.
    pub app_path: String,
    /// Origins allowed cross-site (none by default; Salt reflects every Origin).
    pub cors_origins: Vec<String>,
    /// Most connections at once.
    pub max_connections: usize,
    /// Seconds an idle keep-alive connection stays open.
    pub idle_timeout: u64,
    /// Seconds a client has to send a whole request.
    pub request_timeout: u64,
    /// Bytes an `/events` client may fall behind before it loses events.
    pub sse_buffer: usize,
    /// The enabled clients (`netapi_enable_clients`).
    pub clients: Vec<String>,
    /// Seconds a token lives.
    pub token_expire: u64,
    /// Who may ask for its own token lifetime.
    pub token_expire_user_override: Value,
    /// `external_auth`.
    pub external_auth: Value,
    /// `permissive_acl`.
    pub permissive_acl: bool,
    /// `sharedsecret`.
    pub sharedsecret: String,
    /// The PAM service.
    pub pam_service: String,
    /// Seconds a sync `local` call waits for returns by default.
    pub timeout: u64,
    /// Seconds a sync runner call may take.
    pub rest_timeout: u64,
    /// The master's socket directory.
    pub sock_dir: PathBuf,
    /// Largest event brine-api fires.
    pub max_event_size: usize,
}

fn string_list(v: Option<&Value>, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(ConfigError(format!("{key}: {other} is not a string"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ConfigError(format!("{key} must be a list, not {other}"))),
    }
}

fn get_bool(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ConfigError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s)
                if matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on") =>
            {
                Ok(true)
            }
            Value::String(s)
                if matches!(s.to_ascii_lowercase().as_str(), "false" | "no" | "off") =>
            {
                Ok(false)
            }
            other => Err(ConfigError(format!(
                "{key} must be True or False, not {other}"
            ))),
        },
    }
}

fn get_uint(m: &Map<String, Value>, key: &str, default: u64) -> Result<u64, ConfigError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| ConfigError(format!("{key} must be a whole number >= 0, not {n}"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| ConfigError(format!("{key} must be a whole number, not '{s}'"))),
        Some(other) => Err(ConfigError(format!("{key} must be a number, not {other}"))),
    }
}

fn get_str(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ConfigError(format!("{key} must be a string, not {other}"))),
    }
}

/// A URL path as configured (`static`, `/static`, `/static/`), as `/static`.
fn url_path(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

impl ApiConfig {
    /// Reads the settings; `Ok(None)` when the master configuration has no `rest_cherrypy`
    /// section with a `port` (then there is nothing to serve, as with Salt).
    pub fn from_master(cfg: &MasterConfig) -> Result<Option<ApiConfig>, ConfigError> {
        let m = match &cfg.rest_cherrypy {
            Value::Object(m) => m,
            _ => return Ok(None),
        };
        let Some(port) = m.get("port").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let port = match port {
            Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ConfigError(format!("port {port} is not a TCP port")))?;
        let disable_ssl = get_bool(m, "disable_ssl", false)?;
        let tls = if disable_ssl {
            None
        } else {
            match (get_str(m, "ssl_crt")?, get_str(m, "ssl_key")?) {
                (Some(crt), Some(key)) => Some(TlsFiles {
                    crt: PathBuf::from(crt),
                    key: PathBuf::from(key),
                    chain: get_str(m, "ssl_chain")?.map(PathBuf::from),
                }),
                _ => {
                    return Err(ConfigError(
                        "ssl_crt and ssl_key are required unless disable_ssl is True (Salt: \"Not starting\")"
                            .into(),
                    ))
                }
            }
        };
        let webhook_url = get_str(m, "webhook_url")?.unwrap_or_else(|| "/hook".into());
        let webhook_url = url_path(&webhook_url);
        if webhook_url.is_empty() || webhook_url[1..].contains('/') {
            return Err(ConfigError(format!(
                "webhook_url '{webhook_url}' must be one path segment, such as /hook"
            )));
        }
        let clients = string_list(Some(&cfg.netapi_enable_clients), "netapi_enable_clients")
            .map_err(|e| ConfigError(e.0))?
            .unwrap_or_default();
        let pam_service = cfg
            .module_options
            .get("auth.pam.service")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| cfg.auth_pam_service.clone());
        let api_acl = match m.get("api_acl") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => match a.get("users") {
                Some(Value::Object(u)) => Some(u.clone()),
                None | Some(Value::Null) => Some(Map::new()),
                Some(other) => {
                    return Err(ConfigError(format!(
                        "api_acl: users must be a map, not {other}"
                    )))
                }
            },
            Some(other) => return Err(ConfigError(format!("api_acl must be a map, not {other}"))),
        };
        Ok(Some(ApiConfig {
            port,
            host: get_str(m, "host")?.unwrap_or_else(|| "0.0.0.0".into()),
            tls,
            webhook_url,
            webhook_disable_auth: get_bool(m, "webhook_disable_auth", false)?,
            webhook_strip_headers: string_list(
                m.get("webhook_strip_headers"),
                "webhook_strip_headers",
            )?
            .unwrap_or_else(|| STRIP_HEADERS.iter().map(|s| s.to_string()).collect()),
            max_body: get_uint(m, "max_request_body_size", 1_048_576)? as usize,
            max_header: get_uint(m, "max_header_size", 16_384)? as usize,
            root_prefix: url_path(&get_str(m, "root_prefix")?.unwrap_or_default()),
            enable_sessions: get_bool(m, "enable_sessions", true)?,
            authorized_ips: string_list(m.get("authorized_ips"), "authorized_ips")?
                .unwrap_or_default(),
            api_acl,
            collect_stats: get_bool(m, "collect_stats", false)?,
            stats_disable_auth: get_bool(m, "stats_disable_auth", false)?,
            static_dir: get_str(m, "static")?.map(PathBuf::from),
            static_path: url_path(&get_str(m, "static_path")?.unwrap_or_else(|| "/static".into())),
            app: get_str(m, "app")?.map(PathBuf::from),
            app_path: url_path(&get_str(m, "app_path")?.unwrap_or_else(|| "/app".into())),
            cors_origins: string_list(m.get("cors_origins"), "cors_origins")?.unwrap_or_default(),
            max_connections: get_uint(m, "max_connections", 10_000)?.max(1) as usize,
            idle_timeout: get_uint(m, "idle_timeout", 60)?.max(1),
            request_timeout: get_uint(m, "request_timeout", 10)?.max(1),
            sse_buffer: get_uint(m, "sse_buffer", 1_048_576)?.max(4096) as usize,
            clients,
            token_expire: cfg.token_expire,
            token_expire_user_override: cfg.token_expire_user_override.clone(),
            external_auth: cfg.external_auth.clone(),
            permissive_acl: cfg.permissive_acl,
            sharedsecret: cfg.sharedsecret.clone(),
            pam_service,
            timeout: cfg.timeout,
            rest_timeout: get_uint(m, "rest_timeout", 300)?.max(1),
            sock_dir: cfg.sock_dir.clone(),
            max_event_size: cfg.max_event_size,
        }))
    }

    /// Whether client `name` is enabled.
    pub fn client_enabled(&self, name: &str) -> bool {
        self.clients.iter().any(|c| c == name)
    }
}
