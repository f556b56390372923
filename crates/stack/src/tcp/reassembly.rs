//! Out-of-order segments held until the gap before them is filled (RFC 9293 §3.10.7.4,
//! seventh step: "segments with higher beginning sequence numbers ... may be held").

use super::ByteQueue;
use crate::SeqNum;

/// Octet runs received ahead of RCV.NXT, kept sorted and without overlap.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    runs: Vec<(SeqNum, Vec<u8>)>,
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
        let mut blocks: Vec<(SeqNum, SeqNum)> = Vec::with_capacity(self.runs.len());
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
        let start = seq.since(rcv_nxt);
        let end = start + data.len() as u32;
        let mut pieces = Vec::new();
        let mut cursor = start;
        for (run_seq, run) in &self.runs {
            let run_start = run_seq.since(rcv_nxt);
            let run_end = run_start + run.len() as u32;
            if run_end <= cursor {
                continue;
            }
            if run_start >= end {
                break;
            }
            if run_start > cursor {
                pieces.push((cursor, run_start));
            }
            cursor = cursor.max(run_end);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        let new: usize = pieces.iter().map(|(a, b)| (b - a) as usize).sum();
        for (a, b) in pieces {
            let slice = &data[(a - start) as usize..(b - start) as usize];
            self.runs.push((rcv_nxt + a, slice.to_vec()));
        }
        self.runs.sort_by_key(|(s, _)| s.since(rcv_nxt));
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
        while let Some((seq, run)) = self.runs.first() {
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
            self.runs.remove(0);
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
