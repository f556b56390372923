//! Frames built: every header with its checksums, TCP options in Linux's order.

use super::*;

impl Frame {
    /// Serialise the frame with correct checksums. Frames are not padded to 60 octets: like a
    /// capture taken on the sending host, padding is the NIC's business.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let ether_type = match &self.payload {
            EthPayload::Arp(_) => EtherType::ARP,
            EthPayload::Ipv4(_) => EtherType::IPV4,
            EthPayload::Ipv6(_) => EtherType::IPV6,
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
            EthPayload::Ipv6(ip) => ip.encode_into(&mut out),
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

pub(crate) fn tcp_header(seg: &TcpSegment) -> TcpHeader {
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

pub(crate) fn encode_udp_body(udp: &UdpDatagram) -> Vec<u8> {
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
