//! brine: the event-driven core of SaltStack (event bus, reactor, queue) as
//! single-threaded daemons. See `design.md` in the steering repository for the shape.

/// brine-api: Salt's REST API (rest_cherrypy), webhooks, the event stream, metrics, console.
pub mod api;
/// Salt's batch mode (`-b`): a rolling window of minions running one job, without I/O.
pub mod batch;
/// A daemon's event bus: clients, subscriptions, buffers, events in and out (no sockets).
pub mod bus;
/// The command-line tools: their flags, `--help`, and the outputters.
pub mod cli;
/// A client of a daemon's local bus: fire, listen, run (what the CLIs and tests use).
pub mod client;
/// Time as the cores see it: the `Now` the loop hands in, and the timer table.
pub mod clock;
/// brine-cloud: Salt Cloud's configuration, events, keys and drivers.
pub mod cloud;
/// The master's and minion's configuration: key tables, typed values, the loader.
pub mod config;
/// Keys, signatures, sealed boxes and the cores' seeded randomness (libsodium).
pub mod crypto;
/// Digests, HMACs and htpasswd password hashes (md5 to sha512, apr1, bcrypt): RustCrypto's home.
pub mod digest;
/// The master's durable event log: segment files, recovery, retention and replay.
pub mod event_log;
/// The file server: `file_roots`, `salt://` URLs and the minion's file cache.
pub mod fileserver;
/// Host facts for targeting and templates (OS, kernel, network), as Salt computes them.
pub mod grains;
/// Everything that touches the world: the two event loops, sockets, files, children.
pub mod io;
/// The job cache: job loads and returns stored in LMDB, and jid handling.
pub mod jobs;
/// Logging to a file with Salt's levels, and the rate limiter for noisy causes.
pub mod log;
/// The master core: bus, auth, jobs, schedule, queues and reactor, without I/O.
pub mod master;
/// Tag and name matching: fnmatch globs, Python regexes, listener filters, rule sets.
pub mod matcher;
/// The minion core: session with the master, jobs, its bus and reactor, without I/O.
pub mod minion;
/// Execution modules (`test.*`, `cmd.*`, `event.*`, ...) a minion runs.
pub mod modules;
/// Orchestration on the master: `state.orchestrate`, the `salt.*` states, `state.over`.
pub mod orchestrate;
/// Pillar: per-minion data compiled from `pillar_roots` and its top files, and reading it.
pub mod pillar;
/// Key files and the key store (accepted, pending, rejected, denied) and the auth policy.
pub mod pki;
/// The messages between master and minion on the ZeroMQ channels.
pub mod proto;
/// Python and Salt semantics brine must match: truthiness, str/repr, json, YAML, CLI args.
pub mod py;
/// The queue core: lmdb and sqlite backends carrying out queue operations at commit.
pub mod queue;
/// The queue operations the queue runner plans and the queue core carries out.
pub mod queue_op;
/// The reactor: rules, rendering (Jinja/YAML) and compiling SLS files into reactions.
pub mod reactor;
/// Runner functions the master runs (`jobs.*`, `queue.*`, `reactor.*`, ...).
pub mod runners;
/// Function signatures and Salt's argument binding (args, kwargs, defaults).
pub mod signature;
/// The state system: SLS rendering, the compiler, requisites, the state modules.
pub mod states;
/// The master's LMDB environment: tables, batches, the turn's group commit.
pub mod store;
/// Salt's targeting: glob, list, pcre, grains, ipcidr, compound and nodegroups.
pub mod targeting;
/// Wheel functions the master runs (`key.*`, `config.*`).
pub mod wheel;
/// The local bus wire format: frames and events, validated (the ground floor).
pub mod wire;
/// The YAML loader config and the reactor use: file:line:column errors, PyYAML scalars.
pub mod yaml;
