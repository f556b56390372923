//! The calls of a UDP socket: bound on `bind`, or on its first `sendto` (Linux binds an
//! ephemeral port then); `connect` names its peer without a packet.

use std::net::SocketAddr;

use serde_json::json;
use stack::{Engine, SocketError, SocketId};
use trace::{Time, python_bytes_shown};

use super::{Fd, Outcome, Sockets, none, shown_address};
use crate::errno::Errno;
use crate::protocol::{Flags, Kind, hex};

/// A datagram as `recv` shows it (its value and Python's text), and its sender.
type Datagram = ((serde_json::Value, String), SocketAddr);

/// The peer a UDP socket is connected to.
pub(super) fn peer_of(host: &dyn Engine, id: SocketId) -> Option<SocketAddr> {
    host.info(id).and_then(|i| i.remote)
}

impl Sockets {
    /// `bind((ip, port))` of a UDP socket.
    pub(super) fn udp_bind(
        &mut self,
        fd: Fd,
        local: SocketAddr,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let id = host.udp_bind_on(now, local, self.sock(fd)?.options)?;
        let sock = self.sock(fd)?;
        for option in options_of(&sock.options) {
            let _ = host.set_option(now, id, option);
        }
        sock.id = Some(id);
        sock.bound = host.info(id).map(|i| i.local);
        none()
    }

    /// The engine's socket for a UDP descriptor, bound to an ephemeral port of every
    /// address if the program never bound it.
    fn udp_socket(&mut self, fd: Fd, host: &mut dyn Engine, now: Time) -> Result<SocketId, Errno> {
        if let Some(id) = self.sock(fd)?.id {
            return Ok(id);
        }
        let any = SocketAddr::new(self.sock(fd)?.family.any(), 0);
        self.udp_bind(fd, any, host, now)?;
        self.sock(fd)?
            .id
            .ok_or(Errno::Stack(SocketError::BadSocket))
    }

    /// `connect((ip, port))` of a UDP socket: its peer, and (as Linux chooses it then) the
    /// address it sends from.
    pub(super) fn udp_connect(
        &mut self,
        fd: Fd,
        remote: SocketAddr,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let id = self.udp_socket(fd, host, now)?;
        host.udp_connect(id, remote)?;
        let source = host.source_address(remote.ip());
        let sock = self.sock(fd)?;
        if let Some(bound) = sock.bound
            && bound.ip().is_unspecified()
            && !source.is_unspecified()
        {
            sock.bound = Some(SocketAddr::new(source, bound.port()));
        }
        none()
    }

    /// `send(data)` on a UDP socket: to its peer.
    pub(super) fn udp_send(
        &mut self,
        fd: Fd,
        data: &[u8],
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let peer = self
            .sock(fd)?
            .id
            .and_then(|id| peer_of(host, id))
            .ok_or(Errno::DestinationRequired)?;
        self.sendto(fd, data, peer, host, now)
    }

    /// `sendto(data, (ip, port))`: one datagram (on a TCP socket, the address is ignored, as
    /// Linux ignores it).
    pub(super) fn sendto(
        &mut self,
        fd: Fd,
        data: &[u8],
        remote: SocketAddr,
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        if self.sock(fd)?.kind == Kind::Stream {
            return self.send(fd, data.to_vec(), (false, None, false), host, now);
        }
        let id = self.udp_socket(fd, host, now)?;
        let n = host.sendto(now, id, data, remote)?;
        Ok(Some((json!(n), n.to_string())))
    }

    /// The next datagram of a UDP socket, as `recv` shows it, and its sender; none while
    /// none has come (a socket never bound waits for ever, as on Linux).
    pub(super) fn udp_recv(
        &mut self,
        fd: Fd,
        max: usize,
        _flags: Flags,
        host: &mut dyn Engine,
        now: Time,
    ) -> Result<Option<Datagram>, Errno> {
        let Some(id) = self.sock(fd)?.id else {
            return Ok(None);
        };
        let Some((data, from)) = host.recvfrom(now, id, max.max(1))? else {
            return Ok(None);
        };
        Ok(Some(((json!(hex(&data)), python_bytes_shown(&data)), from)))
    }

    /// `recvfrom(max)`: a datagram and its sender; on a TCP socket, what `recv` gives and no
    /// address (`None`), as CPython shows it.
    pub(super) fn recvfrom(
        &mut self,
        fd: Fd,
        max: usize,
        (flags, nonblocking): (Flags, bool),
        host: &mut dyn Engine,
        now: Time,
    ) -> Outcome {
        let sock = self.sock(fd)?;
        let family = sock.family;
        if sock.kind == Kind::Stream || sock.pair.is_some() {
            let got = self.recv(fd, max, (flags, nonblocking), host, now)?;
            return Ok(got.map(|(data, shown)| (json!([data, null]), format!("({shown}, None)"))));
        }
        let nonblocking = nonblocking || flags.dont_wait;
        match self.udp_recv(fd, max, flags, host, now)? {
            None if nonblocking => Err(Errno::Again),
            None => Ok(None),
            Some(((data, shown), from)) => {
                let (address, from) = shown_address(family, from);
                Ok(Some((json!([data, address]), format!("({shown}, {from})"))))
            }
        }
    }
}

/// The options of a UDP socket that its engine socket takes.
fn options_of(options: &stack::SocketOptions) -> Vec<stack::SocketOption> {
    let mut out = vec![stack::SocketOption::Broadcast(options.broadcast)];
    if let Some(ttl) = options.ttl {
        out.push(stack::SocketOption::Ttl(ttl));
    }
    out
}
