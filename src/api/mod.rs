//! brine-api: Salt's rest_cherrypy REST API in front of the master's Unix socket. The parts
//! here are cores without I/O (HTTP framing, bodies, routes, eauth decisions, ACLs); the loop
//! that owns the sockets is `io::api_loop`.

/// `external_auth` ACLs: Salt's format, decided with full-match semantics.
pub mod acl;
/// The request bodies Salt's API reads and the formats it writes.
pub mod body;
/// brine-api's settings from the master configuration.
pub mod config;
/// The web console's files.
pub mod console;
/// eauth backends: `file`, `sharedsecret` (PAM is `pam`).
pub mod eauth;
/// Lowstate flows: chunks authenticated, authorized and dispatched in order.
pub mod flow;
/// `/hook`: the webhook's tag and event data.
pub mod hook;
/// HTTP/1.1 framing: requests parsed, responses written.
pub mod http;
/// Prometheus text rendering of metric families.
pub mod metrics;
/// PAM authentication with the account check, through libpam loaded at run time.
pub mod pam;
/// The URLs and the session endpoints.
pub mod routes;
/// The API core: requests in, outputs for the loop.
pub mod server;
/// `/events` framing.
pub mod sse;
/// The tar of `POST /keys`.
pub mod tar;
