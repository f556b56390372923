//! `packetlab`: run lessons on a simulated network and look at what happened.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write;

use clap::{Parser, Subcommand, ValueEnum};
use timeline::Timeline;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod drill_mode;
mod explain_mode;
mod lessons;
mod outputs;
mod packet_socket;
mod plot_mode;
mod py_mode;
mod tap_mode;

/// A reader that stops reading (`packetlab run … | head`) ends the program quietly with the
/// status a shell gives a process ended by SIGPIPE, as it would end `cat`, instead of a panic
/// about a broken pipe.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Exit status: an expectation of a scenario failed.
const EXIT_EXPECTATION_FAILED: u8 = 1;
/// Exit status: bad input or usage.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: the environment refuses (no root, no /dev/net/tun).
const EXIT_ENVIRONMENT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "packetlab",
    version,
    about = "A packet-level TCP/IP teaching stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files on the simulated network; write a capture and a trace for each.
    Run {
        /// Scenario files (TOML), or built-in lessons by name (`handshake`; see `lessons`).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Directory for the outputs.
        #[arg(long, default_value = "captures")]
        out: PathBuf,
        /// Capture format.
        #[arg(long, value_enum, default_value_t = FormatArg::Pcapng)]
        format: FormatArg,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print only the expectations and the files written, not the event log.
        #[arg(long, short)]
        quiet: bool,
        /// Capture only the first N octets of each frame (like tcpdump -s); the capture
        /// still records each frame's full length.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(14..))]
        snaplen: Option<u32>,
        /// Write no capture (expectations on `wire flags` then see none).
        #[arg(long)]
        no_capture: bool,
        /// Write no trace (the expectations are still judged).
        #[arg(long)]
        no_trace: bool,
    },
    /// Explain any capture (pcap or pcapng; IPv4 and IPv6 over every common link type and
    /// tunnel): both ends' TCP states for every connection, inferred from the packets alone,
    /// and Zeek's conn.log notation.
    Explain(explain_mode::ExplainArgs),
    /// The lessons built into packetlab: list them (number, name, title), or write them out
    /// with --copy DIR to read and edit.
    Lessons(lessons::LessonsArgs),
    /// Print a shell completion script: `packetlab completions bash > ~/.local/share/bash-completion/completions/packetlab`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `packetlab man | man -l -`.
    Man,
    /// Step through a trace (`.trace.jsonl`) or a capture in the terminal: a ladder of frames,
    /// every endpoint's state and variables, the current frame by layer and in hex.
    Step {
        /// A trace written by `packetlab run`, or a pcap/pcapng capture.
        input: PathBuf,
        /// Print the steps as text, for scripts.
        #[arg(long)]
        plain: bool,
        /// Predict, then see: stop before each state change of the connection with the most
        /// of them and ask what comes next; the answer comes with its rule, a score at the end.
        #[arg(long, conflicts_with = "plain")]
        quiz: bool,
    },
    /// Draw a trace or a capture as one self-contained HTML page: an SVG ladder diagram with
    /// every frame, every state change and the comments, stepped by keyboard or click.
    Report {
        /// A trace written by `packetlab run`, or a pcap/pcapng capture.
        input: PathBuf,
        /// The HTML file to write.
        #[arg(short, long, value_name = "FILE.html")]
        output: PathBuf,
    },
    /// Draw one connection over time: tcptrace's and Stevens's sequence graphs, the
    /// congestion window with each recovery shaded, RTT, throughput, receive windows; as SVG,
    /// PNG or an HTML page with zoom and pan.
    Plot(plot_mode::PlotArgs),
    /// Make or delete a network namespace with a TAP device in it (needs root).
    Lab {
        #[command(subcommand)]
        command: tap_mode::LabCommand,
    },
    /// Run a host of our stack on a TAP device, the Linux kernel at the other end (needs
    /// root and /dev/net/tun).
    Tap(Box<tap_mode::TapArgs>),
    /// Run your own Python socket programs, unmodified, on packetlab's stack: one host, the
    /// programs talking over 127.0.0.1 (its loopback interface `lo`), in virtual time.
    Py(py_mode::PyArgs),
    /// Run packetdrill scripts (`.pkt`) on our stack or smoltcp, line by line: each packet
    /// injected or expected, each system call and its result, checked as packetdrill checks
    /// them; a capture and a trace for each script.
    Drill(drill_mode::DrillArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Pcapng,
    Pcap,
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenarios,
            out,
            format,
            seed,
            quiet,
            snaplen,
            no_capture,
            no_trace,
        } => {
            let format = match format {
                FormatArg::Pcapng => capture::Format::PcapNg,
                FormatArg::Pcap => capture::Format::Pcap,
            };
            let options = Options {
                format,
                seed,
                quiet,
                snaplen: snaplen.map(|s| s as usize),
                no_capture,
                no_trace,
            };
            run(&scenarios, &out, &options)
        }
        Command::Explain(args) => explain_mode::explain(args),
        Command::Lessons(args) => lessons::command(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "packetlab", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => man(),
        Command::Step { input, plain, quiz } => step(&input, plain, quiz),
        Command::Report { input, output } => report(&input, &output),
        Command::Plot(args) => plot_mode::plot(args),
        Command::Lab { command } => tap_mode::lab(command),
        Command::Tap(args) => tap_mode::tap(*args),
        Command::Py(args) => py_mode::py(args),
        Command::Drill(args) => drill_mode::drill(args),
    }
}

/// A trace or capture as a timeline; a capture cut short is read up to the cut, and says so.
fn load_timeline(path: &std::path::Path) -> Result<Timeline, ExitCode> {
    match Timeline::load(path) {
        Ok(timeline) => {
            if let Some(cut) = &timeline.cut_short {
                eprintln!("warning: {cut}; the steps are of the packets before it");
            }
            Ok(timeline)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}

/// `packetlab step`: the stepper in the terminal, or with `--plain` every step as a numbered
/// line and, after each transition, every endpoint's state so far.
fn step(path: &std::path::Path, plain: bool, quiz: bool) -> ExitCode {
    let timeline = match load_timeline(path) {
        Ok(timeline) => timeline,
        Err(code) => return code,
    };
    if !plain {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            eprintln!(
                "error: the stepper needs a terminal; use `packetlab step {} --plain` for text",
                path.display()
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        return match packetlab_cli::stepper::run(timeline, quiz) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the terminal: {e}");
                ExitCode::from(EXIT_ENVIRONMENT)
            }
        };
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = (|| -> std::io::Result<()> {
        for (i, s) in timeline.steps.iter().enumerate() {
            writeln!(
                out,
                "step {:>5}  {:>12}  {}",
                i + 1,
                trace::Time(s.t_ns).to_string(),
                s.describe(&timeline.columns)
            )?;
            if s.is_transition() {
                let all: Vec<String> = timeline
                    .states_at(i)
                    .iter()
                    .map(|e| format!("{} {}", e.key, e.state))
                    .collect();
                writeln!(out, "        states: {}", all.join(", "))?;
            }
        }
        out.flush()
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the steps: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `packetlab report`: the HTML ladder diagram, written whole or not at all.
fn report(input: &std::path::Path, output: &std::path::Path) -> ExitCode {
    let timeline = match load_timeline(input) {
        Ok(timeline) => timeline,
        Err(code) => return code,
    };
    if timeline.steps.len() > packetlab_cli::report::MAX_STEPS {
        eprintln!(
            "warning: {} has {} steps; the report draws the first {}",
            input.display(),
            timeline.steps.len(),
            packetlab_cli::report::MAX_STEPS
        );
    }
    let html = packetlab_cli::report::render(&timeline);
    match capture::write_atomically(output, |out| out.write_all(html.as_bytes())) {
        Ok(()) => {
            println!(
                "wrote {} ({} frames, {} steps)",
                output.display(),
                timeline.frame_count(),
                timeline.steps.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: cannot write the report: {e}", output.display());
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `packetlab man`: the man page, from the same definitions as `--help`.
fn man() -> ExitCode {
    let command = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    match clap_mangen::Man::new(command).render(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the man page: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Temporary folders of built-in lessons, and each scenario file with how it is named.
type Resolved = (Vec<tempfile::TempDir>, Vec<(PathBuf, String)>);

/// The scenario files to run, each with how to name it: a path as given, or a built-in lesson
/// (its files written into a temporary folder, kept as long as the first value lives).
fn resolve(paths: &[PathBuf]) -> Result<Resolved, ExitCode> {
    let mut folders = Vec::new();
    let mut resolved = Vec::new();
    for path in paths {
        if path.exists() {
            resolved.push((path.clone(), path.display().to_string()));
            continue;
        }
        match lessons::materialize(&path.to_string_lossy()) {
            Some(Ok((folder, file))) => {
                folders.push(folder);
                let shown = format!("the built-in lesson {}", path.display());
                resolved.push((file, shown));
            }
            Some(Err(e)) => {
                eprintln!("error: cannot write out the lesson {}: {e}", path.display());
                return Err(ExitCode::from(EXIT_ENVIRONMENT));
            }
            None => {
                eprintln!(
                    "error: {}: no such file, and no built-in lesson of that name \
                     (`packetlab lessons` lists them)",
                    path.display()
                );
                return Err(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    }
    Ok((folders, resolved))
}

/// How `run` runs.
struct Options {
    format: capture::Format,
    seed: Option<u64>,
    quiet: bool,
    snaplen: Option<usize>,
    no_capture: bool,
    no_trace: bool,
}

/// Run one scenario into `outputs`, with a progress bar of virtual time and events per
/// second on stderr, drawn only when stderr is a terminal and the run takes long enough to
/// want one.
fn run_one(
    scenario: &scenario::Scenario,
    outputs: &mut outputs::Outputs,
) -> Result<Vec<scenario::Verdict>, scenario::RunError> {
    let total = scenario.duration.as_nanos() / 1_000_000;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} virtual time {pos}/{len} ms {wide_bar} {msg} {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let verdicts = scenario::run_into(scenario, outputs, &mut |p| {
        let elapsed = started.elapsed();
        if elapsed > std::time::Duration::from_millis(500) {
            bar.set_position(p.now.as_nanos() / 1_000_000);
            let rate = p.events as f64 / elapsed.as_secs_f64();
            bar.set_message(format!("{:.0}k events/s", rate / 1000.0));
        }
    });
    bar.finish_and_clear();
    verdicts
}

/// Run a lesson against the kernel: the tap crate runs it, the scenario crate judges it.
fn run_kernel(scenario: &scenario::Scenario) -> Result<scenario::Report, tap::LabError> {
    let (kernel, (engine, program)) = scenario
        .kernel
        .as_ref()
        .zip(scenario::kernel_host(scenario))
        .ok_or_else(|| tap::LabError::Command {
            command: "run a lesson against the kernel".to_string(),
            message: "it needs a [kernel] table and one host".to_string(),
        })?;
    let host = &scenario.hosts[0];
    let workdir = match &scenario.workdir {
        Some(dir) => dir.join("kernel"),
        None => std::env::temp_dir().join(format!("packetlab-kernel-{}", std::process::id())),
    };
    let run = tap::run_lesson(tap::KernelLesson {
        engine,
        program,
        dev: host.tap.clone().unwrap_or_else(|| "tap0".to_string()),
        kernel_cidr: format!("{}/{}", kernel.ip, kernel.prefix),
        kernel_cidr6: kernel.ip6.map(|(a, len)| format!("{a}/{len}")),
        kernel_program: kernel.program.clone(),
        workdir,
        seed: scenario.seed,
        snaplen: scenario.snaplen,
        duration: scenario.duration,
    })?;
    let evidence = scenario::Evidence {
        events: run.events,
        interfaces: run.interfaces,
        records: run.records,
        kernel: Some(run.kernel),
    };
    let apps = std::iter::once((host.name.clone(), &run.program as &dyn program::Application));
    Ok(scenario::conclude(scenario, run.end, evidence, apps))
}

/// Run one lesson, streaming its outputs; whether every expectation held.
fn run_lesson(
    (path, shown): (&std::path::Path, &str),
    scenario: &scenario::Scenario,
    out: &std::path::Path,
    options: &Options,
) -> Result<bool, ExitCode> {
    println!("== {} ({shown})", scenario.title);
    if !options.quiet && !scenario.lesson.trim().is_empty() {
        for line in scenario.lesson.trim().lines() {
            println!("   {line}");
        }
        println!();
    }
    let fail = |status: u8, e: &dyn std::fmt::Display| {
        eprintln!("error: {shown}: {e}");
        ExitCode::from(status)
    };
    let (capture_path, trace_path) = scenario::output_paths(path, out, options.format);
    if let Some(folder) = capture_path.parent() {
        std::fs::create_dir_all(folder).map_err(|e| {
            fail(
                EXIT_BAD_INPUT,
                &format!("cannot create {}: {e}", folder.display()),
            )
        })?;
    }
    let snaplen = scenario
        .snaplen
        .map_or(capture::DEFAULT_SNAPLEN, |s| s as u32);
    let print = if options.quiet {
        outputs::Print::Nothing
    } else {
        outputs::Print::Events
    };
    let mut outputs = outputs::Outputs::create(
        (!options.no_capture).then_some((capture_path.as_path(), options.format, snaplen)),
        (!options.no_trace).then_some(trace_path.as_path()),
        print,
    )
    .map_err(|e| fail(EXIT_BAD_INPUT, &format!("cannot write the outputs: {e}")))?;
    let verdicts = if scenario.kernel.is_some() {
        // A lesson against the kernel: a TAP device in a namespace of its own.
        let report = run_kernel(scenario).map_err(|e| match e {
            tap::LabError::Env(_) => fail(EXIT_ENVIRONMENT, &e),
            _ => fail(EXIT_BAD_INPUT, &e),
        })?;
        use scenario::RunSink;
        outputs
            .interfaces(report.interfaces)
            .and_then(|()| outputs.events(report.events))
            .and_then(|()| outputs.frames(report.records))
            .map_err(|e| fail(EXIT_BAD_INPUT, &format!("cannot write the outputs: {e}")))?;
        report.verdicts
    } else {
        run_one(scenario, &mut outputs).map_err(|e| match e {
            scenario::RunError::Output(_) => fail(EXIT_BAD_INPUT, &e),
            scenario::RunError::Launch(_) => fail(EXIT_ENVIRONMENT, &e),
        })?
    };
    let written = outputs
        .finish()
        .map_err(|e| fail(EXIT_BAD_INPUT, &format!("cannot write the outputs: {e}")))?;
    for verdict in &verdicts {
        if verdict.passed {
            println!("  ok    {}", verdict.text);
        } else {
            println!(
                "  FAIL  {}\n        actual: {}",
                verdict.text, verdict.actual
            );
        }
    }
    println!("  {}", written.summary);
    Ok(verdicts.iter().all(|v| v.passed))
}

fn run(paths: &[PathBuf], out: &std::path::Path, options: &Options) -> ExitCode {
    let Options { seed, snaplen, .. } = *options;
    // Built-in lessons by name are written out for the run; the folders go when it ends.
    let (_built_in, paths) = match resolve(paths) {
        Ok(resolved) => resolved,
        Err(status) => return status,
    };
    // Validate every file before running any, so a typo in the third file does not leave the
    // outputs of the first two behind.
    let mut loaded = Vec::new();
    for (path, shown) in &paths {
        match scenario::load(path) {
            Ok(mut s) => {
                if let Some(seed) = seed {
                    s.seed = seed;
                }
                s.snaplen = snaplen;
                s.capture = !options.no_capture;
                let name = scenario::output_name(path);
                s.workdir = Some(out.join(format!("{name}.run")));
                loaded.push((path, shown, s));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!(
            "error: cannot create the output directory {}: {e}",
            out.display()
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let mut failed = 0;
    for (path, shown, scenario) in &loaded {
        match run_lesson((path, shown), scenario, out, options) {
            Ok(true) => {}
            Ok(false) => failed += 1,
            Err(status) => return status,
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} scenario(s) failed an expectation",
            loaded.len()
        );
        ExitCode::from(EXIT_EXPECTATION_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}
