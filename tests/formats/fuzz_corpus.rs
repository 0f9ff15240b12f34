//! Replays the fuzz corpus (fuzz/corpus/<target>/*: seeds, inputs the
//! fuzzer kept, and every crash it found) through the same library entry
//! points the cargo-fuzz targets call, on stable: none may panic.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for p in files {
        let data = std::fs::read(&p).unwrap();
        let res = std::panic::catch_unwind(|| f(&data));
        assert!(res.is_ok(), "{} panics", p.display());
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn nar_corpus() {
    replay("nar", kiln::diff::fuzz_nar);
}

#[test]
fn tar_corpus() {
    replay("tar", kiln::diff::fuzz_tar);
}

#[test]
fn zip_corpus() {
    replay("zip", kiln::diff::fuzz_zip);
}

#[test]
fn diff_corpus() {
    replay("diff", kiln::diff::fuzz_diff);
}

#[test]
fn image_corpus() {
    replay("image", kiln::diff::fuzz_image);
    replay("image", kiln::audit::fuzz_identity);
}
