//! `cargo fuzz run gzip_body`: see `meshlens_fuzz::gzip_body` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::gzip_body(data));
