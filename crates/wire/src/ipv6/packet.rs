//! An IPv6 packet as a host reads and builds it (RFC 8200): the fixed header, and TCP, UDP
//! or ICMPv6 after any extension headers, with checksums under the IPv6 pseudo-header.

use std::net::Ipv6Addr;

use super::icmpv6::{Icmpv6Message, decode_icmpv6};
use super::{Ipv6View, pseudo_header_checksum_v6};
use crate::view::{self, TcpView, UdpView};
use crate::{DecodeError, TcpSegment, UdpDatagram};

/// ICMPv6's protocol number (Next Header 58).
pub const ICMPV6: u8 = 58;

/// What an IPv6 packet carries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Ipv6Payload<P = Vec<u8>> {
    /// A TCP segment.
    Tcp(TcpSegment<P>),
    /// A UDP datagram.
    Udp(UdpDatagram<P>),
    /// An ICMPv6 message.
    Icmpv6(Icmpv6Message<P>),
    /// A protocol packetlab does not decode, a fragment, or a transport header too short to
    /// read.
    Other {
        /// The last Next Header value.
        protocol: u8,
        /// Bytes after the headers.
        bytes: P,
    },
}

/// An IPv6 packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ipv6Packet<P = Vec<u8>> {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// The payload.
    pub payload: Ipv6Payload<P>,
}

impl<P: AsRef<[u8]>> Ipv6Packet<P> {
    /// The same packet owning its payload.
    pub fn into_owned(self) -> Ipv6Packet {
        Ipv6Packet {
            src: self.src,
            dst: self.dst,
            hop_limit: self.hop_limit,
            payload: match self.payload {
                Ipv6Payload::Tcp(seg) => Ipv6Payload::Tcp(seg.into_owned()),
                Ipv6Payload::Udp(udp) => Ipv6Payload::Udp(udp.into_owned()),
                Ipv6Payload::Icmpv6(m) => Ipv6Payload::Icmpv6(m.into_owned()),
                Ipv6Payload::Other { protocol, bytes } => Ipv6Payload::Other {
                    protocol,
                    bytes: bytes.as_ref().to_vec(),
                },
            },
        }
    }
}

/// Decode an IPv6 packet (without link header), borrowing its payload; `offset` is where it
/// starts in the frame, for the error. Checksums are reported, not enforced.
pub(crate) fn decode_ipv6_at(
    bytes: &[u8],
    offset: usize,
) -> Result<Ipv6Packet<&[u8]>, DecodeError> {
    let ip = Ipv6View::new_checked(bytes).map_err(|view| DecodeError { offset, view })?;
    let (src, dst) = (ip.src(), ip.dst());
    let payload = match ip.transport() {
        None => Ipv6Payload::Other {
            protocol: ip.next_header(),
            bytes: &bytes[super::IPV6_HEADER_LEN..],
        },
        Some(t) => {
            // Ethernet padding after a short packet is not part of it.
            let body = &t.payload[..t.wire_len.min(t.payload.len())];
            let other = Ipv6Payload::Other {
                protocol: t.protocol,
                bytes: body,
            };
            if t.fragment.is_some() {
                other
            } else {
                transport(src, dst, t.protocol, body).unwrap_or(other)
            }
        }
    };
    Ok(Ipv6Packet {
        src,
        dst,
        hop_limit: ip.hop_limit(),
        payload,
    })
}

fn transport(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    protocol: u8,
    body: &[u8],
) -> Option<Ipv6Payload<&[u8]>> {
    let sum_ok = |p: u8, b: &[u8]| pseudo_header_checksum_v6(src, dst, p, b) == 0;
    Some(match protocol {
        view::protocol::TCP => {
            let tcp = TcpView::new_checked(body).ok()?;
            if !tcp.header_complete() {
                return None;
            }
            let payload = body.get(tcp.header_len()..).unwrap_or(&[]);
            let seg = crate::decode::tcp_segment(&tcp, payload, sum_ok(protocol, body));
            Ipv6Payload::Tcp(seg)
        }
        view::protocol::UDP => {
            let udp = UdpView::new_checked(body).ok()?;
            let end = usize::from(udp.length()).clamp(8, body.len());
            // Over IPv6 the UDP checksum is mandatory (RFC 8200 §8.1): zero is wrong.
            Ipv6Payload::Udp(UdpDatagram {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                payload: &body[udp.payload_range()],
                checksum_ok: udp.checksum() != 0 && sum_ok(protocol, &body[..end]),
            })
        }
        ICMPV6 if sum_ok(protocol, body) => Ipv6Payload::Icmpv6(decode_icmpv6(body)?),
        _ => return None,
    })
}

impl Ipv6Packet {
    /// Append the serialised packet (fixed header, then the transport with its checksum) to
    /// `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 0, self.hop_limit]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let body_start = out.len();
        let (protocol, checksum_at) = match &self.payload {
            Ipv6Payload::Tcp(seg) => {
                out.extend_from_slice(&crate::encode::tcp_header(seg).to_bytes());
                out.extend_from_slice(&seg.payload);
                (view::protocol::TCP, Some(16))
            }
            Ipv6Payload::Udp(udp) => {
                out.extend_from_slice(&crate::encode::encode_udp_body(udp));
                (view::protocol::UDP, Some(6))
            }
            Ipv6Payload::Icmpv6(m) => {
                m.encode_into(out);
                (ICMPV6, Some(2))
            }
            Ipv6Payload::Other { protocol, bytes } => {
                out.extend_from_slice(bytes);
                (*protocol, None)
            }
        };
        let len = (out.len() - body_start) as u16;
        out[start + 4..start + 6].copy_from_slice(&len.to_be_bytes());
        out[start + 6] = protocol;
        if let Some(at) = checksum_at {
            let body = &mut out[body_start..];
            body[at..at + 2].fill(0);
            let mut sum = pseudo_header_checksum_v6(self.src, self.dst, protocol, body);
            if sum == 0 && protocol == view::protocol::UDP {
                sum = 0xffff;
            }
            body[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv6::icmpv6::{PrefixInfo, RouterAdvert};
    use crate::{EthPayload, Frame, MacAddr, TcpFlags};

    fn round_trip(payload: Ipv6Payload) {
        let frame = Frame {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr([0x33, 0x33, 0xff, 0, 0, 2]),
            payload: EthPayload::Ipv6(Ipv6Packet {
                src: "fe80::1".parse().unwrap(),
                dst: "ff02::1:ff00:2".parse().unwrap(),
                hop_limit: 255,
                payload,
            }),
        };
        let bytes = frame.encode();
        assert_eq!(u16::from_be_bytes([bytes[12], bytes[13]]), 0x86dd);
        assert_eq!(crate::decode(&bytes).unwrap().into_owned(), frame);
    }

    #[test]
    fn every_message_a_host_sends_reads_back_with_good_checksums() {
        let mac = Some(MacAddr([2, 0, 0, 0, 0, 1]));
        let target: Ipv6Addr = "2001:db8::2".parse().unwrap();
        round_trip(Ipv6Payload::Icmpv6(Icmpv6Message::NeighborSolicit {
            target,
            source_mac: mac,
        }));
        round_trip(Ipv6Payload::Icmpv6(Icmpv6Message::NeighborAdvert(
            crate::NeighborAdvert {
                router: false,
                solicited: true,
                override_flag: true,
                target,
                target_mac: mac,
            },
        )));
        round_trip(Ipv6Payload::Icmpv6(Icmpv6Message::RouterAdvert(
            RouterAdvert {
                hop_limit: 64,
                lifetime: 1800,
                mtu: Some(1500),
                source_mac: mac,
                prefixes: vec![PrefixInfo {
                    prefix: "2001:db8::".parse().unwrap(),
                    len: 64,
                    on_link: true,
                    autonomous: true,
                    valid: 86400,
                    preferred: 14400,
                }],
            },
        )));
        round_trip(Ipv6Payload::Icmpv6(Icmpv6Message::EchoRequest {
            id: 7,
            seq: 1,
            data: b"ping".to_vec(),
        }));
        round_trip(Ipv6Payload::Icmpv6(Icmpv6Message::PacketTooBig {
            mtu: 1280,
            original: vec![0x60; 48],
        }));
        round_trip(Ipv6Payload::Udp(UdpDatagram {
            src_port: 5353,
            dst_port: 53,
            payload: b"q".to_vec(),
            checksum_ok: true,
        }));
        round_trip(Ipv6Payload::Tcp(TcpSegment {
            src_port: 40000,
            dst_port: 80,
            seq: 1,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            window: 64800,
            mss: Some(1440),
            checksum_ok: true,
            ..TcpSegment::default()
        }));
    }

    #[test]
    fn a_flipped_bit_or_a_zero_udp_checksum_is_bad() {
        let udp = Frame {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr([2, 0, 0, 0, 0, 2]),
            payload: EthPayload::Ipv6(Ipv6Packet {
                src: "2001:db8::1".parse().unwrap(),
                dst: "2001:db8::2".parse().unwrap(),
                hop_limit: 64,
                payload: Ipv6Payload::Udp(UdpDatagram {
                    src_port: 1,
                    dst_port: 2,
                    payload: b"abcd".to_vec(),
                    checksum_ok: true,
                }),
            }),
        };
        let check = |bytes: &[u8]| match crate::decode(bytes).unwrap().payload {
            EthPayload::Ipv6(Ipv6Packet {
                payload: Ipv6Payload::Udp(u),
                ..
            }) => u.checksum_ok,
            other => panic!("not UDP over IPv6: {other:?}"),
        };
        let mut bytes = udp.encode();
        assert!(check(&bytes));
        bytes[14 + 40 + 9] ^= 1;
        assert!(!check(&bytes));
        bytes[14 + 40 + 6..14 + 40 + 8].fill(0);
        assert!(!check(&bytes));
    }
}
