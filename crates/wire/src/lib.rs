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
    Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header, TcpHeader, TcpOptionElement,
};

mod decode;
mod encode;
mod ipv6;
mod summary;
pub mod view;
pub use decode::{DecodeError, decode, decode_ipv4, decode_ipv6, take_options};
pub use ipv6::icmpv6::{Icmpv6Message, NeighborAdvert, PrefixInfo, RouterAdvert, icmpv6_type};
pub use ipv6::packet::{ICMPV6, Ipv6Packet, Ipv6Payload};
pub use ipv6::{IPV6_HEADER_LEN, Ipv6Transport, Ipv6View, pseudo_header_checksum_v6};
pub use summary::{summary, summary_of, summary_of_ipv4};
pub use view::{
    ArpView, EthernetView, IcmpView, Ipv4View, TcpOption, TcpOptions, TcpView, UdpView, ViewError,
};

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
    /// The flags of the header's flag octet (RFC 9293 §3.1).
    pub fn from_bits(f: u8) -> TcpFlags {
        TcpFlags {
            fin: f & 0x01 != 0,
            syn: f & 0x02 != 0,
            rst: f & 0x04 != 0,
            psh: f & 0x08 != 0,
            ack: f & 0x10 != 0,
            urg: f & 0x20 != 0,
        }
    }

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

    /// Write the flags as Wireshark lists them in brackets (`SYN, ACK`; `<None>` for none).
    pub fn write_names(self, out: &mut String) {
        let start = out.len();
        for (on, name) in [
            (self.fin, "FIN"),
            (self.syn, "SYN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
            (self.urg, "URG"),
        ] {
            if on {
                if out.len() > start {
                    out.push_str(", ");
                }
                out.push_str(name);
            }
        }
        if out.len() == start {
            out.push_str("<None>");
        }
    }

    /// The flags as Wireshark lists them in brackets: `SYN, ACK`.
    pub fn names(self) -> String {
        let mut names = String::new();
        self.write_names(&mut names);
        names
    }
}

/// The SACK blocks of one segment (RFC 2018 §3): at most four fit in the option space
/// (three beside timestamps). Each block is the left edge and one past the right edge.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SackBlocks {
    blocks: [(u32, u32); 4],
    len: u8,
}

impl SackBlocks {
    /// The most blocks one option holds.
    pub const MAX: usize = 4;

    /// Add a block; false (and nothing added) when four are there already.
    pub fn push(&mut self, left: u32, right: u32) -> bool {
        if usize::from(self.len) == Self::MAX {
            return false;
        }
        self.blocks[usize::from(self.len)] = (left, right);
        self.len += 1;
        true
    }

    /// The blocks, in the order they were written.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len)]
    }

    /// How many blocks.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep only the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n as u8);
    }
}

/// The timestamps option of RFC 7323 §3.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Timestamps {
    /// The sender's clock when it sent the segment.
    pub tsval: u32,
    /// The TSval the sender last received and echoes (0 on a SYN).
    pub tsecr: u32,
}

/// A TCP segment: header fields packetlab reads and writes, and the payload. Decoded
/// segments borrow their payload from the frame (`TcpSegment<&[u8]>`); built ones own it.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TcpSegment<P = Vec<u8>> {
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
    /// The SACK-permitted option (RFC 2018 §2; only on a SYN).
    pub sack_permitted: bool,
    /// SACK blocks (RFC 2018 §3), the first one the most recent.
    pub sack: SackBlocks,
    /// The timestamps option (RFC 7323 §3).
    pub timestamps: Option<Timestamps>,
    /// Options that were present but that packetlab does not implement, by kind number.
    pub other_options: Vec<u8>,
    /// Segment text.
    pub payload: P,
    /// Whether the checksum in the received segment was right (always true for built ones).
    pub checksum_ok: bool,
}

impl<P: AsRef<[u8]>> TcpSegment<P> {
    /// SEG.LEN of RFC 9293: payload octets plus one for each of SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.as_ref().len() as u32 + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }

    /// The same segment owning its payload.
    pub fn into_owned(self) -> TcpSegment {
        TcpSegment {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            mss: self.mss,
            window_scale: self.window_scale,
            sack_permitted: self.sack_permitted,
            sack: self.sack,
            timestamps: self.timestamps,
            other_options: self.other_options,
            payload: self.payload.as_ref().to_vec(),
            checksum_ok: self.checksum_ok,
        }
    }
}

/// A UDP datagram.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UdpDatagram<P = Vec<u8>> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The datagram's data.
    pub payload: P,
    /// Whether the checksum was right (true when the sender omitted it).
    pub checksum_ok: bool,
}

/// The ICMP messages packetlab understands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IcmpMessage<P = Vec<u8>> {
    /// Echo request (ping).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: P,
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: P,
    },
    /// Destination unreachable (type 3), with the start of the datagram it is about: its
    /// IP header and first 8 octets (RFC 792).
    Unreachable {
        /// The code: 3 is "port unreachable".
        code: u8,
        /// The original datagram's IP header and first 8 payload octets.
        original: P,
    },
    /// Time exceeded (type 11): code 0 is "time to live exceeded in transit" (RFC 792), what
    /// a router sends when a packet's TTL runs out; with the start of the datagram.
    TimeExceeded {
        /// The code.
        code: u8,
        /// The original datagram's IP header and first 8 payload octets.
        original: P,
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
pub enum Ipv4Payload<P = Vec<u8>> {
    /// A TCP segment.
    Tcp(TcpSegment<P>),
    /// A UDP datagram.
    Udp(UdpDatagram<P>),
    /// An ICMP message.
    Icmp(IcmpMessage<P>),
    /// A protocol packetlab does not decode, or a transport header too short to read.
    Other {
        /// IP protocol number.
        protocol: u8,
        /// Bytes after the IP header.
        bytes: P,
    },
}

/// An IPv4 packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ipv4Packet<P = Vec<u8>> {
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
    pub payload: Ipv4Payload<P>,
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
pub enum EthPayload<P = Vec<u8>> {
    /// ARP.
    Arp(Arp),
    /// IPv4.
    Ipv4(Ipv4Packet<P>),
    /// IPv6.
    Ipv6(Ipv6Packet<P>),
    /// Any other EtherType.
    Other {
        /// The EtherType.
        ether_type: u16,
    },
}

/// A decoded Ethernet II frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame<P = Vec<u8>> {
    /// Source MAC.
    pub src: MacAddr,
    /// Destination MAC.
    pub dst: MacAddr,
    /// The payload.
    pub payload: EthPayload<P>,
}

impl<P: AsRef<[u8]>> UdpDatagram<P> {
    /// The same datagram owning its data.
    pub fn into_owned(self) -> UdpDatagram {
        UdpDatagram {
            src_port: self.src_port,
            dst_port: self.dst_port,
            payload: self.payload.as_ref().to_vec(),
            checksum_ok: self.checksum_ok,
        }
    }
}

impl<P: AsRef<[u8]>> IcmpMessage<P> {
    /// The same message owning its data.
    pub fn into_owned(self) -> IcmpMessage {
        match self {
            IcmpMessage::EchoRequest { id, seq, data } => IcmpMessage::EchoRequest {
                id,
                seq,
                data: data.as_ref().to_vec(),
            },
            IcmpMessage::EchoReply { id, seq, data } => IcmpMessage::EchoReply {
                id,
                seq,
                data: data.as_ref().to_vec(),
            },
            IcmpMessage::Unreachable { code, original } => IcmpMessage::Unreachable {
                code,
                original: original.as_ref().to_vec(),
            },
            IcmpMessage::TimeExceeded { code, original } => IcmpMessage::TimeExceeded {
                code,
                original: original.as_ref().to_vec(),
            },
            IcmpMessage::Other { icmp_type, code } => IcmpMessage::Other { icmp_type, code },
        }
    }
}

impl<P: AsRef<[u8]>> Ipv4Packet<P> {
    /// The same packet owning its payload.
    pub fn into_owned(self) -> Ipv4Packet {
        Ipv4Packet {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            ident: self.ident,
            header_checksum_ok: self.header_checksum_ok,
            payload: match self.payload {
                Ipv4Payload::Tcp(seg) => Ipv4Payload::Tcp(seg.into_owned()),
                Ipv4Payload::Udp(udp) => Ipv4Payload::Udp(udp.into_owned()),
                Ipv4Payload::Icmp(icmp) => Ipv4Payload::Icmp(icmp.into_owned()),
                Ipv4Payload::Other { protocol, bytes } => Ipv4Payload::Other {
                    protocol,
                    bytes: bytes.as_ref().to_vec(),
                },
            },
        }
    }
}

impl<P: AsRef<[u8]>> Frame<P> {
    /// The same frame owning its payloads.
    pub fn into_owned(self) -> Frame {
        Frame {
            src: self.src,
            dst: self.dst,
            payload: match self.payload {
                EthPayload::Arp(arp) => EthPayload::Arp(arp),
                EthPayload::Ipv4(ip) => EthPayload::Ipv4(ip.into_owned()),
                EthPayload::Ipv6(ip) => EthPayload::Ipv6(ip.into_owned()),
                EthPayload::Other { ether_type } => EthPayload::Other { ether_type },
            },
        }
    }
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
        assert_eq!(decode(&bytes).unwrap().into_owned(), frame);
    }

    #[test]
    fn sack_blocks_that_do_not_fit_are_left_out_not_a_panic() {
        // Found by fuzzing: every option at once leaves room for two SACK blocks.
        let mut frame = syn();
        let EthPayload::Ipv4(ip) = &mut frame.payload else {
            panic!("not IPv4")
        };
        let Ipv4Payload::Tcp(tcp) = &mut ip.payload else {
            panic!("not TCP")
        };
        tcp.sack_permitted = true;
        tcp.window_scale = Some(7);
        tcp.timestamps = Some(Timestamps { tsval: 1, tsecr: 2 });
        for i in 0..4 {
            tcp.sack.push(i * 100, i * 100 + 50);
        }
        let decoded = decode(&frame.encode()).unwrap().into_owned();
        let EthPayload::Ipv4(ip) = decoded.payload else {
            panic!("not IPv4")
        };
        let Ipv4Payload::Tcp(tcp) = ip.payload else {
            panic!("not TCP")
        };
        assert_eq!(tcp.sack.as_slice(), [(0, 50), (100, 150)]);
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
        assert_eq!(decode(&bytes).unwrap().into_owned(), frame);
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
        assert_eq!(decode(&frame.encode()).unwrap().into_owned(), frame);
        let EthPayload::Ipv4(ip) = &mut frame.payload else {
            unreachable!()
        };
        ip.payload = Ipv4Payload::Icmp(IcmpMessage::EchoRequest {
            id: 1,
            seq: 2,
            data: b"abc".to_vec(),
        });
        assert_eq!(decode(&frame.encode()).unwrap().into_owned(), frame);
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        let bytes = syn().encode();
        for len in 0..bytes.len() {
            let _ = decode(&bytes[..len]);
        }
        assert!(matches!(
            decode(&bytes[..10]),
            Err(DecodeError {
                offset: 0,
                view: ViewError::Truncated {
                    layer: "Ethernet",
                    ..
                }
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
