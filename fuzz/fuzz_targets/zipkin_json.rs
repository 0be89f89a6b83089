//! `cargo fuzz run zipkin_json`: see `meshlens_fuzz::zipkin_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::zipkin_json(data));
