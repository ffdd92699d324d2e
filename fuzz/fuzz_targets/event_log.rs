#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| brine::event_log::record::fuzz_decode(data));
