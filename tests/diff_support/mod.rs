//! Builders of small archives for the `kiln diff` tests, written byte by
//! byte so that each pair differs in exactly one chosen field and hostile
//! names (which kiln's own writers refuse) can be produced.
#![allow(dead_code)]

use std::io::Write;

/// One tar member.
#[derive(Clone)]
pub struct T {
    pub name: Vec<u8>,
    pub flag: u8,
    pub link: Vec<u8>,
    pub mode: u32,
    pub mtime: u64,
    pub data: Vec<u8>,
}

impl T {
    pub fn file(name: &str, data: &[u8]) -> T {
        T {
            name: name.as_bytes().to_vec(),
            flag: b'0',
            link: Vec::new(),
            mode: 0o644,
            mtime: 1_700_000_000,
            data: data.to_vec(),
        }
    }
    pub fn raw(name: &[u8], flag: u8, link: &[u8]) -> T {
        T {
            name: name.to_vec(),
            flag,
            link: link.to_vec(),
            mode: 0o644,
            mtime: 1_700_000_000,
            data: Vec::new(),
        }
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0w$o}\0", v, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// One ustar header (names up to 100 bytes).
pub fn tar_header(t: &T) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(t.name.len() <= 100 && t.link.len() <= 100);
    h[..t.name.len()].copy_from_slice(&t.name);
    octal(&mut h[100..108], t.mode as u64);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], t.data.len() as u64);
    octal(&mut h[136..148], t.mtime);
    h[156] = t.flag;
    h[157..157 + t.link.len()].copy_from_slice(&t.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

pub fn tar(entries: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in entries {
        out.extend_from_slice(&tar_header(t));
        out.extend_from_slice(&t.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// gzip with flate2 at `level`, header OS byte `os`.
pub fn gzip(data: &[u8], level: u32, os: u8) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .operating_system(os)
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One zip member, stored (no compression).
#[derive(Clone)]
pub struct Z {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// Extra field in the central directory only.
    pub central_extra: Vec<u8>,
    /// Name written in the local header, if different.
    pub local_name: Option<Vec<u8>>,
    /// Point this central record at member `n`'s local header instead of its own.
    pub alias_of: Option<usize>,
    pub deflate: bool,
}

impl Z {
    pub fn file(name: &str, data: &[u8]) -> Z {
        Z {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            central_extra: Vec::new(),
            local_name: None,
            alias_of: None,
            deflate: false,
        }
    }
}

pub fn zip(members: &[Z]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut offsets = Vec::new();
    let mut records = Vec::new();
    for z in members {
        let (method, body) = if z.deflate {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(9));
            e.write_all(&z.data).unwrap();
            (8u16, e.finish().unwrap())
        } else {
            (0u16, z.data.clone())
        };
        let mut crc = flate2::Crc::new();
        crc.update(&z.data);
        let crc = crc.sum();
        records.push((method, body.len() as u32, crc));
        if z.alias_of.is_some() {
            offsets.push(0);
            continue;
        }
        offsets.push(out.len() as u32);
        let lname = z.local_name.clone().unwrap_or_else(|| z.name.clone());
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&(z.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(lname.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&lname);
        out.extend_from_slice(&body);
    }
    let cd_at = out.len() as u32;
    for (i, z) in members.iter().enumerate() {
        let src = z.alias_of.unwrap_or(i);
        let (method, csize, crc) = records[src];
        let usize_ = members[src].data.len() as u32;
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&0x0314u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&usize_.to_le_bytes());
        central.extend_from_slice(&(z.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(z.central_extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offsets[src].to_le_bytes());
        central.extend_from_slice(&z.name);
        central.extend_from_slice(&z.central_extra);
    }
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Hex sha256.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A one-layer OCI image layout under `dir` whose config has `env`.
pub fn oci_layout(dir: &std::path::Path, env: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| -> String {
        let h = sha256_hex(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        h
    };
    let layer_tar = tar(&[T::file("app/hello.txt", b"hello\n")]);
    let layer = gzip(&layer_tar, 9, 255);
    let layer_h = put(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["{env}"],"Cmd":["/app/run"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
        sha256_hex(&layer_tar)
    );
    let config_h = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{config_h}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{layer_h}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_h = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{manifest_h}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"1.0.0"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
}

impl T {
    /// A file with a name given as raw bytes.
    pub fn file_raw(name: &[u8], data: &[u8]) -> T {
        T {
            data: data.to_vec(),
            ..T::raw(name, b'0', b"")
        }
    }
}
