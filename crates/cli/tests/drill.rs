//! `packetlab drill`: the suite in `scenarios/drill/` on our stack, smoltcp and (as root)
//! the Linux kernel, each engine's result as the README's table gives it; the suite's
//! traces cover RFC 9293's state diagram; mistakes in a script and differences on the wire
//! are reported at their line.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{packetlab, prerequisite, root};

const MARKER: &str = "<!-- drill suite: checked by crates/cli/tests/drill.rs -->";

/// What the table says of one engine's run of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Passes,
    /// It stops at this line.
    FailsAt(u32),
    /// It stops at this line, which asks for what the engine does not have.
    RefusedAt(u32),
}

#[derive(Debug)]
struct Row {
    script: String,
    packetlab: Expected,
    smoltcp: Expected,
    kernel: Expected,
}

fn expected(cell: &str) -> Expected {
    let cell = cell.trim();
    if cell == "passes" {
        return Expected::Passes;
    }
    let at = |prefix: &str| {
        cell.strip_prefix(prefix)
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.trim().parse().ok())
    };
    if let Some(line) = at("fails at line ") {
        return Expected::FailsAt(line);
    }
    let line = at("refused at line ").unwrap_or_else(|| {
        panic!(
            "a table cell is `passes`, `fails at line N: why` or `refused at line N: why`, not \
             `{cell}`"
        )
    });
    Expected::RefusedAt(line)
}

/// The README's table of the suite.
fn table() -> Vec<Row> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(MARKER).expect("the README has the drill table") + MARKER.len();
    readme[start..]
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 5, "a row has 5 cells: {line}");
            Row {
                script: cells[0].trim().trim_matches('`').to_string(),
                packetlab: expected(cells[2]),
                smoltcp: expected(cells[3]),
                kernel: expected(cells[4]),
            }
        })
        .collect()
}

/// Every script of the suite, relative to `scenarios/drill`, sorted.
fn scripts() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "pkt") {
                out.push(path);
            }
        }
    }
    let base = root().join("scenarios/drill");
    let mut paths = Vec::new();
    walk(&base, &mut paths);
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Each script's verdict on `engine`, from `--json`: passed, or the line it stopped at.
fn verdicts(engine: &str, scripts: &[String]) -> Vec<(String, Expected, String)> {
    let mut args = vec!["drill", "--json", "--no-outputs", "--engine", engine];
    let paths: Vec<String> = scripts
        .iter()
        .map(|s| format!("scenarios/drill/{s}"))
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let out = packetlab(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "--json prints JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json.as_array()
        .unwrap()
        .iter()
        .zip(scripts)
        .map(|(v, name)| {
            let line = || v["line"].as_u64().unwrap() as u32;
            let got = match v["verdict"].as_str().unwrap() {
                "passed" => Expected::Passes,
                "refused" => Expected::RefusedAt(line()),
                _ => Expected::FailsAt(line()),
            };
            let why = format!(
                "{} {}",
                v["message"].as_str().unwrap_or(""),
                v["actual"].as_str().unwrap_or("")
            );
            (name.clone(), got, why)
        })
        .collect()
}

/// The engines' runs one at a time: the kernel's is in real time, with a 4 ms tolerance,
/// and two cores shared with other runs would make it late.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_engine(engine: &str, column: impl Fn(&Row) -> &Expected) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rows = table();
    let names: Vec<String> = rows.iter().map(|r| r.script.clone()).collect();
    let mut wrong = Vec::new();
    for ((name, got, why), row) in verdicts(engine, &names).into_iter().zip(&rows) {
        if &got != column(row) {
            wrong.push(format!(
                "{name}: the table says {:?}, {engine} gives {got:?} ({why})",
                column(row)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_table_lists_every_script_of_the_suite_once() {
    let listed: Vec<String> = table().into_iter().map(|r| r.script).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a script is listed twice");
    assert_eq!(
        sorted,
        scripts(),
        "the README's table and scenarios/drill/ differ"
    );
}

#[test]
fn the_suite_passes_on_our_stack() {
    for row in table() {
        assert_eq!(
            row.packetlab,
            Expected::Passes,
            "{}: every script passes on ours",
            row.script
        );
    }
    check_engine("packetlab", |r| &r.packetlab);
}

#[test]
fn smoltcp_gives_what_the_table_says() {
    check_engine("smoltcp", |r| &r.smoltcp);
}

#[test]
fn the_suite_passes_on_the_kernel() {
    let root_here = tap::check_environment().is_ok();
    if !prerequisite(
        root_here,
        "PACKETLAB_REQUIRE_TAP",
        "root and /dev/net/tun (the kernel engine)",
    ) {
        return;
    }
    for row in table() {
        assert_eq!(
            row.kernel,
            Expected::Passes,
            "{}: every script passes on the kernel",
            row.script
        );
    }
    check_engine("kernel", |r| &r.kernel);
}

/// The arcs of RFC 9293's state diagram that the suite's traces on our stack show.
#[test]
fn the_suite_walks_every_arc_of_the_state_diagram() {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["drill", "--quiet", "--out", out.path().to_str().unwrap()];
    let paths: Vec<String> = scripts()
        .iter()
        .map(|s| format!("scenarios/drill/{s}"))
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let run = packetlab(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let mut arcs = BTreeSet::new();
    // Transitions by the frame that caused them, per trace.
    let mut by_frame: BTreeSet<(String, u64, String)> = BTreeSet::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".trace.jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["event"] == "tcp_transition" {
                let arc = format!(
                    "{} -> {}",
                    event["from"].as_str().unwrap(),
                    event["to"].as_str().unwrap()
                );
                if let Some(frame) = event["cause"]["frame"].as_u64() {
                    by_frame.insert((path.display().to_string(), frame, arc.clone()));
                }
                arcs.insert(arc);
            }
        }
    }
    // One segment with the ACK of our FIN and the peer's FIN: RFC 9293's processing (and
    // Linux's) passes FIN-WAIT-2 on the way, at the fifth step, to TIME-WAIT at the eighth.
    let through_fin_wait_2 = by_frame.iter().any(|(trace, frame, arc)| {
        arc == "FIN-WAIT-1 -> FIN-WAIT-2"
            && by_frame.contains(&(trace.clone(), *frame, "FIN-WAIT-2 -> TIME-WAIT".to_string()))
    });
    if through_fin_wait_2 {
        arcs.insert("FIN-WAIT-1 -> TIME-WAIT".to_string());
    }
    // RFC 9293's figure 5 and the text's two more (FIN-WAIT-1 -> TIME-WAIT, SYN-RECEIVED
    // -> LISTEN); LISTEN -> SYN-SENT (a SEND on a listener) has no socket call, and
    // `open/listen-connect.pkt` shows what Linux does instead.
    let diagram = [
        "CLOSED -> LISTEN",
        "CLOSED -> SYN-SENT",
        "LISTEN -> CLOSED",
        "LISTEN -> SYN-RECEIVED",
        "SYN-SENT -> SYN-RECEIVED",
        "SYN-SENT -> ESTABLISHED",
        "SYN-SENT -> CLOSED",
        "SYN-RECEIVED -> ESTABLISHED",
        "SYN-RECEIVED -> FIN-WAIT-1",
        "SYN-RECEIVED -> LISTEN",
        "ESTABLISHED -> FIN-WAIT-1",
        "ESTABLISHED -> CLOSE-WAIT",
        "FIN-WAIT-1 -> FIN-WAIT-2",
        "FIN-WAIT-1 -> CLOSING",
        "FIN-WAIT-1 -> TIME-WAIT",
        "FIN-WAIT-2 -> TIME-WAIT",
        "CLOSING -> TIME-WAIT",
        "CLOSE-WAIT -> LAST-ACK",
        "LAST-ACK -> CLOSED",
        "TIME-WAIT -> CLOSED",
    ];
    let missing: Vec<&str> = diagram
        .iter()
        .copied()
        .filter(|a| !arcs.contains(*a))
        .collect();
    assert!(missing.is_empty(), "arcs no script walks: {missing:?}");
    assert!(scripts().contains(&"open/listen-connect.pkt".to_string()));
}

#[test]
fn a_script_that_does_not_parse_exits_2_naming_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pkt");
    std::fs::write(
        &path,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(1) win 10\n",
    )
    .unwrap();
    let out = packetlab(&["drill", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.pkt:2:10: expected 0:1(1)"), "{err}");
    assert!(err.contains("(byte 53)"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("ParseError"),
        "{err}"
    );
    std::fs::write(&path, "0 sendmmsg(3, ..., 0) = 0\n").unwrap();
    let out = packetlab(&["drill", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`sendmmsg`"));
}

#[test]
fn a_difference_exits_1_with_both_packets_the_state_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.pkt");
    // The peer's FIN is acknowledged, not answered with a FIN: the application has not closed.
    let script = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n\
                  +0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n\
                  +0 > S. 0:0(0) ack 1 <...>\n\
                  +.01 < . 1:1(0) ack 1 win 65535\n\
                  +.01 < F. 1:1(0) ack 1 win 65535\n\
                  +0 > F. 1:1(0) ack 2\n";
    std::fs::write(&path, script).unwrap();
    let out = packetlab(&["drill", "--no-outputs", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wrong.pkt:8: expected: > F. 1:1(0) ack 2, actual: > . 1:1(0) ack 2"),
        "{text}"
    );
    assert!(
        text.contains("the FIN flag: expected set, actual clear"),
        "{text}"
    );
    assert!(
        text.contains("ESTABLISHED → CLOSE-WAIT") && text.contains("RFC 9293"),
        "{text}"
    );
}

#[test]
fn a_run_writes_a_capture_and_a_trace_that_step_and_tshark_read() {
    let out = tempfile::tempdir().unwrap();
    let run = packetlab(&[
        "drill",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
        "scenarios/drill/close/last-ack.pkt",
    ]);
    assert!(run.status.success());
    let trace = out.path().join("last-ack.trace.jsonl");
    let steps = packetlab(&["step", "--plain", trace.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&steps.stdout);
    assert!(text.contains("CLOSE-WAIT → LAST-ACK"), "{text}");
    let tshark = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !prerequisite(tshark, "PACKETLAB_REQUIRE_TSHARK", "tshark") {
        return;
    }
    let capture = out.path().join("last-ack.pcapng");
    let read = std::process::Command::new("tshark")
        .args([
            "-r",
            capture.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "frame.comment",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .unwrap();
    let fields = String::from_utf8_lossy(&read.stdout);
    assert!(
        fields.contains("last-ack.pkt:18: > F. 1:1(0) ack 2"),
        "{fields}"
    );
    assert!(
        !fields.contains("Bad checksum") && !fields.contains("Malformed"),
        "{fields}"
    );
}
