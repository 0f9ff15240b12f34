//! Loading every recipe of a project, expanding matrices, checking the
//! input graph (missing inputs, cycles) and rendering recipe templates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::RecipeError;
use super::schema::{RecipeFile, Surface, SurfaceSpec, WrittenRecipe};
use super::template::render_template;
use super::validate::{invalid, validate};
use crate::name::{check_portable, shown, shown_path};

/// One buildable recipe: a recipe file, or one cell of its matrix.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Unique id: the recipe name, plus `[k=v,…]` for a matrix cell.
    pub id: String,
    /// The recipe name (file stem unless `name` is given).
    pub name: String,
    /// Recipe file, relative to the project root (`recipes/x.toml`).
    pub file: PathBuf,
    /// The matrix cell (empty when the recipe has no matrix).
    pub cell: BTreeMap<String, String>,
    pub spec: RecipeFile,
    /// The recipe file's text, for locating keys in error messages.
    pub text: std::sync::Arc<str>,
}

impl Recipe {
    pub fn surface(&self) -> Surface {
        self.spec.surface.kind()
    }

    /// Input mount name → recipe id it reads.
    pub fn inputs(&self) -> &BTreeMap<String, String> {
        &self.spec.inputs
    }

    /// A store-path-safe name for this recipe (cell values joined with `-`).
    pub fn store_name(&self) -> String {
        let mut s = self.name.clone();
        for v in self.cell.values() {
            s.push('-');
            s.push_str(v);
        }
        crate::nix::store_path::sanitize_name(&s)
    }

    /// Render a template string: `{version}`, `{name}` and the matrix keys.
    pub fn render(&self, key: &str, template: &str, version: &str) -> Result<String, RecipeError> {
        self.render_with(key, template, version, &[])
    }

    /// [`Recipe::render`] with more variables (`extra`, before the matrix
    /// keys).
    pub fn render_with(
        &self,
        key: &str,
        template: &str,
        version: &str,
        extra: &[(&str, &str)],
    ) -> Result<String, RecipeError> {
        let mut vars: BTreeMap<&str, &str> = BTreeMap::new();
        vars.insert("version", version);
        vars.insert("name", &self.name);
        for (k, v) in extra {
            vars.insert(k, v);
        }
        for (k, v) in &self.cell {
            vars.insert(k, v);
        }
        render_template(template, &vars).map_err(|source| RecipeError::Template {
            file: self.file.clone(),
            line: key_line(&self.text, key),
            key: key.to_string(),
            value: template.to_string(),
            source: Box::new(source),
        })
    }
}

/// `spec` with its tool names rendered for one matrix cell: `command.tools`,
/// `sdist`/`wheel` `python` and `tools` may name the cell's values
/// (`tools = ["python{python}"]`), so that a matrix runs each cell with its
/// own interpreter. Only the matrix keys are placeholders there (a tool is
/// chosen before the version is known).
fn tools_of_cell(
    spec: &RecipeFile,
    cell: &BTreeMap<String, String>,
    file: &Path,
    text: &str,
) -> Result<RecipeFile, RecipeError> {
    let vars: BTreeMap<&str, &str> = cell.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let render = |key: String, t: &mut String| -> Result<(), RecipeError> {
        *t = render_template(t, &vars).map_err(|source| RecipeError::Template {
            file: file.to_path_buf(),
            line: key_line(text, &key),
            key,
            value: t.clone(),
            source: Box::new(source),
        })?;
        Ok(())
    };
    let mut spec = spec.clone();
    let (table, python, tools) = match &mut spec.surface {
        SurfaceSpec::Command(c) => ("command", None, &mut c.tools),
        SurfaceSpec::Sdist(s) => ("sdist", s.python.as_mut(), &mut s.tools),
        SurfaceSpec::Wheel(w) => ("wheel", w.python.as_mut(), &mut w.tools),
        _ => return Ok(spec),
    };
    if let Some(p) = python {
        render(format!("{table}.python"), p)?;
    }
    for (i, t) in tools.iter_mut().enumerate() {
        render(format!("{table}.tools[{i}]"), t)?;
    }
    Ok(spec)
}

/// All recipes of a project, in id order.
#[derive(Debug, Clone)]
pub struct Recipes {
    pub root: PathBuf,
    pub recipes: BTreeMap<String, Recipe>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Whether `path` names a recipe file: `recipes/<name>.toml` other than
/// `release.toml`.
pub(crate) fn is_recipe_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "toml")
        && path.file_name().is_some_and(|n| n != "release.toml")
}

/// Parse one recipe file's text. A type error names the key whose value it
/// is about (`source = 5`: key `source`).
pub(crate) fn parse_recipe(file: &Path, text: &str) -> Result<WrittenRecipe, RecipeError> {
    toml_edit::de::from_str::<WrittenRecipe>(text).map_err(|e| {
        let message = e.message().trim().to_string();
        let key = e.span().and_then(|s| key_at(text, s.start));
        RecipeError::Parse {
            file: file.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: match key {
                Some(k) if !message.contains(&format!("`{k}`")) => {
                    format!("key `{}`: {message}", shown(&k))
                }
                _ => message,
            },
        }
    })
}

/// The dotted key whose value (or key) holds byte `offset` of a TOML document.
fn key_at(text: &str, offset: usize) -> Option<String> {
    fn walk(item: &toml_edit::Item, path: &str, offset: usize, best: &mut Option<String>) {
        let Some(table) = item.as_table_like() else {
            if let Some(a) = item.as_array() {
                for (i, v) in a.iter().enumerate() {
                    if v.span().is_some_and(|s| s.contains(&offset)) {
                        *best = Some(format!("{path}[{i}]"));
                    }
                }
            }
            if let Some(a) = item.as_array_of_tables() {
                for (i, t) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    walk(&toml_edit::Item::Table(t.clone()), &p, offset, best);
                }
            }
            return;
        };
        for (k, v) in table.iter() {
            let p = if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            };
            let key_span = table.key(k).and_then(|key| key.span());
            let hit = key_span.is_some_and(|s| s.contains(&offset))
                || v.span()
                    .is_some_and(|s| s.start <= offset && offset <= s.end);
            if hit {
                *best = Some(p.clone());
            }
            walk(v, &p, offset, best);
        }
    }
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut best = None;
    walk(doc.as_item(), "", offset, &mut best);
    best
}

/// The 1-based line where `key` (a dotted path with `[i]` indices, as error
/// messages spell it: `command.outputs[0]`, `map[1].from`) is written in a
/// TOML document, or the line of its closest written parent.
pub(crate) fn key_line(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best = None;
    for seg in key.split('.') {
        let (name, indices) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !name.is_empty() {
            let table = item.as_table_like()?;
            let (k, v) = table.get_key_value(name)?;
            best = k
                .span()
                .or(v.span())
                .map(|s| line_of(text, s.start))
                .or(best);
            item = v;
        }
        for idx in indices.split(['[', ']']).filter(|x| !x.is_empty()) {
            let i: usize = idx.parse().ok()?;
            item = item.get(i)?;
            best = item.span().map(|s| line_of(text, s.start)).or(best);
        }
    }
    best
}

/// Attach the line of the key at fault, when the file text is at hand.
fn with_line(err: RecipeError, text: &str) -> RecipeError {
    match err {
        RecipeError::Invalid {
            file,
            line: None,
            key,
            value,
            reason,
        } => {
            let line = key_line(text, &key);
            RecipeError::Invalid {
                file,
                line,
                key,
                value,
                reason,
            }
        }
        other => other,
    }
}

/// A recipe name (the file stem, or `name`) must be a portable file name:
/// it names store paths, `dist/` files and command-line arguments, so
/// `--help`, a newline or a bidirectional override is refused. `[` and `]`
/// are not in the portable set, so a name cannot be mistaken for a matrix
/// cell id.
fn check_recipe_name(file: &Path, spec: &RecipeFile, name: &str) -> Result<(), RecipeError> {
    check_portable(name).map_err(|e| {
        let what = if spec.name.is_some() {
            "a recipe name"
        } else {
            "a recipe name (the file name without `.toml`, unless `name` is set)"
        };
        invalid(
            file,
            "name",
            name,
            format!("{what} must be a portable file name: it {e}"),
        )
    })
}

fn cells(matrix: &BTreeMap<String, Vec<String>>) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for (k, values) in matrix {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for cell in &out {
            for v in values {
                let mut c = cell.clone();
                c.insert(k.clone(), v.clone());
                next.push(c);
            }
        }
        out = next;
    }
    out
}

fn cell_id(name: &str, cell: &BTreeMap<String, String>) -> String {
    if cell.is_empty() {
        name.to_string()
    } else {
        let parts: Vec<String> = cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name}[{}]", parts.join(","))
    }
}

impl Recipes {
    /// Load `<root>/recipes/*.toml` (except `release.toml`) from disk.
    pub fn load(root: &Path) -> Result<Recipes, RecipeError> {
        let dir = root.join("recipes");
        let rd = std::fs::read_dir(&dir).map_err(|source| RecipeError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for e in rd {
            let e = e.map_err(|source| RecipeError::Io {
                path: dir.clone(),
                source,
            })?;
            let p = e.path();
            if is_recipe_file(&p) {
                let text =
                    crate::fsutil::read_regular_string(&p).map_err(|source| RecipeError::Io {
                        path: p.clone(),
                        source,
                    })?;
                files.push((p.strip_prefix(root).unwrap_or(&p).to_path_buf(), text));
            }
        }
        Recipes::from_files(root, files)
    }

    /// Build the recipe set from `(path relative to the root, text)` pairs —
    /// read from disk, or from a commit's tree.
    pub fn from_files(
        root: &Path,
        mut files: Vec<(PathBuf, String)>,
    ) -> Result<Recipes, RecipeError> {
        files.sort();
        let mut by_name: BTreeMap<String, (PathBuf, RecipeFile)> = BTreeMap::new();
        let mut texts: BTreeMap<String, std::sync::Arc<str>> = BTreeMap::new();
        for (rel, text) in files {
            let path = rel.clone();
            let written = parse_recipe(&rel, &text)?;
            let spec = validate(&rel, written).map_err(|e| with_line(e, &text))?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let name = spec.name.clone().unwrap_or(stem);
            check_recipe_name(&rel, &spec, &name).map_err(|e| with_line(e, &text))?;
            if let Some((other, _)) = by_name.get(&name) {
                return Err(RecipeError::Duplicate {
                    file: rel,
                    other: other.clone(),
                    name,
                });
            }
            texts.insert(name.clone(), text.into());
            by_name.insert(name, (rel, spec));
        }
        // Inputs name recipes (all cells of a matrix recipe are not addressable
        // individually as inputs: an input must be a recipe without a matrix).
        let available = by_name.keys().cloned().collect::<Vec<_>>().join(", ");
        for (name, (file, spec)) in &by_name {
            let text = &texts[name];
            for (mount, target) in &spec.inputs {
                match by_name.get(target) {
                    None => {
                        return Err(RecipeError::UnknownInput {
                            file: file.clone(),
                            line: key_line(text, &format!("inputs.{mount}")),
                            mount: mount.clone(),
                            recipe: target.clone(),
                            available: available.clone(),
                        })
                    }
                    Some((_, t)) if !t.matrix.is_empty() => {
                        return Err(with_line(
                            invalid(
                                file,
                                &format!("inputs.{mount}"),
                                target,
                                "an input cannot be a matrix recipe",
                            ),
                            text,
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        find_cycle(&by_name)?;
        let mut recipes = BTreeMap::new();
        for (name, (file, spec)) in by_name {
            for cell in cells(&spec.matrix) {
                let id = cell_id(&name, &cell);
                let text = texts[&name].clone();
                let spec = tools_of_cell(&spec, &cell, &file, &text)?;
                recipes.insert(
                    id.clone(),
                    Recipe {
                        id,
                        name: name.clone(),
                        file: file.clone(),
                        cell,
                        spec,
                        text,
                    },
                );
            }
        }
        Ok(Recipes {
            root: root.to_path_buf(),
            recipes,
        })
    }

    /// The recipes selected by name (a plain name selects every matrix cell of
    /// it) plus, transitively, their inputs; all recipes when `names` is empty.
    /// Returned in dependency order (inputs first, then by id).
    pub fn select(&self, names: &[String]) -> Result<Vec<&Recipe>, RecipeError> {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        if names.is_empty() {
            wanted.extend(self.recipes.keys().cloned());
        } else {
            for n in names {
                let hits: Vec<&String> = self
                    .recipes
                    .iter()
                    .filter(|(id, r)| *id == n || &r.name == n)
                    .map(|(id, _)| id)
                    .collect();
                if hits.is_empty() {
                    let on_disk = self.root.join("recipes").join(format!("{n}.toml"));
                    let hint = if on_disk.is_file() {
                        format!("; {} exists but is not in the commit being built: commit it, or build with --dirty", shown_path(on_disk.strip_prefix(&self.root).unwrap_or(&on_disk)))
                    } else {
                        String::new()
                    };
                    return Err(RecipeError::UnknownRecipe {
                        name: n.clone(),
                        available: self.names().join(", "),
                        hint,
                    });
                }
                wanted.extend(hits.into_iter().cloned());
            }
        }
        let mut stack: Vec<String> = wanted.iter().cloned().collect();
        while let Some(id) = stack.pop() {
            for dep in self.recipes[&id].inputs().values() {
                if wanted.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        // Kahn's algorithm over the selected set, ties broken by id.
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut order = Vec::new();
        while done.len() < wanted.len() {
            let ready: Vec<String> = wanted
                .iter()
                .filter(|id| !done.contains(*id))
                .filter(|id| {
                    self.recipes[*id]
                        .inputs()
                        .values()
                        .all(|d| done.contains(d))
                })
                .cloned()
                .collect();
            debug_assert!(!ready.is_empty(), "cycles are rejected at load time");
            if ready.is_empty() {
                break;
            }
            for id in ready {
                order.push(&self.recipes[&id]);
                done.insert(id);
            }
        }
        Ok(order)
    }

    /// Distinct recipe names.
    pub fn names(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.recipes.values().map(|r| &r.name).collect();
        set.into_iter().cloned().collect()
    }
}

fn find_cycle(by_name: &BTreeMap<String, (PathBuf, RecipeFile)>) -> Result<(), RecipeError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: &str,
        g: &BTreeMap<String, (PathBuf, RecipeFile)>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Result<(), RecipeError> {
        match marks.get(n).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].to_vec();
                cycle.push(n.to_string());
                return Err(RecipeError::Cycle { cycle });
            }
            Mark::New => {}
        }
        marks.insert(n.to_string(), Mark::Active);
        path.push(n.to_string());
        for dep in g[n].1.inputs.values() {
            visit(dep, g, marks, path)?;
        }
        path.pop();
        marks.insert(n.to_string(), Mark::Done);
        Ok(())
    }
    let mut marks = BTreeMap::new();
    for n in by_name.keys() {
        visit(n, by_name, &mut marks, &mut Vec::new())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_expands_to_the_cartesian_product() {
        let mut m = BTreeMap::new();
        m.insert(
            "py".to_string(),
            vec!["3.11".to_string(), "3.12".to_string()],
        );
        m.insert(
            "os".to_string(),
            vec!["a".to_string(), "b".to_string(), "c".to_string()],
        );
        let c = cells(&m);
        assert_eq!(c.len(), 6);
        assert_eq!(cell_id("img", &c[0]), "img[os=a,py=3.11]");
    }

    #[test]
    fn validation_errors_carry_the_line_of_the_key() {
        let text = "surface = \"command\"\n\n[command]\nargv = [\"true\"]\noutputs = [\n  \"ok\",\n  \"../x\",\n]\n";
        let spec = parse_recipe(Path::new("recipes/c.toml"), text).unwrap();
        let err = with_line(
            validate(Path::new("recipes/c.toml"), spec).unwrap_err(),
            text,
        )
        .to_string();
        assert!(
            err.starts_with("recipes/c.toml:7: key `command.outputs[1]`"),
            "{err}"
        );
        assert_eq!(key_line(text, "command.argv"), Some(4));
        assert_eq!(key_line(text, "nope"), None);
    }

    #[test]
    fn parse_errors_carry_the_line_and_key() {
        let text = "surface = \"tarball\"\n\nbogus = 1\n";
        let err = parse_recipe(Path::new("recipes/x.toml"), text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("recipes/x.toml:3:"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }
}
