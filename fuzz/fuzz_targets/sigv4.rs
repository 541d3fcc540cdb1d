//! SigV4: the Authorization header, X-Amz-Date, path normalisation, sign then verify.
//! The checks live in `keyledger::fuzzing`, shared with the corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyledger::fuzzing::sigv4_headers(data));
