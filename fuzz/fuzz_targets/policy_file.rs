//! See `glint_fuzzing::policy_file` for what this target checks.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| glint_fuzzing::policy_file(data));
