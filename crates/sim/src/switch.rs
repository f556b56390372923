//! A learning bridge (IEEE 802.1D without spanning tree): it learns which port each source
//! MAC address is behind, forgets an entry after the aging time, and forwards, filters or
//! floods each frame by its destination, every decision a trace event.

use std::collections::BTreeMap;

use trace::{Event, EventKind, SwitchAction, Time};
use wire::MacAddr;

use crate::{LinkId, Node, NodeId, World};

/// The aging time of IEEE 802.1D §7.9.2 (and of Linux bridges): 300 s.
pub const DEFAULT_AGING: Time = Time::from_secs(300);

/// A learning bridge (IEEE 802.1D without spanning tree).
#[derive(Debug)]
pub struct SwitchNode {
    pub(crate) name: String,
    pub(crate) ports: Vec<LinkId>,
    /// MAC address → port index and when it was last heard from.
    table: BTreeMap<MacAddr, (usize, Time)>,
    /// How long an entry lives without being refreshed (802.1D's default: 300 s).
    aging: Time,
}

/// What a switch did about one MAC address, on which of its ports.
type Decision = (SwitchAction, MacAddr, Vec<usize>);

impl SwitchNode {
    /// A switch with no ports yet, whose entries age out after `aging`.
    pub(crate) fn new(name: &str, aging: Time) -> SwitchNode {
        SwitchNode {
            name: name.to_string(),
            ports: Vec::new(),
            table: BTreeMap::new(),
            aging,
        }
    }

    /// Learn from a frame `src` → `dst` that came in on `in_port` at `now`: what it decided,
    /// and the ports the frame leaves by.
    fn decide(
        &mut self,
        (src, dst): (MacAddr, MacAddr),
        in_port: usize,
        now: Time,
    ) -> (Vec<Decision>, Vec<usize>) {
        let mut decisions = Vec::new();
        // 802.1D §7.9.2: an entry not refreshed within the aging time is gone. Entries are
        // aged when next looked at, which is when forgetting them changes anything.
        for mac in [src, dst] {
            if let Some(&(port, seen)) = self.table.get(&mac)
                && now - seen >= self.aging
            {
                self.table.remove(&mac);
                decisions.push((SwitchAction::Aged, mac, vec![port]));
            }
        }
        if !src.is_group() && self.table.insert(src, (in_port, now)).map(|e| e.0) != Some(in_port) {
            decisions.push((SwitchAction::Learned, src, vec![in_port]));
        }
        let out = match self.table.get(&dst) {
            Some(&(port, _)) if !dst.is_group() && port == in_port => {
                decisions.push((SwitchAction::Filtered, dst, vec![port]));
                Vec::new()
            }
            Some(&(port, _)) if !dst.is_group() => {
                decisions.push((SwitchAction::Forwarded, dst, vec![port]));
                vec![port]
            }
            _ => {
                let all: Vec<usize> = (0..self.ports.len()).filter(|&p| p != in_port).collect();
                decisions.push((SwitchAction::Flooded, dst, all.clone()));
                all
            }
        };
        (decisions, out)
    }
}

impl World {
    /// The name of the node at the far end of switch `node`'s `port`.
    fn far_end(&self, node: NodeId, port: usize) -> String {
        let Node::Switch(s) = &self.nodes[node] else {
            return String::new();
        };
        let link = &self.links[s.ports[port]];
        let far = if link.ends[0].0 == node {
            link.ends[1].0
        } else {
            link.ends[0].0
        };
        self.nodes[far].name().to_string()
    }

    /// IEEE 802.1D learning and forwarding, each decision a trace event.
    pub(crate) fn switch_input(&mut self, node: NodeId, in_port: usize, frame: Vec<u8>) {
        let now = self.now;
        if frame.len() < 14 {
            return;
        }
        let dst = MacAddr(frame[0..6].try_into().expect("six octets"));
        let src = MacAddr(frame[6..12].try_into().expect("six octets"));
        let Node::Switch(switch) = &mut self.nodes[node] else {
            return;
        };
        let (decisions, out) = switch.decide((src, dst), in_port, now);
        let links: Vec<LinkId> = out.iter().map(|&p| switch.ports[p]).collect();
        let switch_name = switch.name.clone();
        for (action, mac, ports) in decisions {
            let ports = ports.iter().map(|&p| self.far_end(node, p)).collect();
            self.events.push(Event {
                t: now,
                kind: EventKind::Switch {
                    switch: switch_name.clone(),
                    action,
                    mac,
                    ports,
                },
            });
        }
        // A flooded frame is the same on every port: describe it once.
        let summary = wire::summary_of(&frame);
        for link in links {
            self.transmit_described(node, link, frame.clone(), summary.clone());
        }
    }
}
