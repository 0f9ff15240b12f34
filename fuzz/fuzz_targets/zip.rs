//! zip: the bounded listing reader and diff's central/local header parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::diff::fuzz_zip(data);
});
