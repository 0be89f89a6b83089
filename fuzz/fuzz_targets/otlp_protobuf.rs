//! `cargo fuzz run otlp_protobuf`: see `meshlens_fuzz::otlp_protobuf` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::otlp_protobuf(data));
