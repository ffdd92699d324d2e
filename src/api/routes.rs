//! brine-api's URLs (rest_cherrypy's): what each answers, and the session endpoints.

use super::body::{self, Format};
use super::flow::{self, Flow, Shape};
use super::http::{Request, Response};
use super::server::{
    master_request, unix, Api, Incoming, Out, Pending, ReqId, Session, StreamSpec,
};
use super::{console, hook};
use crate::clock::Now;
use serde_json::{json, Map, Value};

/// The endpoint a path is counted under in the metrics.
pub fn endpoint(cfg: &super::config::ApiConfig, path: &str) -> &'static str {
    let p = path.strip_prefix(cfg.root_prefix.as_str()).unwrap_or(path);
    let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
    if format!("/{first}") == cfg.webhook_url {
        return "hook";
    }
    if !first.is_empty() && format!("/{first}") == cfg.app_path {
        return "app";
    }
    match first {
        "" => "root",
        "login" => "login",
        "logout" => "logout",
        "token" => "token",
        "run" => "run",
        "minions" => "minions",
        "jobs" => "jobs",
        "keys" => "keys",
        "events" => "events",
        "stats" => "stats",
        "metrics" => "metrics",
        _ => "other",
    }
}

/// The CORS headers for an allowed Origin (none for any other: Salt reflects every Origin
/// together with credentials, which lets any site read the API with a user's cookie).
fn cors(api: &Api, req: &Request, mut resp: Response) -> Response {
    if let Some(origin) = req.header("origin") {
        if api.cfg.cors_origins.iter().any(|o| o == origin || o == "*") {
            resp = resp
                .with("Access-Control-Allow-Origin", origin)
                .with("Access-Control-Allow-Credentials", "true")
                .with("Vary", "Origin");
        }
    }
    resp
}

fn format_of(req: &Request) -> Option<Format> {
    body::format_for(req.header("accept"))
}

/// A percent-decoded path segment that may name a minion or a jid: no separators, no dot
/// segments, no NUL (paths built from it never leave their directory).
fn safe_segment(s: &str) -> Option<String> {
    let d = super::http::percent_decode(s, false);
    let bad =
        d.is_empty() || d == "." || d == ".." || d.contains(['/', '\\', '\0']) || d.len() > 256;
    (!bad).then_some(d)
}

/// Handles a request (again, after a token lookup parked it).
pub fn handle(api: &mut Api, inc: Incoming, now: Now) {
    let id = inc.id;
    let req = &inc.req;
    if !api.cfg.authorized_ips.is_empty()
        && !api.cfg.authorized_ips.iter().any(|ip| ip == &inc.peer)
    {
        return api.respond(id, Response::error(403, "Bad IP"));
    }
    // Decoded before routing, as CherryPy does: `/%68ook/x` is the hook, and `%2F` in a
    // hook path separates tag parts.
    let path = super::http::percent_decode(&req.path, false);
    let Some(rest) = path.strip_prefix(api.cfg.root_prefix.as_str()) else {
        return api.respond(id, Response::error(404, "Nothing matches the given URI"));
    };
    let rest = if rest.is_empty() { "/" } else { rest };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let first = segs.first().copied().unwrap_or("");
    let method = req.method.to_ascii_uppercase();
    if method == "OPTIONS" {
        let r = Response::new(200, "text/html;charset=utf-8", Vec::new())
            .with("Allow", "GET, POST, OPTIONS")
            .with("Access-Control-Allow-Methods", "GET, POST")
            .with(
                "Access-Control-Allow-Headers",
                "Content-Type, X-Auth-Token, X-Requested-With",
            )
            .with("Access-Control-Max-Age", "1400");
        let r = cors(api, req, r);
        return api.respond(id, r);
    }
    if format!("/{first}") == api.cfg.webhook_url {
        let tail = &rest[1 + first.len()..];
        return hook_request(api, inc.clone(), tail, now);
    }
    if !first.is_empty() && format!("/{first}") == api.cfg.app_path {
        return app(api, id, &segs[1..]);
    }
    if api.cfg.static_dir.is_some()
        && !first.is_empty()
        && format!("/{first}") == api.cfg.static_path
    {
        return static_file(api, id, &segs[1..]);
    }
    // The event stream and the metrics have formats of their own (EventSource sends
    // `Accept: text/event-stream`).
    let own_format = matches!(first, "events" | "metrics");
    let format = match format_of(req) {
        Some(f) => f,
        None if own_format => Format::Json,
        None => return api.respond(id, Response::error(406, "Your client does not accept any of the formats this API writes (application/json, application/x-yaml)")),
    };
    let sessions = api.cfg.enable_sessions;
    match (method.as_str(), first, segs.len()) {
        ("GET" | "HEAD", "", _) => {
            let mut clients: Vec<&String> = api
                .cfg
                .clients
                .iter()
                .filter(|c| Api::known_client(c))
                .collect();
            clients.sort();
            let v = json!({"return": "Welcome", "clients": clients});
            let (b, ct) = body::write(format, &v);
            let r = cors(api, req, Response::new(200, ct, b));
            api.respond(id, r);
        }
        ("POST", "", _) => lowstate(api, inc, format, true, now),
        ("POST", "run", 1) => lowstate(api, inc, format, false, now),
        ("GET", "login", 1) if sessions => {
            // brine's addition: with a live token it tells who is logged in (the console's
            // check, which needs no permission); without one, Salt's answer.
            let carries =
                req.header("x-auth-token").is_some() || req.cookie("session_id").is_some();
            if carries {
                match api.session_of(&inc, now) {
                    Ok(None) => return,
                    Ok(Some(s)) => return logged_in_as(api, id, format, &s),
                    Err(_) => {}
                }
            }
            let (b, ct) = body::write(format, &json!({"status": null, "return": "Please log in"}));
            let r = Response::new(200, ct, b).with("WWW-Authenticate", "Session");
            api.respond(id, r);
        }
        ("POST", "login", 1) if sessions => login(api, &inc, format, false, now),
        ("POST", "token", 1) => login(api, &inc, format, true, now),
        ("POST", "logout", 1) if sessions => logout(api, inc, format, now),
        ("GET", "minions", 1 | 2) if sessions => {
            let mid = segs.get(1).filter(|s| !s.is_empty());
            let tgt = match mid {
                Some(m) => match safe_segment(m) {
                    Some(m) => m,
                    None => return api.respond(id, Response::error(400, "bad minion id")),
                },
                None => "*".into(),
            };
            let chunk = json!({"client": "local", "tgt": tgt, "fun": "grains.items"});
            session_flow(api, inc, format, vec![chunk], Shape::Lowstate, now);
        }
        ("POST", "minions", 1) if sessions => {
            let mut chunks = parse_chunks(api, &inc);
            let Some(list) = chunks.as_mut().ok() else {
                let e = chunks.err().unwrap_or((400, String::new()));
                return api.respond(id, Response::error(e.0, &e.1));
            };
            for c in list.iter_mut() {
                if let Value::Object(m) = c {
                    m.insert("client".into(), json!("local_async"));
                }
            }
            let list = std::mem::take(list);
            session_flow(api, inc, format, list, Shape::Minions, now);
        }
        ("GET", "jobs", 1 | 2) if sessions => {
            let jid = segs.get(1).filter(|s| !s.is_empty());
            match jid {
                Some(j) => {
                    let Some(j) = safe_segment(j).filter(|j| crate::jobs::is_jid(j)) else {
                        return api.respond(id, Response::error(400, "not a job id"));
                    };
                    let chunk = json!({"client": "runner", "fun": "jobs.list_job", "jid": j});
                    session_flow(api, inc, format, vec![chunk], Shape::Job, now);
                }
                None => {
                    let chunk = json!({"client": "runner", "fun": "jobs.list_jobs"});
                    session_flow(api, inc, format, vec![chunk], Shape::Lowstate, now);
                }
            }
        }
        ("GET", "keys", 1 | 2) => {
            let mid = segs.get(1).filter(|s| !s.is_empty());
            let chunk = match mid {
                Some(m) => {
                    let Some(m) = safe_segment(m) else {
                        return api.respond(id, Response::error(400, "bad minion id"));
                    };
                    json!({"client": "wheel", "fun": "key.finger", "match": m})
                }
                None => json!({"client": "wheel", "fun": "key.list_all"}),
            };
            session_flow(api, inc, format, vec![chunk], Shape::Keys, now);
        }
        ("POST", "keys", 1) => {
            let chunks = match parse_chunks(api, &inc) {
                Ok(c) => c,
                Err((s, m)) => return api.respond(id, Response::error(s, &m)),
            };
            let first = chunks.into_iter().next().unwrap_or(Value::Null);
            let Some(mid) = first
                .get("mid")
                .and_then(Value::as_str)
                .and_then(safe_segment)
            else {
                return api.respond(
                    id,
                    Response::error(
                        400,
                        "mid is required: the id of the minion to make keys for",
                    ),
                );
            };
            let mut chunk = first.clone();
            if let Value::Object(m) = &mut chunk {
                m.insert("client".into(), json!("wheel"));
                m.insert("fun".into(), json!("key.gen_accept"));
                m.insert("id_".into(), json!(mid));
                m.remove("mid");
                if let Some(Value::String(k)) = m.get("keysize").cloned() {
                    if let Ok(n) = k.parse::<u64>() {
                        m.insert("keysize".into(), json!(n));
                    }
                }
            }
            let f = Flow::new(
                id,
                format,
                vec![chunk],
                Shape::KeysTar(mid),
                None,
                inc.peer.clone(),
            );
            let fid = api.new_flow(f);
            flow::step(api, fid, now);
        }
        ("GET", "events", 1) => events(api, inc, now),
        ("GET", "stats", 1) | ("GET", "metrics", 1) => {
            let prometheus = first == "metrics";
            if !api.cfg.collect_stats {
                return api.respond(id, Response::error(404, "collect_stats is off"));
            }
            if !api.cfg.stats_disable_auth {
                match api.session_of(&inc, now) {
                    Err(r) => return api.respond(id, r),
                    Ok(None) => return,
                    Ok(Some(_)) => {}
                }
            }
            api.call(
                Pending::Metrics(id, prometheus),
                master_request("metrics.master", Map::new(), None),
            );
        }
        (
            _,
            "" | "run" | "login" | "token" | "logout" | "minions" | "jobs" | "keys" | "events"
            | "stats" | "metrics",
            n,
        ) if (method != "GET" && method != "POST" && method != "HEAD") || n <= 1 => {
            api.respond(id, Response::error(405, "method not allowed"))
        }
        _ => api.respond(id, Response::error(404, "Nothing matches the given URI")),
    }
}

fn parse_chunks(api: &Api, inc: &Incoming) -> Result<Vec<Value>, (u16, String)> {
    let _ = api;
    let b = body::read(inc.req.header("content-type"), &inc.req.body)
        .map_err(|e| (e.status, e.message))?;
    let mut data = b.data;
    if let Some(d) = data.as_mut() {
        body::lowdata(d);
    }
    Ok(body::chunks(data.as_ref()))
}

fn lowstate(api: &mut Api, inc: Incoming, format: Format, with_session: bool, now: Now) {
    let chunks = match parse_chunks(api, &inc) {
        Ok(c) => c,
        Err((s, m)) => return api.respond(inc.id, Response::error(s, &m)),
    };
    if with_session {
        return session_flow(api, inc, format, chunks, Shape::Lowstate, now);
    }
    if chunks.is_empty() {
        return api.respond(inc.id, Response::error(400, "No lowstate chunks given"));
    }
    let f = Flow::new(
        inc.id,
        format,
        chunks,
        Shape::Lowstate,
        None,
        inc.peer.clone(),
    );
    let fid = api.new_flow(f);
    flow::step(api, fid, now);
}

/// Starts a flow with the request's session (parking the request while it is looked up).
fn session_flow(
    api: &mut Api,
    inc: Incoming,
    format: Format,
    chunks: Vec<Value>,
    shape: Shape,
    now: Now,
) {
    let s = match api.session_of(&inc, now) {
        Err(r) => return api.respond(inc.id, r),
        Ok(None) => return,
        Ok(Some(s)) => s,
    };
    if chunks.is_empty() {
        return api.respond(inc.id, Response::error(400, "No lowstate chunks given"));
    }
    let f = Flow::new(inc.id, format, chunks, shape, Some(s), inc.peer.clone());
    let fid = api.new_flow(f);
    flow::step(api, fid, now);
}

fn hook_request(api: &mut Api, inc: Incoming, tail: &str, now: Now) {
    let id = inc.id;
    if !inc.req.method.eq_ignore_ascii_case("POST") {
        return api.respond(
            id,
            Response::error(405, "The path '/hook' only accepts POST"),
        );
    }
    if !api.cfg.webhook_disable_auth {
        match api.session_of(&inc, now) {
            Err(r) => return api.respond(id, r),
            Ok(None) => return,
            Ok(Some(_)) => {}
        }
    }
    // Salt reads only a body with a Content-Length (a chunked one is no body).
    let declared = inc
        .req
        .header("content-length")
        .map(str::trim)
        .unwrap_or("0")
        != "0";
    let raw_body: &[u8] = if declared { &inc.req.body } else { &[] };
    let b = match body::read(inc.req.header("content-type"), raw_body) {
        Ok(b) => b,
        Err(e) => return api.respond(id, Response::error(e.status, &e.message)),
    };
    let mut post = b.data;
    if let Some(d) = post.as_mut() {
        body::lowdata(d);
    }
    if !api.master_up {
        return api.respond(id, Response::error(503, "the master is not running"));
    }
    let data = api.hook_data(&inc, b.raw.as_deref(), post);
    api.fire_hook(hook::tag(tail), data);
    // Salt fires first and then finds it cannot write what the client accepts.
    let Some(format) = format_of(&inc.req) else {
        return api.respond(
            id,
            Response::error(406, "Your client does not accept JSON or YAML"),
        );
    };
    api.respond_value(id, 200, format, &json!({"success": true}));
}

fn login(api: &mut Api, inc: &Incoming, format: Format, bare: bool, now: Now) {
    let id = inc.id;
    let chunks = match parse_chunks(api, inc) {
        Ok(c) => c,
        Err((s, m)) => return api.respond(id, Response::error(s, &m)),
    };
    let creds = chunks.into_iter().next().unwrap_or(Value::Null);
    let field = |k: &str| creds.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(user), Some(pass), Some(eauth)) =
        (field("username"), field("password"), field("eauth"))
    else {
        let msg = if bare {
            "Require \"username\", \"password\", and \"eauth\" params"
        } else {
            "Could not authenticate using provided credentials"
        };
        return if bare {
            api.respond(id, Response::error(400, msg))
        } else {
            api.refuse_login(id, now.mono, now)
        };
    };
    if let Some(users) = &api.cfg.api_acl {
        let ips = users.get(&user).or_else(|| users.get("*"));
        let ok = match ips {
            Some(Value::Array(list)) => list
                .iter()
                .any(|ip| ip.as_str() == Some("*") || ip.as_str() == Some(inc.peer.as_str())),
            Some(Value::String(s)) => s == "*" || *s == inc.peer,
            _ => false,
        };
        if !ok {
            return api.refuse_login(id, now.mono, now);
        }
    }
    let expire = creds.get("token_expire").and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let op = api.op(Pending::LoginAuth(LoginWait {
        id,
        format,
        bare,
        expire,
        started: now.mono,
    }));
    api.out.push(Out::Authenticate(op, eauth, user, pass));
}

/// A login waiting for its eauth.
pub struct LoginWait {
    id: ReqId,
    format: Format,
    /// `/token` (the bare-list answer) rather than `/login`.
    bare: bool,
    /// The token lifetime asked for.
    expire: Option<f64>,
    /// When the request arrived (failures are answered a fixed time after it).
    started: std::time::Instant,
}

/// Whether `user` of `eauth` may ask for its own token lifetime.
fn may_override(api: &Api, eauth: &str, user: &str) -> bool {
    match &api.cfg.token_expire_user_override {
        Value::Bool(b) => *b,
        Value::Object(m) => m
            .get(eauth)
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|u| u.as_str() == Some(user))),
        _ => false,
    }
}

/// A login's eauth finished: store the token, then answer.
pub fn login_authenticated(
    api: &mut Api,
    w: LoginWait,
    result: Result<super::eauth::Identity, String>,
    now: Now,
) {
    let LoginWait {
        id,
        format,
        bare,
        expire,
        started,
    } = w;
    let ident = match result {
        Ok(i) => i,
        Err(e) => {
            log::info!("login refused: {e}");
            return api.refuse_login(id, started, now);
        }
    };
    let lifetime = match expire {
        Some(e) if e > 0.0 && may_override(api, &ident.eauth, &ident.name) => e,
        _ => api.cfg.token_expire as f64,
    };
    let start = unix(now.wall);
    let mut raw = [0u8; 512];
    crate::crypto::random_bytes(&mut raw);
    let token = crate::digest::hex_digest("sha256", &raw).unwrap_or_default();
    let s = Session {
        token,
        name: ident.name.clone(),
        eauth: ident.eauth.clone(),
        groups: ident.groups.clone(),
        start,
        expire: start + lifetime,
    };
    let mut kwarg = Map::new();
    kwarg.insert("token".into(), json!(s.token));
    kwarg.insert("data".into(), s.to_data());
    let p = if bare {
        Pending::TokenStore(id, format, s)
    } else {
        Pending::LoginStore(id, format, s)
    };
    api.call(p, master_request("token.put", kwarg, None));
}

/// `GET /login` with a live token: the session, in `/login`'s shape.
fn logged_in_as(api: &mut Api, id: ReqId, format: Format, s: &Session) {
    let perms = super::acl::perms(&api.auth_list(s));
    let v = json!({"return": [{"token": s.token, "expire": s.expire, "start": s.start,
                                "user": s.name, "eauth": s.eauth, "perms": perms}]});
    api.respond_value(id, 200, format, &v);
}

/// The token is stored: answer `/login` (Salt's shape, and the cookie) or `/token`.
pub fn logged_in(api: &mut Api, id: ReqId, format: Format, s: &Session, bare: bool) {
    if bare {
        let v = json!([{"start": s.start, "token": s.token, "expire": s.expire, "name": s.name, "eauth": s.eauth}]);
        return api.respond_value(id, 200, format, &v);
    }
    let perms = super::acl::perms(&api.auth_list(s));
    let v = json!({"return": [{"token": s.token, "expire": s.expire, "start": s.start,
                                "user": s.name, "eauth": s.eauth, "perms": perms}]});
    let (b, ct) = body::write(format, &v);
    let max_age = (s.expire - s.start).max(0.0) as u64;
    let r = Response::new(200, ct, b)
        .with("X-Auth-Token", &s.token)
        .with(
            "Set-Cookie",
            &format!(
                "session_id={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict",
                s.token
            ),
        );
    api.respond(id, r);
}

fn logout(api: &mut Api, inc: Incoming, format: Format, now: Now) {
    let s = match api.session_of(&inc, now) {
        Err(r) => return api.respond(inc.id, r),
        Ok(None) => return,
        Ok(Some(s)) => s,
    };
    api.forget_token(&s.token, now);
    let mut kwarg = Map::new();
    kwarg.insert("token".into(), json!(s.token));
    api.call(
        Pending::Logout(inc.id, format),
        master_request("token.rm", kwarg, None),
    );
}

fn events(api: &mut Api, inc: Incoming, now: Now) {
    let id = inc.id;
    // Since Salt 3007.15 a query string is refused: tokens in URLs end up in logs.
    if inc.req.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return api.respond(id, Response::error(400, "Query parameters are not accepted: send the token in X-Auth-Token or the session_id cookie"));
    }
    let s = match api.session_of(&inc, now) {
        Err(r) => return api.respond(id, r),
        Ok(None) => return,
        Ok(Some(s)) => s,
    };
    let spec = StreamSpec {
        token: s.token.clone(),
        expire: s.expire,
        patterns: api.event_patterns(&s),
    };
    let head = Response {
        status: 200,
        headers: vec![
            (
                "Content-Type".into(),
                "text/event-stream;charset=utf-8".into(),
            ),
            ("Cache-Control".into(), "no-cache".into()),
            ("Connection".into(), "keep-alive".into()),
        ],
        body: Vec::new(),
    };
    let head = cors(api, &inc.req, head);
    api.stats.sse_clients += 1;
    api.respond_stream(id, head, spec);
}

impl Api {
    fn respond_stream(&mut self, id: ReqId, head: Response, spec: StreamSpec) {
        self.out.push(Out::Stream(id, head, spec));
    }
}

fn app(api: &mut Api, id: ReqId, rest: &[&str]) {
    if let Some(path) = api.cfg.app.clone() {
        return api
            .out
            .push(Out::ServeFile(id, path, None, "text/html;charset=utf-8"));
    }
    let name = rest.first().copied().unwrap_or("");
    match console::file(name, &api.cfg.app_path) {
        Some((bytes, ct)) => {
            let r = Response::new(200, ct, bytes)
                .with("Cache-Control", "no-cache")
                .with("X-Content-Type-Options", "nosniff")
                .with(
                    "Content-Security-Policy",
                    "default-src 'self'; frame-ancestors 'none'",
                );
            api.respond(id, r)
        }
        None => api.respond(id, Response::error(404, "Nothing matches the given URI")),
    }
}

fn static_file(api: &mut Api, id: ReqId, rest: &[&str]) {
    let Some(root) = api.cfg.static_dir.clone() else {
        return api.respond(id, Response::error(404, "Nothing matches the given URI"));
    };
    let mut path = root.clone();
    for seg in rest.iter().filter(|s| !s.is_empty()) {
        match safe_segment(seg) {
            Some(s) => path.push(s),
            None => {
                return api.respond(id, Response::error(403, "path leaves the static directory"))
            }
        }
    }
    let ct = console::content_type(&path.to_string_lossy());
    api.out.push(Out::ServeFile(id, path, Some(root), ct));
}

/// The master's metrics arrived: answer `/metrics` or `/stats` with them and the API's own.
pub fn metrics_answered(
    api: &mut Api,
    id: ReqId,
    prometheus: bool,
    answer: Result<crate::bus::Answer, String>,
) {
    let mut families = match answer {
        Ok(a) if a.success => a.ret.as_array().cloned().unwrap_or_default(),
        Ok(a) => {
            log::warn!("metrics.master: {}", a.ret);
            Vec::new()
        }
        Err(e) => {
            log::warn!("metrics.master: {e}");
            Vec::new()
        }
    };
    families.extend(api_families(api));
    if prometheus {
        let text = super::metrics::prometheus_text(&families);
        api.respond(
            id,
            Response::new(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                text.into_bytes(),
            ),
        );
    } else {
        let mut out = Map::new();
        for f in &families {
            if let (Some(name), Some(samples)) =
                (f.get("name").and_then(Value::as_str), f.get("samples"))
            {
                out.insert(name.to_string(), samples.clone());
            }
        }
        api.respond_value(id, 200, Format::Json, &Value::Object(out));
    }
}

fn api_families(api: &Api) -> Vec<Value> {
    let mut reqs: Vec<(&(&str, u16), &u64)> = api.stats.requests.iter().collect();
    reqs.sort();
    let samples: Vec<Value> = reqs
        .iter()
        .map(|((ep, st), n)| json!({"labels": {"endpoint": ep, "status": st.to_string()}, "value": n}))
        .collect();
    vec![
        json!({"name": "brine_api_requests_total", "type": "counter", "help": "HTTP requests answered, by endpoint and status.", "samples": samples}),
        json!({"name": "brine_api_sse_clients", "type": "gauge", "help": "/events streams open.", "samples": [{"labels": {}, "value": api.stats.sse_clients}]}),
        json!({"name": "brine_api_sse_events_lost_total", "type": "counter", "help": "Events /events clients lost by falling behind.", "samples": [{"labels": {}, "value": api.stats.sse_lost}]}),
        json!({"name": "brine_api_hooks_total", "type": "counter", "help": "Webhook events fired.", "samples": [{"labels": {}, "value": api.stats.hooks}]}),
        json!({"name": "brine_api_login_failures_total", "type": "counter", "help": "Logins refused.", "samples": [{"labels": {}, "value": api.stats.login_failures}]}),
    ]
}
