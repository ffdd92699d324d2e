//! Message digests, HMACs and the password hashes of htpasswd files: the one home of the
//! RustCrypto crates (`md-5`, `sha1`, `sha2`, `hmac`) and of `bcrypt`.
//!
//! Algorithms are named as Python's `hashlib` names them (`md5`, `sha1`, `sha224`, `sha256`,
//! `sha384`, `sha512`), since the names come from Salt configuration (`^hashtype`) and from
//! webhook headers (`sha256=<hex>`). An unknown name is `None`, never a panic: the caller
//! decides whether that is a configuration error or a forged request.
//!
//! Password checks compare in constant time; the apr1 (`$apr1$`, and crypt's `$1$`) MD5-crypt
//! is written here from the algorithm's description (Poul-Henning Kamp's md5crypt, with
//! Apache's magic string), because no maintained crate carries it.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// The digest of `data` under `D`, as lower-case hex.
fn hex_of<D: Digest>(data: &[u8]) -> String {
    crate::crypto::hex(&D::digest(data))
}

/// The HMAC of `data` under `key` with digest `$d`, as lower-case hex. A macro, not a
/// generic: hmac's trait bounds for "any digest" are longer than the six uses.
macro_rules! hmac_with {
    ($d:ty, $key:expr, $data:expr) => {
        // HMAC takes keys of any length (longer ones are hashed first): this cannot fail.
        match <Hmac<$d> as Mac>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update($data);
                crate::crypto::hex(&mac.finalize().into_bytes())
            }
            Err(_) => return None,
        }
    };
}

/// The `hashlib` digest `algo` of `data` as lower-case hex; `None` for an algorithm brine
/// does not have.
pub fn hex_digest(algo: &str, data: &[u8]) -> Option<String> {
    Some(match algo {
        "md5" => hex_of::<Md5>(data),
        "sha1" => hex_of::<Sha1>(data),
        "sha224" => hex_of::<Sha224>(data),
        "sha256" => hex_of::<Sha256>(data),
        "sha384" => hex_of::<Sha384>(data),
        "sha512" => hex_of::<Sha512>(data),
        _ => return None,
    })
}

/// `hmac.new(key, data, algo).hexdigest()`; `None` for an unknown algorithm.
pub fn hmac_hex(algo: &str, key: &[u8], data: &[u8]) -> Option<String> {
    Some(match algo {
        "md5" => hmac_with!(Md5, key, data),
        "sha1" => hmac_with!(Sha1, key, data),
        "sha224" => hmac_with!(Sha224, key, data),
        "sha256" => hmac_with!(Sha256, key, data),
        "sha384" => hmac_with!(Sha384, key, data),
        "sha512" => hmac_with!(Sha512, key, data),
        _ => return None,
    })
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    crate::crypto::constant_time_eq(a, b)
}

/// The alphabet crypt(3) hashes are written in (not base64's order).
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// MD5-crypt of `password` with `magic` (`$1$` or `$apr1$`) and `salt` (its first 8 bytes
/// count, up to a `$`), as the full `<magic><salt>$<hash>` string.
pub fn md5_crypt(magic: &str, password: &[u8], salt: &[u8]) -> String {
    let salt = salt.split(|&b| b == b'$').next().unwrap_or_default();
    let salt = &salt[..salt.len().min(8)];

    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic.as_bytes());
    ctx.update(salt);
    // As many bytes of the alternate sum as the password is long, 16 at a time.
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    // The original's quirk, kept because every hash depends on it: for each bit of the
    // length, a NUL when set, else the password's first byte.
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut sum = ctx.finalize();

    // A thousand rounds, only to make guessing slower.
    for i in 0..1000 {
        let mut round = Md5::new();
        if i & 1 == 1 {
            round.update(password);
        } else {
            round.update(sum);
        }
        if i % 3 != 0 {
            round.update(salt);
        }
        if i % 7 != 0 {
            round.update(password);
        }
        if i & 1 == 1 {
            round.update(sum);
        } else {
            round.update(password);
        }
        sum = round.finalize();
    }

    let mut out = String::with_capacity(magic.len() + salt.len() + 23);
    out.push_str(magic);
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut put = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(ITOA64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    // The digest's bytes are written in this interleaved order, three to four characters.
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put(
            (u32::from(sum[a]) << 16) | (u32::from(sum[b]) << 8) | u32::from(sum[c]),
            4,
        );
    }
    put(u32::from(sum[11]), 2);
    out
}

/// How an htpasswd password field is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HtpasswdScheme {
    /// `$2y$`, `$2b$`, `$2a$`: bcrypt (`htpasswd -B`).
    Bcrypt,
    /// `$apr1$`: Apache's MD5-crypt (`htpasswd -m`, its default).
    Apr1,
    /// `$1$`: crypt(3)'s MD5-crypt.
    Md5Crypt,
    /// `{SHA}`: base64 of the SHA-1 of the password (`htpasswd -s`).
    Sha1,
}

impl HtpasswdScheme {
    /// The scheme of a stored hash; `None` for one brine cannot check (DES crypt, `$5$`,
    /// `$6$`, plain text).
    pub fn of(stored: &str) -> Option<HtpasswdScheme> {
        if ["$2y$", "$2b$", "$2a$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Some(HtpasswdScheme::Bcrypt)
        } else if stored.starts_with("$apr1$") {
            Some(HtpasswdScheme::Apr1)
        } else if stored.starts_with("$1$") {
            Some(HtpasswdScheme::Md5Crypt)
        } else if stored.starts_with("{SHA}") {
            Some(HtpasswdScheme::Sha1)
        } else {
            None
        }
    }

    /// The name used in logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            HtpasswdScheme::Bcrypt => "bcrypt",
            HtpasswdScheme::Apr1 => "apr1",
            HtpasswdScheme::Md5Crypt => "md5-crypt",
            HtpasswdScheme::Sha1 => "{SHA}",
        }
    }
}

/// Whether `password` matches an htpasswd hash; `None` when the hash's scheme is not one
/// brine checks (see [`HtpasswdScheme::of`]) or a bcrypt hash is malformed.
pub fn htpasswd_verify(stored: &str, password: &[u8]) -> Option<bool> {
    match HtpasswdScheme::of(stored)? {
        // The crate compares its own output in constant time.
        HtpasswdScheme::Bcrypt => bcrypt::verify(password, stored).ok(),
        HtpasswdScheme::Apr1 | HtpasswdScheme::Md5Crypt => {
            let magic = if stored.starts_with("$apr1$") {
                "$apr1$"
            } else {
                "$1$"
            };
            let salt = &stored.as_bytes()[magic.len()..];
            let ours = md5_crypt(magic, password, salt);
            Some(constant_time_eq(ours.as_bytes(), stored.as_bytes()))
        }
        HtpasswdScheme::Sha1 => {
            let ours = crate::crypto::base64_encode(&Sha1::digest(password));
            Some(constant_time_eq(ours.as_bytes(), &stored.as_bytes()[5..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values below come from Python's hashlib/hmac, `openssl passwd` and Python's
    // bcrypt, run on this machine; none is hand-made.

    #[test]
    fn digests_of_abc_match_hashlib() {
        let want = [
            ("md5", "900150983cd24fb0d6963f7d28e17f72"),
            ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                "sha224",
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                "sha256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "sha384",
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                "sha512",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algo, hex) in want {
            assert_eq!(hex_digest(algo, b"abc").as_deref(), Some(hex), "{algo}");
        }
        assert_eq!(
            hex_digest("md5", b"").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(hex_digest("sha3_256", b"abc"), None);
        assert_eq!(hex_digest("SHA256", b"abc"), None);
    }

    #[test]
    fn hmacs_match_python_on_rfc_vectors() {
        let data = b"what do ya want for nothing?";
        let want = [
            ("md5", "750c783e6ab0b503eaa86e310a5db738"),
            ("sha1", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                "sha224",
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            ),
            (
                "sha256",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                "sha384",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                "sha512",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (algo, hex) in want {
            assert_eq!(
                hmac_hex(algo, b"Jefe", data).as_deref(),
                Some(hex),
                "{algo}"
            );
        }
        assert_eq!(hmac_hex("whirlpool", b"k", b"d"), None);
        // A key longer than the block is hashed first; it must still work.
        let long = [7u8; 300];
        assert_eq!(hmac_hex("sha256", &long, b"x").map(|h| h.len()), Some(64));
    }

    #[test]
    fn constant_time_eq_needs_same_bytes_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn apr1_matches_openssl_passwd() {
        // openssl passwd -apr1 -salt sAlt1234 'correct horse'
        assert_eq!(
            md5_crypt("$apr1$", b"correct horse", b"sAlt1234"),
            "$apr1$sAlt1234$cEQhCJNwAWFzJbR0ebE1z."
        );
        // An empty password and a one-letter salt.
        assert_eq!(
            md5_crypt("$apr1$", b"", b"x"),
            "$apr1$x$tMwYqBfQwi3FYAr0aJc8M/"
        );
        // Longer than 16 bytes: the alternate sum is fed more than once.
        assert_eq!(
            md5_crypt(
                "$apr1$",
                b"a much longer password, over sixteen bytes",
                b"abcdefgh"
            ),
            "$apr1$abcdefgh$4cckBv1LNP0jnNieVwqn8."
        );
        // openssl passwd -1 -salt saltsalt 'correct horse'
        assert_eq!(
            md5_crypt("$1$", b"correct horse", b"saltsalt"),
            "$1$saltsalt$NuzA7WTAelpl95xgBGWN60"
        );
        // The salt ends at `$`, so the stored hash can be passed as the salt.
        assert_eq!(
            md5_crypt(
                "$apr1$",
                b"correct horse",
                b"sAlt1234$cEQhCJNwAWFzJbR0ebE1z."
            ),
            "$apr1$sAlt1234$cEQhCJNwAWFzJbR0ebE1z."
        );
    }

    #[test]
    fn htpasswd_schemes_verify_right_and_refuse_wrong() {
        let cases = [
            ("$apr1$sAlt1234$cEQhCJNwAWFzJbR0ebE1z.", "correct horse"),
            ("$1$saltsalt$NuzA7WTAelpl95xgBGWN60", "correct horse"),
            // python: base64.b64encode(hashlib.sha1(b'correct horse').digest())
            ("{SHA}L55TUjtiq8FBorTWAZ0jy6g129A=", "correct horse"),
            // python bcrypt.hashpw(b'brine-secret', b'$2b$04$abcdefghijklmnopqrstuu')
            (
                "$2b$04$abcdefghijklmnopqrstuuVPgmudrr9AVjiZrucvhuYEHt6BAnH5y",
                "brine-secret",
            ),
            // The same hash with Apache's `$2y$` prefix (python bcrypt.checkpw accepts it).
            (
                "$2y$04$abcdefghijklmnopqrstuuVPgmudrr9AVjiZrucvhuYEHt6BAnH5y",
                "brine-secret",
            ),
            (
                "$2y$04$7.GcdXvCy30P94Ux8.ioMehNBvGSOr/B0TqHU2nH6aKbsh135n6ny",
                "correct horse",
            ),
        ];
        for (stored, password) in cases {
            assert_eq!(
                htpasswd_verify(stored, password.as_bytes()),
                Some(true),
                "{stored}"
            );
            assert_eq!(
                htpasswd_verify(stored, b"correct horsE"),
                Some(false),
                "{stored}"
            );
            assert_eq!(htpasswd_verify(stored, b""), Some(false), "{stored}");
        }
        assert_eq!(htpasswd_verify("plaintext", b"plaintext"), None);
        assert_eq!(htpasswd_verify("$6$salt$abc", b"x"), None);
        assert_eq!(htpasswd_verify("$2y$04$short", b"x"), None);
        assert_eq!(HtpasswdScheme::of("$2b$10$x"), Some(HtpasswdScheme::Bcrypt));
    }
}
