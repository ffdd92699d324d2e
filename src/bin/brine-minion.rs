//! The `brine-minion` binary; everything lives in `brine::cli::minion_cmd`.

fn main() {
    if let Some(status) = brine::io::renderer::run_if_requested() {
        std::process::exit(status);
    }
    // A module child (smtp.send_msg, http.query) of this binary does its work and exits.
    if let Some(status) = brine::modules::child::run_if_requested() {
        std::process::exit(status);
    }
    std::process::exit(brine::cli::minion_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
