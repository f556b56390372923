//! One timeline of numbered steps, built from a trace (`packetlab run`'s `.trace.jsonl`, with
//! its capture beside it for the bytes) or from any capture (states inferred by the observer),
//! and a dissector that shows a frame by layer. The stepper, `step --plain` and the HTML
//! report all draw this same model, so they cannot disagree about what happened.

pub mod dissect;
pub mod quiz;
mod steps;

pub use steps::{
    Captured, EndpointState, FrameStep, LoadError, Source, Step, StepKind, Timeline, TransitionStep,
};
