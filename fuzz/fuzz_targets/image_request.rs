//! See `glint_fuzzing::image_request` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::image_request(data));
