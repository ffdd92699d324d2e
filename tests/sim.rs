//! The master and minion cores on a simulated network in virtual time: no sockets, no
//! sleeps. Messages go where the cores say, except where a test drops, copies or forges
//! them on the way.

use brine::bus::ClientInput;
use brine::config::{MasterConfig, MinionConfig};
use brine::master::auth::Auth;
use brine::master::{Input, Master, Now, ZOut};
use brine::minion::{Action, Input as MInput, Minion};
use brine::pki::{self, AuthPolicy, KeyStore};
use brine::wire::{kind, Event, FrameReader, Next};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

struct Net {
    _dir: tempfile::TempDir,
    master: Master,
    minions: Vec<Minion>,
    clock: Duration,
    base: Now,
    /// Requests in flight from minion i.
    to_master: Vec<(usize, Vec<u8>)>,
    /// Drop the next n messages to the master.
    drop_next: usize,
    /// Every request the master received, for replays.
    seen_requests: Vec<(usize, Vec<u8>)>,
    /// Every publication, for replays.
    seen_pubs: Vec<Vec<u8>>,
    /// The publications each minion read (decrypted), in order.
    read: Vec<Vec<Value>>,
    /// Minions cut off the network (a crash without goodbye): nothing to or from them.
    cut: Vec<bool>,
    /// Every core's randomness comes from this: a failing run replays with `SIM_SEED`.
    seed: u64,
    /// When the master got each auth request, and from which minion.
    auth_at: Vec<(Duration, usize)>,
}

/// The run's seed: `SIM_SEED`, or a new one each run.
fn seed() -> u64 {
    match std::env::var("SIM_SEED") {
        Ok(s) => s.parse().expect("SIM_SEED is a number"),
        Err(_) => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "sim: this run's seed is {0}; replay it with SIM_SEED={0}",
                self.seed
            );
        }
    }
}

const LISTENER: usize = 1;

impl Net {
    fn new(n: usize, master_extra: impl Fn(&mut MasterConfig)) -> Net {
        Net::with_seed(n, seed(), master_extra)
    }

    fn with_seed(n: usize, seed: u64, master_extra: impl Fn(&mut MasterConfig)) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = MasterConfig::defaults(dir.path());
        cfg.pki_dir = dir.path().join("pki/master");
        cfg.auto_accept = true;
        master_extra(&mut cfg);
        let keys = pki::load_or_generate(&cfg.pki_dir, "master").unwrap();
        let store = KeyStore::open(&cfg.pki_dir).unwrap();
        let (policy, _) = AuthPolicy::load(cfg.auto_accept, false, None, None, cfg.max_minions);
        let auth = Auth::new(keys, store, policy, true);
        let base = Now::read();
        let mut master = Master::new(cfg, Some(auth));
        master.reseed(seed);
        master.start(base);
        master.handle(
            base,
            Input::Client(ClientInput::Opened {
                id: LISTENER,
                pid: 0,
            }),
        );
        let sub = brine::bus::subscribe_payload(brine::matcher::MatchType::StartsWith, "");
        master.handle(
            base,
            Input::Client(ClientInput::Frame {
                id: LISTENER,
                kind: kind::SUBSCRIBE,
                payload: &sub,
            }),
        );
        let mut net = Net {
            _dir: dir,
            master,
            minions: Vec::new(),
            clock: Duration::ZERO,
            base,
            to_master: Vec::new(),
            drop_next: 0,
            seen_requests: Vec::new(),
            seen_pubs: Vec::new(),
            read: Vec::new(),
            cut: Vec::new(),
            seed,
            auth_at: Vec::new(),
        };
        for i in 0..n {
            net.add_minion(&format!("m{i}"), None);
        }
        net
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn minion_cfg(&self, id: &str, pki_name: &str) -> MinionConfig {
        let mut c = MinionConfig::defaults(self.dir());
        c.id = id.to_string();
        c.pki_dir = self.dir().join("pki").join(pki_name);
        c.acceptance_wait_time = 10;
        c.random_reauth_delay = 10;
        c.heartbeat_interval = 5;
        c
    }

    fn add_minion(&mut self, id: &str, pki_name: Option<&str>) -> usize {
        let cfg = self.minion_cfg(id, pki_name.unwrap_or(id));
        let keys = pki::load_or_generate(&cfg.pki_dir, "minion").unwrap();
        let mut m = Minion::new(cfg, keys, None, false);
        m.reseed(self.seed.wrapping_add(2 + self.minions.len() as u64));
        m.start(self.now());
        self.minions.push(m);
        self.read.push(Vec::new());
        self.cut.push(false);
        self.minions.len() - 1
    }

    fn now(&self) -> Now {
        Now {
            wall: self.base.wall + self.clock,
            mono: self.base.mono + self.clock,
        }
    }

    /// Moves every message until nothing is in flight.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..self.minions.len() {
                for a in self.minions[i].take_actions() {
                    match a {
                        Action::Send(b) => self.to_master.push((i, b)),
                        Action::Publication(v) => self.read[i].push(v),
                        _ => {}
                    }
                }
            }
            for (i, b) in std::mem::take(&mut self.to_master) {
                moved = true;
                if self.cut[i] {
                    continue;
                }
                if self.drop_next > 0 {
                    self.drop_next -= 1;
                    continue;
                }
                self.seen_requests.push((i, b.clone()));
                if let Ok(brine::proto::Request::Auth { .. }) = brine::proto::decode(&b) {
                    self.auth_at.push((self.clock, i));
                }
                let identity = (i as u32).to_be_bytes();
                let now = self.now();
                self.master.handle(
                    now,
                    Input::Request {
                        identity: &identity,
                        payload: &b,
                    },
                );
            }
            for out in self.master.take_zmq() {
                moved = true;
                let now = self.now();
                match out {
                    ZOut::Reply { identity, payload } => {
                        let i = u32::from_be_bytes(identity[..4].try_into().unwrap()) as usize;
                        if !self.cut[i] {
                            self.minions[i].handle(now, MInput::Reply(&payload));
                        }
                    }
                    ZOut::Publish(p) => {
                        self.seen_pubs.push(p.clone());
                        for (i, m) in self.minions.iter_mut().enumerate() {
                            if !self.cut[i] {
                                m.handle(now, MInput::Publication(&p));
                            }
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network never settled");
    }

    /// Advances virtual time, firing due timers, and pumps.
    fn advance(&mut self, by: Duration) {
        let end = self.clock + by;
        loop {
            let next = self
                .minions
                .iter()
                .filter_map(|m| m.next_timeout())
                .chain(self.master.next_timeout())
                .min()
                .map(|at| at.saturating_duration_since(self.base.mono));
            match next {
                Some(t) if t <= end => {
                    self.clock = self.clock.max(t);
                    let now = self.now();
                    for m in &mut self.minions {
                        m.handle(now, MInput::Tick);
                    }
                    self.master.handle(now, Input::Tick);
                    self.pump();
                }
                _ => break,
            }
        }
        self.clock = end;
        self.pump();
    }

    /// Events the master fired since the last call.
    fn events(&mut self) -> Vec<(String, Value)> {
        let mut r = FrameReader::new(1 << 22);
        let bus = self.master.bus();
        r.extend(&bus.take_output(LISTENER, SystemTime::now()));
        let mut out = Vec::new();
        while let Some(Next::Frame(k, p)) = r.next_frame() {
            let p = match k {
                kind::SEQ_EVENT => brine::wire::split_seq(p).unwrap().1,
                kind::EVENT => p,
                _ => continue,
            };
            let ev = Event::decode(p, 1 << 22).unwrap();
            out.push((ev.tag().to_string(), Value::Object(ev.value().unwrap())));
        }
        out
    }
}

fn count(events: &[(String, Value)], tag: &str) -> usize {
    events.iter().filter(|(t, _)| t == tag).count()
}

#[test]
fn a_hundred_minions_authenticate_and_fire_start_events() {
    let mut net = Net::new(100, |_| {});
    net.pump();
    assert!(net.minions.iter().all(|m| m.is_accepted()));
    let ev = net.events();
    assert_eq!(count(&ev, "salt/auth"), 100);
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(t, _)| t.starts_with("salt/minion/") && t.ends_with("/start"))
        .map(|(_, d)| d)
        .collect();
    assert_eq!(starts.len(), 100);
    assert_eq!(starts[0]["cmd"], "_minion_event");
    assert!(starts[0]["data"].as_str().unwrap().starts_with("Minion m"));
    assert_eq!(
        count(&ev, "minion_start"),
        100,
        "legacy start events are on by default"
    );
}

#[test]
fn lost_auth_messages_are_retried_after_auth_timeout() {
    let mut net = Net::new(0, |_| {});
    net.drop_next = 2;
    net.add_minion("m0", None);
    net.pump();
    assert!(!net.minions[0].is_accepted());
    net.advance(Duration::from_secs(5));
    assert!(!net.minions[0].is_accepted(), "second try lost too");
    net.advance(Duration::from_secs(5));
    assert!(net.minions[0].is_accepted());
}

#[test]
fn a_minion_cannot_send_as_another() {
    let mut net = Net::new(2, |_| {});
    net.pump();
    net.events();
    // m1 builds a sealed request claiming to be m0: the master opens it with m0's key.
    net.minions[1].fire_master("evil/tag", json!({"x": 1}));
    let (_, mut bytes) = {
        let Some(Action::Send(b)) = net.minions[1].take_actions().into_iter().next() else {
            panic!()
        };
        (1, b)
    };
    let mut req: brine::proto::Request = brine::proto::decode(&bytes).unwrap();
    if let brine::proto::Request::Sealed { id, .. } = &mut req {
        *id = "m0".into();
    }
    bytes = brine::proto::encode(&req);
    let now = net.now();
    net.master.handle(
        now,
        Input::Request {
            identity: b"x",
            payload: &bytes,
        },
    );
    assert_eq!(
        net.master.auth().unwrap().refusals.forged + net.master.auth().unwrap().refusals.no_session,
        1
    );
    assert_eq!(count(&net.events(), "evil/tag"), 0);
    // Nor fire, under its own session, the events of another: a return of m0's or a key
    // event. They are refused and counted; its own events pass.
    net.master.take_zmq(); // the refusal sent to the made-up identity
    net.minions[1].fire_master(
        "salt/job/20260101000000000000/ret/m0",
        json!({"return": "x"}),
    );
    net.minions[1].fire_master("salt/key", json!({"act": "accept", "id": "m9"}));
    net.minions[1].fire_master("salt/minion/m1/custom", json!({}));
    net.pump();
    let ev = net.events();
    assert_eq!(count(&ev, "salt/job/20260101000000000000/ret/m0"), 0);
    assert_eq!(count(&ev, "salt/key"), 0);
    assert_eq!(count(&ev, "salt/minion/m1/custom"), 1);
    assert_eq!(net.master.auth().unwrap().refusals.foreign, 2);
}

#[test]
fn a_replayed_request_is_refused() {
    let mut net = Net::new(1, |_| {});
    net.pump();
    net.events();
    net.minions[0].fire_master("once/only", json!({}));
    net.pump();
    assert_eq!(count(&net.events(), "once/only"), 1);
    let (_, last) = net.seen_requests.last().cloned().unwrap();
    let now = net.now();
    net.master.handle(
        now,
        Input::Request {
            identity: b"x",
            payload: &last,
        },
    );
    assert_eq!(net.master.auth().unwrap().refusals.replayed, 1);
    assert_eq!(count(&net.events(), "once/only"), 0);
    // The request's own ciphertext sent back to the minion is not the master's answer.
    let Ok(brine::proto::Request::Sealed { ctr, data, .. }) = brine::proto::decode(&last) else {
        panic!("a sealed request")
    };
    let reflected = brine::proto::encode(&brine::proto::Reply::Sealed { ctr, data });
    let before = net.minions[0].drops.malformed;
    let now = net.now();
    net.minions[0].handle(now, MInput::Reply(&reflected));
    assert_eq!(net.minions[0].drops.malformed, before + 1);
}

#[test]
fn forged_and_replayed_publications_are_dropped() {
    let mut net = Net::new(1, |_| {});
    net.pump();
    net.master.publish(&json!({"fun": "test.ping"}));
    net.pump();
    let good = net.seen_pubs.last().cloned().unwrap();
    // Replay: same serial again.
    let now = net.now();
    net.minions[0].handle(now, MInput::Publication(&good));
    assert_eq!(net.minions[0].drops.replayed, 1);
    // Forgery: a valid-looking publication signed by another key.
    let other = tempfile::tempdir().unwrap();
    let keys = pki::load_or_generate(other.path(), "master").unwrap();
    let store = KeyStore::open(other.path()).unwrap();
    let (policy, _) = AuthPolicy::load(true, false, None, None, 0);
    let mut evil = Auth::new(keys, store, policy, false);
    let forged = evil.publish(&json!({"fun": "cmd.run", "arg": ["rm -rf /"]}));
    net.minions[0].handle(now, MInput::Publication(&forged));
    assert_eq!(net.minions[0].drops.forged, 1);
    // Tampering with a real one breaks the signature too.
    let mut p: brine::proto::Publication = brine::proto::decode(&good).unwrap();
    p.serial += 100;
    net.minions[0].handle(now, MInput::Publication(&brine::proto::encode(&p)));
    assert_eq!(net.minions[0].drops.forged, 2);
}

#[test]
fn a_deleted_minion_cannot_read_publications_and_is_refused() {
    let mut net = Net::new(2, |c| c.auto_accept = false);
    net.pump();
    assert!(net.minions.iter().all(|m| !m.is_accepted()), "pending");
    wheel(&mut net, "wheel.key.accept", json!({"match": "*"}));
    net.advance(Duration::from_secs(11));
    assert!(net.minions.iter().all(|m| m.is_accepted()));
    net.events();
    net.master.publish(&json!({"n": 0}));
    net.pump();
    assert_eq!(net.read, vec![vec![json!({"n": 0})]; 2]);
    let old_pub = net
        .seen_pubs
        .last()
        .cloned()
        .expect("a publication before the rotation");
    wheel(&mut net, "wheel.key.delete", json!({"match": "m1"}));
    let ev = net.events();
    let key_ev: Vec<&Value> = ev
        .iter()
        .filter(|(t, _)| t == "salt/key")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(key_ev.len(), 1);
    assert_eq!(key_ev[0]["act"], "delete");
    assert_eq!(key_ev[0]["id"], "m1");
    // The next publication is under a new key: m0 holds it, re-auths and then reads it (as
    // Salt does, so the first job after a rotation is not lost); m1 cannot get the key any
    // more (its re-auth makes its key pending again) and never reads it.
    net.read = vec![Vec::new(); 2];
    net.master.publish(&json!({"n": 1}));
    net.pump();
    net.advance(Duration::from_secs(12));
    assert!(net.minions[0].is_accepted());
    assert_eq!(net.read[0], vec![json!({"n": 1})]);
    assert!(net.read[1].is_empty());
    net.master.publish(&json!({"n": 2}));
    net.pump();
    assert_eq!(net.read[0], vec![json!({"n": 1}), json!({"n": 2})]);
    assert!(net.read[1].is_empty());
    assert!(
        !net.minions[1].is_accepted(),
        "the deleted minion has no session"
    );
    let ev = net.events();
    let auths: Vec<(String, String)> = ev
        .iter()
        .filter(|(t, _)| t == "salt/auth")
        .map(|(_, d)| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["act"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(auths.contains(&("m0".into(), "accept".into())), "{auths:?}");
    assert!(
        !auths.contains(&("m1".into(), "accept".into())),
        "{auths:?}"
    );
    assert!(
        auths.contains(&("m1".into(), "pend".into())),
        "a deleted key comes back as new: {auths:?}"
    );
    // A publication from before the rotation, replayed, is counted as a replay and does
    // not send m0 into another re-auth.
    let replayed = net.minions[0].drops.replayed;
    let now = net.now();
    net.minions[0].handle(now, MInput::Publication(&old_pub));
    assert_eq!(net.minions[0].drops.replayed, replayed + 1);
    net.advance(Duration::from_secs(12));
    let again = net
        .events()
        .iter()
        .filter(|(t, d)| t == "salt/auth" && d["id"] == "m0")
        .count();
    assert_eq!(again, 0, "no re-auth for a replayed old publication");
    assert_eq!(net.read[0].len(), 2);
}

#[test]
fn accepting_a_denied_key_ends_the_old_keys_session() {
    let mut net = Net::new(1, |_| {});
    net.pump();
    assert!(net.minions[0].is_accepted());
    // Another machine shows up as m0 with a new key: denied.
    let imp = net.add_minion("m0", Some("m0-new"));
    net.pump();
    assert!(!net.minions[imp].is_accepted());
    net.events();
    let kid = |p: &Vec<u8>| {
        brine::proto::decode::<brine::proto::Publication>(p)
            .unwrap()
            .kid
    };
    net.master.publish(&json!({"n": 0}));
    net.pump();
    let kid_before = kid(net.seen_pubs.last().unwrap());
    wheel(
        &mut net,
        "wheel.key.accept",
        json!({"match": "m0", "include_denied": true}),
    );
    let ev = net.events();
    assert!(ev
        .iter()
        .any(|(t, d)| t == "salt/key" && d["act"] == "accept"));
    // The old key's holder has no session any more, and the publication key rotated.
    let refused = net.master.auth().unwrap().refusals.no_session;
    net.minions[0].fire_master("still/here", json!({}));
    net.pump();
    assert_eq!(net.master.auth().unwrap().refusals.no_session, refused + 1);
    assert_eq!(count(&net.events(), "still/here"), 0);
    net.read = vec![Vec::new(); 2];
    net.master.publish(&json!({"n": 1}));
    net.pump();
    net.advance(Duration::from_secs(25));
    assert_ne!(kid(net.seen_pubs.last().unwrap()), kid_before, "rotated");
    assert!(net.read[0].is_empty(), "the replaced key reads nothing");
    assert!(!net.minions[0].is_accepted());
}

#[test]
fn a_replayed_or_forged_auth_request_does_not_end_a_minions_session() {
    let mut net = Net::new(1, |c| c.publish_session = 30);
    net.pump();
    assert!(net.minions[0].is_accepted());
    let auth = net
        .seen_requests
        .iter()
        .find(|(_, b)| {
            matches!(
                brine::proto::decode::<brine::proto::Request>(b),
                Ok(brine::proto::Request::Auth { .. })
            )
        })
        .map(|(_, b)| b.clone())
        .expect("m0's auth request");
    net.events();
    // Anyone can send m0's (public) auth request again; the master answers it, but the
    // session it makes is only usable with m0's secret key, so m0's own stays.
    for _ in 0..3 {
        let now = net.now();
        net.master.handle(
            now,
            Input::Request {
                identity: &7u32.to_be_bytes(),
                payload: &auth,
            },
        );
        net.master.take_zmq();
    }
    net.minions[0].fire_master("still/mine", json!({}));
    net.pump();
    let ev = net.events();
    assert_eq!(count(&ev, "still/mine"), 1);
    assert_eq!(
        count(&ev, "salt/auth"),
        0,
        "a replayed auth request is refused outright"
    );
    assert_eq!(net.master.auth().unwrap().refusals.replayed, 3);
    assert_eq!(net.master.auth().unwrap().refusals.no_session, 0);
    // A real re-auth by m0 (after the publish_session rotation) switches it to its new
    // session.
    net.advance(Duration::from_secs(31));
    net.master.publish(&json!({"n": 1}));
    net.pump();
    net.advance(Duration::from_secs(12));
    assert_eq!(net.read[0], vec![json!({"n": 1})]);
    net.minions[0].fire_master("after/reauth", json!({}));
    net.pump();
    assert_eq!(count(&net.events(), "after/reauth"), 1);
}

#[test]
fn a_minion_that_died_without_goodbye_stops_counting_against_max_minions() {
    // Salt refuses a new minion when more than max_minions are connected.
    let mut net = Net::new(2, |c| {
        c.max_minions = 1;
        c.presence_timeout = 30;
    });
    net.pump();
    assert!(net.minions.iter().all(|m| m.is_accepted()));
    let third = net.add_minion("m2", None);
    net.pump();
    assert!(
        !net.minions[third].is_accepted(),
        "full while m0 and m1 are there"
    );
    // m0 vanishes (no goodbye); once it has been silent past presence_timeout, m2 gets in.
    net.cut[0] = true;
    net.advance(Duration::from_secs(45));
    assert!(net.minions[third].is_accepted());
    // After an hour of silence its session is forgotten altogether.
    assert!(net
        .master
        .auth()
        .unwrap()
        .connected()
        .any(|(id, _)| id == "m0"));
    net.advance(Duration::from_secs(3700));
    assert!(!net
        .master
        .auth()
        .unwrap()
        .connected()
        .any(|(id, _)| id == "m0"));
    assert!(net
        .master
        .auth()
        .unwrap()
        .connected()
        .any(|(id, _)| id == "m1"));
}

fn wheel(net: &mut Net, fun: &str, kwarg: Value) {
    let req = brine::bus::Request {
        fun: fun.into(),
        arg: vec![],
        kwarg: kwarg.as_object().cloned().unwrap(),
        user: None,
        send_return: false,
    };
    let payload = rmp_serde::to_vec_named(&req).unwrap();
    let now = net.now();
    net.master.handle(
        now,
        Input::Client(ClientInput::Frame {
            id: LISTENER,
            kind: kind::REQUEST,
            payload: &payload,
        }),
    );
    // Drop the answer frame from the listener's buffer along with events.
}

#[test]
fn minions_reauth_after_a_master_restart() {
    let mut net = Net::new(10, |_| {});
    net.pump();
    net.events();
    // A new master core with the same keys and store: sessions are gone.
    let cfg = net.master.config().clone();
    let keys = pki::load_or_generate(&cfg.pki_dir, "master").unwrap();
    let store = KeyStore::open(&cfg.pki_dir).unwrap();
    let (policy, _) = AuthPolicy::load(true, false, None, None, 0);
    let auth = Auth::new(keys, store, policy, true);
    net.master = Master::new(cfg, Some(auth));
    net.master.reseed(net.seed.wrapping_add(1 << 32));
    let now = net.now();
    net.master.start(now);
    net.master.handle(
        now,
        Input::Client(ClientInput::Opened {
            id: LISTENER,
            pid: 0,
        }),
    );
    let sub = brine::bus::subscribe_payload(brine::matcher::MatchType::StartsWith, "");
    net.master.handle(
        now,
        Input::Client(ClientInput::Frame {
            id: LISTENER,
            kind: kind::SUBSCRIBE,
            payload: &sub,
        }),
    );
    // Within one heartbeat interval every minion is refused and re-auths.
    net.advance(Duration::from_secs(6));
    assert!(net.minions.iter().all(|m| m.is_accepted()));
    let ev = net.events();
    assert_eq!(count(&ev, "salt/auth"), 10);
    assert_eq!(
        ev.iter().filter(|(t, _)| t.ends_with("/start")).count(),
        0,
        "start events fire once per minion process, not per master restart"
    );
    // And they work: an event goes through.
    net.minions[3].fire_master("after/restart", json!({"ok": true}));
    net.pump();
    let ev = net.events();
    let d = &ev.iter().find(|(t, _)| t == "after/restart").unwrap().1;
    assert_eq!(d["id"], "m3");
    assert_eq!(d["data"]["ok"], true);
    let _ = Instant::now();
}

#[test]
fn a_flood_of_new_ids_writes_a_bounded_number_of_key_files() {
    let mut net = Net::new(0, |c| c.auto_accept = false);
    let dir = tempfile::tempdir().unwrap();
    let keys = pki::load_or_generate(dir.path(), "minion").unwrap();
    let public = keys.public.to_pem();
    let auth = |id: String| {
        brine::proto::encode(&brine::proto::Request::Auth {
            id,
            public: public.clone(),
            nonce: brine::proto::serde_bytes_compat::Bytes(vec![0; 16]),
        })
    };
    let flood = |net: &mut Net, ids: std::ops::Range<u32>| {
        let now = net.now();
        for i in ids {
            net.master.handle(
                now,
                Input::Request {
                    identity: b"flood",
                    payload: &auth(format!("flood{i}")),
                },
            );
            net.master.take_zmq();
        }
        std::fs::read_dir(net.dir().join("pki/master/minions_pre"))
            .unwrap()
            .count()
    };
    net.events();
    assert_eq!(flood(&mut net, 0..2500), 2000, "the burst, then nothing");
    assert_eq!(net.master.auth().unwrap().refusals.throttled, 500);
    assert_eq!(
        count(&net.events(), "salt/auth"),
        2000,
        "no events for put-off attempts"
    );
    // The budget refills with time: a second later 200 more get in.
    net.clock += Duration::from_secs(1);
    assert_eq!(flood(&mut net, 2500..2800), 2200);
}

/// The re-auths after a key rotation, each after a random delay: when each came.
fn reauth_times(seed: u64) -> Vec<(Duration, usize)> {
    let mut net = Net::with_seed(8, seed, |_| {});
    net.pump();
    assert!(net.minions.iter().all(|m| m.is_accepted()));
    net.auth_at.clear();
    wheel(&mut net, "wheel.key.delete", json!({"match": "m7"}));
    net.master.publish(&json!({"n": 1}));
    net.pump();
    net.advance(Duration::from_secs(12));
    assert!(net.minions[..7].iter().all(|m| m.is_accepted()));
    std::mem::take(&mut net.auth_at)
}

#[test]
fn a_run_replays_from_its_seed() {
    let seed = seed();
    let first = reauth_times(seed);
    assert!(first.len() >= 7, "every minion re-authenticated: {first:?}");
    assert_eq!(reauth_times(seed), first, "seed {seed}");
    let others: Vec<_> = (1..4)
        .map(|k| reauth_times(seed.wrapping_add(k * 7919)))
        .collect();
    assert!(
        others.iter().any(|o| *o != first),
        "another seed, other delays (seed {seed})"
    );
}
