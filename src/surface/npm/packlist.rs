//! npm-packlist 10 (npm 11): which files of a package directory are packed.
//!
//! A walk over the directory tree where every directory has ordered rule
//! sets ("ignore files"), each a list of [`Rule`]s applied in order, the
//! last matching rule winning (a `!rule` re-includes):
//!
//! | rule set | root | sub-directories |
//! |---|---|---|
//! | defaults (`.git`, `.svn`, `CVS`, `.npmrc`, `.DS_Store`, `*.orig`, `.*.swp`, `npm-debug.log`, `._*`, …) | ✓ | ✓ |
//! | `package.json` `files`: `*` then `!entry` (and `!dir/**` for directories) | ✓ | — |
//! | `.npmignore`, else `.gitignore` (dropped at the root when `files` exists) | ✓ | ✓ |
//! | strict: `!/package.json`, `!/readme*`, `!/license*`, `!/licence*`, `!/copying*`, `main`, `browser`, `bin` targets, `files` entries that are files; `/.git`, `/node_modules`, `.npmrc`, lock files | ✓ | `/.git` + required files |
//!
//! A path is tested against its own directory's rules *and* every
//! ancestor's (as `dir/entry`), in partial mode for directories, exactly as
//! ignore-walk's `filterEntry` does. Symlinks and other non-regular files
//! are never packed; names containing `*` are skipped.
//!
//! A bundled dependency (`bundleDependencies`, see `super::bundle`) is
//! walked as its own package root with npm-packlist's bundle rules: only
//! its `package.json` rules and the strict rules at its root (no defaults,
//! no `.npmignore`/`.gitignore` there — unless it is a link, which gets the
//! root's rule sets), ordinary rules in its sub-directories.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::error::NpmError;
use super::glob::Rule;
use super::tree::{join, Kind, PackageTree};

const DEFAULTS: &[&str] = &[
    ".npmignore",
    ".gitignore",
    "**/.git",
    "**/.svn",
    "**/.hg",
    "**/CVS",
    "**/.git/**",
    "**/.svn/**",
    "**/.hg/**",
    "**/CVS/**",
    "/.lock-wscript",
    "/.wafpickle-*",
    "/build/config.gypi",
    "npm-debug.log",
    "**/.npmrc",
    ".*.swp",
    ".DS_Store",
    "**/.DS_Store/**",
    "._*",
    "**/._*/**",
    "*.orig",
    "/archived-packages/**",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Src {
    Defaults,
    PackageJson,
    NpmIgnore,
    GitIgnore,
    Strict,
}

/// The parts of package.json that steer file selection.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub files: Option<Vec<String>>,
    pub main: Option<String>,
    pub browser: Option<String>,
    /// Normalised `bin` targets.
    pub bin: Vec<String>,
    /// The root declares `workspaces` and at least one of them exists
    /// (arborist then sets `tree.workspaces`, see [`has_workspaces`]).
    pub workspaces: bool,
}

struct Walker<'p> {
    parent: Option<&'p Walker<'p>>,
    basename: String,
    order: Vec<Src>,
    rules: HashMap<Src, Cow<'static, [Rule]>>,
    exact: bool,
    required: Vec<String>,
    /// npm-packlist's `walkerOpt` quirk: when the root has workspaces, every
    /// sub-directory walker reads its `package.json` as an ignore file
    /// (line by line, like `.npmignore`), which also disables that
    /// directory's `.npmignore` and `.gitignore`.
    workspaces: bool,
}

fn parse_rules(text: &str) -> Vec<Rule> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|l| Rule::new(l.trim()))
        .collect()
}

fn rules_of(lines: &[String]) -> Vec<Rule> {
    lines.iter().map(|l| Rule::new(l.trim())).collect()
}

impl Walker<'_> {
    fn filter_entry(&self, entry: &str, partial: bool, entry_basename: Option<&str>) -> bool {
        let mut included = true;
        if let Some(parent) = self.parent {
            let parent_entry = format!("{}/{}", self.basename, entry);
            let parent_basename = entry_basename.unwrap_or(entry);
            included = parent.filter_entry(&parent_entry, partial, Some(parent_basename));
            if !included && !self.exact {
                return false;
            }
        }
        // The spellings matched, built once per entry rather than per rule.
        let slash_dir = format!("/{entry}/");
        let (slash, dir) = (&slash_dir[..slash_dir.len() - 1], &slash_dir[1..]);
        let bn = entry_basename.map(|bn| format!("/{bn}/"));
        for src in &self.order {
            let Some(rules) = self.rules.get(src) else {
                continue;
            };
            for rule in rules.iter() {
                if rule.negate == included {
                    continue;
                }
                let mut hit = rule.matches(slash, false) || rule.matches(entry, false);
                if !hit && partial {
                    hit = rule.matches(&slash_dir, false)
                        || rule.matches(dir, false)
                        || (rule.negate
                            && (rule.matches(slash, true) || rule.matches(entry, true)));
                    if let Some(bn_slash_dir) = bn.as_deref().filter(|_| !hit && relative(rule)) {
                        let bn_slash = &bn_slash_dir[..bn_slash_dir.len() - 1];
                        hit = rule.matches(bn_slash_dir, false)
                            || rule.matches(&bn_slash_dir[1..], false)
                            || (rule.negate
                                && (rule.matches(bn_slash, true)
                                    || rule.matches(&bn_slash[1..], true)));
                    }
                }
                if hit {
                    included = rule.negate;
                }
            }
        }
        included
    }

    /// Read `.npmignore`/`.gitignore` (and, below a workspaces root,
    /// `package.json`) present among `names`, then apply npm-packlist's
    /// precedence.
    fn load_ignore_files(
        &mut self,
        tree: &dyn PackageTree,
        dir: &str,
        names: &[(String, Kind)],
        package_json: bool,
    ) -> Result<(), NpmError> {
        for (name, src) in [
            ("package.json", Src::PackageJson),
            (".npmignore", Src::NpmIgnore),
            (".gitignore", Src::GitIgnore),
        ] {
            if src == Src::PackageJson && !package_json {
                continue;
            }
            if names.iter().any(|(n, _)| n == name) {
                let p = join(dir, name);
                // Followed like npm-packlist does (a `.npmignore` linked
                // to `.gitignore` is common), but only to a regular file.
                if tree.is_file(&p) {
                    let text = tree.read(&p)?;
                    let rules = parse_rules(&String::from_utf8_lossy(&text));
                    self.rules.insert(src, Cow::Owned(rules));
                }
            }
        }
        if self.rules.contains_key(&Src::PackageJson) {
            self.rules.remove(&Src::NpmIgnore);
            self.rules.remove(&Src::GitIgnore);
        } else if self.rules.contains_key(&Src::NpmIgnore) {
            self.rules.remove(&Src::GitIgnore);
        }
        Ok(())
    }

    /// Walk the `names` of directory `dir` of `tree`, pushing packed files
    /// as `rel` + their path below `dir`.
    fn walk_entries(
        &self,
        tree: &dyn PackageTree,
        dir: &str,
        rel: &str,
        names: &[(String, Kind)],
        out: &mut Vec<String>,
    ) -> Result<(), NpmError> {
        for (entry, kind) in names {
            let pass_file = self.filter_entry(entry, false, None);
            let pass_dir = self.filter_entry(entry, true, None);
            if !(pass_file || pass_dir) || entry.contains('*') {
                continue;
            }
            if *kind == Kind::File {
                if pass_file {
                    out.push(format!("{rel}{entry}"));
                }
            } else if *kind == Kind::Dir && pass_dir {
                let exact = pass_file || self.filter_entry(&format!("{entry}/"), false, None);
                let required = self
                    .required
                    .iter()
                    .filter_map(|f| {
                        let (d, base) = f.rsplit_once('/')?;
                        (d == entry).then(|| base.to_string())
                    })
                    .collect::<Vec<_>>();
                let mut strict = vec!["/.git".to_string()];
                strict.extend(required.iter().map(|f| format!("!{f}")));
                let mut child = Walker {
                    parent: Some(self),
                    basename: entry.clone(),
                    order: if self.workspaces {
                        vec![
                            Src::Defaults,
                            Src::PackageJson,
                            Src::NpmIgnore,
                            Src::GitIgnore,
                            Src::Strict,
                        ]
                    } else {
                        vec![Src::Defaults, Src::NpmIgnore, Src::GitIgnore, Src::Strict]
                    },
                    rules: HashMap::from([
                        (Src::Defaults, defaults()),
                        (Src::Strict, Cow::Owned(rules_of(&strict))),
                    ]),
                    exact,
                    required,
                    workspaces: self.workspaces,
                };
                let path = join(dir, entry);
                let names = tree.entries(&path)?;
                child.load_ignore_files(tree, &path, &names, self.workspaces)?;
                child.walk_entries(tree, &path, &format!("{rel}{entry}/"), &names, out)?;
            }
        }
        Ok(())
    }
}

/// npm-packlist's test for a rule matched against a bare basename too: one
/// of its glob parts has a single segment (two when it ends in `/`).
fn relative(rule: &Rule) -> bool {
    rule.glob_parts.iter().any(|part| {
        let limit = if part.last().is_some_and(|l| !l.is_empty()) {
            1
        } else {
            2
        };
        part.len() <= limit
    })
}

/// The default rules, compiled once.
fn defaults() -> Cow<'static, [Rule]> {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    Cow::Borrowed(RULES.get_or_init(|| DEFAULTS.iter().map(|r| Rule::new(r)).collect()))
}

/// How a package directory is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// The package being packed.
    Root,
    /// A bundled dependency installed in `node_modules/` (not a link).
    Bundled,
    /// A bundled dependency that is a symlink (a workspace link).
    BundledLink,
}

/// List the files npm would pack from `tree`, unsorted, relative, `/`-separated.
pub(crate) fn select(tree: &dyn PackageTree, sel: &Selection) -> Result<Vec<String>, NpmError> {
    select_as(tree, "", sel, Walk::Root)
}

/// [`select`] for the package directory `root` of `tree` walked as `walk`;
/// paths relative to `root`.
pub(crate) fn select_as(
    tree: &dyn PackageTree,
    root: &str,
    sel: &Selection,
    walk: Walk,
) -> Result<Vec<String>, NpmError> {
    let mut strict: Vec<String> = [
        "/.git",
        "!/package.json",
        "!/readme{,.*[^~$]}",
        "!/copying{,.*[^~$]}",
        "!/license{,.*[^~$]}",
        "!/licence{,.*[^~$]}",
        "/.git",
        "/node_modules",
        ".npmrc",
        "/package-lock.json",
        "/yarn.lock",
        "/pnpm-lock.yaml",
        "/bun.lockb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rules = HashMap::new();
    if walk != Walk::Bundled {
        rules.insert(Src::Defaults, defaults());
    }
    let mut required = Vec::new();
    if let Some(files) = &sel.files {
        let mut ignores = vec!["*".to_string()];
        for f in files {
            let mut file = f.clone();
            if file.starts_with("./") {
                file.remove(0);
            }
            if file.ends_with("/*") {
                file.push('*');
            }
            let inverse = format!("!{file}");
            match tree.entry_kind(root, file.trim_start_matches('!').trim_start_matches('/')) {
                Some(Kind::File) => {
                    strict.insert(0, inverse);
                    required.push(file.strip_prefix('/').unwrap_or(&file).to_string());
                }
                Some(Kind::Dir) => {
                    ignores.push(format!("{inverse}/**"));
                    let n = ignores.len();
                    ignores.insert(n - 1, inverse);
                }
                Some(_) => {}
                None => ignores.push(inverse),
            }
        }
        rules.insert(Src::PackageJson, Cow::Owned(rules_of(&ignores)));
    }
    if let Some(b) = &sel.browser {
        strict.push(format!("!/{b}"));
    }
    if let Some(m) = &sel.main {
        strict.push(format!("!/{m}"));
    }
    for b in &sel.bin {
        strict.push(format!("!/{b}"));
    }
    rules.insert(Src::Strict, Cow::Owned(rules_of(&strict)));
    let mut root_walker = Walker {
        parent: None,
        // Only read by a child walker's parent lookup; the root has none.
        basename: root.rsplit('/').next().unwrap_or_default().to_string(),
        order: if walk == Walk::Bundled {
            vec![Src::PackageJson, Src::Strict]
        } else {
            vec![
                Src::Defaults,
                Src::PackageJson,
                Src::NpmIgnore,
                Src::GitIgnore,
                Src::Strict,
            ]
        },
        rules,
        exact: false,
        required,
        workspaces: sel.workspaces && walk == Walk::Root,
    };
    let names = tree.entries(root)?;
    if walk != Walk::Bundled {
        root_walker.load_ignore_files(tree, root, &names, false)?;
    }
    let mut out = Vec::new();
    root_walker.walk_entries(tree, root, "", &names, &mut out)?;
    Ok(out)
}

/// Whether a `files` entry selects at least one of the packed paths.
pub(crate) fn files_entry_matches(entry: &str, packed: &[String]) -> bool {
    let mut e = entry.to_string();
    if e.starts_with("./") {
        e.remove(0);
    }
    let rule = Rule::new(&e);
    let hit = |q: &str| rule.matches(&format!("/{q}"), false) || rule.matches(q, false);
    packed.iter().any(|p| {
        hit(p)
            || p.match_indices('/').any(|(i, _)| {
                let dir = &p[..i];
                hit(dir) || hit(&format!("{dir}/"))
            })
    })
}

/// Whether @npmcli/map-workspaces finds at least one workspace for these
/// `workspaces` patterns: a directory matched by a pattern (glob, no dot
/// names, not below `node_modules`, not matched by a later `!pattern`) that
/// holds a `package.json`.
pub(crate) fn has_workspaces(
    tree: &dyn PackageTree,
    patterns: &[String],
) -> Result<bool, NpmError> {
    let anchored = |p: &str| {
        let p = p.replace('\\', "/");
        let p = p
            .strip_prefix("./")
            .unwrap_or(&p)
            .trim_end_matches('/')
            .to_string();
        Rule::new(&format!("/{p}"))
    };
    let mut rules: Vec<(bool, Rule)> = Vec::new();
    for p in patterns {
        let bangs = p.chars().take_while(|&c| c == '!').count();
        rules.push((bangs % 2 == 1, anchored(&p[bangs..])));
    }
    if !rules.iter().any(|(neg, _)| !neg) {
        return Ok(false);
    }
    fn walk(
        tree: &dyn PackageTree,
        dir: &str,
        rel: &str,
        rules: &[(bool, Rule)],
    ) -> Result<bool, NpmError> {
        for (name, kind) in tree.entries(dir)? {
            if name.starts_with('.') || name == "node_modules" || kind != Kind::Dir {
                continue;
            }
            let path = join(dir, &name);
            let r = format!("{rel}/{name}");
            let mut hit = false;
            for (neg, rule) in rules {
                if rule.matches(&r, false) {
                    hit = !neg;
                }
            }
            if hit && tree.is_file(&join(&path, "package.json")) {
                return Ok(true);
            }
            let deeper = rules
                .iter()
                .any(|(neg, rule)| !neg && rule.matches(&r, true));
            if deeper && walk(tree, &path, &r, rules)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
    walk(tree, "", "", &rules)
}
