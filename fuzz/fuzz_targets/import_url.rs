//! See `glint_fuzzing::import_url` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::import_url(data));
