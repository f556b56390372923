//! packetlab's own TCP/IP host stack, sans-IO: Ethernet, ARP, IPv4, ICMP echo and TCP.
//!
//! A [`Host`] never reads a clock or a device. The driver (the simulator or the TAP loop)
//! hands it frames with [`Host::receive`], socket calls such as [`Host::connect`], and the
//! passing of time with [`Host::poll_timers`]; it takes back frames to transmit
//! ([`Host::take_frames`]), trace events ([`Host::take_events`]) and the next deadline
//! ([`Host::poll_at`]).

mod arp;
mod engine;
mod host;
mod ndp;
mod neighbours;
mod numbering;
mod router;
mod seq;
mod syncookies;
mod tcp;

pub use engine::{Driven, Engine, Readiness, SocketApi};
pub use host::{Binding, Host, HostConfig, SocketInfo};
pub use ndp::link_local;
pub use numbering::{EPHEMERAL_PORTS, Numbering, PortUse, Ports, Secret};
pub use router::{RouteError, Router, RouterConfig, RouterPort, StaticRoute, StaticRoute6};
pub use seq::SeqNum;
pub use syncookies::SynCookies;
pub use tcp::{CaState, DELAYED_ACK, Keepalive, MIN_RTO, SocketOptions, TcpInfo, TcpStats};

/// Whose reading of the RFCs a host's TCP follows where they leave a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// The RFCs' own words, as a textbook shows them: an initial window of 3 segments,
    /// a minimum RTO of 1 s, Reno, ssthresh from the flight.
    #[default]
    Rfc,
    /// Linux's: an initial window of 10 segments (RFC 6928), a minimum RTO of 200 ms and an
    /// RTO of SRTT + max(4·RTTVAR, 200 ms), CUBIC (RFC 9438) and PRR (RFC 6937), ssthresh
    /// from cwnd, slow start by every octet acknowledged, a window scale from the largest
    /// receive buffer and a receive window that opens as data arrives.
    Linux,
}

/// How a host's TCP sets its congestion window in congestion avoidance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CongestionControl {
    /// RFC 5681's additive increase, with NewReno (RFC 6582).
    #[default]
    Reno,
    /// CUBIC (RFC 9438), Linux's default.
    Cubic,
}

impl CongestionControl {
    /// The name Linux gives it (`net.ipv4.tcp_congestion_control`).
    pub fn name(self) -> &'static str {
        match self {
            CongestionControl::Reno => "reno",
            CongestionControl::Cubic => "cubic",
        }
    }

    /// The algorithm of this name.
    pub fn from_name(name: &str) -> Option<CongestionControl> {
        match name {
            "reno" => Some(CongestionControl::Reno),
            "cubic" => Some(CongestionControl::Cubic),
            _ => None,
        }
    }
}

/// A host's handle for one socket (listener or connection). Numbers start at 1 and are never
/// reused within a run, so a trace can name a socket unambiguously.
pub type SocketId = u32;

/// What an echo request brought back, as `ping` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingResult {
    /// An echo reply.
    Reply {
        /// Who answered.
        from: std::net::IpAddr,
        /// The reply's TTL as it arrived (64 minus the routers on the way back).
        ttl: u8,
        /// Round-trip time.
        rtt: trace::Time,
    },
    /// A router on the way said the TTL ran out.
    TimeExceeded {
        /// The router.
        from: std::net::IpAddr,
    },
    /// A router or the host said the destination cannot be reached (ICMP code, or ICMPv6
    /// code where `from` is an IPv6 address).
    Unreachable {
        /// Who said so.
        from: std::net::IpAddr,
        /// ICMP: 0 network, 1 host, 3 port; ICMPv6: 0 no route, 3 address, 4 port.
        code: u8,
    },
}

impl std::fmt::Display for PingResult {
    /// The line Linux's `ping` prints for it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PingResult::Reply { from, ttl, rtt } => {
                let us = rtt.as_nanos() / 1000;
                write!(
                    f,
                    "reply from {from}: icmp_seq=1 ttl={ttl} time={}.{:03} ms",
                    us / 1000,
                    us % 1000
                )
            }
            PingResult::TimeExceeded { from } if from.is_ipv6() => {
                write!(f, "from {from}: icmp_seq=1 Time exceeded: Hop limit")
            }
            PingResult::TimeExceeded { from } => {
                write!(f, "from {from}: icmp_seq=1 Time to live exceeded")
            }
            PingResult::Unreachable { from, code } => {
                // The words of Linux's ping (iputils) for each.
                let what = match (from.is_ipv6(), code) {
                    (false, 0) => "Destination Net Unreachable",
                    (false, 1) => "Destination Host Unreachable",
                    (false, 3) => "Destination Port Unreachable",
                    (true, 0) => "Destination unreachable: No route",
                    (true, 3) => "Destination unreachable: Address unreachable",
                    (true, 4) => "Destination unreachable: Port unreachable",
                    _ => "Destination Unreachable",
                };
                write!(f, "from {from}: icmp_seq=1 {what}")
            }
        }
    }
}

/// A socket option a program can set (`setsockopt`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SocketOption {
    /// TCP_NODELAY: true turns Nagle's algorithm off.
    NoDelay(bool),
    /// TCP_QUICKACK: true acknowledges every segment at once (no delayed ACK).
    QuickAck(bool),
    /// SO_REUSEADDR: the port may be bound again while a connection of this socket's still
    /// holds it (TIME-WAIT), if the new socket sets it too (Linux's rule).
    ReuseAddr(bool),
    /// SO_RCVBUF: the receive buffer, octets; the window we advertise reaches this.
    RecvBuffer(u32),
    /// SO_SNDBUF: the send buffer, octets; `send` waits while it is full.
    SendBuffer(u32),
    /// SO_KEEPALIVE: probe an idle connection (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
    KeepAlive(bool),
    /// TCP_KEEPIDLE: how long a connection is idle before the first probe.
    KeepIdle(trace::Time),
    /// TCP_KEEPINTVL: the time between probes that go unanswered.
    KeepInterval(trace::Time),
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped.
    KeepCount(u32),
    /// TCP_MAXSEG: the largest segment we announce and send (clamped to the route's).
    MaxSegment(u16),
    /// IP_TTL: the time to live of the packets this socket sends.
    Ttl(u8),
    /// SO_BROADCAST: a UDP socket may send to a broadcast address.
    Broadcast(bool),
    /// TCP_CORK: hold partial segments until uncorked (Linux; the probe timer sends what
    /// is held when nothing is in flight).
    Cork(bool),
}

impl std::fmt::Display for SocketOption {
    /// The option as `setsockopt` names it, and its value: `TCP_NODELAY 1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |t: &trace::Time| t.as_nanos() / 1_000_000_000;
        match self {
            SocketOption::NoDelay(on) => write!(f, "TCP_NODELAY {}", u8::from(*on)),
            SocketOption::QuickAck(on) => write!(f, "TCP_QUICKACK {}", u8::from(*on)),
            SocketOption::ReuseAddr(on) => write!(f, "SO_REUSEADDR {}", u8::from(*on)),
            SocketOption::RecvBuffer(n) => write!(f, "SO_RCVBUF {n}"),
            SocketOption::SendBuffer(n) => write!(f, "SO_SNDBUF {n}"),
            SocketOption::KeepAlive(on) => write!(f, "SO_KEEPALIVE {}", u8::from(*on)),
            SocketOption::KeepIdle(t) => write!(f, "TCP_KEEPIDLE {}", secs(t)),
            SocketOption::KeepInterval(t) => write!(f, "TCP_KEEPINTVL {}", secs(t)),
            SocketOption::KeepCount(n) => write!(f, "TCP_KEEPCNT {n}"),
            SocketOption::MaxSegment(mss) => write!(f, "TCP_MAXSEG {mss}"),
            SocketOption::Ttl(ttl) => write!(f, "IP_TTL {ttl}"),
            SocketOption::Broadcast(on) => write!(f, "SO_BROADCAST {}", u8::from(*on)),
            SocketOption::Cork(on) => write!(f, "TCP_CORK {}", u8::from(*on)),
        }
    }
}

/// Why a socket call failed, named after the errno a Python program would see.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SocketError {
    /// The peer answered our SYN with RST: nothing listens there.
    #[error("ECONNREFUSED (ConnectionRefusedError: connection refused)")]
    ConnectionRefused,
    /// The peer reset an open connection.
    #[error("ECONNRESET (ConnectionResetError: connection reset by peer)")]
    ConnectionReset,
    /// Retransmissions ran out.
    #[error("ETIMEDOUT (TimeoutError: connection timed out)")]
    TimedOut,
    /// Writing after our side was shut down or closed.
    #[error("EPIPE (BrokenPipeError: broken pipe)")]
    BrokenPipe,
    /// The socket is not connected (or is a listener used as a connection).
    #[error("ENOTCONN (socket is not connected)")]
    NotConnected,
    /// The port is already in use.
    #[error("EADDRINUSE (OSError: address already in use)")]
    AddrInUse,
    /// The address is not one of this host's (or the four numbers are those of a connection
    /// that still exists).
    #[error("EADDRNOTAVAIL (OSError: cannot assign requested address)")]
    AddrNotAvailable,
    /// Sending to a broadcast address without SO_BROADCAST.
    #[error("EACCES (PermissionError: permission denied)")]
    PermissionDenied,
    /// No route: the destination is off-subnet and there is no gateway.
    #[error("ENETUNREACH (OSError: network is unreachable)")]
    NetworkUnreachable,
    /// The handle names no socket, or one already closed.
    #[error("EBADF (OSError: bad file descriptor)")]
    BadSocket,
    /// The call does not apply to this kind of socket (accept on a connection, …).
    #[error("EINVAL (OSError: invalid argument)")]
    InvalidArgument,
    /// A datagram too big for one frame.
    #[error("EMSGSIZE (OSError: message too long)")]
    MessageTooLong,
    /// The engine does not offer this call.
    #[error("EOPNOTSUPP (OSError: operation not supported)")]
    Unsupported,
}

impl SocketError {
    /// The errno name alone, e.g. `ECONNREFUSED`.
    pub fn errno(self) -> &'static str {
        match self {
            SocketError::ConnectionRefused => "ECONNREFUSED",
            SocketError::ConnectionReset => "ECONNRESET",
            SocketError::TimedOut => "ETIMEDOUT",
            SocketError::BrokenPipe => "EPIPE",
            SocketError::NotConnected => "ENOTCONN",
            SocketError::AddrInUse => "EADDRINUSE",
            SocketError::AddrNotAvailable => "EADDRNOTAVAIL",
            SocketError::PermissionDenied => "EACCES",
            SocketError::NetworkUnreachable => "ENETUNREACH",
            SocketError::BadSocket => "EBADF",
            SocketError::InvalidArgument => "EINVAL",
            SocketError::MessageTooLong => "EMSGSIZE",
            SocketError::Unsupported => "EOPNOTSUPP",
        }
    }
}

/// A stable 64-bit hash (FNV-1a) of a name, to derive per-host seeds from the world's seed
/// independently of the order hosts are added in.
pub fn derive_seed(seed: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
