//! Scripted applications: a host runs one program, a list of socket calls executed in order,
//! each blocking call (accept, connect, recv, sleep, wait) holding the program until it can
//! return, as a Python socket program would.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use stack::{Engine, SocketError, SocketId};

use crate::application::{Application, Batch, Env, StreamDigest, close_at_interrupt};
use crate::framing::{LengthPrefix, parse_file_header};
use crate::stmt::{Handler, Line, Stmt, Value};

mod framed;
mod serve;

use framed::Framing;
use serve::Thread;
use trace::{
    Event, EventKind, Note, ProgramNote, TcpState, Time, python_bytes, python_bytes_shown,
};

/// A stream being sent from a seeded generator.
#[derive(Debug)]
struct Outgoing {
    rng: ChaCha8Rng,
    remaining: u64,
    chunk: Vec<u8>,
    offset: usize,
    hasher: Sha256,
    len: u64,
}

/// What a blocking call has done so far, kept between the steps of the program.
#[derive(Debug, Default)]
enum Progress {
    /// No call under way, or one that keeps nothing.
    #[default]
    Idle,
    /// A flood under way: SYNs sent so far, and when the next batch is due.
    Flooding(u32, Time),
    /// `sleep` or `at`: until when.
    Sleeping(Time),
    /// `wait`: where the socket's state history stood when the wait began.
    Waiting(usize),
    /// `connect`: the socket whose handshake is under way.
    Connecting(SocketId),
    /// `send`, or the header of `send_file`: octets taken so far.
    Sending(usize),
    /// `send … random`, or the body of `send_file`: the generator's stream.
    Streaming(Box<Outgoing>),
    /// `recvall`: the digest and length so far.
    Receiving(Sha256, u64),
    /// `recv … framed` or `recv_file`.
    Framed(Framing),
    /// `ping`: the request's identifier, and when the call gives up.
    Pinging(u16, Time),
}

/// How much the generator makes at a time.
const CHUNK: usize = 64 * 1024;

/// The execution state of one program.
#[derive(Debug, Default)]
pub struct ProgramRun {
    lines: Vec<Line>,
    pc: usize,
    /// Variables, by name.
    pub vars: BTreeMap<String, Value>,
    /// The socket each socket variable was last bound to, kept even when the call then
    /// failed (a refused connect still had a socket with a history).
    pub bound: BTreeMap<String, SocketId>,
    /// When the current blocking call started (it has been announced in the trace).
    blocked_since: Option<Time>,
    /// What the current call has done so far.
    progress: Progress,
    /// Set when the program stopped on an error.
    pub failed: Option<String>,
    /// The threads of a `serve`, by number (the order they were started), and how many it
    /// has started.
    threads: BTreeMap<u32, Thread>,
    /// The thread serving each connection.
    thread_of: BTreeMap<SocketId, u32>,
    served: u32,
    /// A `serve` has had its first round (after which it looks only at woken connections).
    serve_started: bool,
    /// Seed of the data `send … random` makes.
    seed: u64,
    /// Whether streams get a SHA-256 (off only where speed is measured, not correctness).
    pub skip_digests: bool,
    /// Stopped by Ctrl-C, its sockets closed.
    interrupted: bool,
}

enum Step {
    Done(Option<String>),
    Blocked,
    Failed(String),
}

/// A call that failed with an errno stops the program, as an uncaught exception would.
fn failed(e: SocketError) -> Step {
    Step::Failed(e.to_string())
}

impl Application for ProgramRun {
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        ProgramRun::advance(self, host, env)
    }
    fn wake_at(&self) -> Option<Time> {
        ProgramRun::wake_at(self)
    }
    fn blocked_on(&self) -> Vec<String> {
        ProgramRun::blocked_on(self)
            .map(str::to_string)
            .into_iter()
            .collect()
    }
    fn finished(&self) -> bool {
        ProgramRun::finished(self)
    }
    fn as_program(&self) -> Option<&ProgramRun> {
        Some(self)
    }
    fn skip_digests(&mut self) {
        self.skip_digests = true;
    }
    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env) {
        self.interrupted = true;
        let sockets: Vec<SocketId> = self.bound.values().copied().collect();
        close_at_interrupt(host, env, sockets);
    }
}

impl ProgramRun {
    /// A program at its first line.
    pub fn new(lines: Vec<Line>, seed: u64) -> ProgramRun {
        ProgramRun {
            lines,
            seed,
            ..ProgramRun::default()
        }
    }

    /// True when every line has run, the program stopped on an error, or it was interrupted.
    pub fn finished(&self) -> bool {
        self.pc >= self.lines.len() || self.failed.is_some() || self.interrupted
    }

    /// The line the program is blocked on, if any.
    pub fn blocked_on(&self) -> Option<&str> {
        if self.finished() {
            None
        } else {
            Some(&self.lines[self.pc].text)
        }
    }

    /// When a sleeping program wants to run again.
    pub fn wake_at(&self) -> Option<Time> {
        match self.progress {
            _ if self.finished() => None,
            Progress::Sleeping(t) | Progress::Pinging(_, t) | Progress::Flooding(_, t) => Some(t),
            _ => None,
        }
    }

    /// Run lines until one blocks or the program ends.
    pub fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        while !self.finished() {
            let line = self.lines[self.pc].clone();
            let host_name = env.host_name.to_string();
            let mut events = Vec::new();
            if self.blocked_since.is_none() {
                events.push(Event {
                    t: env.now,
                    kind: EventKind::Call {
                        host: host_name.clone(),
                        call: line.text.clone(),
                    },
                });
                self.blocked_since = Some(env.now);
                if let Stmt::Wait { conn, .. } = &line.stmt {
                    let mark = self
                        .socket(conn)
                        .ok()
                        .and_then(|id| env.history.get(&id))
                        .map_or(0, Vec::len);
                    self.progress = Progress::Waiting(mark);
                }
            }
            let step = self.step(&line.stmt, host, env);
            let mut batch = Batch::from_host(host, env.history, events);
            let returned = |result: String| Event {
                t: env.now,
                kind: EventKind::Return {
                    host: host_name.clone(),
                    call: line.text.clone(),
                    result,
                },
            };
            let blocked = matches!(step, Step::Blocked);
            match step {
                Step::Blocked => {}
                Step::Done(result) => {
                    batch.events.extend(result.map(returned));
                    self.blocked_since = None;
                    self.progress = Progress::Idle;
                    self.pc += 1;
                }
                Step::Failed(error) => {
                    batch.events.push(returned(error.clone()));
                    batch.events.push(Event {
                        t: env.now,
                        kind: EventKind::Note {
                            node: host_name.clone(),
                            note: Note::Program(ProgramNote::Stops {
                                line: line.text.clone(),
                                error: error.to_string(),
                            }),
                        },
                    });
                    self.failed = Some(error);
                    self.blocked_since = None;
                }
            }
            if !batch.events.is_empty() || !batch.frames.is_empty() {
                env.batches.push(batch);
            }
            if blocked {
                return;
            }
        }
    }

    fn bind(&mut self, var: &str, id: SocketId) {
        self.vars.insert(var.to_string(), Value::Socket(id));
        self.bound.insert(var.to_string(), id);
    }

    fn socket(&self, var: &str) -> Result<SocketId, String> {
        match self.vars.get(var) {
            Some(Value::Socket(id)) => Ok(*id),
            Some(Value::Error(e)) => {
                Err(format!("`{var}` holds no socket: its call failed with {e}"))
            }
            _ => Err(format!("`{var}` is not a socket")),
        }
    }

    /// Send `len` seeded random octets (the same for the same program line and seed), all of
    /// them or as many as fit now; their digest once all are taken.
    fn send_random(
        &mut self,
        host: &mut dyn Engine,
        now: Time,
        id: SocketId,
        len: u64,
    ) -> Result<Option<StreamDigest>, SocketError> {
        let seed = self.seed ^ (self.pc as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if !matches!(self.progress, Progress::Streaming(_)) {
            self.progress = Progress::Streaming(Box::new(Outgoing {
                rng: ChaCha8Rng::seed_from_u64(seed),
                remaining: len,
                chunk: Vec::new(),
                offset: 0,
                hasher: Sha256::new(),
                len,
            }));
        }
        let Progress::Streaming(out) = &mut self.progress else {
            return Ok(None);
        };
        loop {
            if out.offset == out.chunk.len() {
                if out.remaining == 0 {
                    break;
                }
                let n = out.remaining.min(CHUNK as u64) as usize;
                out.chunk.resize(n, 0);
                out.rng.fill_bytes(&mut out.chunk);
                if !self.skip_digests {
                    out.hasher.update(&out.chunk);
                }
                out.remaining -= n as u64;
                out.offset = 0;
            }
            match host.send(now, id, &out.chunk[out.offset..]) {
                Ok(0) => return Ok(None),
                Ok(n) => out.offset += n,
                Err(e) => {
                    self.progress = Progress::Idle;
                    return Err(e);
                }
            }
        }
        let digest = StreamDigest {
            len: out.len,
            sha256: out.hasher.clone().finalize().into(),
        };
        self.progress = Progress::Idle;
        Ok(Some(digest))
    }

    fn step(&mut self, stmt: &Stmt, host: &mut dyn Engine, env: &mut Env) -> Step {
        let now = env.now;
        match stmt {
            Stmt::Sleep(_) | Stmt::At(_) => self.step_clock(stmt, now),
            Stmt::Listen { .. } | Stmt::Accept { .. } | Stmt::Connect { .. } => {
                self.step_open(stmt, host, now)
            }
            Stmt::Send { .. } | Stmt::SendRandom { .. } | Stmt::SendFile { .. } => {
                self.step_send(stmt, host, now)
            }
            Stmt::Recv { .. }
            | Stmt::RecvAll { .. }
            | Stmt::RecvFramed { .. }
            | Stmt::RecvFile { .. } => self.step_recv(stmt, host, now),
            Stmt::UdpBind { .. } | Stmt::SendTo { .. } | Stmt::RecvFrom { .. } => {
                self.step_udp(stmt, host, now)
            }
            Stmt::Ping {
                var,
                dst,
                ttl,
                timeout,
            } => self.step_ping(var.as_deref(), (*dst, *ttl, *timeout), host, now),
            Stmt::Flood {
                dst,
                count,
                from,
                rate,
            } => self.step_flood((*dst, *count, *from, *rate), host, now),
            Stmt::Serve { listener, handler } => match self.socket(listener) {
                Err(e) => Step::Failed(e),
                Ok(id) => match self.serve_round(host, env, id, *handler) {
                    Ok(()) => Step::Blocked,
                    Err(e) => failed(e),
                },
            },
            Stmt::SetOption { .. }
            | Stmt::Shutdown { .. }
            | Stmt::Close { .. }
            | Stmt::Abort { .. } => self.step_instant(stmt, host, now),
            Stmt::Wait { conn, state } => self.step_wait(conn, *state, host, env),
        }
    }

    /// `sleep` and `at`: block until the clock gets there.
    fn step_clock(&mut self, stmt: &Stmt, now: Time) -> Step {
        let until = match (stmt, &self.progress) {
            (Stmt::Sleep(_), Progress::Sleeping(until)) => *until,
            (Stmt::Sleep(d), _) => now + *d,
            (Stmt::At(t), _) => *t,
            _ => now,
        };
        self.progress = Progress::Sleeping(until);
        if now >= until {
            Step::Done(None)
        } else {
            Step::Blocked
        }
    }

    /// `listen`, `accept` and `connect`: the calls that make a socket.
    fn step_open(&mut self, stmt: &Stmt, host: &mut dyn Engine, now: Time) -> Step {
        match stmt {
            Stmt::Listen { var, port, backlog } => match host.listen(now, *port, *backlog) {
                Ok(id) => {
                    self.bind(var, id);
                    Step::Done(Some(format!("socket {id}")))
                }
                Err(e) => failed(e),
            },
            Stmt::Accept { var, listener } => {
                let listener = match self.socket(listener) {
                    Ok(id) => id,
                    Err(e) => return Step::Failed(e),
                };
                match host.accept(now, listener) {
                    Ok(Some(id)) => {
                        let peer = host
                            .info(id)
                            .and_then(|i| i.remote)
                            .map_or_else(String::new, |r| format!(" from {r}"));
                        self.bind(var, id);
                        Step::Done(Some(format!("socket {id}{peer}")))
                    }
                    Ok(None) => Step::Blocked,
                    Err(e) => failed(e),
                }
            }
            Stmt::Connect { var, addr } => self.step_connect(var, *addr, host, now),
            _ => Step::Failed("not a call that opens a socket".to_string()),
        }
    }

    /// `connect`: start the handshake once, then wait for its outcome.
    fn step_connect(
        &mut self,
        var: &str,
        addr: SocketAddr,
        host: &mut dyn Engine,
        now: Time,
    ) -> Step {
        let id = match self.progress {
            Progress::Connecting(id) => id,
            _ => match host.connect(now, addr) {
                Ok(id) => {
                    self.bind(var, id);
                    self.progress = Progress::Connecting(id);
                    id
                }
                Err(e) => {
                    self.vars.insert(var.to_string(), Value::Error(e));
                    return failed(e);
                }
            },
        };
        let status = host.connect_status(id);
        if status.is_some() {
            self.progress = Progress::Idle;
        }
        match status {
            None => Step::Blocked,
            Some(Ok(())) => Step::Done(Some(format!("socket {id}, ESTABLISHED"))),
            Some(Err(e)) => {
                self.vars.insert(var.to_string(), Value::Error(e));
                failed(e)
            }
        }
    }

    /// Hand `data[send_offset..]` to the host until all of it is taken (`Ok(true)`) or the
    /// send buffer is full (`Ok(false)`).
    fn send_all(
        &mut self,
        host: &mut dyn Engine,
        now: Time,
        id: SocketId,
        data: &[u8],
    ) -> Result<bool, SocketError> {
        let mut offset = match self.progress {
            Progress::Sending(offset) => offset,
            _ => 0,
        };
        while offset < data.len() {
            match host.send(now, id, &data[offset..]) {
                Ok(0) => {
                    self.progress = Progress::Sending(offset);
                    return Ok(false);
                }
                Ok(n) => offset += n,
                Err(e) => {
                    self.progress = Progress::Idle;
                    return Err(e);
                }
            }
        }
        self.progress = Progress::Idle;
        Ok(true)
    }

    /// `send`, `send … random` and `send_file`.
    fn step_send(&mut self, stmt: &Stmt, host: &mut dyn Engine, now: Time) -> Step {
        let (Stmt::Send { conn, .. } | Stmt::SendRandom { conn, .. } | Stmt::SendFile { conn, .. }) =
            stmt
        else {
            return Step::Failed("not a send call".to_string());
        };
        let id = match self.socket(conn) {
            Ok(id) => id,
            Err(e) => return Step::Failed(e),
        };
        match stmt {
            Stmt::Send { data, .. } => match self.send_all(host, now, id, data) {
                Ok(false) => Step::Blocked,
                Ok(true) => Step::Done(Some(format!("{}", data.len()))),
                Err(e) => failed(e),
            },
            Stmt::SendRandom { var, len, .. } => match self.send_random(host, now, id, *len) {
                Ok(None) => Step::Blocked,
                Ok(Some(digest)) => {
                    self.keep(var.as_deref(), Value::Stream(digest));
                    Step::Done(Some(digest.to_string()))
                }
                Err(e) => failed(e),
            },
            Stmt::SendFile {
                var, header, len, ..
            } => self.step_send_file(var.as_deref(), (header, *len), (host, id), now),
            _ => Step::Failed("not a send call".to_string()),
        }
    }

    /// `send_file`: the header first, like `conn.send(bao); conn.send(dic)`, then the file.
    fn step_send_file(
        &mut self,
        var: Option<&str>,
        (header, len): (&[u8], u64),
        (host, id): (&mut dyn Engine, SocketId),
        now: Time,
    ) -> Step {
        // Once the body streams, the header is all sent.
        if !matches!(self.progress, Progress::Streaming(_)) {
            match self.send_all(host, now, id, header) {
                Ok(false) => return Step::Blocked,
                Ok(true) => {}
                Err(e) => return failed(e),
            }
        }
        match self.send_random(host, now, id, len) {
            Ok(None) => Step::Blocked,
            Ok(Some(digest)) => {
                self.keep(var, Value::Stream(digest));
                Step::Done(Some(format!(
                    "header {} then the file: {digest}",
                    python_bytes(header)
                )))
            }
            Err(e) => failed(e),
        }
    }

    /// `recv`, `recvall`, `recv … framed` and `recv_file`.
    fn step_recv(&mut self, stmt: &Stmt, host: &mut dyn Engine, now: Time) -> Step {
        let (Stmt::Recv { var, conn, .. }
        | Stmt::RecvAll { var, conn, .. }
        | Stmt::RecvFramed { var, conn, .. }
        | Stmt::RecvFile { var, conn, .. }) = stmt
        else {
            return Step::Failed("not a receive call".to_string());
        };
        let id = match self.socket(conn) {
            Ok(id) => id,
            Err(e) => return Step::Failed(e),
        };
        let var = var.as_deref();
        match stmt {
            Stmt::Recv { max, .. } => match host.recv(now, id, *max) {
                Ok(None) => Step::Blocked,
                Ok(Some(data)) => {
                    let shown = python_bytes(&data);
                    self.keep(var, Value::Bytes(data));
                    Step::Done(Some(shown))
                }
                Err(e) => {
                    self.keep(var, Value::Error(e));
                    failed(e)
                }
            },
            Stmt::RecvAll { limit, .. } => self.step_recv_all(var, *limit, host, (now, id)),
            Stmt::RecvFramed { prefix, .. } | Stmt::RecvFile { prefix, .. } => {
                let file = matches!(stmt, Stmt::RecvFile { .. });
                match self.read_framed(host, now, id, *prefix, file) {
                    Ok(None) => Step::Blocked,
                    Ok(Some((value, shown))) => {
                        self.keep(var, value);
                        Step::Done(Some(shown))
                    }
                    Err(e) => {
                        self.progress = Progress::Idle;
                        Step::Failed(e)
                    }
                }
            }
            _ => Step::Failed("not a receive call".to_string()),
        }
    }

    /// `recvall`: read to the end of the stream (or `limit` octets), keeping length and
    /// SHA-256.
    fn step_recv_all(
        &mut self,
        var: Option<&str>,
        limit: Option<u64>,
        host: &mut dyn Engine,
        (now, id): (Time, SocketId),
    ) -> Step {
        if !matches!(self.progress, Progress::Receiving(..)) {
            self.progress = Progress::Receiving(Sha256::new(), 0);
        }
        let Progress::Receiving(hasher, len) = &mut self.progress else {
            return Step::Blocked;
        };
        loop {
            let want = limit.map_or(1 << 20, |l| (l - *len).min(1 << 20) as usize);
            if want == 0 {
                break;
            }
            match host.recv(now, id, want) {
                Ok(None) => return Step::Blocked,
                Ok(Some(data)) if data.is_empty() => break,
                Ok(Some(data)) => {
                    if !self.skip_digests {
                        hasher.update(&data);
                    }
                    *len += data.len() as u64;
                }
                Err(e) => {
                    self.progress = Progress::Idle;
                    self.keep(var, Value::Error(e));
                    return failed(e);
                }
            }
        }
        let digest = StreamDigest {
            len: *len,
            sha256: hasher.clone().finalize().into(),
        };
        self.progress = Progress::Idle;
        self.keep(var, Value::Stream(digest));
        Step::Done(Some(digest.to_string()))
    }

    /// `udp`, `sendto` and `recvfrom`.
    fn step_udp(&mut self, stmt: &Stmt, host: &mut dyn Engine, now: Time) -> Step {
        match stmt {
            Stmt::UdpBind { var, port } => match host.udp_bind(now, *port) {
                Ok(id) => {
                    self.bind(var, id);
                    Step::Done(Some(format!("socket {id}")))
                }
                Err(e) => failed(e),
            },
            Stmt::SendTo { sock, data, addr } => {
                match self
                    .socket(sock)
                    .map(|id| host.sendto(now, id, data, *addr))
                {
                    Err(e) => Step::Failed(e),
                    Ok(Ok(n)) => Step::Done(Some(format!("{n}"))),
                    Ok(Err(e)) => failed(e),
                }
            }
            Stmt::RecvFrom { var, sock, max } => {
                let id = match self.socket(sock) {
                    Ok(id) => id,
                    Err(e) => return Step::Failed(e),
                };
                match host.recvfrom(now, id, *max) {
                    Ok(None) => Step::Blocked,
                    Ok(Some((data, from))) => {
                        let shown = format!(
                            "({}, ('{}', {}))",
                            python_bytes(&data),
                            from.ip(),
                            from.port()
                        );
                        self.keep(var.as_deref(), Value::Bytes(data));
                        Step::Done(Some(shown))
                    }
                    Err(e) => failed(e),
                }
            }
            _ => Step::Failed("not a UDP call".to_string()),
        }
    }

    /// `ping`: one echo request, then its reply, an ICMP error about it, or the timeout.
    fn step_ping(
        &mut self,
        var: Option<&str>,
        (dst, ttl, timeout): (std::net::IpAddr, u8, Time),
        host: &mut dyn Engine,
        now: Time,
    ) -> Step {
        // The identifier and deadline of this statement's request, once sent.
        let (id, deadline) = match self.progress {
            Progress::Pinging(id, deadline) => (id, deadline),
            _ => match host.ping(now, dst, ttl) {
                Ok(id) => {
                    self.progress = Progress::Pinging(id, now + timeout);
                    (id, now + timeout)
                }
                Err(e) => {
                    self.keep(var, Value::Error(e));
                    return failed(e);
                }
            },
        };
        let line = match host.ping_result(id) {
            Some(result) => result.to_string(),
            None if now >= deadline => format!("no answer from {dst}: request timed out"),
            None => return Step::Blocked,
        };
        self.progress = Progress::Idle;
        self.keep(var, Value::Bytes(line.clone().into_bytes()));
        Step::Done(Some(line))
    }

    /// `flood`: one batch of SYNs every 10 ms until all are sent.
    fn step_flood(
        &mut self,
        (dst, count, from, rate): (SocketAddr, u32, (std::net::Ipv4Addr, u8), u32),
        host: &mut dyn Engine,
        now: Time,
    ) -> Step {
        const BATCH_EVERY: Time = Time(10_000_000);
        let (sent, due) = match self.progress {
            Progress::Flooding(sent, due) => (sent, due),
            _ => (0, now),
        };
        if now < due {
            return Step::Blocked;
        }
        let batch = (rate / 100).max(1).min(count - sent);
        if let Err(e) = host.syn_flood(now, dst, batch, from) {
            self.progress = Progress::Idle;
            return failed(e);
        }
        let sent = sent + batch;
        if sent >= count {
            self.progress = Progress::Idle;
            return Step::Done(Some(format!(
                "sent {count} SYNs to {dst} from addresses forged in {}/{}",
                from.0, from.1
            )));
        }
        self.progress = Progress::Flooding(sent, now + BATCH_EVERY);
        Step::Blocked
    }

    /// `setsockopt`, `shutdown`, `close` and `abort`: calls that never block.
    fn step_instant(&mut self, stmt: &Stmt, host: &mut dyn Engine, now: Time) -> Step {
        let result = match stmt {
            Stmt::SetOption { conn, option } => self
                .socket(conn)
                .map(|id| host.set_option(now, id, *option)),
            Stmt::Shutdown { conn } => self.socket(conn).map(|id| host.shutdown_write(now, id)),
            Stmt::Close { conn } => self.socket(conn).map(|id| host.close(now, id)),
            Stmt::Abort { conn } => self.socket(conn).map(|id| host.abort(now, id)),
            _ => Err("not a socket option or close".to_string()),
        };
        match result {
            Err(e) => Step::Failed(e),
            Ok(Ok(())) => Step::Done(None),
            Ok(Err(e)) => failed(e),
        }
    }

    /// `wait CONN STATE`: until the socket has entered STATE since the wait began.
    fn step_wait(
        &mut self,
        conn: &str,
        state: TcpState,
        host: &mut dyn Engine,
        env: &mut Env,
    ) -> Step {
        let id = match self.socket(conn) {
            Ok(id) => id,
            Err(e) => return Step::Failed(e),
        };
        let mark = match self.progress {
            Progress::Waiting(mark) => mark,
            _ => 0,
        };
        let reached = env
            .history
            .get(&id)
            .is_some_and(|h| h[mark.min(h.len())..].contains(&state));
        let current = host.info(id).map_or(TcpState::Closed, |i| i.state);
        if reached || current == state {
            Step::Done(Some(state.to_string()))
        } else {
            Step::Blocked
        }
    }

    /// Keep a call's result in its variable, if the line names one.
    fn keep(&mut self, var: Option<&str>, value: Value) {
        if let Some(var) = var {
            self.vars.insert(var.to_string(), value);
        }
    }
}
