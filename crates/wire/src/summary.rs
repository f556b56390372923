//! One-line summaries of frames, in the manner of Wireshark's Info column.

use crate::view::{self, EthernetView, Ipv4View, TcpView};
use crate::{ArpOp, EthPayload, Frame, IcmpMessage, Ipv4Packet, Ipv4Payload, TcpSegment};
use crate::{Icmpv6Message, Ipv6Packet, Ipv6Payload};

/// A one-line description of the frame, like Wireshark's Info column. Sequence numbers are
/// absolute: the summary of one frame cannot know where its connection began.
pub fn summary<P: AsRef<[u8]>>(frame: &Frame<P>) -> String {
    match &frame.payload {
        EthPayload::Arp(arp) => match arp.op {
            ArpOp::Request => format!("Who has {}? Tell {}", arp.target_ip, arp.sender_ip),
            ArpOp::Reply => format!("{} is at {}", arp.sender_ip, arp.sender_mac),
        },
        EthPayload::Ipv4(ip) => ipv4_summary(ip),
        EthPayload::Ipv6(ip) => ipv6_summary(ip),
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
    let ipv4 = EthernetView::new_checked(bytes)
        .ok()
        .filter(|eth| eth.ethertype() == view::ethertype::IPV4)
        .and_then(|eth| fragment_summary(eth.payload()));
    if let Some(summary) = ipv4 {
        return summary;
    }
    match crate::decode(bytes) {
        Ok(frame) => summary(&frame),
        Err(e) => format!("malformed: {e}"),
    }
}

fn tcp_summary_of(bytes: &[u8]) -> Option<String> {
    let eth = EthernetView::new_checked(bytes).ok()?;
    let segment = match eth.ethertype() {
        view::ethertype::IPV4 => {
            let ip = Ipv4View::new_checked(eth.payload()).ok()?;
            let fragment = ip.fragment_offset() != 0 || ip.more_fragments();
            if ip.protocol() != view::protocol::TCP || fragment {
                return None;
            }
            &eth.payload()[ip.payload_range()]
        }
        view::ethertype::IPV6 => {
            let t = crate::Ipv6View::new_checked(eth.payload())
                .ok()?
                .transport()?;
            if t.protocol != view::protocol::TCP || t.fragment.is_some() {
                return None;
            }
            &t.payload[..t.wire_len.min(t.payload.len())]
        }
        _ => return None,
    };
    let tcp = TcpView::new_checked(segment).ok()?;
    if !tcp.header_complete() {
        return None;
    }
    let seg = crate::decode::tcp_segment(&tcp, (), false);
    Some(tcp_summary(&seg, tcp.payload().len()))
}

/// The summary of an IPv4 packet that came without an Ethernet header (a Linux cooked or a
/// raw-IP capture).
pub fn summary_of_ipv4(bytes: &[u8]) -> String {
    if let Some(summary) = fragment_summary(bytes) {
        return summary;
    }
    match crate::decode_ipv4(bytes) {
        Ok(ip) => ipv4_summary(&ip),
        Err(e) => format!("malformed: {e}"),
    }
}

/// Wireshark's summary of an IPv4 fragment, if the packet is one.
fn fragment_summary(ip: &[u8]) -> Option<String> {
    let ip = Ipv4View::new_checked(ip).ok()?;
    if ip.fragment_offset() == 0 && !ip.more_fragments() {
        return None;
    }
    Some(format!(
        "Fragmented IP protocol (proto={}, off={}, ID={:04x}){}",
        ip.protocol(),
        ip.fragment_offset(),
        ip.ident(),
        if ip.more_fragments() {
            ""
        } else {
            " [last fragment]"
        }
    ))
}

/// A TCP segment's summary; `len` is its payload length.
fn tcp_summary<P>(seg: &TcpSegment<P>, len: usize) -> String {
    // One allocation, and numbers written without `fmt`: this runs for every frame of every
    // run.
    let mut s = String::with_capacity(128);
    push_number(&mut s, seg.src_port.into());
    s.push_str(" → ");
    push_number(&mut s, seg.dst_port.into());
    s.push_str(" [");
    seg.flags.write_names(&mut s);
    s.push_str("] Seq=");
    push_number(&mut s, seg.seq.into());
    if seg.flags.ack {
        s.push_str(" Ack=");
        push_number(&mut s, seg.ack.into());
    }
    s.push_str(" Win=");
    push_number(&mut s, seg.window.into());
    s.push_str(" Len=");
    push_number(&mut s, len as u64);
    tcp_option_summary(&mut s, seg);
    s
}

/// The options as Wireshark's Info column lists them.
fn tcp_option_summary<P>(s: &mut String, seg: &TcpSegment<P>) {
    if let Some(mss) = seg.mss {
        s.push_str(" MSS=");
        push_number(s, mss.into());
    }
    if seg.sack_permitted {
        s.push_str(" SACK_PERM");
    }
    if let Some(ts) = seg.timestamps {
        s.push_str(" TSval=");
        push_number(s, ts.tsval.into());
        s.push_str(" TSecr=");
        push_number(s, ts.tsecr.into());
    }
    if let Some(shift) = seg.window_scale {
        // Wireshark shows the multiplier, not the shift count.
        s.push_str(" WS=");
        push_number(s, 1u64 << shift.min(14));
    }
    for &(left, right) in seg.sack.as_slice() {
        s.push_str(" SLE=");
        push_number(s, left.into());
        s.push_str(" SRE=");
        push_number(s, right.into());
    }
}

/// Append `n` in decimal.
fn push_number(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
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

fn ipv6_summary<P: AsRef<[u8]>>(ip: &Ipv6Packet<P>) -> String {
    match &ip.payload {
        Ipv6Payload::Tcp(seg) => tcp_summary(seg, seg.payload.as_ref().len()),
        Ipv6Payload::Udp(udp) => format!(
            "{} → {} Len={}",
            udp.src_port,
            udp.dst_port,
            udp.payload.as_ref().len()
        ),
        Ipv6Payload::Icmpv6(m) => icmpv6_summary(m, ip.hop_limit),
        Ipv6Payload::Other { protocol, bytes } => {
            format!(
                "IPv6 next header {protocol}, {} bytes",
                bytes.as_ref().len()
            )
        }
    }
}

/// Wireshark's Info column for an ICMPv6 message.
fn icmpv6_summary<P>(m: &Icmpv6Message<P>, hop_limit: u8) -> String {
    let mac = |m: &Option<crate::MacAddr>| m.map(|m| format!(" is at {m}")).unwrap_or_default();
    match m {
        Icmpv6Message::EchoRequest { id, seq, .. } => {
            format!("Echo (ping) request id={id:#06x}, seq={seq}, hop limit={hop_limit}")
        }
        Icmpv6Message::EchoReply { id, seq, .. } => {
            format!("Echo (ping) reply id={id:#06x}, seq={seq}, hop limit={hop_limit}")
        }
        Icmpv6Message::Unreachable { code, .. } => {
            let what = match code {
                0 => "no route to destination",
                1 => "administratively prohibited",
                3 => "Address unreachable",
                4 => "Port unreachable",
                _ => "unreachable",
            };
            format!("Destination Unreachable ({what})")
        }
        Icmpv6Message::PacketTooBig { mtu, .. } => format!("Packet Too Big (MTU {mtu})"),
        Icmpv6Message::TimeExceeded { .. } => {
            "Time Exceeded (hop limit exceeded in transit)".into()
        }
        Icmpv6Message::RouterSolicit { source_mac } => match source_mac {
            Some(m) => format!("Router Solicitation from {m}"),
            None => "Router Solicitation".into(),
        },
        Icmpv6Message::RouterAdvert(ra) => match ra.source_mac {
            Some(m) => format!("Router Advertisement from {m}"),
            None => "Router Advertisement".into(),
        },
        Icmpv6Message::NeighborSolicit { target, source_mac } => match source_mac {
            Some(m) => format!("Neighbor Solicitation for {target} from {m}"),
            None => format!("Neighbor Solicitation for {target}"),
        },
        Icmpv6Message::NeighborAdvert(na) => {
            let set = na.flag_names();
            let flags = if set.is_empty() {
                String::new()
            } else {
                format!(" ({})", set.join(", "))
            };
            format!(
                "Neighbor Advertisement {}{flags}{}",
                na.target,
                mac(&na.target_mac)
            )
        }
        Icmpv6Message::Other { icmp_type, code } => {
            format!("ICMPv6 type={icmp_type} code={code}")
        }
    }
}
