//! The IP layer as the transports see it: one address type for both versions, and the
//! choice between IPv4 ([`super::ipv4`]) and IPv6 ([`super::ipv6`]) made here, by the
//! destination's family, so that TCP and UDP are written once.

use super::*;

/// A transport message either IP version carries.
#[derive(Debug)]
pub(crate) enum Transport {
    /// A TCP segment.
    Tcp(TcpSegment),
    /// A UDP datagram.
    Udp(wire::UdpDatagram),
}

impl Transport {
    fn v4(self) -> Ipv4Payload {
        match self {
            Transport::Tcp(seg) => Ipv4Payload::Tcp(seg),
            Transport::Udp(udp) => Ipv4Payload::Udp(udp),
        }
    }

    fn v6(self) -> Ipv6Payload {
        match self {
            Transport::Tcp(seg) => Ipv6Payload::Tcp(seg),
            Transport::Udp(udp) => Ipv6Payload::Udp(udp),
        }
    }
}

impl Host {
    /// Send a transport message to `dst`, from `src` where the socket (or the packet
    /// answered) names one of our addresses, else from the one the route gives.
    pub(super) fn send_transport(
        &mut self,
        now: Time,
        (src, dst): (Option<IpAddr>, IpAddr),
        payload: Transport,
        ttl: u8,
    ) {
        match dst {
            IpAddr::V4(dst) => {
                let src = src.and_then(|s| match s {
                    IpAddr::V4(s) => Some(s),
                    IpAddr::V6(_) => None,
                });
                self.ip_output_ttl(now, (src, dst), payload.v4(), ttl);
            }
            IpAddr::V6(dst) => {
                let src = src.and_then(|s| match s {
                    IpAddr::V6(s) => Some(s),
                    IpAddr::V4(_) => None,
                });
                self.ip6_output(now, (src, dst), payload.v6(), ttl);
            }
        }
    }

    /// Whether `dst` is this host: a loopback address or one of ours.
    pub(super) fn is_local(&self, dst: IpAddr) -> bool {
        match dst {
            IpAddr::V4(dst) => self.is_local4(dst),
            IpAddr::V6(dst) => self.is_local6(dst),
        }
    }

    /// Whether `dst` is a broadcast address (IPv6 has none, RFC 4291 §2).
    pub(super) fn is_broadcast(&self, dst: IpAddr) -> bool {
        match dst {
            IpAddr::V4(dst) => self.is_broadcast4(dst),
            IpAddr::V6(_) => false,
        }
    }

    /// The next hop towards `dst`, explained once per destination; none if there is no route.
    pub(super) fn next_hop(&mut self, now: Time, dst: IpAddr) -> Option<IpAddr> {
        match dst {
            IpAddr::V4(dst) => self.next_hop4(now, dst).map(IpAddr::V4),
            IpAddr::V6(dst) => self.next_hop6(now, dst).map(IpAddr::V6),
        }
    }

    /// The address a socket that sends to `remote` sends from: through lo, the loopback
    /// address; else the interface's (for IPv6, RFC 6724's rule 2: of the same scope).
    pub(super) fn source_for(&self, remote: IpAddr) -> IpAddr {
        match remote {
            IpAddr::V4(r) if r.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(_) => IpAddr::V4(self.config.ip),
            IpAddr::V6(r) => IpAddr::V6(self.source6(r)),
        }
    }

    /// Whether a frame to `mac` is for this interface: the broadcast address, or a
    /// multicast group IPv6 joined (all-nodes and each address's solicited-node group,
    /// RFC 4861 §7.2.1), as the NIC's filter passes them.
    pub(super) fn joined(&self, mac: MacAddr) -> bool {
        mac.is_broadcast() || self.v6.as_ref().is_some_and(|v6| v6.joined(mac))
    }
}
