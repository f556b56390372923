//! The real-time driver: frames from the TAP device and the host's timers, in wall-clock
//! time, with the simulator's fault model wrapped around the device. It sleeps in poll(2)
//! until the next frame, deadline, Ctrl-C or line of input: no busy loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use capture::{Interface, Record};
use link::{CommentAt, Direction, LinkConfig, Settling, Sink, transition_comments};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use program::{Application, Batch, Env};
use stack::Engine;
use trace::{Event, EventKind, Time};

use crate::Tap;
use crate::apps::History;

const TAP: Token = Token(0);
const WAKE: Token = Token(1);
/// How often the driver looks that its namespace is still there.
const NAMESPACE_CHECK_EVERY: Time = Time(500_000_000);

/// How long the trace and capture may wait in memory during a streaming run.
const HAND_OVER_EVERY: Time = Time(200_000_000);

/// After Ctrl-C, how long closing connections may take before the driver stops anyway.
const GRACE: Time = Time::from_secs(3);
/// The largest frame a TAP device hands over (MTU 1500 plus the Ethernet header, with room
/// for a bigger MTU).
const MAX_FRAME: usize = 65_536;
/// How many received frames the host takes before the application runs again.
const INBOUND_PER_TURN: usize = 4;

/// How the driver is set up.
#[derive(Clone, Debug, Default)]
pub struct DriverConfig {
    /// The namespace, for the capture interface's description.
    pub netns: String,
    /// Faults at our side of the device: index 0 for frames we send, 1 for frames we
    /// receive. The kernel's netem is not available, so loss and reordering come from here.
    pub faults: LinkConfig,
    /// Seed of the fault model's generators.
    pub seed: u64,
    /// Keep only this many octets of each captured frame.
    pub snaplen: Option<usize>,
    /// Keep no capture and no frame events (for benchmarks: a gigabyte of frames would
    /// otherwise be held in memory). Transitions still name their frames by number.
    pub no_capture: bool,
    /// Say on stderr when the program is done but a connection still waits out its
    /// TIME-WAIT, and for how long (`packetlab tap` at a terminal).
    pub say_time_wait: Option<Time>,
}

/// A frame waiting for its time: (when, insertion order, capture number, bytes).
type Delayed = Reverse<(Time, u64, u64, Vec<u8>)>;

/// One host of ours (or smoltcp) on a TAP device.
pub struct Driver {
    host: Box<dyn Engine>,
    tap: Tap,
    config: DriverConfig,
    started: Instant,
    poll: Poll,
    waker: Arc<Waker>,
    directions: [Direction; 2],
    outbound: BinaryHeap<Delayed>,
    inbound: BinaryHeap<Delayed>,
    /// Frames through our host's loopback interface, to hand back to it: (capture number,
    /// bytes).
    looped: std::collections::VecDeque<(u64, Vec<u8>)>,
    /// Whether the capture has a loopback interface (interface 1).
    has_lo: bool,
    order: u64,
    frames: u64,
    events: Vec<Event>,
    records: Settling,
    history: History,
    /// Interfaces already handed to a sink.
    interfaces_told: usize,
    /// When the trace and capture were last handed to the sink.
    handed_at: Time,
    /// When the namespace was last seen to exist.
    namespace_checked: Time,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("host", &self.host.name())
            .field("tap", &self.tap.name())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// What a driver's run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Every event.
    pub events: Vec<Event>,
    /// The one capture interface (the TAP device).
    pub interfaces: Vec<Interface>,
    /// Every frame our host sent or received, with comments.
    pub records: Vec<Record>,
}

impl Driver {
    /// Drive `host` on `tap`.
    pub fn new(host: Box<dyn Engine>, tap: Tap, config: DriverConfig) -> io::Result<Driver> {
        let poll = Poll::new()?;
        let fd: RawFd = tap.raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), TAP, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let directions = [0u64, 1].map(|d| Direction::new(config.seed ^ (d + 1)));
        Ok(Driver {
            host,
            tap,
            config,
            started: Instant::now(),
            poll,
            waker,
            directions,
            outbound: BinaryHeap::new(),
            inbound: BinaryHeap::new(),
            looped: std::collections::VecDeque::new(),
            has_lo: false,
            order: 0,
            frames: 0,
            events: Vec::new(),
            records: Settling::default(),
            interfaces_told: 0,
            handed_at: Time::ZERO,
            namespace_checked: Time::ZERO,
            history: History::new(),
        })
    }

    /// Wakes the driver from another thread (Ctrl-C, a line of input).
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Wall-clock time since the driver started.
    pub fn now(&self) -> Time {
        Time(self.started.elapsed().as_nanos() as u64)
    }

    /// The driver's time at the wall-clock instant `at` (zero before it started).
    pub fn time_of(&self, at: Instant) -> Time {
        Time(at.saturating_duration_since(self.started).as_nanos() as u64)
    }

    /// The host.
    pub fn host(&self) -> &dyn Engine {
        self.host.as_ref()
    }

    /// Give `sink` what has settled of the trace and capture (and the interfaces it has not
    /// been told of). [`Driver::finish`] then hands over only the rest.
    pub fn hand_over(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        let now = self.now();
        self.handed_at = now;
        let interfaces = self.interfaces();
        if interfaces.len() > self.interfaces_told {
            sink.interfaces(interfaces[self.interfaces_told..].to_vec())?;
            self.interfaces_told = interfaces.len();
        }
        sink.events(std::mem::take(&mut self.events))?;
        sink.frames(self.records.take_settled(now))
    }

    /// Let `app` make the calls it can (or, `interrupted`, its closes at Ctrl-C), and emit
    /// what they produced.
    fn step_app(&mut self, app: &mut dyn Application, now: Time, interrupted: bool) {
        let name = self.host.name().to_string();
        let mut batches = Vec::new();
        let mut env = Env {
            now,
            host_name: &name,
            history: &mut self.history,
            batches: &mut batches,
        };
        if interrupted {
            app.interrupt(self.host.as_mut(), &mut env);
        } else {
            app.advance(self.host.as_mut(), &mut env);
        }
        self.emit_all(now, batches);
    }

    /// Run `app` until it is finished and every connection is gone (TIME-WAIT included),
    /// or, once `stop` is set, until the connections are closed (at most a few seconds).
    pub fn run(&mut self, app: &mut dyn Application, stop: &AtomicBool) -> io::Result<()> {
        self.run_streaming(app, stop, None)
    }

    /// [`Driver::run`], handing the trace and capture to `sink` as the run goes: memory then
    /// holds only what is in flight.
    pub fn run_streaming(
        &mut self,
        app: &mut dyn Application,
        stop: &AtomicBool,
        mut sink: Option<&mut dyn Sink>,
    ) -> io::Result<()> {
        let mut events = Events::with_capacity(16);
        let mut grace_until: Option<Time> = None;
        let mut said = false;
        loop {
            let now = self.now();
            self.check_namespace(now)?;
            // Handed over in batches, and at least every HAND_OVER_EVERY: the files on disk
            // keep up with a live run (a killed run loses only its last moments).
            let due = self.events.len() > 4096
                || (!self.events.is_empty() && now >= self.handed_at + HAND_OVER_EVERY);
            if let Some(sink) = sink.as_deref_mut()
                && due
            {
                self.hand_over(sink)?;
            }
            self.read_tap(now)?;
            self.deliver_inbound(now);
            self.deliver_looped(now);
            if self.host.poll_at().is_some_and(|t| t <= now) {
                self.host.poll_timers(now);
                self.emit_host(now);
            }
            if stop.load(Ordering::SeqCst) && grace_until.is_none() {
                grace_until = Some(now + GRACE);
                self.step_app(app, now, true);
            }
            self.step_app(app, now, false);
            self.send_due(now)?;
            let idle = app.finished()
                && self.host.open_connections() == 0
                && self.host.poll_at().is_none()
                && self.outbound.is_empty()
                && self.inbound.is_empty()
                && self.looped.is_empty();
            if idle || grace_until.is_some_and(|g| now >= g) {
                return Ok(());
            }
            if let Some(time_wait) = self.config.say_time_wait
                && app.finished()
                && !said
            {
                said = true;
                eprintln!(
                    "done; the connection waits out TIME-WAIT (2×MSL = {} s) before this ends: \
                     --msl shortens it, Ctrl-C ends it now",
                    time_wait.0 / 1_000_000_000
                );
            }
            let deadline = [
                self.host.poll_at(),
                app.wake_at(),
                self.outbound.peek().map(|Reverse(d)| d.0),
                self.inbound.peek().map(|Reverse(d)| d.0),
                grace_until,
                (sink.is_some() && !self.events.is_empty())
                    .then_some(self.handed_at + HAND_OVER_EVERY),
                (!self.config.netns.is_empty())
                    .then_some(self.namespace_checked + NAMESPACE_CHECK_EVERY),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = deadline.map(|d| Duration::from_nanos(d.0.saturating_sub(now.0)));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn read_tap(&mut self, now: Time) -> io::Result<()> {
        let mut buf = vec![0u8; MAX_FRAME];
        while let Some(n) = self.tap.recv(&mut buf)? {
            self.inbound_frame(now, buf[..n].to_vec());
        }
        Ok(())
    }

    fn record(&mut self, now: Time, frame: &[u8], direction: capture::Direction) -> u64 {
        self.frames += 1;
        if self.config.no_capture {
            return self.frames;
        }
        self.capture(now, frame, 0, Some(direction));
        let (from, to) = match direction {
            capture::Direction::Outbound => (self.host.name().to_string(), "kernel".to_string()),
            capture::Direction::Inbound => ("kernel".to_string(), self.host.name().to_string()),
        };
        self.events.push(Event {
            t: now,
            kind: EventKind::Frame {
                number: self.frames,
                link: self.tap.name().into(),
                from: from.into(),
                to: to.into(),
                len: frame.len(),
                summary: wire::summary_of(frame),
            },
        });
        self.frames
    }

    /// Keep a frame (its first `snaplen` octets) in the capture, on interface 0 (the TAP
    /// device) or 1 (`lo`).
    fn capture(
        &mut self,
        now: Time,
        frame: &[u8],
        interface: u32,
        direction: Option<capture::Direction>,
    ) {
        let kept = self
            .config
            .snaplen
            .map_or(frame.len(), |s| s.min(frame.len()));
        let record = Record {
            interface,
            t_ns: now.as_nanos(),
            data: frame[..kept].to_vec(),
            original_len: frame.len() as u32,
            comments: Vec::new(),
            direction,
        };
        self.records.capture(now, record);
    }

    /// Apply the fault model of direction `dir` to a captured frame; queue what survives.
    fn apply_faults(&mut self, now: Time, dir: usize, number: u64, frame: Vec<u8>) {
        let fate = self.directions[dir].decide(now, &self.config.faults, dir, frame);
        let (from, to) = if dir == 0 {
            (self.host.name().to_string(), "kernel".to_string())
        } else {
            ("kernel".to_string(), self.host.name().to_string())
        };
        for fault in fate.faults {
            self.events.push(Event {
                t: now,
                kind: EventKind::LinkFault {
                    link: self.tap.name().to_string(),
                    from: from.clone(),
                    to: to.clone(),
                    frame: number,
                    fault,
                },
            });
            self.comment(
                number,
                format!("fault model at {}: {fault}", self.tap.name()),
            );
        }
        if let (false, Some(at)) = (
            self.config.no_capture,
            fate.deliveries.iter().map(|(at, _)| *at).max(),
        ) {
            self.records.delivered_at(at);
        }
        for (at, bytes) in fate.deliveries {
            self.order += 1;
            let queue = if dir == 0 {
                &mut self.outbound
            } else {
                &mut self.inbound
            };
            queue.push(Reverse((at, self.order, number, bytes)));
        }
    }

    fn inbound_frame(&mut self, now: Time, frame: Vec<u8>) {
        let number = self.record(now, &frame, capture::Direction::Inbound);
        self.apply_faults(now, 1, number, frame);
    }

    fn deliver_inbound(&mut self, now: Time) {
        // A few frames per turn, then the application runs: a program reading the socket
        // keeps up with the data as it arrives, as on a real machine, instead of finding a
        // whole burst (and a window closed by it) at once.
        for _ in 0..INBOUND_PER_TURN {
            if self.inbound.peek().is_none_or(|Reverse(d)| d.0 > now) {
                break;
            }
            let Some(Reverse((_, _, number, frame))) = self.inbound.pop() else {
                break;
            };
            self.host.receive(now, &frame, number);
            self.emit_host(now);
        }
    }

    /// Hand what our host sent to itself back to it, at once, as Linux's `lo` does.
    fn deliver_looped(&mut self, now: Time) {
        while let Some((number, frame)) = self.looped.pop_front() {
            self.host.receive_loopback(now, &frame, number);
            self.emit_host(now);
        }
    }

    /// Capture a frame on the loopback interface and queue it back to the host.
    fn loop_back(&mut self, now: Time, frame: Vec<u8>) {
        self.frames += 1;
        self.has_lo = true;
        if !self.config.no_capture {
            self.capture(now, &frame, 1, None);
        }
        let host = self.host.name().to_string();
        self.events.push(Event {
            t: now,
            kind: EventKind::Frame {
                number: self.frames,
                link: "lo".into(),
                from: host.as_str().into(),
                to: host.into(),
                len: frame.len(),
                summary: wire::summary_of(&frame),
            },
        });
        self.looped.push_back((self.frames, frame));
    }

    fn send_due(&mut self, now: Time) -> io::Result<()> {
        while self.outbound.peek().is_some_and(|Reverse(d)| d.0 <= now) {
            let Some(Reverse((_, _, _, frame))) = self.outbound.pop() else {
                break;
            };
            match self.tap.send(&frame) {
                Ok(()) => {}
                // The kernel's queue is full: the frame is lost, as on a real wire.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn emit_host(&mut self, now: Time) {
        let batch = Batch::from_host(self.host.as_mut(), &mut self.history, Vec::new());
        self.emit(now, batch);
    }

    fn emit_all(&mut self, now: Time, batches: Vec<Batch>) {
        for batch in batches {
            self.emit(now, batch);
        }
    }

    /// Put a batch's events in the trace and its frames on the device, commenting the
    /// frames with the transitions they caused or announced (as the simulator does).
    fn emit(&mut self, now: Time, batch: Batch) {
        let first = self.frames + 1;
        let sent_any = !batch.frames.is_empty() || !batch.loopback.is_empty();
        let mut pending = Vec::new();
        for (at, text) in transition_comments(&batch.events, now, sent_any) {
            match at {
                CommentAt::Frame(n) => self.comment(n, text),
                CommentAt::FirstSent => pending.push(text),
                CommentAt::Nearest(t) => self.records.comment_nearest(t, text),
            }
        }
        self.events.extend(batch.events);
        for frame in batch.frames {
            let number = self.record(now, &frame, capture::Direction::Outbound);
            self.apply_faults(now, 0, number, frame);
        }
        for frame in batch.loopback {
            self.loop_back(now, frame);
        }
        for text in pending {
            self.comment(first, text);
        }
    }

    /// A namespace deleted under a running driver (`packetlab lab down`) lives on while our
    /// device holds it, with nothing at the other end: notice it (twice a second) and stop.
    fn check_namespace(&mut self, now: Time) -> io::Result<()> {
        if self.config.netns.is_empty() || now < self.namespace_checked + NAMESPACE_CHECK_EVERY {
            return Ok(());
        }
        self.namespace_checked = now;
        if std::path::Path::new("/var/run/netns")
            .join(&self.config.netns)
            .exists()
        {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "network namespace {} was deleted (by `packetlab lab down`?) while this ran",
                self.config.netns
            ),
        ))
    }

    fn comment(&mut self, number: u64, text: String) {
        self.records.comment(number, text);
    }

    /// The capture's interfaces: the TAP device, and `lo` once our host has used it.
    fn interfaces(&self) -> Vec<Interface> {
        let mut interfaces = vec![Interface {
            name: self.tap.name().to_string(),
            description: format!(
                "TAP device {} in network namespace {}: {} ↔ the Linux kernel",
                self.tap.name(),
                self.config.netns,
                self.host.name()
            ),
        }];
        if self.has_lo {
            interfaces.push(Interface {
                name: "lo".to_string(),
                description: format!("loopback interface of {}", self.host.name()),
            });
        }
        interfaces
    }

    /// End: place the comments still waiting and hand over what was not handed to a sink of
    /// the trace and capture (the interfaces: those no sink was told of).
    pub fn finish(mut self) -> (Outcome, Box<dyn Engine>) {
        let interfaces = self.interfaces().split_off(self.interfaces_told);
        let records = std::mem::take(&mut self.records).finish();
        (
            Outcome {
                events: self.events,
                interfaces,
                records,
            },
            self.host,
        )
    }
}
