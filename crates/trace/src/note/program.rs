//! The notes of a program, or of the run around it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a program, or the run around it, did.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum ProgramNote {
    /// The run ended with a program still in a call.
    StillWaiting {
        /// The call, as written.
        call: String,
    },
    /// A scenario program stops at an error (an uncaught exception).
    Stops {
        /// The line, as written.
        line: String,
        /// The error.
        error: String,
    },
    /// The run was interrupted (Ctrl-C or SIGTERM).
    Interrupted,
    /// A program was stopped by a signal.
    Stopped {
        /// The program.
        program: String,
    },
    /// A Python call packetlab does not simulate, refused.
    NotSimulated {
        /// Where, `server.py:12`.
        at: String,
        /// What it is.
        feature: String,
    },
    /// A Python program stopped talking to packetlab: how it ended, and its standard error.
    Crashed {
        /// The program.
        program: String,
        /// Its exit status, if it exited.
        status: Option<i32>,
        /// What it left on its standard error.
        stderr: String,
    },
    /// The TAP device failed during the run.
    TapFailed {
        /// How.
        error: String,
    },
    /// A program's thread could not start.
    ThreadFailed {
        /// Why.
        error: String,
    },
    /// One step of a scenario's `serve`: a thread per connection.
    Serve {
        /// The thread's number.
        thread: u32,
        /// The client's address, as `accept()` gave it.
        peer: String,
        /// What happened.
        step: ServeStep,
    },
}

/// A step of one `serve` thread.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ServeStep {
    /// accept() gave the connection to a new thread.
    Accepted,
    /// recv() returned data and the reply went with sendall().
    Echoed {
        /// What came, as Python shows bytes.
        got: String,
        /// What went back.
        sent: String,
    },
    /// recv() returned b'': the client closed.
    ClientClosed,
    /// A call failed; the thread ends.
    Failed {
        /// Which call, `recv(1024)` or `sendall`.
        call: String,
        /// Its error.
        error: String,
    },
}

impl fmt::Display for ProgramNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramNote::StillWaiting { call } => write!(
                f,
                "the run ended with the program still waiting in `{call}`"
            ),
            ProgramNote::Stops { line, error } => write!(
                f,
                "program stops at `{line}`: {error} (an uncaught exception)"
            ),
            ProgramNote::Interrupted => f.write_str(
                "the run was interrupted (Ctrl-C or SIGTERM): its programs were stopped",
            ),
            ProgramNote::Stopped { program } => write!(f, "{program} was stopped"),
            ProgramNote::NotSimulated { at, feature } => {
                write!(f, "{at}: {feature} is not simulated by packetlab: refused")
            }
            ProgramNote::Crashed {
                program, stderr, ..
            } if !stderr.is_empty() => write!(f, "{program} stopped: {stderr}"),
            ProgramNote::Crashed {
                program,
                status: Some(code),
                ..
            } => write!(f, "{program} stopped with status {code}"),
            ProgramNote::Crashed { program, .. } => write!(f, "{program} stopped"),
            ProgramNote::TapFailed { error } => write!(f, "the TAP device failed: {error}"),
            ProgramNote::ThreadFailed { error } => f.write_str(error),
            ProgramNote::Serve { thread, peer, step } => step.fmt_for(f, *thread, peer),
        }
    }
}

impl ServeStep {
    fn fmt_for(&self, f: &mut fmt::Formatter<'_>, thread: u32, peer: &str) -> fmt::Result {
        match self {
            ServeStep::Accepted => write!(
                f,
                "accept() → connection from {peer}; thread {thread} handles it"
            ),
            ServeStep::Echoed { got, sent } => write!(
                f,
                "thread {thread} ({peer}): recv(1024) → {got}; sendall({sent})"
            ),
            ServeStep::ClientClosed => write!(
                f,
                "thread {thread} ({peer}): recv(1024) → b'': the client has closed; close()"
            ),
            ServeStep::Failed { call, error } => write!(
                f,
                "thread {thread} ({peer}): {call} → {error}; the thread ends"
            ),
        }
    }
}
