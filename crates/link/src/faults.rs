//! Faulty links: each direction of a cable may delay, jitter, lose, drop a chosen frame,
//! reorder, duplicate, corrupt, and limit its rate behind a drop-tail queue. Every decision
//! comes from the direction's own generator, seeded from the world's seed and the link's
//! name, so a run is repeatable frame for frame.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use trace::{Fault, PerMille, Time};

/// What can go wrong in one direction of a link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Extra delay, uniform between zero and this.
    pub jitter: Time,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Frames to drop, counted from 1 in this direction ("drop the 4th frame").
    pub drop_nth: Vec<u64>,
    /// Probability that a frame is held back so that later ones overtake it.
    pub reorder: f64,
    /// How long a reordered frame is held back; zero means twice the delay plus 1 ms.
    pub reorder_delay: Time,
    /// Probability that a frame arrives twice.
    pub duplicate: f64,
    /// Probability that one bit of the frame (after the Ethernet header) is flipped.
    pub corrupt: f64,
    /// Transmission rate in bits per second; `None` is infinitely fast.
    pub rate_bps: Option<u64>,
    /// With a rate limit: how many frames may wait; more are dropped at the tail.
    pub queue: usize,
}

impl Faults {
    /// True when this direction does nothing but carry frames.
    pub fn is_clean(&self) -> bool {
        *self == Faults::default()
    }
}

/// A cable's delay and the faults of each direction (index 0: from its first end).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Time,
    /// Faults from the first end to the second, and back.
    pub faults: [Faults; 2],
}

impl LinkConfig {
    /// A faultless cable.
    pub fn new(delay: Time) -> LinkConfig {
        LinkConfig {
            delay,
            faults: Default::default(),
        }
    }

    /// The same faults both ways.
    pub fn symmetric(delay: Time, faults: Faults) -> LinkConfig {
        LinkConfig {
            delay,
            faults: [faults.clone(), faults],
        }
    }
}

/// The moving parts of one direction of a link: its generator, frame count and queue. The
/// simulator keeps two per cable; the TAP driver wraps the real device in two as well.
#[derive(Debug)]
pub struct Direction {
    rng: ChaCha8Rng,
    /// Frames sent this way so far.
    count: u64,
    /// When the transmitter is free again (rate limit).
    busy_until: Time,
    /// When each frame in the queue will have left it.
    queue: VecDeque<Time>,
}

/// What became of a frame: the copies that arrive and when, and the faults applied, in
/// words for the trace and the capture comment.
#[derive(Debug)]
pub struct Fate {
    /// Each copy that arrives, and when.
    pub deliveries: Vec<(Time, Vec<u8>)>,
    /// What happened to it, one entry per fault.
    pub faults: Vec<Fault>,
}

impl Direction {
    /// A direction whose random draws come from `seed`.
    pub fn new(seed: u64) -> Direction {
        Direction {
            rng: ChaCha8Rng::seed_from_u64(seed),
            count: 0,
            busy_until: Time::ZERO,
            queue: VecDeque::new(),
        }
    }

    /// A uniform draw in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn happens(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p
    }

    /// Decide the fate of a frame put on the link at `now` in direction `dir`.
    pub fn decide(&mut self, now: Time, config: &LinkConfig, dir: usize, frame: Vec<u8>) -> Fate {
        let faults = &config.faults[dir];
        self.count += 1;
        let mut fate = Fate {
            deliveries: Vec::new(),
            faults: Vec::new(),
        };
        if faults.is_clean() {
            fate.deliveries.push((now + config.delay, frame));
            return fate;
        }
        // The transmitter: a frame waits for those before it, and a full queue drops it.
        let mut leaves = now;
        if let Some(rate) = faults.rate_bps.filter(|r| *r > 0) {
            while self.queue.front().is_some_and(|&t| t <= now) {
                self.queue.pop_front();
            }
            if self.queue.len() > faults.queue {
                fate.faults.push(Fault::QueueFull {
                    waiting: self.queue.len(),
                    rate_bps: rate,
                });
                return fate;
            }
            // Waiting in the queue is the link working as built, not a fault: only the
            // drops are reported.
            let start = now.max(self.busy_until);
            let bits = frame.len() as u64 * 8;
            leaves = start + Time(bits * 1_000_000_000 / rate);
            self.busy_until = leaves;
            self.queue.push_back(leaves);
        }
        if faults.drop_nth.contains(&self.count) {
            fate.faults
                .push(Fault::DroppedOnPurpose { nth: self.count });
            return fate;
        }
        if self.happens(faults.loss) {
            fate.faults.push(Fault::Lost {
                rate: PerMille::of(faults.loss),
            });
            return fate;
        }
        let mut frame = frame;
        if frame.len() > 14 && self.happens(faults.corrupt) {
            let bits = (frame.len() - 14) as u64 * 8;
            let bit = 14 * 8 + self.rng.next_u64() % bits;
            frame[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            fate.faults.push(Fault::Corrupted {
                bit,
                rate: PerMille::of(faults.corrupt),
            });
        }
        let mut at = leaves + config.delay;
        if faults.jitter > Time::ZERO {
            let extra = Time((self.uniform() * faults.jitter.0 as f64) as u64);
            at = at + extra;
        }
        if self.happens(faults.reorder) {
            let hold = if faults.reorder_delay > Time::ZERO {
                faults.reorder_delay
            } else {
                Time(2 * config.delay.0) + Time::from_millis(1)
            };
            at = at + hold;
            fate.faults.push(Fault::HeldBack {
                hold,
                rate: PerMille::of(faults.reorder),
            });
        }
        if self.happens(faults.duplicate) {
            fate.faults.push(Fault::Duplicated {
                rate: PerMille::of(faults.duplicate),
            });
            fate.deliveries.push((at, frame.clone()));
            at = at + Time(1_000);
        }
        fate.deliveries.push((at, frame));
        fate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Vec<u8> {
        vec![0u8; 100]
    }

    #[test]
    fn a_clean_link_only_delays() {
        let config = LinkConfig::new(Time::from_millis(2));
        let fate = Direction::new(1).decide(Time::from_millis(5), &config, 0, frame());
        assert_eq!(fate.deliveries.len(), 1);
        assert_eq!(fate.deliveries[0].0, Time::from_millis(7));
        assert!(fate.faults.is_empty());
    }

    #[test]
    fn drop_nth_counts_per_direction() {
        let mut config = LinkConfig::new(Time::ZERO);
        config.faults[0].drop_nth = vec![2];
        let mut d = Direction::new(1);
        let fates: Vec<usize> = (0..3)
            .map(|_| d.decide(Time::ZERO, &config, 0, frame()).deliveries.len())
            .collect();
        assert_eq!(fates, [1, 0, 1]);
    }

    #[test]
    fn loss_rate_is_roughly_right_and_repeatable() {
        let config = LinkConfig::symmetric(
            Time::ZERO,
            Faults {
                loss: 0.2,
                ..Faults::default()
            },
        );
        let run = |seed| {
            let mut d = Direction::new(seed);
            (0..10_000)
                .filter(|_| {
                    d.decide(Time::ZERO, &config, 0, frame())
                        .deliveries
                        .is_empty()
                })
                .count()
        };
        let lost = run(9);
        assert!((1800..2200).contains(&lost), "{lost}");
        assert_eq!(lost, run(9));
    }

    #[test]
    fn corruption_flips_exactly_one_bit_after_the_ethernet_header() {
        let config = LinkConfig::symmetric(
            Time::ZERO,
            Faults {
                corrupt: 1.0,
                ..Faults::default()
            },
        );
        let mut d = Direction::new(3);
        for _ in 0..100 {
            let fate = d.decide(Time::ZERO, &config, 0, frame());
            let got = &fate.deliveries[0].1;
            let flipped: u32 = got.iter().map(|b| b.count_ones()).sum();
            assert_eq!(flipped, 1);
            assert!(got[..14].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn a_rate_limit_spaces_frames_and_a_full_queue_drops() {
        let config = LinkConfig::symmetric(
            Time::ZERO,
            Faults {
                rate_bps: Some(8_000_000), // one octet per microsecond
                queue: 2,
                ..Faults::default()
            },
        );
        let mut d = Direction::new(1);
        let arrivals: Vec<Option<Time>> = (0..5)
            .map(|_| {
                d.decide(Time::ZERO, &config, 0, frame())
                    .deliveries
                    .first()
                    .map(|(t, _)| *t)
            })
            .collect();
        let us = |n: u64| Some(Time(n * 1000));
        assert_eq!(arrivals, [us(100), us(200), us(300), None, None]);
    }
}
