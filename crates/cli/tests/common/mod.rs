//! Helpers shared by the CLI's integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Run the packetlab binary from the workspace root.
pub fn packetlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the packetlab binary runs")
}

/// `packetlab tap` as an echo server on port 7, on device `dev` of namespace `netns`.
pub fn tap_echo_server(netns: &str, dev: &str, capture: &Path) -> Output {
    packetlab(&[
        "tap",
        "--netns",
        netns,
        "--dev",
        dev,
        "--capture",
        capture.to_str().unwrap(),
        "echo-server",
        "7",
    ])
}

/// The shipped scenarios, by file name order.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    scenarios_in("scenarios")
}

/// The scenario files in a folder of the workspace, by file name order.
pub fn scenarios_in(folder: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    paths
}

/// Whether `python3` runs here (a prerequisite, see [`prerequisite`]).
pub fn python_present() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(found, "PACKETLAB_REQUIRE_PYTHON", "python3")
}

/// Whether a prerequisite is present; if not, skip with a printed reason, unless the
/// environment variable `require` is set, in which case a missing prerequisite fails.
pub fn prerequisite(present: bool, require: &str, what: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var_os(require).is_some_and(|v| v == "1") {
        panic!("{what} is missing and {require}=1 says it is required");
    }
    eprintln!("skipped: {what} is missing (set {require}=1 to make this a failure)");
    false
}
