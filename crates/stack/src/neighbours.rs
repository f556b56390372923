//! The neighbour table of one Ethernet interface, shared by ARP (RFC 826, for IPv4) and
//! Neighbor Discovery (RFC 4861, for IPv6): a cache of IP → MAC, packets held while a
//! solicitation is out, retries, and giving up. How a solicitation looks is the protocol's
//! business ([`crate::arp`], [`crate::ndp`]); when to send one is decided here.
//!
//! Entries age as Linux's neighbour states do (RFC 1122 §2.3.2.1 asks for a way to flush old
//! ones; RFC 4861 §7.3 gives the states Linux uses for ARP too): reachable for 30 s after the
//! owner was last heard from, then stale; a stale entry is still used, and if nothing is heard
//! from its owner within 5 s, it is asked again by unicast, three times, and then dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use trace::{ArpAction, DropReason, Event, EventKind, Time};
use wire::{EthPayload, Frame, Ipv4Packet, Ipv4Payload, Ipv6Packet, Ipv6Payload, MacAddr};

/// RFC 1122 §2.3.2.2: queue at least one packet per unresolved address; Linux keeps a few.
const QUEUE_LIMIT: usize = 16;
/// Linux's retrans_time (RFC 4861 §10's RETRANS_TIMER).
const RETRY: Time = Time::from_secs(1);
/// Linux's mcast_solicit (RFC 4861 §10's MAX_MULTICAST_SOLICIT).
const TRIES: u32 = 3;
/// How long an entry stays reachable after its owner was heard from: Linux's
/// base_reachable_time (which Linux randomises between 15 and 45 s; fixed here, so that runs
/// repeat).
const REACHABLE_TIME: Time = Time::from_secs(30);
/// How long a stale entry in use waits to be confirmed before it is probed (Linux's
/// delay_first_probe_time).
const DELAY_FIRST_PROBE: Time = Time::from_secs(5);
/// Unicast probes of a stale entry before it is dropped (Linux's ucast_solicit).
const UNICAST_PROBES: u32 = 3;

/// An address a neighbour table resolves: IPv4 (ARP) or IPv6 (Neighbor Discovery).
pub(crate) trait NeighbourAddr: Copy + Ord + Into<IpAddr> + std::fmt::Debug {}
impl NeighbourAddr for Ipv4Addr {}
impl NeighbourAddr for Ipv6Addr {}

/// A cache entry's state (RFC 4861 §7.3.2, as Linux keeps it for ARP too).
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

/// A packet to send: one this node built, or one a router forwards as it came (only its TTL
/// and header checksum changed), so that nothing it carries is lost in re-encoding.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// An IPv4 packet built here.
    Built(Ipv4Packet),
    /// An IPv6 packet built here.
    Built6(Ipv6Packet),
    /// The bytes of a forwarded IPv4 packet, from its IP header on.
    Raw(Vec<u8>),
    /// The bytes of a forwarded IPv6 packet, from its IP header on.
    Raw6(Vec<u8>),
}

#[derive(Debug)]
struct Pending {
    packets: Vec<Outgoing>,
    tries: u32,
    retry_at: Time,
}

/// Packets given up on: no answer for their next hop.
pub(crate) struct Unresolved<A> {
    /// The next hop that never answered.
    pub hop: A,
    /// How many solicitations went out.
    pub tries: u32,
    /// The packets that were waiting.
    pub packets: Vec<Outgoing>,
}

impl<A: Copy + Into<IpAddr>> Unresolved<A> {
    /// Why its packets are dropped; a `router` tells their senders.
    pub fn drop_reason(&self, router: bool) -> DropReason {
        DropReason::NeighbourUnreachable {
            packets: self.packets.len(),
            hop: self.hop.into(),
            tries: self.tries,
            router,
        }
    }
}

/// The frame that asks for a neighbour's MAC: to everyone concerned (`None`), or, probing a
/// stale entry, to the MAC the cache holds.
pub(crate) type Solicit<'a, A> = &'a dyn Fn(A, Option<MacAddr>) -> Vec<u8>;

/// Log one step of address resolution.
pub(crate) fn neighbour_event(
    events: &mut Vec<Event>,
    now: Time,
    node: &str,
    action: ArpAction,
    ip: impl Into<IpAddr>,
    mac: Option<MacAddr>,
) {
    events.push(Event {
        t: now,
        kind: EventKind::Arp {
            host: node.to_string(),
            action,
            ip: ip.into(),
            mac,
        },
    });
}

/// One interface's neighbour cache and held packets.
#[derive(Debug)]
pub(crate) struct Neighbours<A> {
    /// The interface's MAC address.
    pub mac: MacAddr,
    cache: BTreeMap<A, Entry>,
    /// The entries with a deadline (stale and in use, or probing), by when: a router's cache
    /// holds an entry per host of its LANs, and the next deadline is asked after every frame.
    due: BTreeSet<(Time, A)>,
    /// Which address each MAC in the cache answers for: a frame names only its MAC.
    owners: HashMap<MacAddr, A>,
    pending: BTreeMap<A, Pending>,
}

impl<A: NeighbourAddr> Neighbours<A> {
    /// An interface with an empty cache.
    pub fn new(mac: MacAddr) -> Neighbours<A> {
        Neighbours {
            mac,
            cache: BTreeMap::new(),
            due: BTreeSet::new(),
            owners: HashMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// When a held request next needs retrying, or a stale entry probing.
    pub fn poll_at(&self) -> Option<Time> {
        let retries = self.pending.values().map(|p| p.retry_at);
        retries.chain(self.due.first().map(|&(t, _)| t)).min()
    }

    /// Put `entry` in the cache for `ip` (replacing any), keeping the deadline index true.
    fn set(&mut self, ip: A, entry: Entry) {
        if let Some(old) = self.cache.insert(ip, entry)
            && let Some(t) = old.due()
        {
            self.due.remove(&(t, ip));
        }
        if let Some(t) = entry.due() {
            self.due.insert((t, ip));
        }
    }

    /// Forget `ip`'s entry and its deadline.
    fn forget(&mut self, ip: A) -> Option<Entry> {
        let old = self.cache.remove(&ip)?;
        if let Some(t) = old.due() {
            self.due.remove(&(t, ip));
        }
        Some(old)
    }

    /// Whether `ip` is in the cache.
    pub fn knows(&self, ip: A) -> bool {
        self.cache.contains_key(&ip)
    }

    /// Whether packets wait for `ip` to be resolved.
    pub fn waits_for(&self, ip: A) -> bool {
        self.pending.contains_key(&ip)
    }

    /// A frame from `mac` arrived: its owner is there (Linux is told so by TCP's progress;
    /// any frame stands for that here). A stale entry in use becomes reachable again.
    pub fn heard_from(&mut self, now: Time, node: &str, mac: MacAddr, events: &mut Vec<Event>) {
        let Some(&ip) = self.owners.get(&mac) else {
            return;
        };
        let Some(&entry) = self.cache.get(&ip).filter(|e| e.mac == mac) else {
            return;
        };
        let was_checking = !matches!(entry.state, Nud::Reachable { .. });
        self.set(ip, Entry::reachable(mac, now));
        if was_checking {
            neighbour_event(events, now, node, ArpAction::Confirmed, ip, Some(mac));
        }
    }

    /// Note `ip` at `mac`, reachable from now.
    pub fn remember(&mut self, now: Time, ip: A, mac: MacAddr) {
        self.set(ip, Entry::reachable(mac, now));
        self.owners.insert(mac, ip);
    }

    /// Send what was waiting for `ip`, now at `mac`.
    pub fn release(&mut self, ip: A, mac: MacAddr, frames: &mut Vec<Vec<u8>>) {
        if let Some(pending) = self.pending.remove(&ip) {
            for packet in &pending.packets {
                frames.push(self.frame_for(mac, packet));
            }
        }
    }

    /// Send `packet` to the next hop `hop`: at once if its MAC is known, or held while a
    /// solicitation asks for it.
    pub fn send(
        &mut self,
        (now, node): (Time, &str),
        hop: A,
        packet: Outgoing,
        (frames, events): (&mut Vec<Vec<u8>>, &mut Vec<Event>),
        solicit: Solicit<A>,
    ) {
        if let Some(&entry) = self.cache.get(&hop) {
            if let Nud::Reachable { until } = entry.state
                && now >= until
            {
                // Stale: still used, but its owner must be heard from soon (RFC 4861 §7.3.3).
                let state = Nud::Delay {
                    until: now + DELAY_FIRST_PROBE,
                };
                self.set(hop, Entry { state, ..entry });
                neighbour_event(events, now, node, ArpAction::Stale, hop, Some(entry.mac));
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
        if pending.packets.len() >= QUEUE_LIMIT {
            pending.packets.remove(0);
        }
        pending.packets.push(packet);
        neighbour_event(events, now, node, ArpAction::Queued, hop, None);
        if new_request {
            self.request((now, node), hop, (frames, events), solicit);
        }
    }

    fn request(
        &mut self,
        (now, node): (Time, &str),
        ip: A,
        (frames, events): (&mut Vec<Vec<u8>>, &mut Vec<Event>),
        solicit: Solicit<A>,
    ) {
        frames.push(solicit(ip, None));
        if let Some(pending) = self.pending.get_mut(&ip) {
            pending.tries += 1;
            pending.retry_at = now + RETRY;
        }
        neighbour_event(events, now, node, ArpAction::RequestSent, ip, None);
    }

    /// Stale entries in use whose owner stayed silent: probe them by unicast, and drop those
    /// that never answered (RFC 4861 §7.3.3).
    fn probe(
        &mut self,
        (now, node): (Time, &str),
        (frames, events): (&mut Vec<Vec<u8>>, &mut Vec<Event>),
        solicit: Solicit<A>,
    ) {
        // In address order, as the whole cache was walked before the index.
        let mut due: Vec<A> = self
            .due
            .iter()
            .take_while(|&&(t, _)| t <= now)
            .map(|&(_, ip)| ip)
            .collect();
        due.sort();
        for ip in due {
            let entry = self.cache[&ip];
            let sent = match entry.state {
                Nud::Probe { sent, .. } => sent,
                _ => 0,
            };
            if sent >= UNICAST_PROBES {
                self.forget(ip);
                self.owners.remove(&entry.mac);
                neighbour_event(events, now, node, ArpAction::Expired, ip, Some(entry.mac));
                continue;
            }
            frames.push(solicit(ip, Some(entry.mac)));
            let state = Nud::Probe {
                sent: sent + 1,
                next: now + RETRY,
            };
            self.set(ip, Entry { state, ..entry });
            neighbour_event(events, now, node, ArpAction::ProbeSent, ip, Some(entry.mac));
        }
    }

    /// Retry the requests that are due; return the packets of those that ran out of tries.
    pub fn poll(
        &mut self,
        (now, node): (Time, &str),
        (frames, events): (&mut Vec<Vec<u8>>, &mut Vec<Event>),
        solicit: Solicit<A>,
    ) -> Vec<Unresolved<A>> {
        self.probe((now, node), (frames, events), solicit);
        let due: Vec<A> = self
            .pending
            .iter()
            .filter(|(_, p)| p.retry_at <= now)
            .map(|(&ip, _)| ip)
            .collect();
        let mut failed = Vec::new();
        for ip in due {
            let tries = self.pending[&ip].tries;
            if tries < TRIES {
                self.request((now, node), ip, (frames, events), solicit);
            } else {
                let packets = self
                    .pending
                    .remove(&ip)
                    .map(|p| p.packets)
                    .unwrap_or_default();
                neighbour_event(events, now, node, ArpAction::Failed, ip, None);
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
        let (payload, ether_type) = match packet {
            Outgoing::Built(Ipv4Packet {
                payload: Ipv4Payload::Tcp(seg),
                ..
            }) => (seg.payload.len(), wire::view::ethertype::IPV4),
            Outgoing::Built6(Ipv6Packet {
                payload: Ipv6Payload::Tcp(seg),
                ..
            }) => (seg.payload.len(), wire::view::ethertype::IPV6),
            Outgoing::Built6(_) => (0, wire::view::ethertype::IPV6),
            Outgoing::Raw(bytes) => (bytes.len(), wire::view::ethertype::IPV4),
            Outgoing::Raw6(bytes) => (bytes.len(), wire::view::ethertype::IPV6),
            Outgoing::Built(_) => (0, wire::view::ethertype::IPV4),
        };
        let mut bytes = Vec::with_capacity(14 + 40 + 60 + payload);
        let eth = Frame {
            src: self.mac,
            dst: dst_mac,
            payload: EthPayload::Other { ether_type },
        };
        bytes.extend_from_slice(&eth.encode());
        match packet {
            Outgoing::Built(p) => p.encode_into(&mut bytes),
            Outgoing::Built6(p) => p.encode_into(&mut bytes),
            Outgoing::Raw(raw) | Outgoing::Raw6(raw) => bytes.extend_from_slice(raw),
        }
        bytes
    }
}
