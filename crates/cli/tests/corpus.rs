//! The differential corpus (`crates/python/corpus/`): small Python programs of the kinds
//! learners and teachers write, each case run on Linux (CPython on the loopback interface
//! of a network namespace) and under `packetlab py`. What every program prints and how it
//! ends must be the same, or the case says why not (`differs`).
//!
//! Linux's transcripts are recorded beside each case (`linux.txt`), so that packetlab is
//! checked against them on any machine; as root, a second test runs every case on Linux
//! again and checks that the recording is still what Linux does.
//! `PACKETLAB_CORPUS_WRITE=1` rewrites the recordings from that run instead;
//! `PACKETLAB_CORPUS_CASE=NAME` runs the cases whose names contain NAME.

#[path = "corpus/case.rs"]
mod case;
mod common;
#[path = "corpus/linux.rs"]
mod linux;

use std::io::BufReader;
use std::path::Path;
use std::sync::Mutex;

use case::{Case, Ending, Run, transcript};
use common::{packetlab, prerequisite, python_present};
use trace::{EventKind, Stream};

/// The cases to run: all, or those `PACKETLAB_CORPUS_CASE` names.
fn cases() -> Vec<Case> {
    let only = std::env::var("PACKETLAB_CORPUS_CASE").unwrap_or_default();
    case::all()
        .into_iter()
        .filter(|c| c.name().contains(&only))
        .collect()
}

/// `f` on every case, two at a time (the machine has two cores); the failures, by case.
fn each_case(cases: &[Case], f: impl Fn(&Case) -> Option<String> + Sync) -> Vec<String> {
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases.get(i) else { break };
                    if let Some(failure) = f(case) {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

/// The two transcripts side by side, where they part.
fn difference(case: &Case, expected: &str, actual: &str) -> String {
    let mut text = format!("{} ({}):\n", case.name(), case.about);
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    text.push_str(&format!("  first difference at line {}\n", first + 1));
    text.push_str("  expected:\n");
    for line in &e {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("  actual:\n");
    for line in &a {
        text.push_str(&format!("    {line}\n"));
    }
    text
}

/// Run a case under `packetlab py`: what each program printed and how it ended, from the
/// run's trace.
fn under_packetlab(case: &Case) -> Vec<Run> {
    let out = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = ["py", "--quiet", "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.path().to_string_lossy().into_owned());
    for program in &case.programs {
        args.push(case.dir.join(program).to_string_lossy().into_owned());
    }
    for (program, text) in &case.stdin {
        args.push("--stdin".into());
        args.push(format!("{program}={}", text.replace('\\', "\\\\")));
    }
    for (program, words) in &case.args {
        args.push("--args".into());
        let joined = shlex::try_join(words.iter().map(String::as_str)).unwrap();
        args.push(format!("{program}={joined}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = packetlab(&args);
    let stem = Path::new(&case.programs[0]).file_stem().unwrap();
    let trace = out
        .path()
        .join(format!("{}.trace.jsonl", stem.to_string_lossy()));
    let file = std::fs::File::open(&trace)
        .unwrap_or_else(|e| panic!("{}: no trace ({e}): {run:?}", case.name()));
    let events = trace::read_jsonl(BufReader::new(file)).unwrap();
    case.programs
        .iter()
        .map(|program| {
            let mut stdout = Vec::new();
            let mut last_error = None;
            let mut ending = Ending::Waiting;
            for event in &events {
                match &event.kind {
                    EventKind::Output {
                        program: p,
                        stream,
                        text,
                    } if p == program => match stream {
                        Stream::Stdout => stdout.push(text.clone()),
                        Stream::Stderr => last_error = Some(text.clone()),
                    },
                    EventKind::Exit {
                        program: p, status, ..
                    } if p == program => {
                        let error = (*status != 0).then(|| last_error.clone()).flatten();
                        ending = Ending::Exit(*status, error);
                    }
                    _ => {}
                }
            }
            Run {
                program: program.clone(),
                stdout,
                ending,
            }
        })
        .collect()
}

#[test]
fn every_case_runs_under_packetlab_as_on_linux() {
    if !python_present() {
        return;
    }
    let cases = cases();
    let failures = each_case(&cases, |case| {
        let expected = std::fs::read_to_string(case.expected_file())
            .unwrap_or_else(|e| panic!("{}: {e}", case.expected_file().display()));
        let actual = transcript(&under_packetlab(case));
        (actual != expected).then(|| difference(case, &expected, &actual))
    });
    let by_design = cases.iter().filter(|c| c.differs.is_some()).count();
    println!(
        "{} of {} cases as on Linux ({by_design} differ by design, each saying why)",
        cases.len() - failures.len() - by_design,
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_recorded_transcripts_are_what_linux_does() {
    let root = nix::unistd::geteuid().is_root();
    if !prerequisite(root, "PACKETLAB_REQUIRE_TAP", "root (network namespaces)") {
        return;
    }
    if !python_present() {
        return;
    }
    let write = std::env::var_os("PACKETLAB_CORPUS_WRITE").is_some_and(|v| v == "1");
    let cases = cases();
    let failures = each_case(&cases, |case| {
        let actual = transcript(&linux::run(case));
        if write {
            std::fs::write(case.linux_file(), &actual).unwrap();
            return None;
        }
        let recorded = std::fs::read_to_string(case.linux_file()).unwrap_or_default();
        (actual != recorded).then(|| difference(case, &recorded, &actual))
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_that_differs_says_why_and_shows_both() {
    for case in case::all() {
        let name = case.name();
        assert!(case.linux_file().is_file(), "{name}: no linux.txt");
        assert!(!case.about.trim().is_empty(), "{name}: no `about`");
        match &case.differs {
            Some(why) => {
                assert!(why.len() > 20, "{name}: say why it differs");
                let ours = std::fs::read_to_string(case.expected_file()).unwrap();
                let linux = std::fs::read_to_string(case.linux_file()).unwrap();
                assert_ne!(ours, linux, "{name}: says it differs, but does not");
            }
            None => assert!(!case.dir.join("packetlab.txt").exists(), "{name}"),
        }
    }
}

#[test]
fn the_readme_says_how_many_cases_match_linux() {
    let cases = case::all();
    let by_design = cases.iter().filter(|c| c.differs.is_some()).count();
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let verb = if by_design == 1 { "differs" } else { "differ" };
    let said = format!(
        "Of its {} cases, {} match Linux and {by_design} {verb} by design",
        cases.len(),
        cases.len() - by_design
    );
    assert!(readme.contains(&said), "README.md should say: {said}");
    assert!(cases.len() >= 50, "at least 50 cases: {}", cases.len());
}
