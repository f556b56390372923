//! Zeek's conn.log view of a capture: `history` and `conn_state` worked out as Zeek works them
//! out (its per-endpoint pseudo-states, history letters, content gaps, role flips, and the
//! timers that end a record), so that the letters a learner reads here are the ones Zeek writes.

mod endpoint;
mod history;
mod reassembly;
mod session;
mod tsv;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

use serde::Serialize;

pub use endpoint::EndpointState;
use session::{FIVE_SECONDS, SESSION_TIMER, Session, TCP_INACTIVITY};
pub use tsv::write_conn_log;

use crate::BuildAddrHasher;

/// The fields of one TCP packet that Zeek's analyzer reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack_seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub window: u16,
    /// Payload length from the IP header.
    pub len: u32,
    /// The whole payload is in the capture.
    pub captured: bool,
    /// The checksum is wrong (and not merely left to the NIC).
    pub bad_checksum: bool,
    /// The IP packet's length from its header (conn.log counts these as `*_ip_bytes`).
    pub ip_len: u32,
}

/// conn.log's `conn_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    #[serde(rename = "SF")]
    Sf,
    /// Connection attempt rejected.
    #[serde(rename = "REJ")]
    Rej,
    /// Established, and a close attempt by the originator seen (but no reply).
    S2,
    /// Established, and a close attempt by the responder seen (but no reply).
    S3,
    /// Established, and the originator aborted (sent a RST).
    #[serde(rename = "RSTO")]
    Rsto,
    /// The responder sent a RST.
    #[serde(rename = "RSTR")]
    Rstr,
    /// The originator sent a SYN then a RST; no SYN+ACK from the responder seen.
    #[serde(rename = "RSTOS0")]
    Rstos0,
    /// The responder sent a SYN+ACK then a RST; no SYN from the originator seen.
    #[serde(rename = "RSTRH")]
    Rstrh,
    /// The originator sent a SYN then a FIN; no SYN+ACK seen ("half" open).
    #[serde(rename = "SH")]
    Sh,
    /// The responder sent a SYN+ACK then a FIN; no SYN from the originator seen.
    #[serde(rename = "SHR")]
    Shr,
    /// No SYN seen, just midstream traffic.
    #[serde(rename = "OTH")]
    Oth,
}

impl ConnState {
    /// Zeek's `conn_state()` from both ends' final pseudo-states and sizes.
    pub fn of(o: EndpointState, r: EndpointState, sizes: (u64, u64), history: &str) -> ConnState {
        use EndpointState::*;
        let (o_inactive, r_inactive) = (o.inactive_or_partial(), r.inactive_or_partial());
        if r == Reset {
            if matches!(o, SynSent | SynAckSent) || (o == Reset && sizes == (0, 0)) {
                ConnState::Rej
            } else if o_inactive {
                ConnState::Rstrh
            } else {
                ConnState::Rstr
            }
        } else if o == Reset {
            match (r_inactive, syn_then_rst(history)) {
                (true, true) => ConnState::Rstos0,
                (true, false) => ConnState::Oth,
                (false, _) => ConnState::Rsto,
            }
        } else if r == Closed && o == Closed {
            ConnState::Sf
        } else if o == Closed {
            if r_inactive {
                ConnState::Sh
            } else {
                ConnState::S2
            }
        } else if r == Closed {
            if o_inactive {
                ConnState::Shr
            } else {
                ConnState::S3
            }
        } else if o == SynSent && r == Inactive {
            ConnState::S0
        } else if o == Established && r == Established {
            ConnState::S1
        } else {
            ConnState::Oth
        }
    }

    /// The code conn.log writes.
    pub fn code(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::Sf => "SF",
            ConnState::Rej => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::Rsto => "RSTO",
            ConnState::Rstr => "RSTR",
            ConnState::Rstos0 => "RSTOS0",
            ConnState::Rstrh => "RSTRH",
            ConnState::Sh => "SH",
            ConnState::Shr => "SHR",
            ConnState::Oth => "OTH",
        }
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/`: a SYN, then a RST before any answer or data.
fn syn_then_rst(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    rest.chars()
        .find(|c| "HAFGIQR".contains(*c))
        .is_some_and(|c| c == 'R')
}

/// One conn.log record, as Zeek would write it.
#[derive(Clone, Debug, Serialize)]
pub struct ConnLog {
    /// The first packet's time, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// The first packet's frame number.
    pub first_frame: u64,
    /// Zeek's originator (after any flip).
    pub orig: SocketAddr,
    /// Zeek's responder.
    pub resp: SocketAddr,
    /// Payload octets the originator sent, from sequence numbers.
    pub orig_bytes: u64,
    /// Payload octets the responder sent.
    pub resp_bytes: u64,
    /// The summary state.
    pub conn_state: ConnState,
    /// The history letters.
    pub history: String,
    /// The originator's final pseudo-state.
    pub orig_state: EndpointState,
    /// The responder's final pseudo-state.
    pub resp_state: EndpointState,
    /// Index (from 0) of packetlab's connection that this record's first packet belongs to.
    pub connection: usize,
    /// From the first packet to the last one Zeek's TCP analyzer counts (trailing ACKs after
    /// both FINs are not), nanoseconds.
    pub duration_ns: u64,
    /// Octets in content gaps (conn.log's `missed_bytes`).
    pub missed_bytes: u64,
    /// Packets and IP octets the originator sent (conn.log's `orig_pkts`, `orig_ip_bytes`).
    pub orig_packets: Count,
    /// Packets and IP octets the responder sent.
    pub resp_packets: Count,
    /// The roles flipped after the record began (Zeek then writes `local_orig` and
    /// `local_resp` as F even with no local networks defined).
    pub flipped_midway: bool,
    /// The tracker's number for the record.
    #[serde(skip)]
    pub(crate) id: u64,
}

/// Packets one end sent and their IP octets, as Zeek's ConnSize analyzer counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    /// Packets.
    pub packets: u64,
    /// Octets, from each IP header's length field.
    pub ip_bytes: u64,
}

impl Count {
    fn add(&mut self, ip_len: u32) {
        self.packets += 1;
        self.ip_bytes += u64::from(ip_len);
    }
}

/// A Zeek timer: what it checks when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// `tcp_attempt_delay` after a SYN: an unanswered attempt ends the record.
    Attempt,
    /// The idle check for half-closed connections.
    Expire,
    /// `tcp_close_delay` after a complete close.
    Delete,
    /// `tcp_reset_delay` after a RST that follows a FIN.
    Reset,
    /// The connection's inactivity timeout.
    Inactivity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: u64,
    order: u64,
    id: u64,
    kind: TimerKind,
    epoch: u32,
}

struct Live {
    session: Session,
    connection: usize,
    /// What each address of the key (in the key's order) sent: the roles may flip.
    sent: [Count; 2],
    analyzer_epoch: u32,
    inactivity_epoch: u32,
}

/// Ports Zeek's default scripts add to `likely_server_ports` for TCP.
const LIKELY_SERVER_PORTS: [u16; 46] = [
    21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614, 631,
    636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269,
    5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888,
];

fn likely_server(port: u16) -> bool {
    port == 20000 || LIKELY_SERVER_PORTS.contains(&port)
}

/// Zeek's `WantConnection` guess: a first packet that is not a SYN comes from the server
/// if its source port looks like a server's.
pub(crate) fn flips(p: &Seen) -> bool {
    if p.syn && !p.ack {
        return false;
    }
    let (src, dst) = (p.src.port(), p.dst.port());
    likely_server(src) && (!likely_server(dst) || (!p.syn && src < dst))
}

/// Every Zeek connection of a capture, live and ended.
#[derive(Default)]
pub(crate) struct Tracker {
    /// Live records by id (ids count up; an ended record leaves an empty slot).
    live: Vec<Option<Box<Live>>>,
    by_key: HashMap<(SocketAddr, SocketAddr), u64, BuildAddrHasher>,
    /// The last packet's ports and record: a capture's packets come in runs.
    last: Option<((SocketAddr, SocketAddr), u64)>,
    timers: BinaryHeap<Reverse<Timer>>,
    next_id: u64,
    order: u64,
    done: Vec<ConnLog>,
}

impl Tracker {
    /// One TCP packet at `t`, which packetlab put in its `connection`; the record it went to.
    pub fn packet(&mut self, p: &Seen, frame: u64, t: u64, connection: usize) -> u64 {
        self.advance(t);
        let key = if p.src <= p.dst {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let found = match self.last {
            Some((k, id)) if k == key => Some(id),
            _ => self.by_key.get(&key).copied(),
        };
        let id = match found {
            Some(id) if self.get(id).is_some_and(|l| !l.session.is_reuse(p)) => id,
            existing => {
                if let Some(id) = existing {
                    self.remove(id);
                }
                self.create(key, p, frame, t, connection)
            }
        };
        self.last = Some((key, id));
        if let Some(live) = self.get_mut(id) {
            live.sent[usize::from(p.src != key.0)].add(p.ip_len);
            let from_orig = p.src == live.session.orig_addr;
            live.session.packet(from_orig, p, t);
        }
        self.schedule(id);
        id
    }

    /// The history so far of a record, live or ended.
    pub fn history(&self, id: u64) -> Option<&str> {
        match self.get(id) {
            Some(live) => Some(&live.session.history.text),
            None => self
                .done
                .iter()
                .rev()
                .find(|r| r.id == id)
                .map(|r| r.history.as_str()),
        }
    }

    fn get(&self, id: u64) -> Option<&Live> {
        self.live.get(id as usize)?.as_deref()
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Live> {
        self.live.get_mut(id as usize)?.as_deref_mut()
    }

    /// Every record, in the order of its first packet.
    pub fn finish(mut self) -> Vec<ConnLog> {
        for id in 0..self.live.len() as u64 {
            self.remove(id);
        }
        self.done.sort_by_key(|r| r.first_frame);
        self.done
    }

    fn create(
        &mut self,
        key: (SocketAddr, SocketAddr),
        p: &Seen,
        frame: u64,
        t: u64,
        connection: usize,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut session = Session::new(p, t, frame);
        if flips(p) {
            session.flip_at_creation();
        }
        let timeout = session.inactivity_timeout;
        self.live.push(Some(Box::new(Live {
            session,
            connection,
            sent: [Count::default(); 2],
            analyzer_epoch: 0,
            inactivity_epoch: 0,
        })));
        self.by_key.insert(key, id);
        self.push(id, TimerKind::Inactivity, t.saturating_add(timeout), 0);
        id
    }

    /// Put the timers the last packet asked for on the wheel.
    fn schedule(&mut self, id: u64) {
        let Some(live) = self.get_mut(id) else {
            return;
        };
        if std::mem::take(&mut live.session.cancel_timers) {
            live.analyzer_epoch += 1;
        }
        let mut inactivity = None;
        if std::mem::take(&mut live.session.handshake_done)
            && live.session.inactivity_timeout != TCP_INACTIVITY
        {
            live.session.inactivity_timeout = TCP_INACTIVITY;
            live.inactivity_epoch += 1;
            inactivity = Some((
                live.session.last_time.saturating_add(TCP_INACTIVITY),
                live.inactivity_epoch,
            ));
        }
        let epoch = live.analyzer_epoch;
        let wanted = std::mem::take(&mut live.session.timers);
        for (kind, at) in wanted {
            self.push(id, kind, at, epoch);
        }
        if let Some((at, epoch)) = inactivity {
            self.push(id, TimerKind::Inactivity, at, epoch);
        }
    }

    fn push(&mut self, id: u64, kind: TimerKind, at: u64, epoch: u32) {
        self.order += 1;
        self.timers.push(Reverse(Timer {
            at,
            order: self.order,
            id,
            kind,
            epoch,
        }));
    }

    /// Fire every timer due by `now`, as Zeek does before it handles a packet.
    fn advance(&mut self, now: u64) {
        while let Some(Reverse(timer)) = self.timers.peek().copied() {
            if timer.at > now {
                break;
            }
            self.timers.pop();
            self.fire(timer, now);
        }
    }

    /// Zeek dispatches a due timer with the network time of the packet that made it due, not
    /// its own: a timer that reschedules itself then does so once, however long the gap.
    fn fire(&mut self, timer: Timer, now: u64) {
        let Some(live) = self.get_mut(timer.id) else {
            return;
        };
        let epoch = if timer.kind == TimerKind::Inactivity {
            live.inactivity_epoch
        } else {
            live.analyzer_epoch
        };
        if timer.epoch != epoch {
            return;
        }
        let s = &mut live.session;
        let again = match timer.kind {
            TimerKind::Attempt => {
                let attempt = matches!(
                    s.orig.state,
                    EndpointState::SynSent | EndpointState::SynAckSent
                ) && s.resp.state == EndpointState::Inactive;
                if !(s.is_active && attempt) {
                    return;
                }
                None
            }
            TimerKind::Expire => match expire(s, now) {
                Expiry::Inactive => return,
                Expiry::Remove => None,
                // At the end of time there is no later: the record ends.
                Expiry::Again => Some(now.saturating_add(SESSION_TIMER)).filter(|&at| at > now),
            },
            TimerKind::Delete => None,
            TimerKind::Reset if !s.is_active => return,
            TimerKind::Reset => None,
            TimerKind::Inactivity if s.last_time.saturating_add(s.inactivity_timeout) <= now => {
                None
            }
            TimerKind::Inactivity => Some(s.last_time.saturating_add(s.inactivity_timeout)),
        };
        match again {
            Some(at) => self.push(timer.id, timer.kind, at, timer.epoch),
            None => self.remove(timer.id),
        }
    }

    fn remove(&mut self, id: u64) {
        let Some(live) = self.live.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        if self.last.is_some_and(|(_, last)| last == id) {
            self.last = None;
        }
        let s = live.session;
        let key = if s.orig_addr <= s.resp_addr {
            (s.orig_addr, s.resp_addr)
        } else {
            (s.resp_addr, s.orig_addr)
        };
        if self.by_key.get(&key) == Some(&id) {
            self.by_key.remove(&key);
        }
        let sizes = (s.orig.size(s.resp.state), s.resp.size(s.orig.state));
        let [a, b] = live.sent;
        let (orig_packets, resp_packets) = if s.orig_addr == key.0 { (a, b) } else { (b, a) };
        self.done.push(ConnLog {
            duration_ns: s.last_time.saturating_sub(s.start_ns),
            missed_bytes: s.missed_bytes,
            orig_packets,
            resp_packets,
            flipped_midway: s.flipped_midway,
            ts_ns: s.start_ns,
            first_frame: s.first_frame,
            orig: s.orig_addr,
            resp: s.resp_addr,
            orig_bytes: sizes.0,
            resp_bytes: sizes.1,
            conn_state: ConnState::of(s.orig.state, s.resp.state, sizes, &s.history.text),
            history: s.history.text,
            orig_state: s.orig.state,
            resp_state: s.resp.state,
            connection: live.connection,
            id,
        });
    }
}

enum Expiry {
    Inactive,
    Remove,
    Again,
}

/// Zeek's `ExpireTimer`: end an idle record once one side closed or nothing happened.
fn expire(s: &mut Session, now: u64) -> Expiry {
    use EndpointState::*;
    if !s.is_active {
        return Expiry::Inactive;
    }
    if s.last_time.saturating_add(FIVE_SECONDS) < now {
        let (o, r) = (&s.orig, &s.resp);
        if o.did_close || r.did_close {
            let over = (o.did_close && r.did_close)
                || o.state == Reset
                || r.state == Reset
                || o.state == Inactive
                || r.state == Inactive;
            if over {
                s.is_active = false;
                return Expiry::Remove;
            }
        }
        if o.state == Inactive && r.state == Inactive {
            return Expiry::Remove;
        }
    }
    Expiry::Again
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstos0_is_a_syn_then_a_rst_before_any_answer() {
        assert!(syn_then_rst("SR"));
        assert!(syn_then_rst("^SaR"));
        assert!(syn_then_rst("STR"));
        // Case matters: the pattern excludes only the originator's letters.
        assert!(syn_then_rst("ShR"));
        assert!(!syn_then_rst("SAR"));
        assert!(!syn_then_rst("R"));
    }
}
