//! One-line summaries of frames, in the manner of Wireshark's Info column.

use std::fmt::Write as _;

use crate::view::{self, EthernetView, Ipv4View, TcpView};
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

/// The summary of a frame straight from its bytes. A TCP segment is read through the views
/// alone (no checksum is computed: a summary does not judge one), which matters on the path
/// every simulated frame takes; anything else is decoded.
pub fn summary_of(bytes: &[u8]) -> String {
    if let Some(summary) = tcp_summary_of(bytes) {
        return summary;
    }
    match crate::decode(bytes) {
        Ok(frame) => summary(&frame),
        Err(e) => format!("malformed: {e}"),
    }
}

fn tcp_summary_of(bytes: &[u8]) -> Option<String> {
    let eth = EthernetView::new_checked(bytes).ok()?;
    if eth.ethertype() != view::ethertype::IPV4 {
        return None;
    }
    let ip = Ipv4View::new_checked(eth.payload()).ok()?;
    if ip.protocol() != view::protocol::TCP {
        return None;
    }
    let tcp = TcpView::new_checked(ip.payload()).ok()?;
    if !tcp.header_complete() {
        return None;
    }
    let mut seg = TcpSegment {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: tcp.flags(),
        window: tcp.window(),
        ..TcpSegment::<()>::default()
    };
    crate::take_options(&mut seg, tcp.options());
    Some(tcp_summary(&seg, tcp.payload().len()))
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
    // One allocation: this runs for every frame of every run.
    let mut s = String::with_capacity(96);
    let _ = write!(s, "{} → {} [", seg.src_port, seg.dst_port);
    seg.flags.write_names(&mut s);
    let _ = write!(s, "] Seq={}", seg.seq);
    if seg.flags.ack {
        let _ = write!(s, " Ack={}", seg.ack);
    }
    let _ = write!(s, " Win={} Len={}", seg.window, len);
    if let Some(mss) = seg.mss {
        let _ = write!(s, " MSS={mss}");
    }
    if seg.sack_permitted {
        s.push_str(" SACK_PERM");
    }
    if let Some(ts) = seg.timestamps {
        let _ = write!(s, " TSval={} TSecr={}", ts.tsval, ts.tsecr);
    }
    if let Some(shift) = seg.window_scale {
        // Wireshark shows the multiplier, not the shift count.
        let _ = write!(s, " WS={}", 1u32 << shift.min(14));
    }
    for (left, right) in seg.sack.as_slice() {
        let _ = write!(s, " SLE={left} SRE={right}");
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
