//! What packetlab writes for people carries no Rust internals: no `Debug` renderings
//! (`Some(…)`, `Name { field: … }`) in the committed traces or in any error message the
//! malformed inputs draw, and SHA-256 digests whole, as `sha256sum` prints them.

mod common;

use std::path::{Path, PathBuf};

/// Where `text` shows a Rust `Debug` rendering, if anywhere.
fn debug_rendering(text: &str) -> Option<&str> {
    for marker in ["Some(", "None,", "None)", "Ok(", "Err(", "\\u{"] {
        if let Some(at) = text.find(marker) {
            return Some(&text[at..(at + 40).min(text.len())]);
        }
    }
    // `Name { field: …`: a capitalised word, a brace, a lower-case field and a colon.
    for (at, _) in text.match_indices(" { ") {
        let before = text[..at].rsplit(|c: char| !c.is_alphanumeric()).next()?;
        let after = &text[at + 3..];
        let field: String = after
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let struct_like = before.starts_with(|c: char| c.is_ascii_uppercase())
            && !field.is_empty()
            && after[field.len()..].starts_with(": ");
        if struct_like {
            return Some(&text[at.saturating_sub(20)..(at + 40).min(text.len())]);
        }
    }
    None
}

/// Every `sha256 ` in `text` is followed by 64 hexadecimal digits.
fn digests_whole(text: &str) -> bool {
    text.match_indices("sha256 ").all(|(at, m)| {
        let digits = &text[at + m.len()..];
        digits.len() >= 64 && digits[..64].chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn traces(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            traces(&path, out);
        } else if path.to_string_lossy().ends_with(".trace.jsonl") {
            out.push(path);
        }
    }
}

#[test]
fn committed_traces_show_no_rust_internals_and_whole_digests() {
    let mut found = Vec::new();
    traces(&common::root().join("captures"), &mut found);
    assert!(found.len() > 20);
    for path in found {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(debug_rendering(&text), None, "{}", path.display());
        assert!(
            digests_whole(&text),
            "{}: a digest cut short",
            path.display()
        );
    }
}

#[test]
fn error_messages_show_no_rust_internals() {
    let dir = common::root().join("crates/cli/tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out = tempfile::tempdir().unwrap();
    for file in files {
        let result = common::packetlab(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(debug_rendering(&stderr), None, "{}", file.display());
    }
    // And a capture that is no capture, and a missing file.
    for args in [
        vec!["explain", "Cargo.toml"],
        vec!["step", "--plain", "Cargo.toml"],
        vec!["explain", "no-such-file.pcap"],
    ] {
        let result = common::packetlab(&args);
        assert_eq!(result.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(debug_rendering(&stderr), None, "{args:?}: {stderr}");
    }
}

#[test]
fn the_detector_finds_what_it_looks_for() {
    assert!(debug_rendering("program stops at `SendRandom { var: Some(\"sent\") }`").is_some());
    assert!(debug_rendering("Stmt { kind: x }").is_some());
    assert!(debug_rendering("ip { addr: 1 }").is_none());
    assert!(digests_whole(&format!("sha256 {}", "a".repeat(64))));
    assert!(!digests_whole("sha256 0123456789abcdef…"));
}
