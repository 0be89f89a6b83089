//! `cargo fuzz run recorded_lines`: see `meshlens_fuzz::recorded_lines` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::recorded_lines(data));
