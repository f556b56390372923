//! Tunnels, as Zeek follows them: IP in IP (4, 41), GRE (RFC 2784, 2890; PPTP's enhanced GRE;
//! ERSPAN types I, II and III; Aruba's 802.11 frames) over IPv4 or IPv6, and the UDP ones:
//! VXLAN, Geneve, GRE over UDP (RFC 8086), Teredo (RFC 4380, with its origin indication and
//! authentication headers), AYIYA and GTP-U (with its extension headers). What comes out is the
//! inner packet a learner's TCP rides in.

use std::net::IpAddr;

use super::{Inner, MAX_DEPTH, Trail, TunnelKind, Wrapping, be16, by_ethertype, by_version};
use super::{ethernet, ppp};

/// The UDP ports of the tunnels Zeek finds by port.
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const TEREDO_PORT: u16 = 3544;
const AYIYA_PORT: u16 = 5072;
const GTP_U_PORT: u16 = 2152;
const GRE_IN_UDP_PORT: u16 = 4754;

/// The packet inside a tunnel this IP packet carries, if it is one.
pub(super) fn tunnel<'a>(ip: &'a [u8], depth: u8, t: &mut impl Trail) -> Option<Inner<'a>> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let (src, dst, protocol, payload) = outer(ip)?;
    let mut note = |kind| t.note(|| Wrapping::Tunnel { kind, src, dst });
    match protocol {
        4 | 41 => {
            note(TunnelKind::IpInIp);
            Some(by_version(payload, depth + 1, t))
        }
        47 => {
            note(TunnelKind::Gre);
            gre(payload, depth, t)
        }
        17 => {
            let (kind, body) = udp_tunnel(payload)?;
            note(kind);
            udp_body(kind, body, depth, t)
        }
        _ => None,
    }
}

/// An IP packet's addresses, transport protocol and payload (bounded by its length fields),
/// unless it is a fragment: a tunnel is read from a whole packet only.
fn outer(ip: &[u8]) -> Option<(IpAddr, IpAddr, u8, &[u8])> {
    match ip.first()? >> 4 {
        4 => {
            let view = wire::Ipv4View::new_checked(ip).ok()?;
            if view.fragment_offset() != 0 || view.more_fragments() {
                return None;
            }
            let header = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?).min(ip.len());
            let payload = ip.get(header..total.max(header))?;
            Some((
                view.src().into(),
                view.dst().into(),
                view.protocol(),
                payload,
            ))
        }
        6 => {
            let view = wire::Ipv6View::new_checked(ip).ok()?;
            let transport = view.transport()?;
            if transport.fragment.is_some() {
                return None;
            }
            let payload = transport.payload;
            let payload = &payload[..transport.wire_len.min(payload.len())];
            Some((
                view.src().into(),
                view.dst().into(),
                transport.protocol,
                payload,
            ))
        }
        _ => None,
    }
}

/// Which tunnel a UDP datagram is, by its ports, and its body.
fn udp_tunnel(udp: &[u8]) -> Option<(TunnelKind, &[u8])> {
    let (sport, dport) = (be16(udp, 0)?, be16(udp, 2)?);
    let body = udp.get(8..)?;
    let either = |port| sport == port || dport == port;
    let vni = || {
        body.get(4..7)
            .map_or(0, |v| u32::from_be_bytes([0, v[0], v[1], v[2]]))
    };
    let kind = if dport == VXLAN_PORT {
        TunnelKind::Vxlan(vni())
    } else if dport == GENEVE_PORT {
        TunnelKind::Geneve(vni())
    } else if dport == GRE_IN_UDP_PORT {
        TunnelKind::GreOverUdp
    } else if either(TEREDO_PORT) {
        TunnelKind::Teredo
    } else if either(AYIYA_PORT) {
        TunnelKind::Ayiya
    } else if either(GTP_U_PORT) {
        TunnelKind::GtpU(
            body.get(4..8)
                .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap_or_default())),
        )
    } else if teredo_elsewhere(body) {
        TunnelKind::Teredo
    } else {
        return None;
    };
    Some((kind, body))
}

/// The packet a UDP tunnel's body carries.
fn udp_body<'a>(
    kind: TunnelKind,
    body: &'a [u8],
    depth: u8,
    t: &mut impl Trail,
) -> Option<Inner<'a>> {
    let depth = depth + 1;
    match kind {
        TunnelKind::Vxlan(_) => ethernet(body.get(8..)?, depth, t),
        TunnelKind::Geneve(_) => {
            let options = usize::from(body.first()? & 0x3f) * 4;
            let protocol = be16(body, 2)?;
            let inner = body.get(8 + options..);
            Some(match protocol {
                0x6558 => ethernet(inner?, depth, t)?,
                other => by_ethertype(other, inner, depth, t),
            })
        }
        TunnelKind::GreOverUdp => gre(body, depth - 1, t),
        TunnelKind::Teredo => Some(by_version(teredo(body)?, depth, t)),
        TunnelKind::Ayiya => Some(by_version(ayiya(body)?, depth, t)),
        TunnelKind::GtpU(_) => Some(by_version(gtp_u(body)?, depth, t)),
        TunnelKind::Gre | TunnelKind::IpInIp => None,
    }
}

/// Teredo (RFC 4380 §5.1.1): an authentication header (`00 01`) and an origin indication
/// (`00 00`) may come before the IPv6 packet, in that order.
fn teredo(mut body: &[u8]) -> Option<&[u8]> {
    if body.starts_with(&[0x00, 0x01]) {
        let (id, auth) = (usize::from(*body.get(2)?), usize::from(*body.get(3)?));
        // The two lengths, the identity and authentication values, a nonce and a byte.
        body = body.get(4 + id + auth + 8 + 1..)?;
    }
    if body.starts_with(&[0x00, 0x00]) {
        body = body.get(8..)?;
    }
    (body.first()? >> 4 == 6).then_some(body)
}

/// Teredo away from port 3544, as Zeek's signature finds it: after the qualification, a
/// client's packets go between its mapped port and a relay's. The body is then exactly one
/// IPv6 packet from or to a Teredo address (2001:0::/32).
fn teredo_elsewhere(body: &[u8]) -> bool {
    let Some(ip) = teredo(body) else {
        return false;
    };
    let Ok(view) = wire::Ipv6View::new_checked(ip) else {
        return false;
    };
    let teredo = |a: std::net::Ipv6Addr| a.segments()[..2] == [0x2001, 0];
    40 + view.payload_len() == ip.len() && (teredo(view.src()) || teredo(view.dst()))
}

/// AYIYA ("anything in anything"): an identity of 2^n octets and a signature of 4·m follow
/// the 8-octet header; only the "forward" operation carries a packet.
fn ayiya(body: &[u8]) -> Option<&[u8]> {
    let identity = 1usize << (body.first()? >> 4);
    let signature = usize::from(body.get(1)? >> 4) * 4;
    let forward = body.get(2)? & 0x0f == 1;
    let inner = body.get(8 + identity + signature..)?;
    (forward && matches!(body.get(3)?, 4 | 41)).then_some(inner)
}

/// GTP-U (3GPP TS 29.281): version 1, a G-PDU (message 255) carries a user's IP packet after
/// the 8-octet header, its optional sequence, N-PDU and next-extension fields, and the chain
/// of extension headers (each its length in 4-octet units first, the next one's type last).
fn gtp_u(body: &[u8]) -> Option<&[u8]> {
    let flags = *body.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *body.get(1)? != 255 {
        return None;
    }
    if flags & 0x07 == 0 {
        return body.get(8..);
    }
    let mut next = *body.get(11)?;
    let mut at = 12;
    while next != 0 {
        let len = usize::from(*body.get(at)?) * 4;
        if len == 0 {
            return None;
        }
        next = *body.get(at + len - 1)?;
        at += len;
    }
    body.get(at..)
}

/// GRE (RFC 2784, RFC 2890), as Zeek reads it: version 0 with its optional checksum, key and
/// sequence words, or PPTP's version 1; then a whole Ethernet frame (0x6558), ERSPAN's
/// mirrored frame (0x88be, 0x22eb), Aruba's 802.11 frame, PPP, or an EtherType's packet.
pub(super) fn gre<'a>(gre: &'a [u8], depth: u8, t: &mut impl Trail) -> Option<Inner<'a>> {
    let flags = be16(gre, 0)?;
    let protocol = be16(gre, 2)?;
    // Routing (RFC 1701) and undefined flags are refused, as Zeek refuses them.
    if flags & 0x4000 != 0 || flags & 0x0078 != 0 {
        return None;
    }
    let depth = depth + 1;
    let optional = |bits: &[u16]| bits.iter().filter(|&&b| flags & b != 0).count() * 4;
    match flags & 0x0007 {
        0 => {
            let inner = gre.get(4 + optional(&[0x8000, 0x2000, 0x1000])..)?;
            gre_payload(protocol, flags, inner, depth, t)
        }
        // PPTP: payload length and call ID, then the sequence and acknowledgement numbers
        // its flags announce, then a PPP frame.
        1 if protocol == 0x880b => ppp(gre.get(8 + optional(&[0x1000, 0x0080])..)?, depth, t),
        _ => None,
    }
}

fn gre_payload<'a>(
    protocol: u16,
    flags: u16,
    inner: &'a [u8],
    depth: u8,
    t: &mut impl Trail,
) -> Option<Inner<'a>> {
    let aruba = (protocol & 0xff0f == 0x8200)
        || (protocol & 0xff0f == 0x8300 && protocol <= 0x8370)
        || protocol == 0x9000;
    match protocol {
        0x6558 => ethernet(inner, depth, t),
        // ERSPAN type I has no header of its own; type II (the sequence bit set) 8 octets.
        0x88be => {
            let (version, header) = if flags & 0x1000 != 0 { (2, 8) } else { (1, 0) };
            t.note(|| Wrapping::Erspan { version });
            ethernet(inner.get(header..)?, depth, t)
        }
        // Type III: 12 octets, and an 8-octet platform subheader when its last bit says so.
        0x22eb => {
            let optional = if inner.get(11)? & 1 == 1 { 8 } else { 0 };
            t.note(|| Wrapping::Erspan { version: 3 });
            ethernet(inner.get(12 + optional..)?, depth, t)
        }
        _ if aruba => Some(super::ieee80211(inner, depth, t)),
        other => Some(by_ethertype(other, Some(inner), depth, t)),
    }
}
