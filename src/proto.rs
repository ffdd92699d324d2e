//! The master–minion protocol over ZeroMQ: what a minion sends on the request channel
//! (DEALER → ROUTER, port 4506) and what the master publishes (PUB → SUB, port 4505).
//!
//! Until a minion is accepted the only message it can usefully send is `Auth`, in the
//! clear. Everything after that is sealed:
//!
//! - requests and their replies with the X25519 key shared by the minion's box key and
//!   the master's (so a request can only come from the holder of that minion's accepted
//!   key), tagged with the session id the master handed out at auth and a counter that
//!   must grow: a replayed request is refused;
//! - publications with the master's session key (one for all accepted minions, rotated),
//!   signed with the master's Ed25519 key, and numbered so a replay is refused.

use serde::{Deserialize, Serialize};
use serde_bytes_compat::Bytes;
use serde_json::{Map, Value};

/// Byte strings that serialize as msgpack `bin`, not as arrays of integers.
pub mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// An owned byte string.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Bytes(pub Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a byte string")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

/// What travels from a minion to the master on the request channel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd")]
pub enum Request {
    /// Present the minion's public keys (in the clear).
    #[serde(rename = "_auth")]
    Auth {
        /// The minion id.
        id: String,
        /// The minion's public key file text.
        #[serde(rename = "pub")]
        public: String,
        /// Echoed, signed, in the reply: a recorded reply cannot be replayed.
        nonce: Bytes,
    },
    /// Anything else, sealed with the minion–master shared key.
    #[serde(rename = "_sealed")]
    Sealed {
        /// The minion id.
        id: String,
        /// The session id from the auth reply.
        sid: u64,
        /// Grows with every request of the session.
        ctr: u64,
        /// `nonce || ciphertext` of the msgpack `Load`, authenticated with `aad(id, sid, ctr)`.
        data: Bytes,
    },
}

/// The additional data authenticated with a sealed request or reply.
pub fn aad(id: &str, sid: u64, ctr: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.len() + 17);
    v.extend_from_slice(id.as_bytes());
    v.push(0);
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(&ctr.to_be_bytes());
    v
}

/// The associated data of a reply to the request `aad(id, sid, ctr)`: different, so that a
/// request's own ciphertext sent back to the minion is not taken for the master's answer.
pub fn reply_aad(id: &str, sid: u64, ctr: u64) -> Vec<u8> {
    let mut v = aad(id, sid, ctr);
    v.extend_from_slice(b"reply");
    v
}

/// The master's verdict on an auth attempt.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    /// Accepted: the session is in `sealed`.
    Accepted,
    /// The key waits in `minions_pre`.
    Pending,
    /// The key is rejected.
    Rejected,
    /// A different key is known for this id.
    Denied,
    /// `max_minions` reached.
    Full,
}

/// The master's reply to `Auth`, signed by the master.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuthReply {
    /// The verdict.
    pub ret: AuthResult,
    /// The master's public key file text (pinned by the minion on first contact).
    pub master_pub: String,
    /// The minion's nonce, echoed.
    pub nonce: Bytes,
    /// When accepted: a `Session` sealed to the minion's box key.
    pub sealed: Option<Bytes>,
    /// The master's signature over `auth_reply_signed_bytes`.
    pub sig: Bytes,
}

/// What the master signs in an auth reply.
pub fn auth_reply_signed_bytes(
    ret: AuthResult,
    master_pub: &str,
    nonce: &[u8],
    sealed: Option<&[u8]>,
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(format!("{ret:?}").as_bytes());
    v.push(0);
    v.extend_from_slice(master_pub.as_bytes());
    v.push(0);
    v.extend_from_slice(nonce);
    v.push(0);
    if let Some(s) = sealed {
        v.extend_from_slice(s);
    }
    v
}

/// The secrets of an accepted minion's session (sealed in the auth reply).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// The session id to tag requests with.
    pub sid: u64,
    /// The publication key id.
    pub kid: u64,
    /// The publication key.
    pub key: Bytes,
    /// The serial of the last publication made with that key (later ones are greater).
    pub serial: u64,
}

/// The payload of a sealed request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd")]
pub enum Load {
    /// A heartbeat: keeps the session (and presence) alive and detects a master restart.
    #[serde(rename = "_ping")]
    Ping {},
    /// An event for the master bus (Salt's `_minion_event`).
    #[serde(rename = "_minion_event")]
    MinionEvent {
        /// The minion id (checked against the session's).
        id: String,
        /// The tag, for a single event.
        #[serde(default)]
        tag: Option<String>,
        /// The data, for a single event.
        #[serde(default)]
        data: Option<Value>,
        /// Salt's `pretag` (null from the minion daemon).
        #[serde(default)]
        pretag: Option<String>,
        /// Several events at once (beacons).
        #[serde(default)]
        events: Option<Vec<Map<String, Value>>>,
        /// Extra keys the sender added; fired as part of the data.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// The minion is shutting down: its session ends now, not when it goes quiet.
    #[serde(rename = "_bye")]
    Bye {},
    /// The minion's grains, for the master's cache (grain targeting).
    #[serde(rename = "_minion_data")]
    Grains {
        /// All grains.
        grains: Map<String, Value>,
    },
    /// A job return (Salt's `_return`).
    #[serde(rename = "_return")]
    Return {
        /// The whole return load, fired as `salt/job/<jid>/ret/<id>`.
        #[serde(flatten)]
        load: Map<String, Value>,
    },
    /// The files of a saltenv under a prefix (Salt's `_file_list`): answered with a list.
    #[serde(rename = "_file_list")]
    FileList {
        /// The saltenv.
        saltenv: String,
        /// Only paths that start with this.
        #[serde(default)]
        prefix: String,
    },
    /// The hash of `salt://path` (Salt's `_file_hash`): `{hsum, hash_type}`, or `{}`.
    #[serde(rename = "_file_hash")]
    FileHash {
        /// The path under the roots.
        path: String,
        /// The saltenv.
        saltenv: String,
    },
    /// A chunk of `salt://path` from byte `loc` (Salt's `_serve_file`): `{dest}` with the
    /// bytes in the reply's `bin`, empty at the end.
    #[serde(rename = "_serve_file")]
    ServeFile {
        /// The path under the roots.
        path: String,
        /// The saltenv.
        saltenv: String,
        /// The offset to read from.
        #[serde(default)]
        loc: u64,
    },
    /// The saltenvs of the master's `file_roots` (Salt's `_file_envs`): a list of names.
    #[serde(rename = "_file_envs")]
    FileEnvs {},
    /// This minion's pillar, compiled by the master with its cached grains (Salt's
    /// `_pillar`).
    #[serde(rename = "_pillar")]
    Pillar {
        /// The pillar environment, when not all of them.
        #[serde(default)]
        pillarenv: Option<String>,
        /// The minion's grains now (they replace the master's cached copy).
        #[serde(default)]
        grains: Option<Map<String, Value>>,
    },
}

impl Load {
    /// Whether this load asks the master for something it answers off its loop (a file,
    /// a hash, a listing, a pillar): the only loads a local process may have the minion
    /// send for it.
    pub fn is_deferred(&self) -> bool {
        matches!(
            self,
            Load::FileList { .. }
                | Load::FileEnvs {}
                | Load::FileHash { .. }
                | Load::ServeFile { .. }
                | Load::Pillar { .. }
        )
    }
}

/// Everything the master sends back on the request channel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t")]
pub enum Reply {
    /// The answer to `Auth`.
    #[serde(rename = "auth")]
    Auth(AuthReply),
    /// The answer to a sealed request: a `SealedReply` sealed with the request's key and
    /// `reply_aad(id, sid, ctr)`.
    #[serde(rename = "sealed")]
    Sealed {
        /// The request counter this answers.
        ctr: u64,
        /// `nonce || ciphertext`.
        data: Bytes,
    },
    /// The master cannot open the request (no session, stale session): auth again.
    #[serde(rename = "refused")]
    Refused {
        /// Why, e.g. "reauth".
        error: String,
        /// The counter of the refused request.
        ctr: u64,
        /// The session the refused request claimed: a refusal of an older session's
        /// request must not end the current one.
        #[serde(default)]
        sid: u64,
    },
}

/// The plaintext of `Reply::Sealed`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SealedReply {
    /// The request counter this answers.
    pub ctr: u64,
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not, or a value the request asked for.
    #[serde(default)]
    pub ret: Value,
    /// Raw bytes the request asked for (a chunk of a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<Bytes>,
}

/// A publication on port 4505.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Publication {
    /// Which session key sealed it.
    pub kid: u64,
    /// Grows with every publication under one key.
    pub serial: u64,
    /// `nonce || ciphertext` of the msgpack load, authenticated with `pub_aad(kid, serial)`.
    pub data: Bytes,
    /// The master's signature over `pub_signed_bytes`.
    pub sig: Bytes,
}

/// The additional data authenticated with a publication.
pub fn pub_aad(kid: u64, serial: u64) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&kid.to_be_bytes());
    a[8..].copy_from_slice(&serial.to_be_bytes());
    a
}

/// What the master signs in a publication.
pub fn pub_signed_bytes(kid: u64, serial: u64, data: &[u8]) -> Vec<u8> {
    let mut v = pub_aad(kid, serial).to_vec();
    v.extend_from_slice(data);
    v
}

/// Encodes a message as msgpack with field names.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Our message types only hold maps, strings, integers and bytes: encoding cannot fail.
    rmp_serde::to_vec_named(msg).unwrap_or_default()
}

/// Decodes a message, with a one-line reason on failure.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
}

/// Fuzzing entry point: any bytes as each message type the master and minions decode
/// from the network. Must never panic.
pub fn fuzz_decode(data: &[u8]) {
    let _ = decode::<Request>(data);
    let _ = decode::<Reply>(data);
    let _ = decode::<Publication>(data);
    let _ = decode::<Load>(data);
    let _ = decode::<Session>(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_round_trip_with_bytes_as_bin() {
        let r = Request::Sealed {
            id: "m1".into(),
            sid: 7,
            ctr: 9,
            data: Bytes(vec![1, 2, 3]),
        };
        let b = encode(&r);
        assert!(
            b.windows(3).any(|w| w == [0xc4, 3, 1]),
            "bin8 marker for the bytes"
        );
        assert_eq!(decode::<Request>(&b).unwrap(), r);
        let a = Request::Auth {
            id: "m1".into(),
            public: "PEM".into(),
            nonce: Bytes(vec![0; 16]),
        };
        assert_eq!(decode::<Request>(&encode(&a)).unwrap(), a);
        assert!(decode::<Request>(b"\x81\xa3cmd\xa4_bad").is_err());
    }

    #[test]
    fn minion_event_keeps_extra_keys() {
        let l = Load::MinionEvent {
            id: "m1".into(),
            tag: Some("t".into()),
            data: Some(json!({"a": 1})),
            pretag: None,
            events: None,
            extra: Map::new(),
        };
        let back: Load = decode(&encode(&l)).unwrap();
        assert_eq!(back, l);
    }
}
