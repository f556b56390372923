//! Frames on the wire: decode Ethernet frames into plain layer structs, build frames from
//! them, and write one-line summaries in the style of Wireshark's Info column.
//!
//! Parsing and serialising of the headers is done by etherparse; this crate gives the rest of
//! packetlab a small, owned representation ("repr") of each layer that is easy to match on and
//! easy to print, in the manner of smoltcp's `wire` module.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IcmpEchoHeader,
    Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header, TcpHeader, TcpOptionElement, UdpHeader,
};

mod summary;
pub use summary::{summary, summary_of, summary_of_ipv4};

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The Ethernet broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address, used as the unknown target in an ARP request.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(self) -> bool {
        self == Self::BROADCAST
    }

    /// True when the group bit is set (broadcast or multicast).
    pub fn is_group(self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// Serialized as the text people read (`02:00:00:00:00:01`), as in traces and scenario files.
impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The text was not a MAC address of the form `02:00:00:00:00:01`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a MAC address like 02:00:00:00:00:01 (six hex pairs separated by ':')")]
pub struct MacParseError;

impl FromStr for MacAddr {
    type Err = MacParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or(MacParseError)?;
            if part.len() != 2 {
                return Err(MacParseError);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| MacParseError)?;
        }
        if parts.next().is_some() {
            return Err(MacParseError);
        }
        Ok(MacAddr(out))
    }
}

/// The control bits of a TCP header that packetlab uses.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct TcpFlags {
    /// FIN: no more data from sender.
    pub fin: bool,
    /// SYN: synchronize sequence numbers.
    pub syn: bool,
    /// RST: reset the connection.
    pub rst: bool,
    /// PSH: push function.
    pub psh: bool,
    /// ACK: the acknowledgment field is significant.
    pub ack: bool,
    /// URG: the urgent pointer is significant.
    pub urg: bool,
}

impl TcpFlags {
    /// The flags in tcpdump's compact notation: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`.
    pub fn tcpdump(self) -> String {
        let mut s = String::new();
        for (on, c) in [
            (self.syn, 'S'),
            (self.fin, 'F'),
            (self.psh, 'P'),
            (self.rst, 'R'),
            (self.urg, 'U'),
            (self.ack, '.'),
        ] {
            if on {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push_str("none");
        }
        s
    }

    /// The flags as Wireshark lists them in brackets: `SYN, ACK`.
    pub fn names(self) -> String {
        let mut names = Vec::new();
        for (on, name) in [
            (self.fin, "FIN"),
            (self.syn, "SYN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
            (self.urg, "URG"),
        ] {
            if on {
                names.push(name);
            }
        }
        if names.is_empty() {
            "<None>".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// A TCP segment: header fields packetlab reads and writes, and the payload.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TcpSegment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first octet (or of the SYN).
    pub seq: u32,
    /// Acknowledgment number (meaningful when `flags.ack`).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Advertised receive window, unscaled.
    pub window: u16,
    /// The MSS option, if present (only meaningful on a SYN).
    pub mss: Option<u16>,
    /// The window scale option's shift count, if present (RFC 7323 §2; only on a SYN).
    pub window_scale: Option<u8>,
    /// Options that were present but that packetlab does not implement, by kind number.
    pub other_options: Vec<u8>,
    /// Segment text.
    pub payload: Vec<u8>,
    /// Whether the checksum in the received segment was right (always true for built ones).
    pub checksum_ok: bool,
}

impl TcpSegment {
    /// SEG.LEN of RFC 9293: payload octets plus one for each of SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }
}

/// A UDP datagram.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UdpDatagram {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The datagram's data.
    pub payload: Vec<u8>,
    /// Whether the checksum was right (true when the sender omitted it).
    pub checksum_ok: bool,
}

/// The ICMP messages packetlab understands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IcmpMessage {
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: Vec<u8>,
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: Vec<u8>,
    },
    /// Destination unreachable (type 3), with the start of the datagram it is about: its
    /// IP header and first 8 octets (RFC 792).
    Unreachable {
        /// The code: 3 is "port unreachable".
        code: u8,
        /// The original datagram's IP header and first 8 payload octets.
        original: Vec<u8>,
    },
    /// Time exceeded (type 11): code 0 is "time to live exceeded in transit" (RFC 792), what
    /// a router sends when a packet's TTL runs out; with the start of the datagram.
    TimeExceeded {
        /// The code.
        code: u8,
        /// The original datagram's IP header and first 8 payload octets.
        original: Vec<u8>,
    },
    /// Any other type, kept as its type and code.
    Other {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
}

/// What an IPv4 packet carries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Ipv4Payload {
    /// A TCP segment.
    Tcp(TcpSegment),
    /// A UDP datagram.
    Udp(UdpDatagram),
    /// An ICMP message.
    Icmp(IcmpMessage),
    /// A protocol packetlab does not decode, or a transport header too short to read.
    Other {
        /// IP protocol number.
        protocol: u8,
        /// Bytes after the IP header.
        bytes: Vec<u8>,
    },
}

/// An IPv4 packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ipv4Packet {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Identification field.
    pub ident: u16,
    /// Whether the header checksum was right.
    pub header_checksum_ok: bool,
    /// The payload.
    pub payload: Ipv4Payload,
}

/// ARP operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArpOp {
    /// "Who has TPA? Tell SPA."
    Request,
    /// "SPA is at SHA."
    Reply,
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Arp {
    /// Request or reply.
    pub op: ArpOp,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// What an Ethernet frame carries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EthPayload {
    /// ARP.
    Arp(Arp),
    /// IPv4.
    Ipv4(Ipv4Packet),
    /// Any other EtherType.
    Other {
        /// The EtherType.
        ether_type: u16,
    },
}

/// A decoded Ethernet II frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Source MAC.
    pub src: MacAddr,
    /// Destination MAC.
    pub dst: MacAddr,
    /// The payload.
    pub payload: EthPayload,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the named layer needs.
    #[error("{layer} truncated at byte {offset}: {detail}")]
    Truncated {
        /// The layer being read.
        layer: &'static str,
        /// Offset in the frame where that layer starts.
        offset: usize,
        /// What etherparse said.
        detail: String,
    },
}

const ETH_HEADER_LEN: usize = 14;

/// Decode an Ethernet II frame. Checksums are verified and reported in the result rather than
/// treated as errors, so that a reader of captures keeps the packet (kernel captures on veth
/// carry checksums left to offload) while a host can drop it.
pub fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
    let (eth, rest) = Ethernet2Header::from_slice(bytes).map_err(|e| DecodeError::Truncated {
        layer: "Ethernet",
        offset: 0,
        detail: e.to_string(),
    })?;
    let payload = match eth.ether_type {
        EtherType::ARP => {
            let arp = ArpPacket::from_slice(rest).map_err(|e| DecodeError::Truncated {
                layer: "ARP",
                offset: ETH_HEADER_LEN,
                detail: e.to_string(),
            })?;
            match arp.try_eth_ipv4() {
                Ok(p) => EthPayload::Arp(Arp {
                    op: if p.operation == ArpOperation::REQUEST {
                        ArpOp::Request
                    } else {
                        ArpOp::Reply
                    },
                    sender_mac: MacAddr(p.sender_mac),
                    sender_ip: Ipv4Addr::from(p.sender_ipv4),
                    target_mac: MacAddr(p.target_mac),
                    target_ip: Ipv4Addr::from(p.target_ipv4),
                }),
                Err(_) => EthPayload::Other {
                    ether_type: EtherType::ARP.0,
                },
            }
        }
        EtherType::IPV4 => EthPayload::Ipv4(decode_ipv4(rest)?),
        other => EthPayload::Other {
            ether_type: other.0,
        },
    };
    Ok(Frame {
        src: MacAddr(eth.source),
        dst: MacAddr(eth.destination),
        payload,
    })
}

/// Decode an IPv4 packet (without link header). Trailing bytes beyond the IP total length
/// (Ethernet padding) are ignored.
pub fn decode_ipv4(bytes: &[u8]) -> Result<Ipv4Packet, DecodeError> {
    let (ip, _) = Ipv4Header::from_slice(bytes).map_err(|e| DecodeError::Truncated {
        layer: "IPv4",
        offset: ETH_HEADER_LEN,
        detail: e.to_string(),
    })?;
    let header_len = ip.header_len();
    let total = usize::from(ip.total_len).clamp(header_len, bytes.len());
    let body = &bytes[header_len..total];
    let header_checksum_ok = ip.calc_header_checksum() == ip.header_checksum;
    let payload = match ip.protocol {
        IpNumber::TCP => match TcpHeader::from_slice(body) {
            Ok((tcp, data)) => {
                // Summed with its checksum field, a correct segment sums to all ones.
                let checksum_ok =
                    ipv4_pseudo_checksum(ip.source.into(), ip.destination.into(), 6, body) == 0;
                let mut mss = None;
                let mut window_scale = None;
                let mut other_options = Vec::new();
                for option in tcp.options_iterator() {
                    match option {
                        Ok(TcpOptionElement::MaximumSegmentSize(m)) => mss = Some(m),
                        Ok(TcpOptionElement::Noop) => {}
                        Ok(TcpOptionElement::WindowScale(shift)) => window_scale = Some(shift),
                        Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => {
                            other_options.push(4)
                        }
                        Ok(TcpOptionElement::SelectiveAcknowledgement(..)) => other_options.push(5),
                        Ok(TcpOptionElement::Timestamp(..)) => other_options.push(8),
                        Err(_) => break,
                    }
                }
                Ipv4Payload::Tcp(TcpSegment {
                    src_port: tcp.source_port,
                    dst_port: tcp.destination_port,
                    seq: tcp.sequence_number,
                    ack: tcp.acknowledgment_number,
                    flags: TcpFlags {
                        fin: tcp.fin,
                        syn: tcp.syn,
                        rst: tcp.rst,
                        psh: tcp.psh,
                        ack: tcp.ack,
                        urg: tcp.urg,
                    },
                    window: tcp.window_size,
                    mss,
                    window_scale,
                    other_options,
                    payload: data.to_vec(),
                    checksum_ok,
                })
            }
            Err(_) => Ipv4Payload::Other {
                protocol: 6,
                bytes: body.to_vec(),
            },
        },
        IpNumber::UDP => match UdpHeader::from_slice(body) {
            Ok((udp, data)) => {
                let len = usize::from(udp.length).saturating_sub(8).min(data.len());
                let data = &data[..len];
                let checksum_ok = udp.checksum == 0
                    || udp
                        .calc_checksum_ipv4(&ip, data)
                        .is_ok_and(|c| c == udp.checksum);
                Ipv4Payload::Udp(UdpDatagram {
                    src_port: udp.source_port,
                    dst_port: udp.destination_port,
                    payload: data.to_vec(),
                    checksum_ok,
                })
            }
            Err(_) => Ipv4Payload::Other {
                protocol: 17,
                bytes: body.to_vec(),
            },
        },
        IpNumber::ICMP => match Icmpv4Header::from_slice(body) {
            Ok((icmp, data)) => Ipv4Payload::Icmp(match icmp.icmp_type.clone() {
                Icmpv4Type::EchoRequest(h) => IcmpMessage::EchoRequest {
                    id: h.id,
                    seq: h.seq,
                    data: data.to_vec(),
                },
                Icmpv4Type::EchoReply(h) => IcmpMessage::EchoReply {
                    id: h.id,
                    seq: h.seq,
                    data: data.to_vec(),
                },
                _ => {
                    let bytes = icmp.to_bytes();
                    if bytes[0] == 3 {
                        IcmpMessage::Unreachable {
                            code: bytes[1],
                            original: data.to_vec(),
                        }
                    } else if bytes[0] == 11 {
                        IcmpMessage::TimeExceeded {
                            code: bytes[1],
                            original: data.to_vec(),
                        }
                    } else {
                        IcmpMessage::Other {
                            icmp_type: bytes[0],
                            code: bytes[1],
                        }
                    }
                }
            }),
            Err(_) => Ipv4Payload::Other {
                protocol: 1,
                bytes: body.to_vec(),
            },
        },
        other => Ipv4Payload::Other {
            protocol: other.0,
            bytes: body.to_vec(),
        },
    };
    Ok(Ipv4Packet {
        src: Ipv4Addr::from(ip.source),
        dst: Ipv4Addr::from(ip.destination),
        ttl: ip.time_to_live,
        ident: ip.identification,
        header_checksum_ok,
        payload,
    })
}

impl Frame {
    /// Serialise the frame with correct checksums. Frames are not padded to 60 octets: like a
    /// capture taken on the sending host, padding is the NIC's business.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let ether_type = match &self.payload {
            EthPayload::Arp(_) => EtherType::ARP,
            EthPayload::Ipv4(_) => EtherType::IPV4,
            EthPayload::Other { ether_type } => EtherType(*ether_type),
        };
        let eth = Ethernet2Header {
            source: self.src.0,
            destination: self.dst.0,
            ether_type,
        };
        out.extend_from_slice(&eth.to_bytes());
        match &self.payload {
            EthPayload::Arp(arp) => {
                let packet: ArpPacket = ArpEthIpv4Packet {
                    operation: match arp.op {
                        ArpOp::Request => ArpOperation::REQUEST,
                        ArpOp::Reply => ArpOperation::REPLY,
                    },
                    sender_mac: arp.sender_mac.0,
                    sender_ipv4: arp.sender_ip.octets(),
                    target_mac: arp.target_mac.0,
                    target_ipv4: arp.target_ip.octets(),
                }
                .into();
                out.extend_from_slice(&packet.to_bytes());
            }
            EthPayload::Ipv4(ip) => ip.encode_into(&mut out),
            EthPayload::Other { .. } => {}
        }
        out
    }
}

impl Ipv4Packet {
    /// Append the serialised packet (header and payload, checksums computed) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // The TCP header and payload are written straight into `out`, not through a
        // temporary buffer: this is the path every data segment takes.
        let tcp_header = match &self.payload {
            Ipv4Payload::Tcp(seg) => Some(tcp_header(seg)),
            _ => None,
        };
        let (protocol, transport) = match &self.payload {
            Ipv4Payload::Tcp(_) => (IpNumber::TCP, Vec::new()),
            Ipv4Payload::Udp(udp) => (IpNumber::UDP, encode_udp_body(udp)),
            Ipv4Payload::Icmp(icmp) => (IpNumber::ICMP, encode_icmp_body(icmp)),
            Ipv4Payload::Other { protocol, bytes } => (IpNumber(*protocol), bytes.clone()),
        };
        let transport_len = match (&self.payload, &tcp_header) {
            (Ipv4Payload::Tcp(seg), Some(h)) => h.header_len() + seg.payload.len(),
            _ => transport.len(),
        };
        let mut header = Ipv4Header::new(
            transport_len as u16,
            self.ttl,
            protocol,
            self.src.octets(),
            self.dst.octets(),
        )
        .expect("IPv4 payload fits in 65515 octets");
        header.identification = self.ident;
        header.header_checksum = header.calc_header_checksum();
        out.reserve(header.header_len() + transport_len);
        out.extend_from_slice(&header.to_bytes());
        let transport_start = out.len();
        match (&self.payload, &tcp_header) {
            (Ipv4Payload::Tcp(seg), Some(h)) => {
                out.extend_from_slice(&h.to_bytes());
                out.extend_from_slice(&seg.payload);
            }
            _ => out.extend_from_slice(&transport),
        }
        // Transport checksums cover a pseudo-header, so they are filled in once the IP
        // addresses are known; see RFC 9293 §3.1 and RFC 768.
        let body = &mut out[transport_start..];
        match &self.payload {
            Ipv4Payload::Tcp(_) => {
                let sum = ipv4_pseudo_checksum(self.src, self.dst, 6, body);
                body[16..18].copy_from_slice(&sum.to_be_bytes());
            }
            Ipv4Payload::Udp(_) => {
                let mut sum = ipv4_pseudo_checksum(self.src, self.dst, 17, body);
                if sum == 0 {
                    sum = 0xffff;
                }
                body[6..8].copy_from_slice(&sum.to_be_bytes());
            }
            _ => {}
        }
    }
}

fn tcp_header(seg: &TcpSegment) -> TcpHeader {
    let mut tcp = TcpHeader::new(seg.src_port, seg.dst_port, seg.seq, seg.window);
    tcp.acknowledgment_number = seg.ack;
    tcp.fin = seg.flags.fin;
    tcp.syn = seg.flags.syn;
    tcp.rst = seg.flags.rst;
    tcp.psh = seg.flags.psh;
    tcp.ack = seg.flags.ack;
    tcp.urg = seg.flags.urg;
    let mut options = Vec::with_capacity(3);
    if let Some(mss) = seg.mss {
        options.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    if let Some(shift) = seg.window_scale {
        // A NOP first keeps the three-octet option after it four-octet aligned, as every
        // stack writes it (RFC 7323 §2.2).
        options.push(TcpOptionElement::Noop);
        options.push(TcpOptionElement::WindowScale(shift));
    }
    if !options.is_empty() {
        tcp.set_options(&options)
            .expect("MSS and window scale options fit in the TCP header");
    }
    tcp
}

fn encode_udp_body(udp: &UdpDatagram) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + udp.payload.len());
    body.extend_from_slice(&udp.src_port.to_be_bytes());
    body.extend_from_slice(&udp.dst_port.to_be_bytes());
    body.extend_from_slice(&((8 + udp.payload.len()) as u16).to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&udp.payload);
    body
}

fn encode_icmp_body(icmp: &IcmpMessage) -> Vec<u8> {
    let (icmp_type, data): (Icmpv4Type, &[u8]) = match icmp {
        IcmpMessage::EchoRequest { id, seq, data } => (
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: *id, seq: *seq }),
            data,
        ),
        IcmpMessage::EchoReply { id, seq, data } => (
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: *id, seq: *seq }),
            data,
        ),
        IcmpMessage::Unreachable { code, original } => (
            Icmpv4Type::Unknown {
                type_u8: 3,
                code_u8: *code,
                bytes5to8: [0; 4],
            },
            original.as_slice(),
        ),
        IcmpMessage::TimeExceeded { code, original } => (
            Icmpv4Type::Unknown {
                type_u8: 11,
                code_u8: *code,
                bytes5to8: [0; 4],
            },
            original.as_slice(),
        ),
        IcmpMessage::Other { icmp_type, code } => (
            Icmpv4Type::Unknown {
                type_u8: *icmp_type,
                code_u8: *code,
                bytes5to8: [0; 4],
            },
            &[],
        ),
    };
    let header = Icmpv4Header::with_checksum(icmp_type, data);
    let mut body = header.to_bytes().to_vec();
    body.extend_from_slice(data);
    body
}

/// The Internet checksum (RFC 1071) of `body` under an IPv4 pseudo-header. RFC 1071 §2(B)
/// allows summing in wider words and folding at the end, which is how this sums four octets
/// at a time.
fn ipv4_pseudo_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, body: &[u8]) -> u16 {
    let mut sum: u64 = u64::from(u32::from(src))
        + u64::from(u32::from(dst))
        + u64::from(protocol)
        + body.len() as u64;
    let mut words = body.chunks_exact(4);
    for word in &mut words {
        sum += u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u64::from(u32::from_be_bytes(tail));
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn() -> Frame {
        Frame {
            src: "02:00:00:00:00:01".parse().unwrap(),
            dst: "02:00:00:00:00:02".parse().unwrap(),
            payload: EthPayload::Ipv4(Ipv4Packet {
                src: Ipv4Addr::new(10, 0, 0, 1),
                dst: Ipv4Addr::new(10, 0, 0, 2),
                ttl: 64,
                ident: 7,
                header_checksum_ok: true,
                payload: Ipv4Payload::Tcp(TcpSegment {
                    src_port: 49152,
                    dst_port: 9000,
                    seq: 0xfffffff0,
                    flags: TcpFlags {
                        syn: true,
                        ..TcpFlags::default()
                    },
                    window: 65535,
                    mss: Some(1460),
                    checksum_ok: true,
                    ..TcpSegment::default()
                }),
            }),
        }
    }

    #[test]
    fn tcp_round_trip_keeps_every_field_and_checksums_verify() {
        let frame = syn();
        let bytes = frame.encode();
        assert_eq!(bytes.len(), 14 + 20 + 24);
        assert_eq!(decode(&bytes).unwrap(), frame);
    }

    #[test]
    fn a_flipped_bit_is_reported_as_a_bad_checksum() {
        let mut bytes = syn().encode();
        bytes[14 + 20 + 5] ^= 0x10;
        let EthPayload::Ipv4(ip) = decode(&bytes).unwrap().payload else {
            panic!("not IPv4")
        };
        assert!(ip.header_checksum_ok);
        let Ipv4Payload::Tcp(tcp) = ip.payload else {
            panic!("not TCP")
        };
        assert!(!tcp.checksum_ok);
    }

    #[test]
    fn arp_round_trip() {
        let frame = Frame {
            src: "02:00:00:00:00:01".parse().unwrap(),
            dst: MacAddr::BROADCAST,
            payload: EthPayload::Arp(Arp {
                op: ArpOp::Request,
                sender_mac: "02:00:00:00:00:01".parse().unwrap(),
                sender_ip: Ipv4Addr::new(10, 0, 0, 1),
                target_mac: MacAddr::ZERO,
                target_ip: Ipv4Addr::new(10, 0, 0, 2),
            }),
        };
        let bytes = frame.encode();
        assert_eq!(bytes.len(), 42);
        assert_eq!(decode(&bytes).unwrap(), frame);
        assert_eq!(summary(&frame), "Who has 10.0.0.2? Tell 10.0.0.1");
    }

    #[test]
    fn udp_and_icmp_round_trip() {
        let mut frame = syn();
        let EthPayload::Ipv4(ip) = &mut frame.payload else {
            unreachable!()
        };
        ip.payload = Ipv4Payload::Udp(UdpDatagram {
            src_port: 5353,
            dst_port: 9999,
            payload: b"hi".to_vec(),
            checksum_ok: true,
        });
        assert_eq!(decode(&frame.encode()).unwrap(), frame);
        let EthPayload::Ipv4(ip) = &mut frame.payload else {
            unreachable!()
        };
        ip.payload = Ipv4Payload::Icmp(IcmpMessage::EchoRequest {
            id: 1,
            seq: 2,
            data: b"abc".to_vec(),
        });
        assert_eq!(decode(&frame.encode()).unwrap(), frame);
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        let bytes = syn().encode();
        for len in 0..bytes.len() {
            let _ = decode(&bytes[..len]);
        }
        assert!(matches!(
            decode(&bytes[..10]),
            Err(DecodeError::Truncated {
                layer: "Ethernet",
                ..
            })
        ));
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            "02:00:00:00:00:0a".parse::<MacAddr>().unwrap().to_string(),
            "02:00:00:00:00:0a"
        );
        assert!("02:00:00:00:00".parse::<MacAddr>().is_err());
        assert!("02:00:00:00:00:0g".parse::<MacAddr>().is_err());
        assert!("02:00:00:00:00:01:02".parse::<MacAddr>().is_err());
    }

    #[test]
    fn tcpdump_flag_notation() {
        let f = |syn, ack, fin, psh, rst| TcpFlags {
            syn,
            ack,
            fin,
            psh,
            rst,
            urg: false,
        };
        assert_eq!(f(true, false, false, false, false).tcpdump(), "S");
        assert_eq!(f(true, true, false, false, false).tcpdump(), "S.");
        assert_eq!(f(false, true, false, true, false).tcpdump(), "P.");
        assert_eq!(f(false, true, true, false, false).tcpdump(), "F.");
        assert_eq!(f(false, true, false, false, true).tcpdump(), "R.");
        assert_eq!(f(false, true, false, false, false).tcpdump(), ".");
    }
}
