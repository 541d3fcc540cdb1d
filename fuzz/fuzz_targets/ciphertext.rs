//! Ciphertext blobs through the public header parser and decrypt.
//! The checks live in `keyledger::fuzzing`, shared with the corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyledger::fuzzing::ciphertext_blob(data));
