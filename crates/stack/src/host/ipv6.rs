//! IPv6 (RFC 8200) on the host's interface: its addresses, which packets are ours, the next
//! hop by prefix (RFC 4861 §5.2), source address selection (RFC 6724, its first rules),
//! Neighbor Discovery for the next hop, and the loopback interface.

use super::*;
use crate::ndp;

/// Router solicitations a host sends before it gives up (RFC 4861 §10's
/// MAX_RTR_SOLICITATIONS, Linux's `router_solicitations`).
const MAX_RTR_SOLICITATIONS: u32 = 3;
/// The time between them (RTR_SOLICITATION_INTERVAL, Linux's `router_solicitation_interval`).
const RTR_SOLICITATION_INTERVAL: Time = Time::from_secs(4);

/// The host's IPv6 addresses, when IPv6 is on.
#[derive(Debug)]
pub(crate) struct Ipv6Config {
    /// The link-local address first, then the configured ones, each with its prefix length.
    pub(super) addrs: Vec<(Ipv6Addr, u8)>,
    /// The default router an advertisement named.
    pub(super) router: Option<Ipv6Addr>,
    /// The link MTU an advertisement gave.
    pub(super) mtu: Option<u16>,
    /// The next router solicitation: when, and how many went before it; none once a router
    /// answered or the tries ran out.
    pub(super) solicit: Option<(Time, u32)>,
    /// The path MTU to each destination a Packet Too Big was about (RFC 8201 §5.2).
    pub(super) path_mtu: BTreeMap<Ipv6Addr, u16>,
    /// Addresses not ours yet: under duplicate address detection, with their prefix length.
    pub(super) tentative: Vec<(Ipv6Addr, u8, Dad)>,
}

/// Where an address under duplicate address detection stands (RFC 4862 §5.4).
#[derive(Debug, Clone, Copy)]
pub(super) enum Dad {
    /// Its probe goes out at this time.
    Probe(Time),
    /// Its probe went; unanswered until this time, it is ours.
    Wait(Time),
}

/// Whether `a` and `b` agree in their first `len` bits.
fn same_prefix(a: Ipv6Addr, b: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0);
    u128::from(a) & mask == u128::from(b) & mask
}

/// Whether `a` is link-local (fe80::/10, RFC 4291 §2.5.6).
pub(super) fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

impl Ipv6Config {
    /// IPv6 for `config`'s interface, if it has any IPv6 address.
    pub(super) fn new(config: &HostConfig) -> Option<Ipv6Config> {
        if config.ip6.is_empty() && !config.slaac {
            return None;
        }
        let mut addrs = vec![(ndp::link_local(config.mac), 64)];
        addrs.extend(config.ip6.iter().copied());
        // With DAD every address starts tentative, and routers are asked only once the
        // link-local address is ours.
        let tentative = if config.dad {
            let probe = |(a, len): (Ipv6Addr, u8)| (a, len, Dad::Probe(Time::ZERO));
            std::mem::take(&mut addrs).into_iter().map(probe).collect()
        } else {
            Vec::new()
        };
        Some(Ipv6Config {
            addrs,
            router: None,
            mtu: None,
            solicit: (config.slaac && !config.dad).then_some((Time::ZERO, 0)),
            path_mtu: BTreeMap::new(),
            tentative,
        })
    }

    fn owns(&self, a: Ipv6Addr) -> bool {
        self.addrs.iter().any(|(mine, _)| *mine == a)
    }

    /// Whether a frame to `mac` is for one of the groups joined: all-nodes, or the
    /// solicited-node group of an address of ours.
    pub(super) fn joined(&self, mac: MacAddr) -> bool {
        let groups = std::iter::once(ndp::ALL_NODES).chain(self.groups());
        groups.map(ndp::multicast_mac).any(|m| m == mac)
    }

    /// The solicited-node groups joined: those of our addresses, tentative ones included
    /// (their probes' rivals come to them, RFC 4862 §5.4.2).
    fn groups(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        let tentative = self.tentative.iter().map(|(a, ..)| *a);
        let addrs = self.addrs.iter().map(|(a, _)| *a);
        addrs.chain(tentative).map(ndp::solicited_node)
    }

    /// Whether a packet to `dst` is for us: an address of ours, all-nodes, or a
    /// solicited-node group of ours.
    fn accepts(&self, dst: Ipv6Addr) -> bool {
        self.owns(dst) || dst == ndp::ALL_NODES || self.groups().any(|g| g == dst)
    }

    /// The prefix of ours `dst` is on, if any: then it is a neighbour (RFC 4861 §5.2).
    fn on_link(&self, dst: Ipv6Addr) -> Option<(Ipv6Addr, u8)> {
        self.addrs
            .iter()
            .copied()
            .find(|(a, len)| same_prefix(*a, dst, *len))
    }
}

impl Host {
    /// Whether `dst` is this host: `::1` (RFC 4291 §2.5.3) or an address of ours.
    pub(super) fn is_local6(&self, dst: Ipv6Addr) -> bool {
        dst.is_loopback() || self.v6.as_ref().is_some_and(|v6| v6.owns(dst))
    }

    /// The source address for `dst` (RFC 6724 §5, rules 1 and 2): `::1` to itself, the
    /// link-local address to a link-local destination, else the first global address.
    pub(super) fn source6(&self, dst: Ipv6Addr) -> Ipv6Addr {
        // `lo` has ::1 even where the interface has no IPv6, as on Linux.
        if dst.is_loopback() {
            return dst;
        }
        let Some(v6) = &self.v6 else {
            return Ipv6Addr::UNSPECIFIED;
        };
        if v6.owns(dst) {
            return dst;
        }
        let link = is_link_local(dst);
        let same_scope = v6.addrs.iter().find(|(a, _)| is_link_local(*a) == link);
        same_scope
            .or(v6.addrs.first())
            .map_or(Ipv6Addr::UNSPECIFIED, |(a, _)| *a)
    }

    /// The next hop towards `dst`: itself when on one of our prefixes (or link-local), else
    /// the default router; explained once per destination.
    pub(super) fn next_hop6(&mut self, now: Time, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let v6 = self.v6.as_ref()?;
        let on_link = v6.on_link(dst);
        let router = v6.router.or(self.config.gateway6);
        let hop = match on_link {
            Some(_) => Some(dst),
            None => router,
        };
        if self.routes_explained.insert(dst.into()) {
            let decision = match on_link {
                Some((mine, len)) => RouteDecision::OnLink {
                    mine: mine.into(),
                    len,
                },
                None => RouteDecision::OffLink {
                    router: router.map(IpAddr::V6),
                },
            };
            self.route_event(now, dst.into(), decision);
        }
        hop
    }

    /// Send an IPv6 packet to `dst`, from `src` where given and ours.
    pub(super) fn ip6_output(
        &mut self,
        now: Time,
        (src, dst): (Option<Ipv6Addr>, Ipv6Addr),
        payload: Ipv6Payload,
        hop_limit: u8,
    ) {
        let src = src
            .filter(|s| self.is_local6(*s))
            .unwrap_or_else(|| self.source6(dst));
        let packet = Ipv6Packet {
            src,
            dst,
            hop_limit,
            payload,
        };
        if self.is_local6(dst) {
            return self.loop_back6(now, packet);
        }
        let Some(hop) = self.next_hop6(now, dst) else {
            return self.drop_event(now, DropReason::NoRoute { dst: dst.into() }, None);
        };
        let me = (self.config.mac, self.source6(hop));
        let solicit = move |target, mac| ndp::solicitation(me, target, mac);
        let name = &self.config.name;
        self.ndp.send(
            (now, name),
            hop,
            Outgoing::Built6(packet),
            (&mut self.frames, &mut self.events),
            &solicit,
        );
    }

    /// The MTU of the path to `dst`: the link's, or less where a Packet Too Big said so.
    pub(super) fn mtu_to6(&self, dst: Ipv6Addr) -> u16 {
        let Some(v6) = &self.v6 else {
            return self.config.mtu;
        };
        let link = v6.mtu.map_or(self.config.mtu, |m| m.min(self.config.mtu));
        v6.path_mtu.get(&dst).map_or(link, |m| link.min(*m))
    }

    /// When IPv6 next has work: a router solicitation or a neighbour's retry.
    pub(super) fn poll_at6(&self) -> Option<Time> {
        let solicit = self.v6.as_ref().and_then(|v6| v6.solicit).map(|(t, _)| t);
        let dad = self.dad_poll_at();
        self.ndp
            .poll_at()
            .into_iter()
            .chain(solicit)
            .chain(dad)
            .min()
    }

    /// A router solicitation, if one is due (RFC 4861 §6.3.7): from the link-local address
    /// to all routers, until one answers or three went unanswered.
    fn solicit_routers(&mut self, now: Time) {
        let Some(v6) = &mut self.v6 else { return };
        let Some((at, sent)) = v6.solicit.filter(|(at, _)| *at <= now) else {
            return;
        };
        v6.solicit = (sent + 1 < MAX_RTR_SOLICITATIONS)
            .then_some((at + RTR_SOLICITATION_INTERVAL, sent + 1));
        let all_routers = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
        let frame = wire::Frame {
            src: self.config.mac,
            dst: ndp::multicast_mac(all_routers),
            payload: EthPayload::Ipv6(Ipv6Packet {
                src: v6.addrs[0].0,
                dst: all_routers,
                hop_limit: ndp::ND_HOP_LIMIT,
                payload: Ipv6Payload::Icmpv6(Icmpv6Message::RouterSolicit {
                    source_mac: Some(self.config.mac),
                }),
            }),
        };
        self.frames.push(frame.encode());
        let (try_number, tries) = (sent + 1, MAX_RTR_SOLICITATIONS);
        self.note(now, HostNote::RouterSolicit { try_number, tries });
    }

    /// Neighbor Discovery's retries and probes that are due, and the packets given up on.
    pub(super) fn ndp_poll(&mut self, now: Time) {
        if self.v6.is_none() {
            return;
        }
        self.dad_poll(now);
        self.solicit_routers(now);
        let (mac, link_local) = (self.config.mac, self.source6(ndp::ALL_NODES));
        let solicit = move |target, dst| ndp::solicitation((mac, link_local), target, dst);
        let name = &self.config.name;
        let io = (&mut self.frames, &mut self.events);
        for f in self.ndp.poll((now, name), io, &solicit) {
            let reason = f.drop_reason(false);
            self.drop_event(now, reason, None);
        }
    }

    /// An IPv6 packet to ourselves, through the loopback interface.
    fn loop_back6(&mut self, now: Time, packet: Ipv6Packet) {
        let dst = packet.dst;
        if self.routes_explained.insert(dst.into()) {
            let decision = RouteDecision::Loopback {
                own: !dst.is_loopback(),
            };
            self.route_event(now, dst.into(), decision);
        }
        let frame = wire::Frame {
            src: MacAddr::ZERO,
            dst: MacAddr::ZERO,
            payload: EthPayload::Ipv6(packet),
        };
        self.loopback.push(frame.encode());
    }

    /// An IPv6 packet (`raw`, for the ICMPv6 errors that quote it) for us or not, handed to
    /// its protocol once its checksum holds.
    pub(super) fn ipv6_input(
        &mut self,
        now: Time,
        ip: Ipv6Packet<&[u8]>,
        raw: &[u8],
        frame_number: u64,
        via_lo: bool,
    ) {
        let looped = via_lo && ip.dst.is_loopback();
        let ours = match &self.v6 {
            // `lo`'s ::1 works where the interface has no IPv6, as on Linux.
            None if looped => true,
            None => {
                return self.drop_event(now, DropReason::Ipv6Off, Some(frame_number));
            }
            Some(v6) => v6.accepts(ip.dst) || looped,
        };
        if !ours {
            let reason = DropReason::NotForMe { dst: ip.dst.into() };
            return self.drop_event(now, reason, Some(frame_number));
        }
        let (src, dst) = (IpAddr::V6(ip.src), IpAddr::V6(ip.dst));
        match ip.payload {
            Ipv6Payload::Tcp(seg) if seg.checksum_ok => {
                self.tcp_input(now, (src, dst), &seg, frame_number)
            }
            Ipv6Payload::Udp(udp) if udp.checksum_ok => {
                self.udp_input(now, (src, dst), udp, raw, frame_number)
            }
            Ipv6Payload::Tcp(_) | Ipv6Payload::Udp(_) => {
                let reason = DropReason::BadIpv6Checksum;
                self.drop_event(now, reason, Some(frame_number));
            }
            Ipv6Payload::Icmpv6(message) => {
                self.icmpv6_input(now, (ip.src, ip.dst, ip.hop_limit), message, frame_number)
            }
            Ipv6Payload::Other { protocol, .. } => {
                let reason = DropReason::UnknownNextHeader { protocol };
                self.drop_event(now, reason, Some(frame_number));
            }
        }
    }
}
