//! Builds the lessons into the binary: every scenario file and Python program under the
//! repository's `scenarios/` (packetdrill scripts aside), with the lesson numbers of the
//! README's table, so that the binary alone (a wheel, `cargo install`) lists, runs and copies
//! them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let scenarios = root.join("scenarios");
    let readme = root.join("README.md");
    println!("cargo:rerun-if-changed={}", scenarios.display());
    println!("cargo:rerun-if-changed={}", readme.display());
    let mut files = Vec::new();
    collect(&scenarios, &scenarios, &mut files);
    files.sort();
    let readme = std::fs::read_to_string(&readme).unwrap_or_default();
    let mut out = String::from("/// Every file of `scenarios/` (its path there, its bytes).\n");
    out.push_str("pub(crate) const FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        let _ = writeln!(out, "    ({name:?}, include_bytes!({:?})),", path.display());
    }
    out.push_str("];\n\n/// The README's lesson table: number, file.\n");
    out.push_str("pub(crate) const NUMBERED: &[(u32, &str)] = &[\n");
    for (number, file) in numbered(&readme) {
        let _ = writeln!(out, "    ({number}, {file:?}),");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("lessons.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every lesson file under `dir`: scenarios (`.toml`) and the programs and data they use.
fn collect(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .strip_prefix(base)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if path.is_dir() {
            if name != "drill" && !name.ends_with("__pycache__") {
                collect(base, &path, files);
            }
        } else if !name.ends_with(".pyc") {
            let absolute = path.canonicalize().unwrap_or(path);
            files.push((name, absolute));
        }
    }
}

/// The rows `| 6 | \`handshake.toml\` | ... |` of the README's lesson table.
fn numbered(readme: &str) -> Vec<(u32, String)> {
    readme
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let number = cells.next()?.parse().ok()?;
            let file = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            file.ends_with(".toml").then(|| (number, file.to_string()))
        })
        .collect()
}
