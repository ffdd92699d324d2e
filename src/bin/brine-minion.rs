//! The `brine-minion` binary; everything lives in `brine::cli::minion_cmd`.

fn main() {
    std::process::exit(brine::cli::minion_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
