//! The source tree's layering, checked: no source file reaches into a higher layer,
//! and no two files import each other, however indirectly.
//!
//! The layers are written down once, in ARCHITECTURE.md's table between the
//! `layers:begin` and `layers:end` markers: a row is a layer (a number, higher on top)
//! and the modules in it. A file belongs to the deepest module of the table that
//! holds it. Imports are read from the text: `use crate::...` and `use super::...`
//! trees, and `crate::...` paths in code. Comments and `#[cfg(test)]` modules are left
//! out: tests may use anything, and an intra-doc link is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path such as `image::store`, as its components.
type ModPath = Vec<String>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (layer, module) rows of the layer table in `root`'s ARCHITECTURE.md.
fn layer_table(root: &Path) -> Vec<(u32, ModPath)> {
    let text = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let start = text
        .find("layers:begin")
        .expect("ARCHITECTURE.md: no layers:begin marker");
    let end = text
        .find("layers:end")
        .expect("ARCHITECTURE.md: no layers:end marker");
    let mut rows = Vec::new();
    for line in text[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let Ok(layer) = cells[1]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .parse::<u32>()
        else {
            continue;
        };
        for module in cells[2].split(',') {
            let m = module.trim().trim_matches('`');
            if m.is_empty() {
                continue;
            }
            // `main` is the crate root (src/main.rs).
            let path = if m == "main" {
                Vec::new()
            } else {
                m.split("::").map(str::to_owned).collect()
            };
            rows.push((layer, path));
        }
    }
    assert!(
        !rows.is_empty(),
        "ARCHITECTURE.md: the layer table has no rows"
    );
    rows
}

/// Every source file under `root`'s src/ with its module path.
fn modules(root: &Path) -> BTreeMap<ModPath, PathBuf> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                let mut sub = prefix.clone();
                sub.push(name);
                walk(&p, &sub, out);
            } else if p.extension().is_some_and(|e| e == "rs")
                // Unit-test files (`#[cfg(test)] mod tests;` and their fixtures).
                && !(name == "tests" || name == "testing" || name.ends_with("_tests"))
            {
                let mut m = prefix.clone();
                if name != "mod" && !(prefix.is_empty() && name == "main") {
                    m.push(name);
                }
                out.insert(m, p);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&root.join("src"), &Vec::new(), &mut out);
    out
}

/// The code of a file without comments and without its `#[cfg(test)]` module (the
/// last item of a file, here as in the rest of jig).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            let is_mod = |l: &str| {
                let l = l.trim_start();
                l.starts_with("mod ") || (l.starts_with("pub") && l.contains(" mod "))
            };
            match lines.peek() {
                // `#[cfg(test)] mod tests;`: a test file of its own, left out.
                Some(l) if is_mod(l) && l.trim_end().ends_with(';') => {
                    lines.next();
                }
                // An inline test module closes the file, by convention: the rest is
                // tests.
                Some(l) if is_mod(l) => break,
                _ => {}
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        // A trailing comment.
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_owned()];
    };
    let prefix = tree[..open].trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut parts = Vec::new();
    let (mut depth, mut last) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[last..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                prefix.trim_end_matches("::").to_owned()
            } else {
                format!("{prefix}{p}")
            }
        })
        .collect()
}

/// The module paths a file's code refers to (crate-absolute, unresolved tails kept).
/// `children` are the names of the module's own submodules, which its code may name
/// without a prefix (`userns::enter`).
fn references(module: &ModPath, children: &[String], code: &str) -> Vec<ModPath> {
    let mut paths = Vec::new();
    for child in children {
        let needle = format!("{child}::");
        for (i, _) in code.match_indices(&needle) {
            let before = code[..i].chars().last();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                paths.push(format!("self::{child}"));
            }
        }
    }
    // `use` statements (at the start of a line), which may span lines.
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if let Some(after) = t.strip_prefix("use ") {
            let start = offset + (line.len() - after.len());
            if let Some(end) = code[start..].find(';') {
                let stmt: String = code[start..start + end]
                    .chars()
                    .map(|c| if c.is_whitespace() { ' ' } else { c })
                    .collect();
                paths.extend(expand(&stmt));
            }
        }
        offset += line.len();
    }
    // `crate::a::b` in code.
    for (i, _) in code.match_indices("crate::") {
        let tail: String = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(tail);
    }
    // The module `super` names: the parent of this module, or of the folder for a
    // mod.rs (whose module is the folder itself).
    let parent: ModPath = {
        let mut p = module.clone();
        p.pop();
        p
    };
    paths
        .into_iter()
        .filter_map(|p| {
            let parts: Vec<String> = p.split("::").map(str::to_owned).collect();
            match parts.first().map(String::as_str) {
                Some("crate") => Some(parts[1..].to_vec()),
                Some("super") => {
                    let mut m = parent.clone();
                    let mut rest = &parts[1..];
                    while rest.first().is_some_and(|s| s == "super") {
                        m.pop();
                        rest = &rest[1..];
                    }
                    m.extend(rest.iter().cloned());
                    Some(m)
                }
                Some("self") => {
                    let mut m = module.clone();
                    m.extend(parts[1..].iter().cloned());
                    Some(m)
                }
                _ => None,
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The deepest existing module that `path` (a module path with an item name or more
/// at its end) lies in.
fn owner(path: &ModPath, files: &BTreeMap<ModPath, PathBuf>) -> Option<ModPath> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| files.contains_key(p))
}

fn layer_of(m: &ModPath, table: &[(u32, ModPath)]) -> Option<(u32, ModPath)> {
    table
        .iter()
        // The crate root's row holds the root alone, not everything below it.
        .filter(|(_, t)| m.starts_with(t) && (!t.is_empty() || m.is_empty()))
        .max_by_key(|(_, t)| t.len())
        .cloned()
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// What is wrong with the layering of the crate at `root`, one line each.
fn problems(root: &Path) -> Vec<String> {
    let table = layer_table(root);
    let files = modules(root);
    let mut problems = Vec::new();
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, path) in &files {
        let Some((layer, row)) = layer_of(module, &table) else {
            problems.push(format!(
                "{}: module {} is in no row of ARCHITECTURE.md's layer table",
                path.display(),
                show(module)
            ));
            continue;
        };
        let code = code_of(&fs::read_to_string(path).unwrap());
        let children: Vec<String> = files
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m[module.len()].clone())
            .collect();
        for r in references(module, &children, &code) {
            let Some(target) = owner(&r, &files) else {
                continue;
            };
            if &target == module || target.is_empty() {
                continue;
            }
            // A module declaring or re-exporting its own children is their parent,
            // not a user of theirs.
            if target.starts_with(module) && !module.is_empty() {
                graph
                    .entry(module.clone())
                    .or_default()
                    .insert(target.clone());
                continue;
            }
            if let Some((tl, trow)) = layer_of(&target, &table)
                && tl > layer
            {
                problems.push(format!(
                    "{} (layer {layer}, {}) imports {} (layer {tl}, {})",
                    path.display(),
                    show(&row),
                    show(&r),
                    show(&trow)
                ));
            }
            graph.entry(module.clone()).or_default().insert(target);
        }
    }
    // Cycles: any file that can reach itself.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(ModPath, Vec<ModPath>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((m, trail)) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if next == start {
                    let mut cycle: Vec<String> = trail.iter().map(show).collect();
                    cycle.push(show(start));
                    problems.push(format!("import cycle: {}", cycle.join(" -> ")));
                    stack.clear();
                    break;
                }
                if seen.insert(next.clone()) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn no_file_imports_a_higher_layer_and_no_files_import_each_other() {
    let problems = problems(&root());
    assert!(
        problems.is_empty(),
        "the layering of src/ (ARCHITECTURE.md, \"Layers\") is broken:\n{}",
        problems.join("\n")
    );
}

/// The check itself, on a small crate that breaks both rules and has a module the
/// table does not place.
#[test]
fn an_upward_import_and_a_cycle_are_found() {
    let t = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| {
        let p = t.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w(
        "ARCHITECTURE.md",
        "<!-- layers:begin -->\n| layer | modules | what |\n|---|---|---|\n\
         | 2 top | `main`, `top` | |\n| 1 mid | `mid` | |\n| 0 low | `low` | |\n<!-- layers:end -->\n",
    );
    w("src/main.rs", "mod low;\nmod mid;\nmod top;\nmod stray;\n");
    w("src/top.rs", "use crate::mid::M;\n");
    w("src/mid/mod.rs", "pub mod a;\npub mod b;\npub use a::A;\n");
    w("src/mid/a.rs", "use super::b::B;\npub struct A;\n");
    w("src/mid/b.rs", "use super::a::A;\npub struct B;\n");
    // An intra-doc link and a test module are not imports; code after a test module
    // declared early still counts.
    w(
        "src/low.rs",
        "//! See [`crate::top`].\n#[cfg(test)]\nmod testing;\nuse crate::top::T;\n#[cfg(test)]\nmod tests {\n    use crate::top::U;\n}\n",
    );
    w("src/stray.rs", "");
    let found = problems(t.path());
    let low = t.path().join("src/low.rs");
    let stray = t.path().join("src/stray.rs");
    assert_eq!(
        found,
        [
            format!(
                "{} (layer 0, low) imports top::T (layer 2, top)",
                low.display()
            ),
            format!(
                "{}: module stray is in no row of ARCHITECTURE.md's layer table",
                stray.display()
            ),
            "import cycle: mid::a -> mid::b -> mid::a".to_owned(),
            "import cycle: mid::b -> mid::a -> mid::b".to_owned(),
        ]
    );
}

#[test]
fn use_trees_expand() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e as f}, self}"),
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "crate::a"
        ]
    );
}
