//! Kernels joined by packetlab's link: the TAP devices of several labs made one Ethernet
//! segment by a thread of this process, every frame copied to every other device after the
//! link's delay and through its fault model. The kernel's netem is not available here, so
//! this is how Linux meets loss and reordering from Linux (the oracle a benchmark of our
//! receiver needs), and how a lesson's hosts, each a namespace, reach each other.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use link::{Direction, LinkConfig};
use trace::Time;

use crate::{Lab, OpenError, Tap};

/// One frame as the relay read it: when (since the relay started), and its bytes.
#[derive(Debug, Clone)]
pub struct RelayedFrame {
    /// Since the relay started.
    pub at: Duration,
    /// The Ethernet frame.
    pub bytes: Vec<u8>,
}

/// `frames` as a classic pcap file (nanosecond times), as tcpdump would have captured them
/// on the segment.
pub fn write_relayed(frames: &[RelayedFrame], path: &std::path::Path) -> io::Result<()> {
    let records: Vec<capture::Record> = frames
        .iter()
        .map(|f| capture::Record {
            interface: 0,
            t_ns: f.at.as_nanos() as u64,
            data: f.bytes.clone(),
            original_len: f.bytes.len() as u32,
            comments: Vec::new(),
            direction: None,
        })
        .collect();
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    capture::write_pcap(file, &records, capture::DEFAULT_SNAPLEN)
}

/// The relay's thread; stop it to get what it carried.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<io::Result<Vec<RelayedFrame>>>,
}

/// A frame on its way: due, order of arrival (ties), the device it came from, its bytes.
type InFlight = std::cmp::Reverse<(Time, u64, usize, Vec<u8>)>;

impl Relay {
    /// Join the TAP devices of `labs`. Frames from the first device take `link`'s faults of
    /// index 0, frames from any other those of index 1 (two labs: a cable's two directions);
    /// the fault model's draws come from `seed`. With `keep`, every frame read is kept.
    pub fn start(
        labs: &[&Lab],
        link: LinkConfig,
        seed: u64,
        keep: bool,
    ) -> Result<Relay, OpenError> {
        let taps = labs
            .iter()
            .map(|lab| Tap::open(lab.name(), lab.dev()))
            .collect::<Result<Vec<Tap>, OpenError>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let directions = [0u64, 1].map(|d| Direction::new(seed ^ (d + 1)));
            let mut state = State {
                taps,
                link,
                directions,
                flight: std::collections::BinaryHeap::new(),
                order: 0,
                keep,
                frames: Vec::new(),
                started: Instant::now(),
            };
            while !stopped.load(Ordering::Relaxed) {
                state.turn()?;
            }
            Ok(state.frames)
        });
        Ok(Relay { stop, thread })
    }

    /// Stop relaying; the frames kept, in the order they were read.
    pub fn stop(self) -> io::Result<Vec<RelayedFrame>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the relay's thread panicked")))
    }
}

/// The relay thread's devices, fault model and frames in flight.
struct State {
    taps: Vec<Tap>,
    link: LinkConfig,
    directions: [Direction; 2],
    flight: std::collections::BinaryHeap<InFlight>,
    order: u64,
    keep: bool,
    frames: Vec<RelayedFrame>,
    started: Instant,
}

impl State {
    fn now(&self) -> Time {
        Time(self.started.elapsed().as_nanos() as u64)
    }

    /// Read what waits, deliver what is due, and rest a moment when nothing moved.
    fn turn(&mut self) -> io::Result<()> {
        let mut busy = false;
        let mut buf = vec![0u8; 65536];
        for from in 0..self.taps.len() {
            while let Some(n) = self.taps[from].recv(&mut buf)? {
                busy = true;
                self.arrived(from, buf[..n].to_vec());
            }
        }
        let now = self.now();
        while let Some(std::cmp::Reverse((due, _, from, _))) = self.flight.peek() {
            if *due > now {
                break;
            }
            let from = *from;
            let Some(std::cmp::Reverse((_, _, _, frame))) = self.flight.pop() else {
                break;
            };
            for (to, tap) in self.taps.iter().enumerate() {
                if to != from {
                    // A full device queue drops the frame, as a full cable's queue would.
                    let _ = tap.send(&frame);
                }
            }
            busy = true;
        }
        if !busy {
            std::thread::sleep(Duration::from_micros(20));
        }
        Ok(())
    }

    fn arrived(&mut self, from: usize, frame: Vec<u8>) {
        let now = self.now();
        if self.keep {
            self.frames.push(RelayedFrame {
                at: Duration::from_nanos(now.as_nanos()),
                bytes: frame.clone(),
            });
        }
        let dir = usize::from(from > 0);
        let fate = self.directions[dir].decide(now, &self.link, dir, frame);
        for (at, bytes) in fate.deliveries {
            self.order += 1;
            self.flight
                .push(std::cmp::Reverse((at, self.order, from, bytes)));
        }
    }
}
