//! One TCP connection: its transmission control block (TCB, RFC 9293 §3.3.1) and the event
//! processing of RFC 9293 §3.10, one function per event, each decision citing its section.
//!
//! The TCB never touches the network: segments to send are pushed into a [`Ctx`], and so are
//! the trace events. The host owns demultiplexing, listeners and IP.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use trace::{Cause, Endpoint, Event, EventKind, TcpState, TcpVars, Time};
use wire::{TcpFlags, TcpSegment};

use crate::{SeqNum, SocketError, SocketId};

/// The largest window that fits the 16-bit header field (no window scaling yet).
const MAX_WINDOW: u32 = 65_535;
/// RFC 6298 §2.1: the initial retransmission timeout is one second.
const INITIAL_RTO: Time = Time::from_secs(1);
/// RFC 6298 §2.5: an upper bound on the RTO (at least 60 s).
const MAX_RTO: Time = Time::from_secs(60);
/// How many times a segment is retransmitted before the connection is aborted (RFC 9293
/// §3.8.3's R2; Linux's tcp_retries2 is 15, far too many for a lesson).
const MAX_RETRANSMISSIONS: u32 = 8;
/// RFC 9293 §3.7.1: the MSS to assume when the peer sends no MSS option.
pub(crate) const DEFAULT_MSS: u16 = 536;

/// Everything a TCB needs from its host while it handles one event.
pub(crate) struct Ctx<'a> {
    pub now: Time,
    pub host: &'a str,
    pub cause: Cause,
    pub events: &'a mut Vec<Event>,
    pub segments: &'a mut Vec<(Ipv4Addr, TcpSegment)>,
}

impl Ctx<'_> {
    fn note(&mut self, text: String) {
        self.events.push(Event {
            t: self.now,
            kind: EventKind::Note {
                node: self.host.to_string(),
                text,
            },
        });
    }
}

/// The transmission control block of one connection.
#[derive(Debug)]
pub(crate) struct Tcb {
    pub id: SocketId,
    pub state: TcpState,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub iss: SeqNum,
    pub irs: SeqNum,
    pub snd_una: SeqNum,
    pub snd_nxt: SeqNum,
    pub snd_wnd: u32,
    pub snd_wl1: SeqNum,
    pub snd_wl2: SeqNum,
    pub rcv_nxt: SeqNum,
    pub rcv_buf_cap: u32,
    /// Data the application sent and the peer has not acknowledged: the octet at the front has
    /// sequence number [`Tcb::buf_seq`].
    pub send_buf: VecDeque<u8>,
    /// In-order data received and not yet read by the application.
    pub recv_buf: VecDeque<u8>,
    /// The application has closed its sending side: a FIN follows the queued data.
    pub fin_queued: bool,
    pub fin_sent: bool,
    /// The peer's FIN has been received: after `recv_buf` drains, `recv` returns end of file.
    pub peer_fin: bool,
    pub error: Option<SocketError>,
    /// The MSS we may send: the peer's MSS option, capped by our own MTU.
    pub send_mss: u16,
    /// The MSS we advertise.
    pub our_mss: u16,
    pub rto: Time,
    pub retransmit_at: Option<Time>,
    pub retries: u32,
    pub time_wait_until: Option<Time>,
    pub msl: Time,
    /// The listener this connection came from (passive open), until it is accepted.
    pub listener: Option<SocketId>,
    /// The application has called close(): nobody will read again.
    pub orphaned: bool,
    /// An ACK must be sent even if no data goes out.
    pub ack_now: bool,
}

/// The parts of a new TCB that differ between active and passive open.
pub(crate) struct TcbInit {
    pub id: SocketId,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub iss: SeqNum,
    pub our_mss: u16,
    pub rcv_buf_cap: u32,
    pub msl: Time,
}

impl Tcb {
    pub fn new(init: TcbInit) -> Tcb {
        Tcb {
            id: init.id,
            state: TcpState::Closed,
            local: init.local,
            remote: init.remote,
            iss: init.iss,
            irs: SeqNum(0),
            snd_una: init.iss,
            snd_nxt: init.iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_buf_cap: init.rcv_buf_cap,
            send_buf: VecDeque::new(),
            recv_buf: VecDeque::new(),
            fin_queued: false,
            fin_sent: false,
            peer_fin: false,
            error: None,
            send_mss: DEFAULT_MSS.min(init.our_mss),
            our_mss: init.our_mss,
            rto: INITIAL_RTO,
            retransmit_at: None,
            retries: 0,
            time_wait_until: None,
            msl: init.msl,
            listener: None,
            orphaned: false,
            ack_now: false,
        }
    }

    /// The receive window we advertise: the free space in the receive buffer.
    pub fn rcv_wnd(&self) -> u32 {
        self.rcv_buf_cap
            .saturating_sub(self.recv_buf.len() as u32)
            .min(MAX_WINDOW)
    }

    /// The connection variables, for trace events.
    pub fn vars(&self) -> TcpVars {
        TcpVars {
            snd_una: self.snd_una.0,
            snd_nxt: self.snd_nxt.0,
            rcv_nxt: self.rcv_nxt.0,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_wnd(),
        }
    }

    /// This connection as a trace endpoint.
    pub fn endpoint(&self, host: &str) -> Endpoint {
        Endpoint {
            host: host.to_string(),
            socket: self.id,
            local: self.local,
            remote: Some(self.remote),
        }
    }

    fn syn_acked(&self) -> bool {
        self.snd_una != self.iss
    }

    /// True once our FIN has been sent and everything up to it acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_sent && self.snd_una == self.snd_nxt
    }

    /// Sequence number of the first octet in `send_buf`.
    fn buf_seq(&self) -> SeqNum {
        if self.syn_acked() {
            self.snd_una
        } else {
            self.iss + 1
        }
    }

    /// How many octets at the front of `send_buf` have been sent at least once.
    fn sent_data(&self) -> usize {
        let sent = self.snd_nxt.since(self.buf_seq()) as usize;
        sent.saturating_sub(usize::from(self.fin_sent))
            .min(self.send_buf.len())
    }

    /// Change state and record the transition with its cause and rule.
    pub fn set_state(&mut self, ctx: &mut Ctx, to: TcpState, rule: &str) {
        self.set_state_from(ctx, self.state, to, rule);
    }

    /// Like [`Tcb::set_state`], naming the old state explicitly (a child of a listener starts
    /// in LISTEN as far as the RFC is concerned).
    pub fn set_state_from(&mut self, ctx: &mut Ctx, from: TcpState, to: TcpState, rule: &str) {
        self.state = to;
        if to == TcpState::TimeWait {
            self.time_wait_until = Some(ctx.now + Time(2 * self.msl.0));
            self.retransmit_at = None;
        }
        if to == TcpState::Closed {
            self.retransmit_at = None;
            self.time_wait_until = None;
        }
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::TcpTransition {
                endpoint: self.endpoint(ctx.host),
                from,
                to,
                cause: ctx.cause.clone(),
                rule: rule.to_string(),
                vars: self.vars(),
            },
        });
    }

    fn segment(&self, seq: SeqNum, flags: TcpFlags, payload: Vec<u8>) -> TcpSegment {
        TcpSegment {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags.ack { self.rcv_nxt.0 } else { 0 },
            flags,
            window: self.rcv_wnd() as u16,
            mss: flags.syn.then_some(self.our_mss),
            other_options: Vec::new(),
            payload,
            checksum_ok: true,
        }
    }

    fn push(&self, ctx: &mut Ctx, seg: TcpSegment) {
        ctx.segments.push((*self.remote.ip(), seg));
    }

    fn syn_flags(&self) -> TcpFlags {
        TcpFlags {
            syn: true,
            ack: self.state == TcpState::SynReceived,
            ..TcpFlags::default()
        }
    }

    /// Send our SYN (active open) or SYN+ACK (passive open), at ISS.
    pub fn send_syn(&mut self, ctx: &mut Ctx) {
        let seg = self.segment(self.iss, self.syn_flags(), Vec::new());
        self.push(ctx, seg);
        self.snd_nxt = self.iss + 1;
        self.retransmit_at.get_or_insert(ctx.now + self.rto);
    }

    /// Send `<SEQ=SND.NXT><CTL=RST>`, as ABORT does (RFC 9293 §3.10.5).
    pub fn send_rst(&self, ctx: &mut Ctx) {
        let flags = TcpFlags {
            rst: true,
            ..TcpFlags::default()
        };
        let seg = self.segment(self.snd_nxt, flags, Vec::new());
        self.push(ctx, seg);
    }

    /// Send whatever the window allows, then a bare ACK if one is owed (RFC 9293 §3.8.6 and
    /// §3.10.2: data is segmentised up to the send window and the peer's MSS).
    pub fn output(&mut self, ctx: &mut Ctx) {
        let may_send_data = matches!(
            self.state,
            TcpState::Established
                | TcpState::CloseWait
                | TcpState::FinWait1
                | TcpState::Closing
                | TcpState::LastAck
        ) && !self.fin_sent;
        while may_send_data && !self.fin_sent {
            let sent = self.sent_data();
            let unsent = self.send_buf.len() - sent;
            let in_flight = self.snd_nxt.since(self.snd_una);
            let room = self.snd_wnd.saturating_sub(in_flight) as usize;
            let len = unsent.min(usize::from(self.send_mss)).min(room);
            let fin = self.fin_queued && len == unsent;
            if len == 0 && !fin {
                break;
            }
            let payload: Vec<u8> = self.send_buf.range(sent..sent + len).copied().collect();
            let flags = TcpFlags {
                ack: true,
                psh: len > 0 && len == unsent,
                fin,
                ..TcpFlags::default()
            };
            let seg = self.segment(self.snd_nxt, flags, payload);
            self.push(ctx, seg);
            self.snd_nxt = self.snd_nxt + len as u32 + u32::from(fin);
            self.fin_sent |= fin;
            self.ack_now = false;
        }
        if self.ack_now {
            self.ack_now = false;
            let flags = TcpFlags {
                ack: true,
                ..TcpFlags::default()
            };
            let seg = self.segment(self.snd_nxt, flags, Vec::new());
            self.push(ctx, seg);
        }
        if self.snd_nxt != self.snd_una && self.retransmit_at.is_none() {
            self.retransmit_at = Some(ctx.now + self.rto);
        }
    }

    /// Process an acceptable new acknowledgment: SND.UNA < SEG.ACK =< SND.NXT (RFC 9293
    /// §3.10.7.4, fifth step, ESTABLISHED).
    fn take_ack(&mut self, ctx: &Ctx, ack: SeqNum) {
        let mut acked = ack.since(self.snd_una) as usize;
        if !self.syn_acked() {
            acked -= 1;
        }
        let data = acked.min(self.send_buf.len());
        self.send_buf.drain(..data);
        self.snd_una = ack;
        self.retries = 0;
        self.rto = INITIAL_RTO;
        // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
        self.retransmit_at = (self.snd_una != self.snd_nxt).then_some(ctx.now + self.rto);
    }

    /// RFC 9293 §3.10.7.4, fifth step: update the send window from a segment that is not
    /// older than the last one used (SND.WL1, SND.WL2).
    fn update_window(&mut self, seg: &TcpSegment) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        if self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack) {
            self.snd_wnd = u32::from(seg.window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
    }

    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    pub fn syn_sent_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        if seg.flags.ack && (ack <= self.iss || ack > self.snd_nxt) {
            // "first check the ACK bit": it acknowledges something we never sent.
            if !seg.flags.rst {
                ctx.segments.push((*self.remote.ip(), rst_for(seg)));
            }
            return;
        }
        if seg.flags.rst {
            if seg.flags.ack {
                self.error = Some(SocketError::ConnectionRefused);
                self.set_state(
                    ctx,
                    TcpState::Closed,
                    "RFC 9293 §3.10.7.3 (SYN-SENT, RST with acceptable ACK): \
                     \"error: connection reset\"; nothing listens on that port",
                );
            }
            // A RST without an ACK cannot be matched to our SYN: drop it.
            return;
        }
        if !seg.flags.syn {
            return;
        }
        self.irs = seq;
        self.rcv_nxt = seq + 1;
        self.send_mss = seg.mss.unwrap_or(DEFAULT_MSS).min(self.our_mss);
        self.snd_wnd = u32::from(seg.window);
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        if seg.flags.ack {
            self.take_ack(ctx, ack);
        }
        if self.snd_una > self.iss {
            self.ack_now = true;
            self.set_state(
                ctx,
                TcpState::Established,
                "RFC 9293 §3.10.7.3 (SYN-SENT): SYN+ACK acknowledges our SYN; \
                 send ACK, enter ESTABLISHED",
            );
        } else {
            // Simultaneous open: both SYNs crossed.
            self.set_state(
                ctx,
                TcpState::SynReceived,
                "RFC 9293 §3.10.7.3 (SYN-SENT): a SYN without ACK (simultaneous open); \
                 send SYN+ACK, enter SYN-RECEIVED",
            );
            let seg = self.segment(self.iss, self.syn_flags(), Vec::new());
            self.push(ctx, seg);
        }
    }

    /// RFC 9293 §3.10.7.4: the acceptability test of an incoming segment.
    fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd();
        let in_window = |s: SeqNum| self.rcv_nxt <= s && s < self.rcv_nxt + wnd;
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (_, _) => in_window(seq) || in_window(seq + (len - 1)),
        }
    }

    /// RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and every synchronised state.
    pub fn segment_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment) {
        if self.state == TcpState::SynSent {
            return self.syn_sent_arrives(ctx, seg);
        }
        let seq = SeqNum(seg.seq);

        // First: check the sequence number.
        if !self.acceptable(seq, seg.seg_len()) {
            if self.state == TcpState::TimeWait
                && seg.flags.fin
                && !seg.flags.rst
                && seq + seg.seg_len() == self.rcv_nxt
            {
                // "The only thing that can arrive in this state is a retransmission of the
                // remote FIN. Acknowledge it, and restart the 2 MSL timeout."
                self.ack_now = true;
                self.time_wait_until = Some(ctx.now + Time(2 * self.msl.0));
                ctx.note(format!(
                    "socket {}: retransmitted FIN in TIME-WAIT: ACK it again and restart \
                     the 2×MSL timer (RFC 9293 §3.10.7.4)",
                    self.id
                ));
                return;
            }
            if !seg.flags.rst {
                self.ack_now = true;
            }
            return;
        }

        // Second: check the RST bit.
        if seg.flags.rst {
            if seq != self.rcv_nxt {
                // RFC 5961 §3.2, adopted by RFC 9293 §3.10.7.4: an in-window RST that is not
                // exactly at RCV.NXT may be forged; answer with a challenge ACK.
                self.ack_now = true;
                ctx.note(format!(
                    "socket {}: RST at {} is in the window but not at RCV.NXT={}: \
                     challenge ACK (RFC 5961 §3.2)",
                    self.id, seq, self.rcv_nxt
                ));
                return;
            }
            self.reset_by_peer(ctx);
            return;
        }

        // Fourth: check the SYN bit (the third, security, does not apply).
        if seg.flags.syn {
            if self.state == TcpState::SynReceived && self.listener.is_some() {
                self.set_state(
                    ctx,
                    TcpState::Closed,
                    "RFC 9293 §3.10.7.4 (SYN-RECEIVED, SYN in window after passive OPEN): \
                     return to LISTEN; this half-open connection is deleted",
                );
                return;
            }
            // RFC 5961 §4.2: a SYN in a synchronised state gets a challenge ACK.
            self.ack_now = true;
            ctx.note(format!(
                "socket {}: SYN in a synchronised state: challenge ACK (RFC 5961 §4.2)",
                self.id
            ));
            return;
        }

        // Fifth: check the ACK field.
        if !seg.flags.ack {
            return;
        }
        let ack = SeqNum(seg.ack);
        match self.state {
            TcpState::SynReceived => {
                if self.snd_una < ack && ack <= self.snd_nxt {
                    self.snd_wnd = u32::from(seg.window);
                    self.snd_wl1 = seq;
                    self.snd_wl2 = ack;
                    self.take_ack(ctx, ack);
                    self.set_state(
                        ctx,
                        TcpState::Established,
                        "RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth step): the ACK acknowledges \
                         our SYN; enter ESTABLISHED",
                    );
                } else {
                    ctx.segments.push((*self.remote.ip(), rst_for(seg)));
                    return;
                }
            }
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait
            | TcpState::Closing
            | TcpState::LastAck => {
                if ack > self.snd_nxt {
                    // It acknowledges something not yet sent: ACK and drop.
                    self.ack_now = true;
                    return;
                }
                if self.snd_una < ack {
                    self.take_ack(ctx, ack);
                }
                self.update_window(seg);
                match self.state {
                    TcpState::FinWait1 if self.fin_acked() => self.set_state(
                        ctx,
                        TcpState::FinWait2,
                        "RFC 9293 §3.10.7.4 (FIN-WAIT-1, fifth step): our FIN is \
                         acknowledged; enter FIN-WAIT-2",
                    ),
                    TcpState::Closing if self.fin_acked() => self.set_state(
                        ctx,
                        TcpState::TimeWait,
                        "RFC 9293 §3.10.7.4 (CLOSING, fifth step): our FIN is acknowledged; \
                         enter TIME-WAIT",
                    ),
                    TcpState::LastAck if self.fin_acked() => {
                        self.set_state(
                            ctx,
                            TcpState::Closed,
                            "RFC 9293 §3.10.7.4 (LAST-ACK, fifth step): our FIN is \
                             acknowledged; delete the TCB, enter CLOSED",
                        );
                        return;
                    }
                    _ => {}
                }
            }
            _ => {}
        }

        // Seventh: process the segment text (the sixth, URG, is not implemented).
        let data_seq = seq + u32::from(seg.flags.syn);
        let text_ok = matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        );
        let mut whole_segment_taken = true;
        if text_ok && !seg.payload.is_empty() {
            if data_seq > self.rcv_nxt {
                // Out of order: this stack keeps no reassembly queue yet, so the segment is
                // dropped and the duplicate ACK asks for what is missing.
                self.ack_now = true;
                ctx.note(format!(
                    "socket {}: segment at {} is ahead of RCV.NXT={}: dropped, duplicate ACK",
                    self.id, data_seq, self.rcv_nxt
                ));
                return;
            }
            let skip = self.rcv_nxt.since(data_seq) as usize;
            let fresh = &seg.payload[skip.min(seg.payload.len())..];
            let take = fresh.len().min(self.rcv_wnd() as usize);
            whole_segment_taken = take == fresh.len();
            if take > 0 && self.orphaned {
                // RFC 9293 §3.10.4 leaves this open; like Linux (RFC 2525 §2.17), data for
                // an application that has closed is answered with RST: it would be lost.
                self.send_rst(ctx);
                self.set_state(
                    ctx,
                    TcpState::Closed,
                    "RFC 2525 §2.17: data arrived after close(); nobody can read it, so \
                     reset the connection",
                );
                return;
            }
            self.recv_buf.extend(&fresh[..take]);
            self.rcv_nxt = self.rcv_nxt + take as u32;
            self.ack_now = true;
        }

        // Eighth: check the FIN bit.
        let fin_seq = data_seq + seg.payload.len() as u32;
        if !seg.flags.fin || !whole_segment_taken || fin_seq != self.rcv_nxt {
            return;
        }
        self.rcv_nxt = self.rcv_nxt + 1;
        self.peer_fin = true;
        self.ack_now = true;
        match self.state {
            TcpState::SynReceived | TcpState::Established => self.set_state(
                ctx,
                TcpState::CloseWait,
                "RFC 9293 §3.10.7.4 (ESTABLISHED, eighth step): the peer's FIN; ACK it, \
                 tell the application (recv returns b''), enter CLOSE-WAIT",
            ),
            TcpState::FinWait1 if self.fin_acked() => self.set_state(
                ctx,
                TcpState::TimeWait,
                "RFC 9293 §3.10.7.4 (FIN-WAIT-1, eighth step): FIN and our FIN is ACKed; \
                 enter TIME-WAIT, start the 2×MSL timer",
            ),
            TcpState::FinWait1 => self.set_state(
                ctx,
                TcpState::Closing,
                "RFC 9293 §3.10.7.4 (FIN-WAIT-1, eighth step): the peer's FIN before the ACK \
                 of ours (simultaneous close); enter CLOSING",
            ),
            TcpState::FinWait2 => self.set_state(
                ctx,
                TcpState::TimeWait,
                "RFC 9293 §3.10.7.4 (FIN-WAIT-2, eighth step): the peer's FIN; ACK it, \
                 enter TIME-WAIT, start the 2×MSL timer",
            ),
            TcpState::TimeWait => {
                self.time_wait_until = Some(ctx.now + Time(2 * self.msl.0));
            }
            _ => {}
        }
    }

    /// RFC 9293 §3.10.7.4, second step: an acceptable RST.
    fn reset_by_peer(&mut self, ctx: &mut Ctx) {
        let rule = match self.state {
            TcpState::SynReceived if self.listener.is_some() => {
                "RFC 9293 §3.10.7.4 (SYN-RECEIVED, RST after passive OPEN): return to LISTEN; \
                 this half-open connection is deleted"
            }
            TcpState::SynReceived => {
                self.error = Some(SocketError::ConnectionRefused);
                "RFC 9293 §3.10.7.4 (SYN-RECEIVED, RST after active OPEN): connection refused"
            }
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait => {
                self.error = Some(SocketError::ConnectionReset);
                self.send_buf.clear();
                "RFC 9293 §3.10.7.4 (synchronised state, RST): \"connection reset\"; \
                 queues flushed, enter CLOSED"
            }
            _ => {
                "RFC 9293 §3.10.7.4 (CLOSING, LAST-ACK or TIME-WAIT, RST): enter CLOSED, \
                 delete the TCB"
            }
        };
        self.set_state(ctx, TcpState::Closed, rule);
    }

    /// The retransmission timer expired (RFC 6298 §5.4–5.6): resend the oldest unacknowledged
    /// segment and back off, or abort after too many tries.
    pub fn retransmit(&mut self, ctx: &mut Ctx) {
        self.retries += 1;
        if self.retries > MAX_RETRANSMISSIONS {
            self.error = Some(SocketError::TimedOut);
            ctx.note(format!(
                "socket {}: connection aborted after {} retransmissions",
                self.id, MAX_RETRANSMISSIONS
            ));
            self.set_state(
                ctx,
                TcpState::Closed,
                "RFC 9293 §3.8.3: retransmissions exceeded R2; abort the connection",
            );
            return;
        }
        self.rto = Time((self.rto.0 * 2).min(MAX_RTO.0));
        if !self.syn_acked() {
            let seg = self.segment(self.iss, self.syn_flags(), Vec::new());
            ctx.note(format!(
                "socket {}: retransmits its SYN (try {}), next timeout in {}s",
                self.id, self.retries, self.rto
            ));
            self.push(ctx, seg);
        } else {
            let sent = self.sent_data();
            let len = sent.min(usize::from(self.send_mss));
            let fin = self.fin_sent && len == sent;
            let payload: Vec<u8> = self.send_buf.range(..len).copied().collect();
            let flags = TcpFlags {
                ack: true,
                psh: len > 0,
                fin,
                ..TcpFlags::default()
            };
            ctx.note(format!(
                "socket {}: retransmits {} octets{} from SND.UNA={} (try {}), next timeout \
                 in {}s",
                self.id,
                len,
                if fin { " and FIN" } else { "" },
                self.snd_una,
                self.retries,
                self.rto
            ));
            let seg = self.segment(self.snd_una, flags, payload);
            self.push(ctx, seg);
        }
        self.retransmit_at = Some(ctx.now + self.rto);
    }
}

/// The reset for a segment that does not belong to any connection we have (RFC 9293
/// §3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>` if it had an ACK, else
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
pub(crate) fn rst_for(seg: &TcpSegment) -> TcpSegment {
    let mut reply = TcpSegment {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        checksum_ok: true,
        ..TcpSegment::default()
    };
    if seg.flags.ack {
        reply.seq = seg.ack;
        reply.flags.rst = true;
    } else {
        reply.seq = 0;
        reply.ack = seg.seq.wrapping_add(seg.seg_len());
        reply.flags.rst = true;
        reply.flags.ack = true;
    }
    reply
}
