//! Timeouts (RFC 9293 §3.10.8): retransmission (RFC 6298), the tail loss probe and RACK's
//! reordering timer (RFC 8985), the persist timer's zero-window probes, the delayed ACK.

use super::*;

impl Tcb {
    /// RFC 8985 §7.2: after new data or an ACK of new data, the probe timeout starts again:
    /// 2·SRTT, plus the worst-case delayed ACK when one segment is out, and only if it
    /// comes before the RTO. It needs SACK, and waits while recovery or a probe is under way.
    pub(super) fn arm_probe(&mut self, now: Time) {
        let flight = self.snd_max.since(self.snd_una);
        let eligible = self.sack_ok
            && flight > 0
            && !self.cc.in_recovery
            && self.rack.probe().is_none()
            && self.retries == 0
            && self.may_send_data();
        // Beyond one segment Linux adds TCP_TIMEOUT_MIN (2 ms), so that an SRTT of almost
        // nothing does not fire a probe before any ACK can come.
        let pto = match self.rtt.srtt {
            Some(srtt) if flight <= u32::from(self.send_mss) => Time(2 * srtt.0) + WC_DEL_ACK,
            Some(srtt) => Time(2 * srtt.0) + PTO_MARGIN,
            None => Time::from_secs(1),
        };
        let rto = self.timers.get(Timer::Retransmit);
        let before_rto = rto.is_none_or(|rto| now + pto < rto);
        match rto {
            _ if !eligible => self.timers.stop(Timer::Probe),
            _ if before_rto => self.timers.set(Timer::Probe, now + pto),
            // Linux probes at the RTO's time instead of letting it fire
            // (`tcp_schedule_loss_probe`: the earlier of the two, one timer): the RTO then
            // runs again from the probe, not yet backed off.
            Some(rto) if self.tuning.profile == Profile::Linux => {
                self.timers.stop(Timer::Retransmit);
                self.timers.set(Timer::Probe, rto);
            }
            _ => self.timers.stop(Timer::Probe),
        }
    }

    /// The probe timeout expired (RFC 8985 §7.3): send one segment, new data if the windows
    /// allow, else the last segment again, so that its ACK (with SACK) shows what is
    /// missing; then the RTO runs.
    pub fn probe_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Probe);
        let flight = self.snd_max.since(self.snd_una);
        if flight == 0 || self.cc.in_recovery || !self.sack_ok {
            return;
        }
        // RFC 8985 §7.3: new data if the receive window allows it, whatever cwnd says
        // (Linux's tcp_send_loss_probe lets one segment past it).
        // Linux sends new data only if a whole segment of it fits the window
        // (tcp_snd_wnd_test); otherwise it resends the last segment.
        let room = self.snd_wnd.saturating_sub(flight);
        let whole = match self.tuning.profile {
            Profile::Linux => {
                let offset = self.snd_nxt.since(self.buf_seq()) as usize;
                let unsent = self.send_buf.len().saturating_sub(offset) as u32;
                unsent.min(u32::from(self.segment_size()))
            }
            Profile::Rfc => 1,
        };
        let new_data = self.snd_nxt == self.snd_max && self.pending() && room >= whole.max(1);
        let start;
        let used;
        if new_data {
            start = self.snd_nxt;
            used = self.send_new_segment(ctx);
        } else {
            start = self
                .rack
                .last_start()
                .unwrap_or(self.snd_una)
                .max(self.snd_una);
            let fin_sent = self.fin_seq.is_some_and(|f| f < self.snd_max);
            let len = self.snd_max.since(start) - u32::from(fin_sent);
            used = self.send_at(ctx, start, len as usize);
            self.karn(start, start + used);
            self.retransmissions += 1;
        }
        if used == 0 {
            // Nothing could go: the RTO, which the probe may have stood in for, runs.
            self.timers
                .start_unless_running(Timer::Retransmit, ctx.now + self.rtt.rto);
            return;
        }
        self.rack.probe_sent(Probe {
            start,
            end: self.snd_max,
            retransmitted: !new_data,
        });
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        self.recovery_event(
            ctx,
            Recovery::TailLossProbe,
            Some((start, start + used)),
            None,
        );
    }

    /// RACK's reordering timer expired (RFC 8985 §6.2 step 5): look again, and recover
    /// what it finds lost.
    pub fn reorder_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Reorder);
        if !self.rack_detect(ctx) {
            return;
        }
        if self.cc.in_recovery {
            self.sack_send(ctx);
        } else if self.snd_una >= self.cc.recover {
            self.enter_sack_recovery(ctx, u32::from(self.send_mss));
        } else {
            self.resend_lost_after_timeout(ctx);
        }
    }

    /// After a retransmission timeout, the resend from SND.UNA has passed a segment that
    /// RACK now marks lost: its retransmission was lost too (RFC 8985 §6.2 finds lost
    /// retransmissions). Resend it as soon as the congestion window allows, before new
    /// data, as Linux's loss state does (`tcp_xmit_retransmit_queue`), rather than wait for
    /// the next, doubled, timeout.
    pub(super) fn resend_lost_after_timeout(&mut self, ctx: &mut Ctx) {
        let smss = u32::from(self.send_mss);
        let mut pipe = self.pipe();
        for (a, b) in self.rack.lost_ranges() {
            let mut start = a;
            while start < b.min(self.snd_nxt) && self.cc.cwnd.saturating_sub(pipe) >= smss {
                let len = b.since(start).min(u32::from(self.segment_size()));
                let used = self.send_at(ctx, start, len as usize);
                if used == 0 {
                    return;
                }
                self.karn(start, start + used);
                self.retransmissions += 1;
                pipe += used;
                let range = Some((start, start + used));
                self.recovery_event(ctx, Recovery::RetransmitLost, range, Some(pipe));
                start = start + used;
            }
        }
        self.scoreboard.set_rack_lost(self.rack.lost_ranges());
    }

    pub(super) fn persist_interval(&self) -> Time {
        Time(
            self.rtt
                .rto
                .0
                .saturating_mul(1 << self.persist_backoff.min(6)),
        )
        .min(MAX_RTO)
    }

    /// The persist timer expired: send a zero-window probe of one octet (RFC 9293 §3.8.6.1:
    /// "the sending TCP must ... send at least one octet of new data") and back off.
    pub fn persist_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Persist);
        if self.snd_wnd > 0 && self.snd_max == self.snd_una && self.unsent() > 0 {
            return self.send_held(ctx);
        }
        self.persist_backoff += 1;
        if self.tuning.profile == Profile::Linux {
            return self.zero_length_probe(ctx);
        }
        let seq = if self.snd_nxt == self.snd_una {
            self.snd_nxt
        } else {
            self.snd_una // the previous probe, still unacknowledged
        };
        let used = self.send_at(ctx, seq, 1);
        self.snd_nxt = self.snd_nxt.max(seq + used);
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.persisting = true;
        self.timers
            .set(Timer::Persist, ctx.now + self.persist_interval());
        let (seq, next) = (seq.0, self.persist_interval());
        ctx.note(self.id, TcpNote::WindowProbe { seq, next });
    }

    /// The probe timer found the window open and data held back (TCP_CORK, MSG_MORE): send
    /// a segment of it, with PSH, as Linux's `tcp_write_wakeup` does.
    pub(super) fn send_held(&mut self, ctx: &mut Ctx) {
        let room = self.snd_wnd as usize;
        let len = self
            .unsent()
            .min(usize::from(self.segment_size()))
            .min(room);
        let start = self.snd_nxt;
        let first = ctx.segments.len();
        let used = self.send_at(ctx, start, len);
        if let Some(out) = ctx.segments.get_mut(first) {
            out.seg.flags.psh = true;
        }
        self.snd_nxt = start + used;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.probe_rearm = true;
        self.rtt_probe.get_or_insert((start, self.snd_nxt, ctx.now));
        self.persist_backoff = 0;
        ctx.note(self.id, TcpNote::CorkedSent { held: used });
    }

    /// Linux's zero-window probe (`tcp_xmit_probe_skb`): no data, at SND.UNA − 1, a
    /// sequence number the peer has already acknowledged, so that it answers with an ACK and
    /// its window. RFC 9293 §3.8.6.1 asks for a probe the peer must answer; an old sequence
    /// number is one, as RFC 1122 §4.2.2.17 allows.
    pub(super) fn zero_length_probe(&mut self, ctx: &mut Ctx) {
        let flags = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        let seg = self.segment(ctx.now, self.snd_una - 1, flags, Vec::new());
        self.push(ctx, seg);
        self.persisting = true;
        self.timers
            .set(Timer::Persist, ctx.now + self.persist_interval());
        let (seq, next) = ((self.snd_una - 1).0, self.persist_interval());
        ctx.note(self.id, TcpNote::EmptyWindowProbe { seq, next });
    }

    /// The delayed-ACK timer expired: send the ACK (RFC 1122 §4.2.3.2).
    pub fn delayed_ack_timeout(&mut self) {
        self.timers.stop(Timer::DelayedAck);
        self.ack_clock.delayed_ack_sent(self.rtt.rto);
        self.ack_now = true;
    }

    /// The compressed ACK's time has come.
    pub fn compressed_ack_timeout(&mut self) {
        self.timers.stop(Timer::CompressedAck);
        self.ack_now = true;
    }

    /// The retransmission timer expired (RFC 6298 §5.4–5.6): resend the oldest unacknowledged
    /// segment and back off, or abort after too many tries.
    pub fn retransmit(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Retransmit);
        self.retries += 1;
        let most = if self.syn_acked() {
            MAX_RETRANSMISSIONS
        } else {
            MAX_SYN_RETRANSMISSIONS
        };
        if self.retries > most {
            self.error = Some(SocketError::TimedOut);
            ctx.note(
                self.id,
                TcpNote::Aborted {
                    retransmissions: most,
                },
            );
            if self.state.is_synchronized() {
                // RFC 9293 §3.8.3 and Linux: tell the peer, in case it still listens.
                self.send_rst(ctx);
            }
            self.set_state(ctx, TcpState::Closed, Rule::RetransmissionsExceeded);
            return;
        }
        // RFC 6298 §5.5: back off; Karn's rule keeps the backed-off RTO until a segment
        // sent once is acknowledged.
        self.rtt.back_off();
        self.rtt_probe = None;
        if !self.syn_acked() {
            self.retransmissions += 1;
            let seg = self.segment(ctx.now, self.iss, self.syn_flags(), Vec::new());
            let what = TcpNote::SynRetransmit {
                syn_ack: self.syn_flags().ack,
                try_number: self.retries,
                next: self.rtt.rto,
            };
            ctx.note(self.id, what);
            self.push(ctx, seg);
            self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
            return;
        }
        let flight = self.snd_max.since(self.snd_una);
        self.loss_recovery = Some(self.snd_max);
        // RFC 2018 §8: the receiver may have discarded what it SACKed; what it SACKs again
        // is learned anew (RFC 6675 §5.1). Everything is resent, so RACK's marks and a
        // probe under way are moot.
        self.scoreboard.clear();
        self.rack.clear_lost();
        self.rack.probe_settled();
        self.timers.stop(Timer::Reorder);
        self.timers.stop(Timer::Probe);
        let reason = self.cc.on_timeout(flight, self.snd_max, self.retries == 1);
        self.congestion_event(ctx, reason);
        let what = TcpNote::Timeout {
            snd_una: self.snd_una.0,
            try_number: self.retries,
            next: self.rtt.rto,
        };
        ctx.note(self.id, what);
        // Go back N: everything after SND.UNA counts as unsent again; output() resends as
        // much as the (now one-segment) congestion window allows, and counts it.
        self.snd_nxt = self.snd_una;
        if self.snd_wnd == 0 {
            // The window closed with data in flight: probing takes over.
            self.persisting = true;
        }
    }
}
