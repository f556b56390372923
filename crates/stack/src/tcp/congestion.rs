//! Congestion control of RFC 5681 (slow start, congestion avoidance, fast retransmit, fast
//! recovery) with the NewReno response to partial acknowledgments of RFC 6582.
//!
//! Each method returns the reason for a change of cwnd or ssthresh, so that the TCB can put
//! it in the trace; `None` means nothing changed.

use crate::SeqNum;

/// The sender's congestion state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Congestion {
    /// Congestion window, octets.
    pub cwnd: u32,
    /// Slow-start threshold, octets; `u32::MAX` until the first loss (RFC 5681 §3.1: "set
    /// arbitrarily high").
    pub ssthresh: u32,
    /// Sender maximum segment size.
    pub smss: u32,
    /// Duplicate ACKs in a row.
    pub dupacks: u32,
    /// In fast recovery until an ACK covers `recover`.
    pub in_recovery: bool,
    /// RFC 6582's `recover`, kept as FreeBSD keeps it: SND.MAX (one past the highest
    /// sequence number sent) when recovery began.
    pub recover: SeqNum,
    /// Octets acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1,
    /// "appropriate byte counting").
    bytes_acked: u32,
}

/// RFC 5681 §3.2: the third duplicate ACK triggers fast retransmit.
pub(crate) const DUPACK_THRESHOLD: u32 = 3;

impl Congestion {
    /// A new sender with RFC 5681 §3.1's initial window for this SMSS.
    pub fn new(smss: u16, iss: SeqNum) -> Congestion {
        let smss = u32::from(smss);
        // IW = min(4*SMSS, max(2*SMSS, 4380)) octets (RFC 5681 §3.1, from RFC 3390).
        let cwnd = (4 * smss).min((2 * smss).max(4380));
        Congestion {
            cwnd,
            ssthresh: u32::MAX,
            smss,
            dupacks: 0,
            in_recovery: false,
            recover: iss,
            bytes_acked: 0,
        }
    }

    fn halve(&mut self, flight: u32) {
        // RFC 5681 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS).
        self.ssthresh = (flight / 2).max(2 * self.smss);
    }

    /// An ACK of new data outside fast recovery. `limited` says whether the sender was
    /// using its whole cwnd: growing a window nobody uses proves nothing (RFC 7661).
    pub fn on_new_ack(&mut self, acked: u32, limited: bool) -> Option<String> {
        self.dupacks = 0;
        if !limited {
            return None;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 equation (2): cwnd += min(N, SMSS).
            let grow = acked.min(self.smss);
            self.cwnd += grow;
            return Some(format!(
                "slow start: +{grow} for an ACK of {acked} new octets (RFC 5681 §3.1)"
            ));
        }
        self.bytes_acked += acked;
        if self.bytes_acked >= self.cwnd {
            // RFC 5681 §3.1 equation (3) with byte counting: one SMSS per window of ACKs.
            self.bytes_acked -= self.cwnd;
            self.cwnd += self.smss;
            return Some(
                "congestion avoidance: +1 SMSS after a whole window was acknowledged \
                 (RFC 5681 §3.1)"
                    .to_string(),
            );
        }
        None
    }

    /// How many duplicate ACKs mean a loss: three (RFC 5681 §3.2), or fewer when so few
    /// segments are outstanding that three could never come back and no new data can be
    /// sent to draw more (early retransmit, RFC 5827 §3.1: ER_thresh = oseg − 1).
    pub fn dupack_threshold(&self, flight: u32, can_send_new: bool) -> u32 {
        let outstanding = flight.div_ceil(self.smss);
        if !can_send_new && (2..4).contains(&outstanding) {
            outstanding - 1
        } else {
            DUPACK_THRESHOLD
        }
    }

    /// Extra octets that limited transmit (RFC 3042) lets past cwnd: one new segment for
    /// each of the first two duplicate ACKs, to draw the third.
    pub fn limited_transmit(&self) -> u32 {
        if self.in_recovery {
            0
        } else {
            self.dupacks.min(2) * self.smss
        }
    }

    /// A duplicate ACK (RFC 5681 §2's definition is checked by the caller). Returns the
    /// reason and whether to retransmit the first unacknowledged segment now; `threshold`
    /// comes from [`Congestion::dupack_threshold`].
    pub fn on_dupack(
        &mut self,
        flight: u32,
        ack: SeqNum,
        snd_max: SeqNum,
        threshold: u32,
    ) -> (Option<String>, bool) {
        self.dupacks += 1;
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: each further duplicate ACK means a segment left the
            // network: inflate cwnd by SMSS.
            self.cwnd += self.smss;
            return (
                Some(
                    "fast recovery: +1 SMSS for another duplicate ACK (RFC 5681 §3.2 step 4)"
                        .into(),
                ),
                false,
            );
        }
        // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover` (so a burst of
        // duplicates from one loss event does not halve cwnd twice).
        if self.dupacks == threshold && ack > self.recover {
            self.halve(flight);
            self.recover = snd_max;
            self.in_recovery = true;
            // RFC 5681 §3.2 step 3: cwnd = ssthresh + 3*SMSS (the segments that left).
            self.cwnd = self.ssthresh + threshold * self.smss;
            let which = if threshold == DUPACK_THRESHOLD {
                "the third duplicate ACK".to_string()
            } else {
                format!(
                    "duplicate ACK #{threshold} with only {} segments outstanding (early \
                     retransmit, RFC 5827)",
                    threshold + 1
                )
            };
            return (
                Some(format!(
                    "fast retransmit on {which}: ssthresh = max(FlightSize/2, 2·SMSS) = {}, \
                     cwnd = ssthresh + {threshold}·SMSS, enter fast recovery (RFC 5681 §3.2 \
                     steps 2–3)",
                    self.ssthresh
                )),
                true,
            );
        }
        (None, false)
    }

    /// An ACK of new data during fast recovery. Returns the reason and whether it is a
    /// partial ACK (RFC 6582 §3.2 step 5: retransmit the next unacknowledged segment).
    pub fn on_recovery_ack(
        &mut self,
        ack: SeqNum,
        acked: u32,
        flight_after: u32,
    ) -> (String, bool) {
        if ack >= self.recover {
            // Full acknowledgment: deflate (RFC 6582 §3.2 step 3, first option).
            self.in_recovery = false;
            self.dupacks = 0;
            self.cwnd = self.ssthresh.min(flight_after.max(self.smss) + self.smss);
            (
                "full ACK ends fast recovery: cwnd deflated to ssthresh (RFC 6582 §3.2)".into(),
                false,
            )
        } else {
            // Partial acknowledgment: deflate by the amount acknowledged, add back SMSS.
            self.cwnd = self.cwnd.saturating_sub(acked);
            if acked >= self.smss {
                self.cwnd += self.smss;
            }
            self.cwnd = self.cwnd.max(self.smss);
            (
                "partial ACK in fast recovery: retransmit the next hole, deflate cwnd by the \
                 octets acknowledged (RFC 6582 §3.2 step 5)"
                    .into(),
                true,
            )
        }
    }

    /// Loss recovery with SACK begins (RFC 6675 §5 step 4.2): ssthresh = cwnd =
    /// max(FlightSize / 2, 2·SMSS); no inflation, since pipe counts what is in flight.
    pub fn enter_sack_recovery(&mut self, flight: u32, snd_max: SeqNum) -> String {
        self.halve(flight);
        self.cwnd = self.ssthresh;
        self.recover = snd_max;
        self.in_recovery = true;
        format!(
            "loss recovery with SACK: ssthresh = cwnd = max(FlightSize/2, 2·SMSS) = {} \
             (RFC 6675 §5 step 4.2)",
            self.ssthresh
        )
    }

    /// The recovery point is acknowledged: loss recovery with SACK ends (RFC 6675 §5 (A)).
    pub fn exit_sack_recovery(&mut self) -> String {
        self.in_recovery = false;
        self.dupacks = 0;
        self.cwnd = self.ssthresh;
        "the recovery point is acknowledged: loss recovery ends, cwnd = ssthresh (RFC 6675 §5 (A))"
            .into()
    }

    /// A tail loss probe that resent data repaired a loss (RFC 8985 §7.4.2): respond as to
    /// any loss, ssthresh = cwnd = max(cwnd / 2, 2·SMSS), without a recovery episode.
    pub fn reduce_after_probe(&mut self) -> String {
        self.halve(self.cwnd);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
        format!(
            "the tail loss probe repaired a loss: ssthresh = cwnd = max(cwnd/2, 2·SMSS) = {} \
             (RFC 8985 §7.4.2)",
            self.ssthresh
        )
    }

    /// The retransmission timer expired (RFC 5681 §3.1, equation (4) and "LW"). `first`
    /// says whether this is the first timeout of this segment: later ones keep ssthresh.
    pub fn on_timeout(&mut self, flight: u32, snd_max: SeqNum, first: bool) -> String {
        if first {
            self.halve(flight);
        }
        self.cwnd = self.smss;
        self.dupacks = 0;
        self.in_recovery = false;
        self.bytes_acked = 0;
        // RFC 6582 §4: after a timeout, duplicate ACKs for data sent before it must not
        // start another fast retransmit.
        self.recover = snd_max;
        "retransmission timeout: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = 1 SMSS \
         (the loss window, RFC 5681 §3.1)"
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc_5681() {
        assert_eq!(Congestion::new(1460, SeqNum(0)).cwnd, 4380);
        assert_eq!(Congestion::new(536, SeqNum(0)).cwnd, 2144);
        assert_eq!(Congestion::new(2500, SeqNum(0)).cwnd, 5000);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = Congestion::new(1000, SeqNum(0));
        cc.ssthresh = 5000;
        cc.cwnd = 4000;
        assert!(cc.on_new_ack(1000, true).is_some());
        assert_eq!(cc.cwnd, 5000);
        assert!(cc.on_new_ack(2000, true).is_none());
        assert!(cc.on_new_ack(3000, true).is_some());
        assert_eq!(cc.cwnd, 6000);
        assert!(cc.on_new_ack(1000, false).is_none(), "not cwnd-limited");
    }

    #[test]
    fn three_dupacks_halve_and_a_full_ack_deflates() {
        let mut cc = Congestion::new(1000, SeqNum(0));
        cc.cwnd = 10_000;
        let (ack, max) = (SeqNum(5000), SeqNum(15_000));
        assert!(!cc.on_dupack(10_000, ack, max, 3).1);
        assert!(!cc.on_dupack(10_000, ack, max, 3).1);
        let (why, retransmit) = cc.on_dupack(10_000, ack, max, 3);
        assert!(retransmit && why.is_some());
        assert_eq!((cc.ssthresh, cc.cwnd), (5000, 8000));
        cc.on_dupack(10_000, ack, max, 3);
        assert_eq!(cc.cwnd, 9000);
        let (_, partial) = cc.on_recovery_ack(SeqNum(8000), 3000, 7000);
        assert!(partial);
        let (_, partial) = cc.on_recovery_ack(SeqNum(15_001), 7001, 0);
        assert!(!partial && !cc.in_recovery);
        assert_eq!(cc.cwnd, 2000);
    }
}
