//! Scripted applications: the interpreter of the scenario language's programs. A program is a
//! list of socket calls run in order against any [`stack::Engine`], each blocking call holding
//! it until it can return, as a Python socket program would. The simulator and the TAP driver
//! both run programs through this crate.

mod application;
mod framing;
mod interpreter;
mod stmt;

pub use application::{
    AppOutcome, Application, Batch, Env, ProgramEnd, StreamDigest, StreamHasher, Streams,
    close_at_interrupt, record_history,
};
pub use framing::{LengthPrefix, file_header, parse_file_header};
pub use interpreter::ProgramRun;
pub use stmt::{Handler, Line, Stmt, Value};
pub use trace::python_bytes;
