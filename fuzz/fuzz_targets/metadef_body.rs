//! See `glint_fuzzing::metadef_body` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::metadef_body(data));
