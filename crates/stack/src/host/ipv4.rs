//! IPv4 output (RFC 791, RFC 1122 §3.3.1): the next hop by subnet mask, the header, ARP
//! for the next hop, broadcast, and the loopback interface.

use super::*;

impl Host {
    /// Where a packet for `dst` goes, and why (said once per destination).
    pub(super) fn route_event(&mut self, now: Time, dst: IpAddr, decision: RouteDecision) {
        let host = self.config.name.clone();
        self.event(
            now,
            EventKind::Route {
                host,
                dst,
                decision,
            },
        );
    }

    /// Decide the next hop for `dst` by the subnet mask, explaining the arithmetic once per
    /// destination.
    pub(super) fn next_hop4(&mut self, now: Time, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let mask = prefix_mask(self.config.prefix);
        let mine = u32::from(self.config.ip) & mask;
        let theirs = u32::from(dst) & mask;
        let hop = if mine == theirs {
            Some(dst)
        } else {
            self.config.gateway
        };
        if self.routes_explained.insert(dst.into()) {
            let mask = self.config.netmask();
            let decision = if mine == theirs {
                RouteDecision::SameSubnet {
                    mask,
                    network: Ipv4Addr::from(mine),
                }
            } else {
                RouteDecision::OtherSubnet {
                    mask,
                    theirs: Ipv4Addr::from(theirs),
                    mine: Ipv4Addr::from(mine),
                    gateway: self.config.gateway,
                }
            };
            self.route_event(now, dst.into(), decision);
        }
        hop
    }

    pub(super) fn ip_output(&mut self, now: Time, dst: Ipv4Addr, payload: Ipv4Payload) {
        self.ip_output_ttl(now, (None, dst), payload, 64);
    }

    /// Send a packet to `dst`, from `src` where the socket (or the packet answered) names
    /// one of our addresses, else from the one the route gives.
    pub(super) fn ip_output_ttl(
        &mut self,
        now: Time,
        (src, dst): (Option<Ipv4Addr>, Ipv4Addr),
        payload: Ipv4Payload,
        ttl: u8,
    ) {
        if self.is_local4(dst) {
            let src = src
                .filter(|s| self.is_local4(*s))
                .unwrap_or(if dst.is_loopback() {
                    Ipv4Addr::LOCALHOST
                } else {
                    self.config.ip
                });
            return self.loop_back(now, (src, dst), payload, ttl);
        }
        if self.is_broadcast4(dst) {
            return self.broadcast_output(dst, payload, ttl);
        }
        let Some(hop) = self.next_hop4(now, dst) else {
            return self.drop_event(now, DropReason::NoRoute { dst: dst.into() }, None);
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let packet = Ipv4Packet {
            src: self.config.ip,
            dst,
            ttl,
            ident: self.ip_ident,
            header_checksum_ok: true,
            payload,
        };
        let name = &self.config.name;
        self.arp.send(
            now,
            name,
            hop,
            Outgoing::Built(packet),
            &mut self.frames,
            &mut self.events,
        );
    }

    /// A packet to a broadcast address: to every station of the link (Ethernet's broadcast
    /// address, RFC 894), no ARP.
    pub(super) fn broadcast_output(&mut self, dst: Ipv4Addr, payload: Ipv4Payload, ttl: u8) {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let frame = wire::Frame {
            src: self.config.mac,
            dst: MacAddr::BROADCAST,
            payload: EthPayload::Ipv4(Ipv4Packet {
                src: self.config.ip,
                dst,
                ttl,
                ident: self.ip_ident,
                header_checksum_ok: true,
                payload,
            }),
        };
        self.frames.push(frame.encode());
    }

    /// Whether `dst` is a broadcast address: the limited one (255.255.255.255) or our
    /// subnet's (RFC 919, RFC 922).
    pub(super) fn is_broadcast4(&self, dst: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.config.prefix);
        let subnet = u32::from(self.config.ip) & mask;
        dst.is_broadcast() || (self.config.prefix < 31 && u32::from(dst) == subnet | !mask)
    }

    /// Whether `dst` is this host: a loopback address (RFC 1122 §3.2.1.3) or our own.
    pub(super) fn is_local4(&self, dst: Ipv4Addr) -> bool {
        dst.is_loopback() || dst == self.config.ip
    }

    /// Send a packet to ourselves through the loopback interface: no ARP, no MAC addresses
    /// (the frame carries zeros, as Linux's `lo` does), never onto the wire.
    pub(super) fn loop_back(
        &mut self,
        now: Time,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        payload: Ipv4Payload,
        ttl: u8,
    ) {
        if self.routes_explained.insert(dst.into()) {
            let decision = RouteDecision::Loopback {
                own: !dst.is_loopback(),
            };
            self.route_event(now, dst.into(), decision);
        }
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let frame = wire::Frame {
            src: MacAddr::ZERO,
            dst: MacAddr::ZERO,
            payload: EthPayload::Ipv4(Ipv4Packet {
                src,
                dst,
                ttl,
                ident: self.ip_ident,
                header_checksum_ok: true,
                payload,
            }),
        };
        self.loopback.push(frame.encode());
    }
}
