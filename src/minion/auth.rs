//! The sign-in handshake with the master: auth requests, their answers, the wait before
//! another try, and the pinned master key the answers are checked against.

use super::returns::PendingReturn;
use super::session::{Phase, Session};
use super::{Action, Minion, PinFile, Timer};
use crate::clock::Now;
use crate::crypto::{self, SymKey};
use crate::pki::PublicKey;
use crate::proto::{self, serde_bytes_compat::Bytes, AuthResult, Load};
use std::time::Duration;

impl Minion {
    pub(super) fn send_auth(&mut self, now: Now, tries: u64) {
        let mut nonce = [0u8; 16];
        self.rng.fill(&mut nonce);
        let req = proto::Request::Auth {
            id: self.cfg.id.clone(),
            public: self.keys.public.to_pem(),
            nonce: Bytes(nonce.to_vec()),
        };
        self.actions.push_back(Action::Send(proto::encode(&req)));
        self.retire_session();
        self.phase = Phase::Authenticating { nonce, tries };
        self.timers.cancel(Timer::AuthRetry);
        self.timers.cancel(Timer::Reauth);
        self.timers.set(
            Timer::AuthTimeout,
            crate::clock::later(now.mono, Duration::from_secs(self.cfg.auth_timeout.max(1))),
        );
    }

    /// Waits `acceptance_wait_time` (growing to `acceptance_wait_time_max`) and retries.
    pub(super) fn wait_then_retry(&mut self, now: Now) -> u64 {
        self.attempts += 1;
        // Held publications wait for one re-auth, not for an acceptance that may come much
        // later: jobs that old are not to run, nor are those published meanwhile.
        self.holding = false;
        if !self.held.is_empty() {
            log::warn!(
                "dropped {} publications held for a re-auth that was not accepted",
                self.held.len()
            );
            self.drops.malformed += self.held.len() as u64;
            self.held.clear();
        }
        let base = self.cfg.acceptance_wait_time;
        let wait = if self.cfg.acceptance_wait_time_max > base {
            (base.saturating_mul(self.attempts)).min(self.cfg.acceptance_wait_time_max)
        } else {
            base
        };
        self.phase = Phase::Waiting;
        self.timers.cancel(Timer::AuthTimeout);
        let wait = wait.max(1);
        self.timers.set(
            Timer::AuthRetry,
            crate::clock::later(now.mono, Duration::from_secs(wait)),
        );
        wait
    }

    pub(super) fn on_auth(&mut self, now: Now, a: proto::AuthReply) {
        let Phase::Authenticating { nonce, .. } = &self.phase else {
            log::debug!("ignored an auth reply that came late");
            return;
        };
        if a.nonce.0 != nonce {
            log::debug!("ignored an auth reply to an earlier attempt");
            return;
        }
        let master = match PublicKey::from_pem(&a.master_pub) {
            Ok(k) => k,
            Err(e) => {
                self.drops.malformed += 1;
                crate::log_limited!(
                    Warn,
                    "auth-reply:key",
                    "dropped an auth reply with a bad master key: {e}"
                );
                return;
            }
        };
        let signed = proto::auth_reply_signed_bytes(
            a.ret,
            &a.master_pub,
            &a.nonce.0,
            a.sealed.as_ref().map(|b| &b.0[..]),
        );
        if !crypto::verify(&master.sign_pub, &signed, &a.sig.0) {
            self.drops.forged += 1;
            crate::log_limited!(
                Warn,
                "auth-reply:sig",
                "dropped an auth reply whose signature does not verify"
            );
            return;
        }
        if self
            .pinned
            .as_ref()
            .is_some_and(|pin| pin.trim() != a.master_pub.trim())
        {
            // The log line of `verified` says to remove the pin file: honour that without a
            // restart. The loop reads the file (only when the master's key differs) and
            // hands it back as `Input::Pin`.
            self.awaiting_pin = Some(a);
            self.actions
                .push_back(Action::ReadPin(self.pin_path.clone()));
            return;
        }
        self.verified(now, a);
    }

    /// The pin file as the loop read it, for the auth reply that waits on it.
    pub(super) fn pin_read(&mut self, now: Now, pin: PinFile) {
        let Some(a) = self.awaiting_pin.take() else {
            return;
        };
        // A later attempt (a timeout in between) makes this reply stale.
        if !matches!(&self.phase, Phase::Authenticating { nonce, .. } if a.nonce.0 == nonce) {
            return;
        }
        match pin {
            PinFile::Text(text) => self.pinned = Some(text),
            // Only a pin file that was there and is gone now trusts a new key: an
            // unreadable file, or a pin never written, keeps refusing.
            PinFile::Missing if self.pin_on_disk => {
                log::warn!(
                    "{} was removed: trusting the master's new key",
                    self.pin_path.display()
                );
                self.pinned = None;
                self.pin_on_disk = false;
            }
            PinFile::Missing | PinFile::Unreadable => {}
        }
        self.verified(now, a);
    }

    /// An auth reply whose signature verified, checked against the pin.
    fn verified(&mut self, now: Now, a: proto::AuthReply) {
        match &self.pinned {
            Some(pin) if pin.trim() != a.master_pub.trim() => {
                log::error!(
                    "the master's public key has changed: refusing it. If the master was \
                     re-keyed on purpose, remove {} to trust the new key",
                    self.pin_path.display()
                );
                self.wait_then_retry(now);
                return;
            }
            Some(_) => {}
            None => {
                self.pinned = Some(a.master_pub.clone());
                self.actions
                    .push_back(Action::PinMaster(a.master_pub.clone()));
            }
        }
        match a.ret {
            AuthResult::Accepted => self.accepted(now, a.sealed),
            AuthResult::Pending => {
                let wait = self.wait_then_retry(now);
                log::info!("the master has our key pending acceptance; retrying in {wait} s");
            }
            AuthResult::Full => {
                log::warn!("the master has reached max_minions; retrying later");
                self.wait_then_retry(now);
            }
            AuthResult::Rejected | AuthResult::Denied => {
                let word = if a.ret == AuthResult::Rejected {
                    "rejected"
                } else {
                    "denied"
                };
                if self.cfg.rejected_retry {
                    log::error!("the master {word} our key; retrying (rejected_retry)");
                    self.wait_then_retry(now);
                } else {
                    log::error!(
                        "the master {word} our key; exiting (set rejected_retry to keep trying)"
                    );
                    self.phase = Phase::Refused;
                    self.timers.cancel(Timer::AuthTimeout);
                    self.actions.push_back(Action::Exit(1));
                }
            }
        }
    }

    fn accepted(&mut self, now: Now, sealed: Option<Bytes>) {
        let opened = sealed
            .ok_or_else(|| "no session in the reply".to_string())
            .and_then(|s| crypto::unseal(&self.keys.boxk, &s.0).map_err(|e| e.to_string()))
            .and_then(|plain| proto::decode::<proto::Session>(&plain));
        let session = match opened {
            Ok(s) => s,
            Err(e) => {
                self.drops.malformed += 1;
                log::warn!("cannot open the session the master sent: {e}");
                self.wait_then_retry(now);
                return;
            }
        };
        let master_box = self
            .pinned
            .as_deref()
            .and_then(|p| PublicKey::from_pem(p).ok())
            .map(|k| k.box_pub);
        let (Some(master_box), Ok(key)) = (master_box, SymKey::from_bytes(&session.key.0)) else {
            log::warn!("the master sent an unusable session");
            self.wait_then_retry(now);
            return;
        };
        let shared = match SymKey::shared(&self.keys.boxk, &master_box) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot derive the session key: {e}");
                self.wait_then_retry(now);
                return;
            }
        };
        self.retire_session();
        self.old_kids.retain(|k| *k != session.kid);
        self.phase = Phase::Accepted(Session {
            sid: session.sid,
            shared,
            kid: session.kid,
            key,
            last_serial: session.serial,
        });
        self.attempts = 0;
        self.ctr = 0;
        // Events the old session never acknowledged go again (at least once).
        let unacked: Vec<Load> = std::mem::take(&mut self.unacked)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        for load in unacked.into_iter().rev() {
            self.outbox.push_front(load);
        }
        self.timers.cancel(Timer::AuthTimeout);
        self.timers.set(
            Timer::Heartbeat,
            crate::clock::later(now.mono, Duration::from_secs(self.cfg.heartbeat_interval)),
        );
        log::info!("authenticated with the master");
        if !self.started {
            self.started = true;
            self.fire_start(now);
            self.actions.push_back(Action::Settled);
        }
        // The master caches grains for targeting; a restarted master has lost them.
        self.refresh_grains();
        self.asks_lost("session was replaced; ask again");
        self.request_pillar();
        while let Some(load) = self.outbox.pop_front() {
            self.send_load(&load);
        }
        // Returns the old session never got acknowledged go again on the new one.
        let pending: Vec<PendingReturn> = std::mem::take(&mut self.returns);
        for p in pending {
            self.send_return(now, p.load, p.tries);
        }
        self.read_held();
    }

    /// The io layer wrote the pin file.
    pub(super) fn pin_saved(&mut self) {
        self.pin_on_disk = true;
    }
}
