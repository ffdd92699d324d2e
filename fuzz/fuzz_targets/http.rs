#![no_main]
//! brine-api's HTTP request parser and body readers on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brine::api::http::fuzz_request(data);
});
