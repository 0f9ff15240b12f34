//! Source snapshots: the exact files a recipe reads, from a git commit or a directory.

pub mod git;
