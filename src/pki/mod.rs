//! Key files, the master's key store and the auth decision (salt-spec §2.2, §7.4).
//!
//! Keys are text so they read like Salt's: a public key file is
//!
//! ```text
//! -----BEGIN BRINE PUBLIC KEY-----
//! <base64 of box_public(32) || sign_public(32), wrapped at 64 columns>
//! -----END BRINE PUBLIC KEY-----
//! ```
//!
//! and a secret key file holds box_secret(32) || sign_secret(64) between
//! `BRINE PRIVATE KEY` lines. The store keeps one file per minion id in each state
//! directory under `pki_dir`, as Salt does; the directory listings are the truth, because
//! brine-key may change them while the master is down.

use crate::crypto::{self, BoxKeys, SignKeys};
use crate::matcher::expr_match;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PUBLIC_LABEL: &str = "BRINE PUBLIC KEY";
const SECRET_LABEL: &str = "BRINE PRIVATE KEY";

/// The largest key file the store reads; real ones are a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 << 10;
/// The largest autosign or autoreject file read.
const MAX_SIGNING_FILE: u64 = 4 << 20;
/// The largest PEM text parsed; a public key PEM is about 150 bytes.
const MAX_PEM: usize = 4096;

/// What can go wrong with key files and the key store.
#[derive(Debug)]
pub enum PkiError {
    /// A file system operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("read", "create", ...).
        op: &'static str,
        /// Why it failed.
        source: io::Error,
    },
    /// A key could not be moved between state directories.
    Move {
        /// Where it was.
        from: PathBuf,
        /// Where it was going.
        to: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A secret key file that its group or other users can read or write.
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Text that is not a brine key.
    BadKey {
        /// The file it came from, when it came from one.
        path: Option<PathBuf>,
        /// What is wrong with it.
        why: String,
    },
    /// A public key file that does not belong to the secret key beside it.
    Mismatch {
        /// The secret key file.
        secret: PathBuf,
        /// The public key file.
        public: PathBuf,
    },
    /// A file that would have been overwritten.
    Exists(PathBuf),
    /// A minion id (or key name) that cannot be a file name.
    InvalidId(String),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::Io { path, op, source } => {
                write!(f, "{}: cannot {op}: {source}", path.display())
            }
            PkiError::Move { from, to, source } => write!(
                f,
                "cannot move {} to {}: {source}",
                from.display(),
                to.display()
            ),
            PkiError::Exposed { path, mode } => {
                let who = if mode & 0o004 != 0 {
                    "readable by others"
                } else if mode & 0o002 != 0 {
                    "writable by others"
                } else if mode & 0o040 != 0 {
                    "readable by its group"
                } else if mode & 0o020 != 0 {
                    "writable by its group"
                } else {
                    "accessible to its group or others"
                };
                write!(
                    f,
                    "{} is {who} (mode {:04o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o7777
                )
            }
            PkiError::BadKey {
                path: Some(path),
                why,
            } => write!(f, "{}: {why}", path.display()),
            PkiError::BadKey { path: None, why } => f.write_str(why),
            PkiError::Mismatch { secret, public } => write!(
                f,
                "{} does not belong to {}; remove it to have it written again from the secret key",
                public.display(),
                secret.display()
            ),
            PkiError::Exists(path) => {
                write!(f, "{} already exists; not overwriting it", path.display())
            }
            PkiError::InvalidId(id) => write!(f, "invalid minion id {id:?}"),
        }
    }
}

impl std::error::Error for PkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PkiError::Io { source, .. } | PkiError::Move { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> PkiError + 'a {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn bad(why: impl Into<String>) -> PkiError {
    PkiError::BadKey {
        path: None,
        why: why.into(),
    }
}

/// Wraps bytes as `-----BEGIN <label>-----`, base64 in 64-column lines, `-----END <label>-----`.
fn armor(label: &str, bytes: &[u8]) -> String {
    let b64 = crypto::base64_encode(bytes);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 is ASCII, so every chunk is valid UTF-8.
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The bytes inside an armor with this label; blank lines around it and CRLF are tolerated.
fn unarmor(label: &str, text: &str, len: usize) -> Result<Vec<u8>, PkiError> {
    if text.len() > MAX_PEM {
        return Err(bad(format!(
            "not a brine key: {} bytes is too long for a {}",
            text.len(),
            label.to_lowercase()
        )));
    }
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(begin.as_str()) {
        return Err(bad(format!(
            "not a brine key: the first line is not {begin}"
        )));
    }
    let mut body = String::new();
    let mut closed = false;
    for line in lines {
        if closed {
            return Err(bad(format!("not a brine key: text after {end}")));
        }
        if line == end {
            closed = true;
        } else {
            body.push_str(line);
        }
    }
    if !closed {
        return Err(bad(format!("not a brine key: no {end} line")));
    }
    let mut bytes = crypto::base64_decode(&body).map_err(|_| {
        bad(format!(
            "not a brine key: the body of the {} is not base64",
            label.to_lowercase()
        ))
    })?;
    if bytes.len() != len {
        let got = bytes.len();
        crypto::wipe(&mut bytes);
        return Err(bad(format!(
            "not a brine key: a {} holds {len} bytes, this one {got}",
            label.to_lowercase()
        )));
    }
    Ok(bytes)
}

fn hex_colons(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A node's public keys: the X25519 key sealed boxes are addressed to and the Ed25519 key
/// that verifies its signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// X25519 public key.
    pub box_pub: [u8; 32],
    /// Ed25519 public key.
    pub sign_pub: [u8; 32],
}

impl PublicKey {
    fn raw(&self) -> [u8; 64] {
        let mut raw = [0u8; 64];
        raw[..32].copy_from_slice(&self.box_pub);
        raw[32..].copy_from_slice(&self.sign_pub);
        raw
    }

    /// The key file text (ends with a newline).
    pub fn to_pem(&self) -> String {
        armor(PUBLIC_LABEL, &self.raw())
    }

    /// Parses key file text.
    pub fn from_pem(text: &str) -> Result<PublicKey, PkiError> {
        let raw = unarmor(PUBLIC_LABEL, text, 64)?;
        let mut k = PublicKey {
            box_pub: [0; 32],
            sign_pub: [0; 32],
        };
        k.box_pub.copy_from_slice(&raw[..32]);
        k.sign_pub.copy_from_slice(&raw[32..]);
        Ok(k)
    }

    /// SHA-256 of the 64 raw key bytes as colon-separated lowercase hex (95 characters).
    pub fn fingerprint(&self) -> String {
        hex_colons(&crypto::sha256(&self.raw()))
    }
}

/// A node's own keys: both pairs and the public half as one value.
#[derive(Debug)]
pub struct KeyPair {
    /// Both public keys.
    pub public: PublicKey,
    /// The X25519 pair.
    pub boxk: BoxKeys,
    /// The Ed25519 pair.
    pub sign: SignKeys,
}

impl KeyPair {
    /// Fresh random keys.
    pub fn generate() -> KeyPair {
        KeyPair::from_parts(BoxKeys::generate(), SignKeys::generate())
    }

    fn from_parts(boxk: BoxKeys, sign: SignKeys) -> KeyPair {
        KeyPair {
            public: PublicKey {
                box_pub: boxk.public,
                sign_pub: sign.public,
            },
            boxk,
            sign,
        }
    }

    /// The secret key file text. The caller should not keep it longer than it must.
    pub fn secret_pem(&self) -> String {
        let mut raw = [0u8; 96];
        raw[..32].copy_from_slice(self.boxk.secret());
        raw[32..].copy_from_slice(self.sign.secret());
        let pem = armor(SECRET_LABEL, &raw);
        crypto::wipe(&mut raw);
        pem
    }

    /// Parses secret key file text; both public keys are derived from the secrets.
    pub fn from_secret_pem(text: &str) -> Result<KeyPair, PkiError> {
        let mut raw = unarmor(SECRET_LABEL, text, 96)?;
        let parts = BoxKeys::from_secret(&raw[..32])
            .and_then(|b| SignKeys::from_secret(&raw[32..]).map(|s| (b, s)));
        crypto::wipe(&mut raw);
        let (b, s) = parts.map_err(|e| bad(format!("not a usable brine secret key: {e}")))?;
        Ok(KeyPair::from_parts(b, s))
    }
}

/// Overwrites a string's bytes before freeing it (secret key text).
fn wipe_string(s: String) {
    let mut bytes = s.into_bytes();
    crypto::wipe(&mut bytes);
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot first, so listings (ours and Salt's) skip it while it exists. The name is cut
    // so that a minion id of the longest allowed length (255 bytes, NAME_MAX) still has a
    // temp file name the file system takes.
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let name = &name[..cut];
    path.with_file_name(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        crypto::random_u32(u32::MAX)
    ))
}

/// Writes `data` to a new temp file beside `path` with `mode`, synced, and returns its path.
fn write_temp(path: &Path, data: &[u8], mode: u32) -> Result<PathBuf, PkiError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away; a public key should still be world-readable.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io_err(path, "write")(e))
        }
    }
}

fn sync_dir(path: &Path) {
    // Makes the rename durable; a failure here leaves the file in place all the same.
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Replaces `path` atomically: readers see the old file or the new one, never a part.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = write_temp(path, data, mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, "write")(e));
    }
    sync_dir(path);
    Ok(())
}

/// Creates `path` atomically, failing with `Exists` when something is already there.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = write_temp(path, data, mode)?;
    // A hard link never replaces its target, unlike rename, so two writers cannot both win.
    let linked = fs::hard_link(&tmp, path);
    let result = match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(PkiError::Exists(path.to_path_buf()))
        }
        // File systems without hard links: check, then rename (racy, but only there).
        Err(_) if fs::symlink_metadata(path).is_ok() => Err(PkiError::Exists(path.to_path_buf())),
        Err(_) => fs::rename(&tmp, path).map_err(io_err(path, "create")),
    };
    let _ = fs::remove_file(&tmp);
    if result.is_ok() {
        sync_dir(path);
    }
    result
}

fn read_capped(path: &Path, cap: u64) -> io::Result<String> {
    let f = fs::File::open(path)?;
    let mut s = String::new();
    f.take(cap + 1).read_to_string(&mut s)?;
    if s.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(s)
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir, "create the directory"))
}

/// Loads `dir/NAME.pem` and `dir/NAME.pub`, generating both on first start: the directory
/// is created 0700, the secret file written 0600 and the public one 0644, each atomically.
/// Refuses a secret file that its group or others may read or write, and a public file
/// that does not belong to the secret one.
pub fn load_or_generate(dir: &Path, name: &str) -> Result<KeyPair, PkiError> {
    if !valid_id(name) {
        return Err(PkiError::InvalidId(name.to_string()));
    }
    create_dir(dir)?;
    let pem = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    match fs::metadata(&pem) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let keys = KeyPair::generate();
            let text = keys.secret_pem();
            let written = write_new(&pem, text.as_bytes(), 0o600);
            wipe_string(text);
            match written {
                Ok(()) => {
                    write_atomic(&public, keys.public.to_pem().as_bytes(), 0o644)?;
                    return Ok(keys);
                }
                // Another process generated them first: use its keys.
                Err(PkiError::Exists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(io_err(&pem, "read")(e)),
        Ok(_) => {}
    }
    let meta = fs::metadata(&pem).map_err(io_err(&pem, "read"))?;
    if !meta.is_file() {
        return Err(PkiError::BadKey {
            path: Some(pem),
            why: "not a regular file".into(),
        });
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(PkiError::Exposed { path: pem, mode });
    }
    let text = read_capped(&pem, MAX_KEY_FILE).map_err(io_err(&pem, "read"))?;
    let parsed = KeyPair::from_secret_pem(&text);
    wipe_string(text);
    let keys = parsed.map_err(|e| with_path(e, &pem))?;
    match read_capped(&public, MAX_KEY_FILE) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_atomic(&public, keys.public.to_pem().as_bytes(), 0o644)?;
        }
        Err(e) => return Err(io_err(&public, "read")(e)),
        Ok(text) => {
            let on_disk = PublicKey::from_pem(&text).map_err(|e| with_path(e, &public))?;
            if on_disk != keys.public {
                return Err(PkiError::Mismatch {
                    secret: pem,
                    public,
                });
            }
        }
    }
    Ok(keys)
}

fn with_path(e: PkiError, path: &Path) -> PkiError {
    match e {
        PkiError::BadKey { path: None, why } => PkiError::BadKey {
            path: Some(path.to_path_buf()),
            why,
        },
        other => other,
    }
}

/// Writes a new `dir/NAME.pem` and `dir/NAME.pub` (for `brine-key --gen-keys`), creating
/// `dir` (0700) when missing; refuses to overwrite either file.
pub fn generate_files(dir: &Path, name: &str) -> Result<KeyPair, PkiError> {
    if !valid_id(name) {
        return Err(PkiError::InvalidId(name.to_string()));
    }
    create_dir(dir)?;
    let pem = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    for p in [&pem, &public] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(PkiError::Exists(p.clone()));
        }
    }
    let keys = KeyPair::generate();
    let text = keys.secret_pem();
    let written = write_new(&pem, text.as_bytes(), 0o600);
    wipe_string(text);
    written?;
    write_new(&public, keys.public.to_pem().as_bytes(), 0o644)?;
    Ok(keys)
}

/// Whether a minion id can name a key file: non-empty, at most 255 bytes, not `.` or `..`,
/// and without `/`, `\` (Salt refuses it too), NUL or any control character.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id != "."
        && id != ".."
        && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The state of a minion key, in Salt's listing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    /// `minions/`: the minion may talk to the master.
    Accepted,
    /// `minions_denied/`: a known id presented a different key.
    Denied,
    /// `minions_pre/`: waiting for a decision ("Unaccepted").
    Pending,
    /// `minions_rejected/`: refused.
    Rejected,
}

impl KeyState {
    /// Every state, in the order salt-key lists them.
    pub const ALL: [KeyState; 4] = [
        KeyState::Accepted,
        KeyState::Denied,
        KeyState::Pending,
        KeyState::Rejected,
    ];

    /// The directories in the order Salt's key API walks them (and returns them).
    pub const DIR_ORDER: [KeyState; 4] = [
        KeyState::Accepted,
        KeyState::Pending,
        KeyState::Rejected,
        KeyState::Denied,
    ];

    /// The directory under `pki_dir`, also the key of this state in wheel returns.
    pub fn dir_name(self) -> &'static str {
        match self {
            KeyState::Accepted => "minions",
            KeyState::Denied => "minions_denied",
            KeyState::Pending => "minions_pre",
            KeyState::Rejected => "minions_rejected",
        }
    }

    /// The section header salt-key prints.
    pub fn title(self) -> &'static str {
        match self {
            KeyState::Accepted => "Accepted Keys:",
            KeyState::Denied => "Denied Keys:",
            KeyState::Pending => "Unaccepted Keys:",
            KeyState::Rejected => "Rejected Keys:",
        }
    }

    /// The state a `salt-key -l` argument names: it starts with `acc`, `pre` or `un`,
    /// `rej` or `den` (so `accepted`, `unaccepted`, `rejected`, `denied` work); `all` is
    /// not a state.
    pub fn from_name(s: &str) -> Option<KeyState> {
        if s.starts_with("acc") {
            Some(KeyState::Accepted)
        } else if s.starts_with("pre") || s.starts_with("un") {
            Some(KeyState::Pending)
        } else if s.starts_with("rej") {
            Some(KeyState::Rejected)
        } else if s.starts_with("den") {
            Some(KeyState::Denied)
        } else {
            None
        }
    }

    /// The state whose directory is `name` (`minions_pre` is Pending).
    pub fn from_dir_name(name: &str) -> Option<KeyState> {
        KeyState::ALL.into_iter().find(|s| s.dir_name() == name)
    }
}

/// What is at a key's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Missing,
    File,
    Other,
}

/// Salt's `sorted_ignorecase`, with a fixed order for names that differ only in case.
pub fn sort_ignorecase(names: &mut [String]) {
    names.sort_by(|a, b| {
        a.to_lowercase()
            .cmp(&b.to_lowercase())
            .then_with(|| a.cmp(b))
    });
}

/// The master's key store under `pki_dir`: one file per minion id in each state directory.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pki_dir: PathBuf,
}

impl KeyStore {
    /// Opens the store, creating `pki_dir` and the four state directories (0700) if missing.
    pub fn open(pki_dir: &Path) -> Result<KeyStore, PkiError> {
        create_dir(pki_dir)?;
        for s in KeyState::ALL {
            create_dir(&pki_dir.join(s.dir_name()))?;
        }
        Ok(KeyStore {
            pki_dir: pki_dir.to_path_buf(),
        })
    }

    /// The directory the store lives in.
    pub fn pki_dir(&self) -> &Path {
        &self.pki_dir
    }

    /// The file of `id` in `state`, once `id` is known to be a safe file name.
    pub fn path(&self, state: KeyState, id: &str) -> Result<PathBuf, PkiError> {
        if !valid_id(id) {
            return Err(PkiError::InvalidId(id.to_string()));
        }
        Ok(self.pki_dir.join(state.dir_name()).join(id))
    }

    fn entry(&self, state: KeyState, id: &str) -> Result<Entry, PkiError> {
        let path = self.path(state, id)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Entry::File),
            Ok(_) => Ok(Entry::Other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }

    /// Whether `id` has a key file in `state`.
    pub fn contains(&self, state: KeyState, id: &str) -> Result<bool, PkiError> {
        Ok(self.entry(state, id)? == Entry::File)
    }

    /// The ids in `state`, sorted case-insensitively as salt-key sorts; dot files (our
    /// temp files among them), anything that is not a file and non-UTF-8 names are skipped.
    pub fn list(&self, state: KeyState) -> Result<Vec<String>, PkiError> {
        let dir = self.pki_dir.join(state.dir_name());
        let mut ids = list_files(&dir, valid_id)?;
        sort_ignorecase(&mut ids);
        Ok(ids)
    }

    /// The PEM text of `id`'s key in `state`, if it has one.
    pub fn get(&self, state: KeyState, id: &str) -> Result<Option<String>, PkiError> {
        let path = self.path(state, id)?;
        match read_capped(&path, MAX_KEY_FILE) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }

    /// Stores `pem` as `id`'s key in `state`, replacing any key there atomically.
    pub fn put(&self, state: KeyState, id: &str, pem: &str) -> Result<(), PkiError> {
        let path = self.path(state, id)?;
        write_atomic(&path, pem.as_bytes(), 0o644)
    }

    /// Removes `id`'s key from `state`; false when it had none.
    pub fn remove(&self, state: KeyState, id: &str) -> Result<bool, PkiError> {
        let path = self.path(state, id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&path, "remove")(e)),
        }
    }

    /// Moves `id`'s key from one state to another, replacing any key it had there.
    pub fn move_key(&self, from: KeyState, to: KeyState, id: &str) -> Result<(), PkiError> {
        let (src, dst) = (self.path(from, id)?, self.path(to, id)?);
        fs::rename(&src, &dst).map_err(|source| PkiError::Move {
            from: src,
            to: dst,
            source,
        })
    }

    /// How many keys are in `state`.
    pub fn count(&self, state: KeyState) -> Result<usize, PkiError> {
        let dir = self.pki_dir.join(state.dir_name());
        Ok(list_files(&dir, valid_id)?.len())
    }

    /// The master's own key files (`*.pem`, `*.pub` directly in `pki_dir`), sorted as
    /// salt-key sorts them: its "Local Keys".
    pub fn local_keys(&self) -> Result<Vec<String>, PkiError> {
        let mut names = list_files(&self.pki_dir, |name| {
            name.ends_with(".pem") || name.ends_with(".pub")
        })?;
        sort_ignorecase(&mut names);
        Ok(names)
    }

    /// The text of one of the master's own key files.
    pub fn get_local(&self, name: &str) -> Result<Option<String>, PkiError> {
        if !valid_id(name) {
            return Err(PkiError::InvalidId(name.to_string()));
        }
        let path = self.pki_dir.join(name);
        match read_capped(&path, MAX_KEY_FILE) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, "read")(e)),
        }
    }
}

/// Regular files in `dir` whose names pass `keep`, skipping dot files and non-UTF-8 names.
fn list_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, PkiError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        // Salt treats a state directory that does not exist yet as empty.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir, "list")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir, "list"))?;
        let Ok(name) = entry.file_name().into_string() else {
            log::warn!("{}: ignoring a file whose name is not UTF-8", dir.display());
            continue;
        };
        if name.starts_with('.') || !keep(&name) {
            continue;
        }
        // The directory entry's type costs no system call; only a symlink is followed
        // (as Salt's isfile does), with a stat.
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => fs::metadata(entry.path()).is_ok_and(|m| m.is_file()),
            Ok(t) => t.is_file(),
            Err(_) => false,
        };
        if is_file {
            out.push(name);
        }
    }
    Ok(out)
}

/// What decides minion auth besides the key store: the master's auth options and the
/// contents of its autosign and autoreject files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Accept every new key.
    pub auto_accept: bool,
    /// Accept any key from any id, replacing the stored key.
    pub open_mode: bool,
    /// The lines of `autosign_file`: globs or regular expressions of ids to accept.
    pub autosign: Vec<String>,
    /// The lines of `autoreject_file`: globs or regular expressions of ids to reject.
    pub autoreject: Vec<String>,
    /// The most minions connected before new ones are turned away; 0 for no limit.
    pub max_minions: u64,
}

impl AuthPolicy {
    /// Reads `autosign_file` and `autoreject_file` as Salt's `check_signing_file` does: one
    /// glob or regex per line, stripped, `#` comments and blank lines ignored. A missing
    /// or unreadable file, or one its group or others can write (Salt ignores those too),
    /// counts as empty and yields a warning.
    /// The policy a master configuration asks for, with the warnings of reading its files.
    pub fn for_master(cfg: &crate::config::MasterConfig) -> (AuthPolicy, Vec<String>) {
        AuthPolicy::load(
            cfg.auto_accept,
            cfg.open_mode,
            cfg.autosign_file.as_deref(),
            cfg.autoreject_file.as_deref(),
            cfg.max_minions,
        )
    }

    pub fn load(
        auto_accept: bool,
        open_mode: bool,
        autosign_file: Option<&Path>,
        autoreject_file: Option<&Path>,
        max_minions: u64,
    ) -> (AuthPolicy, Vec<String>) {
        let mut warnings = Vec::new();
        let mut read = |path: Option<&Path>, what: &str| -> Vec<String> {
            let Some(path) = path else {
                return Vec::new();
            };
            match read_signing_file(path) {
                Ok(lines) => lines,
                Err(why) => {
                    warnings.push(format!("{what} {}: {why}", path.display()));
                    Vec::new()
                }
            }
        };
        let autosign = read(autosign_file, "autosign_file");
        let autoreject = read(autoreject_file, "autoreject_file");
        (
            AuthPolicy {
                auto_accept,
                open_mode,
                autosign,
                autoreject,
                max_minions,
            },
            warnings,
        )
    }

    /// Whether a new key from `id` is accepted without review (auto_accept or autosign_file).
    pub fn autosigned(&self, id: &str) -> bool {
        self.auto_accept || self.autosign.iter().any(|l| expr_match(id, l))
    }

    /// Whether a key from `id` is rejected by autoreject_file.
    pub fn autorejected(&self, id: &str) -> bool {
        self.autoreject.iter().any(|l| expr_match(id, l))
    }
}

fn read_signing_file(path: &Path) -> Result<Vec<String>, String> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("does not exist; it matches no id".into())
        }
        Err(e) => return Err(format!("cannot read it ({e}); it matches no id")),
    };
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "is writable by its group or others (mode {:04o}); its content is ignored until you run chmod go-w on it",
            mode & 0o7777
        ));
    }
    let text = read_capped(path, MAX_SIGNING_FILE)
        .map_err(|e| format!("cannot read it ({e}); it matches no id"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// What the master tells a minion after an auth attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthReply {
    /// Accepted: the minion gets the session key.
    Accepted,
    /// Waiting in `minions_pre` (`ret: true`): retry later.
    Pending,
    /// Refused (`ret: false`): the key is rejected.
    Rejected,
    /// Refused (`ret: false`): the id is known with another key.
    Denied,
    /// Refused (`ret: "full"`): too many minions.
    Full,
}

/// The outcome of one auth attempt: the reply, and the `act` and `result` of its
/// `salt/auth` event (`act` absent where Salt leaves it out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthDecision {
    /// What to answer the minion.
    pub reply: AuthReply,
    /// The event's `act`: "accept", "pend", "reject", "denied" or "full".
    pub act: Option<&'static str>,
    /// The event's `result`.
    pub result: bool,
    /// Not decided: the budget of new key files was spent (no event, nothing written).
    pub throttled: bool,
}

impl AuthDecision {
    fn new(reply: AuthReply, act: Option<&'static str>, result: bool) -> AuthDecision {
        AuthDecision {
            reply,
            act,
            result,
            throttled: false,
        }
    }

    fn accept() -> AuthDecision {
        AuthDecision::new(AuthReply::Accepted, Some("accept"), true)
    }
}

/// Whether the stored key text is the key presented (unreadable text never is).
fn same_key(stored: Option<String>, key: &PublicKey) -> bool {
    stored.is_some_and(|t| PublicKey::from_pem(&t).is_ok_and(|k| &k == key))
}

/// Decides one auth attempt as Salt's master does and applies its effect on the store,
/// counting the accepted keys as the minions for `max_minions`. `connected`: the id
/// already has a live session. See `authorize_counted`.
pub fn authorize(
    store: &KeyStore,
    policy: &AuthPolicy,
    id: &str,
    key: &PublicKey,
    connected: bool,
) -> Result<AuthDecision, PkiError> {
    let count = if policy.max_minions > 0 {
        store.count(KeyState::Accepted)?
    } else {
        0
    };
    authorize_counted(store, policy, id, key, connected, count)
}

/// Decides one auth attempt (salt-spec §2.2 table, §7.4 order) and applies its effect on
/// the store. `connected`: the id has a live session; `connected_count`: how many minions
/// have one. An invalid id is an error (Salt answers `ret: false` and fires no event).
///
/// Salt's `max_minions` test is `connected_count > max_minions`, not `>=`: a new minion is
/// refused only when more than `max_minions` are connected already, so one more than the
/// limit gets in. Kept as Salt has it.
pub fn authorize_counted(
    store: &KeyStore,
    policy: &AuthPolicy,
    id: &str,
    key: &PublicKey,
    connected: bool,
    connected_count: usize,
) -> Result<AuthDecision, PkiError> {
    let mut unlimited = u32::MAX;
    authorize_limited(
        store,
        policy,
        id,
        key,
        connected,
        connected_count,
        &mut unlimited,
    )
}

/// Takes one new-key write from the budget, or answers "pending" (no event, nothing
/// written) when it is spent.
macro_rules! spend {
    ($writes:expr) => {
        if *$writes == 0 {
            let mut d = AuthDecision::new(AuthReply::Pending, None, false);
            d.throttled = true;
            return Ok(d);
        }
        *$writes -= 1;
    };
}

/// `authorize_counted` that writes at most `writes` new key files (pending, denied,
/// rejected or accepted), counting them down. Past the budget an attempt that would write
/// one is answered "pending" with no event and nothing written, so the minion asks again
/// later: a flood of made-up ids cannot make the master sync files without end.
pub fn authorize_limited(
    store: &KeyStore,
    policy: &AuthPolicy,
    id: &str,
    key: &PublicKey,
    connected: bool,
    connected_count: usize,
    writes: &mut u32,
) -> Result<AuthDecision, PkiError> {
    use AuthReply::*;
    use KeyState::{Accepted as Acc, Denied as Den, Pending as Pre, Rejected as Rej};
    if !valid_id(id) {
        return Err(PkiError::InvalidId(id.to_string()));
    }
    // 1. max_minions: minions already connected keep working whatever the count.
    if policy.max_minions > 0 && connected_count as u64 > policy.max_minions && !connected {
        return Ok(AuthDecision::new(Full, Some("full"), false));
    }
    let pem = key.to_pem();
    // 2. open_mode skips every check and replaces whatever key is stored.
    if policy.open_mode {
        if !same_key(store.get(Acc, id)?, key) {
            spend!(writes);
            store.put(Acc, id, &pem)?;
        }
        return Ok(AuthDecision::accept());
    }
    // 3. A rejected id stays rejected; the event has no act.
    if store.contains(Rej, id)? {
        return Ok(AuthDecision::new(Rejected, None, false));
    }
    // 4. An accepted id must present the accepted key; autoreject is not consulted.
    if store.contains(Acc, id)? {
        if same_key(store.get(Acc, id)?, key) {
            return Ok(AuthDecision::accept());
        }
        spend!(writes);
        store.put(Den, id, &pem)?;
        return Ok(AuthDecision::new(Denied, Some("denied"), false));
    }
    let autoreject = policy.autorejected(id);
    let autosign = policy.autosigned(id);
    match store.entry(Pre, id)? {
        // 5. A new key.
        Entry::Missing => {
            spend!(writes);
            if autoreject {
                store.put(Rej, id, &pem)?;
                Ok(AuthDecision::new(Rejected, Some("reject"), false))
            } else if !autosign {
                store.put(Pre, id, &pem)?;
                Ok(AuthDecision::new(Pending, Some("pend"), true))
            } else {
                store.put(Acc, id, &pem)?;
                Ok(AuthDecision::accept())
            }
        }
        // Salt refuses when the pending path is a directory, with no act.
        Entry::Other => Ok(AuthDecision::new(Rejected, None, false)),
        // 6. Already pending.
        Entry::File => {
            if autoreject {
                // The pending key moves whether or not it is the key presented now.
                match store.move_key(Pre, Rej, id) {
                    Ok(()) => {}
                    Err(PkiError::Move { source, .. })
                        if source.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                return Ok(AuthDecision::new(Rejected, Some("reject"), false));
            }
            let same = same_key(store.get(Pre, id)?, key);
            if !same {
                spend!(writes);
                store.put(Den, id, &pem)?;
                let act = if autosign { None } else { Some("denied") };
                return Ok(AuthDecision::new(Denied, act, false));
            }
            if !autosign {
                return Ok(AuthDecision::new(Pending, Some("pend"), true));
            }
            store.remove(Pre, id)?;
            store.put(Acc, id, &pem)?;
            Ok(AuthDecision::accept())
        }
    }
}

/// Fuzzing entry point: key file text from arbitrary bytes. Parsing must never panic, and
/// a key that parses writes back to text that parses to the same key.
pub fn fuzz_pem(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(k) = PublicKey::from_pem(&text) {
        let again = PublicKey::from_pem(&k.to_pem());
        assert_eq!(
            again.ok().as_ref(),
            Some(&k),
            "public key round trip changed the key"
        );
        assert_eq!(k.fingerprint().len(), 95);
    }
    if let Ok(k) = KeyPair::from_secret_pem(&text) {
        let again = KeyPair::from_secret_pem(&k.secret_pem());
        assert_eq!(
            again.ok().map(|a| a.public),
            Some(k.public),
            "secret key round trip changed the key"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("pki")).unwrap();
        (dir, store)
    }

    fn key() -> PublicKey {
        KeyPair::generate().public
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn public_pem_round_trips_and_wraps_at_64_columns() {
        let k = key();
        let pem = k.to_pem();
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN BRINE PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 24);
        assert_eq!(lines[3], "-----END BRINE PUBLIC KEY-----");
        assert!(pem.ends_with("-----\n"));
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), k);
        // CRLF and surrounding blank lines are tolerated.
        let crlf = format!("\n{}\n", pem.replace('\n', "\r\n"));
        assert_eq!(PublicKey::from_pem(&crlf).unwrap(), k);
    }

    #[test]
    fn bad_pem_is_refused_with_a_reason() {
        let pem = key().to_pem();
        let secret = KeyPair::generate().secret_pem();
        for (text, why) in [
            ("", "first line"),
            ("garbage", "first line"),
            ("-----BEGIN BRINE PUBLIC KEY-----\nAAAA\n", "no -----END"),
            (&pem.replace("END", "FIN"), "no -----END"),
            (&format!("{pem}x\n"), "text after"),
            (
                &pem[..pem.len() - 40].replace("-----END", "x"),
                "no -----END",
            ),
            (&secret, "first line"),
            (
                "-----BEGIN BRINE PUBLIC KEY-----\nAAAA\n-----END BRINE PUBLIC KEY-----\n",
                "holds 64 bytes, this one 3",
            ),
            (
                "-----BEGIN BRINE PUBLIC KEY-----\n!!!!\n-----END BRINE PUBLIC KEY-----\n",
                "not base64",
            ),
        ] {
            let e = PublicKey::from_pem(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        assert!(PublicKey::from_pem(&"A".repeat(10_000))
            .unwrap_err()
            .to_string()
            .contains("too long"));
    }

    #[test]
    fn fingerprints_are_95_chars_of_colon_hex() {
        let k = PublicKey {
            box_pub: [0; 32],
            sign_pub: [0; 32],
        };
        let fp = k.fingerprint();
        assert_eq!(fp.len(), 95);
        // SHA-256 of 64 zero bytes.
        assert!(fp.starts_with("f5:a5:fd:42:d1:6a:20:30:27:98:ef:6e:d3:09:97:9b"));
        assert_ne!(key().fingerprint(), fp);
    }

    #[test]
    fn secret_pem_round_trips_and_refuses_tampering() {
        let k = KeyPair::generate();
        let pem = k.secret_pem();
        assert!(pem.starts_with("-----BEGIN BRINE PRIVATE KEY-----\n"));
        let again = KeyPair::from_secret_pem(&pem).unwrap();
        assert_eq!(again.public, k.public);
        // Swap in another key's signing public half: the halves no longer belong together.
        let other = KeyPair::generate();
        let mut raw = [0u8; 96];
        raw[..32].copy_from_slice(k.boxk.secret());
        raw[32..64].copy_from_slice(&k.sign.secret()[..32]);
        raw[64..].copy_from_slice(&other.public.sign_pub);
        let e = KeyPair::from_secret_pem(&armor(SECRET_LABEL, &raw)).unwrap_err();
        assert!(e.to_string().contains("inconsistent"), "{e}");
        assert!(KeyPair::from_secret_pem(&k.public.to_pem()).is_err());
    }

    #[test]
    fn first_start_generates_with_safe_modes_then_loads_the_same_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki/master");
        let k = load_or_generate(&dir, "master").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("master.pem")), 0o600);
        assert_eq!(mode(&dir.join("master.pub")), 0o644);
        let again = load_or_generate(&dir, "master").unwrap();
        assert_eq!(again.public, k.public);
        let on_disk = fs::read_to_string(dir.join("master.pub")).unwrap();
        assert_eq!(on_disk, k.public.to_pem());
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A lost .pub is written again from the .pem.
        fs::remove_file(dir.join("master.pub")).unwrap();
        assert_eq!(load_or_generate(&dir, "master").unwrap().public, k.public);
        assert_eq!(fs::read_to_string(dir.join("master.pub")).unwrap(), on_disk);
    }

    #[test]
    fn an_exposed_secret_key_stops_the_start_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        load_or_generate(dir, "master").unwrap();
        let pem = dir.join("master.pem");
        for (m, who) in [
            (
                0o644,
                "is readable by others (mode 0644); run chmod 600 on it",
            ),
            (0o602, "is writable by others (mode 0602)"),
            (0o640, "is readable by its group (mode 0640)"),
            (0o620, "is writable by its group (mode 0620)"),
        ] {
            fs::set_permissions(&pem, fs::Permissions::from_mode(m)).unwrap();
            let e = load_or_generate(dir, "master").unwrap_err().to_string();
            assert!(e.starts_with(&pem.display().to_string()), "{e}");
            assert!(e.contains(who), "{e}");
        }
        fs::set_permissions(&pem, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load_or_generate(dir, "master").is_ok());
    }

    #[test]
    fn a_public_key_of_another_pair_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        load_or_generate(dir, "minion").unwrap();
        fs::write(dir.join("minion.pub"), key().to_pem()).unwrap();
        let e = load_or_generate(dir, "minion").unwrap_err();
        assert!(matches!(e, PkiError::Mismatch { .. }), "{e}");
        assert!(
            e.to_string().contains("minion.pub does not belong to"),
            "{e}"
        );
        fs::write(dir.join("minion.pub"), "junk").unwrap();
        assert!(load_or_generate(dir, "minion")
            .unwrap_err()
            .to_string()
            .contains("minion.pub: not a brine key"));
        fs::write(dir.join("minion.pem"), "junk").unwrap();
        assert!(load_or_generate(dir, "minion")
            .unwrap_err()
            .to_string()
            .contains("minion.pem: not a brine key"));
    }

    #[test]
    fn generate_files_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        let k = generate_files(&dir, "web1").unwrap();
        assert_eq!(mode(&dir.join("web1.pem")), 0o600);
        assert_eq!(mode(&dir.join("web1.pub")), 0o644);
        assert_eq!(
            PublicKey::from_pem(&fs::read_to_string(dir.join("web1.pub")).unwrap()).unwrap(),
            k.public
        );
        let e = generate_files(&dir, "web1").unwrap_err();
        assert!(matches!(e, PkiError::Exists(_)), "{e}");
        fs::remove_file(dir.join("web1.pem")).unwrap();
        assert!(
            matches!(generate_files(&dir, "web1"), Err(PkiError::Exists(p)) if p.ends_with("web1.pub"))
        );
        assert!(matches!(
            generate_files(&dir, "../x"),
            Err(PkiError::InvalidId(_))
        ));
    }

    #[test]
    fn ids_must_be_plain_file_names() {
        for ok in [
            "web1",
            "web1.example.com",
            "a b",
            "ünïcode",
            "-x",
            &"a".repeat(255),
        ] {
            assert!(valid_id(ok), "{ok:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/",
            "a\\b",
            "a\0b",
            "a\nb",
            "\t",
            "\u{7f}",
            &"a".repeat(256),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn state_names_as_salt_key_takes_them() {
        for (name, state) in [
            ("acc", KeyState::Accepted),
            ("accepted", KeyState::Accepted),
            ("un", KeyState::Pending),
            ("unaccepted", KeyState::Pending),
            ("pre", KeyState::Pending),
            ("rej", KeyState::Rejected),
            ("rejected", KeyState::Rejected),
            ("den", KeyState::Denied),
            ("denied", KeyState::Denied),
        ] {
            assert_eq!(KeyState::from_name(name), Some(state), "{name}");
        }
        for name in ["all", "a", "", "foo-acc", "ACC"] {
            assert_eq!(KeyState::from_name(name), None, "{name}");
        }
        let titles: Vec<_> = KeyState::ALL.iter().map(|s| s.title()).collect();
        assert_eq!(
            titles,
            [
                "Accepted Keys:",
                "Denied Keys:",
                "Unaccepted Keys:",
                "Rejected Keys:"
            ]
        );
        let mut sorted = KeyState::ALL;
        sorted.sort();
        assert_eq!(sorted, KeyState::ALL);
        assert_eq!(
            KeyState::from_dir_name("minions_pre"),
            Some(KeyState::Pending)
        );
    }

    #[test]
    fn the_store_lists_sorted_ignoring_case_and_skips_temp_files() {
        let (_tmp, s) = store();
        for st in KeyState::ALL {
            assert_eq!(mode(&s.pki_dir().join(st.dir_name())), 0o700);
        }
        let pem = key().to_pem();
        for id in ["b", "A", "c", "a", "B"] {
            s.put(KeyState::Pending, id, &pem).unwrap();
        }
        let dir = s.pki_dir().join("minions_pre");
        fs::write(dir.join(".web1.tmp"), "x").unwrap();
        fs::create_dir(dir.join("subdir")).unwrap();
        assert_eq!(
            s.list(KeyState::Pending).unwrap(),
            ["A", "a", "B", "b", "c"]
        );
        assert_eq!(s.count(KeyState::Pending).unwrap(), 5);
        assert_eq!(
            s.get(KeyState::Pending, "a").unwrap().as_deref(),
            Some(pem.as_str())
        );
        assert_eq!(s.get(KeyState::Accepted, "a").unwrap(), None);
        s.move_key(KeyState::Pending, KeyState::Accepted, "a")
            .unwrap();
        assert_eq!(s.list(KeyState::Accepted).unwrap(), ["a"]);
        assert!(s
            .move_key(KeyState::Pending, KeyState::Accepted, "a")
            .is_err());
        assert!(s.remove(KeyState::Accepted, "a").unwrap());
        assert!(!s.remove(KeyState::Accepted, "a").unwrap());
        assert!(matches!(
            s.put(KeyState::Pending, "../x", &pem),
            Err(PkiError::InvalidId(_))
        ));
        assert!(matches!(
            s.get(KeyState::Pending, ".."),
            Err(PkiError::InvalidId(_))
        ));
        // An oversized file is an error, not a memory hog.
        fs::write(dir.join("big"), vec![b'x'; 70_000]).unwrap();
        assert!(s.get(KeyState::Pending, "big").is_err());
    }

    #[test]
    fn local_keys_are_the_pem_and_pub_files_in_pki_dir() {
        let (_tmp, s) = store();
        load_or_generate(s.pki_dir(), "master").unwrap();
        fs::write(s.pki_dir().join("notes.txt"), "x").unwrap();
        assert_eq!(s.local_keys().unwrap(), ["master.pem", "master.pub"]);
        assert!(s.get_local("master.pub").unwrap().is_some());
        assert!(s.get_local("nope.pub").unwrap().is_none());
    }

    #[test]
    fn policy_files_are_read_like_salts_check_signing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let sign = tmp.path().join("autosign.conf");
        fs::write(
            &sign,
            "# comment\n\n  web*  \nre[0-9]+\n  # indented comment\n",
        )
        .unwrap();
        fs::set_permissions(&sign, fs::Permissions::from_mode(0o644)).unwrap();
        let (p, warnings) = AuthPolicy::load(false, false, Some(&sign), None, 0);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(p.autosign, ["web*", "re[0-9]+"]);
        assert!(p.autosigned("web1") && p.autosigned("re42"));
        assert!(!p.autosigned("db1") && !p.autosigned("re"));
        assert!(!p.autorejected("web1"));
        // A line that is not a valid regex still works as a glob.
        let p = AuthPolicy {
            autoreject: vec!["x(".into()],
            ..AuthPolicy::default()
        };
        assert!(p.autorejected("x(") && !p.autorejected("x"));

        let missing = tmp.path().join("nope");
        let (p, warnings) = AuthPolicy::load(true, false, Some(&missing), Some(&missing), 5);
        assert!(p.autosign.is_empty() && p.auto_accept && p.max_minions == 5);
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].starts_with("autosign_file ") && warnings[0].contains("does not exist")
        );
        assert!(warnings[1].starts_with("autoreject_file "));

        fs::set_permissions(&sign, fs::Permissions::from_mode(0o666)).unwrap();
        let (p, warnings) = AuthPolicy::load(false, false, Some(&sign), None, 0);
        assert!(p.autosign.is_empty());
        assert!(
            warnings[0].contains("writable by its group or others (mode 0666)"),
            "{warnings:?}"
        );
    }

    /// One auth attempt; the decision and what each directory holds for `id` afterwards.
    fn auth(
        s: &KeyStore,
        p: &AuthPolicy,
        id: &str,
        k: &PublicKey,
    ) -> (AuthDecision, [Option<PublicKey>; 4]) {
        let d = authorize(s, p, id, k, false).unwrap();
        (d, held(s, id))
    }

    fn held(s: &KeyStore, id: &str) -> [Option<PublicKey>; 4] {
        KeyState::DIR_ORDER.map(|st| {
            s.get(st, id)
                .unwrap()
                .map(|t| PublicKey::from_pem(&t).unwrap())
        })
    }

    fn d(reply: AuthReply, act: Option<&'static str>, result: bool) -> AuthDecision {
        AuthDecision::new(reply, act, result)
    }

    // The rows of salt-spec §2.2, in its order; `held` is [minions, minions_pre,
    // minions_rejected, minions_denied].

    #[test]
    fn row_full_when_too_many_minions_and_not_connected() {
        let (_t, s) = store();
        let p = AuthPolicy {
            max_minions: 1,
            auto_accept: true,
            ..AuthPolicy::default()
        };
        let k = key();
        // Salt refuses only when more than max_minions are connected.
        assert_eq!(
            authorize_counted(&s, &p, "m3", &k, false, 1).unwrap(),
            AuthDecision::accept()
        );
        let (_t, s) = store();
        assert_eq!(
            authorize_counted(&s, &p, "m3", &k, false, 2).unwrap(),
            d(AuthReply::Full, Some("full"), false)
        );
        assert_eq!(held(&s, "m3"), [None, None, None, None]);
        // A connected minion re-authenticates whatever the count.
        assert_eq!(
            authorize_counted(&s, &p, "m3", &k, true, 2).unwrap(),
            AuthDecision::accept()
        );
        // max_minions 0 is no limit.
        let p0 = AuthPolicy {
            auto_accept: true,
            ..AuthPolicy::default()
        };
        assert_eq!(
            authorize_counted(&s, &p0, "m4", &k, false, 1_000_000)
                .unwrap()
                .reply,
            AuthReply::Accepted
        );
        // authorize() counts accepted keys: m3 and m4 make 2 > 1.
        assert_eq!(
            authorize(&s, &p, "m5", &k, false).unwrap().reply,
            AuthReply::Full
        );
        // max_minions comes before everything, open_mode included.
        let po = AuthPolicy {
            open_mode: true,
            max_minions: 1,
            ..AuthPolicy::default()
        };
        assert_eq!(
            authorize_counted(&s, &po, "m6", &k, false, 2)
                .unwrap()
                .reply,
            AuthReply::Full
        );
    }

    #[test]
    fn row_rejected_key_is_refused_without_act() {
        let (_t, s) = store();
        let k = key();
        s.put(KeyState::Rejected, "m1", &k.to_pem()).unwrap();
        // Even auto_accept and a different key change nothing.
        let p = AuthPolicy {
            auto_accept: true,
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &p, "m1", &key());
        assert_eq!(dec, d(AuthReply::Rejected, None, false));
        assert_eq!(h, [None, None, Some(k), None]);
    }

    #[test]
    fn row_accepted_key_that_differs_is_denied_and_kept() {
        let (_t, s) = store();
        let (old, new) = (key(), key());
        s.put(KeyState::Accepted, "m1", &old.to_pem()).unwrap();
        let (dec, h) = auth(&s, &AuthPolicy::default(), "m1", &new);
        assert_eq!(dec, d(AuthReply::Denied, Some("denied"), false));
        assert_eq!(h, [Some(old.clone()), None, None, Some(new)]);
        // An unreadable accepted key differs from every key.
        s.put(KeyState::Accepted, "m2", "junk").unwrap();
        let dec = authorize(&s, &AuthPolicy::default(), "m2", &old, false).unwrap();
        assert_eq!(dec.reply, AuthReply::Denied);
    }

    #[test]
    fn row_new_key_matching_autoreject_is_rejected() {
        let (_t, s) = store();
        let k = key();
        let p = AuthPolicy {
            auto_accept: true,
            autoreject: vec!["bad*".into()],
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &p, "bad1", &k);
        assert_eq!(dec, d(AuthReply::Rejected, Some("reject"), false));
        assert_eq!(h, [None, None, Some(k.clone()), None]);
        // Then it is a rejected key (row 2).
        assert_eq!(
            auth(&s, &p, "bad1", &k).0,
            d(AuthReply::Rejected, None, false)
        );
    }

    #[test]
    fn row_new_key_not_autosigned_is_pending() {
        let (_t, s) = store();
        let k = key();
        let p = AuthPolicy {
            autosign: vec!["web*".into()],
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &p, "db1", &k);
        assert_eq!(dec, d(AuthReply::Pending, Some("pend"), true));
        assert_eq!(h, [None, Some(k), None, None]);
    }

    #[test]
    fn row_already_pending_same_key_stays_pending() {
        let (_t, s) = store();
        let k = key();
        let p = AuthPolicy::default();
        auth(&s, &p, "m1", &k);
        let (dec, h) = auth(&s, &p, "m1", &k);
        assert_eq!(dec, d(AuthReply::Pending, Some("pend"), true));
        assert_eq!(h, [None, Some(k), None, None]);
    }

    #[test]
    fn row_already_pending_different_key_is_denied() {
        let (_t, s) = store();
        let (first, second) = (key(), key());
        let p = AuthPolicy::default();
        auth(&s, &p, "m1", &first);
        let (dec, h) = auth(&s, &p, "m1", &second);
        assert_eq!(dec, d(AuthReply::Denied, Some("denied"), false));
        assert_eq!(h, [None, Some(first), None, Some(second)]);
    }

    #[test]
    fn row_pending_and_autoreject_moves_the_pending_key_to_rejected() {
        let (_t, s) = store();
        let (first, second) = (key(), key());
        auth(&s, &AuthPolicy::default(), "m1", &first);
        let p = AuthPolicy {
            autoreject: vec!["m*".into()],
            ..AuthPolicy::default()
        };
        // Whichever key is presented, the stored pending key is what moves.
        let (dec, h) = auth(&s, &p, "m1", &second);
        assert_eq!(dec, d(AuthReply::Rejected, Some("reject"), false));
        assert_eq!(h, [None, None, Some(first), None]);
    }

    #[test]
    fn row_pending_key_that_differs_under_autosign_is_refused_without_act() {
        let (_t, s) = store();
        let (first, second) = (key(), key());
        auth(&s, &AuthPolicy::default(), "m1", &first);
        let p = AuthPolicy {
            autosign: vec!["m1".into()],
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &p, "m1", &second);
        assert_eq!(dec, d(AuthReply::Denied, None, false));
        // Salt writes the presented key to minions_denied here too.
        assert_eq!(h, [None, Some(first), None, Some(second)]);
    }

    #[test]
    fn row_accepted_autosigned_and_open_mode_are_accepted() {
        let p = AuthPolicy::default();
        // Accepted, same key: nothing changes on disk.
        let (_t, s) = store();
        let k = key();
        s.put(KeyState::Accepted, "m1", &k.to_pem()).unwrap();
        let (dec, h) = auth(&s, &p, "m1", &k);
        assert_eq!(dec, d(AuthReply::Accepted, Some("accept"), true));
        assert_eq!(h, [Some(k.clone()), None, None, None]);
        // Accepted wins over autoreject (Salt does not consult it for accepted keys).
        let pr = AuthPolicy {
            autoreject: vec!["*".into()],
            ..AuthPolicy::default()
        };
        assert_eq!(auth(&s, &pr, "m1", &k).0, AuthDecision::accept());

        // New key under auto_accept, and under autosign_file (glob and regex).
        for p in [
            AuthPolicy {
                auto_accept: true,
                ..AuthPolicy::default()
            },
            AuthPolicy {
                autosign: vec!["x".into(), "n[0-9]".into()],
                ..AuthPolicy::default()
            },
            AuthPolicy {
                autosign: vec!["n\\d+".into()],
                ..AuthPolicy::default()
            },
        ] {
            let (_t, s) = store();
            let (dec, h) = auth(&s, &p, "n1", &k);
            assert_eq!(dec, AuthDecision::accept(), "{p:?}");
            assert_eq!(h, [Some(k.clone()), None, None, None]);
        }

        // Pending, same key, now autosigned: moves to accepted.
        let (_t, s) = store();
        auth(&s, &p, "m1", &k);
        let pa = AuthPolicy {
            autosign: vec!["m*".into()],
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &pa, "m1", &k);
        assert_eq!(dec, AuthDecision::accept());
        assert_eq!(h, [Some(k.clone()), None, None, None]);

        // Autoreject wins over autosign for a new key.
        let (_t, s) = store();
        let both = AuthPolicy {
            auto_accept: true,
            autoreject: vec!["m1".into()],
            ..AuthPolicy::default()
        };
        assert_eq!(auth(&s, &both, "m1", &k).0.reply, AuthReply::Rejected);

        // open_mode: rejected and differing accepted keys are ignored; the key is replaced.
        let (_t, s) = store();
        let other = key();
        s.put(KeyState::Rejected, "m1", &other.to_pem()).unwrap();
        s.put(KeyState::Accepted, "m1", &other.to_pem()).unwrap();
        let po = AuthPolicy {
            open_mode: true,
            autoreject: vec!["*".into()],
            ..AuthPolicy::default()
        };
        let (dec, h) = auth(&s, &po, "m1", &k);
        assert_eq!(dec, AuthDecision::accept());
        assert_eq!(h, [Some(k.clone()), None, Some(other), None]);
    }

    #[test]
    fn a_directory_in_place_of_a_pending_key_is_refused() {
        let (_t, s) = store();
        fs::create_dir(s.pki_dir().join("minions_pre/m1")).unwrap();
        let dec = authorize(&s, &AuthPolicy::default(), "m1", &key(), false).unwrap();
        assert_eq!(dec, d(AuthReply::Rejected, None, false));
    }

    #[test]
    fn an_invalid_id_is_an_error_and_touches_nothing() {
        let (_t, s) = store();
        for id in ["", "..", "../minions/x", "a/b"] {
            assert!(matches!(
                authorize(&s, &AuthPolicy::default(), id, &key(), false),
                Err(PkiError::InvalidId(_))
            ));
        }
        assert_eq!(s.count(KeyState::Pending).unwrap(), 0);
    }

    #[test]
    fn the_fuzz_entry_point_takes_anything() {
        let k = KeyPair::generate();
        for data in [
            &b""[..],
            b"\xff\xfe",
            k.public.to_pem().as_bytes(),
            k.secret_pem().as_bytes(),
            b"-----BEGIN BRINE PUBLIC KEY-----\n\0\n-----END BRINE PUBLIC KEY-----\n",
        ] {
            fuzz_pem(data);
        }
    }

    #[test]
    fn errors_name_the_path() {
        let e = PkiError::Exposed {
            path: "/etc/brine/pki/master/master.pem".into(),
            mode: 0o100644,
        };
        assert_eq!(
            e.to_string(),
            "/etc/brine/pki/master/master.pem is readable by others (mode 0644); run chmod 600 on it"
        );
        let e = PkiError::Io {
            path: "/x/y".into(),
            op: "read",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().starts_with("/x/y: cannot read: "));
        assert_eq!(
            PkiError::InvalidId("a\nb".into()).to_string(),
            "invalid minion id \"a\\nb\""
        );
    }
}
