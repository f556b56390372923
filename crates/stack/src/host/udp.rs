//! UDP (RFC 768): ports, datagrams kept whole, and the ICMP errors about them (RFC 1122
//! §4.1.3.3).

use super::*;

/// The destination and source port of the UDP datagram an ICMP error quotes, if it quotes
/// one (RFC 792: the IP header and the first 8 octets, the whole UDP header).
pub(super) fn quoted_udp(original: &[u8]) -> Option<(SocketAddrV4, u16)> {
    let ip = wire::Ipv4View::new_checked(original).ok()?;
    if ip.protocol() != wire::view::protocol::UDP {
        return None;
    }
    let udp = original.get(ip.header_len()..ip.header_len() + 4)?;
    let src_port = u16::from_be_bytes([udp[0], udp[1]]);
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    Some((SocketAddrV4::new(ip.dst(), dst_port), src_port))
}

/// A UDP socket: a port and the datagrams that arrived for it, each kept whole.
#[derive(Debug)]
pub(super) struct UdpSocket {
    /// Its address (`0.0.0.0`: every address of the host) and port.
    pub(super) local: SocketAddrV4,
    pub(super) queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    /// The peer `connect()` named: the only one datagrams are taken from.
    pub(super) peer: Option<SocketAddrV4>,
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
        let Some(id) = self.udp_ports.get(&src_port).copied() else {
            return;
        };
        if let Some(Socket::Udp(u)) = self.sockets.get_mut(&id)
            && u.peer == Some(dst)
        {
            u.error = Some(match code {
                3 => SocketError::ConnectionRefused,
                _ => SocketError::NetworkUnreachable,
            });
        }
    }

    /// A UDP datagram for us (RFC 768): queue it on its port's socket, or answer "port
    /// unreachable" (RFC 1122 §4.1.3.1) with the start of the IP packet (RFC 792).
    pub(super) fn udp_input(
        &mut self,
        now: Time,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        udp: wire::UdpDatagram<&[u8]>,
        ip_bytes: &[u8],
        frame_number: u64,
    ) {
        let from = SocketAddrV4::new(src, udp.src_port);
        let socket = self.udp_ports.get(&udp.dst_port).copied();
        if let Some(Socket::Udp(u)) = socket.and_then(|id| self.sockets.get_mut(&id))
            && (u.local.ip().is_unspecified() || *u.local.ip() == dst)
        {
            if u.peer.is_some_and(|peer| peer != from) {
                // A connected socket takes datagrams from its peer only (Linux drops the rest).
                let reason = format!("UDP port {}: connected to another peer", udp.dst_port);
                return self.drop_event(now, reason, Some(frame_number));
            }
            if u.queue.len() >= UDP_QUEUE_LIMIT {
                let reason = format!("UDP port {}: receive queue full", udp.dst_port);
                return self.drop_event(now, reason, Some(frame_number));
            }
            u.queue.push_back((from, udp.payload.to_vec()));
            return;
        }
        let node = self.config.name.clone();
        let text = format!(
            "no socket for UDP port {}: reply ICMP port unreachable (RFC 1122 §4.1.3.1)",
            udp.dst_port
        );
        self.event(now, EventKind::Note { node, text });
        let header_len = usize::from(ip_bytes.first().map_or(5, |b| b & 0x0f)) * 4;
        let original = ip_bytes[..(header_len + 8).min(ip_bytes.len())].to_vec();
        let icmp = IcmpMessage::Unreachable { code: 3, original };
        self.reply(now, (src, dst), Ipv4Payload::Icmp(icmp));
    }
}
