//! Out-of-order segments held until the gap before them is filled (RFC 9293 §3.10.7.4,
//! seventh step: "segments with higher beginning sequence numbers ... may be held").

use std::collections::VecDeque;

use super::ByteQueue;
use crate::SeqNum;

/// Octet runs received ahead of RCV.NXT, kept sorted and without overlap. A lossy transfer
/// may hold thousands of segments behind one hole, so finding a segment's place is a binary
/// search and taking runs off the front costs nothing.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    runs: VecDeque<(SeqNum, Vec<u8>)>,
}

/// What an insertion did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// Octets not held before.
    pub new: usize,
    /// Octets already held (a duplicate, in whole or in part).
    pub duplicate: usize,
}

impl Reassembly {
    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Octets held.
    pub fn held(&self) -> usize {
        self.runs.iter().map(|(_, d)| d.len()).sum()
    }

    /// The contiguous blocks held, in order: what SACK reports (RFC 2018 §3).
    pub fn blocks(&self) -> Vec<(SeqNum, SeqNum)> {
        let mut blocks: Vec<(SeqNum, SeqNum)> = Vec::new();
        for (seq, run) in &self.runs {
            let end = *seq + run.len() as u32;
            match blocks.last_mut() {
                Some(last) if last.1 == *seq => last.1 = end,
                _ => blocks.push((*seq, end)),
            }
        }
        blocks
    }

    /// Hold `data`, which starts at `seq` (ahead of `rcv_nxt`), keeping only octets not
    /// already held.
    pub fn insert(&mut self, rcv_nxt: SeqNum, seq: SeqNum, data: &[u8]) -> Inserted {
        let offset = |s: SeqNum| s.since(rcv_nxt);
        let start = offset(seq);
        let end = start + data.len() as u32;
        // The first run that ends after the data starts: only it and those after it that
        // begin before the data ends can overlap.
        let first = self
            .runs
            .partition_point(|(s, run)| offset(*s) + run.len() as u32 <= start);
        let mut pieces = Vec::new();
        let mut cursor = start;
        let mut at = first;
        for (run_seq, run) in self.runs.range(first..) {
            let run_start = offset(*run_seq);
            if run_start >= end {
                break;
            }
            if run_start > cursor {
                pieces.push((cursor, run_start, at));
            }
            cursor = cursor.max(run_start + run.len() as u32);
            at += 1;
        }
        if cursor < end {
            pieces.push((cursor, end, at));
        }
        let new: usize = pieces.iter().map(|(a, b, _)| (b - a) as usize).sum();
        // Insert from the back, so the earlier positions still hold.
        for (a, b, before) in pieces.into_iter().rev() {
            let slice = &data[(a - start) as usize..(b - start) as usize];
            self.runs.insert(before, (rcv_nxt + a, slice.to_vec()));
        }
        Inserted {
            new,
            duplicate: data.len() - new,
        }
    }

    /// Move every octet that now follows `rcv_nxt` without a gap into `out`, up to `room`
    /// octets. Returns how many moved (RCV.NXT advances by that much).
    pub fn pop_ready(&mut self, rcv_nxt: SeqNum, out: &mut ByteQueue, room: usize) -> u32 {
        let mut next = rcv_nxt;
        let mut moved = 0usize;
        while let Some((seq, run)) = self.runs.front() {
            if *seq > next {
                break;
            }
            let skip = next.since(*seq) as usize;
            if skip < run.len() {
                let take = (run.len() - skip).min(room - moved);
                out.push(&run[skip..skip + take]);
                moved += take;
                next = next + take as u32;
                if skip + take < run.len() {
                    // Out of room: keep the rest for later.
                    let rest = run[skip + take..].to_vec();
                    self.runs[0] = (next, rest);
                    break;
                }
            }
            self.runs.pop_front();
        }
        moved as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_fill_in_any_order_and_duplicates_are_counted() {
        let base = SeqNum(u32::MAX - 3); // the run wraps around 2³²
        let mut r = Reassembly::default();
        assert_eq!(r.insert(base, base + 4, b"efgh").new, 4);
        assert_eq!(
            r.insert(base, base + 6, b"ghij"),
            Inserted {
                new: 2,
                duplicate: 2
            }
        );
        assert_eq!(r.insert(base, base + 4, b"ef").duplicate, 2);
        let mut out = ByteQueue::default();
        assert_eq!(r.pop_ready(base, &mut out, 100), 0, "the gap is still open");
        out.push(b"abcd");
        assert_eq!(r.pop_ready(base + 4, &mut out, 100), 6);
        assert_eq!(out.take_front(100), b"abcdefghij");
        assert!(r.is_empty());
    }

    #[test]
    fn any_order_of_overlapping_pieces_rebuilds_the_stream() {
        let stream: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let base = SeqNum(u32::MAX - 5_000); // the stream wraps around 2³²
        let mut state = 0x2545_f491_u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let mut r = Reassembly::default();
        let mut out = ByteQueue::default();
        let mut rcv_nxt = base;
        while rcv_nxt.since(base) < stream.len() as u32 {
            // A piece somewhere in the next 8000 octets, often overlapping others.
            let done = rcv_nxt.since(base) as usize;
            let start = done + next(8_000) as usize;
            let end = (start + 1 + next(1_500) as usize).min(stream.len());
            if start >= end {
                continue;
            }
            if start == done {
                out.push(&stream[start..end]);
                rcv_nxt = rcv_nxt + (end - start) as u32;
            } else {
                r.insert(rcv_nxt, base + start as u32, &stream[start..end]);
            }
            rcv_nxt = rcv_nxt + r.pop_ready(rcv_nxt, &mut out, usize::MAX);
            let blocks = r.blocks();
            assert!(blocks.windows(2).all(|w| w[0].1 < w[1].0), "{blocks:?}");
        }
        assert_eq!(out.take_front(usize::MAX), stream);
    }

    #[test]
    fn pop_respects_room() {
        let mut r = Reassembly::default();
        r.insert(SeqNum(0), SeqNum(2), b"cdef");
        let mut out = ByteQueue::default();
        assert_eq!(r.pop_ready(SeqNum(2), &mut out, 3), 3);
        assert_eq!(r.held(), 1);
        assert_eq!(r.runs[0].0, SeqNum(5));
        assert_eq!(r.pop_ready(SeqNum(5), &mut out, 3), 1);
        assert_eq!(out.take_front(10), b"cdef");
    }
}
