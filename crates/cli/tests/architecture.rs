//! The README's dependency graph is the real one: every workspace crate's dependencies on
//! other workspace crates, as `cargo metadata` reports them, are exactly those the README's
//! "Crates" section draws. A new dependency that crosses the drawn layers fails here until the
//! picture (and the design behind it) is changed on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

const MARKER: &str = "<!-- dependency graph: checked by crates/cli/tests/architecture.rs -->";

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/cli sits two levels below the workspace root")
}

fn short(name: &str) -> String {
    name.trim_start_matches("packetlab-").to_string()
}

/// Normal (not dev, not build) dependencies between workspace crates.
fn cargo_graph() -> Graph {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {output:?}");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut graph = Graph::new();
    for package in packages {
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap())
            .filter(|name| members.contains(name))
            .map(short)
            .collect();
        graph.insert(short(package["name"].as_str().unwrap()), deps);
    }
    graph
}

/// The graph as the README draws it: the fenced block after the marker, one crate a line,
/// then the crates it depends on (`—` for none).
fn readme_graph() -> Graph {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let after = readme
        .split_once(MARKER)
        .expect("README.md has the dependency graph marker")
        .1;
    let block = after
        .split("```")
        .nth(1)
        .expect("a fenced block follows the marker");
    block
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty() && !line.starts_with("crate"))
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap().to_string();
            let deps = words
                .filter(|w| *w != "—" && *w != "←")
                .map(|w| w.trim_end_matches(',').to_string())
                .collect();
            (name, deps)
        })
        .collect()
}

#[test]
fn the_readme_draws_the_real_dependency_graph() {
    let real = cargo_graph();
    let drawn = readme_graph();
    let mut differences = Vec::new();
    for name in real.keys().chain(drawn.keys()).collect::<BTreeSet<_>>() {
        match (real.get(name), drawn.get(name)) {
            (Some(r), Some(d)) if r == d => {}
            (r, d) => differences.push(format!("{name}: cargo says {r:?}, README says {d:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "README.md's dependency graph is not the real one:\n{}",
        differences.join("\n")
    );
}

#[test]
fn dependencies_point_one_way() {
    // A cycle is impossible in Cargo, but a layer order is not: the protocol crates never reach
    // up to the simulator, the OS-facing crates or the front ends.
    let graph = cargo_graph();
    let below_sim = [
        "wire",
        "trace",
        "stack",
        "link",
        "program",
        "reference",
        "capture",
    ];
    let above = ["sim", "tap", "scenario", "cli", "timeline", "observer"];
    for low in below_sim {
        for high in above {
            assert!(
                !graph[low].contains(high),
                "{low} depends on {high}, which sits above it"
            );
        }
    }
    for side in ["sim", "tap"] {
        let other = if side == "sim" { "tap" } else { "sim" };
        assert!(!graph[side].contains(other), "{side} depends on {other}");
    }
    assert!(
        !graph["scenario"].contains("tap"),
        "scenario depends on tap"
    );
}

/// Source files over 800 lines, each no longer than this: none since issue 26 split the last
/// of them; a file that grows past 800 lines joins this list only with a reason.
const LONG_FILES: &[(&str, usize)] = &[];

/// Functions over 80 lines, each no longer than this, by file and name: none since issue 26
/// split the last of them.
const LONG_FUNCTIONS: &[(&str, &str, usize)] = &[];

/// Every `.rs` file under a crate's `src/`, relative to the root.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each function with a body: its name and its length in lines, from `fn` to the closing
/// brace at the same indentation (rustfmt's layout).
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let Some(at) = trimmed.find("fn ") else {
            continue;
        };
        let head = &trimmed[..at];
        let is_fn = head
            .split_whitespace()
            .all(|w| ["pub", "const", "async", "unsafe"].contains(&w) || w.starts_with("pub("));
        if !is_fn || trimmed.starts_with("//") {
            continue;
        }
        let name: String = trimmed[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        let body = lines[i..]
            .iter()
            .position(|l| l.contains('{') || l.ends_with(';'));
        let Some(body) = body.map(|b| i + b) else {
            continue;
        };
        if !lines[body].trim_end().ends_with('{') {
            continue;
        }
        if let Some(end) = lines[body + 1..].iter().position(|l| *l == close) {
            out.push((name, body + 1 + end - i + 1));
        }
    }
    out
}

#[test]
fn no_file_over_800_lines_and_no_function_over_80_but_the_listed_ones() {
    let root = workspace_root();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    // The measure itself: a function it must see, at its length.
    let output = root.join("crates/stack/src/tcp/output.rs");
    let output = std::fs::read_to_string(output).unwrap();
    assert!(functions(&output).contains(&("output".to_string(), 60)));
    let mut wrong = Vec::new();
    let mut seen_long = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let lines = text.lines().count();
        let allowed = LONG_FILES
            .iter()
            .find(|(f, _)| *f == rel)
            .map_or(800, |(_, n)| *n);
        if lines > allowed {
            wrong.push(format!("{rel}: {lines} lines (at most {allowed})"));
        }
        if lines > 800 {
            seen_long.push((rel.clone(), String::new()));
        }
        for (name, length) in functions(&text) {
            let allowed = LONG_FUNCTIONS
                .iter()
                .find(|(f, n, _)| *f == rel && *n == name)
                .map_or(80, |(_, _, n)| *n);
            if length > allowed {
                wrong.push(format!(
                    "{rel}: fn {name} is {length} lines (at most {allowed})"
                ));
            }
            if length > 80 {
                seen_long.push((rel.clone(), name));
            }
        }
    }
    // A file or function made short leaves the lists, so that it cannot grow back.
    for (file, _) in LONG_FILES {
        if !seen_long.contains(&(file.to_string(), String::new())) {
            wrong.push(format!(
                "{file} is 800 lines or fewer now: take it off LONG_FILES"
            ));
        }
    }
    for (file, name, _) in LONG_FUNCTIONS {
        if !seen_long.contains(&(file.to_string(), name.to_string())) {
            wrong.push(format!(
                "{file}: fn {name} is 80 lines or fewer now: take it off"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
