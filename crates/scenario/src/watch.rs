//! What a lesson's expectations need of a run, gathered as its events and frames go by, so
//! that a run can stream its trace and capture to disk and still be judged at its end:
//! the transitions of the sockets of the hosts the expectations name, the order in which
//! their connections opened, the events that match a `trace contains`, the TCP flags of the
//! frames hosts sent.

use std::collections::{BTreeMap, BTreeSet};

use capture::Record;
use stack::SocketId;
use trace::{Event, EventKind, TcpState, Time};
use wire::{EthPayload, Ipv4Payload};

use crate::{Check, Scenario};

/// A socket's connection, as first seen in a transition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opened {
    pub(crate) socket: SocketId,
    pub(crate) local_port: u16,
    pub(crate) remote_port: u16,
}

/// One `trace contains` text: the first event that says so, and how many do.
#[derive(Debug, Default)]
pub(crate) struct TextSeen {
    pub(crate) first: Option<String>,
    pub(crate) count: usize,
}

/// The TCP flags of the frames hosts sent, for `wire flags`.
#[derive(Debug, Default)]
struct FlagsSeen {
    /// Frame numbers sent by a host, whose capture records have not come by yet.
    wanted: BTreeSet<u64>,
    /// The number the next capture record has.
    next_record: u64,
    flags: Vec<String>,
}

/// Everything the expectations of one scenario look at in its trace and capture.
#[derive(Debug, Default)]
pub struct Watch {
    /// The hosts whose sockets' transitions are kept.
    hosts: BTreeSet<String>,
    transitions: BTreeMap<(String, SocketId), Vec<(Time, TcpState)>>,
    opened: BTreeMap<String, Vec<Opened>>,
    opened_sockets: BTreeSet<(String, SocketId)>,
    texts: BTreeMap<String, TextSeen>,
    flags: Option<FlagsSeen>,
    /// Every host of the scenario (frames from switches and routers are not theirs).
    all_hosts: BTreeSet<String>,
}

impl Watch {
    /// What `scenario`'s expectations will ask about.
    pub fn new(scenario: &Scenario) -> Watch {
        let mut watch = Watch {
            all_hosts: scenario.hosts.iter().map(|h| h.name.clone()).collect(),
            ..Watch::default()
        };
        for expectation in &scenario.expectations {
            match &expectation.check {
                Check::Passes { host, .. } | Check::StateAt { host, .. } => {
                    watch.hosts.insert(host.clone());
                }
                Check::SameStream { a, b } => {
                    watch.hosts.insert(a.0.clone());
                    watch.hosts.insert(b.0.clone());
                }
                Check::TraceContains(text) | Check::TraceCount(text, _) => {
                    watch.texts.insert(text.clone(), TextSeen::default());
                }
                Check::WireFlags(_) => {
                    watch.flags = Some(FlagsSeen {
                        next_record: 1,
                        ..FlagsSeen::default()
                    });
                }
                _ => {}
            }
        }
        watch
    }

    /// Take in the next events of the trace.
    pub fn events(&mut self, events: &[Event]) {
        for event in events {
            self.event(event);
        }
    }

    fn event(&mut self, event: &Event) {
        if !self.texts.is_empty() {
            let shown = event.render();
            for (text, seen) in &mut self.texts {
                if shown.contains(text.as_str()) {
                    seen.count += 1;
                    seen.first.get_or_insert_with(|| shown.trim().to_string());
                }
            }
        }
        match &event.kind {
            EventKind::TcpTransition { endpoint, to, .. }
                if self.hosts.contains(&endpoint.host) =>
            {
                let key = (endpoint.host.clone(), endpoint.socket);
                if let Some(remote) = endpoint.remote
                    && self.opened_sockets.insert(key.clone())
                {
                    self.opened
                        .entry(endpoint.host.clone())
                        .or_default()
                        .push(Opened {
                            socket: endpoint.socket,
                            local_port: endpoint.local.port(),
                            remote_port: remote.port(),
                        });
                }
                self.transitions
                    .entry(key)
                    .or_default()
                    .push((event.t, *to));
            }
            EventKind::Frame { number, from, .. } => {
                if let Some(flags) = &mut self.flags
                    && self.all_hosts.contains(&**from)
                {
                    flags.wanted.insert(*number);
                }
            }
            _ => {}
        }
    }

    /// Take in the next frames of the capture (numbered from 1, in order).
    pub fn frames(&mut self, records: &[Record]) {
        let Some(flags) = &mut self.flags else {
            return;
        };
        for record in records {
            let number = flags.next_record;
            flags.next_record += 1;
            if !flags.wanted.remove(&number) {
                continue;
            }
            if let Ok(frame) = wire::decode(&record.data)
                && let EthPayload::Ipv4(ip) = frame.payload
                && let Ipv4Payload::Tcp(seg) = ip.payload
            {
                flags.flags.push(seg.flags.tcpdump());
            }
        }
    }

    /// The states a socket entered, with when.
    pub(crate) fn transitions(&self, host: &str, socket: SocketId) -> &[(Time, TcpState)] {
        self.transitions
            .get(&(host.to_string(), socket))
            .map_or(&[], Vec::as_slice)
    }

    /// The host's connections with `port` at either end, in the order they opened.
    pub(crate) fn connections(&self, host: &str, port: u16) -> Vec<SocketId> {
        self.opened.get(host).map_or_else(Vec::new, |opened| {
            opened
                .iter()
                .filter(|o| o.local_port == port || o.remote_port == port)
                .map(|o| o.socket)
                .collect()
        })
    }

    /// What the trace said of `text`.
    pub(crate) fn text(&self, text: &str) -> Option<&TextSeen> {
        self.texts.get(text)
    }

    /// The flags of every TCP frame hosts sent, in order.
    pub(crate) fn flags(&self) -> &[String] {
        self.flags.as_ref().map_or(&[], |f| f.flags.as_slice())
    }
}
