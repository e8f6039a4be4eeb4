//! See `glint_fuzzing::list_query` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::list_query(data));
