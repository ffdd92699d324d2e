//! The `brine-call` binary; everything lives in `brine::cli::call_cmd`.

fn main() {
    // A module child (smtp.send_msg, http.query) of this binary does its work and exits.
    if let Some(status) = brine::modules::child::run_if_requested() {
        std::process::exit(status);
    }
    std::process::exit(brine::cli::call_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
