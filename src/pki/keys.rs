//! A node's keys: the public pair it is known by, its own secret pair, and the key files
//! they load from or are generated into on first start.

use super::files::{create_dir, read_capped, write_atomic, write_new};
use super::pem::{armor, hex_colons, unarmor};
use super::{bad, io_err, valid_id, PkiError, MAX_KEY_FILE};
use crate::crypto::{self, BoxKeys, SignKeys};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PUBLIC_LABEL: &str = "BRINE PUBLIC KEY";
const SECRET_LABEL: &str = "BRINE PRIVATE KEY";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tests::{key, mode};

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
}
