//! Loss recovery beyond RFC 5681's: duplicate ACKs, SACK's scoreboard and pipe (RFC 6675),
//! RACK's loss detection and the tail loss probe's outcome (RFC 8985), each decision a
//! trace event with its rule.

use super::*;

impl Tcb {
    /// RFC 8985 §7.4.2, as Linux applies it: the ACKs of a probe. A probe of new data, a
    /// D-SACK for the resent data, or a pure duplicate ACK at its end (both copies came,
    /// to a receiver without D-SACK) mean nothing was lost. An ACK beyond the probe means
    /// the probe repaired a loss, which reduces cwnd. Any other ACK at its end waits.
    pub(super) fn probe_acked(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        advanced: bool,
        dsack: Option<(SeqNum, SeqNum)>,
    ) {
        let Some(probe) = self.rack.probe() else {
            return;
        };
        let (ack, end) = (SeqNum(seg.ack), probe.end);
        if ack < end {
            return;
        }
        let spurious = dsack.is_some_and(|(a, b)| a < end && probe.start < b);
        let pure_dupack = !advanced && seg.payload.is_empty() && seg.sack.is_empty();
        if !probe.retransmitted || spurious || (ack == end && pure_dupack) {
            self.rack.probe_settled();
            return;
        }
        if ack == end {
            return;
        }
        self.rack.probe_settled();
        if !self.cc.in_recovery {
            let reason = self.cc.reduce_after_probe();
            self.congestion_event(ctx, reason);
            self.recovery_event(ctx, Recovery::ProbeRepairedLoss, None, None);
        }
    }

    /// RFC 8985 §6.2: RACK's loss detection, after an ACK or when its timer fires. The
    /// scoreboard learns what it marks; a lost retransmission is sent again. Returns
    /// whether it marked anything.
    pub(super) fn rack_detect(&mut self, ctx: &mut Ctx) -> bool {
        let sacked_segments = self.scoreboard.sacked_octets() / u32::from(self.send_mss);
        let reo = self
            .rack
            .reo_wnd(self.cc.in_recovery, sacked_segments, self.rtt.srtt);
        let (lost, wait) = self.rack.detect_loss(ctx.now, reo);
        match wait {
            Some(at) => self.timers.set(Timer::Reorder, at),
            None => self.timers.stop(Timer::Reorder),
        }
        for &(a, b) in &lost {
            if self.cc.in_recovery {
                self.scoreboard.resend_from(a);
            }
            self.recovery_event(ctx, Recovery::RackLost, Some((a, b)), None);
        }
        if !lost.is_empty() || self.scoreboard.has_rack_lost() {
            self.scoreboard.set_rack_lost(self.rack.lost_ranges());
        }
        !lost.is_empty()
    }

    /// A duplicate ACK arrived (RFC 5681 §3.2).
    pub(super) fn duplicate_ack(&mut self, ctx: &mut Ctx, ack: SeqNum) {
        let flight = self.snd_max.since(self.snd_una);
        let unsent = self.pending() && self.snd_wnd > flight;
        let threshold = self.cc.dupack_threshold(flight, unsent);
        let (reason, retransmit) = self.cc.on_dupack(flight, ack, self.snd_max, threshold);
        if let Some(reason) = reason {
            self.congestion_event(ctx, reason);
        }
        if retransmit {
            let ack = ack.0;
            ctx.note(self.id, TcpNote::FastRetransmit { threshold, ack });
            self.retransmit_first(ctx);
        }
    }

    /// RFC 6675 §5: an ACK on a connection with SACK. The scoreboard takes its blocks; in
    /// loss recovery the ACK ends it (A) or lets more out (B, C); outside, it may count as a
    /// duplicate and start recovery.
    pub(super) fn sack_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &TcpSegment<&[u8]>,
        (newly_acked, sacked_below): (u32, u32),
        duplicate: bool,
    ) {
        let advanced = newly_acked > 0;
        // RFC 6937's DeliveredData: the change in SND.UNA plus the change in SACKed octets,
        // which lose what the cumulative ACK now covers.
        let newly_delivered = newly_acked - sacked_below;
        let blocks = self.whole_segment_blocks(&seg.sack);
        let learned =
            self.scoreboard
                .update(self.dsack_floor(), (self.snd_una, self.snd_max), &blocks);
        if let Some(range) = learned.dsack {
            self.recovery_event(ctx, Recovery::DsackReceived, Some(range), None);
            self.rack.dsack(self.snd_una, self.snd_max);
        }
        self.probe_acked(ctx, seg, advanced, learned.dsack);
        let mss = u32::from(self.send_mss);
        self.rack
            .delivered(self.snd_una, self.scoreboard.sacked(), ctx.now, mss);
        let rack_lost = self.rack_detect(ctx);
        if self.cc.in_recovery {
            if self.snd_una >= self.cc.recover {
                let reason = self.cc.exit_sack_recovery();
                self.congestion_event(ctx, reason);
                self.recovery_event(ctx, Recovery::Exit, None, None);
                self.rack.recovery_ended();
            } else {
                let delivered = newly_delivered + learned.newly_sacked;
                if let Some(reason) = self.cc.prr_ack(delivered, self.pipe(), advanced) {
                    self.congestion_event(ctx, reason);
                }
                self.sack_send(ctx);
            }
            return;
        }
        let delivered = newly_delivered + learned.newly_sacked;
        if rack_lost && self.snd_una >= self.cc.recover {
            // RFC 8985 §3.4: a segment RACK marks lost starts loss recovery.
            return self.enter_sack_recovery(ctx, delivered);
        }
        if rack_lost {
            self.resend_lost_after_timeout(ctx);
        }
        if advanced {
            self.cc.reset_dupacks();
        }
        // RFC 6675 §2: with SACK, an ACK that SACKs octets not SACKed before is a
        // duplicate too, cumulative or not.
        let sacks_more = learned.newly_sacked > 0 && self.snd_max != self.snd_una;
        if !duplicate && !sacks_more {
            return;
        }
        self.cc.count_dupack();
        let lost = self
            .scoreboard
            .is_lost(self.snd_una, u32::from(self.send_mss));
        // A new recovery waits until the last one's point is acknowledged (§5.1).
        if (self.cc.dupacks() >= DUP_THRESH || lost) && self.snd_una >= self.cc.recover {
            self.enter_sack_recovery(ctx, delivered);
        }
    }

    /// RFC 6675 §5 step 4: RecoveryPoint = HighData, ssthresh = cwnd = FlightSize / 2,
    /// resend the first unacknowledged segment, then send what pipe allows.
    /// `delivered`: what the ACK that began it reported delivered, for PRR.
    pub(super) fn enter_sack_recovery(&mut self, ctx: &mut Ctx, delivered: u32) {
        let flight = self.snd_max.since(self.snd_una);
        let reason = self.cc.enter_sack_recovery(flight, self.snd_max);
        self.congestion_event(ctx, reason);
        if let Some(reason) = self.cc.prr_ack(delivered, self.pipe(), false) {
            self.congestion_event(ctx, reason);
        }
        let seq = self.snd_una;
        let used = self.send_at(ctx, seq, usize::from(self.segment_size()));
        if used == 0 {
            return;
        }
        self.karn(seq, seq + used);
        self.retransmissions += 1;
        self.cc.sent_in_recovery(used);
        // (4.3): HighRxt and RescueRxt cover the segment just resent.
        self.scoreboard.retransmitted_to(seq + used);
        self.scoreboard.rescued(seq + (used - 1));
        self.timers.set(Timer::Retransmit, ctx.now + self.rtt.rto);
        let pipe = self.pipe();
        self.recovery_event(ctx, Recovery::Enter, Some((seq, seq + used)), Some(pipe));
        self.sack_send(ctx);
    }

    /// RFC 6675 §4 SetPipe() for this connection.
    pub(super) fn pipe(&self) -> u32 {
        self.scoreboard
            .pipe(self.snd_una, self.snd_max, u32::from(self.send_mss))
    }

    /// RFC 6675 §5 (C): while cwnd − pipe ≥ 1 SMSS, send what NextSeg() names.
    pub(super) fn sack_send(&mut self, ctx: &mut Ctx) {
        let (first, chunk) = (ctx.segments.len(), self.tso_segs());
        self.sack_send_each(ctx);
        Self::mark_chunks(ctx, first, chunk);
    }

    /// `sack_send`, one segment at a time.
    pub(super) fn sack_send_each(&mut self, ctx: &mut Ctx) {
        let smss = u32::from(self.send_mss);
        let mut pipe = self.pipe();
        while self.cc.cwnd.saturating_sub(pipe) >= smss {
            let new_data = self.snd_nxt == self.snd_max
                && self.pending()
                && self.snd_wnd > self.snd_max.since(self.snd_una);
            let next = self
                .scoreboard
                .next_seg(self.snd_una, self.snd_max, smss, new_data);
            let (decision, (start, end)) = match next {
                None => break,
                Some(NextSeg::NewData) => {
                    let start = self.snd_nxt;
                    let used = self.send_new_segment(ctx);
                    if used == 0 {
                        break;
                    }
                    pipe += used;
                    self.cc.sent_in_recovery(used);
                    let range = Some((start, start + used));
                    self.recovery_event(ctx, Recovery::NewData, range, Some(pipe));
                    continue;
                }
                Some(NextSeg::Lost(r)) => (Recovery::RetransmitLost, r),
                Some(NextSeg::Hole(r)) => (Recovery::RetransmitHole, r),
                // Linux sends no rescue retransmission (RFC 6675 §5 rule 4 is a MAY).
                Some(NextSeg::Rescue(_)) if self.tuning.profile == Profile::Linux => break,
                Some(NextSeg::Rescue(r)) => (Recovery::Rescue, r),
            };
            let used = self.send_at(ctx, start, end.since(start) as usize);
            if used == 0 {
                break;
            }
            self.karn(start, start + used);
            self.retransmissions += 1;
            if decision == Recovery::Rescue {
                // Rule 4: once per recovery; HighRxt stays.
                self.scoreboard.rescued(self.cc.recover);
            } else {
                self.scoreboard.retransmitted_to(start + used);
            }
            pipe += used;
            self.cc.sent_in_recovery(used);
            self.recovery_event(ctx, decision, Some((start, start + used)), Some(pipe));
        }
    }

    /// One new segment at SND.NXT, as long as the data, the MSS and the peer's window
    /// allow. Returns the sequence space used.
    pub(super) fn send_new_segment(&mut self, ctx: &mut Ctx) -> u32 {
        let offset = self.snd_nxt.since(self.buf_seq()) as usize;
        let unsent = self.send_buf.len().saturating_sub(offset);
        let room = self
            .snd_wnd
            .saturating_sub(self.snd_nxt.since(self.snd_una)) as usize;
        let len = unsent.min(usize::from(self.segment_size())).min(room);
        let fin = self.fin_seq == Some(self.snd_nxt + len as u32);
        if len == 0 && !fin {
            return 0;
        }
        let start = self.snd_nxt;
        let used = self.send_at(ctx, start, len);
        self.snd_nxt = start + used;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.probe_rearm = true;
        if self.rtt_probe.is_none() {
            self.rtt_probe = Some((start, self.snd_nxt, ctx.now));
        }
        used
    }

    /// A loss-recovery decision, with the scoreboard, into the trace.
    pub(super) fn recovery_event(
        &self,
        ctx: &mut Ctx,
        decision: Recovery,
        range: Option<(SeqNum, SeqNum)>,
        pipe: Option<u32>,
    ) {
        ctx.events.push(Event {
            t: ctx.now,
            kind: EventKind::Recovery {
                endpoint: self.endpoint(ctx.host),
                decision,
                range: range.map(|(a, b)| (a.0, b.0)),
                sacked: self
                    .scoreboard
                    .sacked()
                    .iter()
                    .map(|(a, b)| (a.0, b.0))
                    .collect(),
                pipe,
                cwnd: self.cc.cwnd,
            },
        });
    }
}
