//! The lessons built into the binary: listed in the README's order, run by name with the
//! same bytes as the files in `scenarios/`, copied out whole.

mod common;

use common::{packetlab, root};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lessons_are_listed_with_the_readmes_numbers() {
    let out = packetlab(&["lessons"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut numbered = 0;
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(n), Some(file)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let (Ok(n), Some(file)) = (n.parse::<u32>(), file.strip_prefix('`')) else {
            continue;
        };
        let name = file.trim_end_matches('`').trim_end_matches(".toml");
        let row = format!("{n:>2}  {name}");
        assert!(
            text.lines().any(|l| l.starts_with(&row)),
            "no `{row}` in:\n{text}"
        );
        numbered += 1;
    }
    assert_eq!(numbered, common::shipped_scenarios().len());
    for other in ["kernel/length-prefix", "python/lan-file-transfer"] {
        assert!(text.contains(other), "{text}");
    }
}

#[test]
fn a_built_in_lesson_runs_by_name_with_the_committed_bytes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let run = packetlab(&["run", "handshake", "--quiet", "--out", dir]);
    assert!(run.status.success(), "{}", stdout(&run));
    for file in ["handshake.pcapng", "handshake.trace.jsonl"] {
        let fresh = std::fs::read(out.path().join(file)).unwrap();
        let committed = std::fs::read(root().join("captures").join(file)).unwrap();
        assert!(fresh == committed, "{file} differs from the committed one");
    }
    let missing = packetlab(&["run", "handshak"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("`packetlab lessons` lists them"));
}

#[test]
fn lessons_copy_writes_every_file_as_it_is_in_the_repository() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("mine");
    let copy = packetlab(&["lessons", "--copy", dir.to_str().unwrap()]);
    assert!(copy.status.success(), "{copy:?}");
    for path in [
        "handshake.toml",
        "kernel/length-prefix.toml",
        "python/echo_server.py",
    ] {
        let copied = std::fs::read(dir.join(path)).unwrap();
        let original = std::fs::read(root().join("scenarios").join(path)).unwrap();
        assert!(copied == original, "{path}");
    }
    assert!(
        !dir.join("drill").exists(),
        "packetdrill scripts are not lessons"
    );
    // Never over someone's edits.
    let again = packetlab(&["lessons", "--copy", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is there already"));
}
