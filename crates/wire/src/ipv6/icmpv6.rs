//! ICMPv6 (RFC 4443) and the Neighbor Discovery messages it carries (RFC 4861 §4), as an
//! owned representation a host can match on and build.

use std::net::Ipv6Addr;

use crate::MacAddr;

/// A Prefix Information option of a router advertisement (RFC 4861 §4.6.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrefixInfo {
    /// The prefix.
    pub prefix: Ipv6Addr,
    /// Its length in bits.
    pub len: u8,
    /// L: the prefix is on this link.
    pub on_link: bool,
    /// A: hosts may form addresses from it (SLAAC, RFC 4862).
    pub autonomous: bool,
    /// How long the prefix is valid, seconds.
    pub valid: u32,
    /// How long addresses from it are preferred, seconds.
    pub preferred: u32,
}

/// A router advertisement's fields (RFC 4861 §4.2).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RouterAdvert {
    /// The hop limit hosts should use (0: unspecified).
    pub hop_limit: u8,
    /// How long the router is a default router, seconds (0: not one).
    pub lifetime: u16,
    /// The link's MTU, when the router says it.
    pub mtu: Option<u32>,
    /// The router's link-layer address.
    pub source_mac: Option<MacAddr>,
    /// The prefixes on the link.
    pub prefixes: Vec<PrefixInfo>,
}

/// A neighbor advertisement's fields (RFC 4861 §4.4): "`target` is at `target_mac`".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NeighborAdvert {
    /// R: the sender is a router.
    pub router: bool,
    /// S: the answer to a solicitation.
    pub solicited: bool,
    /// O: replace a cached link-layer address.
    pub override_flag: bool,
    /// The address advertised.
    pub target: Ipv6Addr,
    /// Its link-layer address.
    pub target_mac: Option<MacAddr>,
}

impl NeighborAdvert {
    /// The flags set, as Wireshark lists them: `rtr`, `sol`, `ovr`.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let names = [
            (self.router, "rtr"),
            (self.solicited, "sol"),
            (self.override_flag, "ovr"),
        ];
        names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect()
    }
}

/// The ICMPv6 messages packetlab understands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Icmpv6Message<P = Vec<u8>> {
    /// Echo request (type 128).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: P,
    },
    /// Echo reply (type 129).
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
        /// Data echoed back.
        data: P,
    },
    /// Destination unreachable (type 1): code 4 is "port unreachable", 0 "no route", 3
    /// "address unreachable".
    Unreachable {
        /// The code.
        code: u8,
        /// As much of the original packet as fits in the minimum MTU.
        original: P,
    },
    /// Packet Too Big (type 2), with the MTU of the next link (RFC 4443 §3.2).
    PacketTooBig {
        /// The next link's MTU.
        mtu: u32,
        /// As much of the original packet as fits.
        original: P,
    },
    /// Time exceeded (type 3): code 0 is "hop limit exceeded in transit".
    TimeExceeded {
        /// The code.
        code: u8,
        /// As much of the original packet as fits.
        original: P,
    },
    /// Router Solicitation (type 133).
    RouterSolicit {
        /// The sender's link-layer address (absent when sent from `::`).
        source_mac: Option<MacAddr>,
    },
    /// Router Advertisement (type 134).
    RouterAdvert(RouterAdvert),
    /// Neighbor Solicitation (type 135): "who has `target`?", or (from `::`) a duplicate
    /// address detection probe.
    NeighborSolicit {
        /// The address asked about.
        target: Ipv6Addr,
        /// The asker's link-layer address (absent in a DAD probe).
        source_mac: Option<MacAddr>,
    },
    /// Neighbor Advertisement (type 136).
    NeighborAdvert(NeighborAdvert),
    /// Any other type, kept as its type and code.
    Other {
        /// ICMPv6 type.
        icmp_type: u8,
        /// ICMPv6 code.
        code: u8,
    },
}

/// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4).
pub mod icmpv6_type {
    /// Destination unreachable.
    pub const UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
}

use icmpv6_type as ty;

impl<P: AsRef<[u8]>> Icmpv6Message<P> {
    /// The same message owning its data.
    pub fn into_owned(self) -> Icmpv6Message {
        use Icmpv6Message as M;
        let own = |p: P| p.as_ref().to_vec();
        match self {
            M::EchoRequest { id, seq, data } => M::EchoRequest {
                id,
                seq,
                data: own(data),
            },
            M::EchoReply { id, seq, data } => M::EchoReply {
                id,
                seq,
                data: own(data),
            },
            M::Unreachable { code, original } => M::Unreachable {
                code,
                original: own(original),
            },
            M::PacketTooBig { mtu, original } => M::PacketTooBig {
                mtu,
                original: own(original),
            },
            M::TimeExceeded { code, original } => M::TimeExceeded {
                code,
                original: own(original),
            },
            M::RouterSolicit { source_mac } => M::RouterSolicit { source_mac },
            M::RouterAdvert(ra) => M::RouterAdvert(ra),
            M::NeighborSolicit { target, source_mac } => M::NeighborSolicit { target, source_mac },
            M::NeighborAdvert(na) => M::NeighborAdvert(na),
            M::Other { icmp_type, code } => M::Other { icmp_type, code },
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn addr(b: &[u8]) -> Option<Ipv6Addr> {
    Some(Ipv6Addr::from(<[u8; 16]>::try_from(b.get(..16)?).ok()?))
}

/// The Neighbor Discovery options a host reads (RFC 4861 §4.6): link-layer addresses, prefix
/// information and the MTU; a zero-length or cut option ends the walk (§4.6: "Nodes MUST
/// silently discard an ND packet that contains an option with length zero").
#[derive(Default)]
struct NdOptions {
    source_mac: Option<MacAddr>,
    target_mac: Option<MacAddr>,
    mtu: Option<u32>,
    prefixes: Vec<PrefixInfo>,
}

fn nd_options(mut b: &[u8]) -> Option<NdOptions> {
    let mut found = NdOptions::default();
    while b.len() >= 2 {
        let len = usize::from(b[1]) * 8;
        if len == 0 || len > b.len() {
            return None;
        }
        let option = &b[..len];
        let mac = || MacAddr(<[u8; 6]>::try_from(&option[2..8]).unwrap_or_default());
        match option[0] {
            1 if len >= 8 => found.source_mac = Some(mac()),
            2 if len >= 8 => found.target_mac = Some(mac()),
            3 if len >= 32 => found.prefixes.push(PrefixInfo {
                len: option[2],
                on_link: option[3] & 0x80 != 0,
                autonomous: option[3] & 0x40 != 0,
                valid: be32(option, 4),
                preferred: be32(option, 8),
                prefix: addr(&option[16..])?,
            }),
            5 if len >= 8 => found.mtu = Some(be32(option, 4)),
            _ => {}
        }
        b = &b[len..];
    }
    Some(found)
}

/// Read an ICMPv6 message from its type, code, the four octets after the checksum, and the
/// body after them; a Neighbor Discovery message with a bad option is `Other`.
pub(crate) fn decode_icmpv6(body: &[u8]) -> Option<Icmpv6Message<&[u8]>> {
    let (&icmp_type, &code) = (body.first()?, body.get(1)?);
    let rest = body.get(4..8)?;
    let data = &body[8..];
    let other = Icmpv6Message::Other { icmp_type, code };
    Some(match icmp_type {
        ty::ECHO_REQUEST | ty::ECHO_REPLY => {
            let (id, seq) = (be16(rest, 0), be16(rest, 2));
            if icmp_type == ty::ECHO_REQUEST {
                Icmpv6Message::EchoRequest { id, seq, data }
            } else {
                Icmpv6Message::EchoReply { id, seq, data }
            }
        }
        ty::UNREACHABLE => Icmpv6Message::Unreachable {
            code,
            original: data,
        },
        ty::PACKET_TOO_BIG => Icmpv6Message::PacketTooBig {
            mtu: be32(rest, 0),
            original: data,
        },
        ty::TIME_EXCEEDED => Icmpv6Message::TimeExceeded {
            code,
            original: data,
        },
        ty::ROUTER_SOLICIT => match nd_options(data) {
            Some(o) => Icmpv6Message::RouterSolicit {
                source_mac: o.source_mac,
            },
            None => other,
        },
        ty::ROUTER_ADVERT => match (data.get(..8), data.get(8..).and_then(nd_options)) {
            (Some(_), Some(o)) => Icmpv6Message::RouterAdvert(RouterAdvert {
                hop_limit: rest[0],
                lifetime: be16(rest, 2),
                mtu: o.mtu,
                source_mac: o.source_mac,
                prefixes: o.prefixes,
            }),
            _ => other,
        },
        ty::NEIGHBOR_SOLICIT => match (addr(data), data.get(16..).and_then(nd_options)) {
            (Some(target), Some(o)) => Icmpv6Message::NeighborSolicit {
                target,
                source_mac: o.source_mac,
            },
            _ => other,
        },
        ty::NEIGHBOR_ADVERT => match (addr(data), data.get(16..).and_then(nd_options)) {
            (Some(target), Some(o)) => Icmpv6Message::NeighborAdvert(NeighborAdvert {
                router: rest[0] & 0x80 != 0,
                solicited: rest[0] & 0x40 != 0,
                override_flag: rest[0] & 0x20 != 0,
                target,
                target_mac: o.target_mac,
            }),
            _ => other,
        },
        _ => other,
    })
}

fn mac_option(out: &mut Vec<u8>, kind: u8, mac: Option<MacAddr>) {
    if let Some(mac) = mac {
        out.extend_from_slice(&[kind, 1]);
        out.extend_from_slice(&mac.0);
    }
}

fn prefix_option(out: &mut Vec<u8>, p: &PrefixInfo) {
    let flags = u8::from(p.on_link) << 7 | u8::from(p.autonomous) << 6;
    out.extend_from_slice(&[3, 4, p.len, flags]);
    out.extend_from_slice(&p.valid.to_be_bytes());
    out.extend_from_slice(&p.preferred.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&p.prefix.octets());
}

impl Icmpv6Message {
    /// Append the message with its checksum field zero (the caller fills it in under the
    /// pseudo-header).
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        use Icmpv6Message as M;
        let header = |out: &mut Vec<u8>, t: u8, code: u8, rest: [u8; 4]| {
            out.extend_from_slice(&[t, code, 0, 0]);
            out.extend_from_slice(&rest);
        };
        let echo = |id: &u16, seq: &u16| {
            let (i, s) = (id.to_be_bytes(), seq.to_be_bytes());
            [i[0], i[1], s[0], s[1]]
        };
        match self {
            M::EchoRequest { id, seq, data } | M::EchoReply { id, seq, data } => {
                let t = match self {
                    M::EchoRequest { .. } => ty::ECHO_REQUEST,
                    _ => ty::ECHO_REPLY,
                };
                header(out, t, 0, echo(id, seq));
                out.extend_from_slice(data);
            }
            M::Unreachable { code, original } => {
                header(out, ty::UNREACHABLE, *code, [0; 4]);
                out.extend_from_slice(original);
            }
            M::PacketTooBig { mtu, original } => {
                header(out, ty::PACKET_TOO_BIG, 0, mtu.to_be_bytes());
                out.extend_from_slice(original);
            }
            M::TimeExceeded { code, original } => {
                header(out, ty::TIME_EXCEEDED, *code, [0; 4]);
                out.extend_from_slice(original);
            }
            M::RouterSolicit { source_mac } => {
                header(out, ty::ROUTER_SOLICIT, 0, [0; 4]);
                mac_option(out, 1, *source_mac);
            }
            M::RouterAdvert(ra) => encode_router_advert(out, ra),
            M::NeighborSolicit { target, source_mac } => {
                header(out, ty::NEIGHBOR_SOLICIT, 0, [0; 4]);
                out.extend_from_slice(&target.octets());
                mac_option(out, 1, *source_mac);
            }
            M::NeighborAdvert(na) => {
                let flags = u8::from(na.router) << 7
                    | u8::from(na.solicited) << 6
                    | u8::from(na.override_flag) << 5;
                header(out, ty::NEIGHBOR_ADVERT, 0, [flags, 0, 0, 0]);
                out.extend_from_slice(&na.target.octets());
                mac_option(out, 2, na.target_mac);
            }
            M::Other { icmp_type, code } => header(out, *icmp_type, *code, [0; 4]),
        }
    }
}

fn encode_router_advert(out: &mut Vec<u8>, ra: &RouterAdvert) {
    let life = ra.lifetime.to_be_bytes();
    out.extend_from_slice(&[
        ty::ROUTER_ADVERT,
        0,
        0,
        0,
        ra.hop_limit,
        0,
        life[0],
        life[1],
    ]);
    // Reachable Time and Retrans Timer: 0, unspecified (the host keeps its own).
    out.extend_from_slice(&[0; 8]);
    mac_option(out, 1, ra.source_mac);
    if let Some(mtu) = ra.mtu {
        out.extend_from_slice(&[5, 1, 0, 0]);
        out.extend_from_slice(&mtu.to_be_bytes());
    }
    for p in &ra.prefixes {
        prefix_option(out, p);
    }
}
