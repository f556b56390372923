//! Python's socket calls made on a host's engine, as Linux makes them: each program has a
//! table of its descriptors (numbered as Linux numbers them, the lowest free from 3), and
//! each call either completes now, with what CPython would return or raise, or must wait.
//! What a program leaves open when it ends is closed as the kernel closes it.

mod dgram;
mod options;
mod pair;
mod stream;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use program::{StreamHasher, Streams};
use serde_json::{Value, json};
use stack::{Engine, SocketError, SocketId, SocketOptions};
use trace::{TcpState, Time};

use crate::errno::Errno;
use crate::protocol::{self, Family, Flags, Kind, Request};
use pair::Pair;

/// What became of a call: its reply (and how the trace shows the result), or it must wait.
pub enum Served {
    /// The reply, and the result as Python would print it (none: `None`).
    Reply(Value, Option<String>),
    /// It would block: try again after the next event.
    Blocked,
}

/// What a call gives: its value and how Python shows it, or `None` while it would block, or
/// the errno it fails with.
type Outcome = Result<Option<(Value, String)>, Errno>;

/// A call that returns `None`.
fn none() -> Outcome {
    Ok(Some((Value::Null, "None".to_string())))
}

/// A program's descriptor: its process and its number.
pub(crate) type Fd = (usize, u32);

/// Where a TCP socket's `connect` stands, as the program has learnt it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connecting {
    /// Not asked to connect, or a blocking connect under way.
    Idle,
    /// Started by a non-blocking call: `connect` says EALREADY, `SO_ERROR` how it went.
    Started,
    /// Connected, and the program knows (a second `connect` is EISCONN).
    Done,
    /// It failed, and the program was told.
    Failed,
}

/// One socket of a program.
#[derive(Debug)]
struct Sock {
    kind: Kind,
    family: Family,
    /// The engine's socket, once there is one (after listen, connect, accept, a UDP bind).
    id: Option<SocketId>,
    /// The address given to `bind` (or chosen by `connect` for UDP), as `getsockname`
    /// shows it before there is a connection.
    bound: Option<SocketAddr>,
    listening: bool,
    /// The options set on it, handed to the engine when its socket is made.
    options: SocketOptions,
    /// SO_LINGER: none off, else the seconds `close` may wait (0: reset).
    linger: Option<u32>,
    connecting: Connecting,
    /// `shutdown(SHUT_RD)`: reading gives the end of the stream.
    shut_read: bool,
    /// One end of a `socketpair`, instead of an engine socket.
    pair: Option<Pair>,
}

impl Sock {
    fn new(kind: Kind, family: Family) -> Sock {
        Sock {
            kind,
            family,
            id: None,
            bound: None,
            listening: false,
            options: SocketOptions::default(),
            linger: None,
            connecting: Connecting::Idle,
            shut_read: false,
            pair: None,
        }
    }
}

/// Every socket of the programs on one host.
#[derive(Debug, Default)]
pub struct Sockets {
    table: BTreeMap<Fd, Sock>,
    /// A blocking `send` under way: its bytes and how many are queued.
    sending: BTreeMap<Fd, (Vec<u8>, usize)>,
    /// What each engine socket sent and received, for expectations that compare streams.
    streams: BTreeMap<SocketId, [StreamHasher; 2]>,
}

/// The seconds of a timeout as virtual time.
fn seconds(s: f64) -> Time {
    Time((s.max(0.0) * 1e9).round() as u64)
}

/// How late a timed wait ends: Linux lets a sleeping task's timer fire up to its timer
/// slack late (`timer_slack_ns`, 50 µs by default), so a program that sleeps or waits with a
/// timeout wakes a little after it asked, never early; one that does not wait at all (a
/// zero timeout) returns at once.
const TIMER_SLACK: Time = Time(50_000);

/// When a wait of `secs` that began at `since` ends.
pub(crate) fn expiry(since: Time, secs: f64) -> Time {
    let slack = if secs > 0.0 { TIMER_SLACK } else { Time::ZERO };
    since + seconds(secs) + slack
}

impl Family {
    /// Every address of the family (`0.0.0.0`, `::`), as an unbound socket shows it.
    fn any(self) -> IpAddr {
        match self {
            Family::Inet => Ipv4Addr::UNSPECIFIED.into(),
            Family::Inet6 => Ipv6Addr::UNSPECIFIED.into(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Inet => "AF_INET",
            Family::Inet6 => "AF_INET6",
        }
    }
}

/// `host` as the engine takes it from `sock`: for `AF_INET6`, an IPv4-mapped address
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) stands for the IPv4 address it holds, as a
/// dual-stack socket on Linux reaches IPv4 through it; a socket with `IPV6_V6ONLY` fails
/// with `mapped` instead.
fn address(sock: &Sock, host: &str, port: u16, mapped: SocketError) -> Result<SocketAddr, Errno> {
    let invalid = || Errno::Stack(SocketError::InvalidArgument);
    let ip: IpAddr = match sock.family {
        Family::Inet => IpAddr::V4(host.parse().map_err(|_| invalid())?),
        Family::Inet6 => {
            let ip: Ipv6Addr = host.parse().map_err(|_| invalid())?;
            match ip.to_ipv4_mapped() {
                Some(_) if sock.options.v6only => return Err(Errno::Stack(mapped)),
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(ip),
            }
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// An address as Python shows it on a socket of `family`, and as the reply carries it:
/// `AF_INET6`'s `(host, port, flowinfo, scope_id)`, an IPv4 peer shown mapped.
fn shown_address(family: Family, a: SocketAddr) -> (Value, String) {
    let ip = match (family, a.ip()) {
        (Family::Inet6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (_, ip) => ip,
    };
    match family {
        Family::Inet => (
            json!([ip.to_string(), a.port()]),
            format!("('{ip}', {})", a.port()),
        ),
        Family::Inet6 => (
            json!([ip.to_string(), a.port(), 0, 0]),
            format!("('{ip}', {}, 0, 0)", a.port()),
        ),
    }
}

impl Sockets {
    /// The engine's sockets behind the table's descriptors.
    pub fn engine_ids(&self) -> Vec<SocketId> {
        self.table.values().filter_map(|s| s.id).collect()
    }

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

    /// Make `request` of program `process` on `host` at `now` (first tried at `since`, for
    /// its timeout).
    pub fn serve(
        &mut self,
        process: usize,
        request: &Request,
        host: &mut dyn Engine,
        (now, since): (Time, Time),
    ) -> Served {
        let timeout = request.timeout();
        let outcome = match request {
            Request::Select {
                read,
                write,
                timeout,
                ..
            } => {
                let expired = timeout.is_some_and(|t| now >= expiry(since, t));
                self.select(process, (read, write), host, expired)
            }
            Request::Sleep { secs, .. } => {
                Ok((now >= expiry(since, *secs)).then(|| (Value::Null, "None".to_string())))
            }
            Request::Time { .. } => {
                let secs = now.as_nanos() as f64 / 1e9;
                Ok(Some((json!(secs), secs.to_string())))
            }
            other => self.call(process, other, host, now),
        };
        match outcome {
            Ok(Some((value, shown))) => Served::Reply(protocol::ok(value), Some(shown)),
            Err(e) => Served::Reply(protocol::err(e), Some(e.shown())),
            Ok(None) if timeout == Some(0.0) => {
                Served::Reply(protocol::err(Errno::Again), Some(Errno::Again.shown()))
            }
            Ok(None) if timeout.is_some_and(|t| now >= expiry(since, t)) => Served::Reply(
                protocol::timed_out(),
                Some("TimeoutError: timed out".to_string()),
            ),
            Ok(None) => Served::Blocked,
        }
    }

    /// A socket call of program `process`.
    fn call(
        &mut self,
        process: usize,
        request: &Request,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let nonblocking = request.timeout() == Some(0.0);
        match request {
            Request::Socket { kind, family, .. } => Ok(Some(self.socket(process, *kind, *family))),
            Request::Socketpair { kind, .. } => Ok(Some(self.socketpair(process, *kind))),
            Request::Setsockopt { fd, opt, value, .. } => {
                self.setsockopt((process, *fd), *opt, *value, host, now)
            }
            Request::Getsockopt { fd, opt, .. } => self.getsockopt((process, *fd), *opt, host),
            Request::Bind {
                fd, host: ip, port, ..
            } => {
                let invalid = SocketError::InvalidArgument;
                let local = address(self.sock((process, *fd))?, ip, *port, invalid)?;
                self.bind((process, *fd), local, host, now)
            }
            Request::Listen { fd, backlog, .. } => self.listen((process, *fd), *backlog, host, now),
            Request::Accept { fd, .. } => self.accept((process, *fd), host, now),
            Request::Connect {
                fd, host: ip, port, ..
            } => {
                let unreachable = SocketError::NetworkUnreachable;
                let remote = address(self.sock((process, *fd))?, ip, *port, unreachable)?;
                self.connect((process, *fd), remote, nonblocking, host, now)
            }
            Request::Send {
                fd, data, flags, ..
            } => {
                let data = protocol::unhex(data).ok_or(SocketError::InvalidArgument)?;
                let flags = Flags::from_bits(*flags);
                self.send(
                    (process, *fd),
                    data,
                    (
                        nonblocking || flags.dont_wait,
                        request.timeout(),
                        flags.more,
                    ),
                    host,
                    now,
                )
            }
            Request::Recv { fd, max, flags, .. } => {
                let flags = Flags::from_bits(*flags);
                self.recv((process, *fd), *max, (flags, nonblocking), host, now)
            }
            Request::Sendto {
                fd,
                data,
                host: ip,
                port,
                ..
            } => {
                let data = protocol::unhex(data).ok_or(SocketError::InvalidArgument)?;
                let unreachable = SocketError::NetworkUnreachable;
                let remote = address(self.sock((process, *fd))?, ip, *port, unreachable)?;
                self.sendto((process, *fd), &data, remote, host, now)
            }
            Request::Recvfrom { fd, max, flags, .. } => {
                let flags = Flags::from_bits(*flags);
                self.recvfrom((process, *fd), *max, (flags, nonblocking), host, now)
            }
            Request::Shutdown { fd, how, .. } => self.shutdown((process, *fd), *how, host, now),
            Request::Close { fd, .. } => self.close((process, *fd), host, now),
            Request::Getsockname { fd, .. } => self.sockname((process, *fd), host),
            Request::Getpeername { fd, .. } => self.peername((process, *fd), host),
            _ => none(),
        }
    }

    /// `socket(family, kind)`: a descriptor, as `repr` shows it.
    fn socket(&mut self, process: usize, kind: Kind, family: Family) -> (Value, String) {
        let fd = self.open(process, Sock::new(kind, family));
        let what = match kind {
            Kind::Stream => "SOCK_STREAM",
            Kind::Dgram => "SOCK_DGRAM",
        };
        (
            json!(fd),
            format!("<socket fd={fd}, {}, {what}>", family.name()),
        )
    }

    /// A new descriptor of `process` for `sock`: the lowest number free, from 3 (0, 1 and
    /// 2 are the standard streams), as Linux hands them out.
    fn open(&mut self, process: usize, sock: Sock) -> u32 {
        let taken = self
            .table
            .range((process, 0)..(process + 1, 0))
            .map(|(k, _)| k.1);
        let mut fd = 3;
        for n in taken {
            if n != fd {
                break;
            }
            fd += 1;
        }
        self.table.insert((process, fd), sock);
        fd
    }

    fn sock(&mut self, fd: Fd) -> Result<&mut Sock, Errno> {
        self.table
            .get_mut(&fd)
            .ok_or(Errno::Stack(SocketError::BadSocket))
    }

    /// `close()`: the descriptor goes, and with it the socket (as the kernel closes it: FIN,
    /// or RST where data was left unread or SO_LINGER is 0).
    fn close(&mut self, fd: Fd, host: &mut dyn Engine, now: Time) -> Outcome {
        let sock = self
            .table
            .remove(&fd)
            .ok_or(Errno::Stack(SocketError::BadSocket))?;
        self.sending.remove(&fd);
        if let Some(pair) = &sock.pair {
            self.pair_closed(pair.peer);
        } else if let Some(id) = sock.id {
            let _ = match sock.linger {
                Some(0) if sock.kind == Kind::Stream && !sock.listening => host.abort(now, id),
                _ => host.close(now, id),
            };
        }
        none()
    }

    /// Everything program `process` left open, closed as the kernel closes the descriptors
    /// of a process that exits: in order of their numbers.
    pub fn close_process(&mut self, process: usize, host: &mut dyn Engine, now: Time) {
        let open: Vec<Fd> = self
            .table
            .range((process, 0)..(process + 1, 0))
            .map(|(k, _)| *k)
            .collect();
        for fd in open {
            let _ = self.close(fd, host, now);
        }
    }

    /// `select`: the sockets among `read` and `write` that are ready; blocks while none is,
    /// until `expired` (then, none).
    fn select(
        &self,
        process: usize,
        (read, write): (&[u32], &[u32]),
        host: &dyn Engine,
        expired: bool,
    ) -> Outcome {
        let mut r = Vec::new();
        let mut w = Vec::new();
        for (fds, want_read, ready) in [(read, true, &mut r), (write, false, &mut w)] {
            for &fd in fds {
                let (readable, writable) = self.readiness((process, fd), host)?;
                if (want_read && readable) || (!want_read && writable) {
                    ready.push(fd);
                }
            }
        }
        if r.is_empty() && w.is_empty() && !expired {
            return Ok(None);
        }
        // As Python prints select's answer: `([3], [], [])`.
        let list = |fds: &[u32]| {
            let items: Vec<String> = fds.iter().map(u32::to_string).collect();
            format!("[{}]", items.join(", "))
        };
        let shown = format!("({}, {}, [])", list(&r), list(&w));
        Ok(Some((json!([r, w]), shown)))
    }

    /// Whether a read and a write on `fd` would complete now.
    fn readiness(&self, fd: Fd, host: &dyn Engine) -> Result<(bool, bool), Errno> {
        let sock = self
            .table
            .get(&fd)
            .ok_or(Errno::Stack(SocketError::BadSocket))?;
        if let Some(pair) = &sock.pair {
            return Ok(pair.readiness());
        }
        let Some(id) = sock.id else {
            // A socket with nothing behind it yet: Linux's poll says HUP for a TCP one
            // (select shows it readable) and writable for a UDP one.
            return Ok((sock.kind == Kind::Stream, sock.kind == Kind::Dgram));
        };
        let ready = host.readiness(id).unwrap_or_default();
        let has_data = ready.readable || (sock.shut_read && sock.kind == Kind::Stream);
        Ok((has_data, ready.writable))
    }

    /// `getsockname()`.
    fn sockname(&mut self, fd: Fd, host: &dyn Engine) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.pair.is_some() {
            return Ok(Some((json!(""), "''".to_string())));
        }
        let connected = sock.kind == Kind::Stream && !sock.listening;
        let local = match sock.id.filter(|_| connected).and_then(|id| host.info(id)) {
            Some(info) => info.local,
            None => sock.bound.unwrap_or(SocketAddr::new(sock.family.any(), 0)),
        };
        Ok(Some(shown_address(sock.family, local)))
    }

    /// `getpeername()`.
    fn peername(&mut self, fd: Fd, host: &dyn Engine) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.pair.is_some() {
            return Ok(Some((json!(""), "''".to_string())));
        }
        let peer = match sock.kind {
            Kind::Dgram => sock.id.and_then(|id| dgram::peer_of(host, id)),
            Kind::Stream if sock.listening => None,
            Kind::Stream => sock
                .id
                .and_then(|id| host.info(id))
                .filter(|i| !matches!(i.state, TcpState::Closed | TcpState::SynSent))
                .and_then(|i| i.remote),
        };
        let peer = peer.ok_or(Errno::Stack(SocketError::NotConnected))?;
        Ok(Some(shown_address(sock.family, peer)))
    }

    /// `shutdown(how)`: SHUT_RD (0), SHUT_WR (1) or both (2).
    fn shutdown(&mut self, fd: Fd, how: i64, host: &mut dyn Engine, now: Time) -> Outcome {
        let sock = self.sock(fd)?;
        if !(0..=2).contains(&how) {
            return Err(Errno::Stack(SocketError::InvalidArgument));
        }
        if let Some(pair) = &mut sock.pair {
            let peer = pair.peer;
            if how != 0 {
                self.pair_closed(peer);
            }
            return none();
        }
        let id = match sock.id {
            Some(id) if !sock.listening => id,
            _ => return Err(Errno::Stack(SocketError::NotConnected)),
        };
        if how != 1 {
            sock.shut_read = true;
        }
        if how != 0 {
            host.shutdown_write(now, id)?;
        }
        none()
    }
}
