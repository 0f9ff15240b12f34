//! A monorepo fixture with a recipe of every native surface, for the
//! audit tests (`kiln provenance`, `kiln verify`).

use std::path::{Path, PathBuf};

use super::fixture::{git, monorepo_at, python_recipes};
use super::write;

/// The monorepo with sdist, wheel and image recipes, tagged as a release.
pub fn audited_monorepo(dir: &Path) -> PathBuf {
    let root = monorepo_at(dir, false);
    python_recipes(&root);
    write(
        &root.join("recipes/docs-image.toml"),
        "surface = \"oci\"\nsource = \".\"\ninclude = [\"docs/**\", \"LICENSE\"]\n\n[oci]\nrepository = \"example.org/mini-docs\"\nsource-url = \"https://example.invalid/mini\"\n\n[[oci.layers]]\nname = \"docs\"\nmap = { \"docs\" = \"/usr/share/doc/mini/\", \"LICENSE\" = \"/usr/share/doc/mini/LICENSE\" }\n",
    );
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "audited recipes"]);
    git(&root, &["tag", "0.3.0-rc.1"]);
    root
}
