//! One-line summaries of frames, in the manner of Wireshark's Info column.

use crate::{ArpOp, EthPayload, Frame, IcmpMessage, Ipv4Payload, TcpSegment};

/// A one-line description of the frame, like Wireshark's Info column. Sequence numbers are
/// absolute: the summary of one frame cannot know where its connection began.
pub fn summary(frame: &Frame) -> String {
    match &frame.payload {
        EthPayload::Ipv4(ip) => match &ip.payload {
            Ipv4Payload::Tcp(seg) => tcp_summary(seg, seg.payload.len()),
            _ => other_summary(frame),
        },
        _ => other_summary(frame),
    }
}

/// The summary of a frame straight from its bytes: a TCP segment is read in place (its
/// payload is not copied, which matters on the path every simulated frame takes); anything
/// else is decoded in full.
pub fn summary_of(bytes: &[u8]) -> String {
    use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
    if let Ok(SlicedPacket {
        net: Some(NetSlice::Ipv4(_)),
        transport: Some(TransportSlice::Tcp(tcp)),
        ..
    }) = SlicedPacket::from_ethernet(bytes)
    {
        let mut seg = TcpSegment {
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: crate::TcpFlags {
                fin: tcp.fin(),
                syn: tcp.syn(),
                rst: tcp.rst(),
                psh: tcp.psh(),
                ack: tcp.ack(),
                urg: tcp.urg(),
            },
            window: tcp.window_size(),
            ..TcpSegment::default()
        };
        for option in tcp.options_iterator().flatten() {
            match option {
                TcpOptionElement::MaximumSegmentSize(m) => seg.mss = Some(m),
                TcpOptionElement::WindowScale(w) => seg.window_scale = Some(w),
                _ => {}
            }
        }
        return tcp_summary(&seg, tcp.payload().len());
    }
    match crate::decode(bytes) {
        Ok(frame) => summary(&frame),
        Err(e) => format!("malformed: {e}"),
    }
}

/// The summary of an IPv4 packet that came without an Ethernet header (a Linux cooked or a
/// raw-IP capture).
pub fn summary_of_ipv4(bytes: &[u8]) -> String {
    match crate::decode_ipv4(bytes) {
        Ok(ip) => summary(&Frame {
            src: crate::MacAddr([0; 6]),
            dst: crate::MacAddr([0; 6]),
            payload: EthPayload::Ipv4(ip),
        }),
        Err(e) => format!("malformed: {e}"),
    }
}

/// A TCP segment's summary; `len` is its payload length.
fn tcp_summary(seg: &TcpSegment, len: usize) -> String {
    let mut s = format!(
        "{} → {} [{}] Seq={}",
        seg.src_port,
        seg.dst_port,
        seg.flags.names(),
        seg.seq
    );
    if seg.flags.ack {
        s.push_str(&format!(" Ack={}", seg.ack));
    }
    s.push_str(&format!(" Win={} Len={}", seg.window, len));
    if let Some(mss) = seg.mss {
        s.push_str(&format!(" MSS={mss}"));
    }
    if let Some(shift) = seg.window_scale {
        // Wireshark shows the multiplier, not the shift count.
        s.push_str(&format!(" WS={}", 1u32 << shift.min(14)));
    }
    s
}

fn other_summary(frame: &Frame) -> String {
    match &frame.payload {
        EthPayload::Arp(arp) => match arp.op {
            ArpOp::Request => format!("Who has {}? Tell {}", arp.target_ip, arp.sender_ip),
            ArpOp::Reply => format!("{} is at {}", arp.sender_ip, arp.sender_mac),
        },
        EthPayload::Ipv4(ip) => match &ip.payload {
            Ipv4Payload::Tcp(seg) => tcp_summary(seg, seg.payload.len()),
            Ipv4Payload::Udp(udp) => format!(
                "{} → {} Len={}",
                udp.src_port,
                udp.dst_port,
                udp.payload.len()
            ),
            Ipv4Payload::Icmp(IcmpMessage::EchoRequest { id, seq, .. }) => {
                format!(
                    "Echo (ping) request id={id:#06x}, seq={seq}, ttl={}",
                    ip.ttl
                )
            }
            Ipv4Payload::Icmp(IcmpMessage::EchoReply { id, seq, .. }) => {
                format!("Echo (ping) reply id={id:#06x}, seq={seq}, ttl={}", ip.ttl)
            }
            Ipv4Payload::Icmp(IcmpMessage::Unreachable { code: 3, .. }) => {
                "Destination unreachable (Port unreachable)".to_string()
            }
            Ipv4Payload::Icmp(IcmpMessage::Unreachable { code: 0, .. }) => {
                "Destination unreachable (Network unreachable)".to_string()
            }
            Ipv4Payload::Icmp(IcmpMessage::Unreachable { code: 1, .. }) => {
                "Destination unreachable (Host unreachable)".to_string()
            }
            Ipv4Payload::Icmp(IcmpMessage::Unreachable { code, .. }) => {
                format!("Destination unreachable (code {code})")
            }
            Ipv4Payload::Icmp(IcmpMessage::TimeExceeded { code: 0, .. }) => {
                "Time-to-live exceeded (Time to live exceeded in transit)".to_string()
            }
            Ipv4Payload::Icmp(IcmpMessage::TimeExceeded { code, .. }) => {
                format!("Time-to-live exceeded (code {code})")
            }
            Ipv4Payload::Icmp(IcmpMessage::Other { icmp_type, code }) => {
                format!("ICMP type={icmp_type} code={code}")
            }
            Ipv4Payload::Other { protocol, bytes } => {
                format!("IP protocol {protocol}, {} bytes", bytes.len())
            }
        },
        EthPayload::Other { ether_type } => format!("EtherType {ether_type:#06x}"),
    }
}
