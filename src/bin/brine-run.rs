//! The `brine-run` binary; everything lives in `brine::cli::run_cmd`.

fn main() {
    std::process::exit(brine::cli::run_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
