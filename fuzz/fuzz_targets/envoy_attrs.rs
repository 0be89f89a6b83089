//! `cargo fuzz run envoy_attrs`: see `meshlens_fuzz::envoy_attrs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::envoy_attrs(data));
