//! The shipped scenarios pass, are deterministic, and match their committed captures.

mod common;

use common::{packetlab, root, shipped_scenarios};

fn run_into(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let scenarios: Vec<String> = shipped_scenarios()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(scenarios.iter().map(String::as_str));
    packetlab(&args)
}

#[test]
fn every_shipped_scenario_passes_and_reproduces_its_committed_outputs() {
    let out = tempfile::tempdir().unwrap();
    let result = run_into(out.path(), &[]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(result.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for scenario in shipped_scenarios() {
        let stem = scenario.file_stem().unwrap().to_string_lossy().into_owned();
        for name in [format!("{stem}.pcapng"), format!("{stem}.trace.jsonl")] {
            let fresh = std::fs::read(out.path().join(&name)).unwrap();
            let committed = std::fs::read(root().join("captures").join(&name))
                .unwrap_or_else(|e| panic!("captures/{name} is not committed: {e}"));
            assert!(
                fresh == committed,
                "captures/{name} is stale: run `cargo run --release -- run scenarios/*.toml`"
            );
        }
    }
}

#[test]
fn two_runs_give_identical_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(run_into(a.path(), &[]).status.success());
    assert!(run_into(b.path(), &[]).status.success());
    let mut names: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2 * shipped_scenarios().len());
    for name in names {
        let x = std::fs::read(a.path().join(&name)).unwrap();
        let y = std::fs::read(b.path().join(&name)).unwrap();
        assert!(x == y, "{name:?} differs between two runs");
    }
}

#[test]
fn another_seed_changes_the_initial_sequence_numbers_but_not_the_lesson() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(run_into(a.path(), &[]).status.success());
    let result = run_into(b.path(), &["--seed", "99"]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stdout)
    );
    let x = std::fs::read(a.path().join("handshake.pcapng")).unwrap();
    let y = std::fs::read(b.path().join("handshake.pcapng")).unwrap();
    assert_eq!(x.len(), y.len());
    assert_ne!(x, y);
}

#[test]
fn classic_pcap_is_written_with_nanosecond_magic() {
    let out = tempfile::tempdir().unwrap();
    let result = packetlab(&[
        "run",
        "--quiet",
        "--format",
        "pcap",
        "--out",
        out.path().to_str().unwrap(),
        "scenarios/handshake.toml",
    ]);
    assert!(result.status.success());
    let bytes = std::fs::read(out.path().join("handshake.pcap")).unwrap();
    assert_eq!(
        &bytes[..4],
        &0xa1b2_3c4d_u32.to_le_bytes(),
        "nanosecond pcap magic"
    );
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        1,
        "LINKTYPE_ETHERNET"
    );
}

#[test]
fn the_trace_names_every_transition_with_cause_and_rule() {
    let out = tempfile::tempdir().unwrap();
    assert!(run_into(out.path(), &[]).status.success());
    let file = std::fs::File::open(out.path().join("handshake.trace.jsonl")).unwrap();
    let events = trace::read_jsonl(std::io::BufReader::new(file)).unwrap();
    let transitions: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            trace::EventKind::TcpTransition {
                endpoint,
                from,
                to,
                cause,
                rule,
                ..
            } => Some((endpoint.host.as_str(), *from, *to, cause.clone(), *rule)),
            _ => None,
        })
        .collect();
    assert_eq!(transitions.len(), 12, "{transitions:#?}");
    for (_, _, _, _, rule) in &transitions {
        assert!(rule.section().starts_with("RFC 9293 §3."), "{rule}");
    }
    use trace::{Cause, Rule, TcpState::*, TimerKind};
    let time_wait = transitions
        .iter()
        .find(|t| t.0 == "client" && t.2 == TimeWait)
        .unwrap();
    assert!(matches!(time_wait.3, Cause::Frame(_)));
    let expiry = transitions.iter().find(|t| t.1 == TimeWait).unwrap();
    assert_eq!(expiry.3, Cause::Timer(TimerKind::TimeWait));
    assert_eq!(expiry.4, Rule::TimeWaitTimeout);
    let syn_sent = transitions.iter().find(|t| t.2 == SynSent).unwrap();
    assert_eq!(syn_sent.3, Cause::Call("connect(10.0.0.2:9000)".into()));
}

#[test]
fn explain_tells_both_ends_states_and_fails_cleanly_on_bad_input() {
    let out = common::packetlab(&["explain", "captures/handshake.pcapng"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("history ShADaFf  state SF"), "{text}");
    assert!(text.contains("FIN-WAIT-2 → TIME-WAIT"), "{text}");
    let json = common::packetlab(&["explain", "captures/simultaneous-close.pcapng", "--json"]);
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let transitions = &value["connections"][0]["transitions"];
    let closing = transitions
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["to"] == "CLOSING")
        .count();
    assert_eq!(closing, 2, "both ends pass CLOSING");
    let bad = common::packetlab(&["explain", "README.md"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at byte offset 0"));
}

#[test]
fn step_plain_numbers_every_event_and_shows_the_states_after_each_transition() {
    let out = common::packetlab(&["step", "captures/handshake.trace.jsonl", "--plain"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let steps = text.lines().filter(|l| l.starts_with("step ")).count();
    let events = std::fs::read_to_string(common::root().join("captures/handshake.trace.jsonl"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(
        steps, events,
        "one step per event of the trace (after its header line)"
    );
    assert!(
        text.contains("states: server#1 LISTEN, client#1 CLOSED, server#2 CLOSED"),
        "{text}"
    );
    let capture = common::packetlab(&["step", "captures/simultaneous-close.pcapng", "--plain"]);
    assert!(capture.status.success());
    let text = String::from_utf8_lossy(&capture.stdout);
    let both = text.lines().any(|l| {
        l.contains("states: 10.0.0.1:") && l.ends_with(" TIME-WAIT, 10.0.0.2:9000 TIME-WAIT")
    });
    assert!(both, "{text}");
    let bad = common::packetlab(&["step", "README.md", "--plain"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// `packetlab run … | head`: the reader going away ends the run quietly, as it ends `cat`,
/// never with a panic.
#[test]
fn a_reader_that_stops_reading_ends_the_run_quietly() {
    use std::io::Read;
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_packetlab"))
        .args(["run", "--out", out.path().to_str().unwrap()])
        .arg(root().join("scenarios/concurrent-server.toml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's reading end is gone now.
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(done.status.code(), Some(141), "{stderr}");
}
