//! SEGMENT ARRIVES (RFC 9293 §3.10.7): SYN-SENT's processing, then for a synchronized
//! state the checks in the RFC's order: sequence number (with PAWS), RST, SYN, ACK, the
//! text, FIN; and the receiver's ACKs, immediate or delayed.

use super::*;

impl Tcb {
    /// RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT.
    pub fn syn_sent_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        if seg.flags.ack && (ack <= self.iss || ack > self.snd_max) {
            // "first check the ACK bit": it acknowledges something we never sent.
            if !seg.flags.rst {
                self.push(ctx, rst_for(seg));
            }
            return;
        }
        if seg.flags.rst {
            if seg.flags.ack {
                self.error = Some(SocketError::ConnectionRefused);
                self.set_state(ctx, TcpState::Closed, Rule::SynSentRefused);
            }
            // A RST without an ACK cannot be matched to our SYN: drop it.
            return;
        }
        if !seg.flags.syn {
            return;
        }
        self.irs = seq;
        self.rcv_nxt = seq + 1;
        // Our SYN offered this much, unscaled, before RCV.NXT was known.
        self.rcv_adv = self.rcv_nxt + self.rcv_space().min(MAX_UNSCALED_WINDOW);
        self.take_syn_options(ctx.now, seg);
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        if seg.flags.ack {
            self.take_ack(ctx, ack, seg.timestamps);
        }
        if self.snd_una > self.iss {
            self.ack_now = true;
            self.set_state(ctx, TcpState::Established, Rule::SynSentSynAck);
        } else {
            // Simultaneous open: both SYNs crossed.
            self.set_state(ctx, TcpState::SynReceived, Rule::SimultaneousOpen);
            let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
            self.push(ctx, seg);
        }
    }

    /// RFC 9293 §3.10.7.4: the acceptability test of an incoming segment.
    pub(super) fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
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
    pub fn segment_arrives(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) {
        self.heard_from_peer(ctx.now);
        self.quick_ack_pending = false;
        if self.state == TcpState::SynSent {
            return self.syn_sent_arrives(ctx, seg);
        }
        let _ = self.synchronized_arrives(ctx, seg);
    }

    /// The RFC's checks in its order; each may end the processing of the segment.
    pub(super) fn synchronized_arrives(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
    ) -> ControlFlow<()> {
        self.check_timestamp(ctx, seg)?;
        self.check_sequence(ctx, seg)?;
        self.ts.remember(ctx.now, SeqNum(seg.seq), seg.timestamps);
        self.check_rst(ctx, seg)?;
        // The third check, security, does not apply.
        self.check_syn(ctx, seg)?;
        self.check_ack(ctx, seg)?;
        // The sixth, URG, is not implemented.
        let fin_covered = self.check_text(ctx, seg)?;
        self.check_fin(ctx, seg, fin_covered);
        ControlFlow::Continue(())
    }

    /// RFC 7323 §5.3 R1, before the sequence number: PAWS drops a segment whose clock is
    /// older than TS.Recent, and answers it with an ACK.
    pub(super) fn check_timestamp(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
    ) -> ControlFlow<()> {
        let Err(stale) = self.ts.paws_check(ctx.now, seg.timestamps, seg.flags.rst) else {
            return ControlFlow::Continue(());
        };
        if self.tuning.profile == Profile::Linux && self.linux_paws_passes(seg, &stale) {
            return ControlFlow::Continue(());
        }
        self.answer_out_of_window(ctx, seg, Answer::Duplicate);
        let seq = SeqNum(seg.seq);
        let (tsval, recent) = (stale.tsval, stale.recent);
        ctx.note(self.id, TcpNote::PawsDrop { tsval, recent });
        let range = Some((seq, seq + seg.seg_len()));
        self.recovery_event(ctx, Recovery::PawsDrop, range, None);
        ControlFlow::Break(())
    }

    /// Linux's PAWS lets through what RFC 7323 §5.3 would drop: a clock one tick behind
    /// (`TCP_PAWS_WINDOW`), and a pure duplicate ACK that changes no window and is less than
    /// an RTO behind (`tcp_disordered_ack`): it was only overtaken by a later ACK, and its
    /// SACK blocks still tell the sender what arrived.
    pub(super) fn linux_paws_passes(&self, seg: &TcpSegment<&[u8]>, stale: &Stale) -> bool {
        let behind = stale.recent.wrapping_sub(stale.tsval);
        if behind <= 1 {
            return true;
        }
        let (seq, ack) = (SeqNum(seg.seq), SeqNum(seg.ack));
        let pure_ack = seg.flags.ack && seg.seg_len() == 0 && seq == self.rcv_nxt;
        let window = u32::from(seg.window) << self.snd_shift;
        let may_update_window = ack > self.snd_una
            || seq > self.snd_wl1
            || (seq == self.snd_wl1 && (window > self.snd_wnd || window == 0));
        // tcp_tsval_replay: the RTO in timestamp ticks (1 ms), and a fifth more.
        let replay = (self.rtt.rto.as_nanos() / 1_000_000 * 12 / 10) as u32;
        pure_ack && ack == self.snd_una && !may_update_window && behind <= replay
    }

    /// In a simultaneous open, the peer's SYN-ACK reaching us in SYN-RECEIVED: its SYN is
    /// the one we have, its ACK is of our SYN. RFC 9293's figure 8 (§3.5) takes it to
    /// ESTABLISHED, though the acceptability test alone would drop it; Linux passes it so
    /// (`tcp_validate_incoming`), reporting the SYN it already had as a D-SACK.
    pub(super) fn crossing_syn_ack(&self, seg: &TcpSegment<&[u8]>) -> bool {
        self.state == TcpState::SynReceived
            && self.listener.is_none()
            && seg.flags.syn
            && seg.flags.ack
            && seg.payload.is_empty()
            && SeqNum(seg.seq) + 1 == self.rcv_nxt
            && SeqNum(seg.ack) == self.snd_max
    }

    /// First: check the sequence number.
    pub(super) fn check_sequence(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
    ) -> ControlFlow<()> {
        let seq = SeqNum(seg.seq);
        if self.acceptable(seq, seg.seg_len()) {
            return ControlFlow::Continue(());
        }
        if self.crossing_syn_ack(seg) {
            if self.sack_ok {
                // RFC 2883 §4: the SYN came twice.
                self.sack_rx.duplicate((seq, seq + 1));
            }
            self.ack_now = true;
            return ControlFlow::Continue(());
        }
        if self.state == TcpState::TimeWait
            && seg.flags.fin
            && !seg.flags.rst
            && seq + seg.seg_len() == self.rcv_nxt
        {
            // "The only thing that can arrive in this state is a retransmission of the
            // remote FIN. Acknowledge it, and restart the 2 MSL timeout."
            self.ack_now = true;
            self.timers
                .set(Timer::TimeWait, ctx.now + Time(2 * self.msl.0));
            ctx.note(self.id, TcpNote::FinInTimeWait);
            return ControlFlow::Break(());
        }
        if seg.flags.rst {
            return ControlFlow::Break(());
        }
        // "If an incoming segment is not acceptable, an acknowledgment should be sent in
        // reply (unless the RST bit is set)."
        self.answer_out_of_window(ctx, seg, Answer::Duplicate);
        if seg.seg_len() > 0 && self.rcv_wnd() == 0 && seq == self.rcv_nxt {
            ctx.note(self.id, TcpNote::OurWindowZero);
        } else if seg.seg_len() > 0 && seq + seg.seg_len() <= self.rcv_nxt {
            if self.sack_ok && !seg.payload.is_empty() {
                // RFC 2883 §4: tell the sender what came twice.
                self.sack_rx
                    .duplicate((seq, seq + seg.payload.len() as u32));
            }
            let what = TcpNote::DuplicateSegment {
                first: seq.0,
                end: (seq + seg.seg_len()).0,
                rcv_nxt: self.rcv_nxt.0,
            };
            ctx.note(self.id, what);
        }
        ControlFlow::Break(())
    }

    /// How far before SND.UNA an ACK may be and still belong to the connection (RFC 5961
    /// §5.2's MAX.SND.WND). Linux counts no further back than the data acknowledged so
    /// far (`tcp_ack`: an ACK of octets never sent is no old ACK), so on a connection that
    /// has sent nothing every ACK below SND.UNA is challenged.
    pub(super) fn old_ack_reach(&self) -> u32 {
        match self.tuning.profile {
            Profile::Rfc => self.max_snd_wnd,
            Profile::Linux => self.max_snd_wnd.min(self.bytes_acked()),
        }
    }

    /// Answer a segment we do not accept (outside the window, stale, or a challenge, RFC
    /// 5961) with an ACK. Under the Linux profile one without data is answered at most every
    /// 500 ms (`tcp_oow_rate_limited`, `tcp_invalid_ratelimit`): two ends that disagree
    /// about the connection would otherwise ACK each other's ACKs forever (RFC 5961 §7
    /// asks for a limit on challenge ACKs too).
    pub(super) fn answer_out_of_window(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        kind: Answer,
    ) {
        // Linux exempts data (no ACK loop is made of data), but not from challenge ACKs.
        let limited = self.tuning.profile == Profile::Linux
            && (kind == Answer::Challenge || seg.seg_len() == 0 || seg.flags.syn);
        if limited {
            if let Some(last) = self.last_oow_ack.filter(|&t| ctx.now - t < OOW_RATE_LIMIT) {
                let ago = ctx.now - last;
                let limit = OOW_RATE_LIMIT;
                ctx.note(self.id, TcpNote::AckRateLimited { ago, limit });
                return;
            }
            self.last_oow_ack = Some(ctx.now);
        }
        self.ack_now = true;
    }

    /// Second: check the RST bit.
    pub(super) fn check_rst(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.rst {
            return ControlFlow::Continue(());
        }
        let seq = SeqNum(seg.seq);
        if seq != self.rcv_nxt {
            // RFC 5961 §3.2, adopted by RFC 9293 §3.10.7.4: an in-window RST that is not
            // exactly at RCV.NXT may be forged; answer with a challenge ACK.
            self.answer_out_of_window(ctx, seg, Answer::Challenge);
            let (seq, rcv_nxt) = (seq.0, self.rcv_nxt.0);
            ctx.note(self.id, TcpNote::ChallengeRst { seq, rcv_nxt });
        } else {
            self.reset_by_peer(ctx);
        }
        ControlFlow::Break(())
    }

    /// Fourth: check the SYN bit.
    pub(super) fn check_syn(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.syn || self.crossing_syn_ack(seg) {
            return ControlFlow::Continue(());
        }
        if self.state == TcpState::SynReceived && self.listener.is_some() {
            self.set_state(ctx, TcpState::Closed, Rule::SynReceivedSyn);
            return ControlFlow::Break(());
        }
        // RFC 5961 §4.2: a SYN in a synchronised state gets a challenge ACK.
        self.answer_out_of_window(ctx, seg, Answer::Challenge);
        ctx.note(self.id, TcpNote::ChallengeSyn);
        ControlFlow::Break(())
    }

    /// Fifth: check the ACK field.
    pub(super) fn check_ack(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>) -> ControlFlow<()> {
        if !seg.flags.ack {
            return ControlFlow::Break(());
        }
        let ack = SeqNum(seg.ack);
        match self.state {
            TcpState::SynReceived if self.snd_una < ack && ack <= self.snd_max => {
                self.snd_wnd = u32::from(seg.window) << self.snd_shift;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = SeqNum(seg.seq);
                self.snd_wl2 = ack;
                self.take_ack(ctx, ack, seg.timestamps);
                self.ack_taken();
                self.set_state(ctx, TcpState::Established, Rule::SynReceivedAck);
            }
            TcpState::SynReceived => {
                self.push(ctx, rst_for(seg));
                return ControlFlow::Break(());
            }
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait
            | TcpState::Closing
            | TcpState::LastAck => return self.synchronized_ack(ctx, seg, ack),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// The fifth step in the synchronised states: new data acknowledged, the window, a
    /// duplicate ACK, and the ACK of our FIN.
    pub(super) fn synchronized_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        ack: SeqNum,
    ) -> ControlFlow<()> {
        if ack > self.snd_max {
            // It acknowledges something not yet sent: ACK and drop.
            self.ack_now = true;
            return ControlFlow::Break(());
        }
        let reach = self.old_ack_reach();
        if ack < self.snd_una - reach.max(u32::from(self.tuning.profile == Profile::Rfc)) {
            // RFC 5961 §5.2, adopted by RFC 9293 §3.10.7.4: an ACK older than any window we
            // were offered is not from this connection's past; a blind injection, maybe.
            self.answer_out_of_window(ctx, seg, Answer::Challenge);
            let (ack, snd_una) = (ack.0, self.snd_una.0);
            ctx.note(
                self.id,
                TcpNote::OldAck {
                    ack,
                    snd_una,
                    reach,
                },
            );
            return ControlFlow::Break(());
        }
        // RFC 5681 §2: a duplicate ACK acknowledges nothing new, carries no data, no SYN or
        // FIN, leaves the window alone, while data is outstanding.
        let duplicate = ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.fin
            && self.snd_max != self.snd_una
            && u32::from(seg.window) << self.snd_shift == self.snd_wnd
            && self.snd_wnd != 0;
        let una_before = self.snd_una;
        let advanced = una_before < ack;
        // SACKed octets that this ACK now covers were delivered when they were SACKed.
        let sacked_below = if advanced { self.sacked_before(ack) } else { 0 };
        if advanced {
            self.take_ack(ctx, ack, seg.timestamps);
        }
        self.update_window(seg);
        if self.persisting && self.snd_wnd == 0 && self.tuning.profile == Profile::Linux {
            // Linux (`tcp_ack_probe`): an answer that keeps the window shut restarts the
            // probe timer from now, with the back-off it has reached.
            self.timers
                .set(Timer::Persist, ctx.now + self.persist_interval());
        }
        if self.sack_ok {
            let newly_acked = self.snd_una.since(una_before);
            self.sack_ack(ctx, seg, (newly_acked, sacked_below), duplicate);
        } else if duplicate {
            self.duplicate_ack(ctx, ack);
        }
        self.ack_taken();
        match self.state {
            TcpState::FinWait1 if self.fin_acked() => {
                self.set_state(ctx, TcpState::FinWait2, Rule::FinWait1Ack)
            }
            TcpState::Closing if self.fin_acked() => {
                self.set_state(ctx, TcpState::TimeWait, Rule::ClosingAck)
            }
            TcpState::LastAck if self.fin_acked() => {
                self.set_state(ctx, TcpState::Closed, Rule::LastAckAck);
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// Seventh: process the segment text. Continues with whether a FIN on the segment is
    /// covered (every octet before it taken or held).
    pub(super) fn check_text(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
    ) -> ControlFlow<(), bool> {
        let fin = seg.flags.fin;
        if !self.takes_text() || seg.payload.is_empty() {
            return ControlFlow::Continue(fin);
        }
        if self.orphaned {
            // RFC 9293 §3.10.4 leaves this open; like Linux (RFC 2525 §2.17), data for an
            // application that has closed is answered with RST: it would be lost.
            self.send_rst(ctx);
            self.set_state(ctx, TcpState::Closed, Rule::DataAfterClose);
            return ControlFlow::Break(());
        }
        let data_seq = SeqNum(seg.seq) + u32::from(seg.flags.syn);
        ControlFlow::Continue(fin & self.take_text(ctx, data_seq, seg.payload))
    }

    /// The states in which segment text is delivered.
    pub(super) fn takes_text(&self) -> bool {
        matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }

    /// Eighth: check the FIN bit.
    pub(super) fn check_fin(&mut self, ctx: &mut Ctx, seg: &TcpSegment<&[u8]>, fin_covered: bool) {
        if fin_covered && self.takes_text() {
            let data_seq = SeqNum(seg.seq) + u32::from(seg.flags.syn);
            self.peer_fin_seq = Some(data_seq + seg.payload.len() as u32);
        }
        if seg.flags.fin && matches!(self.state, TcpState::CloseWait | TcpState::LastAck) {
            self.ack_now = true; // a retransmitted FIN we already have
        }
        if self.peer_fin || self.peer_fin_seq != Some(self.rcv_nxt) {
            return;
        }
        self.rcv_nxt = self.rcv_nxt + 1;
        self.peer_fin = true;
        let delays = self.delayed_ack && !self.options.quickack;
        match self.state {
            TcpState::SynReceived | TcpState::Established => {
                // Linux: the ACK of the peer's FIN waits (interactive mode), so that it can
                // ride on our own FIN if the application closes within the ACK timeout.
                self.ack_clock.fin_arrived();
                if delays && (!self.ack_now || self.quick_ack_pending) {
                    self.ack_now = false;
                    self.delay_ack(ctx.now);
                } else {
                    self.ack_now = true;
                }
                self.set_state(ctx, TcpState::CloseWait, Rule::EstablishedFin)
            }
            TcpState::FinWait1 if self.fin_acked() => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::TimeWait, Rule::FinWait1FinAcked)
            }
            TcpState::FinWait1 => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::Closing, Rule::SimultaneousClose)
            }
            TcpState::FinWait2 => {
                self.ack_now = true;
                self.set_state(ctx, TcpState::TimeWait, Rule::FinWait2Fin)
            }
            _ => self.ack_now = true,
        }
    }

    /// RFC 9293 §3.10.7.4, seventh step: deliver in-order text, hold out-of-order text for
    /// reassembly, and decide how soon to acknowledge. Returns whether every octet of the
    /// segment was taken or held (so that a FIN on it counts).
    pub(super) fn take_text(&mut self, ctx: &mut Ctx, data_seq: SeqNum, payload: &[u8]) -> bool {
        let window_end = self.rcv_nxt + self.rcv_wnd();
        if data_seq > self.rcv_nxt {
            return self.hold_ahead(ctx, (data_seq, payload), window_end);
        }
        let skip = self.rcv_nxt.since(data_seq) as usize;
        let fresh = &payload[skip.min(payload.len())..];
        let room = (self.rcv_space() as usize).min(window_end.since(self.rcv_nxt) as usize);
        let take = fresh.len().min(room);
        if skip > 0 && self.sack_ok {
            let twice = skip.min(payload.len()) as u32;
            self.sack_rx.duplicate((data_seq, data_seq + twice));
        }
        if skip > 0 {
            let (old, new) = (skip.min(payload.len()), fresh.len());
            ctx.note(self.id, TcpNote::PartlyDuplicate { old, new });
        }
        self.recv_buf.push(&fresh[..take]);
        self.rcv_nxt = self.rcv_nxt + take as u32;
        self.grow_receive_window(take);
        let had_gap = !self.reassembly.is_empty();
        if had_gap {
            let room = self.rcv_space() as usize;
            let moved = self
                .reassembly
                .pop_ready(self.rcv_nxt, &mut self.recv_buf, room);
            self.rcv_nxt = self.rcv_nxt + moved;
            self.sack_rx.forget_below(self.rcv_nxt);
            if moved > 0 {
                let rcv_nxt = self.rcv_nxt.0;
                ctx.note(self.id, TcpNote::GapFilled { moved, rcv_nxt });
            }
        }
        // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap; otherwise ACK
        // at least every second full-sized segment, and never later than the delay; at once
        // too in Linux's quick-ACK mode (see `delack`).
        if !fresh.is_empty() {
            self.ack_clock
                .data_arrived(ctx.now, self.rtt.rto, self.rcv_wnd());
        }
        if had_gap {
            self.ack_clock.enter_quick(self.rcv_wnd());
        }
        if had_gap || take < fresh.len() || !self.delayed_ack || self.options.quickack {
            self.ack_now = true;
        } else if self.ack_clock.quick() {
            self.ack_now = true;
            self.quick_ack_pending = true;
        } else {
            self.unacked_segments += 1;
            if self.unacked_segments >= 2 {
                self.ack_now = true;
            } else {
                self.delay_ack(ctx.now);
            }
        }
        take == fresh.len()
    }

    /// Text ahead of a gap (RFC 9293 §3.10.7.4 seventh step, RFC 5681 §4.2): what fits in
    /// the window up to `window_end` is held for reassembly, SACK told, and the duplicate ACK
    /// sent as Linux sends it. Whether every octet of it was held.
    fn hold_ahead(
        &mut self,
        ctx: &mut Ctx,
        (seq, payload): (SeqNum, &[u8]),
        window_end: SeqNum,
    ) -> bool {
        let fits = (window_end.since(seq) as usize).min(payload.len());
        let inserted = self.reassembly.insert(self.rcv_nxt, seq, &payload[..fits]);
        if self.sack_ok {
            self.sack_rx.arrived(seq);
            if inserted.new == 0 && fits > 0 {
                self.sack_rx.duplicate((seq, seq + fits as u32));
            }
        }
        let what = TcpNote::HeldAhead {
            first: seq.0,
            end: (seq + payload.len() as u32).0,
            rcv_nxt: self.rcv_nxt.0,
            new: inserted.new,
            duplicate: inserted.duplicate,
            ack: self.ack_out_of_order(ctx.now),
        };
        ctx.note(self.id, what);
        fits == payload.len()
    }

    /// The ACK of a segment held out of order, and how it goes. RFC 5681 §4.2: a
    /// duplicate ACK at once. Linux with SACK: at once in quick-ACK mode and for the first
    /// three for one RCV.NXT, then compressed (see `delack`).
    pub(super) fn ack_out_of_order(&mut self, now: Time) -> OutOfOrderAck {
        if self.tuning.profile != Profile::Linux || !self.sack_ok {
            self.ack_clock.enter_quick(self.rcv_wnd());
            self.ack_now = true;
            return OutOfOrderAck::AtOnce;
        }
        if self.ack_clock.quick() {
            self.ack_now = true;
            return OutOfOrderAck::QuickAck;
        }
        let rtt = self.receiver_rtt();
        match self.sack_compression.held(now, self.rcv_nxt, rtt) {
            None => {
                self.ack_now = true;
                OutOfOrderAck::FirstThree
            }
            Some(at) => {
                self.timers.start_unless_running(Timer::CompressedAck, at);
                OutOfOrderAck::Compressed
            }
        }
    }

    /// The round trip SACK compression goes by: Linux takes the smaller of its receiver
    /// estimate and the smoothed RTT, when it has one.
    pub(super) fn receiver_rtt(&self) -> Time {
        match self.rtt.srtt {
            Some(srtt) if srtt > Time::ZERO => srtt.min(self.receiver_rtt_estimate()),
            _ => self.receiver_rtt_estimate(),
        }
    }

    /// Linux's receiver estimate of the round trip: with timestamps, from their echo, in
    /// whole ticks of 1 ms and never less than one (`tcp_rcv_rtt_measure_ts`); without, the
    /// round trip measured.
    pub(super) fn receiver_rtt_estimate(&self) -> Time {
        let srtt = self.rtt.srtt.unwrap_or(Time::ZERO);
        if !self.ts.on {
            return srtt;
        }
        let tick = Time::from_millis(1).as_nanos();
        Time(srtt.as_nanos().div_ceil(tick).max(1) * tick)
    }

    /// Owe an ACK, sent within the ACK timeout unless something goes out sooner.
    pub(super) fn delay_ack(&mut self, now: Time) {
        let at = now + self.ack_clock.timeout();
        self.timers.start_unless_running(Timer::DelayedAck, at);
    }

    /// RFC 9293 §3.10.7.4, second step: an acceptable RST.
    pub(super) fn reset_by_peer(&mut self, ctx: &mut Ctx) {
        let rule = match self.state {
            TcpState::SynReceived if self.listener.is_some() => {
                // "Return this connection to LISTEN state": the listener listens on, and
                // this half-open TCB, which was its offshoot, goes.
                self.set_state(ctx, TcpState::Listen, Rule::SynReceivedRstPassive);
                self.state = TcpState::Closed;
                self.timers.stop_all_but(None);
                return;
            }
            TcpState::SynReceived => {
                self.error = Some(SocketError::ConnectionRefused);
                Rule::SynReceivedRstActive
            }
            // Linux's tcp_reset: a peer that has said it is done and then resets leaves
            // EPIPE for the next call; anywhere else, ECONNRESET.
            TcpState::CloseWait => {
                self.error = Some(SocketError::BrokenPipe);
                self.send_buf.clear();
                Rule::Reset
            }
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                self.error = Some(SocketError::ConnectionReset);
                self.send_buf.clear();
                Rule::Reset
            }
            _ => Rule::ClosingReset,
        };
        self.set_state(ctx, TcpState::Closed, rule);
    }
}
