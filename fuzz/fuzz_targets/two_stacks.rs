#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzzing::two_stacks(data));
