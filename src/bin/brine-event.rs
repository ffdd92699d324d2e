//! The `brine-event` binary; everything lives in `brine::cli::event_cmd`.

fn main() {
    std::process::exit(brine::cli::event_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
