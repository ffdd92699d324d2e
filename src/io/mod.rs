//! Everything that touches the outside world: the event loop, ZeroMQ sockets, Unix
//! sockets, timers, signals and process control. The cores above never do.

pub mod children;
pub mod daemon;
pub mod ipc;
pub mod local;
pub mod minion;
pub mod process;
pub mod renderer;
pub mod signals;
pub mod zsock;
