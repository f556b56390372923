//! Finding the IP packet (IPv4 or IPv6) inside a captured frame, whatever the link type and
//! whatever it is wrapped in: VLAN tags (802.1Q, QinQ), VN-Tag, Cisco FabricPath, PPPoE
//! sessions, MPLS labels, 802.1ah, LLC/SNAP, BSD loopback (NULL, LOOP), Linux cooked captures,
//! raw IP, PPP and 802.11 data frames (with or without radiotap); and through the tunnels of
//! `tunnel.rs` to the inner packet, whose TCP is the one a learner asks about.

use pcap_file::DataLink;
use serde::Serialize;

mod tunnel;

use std::net::IpAddr;

use tunnel::tunnel;

/// Tunnels inside tunnels are followed this deep, no deeper.
const MAX_DEPTH: u8 = 4;

/// What a frame holds, for the observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An IPv4 packet (the innermost one, through any tunnel), as captured.
    Ipv4(&'a [u8]),
    /// An IPv6 packet, as captured.
    Ipv6(&'a [u8]),
    /// ARP: understood, and no TCP in it.
    Arp,
    /// Something this reader does not read, and why.
    Unread(Unread),
}

/// Why a frame's contents were not read: said on stderr and in `--json`, with how many frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Unread {
    /// A link type this reader does not know (its LINKTYPE_ number).
    LinkType {
        /// The pcap LINKTYPE_ value.
        linktype: u32,
    },
    /// An EtherType (or the protocol of a PPP or cooked header) that carries no IPv4.
    EtherType {
        /// The EtherType.
        ethertype: u16,
    },
    /// A PPP protocol number that is not IPv4 or IPv6.
    PppProtocol {
        /// The PPP protocol.
        protocol: u16,
    },
    /// An 802.2 LLC frame without SNAP.
    Llc,
    /// A BSD loopback frame of another address family.
    LoopbackFamily {
        /// The address family.
        family: u32,
    },
    /// Where an IP packet should be, a version that is neither 4 nor 6.
    IpVersion {
        /// The version nibble.
        version: u8,
    },
    /// The frame ends before the network header.
    CutShort,
    /// An 802.11 management or control frame, or a data frame without data.
    WirelessControl,
    /// An 802.11 frame whose body is encrypted (its Protected bit set).
    Encrypted,
    /// An IPv4 packet whose header checksum is wrong: dropped, as Zeek and its receiver drop
    /// it (`--ignore-checksums` reads it).
    BadIpv4Checksum,
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unread::LinkType { linktype } => match link_name(*linktype) {
                Some(name) => write!(f, "link type {linktype} ({name})"),
                None => write!(f, "link type {linktype}"),
            },
            Unread::LoopbackFamily { family } => write!(f, "loopback address family {family}"),
            Unread::EtherType { ethertype } => write!(f, "EtherType {ethertype:#06x}"),
            Unread::PppProtocol { protocol } => write!(f, "PPP protocol {protocol:#06x}"),
            Unread::Llc => f.write_str("802.2 LLC without SNAP"),
            Unread::IpVersion { version } => write!(f, "IP version {version}"),
            Unread::CutShort => f.write_str("frames cut short before the network header"),
            Unread::WirelessControl => {
                f.write_str("802.11 management and control frames (no data)")
            }
            Unread::Encrypted => f.write_str("802.11 frames with an encrypted body"),
            Unread::BadIpv4Checksum => f.write_str(
                "IPv4 packets with a bad header checksum, dropped as Zeek and the receiver drop \
                 them (--ignore-checksums reads them)",
            ),
        }
    }
}

/// One layer wrapped around the IP packet a frame carries, outermost first: what `step`
/// names under "Encapsulation".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// An 802.1Q tag (or an 802.1ad / old QinQ one: `tpid` says which) and its VLAN.
    Vlan {
        /// The tag's EtherType.
        tpid: u16,
        /// The VLAN identifier.
        id: u16,
    },
    /// A PPPoE session (RFC 2516).
    Pppoe {
        /// Its session identifier.
        session: u16,
    },
    /// An MPLS label.
    Mpls {
        /// The label.
        label: u32,
    },
    /// An 802.1ah (provider backbone) I-TAG.
    Pbb {
        /// The service instance.
        isid: u32,
    },
    /// 802.2 LLC with SNAP.
    LlcSnap,
    /// A BSD loopback header.
    Loopback {
        /// The address family.
        family: u32,
    },
    /// A PPP header.
    Ppp,
    /// A Cisco VN-Tag (EtherType 0x8926) and its destination virtual interface.
    VnTag {
        /// The destination VIF (or VIF list) identifier.
        dst_vif: u16,
    },
    /// A Cisco FabricPath header, before the whole inner Ethernet frame.
    FabricPath,
    /// An 802.11 data frame's header.
    Ieee80211,
    /// An ERSPAN header, of type I, II or III, before the mirrored Ethernet frame.
    Erspan {
        /// The type.
        version: u8,
    },
    /// A tunnel carried by an outer IPv4 or IPv6 packet.
    Tunnel {
        /// Which kind.
        kind: TunnelKind,
        /// The outer source.
        src: IpAddr,
        /// The outer destination.
        dst: IpAddr,
    },
}

/// The tunnels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    /// IPv4 or IPv6 straight in IPv4 or IPv6 (protocols 4 and 41: 6in4, 4in6, 6to4).
    IpInIp,
    /// GRE (RFC 2784).
    Gre,
    /// GRE in UDP (RFC 8086, port 4754).
    GreOverUdp,
    /// VXLAN (RFC 7348) and its network identifier.
    Vxlan(u32),
    /// Geneve (RFC 8926) and its network identifier.
    Geneve(u32),
    /// Teredo (RFC 4380, UDP port 3544): IPv6 in UDP over IPv4.
    Teredo,
    /// AYIYA (UDP port 5072).
    Ayiya,
    /// GTP-U (3GPP TS 29.281, UDP port 2152) and its tunnel endpoint identifier.
    GtpU(u32),
}

impl std::fmt::Display for Wrapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Wrapping::Vlan { tpid: 0x8100, id } => write!(f, "802.1Q VLAN {id}"),
            Wrapping::Vlan { id, .. } => write!(f, "802.1ad service VLAN {id}"),
            Wrapping::Pppoe { session } => write!(f, "PPPoE session {session:#06x}"),
            Wrapping::Mpls { label } => write!(f, "MPLS label {label}"),
            Wrapping::Pbb { isid } => write!(f, "802.1ah I-SID {isid}"),
            Wrapping::LlcSnap => f.write_str("802.2 LLC/SNAP"),
            Wrapping::Loopback { family } => write!(f, "BSD loopback, address family {family}"),
            Wrapping::Ppp => f.write_str("PPP"),
            Wrapping::VnTag { dst_vif } => write!(f, "VN-Tag, destination VIF {dst_vif}"),
            Wrapping::FabricPath => f.write_str("Cisco FabricPath"),
            Wrapping::Ieee80211 => f.write_str("802.11 data frame"),
            Wrapping::Erspan { version } => write!(f, "ERSPAN type {}", roman(version)),
            Wrapping::Tunnel { kind, src, dst } => match kind {
                TunnelKind::IpInIp => write!(f, "IP-in-IP tunnel {src} → {dst}"),
                TunnelKind::Gre => write!(f, "GRE tunnel {src} → {dst}"),
                TunnelKind::GreOverUdp => write!(f, "GRE-in-UDP tunnel {src} → {dst}"),
                TunnelKind::Vxlan(vni) => write!(f, "VXLAN VNI {vni}, tunnel {src} → {dst}"),
                TunnelKind::Geneve(vni) => write!(f, "Geneve VNI {vni}, tunnel {src} → {dst}"),
                TunnelKind::Teredo => write!(f, "Teredo tunnel {src} → {dst}"),
                TunnelKind::Ayiya => write!(f, "AYIYA tunnel {src} → {dst}"),
                TunnelKind::GtpU(teid) => write!(f, "GTP-U TEID {teid:#x}, tunnel {src} → {dst}"),
            },
        }
    }
}

fn roman(n: u8) -> &'static str {
    match n {
        1 => "I",
        2 => "II",
        _ => "III",
    }
}

/// Where the walk notes the wrappings it passes: nowhere (explain's hot path) or a list.
trait Trail {
    fn note(&mut self, wrapping: impl FnOnce() -> Wrapping);
}

impl Trail for () {
    #[inline(always)]
    fn note(&mut self, _: impl FnOnce() -> Wrapping) {}
}

impl Trail for Vec<Wrapping> {
    fn note(&mut self, wrapping: impl FnOnce() -> Wrapping) {
        self.push(wrapping());
    }
}

/// The names of link types a learner may bring that this reader does not read.
fn link_name(linktype: u32) -> Option<&'static str> {
    Some(match linktype {
        6 => "IEEE 802.5 Token Ring",
        10 => "FDDI",
        147..=162 => "user-defined",
        187 => "Bluetooth HCI",
        195 => "IEEE 802.15.4",
        220 => "USB",
        239 => "Linux NFLOG",
        242 => "IP over InfiniBand",
        _ => return None,
    })
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// What the frame of this link type holds.
pub fn inner(link: DataLink, frame: &[u8]) -> Inner<'_> {
    walk(link, frame, &mut ())
}

/// The wrappings around the frame's IP packet, outermost first.
pub fn wrappings(link: DataLink, frame: &[u8]) -> Vec<Wrapping> {
    let mut trail = Vec::new();
    walk(link, frame, &mut trail);
    trail
}

fn walk<'a>(link: DataLink, frame: &'a [u8], t: &mut impl Trail) -> Inner<'a> {
    let found = match link {
        DataLink::ETHERNET => ethernet(frame, 0, t),
        // Linux cooked capture v1: a 16-octet header ending in the protocol.
        DataLink::LINUX_SLL => be16(frame, 14).map(|e| by_ethertype(e, frame.get(16..), 0, t)),
        // v2: a 20-octet header starting with it.
        DataLink::LINUX_SLL2 => be16(frame, 0).map(|e| by_ethertype(e, frame.get(20..), 0, t)),
        DataLink::RAW | DataLink::IPV4 => Some(by_version(frame, 0, t)),
        DataLink::IPV6 => Some(by_version(frame, 0, t)),
        DataLink::NULL | DataLink::LOOP => loopback(link, frame, t),
        DataLink::PPP | DataLink::PPP_HDLC => ppp(frame, 0, t),
        DataLink::IEEE802_11 => Some(ieee80211(frame, 0, t)),
        // Radiotap: its own length, little-endian, in its third and fourth octets.
        DataLink::IEEE802_11_RADIOTAP => frame
            .get(2..4)
            .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
            .and_then(|len| frame.get(len..))
            .map(|rest| ieee80211(rest, 0, t)),
        other => Some(Inner::Unread(Unread::LinkType {
            linktype: other.into(),
        })),
    };
    found.unwrap_or(Inner::Unread(Unread::CutShort))
}

/// An Ethernet frame: destination, source, then an EtherType (or an 802.3 length). Cisco
/// FabricPath puts 16 octets of its own before a whole inner frame.
fn ethernet<'a>(frame: &'a [u8], depth: u8, t: &mut impl Trail) -> Option<Inner<'a>> {
    if be16(frame, 12)? == 0x8903 && depth < MAX_DEPTH {
        t.note(|| Wrapping::FabricPath);
        return ethernet(frame.get(16..)?, depth + 1, t);
    }
    Some(by_ethertype(be16(frame, 12)?, frame.get(14..), depth, t))
}

/// An 802.11 frame, read as Zeek reads one: a data frame's header (24 octets, 30 with the
/// fourth address, 2 more for QoS), then LLC/SNAP and the EtherType's packet; of an A-MSDU,
/// the first subframe. Management, control and encrypted frames hold nothing to read.
fn ieee80211<'a>(frame: &'a [u8], depth: u8, t: &mut impl Trail) -> Inner<'a> {
    let (Some(&fc), Some(&flags)) = (frame.first(), frame.get(1)) else {
        return Inner::Unread(Unread::CutShort);
    };
    if (fc >> 2) & 0x02 == 0 || (fc >> 4) & 0x04 != 0 {
        return Inner::Unread(Unread::WirelessControl);
    }
    if flags & 0x40 != 0 {
        return Inner::Unread(Unread::Encrypted);
    }
    let mut len = if flags & 0x03 == 0x03 { 30 } else { 24 };
    let mut amsdu = false;
    if (fc >> 4) & 0x08 != 0 {
        amsdu = frame.get(len).is_some_and(|qos| qos & 0x80 != 0);
        len += 2;
    }
    if amsdu {
        len += 14;
    }
    t.note(|| Wrapping::Ieee80211);
    match frame.get(len..) {
        Some([0xaa, 0xaa, 0x03, _, _, _, a, b, rest @ ..]) => {
            t.note(|| Wrapping::LlcSnap);
            by_ethertype(u16::from_be_bytes([*a, *b]), Some(rest), depth + 1, t)
        }
        Some(_) => Inner::Unread(Unread::Llc),
        None => Inner::Unread(Unread::CutShort),
    }
}

/// BSD loopback: a four-octet address family, in the capturing host's order (NULL) or in
/// network order (LOOP). 2 is AF_INET everywhere; IPv6 is 24, 28 or 30 by system.
fn loopback<'a>(link: DataLink, frame: &'a [u8], t: &mut impl Trail) -> Option<Inner<'a>> {
    let word: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    let family = match link {
        DataLink::LOOP => u32::from_be_bytes(word),
        // The host's order is unknown: a family is small, so the nonzero end is the low one.
        _ if word[0] != 0 => u32::from_le_bytes(word),
        _ => u32::from_be_bytes(word),
    };
    let rest = frame.get(4..)?;
    t.note(|| Wrapping::Loopback { family });
    Some(match family {
        2 => by_version(rest, 0, t),
        24 | 28 | 30 => by_version(rest, 0, t),
        family => Inner::Unread(Unread::LoopbackFamily { family }),
    })
}

/// PPP: an optional address and control field (ff 03), then the protocol.
fn ppp<'a>(frame: &'a [u8], depth: u8, t: &mut impl Trail) -> Option<Inner<'a>> {
    let frame = match frame {
        [0xff, 0x03, rest @ ..] => rest,
        other => other,
    };
    let protocol = be16(frame, 0)?;
    let rest = frame.get(2..);
    t.note(|| Wrapping::Ppp);
    Some(match protocol {
        0x0021 => by_version(rest?, depth, t),
        0x0057 => by_version(rest?, depth, t),
        other => Inner::Unread(Unread::PppProtocol { protocol: other }),
    })
}

/// What follows an EtherType: IPv4, or another header that says what follows it.
fn by_ethertype<'a>(
    ethertype: u16,
    rest: Option<&'a [u8]>,
    depth: u8,
    t: &mut impl Trail,
) -> Inner<'a> {
    let Some(rest) = rest else {
        return Inner::Unread(Unread::CutShort);
    };
    let next = match ethertype {
        0x0800 | 0x86dd => return by_version(rest, depth, t),
        0x0806 => return Inner::Arp,
        // 802.1Q, 802.1ad (QinQ) and the old QinQ tag: four octets, the last two the type.
        0x8100 | 0x88a8 | 0x9100 => {
            let id = be16(rest, 0).unwrap_or(0) & 0x0fff;
            t.note(|| Wrapping::Vlan {
                tpid: ethertype,
                id,
            });
            be16(rest, 2).map(|e| (e, rest.get(4..)))
        }
        // PPPoE session (RFC 2516): six octets of header, then PPP's protocol.
        0x8864 => {
            let session = be16(rest, 2).unwrap_or(0);
            t.note(|| Wrapping::Pppoe { session });
            return rest
                .get(6..)
                .and_then(|r| ppp(r, depth, t))
                .unwrap_or(Inner::Unread(Unread::CutShort));
        }
        0x8847 | 0x8848 => return mpls(rest, depth, t),
        // VN-Tag: four octets of tag, then the EtherType.
        0x8926 => {
            let dst_vif = be16(rest, 0).unwrap_or(0) & 0x3fff;
            t.note(|| Wrapping::VnTag { dst_vif });
            be16(rest, 4).map(|e| (e, rest.get(6..)))
        }
        // 802.1ah: the I-TAG, then a whole customer Ethernet header.
        0x88e7 => {
            let isid = rest
                .get(..4)
                .map_or(0, |w| u32::from_be_bytes([0, w[1], w[2], w[3]]));
            t.note(|| Wrapping::Pbb { isid });
            be16(rest, 16).map(|e| (e, rest.get(18..)))
        }
        // 802.3: a length, then LLC; SNAP (AA AA 03, an OUI) carries an EtherType.
        length if length <= 1500 => match rest {
            [0xaa, 0xaa, 0x03, _, _, _, a, b, ..] => {
                t.note(|| Wrapping::LlcSnap);
                Some((u16::from_be_bytes([*a, *b]), rest.get(8..)))
            }
            _ => return Inner::Unread(Unread::Llc),
        },
        other => return Inner::Unread(Unread::EtherType { ethertype: other }),
    };
    match next {
        Some((e, rest)) if depth < MAX_DEPTH => by_ethertype(e, rest, depth + 1, t),
        _ => Inner::Unread(Unread::CutShort),
    }
}

/// MPLS: four-octet labels until the one with the bottom-of-stack bit, then an IP packet
/// told by its version.
fn mpls<'a>(mut rest: &'a [u8], depth: u8, t: &mut impl Trail) -> Inner<'a> {
    loop {
        let Some((entry, after)) = rest.split_first_chunk::<4>() else {
            return Inner::Unread(Unread::CutShort);
        };
        rest = after;
        t.note(|| Wrapping::Mpls {
            label: u32::from_be_bytes(*entry) >> 12,
        });
        if entry[2] & 1 == 1 {
            return by_version(rest, depth, t);
        }
    }
}

/// An IP packet told by its version, followed into a tunnel it carries.
fn by_version<'a>(ip: &'a [u8], depth: u8, t: &mut impl Trail) -> Inner<'a> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => tunnel(ip, depth, t).unwrap_or(Inner::Ipv4(ip)),
        Some(6) => tunnel(ip, depth, t).unwrap_or(Inner::Ipv6(ip)),
        Some(version) => Inner::Unread(Unread::IpVersion { version }),
        None => Inner::Unread(Unread::CutShort),
    }
}

#[cfg(test)]
mod tests;
