//! ICMPv6 (RFC 4443) on the host: echo requests answered, echo replies matched to their
//! pings, errors about our own datagrams, and Neighbor Discovery's messages handed to
//! [`crate::ndp`].

use super::*;
use crate::ndp;

/// The identifier of our echo request, or the UDP ports of our datagram, that an ICMPv6
/// error quotes (RFC 4443 §2.4(c): as much of the packet as fits).
fn quoted(original: &[u8]) -> Option<(u8, &[u8])> {
    let t = wire::Ipv6View::new_checked(original).ok()?.transport()?;
    Some((t.protocol, t.payload))
}

/// As much of `raw` as an ICMPv6 error may quote: the whole error within the minimum MTU,
/// 1280 octets (RFC 4443 §2.4(c)).
pub(super) fn quote(raw: &[u8]) -> Vec<u8> {
    raw[..raw.len().min(1280 - 48)].to_vec()
}

impl Host {
    /// An ICMPv6 message from `src` to our `dst`, with the hop limit it arrived with.
    pub(super) fn icmpv6_input(
        &mut self,
        now: Time,
        (src, dst, hop_limit): (Ipv6Addr, Ipv6Addr, u8),
        message: Icmpv6Message<&[u8]>,
        frame_number: u64,
    ) {
        match message {
            Icmpv6Message::EchoRequest { id, seq, data } => {
                let reply = Icmpv6Message::EchoReply {
                    id,
                    seq,
                    data: data.to_vec(),
                };
                // RFC 4443 §4.2: from the address the request was sent to, if unicast.
                let from = self.is_local6(dst).then_some(dst);
                self.ip6_output(now, (from, src), Ipv6Payload::Icmpv6(reply), 64);
            }
            Icmpv6Message::EchoReply { id, .. } => {
                if let Some((sent, result @ None)) = self.pings.get_mut(&id) {
                    *result = Some(PingResult::Reply {
                        from: src.into(),
                        ttl: hop_limit,
                        rtt: now - *sent,
                    });
                }
            }
            Icmpv6Message::TimeExceeded { original, .. } => {
                let from = src.into();
                self.ping6_answered(original, PingResult::TimeExceeded { from });
            }
            Icmpv6Message::Unreachable { original, code } => {
                self.udp6_unreachable(original, code);
                let result = PingResult::Unreachable {
                    from: src.into(),
                    code,
                };
                self.ping6_answered(original, result);
            }
            Icmpv6Message::NeighborSolicit { .. } | Icmpv6Message::NeighborAdvert(_) => {
                self.nd_input(now, (src, hop_limit), &message, frame_number)
            }
            Icmpv6Message::PacketTooBig { mtu, original } => {
                self.packet_too_big(now, (src, mtu), original, frame_number)
            }
            Icmpv6Message::RouterAdvert(ra) if hop_limit == ndp::ND_HOP_LIMIT => {
                self.router_advert(now, src, &ra)
            }
            _ => {}
        }
    }

    /// A Neighbor Solicitation or Advertisement, from the link itself (hop limit 255,
    /// RFC 4861 §7.1.1) or dropped.
    fn nd_input(
        &mut self,
        now: Time,
        (src, hop_limit): (Ipv6Addr, u8),
        message: &Icmpv6Message<&[u8]>,
        frame_number: u64,
    ) {
        if hop_limit != ndp::ND_HOP_LIMIT {
            let reason = DropReason::NotFromThisLink { hop_limit };
            return self.drop_event(now, reason, Some(frame_number));
        }
        if self.dad_input(now, src, message) {
            return;
        }
        let target = match message {
            Icmpv6Message::NeighborSolicit { target, .. }
            | Icmpv6Message::NeighborAdvert(wire::NeighborAdvert { target, .. }) => *target,
            _ => return,
        };
        let at = ndp::NdInput {
            node: &self.config.name,
            mac: self.config.mac,
            ours: self
                .v6
                .as_ref()
                .is_some_and(|v6| v6.addrs.iter().any(|(a, _)| *a == target)),
            router: false,
        };
        let (frames, events) = (&mut self.frames, &mut self.events);
        ndp::input(&mut self.ndp, (now, &at), (src, message), frames, events);
    }

    /// A router's advertisement (RFC 4861 §6.3.4): its MAC learned, the router taken as the
    /// default, its MTU, and with SLAAC an address formed from each prefix that allows it
    /// (RFC 4862 §5.5.3): the prefix's 64 bits and our interface identifier's.
    fn router_advert(&mut self, now: Time, src: Ipv6Addr, ra: &wire::RouterAdvert) {
        let (slaac, dad) = (self.config.slaac, self.config.dad);
        if let Some(mac) = ra.source_mac {
            let name = &self.config.name;
            let known = self.ndp.knows(src);
            self.ndp.remember(now, src, mac);
            if !known {
                let learned = trace::ArpAction::Learned;
                crate::neighbours::neighbour_event(
                    &mut self.events,
                    now,
                    name,
                    learned,
                    src,
                    Some(mac),
                );
            }
        }
        let Some(v6) = &mut self.v6 else { return };
        let mut notes = Vec::new();
        v6.solicit = None;
        if ra.lifetime > 0 && v6.router != Some(src) {
            v6.router = Some(src);
            notes.push(HostNote::DefaultRouter {
                router: src,
                lifetime: ra.lifetime,
            });
        }
        if let Some(mtu) = ra.mtu.and_then(|m| u16::try_from(m).ok()) {
            v6.mtu = Some(mtu);
            notes.push(HostNote::LinkMtu { mtu });
        }
        let iid = u128::from(ndp::link_local(self.config.mac)) & u128::from(u64::MAX);
        for p in ra
            .prefixes
            .iter()
            .filter(|p| slaac && p.autonomous && p.len == 64)
        {
            let addr = Ipv6Addr::from(u128::from(p.prefix) & !u128::from(u64::MAX) | iid);
            let known = v6.addrs.iter().any(|(a, _)| *a == addr)
                || v6.tentative.iter().any(|(a, ..)| *a == addr);
            if p.valid > 0 && !known {
                if dad {
                    // Tentative first: its probe leaves at the next poll (RFC 4862 §5.4).
                    v6.tentative.push((addr, 64, super::ipv6::Dad::Probe(now)));
                } else {
                    v6.addrs.push((addr, 64));
                }
                notes.push(HostNote::Slaac {
                    addr,
                    prefix: p.prefix,
                });
            }
        }
        for note in notes {
            self.note(now, note);
        }
    }

    /// A Packet Too Big about a packet of ours (RFC 8201 §4): the path MTU to its
    /// destination is lowered (never below IPv6's 1280), and each TCP connection there
    /// shrinks its segments and resends.
    fn packet_too_big(
        &mut self,
        now: Time,
        (from, mtu): (Ipv6Addr, u32),
        original: &[u8],
        frame: u64,
    ) {
        let Ok(quoted) = wire::Ipv6View::new_checked(original) else {
            return;
        };
        let dst = quoted.dst();
        if !self.is_local6(quoted.src()) {
            return;
        }
        let mtu = u16::try_from(mtu).unwrap_or(u16::MAX).max(1280);
        if mtu >= self.mtu_to6(dst) {
            return;
        }
        if let Some(v6) = &mut self.v6 {
            v6.path_mtu.insert(dst, mtu);
        }
        self.note(now, HostNote::PacketTooBig { from, dst, mtu });
        let conns: Vec<SocketId> = self
            .sockets
            .iter()
            .filter_map(|(id, s)| match s {
                Socket::Conn(tcb) if tcb.remote().ip() == IpAddr::V6(dst) => Some(*id),
                _ => None,
            })
            .collect();
        for id in conns {
            let cause = Cause::Frame(frame);
            self.drive(now, id, cause, |tcb, ctx| {
                tcb.path_mtu_reduced(ctx, mtu, 40)
            });
        }
    }

    /// An ICMPv6 error about one of our echo requests.
    fn ping6_answered(&mut self, original: &[u8], answer: PingResult) {
        let Some((wire::ICMPV6, icmp)) = quoted(original) else {
            return;
        };
        if icmp.first() != Some(&wire::icmpv6_type::ECHO_REQUEST) || icmp.len() < 8 {
            return;
        }
        let id = u16::from_be_bytes([icmp[4], icmp[5]]);
        if let Some((_, result @ None)) = self.pings.get_mut(&id) {
            *result = Some(answer);
        }
    }

    /// An ICMPv6 destination unreachable about a connected UDP socket's datagram: its next
    /// call reports it (code 4, port unreachable: ECONNREFUSED, as Linux maps it).
    fn udp6_unreachable(&mut self, original: &[u8], code: u8) {
        let Some(ip) = wire::Ipv6View::new_checked(original).ok() else {
            return;
        };
        let Some((wire::view::protocol::UDP, udp)) = quoted(original) else {
            return;
        };
        if udp.len() < 4 {
            return;
        }
        let src_port = u16::from_be_bytes([udp[0], udp[1]]);
        let dst = SocketAddr::new(ip.dst().into(), u16::from_be_bytes([udp[2], udp[3]]));
        self.udp_error(dst, src_port, code == 4);
    }

    /// Send one ICMPv6 echo request to `dst` with this hop limit; the identifier to wait on.
    pub(super) fn ping6(
        &mut self,
        now: Time,
        dst: Ipv6Addr,
        hop_limit: u8,
    ) -> Result<u16, SocketError> {
        if !self.is_local6(dst) && self.next_hop6(now, dst).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        let (id, data) = self.new_ping(now);
        let request = Icmpv6Message::EchoRequest { id, seq: 1, data };
        self.ip6_output(now, (None, dst), Ipv6Payload::Icmpv6(request), hop_limit);
        Ok(id)
    }
}
