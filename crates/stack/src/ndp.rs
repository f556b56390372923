//! Neighbor Discovery (RFC 4861) on one Ethernet interface: the solicitations and
//! advertisements around the neighbour table [`crate::neighbours`] keeps, IPv6's ARP. A
//! solicitation goes to the target's solicited-node multicast group rather than to every
//! station (§7.2.2), and every ND message leaves with hop limit 255, so that a receiver can
//! tell it came from the link itself (§7.1).

use std::net::Ipv6Addr;

use trace::{ArpAction, Event, Time};
use wire::{EthPayload, Frame, Icmpv6Message, Ipv6Packet, Ipv6Payload, MacAddr, NeighborAdvert};

use crate::neighbours::{Neighbours, neighbour_event};

/// The hop limit every ND message is sent with and must arrive with (RFC 4861 §7.1.1).
pub(crate) const ND_HOP_LIMIT: u8 = 255;

/// The link-local all-nodes group (RFC 4291 §2.7.1).
pub(crate) const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The solicited-node multicast address of `addr`: ff02::1:ff00:0/104 and its low 24 bits
/// (RFC 4291 §2.7.1).
pub(crate) fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    let low = u16::from_be_bytes([o[14], o[15]]);
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), low)
}

/// The Ethernet address of an IPv6 multicast group: 33:33 and its low 32 bits (RFC 2464 §7).
pub(crate) fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The link-local address of an interface: fe80::/64 and the MAC as a modified EUI-64
/// (RFC 4291 §2.5.1 and Appendix A, RFC 2464 §4: the universal/local bit inverted, ff:fe in
/// the middle), as Linux makes it with `addr_gen_mode` 0.
pub fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..16].copy_from_slice(&[m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
    Ipv6Addr::from(o)
}

/// A frame carrying an ND message from `(mac, src)` to `dst` at `dst_mac`.
fn nd_frame(
    (mac, src): (MacAddr, Ipv6Addr),
    (dst_mac, dst): (MacAddr, Ipv6Addr),
    m: Icmpv6Message,
) -> Vec<u8> {
    Frame {
        src: mac,
        dst: dst_mac,
        payload: EthPayload::Ipv6(Ipv6Packet {
            src,
            dst,
            hop_limit: ND_HOP_LIMIT,
            payload: Ipv6Payload::Icmpv6(m),
        }),
    }
    .encode()
}

/// "Who has `target`?" from `me`: to its solicited-node group, or (probing a stale entry,
/// RFC 4861 §7.3.3) to the address itself at the MAC the cache holds.
pub(crate) fn solicitation(
    me: (MacAddr, Ipv6Addr),
    target: Ipv6Addr,
    dst: Option<MacAddr>,
) -> Vec<u8> {
    let to = match dst {
        Some(mac) => (mac, target),
        None => {
            let group = solicited_node(target);
            (multicast_mac(group), group)
        }
    };
    let ns = Icmpv6Message::NeighborSolicit {
        target,
        source_mac: Some(me.0),
    };
    nd_frame(me, to, ns)
}

/// What an ND message did to the table, for the host to act on.
pub(crate) struct NdInput<'a> {
    /// The host's name, for the events.
    pub node: &'a str,
    /// The interface's MAC.
    pub mac: MacAddr,
    /// Whether `target` is one of ours.
    pub ours: bool,
    /// Whether we are a router (the R flag of our advertisements).
    pub router: bool,
}

/// RFC 4861 §7.2.3 and §7.2.5: a solicitation for one of our addresses teaches us the
/// asker and is answered with a solicited advertisement; an advertisement updates an entry
/// we have or are waiting for. Frames to send go to `frames`.
pub(crate) fn input(
    table: &mut Neighbours<Ipv6Addr>,
    (now, at): (Time, &NdInput),
    (src, message): (Ipv6Addr, &Icmpv6Message<&[u8]>),
    frames: &mut Vec<Vec<u8>>,
    events: &mut Vec<Event>,
) {
    match *message {
        Icmpv6Message::NeighborSolicit { target, source_mac } => {
            if !at.ours {
                neighbour_event(events, now, at.node, ArpAction::Ignored, target, None);
                return;
            }
            // From `::`, a duplicate address probe: the answer goes to all nodes (§7.2.4).
            let (to, solicited) = match source_mac {
                Some(mac) if !src.is_unspecified() => {
                    learn(table, (now, at.node), src, mac, events);
                    ((mac, src), true)
                }
                _ => ((multicast_mac(ALL_NODES), ALL_NODES), false),
            };
            let na = Icmpv6Message::NeighborAdvert(NeighborAdvert {
                router: at.router,
                solicited,
                override_flag: true,
                target,
                target_mac: Some(at.mac),
            });
            frames.push(nd_frame((at.mac, target), to, na));
            neighbour_event(
                events,
                now,
                at.node,
                ArpAction::ReplySent,
                target,
                Some(at.mac),
            );
            if let Some(mac) = source_mac.filter(|_| solicited) {
                table.release(src, mac, frames);
            }
        }
        Icmpv6Message::NeighborAdvert(NeighborAdvert {
            target,
            target_mac: Some(mac),
            ..
        }) if (table.knows(target) || table.waits_for(target)) => {
            learn(table, (now, at.node), target, mac, events);
            table.release(target, mac, frames);
        }
        _ => {}
    }
}

/// Note `ip` at `mac`: a new entry, or a refreshed one.
fn learn(
    table: &mut Neighbours<Ipv6Addr>,
    (now, node): (Time, &str),
    ip: Ipv6Addr,
    mac: MacAddr,
    events: &mut Vec<Event>,
) {
    let action = if table.knows(ip) {
        ArpAction::Updated
    } else {
        ArpAction::Learned
    };
    table.remember(now, ip, mac);
    neighbour_event(events, now, node, action, ip, Some(mac));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_made_as_rfc_4291_and_rfc_2464_say() {
        let mac = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);
        assert_eq!(
            link_local(mac),
            "fe80::ff:fe00:a".parse::<Ipv6Addr>().unwrap()
        );
        let target: Ipv6Addr = "2001:db8::1:2:3".parse().unwrap();
        let group = solicited_node(target);
        assert_eq!(group, "ff02::1:ff02:3".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            multicast_mac(group),
            MacAddr([0x33, 0x33, 0xff, 0x02, 0, 3])
        );
    }
}
