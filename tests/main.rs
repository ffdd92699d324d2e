//! brine's whole-system tests, as one test binary: each file of `tests/` is a module here,
//! so the library and its dependencies are linked once, not once per file. Run one file's
//! tests with `cargo test --release --test main reactor::` (its module name).

mod common;

mod alerts;
mod api;
mod api_clients;
mod api_console;
mod api_hostile;
mod api_pam;
mod api_tokens;
mod batch;
mod bus;
mod cloud;
mod cloud_ssh;
mod daemon;
mod fileserver;
mod fuzz_corpus;
mod hostile;
mod jobs;
mod key_cli;
mod man_pages;
mod minion;
mod orchestrate;
mod pillar;
mod queue;
mod reactor;
mod ring;
mod sim;
mod states;
mod walls;
mod zmq_stress;
