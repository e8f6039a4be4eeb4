//! See `glint_fuzzing::location_url` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::location_url(data));
