//! The `brine-cloud` binary; everything lives in `brine::cli::cloud_cmd`.

fn main() {
    std::process::exit(brine::cli::cloud_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
