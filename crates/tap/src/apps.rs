//! Programs that run on our host over the TAP device: a scripted program (as in scenarios),
//! an echo server, and a line client fed from standard input.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, TryRecvError};

use program::{Batch, Env, ProgramRun, python_bytes};
use stack::{Engine, SocketError, SocketId};
use trace::{Event, EventKind, TcpState, Time};

/// The states each socket has entered, for `wait` and expectations.
pub type History = BTreeMap<SocketId, Vec<TcpState>>;

/// A program on our host, driven by the TAP driver.
pub trait App {
    /// Make every call that can be made now; return what they produced, in order.
    fn poll(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch>;
    /// When the program wants to run again without any input (a sleep).
    fn wake_at(&self) -> Option<Time>;
    /// True when the program has nothing more to do.
    fn finished(&self) -> bool;
    /// Ctrl-C: close every open socket gracefully and stop.
    fn interrupt(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch>;
    /// The scripted program, if this app is one (for its variables after the run).
    fn as_program(&self) -> Option<&ProgramApp> {
        None
    }
}

fn call_event(now: Time, host: &str, call: String) -> Event {
    Event {
        t: now,
        kind: EventKind::Call {
            host: host.to_string(),
            call,
        },
    }
}

fn return_event(now: Time, host: &str, call: String, result: String) -> Event {
    Event {
        t: now,
        kind: EventKind::Return {
            host: host.to_string(),
            call,
            result,
        },
    }
}

/// Close sockets at Ctrl-C, each call in its own batch.
fn close_all(
    host: &mut dyn Engine,
    now: Time,
    history: &mut History,
    sockets: impl IntoIterator<Item = SocketId>,
) -> Vec<Batch> {
    let name = host.name().to_string();
    let mut batches = Vec::new();
    for id in sockets {
        let open = host.info(id).is_some_and(|i| i.state != TcpState::Closed);
        if open {
            let call = format!("close(socket {id}) at Ctrl-C");
            let _ = host.close(now, id);
            let events = vec![call_event(now, &name, call)];
            batches.push(Batch::from_host(host, history, events));
        }
    }
    batches
}

/// A scripted program, as in a scenario (`send … random`, `recvall`, …).
#[derive(Debug)]
pub struct ProgramApp {
    program: ProgramRun,
    stopped: bool,
}

impl ProgramApp {
    /// Run `program`.
    pub fn new(program: ProgramRun) -> ProgramApp {
        ProgramApp {
            program,
            stopped: false,
        }
    }

    /// The program, for its variables once it has run.
    pub fn program(&self) -> &ProgramRun {
        &self.program
    }

    /// The program, kept after the run.
    pub fn into_program(self) -> ProgramRun {
        self.program
    }
}

impl App for ProgramApp {
    fn poll(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        if self.stopped {
            return Vec::new();
        }
        let name = host.name().to_string();
        let mut batches = Vec::new();
        let mut env = Env {
            now,
            host_name: &name,
            history,
            batches: &mut batches,
        };
        self.program.advance(host, &mut env);
        batches
    }

    fn wake_at(&self) -> Option<Time> {
        self.program.wake_at()
    }

    fn finished(&self) -> bool {
        self.stopped || self.program.finished()
    }

    fn interrupt(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        self.stopped = true;
        let sockets: Vec<SocketId> = self.program.bound.values().copied().collect();
        close_all(host, now, history, sockets)
    }

    fn as_program(&self) -> Option<&ProgramApp> {
        Some(self)
    }
}

#[derive(Debug)]
struct EchoConn {
    id: SocketId,
    /// Received and not yet sent back.
    pending: Vec<u8>,
}

/// A classic echo server: accept every connection, `recv(1024)` and send it back, close at
/// end of file. Like the textbook `socketserver` echo, it never stops by itself.
#[derive(Debug)]
pub struct EchoServer {
    port: u16,
    listener: Option<SocketId>,
    conns: Vec<EchoConn>,
    stopped: bool,
}

impl EchoServer {
    /// An echo server on `port`.
    pub fn new(port: u16) -> EchoServer {
        EchoServer {
            port,
            listener: None,
            conns: Vec::new(),
            stopped: false,
        }
    }
}

impl App for EchoServer {
    fn poll(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        let name = host.name().to_string();
        let mut batches = Vec::new();
        if self.stopped {
            return batches;
        }
        let listener = match self.listener {
            Some(id) => id,
            None => {
                let call = format!("s = listen {} backlog 5", self.port);
                let result = host.listen(now, self.port, 5);
                let shown = match &result {
                    Ok(id) => format!("socket {id}"),
                    Err(e) => e.to_string(),
                };
                let events = vec![
                    call_event(now, &name, call.clone()),
                    return_event(now, &name, call, shown),
                ];
                batches.push(Batch::from_host(host, history, events));
                match result {
                    Ok(id) => {
                        self.listener = Some(id);
                        id
                    }
                    Err(_) => {
                        self.stopped = true;
                        return batches;
                    }
                }
            }
        };
        while let Ok(Some(id)) = host.accept(now, listener) {
            let peer = host
                .info(id)
                .and_then(|i| i.remote)
                .map_or_else(String::new, |r| format!(" from {r}"));
            let events = vec![return_event(
                now,
                &name,
                "conn = accept s".to_string(),
                format!("socket {id}{peer}"),
            )];
            batches.push(Batch::from_host(host, history, events));
            self.conns.push(EchoConn {
                id,
                pending: Vec::new(),
            });
        }
        let mut done = Vec::new();
        for conn in &mut self.conns {
            loop {
                if !conn.pending.is_empty() {
                    match host.send(now, conn.id, &conn.pending) {
                        Ok(0) => break,
                        Ok(n) => {
                            conn.pending.drain(..n);
                            batches.push(Batch::from_host(host, history, Vec::new()));
                            continue;
                        }
                        Err(_) => {
                            done.push(conn.id);
                            break;
                        }
                    }
                }
                match host.recv(now, conn.id, 1024) {
                    Ok(None) => break,
                    Ok(Some(data)) if data.is_empty() => {
                        let _ = host.close(now, conn.id);
                        let events = vec![return_event(
                            now,
                            &name,
                            format!("recv(socket {}, 1024)", conn.id),
                            "b'' (the client closed): close()".to_string(),
                        )];
                        batches.push(Batch::from_host(host, history, events));
                        done.push(conn.id);
                        break;
                    }
                    Ok(Some(data)) => {
                        let events = vec![return_event(
                            now,
                            &name,
                            format!("recv(socket {}, 1024)", conn.id),
                            python_bytes(&data),
                        )];
                        batches.push(Batch::from_host(host, history, events));
                        conn.pending = data;
                    }
                    Err(_) => {
                        done.push(conn.id);
                        break;
                    }
                }
            }
        }
        self.conns.retain(|c| !done.contains(&c.id));
        batches
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn finished(&self) -> bool {
        self.stopped
    }

    fn interrupt(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        self.stopped = true;
        let sockets: Vec<SocketId> = self
            .conns
            .iter()
            .map(|c| c.id)
            .chain(self.listener)
            .collect();
        close_all(host, now, history, sockets)
    }
}

/// A UDP echo server: every datagram goes back to its sender, whole. Never stops by itself.
#[derive(Debug)]
pub struct UdpEcho {
    port: u16,
    socket: Option<SocketId>,
    stopped: bool,
}

impl UdpEcho {
    /// A UDP echo server on `port`.
    pub fn new(port: u16) -> UdpEcho {
        UdpEcho {
            port,
            socket: None,
            stopped: false,
        }
    }
}

impl App for UdpEcho {
    fn poll(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        let name = host.name().to_string();
        let mut batches = Vec::new();
        if self.stopped {
            return batches;
        }
        let socket = match self.socket {
            Some(id) => id,
            None => match host.udp_bind(now, self.port) {
                Ok(id) => {
                    self.socket = Some(id);
                    let call = format!("u = udp {}", self.port);
                    let events = vec![return_event(now, &name, call, format!("socket {id}"))];
                    batches.push(Batch::from_host(host, history, events));
                    id
                }
                Err(_) => {
                    self.stopped = true;
                    return batches;
                }
            },
        };
        while let Ok(Some((data, from))) = host.recvfrom(now, socket, 65_536) {
            let _ = host.sendto(now, socket, &data, from);
            let events = vec![return_event(
                now,
                &name,
                "recvfrom(u); sendto(u, data, sender)".to_string(),
                format!("{} from {from}, sent back", python_bytes(&data)),
            )];
            batches.push(Batch::from_host(host, history, events));
        }
        batches
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn finished(&self) -> bool {
        self.stopped
    }

    fn interrupt(&mut self, host: &mut dyn Engine, now: Time, _: &mut History) -> Vec<Batch> {
        self.stopped = true;
        if let Some(id) = self.socket {
            let _ = host.close(now, id);
        }
        Vec::new()
    }
}

/// A line client: connects, sends each line read from standard input, prints what comes
/// back; at the end of input it shuts down its sending side and reads to the end.
#[derive(Debug)]
pub struct Client {
    remote: SocketAddr,
    lines: Receiver<String>,
    conn: Option<SocketId>,
    outgoing: Vec<u8>,
    input_done: bool,
    shut: bool,
    done: bool,
    /// Set when the connection failed.
    pub error: Option<SocketError>,
}

impl Client {
    /// A client of `remote`, sending the lines that arrive on `lines` (closed at end of
    /// input).
    pub fn new(remote: SocketAddr, lines: Receiver<String>) -> Client {
        Client {
            remote,
            lines,
            conn: None,
            outgoing: Vec::new(),
            input_done: false,
            shut: false,
            done: false,
            error: None,
        }
    }
}

impl App for Client {
    fn poll(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        let name = host.name().to_string();
        let mut batches = Vec::new();
        if self.done {
            return batches;
        }
        let conn = match self.conn {
            Some(id) => id,
            None => {
                let call = format!("c = connect {}", self.remote);
                match host.connect(now, self.remote) {
                    Ok(id) => {
                        self.conn = Some(id);
                        batches.push(Batch::from_host(
                            host,
                            history,
                            vec![call_event(now, &name, call)],
                        ));
                        id
                    }
                    Err(e) => {
                        self.error = Some(e);
                        self.done = true;
                        return batches;
                    }
                }
            }
        };
        match host.connect_status(conn) {
            None => return batches,
            Some(Err(e)) => {
                self.error = Some(e);
                self.done = true;
                return batches;
            }
            Some(Ok(())) => {}
        }
        loop {
            match self.lines.try_recv() {
                Ok(line) => self.outgoing.extend_from_slice(line.as_bytes()),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.input_done = true;
                    break;
                }
            }
        }
        while !self.outgoing.is_empty() {
            match host.send(now, conn, &self.outgoing) {
                Ok(0) => break,
                Ok(n) => {
                    self.outgoing.drain(..n);
                    batches.push(Batch::from_host(host, history, Vec::new()));
                }
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                    return batches;
                }
            }
        }
        if self.input_done && self.outgoing.is_empty() && !self.shut {
            self.shut = true;
            let _ = host.shutdown_write(now, conn);
            let events = vec![call_event(now, &name, "shutdown c".to_string())];
            batches.push(Batch::from_host(host, history, events));
        }
        loop {
            match host.recv(now, conn, 1024) {
                Ok(None) => break,
                Ok(Some(data)) if data.is_empty() => {
                    let _ = host.close(now, conn);
                    let events = vec![call_event(now, &name, "close c".to_string())];
                    batches.push(Batch::from_host(host, history, events));
                    self.done = true;
                    break;
                }
                Ok(Some(data)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&data);
                    let _ = out.flush();
                    batches.push(Batch::from_host(host, history, Vec::new()));
                }
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                    break;
                }
            }
        }
        batches
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn finished(&self) -> bool {
        self.done
    }

    fn interrupt(&mut self, host: &mut dyn Engine, now: Time, history: &mut History) -> Vec<Batch> {
        self.done = true;
        close_all(host, now, history, self.conn)
    }
}
