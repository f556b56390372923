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

mod ipv6;
mod summary;
pub mod view;
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
                EthPayload::Other { ether_type } => EthPayload::Other { ether_type },
            },
        }
    }
}

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
        other => EthPayload::Other { ether_type: other },
    };
    Ok(Frame {
        src: eth.src(),
        dst: eth.dst(),
        payload,
    })
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
                Ipv4Payload::Tcp(tcp_segment(&tcp, payload, &ip))
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

/// The fields of a TCP header, the options packetlab reads, and the payload, borrowed.
fn tcp_segment<'a>(
    tcp: &TcpView<&[u8]>,
    payload: &'a [u8],
    ip: &Ipv4View<&[u8]>,
) -> TcpSegment<&'a [u8]> {
    let mut segment = TcpSegment {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: tcp.flags(),
        window: tcp.window(),
        payload,
        checksum_ok: tcp.checksum_ok(ip.src(), ip.dst()),
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
                let sum = view::pseudo_header_checksum(self.src, self.dst, 6, body);
                body[16..18].copy_from_slice(&sum.to_be_bytes());
            }
            Ipv4Payload::Udp(_) => {
                let mut sum = view::pseudo_header_checksum(self.src, self.dst, 17, body);
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
    let options = tcp_options(seg);
    if !options.is_empty() {
        tcp.set_options(&options)
            .expect("tcp_options keeps within the TCP header's 40 octets");
    }
    tcp
}

/// The options of a segment in the order and alignment Linux writes them (tcp_options_write):
/// MSS; SACK-permitted and timestamps together, or each behind NOPs; NOP and window scale;
/// then NOP, NOP and the SACK blocks.
fn tcp_options(seg: &TcpSegment) -> Vec<TcpOptionElement> {
    use TcpOptionElement::{Noop, SelectiveAcknowledgement, SelectiveAcknowledgementPermitted};
    let mut options = Vec::with_capacity(8);
    if let Some(mss) = seg.mss {
        options.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    match (seg.sack_permitted, seg.timestamps) {
        (true, Some(ts)) => {
            options.push(SelectiveAcknowledgementPermitted);
            options.push(TcpOptionElement::Timestamp(ts.tsval, ts.tsecr));
        }
        (false, Some(ts)) => {
            options.extend([Noop, Noop, TcpOptionElement::Timestamp(ts.tsval, ts.tsecr)]);
        }
        (true, None) => options.extend([Noop, Noop, SelectiveAcknowledgementPermitted]),
        (false, None) => {}
    }
    if let Some(shift) = seg.window_scale {
        // A NOP first keeps the three-octet option after it four-octet aligned (RFC 7323
        // §2.2).
        options.extend([Noop, TcpOptionElement::WindowScale(shift)]);
    }
    // As many SACK blocks as the 40 octets still hold (Linux drops the rest likewise).
    let used: usize = options.iter().map(option_len).sum();
    let room = 40usize.saturating_sub(used + 4) / 8;
    let blocks = &seg.sack.as_slice()[..seg.sack.len().min(room)];
    if let Some((&first, rest)) = blocks.split_first() {
        let mut more = [None; 3];
        for (slot, &block) in more.iter_mut().zip(rest) {
            *slot = Some(block);
        }
        options.extend([Noop, Noop, SelectiveAcknowledgement(first, more)]);
    }
    options
}

/// The octets an option takes in the header.
fn option_len(option: &TcpOptionElement) -> usize {
    match option {
        TcpOptionElement::Noop => 1,
        TcpOptionElement::MaximumSegmentSize(_) => 4,
        TcpOptionElement::WindowScale(_) => 3,
        TcpOptionElement::SelectiveAcknowledgementPermitted => 2,
        TcpOptionElement::SelectiveAcknowledgement(_, more) => {
            10 + 8 * more.iter().flatten().count()
        }
        TcpOptionElement::Timestamp(..) => 10,
    }
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
