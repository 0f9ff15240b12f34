//! The npm dialect's headers, byte for byte as node-tar writes them in
//! portable mode (`npm pack`): `padOctal` numbers, `splitPrefix` long
//! names, UTF-16 lengths, and pax `x` headers when a field does not fit.

use super::header::{
    base256, checksum, Kind, BLOCK, CKSUM, DEVMAJOR, DEVMINOR, LINK, MAGIC, MODE, MTIME, NAME,
    PREFIX, SIZE, TYPE,
};

/// node-tar's `padOctal`: width−2 digits, space, NUL; width−1 digits and NUL
/// when the number needs them; base-256 (and a pax header) beyond that.
pub(super) fn octal_node(dst: &mut [u8], n: u64) -> bool {
    let w = dst.len();
    let max = if w == 12 { 0o777_7777_7777 } else { 0o777_7777 };
    if n > max {
        base256(dst, n);
        return true;
    }
    let s = format!("{n:o}");
    if s.len() == w - 1 {
        dst[..w - 1].copy_from_slice(s.as_bytes());
    } else {
        let t = format!("{n:0>width$o} ", width = w - 2);
        dst[..w - 1].copy_from_slice(t.as_bytes());
    }
    dst[w - 1] = 0;
    false
}

/// Write `s` into `dst` like node's `buf.write(str + NULLS, off, size,
/// 'utf8')`: whole UTF-8 characters only, NUL-filled. Returns whether the
/// string did not fit or was not ASCII (node-tar's "needs pax" condition).
pub(super) fn str_node(dst: &mut [u8], s: &str) -> bool {
    dst.fill(0);
    let mut n = 0;
    for (i, c) in s.char_indices() {
        let end = i + c.len_utf8();
        if end > dst.len() {
            break;
        }
        n = end;
    }
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    !s.is_ascii() || utf16_len(s) > dst.len()
}

pub(super) fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The first `n` UTF-16 code units of `s` (JavaScript's `slice(0, n)`),
/// never splitting a character.
pub(super) fn js_slice(s: &str, n: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > n {
            return &s[..i];
        }
    }
    s
}

/// node-tar `splitPrefix` with a 155-byte prefix: returns (name, prefix, needs pax).
pub(super) fn node_split(p: &str) -> (String, String, bool) {
    if p.len() < 100 {
        return (p.to_string(), String::new(), false);
    }
    let (mut prefix, mut name) = match p.rfind('/') {
        Some(i) => (p[..i].to_string(), p[i + 1..].to_string()),
        None => (".".to_string(), p.to_string()),
    };
    loop {
        if name.len() <= 100 && prefix.len() <= 155 {
            return (name, prefix, false);
        }
        if name.len() > 100 && prefix.len() <= 155 {
            return (js_slice(&name, 99).to_string(), prefix, true);
        }
        // move the last component of the prefix into the name
        let (pre, last) = match prefix.rfind('/') {
            Some(i) => (prefix[..i].to_string(), prefix[i + 1..].to_string()),
            None => (".".to_string(), prefix.clone()),
        };
        name = format!("{last}/{name}");
        prefix = pre;
        if prefix == "." {
            return (js_slice(p, 99).to_string(), String::new(), true);
        }
    }
}

pub(super) fn npm_block(
    path: &str,
    kind: Kind<'_>,
    mode: u32,
    mtime: Option<u64>,
) -> ([u8; BLOCK], bool) {
    let mut b = [0u8; BLOCK];
    let (name, prefix, mut pax) = node_split(path);
    pax |= str_node(&mut b[NAME..NAME + 100], &name);
    pax |= octal_node(&mut b[MODE..MODE + 8], mode as u64);
    pax |= octal_node(&mut b[SIZE..SIZE + 12], kind.size());
    if let Some(m) = mtime {
        pax |= octal_node(&mut b[MTIME..MTIME + 12], m);
    }
    b[TYPE] = kind.flag();
    if let Kind::Symlink(t) = kind {
        pax |= str_node(&mut b[LINK..LINK + 100], t);
    }
    b[MAGIC..MAGIC + 8].copy_from_slice(b"ustar\x0000");
    octal_node(&mut b[DEVMAJOR..DEVMAJOR + 8], 0);
    octal_node(&mut b[DEVMINOR..DEVMINOR + 8], 0);
    pax |= str_node(&mut b[PREFIX..PREFIX + 155], &prefix);
    let sum = checksum(&b);
    octal_node(&mut b[CKSUM..CKSUM + 8], sum);
    (b, pax)
}

/// node-tar's pax record: `<len> <key>=<value>\n`, the length counting itself.
pub(super) fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut digits = body.len().to_string().len();
    if body.len() + digits >= 10usize.pow(digits as u32) {
        digits += 1;
    }
    format!("{}{}", digits + body.len(), body).into_bytes()
}

pub(super) fn npm_header(path: &str, kind: Kind<'_>, mode: u32, mtime: u64) -> Vec<u8> {
    // node-tar writes no mtime for directories in portable mode.
    let mtime = if kind == Kind::Dir { None } else { Some(mtime) };
    let (block, pax) = npm_block(path, kind, mode, mtime);
    let mut out = Vec::with_capacity(3 * BLOCK);
    if pax {
        let mut body = pax_record("path", path);
        if let Some(m) = mtime {
            body.extend(pax_record("mtime", &m.to_string()));
        }
        body.extend(pax_record("size", &kind.size().to_string()));
        if let Kind::Symlink(t) = kind {
            // node-tar orders fields path, …, linkpath, mtime, size
            body = pax_record("path", path);
            body.extend(pax_record("linkpath", t));
            if let Some(m) = mtime {
                body.extend(pax_record("mtime", &m.to_string()));
            }
            body.extend(pax_record("size", "0"));
        }
        let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let pax_name = js_slice(&format!("PaxHeader/{base}"), 99).to_string();
        let (mut h, _) = npm_block(&pax_name, Kind::File(body.len() as u64), 0o644, mtime);
        h[TYPE] = b'x';
        // the checksum must be recomputed after changing the type flag
        let sum = checksum(&h);
        octal_node(&mut h[CKSUM..CKSUM + 8], sum);
        out.extend_from_slice(&h);
        out.extend_from_slice(&body);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.extend_from_slice(&block);
    out
}
