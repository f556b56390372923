//! A frame taken apart layer by layer, like Wireshark's packet details pane, and in hex.
//! Fields are read at their offsets so that a frame cut short by a snaplen still shows what
//! it has; checksums are judged by the `wire` crate's decoder.

use observer::DataLink;

use crate::steps::Captured;

/// One protocol layer: a title line and its fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Layer {
    /// E.g. `Transmission Control Protocol, Src Port: 49152, Dst Port: 9000`.
    pub title: String,
    /// One line per field.
    pub fields: Vec<String>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn mac(b: &[u8], at: usize) -> Option<String> {
    let m = b.get(at..at + 6)?;
    Some(
        m.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn ipv4(b: &[u8], at: usize) -> Option<std::net::Ipv4Addr> {
    let a = b.get(at..at + 4)?;
    Some(std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]))
}

fn ethertype_name(t: u16) -> &'static str {
    match t {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x8100 => "802.1Q VLAN",
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
fn cooked(version: u8, protocol: u16) -> Layer {
    Layer {
        title: format!("Linux cooked capture v{version}"),
        fields: vec![format!(
            "Protocol: {} (0x{protocol:04x})",
            ethertype_name(protocol)
        )],
    }
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
        DataLink::ETHERNET => {
            let Some(ether_type) = be16(data, 12) else {
                out.push(short("Ethernet II", 14, data.len()));
                return out;
            };
            let (dst, src) = (
                mac(data, 0).unwrap_or_default(),
                mac(data, 6).unwrap_or_default(),
            );
            let broadcast = if data[..6] == [0xff; 6] {
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
                0x0806 => {
                    out.push(arp(&data[14..]));
                    return out;
                }
                0x0800 => 14,
                _ => return out,
            }
        }
        DataLink::LINUX_SLL => {
            out.push(cooked(1, be16(data, 14).unwrap_or(0)));
            16
        }
        DataLink::LINUX_SLL2 => {
            out.push(cooked(2, be16(data, 0).unwrap_or(0)));
            20
        }
        DataLink::RAW | DataLink::IPV4 => 0,
        other => {
            out.push(Layer {
                title: format!("Link type {other:?}: not decoded"),
                fields: Vec::new(),
            });
            return out;
        }
    };
    match data.get(ip_start..) {
        Some(ip) if ip.first().is_some_and(|v| v >> 4 == 4) => out.extend(ipv4_layers(ip)),
        _ => {}
    }
    out
}

fn short(what: &str, need: usize, have: usize) -> Layer {
    Layer {
        title: format!("{what} [cut short: {have} of at least {need} octets captured]"),
        fields: Vec::new(),
    }
}

fn arp(b: &[u8]) -> Layer {
    let (Some(op), Some(sha), Some(spa), Some(tha), Some(tpa)) =
        (be16(b, 6), mac(b, 8), ipv4(b, 14), mac(b, 18), ipv4(b, 24))
    else {
        return short("Address Resolution Protocol", 28, b.len());
    };
    let what = match op {
        1 => "request",
        2 => "reply",
        _ => "unknown",
    };
    Layer {
        title: format!("Address Resolution Protocol ({what})"),
        fields: vec![
            format!("Opcode: {what} ({op})"),
            format!("Sender MAC address: {sha}"),
            format!("Sender IP address: {spa}"),
            format!("Target MAC address: {tha}"),
            format!("Target IP address: {tpa}"),
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

fn ipv4_layers(ip: &[u8]) -> Vec<Layer> {
    if ip.len() < 20 {
        return vec![short("Internet Protocol Version 4", 20, ip.len())];
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2).unwrap_or(0));
    let flags_frag = be16(ip, 6).unwrap_or(0);
    let protocol = ip[9];
    let (src, dst) = (
        ipv4(ip, 12).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ipv4(ip, 16).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
    );
    let complete = ip.len() >= total;
    let decoded = if complete {
        wire::decode_ipv4(&ip[..total]).ok()
    } else {
        None
    };
    let protocol_name = match protocol {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        _ => "unknown",
    };
    let mut flags = Vec::new();
    if flags_frag & 0x4000 != 0 {
        flags.push("Don't fragment");
    }
    if flags_frag & 0x2000 != 0 {
        flags.push("More fragments");
    }
    let mut out = vec![Layer {
        title: format!("Internet Protocol Version 4, Src: {src}, Dst: {dst}"),
        fields: vec![
            format!("Header length: {ihl} bytes ({})", ihl / 4),
            format!("Total length: {total}"),
            format!(
                "Identification: 0x{:04x} ({})",
                be16(ip, 4).unwrap_or(0),
                be16(ip, 4).unwrap_or(0)
            ),
            format!(
                "Flags: 0x{:x}{}",
                flags_frag >> 13,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(", {}", flags.join(", "))
                }
            ),
            format!("Fragment offset: {}", (flags_frag & 0x1fff) * 8),
            format!("Time to live: {}", ip[8]),
            format!("Protocol: {protocol_name} ({protocol})"),
            format!(
                "Header checksum: 0x{:04x} {}",
                be16(ip, 10).unwrap_or(0),
                checksum_verdict(decoded.as_ref().map(|d| d.header_checksum_ok))
            ),
            format!("Source address: {src}"),
            format!("Destination address: {dst}"),
        ],
    }];
    if flags_frag & 0x1fff != 0 || ihl < 20 {
        return out;
    }
    let end = total.min(ip.len()).max(ihl.min(ip.len()));
    let Some(l4) = ip.get(ihl..end) else {
        return out;
    };
    let payload_len = total.saturating_sub(ihl);
    let transport_ok = decoded.as_ref().map(|d| match &d.payload {
        wire::Ipv4Payload::Tcp(t) => t.checksum_ok,
        wire::Ipv4Payload::Udp(u) => u.checksum_ok,
        _ => true,
    });
    match protocol {
        6 => out.push(tcp(l4, payload_len, transport_ok)),
        17 => out.push(udp(l4, transport_ok)),
        1 => out.push(icmp(l4)),
        _ => {}
    }
    out
}

fn tcp(t: &[u8], segment_len: usize, checksum_ok: Option<bool>) -> Layer {
    if t.len() < 20 {
        return short("Transmission Control Protocol", 20, t.len());
    }
    let (src, dst) = (be16(t, 0).unwrap_or(0), be16(t, 2).unwrap_or(0));
    let doff = usize::from(t[12] >> 4) * 4;
    let flags = t[13];
    let len = segment_len.saturating_sub(doff);
    let mut fields = vec![
        format!("Source port: {src}"),
        format!("Destination port: {dst}"),
        format!("Sequence number: {}", be32(t, 4).unwrap_or(0)),
        format!("Acknowledgment number: {}", be32(t, 8).unwrap_or(0)),
        format!("Header length: {doff} bytes ({})", doff / 4),
        format!("Flags: 0x{flags:03x} ({})", flag_names(flags)),
        format!("Window: {}", be16(t, 14).unwrap_or(0)),
        format!(
            "Checksum: 0x{:04x} {}",
            be16(t, 16).unwrap_or(0),
            checksum_verdict(checksum_ok)
        ),
        format!("Urgent pointer: {}", be16(t, 18).unwrap_or(0)),
    ];
    let options = t.get(20..doff.min(t.len())).unwrap_or(&[]);
    if !options.is_empty() {
        fields.push(format!(
            "Options: ({} bytes) {}",
            options.len(),
            tcp_options(options)
        ));
    }
    let payload = t.get(doff..).unwrap_or(&[]);
    fields.push(format!("TCP payload: {len} bytes"));
    if !payload.is_empty() {
        fields.push(format!("Data: {}", python_bytes(payload, 48)));
    }
    Layer {
        title: format!(
            "Transmission Control Protocol, Src Port: {src}, Dst Port: {dst}, Len: {len}"
        ),
        fields,
    }
}

/// TCP options in order, named as Wireshark names them.
fn tcp_options(mut o: &[u8]) -> String {
    let mut out = Vec::new();
    while let Some(&kind) = o.first() {
        match kind {
            0 => {
                out.push("EOL".to_string());
                break;
            }
            1 => {
                out.push("NOP".to_string());
                o = &o[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(1) else {
            out.push(format!("kind {kind} (cut short)"));
            break;
        };
        let len = usize::from(len);
        let Some(body) = o.get(2..len.max(2)) else {
            out.push(format!("kind {kind} (cut short)"));
            break;
        };
        out.push(match (kind, body.len()) {
            (2, 2) => format!("MSS {}", be16(body, 0).unwrap_or(0)),
            (3, 1) => format!("WS {} (×{})", body[0], 1u32 << body[0].min(14)),
            (4, 0) => "SACK_PERM".to_string(),
            (5, _) => {
                let blocks: Vec<String> = body
                    .chunks_exact(8)
                    .map(|b| format!("{}-{}", be32(b, 0).unwrap_or(0), be32(b, 4).unwrap_or(0)))
                    .collect();
                format!("SACK {}", blocks.join(" "))
            }
            (8, 8) => format!(
                "TS val {} ecr {}",
                be32(body, 0).unwrap_or(0),
                be32(body, 4).unwrap_or(0)
            ),
            _ => format!("kind {kind} len {len}"),
        });
        if len < 2 {
            break;
        }
        o = &o[len..];
    }
    out.join(", ")
}

fn udp(u: &[u8], checksum_ok: Option<bool>) -> Layer {
    if u.len() < 8 {
        return short("User Datagram Protocol", 8, u.len());
    }
    let (src, dst) = (be16(u, 0).unwrap_or(0), be16(u, 2).unwrap_or(0));
    let len = be16(u, 4).unwrap_or(0);
    Layer {
        title: format!("User Datagram Protocol, Src Port: {src}, Dst Port: {dst}"),
        fields: vec![
            format!("Source port: {src}"),
            format!("Destination port: {dst}"),
            format!("Length: {len}"),
            format!(
                "Checksum: 0x{:04x} {}",
                be16(u, 6).unwrap_or(0),
                checksum_verdict(checksum_ok)
            ),
            format!("Data: {}", python_bytes(&u[8..], 48)),
        ],
    }
}

fn icmp(i: &[u8]) -> Layer {
    if i.len() < 4 {
        return short("Internet Control Message Protocol", 4, i.len());
    }
    let (kind, code) = (i[0], i[1]);
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
        format!("Checksum: 0x{:04x}", be16(i, 2).unwrap_or(0)),
    ];
    if matches!(kind, 0 | 8) {
        fields.push(format!("Identifier: {}", be16(i, 4).unwrap_or(0)));
        fields.push(format!("Sequence number: {}", be16(i, 6).unwrap_or(0)));
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

/// The TCP header fields a ladder label needs, read from an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct TcpView {
    /// Source address and port.
    pub src: std::net::SocketAddrV4,
    /// Destination address and port.
    pub dst: std::net::SocketAddrV4,
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

impl TcpView {
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

/// Read the TCP header inside an IPv4 packet (not a later fragment).
pub fn tcp_view(ip: &[u8]) -> Option<TcpView> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if *ip.get(9)? != 6 || ihl < 20 || be16(ip, 6)? & 0x1fff != 0 {
        return None;
    }
    let t = ip.get(ihl..)?;
    let doff = usize::from(t.get(12)? >> 4) * 4;
    let total = usize::from(be16(ip, 2)?);
    let (mut mss, mut ws) = (None, None);
    let mut o = t.get(20..doff.min(t.len())).unwrap_or(&[]);
    while let Some(&kind) = o.first() {
        if kind == 0 {
            break;
        }
        if kind == 1 {
            o = &o[1..];
            continue;
        }
        let len = usize::from(*o.get(1).unwrap_or(&0));
        if len < 2 || o.len() < len {
            break;
        }
        match (kind, len) {
            (2, 4) => mss = be16(o, 2),
            (3, 3) => ws = Some(o[2]),
            _ => {}
        }
        o = &o[len..];
    }
    Some(TcpView {
        src: std::net::SocketAddrV4::new(ipv4(ip, 12)?, be16(t, 0)?),
        dst: std::net::SocketAddrV4::new(ipv4(ip, 16)?, be16(t, 2)?),
        seq: be32(t, 4)?,
        ack: be32(t, 8)?,
        flags: *t.get(13)?,
        window: be16(t, 14)?,
        len: total.saturating_sub(ihl + doff),
        mss,
        ws,
    })
}
