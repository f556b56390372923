//! Which sequence ranges of one direction were seen, as far as Zeek's content gaps need it:
//! octets the peer acknowledged that the capture never carried are a gap (`g`). Only the
//! ranges are kept, never the octets.

use std::collections::BTreeMap;

/// Zeek's `tcp_max_initial_window` and `tcp_max_above_hole_without_any_acks`.
const MAX_UNACKED: u64 = 16_384;
/// Zeek's `tcp_excessive_data_without_further_acks`.
const EXCESSIVE: u64 = 10 * 1024 * 1024;

/// One direction's seen ranges, relative sequence numbers (data starts at 1).
#[derive(Debug)]
pub(super) struct Reassembly {
    /// Everything below this was delivered or declared missing.
    pub delivered: u64,
    /// Everything below this was acknowledged and forgotten.
    trim: u64,
    /// Seen ranges above `trim`, start → end, disjoint.
    ranges: BTreeMap<u64, u64>,
    bytes: u64,
    /// Zeek stopped reassembling this direction (too much unacknowledged data).
    pub skipping: bool,
    /// The end of this direction's stream was reported.
    pub eof: bool,
    /// Octets declared missing so far: the sum of the gaps' lengths (Zeek's `content_gap`).
    pub missed: u64,
}

impl Default for Reassembly {
    fn default() -> Self {
        Reassembly {
            delivered: 1,
            trim: 1,
            ranges: BTreeMap::new(),
            bytes: 0,
            skipping: false,
            eof: false,
            missed: 0,
        }
    }
}

/// What the sender's acknowledgement state says about new data.
pub(super) struct Sender {
    /// Relative sequence number the peer acknowledged.
    pub acked: u64,
    pub no_data_acked: bool,
    /// Octets sent so far (Zeek's `Size()`).
    pub size: u64,
}

impl Reassembly {
    /// Data at relative `seq` was seen whole.
    pub fn data(&mut self, seq: u64, len: u64, sender: &Sender) {
        if self.skipping {
            return;
        }
        let upper = seq + len;
        if upper <= sender.acked.max(self.trim) {
            return;
        }
        let seq = seq.max(sender.acked).max(self.trim);
        self.insert(seq, upper);
        if self.deliver() && sender.no_data_acked && sender.size > MAX_UNACKED {
            self.forget_below(self.delivered);
        }
        let above_hole = self
            .ranges
            .last_key_value()
            .map_or(0, |(_, &end)| end.saturating_sub(self.delivered));
        if (sender.no_data_acked && above_hole > MAX_UNACKED) || self.bytes > EXCESSIVE {
            self.ranges.clear();
            self.bytes = 0;
            self.skipping = true;
        }
    }

    /// The peer acknowledged up to `seq`; returns how many gaps that reveals.
    pub fn acked(&mut self, seq: u64, partial: bool) -> u32 {
        if seq <= self.trim {
            return 0;
        }
        let gaps = if seq > self.delivered {
            self.undelivered(seq, partial)
        } else {
            0
        };
        self.forget_below(seq);
        self.deliver();
        gaps
    }

    /// Seen octets above a hole wait for it.
    pub fn has_undelivered(&self) -> bool {
        self.ranges
            .last_key_value()
            .is_some_and(|(_, &end)| end > self.delivered)
    }

    /// Declare everything below `up_to` delivered; each hole on the way is a gap.
    fn undelivered(&mut self, up_to: u64, partial: bool) -> u32 {
        // A partial connection's sequence space was made up one octet early.
        if up_to <= 2 && partial {
            return 0;
        }
        let mut gaps = 0;
        if !self.skipping {
            while self.delivered < up_to
                && let Some((&start, _)) = self.ranges.range(self.delivered..up_to).next()
            {
                gaps += 1;
                self.missed += start - self.delivered;
                self.delivered = start;
                self.deliver();
            }
            if up_to > self.delivered {
                gaps += 1;
                self.missed += up_to - self.delivered;
            }
        }
        self.delivered = self.delivered.max(up_to);
        gaps
    }

    /// Move `delivered` past the seen range that holds it; true if it moved.
    fn deliver(&mut self) -> bool {
        match self.ranges.range(..=self.delivered).next_back() {
            Some((_, &end)) if end > self.delivered => {
                self.delivered = end;
                true
            }
            _ => false,
        }
    }

    fn insert(&mut self, mut start: u64, mut end: u64) {
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .rev()
            .take_while(|&(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.ranges.remove(&s);
            self.bytes -= e - s;
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
        self.bytes += end - start;
    }

    fn forget_below(&mut self, seq: u64) {
        while let Some((&s, &e)) = self.ranges.first_key_value() {
            if s >= seq {
                break;
            }
            self.ranges.remove(&s);
            self.bytes -= e - s;
            if e > seq {
                self.ranges.insert(seq, e);
                self.bytes += e - seq;
                break;
            }
        }
        self.trim = self.trim.max(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
            acked: 1,
            no_data_acked: false,
            size: 0,
        }
    }

    #[test]
    fn data_in_order_leaves_no_gap() {
        let mut r = Reassembly::default();
        r.data(1, 100, &sender());
        r.data(101, 100, &sender());
        assert_eq!(r.acked(201, false), 0);
    }

    #[test]
    fn an_acknowledged_hole_is_one_gap_and_a_filled_one_none() {
        let mut r = Reassembly::default();
        r.data(1, 100, &sender());
        r.data(201, 100, &sender());
        assert!(r.has_undelivered());
        assert_eq!(r.acked(301, false), 1);
        let mut r = Reassembly::default();
        r.data(201, 100, &sender());
        r.data(1, 200, &sender());
        assert_eq!(r.acked(301, false), 0);
    }

    #[test]
    fn a_seen_range_running_past_the_ack_ends_the_walk() {
        // Found by fuzzing: a hole, then a range reaching beyond the acknowledged point.
        let mut r = Reassembly::default();
        r.data(51, 100, &sender());
        assert_eq!(r.acked(101, false), 1);
        assert_eq!(r.delivered, 151);
    }

    #[test]
    fn an_ack_beyond_everything_seen_is_a_gap() {
        let mut r = Reassembly::default();
        r.data(1, 100, &sender());
        r.data(201, 100, &sender());
        assert_eq!(r.acked(401, false), 2);
        assert_eq!(
            r.missed, 200,
            "the hole 101..201 and the 100 octets above 301"
        );
        assert_eq!(r.delivered, 401);
    }
}
