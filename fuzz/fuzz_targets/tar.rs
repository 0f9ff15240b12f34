//! tar, tar.gz and tar.zst: the bounded listing readers and diff's raw walker.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::diff::fuzz_tar(data);
});
