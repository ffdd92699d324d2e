#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::wire::fuzz_decode(data));
