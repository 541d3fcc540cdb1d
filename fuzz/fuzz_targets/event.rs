//! Stored event data: the envelope decoder and the ledger row's derived columns.
//! The checks live in `keyledger::fuzzing`, shared with the corpus replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyledger::fuzzing::event(data));
