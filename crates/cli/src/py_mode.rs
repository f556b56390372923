//! `packetlab py`: a learner's Python programs, unmodified, on one simulated host that they
//! share as two terminals share a machine, talking over 127.0.0.1 through its loopback
//! interface, in virtual time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use python::{PythonApp, PythonProgram};
use stack::{Host, HostConfig};
use trace::{Event, EventKind, Note, ProgramNote, Time};
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
    /// A program's command-line arguments (`sys.argv[1:]`), split as a shell splits them:
    /// `server.py='127.0.0.1 9000'`.
    #[arg(long = "args", value_name = "PROGRAM=ARGS")]
    args: Vec<String>,
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

/// The options (`--stdin` or `--args`, as `flag`) that name `program`, with their text.
/// Each must name one of the programs: a name that matches none is a mistake to report,
/// not an input to drop.
fn named<'a>(
    flag: &str,
    options: &'a [String],
    programs: &[PathBuf],
) -> Result<Vec<(usize, &'a str)>, String> {
    let mut out = Vec::new();
    for option in options {
        let (who, text) = option
            .split_once('=')
            .ok_or_else(|| format!("{flag} `{option}`: expected PROGRAM=TEXT"))?;
        let matches = |p: &PathBuf| {
            p.file_name().is_some_and(|n| n.to_string_lossy() == who) || p == Path::new(who)
        };
        let Some(i) = programs.iter().position(matches) else {
            let names: Vec<String> = programs
                .iter()
                .map(|p| {
                    p.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                })
                .collect();
            return Err(format!(
                "{flag} `{option}`: `{who}` is not one of the programs ({})",
                names.join(", ")
            ));
        };
        out.push((i, text));
    }
    Ok(out)
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

/// The programs to start, checked to exist, with their input and arguments.
fn programs(args: &PyArgs) -> Result<Vec<PythonProgram>, String> {
    let mut out = Vec::new();
    for (i, path) in args.programs.iter().enumerate() {
        if !path.is_file() {
            return Err(format!("{}: no such program file", path.display()));
        }
        out.push(PythonProgram {
            path: path.clone(),
            args: Vec::new(),
            stdin: Vec::new(),
            start_at: Time(STAGGER.0 * i as u64),
            label: None,
        });
    }
    for (i, text) in named("--stdin", &args.stdin, &args.programs)? {
        out[i].stdin = unescape(text).into_bytes();
    }
    for (i, text) in named("--args", &args.args, &args.programs)? {
        out[i].args = shlex::split(text)
            .ok_or_else(|| format!("--args `{text}`: an unclosed quote or a lone backslash"))?;
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
    let stop = stop_on_signal(app.stopper());
    let world = world_for(app, args.seed);
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
    // Written as the run goes, in place and flushed: an interrupted run keeps what it had.
    let placement = capture::Placement::AsItGoes;
    let written = Outputs::create_in(Some(capture), Some(&trace_path), print, placement)
        .map_err(scenario::RunError::from)
        .and_then(|mut outputs| {
            let sink: (&mut dyn RunSink, _) = (&mut outputs, None);
            let (end, nodes) = scenario::drive(world, duration, sink, &mut |_| {}, Some(&stop))?;
            if stop.load(Ordering::SeqCst) {
                outputs.events(vec![interrupted(end)])?;
            }
            outputs.events(still_waiting(end, &nodes))?;
            Ok((outputs, endings(&nodes)))
        });
    let (outputs, endings) = match written {
        Ok(done) => done,
        Err(e) => return bad(e.to_string()),
    };
    let written = match outputs.finish() {
        Ok(written) => written,
        Err(e) => return bad(format!("cannot write the outputs: {e}")),
    };
    println!("  {}", written.summary);
    endings.report()
}

/// How the programs ended, and what they asked for that packetlab does not simulate.
struct Endings {
    programs: Vec<program::ProgramEnd>,
    /// The calls still waiting when the run ended, as the trace names them.
    waiting: Vec<String>,
}

fn endings(nodes: &[sim::Node]) -> Endings {
    let mut out = Endings {
        programs: Vec::new(),
        waiting: Vec::new(),
    };
    for node in nodes {
        if let sim::Node::Host(h) = node {
            out.waiting.extend(h.program.blocked_on());
            if let Some(outcome) = h.program.outcome() {
                out.programs.extend(outcome.programs);
            }
        }
    }
    out
}

impl Endings {
    /// Say how each program ended; the exit status: 0 when every program exited 0, 1 when
    /// one failed or was left waiting, 2 when one was stopped by a refusal it did not catch.
    fn report(&self) -> ExitCode {
        for p in &self.programs {
            let how = match (p.exit, &p.exception) {
                (Some(0), _) => "exited with status 0".to_string(),
                (Some(n), Some(e)) => format!("raised {e} (exit status {n})"),
                (Some(n), None) => format!("exited with status {n}"),
                (None, _) => {
                    let mine = format!("{}:", p.name);
                    let calls: Vec<&str> = (self.waiting.iter())
                        .filter(|c| c.starts_with(&mine))
                        .map(String::as_str)
                        .collect();
                    format!("was still waiting in `{}`", calls.join("`, `"))
                }
            };
            println!("  {}: {how}", p.name);
        }
        let refused: Vec<&String> = self
            .programs
            .iter()
            .flat_map(|p| &p.not_simulated)
            .collect();
        let stopped = self.programs.iter().any(|p| p.refused);
        if !refused.is_empty() {
            let list: Vec<&str> = refused.iter().map(|s| s.as_str()).collect();
            let what = if stopped {
                "error: packetlab does not simulate"
            } else {
                "note: the programs caught packetlab's refusal of"
            };
            eprintln!("{what} {} (see the trace)", list.join(", "));
        }
        if stopped {
            ExitCode::from(EXIT_BAD_INPUT)
        } else if self.programs.iter().all(|p| p.exit == Some(0)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// One simulated host, `localhost` (10.0.0.1/24 and the loopback interface), running the
/// programs, with Linux's TCP (the profile `drill` and `tap` use): the programs are the
/// course's, written for Linux, and what they do must be what Linux does.
fn world_for(app: PythonApp, seed: u64) -> sim::World {
    let mut world = sim::World::new(seed);
    let mut config = HostConfig::new(
        "localhost",
        MacAddr([2, 0, 0, 0, 0, 1]),
        [10, 0, 0, 1].into(),
        24,
    )
    .linux();
    config.seed = world.seed_for("localhost");
    world.add_application(Box::new(Host::new(config)), Box::new(app));
    world
}

/// A flag that Ctrl-C or `kill` (SIGTERM) raises: the run stops at its next step, and the
/// programs are told to stop too (one computing for ever would hold the step).
fn stop_on_signal(programs: python::Stopper) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Without a handler (one is set already), Ctrl-C ends the process as it always does.
    let _ = ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        programs.stop();
    });
    stop
}

fn interrupted(end: Time) -> Event {
    Event {
        t: end,
        kind: EventKind::Note {
            node: "localhost".to_string(),
            note: Note::Program(ProgramNote::Interrupted),
        },
    }
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
                        note: Note::Program(ProgramNote::StillWaiting { call }),
                    },
                });
            }
        }
    }
    notes
}
