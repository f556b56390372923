//! An IPv4 router (RFC 1812), sans-IO: several ports, each with a MAC, an address and a prefix,
//! and its own ARP; a routing table of connected routes (one per port), static routes and a
//! default route; forwarding by longest prefix match with the TTL decremented and the header
//! checksum updated; ICMP echo replies for its own addresses, ICMP time exceeded when a TTL
//! runs out and ICMP destination unreachable when no route matches. Every forwarding decision
//! is a trace event with its arithmetic.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use trace::{DropReason, Event, EventKind, HostNote, Note, RouteDecision, Time};
use wire::{EthPayload, IcmpMessage, Ipv4Packet, Ipv4Payload, Ipv4View, MacAddr};

use crate::arp::ArpPort;
use crate::neighbours::Outgoing;

mod ipv6;

use ipv6::Router6;
pub use ipv6::StaticRoute6;

/// One port of a router.
#[derive(Clone, Debug)]
pub struct RouterPort {
    /// A name for the trace: what the port faces (`lan1`).
    pub label: String,
    /// The port's MAC address.
    pub mac: MacAddr,
    /// The port's IPv4 address.
    pub ip: Ipv4Addr,
    /// Its subnet's prefix length.
    pub prefix: u8,
    /// Its IPv6 addresses with their prefix lengths (a link-local one from the MAC joins
    /// them): the prefixes it routes and advertises on this link.
    pub ip6: Vec<(std::net::Ipv6Addr, u8)>,
    /// The link's MTU: an IPv6 packet bigger than this is answered with Packet Too Big.
    pub mtu: u16,
}

/// A static route: packets for `network/prefix` go to the router `via`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    /// The destination network.
    pub network: Ipv4Addr,
    /// Its prefix length (0 for the default route).
    pub prefix: u8,
    /// The next hop, on one of the router's connected subnets.
    pub via: Ipv4Addr,
}

/// How a router is set up.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// Name used in traces.
    pub name: String,
    /// Its ports, in order (port 1 is the first).
    pub ports: Vec<RouterPort>,
    /// Static routes, a default route among them if any (`0.0.0.0/0`).
    pub routes: Vec<StaticRoute>,
    /// Static IPv6 routes (`::/0` for the default).
    pub routes6: Vec<StaticRoute6>,
}

/// A route that could not be installed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "route to {network}/{prefix} via {via}: {via} is on none of the router's subnets ({subnets})"
)]
pub struct RouteError {
    /// The route's network.
    pub network: Ipv4Addr,
    /// Its prefix.
    pub prefix: u8,
    /// The unreachable next hop.
    pub via: Ipv4Addr,
    /// The subnets it could have been on.
    pub subnets: String,
}

/// One entry of the routing table.
#[derive(Clone, Copy, Debug)]
struct Entry {
    network: u32,
    prefix: u8,
    via: Option<Ipv4Addr>,
    port: usize,
}

/// The entries of `table` by prefix length (longest first) and network, in table order.
fn index_by_prefix(table: &[Entry]) -> Vec<(u8, HashMap<u32, Vec<usize>>)> {
    let mut by_prefix: BTreeMap<std::cmp::Reverse<u8>, HashMap<u32, Vec<usize>>> = BTreeMap::new();
    for (i, e) in table.iter().enumerate() {
        by_prefix
            .entry(std::cmp::Reverse(e.prefix))
            .or_default()
            .entry(e.network)
            .or_default()
            .push(i);
    }
    by_prefix.into_iter().map(|(p, n)| (p.0, n)).collect()
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// A router.
#[derive(Debug)]
pub struct Router {
    name: String,
    labels: Vec<String>,
    ports: Vec<ArpPort>,
    table: Vec<Entry>,
    /// The table by prefix length, longest first, then by network: a lookup costs one probe
    /// per prefix length, however many ports and routes there are.
    by_prefix: Vec<(u8, HashMap<u32, Vec<usize>>)>,
    ident: u16,
    /// IPv6, where a port has an IPv6 prefix.
    v6: Option<Router6>,
    frames: Vec<(usize, Vec<u8>)>,
    events: Vec<Event>,
}

impl Router {
    /// A router with connected routes for its ports and the static routes given; a static
    /// route's next hop must be on a connected subnet.
    pub fn new(config: RouterConfig) -> Result<Router, RouteError> {
        let mut table: Vec<Entry> = config
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| Entry {
                network: u32::from(p.ip) & mask(p.prefix),
                prefix: p.prefix,
                via: None,
                port: i,
            })
            .collect();
        for route in &config.routes {
            let Some(port) = table
                .iter()
                .find(|e| e.via.is_none() && u32::from(route.via) & mask(e.prefix) == e.network)
                .map(|e| e.port)
            else {
                let subnets: Vec<String> = table
                    .iter()
                    .filter(|e| e.via.is_none())
                    .map(|e| format!("{}/{}", Ipv4Addr::from(e.network), e.prefix))
                    .collect();
                return Err(RouteError {
                    network: route.network,
                    prefix: route.prefix,
                    via: route.via,
                    subnets: subnets.join(", "),
                });
            };
            table.push(Entry {
                network: u32::from(route.network) & mask(route.prefix),
                prefix: route.prefix,
                via: Some(route.via),
                port,
            });
        }
        let by_prefix = index_by_prefix(&table);
        Ok(Router {
            v6: Router6::new(&config.ports, &config.routes6),
            name: config.name,
            labels: config.ports.iter().map(|p| p.label.clone()).collect(),
            ports: config
                .ports
                .iter()
                .map(|p| ArpPort::new(p.mac, p.ip))
                .collect(),
            table,
            by_prefix,
            ident: 0,
            frames: Vec::new(),
            events: Vec::new(),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many ports it has.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// The routing table as `ip route` would print it, one route a line.
    pub fn table(&self) -> Vec<String> {
        self.table
            .iter()
            .map(|e| {
                let net = if e.prefix == 0 {
                    "default".to_string()
                } else {
                    format!("{}/{}", Ipv4Addr::from(e.network), e.prefix)
                };
                match e.via {
                    Some(via) => format!("{net} via {via} dev port {}", e.port + 1),
                    None => format!(
                        "{net} dev port {} (connected, {})",
                        e.port + 1,
                        self.labels[e.port]
                    ),
                }
            })
            .collect()
    }

    /// Frames to transmit, each with the index of the port it leaves by.
    pub fn take_frames(&mut self) -> Vec<(usize, Vec<u8>)> {
        std::mem::take(&mut self.frames)
    }

    /// Trace events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The earliest time at which [`Router::poll_timers`] has work (an ARP retry).
    pub fn poll_at(&self) -> Option<Time> {
        let v6 = self.v6.as_ref().and_then(Router6::poll_at);
        self.ports
            .iter()
            .filter_map(ArpPort::poll_at)
            .chain(v6)
            .min()
    }

    fn port_name(&self, port: usize) -> String {
        format!("port {} ({})", port + 1, self.labels[port])
    }

    fn route_event(
        &mut self,
        now: Time,
        dst: impl Into<std::net::IpAddr>,
        decision: RouteDecision,
    ) {
        self.events.push(Event {
            t: now,
            kind: EventKind::Route {
                host: self.name.clone(),
                dst: dst.into(),
                decision,
            },
        });
    }

    fn note(&mut self, now: Time, note: HostNote) {
        self.events.push(Event {
            t: now,
            kind: EventKind::Note {
                node: self.name.clone(),
                note: Note::Host(note),
            },
        });
    }

    fn drop_event(&mut self, now: Time, reason: DropReason, frame: Option<u64>) {
        self.events.push(Event {
            t: now,
            kind: EventKind::Drop {
                node: self.name.clone(),
                reason,
                frame,
            },
        });
    }

    /// Longest prefix match; among equal prefixes a connected route before a static one, and
    /// among equals the last entry.
    fn lookup(&self, dst: Ipv4Addr) -> Option<Entry> {
        let d = u32::from(dst);
        self.by_prefix.iter().find_map(|(prefix, networks)| {
            let matching = networks.get(&(d & mask(*prefix)))?;
            matching
                .iter()
                .map(|&i| self.table[i])
                .max_by_key(|e| std::cmp::Reverse(e.via.is_some()))
        })
    }

    /// Send on `port` toward `hop`, through that port's ARP.
    fn send(&mut self, now: Time, port: usize, hop: Ipv4Addr, packet: Outgoing) {
        let mut frames = Vec::new();
        let name = self.name.clone();
        self.ports[port].send(now, &name, hop, packet, &mut frames, &mut self.events);
        self.frames.extend(frames.into_iter().map(|f| (port, f)));
    }

    /// A frame arrived on `port`.
    pub fn receive(&mut self, now: Time, port: usize, bytes: &[u8], frame_number: u64) {
        let Some(iface) = self.ports.get(port) else {
            return;
        };
        let frame = match wire::decode(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                let reason = DropReason::Undecodable {
                    error: e.to_string(),
                };
                return self.drop_event(now, reason, Some(frame_number));
            }
        };
        let joined = self
            .v6
            .as_ref()
            .is_some_and(|v6| v6.joined(port, frame.dst));
        if frame.dst != iface.mac && !frame.dst.is_broadcast() && !joined {
            let reason = DropReason::NotMyMac {
                dst: frame.dst,
                mine: iface.mac,
                port: Some(self.port_name(port).to_string()),
            };
            return self.drop_event(now, reason, Some(frame_number));
        }
        match frame.payload {
            EthPayload::Arp(arp) => {
                let mut frames = Vec::new();
                let name = self.name.clone();
                self.ports[port].input(now, &name, &arp, &mut frames, &mut self.events);
                self.frames.extend(frames.into_iter().map(|f| (port, f)));
            }
            EthPayload::Ipv4(ip) => {
                self.ports[port].heard_from(now, &self.name, frame.src, &mut self.events);
                self.ip_input(now, port, ip, &bytes[14..], frame_number)
            }
            EthPayload::Ipv6(ip) => {
                self.ip6_input((now, port, frame_number), frame.src, ip, &bytes[14..])
            }
            EthPayload::Other { ether_type } => {
                let reason = DropReason::UnknownEtherType {
                    ether_type,
                    router: true,
                };
                self.drop_event(now, reason, Some(frame_number));
            }
        }
    }

    fn ip_input(&mut self, now: Time, port: usize, ip: Ipv4Packet<&[u8]>, raw: &[u8], number: u64) {
        if !ip.header_checksum_ok {
            return self.drop_event(now, DropReason::BadIpv4HeaderChecksum, Some(number));
        }
        if self.ports.iter().any(|p| p.ip == ip.dst) {
            return match ip.payload {
                Ipv4Payload::Icmp(IcmpMessage::EchoRequest { id, seq, data }) => {
                    let data = data.to_vec();
                    let reply = IcmpMessage::EchoReply { id, seq, data };
                    self.originate(now, ip.dst, ip.src, Ipv4Payload::Icmp(reply));
                }
                _ => {
                    let reason = DropReason::NoServiceOnRouter { dst: ip.dst.into() };
                    self.drop_event(now, reason, Some(number))
                }
            };
        }
        if ip.dst.is_broadcast() || ip.dst.is_multicast() {
            let reason = DropReason::NotForwarded { dst: ip.dst.into() };
            return self.drop_event(now, reason, Some(number));
        }
        // The packet as it came, from its IP header to its end (decoded, so its header is
        // there).
        let Ok(view) = Ipv4View::new_checked(raw) else {
            return;
        };
        let mut packet = view.packet().to_vec();
        // RFC 1812 §5.3.1: a packet whose TTL would reach zero is not forwarded.
        if ip.ttl <= 1 {
            let decision = RouteDecision::Expired {
                ttl: ip.ttl,
                src: ip.src.into(),
            };
            self.route_event(now, ip.dst, decision);
            return self.icmp_error(now, port, &ip, &packet, IcmpError::TimeExceeded);
        }
        let Some(route) = self.lookup(ip.dst) else {
            let decision = RouteDecision::NoMatch { src: ip.src.into() };
            self.route_event(now, ip.dst, decision);
            return self.icmp_error(now, port, &ip, &packet, IcmpError::NetUnreachable);
        };
        let hop = route.via.unwrap_or(ip.dst);
        let (dst, ttl) = (ip.dst, ip.ttl);
        let decision = RouteDecision::Forward {
            network: Ipv4Addr::from(route.network).into(),
            prefix: route.prefix,
            port: self.port_name(route.port).to_string(),
            via: route.via.map(IpAddr::V4),
            ttl,
        };
        self.route_event(now, dst, decision);
        set_ttl(&mut packet, ttl - 1);
        self.send(now, route.port, hop, Outgoing::Raw(packet));
    }

    /// Send a packet of our own from `src` (one of our addresses) to `dst`.
    fn originate(&mut self, now: Time, src: Ipv4Addr, dst: Ipv4Addr, payload: Ipv4Payload) {
        let Some(route) = self.lookup(dst) else {
            return self.drop_event(now, DropReason::NoRouteBack { dst: dst.into() }, None);
        };
        self.ident = self.ident.wrapping_add(1);
        let packet = Ipv4Packet {
            src,
            dst,
            ttl: 64,
            ident: self.ident,
            header_checksum_ok: true,
            payload,
        };
        let hop = route.via.unwrap_or(dst);
        self.send(now, route.port, hop, Outgoing::Built(packet));
    }

    /// An ICMP error about `packet` (as it arrived on `port`) to its source, from that
    /// port's address; never about an ICMP error (RFC 1812 §4.3.2.7).
    fn icmp_error<P>(
        &mut self,
        now: Time,
        port: usize,
        ip: &Ipv4Packet<P>,
        raw: &[u8],
        error: IcmpError,
    ) {
        if matches!(
            ip.payload,
            Ipv4Payload::Icmp(IcmpMessage::Unreachable { .. } | IcmpMessage::TimeExceeded { .. })
        ) {
            return;
        }
        // RFC 792: the IP header and the first 64 bits of the datagram's data.
        let ihl = Ipv4View::new_checked(raw).map_or(20, |v| v.header_len());
        let original = raw[..raw.len().min(ihl + 8)].to_vec();
        let message = match error {
            IcmpError::TimeExceeded => IcmpMessage::TimeExceeded { code: 0, original },
            IcmpError::NetUnreachable => IcmpMessage::Unreachable { code: 0, original },
            IcmpError::HostUnreachable => IcmpMessage::Unreachable { code: 1, original },
        };
        let src = self.ports[port].ip;
        self.originate(now, src, ip.src, Ipv4Payload::Icmp(message));
    }

    /// Retry ARP requests; for next hops that never answered, drop their packets and tell
    /// each sender: ICMP host unreachable (RFC 1812 §5.2.7.1).
    pub fn poll_timers(&mut self, now: Time) {
        self.poll6(now);
        for port in 0..self.ports.len() {
            let mut frames = Vec::new();
            let name = self.name.clone();
            let failed = self.ports[port].poll(now, &name, &mut frames, &mut self.events);
            self.frames.extend(frames.into_iter().map(|f| (port, f)));
            for f in failed {
                let reason = f.drop_reason(true);
                self.drop_event(now, reason, None);
                for packet in f.packets {
                    let Outgoing::Raw(raw) = packet else { continue };
                    if let Ok(ip) = wire::decode_ipv4(&raw) {
                        // The quoted header is the one that arrived: TTL as it was.
                        let mut quoted = raw.clone();
                        set_ttl(&mut quoted, ip.ttl.saturating_add(1));
                        let back = self.lookup(ip.src).map_or(port, |r| r.port);
                        self.icmp_error(now, back, &ip, &quoted, IcmpError::HostUnreachable);
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum IcmpError {
    TimeExceeded,
    NetUnreachable,
    HostUnreachable,
}

/// A new TTL and the header checksum recomputed (RFC 1812 §5.3.1, §5.2.2), in place.
fn set_ttl(packet: &mut [u8], ttl: u8) {
    if let Ok(mut ip) = Ipv4View::new_checked(packet) {
        ip.set_ttl(ttl);
        ip.fill_header_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let port = |label: &str, last: u8, ip: [u8; 4], prefix| RouterPort {
            label: label.into(),
            mac: MacAddr([2, 0, 0, 0, 1, last]),
            ip: Ipv4Addr::from(ip),
            prefix,
            ip6: Vec::new(),
            mtu: 1500,
        };
        Router::new(RouterConfig {
            name: "r1".into(),
            ports: vec![
                port("lan1", 1, [10, 0, 1, 1], 24),
                port("lan2", 2, [10, 0, 2, 1], 24),
            ],
            routes: vec![
                StaticRoute {
                    network: Ipv4Addr::new(10, 0, 3, 0),
                    prefix: 24,
                    via: Ipv4Addr::new(10, 0, 2, 2),
                },
                StaticRoute {
                    network: Ipv4Addr::UNSPECIFIED,
                    prefix: 0,
                    via: Ipv4Addr::new(10, 0, 2, 254),
                },
            ],
            routes6: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_the_default_catches_the_rest() {
        let r = router();
        let hop = |d: [u8; 4]| {
            let e = r.lookup(Ipv4Addr::from(d)).unwrap();
            (e.port, e.via)
        };
        assert_eq!(hop([10, 0, 1, 9]), (0, None));
        assert_eq!(hop([10, 0, 2, 9]), (1, None));
        assert_eq!(hop([10, 0, 3, 9]), (1, Some(Ipv4Addr::new(10, 0, 2, 2))));
        assert_eq!(hop([8, 8, 8, 8]), (1, Some(Ipv4Addr::new(10, 0, 2, 254))));
        assert_eq!(
            r.table(),
            [
                "10.0.1.0/24 dev port 1 (connected, lan1)",
                "10.0.2.0/24 dev port 2 (connected, lan2)",
                "10.0.3.0/24 via 10.0.2.2 dev port 2",
                "default via 10.0.2.254 dev port 2",
            ]
        );
    }

    #[test]
    fn a_next_hop_off_every_subnet_is_refused() {
        let err = Router::new(RouterConfig {
            name: "r".into(),
            ports: vec![RouterPort {
                label: "lan".into(),
                mac: MacAddr([2, 0, 0, 0, 0, 1]),
                ip: Ipv4Addr::new(10, 0, 1, 1),
                prefix: 24,
                ip6: Vec::new(),
                mtu: 1500,
            }],
            routes: vec![StaticRoute {
                network: Ipv4Addr::UNSPECIFIED,
                prefix: 0,
                via: Ipv4Addr::new(192, 168, 0, 1),
            }],
            routes6: Vec::new(),
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("on none of the router's subnets (10.0.1.0/24)")
        );
    }

    #[test]
    fn the_checksum_after_a_ttl_decrement_verifies() {
        let packet = Ipv4Packet {
            src: Ipv4Addr::new(10, 0, 1, 5),
            dst: Ipv4Addr::new(10, 0, 2, 5),
            ttl: 64,
            ident: 7,
            header_checksum_ok: true,
            payload: Ipv4Payload::Icmp(IcmpMessage::EchoRequest {
                id: 1,
                seq: 1,
                data: b"ping".to_vec(),
            }),
        };
        let mut raw = Vec::new();
        packet.encode_into(&mut raw);
        set_ttl(&mut raw, 63);
        let decoded = wire::decode_ipv4(&raw).unwrap();
        assert_eq!(decoded.ttl, 63);
        assert!(decoded.header_checksum_ok);
    }
}
