//! Linux's receive-buffer autotuning (dynamic right-sizing, `tcp_rcv_space_adjust`). RFC
//! 9293 leaves the size of the receive buffer to the implementation, and RFC 7323 §2.3's
//! window scale lets it pass 64 KiB; Linux starts a connection's buffer at `tcp_rmem[1]` and,
//! once a round trip, when the application read more in it than in the last one measured,
//! grows the buffer to about twice that (more while the rate keeps rising), up to
//! `tcp_rmem[2]`. A fast sender is then not held to the first buffer, which matters most
//! when losses hold data out of order in it.

use trace::Time;

/// Linux's `rcvq_space`: what the application read per round trip.
#[derive(Debug, Clone)]
pub(crate) struct RcvSpace {
    /// What was read in the last round trip that grew (`rcvq_space.space`).
    space: u32,
    /// Octets read in all.
    read: u64,
    /// Octets read when the round began.
    mark: u64,
    /// When the round began.
    began: Option<Time>,
}

impl RcvSpace {
    /// Linux's first measure (`tcp_init_buffer_space`): ten segments, or the first window if
    /// smaller.
    pub fn new(advmss: u32, first_window: u32) -> RcvSpace {
        RcvSpace {
            space: (10 * advmss).min(first_window).max(advmss),
            read: 0,
            mark: 0,
            began: None,
        }
    }

    /// The application read `n` octets at `now`. Once `rtt` has passed since the round began,
    /// the round is measured: the buffer's new size when it grows past `cap` (at most `max`).
    pub fn read(
        &mut self,
        n: usize,
        now: Time,
        rtt: Time,
        advmss: u32,
        (cap, max): (u32, u32),
    ) -> Option<u32> {
        self.read += n as u64;
        let began = *self.began.get_or_insert(now);
        if rtt == Time::ZERO || now - began < rtt {
            return None;
        }
        let copied = u32::try_from(self.read - self.mark).unwrap_or(u32::MAX);
        self.mark = self.read;
        self.began = Some(now);
        if copied <= self.space {
            return None;
        }
        // Twice what was read, with room for 16 segments of slack; and twice more for the
        // growth since the last round, as the rate is still rising.
        let window = 2 * u64::from(copied) + 16 * u64::from(advmss);
        let grow = window * u64::from(copied - self.space) / u64::from(self.space);
        self.space = copied;
        let wanted = (window + 2 * grow).min(u64::from(max)) as u32;
        (wanted > cap).then_some(wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1448;

    #[test]
    fn a_reader_keeping_up_with_a_rising_rate_doubles_the_buffer_each_round_trip() {
        let rtt = Time::from_millis(10);
        let mut space = RcvSpace::new(MSS, 65_535);
        let mut cap = 131_072;
        let mut now = Time::ZERO;
        let mut sizes = Vec::new();
        for round in 0..6u32 {
            // The sender's window doubles each round, and the reader reads it all.
            let per_round = 10 * MSS * 2u32.pow(round);
            now = now + rtt;
            if let Some(bigger) = space.read(per_round as usize, now, rtt, MSS, (cap, 6 << 20)) {
                cap = bigger;
            }
            sizes.push(cap);
        }
        assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "{sizes:?}");
        assert!(*sizes.last().unwrap() > 1 << 20, "{sizes:?}");
        assert!(sizes.iter().all(|&s| s <= 6 << 20), "{sizes:?}");
    }

    #[test]
    fn a_slow_reader_leaves_the_buffer_as_it_is() {
        let rtt = Time::from_millis(10);
        let mut space = RcvSpace::new(MSS, 65_535);
        let mut now = Time::ZERO;
        for _ in 0..10 {
            now = now + rtt;
            assert_eq!(
                space.read(4 * MSS as usize, now, rtt, MSS, (131_072, 6 << 20)),
                None
            );
        }
    }
}
