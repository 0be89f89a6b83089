//! `cargo fuzz run otlp_json`: see `meshlens_fuzz::otlp_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::otlp_json(data));
