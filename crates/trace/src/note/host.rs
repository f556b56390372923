//! The notes of a host or router: what it decided outside one connection (no socket, the
//! listen queues and SYN cookies, IPv6's own configuration).

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

/// What a host or router decided outside one connection.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum HostNote {
    /// A segment for a port with no socket: RST (RFC 9293 §3.10.7.1).
    NoTcpSocket {
        /// The port.
        port: u16,
    },
    /// A datagram for a port with no socket: port unreachable.
    NoUdpSocket {
        /// The port.
        port: u16,
        /// Whether it came over IPv6 (ICMPv6's answer, RFC 4443 §3.1).
        ipv6: bool,
    },
    /// The accept queue is full: the handshake's ACK is dropped, as Linux does.
    AcceptQueueFull {
        /// The listening port.
        port: u16,
        /// Connections waiting for accept().
        waiting: usize,
        /// The listen backlog.
        backlog: u32,
        /// Half-open connections in the SYN queue.
        half_open: usize,
        /// Whose ACK.
        from: SocketAddr,
    },
    /// SYN cookies from the first SYN on (Linux's tcp_syncookies = 2).
    CookiesAlways {
        /// The listening port.
        port: u16,
    },
    /// The SYN queue is full: SYN cookies from now on (Linux's tcp_syncookies = 1).
    CookiesFromNowOn {
        /// The listening port.
        port: u16,
        /// Half-open connections.
        queued: usize,
        /// The listen backlog.
        backlog: u32,
    },
    /// A valid cookie, but no room in the accept queue: dropped, as Linux drops it.
    CookieButQueueFull {
        /// The listening port.
        port: u16,
        /// Whose ACK.
        from: SocketAddr,
    },
    /// A connection rebuilt from a SYN cookie (RFC 4987 §3.6).
    CookieAccepted {
        /// Whose ACK.
        from: SocketAddr,
        /// The MSS the cookie encodes.
        mss: u16,
        /// What the timestamp carried besides, if the connection has timestamps.
        carried: Option<CookieCarried>,
    },
    /// An address formed from an advertised prefix (SLAAC, RFC 4862 §5.5.3).
    Slaac {
        /// The address.
        addr: Ipv6Addr,
        /// The prefix.
        prefix: Ipv6Addr,
    },
    /// Packet Too Big for a destination (RFC 8201 §4, §5.2).
    PacketTooBig {
        /// Who sent it.
        from: Ipv6Addr,
        /// The destination it is about.
        dst: Ipv6Addr,
        /// The path's MTU.
        mtu: u16,
    },
    /// A router's advertisement makes it the default router (RFC 4861 §6.3.4).
    DefaultRouter {
        /// The router's link-local address.
        router: Ipv6Addr,
        /// For how many seconds.
        lifetime: u16,
    },
    /// A router's advertisement gives the link's MTU (RFC 4861 §4.6.4).
    LinkMtu {
        /// The MTU.
        mtu: u16,
    },
    /// A router solicitation (RFC 4861 §6.3.7).
    RouterSolicit {
        /// Which try.
        try_number: u32,
        /// Of how many.
        tries: u32,
    },
    /// Duplicate address detection's probe (RFC 4862 §5.4.2).
    DadProbe {
        /// The tentative address.
        addr: Ipv6Addr,
    },
    /// Nobody answered for the address: it is ours (RFC 4862 §5.4).
    DadUnique {
        /// The address.
        addr: Ipv6Addr,
    },
    /// Somebody has the address already (RFC 4862 §5.4.5).
    DadDuplicate {
        /// The address.
        addr: Ipv6Addr,
    },
    /// A router advertises itself and its prefixes (RFC 4861 §6.2.6).
    RouterAdvert {
        /// The router port, as the log names it.
        port: String,
        /// The prefixes, `2001:db8:1::/64`.
        prefixes: Vec<String>,
    },
}

/// What a SYN cookie's timestamp carried (Linux's cookie_init_timestamp).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CookieCarried {
    /// The window scale, if on.
    pub wscale: Option<u8>,
    /// Whether SACK is on.
    pub sack: bool,
}

impl fmt::Display for HostNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostNote::NoTcpSocket { port } => write!(
                f,
                "no socket for port {port}: reply RST (RFC 9293 §3.10.7.1, CLOSED)"
            ),
            HostNote::NoUdpSocket { port, ipv6: false } => write!(
                f,
                "no socket for UDP port {port}: reply ICMP port unreachable (RFC 1122 §4.1.3.1)"
            ),
            HostNote::NoUdpSocket { port, ipv6: true } => write!(
                f,
                "no socket for UDP port {port}: reply ICMPv6 port unreachable (RFC 4443 §3.1)"
            ),
            HostNote::AcceptQueueFull {
                port,
                waiting,
                backlog,
                half_open,
                from,
            } => write!(
                f,
                "accept queue of port {port} full ({waiting} connections wait for accept(), \
                 backlog {backlog}; {half_open} half-open in the SYN queue): the handshake's \
                 ACK from {from} is dropped and the connection stays in SYN-RECEIVED, as Linux \
                 does (tcp_abort_on_overflow = 0); the SYN+ACK will be sent again"
            ),
            other => other.fmt_cookies(f),
        }
    }
}

impl HostNote {
    /// The words of the notes on SYN cookies.
    fn fmt_cookies(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostNote::CookiesAlways { port } => write!(
                f,
                "port {port} answers every SYN with a SYN cookie and keeps nothing for it (RFC \
                 4987 §3.6; Linux's tcp_syncookies = 2)"
            ),
            HostNote::CookiesFromNowOn {
                port,
                queued,
                backlog,
            } => write!(
                f,
                "SYN queue of port {port} full ({queued} half-open, more than the listen backlog \
                 {backlog}): SYNs are answered with SYN cookies from now on and nothing is kept \
                 for them (RFC 4987 §3.6; Linux's tcp_syncookies = 1, \"Possible SYN flooding\")"
            ),
            HostNote::CookieButQueueFull { port, from } => write!(
                f,
                "ACK from {from} returns a valid SYN cookie, but the accept queue of port {port} \
                 is full: dropped, as Linux drops it; the client's next segment will bring the \
                 cookie again"
            ),
            HostNote::CookieAccepted { from, mss, carried } => {
                write!(
                    f,
                    "ACK from {from} returns a valid SYN cookie (MSS {mss}): the connection is \
                     rebuilt from it, with no SYN-queue entry ever kept; "
                )?;
                match carried {
                    None => f.write_str(
                        "without timestamps a cookie carries nothing else, so this connection \
                         has no window scaling and no SACK",
                    )?,
                    Some(c) => write!(
                        f,
                        "its timestamp carried the rest (Linux's cookie_init_timestamp): window \
                         scale {}, SACK {}",
                        c.wscale.map_or("off".to_string(), |w| w.to_string()),
                        if c.sack { "on" } else { "off" }
                    )?,
                }
                f.write_str(" (RFC 4987 §3.6)")
            }
            other => other.fmt_ipv6(f),
        }
    }

    /// The words of the notes on IPv6's own configuration and paths.
    fn fmt_ipv6(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostNote::Slaac { addr, prefix } => write!(
                f,
                "forms {addr}/64 from the advertised prefix {prefix}/64 and its own interface \
                 identifier (SLAAC, RFC 4862 §5.5.3)"
            ),
            HostNote::PacketTooBig { from, dst, mtu } => write!(
                f,
                "Packet Too Big from {from}: the path to {dst} takes {mtu}-octet packets at \
                 most; remembered for that destination (RFC 8201 §4, §5.2)"
            ),
            HostNote::DefaultRouter { router, lifetime } => write!(
                f,
                "takes {router} as its default router, for {lifetime} s (RFC 4861 §6.3.4)"
            ),
            HostNote::LinkMtu { mtu } => write!(
                f,
                "takes the link MTU {mtu} the router gave (RFC 4861 §4.6.4)"
            ),
            HostNote::RouterSolicit { try_number, tries } => write!(
                f,
                "solicits routers at ff02::2 (all routers), try {try_number} of {tries}: is \
                 there a router on this link to give me a prefix? (RFC 4861 §6.3.7)"
            ),
            HostNote::DadProbe { addr } => write!(
                f,
                "checks that {addr} is not in use: a Neighbor Solicitation for it from :: \
                 (duplicate address detection, RFC 4862 §5.4.2); the address waits, unused, \
                 for 1 s"
            ),
            HostNote::DadUnique { addr } => write!(
                f,
                "{addr} is unique: nobody answered for it in 1 s; the address is ours from now \
                 (RFC 4862 §5.4)"
            ),
            HostNote::DadDuplicate { addr } => write!(
                f,
                "duplicate address detected: {addr} is in use on this link already (RFC 4862 \
                 §5.4.5); it is given up, never used"
            ),
            HostNote::RouterAdvert { port, prefixes } => write!(
                f,
                "advertises itself as a router on {port}: prefix {}, for hosts to form \
                 addresses from (RFC 4861 §6.2.6, RFC 4862)",
                prefixes.join(", ")
            ),
            _ => unreachable!("every other note is written by fmt or fmt_cookies"),
        }
    }
}
