//! A frame taken apart layer by layer, like Wireshark's packet details pane, and in hex.
//! Every header is read through the `wire` crate's checked views, so a frame cut short by a
//! snaplen (or a broken one) still shows what it has, and nothing can read past its end.

use std::net::{IpAddr, SocketAddr};

use observer::DataLink;
use wire::view::{ethertype, protocol};
use wire::{
    ArpView, EthernetView, IcmpView, Ipv4View, Ipv6View, TcpOption, TcpView, UdpView, ViewError,
};

use crate::steps::Captured;

/// One protocol layer: a title line and its fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Layer {
    /// E.g. `Transmission Control Protocol, Src Port: 49152, Dst Port: 9000`.
    pub title: String,
    /// One line per field.
    pub fields: Vec<String>,
}

fn ethertype_name(t: u16) -> &'static str {
    match t {
        ethertype::IPV4 => "IPv4",
        ethertype::ARP => "ARP",
        ethertype::IPV6 => "IPv6",
        ethertype::VLAN => "802.1Q VLAN",
        _ => "unknown",
    }
}

/// Payload octets the way Python prints bytes (`b'hello\n'`), cut at `max`.
pub fn python_bytes(data: &[u8], max: usize) -> String {
    let mut s = trace::python_bytes(&data[..data.len().min(max)]);
    if data.len() > max {
        s.push('…');
    }
    s
}

/// A Linux cooked capture header: its version, and the EtherType it gives.
fn cooked(version: u8, protocol: Option<u16>) -> Layer {
    let protocol = protocol.unwrap_or(0);
    Layer {
        title: format!("Linux cooked capture v{version}"),
        fields: vec![format!(
            "Protocol: {} (0x{protocol:04x})",
            ethertype_name(protocol)
        )],
    }
}

fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The layers of a captured frame.
pub fn layers(frame: &Captured, number: u64, wire_len: usize) -> Vec<Layer> {
    let data = &frame.data;
    let mut out = vec![Layer {
        title: format!(
            "Frame {number}: {wire_len} bytes on wire, {} bytes captured",
            data.len()
        ),
        fields: Vec::new(),
    }];
    let ip_start = match frame.link {
        DataLink::ETHERNET => match ethernet(data, &mut out) {
            Some(start) => start,
            None => return out,
        },
        DataLink::LINUX_SLL => {
            out.push(cooked(1, be16_at(data, 14)));
            16
        }
        DataLink::LINUX_SLL2 => {
            out.push(cooked(2, be16_at(data, 0)));
            20
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => 0,
        other => {
            let linktype: u32 = other.into();
            out.push(Layer {
                title: format!("Link type {linktype}"),
                fields: Vec::new(),
            });
            0
        }
    };
    // Tags, labels, loopback headers and tunnels: the IP packet the observer reads may lie
    // further in than the link header says.
    let Some(ip) = observer::ip_in(frame.link, data) else {
        return out;
    };
    let at = (ip.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    if at > ip_start {
        let wrappings = observer::wrappings(frame.link, data);
        let names: Vec<String> = wrappings.iter().map(ToString::to_string).collect();
        out.push(Layer {
            title: format!(
                "Encapsulation: {} ({} octets)",
                names.join(", "),
                at - ip_start
            ),
            fields: names,
        });
    }
    match ip.first().map(|v| v >> 4) {
        Some(4) => out.extend(ipv4_layers(ip)),
        Some(6) => out.extend(ipv6_layers(ip)),
        _ => {}
    }
    out
}

/// The IPv6 layers: the fixed header, then the transport header past any extension headers.
fn ipv6_layers(bytes: &[u8]) -> Vec<Layer> {
    let ip = match Ipv6View::new_checked(bytes) {
        Ok(ip) => ip,
        Err(e) => return vec![short("Internet Protocol Version 6", e)],
    };
    let mut out = vec![Layer {
        title: format!(
            "Internet Protocol Version 6, Src: {}, Dst: {}",
            ip.src(),
            ip.dst()
        ),
        fields: vec![
            format!("Payload length: {}", ip.payload_len()),
            format!(
                "Next header: {} ({})",
                protocol_name(ip.next_header()),
                ip.next_header()
            ),
            format!("Hop limit: {}", ip.hop_limit()),
            format!("Source address: {}", ip.src()),
            format!("Destination address: {}", ip.dst()),
        ],
    }];
    let Some(t) = ip.transport() else {
        return out;
    };
    if let Some((offset, more, ident)) = t.fragment {
        out.push(Layer {
            title: format!(
                "Fragment header: offset {offset}, {}, identification 0x{ident:08x}",
                if more {
                    "more fragments"
                } else {
                    "last fragment"
                }
            ),
            fields: Vec::new(),
        });
        return out;
    }
    let complete = t.payload.len() >= t.wire_len;
    let (src, dst) = (ip.src(), ip.dst());
    let sum_ok = |body: &[u8], protocol: u8| {
        complete.then(|| wire::pseudo_header_checksum_v6(src, dst, protocol, body) == 0)
    };
    match t.protocol {
        protocol::TCP => out.push(tcp(t.payload, t.wire_len, |_| {
            sum_ok(t.payload, protocol::TCP)
        })),
        protocol::UDP => out.push(udp(t.payload, |_| sum_ok(t.payload, protocol::UDP))),
        _ => {}
    }
    out
}

/// The Ethernet layer (and ARP, if that is what it carries); where IPv4 starts, if it does.
fn ethernet(data: &[u8], out: &mut Vec<Layer>) -> Option<usize> {
    let eth = match EthernetView::new_checked(data) {
        Ok(eth) => eth,
        Err(e) => {
            out.push(short("Ethernet II", e));
            return None;
        }
    };
    let (dst, src, ether_type) = (eth.dst(), eth.src(), eth.ethertype());
    let broadcast = if dst.is_broadcast() {
        " (broadcast)"
    } else {
        ""
    };
    out.push(Layer {
        title: format!("Ethernet II, Src: {src}, Dst: {dst}"),
        fields: vec![
            format!("Destination: {dst}{broadcast}"),
            format!("Source: {src}"),
            format!("Type: {} (0x{ether_type:04x})", ethertype_name(ether_type)),
        ],
    });
    match ether_type {
        ethertype::ARP => {
            out.push(arp(eth.payload()));
            None
        }
        ethertype::IPV4 => Some(EthernetView::<&[u8]>::HEADER_LEN),
        _ => None,
    }
}

/// A layer that could not be read: cut short (what is needed, what is there) or malformed.
fn short(what: &str, e: ViewError) -> Layer {
    let title = match e {
        ViewError::Truncated { need, have, .. } => {
            format!("{what} [cut short: {have} of at least {need} octets captured]")
        }
        ViewError::Malformed { what: why, .. } => format!("{what} [malformed: {why}]"),
    };
    Layer {
        title,
        fields: Vec::new(),
    }
}

fn arp(b: &[u8]) -> Layer {
    let arp = match ArpView::new_checked(b) {
        Ok(arp) => arp,
        Err(e) => return short("Address Resolution Protocol", e),
    };
    let op = arp.operation();
    let what = match op {
        1 => "request",
        2 => "reply",
        _ => "unknown",
    };
    Layer {
        title: format!("Address Resolution Protocol ({what})"),
        fields: vec![
            format!("Opcode: {what} ({op})"),
            format!("Sender MAC address: {}", arp.sender_mac()),
            format!("Sender IP address: {}", arp.sender_ip()),
            format!("Target MAC address: {}", arp.target_mac()),
            format!("Target IP address: {}", arp.target_ip()),
        ],
    }
}

fn checksum_verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "[correct]",
        // On a veth pair the kernel leaves checksums to offload; the frame was still sent.
        Some(false) => "[incorrect, or left to checksum offload]",
        None => "[unverified: frame cut short]",
    }
}

fn protocol_name(p: u8) -> &'static str {
    match p {
        protocol::ICMP => "ICMP",
        protocol::TCP => "TCP",
        protocol::UDP => "UDP",
        _ => "unknown",
    }
}

fn ipv4_layers(bytes: &[u8]) -> Vec<Layer> {
    let ip = match Ipv4View::new_checked(bytes) {
        Ok(ip) => ip,
        Err(e) => return vec![short("Internet Protocol Version 4", e)],
    };
    let mut out = vec![ipv4_header(&ip)];
    if ip.fragment_offset() != 0 || ip.more_fragments() {
        return out;
    }
    // Transport checksums cover the whole segment: judged only when all of it was captured.
    let (src, dst) = (ip.src(), ip.dst());
    let l4 = ip.payload();
    match ip.protocol() {
        protocol::TCP => out.push(tcp(l4, ip.payload_len(), |t| {
            ip.is_complete().then(|| t.checksum_ok(src, dst))
        })),
        protocol::UDP => out.push(udp(l4, |u| {
            ip.is_complete().then(|| u.checksum_ok(src, dst))
        })),
        protocol::ICMP => out.push(icmp(l4)),
        _ => {}
    }
    out
}

fn ipv4_header(ip: &Ipv4View<&[u8]>) -> Layer {
    let (ihl, flags_frag, p) = (ip.header_len(), ip.flags_fragment(), ip.protocol());
    let mut flags = Vec::new();
    if flags_frag & 0x4000 != 0 {
        flags.push("Don't fragment");
    }
    if flags_frag & 0x2000 != 0 {
        flags.push("More fragments");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(", {}", flags.join(", "))
    };
    Layer {
        title: format!(
            "Internet Protocol Version 4, Src: {}, Dst: {}",
            ip.src(),
            ip.dst()
        ),
        fields: vec![
            format!("Header length: {ihl} bytes ({})", ihl / 4),
            format!("Total length: {}", ip.total_len()),
            format!("Identification: 0x{:04x} ({})", ip.ident(), ip.ident()),
            format!("Flags: 0x{:x}{flags}", flags_frag >> 13),
            format!("Fragment offset: {}", ip.fragment_offset()),
            format!("Time to live: {}", ip.ttl()),
            format!("Protocol: {} ({p})", protocol_name(p)),
            format!(
                "Header checksum: 0x{:04x} {}",
                ip.header_checksum(),
                checksum_verdict(Some(ip.header_checksum_ok()))
            ),
            format!("Source address: {}", ip.src()),
            format!("Destination address: {}", ip.dst()),
        ],
    }
}

fn tcp(
    bytes: &[u8],
    segment_len: usize,
    checksum_ok: impl Fn(&TcpView<&[u8]>) -> Option<bool>,
) -> Layer {
    let t = match TcpView::new_checked(bytes) {
        Ok(t) => t,
        Err(e) => return short("Transmission Control Protocol", e),
    };
    let (src, dst, doff) = (t.src_port(), t.dst_port(), t.header_len());
    let len = segment_len.saturating_sub(doff);
    let mut fields = vec![
        format!("Source port: {src}"),
        format!("Destination port: {dst}"),
        format!("Sequence number: {}", t.seq()),
        format!("Acknowledgment number: {}", t.ack()),
        format!("Header length: {doff} bytes ({})", doff / 4),
        format!(
            "Flags: 0x{:03x} ({})",
            t.flag_bits(),
            flag_names(t.flag_bits())
        ),
        format!("Window: {}", t.window()),
        format!(
            "Checksum: 0x{:04x} {}",
            t.checksum(),
            checksum_verdict(checksum_ok(&t))
        ),
        format!("Urgent pointer: {}", t.urgent()),
    ];
    let options = t.option_bytes();
    if !options.is_empty() {
        fields.push(format!(
            "Options: ({} bytes) {}",
            options.len(),
            tcp_options(&t)
        ));
    }
    fields.push(format!("TCP payload: {len} bytes"));
    if !t.payload().is_empty() {
        fields.push(format!("Data: {}", python_bytes(t.payload(), 48)));
    }
    Layer {
        title: format!(
            "Transmission Control Protocol, Src Port: {src}, Dst Port: {dst}, Len: {len}"
        ),
        fields,
    }
}

/// TCP options in order, named as Wireshark names them.
fn tcp_options(t: &TcpView<&[u8]>) -> String {
    let names: Vec<String> = t
        .options()
        .map(|option| match option {
            TcpOption::End => "EOL".to_string(),
            TcpOption::Nop => "NOP".to_string(),
            TcpOption::Mss(mss) => format!("MSS {mss}"),
            TcpOption::WindowScale(s) => format!("WS {s} (×{})", 1u32 << s.min(14)),
            TcpOption::SackPermitted => "SACK_PERM".to_string(),
            TcpOption::Sack(body) => {
                let blocks: Vec<String> = body
                    .chunks_exact(8)
                    .map(|b| {
                        let edge =
                            |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                        format!("{}-{}", edge(0), edge(4))
                    })
                    .collect();
                format!("SACK {}", blocks.join(" "))
            }
            TcpOption::Timestamps(val, ecr) => format!("TS val {val} ecr {ecr}"),
            TcpOption::Unknown { kind, len } => format!("kind {kind} len {len}"),
            TcpOption::Malformed { kind } => format!("kind {kind} (cut short)"),
        })
        .collect();
    names.join(", ")
}

fn udp(bytes: &[u8], checksum_ok: impl Fn(&UdpView<&[u8]>) -> Option<bool>) -> Layer {
    let u = match UdpView::new_checked(bytes) {
        Ok(u) => u,
        Err(e) => return short("User Datagram Protocol", e),
    };
    let (src, dst) = (u.src_port(), u.dst_port());
    Layer {
        title: format!("User Datagram Protocol, Src Port: {src}, Dst Port: {dst}"),
        fields: vec![
            format!("Source port: {src}"),
            format!("Destination port: {dst}"),
            format!("Length: {}", u.length()),
            format!(
                "Checksum: 0x{:04x} {}",
                u.checksum(),
                checksum_verdict(checksum_ok(&u))
            ),
            format!("Data: {}", python_bytes(u.payload(), 48)),
        ],
    }
}

fn icmp(bytes: &[u8]) -> Layer {
    let i = match IcmpView::new_checked(bytes) {
        Ok(i) => i,
        Err(e) => return short("Internet Control Message Protocol", e),
    };
    let (kind, code) = (i.msg_type(), i.code());
    let name = match (kind, code) {
        (0, _) => "Echo (ping) reply".to_string(),
        (8, _) => "Echo (ping) request".to_string(),
        (3, 0) => "Destination unreachable (Network unreachable)".to_string(),
        (3, 1) => "Destination unreachable (Host unreachable)".to_string(),
        (3, 3) => "Destination unreachable (Port unreachable)".to_string(),
        (3, c) => format!("Destination unreachable (code {c})"),
        (11, 0) => "Time-to-live exceeded (Time to live exceeded in transit)".to_string(),
        (t, c) => format!("type {t} code {c}"),
    };
    let mut fields = vec![
        format!("Type: {kind}"),
        format!("Code: {code}"),
        format!("Checksum: 0x{:04x}", i.checksum()),
    ];
    if matches!(kind, 0 | 8) {
        fields.push(format!("Identifier: {}", i.echo_id()));
        fields.push(format!("Sequence number: {}", i.echo_seq()));
    }
    Layer {
        title: format!("Internet Control Message Protocol: {name}"),
        fields,
    }
}

/// A hex dump, `per_line` octets a line, with offsets and the printable characters.
pub fn hex_dump(data: &[u8], per_line: usize) -> Vec<String> {
    let width = per_line * 3 + per_line / 8;
    data.chunks(per_line.max(1))
        .enumerate()
        .map(|(i, row)| {
            let mut hex = String::new();
            for (j, b) in row.iter().enumerate() {
                if j > 0 && j % 8 == 0 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = row
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:04x}  {hex:<width$} {ascii}", i * per_line)
        })
        .collect()
}

/// The TCP header fields a ladder label needs, read from an IPv4 or IPv6 packet.
#[derive(Clone, Copy, Debug)]
pub struct TcpFields {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// The flags octet (FIN 0x01 … CWR 0x80).
    pub flags: u8,
    /// Window, unscaled.
    pub window: u16,
    /// Payload length, from the IP header (right even when the capture cut the payload).
    pub len: usize,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub ws: Option<u8>,
}

impl TcpFields {
    /// The flags as Wireshark lists them: `SYN, ACK`.
    pub fn flag_names(&self) -> String {
        flag_names(self.flags)
    }
}

/// TCP flags in Wireshark's order (`SYN, ACK`, `FIN, ACK`); `<None>` for none.
pub fn flag_names(flags: u8) -> String {
    let names: Vec<&str> = [
        (0x01, "FIN"),
        (0x02, "SYN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
        (0x40, "ECE"),
        (0x80, "CWR"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, n)| *n)
    .collect();
    if names.is_empty() {
        "<None>".to_string()
    } else {
        names.join(", ")
    }
}

/// Read the TCP header inside an IPv4 or IPv6 packet (never a fragment).
pub fn tcp_fields(bytes: &[u8]) -> Option<TcpFields> {
    let (src, dst, tcp, wire_len) = match bytes.first()? >> 4 {
        4 => {
            let ip = Ipv4View::new_checked(bytes).ok()?;
            if ip.protocol() != protocol::TCP || ip.fragment_offset() != 0 || ip.more_fragments() {
                return None;
            }
            let (src, dst) = (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()));
            (src, dst, &bytes[ip.payload_range()], ip.payload_len())
        }
        6 => {
            let ip = Ipv6View::new_checked(bytes).ok()?;
            let t = ip.transport()?;
            if t.protocol != protocol::TCP || t.fragment.is_some() {
                return None;
            }
            (
                IpAddr::V6(ip.src()),
                IpAddr::V6(ip.dst()),
                t.payload,
                t.wire_len,
            )
        }
        _ => return None,
    };
    let t = TcpView::new_checked(tcp).ok()?;
    let (mut mss, mut ws) = (None, None);
    for option in t.options() {
        match option {
            TcpOption::Mss(m) => mss = Some(m),
            TcpOption::WindowScale(s) => ws = Some(s),
            TcpOption::End | TcpOption::Malformed { .. } => break,
            _ => {}
        }
    }
    Some(TcpFields {
        src: SocketAddr::new(src, t.src_port()),
        dst: SocketAddr::new(dst, t.dst_port()),
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flag_bits(),
        window: t.window(),
        len: wire_len.saturating_sub(t.header_len()),
        mss,
        ws,
    })
}
