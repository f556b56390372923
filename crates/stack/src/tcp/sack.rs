//! Selective acknowledgment: the blocks a receiver reports (RFC 2018 §4, with the D-SACK of
//! RFC 2883) and the sender's scoreboard with the loss recovery of RFC 6675.

use wire::SackBlocks;

use crate::SeqNum;

/// RFC 6675 §2: DupThresh, the duplicate ACKs (or SACKed segments) that mean a loss.
pub(crate) const DUP_THRESH: u32 = 3;
/// How many recent out-of-order arrivals the receiver remembers to order its blocks.
const RECENT: usize = 8;

/// A range of sequence numbers: first, and one past the last.
pub(crate) type Range = (SeqNum, SeqNum);

/// The receiver's side: which held blocks to report first, and a duplicate to report once.
#[derive(Debug, Default)]
pub(crate) struct SackReceiver {
    /// Where recent out-of-order segments began, most recent first.
    recent: Vec<SeqNum>,
    /// A duplicate segment to report in the next ACK's first block (RFC 2883 §4).
    dsack: Option<Range>,
}

impl SackReceiver {
    /// A segment starting at `seq` arrived ahead of a gap.
    pub fn arrived(&mut self, seq: SeqNum) {
        self.recent.retain(|&s| s != seq);
        self.recent.insert(0, seq);
        self.recent.truncate(RECENT);
    }

    /// These octets arrived a second time (RFC 2883 §4: reported once, in the first block).
    pub fn duplicate(&mut self, range: Range) {
        self.dsack = Some(range);
    }

    /// Whether a D-SACK block waits to be sent.
    pub fn has_dsack(&self) -> bool {
        self.dsack.is_some()
    }

    /// The blocks for the next ACK, at most `limit`: a D-SACK block first (and the held block
    /// holding it, RFC 2883 §4 (2)), then the block of the segment that arrived last (RFC
    /// 2018 §4: "the first SACK block MUST specify the contiguous block of data containing
    /// the segment which triggered this ACK"), then the most recently reported ones, then the
    /// rest in order. The D-SACK block is reported once.
    pub fn blocks(&mut self, held: &[Range], limit: usize) -> SackBlocks {
        let mut out: Vec<Range> = Vec::with_capacity(SackBlocks::MAX);
        if let Some((left, right)) = self.dsack.take() {
            out.push((left, right));
            if let Some(&block) = held.iter().find(|(a, b)| *a <= left && right <= *b) {
                out.push(block);
            }
        }
        let containing = |seq: SeqNum| held.iter().find(|(a, b)| *a <= seq && seq < *b);
        let recent = self.recent.iter().filter_map(|&s| containing(s));
        for &block in recent.chain(held) {
            if !out.contains(&block) {
                out.push(block);
            }
        }
        let mut blocks = SackBlocks::default();
        for (left, right) in out.into_iter().take(limit) {
            blocks.push(left.0, right.0);
        }
        blocks
    }

    /// Forget arrivals that RCV.NXT has passed.
    pub fn forget_below(&mut self, rcv_nxt: SeqNum) {
        self.recent.retain(|&s| s > rcv_nxt);
    }
}

/// What the sender learned from one ACK's SACK blocks.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Learned {
    /// Octets newly marked as SACKed.
    pub newly_sacked: u32,
    /// A D-SACK block: octets the receiver got twice (RFC 2883 §4).
    pub dsack: Option<Range>,
}

/// The sender's scoreboard (RFC 6675 §3): what the receiver holds above SND.UNA, and the
/// variables of loss recovery.
#[derive(Debug, Default)]
pub(crate) struct Scoreboard {
    /// SACKed ranges above SND.UNA, sorted and merged.
    sacked: Vec<Range>,
    /// HighRxt: the highest sequence number retransmitted in this recovery.
    high_rxt: SeqNum,
    /// RescueRxt: the recovery point when the rescue retransmission was made.
    rescue_rxt: Option<SeqNum>,
    /// What RACK (RFC 8985) holds lost, beside what the DupThresh rule says.
    rack_lost: Vec<Range>,
}

/// The next segment to send in loss recovery (RFC 6675 §4, NextSeg()).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextSeg {
    /// Rule 1: a hole that IsLost() says is lost.
    Lost(Range),
    /// Rule 2: new data.
    NewData,
    /// Rule 3: a hole below SACKed data, not yet known lost.
    Hole(Range),
    /// Rule 4: the rescue retransmission, at the highest unSACKed data.
    Rescue(Range),
}

impl Scoreboard {
    /// HighRxt (RFC 6675 §2): the highest sequence number retransmitted in this recovery.
    pub fn high_rxt(&self) -> SeqNum {
        self.high_rxt
    }

    /// Octets up to `end` were retransmitted (RFC 6675 §4, NextSeg rules 1 and 3): HighRxt
    /// moves there.
    pub fn retransmitted_to(&mut self, end: SeqNum) {
        self.high_rxt = end;
    }

    /// RACK marked octets from `seq` lost: HighRxt comes back so that they are resent.
    pub fn resend_from(&mut self, seq: SeqNum) {
        self.high_rxt = self.high_rxt.min(seq);
    }

    /// The rescue retransmission was made at this recovery point (RFC 6675 §4 rule 4).
    pub fn rescued(&mut self, point: SeqNum) {
        self.rescue_rxt = Some(point);
    }

    /// The SACKed ranges, for the trace.
    pub fn sacked(&self) -> &[Range] {
        &self.sacked
    }

    /// Octets SACKed above SND.UNA.
    pub fn sacked_octets(&self) -> u32 {
        self.sacked.iter().map(|(a, b)| b.since(*a)).sum()
    }

    /// Whether any octet is SACKed.
    pub fn is_empty(&self) -> bool {
        self.sacked.is_empty()
    }

    /// Forget everything (after a timeout: RFC 2018 §8, the receiver may renege).
    pub fn clear(&mut self) {
        self.sacked.clear();
        self.rack_lost.clear();
    }

    /// RFC 6675 §4, Update(): take an ACK's blocks, given the lowest sequence number a
    /// duplicate could report (`floor`), the ACK's cumulative point and the highest sequence
    /// number sent. A block at or below SND.UNA, or inside the second block, is a D-SACK
    /// (RFC 2883 §4).
    pub fn update(
        &mut self,
        floor: SeqNum,
        (snd_una, snd_max): (SeqNum, SeqNum),
        blocks: &SackBlocks,
    ) -> Learned {
        let mut learned = Learned::default();
        self.sacked.retain_mut(|(a, b)| {
            *a = (*a).max(snd_una);
            *b > *a
        });
        for (i, &(left, right)) in blocks.as_slice().iter().enumerate() {
            let (left, right) = (SeqNum(left), SeqNum(right));
            if left >= right || right > snd_max || left < floor {
                continue; // not a block of data we sent: ignore it
            }
            let second = blocks
                .as_slice()
                .get(1)
                .map(|&(l, r)| (SeqNum(l), SeqNum(r)));
            let inside_second = second.is_some_and(|(l, r)| l <= left && right <= r);
            if i == 0 && (right <= snd_una || inside_second) {
                learned.dsack = Some((left, right));
                continue;
            }
            let left = left.max(snd_una);
            if left < right {
                learned.newly_sacked += self.mark(left, right);
            }
        }
        learned
    }

    /// Mark a range SACKed; returns how many octets were not marked before.
    fn mark(&mut self, left: SeqNum, right: SeqNum) -> u32 {
        let before = self.sacked_octets();
        self.sacked.push((left, right));
        self.sacked.sort_by_key(|r| r.0);
        let mut merged: Vec<Range> = Vec::with_capacity(self.sacked.len());
        for &(a, b) in &self.sacked {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.sacked = merged;
        self.sacked_octets() - before
    }

    /// The end of the SACKed range that holds `seq`, if one does.
    pub fn sacked_end_at(&self, seq: SeqNum) -> Option<SeqNum> {
        self.sacked
            .iter()
            .find(|&&(a, b)| a <= seq && seq < b)
            .map(|r| r.1)
    }

    /// Where the first SACKed range above `seq` begins.
    pub fn next_sacked_start(&self, seq: SeqNum) -> Option<SeqNum> {
        self.sacked.iter().map(|r| r.0).find(|&a| a > seq)
    }

    /// Take RACK's lost ranges (RFC 8985 §6.2 step 5), which IsLost() heeds too.
    pub fn set_rack_lost(&mut self, lost: Vec<Range>) {
        self.rack_lost = lost;
    }

    /// Whether any range is held lost by RACK.
    pub fn has_rack_lost(&self) -> bool {
        !self.rack_lost.is_empty()
    }

    /// Whether `seq` is lost: by RACK, or by RFC 6675's IsLost().
    pub fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        self.dupthresh_lost(seq, smss) || self.rack_lost.iter().any(|&(a, b)| a <= seq && seq < b)
    }

    /// RFC 6675 §4, IsLost(SeqNum): DupThresh discontiguous SACKed ranges above it, or more
    /// than (DupThresh − 1)·SMSS SACKed octets above it.
    fn dupthresh_lost(&self, seq: SeqNum, smss: u32) -> bool {
        let above = self.sacked.iter().filter(|(_, b)| *b > seq);
        let (ranges, octets) = above.fold((0u32, 0u32), |(n, o), &(a, b)| {
            (n + 1, o + b.since(a.max(seq + 1)))
        });
        ranges >= DUP_THRESH || octets > (DUP_THRESH - 1) * smss
    }

    /// The holes: unSACKed ranges between SND.UNA and the highest SACKed octet.
    fn holes(&self, snd_una: SeqNum) -> Vec<Range> {
        let mut holes = Vec::with_capacity(self.sacked.len());
        let mut cursor = snd_una;
        for &(a, b) in &self.sacked {
            if a > cursor {
                holes.push((cursor, a));
            }
            cursor = cursor.max(b);
        }
        holes
    }

    /// The holes, then what lies above the highest SACKed octet, up to `snd_max`.
    fn unsacked(&self, snd_una: SeqNum, snd_max: SeqNum) -> Vec<Range> {
        let mut ranges = self.holes(snd_una);
        let highest = self.sacked.last().map_or(snd_una, |r| r.1).max(snd_una);
        if snd_max > highest {
            ranges.push((highest, snd_max));
        }
        ranges
    }

    /// RFC 6675 §4, SetPipe(): the octets thought to be in the network. An unSACKed octet
    /// counts once unless IsLost() says it left the network, and once more if it was
    /// retransmitted (at or below HighRxt). Within a hole nothing is SACKed, so the DupThresh
    /// rule is the same for all of it, and the sum is taken hole by hole, less what RACK
    /// marked lost.
    pub fn pipe(&self, snd_una: SeqNum, snd_max: SeqNum, smss: u32) -> u32 {
        let mut pipe = 0;
        for (a, b) in self.unsacked(snd_una, snd_max) {
            if !self.dupthresh_lost(a, smss) {
                pipe += b.since(a) - self.rack_lost_within(a, b);
            }
            if self.high_rxt > a {
                pipe += self.high_rxt.min(b).since(a);
            }
        }
        pipe
    }

    /// Octets of `[a, b)` that RACK holds lost.
    fn rack_lost_within(&self, a: SeqNum, b: SeqNum) -> u32 {
        self.rack_lost
            .iter()
            .map(|&(x, y)| (x.max(a), y.min(b)))
            .filter(|(x, y)| x < y)
            .map(|(x, y)| y.since(x))
            .sum()
    }

    /// The first lost octets of a hole at or above `from`, up to `smss` of them.
    fn lost_in(&self, (a, b): Range, from: SeqNum, smss: u32) -> Option<Range> {
        let start = a.max(from);
        if start >= b {
            return None;
        }
        if self.dupthresh_lost(start, smss) {
            return Some((start, b.min(start + smss)));
        }
        let (x, y) = self
            .rack_lost
            .iter()
            .map(|&(x, y)| (x.max(start), y.min(b)))
            .find(|(x, y)| x < y)?;
        Some((x, y.min(x + smss)))
    }

    /// RFC 6675 §4, NextSeg(): what to send next, segments of at most `smss` octets.
    /// `new_data` says whether unsent data may go out (rule 2). HighRxt is kept one past
    /// the last octet retransmitted.
    pub fn next_seg(
        &self,
        snd_una: SeqNum,
        snd_max: SeqNum,
        smss: u32,
        new_data: bool,
    ) -> Option<NextSeg> {
        let holes = self.holes(snd_una);
        let first_after = |(a, b): Range| {
            let start = a.max(self.high_rxt);
            (start < b).then(|| (start, b.min(start + smss)))
        };
        // Rule 1: the first unSACKed octet above HighRxt that IsLost() says is lost (above
        // the highest SACKed octet only RACK can say so).
        let lost = self
            .unsacked(snd_una, snd_max)
            .into_iter()
            .find_map(|h| self.lost_in(h, self.high_rxt, smss));
        if let Some(range) = lost {
            return Some(NextSeg::Lost(range));
        }
        if new_data {
            return Some(NextSeg::NewData);
        }
        // Rule 3: a hole below SACKed data, not known to be lost.
        if let Some(range) = holes.iter().find_map(|&h| first_after(h)) {
            return Some(NextSeg::Hole(range));
        }
        // Rule 4: one rescue retransmission per recovery ("if HighACK is greater than
        // RescueRxt"), a segment ending with the highest unSACKed octet.
        if self.rescue_rxt.is_some_and(|r| snd_una <= r) {
            return None;
        }
        let end = self.highest_unsacked(snd_una, snd_max)? + 1;
        let start = if end.since(snd_una) > smss {
            end - smss
        } else {
            snd_una
        };
        Some(NextSeg::Rescue((start, end)))
    }

    /// The highest outstanding sequence number not SACKed, if any.
    fn highest_unsacked(&self, snd_una: SeqNum, snd_max: SeqNum) -> Option<SeqNum> {
        let mut top = snd_max;
        for &(a, b) in self.sacked.iter().rev() {
            if b < top {
                break;
            }
            top = top.min(a);
        }
        (top > snd_una).then(|| top - 1)
    }
}

#[cfg(test)]
mod tests;
