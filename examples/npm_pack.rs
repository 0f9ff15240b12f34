//! Pack an npm package directory with kiln's native packer.
//!
//! ```text
//! cargo run --release --example npm_pack -- PACKAGE_DIR OUT_DIR [--tar]
//! ```
//!
//! Writes `OUT_DIR/<scope>-<name>-<version>.tgz` (or the uncompressed `.tar`
//! with `--tar`) and prints npm's summary fields as JSON. Used by
//! `bench/npm.sh` until `kiln build` drives the npm surface.

use std::path::PathBuf;
use std::process::ExitCode;

use kiln::error::Classify;
use kiln::surface::npm;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tar_only = args.iter().any(|a| a == "--tar");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(dir), Some(out)) = (pos.first(), pos.get(1)) else {
        eprintln!("usage: npm_pack PACKAGE_DIR OUT_DIR [--tar]");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let out = PathBuf::from(out);
    match run(&dir, &out, tar_only) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", kiln::error::chain(&e));
            ExitCode::from(e.kind().exit_code())
        }
    }
}

fn run(
    dir: &std::path::Path,
    out: &std::path::Path,
    tar_only: bool,
) -> Result<String, npm::NpmError> {
    let io = |path: PathBuf| move |source| npm::NpmError::Io { path, source };
    if tar_only {
        let m = npm::read_manifest(dir)?;
        let name = npm::tarball_name(&m.name, &m.version).replace(".tgz", ".tar");
        let path = out.join(&name);
        let f = std::fs::File::create(&path).map_err(io(path.clone()))?;
        let (_, files, unpacked) = npm::write_tar(dir, std::io::BufWriter::new(f))?;
        return Ok(serde_json::json!({"filename": name, "entryCount": files.len(), "unpackedSize": unpacked}).to_string());
    }
    let tmp = out.join(".kiln-npm-pack.partial");
    let f = std::fs::File::create(&tmp).map_err(io(tmp.clone()))?;
    let p = match npm::pack(dir, std::io::BufWriter::new(f)) {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let dest = out.join(&p.file_name);
    std::fs::rename(&tmp, &dest).map_err(io(dest.clone()))?;
    Ok(serde_json::json!({
        "id": format!("{}@{}", p.name, p.version),
        "name": p.name,
        "version": p.version,
        "filename": p.file_name,
        "size": p.size,
        "unpackedSize": p.unpacked_size,
        "shasum": p.shasum,
        "integrity": p.integrity,
        "entryCount": p.files.len(),
        "files": p.files,
    })
    .to_string())
}
