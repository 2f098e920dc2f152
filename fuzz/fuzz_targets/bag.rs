#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jilu_bag::fuzzing::bag(data));
