//! The eauth backends brine-api offers: who a username and password belong to.
//!
//! - `sharedsecret`: the password is the master's `sharedsecret`, for any user name.
//! - `file`: Salt's `salt/auth/file.py` options (`^filename`, `^filetype` text, htpasswd or
//!   htdigest, `^hashtype`, `^field_separator`, `^username_field`, `^password_field`,
//!   `^realm`); the first line naming the user decides.
//! - `pam`: through [`super::pam`], with the account check; the identity carries the user's
//!   system groups, as Salt's `pam` backend's `groups()`.
//!
//! An eauth must be a key of `external_auth`, as in Salt (`LoadAuth.authenticate_eauth`).
//! Departures, all on the side of refusing: `auto` (Salt's always-approve test backend) is not
//! offered; passwords are compared in constant time (Salt uses `==`); an empty
//! `sharedsecret` or user name never authenticates; an account with an empty password is not
//! let in through PAM's `nullok`. What Salt does around this (padding failures to the slowest
//! time seen, `time_auth`) is the caller's: it runs [`authenticate`] off the event loop,
//! because files are read and PAM blocks.
//!
//! Passwords are never logged, nor put in an error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::pam::{self, PamError};
use crate::digest;

/// Who authenticated: the name the token is issued to, the eauth that vouched for it, and
/// the groups its `group%` ACL entries are looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name as given (Salt keeps it as given too).
    pub name: String,
    /// The eauth backend that accepted it.
    pub eauth: String,
    /// The user's groups (system groups for `pam`; none for the other backends).
    pub groups: Vec<String>,
}

/// What is wrong with an account that had the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountProblem {
    /// The account has expired.
    Expired,
    /// The password has expired.
    PasswordExpired,
    /// The password must be changed first.
    PasswordChangeRequired,
    /// The account is locked or not allowed to log in here.
    Locked,
}

impl AccountProblem {
    fn text(self) -> &'static str {
        match self {
            AccountProblem::Expired => "account expired",
            AccountProblem::PasswordExpired => "password expired",
            AccountProblem::PasswordChangeRequired => "password change required",
            AccountProblem::Locked => "account locked or not permitted",
        }
    }
}

/// Why a user was not authenticated, or why the configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EauthError {
    /// The eauth is not a key of `external_auth`.
    UnknownEauth {
        /// The eauth asked for.
        eauth: String,
    },
    /// The eauth is configured, but brine does not offer that backend.
    Unsupported {
        /// The eauth asked for.
        eauth: String,
        /// Why not.
        why: &'static str,
    },
    /// The password is wrong.
    BadCredentials {
        /// The backend.
        eauth: String,
        /// The user name.
        user: String,
    },
    /// The backend knows no such user.
    UnknownUser {
        /// The backend.
        eauth: String,
        /// The user name.
        user: String,
    },
    /// The password was right, but the account may not be used.
    Account {
        /// The backend.
        eauth: String,
        /// The user name.
        user: String,
        /// What is wrong with the account.
        problem: AccountProblem,
    },
    /// A setting the backend needs is missing or wrong.
    Config {
        /// The backend.
        eauth: String,
        /// What is wrong, naming the setting.
        what: String,
    },
    /// The `file` backend's file does not exist.
    FileMissing {
        /// The configured `^filename`.
        path: PathBuf,
    },
    /// The `file` backend's file cannot be read.
    FileUnreadable {
        /// The configured `^filename`.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The user's line holds a hash brine cannot check.
    UnsupportedHash {
        /// The configured `^filename`.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The user name.
        user: String,
    },
    /// libpam cannot be loaded here.
    PamUnavailable {
        /// Why.
        reason: String,
    },
    /// PAM failed in a way that says nothing about the credentials.
    Pam {
        /// The user name.
        user: String,
        /// PAM's error.
        error: PamError,
    },
}

impl EauthError {
    /// Whether the fault is the server's (configuration, files, PAM) rather than the
    /// caller's credentials: worth an error in the log, where a refusal is routine.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            EauthError::Config { .. }
                | EauthError::FileMissing { .. }
                | EauthError::FileUnreadable { .. }
                | EauthError::UnsupportedHash { .. }
                | EauthError::PamUnavailable { .. }
                | EauthError::Pam { .. }
        )
    }
}

impl fmt::Display for EauthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EauthError::UnknownEauth { eauth } => {
                write!(f, "eauth {eauth:?} is not configured in external_auth")
            }
            EauthError::Unsupported { eauth, why } => write!(f, "eauth {eauth}: {why}"),
            EauthError::BadCredentials { eauth, user } => {
                write!(f, "eauth {eauth}: bad credentials for user {user:?}")
            }
            EauthError::UnknownUser { eauth, user } => {
                write!(f, "eauth {eauth}: no such user {user:?}")
            }
            EauthError::Account {
                eauth,
                user,
                problem,
            } => write!(
                f,
                "eauth {eauth}: user {user:?} refused: {}",
                problem.text()
            ),
            EauthError::Config { eauth, what } => write!(f, "eauth {eauth}: {what}"),
            EauthError::FileMissing { path } => {
                write!(f, "eauth file: {} does not exist", path.display())
            }
            EauthError::FileUnreadable { path, reason } => {
                write!(f, "eauth file: cannot read {}: {reason}", path.display())
            }
            EauthError::UnsupportedHash { path, line, user } => write!(
                f,
                "eauth file: {}:{line}: the password hash of user {user:?} is not one brine \
                 checks (bcrypt, $apr1$, $1$, {{SHA}})",
                path.display()
            ),
            EauthError::PamUnavailable { reason } => write!(f, "eauth pam: {reason}"),
            EauthError::Pam { user, error } => write!(f, "eauth {error} (user {user:?})"),
        }
    }
}

impl std::error::Error for EauthError {}

/// The layout of the `file` backend's file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileType {
    /// Separated fields, the password plain or as a hex digest.
    Text {
        /// `None` for plaintext, else a `hashlib` name.
        hashtype: Option<String>,
        separator: String,
        /// From 0 (the settings count from 1).
        username_field: usize,
        password_field: usize,
    },
    /// `user:hash`, Apache's htpasswd.
    Htpasswd,
    /// `user:realm:md5(user:realm:password)`, Apache's htdigest.
    Htdigest { realm: String },
}

/// The `file` backend's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileBackend {
    filename: PathBuf,
    filetype: FileType,
}

/// How one configured eauth authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Backend {
    SharedSecret,
    File(FileBackend),
    Pam,
    /// Configured, but not a backend brine offers; the reason is given on use.
    Unsupported(&'static str),
}

/// The eauth settings from the master's configuration, checked once when it is loaded.
#[derive(Clone)]
pub struct EauthConfig {
    backends: BTreeMap<String, Backend>,
    sharedsecret: Option<String>,
    pam_service: String,
}

impl fmt::Debug for EauthConfig {
    // By hand, so the shared secret never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EauthConfig")
            .field("backends", &self.backends)
            .field(
                "sharedsecret",
                &self.sharedsecret.as_ref().map(|_| "<redacted>"),
            )
            .field("pam_service", &self.pam_service)
            .finish()
    }
}

/// Salt's default `auth.pam.service`.
pub const DEFAULT_PAM_SERVICE: &str = "login";

/// A `^` option of the `file` backend, as text (Salt's options are YAML scalars).
fn file_option(opts: &Map<String, Value>, key: &str) -> Result<Option<String>, EauthError> {
    match opts.get(&format!("^{key}")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(EauthError::Config {
            eauth: "file".into(),
            what: format!("^{key} must be a string, not {other}"),
        }),
    }
}

/// A 1-based field number option, as an index from 0.
fn field_option(opts: &Map<String, Value>, key: &str, default: usize) -> Result<usize, EauthError> {
    let Some(text) = file_option(opts, key)? else {
        return Ok(default - 1);
    };
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n - 1),
        _ => Err(EauthError::Config {
            eauth: "file".into(),
            what: format!("^{key} must be a field number from 1, not {text:?}"),
        }),
    }
}

fn file_backend(opts: &Map<String, Value>) -> Result<FileBackend, EauthError> {
    let bad = |what: String| EauthError::Config {
        eauth: "file".into(),
        what,
    };
    let filename = file_option(opts, "filename")?
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("external_auth:file:^filename is required".into()))?;
    let filetype = file_option(opts, "filetype")?.unwrap_or_else(|| "text".into());
    let filetype = match filetype.to_ascii_lowercase().as_str() {
        "text" => {
            let hashtype = file_option(opts, "hashtype")?.unwrap_or_else(|| "plaintext".into());
            let hashtype = if hashtype == "plaintext" {
                None
            } else if digest::hex_digest(&hashtype, b"").is_some() {
                Some(hashtype)
            } else {
                return Err(bad(format!(
                    "^hashtype {hashtype:?} is not plaintext, md5, sha1, sha224, sha256, \
                     sha384 or sha512"
                )));
            };
            let separator = file_option(opts, "field_separator")?.unwrap_or_else(|| ":".into());
            if separator.is_empty() {
                return Err(bad("^field_separator must not be empty".into()));
            }
            FileType::Text {
                hashtype,
                separator,
                username_field: field_option(opts, "username_field", 1)?,
                password_field: field_option(opts, "password_field", 2)?,
            }
        }
        "htpasswd" => FileType::Htpasswd,
        "htdigest" => FileType::Htdigest {
            realm: file_option(opts, "realm")?
                .filter(|r| !r.is_empty())
                .ok_or_else(|| bad("^realm is required with ^filetype htdigest".into()))?,
        },
        other => {
            return Err(bad(format!(
                "^filetype {other:?} is not text, htpasswd or htdigest"
            )))
        }
    };
    Ok(FileBackend {
        filename: PathBuf::from(filename),
        filetype,
    })
}

impl EauthConfig {
    /// The settings from the master's `external_auth` (a map, or null for none),
    /// `sharedsecret` and `auth.pam.service` (default `login`). Refuses a `file` backend
    /// whose options are wrong; an eauth brine does not offer is kept and refused on use.
    pub fn new(
        external_auth: &Value,
        sharedsecret: Option<&str>,
        pam_service: Option<&str>,
    ) -> Result<EauthConfig, EauthError> {
        let empty = Map::new();
        let map = match external_auth {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => {
                return Err(EauthError::Config {
                    eauth: "*".into(),
                    what: format!("external_auth must be a mapping, not {other}"),
                })
            }
        };
        let mut backends = BTreeMap::new();
        for (eauth, section) in map {
            let backend = match eauth.as_str() {
                "sharedsecret" => Backend::SharedSecret,
                "pam" => Backend::Pam,
                "file" => match section {
                    Value::Object(opts) => Backend::File(file_backend(opts)?),
                    _ => Backend::File(file_backend(&empty)?),
                },
                "auto" => Backend::Unsupported(
                    "auto is Salt's always-approve test backend; brine does not offer it",
                ),
                _ => Backend::Unsupported(
                    "not a backend brine offers (it has sharedsecret, file and pam)",
                ),
            };
            backends.insert(eauth.clone(), backend);
        }
        Ok(EauthConfig {
            backends,
            sharedsecret: sharedsecret.map(str::to_string),
            pam_service: pam_service
                .filter(|s| !s.is_empty())
                .unwrap_or(DEFAULT_PAM_SERVICE)
                .to_string(),
        })
    }

    /// The settings from the master's configuration: `external_auth`, `sharedsecret`, and
    /// `auth.pam.service` (Salt's dotted key wins over `auth_pam_service`).
    pub fn from_master(cfg: &crate::config::MasterConfig) -> Result<EauthConfig, EauthError> {
        let service = cfg
            .module_options
            .get("auth.pam.service")
            .and_then(Value::as_str)
            .unwrap_or(&cfg.auth_pam_service);
        EauthConfig::new(
            &cfg.external_auth,
            Some(cfg.sharedsecret.as_str()),
            Some(service),
        )
    }

    /// Whether `eauth` is a key of `external_auth` that brine can authenticate with (a
    /// token whose eauth is no longer configured is no longer valid, as in Salt).
    pub fn is_configured(&self, eauth: &str) -> bool {
        matches!(self.backends.get(eauth), Some(b) if !matches!(b, Backend::Unsupported(_)))
    }

    /// The PAM service the `pam` backend uses.
    pub fn pam_service(&self) -> &str {
        &self.pam_service
    }
}

/// Authenticates `username` with `password` through `eauth`. Blocking: run it off the event
/// loop.
pub fn authenticate(
    cfg: &EauthConfig,
    eauth: &str,
    username: &str,
    password: &str,
) -> Result<Identity, EauthError> {
    let backend = cfg
        .backends
        .get(eauth)
        .ok_or_else(|| EauthError::UnknownEauth {
            eauth: eauth.to_string(),
        })?;
    let bad = || EauthError::BadCredentials {
        eauth: eauth.to_string(),
        user: username.to_string(),
    };
    if username.is_empty() {
        return Err(EauthError::UnknownUser {
            eauth: eauth.to_string(),
            user: String::new(),
        });
    }
    let groups = match backend {
        Backend::Unsupported(why) => {
            return Err(EauthError::Unsupported {
                eauth: eauth.to_string(),
                why,
            })
        }
        Backend::SharedSecret => {
            let secret = cfg
                .sharedsecret
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| EauthError::Config {
                    eauth: eauth.to_string(),
                    what: "the master's sharedsecret is not set".into(),
                })?;
            if !digest::constant_time_eq(secret.as_bytes(), password.as_bytes()) {
                return Err(bad());
            }
            Vec::new()
        }
        Backend::File(file) => {
            check_file(file, username, password)?;
            Vec::new()
        }
        Backend::Pam => {
            pam_authenticate(&cfg.pam_service, username, password)?;
            pam::system_groups(username)
        }
    };
    Ok(Identity {
        name: username.to_string(),
        eauth: eauth.to_string(),
        groups,
    })
}

fn pam_authenticate(service: &str, user: &str, password: &str) -> Result<(), EauthError> {
    let account = |problem| EauthError::Account {
        eauth: "pam".into(),
        user: user.to_string(),
        problem,
    };
    match pam::authenticate(service, user, password) {
        Ok(()) => Ok(()),
        Err(PamError::AuthFailed) => {
            shadow_diagnostic();
            Err(EauthError::BadCredentials {
                eauth: "pam".into(),
                user: user.to_string(),
            })
        }
        Err(PamError::UserUnknown) => Err(EauthError::UnknownUser {
            eauth: "pam".into(),
            user: user.to_string(),
        }),
        Err(PamError::AccountExpired) => Err(account(AccountProblem::Expired)),
        Err(PamError::PasswordExpired) => Err(account(AccountProblem::PasswordExpired)),
        Err(PamError::NewAuthTokenRequired) => Err(account(AccountProblem::PasswordChangeRequired)),
        Err(PamError::PermissionDenied) => Err(account(AccountProblem::Locked)),
        Err(PamError::Unavailable(reason)) => Err(EauthError::PamUnavailable { reason }),
        Err(error) => Err(EauthError::Pam {
            user: user.to_string(),
            error,
        }),
    }
}

/// Salt's diagnostic for #64275, once: without root or the shadow group, pam_unix can only
/// check the daemon's own user, and every other login fails as a wrong password.
fn shadow_diagnostic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 || std::fs::File::open("/etc/shadow").is_ok() {
        return;
    }
    ONCE.call_once(|| {
        log::error!(
            "eauth pam: this process cannot read /etc/shadow, so PAM's pam_unix refuses every \
             user but its own: run brine-api as root or in the shadow group"
        )
    });
}

/// Files bigger than this are not an eauth file (a guard, not a limit anyone meets).
const MAX_FILE: u64 = 64 << 20;

fn read_file(path: &Path) -> Result<String, EauthError> {
    let unreadable = |reason: String| EauthError::FileUnreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EauthError::FileMissing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(unreadable(e.to_string())),
    };
    if meta.len() > MAX_FILE {
        return Err(unreadable(format!("larger than {MAX_FILE} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 ({e})")))
}

/// Checks a user against the `file` backend's file: the first line naming the user decides.
fn check_file(file: &FileBackend, user: &str, password: &str) -> Result<(), EauthError> {
    let text = read_file(&file.filename)?;
    let bad = || EauthError::BadCredentials {
        eauth: "file".into(),
        user: user.to_string(),
    };
    let verdict = |ok: bool| if ok { Ok(()) } else { Err(bad()) };
    for (n, raw) in text.lines().enumerate() {
        // Python's str.strip(), as Salt strips each line.
        let line = raw.trim_matches(crate::py::is_py_space);
        if line.is_empty() {
            continue;
        }
        match &file.filetype {
            FileType::Text {
                hashtype,
                separator,
                username_field,
                password_field,
            } => {
                let fields: Vec<&str> = line.split(separator.as_str()).collect();
                if fields.get(*username_field) != Some(&user) {
                    continue;
                }
                let Some(stored) = fields.get(*password_field) else {
                    log::warn!(
                        "eauth file: {}:{}: no password field {} on user {user:?}'s line",
                        file.filename.display(),
                        n + 1,
                        password_field + 1
                    );
                    return Err(bad());
                };
                let given = match hashtype {
                    None => password.to_string(),
                    // Checked when the configuration was loaded: the algorithm exists.
                    Some(algo) => digest::hex_digest(algo, password.as_bytes()).unwrap_or_default(),
                };
                // Hex digests are compared without regard to case: `sha256sum` and
                // Python both write lower case, but a hand-edited file may not.
                let stored = if hashtype.is_some() {
                    stored.to_ascii_lowercase()
                } else {
                    stored.to_string()
                };
                return verdict(digest::constant_time_eq(
                    stored.as_bytes(),
                    given.as_bytes(),
                ));
            }
            FileType::Htpasswd => {
                if line.starts_with('#') {
                    continue;
                }
                let Some((name, stored)) = line.split_once(':') else {
                    continue;
                };
                if name != user {
                    continue;
                }
                return match digest::htpasswd_verify(stored, password.as_bytes()) {
                    Some(ok) => verdict(ok),
                    None => Err(EauthError::UnsupportedHash {
                        path: file.filename.clone(),
                        line: n + 1,
                        user: user.to_string(),
                    }),
                };
            }
            FileType::Htdigest { realm } => {
                if line.starts_with('#') {
                    continue;
                }
                let mut parts = line.splitn(3, ':');
                let (Some(name), Some(line_realm), Some(stored)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if name != user || line_realm != realm {
                    continue;
                }
                let given = format!("{user}:{realm}:{password}");
                let given = digest::hex_digest("md5", given.as_bytes()).unwrap_or_default();
                return verdict(digest::constant_time_eq(
                    stored.to_ascii_lowercase().as_bytes(),
                    given.as_bytes(),
                ));
            }
        }
    }
    Err(EauthError::UnknownUser {
        eauth: "file".into(),
        user: user.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(external_auth: Value) -> EauthConfig {
        EauthConfig::new(&external_auth, Some("s3cret-shared"), None).expect("config")
    }

    fn auth(cfg: &EauthConfig, eauth: &str, user: &str, pw: &str) -> Result<Identity, EauthError> {
        authenticate(cfg, eauth, user, pw)
    }

    fn file_cfg(dir: &tempfile::TempDir, body: &str, opts: Value) -> EauthConfig {
        let path = dir.path().join("users");
        std::fs::write(&path, body).unwrap();
        let mut section = json!({"^filename": path.to_str().unwrap(), "alice": [".*"]});
        for (k, v) in opts.as_object().unwrap() {
            section[k] = v.clone();
        }
        cfg(json!({ "file": section }))
    }

    #[test]
    fn the_eauth_must_be_configured() {
        let c = cfg(json!({"sharedsecret": {"*": [".*"]}}));
        let e = auth(&c, "pam", "root", "x").unwrap_err();
        assert_eq!(
            e,
            EauthError::UnknownEauth {
                eauth: "pam".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "eauth \"pam\" is not configured in external_auth"
        );
        assert!(c.is_configured("sharedsecret"));
        assert!(!c.is_configured("pam"));
        assert_eq!(c.pam_service(), "login");
    }

    #[test]
    fn auto_and_other_backends_are_refused() {
        let c = cfg(json!({"auto": {"*": [".*"]}, "ldap": {"*": [".*"]}}));
        let e = auth(&c, "auto", "anyone", "anything").unwrap_err();
        assert!(matches!(e, EauthError::Unsupported { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("eauth auto: auto is Salt's always-approve"),
            "{e}"
        );
        let e = auth(&c, "ldap", "anyone", "anything").unwrap_err();
        assert!(
            e.to_string().starts_with("eauth ldap: not a backend"),
            "{e}"
        );
        assert!(!c.is_configured("auto"));
    }

    #[test]
    fn sharedsecret_accepts_any_user_with_the_secret() {
        let c = cfg(json!({"sharedsecret": {"fred": ["test.*"]}}));
        let id = auth(&c, "sharedsecret", "whoever", "s3cret-shared").unwrap();
        assert_eq!(
            id,
            Identity {
                name: "whoever".into(),
                eauth: "sharedsecret".into(),
                groups: vec![]
            }
        );
        let e = auth(&c, "sharedsecret", "fred", "s3cret-sharedX").unwrap_err();
        assert_eq!(
            e.to_string(),
            "eauth sharedsecret: bad credentials for user \"fred\""
        );
        assert!(!e.to_string().contains("s3cret"));
        assert!(auth(&c, "sharedsecret", "fred", "").is_err());
        assert!(auth(&c, "sharedsecret", "", "s3cret-shared").is_err());
        // No secret set (Salt compares with None) or an empty one: nobody gets in.
        for secret in [None, Some("")] {
            let c = EauthConfig::new(&json!({"sharedsecret": {}}), secret, None).unwrap();
            let e = auth(&c, "sharedsecret", "fred", "").unwrap_err();
            assert!(matches!(e, EauthError::Config { .. }), "{e}");
            assert!(e.is_server_fault());
        }
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }

    #[test]
    fn text_file_plaintext_first_matching_line_decides() {
        let dir = tempfile::tempdir().unwrap();
        let c = file_cfg(
            &dir,
            "bob:bobpw\n\n  alice:first \nalice:second\nshort\n",
            json!({}),
        );
        assert_eq!(auth(&c, "file", "alice", "first").unwrap().name, "alice");
        // The second alice line is never reached: a wrong password stops at the first.
        let e = auth(&c, "file", "alice", "second").unwrap_err();
        assert!(matches!(e, EauthError::BadCredentials { .. }), "{e}");
        assert!(auth(&c, "file", "bob", "bobpw").is_ok());
        assert!(auth(&c, "file", "bob", "bobpw ").is_err());
        let e = auth(&c, "file", "carol", "x").unwrap_err();
        assert_eq!(e.to_string(), "eauth file: no such user \"carol\"");
        assert!(!e.is_server_fault());
    }

    #[test]
    fn text_file_with_hashes_separator_and_field_numbers() {
        let dir = tempfile::tempdir().unwrap();
        // python3 -c "import hashlib; print(hashlib.sha256(b'correct horse').hexdigest())"
        let sha = "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631";
        let body = format!("1|other|x\n2|alice|{}\n", sha.to_uppercase());
        let c = file_cfg(
            &dir,
            &body,
            json!({"^hashtype": "sha256", "^field_separator": "|",
                   "^username_field": 2, "^password_field": "3"}),
        );
        assert!(auth(&c, "file", "alice", "correct horse").is_ok());
        assert!(auth(&c, "file", "alice", "correct horsE").is_err());
        // The hash itself is not the password.
        assert!(auth(&c, "file", "alice", sha).is_err());
    }

    #[test]
    fn htpasswd_and_htdigest_files() {
        let dir = tempfile::tempdir().unwrap();
        let body = "# users\n\
                    apr:$apr1$sAlt1234$cEQhCJNwAWFzJbR0ebE1z.\n\
                    sha:{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=\n\
                    bc:$2y$04$7.GcdXvCy30P94Ux8.ioMehNBvGSOr/B0TqHU2nH6aKbsh135n6ny\n\
                    des:abJnggxhB/yWI\n";
        let c = file_cfg(&dir, body, json!({"^filetype": "htpasswd"}));
        for user in ["apr", "sha", "bc"] {
            assert!(auth(&c, "file", user, "correct horse").is_ok(), "{user}");
            assert!(auth(&c, "file", user, "wrong").is_err(), "{user}");
        }
        let e = auth(&c, "file", "des", "x").unwrap_err();
        assert!(
            matches!(e, EauthError::UnsupportedHash { line: 5, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("users:5"), "{e}");

        // python3 -c "import hashlib; print(hashlib.md5(b'alice:brine:correct horse').hexdigest())"
        let body = "alice:other:00\nalice:brine:7fb9b64d830dcb0b8c5c4d9228d7fc88\n";
        let c = file_cfg(
            &dir,
            body,
            json!({"^filetype": "htdigest", "^realm": "brine"}),
        );
        assert!(auth(&c, "file", "alice", "correct horse").is_ok());
        assert!(auth(&c, "file", "alice", "wrong").is_err());
    }

    #[test]
    fn file_problems_name_the_path_and_bad_options_are_refused_at_load() {
        let c = cfg(json!({"file": {"^filename": "/nonexistent/brine-users"}}));
        let e = auth(&c, "file", "alice", "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "eauth file: /nonexistent/brine-users does not exist"
        );
        assert!(e.is_server_fault());
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(json!({"file": {"^filename": dir.path().to_str().unwrap()}}));
        let e = auth(&c, "file", "alice", "x").unwrap_err();
        assert!(matches!(e, EauthError::FileUnreadable { .. }), "{e}");
        assert!(
            e.to_string().starts_with("eauth file: cannot read /"),
            "{e}"
        );

        for (opts, want) in [
            (json!({}), "^filename is required"),
            (
                json!({"^filename": "/f", "^filetype": "xml"}),
                "^filetype \"xml\"",
            ),
            (
                json!({"^filename": "/f", "^hashtype": "crc32"}),
                "^hashtype \"crc32\"",
            ),
            (
                json!({"^filename": "/f", "^username_field": 0}),
                "^username_field",
            ),
            (
                json!({"^filename": "/f", "^password_field": "two"}),
                "^password_field",
            ),
            (
                json!({"^filename": "/f", "^field_separator": ""}),
                "^field_separator",
            ),
            (
                json!({"^filename": "/f", "^filetype": "htdigest"}),
                "^realm is required",
            ),
            (json!({"^filename": ["/f"]}), "^filename must be a string"),
        ] {
            let e = EauthConfig::new(&json!({ "file": opts }), None, None).unwrap_err();
            assert!(e.to_string().starts_with("eauth file: "), "{e}");
            assert!(e.to_string().contains(want), "{e} / {want}");
        }
        assert!(EauthConfig::new(&json!([]), None, None).is_err());
        assert!(EauthConfig::new(&Value::Null, None, None).is_ok());
    }

    #[test]
    fn pam_errors_map_to_eauth_errors() {
        // Without root the whole-system test (tests/api_pam.rs) cannot run; the mapping can.
        let c = EauthConfig::new(&json!({"pam": {}}), None, Some("brine-none")).unwrap();
        assert_eq!(c.pam_service(), "brine-none");
        if pam::available().is_ok() {
            // A service without a file falls back to PAM's `other`, which refuses; whatever
            // it says, it must not be success.
            assert!(auth(&c, "pam", "no-such-user-brine", "x").is_err());
        }
    }
}
