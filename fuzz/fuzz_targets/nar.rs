//! The NAR reader: strict parser and diff's NAR listing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::diff::fuzz_nar(data);
});
