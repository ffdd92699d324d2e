//! The one module that talks to libsodium: key pairs, signatures, sealed boxes, the
//! symmetric AEAD, SHA-256 and base64, behind safe functions.
//!
//! Every length is checked in Rust before a pointer crosses into C, so no input, however
//! short or hostile, can make libsodium read or write out of bounds; every return code is
//! checked. Secret key material is wiped with `sodium_memzero` when its owner is dropped
//! (copies made by moves are beyond our control, as with any Rust value).

use libsodium_sys as ffi;
use std::fmt;
use std::sync::OnceLock;

/// Size of an X25519 or Ed25519 public key, and of a symmetric key.
pub const KEY_BYTES: usize = 32;
/// Size of an Ed25519 secret key (seed followed by the public key).
pub const SIGN_SECRET_BYTES: usize = 64;
/// Size of a detached Ed25519 signature.
pub const SIG_BYTES: usize = 64;
/// What a sealed box adds to its message: an ephemeral public key and a tag.
pub const SEAL_OVERHEAD: usize = ffi::crypto_box_SEALBYTES as usize;
/// Size of the random XChaCha20 nonce in front of every ciphertext.
pub const NONCE_BYTES: usize = ffi::crypto_aead_xchacha20poly1305_ietf_NPUBBYTES as usize;
/// Size of the Poly1305 tag after every ciphertext.
pub const TAG_BYTES: usize = ffi::crypto_aead_xchacha20poly1305_ietf_ABYTES as usize;

/// What can go wrong in a cryptographic operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// `sodium_init` failed (the system has no usable randomness).
    Init,
    /// An input had the wrong size.
    Length {
        /// What the input was.
        what: &'static str,
        /// The size it must have (or at least have, for ciphertexts).
        expected: usize,
        /// The size it had.
        got: usize,
    },
    /// A ciphertext or sealed box failed authentication: forged, corrupted, or for another key.
    Forged,
    /// A public key that libsodium refuses (a low-order point, or all zeros).
    WeakKey,
    /// A secret key whose parts do not belong together.
    Inconsistent(&'static str),
    /// Text that is not standard padded base64.
    Base64,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Init => f.write_str("libsodium could not be initialised"),
            CryptoError::Length {
                what,
                expected,
                got,
            } => write!(f, "{what} must be {expected} bytes, got {got}"),
            CryptoError::Forged => {
                f.write_str("authentication failed (forged, corrupted or for another key)")
            }
            CryptoError::WeakKey => f.write_str("the public key is not usable (low-order point)"),
            CryptoError::Inconsistent(what) => write!(f, "inconsistent {what}"),
            CryptoError::Base64 => f.write_str("not valid base64"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Initialises libsodium; cheap after the first call, safe from any thread.
pub fn init() -> Result<(), CryptoError> {
    static READY: OnceLock<bool> = OnceLock::new();
    // sodium_init returns 0 the first time, 1 when already done, -1 on failure.
    let ok = *READY.get_or_init(|| unsafe { ffi::sodium_init() } >= 0);
    if ok {
        Ok(())
    } else {
        Err(CryptoError::Init)
    }
}

/// Makes sure libsodium is initialised before a call that cannot return an error.
///
/// Initialisation only fails when the system offers no randomness at all; nothing in the
/// process could be trusted then, so this stops it. Daemons call `init()` at start-up to
/// report it cleanly instead.
fn ready() {
    if init().is_err() {
        panic!("libsodium could not be initialised: the system offers no randomness");
    }
}

/// Fills `buf` with unpredictable bytes.
pub fn random_bytes(buf: &mut [u8]) {
    ready();
    unsafe { ffi::randombytes_buf(buf.as_mut_ptr().cast(), buf.len()) }
}

/// A uniformly random number below `upper` (0 when `upper` is 0 or 1).
pub fn random_u32(upper: u32) -> u32 {
    ready();
    if upper < 2 {
        return 0;
    }
    unsafe { ffi::randombytes_uniform(upper) }
}

/// A core's own randomness: a ChaCha20 keystream under a 32-byte seed. Seeded from the
/// system it is as unpredictable as [`random_bytes`]; seeded from a number (a simulation)
/// the same run gives the same draws, so a failing run replays from its seed.
pub struct Rng {
    key: [u8; 32],
    /// Each draw uses the next nonce, so no keystream block is used twice.
    counter: u64,
}

impl Rng {
    /// Seeded from the system's randomness.
    pub fn from_os() -> Rng {
        let mut key = [0u8; 32];
        random_bytes(&mut key);
        Rng { key, counter: 0 }
    }

    /// Seeded from a number: the same number, the same draws.
    pub fn from_seed(seed: u64) -> Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..17].copy_from_slice(b"brine-rng");
        Rng { key, counter: 0 }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        ready();
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.counter.to_le_bytes());
        self.counter = self.counter.wrapping_add(1);
        // SAFETY: writes buf.len() bytes into buf; the nonce and key have the sizes the
        // function reads (12 and 32 bytes).
        unsafe {
            ffi::crypto_stream_chacha20_ietf(
                buf.as_mut_ptr(),
                buf.len() as u64,
                nonce.as_ptr(),
                self.key.as_ptr(),
            );
        }
    }

    /// A uniformly distributed number below `upper` (0 when `upper` is 0 or 1).
    pub fn below(&mut self, upper: u32) -> u32 {
        if upper < 2 {
            return 0;
        }
        // Rejection sampling: draws past the last whole multiple of `upper` would bias.
        let limit = u32::MAX - u32::MAX % upper;
        loop {
            let mut b = [0u8; 4];
            self.fill(&mut b);
            let x = u32::from_le_bytes(b);
            if x < limit {
                return x % upper;
            }
        }
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        wipe(&mut self.key);
    }
}

/// Overwrites `buf` with zeros in a way the compiler cannot optimise away.
pub fn wipe(buf: &mut [u8]) {
    unsafe { ffi::sodium_memzero(buf.as_mut_ptr().cast(), buf.len()) }
}

fn exact<const N: usize>(what: &'static str, b: &[u8]) -> Result<[u8; N], CryptoError> {
    <[u8; N]>::try_from(b).map_err(|_| CryptoError::Length {
        what,
        expected: N,
        got: b.len(),
    })
}

/// An X25519 key pair (libsodium's `crypto_box`), for sealed boxes and shared keys.
pub struct BoxKeys {
    /// The public half.
    pub public: [u8; 32],
    secret: [u8; 32],
}

impl BoxKeys {
    /// A fresh random key pair.
    pub fn generate() -> BoxKeys {
        ready();
        let mut k = BoxKeys {
            public: [0; 32],
            secret: [0; 32],
        };
        // crypto_box_keypair cannot fail once libsodium is initialised.
        let rc = unsafe { ffi::crypto_box_keypair(k.public.as_mut_ptr(), k.secret.as_mut_ptr()) };
        debug_assert_eq!(rc, 0);
        k
    }

    /// The key pair of a stored 32-byte secret; the public half is derived from it.
    pub fn from_secret(secret: &[u8]) -> Result<BoxKeys, CryptoError> {
        ready();
        let mut k = BoxKeys {
            public: [0; 32],
            secret: exact("a box secret key", secret)?,
        };
        let rc = unsafe { ffi::crypto_scalarmult_base(k.public.as_mut_ptr(), k.secret.as_ptr()) };
        if rc != 0 {
            return Err(CryptoError::Inconsistent("box secret key"));
        }
        Ok(k)
    }

    /// The secret half, for writing the key file.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

impl Drop for BoxKeys {
    fn drop(&mut self) {
        wipe(&mut self.secret);
    }
}

impl fmt::Debug for BoxKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxKeys")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 key pair (libsodium's `crypto_sign`), for detached signatures.
pub struct SignKeys {
    /// The public half.
    pub public: [u8; 32],
    secret: [u8; 64],
}

impl SignKeys {
    /// A fresh random key pair.
    pub fn generate() -> SignKeys {
        ready();
        let mut k = SignKeys {
            public: [0; 32],
            secret: [0; 64],
        };
        let rc = unsafe { ffi::crypto_sign_keypair(k.public.as_mut_ptr(), k.secret.as_mut_ptr()) };
        debug_assert_eq!(rc, 0);
        k
    }

    /// The key pair of a stored 64-byte secret (seed then public key). The secret is
    /// re-derived from its seed, so a file whose two halves do not belong together is refused.
    pub fn from_secret(secret: &[u8]) -> Result<SignKeys, CryptoError> {
        ready();
        let mut given: [u8; 64] = exact("a signing secret key", secret)?;
        let mut k = SignKeys {
            public: [0; 32],
            secret: [0; 64],
        };
        let rc = unsafe {
            ffi::crypto_sign_seed_keypair(
                k.public.as_mut_ptr(),
                k.secret.as_mut_ptr(),
                given.as_ptr(),
            )
        };
        // The stored secret is seed || public; the derived one must equal it byte for byte.
        let same = rc == 0
            && unsafe { ffi::sodium_memcmp(given.as_ptr().cast(), k.secret.as_ptr().cast(), 64) }
                == 0;
        wipe(&mut given);
        if !same {
            return Err(CryptoError::Inconsistent("signing secret key"));
        }
        Ok(k)
    }

    /// The secret half, for writing the key file.
    pub fn secret(&self) -> &[u8; 64] {
        &self.secret
    }

    /// A detached signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let mut sig = [0u8; 64];
        let mut len: u64 = 0;
        let rc = unsafe {
            ffi::crypto_sign_detached(
                sig.as_mut_ptr(),
                &mut len,
                msg.as_ptr(),
                msg.len() as u64,
                self.secret.as_ptr(),
            )
        };
        debug_assert!(rc == 0 && len == 64);
        sig
    }
}

impl Drop for SignKeys {
    fn drop(&mut self) {
        wipe(&mut self.secret);
    }
}

impl fmt::Debug for SignKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignKeys")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Whether `sig` is a valid detached signature of `msg` by `public` (false for a
/// signature of the wrong length).
pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8]) -> bool {
    ready();
    if sig.len() != SIG_BYTES {
        return false;
    }
    let rc = unsafe {
        ffi::crypto_sign_verify_detached(
            sig.as_ptr(),
            msg.as_ptr(),
            msg.len() as u64,
            public.as_ptr(),
        )
    };
    rc == 0
}

/// An anonymous sealed box of `msg` that only the holder of `to`'s secret can open.
/// Empty when `to` is not a usable key (a low-order point): no `unseal` accepts that.
pub fn seal(to: &[u8; 32], msg: &[u8]) -> Vec<u8> {
    try_seal(to, msg).unwrap_or_default()
}

/// `seal`, saying why when `to` is not a usable key.
pub fn try_seal(to: &[u8; 32], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    ready();
    let mut out = vec![0u8; msg.len() + SEAL_OVERHEAD];
    let rc = unsafe {
        ffi::crypto_box_seal(
            out.as_mut_ptr(),
            msg.as_ptr(),
            msg.len() as u64,
            to.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(CryptoError::WeakKey);
    }
    Ok(out)
}

/// Opens a sealed box addressed to `keys`.
pub fn unseal(keys: &BoxKeys, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    ready();
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::Length {
            what: "a sealed box",
            expected: SEAL_OVERHEAD,
            got: sealed.len(),
        });
    }
    let mut out = vec![0u8; sealed.len() - SEAL_OVERHEAD];
    let rc = unsafe {
        ffi::crypto_box_seal_open(
            out.as_mut_ptr(),
            sealed.as_ptr(),
            sealed.len() as u64,
            keys.public.as_ptr(),
            keys.secret.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(CryptoError::Forged);
    }
    Ok(out)
}

/// A symmetric AEAD key: XChaCha20-Poly1305-IETF with a random 24-byte nonce per message,
/// so one key can encrypt any number of messages without nonce bookkeeping.
#[derive(Clone)]
pub struct SymKey([u8; 32]);

impl SymKey {
    /// A fresh random key.
    pub fn generate() -> SymKey {
        let mut k = SymKey([0; 32]);
        random_bytes(&mut k.0);
        k
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<SymKey, CryptoError> {
        Ok(SymKey(exact("a symmetric key", b)?))
    }

    /// The raw key, for sealing it to a minion.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `nonce (24 bytes) || ciphertext || tag (16 bytes)`, authenticating `ad` as well.
    pub fn encrypt(&self, ad: &[u8], msg: &[u8]) -> Vec<u8> {
        ready();
        let mut out = vec![0u8; NONCE_BYTES + msg.len() + TAG_BYTES];
        let (nonce, body) = out.split_at_mut(NONCE_BYTES);
        random_bytes(nonce);
        let mut len: u64 = 0;
        let rc = unsafe {
            ffi::crypto_aead_xchacha20poly1305_ietf_encrypt(
                body.as_mut_ptr(),
                &mut len,
                msg.as_ptr(),
                msg.len() as u64,
                ad.as_ptr(),
                ad.len() as u64,
                std::ptr::null(),
                nonce.as_ptr(),
                self.0.as_ptr(),
            )
        };
        // Only a message longer than libsodium's limit (about 256 GiB) fails.
        debug_assert!(rc == 0 && len as usize == body.len());
        out
    }

    /// Opens what `encrypt` produced with the same `ad`.
    pub fn decrypt(&self, ad: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        ready();
        if data.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CryptoError::Length {
                what: "a ciphertext",
                expected: NONCE_BYTES + TAG_BYTES,
                got: data.len(),
            });
        }
        let (nonce, body) = data.split_at(NONCE_BYTES);
        let mut out = vec![0u8; body.len() - TAG_BYTES];
        let mut len: u64 = 0;
        let rc = unsafe {
            ffi::crypto_aead_xchacha20poly1305_ietf_decrypt(
                out.as_mut_ptr(),
                &mut len,
                std::ptr::null_mut(),
                body.as_ptr(),
                body.len() as u64,
                ad.as_ptr(),
                ad.len() as u64,
                nonce.as_ptr(),
                self.0.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(CryptoError::Forged);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    /// The key two parties share through X25519 (`crypto_box_beforenm`): mine and theirs
    /// give the same key on both sides, so a request sealed with it comes from that peer.
    pub fn shared(mine: &BoxKeys, their_public: &[u8; 32]) -> Result<SymKey, CryptoError> {
        ready();
        let mut k = SymKey([0; 32]);
        let rc = unsafe {
            ffi::crypto_box_beforenm(
                k.0.as_mut_ptr(),
                their_public.as_ptr(),
                mine.secret.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(CryptoError::WeakKey);
        }
        Ok(k)
    }

    /// A short public id of the key: the first 8 bytes of its SHA-256, big-endian.
    pub fn id(&self) -> u64 {
        let h = sha256(&self.0);
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[..8]);
        u64::from_be_bytes(b)
    }
}

impl Drop for SymKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl fmt::Debug for SymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymKey({:016x})", self.id())
    }
}

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    ready();
    let mut out = [0u8; 32];
    let rc = unsafe { ffi::crypto_hash_sha256(out.as_mut_ptr(), data.as_ptr(), data.len() as u64) };
    debug_assert_eq!(rc, 0);
    out
}

/// The SHA-256 digest of what a reader gives, read in 1 MiB pieces so a big file is never
/// held whole in memory.
pub fn sha256_reader(r: &mut dyn std::io::Read) -> std::io::Result<[u8; 32]> {
    ready();
    // SAFETY: the state is plain data that init fills in; zeroed is a valid start for it.
    let mut st: ffi::crypto_hash_sha256_state = unsafe { std::mem::zeroed() };
    unsafe { ffi::crypto_hash_sha256_init(&mut st) };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // SAFETY: buf holds n initialised bytes.
        unsafe { ffi::crypto_hash_sha256_update(&mut st, buf.as_ptr(), n as u64) };
    }
    let mut out = [0u8; 32];
    // SAFETY: out has the 32 bytes final writes.
    unsafe { ffi::crypto_hash_sha256_final(&mut st, out.as_mut_ptr()) };
    Ok(out)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 of `msg` under a key of any length (RFC 2104; libsodium hashes keys longer
/// than the block, as the RFC says).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    ready();
    let mut out = [0u8; 32];
    // The state is plain data that init fills in; zeroed is a valid starting value for it.
    let mut state = std::mem::MaybeUninit::<ffi::crypto_auth_hmacsha256_state>::zeroed();
    // SAFETY: every pointer is valid for the length passed with it, and `state` outlives the
    // three calls. These functions cannot fail on valid pointers.
    unsafe {
        let st = state.as_mut_ptr();
        let rc = ffi::crypto_auth_hmacsha256_init(st, key.as_ptr(), key.len());
        debug_assert_eq!(rc, 0);
        let rc = ffi::crypto_auth_hmacsha256_update(st, msg.as_ptr(), msg.len() as u64);
        debug_assert_eq!(rc, 0);
        let rc = ffi::crypto_auth_hmacsha256_final(st, out.as_mut_ptr());
        debug_assert_eq!(rc, 0);
        // The state holds key-derived pads: wipe them.
        ffi::sodium_memzero(
            st.cast(),
            std::mem::size_of::<ffi::crypto_auth_hmacsha256_state>(),
        );
    }
    out
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && (a.is_empty()
            || unsafe { ffi::sodium_memcmp(a.as_ptr().cast(), b.as_ptr().cast(), a.len()) } == 0)
}

const B64: libc::c_int = ffi::sodium_base64_VARIANT_ORIGINAL as libc::c_int;

/// Standard base64 with padding, on one line.
pub fn base64_encode(data: &[u8]) -> String {
    ready();
    // The length libsodium reports includes the terminating NUL.
    let cap = unsafe { ffi::sodium_base64_encoded_len(data.len(), B64) };
    let mut out = vec![0u8; cap];
    let p = unsafe {
        ffi::sodium_bin2base64(out.as_mut_ptr().cast(), cap, data.as_ptr(), data.len(), B64)
    };
    if p.is_null() {
        return String::new();
    }
    out.truncate(cap.saturating_sub(1));
    // bin2base64 only writes the 64 ASCII symbols and '='.
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes standard padded base64, ignoring spaces, tabs and line breaks anywhere.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, CryptoError> {
    ready();
    // libsodium's strchr-based ignore list would also skip NUL, which is never base64.
    if s.contains('\0') {
        return Err(CryptoError::Base64);
    }
    let bytes = s.as_bytes();
    // Every 4 symbols give at most 3 bytes; ignored whitespace only makes the result shorter.
    let cap = bytes.len() / 4 * 3 + 3;
    let mut out = vec![0u8; cap];
    let mut len: usize = 0;
    const IGNORE: &[u8] = b" \t\r\n\0";
    let rc = unsafe {
        ffi::sodium_base642bin(
            out.as_mut_ptr(),
            cap,
            bytes.as_ptr().cast(),
            bytes.len(),
            IGNORE.as_ptr().cast(),
            &mut len,
            // With no end pointer, libsodium fails unless the whole input was consumed.
            std::ptr::null_mut(),
            B64,
        )
    };
    if rc != 0 || len > cap {
        return Err(CryptoError::Base64);
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flip(v: &[u8], i: usize) -> Vec<u8> {
        let mut v = v.to_vec();
        v[i] ^= 0x01;
        v
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn init_is_idempotent_across_threads() {
        let handles: Vec<_> = (0..4).map(|_| std::thread::spawn(init)).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        assert_eq!(init(), Ok(()));
    }

    #[test]
    fn a_seeded_stream_replays_and_differs_by_seed() {
        let draws = |seed| {
            let mut r = Rng::from_seed(seed);
            (0..8).map(|_| r.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let mut r = Rng::from_os();
        assert!((0..100).all(|_| r.below(3) < 3));
        assert_eq!(r.below(1), 0);
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        r.fill(&mut a);
        r.fill(&mut b);
        assert_ne!(a, b, "each draw takes new keystream");
    }

    #[test]
    fn randomness_differs_and_stays_in_range() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        random_bytes(&mut a);
        random_bytes(&mut b);
        assert_ne!(a, b);
        for _ in 0..1000 {
            assert!(random_u32(7) < 7);
        }
        assert_eq!(random_u32(0), 0);
        assert_eq!(random_u32(1), 0);
    }

    #[test]
    fn box_keys_round_trip_through_their_secret() {
        let k = BoxKeys::generate();
        let again = BoxKeys::from_secret(k.secret()).unwrap();
        assert_eq!(again.public, k.public);
        assert!(matches!(
            BoxKeys::from_secret(&[1; 31]),
            Err(CryptoError::Length { got: 31, .. })
        ));
        assert!(BoxKeys::from_secret(&[]).is_err());
    }

    #[test]
    fn sign_keys_round_trip_and_refuse_a_mismatched_secret() {
        let k = SignKeys::generate();
        let again = SignKeys::from_secret(k.secret()).unwrap();
        assert_eq!(again.public, k.public);
        // Seed of one key with the public half of another.
        let other = SignKeys::generate();
        let mut mixed = k.secret().to_vec();
        mixed[32..].copy_from_slice(&other.public);
        assert_eq!(
            SignKeys::from_secret(&mixed).unwrap_err(),
            CryptoError::Inconsistent("signing secret key")
        );
        assert!(SignKeys::from_secret(&k.secret()[..63]).is_err());
    }

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let k = SignKeys::generate();
        let msg = b"salt/auth";
        let sig = k.sign(msg);
        assert!(verify(&k.public, msg, &sig));
        assert!(!verify(&k.public, b"salt/autH", &sig));
        assert!(!verify(&k.public, msg, &flip(&sig, 0)));
        assert!(!verify(&k.public, msg, &flip(&sig, 63)));
        assert!(!verify(&SignKeys::generate().public, msg, &sig));
        assert!(!verify(&k.public, msg, &sig[..63]));
        assert!(!verify(&k.public, msg, &[]));
        assert!(!verify(&[0; 32], msg, &sig));
        assert!(verify(&k.public, b"", &k.sign(b"")));
    }

    #[test]
    fn sealed_boxes_open_only_for_their_recipient() {
        let k = BoxKeys::generate();
        let sealed = seal(&k.public, b"session key");
        assert_eq!(sealed.len(), 11 + SEAL_OVERHEAD);
        assert_eq!(unseal(&k, &sealed).unwrap(), b"session key");
        assert_eq!(
            unseal(&BoxKeys::generate(), &sealed),
            Err(CryptoError::Forged)
        );
        for i in [0, 31, 32, sealed.len() - 1] {
            assert_eq!(
                unseal(&k, &flip(&sealed, i)),
                Err(CryptoError::Forged),
                "bit {i}"
            );
        }
        assert!(unseal(&k, &sealed[..SEAL_OVERHEAD - 1]).is_err());
        assert!(unseal(&k, &[]).is_err());
        assert_eq!(unseal(&k, &seal(&k.public, b"")).unwrap(), b"");
        // A low-order point is refused rather than sealed to.
        assert_eq!(try_seal(&[0; 32], b"x"), Err(CryptoError::WeakKey));
        assert!(seal(&[0; 32], b"x").is_empty());
    }

    #[test]
    fn aead_round_trips_and_catches_every_kind_of_tampering() {
        let key = SymKey::generate();
        let ct = key.encrypt(b"ad", b"publication");
        assert_eq!(ct.len(), NONCE_BYTES + 11 + TAG_BYTES);
        assert_eq!(key.decrypt(b"ad", &ct).unwrap(), b"publication");
        // Random nonces: the same message twice gives different ciphertexts.
        assert_ne!(key.encrypt(b"ad", b"publication"), ct);
        assert_eq!(key.decrypt(b"aD", &ct), Err(CryptoError::Forged));
        assert_eq!(key.decrypt(b"", &ct), Err(CryptoError::Forged));
        for i in [0, NONCE_BYTES - 1, NONCE_BYTES, ct.len() - 1] {
            assert_eq!(
                key.decrypt(b"ad", &flip(&ct, i)),
                Err(CryptoError::Forged),
                "byte {i}"
            );
        }
        assert_eq!(
            SymKey::generate().decrypt(b"ad", &ct),
            Err(CryptoError::Forged)
        );
        assert!(matches!(
            key.decrypt(b"ad", &ct[..NONCE_BYTES + TAG_BYTES - 1]),
            Err(CryptoError::Length { .. })
        ));
        assert!(key.decrypt(b"ad", &[]).is_err());
        let empty = key.encrypt(b"", b"");
        assert_eq!(key.decrypt(b"", &empty).unwrap(), b"");
    }

    #[test]
    fn sym_keys_from_bytes_and_ids() {
        let key = SymKey::generate();
        let copy = SymKey::from_bytes(key.bytes()).unwrap();
        assert_eq!(copy.id(), key.id());
        assert_ne!(SymKey::generate().id(), key.id());
        assert_eq!(
            SymKey::from_bytes(&[0; 33]).unwrap_err(),
            CryptoError::Length {
                what: "a symmetric key",
                expected: 32,
                got: 33
            }
        );
        let ct = key.encrypt(b"", b"x");
        assert_eq!(copy.clone().decrypt(b"", &ct).unwrap(), b"x");
        // The id of the all-zero key is the head of SHA-256 of 32 zero bytes.
        let zero = SymKey::from_bytes(&[0; 32]).unwrap();
        assert_eq!(zero.id(), 0x66687aadf862bd77);
    }

    #[test]
    fn shared_keys_agree_on_both_sides() {
        let (a, b) = (BoxKeys::generate(), BoxKeys::generate());
        let ab = SymKey::shared(&a, &b.public).unwrap();
        let ba = SymKey::shared(&b, &a.public).unwrap();
        assert_eq!(ab.bytes(), ba.bytes());
        let c = BoxKeys::generate();
        assert_ne!(SymKey::shared(&c, &b.public).unwrap().bytes(), ab.bytes());
        let ct = ab.encrypt(b"m1", b"ret");
        assert_eq!(ba.decrypt(b"m1", &ct).unwrap(), b"ret");
        assert_eq!(
            SymKey::shared(&a, &[0; 32]).unwrap_err(),
            CryptoError::WeakKey
        );
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn base64_round_trips_and_refuses_garbage() {
        for (raw, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw), text);
            assert_eq!(base64_decode(text).unwrap(), raw);
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
        assert_eq!(base64_decode("Zm9v\nYmFy\r\n").unwrap(), b"foobar");
        assert_eq!(base64_decode(" Zm 9v\t").unwrap(), b"foo");
        for bad in [
            "Zg", "Zg=", "Z", "Zm9v!", "Zm9v\0", "Zm9v=", "====", "Zm-_", "é",
        ] {
            assert_eq!(base64_decode(bad), Err(CryptoError::Base64), "{bad:?}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let k = BoxKeys::generate();
        let s = SymKey::generate();
        let mut buf = Vec::new();
        for n in 0..200usize {
            buf.push((n * 37 % 251) as u8);
            let _ = unseal(&k, &buf);
            let _ = s.decrypt(&buf, &buf);
            let _ = verify(&k.public, &buf, &buf);
            let _ = BoxKeys::from_secret(&buf);
            let _ = SignKeys::from_secret(&buf);
            let _ = SymKey::from_bytes(&buf);
            let _ = base64_decode(&String::from_utf8_lossy(&buf));
        }
    }

    #[test]
    fn errors_read_as_one_line() {
        for e in [
            CryptoError::Init,
            CryptoError::Forged,
            CryptoError::WeakKey,
            CryptoError::Base64,
            CryptoError::Inconsistent("x"),
            CryptoError::Length {
                what: "a key",
                expected: 32,
                got: 1,
            },
        ] {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.contains('\n'), "{s}");
        }
    }
}
