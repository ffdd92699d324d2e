//! brine: the event-driven core of SaltStack (event bus, reactor, queue) as
//! single-threaded daemons. See `design.md` in the steering repository for the shape.

pub mod bus;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod grains;
pub mod io;
pub mod jobs;
pub mod log;
pub mod master;
pub mod matcher;
pub mod minion;
pub mod modules;
pub mod pki;
pub mod proto;
pub mod py;
pub mod queue;
pub mod queue_op;
pub mod reactor;
pub mod runners;
pub mod signature;
pub mod store;
pub mod targeting;
pub mod wheel;
pub mod wire;
