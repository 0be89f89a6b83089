//! `cargo fuzz run policy_yaml`: see `meshlens_fuzz::policy_yaml` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| meshlens_fuzz::policy_yaml(data));
