//! packetdrill scripts on packetlab: a script of socket calls, packets injected (`<`) and
//! packets expected (`>`), with their times, played against our stack or smoltcp in virtual
//! time, line by line, as packetdrill plays one against Linux. The language is
//! packetdrill's, so its scripts run unchanged; the first difference stops the run, with
//! the host's state and the rule that decided.

mod calls;
mod code;
mod config;
mod kernel;
mod lex;
mod packet;
mod parse;
mod run;
pub mod script;
mod target;
mod verdict;

use std::path::Path;

pub use config::Settings;
pub use packet::addr;
pub use parse::{ParseError, parse};
pub use run::{Failure, Step};

use capture::Record;
use reference::EngineKind;
use stack::{HostConfig, Numbering};
use trace::Event;

/// How a script went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every line held.
    Passed,
    /// A line did not: the host did something else.
    Failed(Failure),
    /// A line asks for something packetlab does not simulate.
    Refused(Failure),
}

/// A finished run: the verdict, each line as it went, and the capture and trace.
#[derive(Debug)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// Each line that ran, in order.
    pub steps: Vec<Step>,
    /// Notes on the script's commands (lines taken but meaning nothing here).
    pub notes: Vec<String>,
    /// Every frame on the wire between the script and the host.
    pub records: Vec<Record>,
    /// The host's events and the frames', for `step`, `report` and `explain`.
    pub events: Vec<Event>,
}

/// Which host plays the part of the host under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// packetlab's own stack, in virtual time.
    Packetlab,
    /// smoltcp, the reference engine, in virtual time.
    Smoltcp,
    /// The Linux kernel, over a TAP device in a namespace of the run's own (root).
    Kernel,
}

impl Engine {
    /// The engine's name, as the CLI and the README give it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Packetlab => "packetlab",
            Engine::Smoltcp => "smoltcp",
            Engine::Kernel => "kernel",
        }
    }
}

/// The host under test: packetdrill's addresses, a seed of its own, and Linux's profile,
/// so that scripts written against Linux pass on our stack as they pass on the kernel.
pub fn host_config() -> HostConfig {
    let mut config = HostConfig::new("host", addr::HOST_MAC, addr::LOCAL, addr::PREFIX).linux();
    config.gateway = Some(addr::GATEWAY);
    config.numbering = Numbering::Seeded;
    config.seed = 0x5eed;
    config
}

/// A run that ended before its first line: a setting refused, or the engine not there.
fn refused_report(line: u32, message: String, notes: Vec<String>) -> Report {
    Report {
        verdict: Verdict::Refused(Failure {
            line,
            message,
            expected: None,
            actual: None,
            state: None,
            refused: true,
        }),
        steps: Vec::new(),
        notes,
        records: Vec::new(),
        events: Vec::new(),
    }
}

/// The host under test for `engine`, set up as the script's commands ask; the notes on
/// what they ask that the host ignores.
fn target_for(
    engine: Engine,
    lines: &[config::Line],
) -> Result<(Box<dyn target::Target>, Vec<String>), String> {
    let kind = match engine {
        Engine::Kernel => {
            let (kernel, notes) = kernel::Kernel::start(lines)?;
            return Ok((Box::new(kernel), notes));
        }
        Engine::Packetlab => EngineKind::Packetlab,
        Engine::Smoltcp => EngineKind::Smoltcp,
    };
    let mut config = host_config();
    let notes = config::apply_to_sim(lines, &mut config)?;
    Ok((Box::new(target::Sim::new(kind.build(config))), notes))
}

/// Play `script` (read from `path`, named `name` in messages) on `engine`.
pub fn run(path: &Path, name: &str, script: &script::Script, engine: Engine) -> Report {
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let settings = match Settings::from_options(&script.options) {
        Ok(settings) => settings,
        Err(e) => return refused_report(1, e, Vec::new()),
    };
    let mut lines = Vec::new();
    for (pos, command) in &script.init {
        match config::read_commands(command, &folder, 0) {
            Ok(more) => lines.extend(more),
            Err(e) => return refused_report(pos.line, e, Vec::new()),
        }
    }
    let first = script.init.first().map_or(1, |(pos, _)| pos.line);
    let (target, notes) = match target_for(engine, &lines) {
        Ok(made) => made,
        Err(e) => return refused_report(first, e, Vec::new()),
    };
    let mut runner = run::Runner::new(name, settings, target);
    let verdict = match runner.play(script) {
        Ok(()) => Verdict::Passed,
        Err(f) if f.refused => Verdict::Refused(f),
        Err(f) => Verdict::Failed(f),
    };
    let (steps, records, events) = runner.finish();
    Report {
        verdict,
        steps,
        notes,
        records,
        events,
    }
}
