//! The `brine-key` binary; everything lives in `brine::cli::key_cmd`.

fn main() {
    std::process::exit(brine::cli::key_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
