//! `cargo fuzz run path_template`: see `meshlens_fuzz::path_template` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::path_template(data));
