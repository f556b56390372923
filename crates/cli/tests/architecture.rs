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
