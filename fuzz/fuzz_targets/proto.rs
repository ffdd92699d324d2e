#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::proto::fuzz_decode(data));
