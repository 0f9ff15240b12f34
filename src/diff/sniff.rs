//! Recognising a container by its first bytes ([`sniff`]), for the reader
//! dispatch (`source.rs`) and nested entries (`compare.rs`, `image.rs`).

/// What the first bytes of a stream say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    Gzip,
    Zstd,
    Zip,
    Nar,
    Tar,
    Other,
}

impl Sniff {
    pub(crate) fn is_container(self) -> bool {
        self != Sniff::Other
    }
}

/// Recognise a stream from its first 512 bytes (or all of it if shorter).
pub(crate) fn sniff(b: &[u8]) -> Sniff {
    if b.starts_with(&[0x1f, 0x8b]) {
        Sniff::Gzip
    } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Sniff::Zstd
    } else if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        Sniff::Zip
    } else if b.len() >= 21 && b[..8] == 13u64.to_le_bytes() && &b[8..21] == b"nix-archive-1" {
        Sniff::Nar
    } else if is_tar_header(b) {
        Sniff::Tar
    } else {
        Sniff::Other
    }
}

/// Whether `b` starts with a tar header whose checksum is right.
fn is_tar_header(b: &[u8]) -> bool {
    if b.len() < 512 || b[..512].iter().all(|&x| x == 0) {
        return false;
    }
    let field = &b[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&c| c == b' ')
        .take_while(|c| (b'0'..=b'7').contains(c))
        .collect();
    let Ok(text) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(stored) = u32::from_str_radix(text, 8) else {
        return false;
    };
    let sum: u32 = b[..512]
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                x as u32
            }
        })
        .sum();
    sum == stored
}
