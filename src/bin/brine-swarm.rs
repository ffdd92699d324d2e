//! The `brine-swarm` binary; everything lives in `brine::cli::swarm_cmd`.

fn main() {
    std::process::exit(brine::cli::swarm_cmd::main(
        std::env::args_os().skip(1).collect(),
    ));
}
