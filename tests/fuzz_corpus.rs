//! Replays every committed fuzz corpus file through the fuzz targets' library calls, so
//! a crash the fuzzer once found stays fixed under plain `cargo test`.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        f(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn wire_corpus() {
    replay("wire", brine::wire::fuzz_decode);
}

#[test]
fn args_corpus() {
    replay("args", brine::py::args::fuzz_parse);
}

#[test]
fn pem_corpus() {
    replay("pem", brine::pki::fuzz_pem);
}

#[test]
fn proto_corpus() {
    replay("proto", brine::proto::fuzz_decode);
}

#[test]
fn compound_corpus() {
    replay("compound", brine::targeting::fuzz_compound);
}

#[test]
fn event_log_corpus() {
    replay("event_log", brine::event_log::record::fuzz_decode);
}

#[test]
fn http_corpus() {
    replay("http", brine::api::http::fuzz_request);
}
