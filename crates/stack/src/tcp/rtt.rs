//! The retransmission timer's clock: RTT estimation and the RTO of RFC 6298.

use trace::Time;

/// RFC 6298 §2.1: before any measurement the RTO is one second.
pub(crate) const INITIAL_RTO: Time = Time::from_secs(1);
/// RFC 6298 §2.4: "if it is less than 1 second, then the RTO SHOULD be rounded up to
/// 1 second". (Linux uses 200 ms; the simulator keeps the RFC's value so lessons show it,
/// and a host may choose another.)
pub const MIN_RTO: Time = Time::from_secs(1);
/// RFC 6298 §2.5: an upper bound on the RTO, at least 60 seconds.
pub(crate) const MAX_RTO: Time = Time::from_secs(60);
/// The clock granularity G of RFC 6298 §2: our clock counts nanoseconds, but a
/// millisecond keeps RTTVAR from collapsing to nothing on a perfectly regular link.
const GRANULARITY: Time = Time::from_millis(1);

/// SRTT, RTTVAR and RTO of one connection (RFC 6298 §2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RttEstimator {
    /// Smoothed round-trip time, once there is a measurement.
    pub srtt: Option<Time>,
    /// Round-trip time variation.
    pub rttvar: Time,
    /// The current retransmission timeout, backed off after timeouts.
    pub rto: Time,
    /// The lower bound of RFC 6298 §2.4.
    pub min_rto: Time,
    /// Linux's reading: the bound applies to the variation term, RTO = SRTT + max(4·RTTVAR,
    /// min RTO) (`tcp_rtt_estimator`'s `mdev_max`), so that a short path still waits SRTT
    /// longer than the bound.
    pub bound_variation: bool,
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator::new(MIN_RTO)
    }
}

impl RttEstimator {
    /// An estimator with this lower bound on the RTO.
    pub fn new(min_rto: Time) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: Time::ZERO,
            rto: INITIAL_RTO,
            min_rto,
            bound_variation: false,
        }
    }

    /// The RTO for this SRTT and the current RTTVAR (RFC 6298 §2.2–2.5).
    fn rto_for(&self, srtt: Time) -> Time {
        let variation = Time(4 * self.rttvar.0);
        let rto = if self.bound_variation {
            srtt + variation.max(self.min_rto)
        } else {
            // RTO <- SRTT + max(G, K*RTTVAR), K = 4, then §2.4's lower bound.
            (srtt + GRANULARITY.max(variation)).max(self.min_rto)
        };
        rto.min(MAX_RTO)
    }

    /// Take one measurement R (RFC 6298 §2.2 and §2.3) and recompute the RTO.
    pub fn sample(&mut self, r: Time) {
        match self.srtt {
            None => {
                // §2.2: SRTT <- R, RTTVAR <- R/2.
                self.srtt = Some(r);
                self.rttvar = Time(r.0 / 2);
            }
            Some(srtt) => {
                // §2.3 with alpha = 1/8, beta = 1/4:
                // RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'.
                let delta = srtt.0.abs_diff(r.0);
                self.rttvar = Time((3 * self.rttvar.0 + delta) / 4);
                self.srtt = Some(Time((7 * srtt.0 + r.0) / 8));
            }
        }
        self.rto = self.rto_for(self.srtt.unwrap_or(r));
    }

    /// One of `expected` samples from a window of ACKs (RFC 7323 Appendix G): alpha and beta
    /// are divided by `expected`, so a window's worth of samples moves SRTT and RTTVAR as
    /// much as one sample per RTT would.
    pub fn sample_weighted(&mut self, r: Time, expected: u32) {
        let Some(srtt) = self.srtt else {
            return self.sample(r);
        };
        let n = u128::from(expected.max(1));
        let delta = u128::from(srtt.0.abs_diff(r.0));
        // RTTVAR <- (1 - beta') RTTVAR + beta' |SRTT - R'|, beta' = 1/(4n).
        let rttvar = (u128::from(self.rttvar.0) * (4 * n - 1) + delta) / (4 * n);
        // SRTT <- (1 - alpha') SRTT + alpha' R', alpha' = 1/(8n).
        let srtt = (u128::from(srtt.0) * (8 * n - 1) + u128::from(r.0)) / (8 * n);
        self.rttvar = Time(rttvar as u64);
        self.srtt = Some(Time(srtt as u64));
        self.rto = self.rto_for(Time(srtt as u64));
    }

    /// RFC 6298 §5.5: after a timeout, double the RTO ("back off the timer").
    pub fn back_off(&mut self) {
        self.rto = Time(self.rto.0.saturating_mul(2)).min(MAX_RTO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut rtt = RttEstimator::default();
        rtt.sample(Time::from_millis(100));
        assert_eq!(rtt.srtt, Some(Time::from_millis(100)));
        assert_eq!(rtt.rttvar, Time::from_millis(50));
        // 100 ms + 4 × 50 ms = 300 ms, rounded up to the 1 s minimum.
        assert_eq!(rtt.rto, MIN_RTO);
    }

    #[test]
    fn later_samples_are_smoothed_and_long_rtts_give_long_rtos() {
        let mut rtt = RttEstimator::default();
        rtt.sample(Time::from_secs(2));
        rtt.sample(Time::from_secs(4));
        // RTTVAR = 3/4·1 + 1/4·2 = 1.25 s; SRTT = 7/8·2 + 1/8·4 = 2.25 s.
        assert_eq!(rtt.rttvar, Time::from_millis(1250));
        assert_eq!(rtt.srtt, Some(Time::from_millis(2250)));
        assert_eq!(rtt.rto, Time::from_millis(7250));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut rtt = RttEstimator::default();
        for expected in [2, 4, 8, 16, 32, 60, 60] {
            rtt.back_off();
            assert_eq!(rtt.rto, Time::from_secs(expected));
        }
    }
}
