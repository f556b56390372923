//! Duplicate address detection (RFC 4862 §5.4), where a host is set to do it: each new IPv6
//! address is tentative until a Neighbor Solicitation for it, sent from `::`, has gone
//! unanswered for a second. A tentative address is not ours yet: nothing is sent from it and
//! nothing to it is taken. An advertisement for it, or another node's probe for it, means it
//! is taken, and it is given up.

use super::ipv6::{Dad, is_link_local};
use super::*;
use crate::ndp;

/// How long an address stays tentative after its one probe (RFC 4861 §10's RETRANS_TIMER and
/// Linux's `retrans_time_ms`, with Linux's `dad_transmits` of 1).
const DAD_WAIT: Time = Time::from_secs(1);

impl Host {
    /// When duplicate address detection next has work: a probe, or a wait's end.
    pub(super) fn dad_poll_at(&self) -> Option<Time> {
        let v6 = self.v6.as_ref()?;
        let at = |d: &Dad| match *d {
            Dad::Probe(at) | Dad::Wait(at) => at,
        };
        v6.tentative.iter().map(|(_, _, d)| at(d)).min()
    }

    /// Send the probes that are due, and take the addresses whose wait is over.
    pub(super) fn dad_poll(&mut self, now: Time) {
        let Some(v6) = &mut self.v6 else { return };
        let (mut probes, mut done) = (Vec::new(), Vec::new());
        for (addr, len, state) in &mut v6.tentative {
            match *state {
                Dad::Probe(at) if at <= now => {
                    probes.push(*addr);
                    *state = Dad::Wait(now + DAD_WAIT);
                }
                Dad::Wait(at) if at <= now => done.push((*addr, *len)),
                _ => {}
            }
        }
        v6.tentative
            .retain(|(a, ..)| !done.iter().any(|(d, _)| d == a));
        for addr in probes {
            self.dad_probe(now, addr);
        }
        for (addr, len) in done {
            self.dad_done(now, addr, len);
        }
    }

    /// "Is anyone using `addr`?": a solicitation for it from the unspecified address, to its
    /// solicited-node group, without our MAC (RFC 4862 §5.4.2).
    fn dad_probe(&mut self, now: Time, addr: Ipv6Addr) {
        let group = ndp::solicited_node(addr);
        let frame = wire::Frame {
            src: self.config.mac,
            dst: ndp::multicast_mac(group),
            payload: EthPayload::Ipv6(Ipv6Packet {
                src: Ipv6Addr::UNSPECIFIED,
                dst: group,
                hop_limit: ndp::ND_HOP_LIMIT,
                payload: Ipv6Payload::Icmpv6(Icmpv6Message::NeighborSolicit {
                    target: addr,
                    source_mac: None,
                }),
            }),
        };
        self.frames.push(frame.encode());
        self.note(now, HostNote::DadProbe { addr });
    }

    /// Nobody answered for `addr`: it is ours from now; once the link-local address is, a
    /// host that configures itself solicits routers.
    fn dad_done(&mut self, now: Time, addr: Ipv6Addr, len: u8) {
        let slaac = self.config.slaac;
        let Some(v6) = &mut self.v6 else { return };
        if is_link_local(addr) {
            v6.addrs.insert(0, (addr, len));
            if slaac {
                v6.solicit = Some((now, 0));
            }
        } else {
            v6.addrs.push((addr, len));
        }
        self.note(now, HostNote::DadUnique { addr });
    }

    /// A solicitation or advertisement about a tentative address of ours (RFC 4862 §5.4.3,
    /// §5.4.4): another node's probe for it, or its owner's advertisement, means it is taken;
    /// an ordinary solicitation for it is not answered. Whether it was about one.
    pub(super) fn dad_input(
        &mut self,
        now: Time,
        src: Ipv6Addr,
        message: &Icmpv6Message<&[u8]>,
    ) -> bool {
        let Some(v6) = &mut self.v6 else {
            return false;
        };
        let (target, taken) = match message {
            Icmpv6Message::NeighborSolicit { target, .. } => (*target, src.is_unspecified()),
            Icmpv6Message::NeighborAdvert(na) => (na.target, true),
            _ => return false,
        };
        if !v6.tentative.iter().any(|(a, ..)| *a == target) {
            return false;
        }
        if taken {
            v6.tentative.retain(|(a, ..)| *a != target);
            self.note(now, HostNote::DadDuplicate { addr: target });
        }
        true
    }
}
