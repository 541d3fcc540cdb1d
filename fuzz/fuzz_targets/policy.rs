//! Key, trust and identity policy documents.
//! The checks live in `keyledger::fuzzing`, shared with the corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyledger::fuzzing::policy(data));
