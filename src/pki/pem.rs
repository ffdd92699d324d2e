//! The text armor of key files (`-----BEGIN <label>-----`, base64, `-----END <label>-----`)
//! and the hex form of fingerprints.

use super::keys::{KeyPair, PublicKey};
use super::{bad, PkiError};
use crate::crypto;

/// The largest PEM text parsed; a public key PEM is about 150 bytes.
const MAX_PEM: usize = 4096;

/// Wraps bytes as `-----BEGIN <label>-----`, base64 in 64-column lines, `-----END <label>-----`.
pub(super) fn armor(label: &str, bytes: &[u8]) -> String {
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
pub(super) fn unarmor(label: &str, text: &str, len: usize) -> Result<Vec<u8>, PkiError> {
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

pub(super) fn hex_colons(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
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
    use crate::pki::tests::key;

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
}
