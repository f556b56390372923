//! Python's socket calls made on a host's engine: a table of the programs' sockets (their
//! numbers, bound ports and options) and, for each call, whether it completes now and what
//! it returns, as Python would show it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use program::{StreamHasher, Streams};
use serde_json::{Value, json};
use stack::{Engine, SocketError, SocketId, SocketOption};
use trace::{Time, python_bytes_shown};

use crate::protocol::{self, Request, hex, unhex};

/// What became of a call: its reply (and how the trace shows the result), or it must wait.
pub enum Served {
    /// The reply, and the result as Python would print it (none: `None`).
    Reply(Value, Option<String>),
    /// It would block: try again after the next event.
    Blocked,
}

/// One socket of a program.
#[derive(Debug, Default)]
struct Sock {
    stream: bool,
    /// The engine's socket, once there is one (after listen, connect, accept or a UDP bind).
    id: Option<SocketId>,
    /// The port given to `bind`.
    port: Option<u16>,
    /// The address given to `bind` (`0.0.0.0` for any), as `getsockname` shows it.
    bound_ip: Option<Ipv4Addr>,
    listening: bool,
    reuse_addr: bool,
    nodelay: bool,
}

/// Every socket of the programs on one host, by the number Python sees (`fileno()`).
#[derive(Debug)]
pub struct Sockets {
    table: BTreeMap<u32, Sock>,
    next_fd: u32,
    /// Ports `bind(0)` hands out.
    next_port: u16,
    /// What each engine socket sent and received, for expectations that compare streams.
    streams: BTreeMap<SocketId, [StreamHasher; 2]>,
}

impl Default for Sockets {
    fn default() -> Self {
        Sockets {
            table: BTreeMap::new(),
            next_fd: 3,
            next_port: 40000,
            streams: BTreeMap::new(),
        }
    }
}

fn failed(e: SocketError) -> Served {
    let python = match e {
        SocketError::ConnectionRefused => "ConnectionRefusedError: [Errno 111] Connection refused",
        SocketError::ConnectionReset => {
            "ConnectionResetError: [Errno 104] Connection reset by peer"
        }
        SocketError::BrokenPipe => "BrokenPipeError: [Errno 32] Broken pipe",
        SocketError::TimedOut => "TimeoutError: [Errno 110] Connection timed out",
        SocketError::AddrInUse => "OSError: [Errno 98] Address already in use",
        _ => e.errno(),
    };
    Served::Reply(protocol::err(e), Some(python.to_string()))
}

fn done(value: Value, shown: impl Into<String>) -> Served {
    Served::Reply(protocol::ok(value), Some(shown.into()))
}

fn address(host: &str, port: u16) -> Result<SocketAddrV4, SocketError> {
    let ip: Ipv4Addr = host.parse().map_err(|_| SocketError::InvalidArgument)?;
    Ok(SocketAddrV4::new(ip, port))
}

impl Sockets {
    /// What each engine socket has sent and received so far.
    pub fn streams(&self) -> BTreeMap<SocketId, Streams> {
        self.streams
            .iter()
            .map(|(id, [sent, received])| {
                let streams = Streams {
                    sent: sent.digest(),
                    received: received.digest(),
                };
                (*id, streams)
            })
            .collect()
    }

    /// Make `request` on `host` at `now` (first tried at `since`, for its timeout).
    pub fn serve(
        &mut self,
        request: &Request,
        host: &mut dyn Engine,
        (now, since): (Time, Time),
    ) -> Served {
        if let Request::Select {
            read,
            write,
            timeout,
            ..
        } = request
        {
            let expired =
                timeout.is_some_and(|t| now >= since + Time((t.max(0.0) * 1e9).round() as u64));
            return self.select((read, write), host, expired);
        }
        if let Some(limit) = request.timeout() {
            let deadline = since + Time((limit.max(0.0) * 1e9).round() as u64);
            let served = self.serve_now(request, host, now);
            return match served {
                Served::Blocked if now >= deadline => Served::Reply(
                    protocol::timed_out(),
                    Some("TimeoutError: timed out".to_string()),
                ),
                other => other,
            };
        }
        match request {
            Request::Sleep { secs, .. } => {
                let until = since + Time((secs.max(0.0) * 1e9).round() as u64);
                if now >= until {
                    Served::Reply(protocol::ok(Value::Null), None)
                } else {
                    Served::Blocked
                }
            }
            Request::Time { .. } => {
                let secs = now.as_nanos() as f64 / 1e9;
                done(json!(secs), secs.to_string())
            }
            other => self.serve_now(other, host, now),
        }
    }

    fn serve_now(&mut self, request: &Request, host: &mut dyn Engine, now: Time) -> Served {
        match request {
            Request::Socket { kind, .. } => {
                let fd = self.next_fd;
                self.next_fd += 1;
                let stream = kind == "stream";
                self.table.insert(
                    fd,
                    Sock {
                        stream,
                        ..Sock::default()
                    },
                );
                let what = if stream { "SOCK_STREAM" } else { "SOCK_DGRAM" };
                done(json!(fd), format!("<socket fd={fd}, AF_INET, {what}>"))
            }
            Request::Setsockopt { fd, opt, value, .. } => self.setsockopt(*fd, opt, *value, host),
            Request::Getsockopt { fd, opt, .. } => match self.table.get(fd) {
                Some(s) => {
                    let v = i64::from(if opt == "TCP_NODELAY" {
                        s.nodelay
                    } else {
                        s.reuse_addr
                    });
                    done(json!(v), v.to_string())
                }
                None => failed(SocketError::BadSocket),
            },
            Request::Bind {
                fd, host: ip, port, ..
            } => match ip.parse::<Ipv4Addr>() {
                Ok(ip) => {
                    let served = self.bind(*fd, *port, host, now);
                    if let Some(sock) = self.table.get_mut(fd) {
                        sock.bound_ip = Some(ip);
                    }
                    served
                }
                Err(_) => failed(SocketError::InvalidArgument),
            },
            Request::Listen { fd, backlog, .. } => self.listen(*fd, *backlog, host, now),
            Request::Accept { fd, .. } => self.accept(*fd, host, now),
            Request::Connect {
                fd, host: ip, port, ..
            } => self.connect(*fd, (ip, *port), host, now),
            Request::Send { fd, data, .. } => self.send(*fd, data, host, now),
            Request::Recv { fd, max, .. } => self.recv(*fd, *max, host, now),
            Request::Sendto {
                fd,
                data,
                host: ip,
                port,
                ..
            } => self.sendto(*fd, data, (ip, *port), host, now),
            Request::Recvfrom { fd, max, .. } => self.recvfrom(*fd, *max, host, now),
            Request::Shutdown { fd, how, .. } => match self.engine_id(*fd) {
                Ok(id) if *how == 0 => {
                    let _ = id;
                    done(Value::Null, "None")
                }
                Ok(id) => match host.shutdown_write(now, id) {
                    Ok(()) => done(Value::Null, "None"),
                    Err(e) => failed(e),
                },
                Err(e) => failed(e),
            },
            Request::Close { fd, .. } => {
                if let Some(Sock { id: Some(id), .. }) = self.table.remove(fd) {
                    let _ = host.close(now, id);
                }
                done(Value::Null, "None")
            }
            Request::Getsockname { fd, .. } | Request::Getpeername { fd, .. } => {
                let peer = matches!(request, Request::Getpeername { .. });
                self.name(*fd, peer, host)
            }
            Request::Sleep { .. }
            | Request::Time { .. }
            | Request::Hello { .. }
            | Request::Select { .. }
            | Request::Join { .. }
            | Request::LockWait { .. } => Served::Blocked,
            Request::Spawn { .. } | Request::ThreadExit { .. } | Request::LockRelease { .. } => {
                done(Value::Null, "None")
            }
            Request::Print { .. } | Request::Exit { .. } | Request::NotSimulated { .. } => {
                done(Value::Null, "None")
            }
        }
    }

    /// `select`: the sockets among `read` and `write` that are ready; blocks while none is,
    /// until `expired` (then, none).
    fn select(&self, (read, write): (&[u32], &[u32]), host: &dyn Engine, expired: bool) -> Served {
        let ready = |fd: &u32, want_read: bool| {
            let sock = self.table.get(fd)?;
            let readiness = host.readiness(sock.id?)?;
            Some(if want_read {
                readiness.readable
            } else {
                readiness.writable
            })
        };
        let r: Vec<u32> = read
            .iter()
            .filter(|fd| ready(fd, true) == Some(true))
            .copied()
            .collect();
        let w: Vec<u32> = write
            .iter()
            .filter(|fd| ready(fd, false) == Some(true))
            .copied()
            .collect();
        if r.is_empty() && w.is_empty() && !expired {
            return Served::Blocked;
        }
        // As Python prints select's answer: `([3], [], [])`.
        let list = |fds: &[u32]| {
            let items: Vec<String> = fds.iter().map(u32::to_string).collect();
            format!("[{}]", items.join(", "))
        };
        let shown = format!("({}, {}, [])", list(&r), list(&w));
        done(json!([r, w]), shown)
    }

    fn engine_id(&self, fd: u32) -> Result<SocketId, SocketError> {
        match self.table.get(&fd) {
            Some(Sock { id: Some(id), .. }) => Ok(*id),
            Some(_) => Err(SocketError::NotConnected),
            None => Err(SocketError::BadSocket),
        }
    }

    fn setsockopt(&mut self, fd: u32, opt: &str, value: i64, host: &mut dyn Engine) -> Served {
        let Some(sock) = self.table.get_mut(&fd) else {
            return failed(SocketError::BadSocket);
        };
        match opt {
            "SO_REUSEADDR" => sock.reuse_addr = value != 0,
            _ => {
                sock.nodelay = value != 0;
                if let Some(id) = sock.id {
                    let _ = host.set_option(id, SocketOption::NoDelay(value != 0));
                }
            }
        }
        done(Value::Null, "None")
    }

    /// `bind`: a stream socket keeps its port for `listen`; a datagram socket binds now.
    fn bind(&mut self, fd: u32, port: u16, host: &mut dyn Engine, now: Time) -> Served {
        let port = if port == 0 {
            self.next_port += 1;
            self.next_port
        } else {
            port
        };
        let in_use = self
            .table
            .iter()
            .any(|(&other, s)| other != fd && s.port == Some(port) && s.stream);
        let Some(sock) = self.table.get_mut(&fd) else {
            return failed(SocketError::BadSocket);
        };
        if sock.stream {
            if in_use {
                return failed(SocketError::AddrInUse);
            }
            // The stack's rule: TIME-WAIT holds the port unless SO_REUSEADDR.
            if let Err(e) = host.bind_port(port, sock.reuse_addr) {
                return failed(e);
            }
            sock.port = Some(port);
            return done(Value::Null, "None");
        }
        match host.udp_bind(now, port) {
            Ok(id) => {
                sock.id = Some(id);
                sock.port = Some(port);
                done(Value::Null, "None")
            }
            Err(e) => failed(e),
        }
    }

    fn listen(&mut self, fd: u32, backlog: u32, host: &mut dyn Engine, now: Time) -> Served {
        let Some(sock) = self.table.get_mut(&fd) else {
            return failed(SocketError::BadSocket);
        };
        let Some(port) = sock.port else {
            // Linux binds an unbound socket to an ephemeral port; the course always binds.
            return failed(SocketError::InvalidArgument);
        };
        match host.listen(now, port, backlog) {
            Ok(id) => {
                sock.id = Some(id);
                sock.listening = true;
                if sock.nodelay {
                    let _ = host.set_option(id, SocketOption::NoDelay(true));
                }
                done(Value::Null, "None")
            }
            Err(e) => failed(e),
        }
    }

    fn accept(&mut self, fd: u32, host: &mut dyn Engine, now: Time) -> Served {
        let listener = match self.engine_id(fd) {
            Ok(id) => id,
            Err(e) => return failed(e),
        };
        match host.accept(now, listener) {
            Ok(Some(id)) => {
                let new = self.next_fd;
                self.next_fd += 1;
                self.table.insert(
                    new,
                    Sock {
                        stream: true,
                        id: Some(id),
                        ..Sock::default()
                    },
                );
                let remote = host.info(id).and_then(|i| i.remote);
                let (ip, port) = remote.map_or((Ipv4Addr::UNSPECIFIED, 0), |r| (*r.ip(), r.port()));
                let shown = format!("(<socket fd={new}>, ('{ip}', {port}))");
                done(json!([new, ip.to_string(), port]), shown)
            }
            Ok(None) => Served::Blocked,
            Err(e) => failed(e),
        }
    }

    fn connect(
        &mut self,
        fd: u32,
        (ip, port): (&str, u16),
        host: &mut dyn Engine,
        now: Time,
    ) -> Served {
        let Some(sock) = self.table.get_mut(&fd) else {
            return failed(SocketError::BadSocket);
        };
        let id = match sock.id {
            Some(id) => id,
            None => {
                let remote = match address(ip, port) {
                    Ok(a) => a,
                    Err(e) => return failed(e),
                };
                match host.connect(now, remote) {
                    Ok(id) => {
                        sock.id = Some(id);
                        if sock.nodelay {
                            let _ = host.set_option(id, SocketOption::NoDelay(true));
                        }
                        id
                    }
                    Err(e) => return failed(e),
                }
            }
        };
        match host.connect_status(id) {
            None => Served::Blocked,
            Some(Ok(())) => done(Value::Null, "None"),
            Some(Err(e)) => failed(e),
        }
    }

    fn send(&mut self, fd: u32, data: &str, host: &mut dyn Engine, now: Time) -> Served {
        let Some(bytes) = unhex(data) else {
            return failed(SocketError::InvalidArgument);
        };
        let id = match self.engine_id(fd) {
            Ok(id) => id,
            Err(e) => return failed(e),
        };
        match host.send(now, id, &bytes) {
            Ok(0) if !bytes.is_empty() => Served::Blocked,
            Ok(n) => {
                self.streams.entry(id).or_default()[0].update(&bytes[..n]);
                done(json!(n), n.to_string())
            }
            Err(e) => failed(e),
        }
    }

    fn recv(&mut self, fd: u32, max: usize, host: &mut dyn Engine, now: Time) -> Served {
        let id = match self.engine_id(fd) {
            Ok(id) => id,
            Err(e) => return failed(e),
        };
        match host.recv(now, id, max.max(1)) {
            Ok(None) => Served::Blocked,
            Ok(Some(data)) => {
                self.streams.entry(id).or_default()[1].update(&data);
                done(json!(hex(&data)), python_bytes_shown(&data))
            }
            Err(e) => failed(e),
        }
    }

    fn sendto(
        &mut self,
        fd: u32,
        data: &str,
        (ip, port): (&str, u16),
        host: &mut dyn Engine,
        now: Time,
    ) -> Served {
        let (Some(bytes), Ok(remote)) = (unhex(data), address(ip, port)) else {
            return failed(SocketError::InvalidArgument);
        };
        let Some(sock) = self.table.get_mut(&fd) else {
            return failed(SocketError::BadSocket);
        };
        let id = match sock.id {
            Some(id) => id,
            None => match host.udp_bind(now, 0) {
                Ok(id) => {
                    sock.id = Some(id);
                    id
                }
                Err(e) => return failed(e),
            },
        };
        match host.sendto(now, id, &bytes, remote) {
            Ok(n) => done(json!(n), n.to_string()),
            Err(e) => failed(e),
        }
    }

    fn recvfrom(&mut self, fd: u32, max: usize, host: &mut dyn Engine, now: Time) -> Served {
        let id = match self.engine_id(fd) {
            Ok(id) => id,
            Err(e) => return failed(e),
        };
        match host.recvfrom(now, id, max.max(1)) {
            Ok(None) => Served::Blocked,
            Ok(Some((data, from))) => {
                let shown = format!(
                    "({}, ('{}', {}))",
                    python_bytes_shown(&data),
                    from.ip(),
                    from.port()
                );
                done(
                    json!([hex(&data), from.ip().to_string(), from.port()]),
                    shown,
                )
            }
            Err(e) => failed(e),
        }
    }

    fn name(&self, fd: u32, peer: bool, host: &mut dyn Engine) -> Served {
        let Some(sock) = self.table.get(&fd) else {
            return failed(SocketError::BadSocket);
        };
        // A listener, or a bound datagram socket, answers with the address it was bound to
        // (`0.0.0.0` for any).
        let by_bind = sock.listening || (!sock.stream && sock.bound_ip.is_some());
        let info = sock.id.filter(|_| !by_bind).and_then(|id| host.info(id));
        let bound = SocketAddrV4::new(
            sock.bound_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            sock.port.unwrap_or(0),
        );
        let addr = match (peer, info) {
            (true, Some(i)) => i.remote,
            (false, Some(i)) => Some(i.local),
            (false, None) => Some(bound),
            (true, None) => None,
        };
        match addr {
            Some(a) => done(
                json!([a.ip().to_string(), a.port()]),
                format!("('{}', {})", a.ip(), a.port()),
            ),
            None => failed(SocketError::NotConnected),
        }
    }
}
