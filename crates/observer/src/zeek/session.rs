//! One Zeek connection record in the making: the per-packet steps of Zeek's TCP analyzer
//! (`TCPSessionAdapter::Process` and its state machine), in Zeek's order, because the letters
//! depend on it.
//!
//! Within a packet the two ends are named by the packet's direction (`from_orig`): a role
//! flip during the packet swaps the ends' roles at once but their places only at the end.

use std::net::SocketAddr;

use super::endpoint::{Endpoint, EndpointState, TOO_LARGE_SEQ_DELTA, seq_delta};
use super::history::{History, Letter};
use super::reassembly::Sender;
use super::{Seen, TimerKind};

use EndpointState::*;

const SECOND: u64 = 1_000_000_000;
/// Zeek's `tcp_attempt_delay`, `tcp_SYN_timeout`, `tcp_close_delay`, `tcp_reset_delay`,
/// `tcp_connection_linger`.
pub(super) const FIVE_SECONDS: u64 = 5 * SECOND;
/// Zeek's `tcp_session_timer`.
pub(super) const SESSION_TIMER: u64 = 6 * SECOND;
/// Zeek's `udp_inactivity_timeout`, which a TCP connection starts with.
pub(super) const HANDSHAKE_INACTIVITY: u64 = 60 * SECOND;
/// Zeek's `tcp_inactivity_timeout`, once the handshake is over.
pub(super) const TCP_INACTIVITY: u64 = 300 * SECOND;

const ORIG_SEEN: u8 = 1;
const RESP_SEEN: u8 = 2;

/// One Zeek connection.
#[derive(Debug)]
pub(super) struct Session {
    pub orig_addr: SocketAddr,
    pub resp_addr: SocketAddr,
    pub orig: Endpoint,
    pub resp: Endpoint,
    pub history: History,
    is_partial: bool,
    first_packet_seen: u8,
    pub is_active: bool,
    close_deferred: bool,
    deferred_gen_event: bool,
    /// A flip during this packet: the ends change places when it is done.
    flip_pending: bool,
    pub last_time: u64,
    pub start_ns: u64,
    /// Octets in content gaps that Zeek reports (conn.log's `missed_bytes`).
    pub missed_bytes: u64,
    /// The roles flipped after the record began (then Zeek's `connection_flipped` sets
    /// conn.log's `local_orig` and `local_resp`).
    pub flipped_midway: bool,
    pub first_frame: u64,
    pub inactivity_timeout: u64,
    /// Timers asked for by the last packet, for the tracker to schedule.
    pub timers: Vec<(TimerKind, u64)>,
    /// The last packet cancelled the analyzer's timers.
    pub cancel_timers: bool,
    /// The last packet ended the handshake (the inactivity timeout grows).
    pub handshake_done: bool,
}

/// What the state machine decided about closing.
#[derive(Clone, Copy, Default)]
struct Close {
    close: bool,
    event: bool,
}

impl Session {
    pub fn new(seen: &Seen, t: u64, frame: u64) -> Session {
        Session {
            orig_addr: seen.src,
            resp_addr: seen.dst,
            orig: Endpoint::new(true),
            resp: Endpoint::new(false),
            history: History::default(),
            is_partial: false,
            first_packet_seen: 0,
            is_active: true,
            close_deferred: false,
            deferred_gen_event: false,
            flip_pending: false,
            last_time: t,
            start_ns: t,
            missed_bytes: 0,
            flipped_midway: false,
            first_frame: frame,
            inactivity_timeout: HANDSHAKE_INACTIVITY,
            timers: vec![(TimerKind::Expire, t.saturating_add(FIVE_SECONDS))],
            cancel_timers: false,
            handshake_done: false,
        }
    }

    /// Zeek's `Connection::FlipRoles` at creation, before the analyzer exists.
    pub fn flip_at_creation(&mut self) {
        std::mem::swap(&mut self.orig_addr, &mut self.resp_addr);
        self.history.flipped();
    }

    /// The end that sent a packet from `from_orig`'s side, its peer, and the history.
    fn split(&mut self, from_orig: bool) -> (&mut Endpoint, &mut Endpoint, &mut History) {
        let Session {
            orig,
            resp,
            history,
            ..
        } = self;
        if from_orig {
            (orig, resp, history)
        } else {
            (resp, orig, history)
        }
    }

    /// One TCP packet of this connection, sent from the originator's side or not.
    pub fn packet(&mut self, from_orig: bool, p: &Seen, t: u64) {
        let (ep, _, history) = self.split(from_orig);
        if p.bad_checksum {
            history.scaled(ep.is_orig, Letter::Checksum, &mut ep.checksum_errors);
            return;
        }
        let sender_is_orig = ep.is_orig;
        self.set_partial_status(p, sender_is_orig);
        let (rel_seq, underflow, seg_len) = self.sequence(from_orig, p);
        if !self.orig.did_close || !self.resp.did_close {
            self.last_time = t;
        }
        let (ep, peer, history) = self.split(from_orig);
        if p.fin {
            ep.fin_cnt += 1;
            ep.fin_seq = rel_seq + u64::from(seg_len);
        }
        if p.rst {
            ep.rst_cnt += 1;
        }
        let rel_ack = if p.ack { acknowledge(peer, p) } else { 0 };
        let past = p.seq.wrapping_add(seg_len);
        update_last_seq(ep, history, p, past);
        let close = self.state_machine(from_orig, p, t);
        if p.ack {
            self.ack_received(!from_orig, rel_ack);
        }
        self.first_packet(from_orig);
        if p.len > 0 && !p.rst && !underflow && p.captured {
            let (ep, peer, _) = self.split(from_orig);
            let data_seq = if p.syn { rel_seq + 1 } else { rel_seq };
            let sender = sender_of(ep, peer.state);
            ep.reassembly.data(data_seq, u64::from(p.len), &sender);
        }
        self.check_eof(from_orig);
        if close.close {
            self.connection_closed(from_orig, close.event);
        }
        if std::mem::take(&mut self.flip_pending) {
            std::mem::swap(&mut self.orig, &mut self.resp);
        }
    }

    /// Zeek's sequence bookkeeping and history letters, before the state machine.
    fn sequence(&mut self, from_orig: bool, p: &Seen) -> (u64, bool, u32) {
        let payload = if p.rst { 0 } else { p.len };
        let seg_len = payload + u32::from(p.syn) + u32::from(p.fin);
        let past = p.seq.wrapping_add(seg_len);
        let (ep, peer, history) = self.split(from_orig);
        init_endpoint(ep, p, past);
        let (rel_seq, underflow) = ep.relative(p.seq, ep.last_seq(), ep.seq_wraps());
        update_history(ep, history, p, rel_seq);
        if p.window == 0 && !p.rst && peer.state != Closed && ep.state != Reset {
            ep.zero_window(history);
        }
        (rel_seq, underflow, seg_len)
    }

    fn set_partial_status(&mut self, p: &Seen, sender_is_orig: bool) {
        if sender_is_orig {
            if self.first_packet_seen & ORIG_SEEN == 0 {
                self.is_partial = !p.syn || p.ack;
            }
        } else if self.first_packet_seen & RESP_SEEN == 0 && !self.is_partial {
            self.is_partial = !p.syn;
        }
    }

    fn first_packet(&mut self, from_orig: bool) {
        self.first_packet_seen |= if from_orig { ORIG_SEEN } else { RESP_SEEN };
    }

    fn set_state(&mut self, of_orig_side: bool, to: EndpointState) {
        let (ep, peer, _) = self.split(of_orig_side);
        let peer_state = peer.state;
        if ep.set_state(to, peer_state) {
            self.handshake_done = true;
        }
    }

    fn state(&mut self, of_orig_side: bool) -> EndpointState {
        self.split(of_orig_side).0.state
    }

    /// Zeek's `UpdateStateMachine`: the sender's pseudo-state after this packet.
    fn state_machine(&mut self, from: bool, p: &Seen, t: u64) -> Close {
        match self.state(from) {
            Inactive => self.inactive(from, p, t),
            SynSent | SynAckSent => self.syn_sent(from, p),
            Established | Partial => self.established(from, p),
            Closed => self.closed(from, p, t),
            Reset => Close::default(),
        }
    }

    fn inactive(&mut self, from: bool, p: &Seen, t: u64) -> Close {
        let mut close = Close::default();
        if p.syn {
            self.inactive_syn(from, p, t);
        }
        if p.fin {
            close = self.fin_closes(from);
        }
        if p.rst {
            self.set_state(from, Reset);
            let peer = self.state(!from);
            let reject = if from {
                peer == Established
            } else {
                matches!(peer, SynSent | SynAckSent)
            };
            close = Close {
                close: true,
                event: !reject,
            };
        }
        if self.state(from) == Inactive {
            let peer = self.state(!from);
            if !from && p.len == 0 && self.orig.state == SynSent {
                // Some stacks ACK a SYN before answering it: not a partial connection.
            } else if p.ack && peer == Established {
                // The SYN was missed: establish rather than call it partial.
                self.set_state(from, Established);
                self.is_partial = false;
                self.first_packet(from);
            } else {
                self.set_state(from, Partial);
            }
        }
        close
    }

    fn inactive_syn(&mut self, from: bool, p: &Seen, t: u64) {
        if from {
            self.set_state(from, if p.ack { SynAckSent } else { SynSent });
            self.timers
                .push((TimerKind::Attempt, t.saturating_add(FIVE_SECONDS)));
            return;
        }
        let peer = self.state(!from);
        let own_start = self.split(from).0.start_seq();
        if !p.ack && peer == SynAckSent && p.seq == own_start {
            // The SYN and the SYN+ACK were captured in reverse order: turn around.
            self.is_partial = false;
            self.flip();
            self.set_state(!from, Established);
            self.first_packet_seen |= ORIG_SEEN;
        }
        if self.state(!from) == SynSent {
            self.set_state(!from, Established);
        }
        self.set_state(from, Established);
    }

    /// Zeek's `FlipRoles` during a packet.
    fn flip(&mut self) {
        std::mem::swap(&mut self.orig_addr, &mut self.resp_addr);
        self.orig.is_orig = !self.orig.is_orig;
        self.resp.is_orig = !self.resp.is_orig;
        let seen = self.first_packet_seen;
        self.first_packet_seen = (if seen & ORIG_SEEN != 0 { RESP_SEEN } else { 0 })
            | (if seen & RESP_SEEN != 0 { ORIG_SEEN } else { 0 });
        self.is_partial = false;
        self.flip_pending = !self.flip_pending;
        self.flipped_midway = true;
        self.history.flipped();
    }

    /// A FIN closes the sender's side, and Zeek reports it.
    fn fin_closes(&mut self, from: bool) -> Close {
        self.set_state(from, Closed);
        Close {
            close: true,
            event: true,
        }
    }

    fn syn_sent(&mut self, from: bool, p: &Seen) -> Close {
        let mut close = Close::default();
        if p.fin {
            close = self.fin_closes(from);
        }
        if p.rst {
            self.set_state(from, Reset);
            self.is_active = false;
            close.close = true;
        }
        close
    }

    fn established(&mut self, from: bool, p: &Seen) -> Close {
        let mut close = Close::default();
        if p.syn && self.state(from) == Partial && self.state(!from) == Inactive && !p.ack {
            self.set_state(from, SynSent);
        }
        if p.fin && !p.rst {
            self.set_state(from, Closed);
            let peer = self.split(!from).0;
            if peer.state == Reset && peer.prev_state == Closed {
                // The peer sent a FIN and then a RST: a normal close after all.
                self.set_state(!from, Closed);
            }
            close = Close {
                close: true,
                event: true,
            };
        }
        if p.rst {
            self.set_state(from, Reset);
            close.close = true;
            let peer = self.split(!from).0;
            if peer.state != Reset || peer.prev_state != Established {
                self.is_active = false;
            }
        }
        close
    }

    fn closed(&mut self, from: bool, p: &Seen, t: u64) -> Close {
        let mut close = Close::default();
        // After a FIN exchange a RST changes nothing.
        if p.rst && self.state(!from) != Closed {
            self.set_state(from, Reset);
            if !self.split(from).0.did_close {
                close.close = true;
            }
            self.timers
                .push((TimerKind::Reset, t.saturating_add(FIVE_SECONDS)));
        }
        close
    }

    /// The end on `of_orig_side` had its data acknowledged up to `rel_ack`.
    fn ack_received(&mut self, of_orig_side: bool, rel_ack: u64) {
        let partial = self.is_partial;
        let (ep, peer, history) = self.split(of_orig_side);
        let seq = if ep.fin_cnt > 0 && rel_ack >= ep.fin_seq {
            ep.fin_seq - 1
        } else {
            rel_ack
        };
        let missed_before = ep.reassembly.missed;
        let gaps = ep.reassembly.acked(seq, partial);
        // Zeek's report_gap: content_gap is raised unless either end is partial.
        let reported = ep.state != Partial && peer.state != Partial;
        let missed = if reported {
            ep.reassembly.missed - missed_before
        } else {
            0
        };
        if gaps > 0 && clean(ep) && clean(peer) {
            for _ in 0..gaps {
                history.scaled(ep.is_orig, Letter::Gap, &mut ep.gaps);
            }
        }
        self.missed_bytes += missed;
        self.check_eof(of_orig_side);
    }

    /// Zeek's `DataPending`: the closing end still has data to deliver or to see acknowledged.
    fn data_pending(&mut self, of_orig_side: bool) -> bool {
        let (ep, peer, _) = self.split(of_orig_side);
        if ep.reassembly.skipping {
            return false;
        }
        let delivered = ep.reassembly.delivered;
        let last = ep.relative_last();
        if (last as i64) < (delivered as i64) {
            return false;
        }
        if delivered != last.wrapping_sub(1) && delivered != last {
            return true;
        }
        ep.state != Reset && peer.reassembly.has_undelivered()
    }

    fn check_eof(&mut self, of_orig_side: bool) {
        let ep = self.split(of_orig_side).0;
        let ended = ep.fin_cnt > 0 || matches!(ep.state, Closed | Reset);
        if ep.reassembly.eof || !ended || self.data_pending(of_orig_side) {
            return;
        }
        self.split(of_orig_side).0.reassembly.eof = true;
        if std::mem::take(&mut self.close_deferred) {
            let event = self.deferred_gen_event;
            self.connection_closed(of_orig_side, event);
        }
    }

    /// Zeek's `ConnectionClosed`: the end on `of_orig_side` closed (FIN or RST).
    fn connection_closed(&mut self, of_orig_side: bool, event: bool) {
        if self.data_pending(of_orig_side) {
            self.close_deferred = true;
            self.deferred_gen_event |= event;
            return;
        }
        self.close_deferred = false;
        let (ep, peer, _) = self.split(of_orig_side);
        if ep.did_close {
            return;
        }
        ep.did_close = true;
        let complete = ep.state == Reset || peer.did_close || peer.state == Inactive;
        let reportable = ep.prev_state != Inactive || peer.state != Inactive;
        if complete {
            if reportable && (event || std::mem::take(&mut self.deferred_gen_event)) {
                self.is_active = false;
            }
            self.cancel_timers = true;
            // Zeek's CancelTimers: this packet's own requests go too.
            self.timers.clear();
            self.timers.push((
                TimerKind::Delete,
                self.last_time.saturating_add(FIVE_SECONDS),
            ));
        } else if ep.prev_state != Inactive {
            self.timers.push((
                TimerKind::Expire,
                self.last_time.saturating_add(SESSION_TIMER),
            ));
        }
    }

    /// Zeek's `IsReuse`: a SYN that starts a new record on these ports.
    pub fn is_reuse(&self, p: &Seen) -> bool {
        if !p.syn {
            return false;
        }
        let conn_orig = if p.ack {
            if self.orig.state != Inactive {
                return false;
            }
            &self.resp
        } else {
            &self.orig
        };
        if self.orig.did_close || self.resp.did_close {
            return true;
        }
        if p.seq == conn_orig.start_seq() {
            return false;
        }
        // A SYN arriving after its own SYN+ACK is not a new connection.
        !(!p.ack
            && conn_orig.state == SynAckSent
            && self.resp.state == Inactive
            && p.seq == self.resp.start_seq())
    }
}

/// Established, or closed from established: gaps here are real, not artefacts.
fn clean(ep: &Endpoint) -> bool {
    ep.state == Established || (ep.state == Closed && ep.prev_state == Established)
}

fn sender_of(ep: &Endpoint, peer: EndpointState) -> Sender {
    Sender {
        acked: ep.relative_ack(),
        no_data_acked: ep.no_data_acked(),
        size: ep.size(peer),
    }
}

/// Zeek's `init_endpoint`: where a side's sequence space starts.
fn init_endpoint(ep: &mut Endpoint, p: &Seen, past: u32) {
    match ep.state {
        Inactive if p.syn => ep.init_seqs(p.seq, p.seq, past),
        // A partial connection: number as though a SYN came one octet earlier.
        Inactive => ep.init_seqs(p.seq.wrapping_sub(1), p.seq.wrapping_sub(1), p.seq),
        SynSent | SynAckSent if p.syn && p.seq != ep.start_seq() => {
            ep.init_seqs(p.seq, p.seq, past)
        }
        Established | Partial if p.syn => ep.init_seqs(p.seq, p.seq, past),
        Reset if p.syn && ep.prev_state == Inactive => ep.init_seqs(p.seq, p.seq, past),
        _ => {}
    }
}

/// Zeek's `update_history`: the flag letters.
fn update_history(ep: &mut Endpoint, history: &mut History, p: &Seen, rel_seq: u64) {
    let bits = u8::from(p.syn) + u8::from(p.fin) + u8::from(p.rst);
    if bits > 1 {
        let letter = if p.fin && p.rst {
            Letter::Inconsistent
        } else {
            Letter::MultiFlag
        };
        history.check(ep.is_orig, letter);
    } else if p.syn {
        let letter = if p.ack { Letter::SynAck } else { Letter::Syn };
        ep.note_syn(history, letter, rel_seq);
    } else if p.fin {
        ep.note_fin(history, rel_seq, p.len);
    } else if p.rst {
        ep.note_rst(history, rel_seq);
    } else if p.len > 0 {
        history.check(ep.is_orig, Letter::Data);
    } else if p.ack {
        history.check(ep.is_orig, Letter::Ack);
    }
}

/// The acknowledgement number, relative to the peer's sequence space.
fn acknowledge(peer: &mut Endpoint, p: &Seen) -> u64 {
    if peer.state == Inactive {
        let start = p.ack_seq.wrapping_sub(1);
        peer.init_seqs(start, start, start);
        return 1;
    }
    let (rel, underflow) = peer.relative(p.ack_seq, peer.ack_seq(), peer.ack_wraps());
    if underflow {
        return 0;
    }
    if !p.rst {
        let delta = seq_delta(p.ack_seq, peer.ack_seq());
        if !(p.ack_seq == 0 && delta > TOO_LARGE_SEQ_DELTA) && delta > 0 {
            peer.update_ack_seq(p.ack_seq);
        }
    }
    rel
}

/// Zeek's `update_last_seq`: how far the sender got, and payload sent again (`t`).
fn update_last_seq(ep: &mut Endpoint, history: &mut History, p: &Seen, past: u32) {
    let delta = seq_delta(past, ep.last_seq());
    let jump = !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta);
    if (p.syn || p.rst) && jump {
        // An outlandish SYN or RST sequence number is not believed.
    } else if p.fin && ep.last_seq() == ep.start_seq().wrapping_add(1) {
        ep.update_last_seq(past);
    } else if ep.state == Reset {
        // After a RST no sequence number is trusted.
    } else if delta > 0 {
        ep.update_last_seq(past);
    } else if p.len > 0 {
        ep.retransmitted(history);
    }
}
