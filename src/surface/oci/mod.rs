//! The `oci` surface: container images written by kiln itself — no daemon,
//! no registry — so the same source always gives the same manifest digest.
//!
//! One recipe (or matrix cell) gives one store output:
//!
//! ```text
//! <name>-<version>/
//!   oci/                       OCI image layout v1.1: oci-layout, index.json, blobs/sha256/…
//!   <name>-<version>.docker.tar   the same image for `docker load` / `podman load`
//! ```
//!
//! `index.json` lists the image once per tag (annotation
//! `org.opencontainers.image.ref.name`): the version's OCI spelling and, for
//! stable releases, the policy's alias tags and per-major channel
//! (`src/version/resolve.rs` decides them), each followed by the recipe's
//! tag suffix (matrix cells). Several platforms give an image index.
//!
//! The parts: [`plan`] checks the recipe and lists every layer entry;
//! [`base`] opens and verifies a pinned base layout; [`layer`] writes a
//! layer in one streaming pass through [`compress`]; [`json`] holds the
//! documents and their one serialisation; [`docker`] writes the archive;
//! [`blobs`] the content-addressed files; [`settings`] the run settings'
//! rules; [`hazards`] what a base layer may hold. Byte rules: FORMATS.md §6 and
//! `docs/oci.md`.

pub(crate) mod base;
pub(crate) mod blobs;
mod built;
pub(crate) mod compress;
pub(crate) mod docker;
pub(crate) mod entry;
pub(crate) mod error;
pub(crate) mod hazards;
mod index;
pub(crate) mod json;
pub(crate) mod layer;
mod origins;
pub(crate) mod plan;
pub(crate) mod settings;
pub(crate) mod sources;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::recipe::oci::LayerCompression;
use crate::recipe::{Recipe, RecipeError};
use blobs::{Blobs, Digest};
use json::{
    canonical, Descriptor, History, ImageConfig, Index, Manifest, MediaType, Platform, RootFs,
};

use built::Built;
pub(crate) use error::OciError;

use super::kind::{Publication, SourceAccess, SurfaceKind};
use super::names::{Predicted, Read, VersionNames};
use super::{Artifact, Job, Output, SurfaceError};
use crate::recipe::oci::OciSection;
use crate::version::ResolvedVersion;

/// Check an OCI recipe at planning time (before anything is built).
pub(crate) fn check(
    r: &Recipe,
    version_tags: &[String],
    version: plan::Spelling<'_>,
) -> Result<(), OciError> {
    index::check(r)?;
    plan::check(r, version_tags, version)
}

/// Writer identity for the derivation: the layout writer and both layer
/// compressors (the recipe's choice is in the derivation's config).
pub(crate) fn identity() -> [(&'static str, String); 3] {
    [
        (
            "writer",
            "oci-v1 tar=pax json=compact docker-layers=blobs".to_string(),
        ),
        ("oci-gzip", compress::identity(LayerCompression::Gzip)),
        ("oci-zstd", compress::identity(LayerCompression::Zstd)),
    ]
}

fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.into();
    move |source| OciError::Io { path, source }
}

/// Whether the recipe's layers may read its selected files in place
/// ([`crate::surface::SourceAccess::InPlace`]): unless its base layout is
/// a path below the source directory, which is read as a directory.
pub(crate) fn reads_sources_in_place(section: &OciSection) -> bool {
    section
        .base
        .as_ref()
        .is_none_or(|b| b.layout.starts_with("inputs/"))
}

/// The `oci` surface over its `[oci]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Oci<'a>(pub &'a OciSection);

impl SurfaceKind for Oci<'_> {
    fn publication(&self) -> Publication {
        Publication::Oci
    }

    fn builder(&self) -> Vec<(&'static str, String)> {
        identity().into()
    }

    fn source_access(&self) -> SourceAccess {
        if reads_sources_in_place(self.0) {
            SourceAccess::InPlace
        } else {
            SourceAccess::Workspace
        }
    }

    fn predict(
        &self,
        r: &Recipe,
        v: &VersionNames<'_>,
        _: &mut Read<'_>,
    ) -> Result<Option<Vec<Predicted>>, RecipeError> {
        Ok(super::names::own(r, names(r, self.0, v.artifact)))
    }

    fn check(
        &self,
        r: &Recipe,
        version: &ResolvedVersion,
        artifact_version: &str,
    ) -> Result<(), SurfaceError> {
        let tags = version
            .oci_tags()
            .map_err(|e| SurfaceError::Version(Box::new(e)))?;
        let release = version
            .code_release(crate::version::Target::Oci)
            .map_err(|e| SurfaceError::Version(Box::new(e)))?;
        let spelling = plan::Spelling::new(artifact_version, Some(&release));
        check(r, &tags, spelling)?;
        Ok(())
    }

    fn build(&self, job: &Job<'_>) -> Result<Output, SurfaceError> {
        build_image(job).map_err(SurfaceError::Oci)
    }
}

/// The image layout and docker archives of the recipe: `<name>.oci`, and
/// one `.docker.tar` per platform.
fn names(r: &Recipe, section: &OciSection, version: &str) -> Vec<String> {
    let name = output_name(r, version);
    let platforms = &section.platforms;
    let mut out = vec![format!("{name}.oci")];
    if platforms.len() <= 1 {
        out.push(format!("{name}.docker.tar"));
    } else {
        for p in platforms {
            out.push(format!("{name}-{}.docker.tar", p.replace('/', "-")));
        }
    }
    out
}

fn build_image(job: &Job<'_>) -> Result<Output, OciError> {
    let r = job.recipe;
    let version_tags: Vec<String> = if job.versions.oci_tags.is_empty() {
        vec![job.version.to_string()]
    } else {
        job.versions.oci_tags.clone()
    };
    let revision = job.versions.revision.as_deref();
    let sde = job.source_date_epoch.max(0);
    let created = json::rfc3339(sde);
    let spelling = plan::Spelling::new(job.version, job.versions.release.as_deref());
    let plan = plan::plan(
        r,
        &version_tags,
        spelling,
        sources::Sources {
            source_dir: job.source_dir,
            inputs: job.inputs,
            view: job.view,
        },
        revision,
        &created,
    )?;
    let name = output_name(r, job.version);
    let root = job.out.join(&name);
    let layout = root.join("oci");
    let blobs = Blobs::create(&layout).map_err(io(&layout))?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut built = Vec::new();
    if let Some(mounts) = &plan.section.index {
        built = index::join(job, mounts, &plan.section.platforms, &blobs)?;
    } else {
        for pp in &plan.platforms {
            built.push(build_platform(
                &plan, pp, &blobs, sde as u64, &created, workers, job,
            )?);
        }
    }
    let top = top_descriptor(&plan, &built, &blobs, &layout)?;
    let layout_files = write_layout_files(&plan, &top, &blobs, &layout)?;
    let repo_tags: Vec<String> = plan
        .tags
        .iter()
        .map(|t| format!("{}:{t}", plan.repository))
        .collect();
    // The layout is complete: its NAR hash (a read of every blob) runs on
    // another core while the docker archives copy the same blobs.
    let (nar, dockers) = std::thread::scope(|s| {
        let nar = s.spawn(|| {
            crate::hash::tree::nar_sha256(&layout).map_err(|e| OciError::Io {
                path: layout.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        });
        let dockers = docker_archives(&name, &root, &built, &repo_tags);
        let nar = nar
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (nar, dockers)
    });
    let nar = nar?;
    let facts = crate::surface::ArtifactFacts {
        image: Some(crate::surface::ImageFacts {
            manifest_digest: top.digest.clone(),
            repository: plan.repository.clone(),
            tags: plan.tags.clone(),
        }),
        warnings: base_warnings(&built, job.log)?,
        ..Default::default()
    };
    let mut artifacts = vec![Artifact {
        file: format!("{name}.oci"),
        path: "oci".into(),
        sha256: nar.hash.to_hex(),
        size: nar.size,
        directory: true,
        facts,
        files: layout_files,
    }];
    artifacts.extend(dockers?);
    let origins = origins::image(&plan, &artifacts);
    Ok(Output {
        path: root,
        name,
        artifacts,
        origins,
    })
}

/// The base layers' warnings of every platform, once each, also written to
/// the build log. They are already escaped ([`crate::name::Shown`]).
fn base_warnings(built: &[Built], log: &std::path::Path) -> Result<Vec<String>, OciError> {
    let mut seen = std::collections::BTreeSet::new();
    let warnings: Vec<&String> = built
        .iter()
        .flat_map(|b| &b.warnings)
        .filter(|w| seen.insert(w.as_str()))
        .collect();
    if !warnings.is_empty() {
        let text: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
        std::fs::write(log, text).map_err(io(log))?;
    }
    Ok(warnings.into_iter().cloned().collect())
}

/// `<name>.docker.tar`, or with the platform when there are several.
fn docker_file_name(name: &str, b: &Built, platforms: usize) -> String {
    if platforms == 1 {
        return format!("{name}.docker.tar");
    }
    let mut p = format!("{name}-{}-{}", b.platform.os, b.platform.architecture);
    if let Some(v) = &b.platform.variant {
        p.push('-');
        p.push_str(v);
    }
    format!("{p}.docker.tar")
}

fn layer_media(c: LayerCompression) -> MediaType {
    match c {
        LayerCompression::Gzip => MediaType::LayerGzip,
        LayerCompression::Zstd => MediaType::LayerZstd,
    }
}

/// The image's top descriptor: the one platform's manifest, or an image
/// index of every platform's (written to `blobs`).
fn top_descriptor(
    plan: &plan::ImagePlan,
    built: &[Built],
    blobs: &Blobs,
    layout: &std::path::Path,
) -> Result<Descriptor, OciError> {
    Ok(if built.len() == 1 {
        built[0].descriptor.clone()
    } else {
        let index = Index {
            schema_version: 2,
            media_type: Some(MediaType::Index),
            manifests: built.iter().map(|b| b.descriptor.clone()).collect(),
            annotations: plan.annotations.clone(),
        };
        let (d, size) = blobs.put(&canonical(&index)).map_err(io(layout))?;
        Descriptor::new(MediaType::Index, d.as_str(), size)
    })
}

/// Write the layout's `index.json` (the top descriptor under each tag) and
/// `oci-layout`; returns every file of the layout with its SHA-256.
fn write_layout_files(
    plan: &plan::ImagePlan,
    top: &Descriptor,
    blobs: &Blobs,
    layout: &std::path::Path,
) -> Result<BTreeMap<String, String>, OciError> {
    let layout_index = Index {
        schema_version: 2,
        media_type: Some(MediaType::Index),
        manifests: plan
            .tags
            .iter()
            .map(|t| {
                let mut d = top.clone();
                d.annotations
                    .insert("org.opencontainers.image.ref.name".into(), t.clone());
                d
            })
            .collect(),
        annotations: BTreeMap::new(),
    };
    let mut layout_files = blobs.written();
    for (file, bytes) in [
        ("index.json", canonical(&layout_index)),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    ] {
        std::fs::write(layout.join(file), &bytes).map_err(io(layout))?;
        layout_files.insert(file.into(), crate::hash::Sha256::digest(&bytes).to_hex());
    }
    Ok(layout_files)
}

/// One docker archive per platform under `root`, tagged `repo_tags`.
fn docker_archives(
    name: &str,
    root: &std::path::Path,
    built: &[Built],
    repo_tags: &[String],
) -> Result<Vec<Artifact>, OciError> {
    built
        .iter()
        .map(|b| {
            let file = docker_file_name(name, b, built.len());
            let (sha256, size) = docker::write(
                &root.join(&file),
                &b.config,
                &b.config_digest,
                &b.docker_layers,
                repo_tags,
            )?;
            Ok(Artifact {
                files: Default::default(),
                path: file.clone(),
                file,
                sha256,
                size,
                directory: false,
                facts: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, OciError>>()
}

/// The platform of an image: the recipe's, else its base image's, else
/// linux/amd64.
fn platform_of(pp: &plan::PlatformPlan, base: Option<&base::BaseImage>) -> Platform {
    match (&pp.platform, base) {
        (Some(p), _) => p.clone(),
        (None, Some(b)) => Platform {
            os: b.config.os.clone(),
            architecture: b.config.architecture.clone(),
            variant: b.config.variant.clone(),
        },
        (None, None) => Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        },
    }
}

/// The config an image starts from: its base's (or an empty one), created
/// at `created`, for `platform`.
fn initial_config(
    base: Option<&base::BaseImage>,
    platform: &Platform,
    created: &str,
) -> ImageConfig {
    let mut config = match base {
        Some(b) => b.config.clone(),
        None => ImageConfig {
            created: None,
            architecture: String::new(),
            os: String::new(),
            variant: None,
            config: Default::default(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
            history: Vec::new(),
        },
    };
    config.created = Some(created.to_string());
    config.architecture = platform.architecture.clone();
    config.os = platform.os.clone();
    config.variant = platform.variant.clone();
    config
}

/// Run settings: the recipe's values (section `s`, templates rendered for
/// `version`, `{release}` the version of the code the image carries) over
/// the base's.
fn run_settings(
    rc: &mut json::RunConfig,
    s: &crate::recipe::oci::OciSection,
    r: &Recipe,
    version: plan::Spelling<'_>,
) -> Result<(), OciError> {
    let release = [("release", version.release)];
    for (k, v) in &s.env {
        let v = r.render_with(&format!("oci.env.{k}"), v, version.version, &release)?;
        let entry = format!("{k}={v}");
        match rc
            .env
            .iter_mut()
            .find(|e| e.split('=').next() == Some(k.as_str()))
        {
            Some(e) => *e = entry,
            None => rc.env.push(entry),
        }
    }
    if let Some(e) = &s.entrypoint {
        rc.entrypoint = Some(e.clone());
        // As a Dockerfile's ENTRYPOINT does, a new entrypoint drops the base's Cmd.
        rc.cmd = s.cmd.clone();
    } else if let Some(c) = &s.cmd {
        rc.cmd = Some(c.clone());
    }
    if let Some(w) = &s.working_dir {
        rc.working_dir = Some(w.clone());
    }
    if let Some(u) = &s.user {
        rc.user = Some(u.clone());
    }
    for (k, v) in &s.labels {
        let v = r.render_with(&format!("oci.labels.{k}"), v, version.version, &release)?;
        rc.labels.insert(k.clone(), v);
    }
    for p in plan::ports(r)? {
        rc.exposed_ports
            .insert(p, Value::Object(Default::default()));
    }
    Ok(())
}

fn build_platform(
    plan: &plan::ImagePlan,
    pp: &plan::PlatformPlan,
    blobs: &Blobs,
    sde: u64,
    created: &str,
    workers: usize,
    job: &Job<'_>,
) -> Result<Built, OciError> {
    let r = job.recipe;
    let base = match &pp.base {
        Some(pin) => Some(base::open(pin, pp.platform.as_ref())?),
        None => None,
    };
    let platform = platform_of(pp, base.as_ref());
    let mut config = initial_config(base.as_ref(), &platform, created);
    let mut layers = Vec::new();
    let mut docker_layers = Vec::new();
    let mut warnings = Vec::new();
    if let Some(b) = &base {
        b.copy_layers(blobs)?;
        warnings = base::check_layers(b, blobs)?;
        for l in &b.manifest.layers {
            // The copy in this layout, checked against its digest by copy_layers.
            let d: Digest = l.digest.parse().expect("checked by check_layers");
            layers.push(l.clone());
            docker_layers.push(docker::DockerLayer {
                blob: blobs.path(&d),
                media_type: l.media_type,
                digest: d,
                size: l.size,
            });
        }
    }
    for l in &pp.layers {
        let w = layer::write(blobs, &l.entries, sde, plan.compression, workers)?;
        let media = layer_media(plan.compression.kind);
        layers.push(Descriptor::new(media, w.digest.as_str(), w.size));
        config.rootfs.diff_ids.push(w.diff_id.to_string());
        config.history.push(History {
            created: Some(created.to_string()),
            created_by: Some(format!("kiln: layer {}", l.name)),
            comment: None,
            empty_layer: false,
            extra: BTreeMap::new(),
        });
        docker_layers.push(docker::DockerLayer {
            blob: blobs.path(&w.digest),
            media_type: media,
            digest: w.digest,
            size: w.size,
        });
    }
    if pp.layers.is_empty() {
        config.history.push(History {
            created: Some(created.to_string()),
            created_by: Some("kiln: config".into()),
            comment: None,
            empty_layer: true,
            extra: BTreeMap::new(),
        });
    }
    let spelling = plan::Spelling::new(job.version, job.versions.release.as_deref());
    run_settings(&mut config.config, &plan.section, r, spelling)?;
    let config_bytes = canonical(&config);
    let (config_digest, config_size) = blobs.put(&config_bytes).map_err(io("config"))?;
    let mut annotations = plan.annotations.clone();
    if let Some(b) = &base {
        annotations.insert(
            "org.opencontainers.image.base.digest".into(),
            b.pinned.to_string(),
        );
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MediaType::Manifest,
        config: Descriptor::new(MediaType::Config, config_digest.as_str(), config_size),
        layers,
        annotations,
    };
    let (md, msize) = blobs.put(&canonical(&manifest)).map_err(io("manifest"))?;
    let mut descriptor = Descriptor::new(MediaType::Manifest, md.as_str(), msize);
    descriptor.platform = Some(platform.clone());
    Ok(Built {
        descriptor,
        config: config_bytes,
        config_digest,
        docker_layers,
        platform,
        warnings,
    })
}

/// The stem of an image recipe's outputs (`<stem>.oci`, `<stem>.docker.tar`).
pub(crate) fn output_name(r: &crate::recipe::Recipe, version: &str) -> String {
    format!(
        "{}-{}",
        r.store_name(),
        crate::nix::store_path::sanitize_name(version)
    )
}
