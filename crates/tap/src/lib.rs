//! packetlab's stack on a real network: a TAP device inside a network namespace, the Linux
//! kernel at the other end, and a real-time driver that feeds the same sans-IO host with
//! wall-clock time. The capture and trace are those of the simulator: the TAP is one named
//! interface of the pcapng, every transition has its cause.
//!
//! Network safety: every namespace, TAP device and address this crate makes lives in a
//! namespace it creates ([`Lab`]), named per process, and deleted when the [`Lab`] is
//! dropped, also on a panic. Nothing is configured in the root namespace.

mod apps;
mod device;
mod driver;
mod lab;
mod lesson;
mod relay;

pub use apps::{Client, EchoServer, History, UdpEcho};
pub use device::{OpenError, Tap, check_name};
pub use driver::{Driver, DriverConfig, Outcome};
pub use lab::{EnvError, Lab, LabError, check_attach, check_environment};
pub use lesson::{KernelLesson, LessonRun, run_lesson};
pub use relay::{Relay, RelayedFrame, write_relayed};
