#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::pki::fuzz_pem(data));
