//! The `tarball` and `zip` surfaces: deterministic bundles of snapshot files
//! and input outputs.
//!
//! Entries are the recipe's selected files (paths relative to its `source`)
//! plus its `[[map]]` entries (a file or directory below `source`, or below
//! `inputs/<mount>/`, placed at `to`), all under `prefix`, sorted by path
//! bytes by [`crate::archive::mapping`]. Tarballs are pax tar (kiln's layout,
//! `docs/archives.md`) compressed with gzip (MTIME 0, OS 255, level 9), zstd
//! (level 19) or nothing; zips use the shared zip writer. The output is the
//! single archive file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::archive::bundle::{self as writer, Compression as TarCompression};
use crate::archive::mapping::{
    map_files, MappedEntry, MappingOptions, Rename, SourceFile, SourceKind,
};
use crate::provenance::origin::{EntryOrigin, Origins};
use crate::recipe::schema::{Compression, TarballSection};
use crate::recipe::{Recipe, RecipeError};
use crate::version::ResolvedVersion;

use super::kind::{Publication, SurfaceKind};
use super::names::{Predicted, Read, VersionNames};
use super::{sha256_file, Artifact, Job, Output, SurfaceError};

mod error;
pub(crate) use error::BundleError;

/// The `tarball` surface over its `[tarball]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tarball<'a>(pub &'a TarballSection);

/// The `zip` surface (its `[zip]` table has no keys).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zip;

impl Tarball<'_> {
    fn compression(&self) -> TarCompression {
        match self.0.compression {
            Compression::Gzip => TarCompression::Gzip,
            Compression::Zstd => TarCompression::Zstd,
            Compression::None => TarCompression::None,
        }
    }
}

impl SurfaceKind for Tarball<'_> {
    fn publication(&self) -> Publication {
        Publication::None
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        let mut b = writer_identity("tarball");
        b.push(("zstd", crate::archive::ZSTD_IDENTITY.to_string()));
        b
    }

    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        _: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        super::names::archive(r, v, self.compression().suffix())
    }

    fn check(&self, r: &Recipe, version: &ResolvedVersion, _: &str) -> Result<(), SurfaceError> {
        no_post_release(r, version)
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build_tarball(job, self.compression())
    }
}

impl SurfaceKind for Zip {
    fn publication(&self) -> Publication {
        Publication::None
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        writer_identity("zip")
    }

    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        _: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        super::names::archive(r, v, ".zip")
    }

    fn check(&self, r: &Recipe, version: &ResolvedVersion, _: &str) -> Result<(), SurfaceError> {
        no_post_release(r, version)
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build_zip(job)
    }
}

/// The identity of kiln's archive writer for `surface` (tarball, zip, npm).
pub(crate) fn writer_identity(surface: &str) -> Vec<(&'static str, String)> {
    vec![
        ("writer", format!("{surface}-v1")),
        ("deflate", crate::archive::bundle_deflate().identity()),
    ]
}

/// Post releases (`1.2.3.post1`) republish an image of a release; every
/// other published artifact keeps the release's bytes.
fn no_post_release(r: &Recipe, version: &ResolvedVersion) -> Result<(), SurfaceError> {
    if version.canonical.is_post() {
        return Err(SurfaceError::PostRelease {
            version: version.canonical.to_string(),
            surface: r.surface(),
        });
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { path, source }
}

fn source_file(rel: String, disk: &Path) -> Result<SourceFile, BundleError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(disk).map_err(io(disk))?;
    let kind = if meta.file_type().is_symlink() {
        let t = std::fs::read_link(disk).map_err(io(disk))?;
        SourceKind::Symlink {
            target: t.to_string_lossy().into_owned(),
        }
    } else {
        SourceKind::File {
            disk: disk.to_path_buf(),
            size: meta.len(),
            executable: meta.permissions().mode() & 0o100 != 0,
        }
    };
    Ok(SourceFile { path: rel, kind })
}

/// A bundle's entries, and the workspace file each came from (by entry path).
pub(crate) type Entries = (Vec<MappedEntry>, Vec<(String, PathBuf)>);

/// The archive entries of a bundle recipe, and where each came from.
pub(crate) fn entries(job: &Job<'_>) -> Result<Entries, SurfaceError> {
    let r = job.recipe;
    let mut files = Vec::new();
    let mut disks: BTreeMap<String, PathBuf> = BTreeMap::new();
    for rel in job.files {
        disks.insert(rel.clone(), job.source_dir.join(rel));
        files.push(source_file(rel.clone(), &job.source_dir.join(rel))?);
    }
    let mut renames = Vec::new();
    for (i, m) in r.spec.map.iter().enumerate() {
        let key = format!("map[{i}].from");
        let from = r.render(&key, &m.from, job.version)?;
        let to = r.render(&format!("map[{i}].to"), &m.to, job.version)?;
        let bad = |reason: &str| BundleError::Map {
            file: r.file.clone(),
            key: key.clone(),
            value: from.clone(),
            reason: reason.to_string(),
        };
        let disk = match crate::recipe::schema::input_mount(&from) {
            Some((mount, path)) => {
                let base = job
                    .inputs
                    .get(mount)
                    .ok_or_else(|| bad("no input of that mount name (see `inputs`)"))?;
                if path.is_empty() {
                    base.clone()
                } else {
                    base.join(path)
                }
            }
            None => job.source_dir.join(&from),
        };
        let meta =
            std::fs::symlink_metadata(&disk).map_err(|_| bad("does not exist in the workspace"))?;
        // Mapped sources are addressed by a synthetic path that cannot clash
        // with snapshot files, then renamed onto `to`.
        let synthetic = format!("\u{0}map{i}");
        if meta.is_dir() {
            for (rel, p) in crate::fsutil::files_below(&disk).map_err(io(&disk))? {
                files.push(source_file(format!("{synthetic}/{rel}"), &p)?);
                disks.insert(format!("{synthetic}/{rel}"), p);
            }
        } else {
            files.push(source_file(synthetic.clone(), &disk)?);
            disks.insert(synthetic.clone(), disk);
        }
        renames.push(Rename {
            from: synthetic,
            to: to.trim_end_matches('/').to_string(),
        });
    }
    let prefix = match &r.spec.prefix {
        Some(p) => r.render("prefix", p, job.version)?,
        None => String::new(),
    };
    let opts = MappingOptions {
        include: vec![],
        exclude: vec![],
        strip: None,
        renames,
        prefix,
    };
    let entries = map_files(files, &opts).map_err(|source| {
        SurfaceError::Bundle(BundleError::Mapping {
            file: r.file.clone(),
            source,
        })
    })?;
    let origins = entries
        .iter()
        .filter_map(|e| Some((e.path.clone(), disks.remove(&e.source)?)))
        .collect();
    Ok((entries, origins))
}

fn output_name(job: &Job<'_>, ext: &str) -> Result<String, SurfaceError> {
    let r = job.recipe;
    let name = match &r.spec.output {
        Some(o) => r.render("output", o, job.version)?,
        None => format!("{}-{}{ext}", r.store_name(), job.version),
    };
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(SurfaceError::Bundle(BundleError::Map {
            file: r.file.clone(),
            key: "output".into(),
            value: name,
            reason: "must render to a plain file name".into(),
        }));
    }
    Ok(name)
}

fn finish(
    path: PathBuf,
    name: String,
    from: Vec<(String, PathBuf)>,
) -> Result<Output, SurfaceError> {
    let (sha256, size) = sha256_file(&path)?;
    let mut origins = Origins::default();
    for (entry, disk) in from {
        origins.add(&name, entry, EntryOrigin::Workspace(disk));
    }
    Ok(Output {
        path,
        origins,
        name: crate::nix::store_path::sanitize_name(&name),
        artifacts: vec![Artifact {
            files: Default::default(),
            file: name,
            path: String::new(),
            sha256,
            size,
            directory: false,
            facts: Default::default(),
        }],
    })
}

fn open_file(p: &Path) -> std::io::Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(p).map(std::io::BufReader::new)
}

/// Write to `path` through a buffer, then flush and sync it.
fn write_file<W>(path: &Path, write: W) -> Result<(), SurfaceError>
where
    W: FnOnce(
        std::io::BufWriter<std::fs::File>,
    ) -> Result<std::io::BufWriter<std::fs::File>, BundleError>,
{
    let file = std::fs::File::create(path).map_err(io(path))?;
    let w = write(std::io::BufWriter::with_capacity(1 << 20, file))?;
    w.into_inner()
        .map_err(|e| BundleError::Io {
            path: path.to_path_buf(),
            source: e.into_error(),
        })?
        .sync_all()
        .map_err(io(path))?;
    Ok(())
}

/// Build a `tarball` recipe.
fn build_tarball(job: &Job<'_>, compression: TarCompression) -> Result<Output, SurfaceError> {
    let name = output_name(job, compression.suffix())?;
    let (entries, from) = entries(job)?;
    let path = job.out.join(&name);
    let sde = job.source_date_epoch.max(0) as u64;
    write_file(&path, |w| {
        Ok(writer::write_tar_bundle(
            &entries,
            sde,
            compression,
            w,
            open_file,
        )?)
    })?;
    finish(path, name, from)
}

/// Build a `zip` recipe.
fn build_zip(job: &Job<'_>) -> Result<Output, SurfaceError> {
    let name = output_name(job, ".zip")?;
    let (entries, from) = entries(job)?;
    let path = job.out.join(&name);
    let sde = job.source_date_epoch.max(0) as u64;
    write_file(&path, |w| {
        Ok(writer::write_zip_bundle(&entries, sde, w, open_file)?)
    })?;
    finish(path, name, from)
}
