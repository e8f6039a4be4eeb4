//! See `glint_fuzzing::glance_api_conf` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::glance_api_conf(data));
