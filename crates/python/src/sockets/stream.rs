//! The calls of a TCP socket (and the calls every kind shares, which hand a datagram socket
//! or a pair's end to their own modules): bind, listen, accept, connect, send, recv.

use std::net::SocketAddr;

use serde_json::json;
use stack::{Binding, Engine, SocketError, SocketOption, SocketOptions};
use trace::{TcpState, Time, python_bytes_shown};

use super::{Connecting, Fd, Outcome, Sock, Sockets, none, shown_address};
use crate::errno::Errno;
use crate::protocol::{Flags, Kind, hex};

impl Sockets {
    /// `bind((ip, port))`: a UDP socket binds now; a TCP socket keeps its address for
    /// `listen` or `connect`, holding the port against other binds as Linux does.
    pub(super) fn bind(
        &mut self,
        fd: Fd,
        local: SocketAddr,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.bound.is_some() || sock.id.is_some() || sock.pair.is_some() {
            return Err(Errno::Stack(SocketError::InvalidArgument));
        }
        if !host.is_own_address(local.ip()) {
            return Err(Errno::Stack(SocketError::AddrNotAvailable));
        }
        if sock.kind == Kind::Dgram {
            return self.udp_bind(fd, local, host, now);
        }
        let options = sock.options;
        let port = match local.port() {
            0 => self.free_tcp_port(host)?,
            port => {
                self.check_port(fd, local, &options)?;
                host.bind_port(local, &options)?;
                port
            }
        };
        self.sock(fd)?.bound = Some(SocketAddr::new(local.ip(), port));
        none()
    }

    /// Linux's rule among sockets bound and not yet connected: two may share an address
    /// (or overlapping ones, as `0.0.0.0` and `127.0.0.1`) only if both set SO_REUSEADDR and
    /// neither listens.
    fn check_port(&self, fd: Fd, local: SocketAddr, options: &SocketOptions) -> Result<(), Errno> {
        let new = Binding::of(local.ip(), options);
        let overlaps = |b: SocketAddr, s: &Sock| {
            let theirs = Binding::of(b.ip(), &s.options);
            b.port() == local.port() && theirs.overlaps(new)
        };
        let clash = self.table.iter().any(|(&other, s)| {
            other != fd
                && s.kind == Kind::Stream
                && s.bound.is_some_and(|b| overlaps(b, s))
                && (s.id.is_none() || s.listening)
                && !(options.reuse_addr && s.options.reuse_addr && !s.listening)
        });
        if clash {
            Err(Errno::Stack(SocketError::AddrInUse))
        } else {
            Ok(())
        }
    }

    /// A port for `bind((ip, 0))`: the engine's choice, not one a bound socket holds.
    fn free_tcp_port(&self, host: &mut dyn Engine) -> Result<u16, Errno> {
        for _ in 0..64 {
            let Some(port) = host.ephemeral_tcp_port() else {
                break;
            };
            let held = self
                .table
                .values()
                .any(|s| s.kind == Kind::Stream && s.bound.is_some_and(|b| b.port() == port));
            if !held {
                return Ok(port);
            }
        }
        Err(Errno::Stack(SocketError::AddrInUse))
    }

    /// `listen(backlog)`: on the bound address, or on an ephemeral port of every address
    /// if the socket was never bound (Linux binds it then).
    pub(super) fn listen(
        &mut self,
        fd: Fd,
        backlog: u32,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.kind == Kind::Dgram || sock.pair.is_some() {
            return Err(Errno::NotSupported);
        }
        if sock.listening {
            return none(); // Linux takes a second listen() as a new backlog.
        }
        if sock.id.is_some() {
            return Err(Errno::Stack(SocketError::InvalidArgument));
        }
        let local = match sock.bound {
            Some(local) => local,
            None => SocketAddr::new(sock.family.any(), self.free_tcp_port(host)?),
        };
        let sock = self.sock(fd)?;
        let id = host.listen_on(now, local, backlog, sock.options)?;
        sock.id = Some(id);
        sock.bound = Some(local);
        sock.listening = true;
        none()
    }

    /// `accept()`: the next connection, a new descriptor with the listener's options.
    pub(super) fn accept(&mut self, fd: Fd, host: &mut dyn Engine, now: Time) -> Outcome {
        let sock = self.sock(fd)?;
        let family = sock.family;
        let (listener, options) = match sock.id {
            Some(id) if sock.listening => (id, sock.options),
            _ => return Err(Errno::Stack(SocketError::InvalidArgument)),
        };
        let Some(id) = host.accept(now, listener)? else {
            return Ok(None);
        };
        let mut conn = Sock::new(Kind::Stream, family);
        conn.id = Some(id);
        conn.options = options;
        conn.connecting = Connecting::Done;
        let new = self.open(fd.0, conn);
        let remote = host.info(id).and_then(|i| i.remote);
        let remote = remote.unwrap_or(SocketAddr::new(family.any(), 0));
        let (address, shown) = shown_address(family, remote);
        Ok(Some((
            json!([new, address]),
            format!("(<socket fd={new}>, {shown})"),
        )))
    }

    /// `connect((ip, port))`: a datagram socket's peer; a TCP socket's handshake, waited for,
    /// or started and reported as EINPROGRESS when the socket does not block (then
    /// EALREADY while under way, how it went once, and EISCONN).
    pub(super) fn connect(
        &mut self,
        fd: Fd,
        remote: SocketAddr,
        nonblocking: bool,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.kind == Kind::Dgram {
            return self.udp_connect(fd, remote, host, now);
        }
        if sock.listening || sock.pair.is_some() || sock.connecting == Connecting::Done {
            return Err(Errno::IsConnected);
        }
        let id = match sock.id {
            Some(id) => id,
            None => {
                let id = host.connect_from(now, remote, sock.bound, sock.options)?;
                sock.id = Some(id);
                if nonblocking {
                    sock.connecting = Connecting::Started;
                    return Err(Errno::InProgress);
                }
                id
            }
        };
        let status = host.connect_status(id);
        match (status, sock.connecting) {
            (None, Connecting::Started) => Err(Errno::Already),
            (None, _) => Ok(None),
            (Some(Ok(())), _) => {
                sock.connecting = Connecting::Done;
                none()
            }
            (Some(Err(e)), _) => {
                sock.connecting = Connecting::Failed;
                Err(e.into())
            }
        }
    }

    /// `send(data)`: on a blocking socket, everything before it returns (Linux's
    /// `tcp_sendmsg` waits for room); with a timeout, what fits once something does; without
    /// waiting, what fits or EAGAIN.
    pub(super) fn send(
        &mut self,
        fd: Fd,
        data: Vec<u8>,
        (nonblocking, timeout, more): (bool, Option<f64>, bool),
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        if sock.kind == Kind::Dgram && sock.pair.is_none() {
            return self.udp_send(fd, &data, host, now);
        }
        if sock.pair.is_some() {
            let sent = self.pair_send(fd, &data)?;
            return match sent {
                Some(n) => Ok(Some((json!(n), n.to_string()))),
                None if nonblocking => Err(Errno::Again),
                None => Ok(None),
            };
        }
        let id = match sock.id {
            Some(id) if !sock.listening => id,
            // Linux: EPIPE on a socket never connected.
            _ => return Err(Errno::Stack(SocketError::BrokenPipe)),
        };
        let all = !nonblocking && timeout.is_none();
        let (data, done) = match self.sending.remove(&fd) {
            Some(progress) if all => progress,
            _ => (data, 0),
        };
        let sent = if more {
            host.send_more(now, id, &data[done..])
        } else {
            host.send(now, id, &data[done..])
        };
        let queued = match sent {
            Ok(n) => n,
            // What was queued before the error is reported instead, as Linux does.
            Err(_) if done > 0 => return Ok(Some((json!(done), done.to_string()))),
            Err(e) => return Err(e.into()),
        };
        self.streams.entry(id).or_default()[0].update(&data[done..done + queued]);
        let total = done + queued;
        if all && total < data.len() {
            self.sending.insert(fd, (data, total));
            return Ok(None);
        }
        match total {
            0 if !data.is_empty() && nonblocking => Err(Errno::Again),
            0 if !data.is_empty() => Ok(None),
            n => Ok(Some((json!(n), n.to_string()))),
        }
    }

    /// `recv(max, flags)`: what has arrived, up to `max`; `b''` at the end of the stream.
    /// MSG_PEEK leaves it to be read again, MSG_WAITALL waits for `max` (or the end),
    /// MSG_DONTWAIT does not wait.
    pub(super) fn recv(
        &mut self,
        fd: Fd,
        max: usize,
        (flags, nonblocking): (Flags, bool),
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        let nonblocking = nonblocking || flags.dont_wait;
        if sock.pair.is_some() {
            let got = self.pair_recv(fd, max.max(1), flags.peek)?;
            return match got {
                None if nonblocking => Err(Errno::Again),
                other => Ok(other),
            };
        }
        if sock.kind == Kind::Dgram {
            let got = self.udp_recv(fd, max, flags, host, now)?;
            return match got {
                None if nonblocking => Err(Errno::Again),
                other => Ok(other.map(|(data, _)| data)),
            };
        }
        let id = match sock.id {
            Some(id) if !sock.listening => id,
            _ => return Err(Errno::Stack(SocketError::NotConnected)),
        };
        let shut = sock.shut_read;
        let max = max.max(1);
        let available = host.peek(id, usize::MAX)?;
        let ended = |host: &dyn Engine| {
            host.info(id).is_none_or(|i| {
                matches!(
                    i.state,
                    TcpState::CloseWait
                        | TcpState::LastAck
                        | TcpState::Closing
                        | TcpState::TimeWait
                        | TcpState::Closed
                )
            })
        };
        let ready = match &available {
            None => shut,
            Some(data) if flags.wait_all && !nonblocking => {
                data.len() >= max || data.is_empty() || ended(host)
            }
            Some(_) => true,
        };
        if !ready {
            return if nonblocking {
                Err(Errno::Again)
            } else {
                Ok(None)
            };
        }
        let data = match available {
            None => Vec::new(),
            Some(_) if flags.peek => host.peek(id, max)?.unwrap_or_default(),
            Some(_) => host.recv(now, id, max)?.unwrap_or_default(),
        };
        if !flags.peek {
            self.streams.entry(id).or_default()[1].update(&data);
        }
        Ok(Some((json!(hex(&data)), python_bytes_shown(&data))))
    }

    /// Set one option on `fd`'s engine socket, if it has one yet (the rest are handed over
    /// when it is made).
    pub(super) fn apply(&mut self, fd: Fd, option: SocketOption, host: &mut dyn Engine, now: Time) {
        if let Some(sock) = self.table.get_mut(&fd) {
            sock.options.apply(option);
            if let Some(id) = sock.id {
                let _ = host.set_option(now, id, option);
            }
        }
    }
}
