//! Lowstate flows: the chunks of one `POST /` or `/run` (and the endpoints built on them),
//! run in order, each authenticated, authorized and then dispatched to the master.
//!
//! A flow is stepped again whenever something it waits for arrives (a token, an eauth, a
//! target expansion, an answer, a job return); each step works out from what it has what is
//! still missing, so no state is carried in the call stack.

use super::acl::{self, Call};
use super::body::Format;
use super::http::Response;
use super::server::{master_request, unix, Api, Parked, Pending, ReqId, Session};
use crate::bus;
use crate::clock::Now;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Keys of a runner's or wheel's chunk that are not arguments of the function.
const RESERVED: &[&str] = &[
    "client",
    "fun",
    "arg",
    "kwarg",
    "token",
    "username",
    "password",
    "eauth",
    "full_return",
    "__jid__",
];

/// What the answer looks like.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// `{"return": [one per chunk]}`.
    Lowstate,
    /// `POST /minions`: 202 with links to the jobs.
    Minions,
    /// `GET /jobs/<jid>`: `{"info": [...], "return": [...]}`.
    Job,
    /// `GET /keys`: the wheel's return alone.
    Keys,
    /// `POST /keys`: a tar of the new key pair.
    KeysTar(String),
}

/// What an operation of a flow was for.
#[derive(Clone, Debug)]
pub enum Step {
    /// The chunk's eauth.
    Auth,
    /// A target expanded to minion ids (the key of `Flow::expansions`).
    Expand(String),
    /// The chunk's call, of this client.
    Call(String),
}

/// A `local` call waiting for its returns.
#[derive(Debug)]
pub struct Wait {
    jid: String,
    minions: Vec<String>,
    got: Map<String, Value>,
    full_return: bool,
    /// When it answers with what it has.
    pub deadline: Instant,
}

/// A flow in progress.
pub struct Flow {
    req: ReqId,
    format: Format,
    chunks: Vec<Value>,
    idx: usize,
    results: Vec<Value>,
    shape: Shape,
    /// The request's session (`POST /`), or None (`/run`: each chunk brings its own).
    session: Option<Session>,
    chunk_session: Option<Session>,
    authing: bool,
    expansions: HashMap<String, Vec<String>>,
    expanding: usize,
    dispatched: bool,
    /// The returns a `local` chunk waits for.
    pub wait: Option<Wait>,
    /// When a sync runner or wheel call gives up (`rest_timeout`): 504.
    pub call_deadline: Option<Instant>,
    /// When the flow's first step ran (failed eauth answers are timed from it).
    started: Option<Instant>,
}

impl Flow {
    /// A flow answering request `req`.
    pub fn new(
        req: ReqId,
        format: Format,
        chunks: Vec<Value>,
        shape: Shape,
        session: Option<Session>,
        _peer: String,
    ) -> Flow {
        Flow {
            req,
            format,
            chunks,
            idx: 0,
            results: Vec::new(),
            shape,
            session,
            chunk_session: None,
            authing: false,
            expansions: HashMap::new(),
            expanding: 0,
            dispatched: false,
            wait: None,
            call_deadline: None,
            started: None,
        }
    }

    fn next_chunk(&mut self, result: Value) {
        self.results.push(result);
        self.idx += 1;
        self.chunk_session = None;
        self.authing = false;
        self.expansions.clear();
        self.expanding = 0;
        self.dispatched = false;
        self.wait = None;
        self.call_deadline = None;
    }
}

fn fail(api: &mut Api, fid: u64, status: u16, msg: &str) {
    if let Some(f) = api.flows.remove(&fid) {
        if let Some(w) = &f.wait {
            api.waits.remove(&w.jid);
        }
        api.respond(f.req, Response::error(status, msg));
    }
}

fn expansion_key(tgt: &str, tgt_type: &str) -> String {
    format!("{tgt_type}\u{0}{tgt}")
}

/// A chunk's string field.
fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

/// A chunk's arguments: `arg` (a list; words `k=v` become keywords for runners and wheels
/// as on the CLI), `kwarg`, and for runners and wheels the other top-level keys.
fn args_of(
    m: &Map<String, Value>,
    top_level: bool,
    cli_words: bool,
) -> (Vec<Value>, Map<String, Value>) {
    let mut arg = match m.get("arg") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    let mut kwarg = match m.get("kwarg") {
        Some(Value::Object(k)) => k.clone(),
        _ => Map::new(),
    };
    if cli_words {
        let mut positional = Vec::new();
        for a in arg.drain(..) {
            match &a {
                Value::String(w) if w.contains('=') => {
                    let (p, k) = crate::py::args::parse_input(&[w.as_str()]);
                    positional.extend(p);
                    kwarg.extend(k);
                }
                _ => positional.push(a),
            }
        }
        arg = positional;
    }
    if top_level {
        for (k, v) in m {
            if !RESERVED.contains(&k.as_str()) {
                kwarg.insert(k.clone(), v.clone());
            }
        }
    }
    (arg, kwarg)
}

/// Works on the flow's current chunk as far as it can.
pub fn step(api: &mut Api, fid: u64, now: Now) {
    let Some(f) = api.flows.get_mut(&fid) else {
        return;
    };
    f.started.get_or_insert(now.mono);
    if f.idx >= f.chunks.len() {
        return finish(api, fid);
    }
    let Some(chunk) = f.chunks[f.idx].as_object().cloned() else {
        return fail(api, fid, 400, "a lowstate chunk must be a map");
    };
    // Who: the session, or the chunk's own token or credentials.
    let session = match (f.session.clone(), f.chunk_session.clone()) {
        (Some(s), _) | (None, Some(s)) => s,
        (None, None) => {
            if let Some(tok) = s(&chunk, "token") {
                match api.lookup(tok, Parked::Flow(fid), now) {
                    Err(()) => return fail(api, fid, 401, "Invalid token"),
                    Ok(None) => return,
                    Ok(Some(sess)) => {
                        if let Some(f) = api.flows.get_mut(&fid) {
                            f.chunk_session = Some(sess.clone());
                        }
                        sess
                    }
                }
            } else if let (Some(u), Some(p), Some(e)) = (
                s(&chunk, "username"),
                s(&chunk, "password"),
                s(&chunk, "eauth"),
            ) {
                let (u, p, e) = (u.to_string(), p.to_string(), e.to_string());
                let Some(f) = api.flows.get_mut(&fid) else {
                    return;
                };
                if f.authing {
                    return;
                }
                f.authing = true;
                let op = api.op(Pending::Flow(fid, Step::Auth));
                api.out.push(super::server::Out::Authenticate(op, e, u, p));
                return;
            } else {
                return fail(api, fid, 401, "No authentication credentials given");
            }
        }
    };
    // Which client: known and enabled (asked only now, so that nobody unauthenticated
    // learns which clients are on).
    let Some(client) = s(&chunk, "client").map(str::to_string) else {
        return fail(api, fid, 400, "No client specified");
    };
    if !Api::known_client(&client) {
        return fail(
            api,
            fid,
            400,
            &format!("Invalid client specified: '{client}'"),
        );
    }
    if !api.cfg.client_enabled(&client) {
        let msg = format!("Client disabled: '{client}'. Add to 'netapi_enable_clients' master config option to enable.");
        return fail(api, fid, 400, &msg);
    }
    let Some(fun) = s(&chunk, "fun").map(str::to_string) else {
        return fail(api, fid, 400, "No function given (fun)");
    };
    let auth_list = api.auth_list(&session);
    let local = client.starts_with("local");
    let (arg, kwarg) = args_of(&chunk, !local, !local);
    let mut pin: Option<Vec<String>> = None;
    let allowed = if local {
        let tgt = match chunk.get("tgt") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(l)) => l
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => return fail(api, fid, 400, "No target given (tgt)"),
        };
        let tgt_type = s(&chunk, "tgt_type")
            .or_else(|| s(&chunk, "expr_form"))
            .unwrap_or("glob")
            .to_string();
        let tgt_type_list = if matches!(chunk.get("tgt"), Some(Value::Array(_))) {
            "list".to_string()
        } else {
            tgt_type.clone()
        };
        // Every target the decision needs, expanded by the master: the request's with its
        // own type, the ACL's as compound expressions (as Salt's check_minions does).
        let mut needed = vec![(tgt.clone(), tgt_type_list.clone())];
        for e in &auth_list {
            if let Value::Object(m) = e {
                needed.extend(
                    m.keys()
                        .filter(|k| !k.starts_with('@'))
                        .map(|k| (k.clone(), "compound".to_string())),
                );
            }
        }
        let Some(f) = api.flows.get_mut(&fid) else {
            return;
        };
        if f.expanding > 0 {
            return;
        }
        let missing: Vec<(String, String)> = needed
            .iter()
            .filter(|(t, ty)| !f.expansions.contains_key(&expansion_key(t, ty)))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            f.expanding = missing.len();
            for (t, ty) in missing {
                let key = expansion_key(&t, &ty);
                let mut kw = Map::new();
                kw.insert("tgt".into(), json!(t));
                kw.insert("tgt_type".into(), json!(ty));
                kw.insert("fun".into(), json!(fun));
                kw.insert("expand_only".into(), json!(true));
                api.call(
                    Pending::Flow(fid, Step::Expand(key)),
                    master_request("publish", kw, Some(&session.name)),
                );
            }
            return;
        }
        let exp = f.expansions.clone();
        let minions = exp
            .get(&expansion_key(&tgt, &tgt_type_list))
            .cloned()
            .unwrap_or_default();
        let expand = |t: &str| -> BTreeSet<String> {
            exp.get(&expansion_key(t, "compound"))
                .map(|v| v.iter().cloned().collect())
                .unwrap_or_default()
        };
        let call = Call::Local {
            fun: &fun,
            arg: &arg,
            kwarg: &kwarg,
            minions: &minions,
            tgt: &tgt,
            tgt_type: &tgt_type_list,
        };
        // Allowed on any minion (a plain entry), the job goes to its target as given;
        // allowed only through targeted entries, it goes to exactly the minions checked, so
        // a key accepted meanwhile, or a target that expanded to nothing here, cannot widen
        // it.
        let plain: Vec<Value> = auth_list
            .iter()
            .filter(|e| {
                !e.as_object()
                    .is_some_and(|m| m.keys().any(|k| !k.starts_with('@')))
            })
            .cloned()
            .collect();
        if !acl::allows(&plain, &call, &expand) && acl::allows(&auth_list, &call, &expand) {
            if minions.is_empty() {
                if let Some(f) = api.flows.get_mut(&fid) {
                    f.next_chunk(json!({}));
                }
                return step(api, fid, now);
            }
            pin = Some(minions.clone());
        }
        acl::allows(&auth_list, &call, &expand)
    } else if client.starts_with("runner") {
        acl::allows(
            &auth_list,
            &Call::Runner {
                fun: &fun,
                arg: &arg,
                kwarg: &kwarg,
            },
            &|_| BTreeSet::new(),
        )
    } else {
        acl::allows(
            &auth_list,
            &Call::Wheel {
                fun: &fun,
                arg: &arg,
                kwarg: &kwarg,
            },
            &|_| BTreeSet::new(),
        )
    };
    if !allowed {
        log::info!(
            "refused {client} {fun} for {} ({}): not in its external_auth permissions",
            session.name,
            session.eauth
        );
        return fail(
            api,
            fid,
            401,
            &format!(
                "Authorization error: {} may not run {fun} with client {client}",
                session.name
            ),
        );
    }
    let Some(f) = api.flows.get_mut(&fid) else {
        return;
    };
    if f.dispatched {
        return;
    }
    f.dispatched = true;
    let mut chunk = chunk;
    if let Some(ids) = pin {
        chunk.insert("tgt".into(), json!(ids));
        chunk.remove("tgt_type");
        chunk.remove("expr_form");
    }
    dispatch(api, fid, &client, &fun, &chunk, arg, kwarg, &session, now);
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    api: &mut Api,
    fid: u64,
    client: &str,
    fun: &str,
    chunk: &Map<String, Value>,
    arg: Vec<Value>,
    kwarg: Map<String, Value>,
    session: &Session,
    now: Now,
) {
    let user = Some(session.name.as_str());
    match client {
        "local" | "local_async" => {
            let mut arg = arg;
            if !kwarg.is_empty() {
                let mut kw = kwarg.clone();
                kw.insert("__kwarg__".into(), Value::Bool(true));
                arg.push(Value::Object(kw));
            }
            let mut kw = Map::new();
            let tgt = match chunk.get("tgt") {
                Some(Value::Array(l)) => {
                    kw.insert("tgt_type".into(), json!("list"));
                    Value::Array(l.clone())
                }
                Some(t) => {
                    let tt = s(chunk, "tgt_type")
                        .or_else(|| s(chunk, "expr_form"))
                        .unwrap_or("glob");
                    kw.insert("tgt_type".into(), json!(tt));
                    t.clone()
                }
                None => json!("*"),
            };
            kw.insert("tgt".into(), tgt);
            kw.insert("fun".into(), json!(fun));
            kw.insert("arg".into(), Value::Array(arg));
            api.call(
                Pending::Flow(fid, Step::Call(client.to_string())),
                master_request("publish", kw, user),
            );
        }
        "runner" => {
            let req = bus::Request {
                arg,
                ..master_request(fun, kwarg, user)
            };
            // Salt's rest_timeout: a sync runner call that takes longer answers 504 (the
            // runner goes on in the master; its answer is dropped).
            let limit = Duration::from_secs(api.cfg.rest_timeout);
            if let Some(f) = api.flows.get_mut(&fid) {
                f.call_deadline = Some(now.mono + limit);
            }
            api.call(Pending::Flow(fid, Step::Call(client.to_string())), req);
        }
        "runner_async" => {
            let jid = api.jids.next(now.wall);
            let mut kwarg = kwarg;
            kwarg.insert("__jid__".into(), json!(jid));
            let req = bus::Request {
                arg,
                ..master_request(fun, kwarg, user)
            };
            api.call(Pending::Ignore, req);
            if let Some(f) = api.flows.get_mut(&fid) {
                f.next_chunk(json!({"tag": format!("salt/run/{jid}"), "jid": jid}));
            }
            step(api, fid, now);
        }
        _ => {
            let req = bus::Request {
                arg,
                ..master_request(&format!("wheel.{fun}"), kwarg, user)
            };
            api.call(Pending::Flow(fid, Step::Call(client.to_string())), req);
        }
    }
}

/// A flow's eauth finished.
pub fn authenticated(
    api: &mut Api,
    fid: u64,
    _step: Step,
    result: Result<super::eauth::Identity, String>,
    now: Now,
) {
    match result {
        Ok(ident) => {
            let Some(f) = api.flows.get_mut(&fid) else {
                return;
            };
            let t = unix(now.wall);
            f.chunk_session = Some(Session {
                token: String::new(),
                name: ident.name,
                eauth: ident.eauth,
                groups: ident.groups,
                start: t,
                expire: t + 60.0,
            });
            f.authing = false;
            step(api, fid, now);
        }
        Err(e) => {
            log::info!("eauth refused: {e}");
            api.stats.login_failures += 1;
            // Timed from the request, as a failed /login is, so that the answer does not
            // tell an unknown user from a wrong password.
            let Some(f) = api.flows.remove(&fid) else {
                return;
            };
            let started = f.started.unwrap_or(now.mono);
            let wait =
                (started + super::server::FAILED_LOGIN_FLOOR).saturating_duration_since(now.mono);
            api.respond_later(
                f.req,
                Response::error(401, "Authentication failure of type \"eauth\" occurred."),
                wait,
            );
        }
    }
}

/// The `minions` of a publish answer.
fn minion_list(ret: &Value) -> Vec<String> {
    ret.get("minions")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A flow's call was answered.
pub fn answered(
    api: &mut Api,
    fid: u64,
    step_kind: Step,
    answer: Result<bus::Answer, String>,
    now: Now,
) {
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            log::warn!("the master did not answer: {e}");
            return fail(api, fid, 503, "the master is not answering");
        }
    };
    match step_kind {
        Step::Auth => {}
        Step::Expand(key) => {
            let minions = minion_list(&answer.ret);
            let Some(f) = api.flows.get_mut(&fid) else {
                return;
            };
            if !answer.success {
                if let Value::String(why) = &answer.ret {
                    if !why.contains("No minions matched") {
                        let why = why.clone();
                        return fail(api, fid, 400, &why);
                    }
                }
            }
            f.expansions.insert(key, minions);
            f.expanding = f.expanding.saturating_sub(1);
            if f.expanding == 0 {
                step(api, fid, now);
            }
        }
        Step::Call(client) => called(api, fid, &client, answer, now),
    }
}

fn called(api: &mut Api, fid: u64, client: &str, answer: bus::Answer, now: Now) {
    let Some(f) = api.flows.get(&fid) else { return };
    let chunk = f.chunks.get(f.idx).cloned().unwrap_or(Value::Null);
    let result = match client {
        "local" | "local_async" => {
            if !answer.success {
                let why = answer
                    .ret
                    .as_str()
                    .unwrap_or("the job was not published")
                    .to_string();
                if why.contains("No minions matched") {
                    json!({})
                } else {
                    return fail(api, fid, 400, &why);
                }
            } else {
                let jid = answer
                    .ret
                    .get("jid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let minions = minion_list(&answer.ret);
                if client == "local_async" {
                    json!({"jid": jid, "minions": minions})
                } else {
                    let secs = match chunk.get("timeout") {
                        Some(Value::Number(n)) => n.as_f64().unwrap_or(api.cfg.timeout as f64),
                        Some(Value::String(t)) => t.parse().unwrap_or(api.cfg.timeout as f64),
                        _ => api.cfg.timeout as f64,
                    };
                    let full_return = chunk.get("full_return").is_some_and(crate::py::truthy);
                    let wait = Wait {
                        jid: jid.clone(),
                        minions,
                        got: Map::new(),
                        full_return,
                        deadline: now.mono + Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)),
                    };
                    if let Some(f) = api.flows.get_mut(&fid) {
                        f.wait = Some(wait);
                    }
                    api.waits.insert(jid.clone(), fid);
                    for (id, data) in api.take_early(&jid) {
                        job_return(api, fid, &id, &data, now);
                    }
                    return;
                }
            }
        }
        "runner" => answer.ret,
        "wheel" | "wheel_async" => {
            let jid = answer.jid.clone().unwrap_or_default();
            let tag = format!("salt/wheel/{jid}");
            if client == "wheel_async" {
                json!({"tag": tag, "jid": jid})
            } else {
                let fun = chunk.get("fun").and_then(Value::as_str).unwrap_or("");
                let user = api
                    .flows
                    .get(&fid)
                    .and_then(|f| f.session.clone().or(f.chunk_session.clone()))
                    .map(|s| s.name)
                    .unwrap_or_default();
                json!({"tag": tag, "data": {"fun": format!("wheel.{fun}"), "jid": jid, "tag": tag, "user": user,
                        "_stamp": crate::clock::stamp(now.wall), "return": answer.ret, "success": answer.success}})
            }
        }
        _ => answer.ret,
    };
    if let Some(f) = api.flows.get_mut(&fid) {
        f.next_chunk(result);
    }
    step(api, fid, now);
}

/// A return for a `local` call's job.
pub fn job_return(api: &mut Api, fid: u64, id: &str, data: &Map<String, Value>, now: Now) {
    let Some(f) = api.flows.get_mut(&fid) else {
        return;
    };
    let Some(w) = f.wait.as_mut() else { return };
    let ret = data.get("return").cloned().unwrap_or(Value::Null);
    let v = if w.full_return {
        json!({"ret": ret, "retcode": data.get("retcode").cloned().unwrap_or(json!(0)), "jid": w.jid})
    } else {
        ret
    };
    w.got.insert(id.to_string(), v);
    if w.minions.iter().all(|m| w.got.contains_key(m)) {
        wait_over(api, fid, now);
    }
}

/// A sync runner call ran past `rest_timeout`.
pub fn call_timed_out(api: &mut Api, fid: u64) {
    let secs = api.cfg.rest_timeout;
    fail(
        api,
        fid,
        504,
        &format!("the runner did not answer within rest_timeout ({secs} s)"),
    );
}

/// A `local` call is done waiting: its result is what returned.
pub fn wait_over(api: &mut Api, fid: u64, now: Now) {
    let Some(f) = api.flows.get_mut(&fid) else {
        return;
    };
    let Some(w) = f.wait.take() else { return };
    api.waits.remove(&w.jid);
    if let Some(f) = api.flows.get_mut(&fid) {
        f.next_chunk(Value::Object(w.got));
    }
    step(api, fid, now);
}

fn finish(api: &mut Api, fid: u64) {
    let Some(f) = api.flows.remove(&fid) else {
        return;
    };
    let (id, format) = (f.req, f.format);
    match f.shape {
        Shape::Lowstate => api.respond_value(id, 200, format, &json!({"return": f.results})),
        Shape::Minions => {
            let links: Vec<Value> = f
                .results
                .iter()
                .filter_map(|r| r.get("jid").and_then(Value::as_str))
                .map(|j| json!({"href": format!("/jobs/{j}")}))
                .collect();
            api.respond_value(
                id,
                202,
                format,
                &json!({"return": f.results, "_links": {"jobs": links}}),
            );
        }
        Shape::Job => {
            let info = f.results.into_iter().next().unwrap_or(Value::Null);
            let mut returns = Map::new();
            if let Some(Value::Object(r)) = info.get("Result") {
                for (m, v) in r {
                    returns.insert(m.clone(), v.get("return").cloned().unwrap_or(v.clone()));
                }
            }
            api.respond_value(
                id,
                200,
                format,
                &json!({"info": [info], "return": [returns]}),
            );
        }
        Shape::Keys => {
            let r = f.results.into_iter().next().unwrap_or(Value::Null);
            let ret = r.pointer("/data/return").cloned().unwrap_or(Value::Null);
            api.respond_value(id, 200, format, &json!({"return": ret}));
        }
        Shape::KeysTar(mid) => {
            let r = f.results.into_iter().next().unwrap_or(Value::Null);
            let ret = r.pointer("/data/return").cloned().unwrap_or(Value::Null);
            let (Some(public), Some(private)) = (
                ret.get("pub").and_then(Value::as_str),
                ret.get("priv").and_then(Value::as_str),
            ) else {
                let why = ret
                    .as_str()
                    .unwrap_or("the master made no key pair")
                    .to_string();
                return api.respond(id, Response::error(400, &why));
            };
            let tar = super::tar::archive(&[
                ("minion.pub", public.as_bytes()),
                ("minion.pem", private.as_bytes()),
            ]);
            let r = Response::new(200, "application/x-tar", tar).with(
                "Content-Disposition",
                &format!("attachment; filename=\"saltkeys-{mid}.tar\""),
            );
            api.respond(id, r);
        }
    }
}
