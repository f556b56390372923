//! Address resolution for one Ethernet interface (RFC 826): a cache of IP → MAC, packets held
//! while a request is out, retries, and giving up. A host has one such interface, a router one
//! per port; both log every step as a trace event under their own name.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use trace::{ArpAction, Event, EventKind, Time};
use wire::{Arp, ArpOp, EthPayload, Frame, Ipv4Packet, Ipv4Payload, MacAddr};

/// RFC 1122 §2.3.2.2: queue at least one packet per unresolved address; Linux keeps a few.
const ARP_QUEUE_LIMIT: usize = 16;
const ARP_RETRY: Time = Time::from_secs(1);
const ARP_TRIES: u32 = 3;

/// An IPv4 packet to send: one this node built, or one a router forwards as it came (only
/// its TTL and header checksum changed), so that nothing it carries is lost in re-encoding.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Built here.
    Built(Ipv4Packet),
    /// The bytes of a forwarded packet, from its IP header on.
    Raw(Vec<u8>),
}

#[derive(Debug)]
struct Pending {
    packets: Vec<Outgoing>,
    tries: u32,
    retry_at: Time,
}

/// One interface's addresses, ARP cache and held packets.
#[derive(Debug)]
pub(crate) struct ArpPort {
    /// The interface's MAC address.
    pub mac: MacAddr,
    /// The interface's IPv4 address.
    pub ip: Ipv4Addr,
    cache: BTreeMap<Ipv4Addr, MacAddr>,
    pending: BTreeMap<Ipv4Addr, Pending>,
}

/// Packets given up on: no ARP reply for their next hop.
pub(crate) struct Unresolved {
    /// The next hop that never answered.
    pub hop: Ipv4Addr,
    /// How many requests went out.
    pub tries: u32,
    /// The packets that were waiting.
    pub packets: Vec<Outgoing>,
}

fn arp_event(
    events: &mut Vec<Event>,
    now: Time,
    node: &str,
    action: ArpAction,
    ip: Ipv4Addr,
    mac: Option<MacAddr>,
) {
    events.push(Event {
        t: now,
        kind: EventKind::Arp {
            host: node.to_string(),
            action,
            ip,
            mac,
        },
    });
}

impl ArpPort {
    /// An interface with an empty cache.
    pub fn new(mac: MacAddr, ip: Ipv4Addr) -> ArpPort {
        ArpPort {
            mac,
            ip,
            cache: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// When a held request next needs retrying.
    pub fn poll_at(&self) -> Option<Time> {
        self.pending.values().map(|p| p.retry_at).min()
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
        let mut merged = false;
        if let Some(known) = self.cache.get_mut(&arp.sender_ip) {
            *known = arp.sender_mac;
            merged = true;
            arp_event(
                events,
                now,
                node,
                ArpAction::Updated,
                arp.sender_ip,
                Some(arp.sender_mac),
            );
        }
        if arp.target_ip != self.ip {
            if arp.op == ArpOp::Request && !merged {
                arp_event(events, now, node, ArpAction::Ignored, arp.target_ip, None);
            }
            return;
        }
        if !merged {
            self.cache.insert(arp.sender_ip, arp.sender_mac);
            arp_event(
                events,
                now,
                node,
                ArpAction::Learned,
                arp.sender_ip,
                Some(arp.sender_mac),
            );
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
                    target_ip: arp.sender_ip,
                }),
            };
            frames.push(reply.encode());
            arp_event(
                events,
                now,
                node,
                ArpAction::ReplySent,
                self.ip,
                Some(self.mac),
            );
        }
        if let Some(pending) = self.pending.remove(&arp.sender_ip) {
            for packet in &pending.packets {
                frames.push(self.frame_for(arp.sender_mac, packet));
            }
        }
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
        if let Some(&mac) = self.cache.get(&hop) {
            frames.push(self.frame_for(mac, &packet));
            return;
        }
        let new_request = !self.pending.contains_key(&hop);
        let pending = self.pending.entry(hop).or_insert(Pending {
            packets: Vec::new(),
            tries: 0,
            retry_at: now,
        });
        if pending.packets.len() >= ARP_QUEUE_LIMIT {
            pending.packets.remove(0);
        }
        pending.packets.push(packet);
        arp_event(events, now, node, ArpAction::Queued, hop, None);
        if new_request {
            self.request(now, node, hop, frames, events);
        }
    }

    fn request(
        &mut self,
        now: Time,
        node: &str,
        ip: Ipv4Addr,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) {
        let request = Frame {
            src: self.mac,
            dst: MacAddr::BROADCAST,
            payload: EthPayload::Arp(Arp {
                op: ArpOp::Request,
                sender_mac: self.mac,
                sender_ip: self.ip,
                target_mac: MacAddr::ZERO,
                target_ip: ip,
            }),
        };
        frames.push(request.encode());
        if let Some(pending) = self.pending.get_mut(&ip) {
            pending.tries += 1;
            pending.retry_at = now + ARP_RETRY;
        }
        arp_event(events, now, node, ArpAction::RequestSent, ip, None);
    }

    /// Retry the requests that are due; return the packets of those that ran out of tries.
    pub fn poll(
        &mut self,
        now: Time,
        node: &str,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) -> Vec<Unresolved> {
        let due: Vec<Ipv4Addr> = self
            .pending
            .iter()
            .filter(|(_, p)| p.retry_at <= now)
            .map(|(&ip, _)| ip)
            .collect();
        let mut failed = Vec::new();
        for ip in due {
            let tries = self.pending[&ip].tries;
            if tries < ARP_TRIES {
                self.request(now, node, ip, frames, events);
            } else {
                let packets = self
                    .pending
                    .remove(&ip)
                    .map(|p| p.packets)
                    .unwrap_or_default();
                arp_event(events, now, node, ArpAction::Failed, ip, None);
                failed.push(Unresolved {
                    hop: ip,
                    tries,
                    packets,
                });
            }
        }
        failed
    }

    /// The Ethernet frame that carries `packet` to `dst_mac` from this interface.
    pub fn frame_for(&self, dst_mac: MacAddr, packet: &Outgoing) -> Vec<u8> {
        let payload = match packet {
            Outgoing::Built(Ipv4Packet {
                payload: Ipv4Payload::Tcp(seg),
                ..
            }) => seg.payload.len(),
            Outgoing::Raw(bytes) => bytes.len(),
            Outgoing::Built(_) => 0,
        };
        let mut bytes = Vec::with_capacity(14 + 20 + 60 + payload);
        let eth = Frame {
            src: self.mac,
            dst: dst_mac,
            payload: EthPayload::Other { ether_type: 0x0800 },
        };
        bytes.extend_from_slice(&eth.encode());
        match packet {
            Outgoing::Built(p) => p.encode_into(&mut bytes),
            Outgoing::Raw(raw) => bytes.extend_from_slice(raw),
        }
        bytes
    }
}
