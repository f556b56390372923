//! Scripted applications: a host runs one program, a list of socket calls executed in order,
//! each blocking call (accept, connect, recv, sleep, wait) holding the program until it can
//! return, as a Python socket program would.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use stack::{Engine, SocketError, SocketId, SocketOption};

use crate::application::{Application, Batch, Env, StreamDigest, close_at_interrupt};
use crate::framing::{LengthPrefix, parse_file_header};
use trace::{Event, EventKind, TcpState, Time, python_bytes, python_bytes_shown};

/// One statement of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// Block for a duration.
    Sleep(Time),
    /// Block until an absolute time.
    At(Time),
    /// `var = listen PORT [backlog N]`.
    Listen {
        /// Variable for the listening socket.
        var: String,
        /// Port.
        port: u16,
        /// Backlog.
        backlog: u32,
    },
    /// `var = accept LISTENER`.
    Accept {
        /// Variable for the new connection.
        var: String,
        /// The listening socket's variable.
        listener: String,
    },
    /// `var = connect IP:PORT`.
    Connect {
        /// Variable for the connection.
        var: String,
        /// Where to.
        addr: SocketAddr,
    },
    /// `send CONN "data"`: all of it, blocking while the send buffer is full (Python's
    /// `sendall`).
    Send {
        /// The connection's variable.
        conn: String,
        /// What to send.
        data: Vec<u8>,
    },
    /// `[var =] send CONN random SIZE`: SIZE seeded pseudo-random octets, for transfers
    /// checked by SHA-256.
    SendRandom {
        /// Variable for the digest of what was sent, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How many octets.
        len: u64,
    },
    /// `[var =] recvall CONN [SIZE]`: read until end of stream (or until SIZE octets),
    /// keeping length and SHA-256.
    RecvAll {
        /// Variable for the digest of what was received, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// Stop after this many octets instead of at end of stream.
        limit: Option<u64>,
    },
    /// `var = udp PORT`: a UDP socket bound to PORT (0: any).
    UdpBind {
        /// Variable for the socket.
        var: String,
        /// Port.
        port: u16,
    },
    /// `sendto SOCK "data" IP:PORT`: one datagram.
    SendTo {
        /// The UDP socket's variable.
        sock: String,
        /// What to send.
        data: Vec<u8>,
        /// Where to.
        addr: SocketAddr,
    },
    /// `[var =] recvfrom SOCK [MAX]`: the next datagram, whole (cut to MAX).
    RecvFrom {
        /// Variable for the data, if kept.
        var: Option<String>,
        /// The UDP socket's variable.
        sock: String,
        /// At most this many octets.
        max: usize,
    },
    /// `[var =] ping IP [ttl N] [timeout D]`: one ICMP echo request, waiting for its reply,
    /// an ICMP error about it, or the timeout.
    Ping {
        /// Variable for the line `ping` would print, if kept.
        var: Option<String>,
        /// Whom to ping.
        dst: std::net::IpAddr,
        /// The request's TTL.
        ttl: u8,
        /// How long to wait for an answer.
        timeout: Time,
    },
    /// `flood IP:PORT COUNT from CIDR [rate N]`: COUNT SYNs from addresses forged in CIDR,
    /// N a second (a SYN flood, as an attacker's tool sends it).
    Flood {
        /// The target.
        dst: SocketAddr,
        /// How many SYNs.
        count: u32,
        /// The subnet the forged sources are drawn from.
        from: (std::net::Ipv4Addr, u8),
        /// SYNs a second.
        rate: u32,
    },
    /// `setsockopt CONN OPTION VALUE`.
    SetOption {
        /// The socket's variable.
        conn: String,
        /// The option and its value.
        option: SocketOption,
    },
    /// `[var =] recv CONN [MAX]`.
    Recv {
        /// Variable for the data received, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// At most this many octets (like `recv(1024)`).
        max: usize,
    },
    /// `[var =] recv CONN framed [FMT]`: one whole message behind a 4-byte length, read in a
    /// loop (`recv(4)`, then `recv(1024)` until the length is reached).
    RecvFramed {
        /// Variable for the message, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How the length is packed.
        prefix: LengthPrefix,
    },
    /// `[var =] send_file CONN "NAME" SIZE [framed FMT]`: a JSON header
    /// `{"filename": NAME, "filesize": SIZE}` behind a 4-byte length, then SIZE seeded
    /// random octets as the file.
    SendFile {
        /// Variable for the file's digest, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// The header, length prefix included.
        header: Vec<u8>,
        /// The file's size.
        len: u64,
    },
    /// `[var =] recv_file CONN [framed FMT]`: the header, then `recv(1024)` until the
    /// file's size has arrived; keeps its length and SHA-256.
    RecvFile {
        /// Variable for the file's digest, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How the header's length is packed.
        prefix: LengthPrefix,
    },
    /// `serve LISTENER HANDLER`: socketserver.ThreadingTCPServer's `serve_forever()`: accept
    /// every connection and run HANDLER on each independently, as one thread each would.
    /// It never returns.
    Serve {
        /// The listening socket's variable.
        listener: String,
        /// What each connection's thread does.
        handler: Handler,
    },
    /// `shutdown CONN` (SHUT_WR).
    Shutdown {
        /// The connection's variable.
        conn: String,
    },
    /// `close SOCK`.
    Close {
        /// The socket's variable.
        conn: String,
    },
    /// `abort CONN`: close with RST, as a program that dies does.
    Abort {
        /// The connection's variable.
        conn: String,
    },
    /// `wait CONN STATE`: block until the connection has reached STATE.
    Wait {
        /// The connection's variable.
        conn: String,
        /// The state to wait for.
        state: TcpState,
    },
}

/// What a `serve` thread does with its connection, until the client closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `while data := conn.recv(1024): conn.sendall(data)`.
    Echo,
    /// The same, answering `data.upper()`.
    Upper,
}

/// One `serve` thread: its connection and the reply it is still sending.
#[derive(Debug)]
struct Thread {
    number: u32,
    conn: SocketId,
    peer: String,
    reply: Vec<u8>,
    sent: usize,
}

/// One turn of a `serve` thread: finish sending its reply, then read and answer what came.
/// What it did, in words; whether it ended; whether it made progress.
fn serve_thread(
    t: &mut Thread,
    host: &mut dyn Engine,
    now: Time,
    handler: Handler,
) -> (Option<String>, bool, bool) {
    let who = |t: &Thread| format!("thread {} ({})", t.number, t.peer);
    while t.sent < t.reply.len() {
        match host.send(now, t.conn, &t.reply[t.sent..]) {
            Ok(0) => return (None, false, false),
            Ok(n) => t.sent += n,
            Err(e) => {
                let text = format!("{}: sendall → {e}; the thread ends", who(t));
                return (Some(text), true, false);
            }
        }
    }
    match host.recv(now, t.conn, 1024) {
        Ok(None) => (None, false, false),
        Ok(Some(data)) if data.is_empty() => {
            let _ = host.close(now, t.conn);
            let text = format!(
                "{}: recv(1024) → b'': the client has closed; close()",
                who(t)
            );
            (Some(text), true, false)
        }
        Ok(Some(data)) => {
            t.reply = match handler {
                Handler::Echo => data.clone(),
                Handler::Upper => data.to_ascii_uppercase(),
            };
            t.sent = 0;
            while t.sent < t.reply.len() {
                match host.send(now, t.conn, &t.reply[t.sent..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => t.sent += n,
                }
            }
            let text = format!(
                "{}: recv(1024) → {}; sendall({})",
                who(t),
                python_bytes_shown(&data),
                python_bytes_shown(&t.reply)
            );
            (Some(text), false, true)
        }
        Err(e) => {
            let text = format!("{}: recv(1024) → {e}; the thread ends", who(t));
            (Some(text), true, false)
        }
    }
}

/// A statement with the text it was written as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The statement.
    pub stmt: Stmt,
    /// The source text, for the trace.
    pub text: String,
}

impl From<Stmt> for Line {
    /// A statement built in code rather than read from a scenario; its text is the line a
    /// scenario would write for it.
    fn from(stmt: Stmt) -> Line {
        Line {
            text: stmt.to_string(),
            stmt,
        }
    }
}

/// Bytes as a scenario writes them: in double quotes, with `\n \r \t \\ \" \xNN`.
fn quoted(data: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in data {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// `VAR = ` before a call whose result is kept.
fn kept(var: &Option<String>) -> String {
    var.as_ref().map(|v| format!("{v} = ")).unwrap_or_default()
}

impl std::fmt::Display for Stmt {
    /// The statement in the scenario language.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stmt::Sleep(t) => write!(f, "sleep {t}s"),
            Stmt::At(t) => write!(f, "at {t}s"),
            Stmt::Listen { var, port, backlog } => {
                write!(f, "{var} = listen {port} backlog {backlog}")
            }
            Stmt::Accept { var, listener } => write!(f, "{var} = accept {listener}"),
            Stmt::Connect { var, addr } => write!(f, "{var} = connect {addr}"),
            Stmt::Send { conn, data } => write!(f, "send {conn} {}", quoted(data)),
            Stmt::SendRandom { var, conn, len } => {
                write!(f, "{}send {conn} random {len}", kept(var))
            }
            Stmt::RecvAll { var, conn, limit } => match limit {
                Some(limit) => write!(f, "{}recvall {conn} {limit}", kept(var)),
                None => write!(f, "{}recvall {conn}", kept(var)),
            },
            Stmt::UdpBind { var, port } => write!(f, "{var} = udp {port}"),
            Stmt::SendTo { sock, data, addr } => {
                write!(f, "sendto {sock} {} {addr}", quoted(data))
            }
            Stmt::RecvFrom { var, sock, max } => write!(f, "{}recvfrom {sock} {max}", kept(var)),
            Stmt::Ping {
                var,
                dst,
                ttl,
                timeout,
            } => write!(f, "{}ping {dst} ttl {ttl} timeout {timeout}s", kept(var)),
            Stmt::Flood {
                dst,
                count,
                from: (net, prefix),
                rate,
            } => write!(f, "flood {dst} {count} from {net}/{prefix} rate {rate}"),
            Stmt::SetOption { conn, option } => write!(f, "setsockopt {conn} {option}"),
            Stmt::Recv { var, conn, max } => write!(f, "{}recv {conn} {max}", kept(var)),
            Stmt::RecvFramed { var, conn, prefix } => {
                write!(f, "{}recv {conn} framed '{}'", kept(var), prefix.format())
            }
            Stmt::SendFile {
                var,
                conn,
                header,
                len,
            } => {
                let name = header
                    .get(4..)
                    .and_then(|json| parse_file_header(json).ok())
                    .map_or_else(String::new, |(name, _)| name);
                write!(
                    f,
                    "{}send_file {conn} {} {len}",
                    kept(var),
                    quoted(name.as_bytes())
                )
            }
            Stmt::RecvFile { var, conn, prefix } => {
                write!(
                    f,
                    "{}recv_file {conn} framed '{}'",
                    kept(var),
                    prefix.format()
                )
            }
            Stmt::Serve { listener, handler } => {
                let handler = match handler {
                    Handler::Echo => "echo",
                    Handler::Upper => "upper",
                };
                write!(f, "serve {listener} {handler}")
            }
            Stmt::Shutdown { conn } => write!(f, "shutdown {conn}"),
            Stmt::Close { conn } => write!(f, "close {conn}"),
            Stmt::Abort { conn } => write!(f, "abort {conn}"),
            Stmt::Wait { conn, state } => write!(f, "wait {conn} {state}"),
        }
    }
}

/// What a program variable holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A socket of the host.
    Socket(SocketId),
    /// Bytes returned by recv.
    Bytes(Vec<u8>),
    /// The error a call failed with.
    Error(SocketError),
    /// The length and SHA-256 of a stream sent or received.
    Stream(StreamDigest),
}

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

/// Where a framed read is: the bytes of the part being read, how many recv calls so far.
#[derive(Debug)]
struct Framing {
    buf: Vec<u8>,
    calls: u32,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// The 4-byte length.
    Prefix,
    /// A message of this many octets.
    Message(usize),
    /// A file header of this many octets.
    FileHeader(usize),
    /// The file itself.
    File {
        name: String,
        size: u64,
        got: u64,
        hasher: Sha256,
    },
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

/// `recv` until `buf` holds `need` octets, at most 1024 a call, like the notes' loops. `Ok(false)`:
/// nothing more yet.
fn fill(
    host: &mut dyn Engine,
    now: Time,
    id: SocketId,
    buf: &mut Vec<u8>,
    need: usize,
    calls: &mut u32,
) -> Result<bool, String> {
    while buf.len() < need {
        match host.recv(now, id, (need - buf.len()).min(1024)) {
            Ok(None) => return Ok(false),
            Ok(Some(data)) if data.is_empty() => {
                return Err(format!(
                    "the peer closed the connection after {} of {need} octets",
                    buf.len()
                ));
            }
            Ok(Some(data)) => {
                *calls += 1;
                buf.extend_from_slice(&data);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
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
                            text: format!(
                                "program stops at `{}`: {error} (an uncaught exception)",
                                line.text
                            ),
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

    /// One round of a `serve`: accept what waits, then let each thread read and answer what
    /// has arrived. Every thread's step is a note in the trace, with the frames it caused.
    fn serve_round(
        &mut self,
        host: &mut dyn Engine,
        env: &mut Env,
        listener: SocketId,
        handler: Handler,
    ) -> Result<(), SocketError> {
        let now = env.now;
        let name = env.host_name.to_string();
        let note = |text: String| Event {
            t: now,
            kind: EventKind::Note {
                node: name.clone(),
                text,
            },
        };
        loop {
            // A first round looks at every thread; then only at those whose connection
            // something happened to, when the engine can tell.
            let woken = host.take_woken();
            let mut progressed = false;
            let mut look_at: BTreeSet<u32> = match woken {
                Some(conns) if self.serve_started => conns
                    .iter()
                    .filter_map(|c| self.thread_of.get(c).copied())
                    .collect(),
                _ => self.threads.keys().copied().collect(),
            };
            self.serve_started = true;
            while let Some(conn) = host.accept(now, listener)? {
                self.served += 1;
                let peer = host
                    .info(conn)
                    .and_then(|i| i.remote)
                    .map_or_else(|| "?".to_string(), |r| r.to_string());
                let text = format!(
                    "accept() → connection from {peer}; thread {} handles it",
                    self.served
                );
                self.threads.insert(
                    self.served,
                    Thread {
                        number: self.served,
                        conn,
                        peer,
                        reply: Vec::new(),
                        sent: 0,
                    },
                );
                self.thread_of.insert(conn, self.served);
                look_at.insert(self.served);
                env.batches
                    .push(Batch::from_host(host, env.history, vec![note(text)]));
                progressed = true;
            }
            for number in look_at {
                let Some(t) = self.threads.get_mut(&number) else {
                    continue;
                };
                let (text, ended, moved) = serve_thread(t, host, now, handler);
                progressed |= moved;
                if ended {
                    self.thread_of.remove(&t.conn);
                    self.threads.remove(&number);
                }
                if let Some(text) = text {
                    env.batches
                        .push(Batch::from_host(host, env.history, vec![note(text)]));
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    /// Read one framed message (or, with `file`, a JSON header and the file it announces);
    /// `None` while more is to come; the value and how `recv` would show it when whole.
    fn read_framed(
        &mut self,
        host: &mut dyn Engine,
        now: Time,
        id: SocketId,
        prefix: LengthPrefix,
        file: bool,
    ) -> Result<Option<(Value, String)>, String> {
        if !matches!(self.progress, Progress::Framed(_)) {
            self.progress = Progress::Framed(Framing {
                buf: Vec::new(),
                calls: 0,
                stage: Stage::Prefix,
            });
        }
        let Progress::Framed(f) = &mut self.progress else {
            return Ok(None);
        };
        loop {
            match &mut f.stage {
                Stage::Prefix => {
                    if !fill(host, now, id, &mut f.buf, 4, &mut f.calls)? {
                        return Ok(None);
                    }
                    let b = [f.buf[0], f.buf[1], f.buf[2], f.buf[3]];
                    let n = prefix.unpack(b);
                    if !(0..=1 << 30).contains(&n) {
                        return Err(format!(
                            "struct.unpack('{}', {}) = {n}: not a length (sender and receiver \
                             disagree on the format?)",
                            prefix.format(),
                            python_bytes(&b)
                        ));
                    }
                    f.buf.clear();
                    f.stage = if file {
                        Stage::FileHeader(n as usize)
                    } else {
                        Stage::Message(n as usize)
                    };
                }
                Stage::Message(n) => {
                    let n = *n;
                    if !fill(host, now, id, &mut f.buf, n, &mut f.calls)? {
                        return Ok(None);
                    }
                    let shown = format!(
                        "{} (the {}-byte header said {n}; {} recv calls)",
                        python_bytes(&f.buf),
                        4,
                        f.calls
                    );
                    let message = std::mem::take(&mut f.buf);
                    self.progress = Progress::Idle;
                    return Ok(Some((Value::Bytes(message), shown)));
                }
                Stage::FileHeader(n) => {
                    let n = *n;
                    if !fill(host, now, id, &mut f.buf, n, &mut f.calls)? {
                        return Ok(None);
                    }
                    let (name, size) = parse_file_header(&f.buf)?;
                    f.buf.clear();
                    f.stage = Stage::File {
                        name,
                        size,
                        got: 0,
                        hasher: Sha256::new(),
                    };
                }
                Stage::File {
                    name,
                    size,
                    got,
                    hasher,
                } => {
                    while *got < *size {
                        let want = (*size - *got).min(1024) as usize;
                        match host.recv(now, id, want) {
                            Ok(None) => return Ok(None),
                            Ok(Some(data)) if data.is_empty() => {
                                return Err(format!(
                                    "the peer closed the connection after {got} of {size} \
                                     octets of {name}"
                                ));
                            }
                            Ok(Some(data)) => {
                                f.calls += 1;
                                *got += data.len() as u64;
                                if !self.skip_digests {
                                    hasher.update(&data);
                                }
                            }
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    let digest = StreamDigest {
                        len: *size,
                        sha256: hasher.clone().finalize().into(),
                    };
                    let shown = format!("{name}: {digest} ({} recv calls)", f.calls);
                    self.progress = Progress::Idle;
                    return Ok(Some((Value::Stream(digest), shown)));
                }
            }
        }
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
