//! Address resolution for IPv4 on one Ethernet interface (RFC 826): the requests and replies
//! around the neighbour table that [`crate::neighbours`] keeps. A host has one such interface,
//! a router one per port; both log every step as a trace event under their own name.

use std::net::Ipv4Addr;

use trace::{ArpAction, Event, Time};
use wire::{Arp, ArpOp, EthPayload, Frame, MacAddr};

use crate::neighbours::{Neighbours, Outgoing, Unresolved, neighbour_event};

/// One interface's addresses, ARP cache and held packets.
#[derive(Debug)]
pub(crate) struct ArpPort {
    /// The interface's MAC address.
    pub mac: MacAddr,
    /// The interface's IPv4 address.
    pub ip: Ipv4Addr,
    table: Neighbours<Ipv4Addr>,
}

/// "Who has `target`?" from `(mac, ip)`, to `dst`: everyone, or (a probe) the MAC the cache
/// holds.
fn request_frame(
    (mac, ip): (MacAddr, Ipv4Addr),
    target: Ipv4Addr,
    dst: Option<MacAddr>,
) -> Vec<u8> {
    Frame {
        src: mac,
        dst: dst.unwrap_or(MacAddr::BROADCAST),
        payload: EthPayload::Arp(Arp {
            op: ArpOp::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: MacAddr::ZERO,
            target_ip: target,
        }),
    }
    .encode()
}

impl ArpPort {
    /// An interface with an empty cache.
    pub fn new(mac: MacAddr, ip: Ipv4Addr) -> ArpPort {
        ArpPort {
            mac,
            ip,
            table: Neighbours::new(mac),
        }
    }

    /// When a held request next needs retrying, or a stale entry probing.
    pub fn poll_at(&self) -> Option<Time> {
        self.table.poll_at()
    }

    /// A frame from `mac` arrived: its owner is there.
    pub fn heard_from(&mut self, now: Time, node: &str, mac: MacAddr, events: &mut Vec<Event>) {
        self.table.heard_from(now, node, mac, events);
    }

    /// RFC 826, "Packet Reception": merge the sender into the cache if present; if the
    /// request is for us, add the sender and reply; then send what was waiting for it.
    pub fn input(
        &mut self,
        now: Time,
        node: &str,
        arp: &Arp,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) {
        let (sender, sender_mac) = (arp.sender_ip, Some(arp.sender_mac));
        let merged = self.table.knows(sender);
        if merged {
            self.table.remember(now, sender, arp.sender_mac);
            neighbour_event(events, now, node, ArpAction::Updated, sender, sender_mac);
        }
        if arp.target_ip != self.ip {
            if arp.op == ArpOp::Request && !merged {
                neighbour_event(events, now, node, ArpAction::Ignored, arp.target_ip, None);
            }
            return;
        }
        if !merged {
            self.table.remember(now, sender, arp.sender_mac);
            neighbour_event(events, now, node, ArpAction::Learned, sender, sender_mac);
        }
        if arp.op == ArpOp::Request {
            let reply = Frame {
                src: self.mac,
                dst: arp.sender_mac,
                payload: EthPayload::Arp(Arp {
                    op: ArpOp::Reply,
                    sender_mac: self.mac,
                    sender_ip: self.ip,
                    target_mac: arp.sender_mac,
                    target_ip: sender,
                }),
            };
            frames.push(reply.encode());
            let mac = Some(self.mac);
            neighbour_event(events, now, node, ArpAction::ReplySent, self.ip, mac);
        }
        self.table.release(sender, arp.sender_mac, frames);
    }

    /// Send `packet` to the next hop `hop`: at once if its MAC is known, or held while an ARP
    /// request asks for it.
    pub fn send(
        &mut self,
        now: Time,
        node: &str,
        hop: Ipv4Addr,
        packet: Outgoing,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) {
        let me = (self.mac, self.ip);
        let solicit = move |target, dst| request_frame(me, target, dst);
        self.table
            .send((now, node), hop, packet, (frames, events), &solicit);
    }

    /// Retry the requests that are due; return the packets of those that ran out of tries.
    pub fn poll(
        &mut self,
        now: Time,
        node: &str,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) -> Vec<Unresolved<Ipv4Addr>> {
        let me = (self.mac, self.ip);
        let solicit = move |target, dst| request_frame(me, target, dst);
        self.table.poll((now, node), (frames, events), &solicit)
    }
}
