//! One case of the differential corpus, and the transcript both runs are compared by.

// Shared by the corpus and the lessons' wire tests, which use different parts of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A case: its programs, started in order, with their input and arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows, in one line.
    pub about: String,
    /// The program files, beside `case.toml`, in the order they start.
    pub programs: Vec<String>,
    /// What each program's `input()` reads.
    #[serde(default)]
    pub stdin: BTreeMap<String, String>,
    /// Each program's command-line arguments.
    #[serde(default)]
    pub args: BTreeMap<String, Vec<String>>,
    /// On Linux, how long every program still running must have been idle before it counts
    /// as waiting for ever (a server in `accept`), in seconds.
    #[serde(default = "default_settle")]
    pub settle: f64,
    /// Why packetlab's transcript differs from Linux's by design; it is then in
    /// `packetlab.txt`.
    #[serde(default)]
    pub differs: Option<String>,
    /// The case's folder (not in the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Long enough that a program sleeping or waiting with a timeout (a second at most, in the
/// cases) is not taken for one that waits for ever, even on a loaded machine.
fn default_settle() -> f64 {
    3.0
}

impl Case {
    /// The case in `dir`.
    pub fn load(dir: &Path) -> Case {
        let path = dir.join("case.toml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut case: Case =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        case.dir = dir.to_path_buf();
        for name in case.stdin.keys().chain(case.args.keys()) {
            assert!(
                case.programs.contains(name),
                "{}: `{name}` is not one of the programs",
                path.display()
            );
        }
        case
    }

    /// The case's name (its folder's).
    pub fn name(&self) -> String {
        self.dir.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// The transcript recorded from Linux.
    pub fn linux_file(&self) -> PathBuf {
        self.dir.join("linux.txt")
    }

    /// The transcript packetlab must give: Linux's, unless the case differs by design.
    pub fn expected_file(&self) -> PathBuf {
        if self.differs.is_some() {
            self.dir.join("packetlab.txt")
        } else {
            self.linux_file()
        }
    }
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status; when not 0, with the last line it wrote to standard
    /// error (the exception).
    Exit(i32, Option<String>),
    /// It was still waiting when every other program had ended.
    Waiting,
}

/// What one program did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Its file name.
    pub program: String,
    /// Its standard output, line by line.
    pub stdout: Vec<String>,
    /// How it ended.
    pub ending: Ending,
}

/// The transcript of a case: each program, how it ended and what it printed, with the
/// numbers that differ from run to run on Linux (ephemeral ports) written as `<port>`.
pub fn transcript(runs: &[Run]) -> String {
    let mut out = String::new();
    for run in runs {
        let ending = match &run.ending {
            Ending::Exit(0, _) => "exit 0".to_string(),
            Ending::Exit(n, Some(error)) => format!("exit {n}: {error}"),
            Ending::Exit(n, None) => format!("exit {n}"),
            Ending::Waiting => "left waiting".to_string(),
        };
        out.push_str(&format!("{} {}\n", run.program, normalise(&ending)));
        for line in &run.stdout {
            out.push_str(&format!("  {}\n", normalise(line)));
        }
    }
    out
}

/// Ephemeral ports (Linux's range, 32768–60999) as `<port>`: Linux draws them at random.
pub fn normalise(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        let ephemeral = digits.len() == 5
            && digits
                .parse::<u32>()
                .is_ok_and(|n| (32768..=60999).contains(&n));
        out.push_str(if ephemeral { "<port>" } else { digits });
        digits.clear();
    };
    for c in line.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// The cases, by name.
pub fn all() -> Vec<Case> {
    let root = crate::common::root().join("crates/python/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| Case::load(d)).collect()
}
