//! Packets between the script and the host: the frames a script line injects, built octet
//! by octet as the script writes them (options in its order), and the segments the host
//! sends, read back with their options raw so that they compare as packetdrill compares.

use std::fmt;
use std::net::Ipv4Addr;

use wire::view::{
    EthernetView, Ipv4View, TcpView, UdpView, internet_checksum, pseudo_header_checksum,
};

use crate::script::{Ecn, Flags, TcpOpt};

/// The script's side of the wire: packetdrill's defaults.
pub mod addr {
    use std::net::Ipv4Addr;

    use wire::MacAddr;

    /// The host under test (packetdrill's `--local_ip`).
    pub const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
    /// Its gateway, through which the remote end is reached (`--gateway_ip`).
    pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);
    /// The remote end the script plays (`--remote_ip`).
    pub const REMOTE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    /// The local network's prefix length (packetdrill's 16).
    pub const PREFIX: u8 = 16;
    /// The port `bind(3, ..., ...)` binds and `connect(3, ..., ...)` connects to.
    pub const PORT: u16 = 8080;
    /// The host's MAC address.
    pub const HOST_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
    /// The gateway's MAC address: the script's frames come from it.
    pub const GATEWAY_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
}

/// A TCP segment as the wire has it: the fields packetdrill compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Control bits.
    pub flags: Flags,
    /// The window field, unscaled.
    pub win: u16,
    /// The urgent pointer.
    pub urg: u16,
    /// The options, in order; an option a script cannot name shows as its kind.
    pub options: Vec<Opt>,
    /// Payload octets.
    pub len: u32,
    /// The IP header's ECN bits.
    pub ecn: u8,
}

/// An option the host sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt {
    /// One a script can write.
    Known(TcpOpt),
    /// Another kind, with its octets after kind and length.
    Other(u8, Vec<u8>),
}

impl fmt::Display for Opt {
    /// As packetdrill writes it, or `kind N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opt::Known(o) => write!(f, "{o}"),
            Opt::Other(kind, data) => write!(f, "option kind {kind} ({} octets)", data.len()),
        }
    }
}

/// What the host put on the wire, as far as the script is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// A TCP segment to the remote end.
    Tcp(Segment),
    /// A UDP datagram to the remote end: ports and payload length.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Payload octets.
        len: u32,
    },
    /// An ICMP message to the remote end: type and code.
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
    /// An ARP request for the gateway: the runner answers it.
    ArpRequest {
        /// Who asks.
        sender_ip: Ipv4Addr,
        /// The address asked for.
        target_ip: Ipv4Addr,
    },
    /// Anything else (to another address, another protocol).
    Other,
}

/// Read a frame the host sent.
pub fn read(frame: &[u8]) -> Sent {
    let Ok(eth) = EthernetView::new_checked(frame) else {
        return Sent::Other;
    };
    match eth.ethertype() {
        0x0806 => read_arp(eth.payload()),
        0x0800 => read_ipv4(eth.payload()),
        _ => Sent::Other,
    }
}

fn read_arp(bytes: &[u8]) -> Sent {
    match wire::view::ArpView::new_checked(bytes) {
        Ok(arp) if arp.operation() == 1 => Sent::ArpRequest {
            sender_ip: arp.sender_ip(),
            target_ip: arp.target_ip(),
        },
        _ => Sent::Other,
    }
}

fn read_ipv4(bytes: &[u8]) -> Sent {
    let Ok(ip) = Ipv4View::new_checked(bytes) else {
        return Sent::Other;
    };
    if ip.dst() != addr::REMOTE {
        return Sent::Other;
    }
    let ecn = bytes[1] & 3;
    match ip.protocol() {
        6 => match TcpView::new_checked(ip.payload()) {
            Ok(tcp) => Sent::Tcp(segment(&tcp, ecn)),
            Err(_) => Sent::Other,
        },
        17 => match UdpView::new_checked(ip.payload()) {
            Ok(udp) => Sent::Udp {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                len: udp.payload().len() as u32,
            },
            Err(_) => Sent::Other,
        },
        1 => match ip.payload() {
            [icmp_type, code, ..] => Sent::Icmp {
                icmp_type: *icmp_type,
                code: *code,
            },
            _ => Sent::Other,
        },
        _ => Sent::Other,
    }
}

fn segment(tcp: &TcpView<&[u8]>, ecn: u8) -> Segment {
    Segment {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: Flags::from_bits(tcp.flag_bits()),
        win: tcp.window(),
        urg: tcp.urgent(),
        options: options(tcp.option_bytes()),
        len: tcp.payload().len() as u32,
        ecn,
    }
}

/// The options of a header, as packetdrill's iterator reads them: a malformed one ends the
/// list.
fn options(mut rest: &[u8]) -> Vec<Opt> {
    let mut out = Vec::new();
    while let Some((&kind, after)) = rest.split_first() {
        if kind <= 1 {
            out.push(Opt::Known(if kind == 0 {
                TcpOpt::Eol
            } else {
                TcpOpt::Nop
            }));
            rest = after;
            continue;
        }
        let len = usize::from(after.first().copied().unwrap_or(0));
        let Some(body) = rest.get(2..len).filter(|_| len >= 2) else {
            break;
        };
        let be32 =
            |at: usize| u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
        out.push(match (kind, body.len()) {
            (2, 2) => Opt::Known(TcpOpt::Mss(u16::from_be_bytes([body[0], body[1]]))),
            (3, 1) => Opt::Known(TcpOpt::WScale(body[0])),
            (4, 0) => Opt::Known(TcpOpt::SackOk),
            (5, n) if n % 8 == 0 && n > 0 => Opt::Known(TcpOpt::Sack(
                (0..n / 8).map(|i| (be32(8 * i), be32(8 * i + 4))).collect(),
            )),
            (8, 8) => Opt::Known(TcpOpt::Timestamp {
                val: be32(0),
                ecr: be32(4),
            }),
            _ => Opt::Other(kind, body.to_vec()),
        });
        rest = &rest[len..];
    }
    out
}

/// The IP header's second octet for an ECN codepoint.
fn ecn_bits(ecn: Option<Ecn>) -> u8 {
    match ecn {
        Some(Ecn::Ect1) => 1,
        Some(Ecn::Ect0 | Ecn::Ect01) => 2,
        Some(Ecn::Ce) => 3,
        Some(Ecn::NotEct) | None => 0,
    }
}

/// An IPv4 header from the remote end to the host, around `body` (checksum filled).
fn ipv4(protocol: u8, ecn: Option<Ecn>, ident: u16, body: &[u8]) -> Vec<u8> {
    let total = 20 + body.len();
    let mut ip = vec![0x45, ecn_bits(ecn)];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&ident.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, protocol, 0, 0]);
    ip.extend_from_slice(&addr::REMOTE.octets());
    ip.extend_from_slice(&addr::LOCAL.octets());
    let sum = internet_checksum(0, &ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(body);
    ip
}

/// An Ethernet frame from the gateway to the host.
fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&addr::HOST_MAC.0);
    frame.extend_from_slice(&addr::GATEWAY_MAC.0);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The frame of a TCP segment from the remote end, its options in the script's order and
/// its payload zeros, as packetdrill's are.
pub fn tcp_frame(seg: &Segment, opts: &[TcpOpt], ecn: Option<Ecn>, ident: u16) -> Vec<u8> {
    let mut options = Vec::new();
    for o in opts {
        o.encode(&mut options);
    }
    let header_len = 20 + options.len();
    let mut tcp = Vec::with_capacity(header_len + seg.len as usize);
    tcp.extend_from_slice(&seg.src_port.to_be_bytes());
    tcp.extend_from_slice(&seg.dst_port.to_be_bytes());
    tcp.extend_from_slice(&seg.seq.to_be_bytes());
    tcp.extend_from_slice(&seg.ack.to_be_bytes());
    tcp.push(((header_len / 4) as u8) << 4);
    tcp.push(seg.flags.bits());
    tcp.extend_from_slice(&seg.win.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&options);
    tcp.resize(header_len + seg.len as usize, 0);
    let sum = pseudo_header_checksum(addr::REMOTE, addr::LOCAL, 6, &tcp);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    ethernet(0x0800, &ipv4(6, ecn, ident, &tcp))
}

/// The frame of a UDP datagram of `len` zeros from the remote end.
pub fn udp_frame(src_port: u16, dst_port: u16, len: u32, ident: u16) -> Vec<u8> {
    let mut udp = Vec::with_capacity(8 + len as usize);
    udp.extend_from_slice(&src_port.to_be_bytes());
    udp.extend_from_slice(&dst_port.to_be_bytes());
    udp.extend_from_slice(&((8 + len) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.resize(8 + len as usize, 0);
    let sum = pseudo_header_checksum(addr::REMOTE, addr::LOCAL, 17, &udp);
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    ethernet(0x0800, &ipv4(17, None, ident, &udp))
}

/// An ICMP error from the remote end about a packet the host sent: `quoted` is that packet
/// from its IP header on (RFC 792 asks for the header and 8 octets; Linux sends more).
pub fn icmp_frame(icmp_type: u8, code: u8, mtu: Option<u16>, quoted: &[u8], ident: u16) -> Vec<u8> {
    let mut icmp = vec![icmp_type, code, 0, 0, 0, 0];
    icmp.extend_from_slice(&mtu.unwrap_or(0).to_be_bytes());
    icmp.extend_from_slice(quoted);
    let sum = internet_checksum(0, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ethernet(0x0800, &ipv4(1, None, ident, &icmp))
}

/// The IPv4 header of a packet the host sent to the remote end, as an ICMP error quotes it.
fn host_ip_header(protocol: u8, total_len: u32) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(total_len as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    ip.extend_from_slice(&addr::LOCAL.octets());
    ip.extend_from_slice(&addr::REMOTE.octets());
    let sum = internet_checksum(0, &ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip
}

/// The host's packet that an ICMP error quotes: IP header then the first octets of TCP.
pub fn quoted_tcp(src_port: u16, dst_port: u16, seq: u32, len: u32) -> Vec<u8> {
    let mut ip = host_ip_header(6, 40 + len);
    ip.extend_from_slice(&src_port.to_be_bytes());
    ip.extend_from_slice(&dst_port.to_be_bytes());
    ip.extend_from_slice(&seq.to_be_bytes());
    ip
}

/// The host's UDP datagram that an ICMP error quotes.
pub fn quoted_udp(src_port: u16, dst_port: u16, len: u32) -> Vec<u8> {
    let mut ip = host_ip_header(17, 28 + len);
    ip.extend_from_slice(&src_port.to_be_bytes());
    ip.extend_from_slice(&dst_port.to_be_bytes());
    ip.extend_from_slice(&((8 + len) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip
}

/// An ARP request from the gateway for the host's address: the host learns the gateway's
/// address from it (RFC 826), so that no reply of the host waits on ARP.
pub fn arp_request() -> Vec<u8> {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&addr::GATEWAY_MAC.0);
    arp.extend_from_slice(&addr::GATEWAY.octets());
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&addr::LOCAL.octets());
    let mut frame = ethernet(0x0806, &arp);
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame
}

/// An ARP reply from the gateway to the host.
pub fn arp_reply(asked: Ipv4Addr, asker: Ipv4Addr) -> Vec<u8> {
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2];
    arp.extend_from_slice(&addr::GATEWAY_MAC.0);
    arp.extend_from_slice(&asked.octets());
    arp.extend_from_slice(&addr::HOST_MAC.0);
    arp.extend_from_slice(&asker.octets());
    ethernet(0x0806, &arp)
}

/// A TCP line as packetdrill writes one, from its parts: `S. 0:0(0) ack 1 win 65535
/// <mss 1460,...>`; no window where `win` is none, `<...>` where the options are.
pub fn show_parts(
    flags: Flags,
    seq: u32,
    len: u32,
    ack: u32,
    win: Option<u16>,
    options: Option<Vec<String>>,
) -> String {
    let mut out = format!("{flags} {seq}:{}({len})", seq.wrapping_add(len));
    if flags.ack {
        out.push_str(&format!(" ack {ack}"));
    }
    if let Some(win) = win {
        out.push_str(&format!(" win {win}"));
    }
    match options {
        None => out.push_str(" <...>"),
        Some(options) if options.is_empty() => {}
        Some(options) => out.push_str(&format!(" <{}>", options.join(","))),
    }
    out
}

/// A segment as packetdrill prints one.
pub fn show(seg: &Segment) -> String {
    let options = seg.options.iter().map(Opt::to_string).collect();
    show_parts(
        seg.flags,
        seg.seq,
        seg.len,
        seg.ack,
        Some(seg.win),
        Some(options),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injected_segment_reads_back_as_written() {
        let seg = Segment {
            src_port: 40000,
            dst_port: 8080,
            seq: 7,
            ack: 0,
            flags: Flags {
                syn: true,
                ..Flags::default()
            },
            win: 32792,
            urg: 0,
            options: Vec::new(),
            len: 0,
            ecn: 0,
        };
        let opts = [
            TcpOpt::Mss(1000),
            TcpOpt::SackOk,
            TcpOpt::Nop,
            TcpOpt::Nop,
            TcpOpt::Nop,
            TcpOpt::WScale(7),
        ];
        let frame = tcp_frame(&seg, &opts, None, 1);
        let eth = EthernetView::new_checked(&frame[..]).unwrap();
        let ip = Ipv4View::new_checked(eth.payload()).unwrap();
        assert!(ip.header_checksum_ok());
        let tcp = TcpView::new_checked(ip.payload()).unwrap();
        assert!(tcp.checksum_ok(ip.src(), ip.dst()));
        let read = segment(&tcp, 0);
        let known: Vec<Opt> = opts.iter().cloned().map(Opt::Known).collect();
        assert_eq!(read.options, known);
        assert_eq!(
            show(&read),
            "S 7:7(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>"
        );
    }
}
