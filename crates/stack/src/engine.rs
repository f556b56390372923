//! What every host engine offers, in two parts: to its driver (the simulator, the TAP loop),
//! frames in and out, timers, trace events and wake-ups ([`Driven`]); to the programs on the
//! host, the socket calls ([`SocketApi`]). An [`Engine`] is both. Our [`crate::Host`] is one
//! engine; the smoltcp-backed reference host is another, so that every lesson can be
//! replayed against an independent implementation.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use trace::{Event, Time};

use crate::{PingResult, SocketError, SocketId, SocketInfo, SocketOption, SocketOptions, TcpInfo};

/// What `select` would say of a socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A read would not block: data, end of stream, an error, or (a listener) a connection
    /// to accept.
    pub readable: bool,
    /// A write would not block: room in the send buffer, or an error it would report.
    pub writable: bool,
}

/// A host engine as its driver sees it, sans-IO: the driver hands it frames and the time,
/// and takes the frames and events it made (quinn-proto's `handle_event` / `poll_transmit`).
pub trait Driven: std::fmt::Debug {
    /// The host's name, as used in traces.
    fn name(&self) -> &str;

    /// Which implementation this is ("packetlab", "smoltcp"), for traces and lessons.
    fn engine_name(&self) -> &'static str;

    /// A frame arrived on the interface; `frame_number` names it in the capture.
    fn receive(&mut self, now: Time, bytes: &[u8], frame_number: u64);

    /// Run every timer due at `now`.
    fn poll_timers(&mut self, now: Time);

    /// The earliest time at which [`Driven::poll_timers`] has work.
    fn poll_at(&self) -> Option<Time>;

    /// Frames to transmit, in order.
    fn take_frames(&mut self) -> Vec<Vec<u8>>;

    /// Frames for the loopback interface `lo` (to 127.0.0.0/8 or to the host's own
    /// address), in order: the driver hands each back through [`Driven::receive_loopback`].
    /// An engine without a loopback interface has none.
    fn take_loopback_frames(&mut self) -> Vec<Vec<u8>> {
        Vec::new()
    }

    /// A frame came back through the loopback interface.
    fn receive_loopback(&mut self, _now: Time, _bytes: &[u8], _frame_number: u64) {}

    /// Trace events since the last call.
    fn take_events(&mut self) -> Vec<Event>;

    /// How many connections are not CLOSED yet (listeners not counted): a driver keeps
    /// going while there are any, even with no timer set (FIN-WAIT-2 waits on the peer).
    fn open_connections(&self) -> usize;

    /// The connections that something happened to (a segment, a timer, a call) since the last
    /// call, so that a server with many connections looks only at those: `None` where the
    /// engine cannot tell (then every connection may have changed). The first call starts
    /// the count.
    fn take_woken(&mut self) -> Option<Vec<SocketId>> {
        None
    }
}

/// A host engine as its programs see it: the calls of the BSD socket API (RFC 9293
/// §3.10's OPEN, SEND, RECEIVE, CLOSE and ABORT among them), each returning at once; a
/// call that would block returns `None` or 0, and the program asks again later.
pub trait SocketApi {
    /// `bind(local)` of a TCP socket with `options` (`SO_REUSEADDR`, `IPV6_V6ONLY`): whether
    /// the address may be taken. As on Linux, where a listener holds an address that
    /// overlaps it (see [`crate::Binding::overlaps`]), never; where a connection still holds
    /// one (in TIME-WAIT, say), only when both its socket and the new one set
    /// `SO_REUSEADDR`. An engine that cannot tell lets every bind through.
    fn bind_port(&self, _local: SocketAddr, _options: &SocketOptions) -> Result<(), SocketError> {
        Ok(())
    }

    /// Whether `bind` may name `ip`: one of the host's addresses (127.0.0.0/8 and `::1`
    /// included), or `0.0.0.0` or `::`. An engine that cannot tell takes every address.
    fn is_own_address(&self, _ip: IpAddr) -> bool {
        true
    }

    /// The address a socket that sends to `remote` sends from (source address selection):
    /// the loopback address through lo, else the interface's; unspecified where the engine
    /// cannot tell.
    fn source_address(&self, remote: IpAddr) -> IpAddr {
        match remote {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        }
    }

    /// The receive and send buffers a socket gets unless it sets its own (octets).
    fn default_buffers(&self) -> (u32, u32) {
        (65_535, 65_536)
    }

    /// The largest payload a segment of connection `id` carries now (Linux's `mss_cache`,
    /// what TCP_MAXSEG reads): the MSS less the options every segment carries.
    fn segment_size(&self, _id: SocketId) -> Option<u16> {
        None
    }

    /// A free port for `bind((ip, 0))` of a TCP socket, from the ephemeral range; none where
    /// the engine does not choose ports itself.
    fn ephemeral_tcp_port(&mut self) -> Option<u16> {
        None
    }

    /// Whether the host speaks IPv6 (has an IPv6 address).
    fn has_ipv6(&self) -> bool {
        false
    }

    /// Every address of the host: `::` where it speaks IPv6 (a dual-stack socket, as
    /// Linux's with `IPV6_V6ONLY` 0, takes IPv4 too), else `0.0.0.0`.
    fn any_address(&self) -> IpAddr {
        if self.has_ipv6() {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        }
    }

    /// `listen(port, backlog)` on every address (`bind(('', port))`), default options.
    fn listen(&mut self, now: Time, port: u16, backlog: u32) -> Result<SocketId, SocketError> {
        let any = SocketAddr::new(self.any_address(), port);
        self.listen_on(now, any, backlog, SocketOptions::default())
    }

    /// `bind(local)` then `listen(backlog)`, with the options set before: a listener that
    /// takes connections to `local`'s address only, or to any (`0.0.0.0`). An engine that
    /// cannot bind one address listens on all, and ignores the options.
    fn listen_on(
        &mut self,
        now: Time,
        local: SocketAddr,
        backlog: u32,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError>;

    /// `accept()`: `None` while nothing is ready.
    fn accept(&mut self, now: Time, listener: SocketId) -> Result<Option<SocketId>, SocketError>;

    /// `connect()`, returning at once.
    fn connect(&mut self, now: Time, remote: SocketAddr) -> Result<SocketId, SocketError> {
        self.connect_from(now, remote, None, SocketOptions::default())
    }

    /// `connect()` from a socket bound to `local` first (its address, or port, or both; an
    /// ephemeral port where 0), with the options set before the SYN leaves. An engine that
    /// cannot choose its end ignores `local` and the options.
    fn connect_from(
        &mut self,
        now: Time,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError>;

    /// `None` while the handshake is under way; then whether it succeeded.
    fn connect_status(&self, id: SocketId) -> Option<Result<(), SocketError>>;

    /// `send()`: how many octets were taken; 0 when the buffer is full.
    fn send(&mut self, now: Time, id: SocketId, data: &[u8]) -> Result<usize, SocketError>;

    /// `send(MSG_MORE)`: as `send`, but a partial segment waits for more data (Linux). An
    /// engine without MSG_MORE sends as `send` does.
    fn send_more(&mut self, now: Time, id: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        self.send(now, id, data)
    }

    /// `recv(max)`: `None` while nothing has arrived, `Some(empty)` at end of stream.
    fn recv(&mut self, now: Time, id: SocketId, max: usize)
    -> Result<Option<Vec<u8>>, SocketError>;

    /// `recv(max, MSG_PEEK)`: as `recv`, but the data stays to be read again.
    fn peek(&mut self, _id: SocketId, _max: usize) -> Result<Option<Vec<u8>>, SocketError> {
        Err(SocketError::Unsupported)
    }

    /// `shutdown(SHUT_WR)`.
    fn shutdown_write(&mut self, now: Time, id: SocketId) -> Result<(), SocketError>;

    /// `close()`.
    fn close(&mut self, now: Time, id: SocketId) -> Result<(), SocketError>;

    /// Close with RST.
    fn abort(&mut self, now: Time, id: SocketId) -> Result<(), SocketError>;

    /// `setsockopt()` at `now`: TCP_NODELAY on and TCP_CORK off send what they released.
    fn set_option(
        &mut self,
        now: Time,
        id: SocketId,
        option: SocketOption,
    ) -> Result<(), SocketError>;

    /// State and addresses of a socket, while it exists.
    fn info(&self, id: SocketId) -> Option<SocketInfo>;

    /// A connection's TCP_INFO, where the engine gives one.
    fn tcp_info(&self, _id: SocketId) -> Option<TcpInfo> {
        None
    }

    /// Whether a call on the socket would complete now (`select`'s question): `None` where
    /// the engine cannot tell.
    fn readiness(&self, _id: SocketId) -> Option<Readiness> {
        None
    }

    /// A UDP socket bound to `port` (0: any) on every address.
    fn udp_bind(&mut self, now: Time, port: u16) -> Result<SocketId, SocketError> {
        let any = SocketAddr::new(self.any_address(), port);
        self.udp_bind_on(now, any, SocketOptions::default())
    }

    /// A UDP socket bound to `local` (address `0.0.0.0`: every address; port 0: any), with
    /// the options set before. An engine that cannot bind one address binds all.
    fn udp_bind_on(
        &mut self,
        now: Time,
        local: SocketAddr,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError>;

    /// `connect()` on a UDP socket: no packet, only the peer that `send` goes to and the one
    /// `recv` takes datagrams from; an ICMP error about it is then reported by the next call.
    fn udp_connect(&mut self, _id: SocketId, _remote: SocketAddr) -> Result<(), SocketError> {
        Err(SocketError::Unsupported)
    }

    /// `sendto()`: one datagram.
    fn sendto(
        &mut self,
        now: Time,
        id: SocketId,
        data: &[u8],
        remote: SocketAddr,
    ) -> Result<usize, SocketError>;

    /// `recvfrom(max)`: the next datagram and its sender; `None` while none has arrived.
    fn recvfrom(
        &mut self,
        now: Time,
        id: SocketId,
        max: usize,
    ) -> Result<Option<(Vec<u8>, SocketAddr)>, SocketError>;

    /// Send `count` SYNs to `dst` from source addresses spoofed in the subnet `from` (a SYN
    /// flood, for the lesson on the SYN queue); nothing is kept for them.
    fn syn_flood(
        &mut self,
        _now: Time,
        _dst: SocketAddr,
        _count: u32,
        _from: (Ipv4Addr, u8),
    ) -> Result<(), SocketError> {
        Err(SocketError::Unsupported)
    }

    /// Send one ICMP echo request (`ping -c 1 -t TTL`), or an ICMPv6 one to an IPv6
    /// address (`ping -6`); the identifier to wait on.
    fn ping(&mut self, _now: Time, _dst: IpAddr, _ttl: u8) -> Result<u16, SocketError> {
        Err(SocketError::Unsupported)
    }

    /// What came back for the echo request `id`, once something did.
    fn ping_result(&mut self, _id: u16) -> Option<PingResult> {
        None
    }
}

/// A host engine: driven by a driver, called by programs.
pub trait Engine: Driven + SocketApi {}

impl<T: Driven + SocketApi + ?Sized> Engine for T {}
