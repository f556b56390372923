//! The views of packetlab: one timeline built from a trace or a capture, drawn as a terminal
//! stepper, as numbered plain text and as an HTML ladder diagram.

pub mod dissect;
pub mod report;
pub mod stepper;
pub mod timeline;
