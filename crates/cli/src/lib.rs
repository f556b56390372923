//! The views of packetlab: the timeline (from the `timeline` crate) drawn as a terminal
//! stepper and as an HTML ladder diagram.

pub mod report;
pub mod stepper;
