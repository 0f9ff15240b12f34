//! The module graph of `src/`: no import cycle between files, and no import
//! that runs against the layer order stated in `ARCHITECTURE.md`.
//!
//! Every `src/**/*.rs` file is one node (`mod.rs` is its directory's module;
//! inline modules belong to their file). An edge is any path into the crate
//! that the file names: `use crate::…`/`super::…`/`self::…` trees, the same
//! paths in code, and paths that start at a child module or at a name a `use`
//! brought in. A path resolves to the file of its longest module prefix,
//! and through `pub use` re-exports to the file that defines the item, so
//! a facade hides no cycle. A module's own `pub use` of its children is
//! its facade, not a use, and
//! `#[cfg(test)]` modules are left out: they are not part of the build.
//!
//! The layer order is read from the `## Layers` section of `ARCHITECTURE.md`:
//! each numbered line lists top-level modules; a module may import from its
//! own line and the lines above it, never from a line below.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A module path relative to the crate root (`["surface", "oci"]`).
type ModPath = Vec<String>;

#[derive(Debug, PartialEq, Clone)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

/// Rust source to tokens, without comments, strings and char literals.
fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(b.get(i + 1), Some('#' | '"')) && raw_string(&b, i).is_some()
        {
            i = raw_string(&b, i).unwrap_or(i + 1);
        } else if c == 'b' && b.get(i + 1) == Some(&'r') && raw_string(&b, i + 1).is_some() {
            i = raw_string(&b, i + 1).unwrap_or(i + 1);
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if b.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            // `b"…"`/`b'…'` byte literals: drop the prefix, the literal follows.
            if word != "b" || !matches!(b.get(i), Some('"' | '\'')) {
                out.push(Tok::Ident(word.trim_start_matches("r#").to_string()));
            }
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// The end of a raw string starting at `i` (`r"…"`, `r#"…"#`), if it is one.
fn raw_string(b: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while b.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if b.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < b.len() {
        if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → the root.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// One file's source, walked once: the module it is in at each token
/// (inline modules included), its `use` trees and its paths in code.
struct Walk<'a> {
    toks: &'a [Tok],
    /// Absolute module paths each file, or inline module, can name.
    modules: &'a BTreeSet<ModPath>,
    /// Paths named (absolute, not yet cut to a module), each with whether
    /// it is a re-export (`pub use`).
    named: Vec<(ModPath, bool)>,
    /// The file's own `pub use` names: name → the path it re-exports.
    exports: BTreeMap<String, ModPath>,
}

impl Walk<'_> {
    /// Resolves the first segments of a path as seen from module `at`,
    /// given the names `use` brought into scope there.
    fn absolute(
        &self,
        at: &[String],
        aliases: &BTreeMap<String, ModPath>,
        segs: &[String],
    ) -> Option<ModPath> {
        let first = segs.first()?;
        let mut base: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => at.to_vec(),
            "super" => {
                let mut base = at.to_vec();
                let mut n = 0;
                while segs.get(n).is_some_and(|s| s == "super") {
                    base.pop();
                    n += 1;
                }
                base.extend(segs[n..].iter().cloned());
                return Some(base);
            }
            _ => {
                let mut child = at.to_vec();
                child.push(first.clone());
                if self.modules.contains(&child) {
                    child
                } else if let Some(target) = aliases.get(first) {
                    target.clone()
                } else {
                    return None;
                }
            }
        };
        base.extend(segs[1..].iter().cloned());
        Some(base)
    }

    /// Parses a use tree at `i`, pushing every leaf path (prefixed by
    /// `prefix`) with the name it binds; returns the index after it.
    fn use_tree(
        &self,
        mut i: usize,
        prefix: ModPath,
        leaves: &mut Vec<(ModPath, Option<String>)>,
    ) -> usize {
        let mut path = prefix;
        loop {
            match self.toks.get(i) {
                Some(Tok::Ident(w)) => {
                    if w == "as" {
                        if path.last().is_some_and(|s| s == "self") {
                            path.pop();
                        }
                        if let Some(Tok::Ident(alias)) = self.toks.get(i + 1) {
                            leaves.push((path, Some(alias.clone())));
                        }
                        return i + 2;
                    }
                    path.push(w.clone());
                    i += 1;
                }
                Some(Tok::Colons) => i += 1,
                Some(Tok::Punct('*')) => {
                    leaves.push((path, None));
                    return i + 1;
                }
                Some(Tok::Punct('{')) => {
                    i += 1;
                    loop {
                        match self.toks.get(i) {
                            Some(Tok::Punct('}')) => return i + 1,
                            Some(Tok::Punct(',')) => i += 1,
                            None => return i,
                            _ => i = self.use_tree(i, path.clone(), leaves),
                        }
                    }
                }
                _ => {
                    if path.last().is_some_and(|s| s == "self") {
                        path.pop();
                    }
                    let name = path.last().cloned();
                    leaves.push((path, name));
                    return i;
                }
            }
        }
    }

    /// Whether the `mod` at `i` is preceded by `#[cfg(test)]`.
    fn cfg_test(&self, i: usize) -> bool {
        let want = [
            Tok::Punct('#'),
            Tok::Punct('['),
            Tok::Ident("cfg".into()),
            Tok::Punct('('),
            Tok::Ident("test".into()),
            Tok::Punct(')'),
            Tok::Punct(']'),
        ];
        i >= want.len() && self.toks[i - want.len()..i] == want
    }

    /// Walks the file whose module is `file_mod`, collecting named paths.
    fn run(&mut self, file_mod: &[String]) {
        // The module stack: (module path, brace depth at which it closes, aliases).
        let mut stack: Vec<(ModPath, usize, BTreeMap<String, ModPath>)> =
            vec![(file_mod.to_vec(), 0, BTreeMap::new())];
        let mut depth = 0usize;
        let mut i = 0;
        let mut reexport = false;
        // Inside a `#[cfg(test)] mod`: its imports are the tests', not the
        // module's, and are not collected.
        let mut test_depth: Option<usize> = None;
        // Pass 1 for aliases of each scope would need look-ahead; `use`
        // lines come first in kiln's modules, so one pass suffices.
        while i < self.toks.len() {
            let pub_use = std::mem::take(&mut reexport);
            match &self.toks[i] {
                Tok::Punct('{') => {
                    depth += 1;
                    i += 1;
                }
                Tok::Punct('}') => {
                    if stack.len() > 1 && stack.last().is_some_and(|s| s.1 == depth) {
                        stack.pop();
                    }
                    if test_depth == Some(depth) {
                        test_depth = None;
                    }
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                Tok::Ident(w) if w == "pub" => {
                    // `pub(super)`, `pub(in crate::x)`: a visibility, not a path.
                    i += 1;
                    if self.toks.get(i) == Some(&Tok::Punct('(')) {
                        while i < self.toks.len() && self.toks[i] != Tok::Punct(')') {
                            i += 1;
                        }
                        i += 1;
                    }
                    reexport = matches!(self.toks.get(i), Some(Tok::Ident(w)) if w == "use");
                    continue;
                }
                Tok::Ident(w) if w == "mod" => {
                    if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                        (self.toks.get(i + 1), self.toks.get(i + 2))
                    {
                        let mut inner = stack.last().expect("scope").0.clone();
                        inner.push(name.clone());
                        depth += 1;
                        if self.cfg_test(i) && test_depth.is_none() {
                            test_depth = Some(depth);
                        }
                        stack.push((inner, depth, BTreeMap::new()));
                        i += 3;
                    } else {
                        i += 2;
                    }
                }
                Tok::Ident(w)
                    if w == "use"
                        && !matches!(self.toks.get(i.wrapping_sub(1)), Some(Tok::Colons)) =>
                {
                    let reexport = pub_use;
                    let mut leaves = Vec::new();
                    let end = self.use_tree(i + 1, Vec::new(), &mut leaves);
                    let (at, _, aliases) = stack.last().expect("scope").clone();
                    for (segs, name) in leaves {
                        if let Some(abs) = self.absolute(&at, &aliases, &segs) {
                            if let Some(name) = name {
                                if reexport && stack.len() == 1 {
                                    self.exports.insert(name.clone(), abs.clone());
                                }
                                stack.last_mut().expect("scope").2.insert(name, abs.clone());
                            }
                            if test_depth.is_none() {
                                self.named.push((abs, reexport));
                            }
                        }
                    }
                    i = end.max(i + 1);
                }
                Tok::Ident(_) if !matches!(self.toks.get(i.wrapping_sub(1)), Some(Tok::Colons)) => {
                    // A path in code: ident (:: ident)*.
                    let mut segs = Vec::new();
                    let mut j = i;
                    while let Some(Tok::Ident(w)) = self.toks.get(j) {
                        segs.push(w.clone());
                        if self.toks.get(j + 1) == Some(&Tok::Colons) {
                            j += 2;
                        } else {
                            j += 1;
                            break;
                        }
                    }
                    if segs.len() > 1 {
                        let (at, _, aliases) = stack.last().expect("scope");
                        if let Some(abs) = self.absolute(at, aliases, &segs) {
                            if test_depth.is_none() {
                                self.named.push((abs, false));
                            }
                        }
                    }
                    i = j.max(i + 1);
                }
                _ => i += 1,
            }
        }
    }
}

/// The file a path lands in: the file of its longest module prefix.
fn file_of(path: &[String], files: &BTreeMap<ModPath, usize>) -> Option<usize> {
    (0..=path.len())
        .rev()
        .find_map(|n| files.get(&path[..n]).copied())
}

/// Top-level module of a file: `surface` for `src/surface/oci/plan.rs`.
fn top(m: &[String]) -> &str {
    m.first().map_or("crate", String::as_str)
}

/// The `## Layers` section of ARCHITECTURE.md: numbered lines of
/// backquoted top-level module names, lowest layer first.
fn layer_order() -> BTreeMap<String, usize> {
    let text =
        fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Layers"))
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let mut order = BTreeMap::new();
    let mut layer = 0;
    for line in section.lines() {
        let line = line.trim_start();
        let Some((num, rest)) = line.split_once(". ") else {
            continue;
        };
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        layer += 1;
        // Module names are the backquoted words before the first colon.
        let names = rest.split_once(':').map_or(rest, |(n, _)| n);
        for (k, part) in names.split('`').enumerate() {
            if k % 2 == 1 {
                let prev = order.insert(part.to_string(), layer);
                assert!(
                    prev.is_none(),
                    "`{part}` is in two layers of ARCHITECTURE.md"
                );
            }
        }
    }
    assert!(
        layer > 1,
        "the Layers section of ARCHITECTURE.md lists no layers"
    );
    order
}

/// Strongly connected components (Tarjan), each sorted, of size > 1.
fn cycles(n: usize, edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.edges[v].iter() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().expect("tarjan stack");
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort_unstable();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

struct Graph {
    names: Vec<String>,
    mods: Vec<ModPath>,
    edges: Vec<BTreeSet<usize>>,
}

fn graph() -> Graph {
    let src = Path::new(ROOT).join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    paths.retain(|p| !p.ends_with("main.rs"));
    let rels: Vec<PathBuf> = paths
        .iter()
        .map(|p| p.strip_prefix(&src).expect("under src").to_path_buf())
        .collect();
    let mods: Vec<ModPath> = rels.iter().map(|r| module_of(r)).collect();
    let files: BTreeMap<ModPath, usize> = mods
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, m)| (m, i))
        .collect();
    let sources: Vec<Vec<Tok>> = paths
        .iter()
        .map(|p| tokens(&fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))))
        .collect();
    // Every module name: files, and the inline modules inside them.
    let mut modules: BTreeSet<ModPath> = mods.iter().cloned().collect();
    for (m, toks) in mods.iter().zip(&sources) {
        for w in toks.windows(3) {
            if let [Tok::Ident(k), Tok::Ident(name), Tok::Punct(';' | '{')] = w {
                if k == "mod" {
                    let mut child = m.clone();
                    child.push(name.clone());
                    modules.insert(child);
                }
            }
        }
    }
    let walks: Vec<Walk> = mods
        .iter()
        .zip(&sources)
        .map(|(m, toks)| {
            let mut walk = Walk {
                toks,
                modules: &modules,
                named: Vec::new(),
                exports: BTreeMap::new(),
            };
            walk.run(m);
            walk
        })
        .collect();
    // A path through a re-export lands in the file that defines the item.
    let resolve = |path: &[String]| -> Option<usize> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let target = file_of(&path, &files)?;
            let rest = &path[mods[target].len()..];
            match rest.first().and_then(|n| walks[target].exports.get(n)) {
                Some(to) if !to.starts_with(&path) => {
                    path = to.iter().chain(&rest[1..]).cloned().collect();
                }
                _ => return Some(target),
            }
        }
        file_of(&path, &files)
    };
    let mut edges = vec![BTreeSet::new(); mods.len()];
    for (k, (m, walk)) in mods.iter().zip(&walks).enumerate() {
        for (path, reexport) in walk.named.iter().cloned() {
            if let Some(target) = resolve(&path) {
                // A module's facade re-exporting its own children is not a use.
                let facade = reexport && mods[target].starts_with(m);
                if target != k && !mods[target].is_empty() && !facade {
                    edges[k].insert(target);
                    if std::env::var_os("LAYERS_WHY").is_some() {
                        eprintln!(
                            "WHY {} -> {} : {}",
                            rels[k].display(),
                            rels[target].display(),
                            path.join("::")
                        );
                    }
                }
            }
        }
    }
    let names = rels
        .iter()
        .map(|r| format!("src/{}", r.display()))
        .collect();
    Graph { names, mods, edges }
}

/// Cycles not broken yet, each as the files of its strongly connected
/// component. A cycle found must lie inside one of these (so no new cycle
/// and no growth passes), and each must still be found (so a fixed one is
/// taken off the list). Empty: every cycle is broken.
const KNOWN_CYCLES: &[&[&str]] = &[];

#[test]
fn no_import_cycle_between_files() {
    let g = graph();
    let found = cycles(g.names.len(), &g.edges);
    let known = |comp: &[usize]| {
        KNOWN_CYCLES
            .iter()
            .position(|k| comp.iter().all(|&v| k.contains(&g.names[v].as_str())))
    };
    let mut report = String::new();
    let mut new = 0;
    let mut seen = BTreeSet::new();
    for comp in &found {
        if let Some(k) = known(comp) {
            seen.insert(k);
            continue;
        }
        new += 1;
        let set: BTreeSet<usize> = comp.iter().copied().collect();
        report.push_str("\ncycle:\n");
        for &v in comp {
            let inside: Vec<&str> = g.edges[v]
                .iter()
                .filter(|w| set.contains(w))
                .map(|&w| g.names[w].as_str())
                .collect();
            report.push_str(&format!("  {} -> {}\n", g.names[v], inside.join(", ")));
        }
    }
    assert!(new == 0, "{new} import cycle(s) between files:{report}");
    let stale: Vec<_> = (0..KNOWN_CYCLES.len())
        .filter(|k| !seen.contains(k))
        .map(|k| KNOWN_CYCLES[k][0])
        .collect();
    assert!(
        stale.is_empty(),
        "these KNOWN_CYCLES are gone; take them off the list: {stale:?}"
    );
}

#[test]
fn no_import_against_the_layer_order() {
    let g = graph();
    let order = layer_order();
    let mut wrong = Vec::new();
    let mut unlisted = BTreeSet::new();
    for (k, m) in g.mods.iter().enumerate() {
        if m.is_empty() {
            continue;
        }
        let from = top(m);
        let Some(&lf) = order.get(from) else {
            unlisted.insert(from.to_string());
            continue;
        };
        for &t in &g.edges[k] {
            let to = top(&g.mods[t]);
            let Some(&lt) = order.get(to) else {
                unlisted.insert(to.to_string());
                continue;
            };
            if lt > lf {
                wrong.push(format!(
                    "  {} ({from}, layer {lf}) -> {} ({to}, layer {lt})",
                    g.names[k], g.names[t]
                ));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "modules missing from the Layers section of ARCHITECTURE.md: {unlisted:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} import(s) against the layer order of ARCHITECTURE.md:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let g = graph();
    let tops: Vec<String> = g
        .mods
        .iter()
        .map(|m| top(m).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let at = |m: &ModPath| {
        tops.iter()
            .position(|t| t == top(m))
            .expect("top-level module")
    };
    let mut edges = vec![BTreeSet::new(); tops.len()];
    let mut why: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for (k, m) in g.mods.iter().enumerate() {
        for &t in &g.edges[k] {
            let (a, b) = (at(m), at(&g.mods[t]));
            if a != b {
                edges[a].insert(b);
                why.entry((a, b))
                    .or_insert_with(|| format!("{} -> {}", g.names[k], g.names[t]));
            }
        }
    }
    let found = cycles(tops.len(), &edges);
    let mut report = String::new();
    for comp in &found {
        report.push_str("\ncycle:\n");
        for &a in comp {
            for &b in comp {
                if let Some(w) = why.get(&(a, b)) {
                    report.push_str(&format!("  {} -> {}   ({w})\n", tops[a], tops[b]));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} cycle(s) between top-level modules:{report}",
        found.len()
    );
}
