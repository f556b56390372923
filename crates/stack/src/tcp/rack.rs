//! RACK-TLP (RFC 8985): a segment is lost when a segment sent after it has been delivered
//! and a reordering window has passed since (time, not counting duplicate ACKs), and a tail
//! loss, which no later segment can reveal, is drawn out by one probe instead of an RTO.

use std::collections::VecDeque;

use trace::Time;

use super::sack::{DUP_THRESH, Range};

/// Linux's `tcp_max_reordering`: the largest reordering degree it believes.
const MAX_REORDERING: u32 = 300;
use crate::SeqNum;

/// RFC 8985 §7.2: WCDelAckT, the worst-case delayed ACK a single outstanding segment may
/// wait for before its ACK comes.
pub(crate) const WC_DEL_ACK: Time = Time::from_millis(200);
/// RFC 8985 §6.2 step 4: how many recoveries a widened reordering window lasts.
const REO_WND_PERSIST: u32 = 16;

/// One transmitted range of sequence space, as RACK follows it.
#[derive(Debug, Clone, Copy)]
struct Sent {
    start: SeqNum,
    end: SeqNum,
    /// When it was last sent.
    xmit: Time,
    retransmitted: bool,
    sacked: bool,
    lost: bool,
    /// Marked lost once, and not delivered since, resent or not: what Linux's `lost_out`
    /// counts (TCPCB_LOST stays on a retransmitted segment).
    marked_lost: bool,
}

/// RACK's state (RFC 8985 §6.1) and the tail loss probe outstanding (§7).
#[derive(Debug)]
pub(crate) struct Rack {
    /// Everything sent and not cumulatively acknowledged, in sequence order.
    segs: VecDeque<Sent>,
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment that was delivered.
    xmit: Option<Time>,
    end: SeqNum,
    /// RACK.rtt: that segment's round trip.
    rtt: Time,
    /// Linux's `tcp_rack_advance`: RACK.rtt is the round trip of the last delivery it took
    /// (the highest cumulatively acknowledged, else the highest SACKed), not necessarily
    /// of the most recently sent one.
    rtt_of_last_delivery: bool,
    /// RACK.min_RTT.
    min_rtt: Option<Time>,
    /// The highest end of any delivered segment (RACK.fack).
    fack: SeqNum,
    reordering_seen: bool,
    /// Linux's `tp->reordering`: how far, in segments, a delivery has come behind a later
    /// one (tcpi_reordering); 3 (`tcp_reordering`) until more is seen.
    reordering: u32,
    /// Whether anything was delivered yet (RACK.fack means nothing before).
    delivered_any: bool,
    /// The sender's segment size, for the reordering degree.
    mss: u32,
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    dsack_round: Option<SeqNum>,
    /// TLP.end_seq: SND.NXT when the probe left, while it is outstanding.
    tlp_end: Option<SeqNum>,
    /// Where the probe's data began.
    tlp_start: SeqNum,
    /// Whether the probe resent old data (only then can it have repaired a loss).
    tlp_retransmitted: bool,
}

/// A tail loss probe under way (RFC 8985 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Where its data began.
    pub start: SeqNum,
    /// TLP.end_seq: SND.NXT when it left.
    pub end: SeqNum,
    /// Whether it resent old data (only then can it have repaired a loss).
    pub retransmitted: bool,
}

impl Default for Rack {
    fn default() -> Self {
        Rack {
            segs: VecDeque::new(),
            xmit: None,
            end: SeqNum(0),
            rtt: Time::ZERO,
            rtt_of_last_delivery: false,
            min_rtt: None,
            fack: SeqNum(0),
            reordering_seen: false,
            reordering: DUP_THRESH,
            delivered_any: false,
            mss: 1,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
            tlp_end: None,
            tlp_start: SeqNum(0),
            tlp_retransmitted: false,
        }
    }
}

impl Rack {
    /// A tail loss probe left (RFC 8985 §7.3): remember it until its ACK tells what it did.
    pub fn probe_sent(&mut self, probe: Probe) {
        self.tlp_start = probe.start;
        self.tlp_end = Some(probe.end);
        self.tlp_retransmitted = probe.retransmitted;
    }

    /// The probe's outcome is known, or moot: none is under way.
    pub fn probe_settled(&mut self) {
        self.tlp_end = None;
    }

    /// The probe under way, if one is.
    pub fn probe(&self) -> Option<Probe> {
        self.tlp_end.map(|end| Probe {
            start: self.tlp_start,
            end,
            retransmitted: self.tlp_retransmitted,
        })
    }

    /// RACK with nothing sent; `linux_rtt` takes RACK.rtt as Linux does.
    pub fn new(linux_rtt: bool) -> Self {
        Rack {
            rtt_of_last_delivery: linux_rtt,
            ..Rack::default()
        }
    }

    /// The part of `[left, right)` made of whole segments sent: from the first segment
    /// that starts in it to the last that ends in it; none if it holds no whole segment.
    pub fn whole_segments(&self, left: SeqNum, right: SeqNum) -> Option<(SeqNum, SeqNum)> {
        let mut inside = self
            .segs
            .iter()
            .filter(|s| left <= s.start && s.end <= right);
        let first = inside.next()?;
        let last = inside.next_back().unwrap_or(first);
        Some((first.start, last.end))
    }

    /// The least RTT seen (RFC 8985's Min_RTT), once measured.
    pub fn min_rtt(&self) -> Option<Time> {
        self.min_rtt
    }

    /// `[start, end)` left now; below `snd_max` it is a retransmission.
    pub fn sent(&mut self, start: SeqNum, end: SeqNum, now: Time, snd_max: SeqNum) {
        let resent_end = end.min(snd_max.max(start));
        if start < resent_end {
            self.split_at(start);
            self.split_at(resent_end);
            for s in self.segs.iter_mut() {
                if start <= s.start && s.end <= resent_end {
                    s.xmit = now;
                    s.retransmitted = true;
                    s.lost = false;
                }
            }
        }
        let fresh = resent_end.max(start);
        if fresh < end {
            self.segs.push_back(Sent {
                start: fresh,
                end,
                xmit: now,
                retransmitted: false,
                sacked: false,
                lost: false,
                marked_lost: false,
            });
        }
    }

    /// Cut the range holding `seq` in two at `seq`.
    fn split_at(&mut self, seq: SeqNum) {
        let Some(i) = self.segs.iter().position(|s| s.start < seq && seq < s.end) else {
            return;
        };
        let mut tail = self.segs[i];
        tail.start = seq;
        self.segs[i].end = seq;
        self.segs.insert(i + 1, tail);
    }

    /// RFC 8985 §6.2 steps 1–3 for an ACK: what it acknowledges up to `snd_una` and SACKs in
    /// `sacked` is delivered; the most recently sent of it becomes RACK.xmit_ts, unless it
    /// was retransmitted and came back faster than any RTT (the original's ACK, then).
    pub fn delivered(&mut self, snd_una: SeqNum, sacked: &[Range], now: Time, mss: u32) {
        self.mss = mss.max(1);
        for &(a, b) in sacked {
            self.split_at(a);
            self.split_at(b);
        }
        let mut cum_rtt = None;
        while self.segs.front().is_some_and(|s| s.end <= snd_una) {
            let s = self.segs.pop_front().expect("checked");
            if !s.sacked {
                cum_rtt = self.update(s, now).or(cum_rtt);
            }
        }
        let mut sack_rtt = None;
        for i in 0..self.segs.len() {
            if sacked.is_empty() {
                break;
            }
            let s = self.segs[i];
            if !s.sacked && sacked.iter().any(|&(a, b)| a <= s.start && s.end <= b) {
                self.segs[i].sacked = true;
                sack_rtt = self.update(s, now).or(sack_rtt);
            }
        }
        if let Some(rtt) = cum_rtt.or(sack_rtt).filter(|_| self.rtt_of_last_delivery) {
            self.rtt = rtt;
        }
    }

    /// Take one delivery; its round trip, unless RFC 8985 step 2 set it aside.
    fn update(&mut self, s: Sent, now: Time) -> Option<Time> {
        let rtt = now - s.xmit;
        if s.retransmitted && self.min_rtt.is_some_and(|m| rtt < m) {
            return None; // step 2: ambiguous, likely the original's delivery
        }
        if !s.retransmitted {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        if s.end < self.fack && !s.retransmitted {
            self.reordering_seen = true; // step 3: delivered after a later segment
        }
        if self.delivered_any && s.start < self.fack && !s.retransmitted {
            // Linux's tcp_check_sack_reordering: the distance from the highest delivery back
            // to this one, in segments, if more than any before (at most tcp_max_reordering).
            let metric = self.fack.since(s.start);
            if metric > self.reordering * self.mss {
                self.reordering = metric.div_ceil(self.mss).min(MAX_REORDERING);
            }
        }
        self.fack = if self.delivered_any {
            self.fack.max(s.end)
        } else {
            s.end
        };
        self.delivered_any = true;
        let newer = self
            .xmit
            .is_none_or(|x| s.xmit > x || (s.xmit == x && s.end > self.end));
        if newer {
            self.xmit = Some(s.xmit);
            self.end = s.end;
            self.rtt = rtt;
        }
        Some(rtt)
    }

    /// Whether the segment holding `seq` was marked lost and is not yet delivered.
    pub fn marked_lost(&self, seq: SeqNum) -> bool {
        self.segs
            .iter()
            .any(|s| s.marked_lost && !s.sacked && s.start <= seq && seq < s.end)
    }

    /// Linux's reordering degree, in segments (tcpi_reordering).
    pub fn reordering(&self) -> u32 {
        self.reordering
    }

    /// RFC 8985 §6.2 step 4: a D-SACK widens the reordering window, once per round trip.
    pub fn dsack(&mut self, snd_una: SeqNum, snd_nxt: SeqNum) {
        if self.dsack_round.is_some_and(|r| snd_una >= r) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult += 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// Loss recovery ended: a widened window lasts only so many recoveries.
    pub fn recovery_ended(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4, RACK.reo_wnd: zero while no reordering was seen and loss is
    /// already evident; else a quarter of min_RTT (times the D-SACK multiplier), at most SRTT.
    pub fn reo_wnd(&self, in_recovery: bool, sacked_segments: u32, srtt: Option<Time>) -> Time {
        if !self.reordering_seen && (in_recovery || sacked_segments >= DUP_THRESH) {
            return Time::ZERO;
        }
        let Some(min_rtt) = self.min_rtt else {
            return Time::ZERO;
        };
        let wnd = Time(min_rtt.0 * u64::from(self.reo_wnd_mult) / 4);
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// RFC 8985 §6.2 step 5, RACK_detect_loss(): mark lost every segment sent before
    /// RACK.xmit_ts whose RACK.rtt + reo_wnd has passed. Returns what it newly marked, and
    /// when to look again (the reordering timer) if some are still within the window.
    pub fn detect_loss(&mut self, now: Time, reo_wnd: Time) -> (Vec<Range>, Option<Time>) {
        let Some(rack_xmit) = self.xmit else {
            return (Vec::new(), None);
        };
        let mut lost = Vec::new();
        let mut wait: Option<Time> = None;
        for s in self.segs.iter_mut() {
            let sent_before = s.xmit < rack_xmit || (s.xmit == rack_xmit && s.end < self.end);
            if !sent_before && !s.retransmitted {
                // Sequence order is first-sending order: every segment from here on was
                // first sent after this one, so none was sent before RACK.xmit_ts.
                break;
            }
            if !sent_before || s.sacked || s.lost {
                continue;
            }
            let deadline = s.xmit + self.rtt + reo_wnd;
            if deadline <= now {
                s.lost = true;
                s.marked_lost = true;
                match lost.last_mut() {
                    Some((_, e)) if *e == s.start => *e = s.end,
                    _ => lost.push((s.start, s.end)),
                }
            } else {
                wait = Some(wait.map_or(deadline, |w: Time| w.max(deadline)));
            }
        }
        (lost, wait)
    }

    /// The ranges RACK holds lost and not yet delivered.
    pub fn lost_ranges(&self) -> Vec<Range> {
        let mut out: Vec<Range> = Vec::new();
        for s in self.segs.iter().filter(|s| s.lost && !s.sacked) {
            match out.last_mut() {
                Some((_, e)) if *e == s.start => *e = s.end,
                _ => out.push((s.start, s.end)),
            }
        }
        out
    }

    /// Where the last segment sent begins (what a probe resends when there is no new data).
    pub fn last_start(&self) -> Option<SeqNum> {
        self.segs.back().map(|s| s.start)
    }

    /// Forget everything about what is in flight (after a timeout every segment is resent).
    pub fn clear_lost(&mut self) {
        for s in self.segs.iter_mut() {
            s.lost = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn t(ms: u64) -> Time {
        Time(ms * MS)
    }

    fn sent_four(rack: &mut Rack) {
        for i in 0..4u32 {
            let start = SeqNum(i * 1000);
            rack.sent(start, start + 1000, t(u64::from(i)), start);
        }
    }

    #[test]
    fn a_segment_is_lost_once_a_later_one_is_delivered_and_the_window_passes() {
        let mut rack = Rack::default();
        sent_four(&mut rack);
        // Segments 1 and 2 are SACKed at 50 ms: RTT 49 ms; segment 0 was sent 1 ms before.
        rack.delivered(SeqNum(0), &[(SeqNum(1000), SeqNum(3000))], t(50), 1000);
        let reo = rack.reo_wnd(false, 2, Some(t(49)));
        assert_eq!(reo, Time(48 * MS / 4), "a quarter of min_RTT");
        let (lost, wait) = rack.detect_loss(t(50), reo);
        assert!(lost.is_empty());
        let at = wait.expect("the reordering timer");
        assert_eq!(
            at,
            t(0) + t(48) + reo,
            "sent at 0, RACK.rtt 48 ms (segment 2), plus reo_wnd"
        );
        let (lost, wait) = rack.detect_loss(at, reo);
        assert_eq!(lost, vec![(SeqNum(0), SeqNum(1000))]);
        assert_eq!(wait, None, "segment 3 was sent after RACK.xmit_ts");
        assert_eq!(rack.lost_ranges(), lost);
    }

    #[test]
    fn a_retransmission_is_timed_anew_and_reordering_widens_nothing_until_seen() {
        let mut rack = Rack::default();
        sent_four(&mut rack);
        rack.delivered(SeqNum(0), &[(SeqNum(1000), SeqNum(2000))], t(40), 1000);
        assert_eq!(
            rack.reo_wnd(true, 1, None),
            Time::ZERO,
            "in recovery, no reordering"
        );
        // Segment 0 is resent at 60 ms; a delivery of it at 61 ms is faster than any RTT,
        // so it must be the original's: RACK.xmit_ts stays.
        rack.sent(SeqNum(0), SeqNum(1000), t(60), SeqNum(4000));
        rack.delivered(SeqNum(1000), &[], t(61), 1000);
        assert_eq!(rack.xmit, Some(t(1)));
        assert!(!rack.reordering_seen);
    }

    #[test]
    fn linux_takes_the_round_trip_of_the_last_delivery_not_of_the_latest_sent() {
        for (linux, rtt) in [(false, t(12)), (true, t(31))] {
            let mut rack = Rack::new(linux);
            sent_four(&mut rack);
            // Segment 2 is SACKed at 10 ms; segment 0 is resent at 20 ms; at 32 ms one ACK
            // covers the resent segment 0 (12 ms) and segment 1, held up since 1 ms (31 ms).
            rack.delivered(SeqNum(0), &[(SeqNum(2000), SeqNum(3000))], t(10), 1000);
            rack.sent(SeqNum(0), SeqNum(1000), t(20), SeqNum(4000));
            rack.delivered(SeqNum(2000), &[], t(32), 1000);
            assert_eq!(
                rack.xmit,
                Some(t(20)),
                "the latest sent is the retransmission"
            );
            assert_eq!(rack.rtt, rtt, "Linux profile: {linux}");
        }
    }

    #[test]
    fn a_retransmission_across_old_boundaries_splits_the_ranges() {
        let mut rack = Rack::default();
        sent_four(&mut rack);
        rack.sent(SeqNum(500), SeqNum(1500), t(10), SeqNum(4000));
        let starts: Vec<u32> = rack.segs.iter().map(|s| s.start.0).collect();
        assert_eq!(starts, vec![0, 500, 1000, 1500, 2000, 3000]);
        assert!(rack.segs[1].retransmitted && rack.segs[2].retransmitted);
        rack.sent(SeqNum(3500), SeqNum(4500), t(11), SeqNum(4000));
        assert_eq!(
            rack.segs.back().map(|s| (s.start.0, s.end.0)),
            Some((4000, 4500))
        );
    }
}
