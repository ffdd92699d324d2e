//! Everything that touches the outside world: the two event loops (the master's and the
//! minion's), ZeroMQ and Unix sockets, files the cores need, signals, child processes. The
//! cores above never do.

pub mod api_loop;
pub mod children;
pub mod fileserver;
pub mod ipc;
pub mod local;
pub mod master_loop;
pub mod minion_loop;
pub mod orchestrate;
pub mod process;
pub mod reactor_files;
pub mod renderer;
pub mod replay;
pub mod signals;
pub mod tls;
pub mod zsock;
