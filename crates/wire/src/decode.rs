//! Frames taken apart: Ethernet, ARP, IPv4 and its transports, borrowed from the bytes.

use super::*;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{view} (the header at byte {offset})")]
pub struct DecodeError {
    /// Offset in the frame where the unreadable header starts.
    pub offset: usize,
    /// What is wrong with it.
    pub view: ViewError,
}

const ETH_HEADER_LEN: usize = 14;

/// Decode an Ethernet II frame, borrowing every payload from `bytes` (nothing is copied).
/// Checksums are verified and reported in the result rather than treated as errors, so that a
/// reader of captures keeps the packet (kernel captures on veth carry checksums left to
/// offload) while a host can drop it.
pub fn decode(bytes: &[u8]) -> Result<Frame<&[u8]>, DecodeError> {
    let eth = EthernetView::new_checked(bytes).map_err(|view| DecodeError { offset: 0, view })?;
    let payload = match eth.ethertype() {
        view::ethertype::ARP => match ArpView::new_checked(eth.payload()) {
            Ok(arp) => EthPayload::Arp(Arp {
                op: if arp.operation() == 1 {
                    ArpOp::Request
                } else {
                    ArpOp::Reply
                },
                sender_mac: arp.sender_mac(),
                sender_ip: arp.sender_ip(),
                target_mac: arp.target_mac(),
                target_ip: arp.target_ip(),
            }),
            Err(ViewError::Malformed { .. }) => EthPayload::Other {
                ether_type: view::ethertype::ARP,
            },
            Err(view) => {
                return Err(DecodeError {
                    offset: ETH_HEADER_LEN,
                    view,
                });
            }
        },
        view::ethertype::IPV4 => {
            EthPayload::Ipv4(decode_ipv4_at(&bytes[ETH_HEADER_LEN..], ETH_HEADER_LEN)?)
        }
        view::ethertype::IPV6 => EthPayload::Ipv6(ipv6::packet::decode_ipv6_at(
            &bytes[ETH_HEADER_LEN..],
            ETH_HEADER_LEN,
        )?),
        other => EthPayload::Other { ether_type: other },
    };
    Ok(Frame {
        src: eth.src(),
        dst: eth.dst(),
        payload,
    })
}

/// Decode an IPv6 packet (without link header), borrowing its payload.
pub fn decode_ipv6(bytes: &[u8]) -> Result<Ipv6Packet<&[u8]>, DecodeError> {
    crate::ipv6::packet::decode_ipv6_at(bytes, 0)
}

/// Decode an IPv4 packet (without link header), borrowing its payload. Trailing bytes beyond
/// the IP total length (Ethernet padding) are ignored.
pub fn decode_ipv4(bytes: &[u8]) -> Result<Ipv4Packet<&[u8]>, DecodeError> {
    decode_ipv4_at(bytes, 0)
}

fn decode_ipv4_at(bytes: &[u8], offset: usize) -> Result<Ipv4Packet<&[u8]>, DecodeError> {
    let ip = Ipv4View::new_checked(bytes).map_err(|view| DecodeError { offset, view })?;
    let body = &bytes[ip.payload_range()];
    // A fragment holds a piece of a datagram, not a transport header (only the first one
    // begins with it, and even that is not the whole segment): left unread.
    let fragment = ip.fragment_offset() != 0 || ip.more_fragments();
    let payload = match ip.protocol() {
        protocol if fragment => Ipv4Payload::Other {
            protocol,
            bytes: body,
        },
        view::protocol::TCP => match TcpView::new_checked(body) {
            Ok(tcp) if tcp.header_complete() => {
                let payload = body.get(tcp.header_len()..).unwrap_or(&[]);
                let checksum_ok = tcp.checksum_ok(ip.src(), ip.dst());
                Ipv4Payload::Tcp(tcp_segment(&tcp, payload, checksum_ok))
            }
            _ => Ipv4Payload::Other {
                protocol: view::protocol::TCP,
                bytes: body,
            },
        },
        view::protocol::UDP => match UdpView::new_checked(body) {
            Ok(udp) => Ipv4Payload::Udp(UdpDatagram {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                payload: &body[udp.payload_range()],
                checksum_ok: udp.checksum_ok(ip.src(), ip.dst()),
            }),
            Err(_) => Ipv4Payload::Other {
                protocol: view::protocol::UDP,
                bytes: body,
            },
        },
        view::protocol::ICMP => match IcmpView::new_checked(body) {
            Ok(icmp) => {
                Ipv4Payload::Icmp(icmp_message(&icmp, &body[IcmpView::<&[u8]>::HEADER_LEN..]))
            }
            Err(_) => Ipv4Payload::Other {
                protocol: view::protocol::ICMP,
                bytes: body,
            },
        },
        other => Ipv4Payload::Other {
            protocol: other,
            bytes: body,
        },
    };
    Ok(Ipv4Packet {
        src: ip.src(),
        dst: ip.dst(),
        ttl: ip.ttl(),
        ident: ip.ident(),
        header_checksum_ok: ip.header_checksum_ok(),
        payload,
    })
}

/// The fields of a TCP header, the options packetlab reads, and the payload (borrowed, or
/// `()` where only the header matters), with the checksum's verdict under either IP.
#[inline]
pub(crate) fn tcp_segment<P: Default>(
    tcp: &TcpView<&[u8]>,
    payload: P,
    checksum_ok: bool,
) -> TcpSegment<P> {
    let mut segment = TcpSegment {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: tcp.flags(),
        window: tcp.window(),
        payload,
        checksum_ok,
        ..TcpSegment::default()
    };
    take_options(&mut segment, tcp.options());
    segment
}

/// Fill a segment's option fields from its option list; reading stops at the end of the
/// list or at an option it cannot make sense of.
pub fn take_options<P>(segment: &mut TcpSegment<P>, options: view::TcpOptions) {
    for option in options {
        match option {
            TcpOption::Mss(m) => segment.mss = Some(m),
            TcpOption::WindowScale(shift) => segment.window_scale = Some(shift),
            TcpOption::SackPermitted => segment.sack_permitted = true,
            TcpOption::Sack(edges) => {
                for block in edges.chunks_exact(8) {
                    let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                    let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                    segment.sack.push(left, right);
                }
            }
            TcpOption::Timestamps(tsval, tsecr) => {
                segment.timestamps = Some(Timestamps { tsval, tsecr })
            }
            TcpOption::Nop => {}
            TcpOption::Unknown { kind, .. } => segment.other_options.push(kind),
            TcpOption::End | TcpOption::Malformed { .. } => break,
        }
    }
}

fn icmp_message<'a>(icmp: &IcmpView<&[u8]>, data: &'a [u8]) -> IcmpMessage<&'a [u8]> {
    match icmp.msg_type() {
        8 => IcmpMessage::EchoRequest {
            id: icmp.echo_id(),
            seq: icmp.echo_seq(),
            data,
        },
        0 => IcmpMessage::EchoReply {
            id: icmp.echo_id(),
            seq: icmp.echo_seq(),
            data,
        },
        3 => IcmpMessage::Unreachable {
            code: icmp.code(),
            original: data,
        },
        11 => IcmpMessage::TimeExceeded {
            code: icmp.code(),
            original: data,
        },
        icmp_type => IcmpMessage::Other {
            icmp_type,
            code: icmp.code(),
        },
    }
}
