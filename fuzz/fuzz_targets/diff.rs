//! Any input through diff's format detection, then compared with a copy
//! whose second half is the input reversed (exercises compare and nesting).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::diff::fuzz_diff(data);
});
