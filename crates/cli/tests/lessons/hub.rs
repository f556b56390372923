//! A lesson's network on Linux: one network namespace per host, each with a TAP device that
//! carries the host's MAC and address, joined by packetlab's relay as the lesson's cable or
//! switch joins them (every frame to every other host after the link's delay: the kernel's
//! netem is not available here). The relay sees every frame once, as the simulator's
//! capture of one cable does, and keeps them for the capture.

use std::time::Duration;

use tap::{Lab, Relay};

/// Relay frames among the TAP devices of `labs`, each delayed by `delay`.
pub fn start<'a>(labs: impl Iterator<Item = &'a Lab>, delay: Duration) -> Relay {
    let labs: Vec<&Lab> = labs.collect();
    let link = link::LinkConfig::new(trace::Time(delay.as_nanos() as u64));
    Relay::start(&labs, link, 0, true).expect("the TAP devices open")
}
