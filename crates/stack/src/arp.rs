//! Address resolution for one Ethernet interface (RFC 826): a cache of IP → MAC, packets held
//! while a request is out, retries, and giving up. A host has one such interface, a router one
//! per port; both log every step as a trace event under their own name.
//!
//! Entries age as Linux's neighbour states do (RFC 1122 §2.3.2.1 asks for a way to flush old
//! ones; RFC 4861 §7.3 gives the states Linux uses for ARP too): reachable for 30 s after the
//! owner was last heard from, then stale; a stale entry is still used, and if nothing is heard
//! from its owner within 5 s, it is asked again by unicast, three times, and then dropped.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use trace::{ArpAction, Event, EventKind, Time};
use wire::{Arp, ArpOp, EthPayload, Frame, Ipv4Packet, Ipv4Payload, MacAddr};

/// RFC 1122 §2.3.2.2: queue at least one packet per unresolved address; Linux keeps a few.
const ARP_QUEUE_LIMIT: usize = 16;
const ARP_RETRY: Time = Time::from_secs(1);
const ARP_TRIES: u32 = 3;
/// How long an entry stays reachable after its owner was heard from: Linux's
/// base_reachable_time (which Linux randomises between 15 and 45 s; fixed here, so that runs
/// repeat).
const REACHABLE_TIME: Time = Time::from_secs(30);
/// How long a stale entry in use waits to be confirmed before it is probed (Linux's
/// delay_first_probe_time).
const DELAY_FIRST_PROBE: Time = Time::from_secs(5);
/// Unicast probes of a stale entry before it is dropped (Linux's ucast_solicit).
const UNICAST_PROBES: u32 = 3;

/// A cache entry's state (RFC 4861 §7.3.2, as Linux keeps it for ARP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nud {
    /// Its owner was heard from lately: used without a second thought until `until`.
    Reachable { until: Time },
    /// Used after going stale: its owner has until `until` to be heard from.
    Delay { until: Time },
    /// Asked by unicast `sent` times; the next try (or giving up) at `next`.
    Probe { sent: u32, next: Time },
}

/// What an interface knows of one neighbour.
#[derive(Debug, Clone, Copy)]
struct Entry {
    mac: MacAddr,
    state: Nud,
}

impl Entry {
    fn reachable(mac: MacAddr, now: Time) -> Entry {
        Entry {
            mac,
            state: Nud::Reachable {
                until: now + REACHABLE_TIME,
            },
        }
    }

    /// When this entry next needs attention, if it waits on a timer.
    fn due(&self) -> Option<Time> {
        match self.state {
            Nud::Reachable { .. } => None,
            Nud::Delay { until } => Some(until),
            Nud::Probe { next, .. } => Some(next),
        }
    }
}

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
    cache: BTreeMap<Ipv4Addr, Entry>,
    /// Which address each MAC in the cache answers for: a frame names only its MAC.
    owners: std::collections::HashMap<MacAddr, Ipv4Addr>,
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
            owners: std::collections::HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// When a held request next needs retrying, or a stale entry probing.
    pub fn poll_at(&self) -> Option<Time> {
        let retries = self.pending.values().map(|p| p.retry_at);
        retries
            .chain(self.cache.values().filter_map(Entry::due))
            .min()
    }

    /// A frame from `mac` arrived: its owner is there (Linux is told so by TCP's progress;
    /// any frame stands for that here). A stale entry in use becomes reachable again.
    pub fn heard_from(&mut self, now: Time, node: &str, mac: MacAddr, events: &mut Vec<Event>) {
        let Some(&ip) = self.owners.get(&mac) else {
            return;
        };
        let Some(entry) = self.cache.get_mut(&ip).filter(|e| e.mac == mac) else {
            return;
        };
        let was_checking = !matches!(entry.state, Nud::Reachable { .. });
        *entry = Entry::reachable(mac, now);
        if was_checking {
            arp_event(events, now, node, ArpAction::Confirmed, ip, Some(mac));
        }
    }

    /// Note `ip` at `mac`, reachable from now.
    fn remember(&mut self, now: Time, ip: Ipv4Addr, mac: MacAddr) {
        self.cache.insert(ip, Entry::reachable(mac, now));
        self.owners.insert(mac, ip);
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
        if self.cache.contains_key(&arp.sender_ip) {
            self.remember(now, arp.sender_ip, arp.sender_mac);
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
            self.remember(now, arp.sender_ip, arp.sender_mac);
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
        if let Some(entry) = self.cache.get_mut(&hop) {
            if let Nud::Reachable { until } = entry.state
                && now >= until
            {
                // Stale: still used, but its owner must be heard from soon (RFC 4861 §7.3.3).
                entry.state = Nud::Delay {
                    until: now + DELAY_FIRST_PROBE,
                };
                arp_event(events, now, node, ArpAction::Stale, hop, Some(entry.mac));
            }
            let mac = entry.mac;
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
        frames.push(self.request_frame(ip, MacAddr::BROADCAST));
        if let Some(pending) = self.pending.get_mut(&ip) {
            pending.tries += 1;
            pending.retry_at = now + ARP_RETRY;
        }
        arp_event(events, now, node, ArpAction::RequestSent, ip, None);
    }

    /// "Who has `ip`?", to `dst`: everyone, or (a probe) the MAC the cache holds.
    fn request_frame(&self, ip: Ipv4Addr, dst: MacAddr) -> Vec<u8> {
        Frame {
            src: self.mac,
            dst,
            payload: EthPayload::Arp(Arp {
                op: ArpOp::Request,
                sender_mac: self.mac,
                sender_ip: self.ip,
                target_mac: MacAddr::ZERO,
                target_ip: ip,
            }),
        }
        .encode()
    }

    /// Stale entries in use whose owner stayed silent: probe them by unicast, and drop those
    /// that never answered (RFC 4861 §7.3.3).
    fn probe(&mut self, now: Time, node: &str, frames: &mut Vec<Vec<u8>>, events: &mut Vec<Event>) {
        let due: Vec<Ipv4Addr> = self
            .cache
            .iter()
            .filter(|(_, e)| e.due().is_some_and(|t| t <= now))
            .map(|(&ip, _)| ip)
            .collect();
        for ip in due {
            let entry = self.cache[&ip];
            let sent = match entry.state {
                Nud::Probe { sent, .. } => sent,
                _ => 0,
            };
            if sent >= UNICAST_PROBES {
                self.cache.remove(&ip);
                self.owners.remove(&entry.mac);
                arp_event(events, now, node, ArpAction::Expired, ip, Some(entry.mac));
                continue;
            }
            frames.push(self.request_frame(ip, entry.mac));
            if let Some(e) = self.cache.get_mut(&ip) {
                e.state = Nud::Probe {
                    sent: sent + 1,
                    next: now + ARP_RETRY,
                };
            }
            arp_event(events, now, node, ArpAction::ProbeSent, ip, Some(entry.mac));
        }
    }

    /// Retry the requests that are due; return the packets of those that ran out of tries.
    pub fn poll(
        &mut self,
        now: Time,
        node: &str,
        frames: &mut Vec<Vec<u8>>,
        events: &mut Vec<Event>,
    ) -> Vec<Unresolved> {
        self.probe(now, node, frames, events);
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
