//! Congestion control of RFC 5681 (slow start, congestion avoidance, fast retransmit, fast
//! recovery) with the NewReno response to partial acknowledgments of RFC 6582; CUBIC
//! (RFC 9438) in place of Reno's congestion avoidance, and Proportional Rate Reduction
//! (RFC 6937) during recovery, where the host uses them. Under the Linux profile the
//! choices the RFCs leave are Linux's: ssthresh from cwnd, slow start by every octet
//! acknowledged, an initial window of 10 segments (RFC 6928).
//!
//! Each method returns the reason for a change of cwnd or ssthresh, so that the TCB can put
//! it in the trace; `None` means nothing changed.

mod cubic;
mod prr;

use trace::{CwndReason, Reduction, Time};

use crate::{CongestionControl, Profile, SeqNum};
use cubic::Cubic;
use prr::Prr;

/// How a host manages its window, where the RFCs leave it a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// The initial window in segments (RFC 6928), or none for RFC 5681's formula.
    pub initial_window: Option<u32>,
    /// Reno or CUBIC.
    pub algorithm: CongestionControl,
    /// Proportional Rate Reduction during recovery.
    pub prr: bool,
    /// Whose reading of the RFCs.
    pub profile: Profile,
    /// Linux's `tcp_min_tso_segs`: the fewest segments a TSO chunk is cut to.
    pub min_tso_segs: u32,
    /// Linux's `tcp_slow_start_after_idle`: restart cwnd after an idle RTO (Linux profile).
    pub restart_after_idle: bool,
}

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
    dupacks: u32,
    /// In fast recovery until an ACK covers `recover`.
    pub in_recovery: bool,
    /// RFC 6582's `recover`, kept as FreeBSD keeps it: SND.MAX (one past the highest
    /// sequence number sent) when recovery began.
    pub recover: SeqNum,
    /// Octets acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1,
    /// "appropriate byte counting").
    bytes_acked: u32,
    tuning: Tuning,
    /// CUBIC's state, when it is the algorithm.
    cubic: Option<Cubic>,
    /// The reduction under way, with PRR.
    prr: Option<Prr>,
    /// Fractions of an octet CUBIC's growth has owed so far.
    carry: f64,
}

/// The initial window: RFC 6928's where the host uses one, else RFC 5681 §3.1's
/// min(4·SMSS, max(2·SMSS, 4380)) octets (from RFC 3390).
fn initial_window(smss: u32, tuning: Tuning) -> u32 {
    match tuning.initial_window {
        Some(segments) => segments * smss,
        None => (4 * smss).min((2 * smss).max(4380)),
    }
}

/// RFC 5681 §3.2: the third duplicate ACK triggers fast retransmit.
pub(crate) const DUPACK_THRESHOLD: u32 = 3;

impl Congestion {
    /// Duplicate ACKs in a row.
    pub fn dupacks(&self) -> u32 {
        self.dupacks
    }

    /// With SACK, one more duplicate (RFC 6675 §2: an ACK that SACKs new octets counts).
    pub fn count_dupack(&mut self) {
        self.dupacks += 1;
    }

    /// SND.UNA advanced: the run of duplicates is over.
    pub fn reset_dupacks(&mut self) {
        self.dupacks = 0;
    }

    /// A new sender with this SMSS: its initial window is RFC 6928's, when the host uses
    /// one, else RFC 5681 §3.1's.
    pub fn new(smss: u16, iss: SeqNum, tuning: Tuning) -> Congestion {
        let smss = u32::from(smss);
        let cwnd = initial_window(smss, tuning);
        Congestion {
            cwnd,
            ssthresh: u32::MAX,
            smss,
            dupacks: 0,
            in_recovery: false,
            recover: iss,
            bytes_acked: 0,
            tuning,
            cubic: (tuning.algorithm == CongestionControl::Cubic).then(Cubic::default),
            prr: None,
            carry: 0.0,
        }
    }

    /// RFC 5681 §4.1, as Linux does it (`tcp_cwnd_restart`, with
    /// `tcp_slow_start_after_idle`): after `idle` with nothing sent, longer than the RTO,
    /// cwnd is halved for each RTO that passed, down to the restart window (the initial
    /// window, or cwnd if smaller); ssthresh keeps three quarters of the old cwnd.
    pub fn restart_after_idle(&mut self, idle: Time, rto: Time) -> Option<CwndReason> {
        if idle <= rto || rto == Time::ZERO {
            return None;
        }
        let restart = initial_window(self.smss, self.tuning).min(self.cwnd);
        let before = self.cwnd;
        if self.ssthresh != u32::MAX {
            self.ssthresh = self.ssthresh.max(self.cwnd / 2 + self.cwnd / 4);
        }
        let mut cwnd = self.cwnd;
        let mut left = idle.0;
        while left > rto.0 && cwnd > restart {
            left -= rto.0;
            cwnd /= 2;
        }
        self.cwnd = cwnd.max(restart);
        self.bytes_acked = 0;
        if let Some(cubic) = &mut self.cubic {
            cubic.restart_epoch();
        }
        (self.cwnd != before).then_some(CwndReason::IdleRestart {
            idle,
            rto,
            from: before,
            to: self.cwnd,
        })
    }

    /// Set ssthresh after a loss: RFC 5681 equation (4), max(FlightSize / 2, 2·SMSS);
    /// under the Linux profile of cwnd, not the flight (`tcp_reno_ssthresh`); with CUBIC,
    /// cwnd × β_cubic (RFC 9438 §4.6). Returns how, for the trace.
    fn reduce(&mut self, flight: u32) -> Reduction {
        let smss = self.smss;
        let segments = self.cwnd / smss;
        match (&mut self.cubic, self.tuning.profile) {
            (Some(cubic), _) => {
                self.ssthresh = cubic.reduce(segments) * smss;
                Reduction::Cubic
            }
            (None, Profile::Rfc) => {
                self.ssthresh = (flight / 2).max(2 * smss);
                Reduction::HalfTheFlight
            }
            (None, Profile::Linux) => {
                self.ssthresh = (segments / 2).max(2) * smss;
                Reduction::LinuxReno
            }
        }
    }

    /// An ACK of new data outside fast recovery, at `now`, with this RTT. `limited` says
    /// whether the sender was using its whole cwnd: growing a window nobody uses proves
    /// nothing (RFC 7661).
    pub fn on_new_ack(
        &mut self,
        acked: u32,
        limited: bool,
        now: Time,
        rtt: Time,
    ) -> Option<CwndReason> {
        self.dupacks = 0;
        if !limited || acked == 0 {
            return None;
        }
        if self.cwnd < self.ssthresh {
            return Some(self.slow_start(acked));
        }
        if self.cubic.is_some() {
            return self.cubic_growth(acked, now, rtt);
        }
        self.bytes_acked += acked;
        if self.bytes_acked >= self.cwnd {
            // RFC 5681 §3.1 equation (3) with byte counting: one SMSS per window of ACKs.
            self.bytes_acked -= self.cwnd;
            self.cwnd += self.smss;
            return Some(CwndReason::Avoidance);
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
    ) -> (Option<CwndReason>, bool) {
        self.dupacks += 1;
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: each further duplicate ACK means a segment left the
            // network: inflate cwnd by SMSS.
            self.cwnd += self.smss;
            return (Some(CwndReason::Inflate), false);
        }
        // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover` (so a burst of
        // duplicates from one loss event does not halve cwnd twice).
        if self.dupacks == threshold && ack > self.recover {
            let how = self.reduce(flight);
            self.recover = snd_max;
            self.in_recovery = true;
            // RFC 5681 §3.2 step 3: cwnd = ssthresh + 3*SMSS (the segments that left).
            self.cwnd = self.ssthresh + threshold * self.smss;
            let reason = CwndReason::FastRetransmit {
                threshold,
                how,
                ssthresh: self.ssthresh,
            };
            return (Some(reason), true);
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
    ) -> (CwndReason, bool) {
        if ack >= self.recover {
            // Full acknowledgment: deflate (RFC 6582 §3.2 step 3, first option).
            self.in_recovery = false;
            self.dupacks = 0;
            self.cwnd = self.ssthresh.min(flight_after.max(self.smss) + self.smss);
            (CwndReason::FullAck, false)
        } else {
            // Partial acknowledgment: deflate by the amount acknowledged, add back SMSS.
            self.cwnd = self.cwnd.saturating_sub(acked);
            if acked >= self.smss {
                self.cwnd += self.smss;
            }
            self.cwnd = self.cwnd.max(self.smss);
            (CwndReason::PartialAck, true)
        }
    }

    /// Loss recovery with SACK begins (RFC 6675 §5 step 4.2): ssthresh = cwnd =
    /// max(FlightSize / 2, 2·SMSS); no inflation, since pipe counts what is in flight.
    pub fn enter_sack_recovery(&mut self, flight: u32, snd_max: SeqNum) -> CwndReason {
        let how = self.reduce(flight);
        self.recover = snd_max;
        self.in_recovery = true;
        if self.tuning.prr {
            // RFC 6937: cwnd comes down to ssthresh step by step, as data is delivered.
            self.prr = Some(Prr::new(self.cwnd));
            return CwndReason::SackRecovery {
                how,
                ssthresh: self.ssthresh,
                prr: true,
            };
        }
        self.cwnd = self.ssthresh;
        CwndReason::SackRecovery {
            how,
            ssthresh: self.ssthresh,
            prr: false,
        }
    }

    /// Octets sent while PRR runs.
    pub fn sent_in_recovery(&mut self, octets: u32) {
        if let Some(prr) = &mut self.prr {
            prr.sent(octets);
        }
    }

    /// An ACK during recovery with SACK reported `delivered` octets newly acknowledged or
    /// SACKed, `pipe` now in flight: PRR sets the window (RFC 6937 §3.1).
    pub fn prr_ack(&mut self, delivered: u32, pipe: u32, advanced: bool) -> Option<CwndReason> {
        let prr = self.prr.as_mut()?;
        let cwnd = prr.on_ack(delivered, pipe, self.ssthresh, self.smss, advanced)?;
        if cwnd == self.cwnd {
            return None;
        }
        self.cwnd = cwnd;
        Some(CwndReason::Prr {
            slow_start: pipe <= self.ssthresh,
        })
    }

    /// The recovery point is acknowledged: loss recovery with SACK ends (RFC 6675 §5 (A)).
    pub fn exit_sack_recovery(&mut self) -> CwndReason {
        self.in_recovery = false;
        self.dupacks = 0;
        self.prr = None;
        self.cwnd = self.ssthresh;
        CwndReason::SackExit
    }

    /// A tail loss probe that resent data repaired a loss (RFC 8985 §7.4.2): respond as to
    /// any loss, ssthresh = cwnd = max(cwnd / 2, 2·SMSS), without a recovery episode.
    pub fn reduce_after_probe(&mut self) -> CwndReason {
        let how = self.reduce(self.cwnd);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
        CwndReason::ProbeRepair {
            how,
            ssthresh: self.ssthresh,
        }
    }

    /// The retransmission timer expired (RFC 5681 §3.1, equation (4) and "LW"). `first`
    /// says whether this is the first timeout of this segment: later ones keep ssthresh.
    pub fn on_timeout(&mut self, flight: u32, snd_max: SeqNum, first: bool) -> CwndReason {
        let how = first.then(|| self.reduce(flight));
        self.cwnd = self.smss;
        self.dupacks = 0;
        self.in_recovery = false;
        self.prr = None;
        self.bytes_acked = 0;
        // RFC 6582 §4: after a timeout, duplicate ACKs for data sent before it must not
        // start another fast retransmit.
        self.recover = snd_max;
        CwndReason::Timeout { how }
    }

    /// Slow start: RFC 5681 §3.1 equation (2), cwnd += min(N, SMSS); under the Linux
    /// profile by all N (`tcp_slow_start`), up to ssthresh.
    fn slow_start(&mut self, acked: u32) -> CwndReason {
        let grow = match self.tuning.profile {
            Profile::Rfc => acked.min(self.smss),
            Profile::Linux => acked.min(self.ssthresh - self.cwnd),
        };
        self.cwnd += grow;
        match self.tuning.profile {
            Profile::Rfc => CwndReason::SlowStart { grow, acked },
            Profile::Linux => CwndReason::SlowStartLinux { grow },
        }
    }

    /// CUBIC's growth in congestion avoidance (RFC 9438 §4.2–4.5).
    fn cubic_growth(&mut self, acked: u32, now: Time, rtt: Time) -> Option<CwndReason> {
        let cubic = self.cubic.as_mut()?;
        let smss = f64::from(self.smss);
        let cwnd = f64::from(self.cwnd) / smss;
        let grown = cubic.grow(cwnd, f64::from(acked) / smss, now, rtt) * smss;
        self.carry += grown - f64::from(self.cwnd);
        let whole = self.carry.floor();
        if whole < 1.0 {
            return None;
        }
        self.carry -= whole;
        let before = self.cwnd;
        self.cwnd += whole as u32;
        // Report a step when a whole segment was gained, not every octet.
        (self.cwnd / self.smss > before / self.smss).then_some(CwndReason::Cubic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC: Tuning = Tuning {
        initial_window: None,
        algorithm: CongestionControl::Reno,
        prr: false,
        profile: Profile::Rfc,
        min_tso_segs: 2,
        restart_after_idle: true,
    };

    impl Congestion {
        fn on_new_ack_now(&mut self, acked: u32, limited: bool) -> Option<CwndReason> {
            self.on_new_ack(acked, limited, Time::ZERO, Time::from_millis(100))
        }
    }

    #[test]
    fn linux_starts_with_ten_segments_and_grows_by_all_it_is_acked() {
        let linux = Tuning {
            initial_window: Some(10),
            algorithm: CongestionControl::Cubic,
            prr: true,
            profile: Profile::Linux,
            min_tso_segs: 2,
            restart_after_idle: true,
        };
        let mut cc = Congestion::new(1000, SeqNum(0), linux);
        assert_eq!(cc.cwnd, 10_000);
        cc.on_new_ack(2000, true, Time::ZERO, Time::from_millis(100));
        assert_eq!(
            cc.cwnd, 12_000,
            "a delayed ACK of two segments grows it by two"
        );
        cc.enter_sack_recovery(5000, SeqNum(50_000));
        assert_eq!(
            cc.ssthresh, 8000,
            "12 segments × 717/1024, not of the flight"
        );
        assert_eq!(cc.cwnd, 12_000, "PRR brings it down step by step");
    }

    #[test]
    fn initial_window_follows_rfc_5681() {
        assert_eq!(Congestion::new(1460, SeqNum(0), RFC).cwnd, 4380);
        assert_eq!(Congestion::new(536, SeqNum(0), RFC).cwnd, 2144);
        assert_eq!(Congestion::new(2500, SeqNum(0), RFC).cwnd, 5000);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = Congestion::new(1000, SeqNum(0), RFC);
        cc.ssthresh = 5000;
        cc.cwnd = 4000;
        assert!(cc.on_new_ack_now(1000, true).is_some());
        assert_eq!(cc.cwnd, 5000);
        assert!(cc.on_new_ack_now(2000, true).is_none());
        assert!(cc.on_new_ack_now(3000, true).is_some());
        assert_eq!(cc.cwnd, 6000);
        assert!(cc.on_new_ack_now(1000, false).is_none(), "not cwnd-limited");
    }

    #[test]
    fn three_dupacks_halve_and_a_full_ack_deflates() {
        let mut cc = Congestion::new(1000, SeqNum(0), RFC);
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
