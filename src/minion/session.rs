//! The session with the master and the publications read under its key: replays of
//! earlier sessions are dropped, and those under a key a re-auth will bring are held.

use super::{Action, Minion, Timer};
use crate::clock::Now;
use crate::crypto::{self, SymKey};
use crate::pki::PublicKey;
use crate::proto::{self, Publication};
use serde_json::Value;
use std::time::Duration;

/// Publications held for a session key a re-auth will bring, at most (count and bytes).
const MAX_HELD: usize = 256;
const MAX_HELD_BYTES: usize = 16 << 20;

/// Publication keys of earlier sessions remembered as replays.
const MAX_OLD_KIDS: usize = 16;

/// Where the minion stands with its master.
#[derive(Debug)]
pub(super) enum Phase {
    /// Not started.
    Idle,
    /// An auth request is out.
    Authenticating { nonce: [u8; 16], tries: u64 },
    /// Waiting before the next auth attempt (pending, refused, no answer).
    Waiting,
    /// Accepted, with a session.
    Accepted(Session),
    /// Rejected for good: the daemon exits.
    Refused,
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) sid: u64,
    pub(super) shared: SymKey,
    pub(super) kid: u64,
    pub(super) key: SymKey,
    pub(super) last_serial: u64,
}

impl Minion {
    /// Remembers the publication key of the session being left.
    pub(super) fn retire_session(&mut self) {
        if let Phase::Accepted(s) = &self.phase {
            self.holding = true;
            let kid = s.kid;
            if !self.old_kids.contains(&kid) {
                if self.old_kids.len() >= MAX_OLD_KIDS {
                    self.old_kids.pop_front();
                }
                self.old_kids.push_back(kid);
            }
        }
    }

    /// Keeps a publication for the key a re-auth will bring (bounded: past it, dropped).
    fn hold(&mut self, bytes: &[u8]) {
        let held: usize = self.held.iter().map(Vec::len).sum();
        if self.held.len() >= MAX_HELD || held + bytes.len() > MAX_HELD_BYTES {
            self.drops.malformed += 1;
            log::warn!(
                "dropped a publication under a session key this minion does not have yet ({} held)",
                self.held.len()
            );
            return;
        }
        self.held.push_back(bytes.to_vec());
    }

    /// Reads the publications held for the key this session brought, in serial order and
    /// each serial once. They came live while the minion lacked the key, so unlike other
    /// publications they may be older than the session.
    pub(super) fn read_held(&mut self) {
        self.holding = false;
        let held = std::mem::take(&mut self.held);
        let Phase::Accepted(s) = &mut self.phase else {
            return;
        };
        let mut pubs: Vec<Publication> = held
            .iter()
            .filter_map(|b| proto::decode::<Publication>(b).ok())
            .filter(|p| p.kid == s.kid)
            .collect();
        let other = held.len() - pubs.len();
        if other > 0 {
            self.drops.malformed += other as u64;
            log::warn!("dropped {other} held publications under a key the master did not give");
        }
        pubs.sort_by_key(|p| p.serial);
        pubs.dedup_by_key(|p| p.serial);
        let mut opened = Vec::new();
        for p in &pubs {
            s.last_serial = s.last_serial.max(p.serial);
            match open(&s.key, p) {
                Ok(v) => opened.push(v),
                Err(e) => {
                    self.drops.malformed += 1;
                    log::warn!("{e}");
                }
            }
        }
        if !opened.is_empty() {
            log::info!(
                "read {} publications held until the new session key came",
                opened.len()
            );
        }
        self.actions
            .extend(opened.into_iter().map(Action::Publication));
    }

    /// Handles a publication from the master.
    pub(super) fn on_publication(&mut self, now: Now, bytes: &[u8]) {
        let p: Publication = match proto::decode(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.drops.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "pub:malformed",
                    "dropped a malformed publication: {e}"
                );
                return;
            }
        };
        let Some(master) = self
            .pinned
            .as_deref()
            .and_then(|pem| PublicKey::from_pem(pem).ok())
        else {
            return;
        };
        if !crypto::verify(
            &master.sign_pub,
            &proto::pub_signed_bytes(p.kid, p.serial, &p.data.0),
            &p.sig.0,
        ) {
            self.drops.forged += 1;
            crate::log_limited!(
                Warn,
                "pub:sig",
                "dropped a publication whose signature does not verify"
            );
            return;
        }
        if self.old_kids.contains(&p.kid) {
            self.drops.replayed += 1;
            log::warn!("dropped a publication under an old session key (replayed)");
            return;
        }
        match &self.phase {
            Phase::Accepted(s) if s.kid == p.kid => {}
            // The master rotated its key (or restarted): re-auth, then read this.
            Phase::Accepted(_) => {
                self.hold(bytes);
                if self.timers.get(Timer::Reauth).is_none() {
                    let delay = self.rng.below(
                        (self.cfg.random_reauth_delay.min(u32::MAX as u64) as u32)
                            .saturating_mul(1000)
                            .max(1),
                    );
                    log::info!(
                        "the master rotated its session key; re-authenticating in {:.1} s",
                        delay as f64 / 1000.0
                    );
                    self.timers.set(
                        Timer::Reauth,
                        crate::clock::later(now.mono, Duration::from_millis(delay as u64)),
                    );
                }
                return;
            }
            // A re-auth from a session is under way: this is for the key it will bring.
            // (Not before the first acceptance, nor once a re-auth was turned down: jobs
            // from then are not this minion's to run.)
            Phase::Authenticating { .. } if self.holding => {
                self.hold(bytes);
                return;
            }
            _ => return,
        }
        let Phase::Accepted(s) = &mut self.phase else {
            return;
        };
        if p.serial <= s.last_serial {
            self.drops.replayed += 1;
            log::warn!("dropped a replayed publication (serial {})", p.serial);
            return;
        }
        s.last_serial = p.serial;
        match open(&s.key, &p) {
            Ok(v) => self.actions.push_back(Action::Publication(v)),
            Err(e) => {
                self.drops.malformed += 1;
                log::warn!("{e}");
            }
        }
    }
}

/// Decrypts a verified publication with its session key.
fn open(key: &SymKey, p: &Publication) -> Result<Value, String> {
    let plain = key
        .decrypt(&proto::pub_aad(p.kid, p.serial), &p.data.0)
        .map_err(|_| "dropped a publication that does not decrypt".to_string())?;
    proto::decode::<Value>(&plain)
        .map_err(|e| format!("dropped a publication with a malformed load: {e}"))
}
