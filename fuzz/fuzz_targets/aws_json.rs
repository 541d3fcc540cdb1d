//! AWS JSON 1.1 request bodies into the typed request of every shaped operation.
//! The checks live in `keyledger::fuzzing`, shared with the corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyledger::fuzzing::aws_json(data));
