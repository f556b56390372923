//! A script's system calls, made on the host's engine with Linux's semantics (the same socket
//! layer `packetlab py` uses: descriptors from 3, blocking and non-blocking calls, errno as
//! Linux gives it), and their results checked as packetdrill checks them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use python::protocol::{self, Family, Kind, Request, SockOpt};
use python::sockets::{Served, Sockets};
use serde_json::Value;
use stack::Engine;
use trace::Time;

use crate::packet::addr;
use crate::script::{Call, CallName, Expr};

/// Linux's numbers for the names scripts use.
const SYMBOLS: &[(&str, i64)] = &[
    ("AF_INET", 2),
    ("PF_INET", 2),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_NONBLOCK", 0x800),
    ("IPPROTO_IP", 0),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("SOL_SOCKET", 1),
    ("SOL_TCP", 6),
    ("SOL_IP", 0),
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_NONBLOCK", 0x800),
    ("F_GETFL", 3),
    ("F_SETFL", 4),
    ("POLLIN", 0x1),
    ("POLLPRI", 0x2),
    ("POLLOUT", 0x4),
    ("POLLERR", 0x8),
    ("POLLHUP", 0x10),
    ("POLLNVAL", 0x20),
    ("POLLRDNORM", 0x40),
    ("POLLWRNORM", 0x100),
    ("POLLRDHUP", 0x2000),
    ("MSG_PEEK", 0x2),
    ("MSG_DONTWAIT", 0x40),
    ("MSG_WAITALL", 0x100),
    ("MSG_NOSIGNAL", 0x4000),
    ("MSG_MORE", 0x8000),
    ("SHUT_RD", 0),
    ("SHUT_WR", 1),
    ("SHUT_RDWR", 2),
];

/// The socket options packetlab simulates, by the names scripts give them.
const OPTIONS: &[(&str, SockOpt)] = &[
    ("SO_REUSEADDR", SockOpt::SO_REUSEADDR),
    ("SO_KEEPALIVE", SockOpt::SO_KEEPALIVE),
    ("SO_RCVBUF", SockOpt::SO_RCVBUF),
    ("SO_SNDBUF", SockOpt::SO_SNDBUF),
    ("SO_LINGER", SockOpt::SO_LINGER),
    ("SO_ERROR", SockOpt::SO_ERROR),
    ("SO_BROADCAST", SockOpt::SO_BROADCAST),
    ("SO_ACCEPTCONN", SockOpt::SO_ACCEPTCONN),
    ("TCP_NODELAY", SockOpt::TCP_NODELAY),
    ("TCP_MAXSEG", SockOpt::TCP_MAXSEG),
    ("TCP_KEEPIDLE", SockOpt::TCP_KEEPIDLE),
    ("TCP_KEEPINTVL", SockOpt::TCP_KEEPINTVL),
    ("TCP_KEEPCNT", SockOpt::TCP_KEEPCNT),
    ("TCP_QUICKACK", SockOpt::TCP_QUICKACK),
    ("TCP_CORK", SockOpt::TCP_CORK),
    ("IP_TTL", SockOpt::IP_TTL),
];

const POLLIN: i64 = 0x1;
const POLLOUT: i64 = 0x4;
const POLLRDNORM: i64 = 0x40;
const POLLWRNORM: i64 = 0x100;
const O_NONBLOCK: i64 = 0x800;
const O_RDWR: i64 = 2;

/// Why a call cannot be made: something in it packetlab does not simulate, or a value that
/// does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

fn refused<T>(text: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(text.into()))
}

/// The value of a number or a symbol (or `A|B`).
pub(crate) fn value(expr: &Expr) -> Result<i64, Refused> {
    match expr {
        Expr::Int(n) => Ok(*n),
        Expr::Word(w) => match SYMBOLS.iter().find(|(name, _)| name == w) {
            Some((_, v)) => Ok(*v),
            None => refused(format!("`{w}`: packetlab knows no such constant")),
        },
        Expr::Or(a, b) => Ok(value(a)? | value(b)?),
        Expr::List(items) if items.len() == 1 => value(&items[0]),
        other => refused(format!("`{other}`: expected a number or a constant")),
    }
}

fn arg(call: &Call, n: usize) -> Result<&Expr, Refused> {
    call.args.get(n).map_or_else(
        || {
            refused(format!(
                "{} takes more arguments than the script gives",
                call.name.name()
            ))
        },
        Ok,
    )
}

/// The value of a structure's field (`linger=0` of `{onoff=1, linger=0}`).
pub(crate) fn field<'a>(expr: &'a Expr, name: &str) -> Option<&'a Expr> {
    match expr {
        Expr::Struct(items) | Expr::List(items) => items.iter().find_map(|item| match item {
            Expr::Field(n, v) if n == name => Some(&**v),
            other => field(other, name),
        }),
        _ => None,
    }
}

/// The octets a `struct msghdr` carries: the sum of its `msg_iov` lengths. A `msg_name`
/// other than `...` or ancillary data is refused (a stream socket takes neither).
fn iov_len(msg: &Expr) -> Result<usize, Refused> {
    let Expr::Struct(fields) = msg else {
        return refused(format!("sendmsg's message `{msg}`: expected a structure"));
    };
    let mut total = 0;
    for field in fields {
        match field {
            Expr::Field(name, given) if name == "msg_iov" => {
                let Expr::List(iovs) = given.as_ref() else {
                    return refused(format!("msg_iov `{given}`: expected a list of iovecs"));
                };
                for iov in iovs {
                    match iov {
                        Expr::Struct(parts) if parts.len() == 2 => {
                            total += value(&parts[1])?.max(0) as usize;
                        }
                        _ => {
                            return refused(format!(
                                "`{iov}`: expected an iovec `{{..., length}}`"
                            ));
                        }
                    }
                }
            }
            Expr::Field(name, given) if name == "msg_name" || name == "msg_flags" => {
                if !matches!(given.as_ref(), Expr::Ellipsis | Expr::Int(0)) {
                    return refused(format!("sendmsg's {name}={given}: packetlab sends none"));
                }
            }
            Expr::Field(name, given) if name == "msg_control" => {
                return refused(format!("sendmsg's {name}={given}: packetlab sends none"));
            }
            _ => return refused(format!("sendmsg's `{field}`: packetlab does not know it")),
        }
    }
    Ok(total)
}

/// An address argument: `...` for packetdrill's default, or a `sockaddr` structure.
fn sockaddr(expr: &Expr, default: SocketAddrV4) -> Result<SocketAddrV4, Refused> {
    if *expr == Expr::Ellipsis {
        return Ok(default);
    }
    let port = match field(expr, "sin_port") {
        Some(Expr::Apply(f, args)) if f == "htons" && args.len() == 1 => value(&args[0])?,
        _ => {
            return refused(format!(
                "`{expr}`: expected `...` or {{sa_family=AF_INET, sin_port=htons(N), sin_addr=inet_addr(\"A.B.C.D\")}}"
            ));
        }
    };
    let ip = match field(expr, "sin_addr") {
        Some(Expr::Apply(f, args)) if f == "inet_addr" => match args.first() {
            Some(Expr::Str(s)) => s
                .parse::<Ipv4Addr>()
                .map_err(|_| Refused(format!("`{s}` is not an IPv4 address")))?,
            _ => return refused("inet_addr takes a quoted address"),
        },
        _ => *default.ip(),
    };
    let port = u16::try_from(port).map_err(|_| Refused(format!("port {port} out of range")))?;
    Ok(SocketAddrV4::new(ip, port))
}

/// A call ready to be made, in live descriptors, whatever makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `socket()`: a stream or datagram socket, non-blocking from the start or not.
    Socket {
        /// Stream (TCP) or datagram (UDP).
        kind: Kind,
        /// SOCK_NONBLOCK.
        nonblocking: bool,
    },
    /// `bind()`.
    Bind(u32, SocketAddrV4),
    /// `listen()`.
    Listen(u32, u32),
    /// `accept()`.
    Accept(u32),
    /// `connect()`.
    Connect(u32, SocketAddrV4),
    /// `read`, `recv`, `recvfrom`: at most this many octets, with these flags.
    Recv {
        /// The descriptor.
        fd: u32,
        /// At most this many octets.
        max: usize,
        /// `MSG_*` flags.
        flags: i64,
        /// recvfrom: a datagram and its sender.
        from: bool,
    },
    /// `write`, `send`, `sendto`: this many zero octets.
    Send {
        /// The descriptor.
        fd: u32,
        /// Octets.
        len: usize,
        /// `MSG_*` flags.
        flags: i64,
        /// sendto's address.
        to: Option<SocketAddrV4>,
    },
    /// `close()`.
    Close(u32),
    /// `shutdown(how)`.
    Shutdown(u32, i64),
    /// `setsockopt()` (SO_LINGER's value: -1 off, else the seconds).
    SetOption(u32, SockOpt, i64),
    /// `getsockopt()`.
    GetOption(u32, SockOpt),
    /// `fcntl(fd, F_GETFL)` or `fcntl(fd, F_SETFL, flags)`.
    Fcntl(u32, Option<i64>),
    /// `poll`: each descriptor and the events asked for, and the timeout in milliseconds
    /// (negative: for ever).
    Poll(Vec<(u32, i64)>, i64),
    /// `getsockname()`.
    SockName(u32),
    /// `getpeername()`.
    PeerName(u32),
}

/// What a call returned: a value, or -1 and an errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// The return value, and what an out parameter received (getsockopt's value, poll's
    /// revents per descriptor).
    Value(i64, Vec<i64>),
    /// -1 with this errno.
    Errno(String),
}

impl std::fmt::Display for Got {
    /// `4`, or `-1 ECONNREFUSED`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Value(v, _) => write!(f, "{v}"),
            Got::Errno(e) => write!(f, "-1 {e}"),
        }
    }
}

/// The script's descriptors as the host numbered them.
#[derive(Debug, Default)]
pub struct Program {
    /// Script descriptor → live descriptor.
    fds: BTreeMap<i64, u32>,
}

impl Program {
    /// The live descriptor for a script's.
    fn fd(&self, expr: &Expr) -> Result<u32, Refused> {
        let n = value(expr)?;
        Ok(self.fds.get(&n).copied().unwrap_or(n.max(0) as u32))
    }

    /// Remember that the script's descriptor `script` is the live `live`.
    pub fn map_fd(&mut self, script: i64, live: i64) {
        if let (true, Ok(live)) = (script >= 0, u32::try_from(live)) {
            self.fds.insert(script, live);
        }
    }

    /// The call in live terms, or why it cannot be made.
    pub fn prepare(&self, call: &Call) -> Result<Op, Refused> {
        let fd = || self.fd(arg(call, 0)?);
        let len =
            |n: usize| -> Result<usize, Refused> { Ok(value(arg(call, n)?)?.max(0) as usize) };
        let flags = |n: usize| -> Result<i64, Refused> { call.args.get(n).map_or(Ok(0), value) };
        Ok(match call.name {
            CallName::Socket => socket(call)?,
            CallName::Bind => Op::Bind(
                fd()?,
                sockaddr(arg(call, 1)?, SocketAddrV4::new(addr::LOCAL, addr::PORT))?,
            ),
            CallName::Listen => Op::Listen(fd()?, value(arg(call, 1)?)?.clamp(0, 4096) as u32),
            CallName::Accept => Op::Accept(fd()?),
            CallName::Connect => Op::Connect(
                fd()?,
                sockaddr(arg(call, 1)?, SocketAddrV4::new(addr::REMOTE, addr::PORT))?,
            ),
            CallName::Read => Op::Recv {
                fd: fd()?,
                max: len(2)?,
                flags: 0,
                from: false,
            },
            CallName::Recv => Op::Recv {
                fd: fd()?,
                max: len(2)?,
                flags: flags(3)?,
                from: false,
            },
            CallName::Recvfrom => Op::Recv {
                fd: fd()?,
                max: len(2)?,
                flags: flags(3)?,
                from: true,
            },
            CallName::Write => Op::Send {
                fd: fd()?,
                len: len(2)?,
                flags: 0,
                to: None,
            },
            CallName::Send => Op::Send {
                fd: fd()?,
                len: len(2)?,
                flags: flags(3)?,
                to: None,
            },
            CallName::Sendmsg => Op::Send {
                fd: fd()?,
                len: iov_len(arg(call, 1)?)?,
                flags: flags(2)?,
                to: None,
            },
            CallName::Sendto => {
                let remote = SocketAddrV4::new(addr::REMOTE, addr::PORT);
                let to = sockaddr(call.args.get(4).unwrap_or(&Expr::Ellipsis), remote)?;
                Op::Send {
                    fd: fd()?,
                    len: len(2)?,
                    flags: flags(3)?,
                    to: Some(to),
                }
            }
            CallName::Close => Op::Close(fd()?),
            CallName::Shutdown => Op::Shutdown(fd()?, value(arg(call, 1)?)?),
            CallName::Setsockopt => {
                let opt = option(arg(call, 2)?)?;
                Op::SetOption(fd()?, opt, option_value(opt, arg(call, 3)?)?)
            }
            CallName::Getsockopt => Op::GetOption(fd()?, option(arg(call, 2)?)?),
            CallName::Getsockname => Op::SockName(fd()?),
            CallName::Getpeername => Op::PeerName(fd()?),
            CallName::Fcntl => match value(arg(call, 1)?)? {
                3 => Op::Fcntl(fd()?, None),
                4 => Op::Fcntl(fd()?, Some(value(arg(call, 2)?)?)),
                _ => return refused("fcntl: packetlab takes F_GETFL and F_SETFL"),
            },
            CallName::Poll => self.poll(call)?,
        })
    }

    fn poll(&self, call: &Call) -> Result<Op, Refused> {
        let Expr::List(items) = arg(call, 0)? else {
            return refused("poll takes a list of {fd=N, events=...}");
        };
        let mut fds = Vec::new();
        for item in items {
            let (Some(fd), Some(events)) = (field(item, "fd"), field(item, "events")) else {
                return refused(format!("`{item}`: expected {{fd=N, events=...}}"));
            };
            fds.push((self.fd(fd)?, value(events)?));
        }
        Ok(Op::Poll(fds, value(arg(call, 2)?)?))
    }
}

/// `socket(domain, type, protocol)`.
fn socket(call: &Call) -> Result<Op, Refused> {
    if !matches!(arg(call, 0)?, Expr::Ellipsis) && value(arg(call, 0)?)? != 2 {
        return refused("packetlab's hosts speak IPv4 only (AF_INET)");
    }
    let kind = value(arg(call, 1)?)?;
    let nonblocking = kind & 0x800 != 0;
    match kind & !0x800 {
        1 => Ok(Op::Socket {
            kind: Kind::Stream,
            nonblocking,
        }),
        2 => Ok(Op::Socket {
            kind: Kind::Dgram,
            nonblocking,
        }),
        _ => refused("packetlab makes SOCK_STREAM and SOCK_DGRAM sockets"),
    }
}

/// Calls made on a simulated host's engine, through the socket layer `packetlab py` uses.
#[derive(Debug, Default)]
pub struct SimCalls {
    sockets: Sockets,
    nonblocking: BTreeSet<u32>,
}

/// How a reply of the socket layer is read as the integer the system call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A new descriptor (socket, accept).
    Fd,
    /// A count (send).
    Count,
    /// Bytes, counted (recv).
    Bytes,
    /// 0 on success.
    Zero,
    /// getsockopt: 0, and the value goes to the out parameter.
    OptValue,
}

impl SimCalls {
    /// The engine's sockets behind the script's descriptors.
    pub fn engine_ids(&self) -> Vec<stack::SocketId> {
        self.sockets.engine_ids()
    }

    fn timeout(&self, fd: u32, flags: i64) -> Option<f64> {
        (self.nonblocking.contains(&fd) || flags & 0x40 != 0).then_some(0.0)
    }

    /// The socket layer's request for `op`.
    fn request(&self, op: &Op) -> Option<(Request, Shape)> {
        if let Some(made) = self.open_request(op).or_else(|| self.data_request(op)) {
            return Some(made);
        }
        let at = String::new();
        Some(match op {
            Op::Close(fd) => (Request::Close { fd: *fd, at }, Shape::Zero),
            Op::Shutdown(fd, how) => (
                Request::Shutdown {
                    fd: *fd,
                    how: *how,
                    at,
                },
                Shape::Zero,
            ),
            Op::SetOption(fd, opt, value) => (
                Request::Setsockopt {
                    fd: *fd,
                    opt: *opt,
                    value: *value,
                    at,
                },
                Shape::Zero,
            ),
            Op::GetOption(fd, opt) => (
                Request::Getsockopt {
                    fd: *fd,
                    opt: *opt,
                    at,
                },
                Shape::OptValue,
            ),
            Op::SockName(fd) => (Request::Getsockname { fd: *fd, at }, Shape::Zero),
            Op::PeerName(fd) => (Request::Getpeername { fd: *fd, at }, Shape::Zero),
            _ => return None,
        })
    }

    /// The calls that make, name and connect sockets.
    fn open_request(&self, op: &Op) -> Option<(Request, Shape)> {
        let at = String::new();
        Some(match op {
            Op::Socket { kind, .. } => (Request::socket(*kind, Family::Inet), Shape::Fd),
            Op::Bind(fd, a) => (
                Request::Bind {
                    fd: *fd,
                    host: a.ip().to_string(),
                    port: a.port(),
                    at,
                },
                Shape::Zero,
            ),
            Op::Listen(fd, backlog) => (
                Request::Listen {
                    fd: *fd,
                    backlog: *backlog,
                    at,
                },
                Shape::Zero,
            ),
            Op::Accept(fd) => (
                Request::Accept {
                    fd: *fd,
                    timeout: self.timeout(*fd, 0),
                    at,
                },
                Shape::Fd,
            ),
            Op::Connect(fd, a) => (
                Request::Connect {
                    fd: *fd,
                    host: a.ip().to_string(),
                    port: a.port(),
                    timeout: self.timeout(*fd, 0),
                    at,
                },
                Shape::Zero,
            ),
            _ => return None,
        })
    }

    /// The calls that move data: recv and recvfrom, send and sendto.
    fn data_request(&self, op: &Op) -> Option<(Request, Shape)> {
        let at = String::new();
        Some(match op {
            Op::Recv {
                fd,
                max,
                flags,
                from,
            } => {
                let (fd, max, flags, timeout) = (*fd, *max, *flags, self.timeout(*fd, *flags));
                let request = if *from {
                    Request::Recvfrom {
                        fd,
                        max,
                        timeout,
                        flags,
                        at,
                    }
                } else {
                    Request::Recv {
                        fd,
                        max,
                        timeout,
                        flags,
                        at,
                    }
                };
                (request, Shape::Bytes)
            }
            Op::Send {
                fd,
                len,
                to: Some(a),
                ..
            } => (
                Request::Sendto {
                    fd: *fd,
                    data: protocol::hex(&vec![0; *len]),
                    host: a.ip().to_string(),
                    port: a.port(),
                    at,
                },
                Shape::Count,
            ),
            Op::Send {
                fd,
                len,
                flags,
                to: None,
            } => (
                Request::Send {
                    fd: *fd,
                    data: protocol::hex(&vec![0; *len]),
                    timeout: self.timeout(*fd, *flags),
                    flags: *flags,
                    at,
                },
                Shape::Count,
            ),
            _ => return None,
        })
    }

    /// Make the call at `now` (first tried at `since`): `None` while it blocks.
    pub fn attempt(
        &mut self,
        op: &Op,
        host: &mut dyn Engine,
        (now, since): (Time, Time),
    ) -> Option<Got> {
        match op {
            Op::Fcntl(fd, set) => Some(self.fcntl(*fd, *set)),
            Op::Poll(fds, timeout_ms) => self.poll_now(fds, *timeout_ms, host, (now, since)),
            _ => {
                let (request, shape) = self.request(op)?;
                let got = match self.sockets.serve(0, &request, host, (now, since)) {
                    Served::Blocked => return None,
                    Served::Reply(reply, _) => read_reply(&reply, shape),
                };
                if let (
                    Op::Socket {
                        nonblocking: true, ..
                    },
                    Got::Value(fd, _),
                ) = (op, &got)
                {
                    self.nonblocking.insert(*fd as u32);
                }
                Some(got)
            }
        }
    }

    fn fcntl(&mut self, fd: u32, set: Option<i64>) -> Got {
        match set {
            Some(flags) if flags & O_NONBLOCK != 0 => {
                self.nonblocking.insert(fd);
            }
            Some(_) => {
                self.nonblocking.remove(&fd);
            }
            None => {}
        }
        let flags = O_RDWR
            | if self.nonblocking.contains(&fd) {
                O_NONBLOCK
            } else {
                0
            };
        Got::Value(if set.is_some() { 0 } else { flags }, Vec::new())
    }

    /// `poll`, as `select` answers it: POLLIN and POLLOUT.
    fn poll_now(
        &mut self,
        fds: &[(u32, i64)],
        timeout_ms: i64,
        host: &mut dyn Engine,
        (now, since): (Time, Time),
    ) -> Option<Got> {
        let wants = |mask: i64| -> Vec<u32> {
            fds.iter()
                .filter(|(_, e)| e & mask != 0)
                .map(|(fd, _)| *fd)
                .collect()
        };
        let timeout = (timeout_ms >= 0).then(|| timeout_ms as f64 / 1000.0);
        let request = Request::Select {
            read: wants(POLLIN | POLLRDNORM),
            write: wants(POLLOUT | POLLWRNORM),
            timeout,
            at: String::new(),
        };
        let Served::Reply(reply, _) = self.sockets.serve(0, &request, host, (now, since)) else {
            return None;
        };
        let ready = |n: usize| -> Vec<u64> {
            reply["ok"][n]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default()
        };
        let (readable, writable) = (ready(0), ready(1));
        let revents: Vec<i64> = fds
            .iter()
            .map(|&(fd, events)| {
                let mut r = 0;
                if readable.contains(&u64::from(fd)) {
                    r |= events & (POLLIN | POLLRDNORM);
                }
                if writable.contains(&u64::from(fd)) {
                    r |= events & (POLLOUT | POLLWRNORM);
                }
                r
            })
            .collect();
        let count = revents.iter().filter(|r| **r != 0).count() as i64;
        Some(Got::Value(count, revents))
    }
}

/// The option a name gives, or why packetlab does not take it.
fn option(expr: &Expr) -> Result<SockOpt, Refused> {
    let Expr::Word(name) = expr else {
        return refused(format!("`{expr}`: expected a socket option's name"));
    };
    OPTIONS
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, o)| *o)
        .map_or_else(
            || {
                refused(format!(
                    "the socket option {name}: packetlab does not simulate it"
                ))
            },
            Ok,
        )
}

/// A `setsockopt` value: `[1]`, `1`, or SO_LINGER's `{onoff=1, linger=0}` (as the socket
/// layer takes it: -1 off, else the seconds).
fn option_value(opt: SockOpt, expr: &Expr) -> Result<i64, Refused> {
    if opt == SockOpt::SO_LINGER {
        let on = field(expr, "onoff").map(value).transpose()?.unwrap_or(0);
        let secs = field(expr, "linger").map(value).transpose()?.unwrap_or(0);
        return Ok(if on == 0 { -1 } else { secs });
    }
    value(expr)
}

fn read_reply(reply: &Value, shape: Shape) -> Got {
    if let Some(errno) = reply.get("err").and_then(Value::as_str) {
        return Got::Errno(errno.to_string());
    }
    let ok = &reply["ok"];
    match shape {
        Shape::Fd => Got::Value(
            ok.as_i64().or_else(|| ok[0].as_i64()).unwrap_or(-1),
            Vec::new(),
        ),
        Shape::Count => Got::Value(ok.as_i64().unwrap_or(0), Vec::new()),
        Shape::Bytes => {
            let hex = ok.as_str().or_else(|| ok[0].as_str()).unwrap_or("");
            Got::Value(hex.len() as i64 / 2, Vec::new())
        }
        Shape::Zero => Got::Value(0, Vec::new()),
        Shape::OptValue => Got::Value(0, vec![ok.as_i64().unwrap_or(0)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Action;

    fn call(line: &str) -> Call {
        let script = crate::parse::parse(line).unwrap();
        let Action::Call(call) = script.events[0].action.clone() else {
            panic!("{line}: not a call")
        };
        call
    }

    #[test]
    fn sendmsg_sends_its_iovecs_as_one_buffer_with_its_flags() {
        let op = Program::default()
            .prepare(&call(
                "0 sendmsg(4, {msg_name(...)=..., msg_iov(3)=[{..., 100}, {..., 200}, \
                 {..., 195}], msg_flags=0}, MSG_MORE) = 495\n",
            ))
            .unwrap();
        let Op::Send { fd, len, flags, to } = op else {
            panic!("{op:?}")
        };
        assert_eq!((fd, len, flags, to), (4, 495, 0x8000, None));
        let refused = Program::default()
            .prepare(&call(
                "0 sendmsg(4, {msg_iov(1)=[{..., 1}], msg_control(1)=[1]}, 0) = 1\n",
            ))
            .unwrap_err();
        assert!(refused.0.contains("msg_control"), "{}", refused.0);
    }
}
