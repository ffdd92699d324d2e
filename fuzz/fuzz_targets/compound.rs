#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::targeting::fuzz_compound(data));
