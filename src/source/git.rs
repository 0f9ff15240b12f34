//! A small typed wrapper over the `git` command line: the one place (with
//! `src/sandbox/`) allowed to spawn processes.
//!
//! kiln reads sources from git *objects*, never from the working tree: a tree
//! listing comes from `git ls-tree`, contents from one long-lived
//! `git cat-file --batch`. Every call runs with a scrubbed environment
//! (`GIT_CONFIG_NOSYSTEM`, no pager, `LC_ALL=C`) so user configuration and
//! locale cannot change what kiln sees, and with `GIT_OPTIONAL_LOCKS=0` so
//! that no command kiln runs writes to the repository (`git status` would
//! otherwise refresh `.git/index`).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Errors from git invocations.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git (is it installed?)")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` in {} failed: {stderr}", crate::name::shown_path(dir))]
    Failed {
        dir: PathBuf,
        args: String,
        stderr: String,
    },
    #[error("{} is not inside a git repository", crate::name::shown_path(dir))]
    NotARepo { dir: PathBuf },
    #[error("unknown revision {rev:?} in {}", crate::name::shown_path(dir))]
    UnknownRev { dir: PathBuf, rev: String },
    #[error("unexpected output from `git {args}`: {detail}")]
    Parse { args: String, detail: String },
    #[error("reading git object {oid}")]
    Object {
        oid: String,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Classify for GitError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            GitError::NotARepo { .. } | GitError::UnknownRev { .. } => {
                crate::error::ErrorKind::BadInput
            }
            _ => crate::error::ErrorKind::Internal,
        }
    }
}

/// A git repository, addressed by its work tree root.
///
/// Commit lookups are memoised per `Repo` (and its clones): one `kiln build`
/// asks for the same commit's id and time several times, and each git
/// process costs milliseconds on the no-op path.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
    commits: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, CommitInfo>>>,
}

/// The kind of a tree entry, from its git mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// 100644
    File,
    /// 100755
    Executable,
    /// 120000: the blob holds the link target.
    Symlink,
    /// 160000: a submodule commit (kiln does not descend into it).
    Submodule,
}

/// One blob in a tree listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path relative to the repository root, `/`-separated, as raw bytes turned
    /// into a `String` (git paths that are not UTF-8 are rejected).
    pub path: String,
    pub kind: EntryKind,
    /// Hex object id.
    pub oid: String,
}

/// One entry of a recursive tree listing ([`Repo::ls_tree`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Path relative to the repository root: the entry names of the trees
    /// on the way, joined with `/`, as raw bytes.
    pub path: Vec<u8>,
    /// `None` for a tree (a directory).
    pub kind: Option<EntryKind>,
    /// Hex object id.
    pub oid: String,
}

/// Facts about one commit that versions and `SOURCE_DATE_EPOCH` derive from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full hex id.
    pub id: String,
    /// Committer time, seconds since the epoch.
    pub committer_time: i64,
}

#[allow(clippy::disallowed_methods)] // this module owns spawning git
pub(crate) fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // Read-only: `git status` must not refresh and rewrite `.git/index`.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .args(["-c", "core.quotepath=off", "-c", "safe.directory=*"]);
    cmd
}

impl Repo {
    /// The repository whose work tree contains `dir`, or `NotARepo`.
    pub fn discover(dir: &Path) -> Result<Repo, GitError> {
        let out = git_command(dir)
            .args(["rev-parse", "--show-toplevel"])
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::NotARepo {
                dir: dir.to_path_buf(),
            });
        }
        let s = String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_string();
        Ok(Repo {
            root: PathBuf::from(s),
            commits: Default::default(),
        })
    }

    /// The work tree root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn run<I, S>(&self, args: I) -> Result<Vec<u8>, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = git_command(&self.root)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                dir: self.root.clone(),
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    fn run_string(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.run(args)?;
        String::from_utf8(out).map_err(|_| GitError::Parse {
            args: args.join(" "),
            detail: "not UTF-8".into(),
        })
    }

    /// Resolve a revision to a full commit id.
    pub fn resolve(&self, rev: &str) -> Result<String, GitError> {
        Ok(self.commit_info(rev)?.id)
    }

    /// Whether HEAD points at a commit (false in a fresh `git init`).
    pub fn has_head(&self) -> bool {
        self.resolve("HEAD").is_ok()
    }

    /// Commit id and committer time of `rev` (one git process, memoised).
    pub fn commit_info(&self, rev: &str) -> Result<CommitInfo, GitError> {
        if let Some(c) = self.commits.lock().expect("commit cache").get(rev) {
            return Ok(c.clone());
        }
        let unknown = || GitError::UnknownRev {
            dir: self.root.clone(),
            rev: rev.to_string(),
        };
        if rev.starts_with('-') {
            return Err(unknown());
        }
        let spec = format!("{rev}^{{commit}}");
        let s = self
            .run_string(&["log", "-1", "--no-walk", "--format=%H %ct", &spec, "--"])
            .map_err(|_| unknown())?;
        let mut f = s.split_whitespace();
        let (Some(id), Some(time)) = (f.next(), f.next()) else {
            return Err(unknown());
        };
        let committer_time = time.parse::<i64>().map_err(|_| GitError::Parse {
            args: format!("log -1 --format=%H %ct {spec}"),
            detail: s.clone(),
        })?;
        let info = CommitInfo {
            id: id.to_string(),
            committer_time,
        };
        let mut cache = self.commits.lock().expect("commit cache");
        cache.insert(rev.to_string(), info.clone());
        cache.insert(info.id.clone(), info.clone());
        Ok(info)
    }

    /// The contents of `path` (relative to the repository root) in commit
    /// `rev`, or `None` when the tree has no such file.
    pub fn read_file_at(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let id = self.resolve(rev)?;
        let out = git_command(&self.root)
            .args(["cat-file", "blob", &format!("{id}:{path}")])
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        Ok(out.status.success().then_some(out.stdout))
    }

    /// The shortest unambiguous abbreviation of `rev`, at least `min_len` hex digits.
    pub fn short_id(&self, rev: &str, min_len: usize) -> Result<String, GitError> {
        let id = self.resolve(rev)?;
        let s = self.run_string(&["rev-parse", &format!("--short={min_len}"), &id])?;
        Ok(s.trim().to_string())
    }

    /// The non-empty lines git prints for `args`, sorted.
    fn sorted_lines(&self, args: &[&str]) -> Result<Vec<String>, GitError> {
        let s = self.run_string(args)?;
        let mut lines: Vec<String> = s
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        lines.sort();
        Ok(lines)
    }

    /// Names of the tags (without `refs/tags/`) that point at `rev`, sorted.
    pub fn tags_at(&self, rev: &str) -> Result<Vec<String>, GitError> {
        let id = self.resolve(rev)?;
        self.sorted_lines(&["tag", "--points-at", &id])
    }

    /// All tag names of the repository, sorted.
    pub fn all_tags(&self) -> Result<Vec<String>, GitError> {
        self.sorted_lines(&["tag", "--list"])
    }

    /// The root commits of `rev`'s history (`git rev-list --max-parents=0`),
    /// sorted: what every clone of a project shares (in a shallow clone, the
    /// boundary commits instead).
    pub fn root_commits(&self, rev: &str) -> Result<Vec<String>, GitError> {
        let id = self.resolve(rev)?;
        self.sorted_lines(&["rev-list", "--max-parents=0", &id])
    }

    /// Number of commits reachable from `rev` but not from `base`
    /// (`git rev-list --count base..rev`); with `base = None`, all commits.
    pub fn distance(&self, base: Option<&str>, rev: &str) -> Result<u64, GitError> {
        let range = match base {
            Some(b) => format!("{b}..{rev}"),
            None => rev.to_string(),
        };
        let s = self.run_string(&["rev-list", "--count", &range])?;
        s.trim().parse().map_err(|_| GitError::Parse {
            args: format!("rev-list --count {range}"),
            detail: s,
        })
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `rev`.
    pub fn is_ancestor(&self, ancestor: &str, rev: &str) -> Result<bool, GitError> {
        let out = git_command(&self.root)
            .args(["merge-base", "--is-ancestor", ancestor, rev])
            .stdin(Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        Ok(out.status.success())
    }

    /// Every entry of the tree of commit `rev`, recursively, trees included
    /// (`git ls-tree -r -t`), in git's order. Paths are the raw bytes git
    /// stores, relative to the repository root: nothing here assumes the
    /// names are valid (see `source::tree_check`) or UTF-8.
    pub fn ls_tree(&self, rev: &str) -> Result<Vec<ListedEntry>, GitError> {
        let id = self.resolve(rev)?;
        let out = self.run(["ls-tree", "-r", "-t", "-z", "--full-tree", &id])?;
        let parse_err = |detail: String| GitError::Parse {
            args: "ls-tree".into(),
            detail,
        };
        let mut entries = Vec::new();
        for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            // "<mode> SP <type> SP <oid> TAB <path>"
            let tab = rec
                .iter()
                .position(|b| *b == b'\t')
                .ok_or_else(|| parse_err(String::from_utf8_lossy(rec).into_owned()))?;
            let meta = std::str::from_utf8(&rec[..tab])
                .map_err(|_| parse_err("metadata not UTF-8".into()))?;
            let mut f = meta.split_whitespace();
            let (mode, _ty, oid) = (f.next(), f.next(), f.next());
            let (Some(mode), Some(oid)) = (mode, oid) else {
                return Err(parse_err(meta.into()));
            };
            let kind = match mode {
                "040000" => None,
                "100644" | "100664" => Some(EntryKind::File),
                "100755" => Some(EntryKind::Executable),
                "120000" => Some(EntryKind::Symlink),
                "160000" => Some(EntryKind::Submodule),
                other => return Err(parse_err(format!("mode {other}"))),
            };
            entries.push(ListedEntry {
                path: rec[tab + 1..].to_vec(),
                kind,
                oid: oid.to_string(),
            });
        }
        Ok(entries)
    }

    /// The blobs directly inside directory `dir` (relative to the repository
    /// root, `""` for the root) of commit `rev`, not recursing.
    pub fn ls_dir(&self, rev: &str, dir: &str) -> Result<Vec<TreeEntry>, GitError> {
        let id = self.resolve(rev)?;
        let spec = if dir.is_empty() {
            ".".to_string()
        } else {
            format!("{}/", dir.trim_end_matches('/'))
        };
        let out = self.run(["ls-tree", "-z", &id, "--", &spec])?;
        let mut entries = Vec::new();
        for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let Some(tab) = rec.iter().position(|b| *b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&rec[..tab]);
            let mut f = meta.split_whitespace();
            let (Some(mode), Some(_), Some(oid)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let kind = match mode {
                "100644" | "100664" => EntryKind::File,
                "100755" => EntryKind::Executable,
                "120000" => EntryKind::Symlink,
                _ => continue,
            };
            let path = String::from_utf8_lossy(&rec[tab + 1..]).into_owned();
            entries.push(TreeEntry {
                path,
                kind,
                oid: oid.to_string(),
            });
        }
        Ok(entries)
    }

    /// Tracked paths (relative to the repository root) whose working-tree or
    /// index state differs from HEAD. Untracked files are not listed: they are
    /// not part of a commit snapshot, so they cannot make it stale.
    pub fn dirty_paths(&self) -> Result<Vec<String>, GitError> {
        let out = self.run([
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=no",
            "--no-renames",
        ])?;
        let mut paths = Vec::new();
        for rec in out.split(|b| *b == 0).filter(|r| r.len() > 3) {
            paths.push(String::from_utf8_lossy(&rec[3..]).into_owned());
        }
        paths.sort();
        Ok(paths)
    }

    /// A streaming reader of object contents (`git cat-file --batch`).
    pub fn object_reader(&self) -> Result<ObjectReader, GitError> {
        let mut child = git_command(&self.root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped stdout"));
        Ok(ObjectReader {
            child,
            stdin,
            stdout,
        })
    }
}

impl Repo {
    /// Stream the contents of `oids`, in order, to `each(index, bytes)`:
    /// one `git cat-file --batch --buffer` fed by a thread, so the ids and
    /// the contents flow without a round trip per object.
    pub fn each_blob<E: From<GitError>>(
        &self,
        oids: &[&str],
        mut each: impl FnMut(usize, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut child = git_command(&self.root)
            .args(["cat-file", "--batch", "--buffer"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout =
            BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped stdout"));
        let ids: String = oids.iter().map(|o| format!("{o}\n")).collect();
        let result = std::thread::scope(|scope| {
            let feeder = scope.spawn(move || {
                let _ = stdin.write_all(ids.as_bytes());
                // stdin is dropped here: cat-file flushes and ends.
            });
            let mut read = || -> Result<(), E> {
                for (i, oid) in oids.iter().enumerate() {
                    let bytes = read_object(&mut stdout, oid)?;
                    each(i, bytes)?;
                }
                Ok(())
            };
            let r = read();
            if r.is_err() {
                let _ = child.kill();
            }
            let _ = feeder.join();
            r
        });
        let _ = child.kill();
        let _ = child.wait();
        result
    }
}

/// One object's reply of `git cat-file --batch`.
fn read_object(stdout: &mut BufReader<ChildStdout>, oid: &str) -> Result<Vec<u8>, GitError> {
    let err = |source| GitError::Object {
        oid: oid.to_string(),
        source,
    };
    let mut header = String::new();
    stdout.read_line(&mut header).map_err(err)?;
    // "<oid> <type> <size>\n" or "<oid> missing\n"
    let size: usize = header
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(std::io::Error::other(format!("bad header {header:?}"))))?;
    let mut buf = vec![0u8; size];
    stdout.read_exact(&mut buf).map_err(err)?;
    let mut nl = [0u8; 1];
    stdout.read_exact(&mut nl).map_err(err)?;
    Ok(buf)
}

/// One `git cat-file --batch` process; read blobs by id.
#[derive(Debug)]
pub struct ObjectReader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ObjectReader {
    /// The full contents of object `oid`.
    pub fn read(&mut self, oid: &str) -> Result<Vec<u8>, GitError> {
        let err = |source| GitError::Object {
            oid: oid.to_string(),
            source,
        };
        writeln!(self.stdin, "{oid}").map_err(err)?;
        self.stdin.flush().map_err(err)?;
        read_object(&mut self.stdout, oid)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Repo {
    /// Files of the working tree as `git add -A` would see them: tracked files
    /// plus untracked files that are not ignored, relative to the repository
    /// root as raw bytes (names need not be UTF-8), sorted by bytes. Used for
    /// `--dirty` snapshots.
    pub fn worktree_files(&self) -> Result<Vec<Vec<u8>>, GitError> {
        let out = self.run([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--full-name",
        ])?;
        let mut files: Vec<Vec<u8>> = out
            .split(|b| *b == 0)
            .filter(|r| !r.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }
}

/// A shallow clone (`--depth 1`, default branch, no tags) of the remote
/// repository `url` into the new directory `dest`, never prompting and
/// never running an `ext::` transport. The user's own git configuration
/// and SSH agent are used (`HOME`, `XDG_CONFIG_HOME`, `SSH_AUTH_SOCK`): a
/// private remote is reached with the user's credential helpers and keys.
/// On failure git's output is not kept (a URL in it may carry a login):
/// the error is the exit status.
pub(crate) fn clone_shallow(url: &str, dest: &Path) -> Result<(), GitError> {
    let parent = dest.parent().unwrap_or(Path::new("/"));
    let mut cmd = git_command(parent);
    cmd.env_remove("GIT_CONFIG_GLOBAL");
    for var in ["HOME", "XDG_CONFIG_HOME", "SSH_AUTH_SOCK"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let out = cmd
        .args([
            "-c",
            "protocol.ext.allow=never",
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--no-tags",
            "--",
            url,
        ])
        .arg(dest)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            dir: parent.to_path_buf(),
            args: "clone --depth 1 <index>".into(),
            stderr: out.status.to_string(),
        });
    }
    Ok(())
}

/// Paths under `dir` that git's index tracks, relative to `dir`
/// (`/`-separated); empty when `dir` is in no git work tree. Read-only:
/// `ls-files` reads the index and never rewrites it.
pub(crate) fn tracked_under(dir: &Path) -> Result<Vec<String>, GitError> {
    let out = git_command(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(["ls-files", "-z", "--", "."])
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.contains("not a git repository") {
            return Ok(Vec::new());
        }
        return Err(GitError::Failed {
            dir: dir.to_path_buf(),
            args: "ls-files -z -- .".into(),
            stderr,
        });
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Whether git's index in `dir`'s work tree tracks the entry `name` of
/// `dir` itself (a file, symlink or submodule; `false` outside git).
/// Read-only, like [`tracked_under`].
pub(crate) fn tracks(dir: &Path, name: &std::ffi::OsStr) -> Result<bool, GitError> {
    let mut spec = std::ffi::OsString::from(":(literal)");
    spec.push(name);
    let out = git_command(dir)
        .args(["ls-files", "-z", "--"])
        .arg(&spec)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.contains("not a git repository") {
            return Ok(false);
        }
        return Err(GitError::Failed {
            dir: dir.to_path_buf(),
            args: format!("ls-files -z -- {}", spec.to_string_lossy()),
            stderr,
        });
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .any(|p| p == name.as_encoded_bytes()))
}

/// Run two independent git queries at once. Each mostly waits for a git
/// process, so a plain thread (not the rayon pool, whose threads may all be
/// blocked on the snapshot's git processes) gives real overlap.
pub(crate) fn join_io<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|s| {
        let hb = s.spawn(b);
        let ra = a();
        let rb = match hb.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (ra, rb)
    })
}
