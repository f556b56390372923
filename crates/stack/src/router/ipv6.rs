//! The router's IPv6 half (RFC 8200 §3, RFC 4861 §6): a link-local address on every port,
//! Neighbor Discovery per port, router advertisements with each port's prefixes (answering
//! solicitations, so hosts can configure themselves, RFC 4862), forwarding by longest prefix
//! with the hop limit lowered, and ICMPv6 errors (RFC 4443): time exceeded, no route,
//! address unreachable, and Packet Too Big where the next link is narrower (RFC 8201).

use std::net::{IpAddr, Ipv6Addr};

use trace::{DropReason, HostNote, RouteDecision, Time};
use wire::{EthPayload, Frame, Icmpv6Message, Ipv6Packet, Ipv6Payload, MacAddr};
use wire::{PrefixInfo, RouterAdvert};

use super::{Router, RouterPort};
use crate::ndp;
use crate::neighbours::{Neighbours, Outgoing};

/// A static IPv6 route: packets for `network/prefix` go to the router `via`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute6 {
    /// The destination network.
    pub network: Ipv6Addr,
    /// Its prefix length (0 for the default route).
    pub prefix: u8,
    /// The next hop: a neighbour on one of the router's links.
    pub via: Ipv6Addr,
}

/// One port's IPv6: its addresses (the link-local one first), its neighbours, its MTU.
#[derive(Debug)]
struct Port6 {
    addrs: Vec<(Ipv6Addr, u8)>,
    table: Neighbours<Ipv6Addr>,
    mtu: u16,
}

/// One route of the IPv6 table.
#[derive(Clone, Copy, Debug)]
struct Route6 {
    network: u128,
    prefix: u8,
    via: Option<Ipv6Addr>,
    port: usize,
}

/// Why the router answers a packet with an ICMPv6 error instead of forwarding it.
#[derive(Clone, Copy, Debug)]
enum Error6 {
    /// Type 3, code 0: the hop limit ran out.
    HopLimit,
    /// Type 1, code 0: no route.
    NoRoute,
    /// Type 1, code 3: the next hop never answered its solicitations.
    AddressUnreachable,
    /// Type 2: the packet is bigger than the next link's MTU.
    TooBig(u16),
}

fn mask(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// The router's IPv6 state.
#[derive(Debug)]
pub(super) struct Router6 {
    ports: Vec<Port6>,
    table: Vec<Route6>,
}

impl Router6 {
    /// IPv6 for a router whose ports have IPv6 prefixes; none if no port has one.
    pub(super) fn new(ports: &[RouterPort], routes: &[StaticRoute6]) -> Option<Router6> {
        if ports.iter().all(|p| p.ip6.is_empty()) {
            return None;
        }
        let ports6: Vec<Port6> = ports
            .iter()
            .map(|p| Port6 {
                addrs: std::iter::once((ndp::link_local(p.mac), 64))
                    .chain(p.ip6.iter().copied())
                    .collect(),
                table: Neighbours::new(p.mac),
                mtu: p.mtu,
            })
            .collect();
        let mut table: Vec<Route6> = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            for (a, len) in &p.ip6 {
                table.push(Route6 {
                    network: u128::from(*a) & mask(*len),
                    prefix: *len,
                    via: None,
                    port: i,
                });
            }
        }
        for r in routes {
            let port = table
                .iter()
                .find(|e| e.via.is_none() && u128::from(r.via) & mask(e.prefix) == e.network)
                .map_or(0, |e| e.port);
            table.push(Route6 {
                network: u128::from(r.network) & mask(r.prefix),
                prefix: r.prefix,
                via: Some(r.via),
                port,
            });
        }
        Some(Router6 {
            ports: ports6,
            table,
        })
    }

    /// Longest prefix match, a connected route before a static one of the same length.
    fn lookup(&self, dst: Ipv6Addr) -> Option<Route6> {
        let d = u128::from(dst);
        self.table
            .iter()
            .filter(|e| d & mask(e.prefix) == e.network)
            .max_by_key(|e| (e.prefix, e.via.is_none()))
            .copied()
    }

    /// Whether `dst` is one of the router's addresses, or a group its ports joined.
    fn accepts(&self, port: usize, dst: Ipv6Addr) -> bool {
        let all_routers = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
        dst == ndp::ALL_NODES
            || dst == all_routers
            || self
                .ports
                .iter()
                .any(|p| p.addrs.iter().any(|(a, _)| *a == dst))
            || self.ports[port]
                .addrs
                .iter()
                .any(|(a, _)| ndp::solicited_node(*a) == dst)
    }

    /// Whether a frame to `mac` reaches the router's port `port` (its multicast groups).
    pub(super) fn joined(&self, port: usize, mac: MacAddr) -> bool {
        let all_routers = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
        let groups = [ndp::ALL_NODES, all_routers].into_iter().chain(
            self.ports[port]
                .addrs
                .iter()
                .map(|(a, _)| ndp::solicited_node(*a)),
        );
        groups.map(ndp::multicast_mac).any(|m| m == mac)
    }

    /// The port's address to speak from towards `dst`: link-local to link-local, else its
    /// first global one (RFC 6724's scope rule).
    fn source(&self, port: usize, dst: Ipv6Addr) -> Ipv6Addr {
        let addrs = &self.ports[port].addrs;
        let global = addrs.iter().find(|(a, _)| !is_link_local(*a));
        match global {
            Some((a, _)) if !is_link_local(dst) => *a,
            _ => addrs[0].0,
        }
    }

    /// The router advertisement a port sends: its prefixes, on-link and for SLAAC, and its
    /// MTU where it is not Ethernet's 1500.
    fn advert(&self, port: usize, mac: MacAddr) -> RouterAdvert {
        let p = &self.ports[port];
        RouterAdvert {
            hop_limit: 64,
            lifetime: 1800,
            mtu: (p.mtu != 1500).then_some(u32::from(p.mtu)),
            source_mac: Some(mac),
            prefixes: p.addrs[1..]
                .iter()
                .map(|(a, len)| PrefixInfo {
                    prefix: Ipv6Addr::from(u128::from(*a) & mask(*len)),
                    len: *len,
                    on_link: true,
                    autonomous: *len == 64,
                    valid: 86_400,
                    preferred: 14_400,
                })
                .collect(),
        }
    }

    /// When a port's Neighbor Discovery next needs a retry.
    pub(super) fn poll_at(&self) -> Option<Time> {
        self.ports.iter().filter_map(|p| p.table.poll_at()).min()
    }
}

impl Router {
    /// An IPv6 packet arrived on `port`: for the router itself, or to forward.
    pub(super) fn ip6_input(
        &mut self,
        (now, port, number): (Time, usize, u64),
        src_mac: MacAddr,
        ip: Ipv6Packet<&[u8]>,
        raw: &[u8],
    ) {
        let Some(v6) = &mut self.v6 else {
            return self.drop_event(now, DropReason::Ipv6NotRouted, Some(number));
        };
        v6.ports[port]
            .table
            .heard_from(now, &self.name, src_mac, &mut self.events);
        if v6.accepts(port, ip.dst) {
            return self.own6(now, port, ip, number);
        }
        if ip.dst.is_multicast() || is_link_local(ip.dst) || is_link_local(ip.src) {
            let reason = DropReason::StaysOnLink {
                src: ip.src.into(),
                dst: ip.dst.into(),
            };
            return self.drop_event(now, reason, Some(number));
        }
        self.forward6(now, port, &ip, raw);
    }

    /// A packet for the router: Neighbor Discovery, a router solicitation, a ping.
    fn own6(&mut self, now: Time, port: usize, ip: Ipv6Packet<&[u8]>, number: u64) {
        let Some(v6) = &mut self.v6 else { return };
        let Ipv6Payload::Icmpv6(message) = &ip.payload else {
            let reason = DropReason::NoServiceOnRouter { dst: ip.dst.into() };
            return self.drop_event(now, reason, Some(number));
        };
        match message {
            Icmpv6Message::NeighborSolicit { target, .. }
            | Icmpv6Message::NeighborAdvert(wire::NeighborAdvert { target, .. })
                if ip.hop_limit == ndp::ND_HOP_LIMIT =>
            {
                let p = &mut v6.ports[port];
                let at = ndp::NdInput {
                    node: &self.name,
                    mac: self.ports[port].mac,
                    ours: p.addrs.iter().any(|(a, _)| a == target),
                    router: true,
                };
                let mut frames = Vec::new();
                let io = (&mut frames, &mut self.events);
                ndp::input(&mut p.table, (now, &at), (ip.src, message), io.0, io.1);
                self.frames.extend(frames.into_iter().map(|f| (port, f)));
            }
            Icmpv6Message::RouterSolicit { .. } if ip.hop_limit == ndp::ND_HOP_LIMIT => {
                self.advertise(now, port);
            }
            Icmpv6Message::EchoRequest { id, seq, data } => {
                let reply = Icmpv6Message::EchoReply {
                    id: *id,
                    seq: *seq,
                    data: data.to_vec(),
                };
                self.originate6(now, (ip.dst, ip.src), reply);
            }
            _ => {}
        }
    }

    /// Send a router advertisement on `port` to all nodes (RFC 4861 §6.2.6 allows the answer
    /// to a solicitation to go to all nodes).
    pub(super) fn advertise(&mut self, now: Time, port: usize) {
        let Some(v6) = &self.v6 else { return };
        let mac = self.ports[port].mac;
        let ra = v6.advert(port, mac);
        let prefixes: Vec<String> = ra
            .prefixes
            .iter()
            .map(|p| format!("{}/{}", p.prefix, p.len))
            .collect();
        let frame = Frame {
            src: mac,
            dst: ndp::multicast_mac(ndp::ALL_NODES),
            payload: EthPayload::Ipv6(Ipv6Packet {
                src: v6.ports[port].addrs[0].0,
                dst: ndp::ALL_NODES,
                hop_limit: ndp::ND_HOP_LIMIT,
                payload: Ipv6Payload::Icmpv6(Icmpv6Message::RouterAdvert(ra)),
            }),
        };
        self.frames.push((port, frame.encode()));
        let port = self.port_name(port);
        self.note(now, HostNote::RouterAdvert { port, prefixes });
    }

    /// RFC 8200 §3 and RFC 4443: lower the hop limit and send the packet on, or answer with
    /// the error that stops it.
    fn forward6(&mut self, now: Time, port: usize, ip: &Ipv6Packet<&[u8]>, raw: &[u8]) {
        let (src, dst, hops) = (ip.src, ip.dst, ip.hop_limit);
        let Some(v6) = &self.v6 else { return };
        let route = v6.lookup(dst);
        let mtu = route.map_or(1500, |r| v6.ports[r.port].mtu);
        if hops <= 1 {
            let decision = RouteDecision::Expired {
                ttl: hops,
                src: src.into(),
            };
            self.route_event(now, dst, decision);
            return self.icmp6_error(now, port, ip, raw, Error6::HopLimit);
        }
        let Some(route) = route else {
            let decision = RouteDecision::NoMatch { src: src.into() };
            self.route_event(now, dst, decision);
            return self.icmp6_error(now, port, ip, raw, Error6::NoRoute);
        };
        if raw.len() > usize::from(mtu) {
            let decision = RouteDecision::TooBig {
                len: raw.len(),
                src: src.into(),
                mtu,
                port: self.port_name(route.port).to_string(),
            };
            self.route_event(now, dst, decision);
            return self.icmp6_error(now, port, ip, raw, Error6::TooBig(mtu));
        }
        let hop = route.via.unwrap_or(dst);
        let decision = RouteDecision::Forward {
            network: Ipv6Addr::from(route.network).into(),
            prefix: route.prefix,
            port: self.port_name(route.port).to_string(),
            via: route.via.map(IpAddr::V6),
            ttl: hops,
        };
        self.route_event(now, dst, decision);
        let mut packet = raw.to_vec();
        packet[7] = hops - 1;
        self.send6(now, route.port, hop, Outgoing::Raw6(packet));
    }

    /// Send on `port` toward the neighbour `hop`, through the port's Neighbor Discovery.
    fn send6(&mut self, now: Time, port: usize, hop: Ipv6Addr, packet: Outgoing) {
        let Some(v6) = &mut self.v6 else { return };
        let me = (self.ports[port].mac, v6.source(port, hop));
        let solicit = move |target, mac| ndp::solicitation(me, target, mac);
        let mut frames = Vec::new();
        let io = (&mut frames, &mut self.events);
        let p = &mut v6.ports[port];
        p.table.send((now, &self.name), hop, packet, io, &solicit);
        self.frames.extend(frames.into_iter().map(|f| (port, f)));
    }

    /// A packet of the router's own, from `src` to `dst`, by the table.
    fn originate6(&mut self, now: Time, (src, dst): (Ipv6Addr, Ipv6Addr), m: Icmpv6Message) {
        let Some(route) = self.v6.as_ref().and_then(|v6| v6.lookup(dst)) else {
            return self.drop_event(now, DropReason::NoRouteBack { dst: dst.into() }, None);
        };
        let packet = Ipv6Packet {
            src,
            dst,
            hop_limit: 64,
            payload: Ipv6Payload::Icmpv6(m),
        };
        let hop = route.via.unwrap_or(dst);
        self.send6(now, route.port, hop, Outgoing::Built6(packet));
    }

    /// An ICMPv6 error about `raw` (as it arrived on `port`) to its source, from that port's
    /// address; never about an ICMPv6 error (RFC 4443 §2.4(e)).
    fn icmp6_error(
        &mut self,
        now: Time,
        port: usize,
        ip: &Ipv6Packet<&[u8]>,
        raw: &[u8],
        error: Error6,
    ) {
        if let Ipv6Payload::Icmpv6(m) = &ip.payload
            && !matches!(
                m,
                Icmpv6Message::EchoRequest { .. } | Icmpv6Message::EchoReply { .. }
            )
        {
            return;
        }
        let Some(v6) = &self.v6 else { return };
        let original = raw[..raw.len().min(1280 - 48)].to_vec();
        let message = match error {
            Error6::HopLimit => Icmpv6Message::TimeExceeded { code: 0, original },
            Error6::NoRoute => Icmpv6Message::Unreachable { code: 0, original },
            Error6::AddressUnreachable => Icmpv6Message::Unreachable { code: 3, original },
            Error6::TooBig(mtu) => Icmpv6Message::PacketTooBig {
                mtu: u32::from(mtu),
                original,
            },
        };
        let from = v6.source(port, ip.src);
        self.originate6(now, (from, ip.src), message);
    }

    /// Retry Neighbor Discovery; for neighbours that never answered, tell each sender:
    /// ICMPv6 address unreachable (RFC 4443 §3.1, code 3).
    pub(super) fn poll6(&mut self, now: Time) {
        let Some(v6) = &mut self.v6 else { return };
        let mut failed = Vec::new();
        for port in 0..v6.ports.len() {
            let me = (self.ports[port].mac, v6.ports[port].addrs[0].0);
            let solicit = move |target, mac| ndp::solicitation(me, target, mac);
            let mut frames = Vec::new();
            let io = (&mut frames, &mut self.events);
            let gone = v6.ports[port].table.poll((now, &self.name), io, &solicit);
            self.frames.extend(frames.into_iter().map(|f| (port, f)));
            failed.extend(gone.into_iter().map(|f| (port, f)));
        }
        for (port, f) in failed {
            let reason = f.drop_reason(true);
            self.drop_event(now, reason, None);
            for packet in f.packets {
                let Outgoing::Raw6(mut raw) = packet else {
                    continue;
                };
                // The quoted header is the one that arrived: its hop limit as it was.
                raw[7] = raw[7].saturating_add(1);
                if let Ok(quoted) = wire::decode_ipv6(&raw) {
                    self.icmp6_error(now, port, &quoted, &raw, Error6::AddressUnreachable);
                }
            }
        }
    }
}
