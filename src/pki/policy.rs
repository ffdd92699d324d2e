//! The auth decision: the master's auth options and autosign/autoreject files, and how one
//! auth attempt is answered and changes the key store (salt-spec §2.2, §7.4).

use super::files::read_capped;
use super::keys::PublicKey;
use super::store::{Entry, KeyState, KeyStore};
use super::{valid_id, PkiError};
use crate::matcher::expr_match;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The largest autosign or autoreject file read.
const MAX_SIGNING_FILE: u64 = 4 << 20;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tests::{key, store};
    use std::os::unix::fs::PermissionsExt;

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
}
