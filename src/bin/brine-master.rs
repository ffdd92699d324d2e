//! The `brine-master` binary; everything lives in `brine::cli::master_cmd`.

fn main() {
    std::process::exit(brine::cli::master_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
