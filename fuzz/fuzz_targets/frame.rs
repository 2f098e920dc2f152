#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| jilu_common::fuzzing::frame(data));
