//! `packetlab drill`: packetdrill scripts on our stack or smoltcp, line by line, each run
//! written as a capture and a trace that `step`, `report` and `explain` open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use drill::{Failure, Report, Verdict, script::Script};
use serde::Serialize;

use crate::{EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED};

/// Which engine plays the host under test.
#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// packetlab's own stack.
    Packetlab,
    /// smoltcp, the reference engine.
    Smoltcp,
    /// The Linux kernel, over a TAP device in a namespace of the run's own (needs root).
    Kernel,
}

/// `packetlab drill`'s arguments.
#[derive(Args)]
pub struct DrillArgs {
    /// packetdrill scripts (`.pkt`).
    #[arg(required = true)]
    scripts: Vec<PathBuf>,
    /// The engine under test.
    #[arg(long, value_enum, default_value_t = EngineArg::Packetlab)]
    engine: EngineArg,
    /// Directory for the captures and traces.
    #[arg(long, default_value = "captures")]
    out: PathBuf,
    /// Print the verdicts as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Print only each script's verdict, not its lines.
    #[arg(long, short)]
    quiet: bool,
    /// Write no capture and no trace.
    #[arg(long)]
    no_outputs: bool,
}

/// One script's verdict, as `--json` prints it.
#[derive(Serialize)]
struct JsonVerdict<'a> {
    script: String,
    engine: &'static str,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    lines: usize,
}

/// Read and parse every script first: one that does not parse stops the run (exit 2).
fn load(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Script)>, ExitCode> {
    let mut scripts = Vec::new();
    let mut bad = false;
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {}: cannot read the script: {e}", path.display());
                bad = true;
                continue;
            }
        };
        match drill::parse(&text) {
            Ok(script) => scripts.push((path.clone(), script)),
            Err(e) => {
                eprintln!("error: {}:{e}", path.display());
                bad = true;
            }
        }
    }
    if bad {
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(scripts)
}

/// The name of each script's outputs: its file stem, with its folder's name in front where
/// two scripts of the run share a stem.
fn output_names(paths: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map_or("drill".into(), |s| s.to_string_lossy().into_owned())
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in paths {
        *counts.entry(stem(p)).or_default() += 1;
    }
    paths
        .iter()
        .map(|p| {
            let s = stem(p);
            match p.parent().and_then(Path::file_name) {
                Some(dir) if counts[&s] > 1 => format!("{}-{s}", dir.to_string_lossy()),
                _ => s,
            }
        })
        .collect()
}

/// `packetlab drill`.
pub fn drill(args: DrillArgs) -> ExitCode {
    let scripts = match load(&args.scripts) {
        Ok(scripts) => scripts,
        Err(code) => return code,
    };
    let kind = match args.engine {
        EngineArg::Packetlab => drill::Engine::Packetlab,
        EngineArg::Smoltcp => drill::Engine::Smoltcp,
        EngineArg::Kernel => drill::Engine::Kernel,
    };
    let engine = kind.name();
    let names = output_names(&args.scripts);
    let mut json = Vec::new();
    let mut reports = Vec::new();
    let mut all_passed = true;
    for ((path, script), name) in scripts.iter().zip(&names) {
        let file = path
            .file_name()
            .map_or(String::new(), |f| f.to_string_lossy().into_owned());
        let report = drill::run(path, &file, script, kind);
        all_passed &= report.verdict == Verdict::Passed;
        let written = if args.no_outputs {
            None
        } else {
            match write_outputs(&args.out, name, &report) {
                Ok(written) => Some(written),
                Err(e) => {
                    eprintln!("error: cannot write the outputs of {}: {e}", path.display());
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        };
        if !args.json {
            print_report(path, engine, &report, args.quiet, written.as_deref());
        }
        reports.push((path.display().to_string(), report));
    }
    if args.json {
        for (script, report) in &reports {
            json.push(json_verdict(script.clone(), engine, report));
        }
        match serde_json::to_string_pretty(&json) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_EXPECTATION_FAILED)
    }
}

fn json_verdict<'a>(script: String, engine: &'static str, report: &'a Report) -> JsonVerdict<'a> {
    let (verdict, failure) = match &report.verdict {
        Verdict::Passed => ("passed", None),
        Verdict::Failed(f) => ("failed", Some(f)),
        Verdict::Refused(f) => ("refused", Some(f)),
    };
    JsonVerdict {
        script,
        engine,
        verdict,
        line: failure.map(|f| f.line),
        message: failure.map(|f| f.message.as_str()),
        expected: failure.and_then(|f| f.expected.as_deref()),
        actual: failure.and_then(|f| f.actual.as_deref()),
        state: failure.and_then(|f| f.state.as_deref()),
        lines: report.steps.len(),
    }
}

/// The capture and the trace, each written whole or not at all.
fn write_outputs(out: &Path, name: &str, report: &Report) -> std::io::Result<String> {
    std::fs::create_dir_all(out)?;
    let capture_path = out.join(format!("{name}.pcapng"));
    let trace_path = out.join(format!("{name}.trace.jsonl"));
    let interface = capture::Interface {
        name: "drill".to_string(),
        description: "the wire between a packetdrill script and the host under test".to_string(),
    };
    capture::write_file(
        &capture_path,
        capture::Format::PcapNg,
        &[interface],
        &report.records,
        capture::DEFAULT_SNAPLEN,
    )?;
    capture::write_atomically(&trace_path, |file| trace::write_jsonl(&report.events, file))?;
    Ok(format!(
        "wrote {} ({} frames) and {} ({} events)",
        capture_path.display(),
        report.records.len(),
        trace_path.display(),
        report.events.len()
    ))
}

fn print_report(path: &Path, engine: &str, report: &Report, quiet: bool, written: Option<&str>) {
    let file = path.display();
    if !quiet {
        println!("{file} on {engine}");
        for note in &report.notes {
            println!("  note: {note}");
        }
        for step in &report.steps {
            let secs = step.t.as_nanos() as f64 / 1e9;
            println!("  {secs:>10.6}  line {:<4} {}", step.line, step.text);
        }
    }
    match &report.verdict {
        Verdict::Passed => println!("{file}: passed on {engine} ({} lines)", report.steps.len()),
        Verdict::Failed(f) => print_failure(&file.to_string(), engine, f, "failed"),
        Verdict::Refused(f) => print_failure(&file.to_string(), engine, f, "refused"),
    }
    if let Some(written) = written.filter(|_| !quiet) {
        println!("  {written}");
    }
}

fn print_failure(file: &str, engine: &str, f: &Failure, verdict: &str) {
    match (&f.expected, &f.actual) {
        (Some(expected), Some(actual)) => {
            println!("{file}:{}: expected: {expected}, actual: {actual}", f.line);
            println!("  {}", f.message);
        }
        (Some(expected), None) => {
            println!("{file}:{}: expected: {expected}; {}", f.line, f.message)
        }
        _ => println!("{file}:{}: {}", f.line, f.message),
    }
    if let Some(state) = &f.state {
        println!("  {state}");
    }
    println!("{file}: {verdict} on {engine}");
}
