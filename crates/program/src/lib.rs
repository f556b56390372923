//! Scripted applications: the interpreter of the scenario language's programs. A program is a
//! list of socket calls run in order against any [`stack::Engine`], each blocking call holding
//! it until it can return, as a Python socket program would. The simulator and the TAP driver
//! both run programs through this crate.

mod framing;
mod interpreter;

pub use framing::{LengthPrefix, file_header, parse_file_header};
pub use interpreter::{
    AppOutcome, Application, Batch, Env, Handler, Line, ProgramEnd, ProgramRun, Stmt, StreamDigest,
    StreamHasher, Streams, Value, record_history,
};
pub use trace::python_bytes;
