//! `packetlab py`: a learner's Python programs, unmodified, on one simulated host that they
//! share as two terminals share a machine, talking over 127.0.0.1 through its loopback
//! interface, in virtual time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use python::{PythonApp, PythonProgram};
use stack::{Host, HostConfig};
use trace::{Event, EventKind, Time};
use wire::MacAddr;

use crate::outputs::{Outputs, Print};
use crate::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};
use scenario::RunSink;

/// How long after one program the next starts, so that a server listens before its client
/// connects (as a learner starts the server's terminal first).
const STAGGER: Time = Time::from_millis(100);

/// `packetlab py PROGRAM... [--stdin PROGRAM=TEXT]`.
#[derive(Args)]
pub struct PyArgs {
    /// The programs, started in this order, each 100 ms of virtual time after the one
    /// before.
    #[arg(required = true, value_name = "PROGRAM.py")]
    programs: Vec<PathBuf>,
    /// What a program's `input()` reads: `client.py='hello\nq\n'` (escapes `\n`, `\t`,
    /// `\\`); at its end `input()` raises EOFError.
    #[arg(long = "stdin", value_name = "PROGRAM=TEXT")]
    stdin: Vec<String>,
    /// Where the capture, the trace and the programs' working folder go.
    #[arg(long, default_value = "captures")]
    out: PathBuf,
    /// Seed of every random choice (initial sequence numbers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop the virtual clock here at the latest (servers that loop for ever end here).
    #[arg(long, default_value = "10min")]
    duration: String,
    /// Print only the programs' output and the summary, not every event.
    #[arg(long)]
    quiet: bool,
}

/// What a program's standard input is, from `--stdin NAME=TEXT` options.
fn stdin_for(program: &Path, options: &[String]) -> Result<Vec<u8>, String> {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    for option in options {
        let (who, text) = option
            .split_once('=')
            .ok_or_else(|| format!("--stdin `{option}`: expected PROGRAM=TEXT"))?;
        if Some(who) == name.as_deref() || Path::new(who) == program {
            return Ok(unescape(text).into_bytes());
        }
    }
    Ok(Vec::new())
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// The programs to start, checked to exist and named once each by `--stdin`.
fn programs(args: &PyArgs) -> Result<Vec<PythonProgram>, String> {
    let mut out = Vec::new();
    for (i, path) in args.programs.iter().enumerate() {
        if !path.is_file() {
            return Err(format!("{}: no such program file", path.display()));
        }
        out.push(PythonProgram {
            path: path.clone(),
            args: Vec::new(),
            stdin: stdin_for(path, &args.stdin)?,
            start_at: Time(STAGGER.0 * i as u64),
            label: None,
        });
    }
    Ok(out)
}

/// `packetlab py …`.
pub fn py(args: PyArgs) -> ExitCode {
    let bad = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("error: python3 is not installed: `packetlab py` runs programs with it");
        return ExitCode::from(EXIT_ENVIRONMENT);
    }
    let duration = match scenario::parse_duration(&args.duration) {
        Ok(d) => d,
        Err(e) => return bad(format!("--duration {e}")),
    };
    let programs = match programs(&args) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let stem = args.programs[0]
        .file_stem()
        .map_or_else(|| "py".to_string(), |s| s.to_string_lossy().into_owned());
    let workdir = args.out.join(format!("{stem}.run"));
    let _ = std::fs::remove_dir_all(&workdir);
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        return bad(format!("cannot create {}: {e}", workdir.display()));
    }
    let app = match PythonApp::launch(&programs, &workdir) {
        Ok(app) => app,
        // The programs were found: what stops them starting is the machine (no python3 the
        // programs' user can run, no setpriv), as for a scenario's Python hosts.
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
    };
    let mut world = sim::World::new(args.seed);
    let mut config = HostConfig::new(
        "localhost",
        MacAddr([2, 0, 0, 0, 0, 1]),
        [10, 0, 0, 1].into(),
        24,
    );
    config.seed = world.seed_for("localhost");
    world.add_application(Box::new(Host::new(config)), Box::new(app));
    let capture_path = args.out.join(format!("{stem}.pcapng"));
    let trace_path = capture_path.with_extension("trace.jsonl");
    let print = if args.quiet {
        Print::ProgramOutput
    } else {
        Print::Events
    };
    let capture = (
        capture_path.as_path(),
        capture::Format::PcapNg,
        capture::DEFAULT_SNAPLEN,
    );
    let written = Outputs::create(Some(capture), Some(&trace_path), print)
        .map_err(scenario::RunError::from)
        .and_then(|mut outputs| {
            let (end, nodes) = scenario::drive(world, duration, (&mut outputs, None), &mut |_| {})?;
            outputs.events(still_waiting(end, &nodes))?;
            Ok((outputs, not_simulated(&nodes)))
        });
    let (outputs, refused) = match written {
        Ok(done) => done,
        Err(e) => return bad(e.to_string()),
    };
    let written = match outputs.finish() {
        Ok(written) => written,
        Err(e) => return bad(format!("cannot write the outputs: {e}")),
    };
    println!("  {}", written.summary);
    if !refused.is_empty() {
        eprintln!(
            "error: packetlab does not simulate {} (see the traceback above)",
            refused.join(", ")
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    ExitCode::SUCCESS
}

/// What the programs asked for that packetlab does not simulate, with their lines.
fn not_simulated(nodes: &[sim::Node]) -> Vec<String> {
    let mut refused = Vec::new();
    for node in nodes {
        if let sim::Node::Host(h) = node
            && let Some(outcome) = h.program.outcome()
        {
            for program in outcome.programs {
                refused.extend(program.not_simulated);
            }
        }
    }
    refused
}

/// A note for each call the programs were still waiting in when the run ended.
fn still_waiting(end: Time, nodes: &[sim::Node]) -> Vec<Event> {
    let mut notes = Vec::new();
    for node in nodes {
        if let sim::Node::Host(h) = node {
            for call in h.program.blocked_on() {
                notes.push(Event {
                    t: end,
                    kind: EventKind::Note {
                        node: "localhost".to_string(),
                        text: format!("the run ended with `{call}` still waiting"),
                    },
                });
            }
        }
    }
    notes
}
