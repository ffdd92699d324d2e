//! The `smtp` execution module: `smtp.send_msg`, Salt's mail sender, with its arguments,
//! profiles and TLS choice. The arguments and the minion's configuration are resolved here, in
//! the minion; the SMTP session runs in a module child (see `child`), so a slow or dead mail
//! server never holds up the minion's event loop.
//!
//! TLS follows Salt's `salt/modules/smtp.py`: `use_ssl` equal to the *string* `True` or `true`
//! (its default) means SMTP over TLS from the first byte (port 465 unless one is given);
//! anything else (a YAML `True` from a profile's `smtp.tls` included, as in Salt) means a plain
//! connection (port 25) that is upgraded with STARTTLS whenever the server offers it. Unlike
//! Python's smtplib, certificates are always verified against the system roots (or
//! `SSL_CERT_FILE`).

use super::{child, text, truthy, Function, Ret, Step};
use crate::signature::{Default, Param};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::Duration;

const PARAMS: &[Param] = &[
    Param {
        name: "recipient",
        default: Default::Required,
    },
    Param {
        name: "message",
        default: Default::Required,
    },
    Param {
        name: "subject",
        default: Default::Str("Message from Salt"),
    },
    Param {
        name: "sender",
        default: Default::Null,
    },
    Param {
        name: "server",
        default: Default::Null,
    },
    Param {
        name: "use_ssl",
        default: Default::Str("True"),
    },
    Param {
        name: "username",
        default: Default::Null,
    },
    Param {
        name: "password",
        default: Default::Null,
    },
    Param {
        name: "profile",
        default: Default::Null,
    },
    Param {
        name: "attachments",
        default: Default::Null,
    },
    Param {
        name: "is_html",
        default: Default::Bool(false),
    },
    Param {
        name: "port",
        default: Default::Int(0),
    },
];

/// Seconds each step of the SMTP session (connect, a command, the data) may take.
const STEP_TIMEOUT: u64 = 60;

/// The deadline of the whole child: a backstop, the steps time out well before.
const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// `smtp.send_msg RECIPIENT MESSAGE`: True when the server took the message.
pub const SEND_MSG: Function = Function {
    name: "smtp.send_msg",
    params: PARAMS,
    kwargs: false,
    varargs: false,
    doc: "Send MESSAGE by SMTP to RECIPIENT (comma-separated addresses, or a list) and return \
          True, or False with an error-level log line saying why. profile=NAME takes server, \
          tls, sender, username, password and port from the smtp.* keys of the minion-config map \
          NAME; without a profile, the minion's flat smtp.* keys fill in what the call leaves \
          out. use_ssl='True' (the default) is SMTP over TLS (port 465); anything else is plain \
          SMTP (port 25) upgraded with STARTTLS when the server offers it. server may be \
          host:port. attachments is a list of file paths; is_html sends MESSAGE as HTML. \
          Certificates are verified (SSL_CERT_FILE replaces the system roots).",
    run: |c, a, _| start(&c.minion.config().module_options, a),
};

/// How the session is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Security {
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// Plain, upgraded with STARTTLS when the server offers it.
    Starttls,
}

/// Everything the child needs to send one message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Mail {
    host: String,
    port: u16,
    security: Security,
    sender: String,
    /// Envelope recipients and To: header entries.
    recipients: Vec<String>,
    subject: String,
    body: String,
    html: bool,
    /// Login, when both a username and a password are given.
    login: Option<(String, String)>,
    attachments: Vec<String>,
}

fn start(options: &Map<String, Value>, a: &[Value]) -> Step {
    match resolve(options, a) {
        Ok(mail) => {
            // Serializing plain strings and numbers cannot fail.
            let request = serde_json::to_value(&mail).unwrap_or(Value::Null);
            Step::Child(
                child::spec(SEND_MSG.name, &request, CHILD_TIMEOUT),
                child::finish,
            )
        }
        Err(e) => {
            log::error!("smtp.send_msg: {e}");
            Step::Done(Ret::ok(json!(false)))
        }
    }
}

/// A string argument, `None` for Python `None`.
fn opt(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => Some(text(v)),
    }
}

/// Resolves the bound arguments (in `PARAMS` order) against the minion's module options.
fn resolve(options: &Map<String, Value>, a: &[Value]) -> Result<Mail, String> {
    let arg = |i: usize| a.get(i).unwrap_or(&Value::Null);
    let (mut server, mut use_ssl) = (opt(Some(arg(4))), arg(5).clone());
    let (mut sender, mut username, mut password) =
        (opt(Some(arg(3))), opt(Some(arg(6))), opt(Some(arg(7))));
    let mut port = arg(11).clone();
    let profile = arg(8);
    // Salt reads a profile's keys over the arguments; brine keeps an argument the profile
    // does not set instead of replacing it with None. Without a profile, the flat smtp.* keys
    // fill in what the call left out (use_ssl: when it is left at its default).
    let (source, over) = if truthy(profile) {
        let name = text(profile);
        match options.get(&name) {
            Some(Value::Object(m)) => (m, true),
            _ => {
                return Err(format!(
                    "no profile '{name}' with smtp.* keys in the minion configuration"
                ))
            }
        }
    } else {
        (options, false)
    };
    let pick = |current: Option<String>, key: &str| match (over, current) {
        (true, current) => opt(source.get(key)).or(current),
        (false, Some(c)) => Some(c),
        (false, None) => opt(source.get(key)),
    };
    server = pick(server, "smtp.server");
    sender = pick(sender, "smtp.sender");
    username = pick(username, "smtp.username");
    password = pick(password, "smtp.password");
    if let Some(tls) = source.get("smtp.tls") {
        if over || use_ssl == json!("True") {
            use_ssl = tls.clone();
        }
    }
    if let Some(p) = source.get("smtp.port") {
        if over || port == json!(0) {
            port = p.clone();
        }
    }
    let security = match &use_ssl {
        Value::String(s) if s == "True" || s == "true" => Security::Implicit,
        _ => Security::Starttls,
    };
    let port = match &port {
        Value::Null => 0,
        p => p
            .as_u64()
            .or_else(|| text(p).trim().parse().ok())
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("invalid port '{}'", text(p)))?,
    };
    // Like smtplib: no server means localhost, and "host:port" carries its port when the
    // port is not given otherwise (an IPv6 address, with several colons, is not split).
    let server = server.unwrap_or_else(|| "localhost".to_owned());
    let (host, port) = match server.split_once(':') {
        Some((h, p)) if port == 0 && !p.contains(':') => {
            let p = p
                .trim()
                .parse::<u16>()
                .map_err(|_| format!("nonnumeric port in server '{server}'"))?;
            (h.to_owned(), p)
        }
        _ => (server.clone(), port),
    };
    let port = match (port, security) {
        (0, Security::Implicit) => 465,
        (0, Security::Starttls) => 25,
        (p, _) => p,
    };
    let sender = sender
        .filter(|s| !s.is_empty())
        .ok_or("no sender: pass sender= or set smtp.sender")?;
    let recipients = recipients(arg(0));
    if recipients.is_empty() {
        return Err("no recipient".into());
    }
    let login = match (username, password) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some((u, p)),
        _ => None,
    };
    let attachments = match arg(9) {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(text).collect(),
        v if !truthy(v) => Vec::new(),
        v => vec![text(v)],
    };
    Ok(Mail {
        host,
        port,
        security,
        sender,
        recipients,
        subject: text(arg(2)),
        body: text(arg(1)),
        html: truthy(arg(10)),
        login,
        attachments,
    })
}

/// A comma-separated string, or a list, of addresses.
fn recipients(v: &Value) -> Vec<String> {
    let words: Vec<String> = match v {
        Value::Array(items) => items.iter().map(text).collect(),
        Value::Null => Vec::new(),
        v => text(v).split(',').map(str::to_owned).collect(),
    };
    words
        .into_iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// In the module child: sends the message, `True` or `False` with the reason.
pub(super) fn child_main(request: &Value) -> child::Reply {
    let sent = serde_json::from_value::<Mail>(request.clone())
        .map_err(|e| format!("bad request from the minion: {e}"))
        .and_then(|mail| send(&mail));
    match sent {
        Ok(()) => child::Reply {
            value: json!(true),
            ..child::Reply::default()
        },
        Err(e) => child::Reply {
            value: json!(false),
            retcode: 0,
            errors: vec![e],
        },
    }
}

/// One SMTP session (blocking: the child's whole job).
fn send(mail: &Mail) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};

    let mailbox = |s: &str| {
        s.parse::<Mailbox>()
            .map_err(|e| format!("invalid address '{s}': {e}"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&mail.sender)?)
        .subject(mail.subject.clone());
    for r in &mail.recipients {
        builder = builder.to(mailbox(r)?);
    }
    let text_part = if mail.html {
        SinglePart::html(mail.body.clone())
    } else {
        SinglePart::plain(mail.body.clone())
    };
    let message = if mail.attachments.is_empty() {
        builder.singlepart(text_part)
    } else {
        let octets = ContentType::parse("application/octet-stream").map_err(|e| e.to_string())?;
        let mut parts = MultiPart::mixed().singlepart(text_part);
        for path in &mail.attachments {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the attachment {path}: {e}"))?;
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            parts = parts.singlepart(Attachment::new(name).body(bytes, octets.clone()));
        }
        builder.multipart(parts)
    }
    .map_err(|e| format!("cannot build the message: {e}"))?;

    let mut tls =
        TlsParameters::builder(mail.host.clone()).certificate_store(CertificateStore::None);
    for der in child::trust_roots() {
        // A root rustls cannot use is skipped, as rustls-native-certs' own callers do.
        if let Ok(cert) = Certificate::from_der(der) {
            tls = tls.add_root_certificate(cert);
        }
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS: {}", child::chain(&e)))?;
    let mut transport = SmtpTransport::builder_dangerous(mail.host.as_str())
        .port(mail.port)
        .timeout(Some(Duration::from_secs(STEP_TIMEOUT)))
        .tls(match mail.security {
            Security::Implicit => Tls::Wrapper(tls),
            Security::Starttls => Tls::Opportunistic(tls),
        });
    if let Some((user, password)) = &mail.login {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    transport.build().send(&message).map(|_| ()).map_err(|e| {
        format!(
            "cannot send the message through {}:{}: {}",
            mail.host,
            mail.port,
            child::chain(&e)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature;

    /// Binds CLI-style arguments as a call would.
    fn bound(args: &[Value], kwargs: Value) -> Vec<Value> {
        let kw = kwargs.as_object().cloned().unwrap_or_default();
        signature::bind("send_msg", PARAMS, None, args, &kw)
            .expect("binds")
            .0
    }

    fn options(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn defaults_are_smtps_on_465_to_localhost() {
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org"}),
        );
        let m = resolve(&Map::new(), &a).unwrap();
        assert_eq!((m.host.as_str(), m.port), ("localhost", 465));
        assert_eq!(m.security, Security::Implicit);
        assert_eq!(m.subject, "Message from Salt");
        assert_eq!(m.recipients, ["a@x.org"]);
        assert_eq!(m.login, None);
        assert!(m.attachments.is_empty());
    }

    #[test]
    fn recipients_split_on_commas_or_come_as_a_list() {
        assert_eq!(
            recipients(&json!("a@x.org, b@x.org,,")),
            ["a@x.org", "b@x.org"]
        );
        assert_eq!(
            recipients(&json!(["a@x.org", " b@x.org"])),
            ["a@x.org", "b@x.org"]
        );
        let a = bound(&[json!(" , "), json!("hi")], json!({"sender": "s@x.org"}));
        assert_eq!(resolve(&Map::new(), &a).unwrap_err(), "no recipient");
    }

    #[test]
    fn use_ssl_other_than_the_string_true_means_starttls_on_25() {
        for v in [json!(false), json!(true), json!("False"), json!("yes")] {
            let a = bound(
                &[json!("a@x.org"), json!("hi")],
                json!({"sender": "s@x.org", "use_ssl": v, "server": "mail.x.org"}),
            );
            let m = resolve(&Map::new(), &a).unwrap();
            assert_eq!((m.security, m.port), (Security::Starttls, 25), "{v}");
        }
    }

    #[test]
    fn server_may_carry_its_port_unless_port_is_given() {
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "server": "127.0.0.1:2525"}),
        );
        let m = resolve(&Map::new(), &a).unwrap();
        assert_eq!((m.host.as_str(), m.port), ("127.0.0.1", 2525));
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "server": "h:2525", "port": 587}),
        );
        assert_eq!(resolve(&Map::new(), &a).unwrap().port, 587);
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "server": "h:smtp"}),
        );
        assert_eq!(
            resolve(&Map::new(), &a).unwrap_err(),
            "nonnumeric port in server 'h:smtp'"
        );
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "server": "::1", "port": 25}),
        );
        assert_eq!(resolve(&Map::new(), &a).unwrap().host, "::1");
    }

    #[test]
    fn a_profile_supplies_the_connection() {
        let opts = options(json!({
            "my-smtp": {
                "smtp.server": "mail.x.org", "smtp.tls": true, "smtp.sender": "salt@x.org",
                "smtp.username": "u", "smtp.password": "p", "smtp.port": 587
            }
        }));
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"profile": "my-smtp", "server": "ignored.x.org"}),
        );
        let m = resolve(&opts, &a).unwrap();
        assert_eq!((m.host.as_str(), m.port), ("mail.x.org", 587));
        // A YAML true is not the string 'True': Salt's plain + STARTTLS.
        assert_eq!(m.security, Security::Starttls);
        assert_eq!(m.sender, "salt@x.org");
        assert_eq!(m.login, Some(("u".into(), "p".into())));
        let a = bound(&[json!("a@x.org"), json!("hi")], json!({"profile": "nope"}));
        assert_eq!(
            resolve(&opts, &a).unwrap_err(),
            "no profile 'nope' with smtp.* keys in the minion configuration"
        );
    }

    #[test]
    fn flat_keys_fill_in_what_the_call_leaves_out() {
        let opts = options(json!({
            "smtp.server": "flat.x.org:2525", "smtp.sender": "flat@x.org", "smtp.tls": false,
            "smtp.username": "fu", "smtp.password": "fp"
        }));
        let a = bound(&[json!("a@x.org"), json!("hi")], json!({}));
        let m = resolve(&opts, &a).unwrap();
        assert_eq!((m.host.as_str(), m.port), ("flat.x.org", 2525));
        assert_eq!(m.security, Security::Starttls);
        assert_eq!(m.sender, "flat@x.org");
        assert_eq!(m.login, Some(("fu".into(), "fp".into())));
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "mine@x.org", "use_ssl": "true", "username": "me"}),
        );
        let m = resolve(&opts, &a).unwrap();
        assert_eq!(m.sender, "mine@x.org");
        assert_eq!(m.security, Security::Implicit);
        assert_eq!(m.login, Some(("me".into(), "fp".into())));
    }

    #[test]
    fn a_login_needs_both_halves_and_attachments_are_paths() {
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "username": "u", "attachments": ["/a", "/b/c.txt"]}),
        );
        let m = resolve(&Map::new(), &a).unwrap();
        assert_eq!(m.login, None);
        assert_eq!(m.attachments, ["/a", "/b/c.txt"]);
        let a = bound(
            &[json!("a@x.org"), json!("hi")],
            json!({"sender": "s@x.org", "attachments": "/one"}),
        );
        assert_eq!(resolve(&Map::new(), &a).unwrap().attachments, ["/one"]);
    }

    #[test]
    fn no_sender_is_an_error() {
        let a = bound(&[json!("a@x.org"), json!("hi")], json!({}));
        assert_eq!(
            resolve(&Map::new(), &a).unwrap_err(),
            "no sender: pass sender= or set smtp.sender"
        );
    }

    #[test]
    fn the_child_says_false_and_why_on_a_bad_address() {
        let a = bound(
            &[json!("not an address"), json!("hi")],
            json!({"sender": "s@x.org", "server": "127.0.0.1:1"}),
        );
        let m = resolve(&Map::new(), &a).unwrap();
        let reply = child_main(&serde_json::to_value(&m).unwrap());
        assert_eq!(reply.value, json!(false));
        assert_eq!(reply.errors.len(), 1);
        assert!(
            reply.errors[0].starts_with("invalid address 'not an address'"),
            "{:?}",
            reply.errors
        );
        let reply = child_main(&json!({"nonsense": 1}));
        assert_eq!(reply.value, json!(false));
        assert!(reply.errors[0].starts_with("bad request from the minion"));
    }
}
