//! The `brine-call` binary; everything lives in `brine::cli::call_cmd`.

fn main() {
    std::process::exit(brine::cli::call_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
