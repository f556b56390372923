//! When to acknowledge: RFC 1122 §4.2.3.2 lets a receiver delay an ACK (up to 500 ms, and
//! at least every second full-sized segment), and RFC 9293 §3.8.6.3 says so again; how
//! long and when not is left to the host. This is Linux's answer (`tcp_input.c`):
//!
//! - **Quick-ACK mode**: the first data of a connection, and data after an idle gap longer
//!   than the RTO, are acknowledged at once, segment by segment, for up to 16 ACKs (fewer
//!   when the window holds fewer than twice that many segments). So a new connection's
//!   sender is not held back by Nagle's algorithm waiting for a delayed ACK.
//! - **Interactive (ping-pong) mode**: a side that sends data soon after receiving (an
//!   answer within the ACK timeout) delays its ACKs, so that they ride on its answers; it
//!   enters this mode too when the peer's FIN arrives (so the ACK of a FIN waits for the
//!   application's own FIN, and a close often takes three segments). A delayed ACK that had
//!   to be sent on its own ends the mode.
//! - **The ACK timeout** (`ato`) starts at 40 ms when the first data arrives and follows
//!   the gaps between arriving segments, at most the RTO. Before any data it is zero: the
//!   ACK of a FIN that comes first waits only for the next timer tick (a millisecond or
//!   four on Linux, at once here).
//! - **SACK compression** (Linux 4.18): while data is held out of order, the first three
//!   duplicate ACKs for one RCV.NXT go at once (the sender's fast retransmit counts them);
//!   later ones wait 5 % of the round trip (at most 1 ms, `tcp_comp_sack_delay_ns`) plus
//!   the timer's 100 µs of slack, so that one ACK reports the segments that arrived
//!   meanwhile, at most 44 of them (`tcp_comp_sack_nr`). RFC 5681 §4.2 asks for an
//!   immediate duplicate ACK for each; the RFC profile sends them so.

use trace::Time;

/// Linux's TCP_ATO_MIN (and TCP_DELACK_MIN): the shortest ACK delay.
pub(crate) const ATO_MIN: Time = super::DELAYED_ACK;
/// Linux's TCP_MAX_QUICKACKS.
const MAX_QUICK_ACKS: u32 = 16;
/// What Linux assumes a segment from the peer carries until it has seen more
/// (TCP_MSS_DEFAULT, `icsk_ack.rcv_mss` at first).
const RCV_MSS: u32 = 536;

/// Linux's `tcp_comp_sack_nr`: the most ACKs one compressed ACK stands for.
const COMP_SACK_NR: u32 = 44;
/// Linux's `tcp_comp_sack_delay_ns`: the longest a compressed ACK waits.
const COMP_SACK_DELAY: Time = Time::from_millis(1);
/// Linux's `tcp_comp_sack_slack_ns`: how much later the timer may fire.
const COMP_SACK_SLACK: Time = Time(100_000);
/// Linux's TCP_FASTRETRANS_THRESH: duplicate ACKs never compressed.
const FASTRETRANS_THRESH: u32 = 3;

/// Linux's SACK compression state of one connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SackCompression {
    /// The RCV.NXT the duplicate ACKs are counted for.
    rcv_nxt: Option<crate::SeqNum>,
    /// Duplicate ACKs sent at once for it.
    dup_acks: u32,
    /// ACKs owed and held back since the last one sent.
    compressed: u32,
}

impl SackCompression {
    /// Out-of-order data arrived with RCV.NXT at `rcv_nxt`: when its ACK may go, at the
    /// latest, given the round trip `rtt`; `None` for at once.
    pub fn held(&mut self, now: Time, rcv_nxt: crate::SeqNum, rtt: Time) -> Option<Time> {
        if self.compressed >= COMP_SACK_NR {
            return None;
        }
        if self.rcv_nxt != Some(rcv_nxt) {
            self.rcv_nxt = Some(rcv_nxt);
            self.dup_acks = 0;
        }
        if self.dup_acks < FASTRETRANS_THRESH {
            self.dup_acks += 1;
            return None;
        }
        self.compressed += 1;
        Some(now + Time(rtt.0 / 20).min(COMP_SACK_DELAY) + COMP_SACK_SLACK)
    }

    /// An ACK went out: it carried whatever was held back.
    pub fn ack_sent(&mut self) {
        self.compressed = 0;
    }
}

/// The receiver's ACK clock of one connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AckClock {
    /// ACKs still to send at once (quick-ACK mode while some are left).
    quick: u32,
    /// The ACK timeout; zero until the first data arrives.
    ato: Time,
    /// When data last arrived.
    last_data: Time,
    /// Interactive mode: ACKs wait to ride on data.
    pingpong: bool,
}

impl AckClock {
    /// Quick-ACK for the next segments: as many as half the window holds, at most `most`.
    fn add_quick(&mut self, rcv_wnd: u32, most: u32) {
        let quick = (rcv_wnd / (2 * RCV_MSS)).clamp(2, most);
        self.quick = self.quick.max(quick);
    }

    /// Data arrived at `now` (Linux's `tcp_event_data_recv`).
    pub fn data_arrived(&mut self, now: Time, rto: Time, rcv_wnd: u32) {
        if self.ato == Time::ZERO {
            self.add_quick(rcv_wnd, MAX_QUICK_ACKS);
            self.ato = ATO_MIN;
        } else {
            let gap = now - self.last_data;
            if gap <= Time(ATO_MIN.0 / 2) {
                self.ato = Time(self.ato.0 / 2 + ATO_MIN.0 / 2);
            } else if gap < self.ato {
                self.ato = Time(self.ato.0 / 2 + gap.0).min(rto);
            } else if gap > rto {
                // A long silence: the sender starts again, and is not to wait for ACKs.
                self.add_quick(rcv_wnd, MAX_QUICK_ACKS);
            }
        }
        self.last_data = now;
    }

    /// Data arrived out of order or filled a gap: acknowledge at once, interactive or not
    /// (Linux's `tcp_enter_quickack_mode`).
    pub fn enter_quick(&mut self, rcv_wnd: u32) {
        self.add_quick(rcv_wnd, MAX_QUICK_ACKS);
        self.pingpong = false;
        self.ato = ATO_MIN;
    }

    /// Whether the next ACK goes at once.
    pub fn quick(&self) -> bool {
        self.quick > 0 && !self.pingpong
    }

    /// An ACK went out (alone or on data).
    pub fn ack_sent(&mut self) {
        self.quick = self.quick.saturating_sub(1);
    }

    /// We sent data at `now`: an answer within the ACK timeout makes the connection
    /// interactive.
    pub fn data_sent(&mut self, now: Time) {
        if self.ato > Time::ZERO && now - self.last_data < self.ato {
            self.pingpong = true;
        }
    }

    /// Linux's TCP_QUICKACK: 0 makes the connection interactive (ACKs wait to ride on
    /// data), 1 ends that; neither lasts beyond what the connection does next.
    pub fn set_interactive(&mut self, on: bool) {
        self.pingpong = on;
    }

    /// The peer's FIN arrived: its ACK waits for ours.
    pub fn fin_arrived(&mut self) {
        self.pingpong = true;
    }

    /// The delayed ACK went out on its own: an interactive connection stops being one; a
    /// bulk one waits longer next time.
    pub fn delayed_ack_sent(&mut self, rto: Time) {
        if self.pingpong {
            self.pingpong = false;
            self.ato = ATO_MIN;
        } else {
            self.ato = Time(self.ato.0 * 2).min(rto).max(ATO_MIN);
        }
    }

    /// How long the next ACK may wait: no time at all before any data arrived (Linux's
    /// `tcp_send_delayed_ack` with `ato` still 0).
    pub fn timeout(&self) -> Time {
        if self.ato == Time::ZERO {
            Time::ZERO
        } else {
            self.ato.max(ATO_MIN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_data_is_acknowledged_at_once_then_ack_delays_resume() {
        let mut clock = AckClock::default();
        let rto = Time::from_secs(1);
        clock.data_arrived(Time::ZERO, rto, 65_535);
        for _ in 0..16 {
            assert!(clock.quick());
            clock.ack_sent();
        }
        assert!(!clock.quick());
        // After a silence longer than the RTO, quick ACKs again.
        clock.data_arrived(Time::from_secs(5), rto, 65_535);
        assert!(clock.quick());
    }

    #[test]
    fn an_answer_within_the_ack_timeout_makes_acks_wait_for_data() {
        let mut clock = AckClock::default();
        let rto = Time::from_secs(1);
        clock.data_arrived(Time::ZERO, rto, 65_535);
        clock.data_sent(Time::from_millis(1));
        assert!(!clock.quick(), "interactive");
        clock.delayed_ack_sent(rto);
        assert!(clock.quick(), "an ACK that went alone ends it");
        clock.fin_arrived();
        assert!(!clock.quick(), "the ACK of a FIN waits for ours");
    }
}
