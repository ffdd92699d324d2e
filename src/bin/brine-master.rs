//! The `brine-master` binary; everything lives in `brine::cli::master_cmd`.

fn main() {
    if let Some(status) = brine::io::renderer::run_if_requested() {
        std::process::exit(status);
    }
    std::process::exit(brine::cli::master_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
