//! Why a node dropped a frame or a packet: each reason a value with its numbers and
//! addresses, its words (and the RFC, where one says so) in `Display`, so that a tool can
//! count bad checksums or full queues without reading prose, and a node formats nothing when
//! it drops.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use wire::MacAddr;

/// Why a frame or packet was dropped.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum DropReason {
    /// The frame could not be taken apart.
    Undecodable {
        /// What the decoder said.
        error: String,
    },
    /// A frame to a multicast group the card's filter does not pass.
    NotJoined {
        /// The group's MAC address.
        group: MacAddr,
    },
    /// A unicast frame to another card.
    NotMyMac {
        /// Where it was addressed.
        dst: MacAddr,
        /// The card's own address.
        mine: MacAddr,
        /// The router port that heard it (none: a host's only card).
        port: Option<String>,
    },
    /// An EtherType the node does not speak (or a router does not route).
    UnknownEtherType {
        /// The EtherType.
        ether_type: u16,
        /// Whether a router dropped it.
        router: bool,
    },
    /// An IPv4 header whose checksum is wrong.
    BadIpv4HeaderChecksum,
    /// A TCP segment whose checksum is wrong (over IPv4).
    BadTcpChecksum,
    /// A UDP datagram whose checksum is wrong (over IPv4).
    BadUdpChecksum,
    /// A TCP segment or UDP datagram over IPv6 whose checksum is wrong.
    BadIpv6Checksum,
    /// smoltcp's silent drop of a bad checksum, said in the trace.
    SmoltcpBadChecksum,
    /// A packet for an address that is not the host's.
    NotForMe {
        /// Its destination.
        dst: IpAddr,
    },
    /// An IPv6 packet to a host with IPv6 off.
    Ipv6Off,
    /// An IPv6 next header the host does not speak.
    UnknownNextHeader {
        /// Its number.
        protocol: u8,
    },
    /// A router's own address, where it runs no service but echo.
    NoServiceOnRouter {
        /// The router's address.
        dst: IpAddr,
    },
    /// A broadcast or multicast IPv4 packet, which routers do not forward.
    NotForwarded {
        /// Its destination.
        dst: IpAddr,
    },
    /// IPv6 at a router with no IPv6 prefix.
    Ipv6NotRouted,
    /// A link-local or multicast IPv6 packet at a router.
    StaysOnLink {
        /// Its source.
        src: IpAddr,
        /// Its destination.
        dst: IpAddr,
    },
    /// A Neighbor Discovery message whose hop limit says it came from another link.
    NotFromThisLink {
        /// Its hop limit.
        hop_limit: u8,
    },
    /// No route to the destination.
    NoRoute {
        /// The destination.
        dst: IpAddr,
    },
    /// A router's ICMP error with no route back to the packet's source.
    NoRouteBack {
        /// The source to answer.
        dst: IpAddr,
    },
    /// Packets waiting on a neighbour that never answered.
    NeighbourUnreachable {
        /// How many packets.
        packets: usize,
        /// The next hop asked for.
        hop: IpAddr,
        /// How many requests (solicitations) went unanswered.
        tries: u32,
        /// A router, which then tells the packets' senders.
        router: bool,
    },
    /// A connected UDP socket takes datagrams from its peer only.
    UdpOtherPeer {
        /// The socket's port.
        port: u16,
    },
    /// A UDP socket's receive queue is full.
    UdpQueueFull {
        /// The socket's port.
        port: u16,
    },
    /// A SYN to a listener whose queues are full.
    ListenQueueFull {
        /// The listener's port.
        port: u16,
        /// Connections waiting for accept().
        accept_queue: usize,
        /// The listener's backlog.
        backlog: u32,
        /// Connections in SYN-RECEIVED.
        syn_queue: usize,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Undecodable { error } => write!(f, "undecodable: {error}"),
            DropReason::NotJoined { group } => write!(
                f,
                "addressed to the multicast group {group}, which I have not joined (the card's \
                 filter)"
            ),
            DropReason::NotMyMac {
                dst,
                mine,
                port: None,
            } => write!(f, "addressed to {dst}, not to my MAC {mine}"),
            DropReason::NotMyMac {
                dst,
                mine,
                port: Some(port),
            } => write!(f, "addressed to {dst}, not to {port}'s MAC {mine}"),
            DropReason::UnknownEtherType { ether_type, router } => {
                let what = if *router { "routed" } else { "spoken" };
                write!(f, "EtherType {ether_type:#06x} is not {what} here")
            }
            DropReason::BadIpv4HeaderChecksum => f.write_str("bad IPv4 header checksum"),
            DropReason::BadTcpChecksum => f.write_str("bad TCP checksum"),
            DropReason::BadUdpChecksum => f.write_str("bad UDP checksum"),
            DropReason::BadIpv6Checksum => f.write_str("bad checksum over the IPv6 pseudo-header"),
            DropReason::SmoltcpBadChecksum => f.write_str("bad checksum (smoltcp drops it)"),
            DropReason::NotForMe { dst } => {
                let version = if dst.is_ipv4() { "IPv4" } else { "IPv6" };
                write!(f, "{version} packet for {dst}, not for me")
            }
            DropReason::Ipv6Off => f.write_str("IPv6 is off on this host"),
            DropReason::UnknownNextHeader { protocol } => {
                write!(f, "IPv6 next header {protocol} is not spoken here")
            }
            DropReason::NoServiceOnRouter { dst } => {
                write!(
                    f,
                    "for my address {dst}, but a router runs no service there"
                )
            }
            DropReason::NotForwarded { dst } => {
                write!(f, "{dst} is not forwarded (RFC 1812 §5.3.5)")
            }
            DropReason::Ipv6NotRouted => {
                f.write_str("IPv6 is not routed by this router (no port has an IPv6 prefix)")
            }
            DropReason::StaysOnLink { src, dst } => write!(
                f,
                "{src} → {dst}: link-local and multicast packets stay on their link (RFC 4291 \
                 §2.5.6)"
            ),
            DropReason::NotFromThisLink { hop_limit } => write!(
                f,
                "Neighbor Discovery message with hop limit {hop_limit}, not 255: not from this \
                 link (RFC 4861 §7.1.1)"
            ),
            DropReason::NoRoute { dst } => write!(f, "no route to {dst}"),
            DropReason::NoRouteBack { dst } => write!(f, "no route back to {dst}"),
            DropReason::NeighbourUnreachable { .. } => self.neighbour_unreachable(f),
            DropReason::UdpOtherPeer { port } => {
                write!(f, "UDP port {port}: connected to another peer")
            }
            DropReason::UdpQueueFull { port } => write!(f, "UDP port {port}: receive queue full"),
            DropReason::ListenQueueFull {
                port,
                accept_queue,
                backlog,
                syn_queue,
            } => write!(
                f,
                "SYN for port {port}: listen queue full (accept queue {accept_queue}, backlog \
                 {backlog}, SYN queue {syn_queue}); the client will retransmit"
            ),
        }
    }
}

impl DropReason {
    /// ARP's words for an IPv4 next hop, Neighbor Discovery's for an IPv6 one.
    fn neighbour_unreachable(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DropReason::NeighbourUnreachable {
            packets,
            hop,
            tries,
            router,
        } = self
        else {
            return Ok(());
        };
        write!(f, "{packets} packet(s) for {hop}: ")?;
        match (hop.is_ipv4(), router) {
            (true, false) => write!(f, "no ARP reply after {tries} requests"),
            (true, true) => write!(
                f,
                "no ARP reply after {tries} requests; ICMP host unreachable to their senders"
            ),
            (false, false) => write!(
                f,
                "no neighbor advertisement after {tries} solicitations (RFC 4861 §7.2.2)"
            ),
            (false, true) => write!(
                f,
                "no neighbor advertisement after {tries} solicitations; ICMPv6 address \
                 unreachable to their senders"
            ),
        }
    }
}
