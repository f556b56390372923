//! UDP (RFC 768): ports, datagrams kept whole, and the ICMP errors about them (RFC 1122
//! §4.1.3.3).

use super::*;

/// The destination and source port of the UDP datagram an ICMP error quotes, if it quotes
/// one (RFC 792: the IP header and the first 8 octets, the whole UDP header).
pub(super) fn quoted_udp(original: &[u8]) -> Option<(SocketAddr, u16)> {
    let ip = wire::Ipv4View::new_checked(original).ok()?;
    if ip.protocol() != wire::view::protocol::UDP {
        return None;
    }
    let udp = original.get(ip.header_len()..ip.header_len() + 4)?;
    let src_port = u16::from_be_bytes([udp[0], udp[1]]);
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    Some((SocketAddr::new(ip.dst().into(), dst_port), src_port))
}

/// A UDP socket: a port and the datagrams that arrived for it, each kept whole.
#[derive(Debug)]
pub(super) struct UdpSocket {
    /// Its address (`0.0.0.0`: every address of the host) and port.
    pub(super) local: SocketAddr,
    pub(super) queue: VecDeque<(SocketAddr, Vec<u8>)>,
    /// The peer `connect()` named: the only one datagrams are taken from.
    pub(super) peer: Option<SocketAddr>,
    /// An ICMP error about the peer, reported by the next call (a connected socket's only).
    pub(super) error: Option<SocketError>,
    /// SO_BROADCAST and IP_TTL.
    pub(super) options: SocketOptions,
}

/// RFC 1122 §4.1.3.5 leaves the receive queue's size to the host; beyond this many waiting
/// datagrams, new ones are dropped, as Linux drops them when SO_RCVBUF is full.
pub(super) const UDP_QUEUE_LIMIT: usize = 256;

impl Host {
    /// An ICMP destination unreachable that quotes a datagram of a connected UDP socket of
    /// ours to its peer: the socket's next call reports it (RFC 1122 §4.1.3.3 passes ICMP
    /// errors to the application; Linux does so for connected sockets).
    pub(super) fn udp_unreachable(&mut self, original: &[u8], code: u8) {
        let Some((dst, src_port)) = quoted_udp(original) else {
            return;
        };
        self.udp_error(dst, src_port, code == 3);
    }

    /// An ICMP error about our datagram from `src_port` to `dst`: for a socket connected to
    /// `dst`, ECONNREFUSED (port unreachable) or ENETUNREACH, reported by its next call.
    pub(super) fn udp_error(&mut self, dst: SocketAddr, src_port: u16, refused: bool) {
        for (id, _) in self.udp_ports.on(src_port) {
            let Some(Socket::Udp(u)) = self.sockets.get_mut(&id) else {
                continue;
            };
            if u.peer != Some(dst) {
                continue;
            }
            u.error = Some(if refused {
                SocketError::ConnectionRefused
            } else {
                SocketError::NetworkUnreachable
            });
        }
    }

    /// A UDP datagram for us (RFC 768): queue it on its port's socket, or answer "port
    /// unreachable" (RFC 1122 §4.1.3.1) with the start of the IP packet (RFC 792).
    pub(super) fn udp_input(
        &mut self,
        now: Time,
        (src, dst): (IpAddr, IpAddr),
        udp: wire::UdpDatagram<&[u8]>,
        ip_bytes: &[u8],
        frame_number: u64,
    ) {
        let from = SocketAddr::new(src, udp.src_port);
        let socket = self.udp_ports.lookup(dst, udp.dst_port);
        if let Some(Socket::Udp(u)) = socket.and_then(|id| self.sockets.get_mut(&id)) {
            if u.peer.is_some_and(|peer| peer != from) {
                // A connected socket takes datagrams from its peer only (Linux drops the rest).
                let reason = DropReason::UdpOtherPeer { port: udp.dst_port };
                return self.drop_event(now, reason, Some(frame_number));
            }
            if u.queue.len() >= UDP_QUEUE_LIMIT {
                let reason = DropReason::UdpQueueFull { port: udp.dst_port };
                return self.drop_event(now, reason, Some(frame_number));
            }
            u.queue.push_back((from, udp.payload.to_vec()));
            return;
        }
        let (port, ipv6) = (udp.dst_port, src.is_ipv6());
        self.note(now, HostNote::NoUdpSocket { port, ipv6 });
        self.port_unreachable(now, (src, dst), ip_bytes);
    }

    /// ICMP's "port unreachable" (RFC 792, code 3, quoting the header and 8 octets) or
    /// ICMPv6's (RFC 4443 §3.1, code 4, quoting what fits in 1280 octets) for `ip_bytes`.
    fn port_unreachable(&mut self, now: Time, (src, dst): (IpAddr, IpAddr), ip_bytes: &[u8]) {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let header_len = usize::from(ip_bytes.first().map_or(5, |b| b & 0x0f)) * 4;
                let original = ip_bytes[..(header_len + 8).min(ip_bytes.len())].to_vec();
                let icmp = IcmpMessage::Unreachable { code: 3, original };
                let ttl = crate::tcp::DEFAULT_TTL;
                self.ip_output_ttl(now, (Some(dst), src), Ipv4Payload::Icmp(icmp), ttl);
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let original = icmpv6::quote(ip_bytes);
                let icmp = Icmpv6Message::Unreachable { code: 4, original };
                self.ip6_output(now, (Some(dst), src), Ipv6Payload::Icmpv6(icmp), 64);
            }
            _ => {}
        }
    }
}
