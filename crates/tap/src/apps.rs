//! Programs that run on our host over the TAP device besides a scripted one (a
//! [`program::ProgramRun`], as in scenarios): an echo server, a UDP echo server, and a line
//! client fed from standard input. Each is a [`program::Application`], driven as the
//! simulator drives a scenario's programs.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, TryRecvError};

use program::{Application, Env, close_at_interrupt, python_bytes};
use stack::{Engine, SocketError, SocketId};
use trace::{Event, EventKind, TcpState, Time};

/// The states each socket has entered, for `wait` and expectations.
pub type History = BTreeMap<SocketId, Vec<TcpState>>;

fn call_event(env: &Env, call: String) -> Event {
    Event {
        t: env.now,
        kind: EventKind::Call {
            host: env.host_name.to_string(),
            call,
        },
    }
}

fn return_event(env: &Env, call: String, result: String) -> Event {
    Event {
        t: env.now,
        kind: EventKind::Return {
            host: env.host_name.to_string(),
            call,
            result,
        },
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

    /// The listening socket, made on the first call; none if `listen` failed (then the
    /// server stops).
    fn listener(&mut self, host: &mut dyn Engine, env: &mut Env) -> Option<SocketId> {
        if self.listener.is_some() {
            return self.listener;
        }
        let call = format!("s = listen {} backlog 5", self.port);
        let result = host.listen(env.now, self.port, 5);
        let shown = match &result {
            Ok(id) => format!("socket {id}"),
            Err(e) => e.to_string(),
        };
        let events = vec![
            call_event(env, call.clone()),
            return_event(env, call, shown),
        ];
        env.record(host, events);
        self.listener = result.ok();
        self.stopped = self.listener.is_none();
        self.listener
    }

    /// Every connection waiting in the accept queue.
    fn accept_all(&mut self, host: &mut dyn Engine, env: &mut Env, listener: SocketId) {
        while let Ok(Some(id)) = host.accept(env.now, listener) {
            let peer = host
                .info(id)
                .and_then(|i| i.remote)
                .map_or_else(String::new, |r| format!(" from {r}"));
            let call = "conn = accept s".to_string();
            let events = vec![return_event(env, call, format!("socket {id}{peer}"))];
            env.record(host, events);
            self.conns.push(EchoConn {
                id,
                pending: Vec::new(),
            });
        }
    }
}

/// Send back what `conn` received and read what it has; whether it is done (closed, or
/// failed).
fn echo(conn: &mut EchoConn, host: &mut dyn Engine, env: &mut Env) -> bool {
    loop {
        if !conn.pending.is_empty() {
            match host.send(env.now, conn.id, &conn.pending) {
                Ok(0) => return false,
                Ok(n) => {
                    conn.pending.drain(..n);
                    env.record(host, Vec::new());
                    continue;
                }
                Err(_) => return true,
            }
        }
        let call = format!("recv(socket {}, 1024)", conn.id);
        match host.recv(env.now, conn.id, 1024) {
            Ok(None) => return false,
            Ok(Some(data)) if data.is_empty() => {
                let _ = host.close(env.now, conn.id);
                let said = "b'' (the client closed): close()".to_string();
                let events = vec![return_event(env, call, said)];
                env.record(host, events);
                return true;
            }
            Ok(Some(data)) => {
                let events = vec![return_event(env, call, python_bytes(&data))];
                env.record(host, events);
                conn.pending = data;
            }
            Err(_) => return true,
        }
    }
}

impl Application for EchoServer {
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        if self.stopped {
            return;
        }
        let Some(listener) = self.listener(host, env) else {
            return;
        };
        self.accept_all(host, env, listener);
        self.conns.retain_mut(|conn| !echo(conn, host, env));
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn blocked_on(&self) -> Vec<String> {
        let accept = format!("accept on port {}", self.port);
        (!self.stopped).then_some(accept).into_iter().collect()
    }

    fn finished(&self) -> bool {
        self.stopped
    }

    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env) {
        self.stopped = true;
        let conns = self.conns.iter().map(|c| c.id);
        let sockets: Vec<SocketId> = conns.chain(self.listener).collect();
        close_at_interrupt(host, env, sockets);
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

    /// The socket, bound on the first call; none if binding failed (then it stops).
    fn socket(&mut self, host: &mut dyn Engine, env: &mut Env) -> Option<SocketId> {
        if self.socket.is_none() {
            match host.udp_bind(env.now, self.port) {
                Ok(id) => {
                    self.socket = Some(id);
                    let call = format!("u = udp {}", self.port);
                    let events = vec![return_event(env, call, format!("socket {id}"))];
                    env.record(host, events);
                }
                Err(_) => self.stopped = true,
            }
        }
        self.socket
    }
}

impl Application for UdpEcho {
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        if self.stopped {
            return;
        }
        let Some(socket) = self.socket(host, env) else {
            return;
        };
        while let Ok(Some((data, from))) = host.recvfrom(env.now, socket, 65_536) {
            let _ = host.sendto(env.now, socket, &data, from);
            let call = "recvfrom(u); sendto(u, data, sender)".to_string();
            let said = format!("{} from {from}, sent back", python_bytes(&data));
            let events = vec![return_event(env, call, said)];
            env.record(host, events);
        }
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn blocked_on(&self) -> Vec<String> {
        let recv = format!("recvfrom on UDP port {}", self.port);
        (!self.stopped).then_some(recv).into_iter().collect()
    }

    fn finished(&self) -> bool {
        self.stopped
    }

    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env) {
        self.stopped = true;
        if let Some(id) = self.socket {
            let _ = host.close(env.now, id);
        }
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

    /// Stop on `e`.
    fn fail(&mut self, e: SocketError) {
        self.error = Some(e);
        self.done = true;
    }

    /// The connection once it is established: connect on the first call; none while the
    /// handshake is under way or after it failed.
    fn connected(&mut self, host: &mut dyn Engine, env: &mut Env) -> Option<SocketId> {
        let conn = match self.conn {
            Some(id) => id,
            None => match host.connect(env.now, self.remote) {
                Ok(id) => {
                    self.conn = Some(id);
                    let events = vec![call_event(env, format!("c = connect {}", self.remote))];
                    env.record(host, events);
                    id
                }
                Err(e) => {
                    self.fail(e);
                    return None;
                }
            },
        };
        match host.connect_status(conn)? {
            Ok(()) => Some(conn),
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    /// Send the lines typed so far; at the end of input, shut the sending side.
    fn send_lines(&mut self, host: &mut dyn Engine, env: &mut Env, conn: SocketId) {
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
            match host.send(env.now, conn, &self.outgoing) {
                Ok(0) => break,
                Ok(n) => {
                    self.outgoing.drain(..n);
                    env.record(host, Vec::new());
                }
                Err(e) => return self.fail(e),
            }
        }
        if self.input_done && self.outgoing.is_empty() && !self.shut {
            self.shut = true;
            let _ = host.shutdown_write(env.now, conn);
            let events = vec![call_event(env, "shutdown c".to_string())];
            env.record(host, events);
        }
    }

    /// Print what came back; close at its end.
    fn print_replies(&mut self, host: &mut dyn Engine, env: &mut Env, conn: SocketId) {
        loop {
            match host.recv(env.now, conn, 1024) {
                Ok(None) => break,
                Ok(Some(data)) if data.is_empty() => {
                    let _ = host.close(env.now, conn);
                    let events = vec![call_event(env, "close c".to_string())];
                    env.record(host, events);
                    self.done = true;
                    break;
                }
                Ok(Some(data)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&data);
                    let _ = out.flush();
                    env.record(host, Vec::new());
                }
                Err(e) => {
                    self.fail(e);
                    break;
                }
            }
        }
    }
}

impl Application for Client {
    fn advance(&mut self, host: &mut dyn Engine, env: &mut Env) {
        if self.done {
            return;
        }
        let Some(conn) = self.connected(host, env) else {
            return;
        };
        self.send_lines(host, env, conn);
        if !self.done {
            self.print_replies(host, env, conn);
        }
    }

    fn wake_at(&self) -> Option<Time> {
        None
    }

    fn blocked_on(&self) -> Vec<String> {
        let waiting = format!("recv from {}", self.remote);
        (!self.done).then_some(waiting).into_iter().collect()
    }

    fn finished(&self) -> bool {
        self.done
    }

    fn interrupt(&mut self, host: &mut dyn Engine, env: &mut Env) {
        self.done = true;
        close_at_interrupt(host, env, self.conn);
    }
}
