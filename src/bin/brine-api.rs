//! The `brine-api` binary; everything lives in `brine::cli::api_cmd`.

fn main() {
    std::process::exit(brine::cli::api_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
