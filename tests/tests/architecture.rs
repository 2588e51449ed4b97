//! The shape of the code: no crate has a module cycle.
//!
//! For each crate this reads its modules from the source tree (`mod x;`
//! from `lib.rs` / `main.rs` down), and every path a module names
//! (`crate::…`, `super::…`, `self::…`, a child module's name). A reference
//! from module `a::b::c` to `a::d::e` is an edge between the siblings
//! `a::b` and `a::d`; a child using its parent (`super::Item`) is no edge.
//! The test fails if the sibling edges of any crate form a cycle, and names
//! it. Reading text, not resolving names: a path through a `use` alias or a
//! macro is not seen, so the check errs towards passing, never failing
//! falsely.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type ModPath = Vec<String>;

/// The crates and their roots.
const CRATES: &[(&str, &str)] = &[
    ("protocol", "lib.rs"),
    ("wrapper", "lib.rs"),
    ("relay-dev", "lib.rs"),
    ("viewer-wasm", "main.rs"),
    ("tests", "lib.rs"),
];

#[test]
fn no_crate_has_a_module_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cycles = Vec::new();
    for (krate, root_file) in CRATES {
        let modules = modules(&root.join(krate).join("src"), root_file);
        assert!(modules.len() > 1, "{krate}: no modules found");
        for cycle in cycles_in(&sibling_edges(&modules)) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            cycles.push(format!("{krate}: {}", names.join(" <-> ")));
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_check_sees_a_cycle() {
    let modules: BTreeMap<ModPath, String> = [
        (vec![], "mod a; mod b;".to_string()),
        (vec!["a".into()], "use crate::b::Thing;".to_string()),
        (vec!["b".into()], "use super::a::{self, Other};".to_string()),
    ]
    .into_iter()
    .collect();
    let cycles = cycles_in(&sibling_edges(&modules));
    assert_eq!(cycles, [vec![vec!["a".to_string()], vec!["b".to_string()]]]);
    // A child using its parent is not a cycle.
    let modules: BTreeMap<ModPath, String> = [
        (vec![], "mod a; use a::Thing; pub struct Item;".to_string()),
        (vec!["a".into()], "use super::Item;".to_string()),
    ]
    .into_iter()
    .collect();
    assert!(cycles_in(&sibling_edges(&modules)).is_empty());
}

/// Every module of the crate in `src` (from `root_file`), with its source
/// (comments and string contents removed).
fn modules(src: &Path, root_file: &str) -> BTreeMap<ModPath, String> {
    let mut found = BTreeMap::new();
    let mut todo = vec![(Vec::new(), src.join(root_file), src.to_path_buf())];
    while let Some((path, file, children_dir)) = todo.pop() {
        let text = strip(&std::fs::read_to_string(&file).expect("a module file"));
        for name in declared_modules(&text) {
            let candidates = [
                children_dir.join(format!("{name}.rs")),
                children_dir.join(&name).join("mod.rs"),
            ];
            if let Some(child) = candidates.into_iter().find(|c| c.is_file()) {
                let dir = if child.ends_with("mod.rs") {
                    child.parent().unwrap().to_path_buf()
                } else {
                    children_dir.join(&name)
                };
                let mut child_path = path.clone();
                child_path.push(name);
                todo.push((child_path, child, dir));
            }
        }
        found.insert(path, text);
    }
    found
}

/// The names in `mod name;` declarations (not inline `mod name { … }`).
fn declared_modules(text: &str) -> Vec<String> {
    let words = tokens(text);
    words
        .windows(3)
        .filter(|w| w[0] == "mod" && w[2] == ";")
        .map(|w| w[1].clone())
        .collect()
}

/// The source without comments and with string literals emptied.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                out.push_str("\"\"");
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                word.push(c);
                chars.next();
            }
            out.push(word);
        } else if c == ':' {
            chars.next();
            if chars.peek() == Some(&':') {
                chars.next();
                out.push("::".into());
            } else {
                out.push(":".into());
            }
        } else {
            chars.next();
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    out
}

/// The paths a use-tree starting at `words[at]` names (each as its
/// segments), and the index after it.
fn use_tree(words: &[String], mut at: usize, prefix: &[String], out: &mut Vec<ModPath>) -> usize {
    let mut segments = prefix.to_vec();
    loop {
        match words.get(at).map(String::as_str) {
            Some("{") => {
                at += 1;
                loop {
                    if words.get(at).map(String::as_str) == Some("}") {
                        return at + 1;
                    }
                    at = use_tree(words, at, &segments, out);
                    match words.get(at).map(String::as_str) {
                        Some(",") => at += 1,
                        Some("}") => return at + 1,
                        _ => return at,
                    }
                }
            }
            Some(word) if word.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                segments.push(word.to_string());
                at += 1;
                if words.get(at).map(String::as_str) == Some("::") {
                    at += 1;
                } else {
                    out.push(segments);
                    return at;
                }
            }
            _ => {
                out.push(segments);
                return at;
            }
        }
    }
}

/// The modules `path`'s source refers to.
fn references(
    path: &ModPath,
    text: &str,
    modules: &BTreeMap<ModPath, String>,
) -> BTreeSet<ModPath> {
    let words = tokens(text);
    let mut found = BTreeSet::new();
    for (i, word) in words.iter().enumerate() {
        if words.get(i + 1).map(String::as_str) != Some("::") {
            continue;
        }
        if i > 0 && words[i - 1] == "::" {
            continue; // the middle of a path, seen from its start
        }
        let base: ModPath = match word.as_str() {
            "crate" => Vec::new(),
            "super" => path[..path.len().saturating_sub(1)].to_vec(),
            "self" => path.clone(),
            child => {
                let mut child_path = path.clone();
                child_path.push(child.to_string());
                if modules.contains_key(&child_path) {
                    found.insert(child_path);
                }
                continue;
            }
        };
        let mut trees = Vec::new();
        use_tree(&words, i + 2, &[], &mut trees);
        for segments in trees {
            let mut at = base.clone();
            for segment in segments {
                match segment.as_str() {
                    "super" => {
                        at.pop();
                    }
                    "self" => {}
                    name => {
                        at.push(name.to_string());
                        if !modules.contains_key(&at) {
                            at.pop();
                            break;
                        }
                    }
                }
            }
            found.insert(at);
        }
    }
    found
}

/// For every reference between two modules that are not ancestor and
/// descendant, an edge between the children of their deepest common
/// ancestor that hold them.
fn sibling_edges(modules: &BTreeMap<ModPath, String>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (path, text) in modules {
        for target in references(path, text, modules) {
            let common = path.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < path.len() && common < target.len() {
                let from = path[..=common].to_vec();
                let to = target[..=common].to_vec();
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles_in(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a ModPath) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}
