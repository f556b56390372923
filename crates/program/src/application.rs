//! What a driver runs on a host: an [`Application`] (a scenario program, a learner's Python
//! programs, a TAP app such as an echo server) makes socket calls on the host's engine when
//! the driver lets it, and hands back what each call produced as a [`Batch`], so that the
//! capture can put a call's comment on the frame it sent.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use stack::{Engine, SocketId};
use trace::{Event, EventKind, TcpState, Time};

use crate::ProgramRun;

/// What one action of a host produced: trace events and frames, in order. Keeping them
/// together lets the capture attach a transition's comment to the frame its call sent.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events.
    pub events: Vec<Event>,
    /// Frames to transmit.
    pub frames: Vec<Vec<u8>>,
    /// Frames for the host's loopback interface, to hand back to it.
    pub loopback: Vec<Vec<u8>>,
}

impl Batch {
    /// Take what the host has produced since the last batch, after `events`.
    pub fn from_host(
        host: &mut dyn Engine,
        history: &mut BTreeMap<SocketId, Vec<TcpState>>,
        mut events: Vec<Event>,
    ) -> Batch {
        let from_host = host.take_events();
        record_history(history, &from_host);
        events.extend(from_host);
        Batch {
            events,
            frames: host.take_frames(),
            loopback: host.take_loopback_frames(),
        }
    }
}

/// Note every state each socket enters.
pub fn record_history(history: &mut BTreeMap<SocketId, Vec<TcpState>>, events: &[Event]) {
    for event in events {
        if let EventKind::TcpTransition { endpoint, to, .. } = &event.kind {
            history.entry(endpoint.socket).or_default().push(*to);
        }
    }
}

/// What the program needs from its host's world besides the host itself.
pub struct Env<'a> {
    /// Now.
    pub now: Time,
    /// The host's name.
    pub host_name: &'a str,
    /// The states each socket has entered, in order.
    pub history: &'a mut BTreeMap<SocketId, Vec<TcpState>>,
    /// What each call produced.
    pub batches: &'a mut Vec<Batch>,
}

impl Env<'_> {
    /// What `host` produced since the last batch, after `events`: the next batch.
    pub fn record(&mut self, host: &mut dyn Engine, events: Vec<Event>) {
        let batch = Batch::from_host(host, self.history, events);
        self.batches.push(batch);
    }
}

/// What runs on a host and makes its socket calls: a scenario program, or a learner's Python
/// programs. A driver (the simulator, the TAP loop) lets it advance after every input and
/// wakes it at the time it asks for.
pub trait Application: std::fmt::Debug {
    /// Make every call that can be made now, until each thread of it blocks or ends.
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env);
    /// When it wants to run again, whatever the network does (a sleep, a timeout).
    fn wake_at(&self) -> Option<Time>;
    /// What it is still waiting in, in words, for the note at the end of a run.
    fn blocked_on(&self) -> Vec<String>;
    /// True when it has nothing left to do.
    fn finished(&self) -> bool;
    /// The scenario program, when it is one (its variables are what expectations judge).
    fn as_program(&self) -> Option<&ProgramRun> {
        None
    }
    /// Let the driver measure the network rather than the hash (see [`ProgramRun`]).
    fn skip_digests(&mut self) {}
    /// How its programs ended and what went through its connections, for expectations;
    /// none for a scenario program (its variables say that).
    fn outcome(&self) -> Option<AppOutcome> {
        None
    }
    /// Ctrl-C (a driver that can be interrupted calls it once): close every open socket
    /// gracefully and stop; it is [`Application::finished`] from then on.
    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env);
}

/// How an application's programs ended, and the streams of its connections.
#[derive(Clone, Debug, Default)]
pub struct AppOutcome {
    /// Each program, in the order they were started.
    pub programs: Vec<ProgramEnd>,
    /// What each socket sent and received, by the engine's socket number.
    pub streams: BTreeMap<SocketId, Streams>,
}

/// How one program ended.
#[derive(Clone, Debug, Default)]
pub struct ProgramEnd {
    /// Its file name (`server.py`).
    pub name: String,
    /// Its exit status, once it has exited.
    pub exit: Option<i32>,
    /// The name of the exception that ended it (`ConnectionRefusedError`), if one did.
    pub exception: Option<String>,
    /// Everything it printed, standard output and standard error, in order.
    pub output: String,
    /// What it asked for that packetlab does not simulate, with the line (`os.fork
    /// (crash.py:3 pid = os.fork())`): its run is not what it would be on a real host.
    pub not_simulated: Vec<String>,
    /// One of those refusals ended it: it did not catch it.
    pub refused: bool,
}

/// What went through one connection, each way, as the program saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    /// What the program handed to `send`.
    pub sent: StreamDigest,
    /// What `recv` gave it.
    pub received: StreamDigest,
}

/// A stream's length and SHA-256, taken as it goes.
#[derive(Clone, Debug, Default)]
pub struct StreamHasher {
    len: u64,
    hasher: Sha256,
}

impl StreamHasher {
    /// Take in the next octets.
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        self.hasher.update(data);
    }

    /// The digest of everything taken in so far.
    pub fn digest(&self) -> StreamDigest {
        StreamDigest {
            len: self.len,
            sha256: self.hasher.clone().finalize().into(),
        }
    }
}

/// The length and SHA-256 of a stream of octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDigest {
    /// Octets.
    pub len: u64,
    /// SHA-256 of them.
    pub sha256: [u8; 32],
}

impl std::fmt::Display for StreamDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // All 64 digits: what `sha256sum` prints, to compare with.
        write!(f, "{} bytes, sha256 ", self.len)?;
        for b in &self.sha256 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Ctrl-C for an application that holds `sockets`: close each that is still open, gracefully
/// (a FIN, as the kernel closes a killed program's sockets), each call its own batch.
pub fn close_at_interrupt(
    host: &mut dyn Engine,
    env: &mut Env,
    sockets: impl IntoIterator<Item = SocketId>,
) {
    for id in sockets {
        let open = host.info(id).is_some_and(|i| i.state != TcpState::Closed);
        if open {
            let call = format!("close(socket {id}) at Ctrl-C");
            let _ = host.close(env.now, id);
            let event = Event {
                t: env.now,
                kind: EventKind::Call {
                    host: env.host_name.to_string(),
                    call,
                },
            };
            env.record(host, vec![event]);
        }
    }
}
