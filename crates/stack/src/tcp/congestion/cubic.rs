//! CUBIC (RFC 9438): after a loss the window grows as a cubic function of the time since
//! it, flat near the window where the loss happened and steep away from it, so that a long
//! fat path is filled again in seconds where Reno would take minutes; within the
//! Reno-friendly region it grows at least as fast as Reno would (§4.3).

use trace::Time;

/// RFC 9438 §5: C = 0.4 (segments per second cubed).
const C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7 (Linux: 717/1024).
pub(crate) const BETA: f64 = 0.7;

/// CUBIC's state, in segments and seconds as the RFC counts them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cubic {
    /// W_max: the window just before the last reduction.
    w_max: f64,
    /// K: the time the function takes to climb back to W_max.
    k: f64,
    /// When the current congestion-avoidance epoch began (its first ACK), once it has.
    epoch: Option<Time>,
    /// cwnd_epoch: the window when the epoch began.
    cwnd_epoch: f64,
    /// W_est: what a Reno flow with the same losses would have (§4.3).
    w_est: f64,
}

impl Cubic {
    /// The sender was idle: a new epoch begins at the next ACK, from the window then,
    /// W_max kept (as Linux moves its epoch past an idle time).
    pub fn restart_epoch(&mut self) {
        self.epoch = None;
    }

    /// W_cubic(t) of §4.2.
    fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) + self.w_max
    }

    /// A congestion event with this window (segments): remember W_max, with fast
    /// convergence (§4.7), and start a new epoch at the next ACK. Returns the new ssthresh
    /// in whole segments, as Linux counts it: cwnd × 717/1024 (β_cubic), at least 2.
    pub fn reduce(&mut self, cwnd: u32) -> u32 {
        let w = f64::from(cwnd);
        self.w_max = if w < self.w_max {
            w * (1.0 + BETA) / 2.0
        } else {
            w
        };
        self.epoch = None;
        (cwnd * 717 / 1024).max(2)
    }

    /// The window after `acked` segments were acknowledged at `now`, in congestion
    /// avoidance, with this window and RTT (§4.2–4.5).
    pub fn grow(&mut self, cwnd: f64, acked: f64, now: Time, rtt: Time) -> f64 {
        let epoch = *self.epoch.get_or_insert_with(|| {
            self.cwnd_epoch = cwnd;
            self.w_est = cwnd;
            self.w_max = self.w_max.max(cwnd);
            self.k = ((self.w_max - cwnd) / C).cbrt();
            now
        });
        let t = (now.0.saturating_sub(epoch.0)) as f64 / 1e9;
        let rtt = rtt.0 as f64 / 1e9;
        // §4.3: the Reno-friendly estimate, with α_cubic = 3(1 − β)/(1 + β) until it
        // reaches W_max, then Reno's 1.
        let alpha = if self.w_est < self.w_max {
            3.0 * (1.0 - BETA) / (1.0 + BETA)
        } else {
            1.0
        };
        self.w_est += alpha * acked / cwnd;
        if self.w_cubic(t) < self.w_est {
            return self.w_est.max(cwnd);
        }
        // §4.4–4.5: aim at W_cubic one RTT ahead, between cwnd and 1.5 × cwnd.
        let target = self.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
        cwnd + (target - cwnd) / cwnd * acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_loss_the_window_climbs_back_to_w_max_in_k_seconds() {
        let mut cubic = Cubic::default();
        let ssthresh = f64::from(cubic.reduce(100));
        assert_eq!(ssthresh, 70.0);
        let rtt = Time::from_millis(100);
        let mut cwnd = ssthresh;
        let mut now = Time::ZERO;
        cwnd = cubic.grow(cwnd, 1.0, now, rtt);
        // K = cbrt(30 / 0.4) ≈ 4.22 s: flat near W_max, never past it much before then.
        for _ in 0..42 {
            now = now + rtt;
            cwnd = cubic.grow(cwnd, cwnd, now, rtt);
        }
        assert!((95.0..=105.0).contains(&cwnd), "{cwnd}");
        for _ in 0..30 {
            now = now + rtt;
            cwnd = cubic.grow(cwnd, cwnd, now, rtt);
        }
        assert!(cwnd > 110.0, "then it probes beyond: {cwnd}");
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_losses_come_sooner() {
        let mut cubic = Cubic::default();
        cubic.reduce(100);
        cubic.reduce(80);
        assert!((cubic.w_max - 68.0).abs() < 1e-9);
    }
}
