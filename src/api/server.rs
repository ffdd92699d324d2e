//! The API core: routes a parsed request to what it needs from the master and answers it,
//! without I/O. It takes requests, master answers, eauth results, events and the time, and
//! hands back [`Out`]s for the loop (`io::api_loop`) to carry out.
//!
//! Every request is authenticated and authorized here, before anything is dispatched to the
//! master, for every client (Salt left that to each client path, which is how
//! CVE-2021-25281 and CVE-2020-25592 happened).

use super::acl::{self, Acl};
use super::body::{self, Format};
use super::config::{ApiConfig, CLIENTS};
use super::http::{Request, Response};
use super::{flow, hook, routes};
use crate::bus;
use crate::clock::Now;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

/// A request the loop is waiting to answer (unique for the daemon's life).
pub type ReqId = u64;
/// Something the core asked the loop to do that will be answered (a call, an eauth).
pub type OpId = u64;

/// How long a token looked up at the master is trusted before it is looked up again (a
/// token revoked through another brine-api stops working within this).
const TOKEN_CACHE: Duration = Duration::from_secs(2);
/// Most tokens cached.
const TOKEN_CACHE_MAX: usize = 100_000;
/// How long job returns are kept for a `local` call whose publish answer is still on its way.
const EARLY_RETURNS: Duration = Duration::from_secs(10);
/// Most returns kept that way.
const EARLY_RETURNS_MAX: usize = 10_000;
/// A failed login is answered this long after it arrived (or when its eauth ends, if that
/// takes longer), so an unknown user, a wrong password and a slow hash look alike from
/// outside (Salt's `time_auth` pads the same way).
pub(super) const FAILED_LOGIN_FLOOR: Duration = Duration::from_millis(500);

/// A request as the loop hands it in.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// Its id, to answer it by.
    pub id: ReqId,
    /// The request.
    pub req: Request,
    /// The client's address.
    pub peer: String,
}

/// An `/events` stream's terms, for the loop that feeds it.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSpec {
    /// The token it was opened with (a logout ends it).
    pub token: String,
    /// When the token expires (Unix seconds): the stream ends then.
    pub expire: f64,
    /// Tag globs the user may see (None: every event, as Salt).
    pub patterns: Option<Vec<String>>,
}

/// What the core asks the loop to do.
#[derive(Debug)]
pub enum Out {
    /// Answer a request.
    Respond(ReqId, Response),
    /// Answer a request after a delay (failed logins).
    RespondLater(ReqId, Response, Duration),
    /// Turn a request into an `/events` stream: write this head, then events.
    Stream(ReqId, Response, StreamSpec),
    /// Fire an event on the master's bus.
    Fire(String, Map<String, Value>),
    /// Call the master; answer with [`Api::on_answer`].
    Call(OpId, bus::Request),
    /// Authenticate off the loop; answer with [`Api::on_auth`].
    Authenticate(OpId, String, String, String),
    /// Read a file off the loop and answer the request with it (or 404); with a root, the
    /// file's real path (symlinks resolved) must stay under it.
    ServeFile(
        ReqId,
        std::path::PathBuf,
        Option<std::path::PathBuf>,
        &'static str,
    ),
    /// End the streams opened with this token.
    EndStreams(String),
}

/// A logged-in user, as the token holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The token.
    pub token: String,
    /// The user name.
    pub name: String,
    /// The eauth backend.
    pub eauth: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// When it was made (Unix seconds).
    pub start: f64,
    /// When it expires (Unix seconds).
    pub expire: f64,
}

impl Session {
    /// Reads the token data the master keeps.
    pub fn from_data(token: &str, d: &Value) -> Option<Session> {
        Some(Session {
            token: token.to_string(),
            name: d.get("name")?.as_str()?.to_string(),
            eauth: d.get("eauth")?.as_str()?.to_string(),
            groups: d
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| {
                    g.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            start: d.get("start").and_then(Value::as_f64).unwrap_or(0.0),
            expire: d.get("expire")?.as_f64()?,
        })
    }

    /// The token data to store.
    pub fn to_data(&self) -> Value {
        json!({"start": self.start, "expire": self.expire, "name": self.name,
               "eauth": self.eauth, "groups": self.groups})
    }
}

/// A cached token lookup.
struct Cached {
    session: Option<Session>,
    at: Instant,
}

/// What an operation in flight continues with.
pub(super) enum Pending {
    /// A token lookup; the requests and flows parked on it.
    Token(String),
    /// A login's eauth.
    LoginAuth(routes::LoginWait),
    /// A login's token being stored.
    LoginStore(ReqId, Format, Session),
    /// `/token`'s token being stored (the bare-list answer).
    TokenStore(ReqId, Format, Session),
    /// A logout's token being removed.
    Logout(ReqId, Format),
    /// A step of a lowstate flow.
    Flow(u64, flow::Step),
    /// The master's metrics, for `/metrics` (true) or `/stats` (false).
    Metrics(ReqId, bool),
    /// An answer nobody waits for (runner_async's).
    Ignore,
}

/// Which answer shape a stored token gets.
enum Kind {
    Token,
    Other,
}

/// What waits for a token lookup.
pub(super) enum Parked {
    /// A whole request, handled again once the token is known.
    Request(Incoming),
    /// A flow's chunk, stepped again.
    Flow(u64),
}

/// brine-api's own counters.
#[derive(Default, Debug)]
pub struct Stats {
    /// Requests answered, by endpoint and status.
    pub requests: HashMap<(&'static str, u16), u64>,
    /// Events fired by webhooks.
    pub hooks: u64,
    /// `/events` streams open.
    pub sse_clients: u64,
    /// Events `/events` clients lost by falling behind.
    pub sse_lost: u64,
    /// Logins refused.
    pub login_failures: u64,
}

/// The API core.
pub struct Api {
    pub(super) cfg: ApiConfig,
    pub(super) acl: Acl,
    next_op: OpId,
    next_flow: u64,
    tokens: HashMap<String, Cached>,
    pub(super) parked: HashMap<String, Vec<Parked>>,
    pub(super) ops: HashMap<OpId, Pending>,
    pub(super) flows: HashMap<u64, flow::Flow>,
    /// `local` calls waiting for returns: jid → flow.
    pub(super) waits: HashMap<String, u64>,
    /// Job returns seen lately: (when, jid, minion, data).
    early: VecDeque<(Instant, String, String, Map<String, Value>)>,
    pub(super) jids: crate::jobs::JidGen,
    /// The endpoint each request in flight is counted under.
    endpoints: HashMap<ReqId, &'static str>,
    /// The counters.
    pub stats: Stats,
    /// Whether the loop is connected to the master's bus (hooks answer 503 when not).
    pub master_up: bool,
    pub(super) out: Vec<Out>,
}

/// A 40- or 64-character lowercase hex token, as Salt and brine make them.
pub fn token_shaped(t: &str) -> bool {
    (t.len() == 64 || t.len() == 40) && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Seconds since the epoch, as Salt's `time.time()`.
pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Api {
    /// A core for this configuration.
    pub fn new(cfg: ApiConfig) -> Result<Api, String> {
        let acl = Acl::parse(&cfg.external_auth, cfg.permissive_acl).map_err(|e| e.to_string())?;
        Ok(Api {
            cfg,
            acl,
            next_op: 1,
            next_flow: 1,
            tokens: HashMap::new(),
            parked: HashMap::new(),
            ops: HashMap::new(),
            flows: HashMap::new(),
            waits: HashMap::new(),
            early: VecDeque::new(),
            jids: crate::jobs::JidGen::new(),
            endpoints: HashMap::new(),
            stats: Stats::default(),
            master_up: true,
            out: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    /// Takes what the core asked for since the last call.
    pub fn take_out(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    pub(super) fn op(&mut self, p: Pending) -> OpId {
        let id = self.next_op;
        self.next_op += 1;
        self.ops.insert(id, p);
        id
    }

    pub(super) fn call(&mut self, p: Pending, req: bus::Request) {
        let id = self.op(p);
        self.out.push(Out::Call(id, req));
    }

    pub(super) fn new_flow(&mut self, f: flow::Flow) -> u64 {
        let id = self.next_flow;
        self.next_flow += 1;
        self.flows.insert(id, f);
        id
    }

    /// Answers a request, counting it.
    pub(super) fn respond(&mut self, id: ReqId, resp: Response) {
        let ep = self.endpoints.remove(&id).unwrap_or("other");
        *self.stats.requests.entry((ep, resp.status)).or_default() += 1;
        self.out.push(Out::Respond(id, resp));
    }

    /// A file read off the loop is ready.
    pub fn respond_file(&mut self, id: ReqId, resp: Response) {
        self.respond(id, resp);
    }

    /// Answers with a value in the request's format.
    pub(super) fn respond_value(&mut self, id: ReqId, status: u16, format: Format, v: &Value) {
        let (bytes, ct) = body::write(format, v);
        self.respond(id, Response::new(status, ct, bytes));
    }

    /// A request arrives.
    pub fn on_request(&mut self, inc: Incoming, now: Now) {
        let ep = routes::endpoint(&self.cfg, &inc.req.path);
        self.endpoints.entry(inc.id).or_insert(ep);
        routes::handle(self, inc, now);
    }

    /// The session a request carries (header `X-Auth-Token` or cookie `session_id`):
    /// `Ok(None)` when it is being looked up (the request is parked and handled again).
    pub(super) fn session_of(
        &mut self,
        inc: &Incoming,
        now: Now,
    ) -> Result<Option<Session>, Response> {
        let token = inc
            .req
            .header("x-auth-token")
            .or_else(|| inc.req.cookie("session_id"))
            .map(str::to_string);
        let Some(token) = token else {
            return Err(Response::error(401, "No authentication credentials given"));
        };
        self.lookup(&token, Parked::Request(inc.clone()), now)
            .map_err(|_| Response::error(401, "Invalid token"))
    }

    /// A token's session: `Ok(None)` when it is being looked up at the master (`park` waits
    /// for it), `Err` when it is not valid.
    pub(super) fn lookup(
        &mut self,
        token: &str,
        park: Parked,
        now: Now,
    ) -> Result<Option<Session>, ()> {
        if !token_shaped(token) {
            return Err(());
        }
        if let Some(c) = self.tokens.get(token) {
            if now.mono.saturating_duration_since(c.at) < TOKEN_CACHE {
                return match &c.session {
                    // Expiry is checked on every use, not only at the master.
                    Some(s) if s.expire > unix(now.wall) => Ok(Some(s.clone())),
                    _ => Err(()),
                };
            }
        }
        let first = !self.parked.contains_key(token);
        self.parked.entry(token.to_string()).or_default().push(park);
        if first {
            let mut kwarg = Map::new();
            kwarg.insert("token".into(), json!(token));
            self.call(
                Pending::Token(token.to_string()),
                master_request("token.get", kwarg, None),
            );
        }
        Ok(None)
    }

    fn cache_token(&mut self, token: &str, session: Option<Session>, at: Instant) {
        if self.tokens.len() >= TOKEN_CACHE_MAX {
            let stale: Vec<String> = self
                .tokens
                .iter()
                .filter(|(_, c)| at.saturating_duration_since(c.at) >= TOKEN_CACHE)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                self.tokens.remove(&k);
            }
            if self.tokens.len() >= TOKEN_CACHE_MAX {
                self.tokens.clear();
            }
        }
        self.tokens
            .insert(token.to_string(), Cached { session, at });
    }

    /// Forgets a token here (a logout).
    pub(super) fn forget_token(&mut self, token: &str, now: Now) {
        self.cache_token(token, None, now.mono);
        self.out.push(Out::EndStreams(token.to_string()));
    }

    /// A session just made here, known without asking the master.
    pub(super) fn remember(&mut self, s: &Session, now: Now) {
        let t = s.token.clone();
        self.cache_token(&t, Some(s.clone()), now.mono);
    }

    /// The master answered a call (or the call failed: `Err` with why).
    pub fn on_answer(&mut self, op: OpId, answer: Result<bus::Answer, String>, now: Now) {
        let Some(p) = self.ops.remove(&op) else {
            return;
        };
        let p_kind = if matches!(p, Pending::TokenStore(..)) {
            Kind::Token
        } else {
            Kind::Other
        };
        match p {
            Pending::Token(token) => {
                let session = match &answer {
                    Ok(a) if a.success => Session::from_data(&token, &a.ret),
                    _ => None,
                };
                if let Err(e) = &answer {
                    log::warn!("token lookup: the master did not answer: {e}");
                }
                self.cache_token(&token, session, now.mono);
                for parked in self.parked.remove(&token).unwrap_or_default() {
                    match parked {
                        Parked::Request(inc) => routes::handle(self, inc, now),
                        Parked::Flow(f) => flow::step(self, f, now),
                    }
                }
            }
            Pending::LoginStore(id, format, s) | Pending::TokenStore(id, format, s) => {
                let bare = matches!(p_kind, Kind::Token);
                match answer {
                    Ok(a) if a.success => {
                        self.remember(&s, now);
                        routes::logged_in(self, id, format, &s, bare);
                    }
                    Ok(a) => {
                        log::error!("the master refused to store a token: {}", a.ret);
                        self.respond(
                            id,
                            Response::error(503, "the master could not store the token"),
                        );
                    }
                    Err(e) => {
                        log::error!("the master did not store a token: {e}");
                        self.respond(id, Response::error(503, "the master is not answering"));
                    }
                }
            }
            Pending::Logout(id, format) => {
                let _ = answer;
                self.respond_value(
                    id,
                    200,
                    format,
                    &json!({"return": "Your token has been cleared"}),
                );
            }
            Pending::LoginAuth(..) => {}
            Pending::Flow(f, step) => flow::answered(self, f, step, answer, now),
            Pending::Metrics(id, prometheus) => {
                routes::metrics_answered(self, id, prometheus, answer)
            }
            Pending::Ignore => {}
        }
    }

    /// An eauth finished.
    pub fn on_auth(&mut self, op: OpId, result: Result<super::eauth::Identity, String>, now: Now) {
        let Some(p) = self.ops.remove(&op) else {
            return;
        };
        match p {
            Pending::LoginAuth(w) => routes::login_authenticated(self, w, result, now),
            Pending::Flow(f, step) => flow::authenticated(self, f, step, result, now),
            _ => {}
        }
    }

    /// Answers a request after `wait`, counting it.
    pub(super) fn respond_later(&mut self, id: ReqId, resp: Response, wait: Duration) {
        let ep = self.endpoints.remove(&id).unwrap_or("other");
        *self.stats.requests.entry((ep, resp.status)).or_default() += 1;
        self.out.push(Out::RespondLater(id, resp, wait));
    }

    /// A failed login, answered late.
    pub(super) fn refuse_login(&mut self, id: ReqId, started: Instant, now: Now) {
        self.stats.login_failures += 1;
        let ep = self.endpoints.remove(&id).unwrap_or("login");
        *self.stats.requests.entry((ep, 401)).or_default() += 1;
        let wait = (started + FAILED_LOGIN_FLOOR).saturating_duration_since(now.mono);
        self.out.push(Out::RespondLater(
            id,
            Response::error(401, "Could not authenticate using provided credentials"),
            wait,
        ));
    }

    /// An event from the master's bus: job returns feed the `local` calls waiting for them.
    pub fn on_event(&mut self, tag: &str, data: &Map<String, Value>, now: Now) {
        let Some(rest) = tag.strip_prefix("salt/job/") else {
            return;
        };
        let Some((jid, id)) = rest.split_once("/ret/") else {
            return;
        };
        match self.waits.get(jid).copied() {
            Some(f) => flow::job_return(self, f, id, data, now),
            None => {
                let at = now.mono;
                while self
                    .early
                    .front()
                    .is_some_and(|(t, ..)| at.duration_since(*t) > EARLY_RETURNS)
                    || self.early.len() >= EARLY_RETURNS_MAX
                {
                    self.early.pop_front();
                }
                self.early
                    .push_back((at, jid.to_string(), id.to_string(), data.clone()));
            }
        }
    }

    /// Returns for `jid` that arrived before its publish answer.
    pub(super) fn take_early(&mut self, jid: &str) -> Vec<(String, Map<String, Value>)> {
        let mut got = Vec::new();
        self.early.retain(|(_, j, id, d)| {
            if j == jid {
                got.push((id.clone(), d.clone()));
                false
            } else {
                true
            }
        });
        got
    }

    /// Time passes: `local` calls past their timeout answer with what they have.
    pub fn on_tick(&mut self, now: Now) {
        let due: Vec<u64> = self
            .flows
            .iter()
            .filter(|(_, f)| f.wait.as_ref().is_some_and(|w| w.deadline <= now.mono))
            .map(|(id, _)| *id)
            .collect();
        for f in due {
            flow::wait_over(self, f, now);
        }
        let late: Vec<u64> = self
            .flows
            .iter()
            .filter(|(_, f)| f.call_deadline.is_some_and(|d| d <= now.mono))
            .map(|(id, _)| *id)
            .collect();
        for f in late {
            flow::call_timed_out(self, f);
        }
    }

    /// The next time [`Api::on_tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.flows
            .values()
            .filter_map(|f| f.wait.as_ref().map(|w| w.deadline).or(f.call_deadline))
            .min()
    }

    /// The loop closed a stream.
    pub fn stream_closed(&mut self, lost: u64) {
        self.stats.sse_clients = self.stats.sse_clients.saturating_sub(1);
        self.stats.sse_lost += lost;
    }

    /// The loop's count of events streams lost while open.
    pub fn stream_lost(&mut self, lost: u64) {
        self.stats.sse_lost += lost;
    }

    /// Whether `name` is a client brine-api knows.
    pub fn known_client(name: &str) -> bool {
        CLIENTS.contains(&name)
    }

    /// The ACL entries of a session.
    pub(super) fn auth_list(&self, s: &Session) -> Vec<Value> {
        self.acl.auth_list(&s.eauth, &s.name, &s.groups)
    }

    /// The tag globs a session may stream (None: all).
    pub(super) fn event_patterns(&self, s: &Session) -> Option<Vec<String>> {
        acl::event_patterns(&self.auth_list(s))
    }

    /// Fires a webhook's event.
    pub(super) fn fire_hook(&mut self, tag: String, data: Map<String, Value>) {
        self.stats.hooks += 1;
        self.out.push(Out::Fire(tag, data));
    }

    /// The webhook's event data for a request.
    pub(super) fn hook_data(
        &self,
        inc: &Incoming,
        raw: Option<&str>,
        post: Option<Value>,
    ) -> Map<String, Value> {
        hook::data(
            raw,
            post,
            hook::headers(&inc.req, &inc.peer, &self.cfg.webhook_strip_headers),
        )
    }
}

/// A request to the master as brine-api makes them.
pub fn master_request(fun: &str, kwarg: Map<String, Value>, user: Option<&str>) -> bus::Request {
    bus::Request {
        fun: fun.to_string(),
        arg: Vec::new(),
        kwarg,
        user: user.map(str::to_string),
        send_return: false,
    }
}
