//! The ustar header block every dialect writes: field offsets, what an
//! entry is ([`Kind`]), the checksum and the number encodings shared by the
//! GNU/pax writer (`mod.rs`) and the npm one (`node.rs`).

/// Size of one tar block.
pub const BLOCK: usize = 512;

/// What a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind<'a> {
    File(u64),
    Dir,
    Symlink(&'a str),
}

impl Kind<'_> {
    pub(super) fn flag(&self) -> u8 {
        match self {
            Kind::File(_) => b'0',
            Kind::Dir => b'5',
            Kind::Symlink(_) => b'2',
        }
    }
    pub(super) fn size(&self) -> u64 {
        match self {
            Kind::File(n) => *n,
            _ => 0,
        }
    }
}

pub(super) const NAME: usize = 0;

pub(super) const MODE: usize = 100;

pub(super) const UID: usize = 108;

pub(super) const GID: usize = 116;

pub(super) const SIZE: usize = 124;

pub(super) const MTIME: usize = 136;

pub(super) const CKSUM: usize = 148;

pub(super) const TYPE: usize = 156;

pub(super) const LINK: usize = 157;

pub(super) const MAGIC: usize = 257;

pub(super) const DEVMAJOR: usize = 329;

pub(super) const DEVMINOR: usize = 337;

pub(super) const PREFIX: usize = 345;

pub(super) fn checksum(b: &[u8; BLOCK]) -> u64 {
    b.iter()
        .enumerate()
        .map(|(i, &c)| {
            if (CKSUM..CKSUM + 8).contains(&i) {
                b' ' as u64
            } else {
                c as u64
            }
        })
        .sum()
}

/// `width-1` zero-padded octal digits and a NUL (tar crate, Python).
pub(super) fn octal_nul(dst: &mut [u8], n: u64) -> bool {
    let w = dst.len();
    let s = format!("{n:0>width$o}", width = w - 1);
    if s.len() > w - 1 {
        base256(dst, n);
        return false;
    }
    dst[..w - 1].copy_from_slice(s.as_bytes());
    dst[w - 1] = 0;
    true
}

/// GNU base-256 for numbers too large for octal.
pub(super) fn base256(dst: &mut [u8], n: u64) {
    dst.fill(0);
    let w = dst.len();
    for (i, b) in n.to_be_bytes().iter().rev().enumerate() {
        if i < w {
            dst[w - 1 - i] = *b;
        }
    }
    dst[0] |= 0x80;
}

pub(super) fn put(dst: &mut [u8], s: &[u8]) {
    let n = s.len().min(dst.len());
    dst[..n].copy_from_slice(&s[..n]);
}
