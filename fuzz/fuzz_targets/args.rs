#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::py::args::fuzz_parse(data));
