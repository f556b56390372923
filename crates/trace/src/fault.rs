//! What a link (or the TAP driver's fault model) did to a frame, and the timers whose expiry
//! causes a transition: typed, so code asks `fault.is_loss()` instead of matching words.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Time;

/// A probability in tenths of a percent, as the fault's words show it (`0.5%`, `5%`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerMille(pub u32);

impl PerMille {
    /// The nearest tenth of a percent to a probability in [0, 1].
    pub fn of(p: f64) -> PerMille {
        PerMille((p * 1000.0).round().clamp(0.0, 1000.0) as u32)
    }
}

impl fmt::Display for PerMille {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 10 {
            0 => write!(f, "{}%", self.0 / 10),
            tenth => write!(f, "{}.{tenth}%", self.0 / 10),
        }
    }
}

/// One fault that hit one frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// A rate-limited link's drop-tail queue was full.
    QueueFull {
        /// Frames waiting when this one came.
        waiting: usize,
        /// The link's rate in bit/s.
        rate_bps: u64,
    },
    /// The lesson's `drop = [...]` named this frame.
    DroppedOnPurpose {
        /// The frame's number in its direction of the link, from 1.
        nth: u64,
    },
    /// Random loss.
    Lost {
        /// The link's loss rate.
        rate: PerMille,
    },
    /// One bit flipped after the Ethernet header.
    Corrupted {
        /// Which bit of the frame, from 0.
        bit: u64,
        /// The link's corruption rate.
        rate: PerMille,
    },
    /// Held back so that later frames overtake it.
    HeldBack {
        /// For how long.
        hold: Time,
        /// The link's reordering rate.
        rate: PerMille,
    },
    /// A second copy arrives 1 µs after the first.
    Duplicated {
        /// The link's duplication rate.
        rate: PerMille,
    },
}

impl Fault {
    /// True when the frame never arrives.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            Fault::QueueFull { .. } | Fault::DroppedOnPurpose { .. } | Fault::Lost { .. }
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::QueueFull { waiting, rate_bps } => write!(
                f,
                "dropped: the link's queue is full ({waiting} frames waiting at {rate_bps} \
                 bit/s; drop-tail)"
            ),
            Fault::DroppedOnPurpose { nth } => write!(
                f,
                "dropped on purpose: frame {nth} in this direction (the lesson's `drop`)"
            ),
            Fault::Lost { rate } => {
                write!(f, "lost: it never arrives (random loss, {rate} of frames)")
            }
            Fault::Corrupted { bit, rate } => write!(
                f,
                "corrupted in flight: bit {bit} (octet {}) flipped; it arrives with a wrong \
                 checksum, which the receiver must catch ({rate} of frames)",
                bit / 8
            ),
            Fault::HeldBack { hold, rate } => write!(
                f,
                "held back {hold}s, so frames sent after it arrive first (reordering, {rate} of \
                 frames)"
            ),
            Fault::Duplicated { rate } => write!(
                f,
                "duplicated: a second copy arrives 1 µs later ({rate} of frames)"
            ),
        }
    }
}

/// A TCP timer whose expiry can cause a transition.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// TIME-WAIT's 2×MSL (RFC 9293 §3.10.8).
    TimeWait,
    /// The retransmission timeout (RFC 6298).
    Retransmission,
    /// The persist timer that probes a zero window (RFC 9293 §3.8.6.1).
    Persist,
    /// The delayed-ACK timer (RFC 9293 §3.8.6.3).
    DelayedAck,
    /// RACK's reordering timer (RFC 8985 §6.2 step 5).
    Reorder,
    /// The tail loss probe timeout, PTO (RFC 8985 §7.2).
    LossProbe,
    /// The keep-alive timer (RFC 1122 §4.2.3.6).
    Keepalive,
    /// Linux's compressed SACK: an ACK for out-of-order data, held back a moment so that it
    /// reports several segments (`tcp_comp_sack_delay_ns`).
    CompressedSack,
    /// smoltcp's own poll deadline, behind which its timers hide.
    SmoltcpPoll,
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerKind::TimeWait => "2×MSL",
            TimerKind::Retransmission => "retransmission (RTO)",
            TimerKind::Persist => "persist",
            TimerKind::DelayedAck => "delayed ACK",
            TimerKind::Reorder => "RACK reordering",
            TimerKind::LossProbe => "tail loss probe (PTO)",
            TimerKind::Keepalive => "keep-alive",
            TimerKind::CompressedSack => "compressed SACK",
            TimerKind::SmoltcpPoll => "smoltcp poll_at",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_as_the_lessons_write_them() {
        assert_eq!(PerMille::of(0.05).to_string(), "5%");
        assert_eq!(PerMille::of(0.005).to_string(), "0.5%");
        assert_eq!(PerMille::of(0.123).to_string(), "12.3%");
        assert_eq!(PerMille::of(1.0).to_string(), "100%");
    }

    #[test]
    fn only_drops_and_losses_are_losses() {
        assert!(Fault::Lost { rate: PerMille(50) }.is_loss());
        assert!(Fault::DroppedOnPurpose { nth: 3 }.is_loss());
        assert!(!Fault::Duplicated { rate: PerMille(10) }.is_loss());
        let json = serde_json::to_string(&Fault::Lost { rate: PerMille(50) }).unwrap();
        assert_eq!(json, r#"{"kind":"lost","rate":50}"#);
    }
}
