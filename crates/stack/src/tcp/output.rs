//! Output (RFC 9293 §3.8.6, §3.10.2): what may be sent now and how it is cut into
//! segments: the send buffer, Nagle, cork, PSH, TSO-sized chunks, pacing, and the timers
//! that sending arms.

use super::*;

impl Tcb {
    /// Sequence number of the first octet in `send_buf`.
    pub(super) fn buf_seq(&self) -> SeqNum {
        if self.syn_acked() {
            self.snd_una
        } else {
            self.iss + 1
        }
    }

    /// Room left in the send buffer, as `poll` reports it: octets, or, as Linux counts
    /// memory once SO_SNDBUF is set, none until the free memory is half the memory queued
    /// (`tcp_poll`'s `__sk_stream_is_writeable`).
    pub fn send_space(&self) -> usize {
        match &self.send_mem {
            Some(mem) if !mem.writable() => 0,
            _ => self.accept_len(usize::MAX),
        }
    }

    /// How much of a write of `len` octets is queued now.
    pub fn accept_len(&self, len: usize) -> usize {
        match &self.send_mem {
            Some(mem) => mem.room(len, self.queue_shape()),
            None => (self.snd_buf_cap as usize)
                .saturating_sub(self.send_buf.len())
                .min(len),
        }
    }

    /// A write found no room for all it had: under Linux's accounting it waits to be woken.
    pub fn write_blocked(&mut self) {
        if let Some(mem) = &mut self.send_mem {
            mem.block();
        }
    }

    /// Where a write lands, for the send-buffer accounting.
    pub(super) fn queue_shape(&self) -> Queue {
        Queue {
            end: self.buf_seq() + self.send_buf.len() as u32,
            unsent_from: self.snd_max,
            goal: self.size_goal(),
            push: self.push_allowance(),
        }
    }

    /// Linux's `size_goal` (`tcp_xmit_size_goal`): the octets one buffer takes, whole
    /// segments up to half the largest window the peer offered, at most 64 KiB.
    pub(super) fn size_goal(&self) -> u32 {
        let mss = u32::from(self.segment_size().max(1));
        let half = if self.max_snd_wnd > 536 {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        };
        (half.min(65_536) / mss * mss).max(mss)
    }

    /// What a write may send while it copies (`tcp_push_one`): a TSO chunk at a time, in
    /// all what cwnd and the peer's window allow.
    pub(super) fn push_allowance(&self) -> Push {
        if !self.may_send_data() {
            return Push { chunk: 0, quota: 0 };
        }
        let mss = u32::from(self.segment_size().max(1));
        let flight = self.snd_nxt.since(self.snd_una);
        let room = self.cc.cwnd.min(self.snd_wnd).saturating_sub(flight);
        let segs = self.tso_segs().unwrap_or(1);
        Push {
            chunk: segs * mss,
            quota: room / mss * mss,
        }
    }

    /// The accounting for SO_SNDBUF = `asked`, holding what is queued already.
    pub(super) fn memory_for(&self, asked: u32) -> SendMemory {
        let mut mem = SendMemory::new(asked);
        let start = self.buf_seq();
        let queue = Queue {
            end: start,
            unsent_from: start,
            goal: self.size_goal(),
            push: Push { chunk: 0, quota: 0 },
        };
        mem.add(self.send_buf.len() as u32, queue);
        mem.sent(self.snd_max);
        mem
    }

    pub(super) fn segment(
        &mut self,
        now: Time,
        seq: SeqNum,
        flags: TcpFlags,
        payload: Vec<u8>,
    ) -> TcpSegment {
        let window = self.advertise(flags.syn);
        if flags.ack {
            // Any segment carrying an ACK sends the delayed (or compressed) one along.
            self.timers.stop(Timer::DelayedAck);
            self.timers.stop(Timer::CompressedAck);
            self.sack_compression.ack_sent();
            self.unacked_segments = 0;
            self.ack_clock.ack_sent();
            self.ts.last_ack_sent = self.rcv_nxt;
        }
        let sack = if flags.ack && !flags.syn && !flags.rst && self.sack_ok {
            self.sack_blocks(payload.len())
        } else {
            SackBlocks::default()
        };
        TcpSegment {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags.ack { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            mss: flags.syn.then_some(self.our_mss),
            window_scale: (flags.syn && self.offer_window_scale).then(|| self.offered_shift()),
            sack_permitted: flags.syn && self.sack_ok,
            sack,
            timestamps: self.ts.option(now),
            other_options: Vec::new(),
            payload,
            checksum_ok: true,
        }
    }

    /// The SACK blocks for an ACK (RFC 2018 §4): while data is held out of order or a
    /// duplicate is to be reported, as many as fit in the option space beside the payload.
    pub(super) fn sack_blocks(&mut self, payload: usize) -> SackBlocks {
        if self.reassembly.is_empty() && !self.sack_rx.has_dsack() {
            return SackBlocks::default();
        }
        // 40 octets of options: NOP, NOP, kind, length and 8 per block, beside timestamps.
        let most = if self.ts.on { 3 } else { SackBlocks::MAX };
        let room = usize::from(self.send_mss).saturating_sub(payload + 4) / 8;
        let held = self.reassembly.blocks();
        self.sack_rx.blocks(&held, most.min(room))
    }

    pub(super) fn push(&self, ctx: &mut Ctx, seg: TcpSegment) {
        ctx.segments.push(Outbound {
            src: self.local.ip(),
            dst: self.remote.ip(),
            seg,
            ttl: self.options.ttl.unwrap_or(DEFAULT_TTL),
        });
    }

    /// SYN, with ACK once the peer's SYN has arrived (a SYN+ACK, also when resent after a
    /// close() in SYN-RECEIVED).
    pub(super) fn syn_flags(&self) -> TcpFlags {
        TcpFlags {
            syn: true,
            ack: self.state != TcpState::SynSent,
            ..TcpFlags::default()
        }
    }

    /// Send our SYN (active open) or SYN+ACK (passive open), at ISS.
    pub fn send_syn(&mut self, ctx: &mut Ctx) {
        let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
        self.push(ctx, seg);
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.retries == 0 {
            self.rtt_probe = Some((self.iss, self.snd_nxt, ctx.now));
        }
        self.timers
            .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
    }

    /// Reset the connection (RFC 9293 §3.10.5: `<SEQ=SND.NXT><CTL=RST>`), with an ACK of
    /// what arrived as Linux's `tcp_send_active_reset` adds (tcpdump shows `[R.]`).
    pub fn send_rst(&mut self, ctx: &mut Ctx) {
        let flags = TcpFlags {
            rst: true,
            ack: self.state != TcpState::SynSent,
            ..TcpFlags::default()
        };
        let seg = self.segment(ctx.now, self.snd_max, flags, Vec::new());
        self.push(ctx, seg);
    }

    /// Take the options of the peer's SYN: MSS (RFC 9293 §3.7.1), window scale (RFC 7323
    /// §2.2: scaling is on only if both SYNs carry the option), SACK-permitted (RFC 2018
    /// §2) and timestamps (RFC 7323 §3.2), each on only if both SYNs carry it.
    pub fn take_syn_options(&mut self, now: Time, seg: &TcpSegment<&[u8]>) {
        self.sack_ok &= seg.sack_permitted;
        self.ts.take_syn(now, seg.timestamps);
        let mss = seg.mss.unwrap_or(DEFAULT_MSS).min(self.our_mss).max(1);
        // RFC 6691: the MSS counts no options, so the 12 octets of timestamps on every
        // segment come out of the data.
        self.send_mss = if self.ts.on {
            mss.saturating_sub(TIMESTAMPS_LEN).max(1)
        } else {
            mss
        };
        match seg.window_scale {
            Some(shift) if self.offer_window_scale => {
                self.snd_shift = shift.min(MAX_WINDOW_SHIFT);
                self.rcv_shift = self.offered_shift();
            }
            _ => {
                self.offer_window_scale = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.cc = Congestion::new(self.send_mss, self.iss, self.tuning);
    }

    /// Copy `len` octets of `send_buf` starting `offset` octets in.
    pub(super) fn payload(&self, offset: usize, len: usize) -> Vec<u8> {
        self.send_buf.slice(offset, len).to_vec()
    }

    pub(super) fn may_send_data(&self) -> bool {
        // RFC 9293 §3.10.2: data sent in SYN-RECEIVED waits for ESTABLISHED, the ACK of our
        // SYN; so it does after a close() there took us to FIN-WAIT-1, as Linux's does. A
        // close() there with nothing queued sends its FIN at once (§3.10.4).
        let fin_alone = self.state == TcpState::FinWait1 && self.send_buf.is_empty();
        (self.syn_acked() || fin_alone)
            && matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::Closing
                    | TcpState::LastAck
            )
    }

    /// Send one segment of up to `max` octets at `seq` (which is at or after SND.UNA), with
    /// the FIN if it fits. Returns the sequence space used.
    pub(super) fn send_at(&mut self, ctx: &mut Ctx, seq: SeqNum, max: usize) -> u32 {
        // Before the buffer lies only our SYN, which its own timer resends (found by fuzzing:
        // SACK blocks on a connection whose SYN was not yet acknowledged started a recovery).
        if seq < self.buf_seq() {
            return 0;
        }
        let offset = seq.since(self.buf_seq()) as usize;
        let available = self.send_buf.len().saturating_sub(offset);
        let len = available.min(max);
        let fin = self.fin_seq == Some(seq + len as u32);
        let payload = self.payload(offset, len);
        let flags = TcpFlags {
            ack: true,
            psh: len > 0 && len == available && self.tail_pushed,
            fin,
            ..TcpFlags::default()
        };
        if len > 0 {
            self.ack_clock.data_sent(ctx.now);
            self.last_data_sent = Some(ctx.now);
        }
        let seg = self.segment(ctx.now, seq, flags, payload);
        self.push(ctx, seg);
        let used = len as u32 + u32::from(fin);
        if self.sack_ok && used > 0 {
            self.rack.sent(seq, seq + used, ctx.now, self.snd_max);
        }
        used
    }

    /// Send what the windows and Nagle allow, then a bare ACK if one is owed, then set the
    /// timers (RFC 9293 §3.8.6, RFC 1122 §4.2.3.4, RFC 5681 §3.1, RFC 6298 §5.1).
    pub fn output(&mut self, ctx: &mut Ctx) {
        let may_send = self.may_send_data();
        if may_send && self.snd_wnd > 0 && self.unsent() > 0 {
            self.restart_if_idle(ctx);
        }
        let (first, chunk) = (ctx.segments.len(), self.tso_segs());
        if may_send {
            loop {
                let offset = self.snd_nxt.since(self.buf_seq()) as usize;
                if self.fin_seq.is_some_and(|f| self.snd_nxt > f) {
                    break; // everything, FIN included, has been sent
                }
                if self.snd_nxt < self.snd_max && self.skip_sacked(ctx) {
                    continue;
                }
                let unsent = self.send_buf.len().saturating_sub(offset);
                let flight = self.snd_nxt.since(self.snd_una);
                // RFC 3042: the first two duplicate ACKs each let one new segment out.
                let window = self.snd_wnd.min(self.cc.cwnd + self.cc.limited_transmit());
                let room = window.saturating_sub(flight) as usize;
                let mss = usize::from(self.segment_size());
                let len = unsent.min(mss).min(room).min(self.until_sacked());
                let fin = self.fin_seq == Some(self.snd_nxt + len as u32) && (len > 0 || room > 0);
                if len == 0 && !fin {
                    break;
                }
                let resending = self.snd_nxt < self.snd_max;
                if !(fin || resending || self.worth_sending(len, (unsent, mss, room), flight)) {
                    break;
                }
                let start = self.snd_nxt;
                let used = self.send_at(ctx, start, len);
                self.book_sent(ctx.now, (start, used), mss, resending);
            }
        }
        Self::mark_chunks(ctx, first, chunk);
        if let Some(mem) = &mut self.send_mem {
            // Linux cuts its buffers where each chunk ends.
            for out in &ctx.segments[first..] {
                let seg = &out.seg;
                if seg.flags.psh && !seg.payload.is_empty() {
                    mem.sent(SeqNum(seg.seq) + seg.payload.len() as u32);
                }
            }
            mem.sent(self.snd_max);
        }
        self.note_flight();
        if self.ack_now {
            self.ack_now = false;
            let flags = TcpFlags {
                ack: true,
                ..TcpFlags::default()
            };
            let seg = self.segment(ctx.now, self.snd_nxt, flags, Vec::new());
            self.push(ctx, seg);
        }
        self.set_send_timers(ctx);
        self.more_now = false;
        self.arm_keepalive();
    }

    /// Whether `len` new octets go now, of `unsent` queued, with `room` in the windows and
    /// `flight` octets in flight. RFC 1122 §4.2.3.4 (with RFC 9293 §3.8.6.2.1's SWS
    /// avoidance): a full segment, or everything queued when nothing is unacknowledged
    /// (Nagle) or Nagle is off, or at least half the largest window the peer offered. With
    /// nothing in flight no ACK will come to change matters, so a window smaller than all
    /// that fits is used as it is (RFC 1122's override).
    fn worth_sending(
        &self,
        len: usize,
        (unsent, mss, room): (usize, usize, usize),
        flight: u32,
    ) -> bool {
        // Linux (Minshall): only a small segment still unacknowledged holds back another,
        // not a full one.
        let minshall = self.tuning.profile == Profile::Linux && self.snd_sml <= self.snd_una;
        let idle_or_nodelay = flight == 0 || self.options.nodelay || minshall;
        // Linux's TCP_CORK and MSG_MORE (`tcp_nagle_check`): only full segments (and a FIN)
        // go; the probe timer sends what is held.
        let corked = self.holds_partial();
        len == mss
            || (len == unsent && idle_or_nodelay && !corked)
            || (len as u32 >= self.max_snd_wnd / 2 && idle_or_nodelay && !corked)
            || (flight == 0 && len == room && !corked)
    }

    /// Book `used` octets sent from `start` at `now`: Karn's rule and the count for a resent
    /// one (RFC 6298 §3), SND.NXT, the last small segment (Minshall), SND.MAX and the RTT
    /// probe for new data.
    fn book_sent(&mut self, now: Time, (start, used): (SeqNum, u32), mss: usize, resending: bool) {
        if resending {
            self.karn(start, start + used);
            self.retransmissions += 1;
        }
        self.snd_nxt = self.snd_nxt + used;
        if (used as usize) < mss {
            self.snd_sml = self.snd_sml.max(self.snd_nxt);
        }
        if self.snd_nxt > self.snd_max {
            self.probe_rearm = true;
            self.snd_max = self.snd_nxt;
            if self.rtt_probe.is_none() && !resending {
                self.rtt_probe = Some((start, self.snd_nxt, now));
            }
        }
        self.ack_now = false;
    }

    /// TCP_CORK, or MSG_MORE on the write being pushed: partial segments wait.
    pub(super) fn holds_partial(&self) -> bool {
        (self.options.cork || self.more_now) && !self.push_held
    }

    /// Under the Linux profile, PSH as a Linux sender's wire shows it: the segments sent
    /// since `first` go out in TSO chunks of `tso_segs`, runs of contiguous data, and the
    /// last segment of each chunk of two or more carries PSH (a single segment only when it
    /// empties the queue, as `send_at` marks it).
    pub(super) fn mark_chunks(ctx: &mut Ctx, first: usize, chunk: Option<u32>) {
        let Some(chunk) = chunk else {
            return;
        };
        let mut run = 0;
        let mut end = None;
        for i in first..ctx.segments.len() {
            let seg = &ctx.segments[i].seg;
            let len = seg.payload.len() as u32;
            if len == 0 {
                continue;
            }
            if end != Some(seg.seq) || run == chunk {
                run = 0;
            }
            run += 1;
            end = Some(seg.seq.wrapping_add(len));
            let next_joins = ctx.segments[i + 1..]
                .iter()
                .find(|o| !o.seg.payload.is_empty())
                .is_some_and(|o| Some(o.seg.seq) == end);
            if run >= 2 && (run == chunk || !next_joins) {
                ctx.segments[i].seg.flags.psh = true;
            }
        }
    }

    /// Under the Linux profile, how many segments Linux sends as one TSO chunk: about a
    /// millisecond at the pacing rate (`tcp_tso_autosize`: twice cwnd per SRTT in slow
    /// start, 1.2 times after; more on a path of under 16 ms; at most 64 KiB; at least
    /// `tcp_min_tso_segs`), and no more than half the congestion window
    /// (`tcp_cwnd_test`).
    pub(super) fn tso_segs(&self) -> Option<u32> {
        if self.tuning.profile != Profile::Linux {
            return None;
        }
        const GSO_MAX: u64 = 65_536;
        let mss = u64::from(self.segment_size().max(1));
        let half_cwnd = (self.cc.cwnd / mss as u32 / 2).max(1);
        let Some(srtt) = self.rtt.srtt.filter(|t| t.as_nanos() > 0) else {
            return Some(((GSO_MAX / mss) as u32).min(half_cwnd));
        };
        let rate = self
            .pacing_rate
            .unwrap_or_else(|| self.pacing_rate_now(srtt));
        let mut bytes = rate >> 10;
        let min_rtt_us = self.rack.min_rtt().unwrap_or(srtt).as_nanos() / 1_000;
        let shift = min_rtt_us >> 9;
        if shift < 64 {
            bytes += GSO_MAX >> shift;
        }
        let autosize = ((bytes.min(GSO_MAX) / mss) as u32).max(self.tuning.min_tso_segs);
        Some(autosize.min(half_cwnd))
    }

    /// Linux's `tcp_update_pacing_rate`, in octets per second: twice cwnd per SRTT in slow
    /// start, 1.2 times after, of the larger of cwnd and the packets out (so a recovery's
    /// small cwnd does not shrink the chunks of a large flight).
    pub(super) fn pacing_rate_now(&self, srtt: Time) -> u64 {
        let ratio = if self.cc.cwnd < self.cc.ssthresh / 2 {
            200
        } else {
            120
        };
        let out = self.cc.cwnd.max(self.snd_max.since(self.snd_una));
        u64::from(out) * ratio / 100 * 1_000_000_000 / srtt.as_nanos().max(1)
    }

    /// Linux sets the pacing rate as each ACK has been taken (`tcp_cong_control`), so a
    /// cwnd changed later, by a restart after idle, sizes chunks only from the next ACK.
    pub(super) fn ack_taken(&mut self) {
        if self.tuning.profile == Profile::Linux {
            self.pacing_rate = self.rtt.srtt.map(|srtt| self.pacing_rate_now(srtt));
        }
    }

    /// Resending after a timeout: step over a range the peer has SACKed since (RFC 6675
    /// §5.1). Returns whether SND.NXT moved.
    pub(super) fn skip_sacked(&mut self, ctx: &mut Ctx) -> bool {
        let Some(end) = self.scoreboard.sacked_end_at(self.snd_nxt) else {
            return false;
        };
        let (from, to) = (self.snd_nxt, end.min(self.snd_max));
        self.snd_nxt = to;
        self.recovery_event(ctx, Recovery::SkipSacked, Some((from, to)), None);
        true
    }

    /// Octets queued and never sent.
    pub(super) fn unsent(&self) -> usize {
        if self.snd_max < self.buf_seq() {
            return self.send_buf.len();
        }
        let sent = self.snd_max.since(self.buf_seq()) as usize;
        self.send_buf.len().saturating_sub(sent)
    }

    /// Octets from SND.NXT to the next SACKed range (no limit when there is none).
    pub(super) fn until_sacked(&self) -> usize {
        match self.scoreboard.next_sacked_start(self.snd_nxt) {
            Some(start) if self.snd_nxt < self.snd_max => start.since(self.snd_nxt) as usize,
            _ => usize::MAX,
        }
    }

    /// Octets (and FIN) queued and never sent.
    pub(super) fn pending(&self) -> bool {
        let end = self.buf_seq() + self.send_buf.len() as u32;
        self.snd_nxt < end || self.fin_seq.is_some_and(|f| self.snd_nxt <= f)
    }

    pub(super) fn set_send_timers(&mut self, ctx: &mut Ctx) {
        if matches!(self.state, TcpState::TimeWait | TcpState::Closed) {
            return;
        }
        let flight = self.snd_nxt.since(self.snd_una);
        let zero_window = self.state.is_synchronized()
            && self.snd_wnd == 0
            && (self.pending() || self.persisting)
            && flight <= u32::from(self.persisting);
        if zero_window {
            // RFC 9293 §3.8.6.1: with a zero window the sender must still probe, or a lost
            // window update would deadlock both sides. The persist timer does it.
            self.timers.stop(Timer::Retransmit);
            if !self.timers.is_running(Timer::Persist) {
                self.persisting = true;
                self.timers
                    .set(Timer::Persist, ctx.now + self.persist_interval());
            }
        } else if self.holding(flight) {
            // Linux's `tcp_check_probe_timer`: data held back by TCP_CORK or MSG_MORE with
            // nothing in flight leaves when the probe timer fires, after an RTO.
            self.persisting = false;
            self.timers
                .start_unless_running(Timer::Persist, ctx.now + self.rtt.rto);
        } else {
            self.persisting = false;
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
            if flight > 0 {
                self.timers
                    .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
            }
        }
        if std::mem::take(&mut self.probe_rearm) || flight == 0 {
            self.arm_probe(ctx.now);
        }
    }

    /// Whether a partial segment is held back by TCP_CORK or MSG_MORE with nothing in
    /// flight and the window open.
    pub(super) fn holding(&self, flight: u32) -> bool {
        self.state.is_synchronized()
            && self.holds_partial()
            && flight == 0
            && self.snd_wnd > 0
            && self.unsent() > 0
    }
}
