//! One-line summaries of frames, in the manner of Wireshark's Info column.

use crate::{ArpOp, EthPayload, Frame, IcmpMessage, Ipv4Packet, Ipv4Payload, TcpSegment};

/// A one-line description of the frame, like Wireshark's Info column. Sequence numbers are
/// absolute: the summary of one frame cannot know where its connection began.
pub fn summary<P: AsRef<[u8]>>(frame: &Frame<P>) -> String {
    match &frame.payload {
        EthPayload::Arp(arp) => match arp.op {
            ArpOp::Request => format!("Who has {}? Tell {}", arp.target_ip, arp.sender_ip),
            ArpOp::Reply => format!("{} is at {}", arp.sender_ip, arp.sender_mac),
        },
        EthPayload::Ipv4(ip) => ipv4_summary(ip),
        EthPayload::Other { ether_type } => format!("EtherType {ether_type:#06x}"),
    }
}

/// The summary of a frame straight from its bytes (decoding borrows: nothing is copied, which
/// matters on the path every simulated frame takes).
pub fn summary_of(bytes: &[u8]) -> String {
    match crate::decode(bytes) {
        Ok(frame) => summary(&frame),
        Err(e) => format!("malformed: {e}"),
    }
}

/// The summary of an IPv4 packet that came without an Ethernet header (a Linux cooked or a
/// raw-IP capture).
pub fn summary_of_ipv4(bytes: &[u8]) -> String {
    match crate::decode_ipv4(bytes) {
        Ok(ip) => ipv4_summary(&ip),
        Err(e) => format!("malformed: {e}"),
    }
}

/// A TCP segment's summary; `len` is its payload length.
fn tcp_summary<P>(seg: &TcpSegment<P>, len: usize) -> String {
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

fn ipv4_summary<P: AsRef<[u8]>>(ip: &Ipv4Packet<P>) -> String {
    match &ip.payload {
        Ipv4Payload::Tcp(seg) => tcp_summary(seg, seg.payload.as_ref().len()),
        Ipv4Payload::Udp(udp) => format!(
            "{} → {} Len={}",
            udp.src_port,
            udp.dst_port,
            udp.payload.as_ref().len()
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
            format!("IP protocol {protocol}, {} bytes", bytes.as_ref().len())
        }
    }
}
