//! The runner's modules import each other in one direction only: the import graph (which
//! top-level module of `src/`, here or in descent-engine's `src/`, names which other through
//! `crate::`; the runner re-exports the engine's modules under their names) has no cycle, and
//! `docs/imports.dot`, the picture of it in the README, is the graph of the code as it is.
//!
//! After changing imports: `DESCENT_WRITE_IMPORTS=1 cargo test -p descent-runner --test imports`
//! rewrites the file, and `dot -Tsvg docs/imports.dot > docs/imports.svg` redraws it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Top-level module of a source file: `src/x.rs` and `src/x/...` are `x`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The modules named through `crate::` in `text`, including grouped imports
/// (`use crate::{a, b::c}`), ignoring comments.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group, up to its matching brace: split on commas
            // outside nested braces.
            let mut depth = 0;
            let mut start = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(group[start..k].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(group[start..k].trim()));
                        start = k + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// The source directories of the runner and of descent-engine beside it, each file with its
/// directory.
fn source_files() -> Vec<(PathBuf, PathBuf)> {
    let runner = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for src in [runner.join("src"), runner.join("../descent-engine/src")] {
        let mut found = Vec::new();
        sources(&src, &mut found);
        files.extend(found.into_iter().map(|f| (src.clone(), f)));
    }
    files
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = source_files();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(src, f)| module_of(src, f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (src, file) in &files {
        let from = module_of(src, file);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let entry = graph.entry(from.clone()).or_default();
        for to in imports(&text) {
            assert!(
                modules.contains(&to) || to == "lib",
                "{}: imports crate::{to}, which is not a module of src/",
                file.display()
            );
            if to != from {
                entry.insert(to);
            }
        }
    }
    graph
}

/// The modules whose source lies in descent-engine's `src/`.
fn engine_modules() -> BTreeSet<String> {
    source_files()
        .iter()
        .filter(|(src, _)| src.ends_with("descent-engine/src"))
        .map(|(src, f)| module_of(src, f))
        .filter(|m| m != "lib")
        .collect()
}

fn dot(graph: &BTreeMap<String, BTreeSet<String>>, engine: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "// The imports between descent-runner's modules and descent-engine's (tests/imports.rs\n\
         // keeps this true).\n\
         digraph imports {\n  rankdir=TB;\n  node [shape=box, fontname=\"DejaVu Sans\"];\n",
    );
    out.push_str("  subgraph cluster_engine {\n    label=\"descent-engine\";\n    fontname=\"DejaVu Sans\";\n");
    for module in engine {
        out.push_str(&format!("    {module};\n"));
    }
    out.push_str("  }\n");
    for (from, tos) in graph {
        if tos.is_empty() {
            out.push_str(&format!("  {from};\n"));
        }
        for to in tos {
            out.push_str(&format!("  {from} -> {to};\n"));
        }
    }
    out.push_str("}\n");
    out
}

#[test]
fn the_import_graph_has_no_cycle() {
    let graph = graph();
    // Depth-first search with colours: a grey node reached again closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) {
        match state.get(node) {
            Some(2) => return,
            Some(1) => {
                let start = path.iter().position(|p| p == node).unwrap();
                panic!("import cycle: {} -> {node}", path[start..].join(" -> "));
            }
            _ => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, state, path);
        }
        path.pop();
        state.insert(node.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        visit(node, &graph, &mut state, &mut Vec::new());
    }
    // The command line sits on top: no library module imports it.
    for (from, tos) in &graph {
        if from != "cli" {
            assert!(!tos.contains("cli"), "{from} imports cli");
        }
        if from != "cli" && from != "commands" {
            assert!(!tos.contains("commands"), "{from} imports commands");
        }
    }
}

/// The layers `src/lib.rs` documents, top first: the lines of its first `text` block.
fn documented_layers() -> Vec<Vec<String>> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let docs: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = docs.iter().position(|l| *l == "```text").unwrap() + 1;
    let end = start + docs[start..].iter().position(|l| *l == "```").unwrap();
    docs[start..end]
        .iter()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn every_import_goes_to_a_lower_layer_of_the_documented_list() {
    let layers = documented_layers();
    let mut layer_of = BTreeMap::new();
    for (depth, layer) in layers.iter().enumerate() {
        for module in layer {
            assert!(
                layer_of.insert(module.clone(), depth).is_none(),
                "src/lib.rs lists {module} twice"
            );
        }
    }
    let graph = graph();
    let listed: BTreeSet<&String> = layer_of.keys().collect();
    let modules: BTreeSet<&String> = graph.keys().collect();
    assert_eq!(
        listed, modules,
        "src/lib.rs's layers must list every module of src/ and of descent-engine's src/ once"
    );
    for (from, tos) in &graph {
        for to in tos {
            assert!(
                layer_of[to] > layer_of[from],
                "{from} imports {to}, which src/lib.rs's layers put beside or above it"
            );
        }
    }
}

#[test]
fn the_committed_picture_is_the_import_graph() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/imports.dot");
    let now = dot(&graph(), &engine_modules());
    if std::env::var_os("DESCENT_WRITE_IMPORTS").is_some() {
        std::fs::write(&path, &now).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        now,
        "{} is out of date: rerun with DESCENT_WRITE_IMPORTS=1",
        path.display()
    );
}

#[test]
fn grouped_and_nested_imports_are_all_seen() {
    let found = imports("use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h(); // crate::z");
    let expected: BTreeSet<String> = ["a", "b", "e", "g"].iter().map(|s| s.to_string()).collect();
    assert_eq!(found, expected);
}
