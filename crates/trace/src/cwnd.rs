//! Why a sender's congestion window or slow-start threshold changed: each reason a value with
//! its numbers, its words and rule in `Display` (RFC 5681, 6582, 6675, 6937, 8985, 9438), so a
//! sender pays no string formatting per ACK and a tool can tell a recovery's start from a
//! growth step without reading prose.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CwndChange, Time};

/// How ssthresh was set after a loss.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// RFC 5681 equation (4): max(FlightSize / 2, 2·SMSS).
    HalfTheFlight,
    /// Linux's `tcp_reno_ssthresh`: max(cwnd / 2, 2) segments.
    LinuxReno,
    /// CUBIC: cwnd × β_cubic (RFC 9438 §4.6).
    Cubic,
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reduction::HalfTheFlight => "max(FlightSize/2, 2·SMSS)",
            Reduction::LinuxReno => "max(cwnd/2, 2) segments (Linux's tcp_reno_ssthresh)",
            Reduction::Cubic => "cwnd·β_cubic (717/1024 of the segments, RFC 9438 §4.6)",
        })
    }
}

/// Why cwnd or ssthresh changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum CwndReason {
    /// Slow start by RFC 5681 §3.1 equation (2): cwnd += min(N, SMSS).
    SlowStart {
        /// Octets added.
        grow: u32,
        /// Octets the ACK newly acknowledged.
        acked: u32,
    },
    /// Slow start as Linux's `tcp_slow_start`: by every octet acknowledged (RFC 3465).
    SlowStartLinux {
        /// Octets added.
        grow: u32,
    },
    /// Congestion avoidance: one SMSS per window of ACKs (RFC 5681 §3.1 equation (3)).
    Avoidance,
    /// Congestion avoidance along CUBIC's curve (RFC 9438 §4.2).
    Cubic,
    /// Restart after idle (RFC 5681 §4.1, Linux's `tcp_slow_start_after_idle`).
    IdleRestart {
        /// How long nothing was sent.
        idle: Time,
        /// The RTO it was longer than.
        rto: Time,
        /// cwnd before, octets.
        from: u32,
        /// cwnd after, octets.
        to: u32,
    },
    /// Another duplicate ACK in fast recovery: +1 SMSS (RFC 5681 §3.2 step 4).
    Inflate,
    /// Fast retransmit on the `threshold`th duplicate ACK; fast recovery begins.
    FastRetransmit {
        /// The duplicate ACKs that decided it: 3, or fewer by early retransmit (RFC 5827).
        threshold: u32,
        /// How ssthresh was set.
        how: Reduction,
        /// The new ssthresh, octets.
        ssthresh: u32,
    },
    /// A full ACK ends fast recovery (RFC 6582 §3.2).
    FullAck,
    /// A partial ACK in fast recovery (RFC 6582 §3.2 step 5).
    PartialAck,
    /// Loss recovery with SACK begins (RFC 6675 §5 step 4.2).
    SackRecovery {
        /// How ssthresh was set.
        how: Reduction,
        /// The new ssthresh, octets.
        ssthresh: u32,
        /// Whether cwnd follows Proportional Rate Reduction down (RFC 6937), else drops.
        prr: bool,
    },
    /// Proportional Rate Reduction sets cwnd during recovery (RFC 6937 §3.1).
    Prr {
        /// Whether pipe was below ssthresh (PRR-SSRB's slow start back up).
        slow_start: bool,
    },
    /// The recovery point is acknowledged: recovery with SACK ends (RFC 6675 §5 (A)).
    SackExit,
    /// A tail loss probe repaired a loss (RFC 8985 §7.4.2).
    ProbeRepair {
        /// How ssthresh was set.
        how: Reduction,
        /// The new ssthresh, octets.
        ssthresh: u32,
    },
    /// The retransmission timer expired (RFC 5681 §3.1): cwnd = 1 SMSS.
    Timeout {
        /// How ssthresh was set; none at a segment's second and later timeouts.
        how: Option<Reduction>,
    },
}

impl CwndReason {
    /// What kind of change it is: growth, a recovery's start or end, a timeout.
    pub fn change(&self) -> CwndChange {
        match self {
            CwndReason::SlowStart { .. }
            | CwndReason::SlowStartLinux { .. }
            | CwndReason::Avoidance
            | CwndReason::Cubic => CwndChange::Growth,
            CwndReason::IdleRestart { .. } => CwndChange::IdleRestart,
            CwndReason::FastRetransmit { .. } => CwndChange::FastRetransmit,
            CwndReason::SackRecovery { .. } => CwndChange::SackRecovery,
            CwndReason::Inflate | CwndReason::PartialAck | CwndReason::Prr { .. } => {
                CwndChange::InRecovery
            }
            CwndReason::FullAck | CwndReason::SackExit => CwndChange::RecoveryExit,
            CwndReason::ProbeRepair { .. } => CwndChange::ProbeRepair,
            CwndReason::Timeout { .. } => CwndChange::Timeout,
        }
    }
}

impl CwndReason {
    /// The words of a reason without numbers.
    fn fixed_words(&self) -> Option<&'static str> {
        Some(match self {
            CwndReason::Avoidance => {
                "congestion avoidance: +1 SMSS after a whole window was acknowledged (RFC 5681 \
                 §3.1)"
            }
            CwndReason::Cubic => {
                "congestion avoidance (CUBIC): the window follows W_cubic(t) = C(t−K)³ + W_max \
                 (RFC 9438 §4.2)"
            }
            CwndReason::Inflate => {
                "fast recovery: +1 SMSS for another duplicate ACK (RFC 5681 §3.2 step 4)"
            }
            CwndReason::FullAck => {
                "full ACK ends fast recovery: cwnd deflated to ssthresh (RFC 6582 §3.2)"
            }
            CwndReason::PartialAck => {
                "partial ACK in fast recovery: retransmit the next hole, deflate cwnd by the \
                 octets acknowledged (RFC 6582 §3.2 step 5)"
            }
            CwndReason::SackExit => {
                "the recovery point is acknowledged: loss recovery ends, cwnd = ssthresh (RFC \
                 6675 §5 (A))"
            }
            _ => return None,
        })
    }

    /// The words of a loss's response: how ssthresh was set, and to what.
    fn fmt_loss(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CwndReason::FastRetransmit {
                threshold,
                how,
                ssthresh,
            } => {
                f.write_str("fast retransmit on ")?;
                if threshold == 3 {
                    f.write_str("the third duplicate ACK")?;
                } else {
                    write!(
                        f,
                        "duplicate ACK #{threshold} with only {} segments outstanding (early \
                         retransmit, RFC 5827)",
                        threshold + 1
                    )?;
                }
                write!(
                    f,
                    ": ssthresh = {how} = {ssthresh}, cwnd = ssthresh + {threshold}·SMSS, enter \
                     fast recovery (RFC 5681 §3.2 steps 2–3)"
                )
            }
            CwndReason::SackRecovery {
                how,
                ssthresh,
                prr: true,
            } => write!(
                f,
                "loss recovery with SACK: ssthresh = {how} = {ssthresh}; cwnd follows \
                 Proportional Rate Reduction (RFC 6937) down to it"
            ),
            CwndReason::SackRecovery { how, ssthresh, .. } => write!(
                f,
                "loss recovery with SACK: ssthresh = cwnd = {how} = {ssthresh} (RFC 6675 §5 \
                 step 4.2)"
            ),
            CwndReason::ProbeRepair { how, ssthresh } => write!(
                f,
                "the tail loss probe repaired a loss: ssthresh = cwnd = {how} = {ssthresh} (RFC \
                 8985 §7.4.2)"
            ),
            _ => {
                f.write_str("retransmission timeout: ssthresh = ")?;
                match self {
                    CwndReason::Timeout { how: Some(how) } => write!(f, "{how}")?,
                    _ => f.write_str("unchanged (set at a segment's first timeout only)")?,
                }
                f.write_str(", cwnd = 1 SMSS (the loss window, RFC 5681 §3.1)")
            }
        }
    }
}

impl fmt::Display for CwndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(words) = self.fixed_words() {
            return f.write_str(words);
        }
        match *self {
            CwndReason::SlowStart { grow, acked } => write!(
                f,
                "slow start: +{grow} for an ACK of {acked} new octets (RFC 5681 §3.1)"
            ),
            CwndReason::SlowStartLinux { grow } => write!(
                f,
                "slow start: +{grow}, every octet acknowledged (Linux's tcp_slow_start; RFC \
                 3465's byte counting)"
            ),
            CwndReason::IdleRestart {
                idle,
                rto,
                from,
                to,
            } => write!(
                f,
                "idle for {idle}, longer than the RTO ({rto}): cwnd restarts from {from} to \
                 {to} octets, halved for each RTO that passed, no lower than the initial window \
                 (RFC 5681 §4.1; Linux's tcp_slow_start_after_idle)"
            ),
            CwndReason::Prr { slow_start } => write!(
                f,
                "proportional rate reduction: cwnd = pipe + what PRR lets out, {} (RFC 6937 \
                 §3.1)",
                if slow_start {
                    "by slow start back towards ssthresh (PRR-SSRB)"
                } else {
                    "in proportion to the data delivered"
                }
            ),
            _ => self.fmt_loss(f),
        }
    }
}
