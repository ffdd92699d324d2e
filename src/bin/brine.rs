//! The `brine` binary; everything lives in `brine::cli::brine_cmd`.

fn main() {
    std::process::exit(brine::cli::brine_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
