//! What an acceptable ACK does (RFC 9293 §3.10.7.4, fifth check): SND.UNA advances, the
//! congestion window grows (RFC 5681), round trips are sampled (RFC 6298, Karn), the send
//! window is updated.

use super::*;

impl Tcb {
    pub(super) fn syn_acked(&self) -> bool {
        self.snd_una != self.iss
    }

    /// The lowest sequence number a SACK block may report: data we sent, and (RFC 5961 §5.2's
    /// bound, as Linux's) no further back than the largest window the peer offered.
    pub(super) fn dsack_floor(&self) -> SeqNum {
        self.snd_una - self.bytes_acked().min(self.max_snd_wnd)
    }

    /// Octets of data the peer has acknowledged (Linux's `bytes_acked`, mod 2^32).
    pub(super) fn bytes_acked(&self) -> u32 {
        if self.syn_acked() {
            self.snd_una.since(self.iss + 1)
        } else {
            0
        }
    }

    /// True once our FIN has been sent and acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| self.snd_una == f + 1)
    }

    /// Process an acceptable new acknowledgment: SND.UNA < SEG.ACK =< SND.MAX (RFC 9293
    /// §3.10.7.4, fifth step, ESTABLISHED).
    pub(super) fn take_ack(&mut self, ctx: &mut Ctx, ack: SeqNum, echo: Option<wire::Timestamps>) {
        let flight_before = self.snd_nxt.max(self.snd_max).since(self.snd_una);
        let acked = ack.since(self.snd_una);
        let delivered = self.newly_delivered(ack, acked);
        if let Some(r) = self.ts.rtt(ctx.now, echo) {
            // RFC 7323 §4.1: every ACK of new data echoes the clock of the segment that
            // caused it, retransmitted or not (Karn's ambiguity is gone); Appendix G weighs
            // each sample by how many a window gives.
            let expected = flight_before.div_ceil(2 * u32::from(self.send_mss)).max(1);
            self.rtt.sample_weighted(r, expected);
            self.rtt_probe = None;
        } else if let Some((_, timed, sent_at)) = self.rtt_probe {
            if ack >= timed {
                // RFC 6298 §3: one sample per round trip, from a segment never retransmitted.
                self.rtt.sample(ctx.now - sent_at);
                self.rtt_probe = None;
            }
        }
        let mut data = acked as usize;
        if !self.syn_acked() {
            data -= 1;
        }
        let data = data.min(self.send_buf.len());
        self.send_buf.consume(data);
        self.snd_una = ack;
        let start = self.buf_seq();
        if let Some(mem) = &mut self.send_mem {
            mem.acked(start);
        }
        self.snd_nxt = self.snd_nxt.max(ack);
        self.retries = 0;
        self.probe_rearm = true;
        if self.loss_recovery.is_some_and(|recover| ack >= recover) {
            self.loss_recovery = None;
        }
        if self.state.is_synchronized() {
            let flight_after = self.snd_max.since(self.snd_una);
            if self.cc.in_recovery && self.sack_ok {
                // RFC 6675 leaves cwnd alone during recovery: pipe decides what is sent.
            } else if self.cc.in_recovery {
                let (reason, partial) = self.cc.on_recovery_ack(ack, acked, flight_after);
                self.congestion_event(ctx, reason);
                if partial {
                    self.retransmit_first(ctx);
                }
            } else {
                let limited = self.cwnd_limited(flight_before);
                let rtt = self.rtt.srtt.unwrap_or(self.rtt.rto);
                // RFC 3465 counts the octets the ACK covers; Linux counts what it newly
                // delivered (`tcp_cong_avoid` with `acked_sacked`): octets SACKed before were
                // delivered then, when cwnd could not grow (a duplicate ACK raises nothing).
                let grow_by = match self.tuning.profile {
                    Profile::Linux => delivered,
                    Profile::Rfc => acked,
                };
                if let Some(reason) = self.cc.on_new_ack(grow_by, limited, ctx.now, rtt) {
                    self.congestion_event(ctx, reason);
                }
            }
        }
        // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        }
    }

    /// Of the `acked` octets up to `ack`, those not delivered before: SACKed octets were
    /// delivered when SACKed; without SACK, Linux counts each duplicate ACK as one segment
    /// delivered (`tcp_add_reno_sack`), and the ACK that ends them as the rest, at least one
    /// segment (`tcp_remove_reno_sacks`).
    pub(super) fn newly_delivered(&self, ack: SeqNum, acked: u32) -> u32 {
        if self.sack_ok {
            return acked - self.sacked_before(ack);
        }
        let smss = u32::from(self.send_mss);
        acked
            .saturating_sub(self.cc.dupacks() * smss)
            .max(acked.min(smss))
    }

    /// Octets below `ack` that the peer had SACKed already.
    pub(super) fn sacked_before(&self, ack: SeqNum) -> u32 {
        self.scoreboard
            .sacked()
            .iter()
            .map(|&(a, b)| {
                if b.min(ack) > a {
                    b.min(ack).since(a)
                } else {
                    0
                }
            })
            .sum()
    }

    /// Whether the sender was held back by cwnd when `flight` octets were out (RFC 7661):
    /// the whole window in use; under the Linux profile, in slow start, half of it
    /// (`tcp_is_cwnd_limited`: a window twice what was ever out still grows).
    pub(super) fn cwnd_limited(&self, flight: u32) -> bool {
        let smss = u32::from(self.send_mss);
        match self.tuning.profile {
            Profile::Linux if self.cc.cwnd < self.cc.ssthresh => {
                self.cc.cwnd < 2 * flight.max(self.max_flight.0).max(smss)
            }
            _ => flight + smss > self.cc.cwnd,
        }
    }

    /// The SACK blocks as the scoreboard takes them. Linux marks only whole segments
    /// SACKed (`tcp_match_skb_to_sack` cuts a segment at MSS boundaries, and a block of
    /// less than one covers none), so under the Linux profile a block is trimmed to the
    /// segments it wholly covers, and one that covers none is dropped. A D-SACK block, below
    /// SND.UNA, is kept as it came.
    pub(super) fn whole_segment_blocks(&self, blocks: &wire::SackBlocks) -> wire::SackBlocks {
        if self.tuning.profile != Profile::Linux {
            return *blocks;
        }
        let mut kept = wire::SackBlocks::default();
        for (i, &(left, right)) in blocks.as_slice().iter().enumerate() {
            if i == 0 && SeqNum(right) <= self.snd_una {
                kept.push(left, right);
            } else if let Some((a, b)) = self.rack.whole_segments(SeqNum(left), SeqNum(right)) {
                kept.push(a.0, b.0);
            }
        }
        kept
    }

    /// Linux's `tcp_cwnd_validate`: remember the largest flight of the window under way, so
    /// that slow start grows cwnd up to twice it while its ACKs come (`tcp_is_cwnd_limited`)
    /// though the application sent no more.
    pub(super) fn note_flight(&mut self) {
        let flight = self.snd_nxt.since(self.snd_una);
        let (most, until) = self.max_flight;
        if self.snd_una >= until || flight > most {
            self.max_flight = (flight, self.snd_nxt);
        }
    }

    /// Resend the first unacknowledged segment (fast retransmit, RFC 5681 §3.2; a partial
    /// ACK, RFC 6582 §3.2).
    pub(super) fn retransmit_first(&mut self, ctx: &mut Ctx) {
        self.retransmissions += 1;
        let seq = self.snd_una;
        let used = self.send_at(ctx, seq, usize::from(self.segment_size()));
        self.karn(seq, seq + used);
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
    }

    /// Karn's rule (RFC 6298 §3): if the segment being timed is sent again, its ACK can no
    /// longer say which copy it answers, so the measurement is abandoned.
    pub(super) fn karn(&mut self, start: SeqNum, end: SeqNum) {
        if let Some((timed_start, timed_end, _)) = self.rtt_probe {
            if start < timed_end && timed_start < end {
                self.rtt_probe = None;
            }
        }
    }

    /// RFC 9293 §3.10.7.4, fifth step: update the send window from a segment that is not
    /// older than the last one used (SND.WL1, SND.WL2).
    pub(super) fn update_window(&mut self, seg: &TcpSegment<&[u8]>) {
        let seq = SeqNum(seg.seq);
        let ack = SeqNum(seg.ack);
        // RFC 9293 §3.10.7.4: only an ACK at or after SND.UNA updates the window; an old
        // one, reordered, would bring back a window the peer has since changed.
        let newer = self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack);
        if self.snd_una <= ack && newer {
            self.snd_wnd = u32::from(seg.window) << self.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if self.persisting && self.snd_wnd > 0 {
                // The window reopened: resend a probe octet it did not take right away,
                // rather than leave a hole for the retransmission timer.
                self.snd_nxt = self.snd_una;
            }
        }
    }
}
