//! Images in a tar (docker archives, OCI layouts) and what `kiln verify`
//! reads about an artifact from its listing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kiln::diff::fuzz_image(data);
    kiln::audit::fuzz_identity(data);
});
