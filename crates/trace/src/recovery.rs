//! The decisions of TCP's loss recovery beyond RFC 5681: SACK (RFC 2018, RFC 6675), D-SACK
//! (RFC 2883), timestamps (RFC 7323) and RACK-TLP (RFC 8985), each named with its rule.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One loss-recovery decision.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// Enough duplicate ACKs, or enough SACKed data above SND.UNA, show a loss: loss
    /// recovery begins with the first unacknowledged segment.
    Enter,
    /// NextSeg() rule 1: resend a segment that IsLost() says has left the network.
    RetransmitLost,
    /// NextSeg() rule 2: pipe leaves room and nothing is known lost: new data.
    NewData,
    /// NextSeg() rule 3: resend a hole below SACKed data, not yet known to be lost.
    RetransmitHole,
    /// NextSeg() rule 4: the one rescue retransmission, of the highest unSACKed segment.
    Rescue,
    /// The cumulative ACK reached the recovery point: loss recovery ends.
    Exit,
    /// The peer reports octets it received twice (a D-SACK block).
    DsackReceived,
    /// Resending after a timeout skips what the peer has SACKed since.
    SkipSacked,
    /// A segment older than TS.Recent is a stale duplicate: dropped, and answered with an ACK.
    PawsDrop,
    /// RACK: a segment sent after this one was delivered, and the reordering window has
    /// passed: this one is lost.
    RackLost,
    /// The probe timeout expired with data outstanding and no ACK: one segment (new data,
    /// or the last one again) draws an ACK that shows what is missing.
    TailLossProbe,
    /// The ACK of a probe that resent data shows it repaired a loss: the congestion
    /// window is reduced as for any loss.
    ProbeRepairedLoss,
}

impl Recovery {
    /// The RFC and section that decide it.
    pub fn rule(self) -> &'static str {
        match self {
            Recovery::Enter => "RFC 6675 §5 step 4",
            Recovery::RetransmitLost => "RFC 6675 §4 NextSeg() rule 1",
            Recovery::NewData => "RFC 6675 §4 NextSeg() rule 2",
            Recovery::RetransmitHole => "RFC 6675 §4 NextSeg() rule 3",
            Recovery::Rescue => "RFC 6675 §4 NextSeg() rule 4",
            Recovery::Exit => "RFC 6675 §5 (A)",
            Recovery::DsackReceived => "RFC 2883 §4",
            Recovery::SkipSacked => "RFC 6675 §5.1",
            Recovery::PawsDrop => "RFC 7323 §5.3 R1",
            Recovery::RackLost => "RFC 8985 §6.2 step 5",
            Recovery::TailLossProbe => "RFC 8985 §7.3",
            Recovery::ProbeRepairedLoss => "RFC 8985 §7.4.2",
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recovery::Enter => "loss recovery begins",
            Recovery::RetransmitLost => "retransmit a lost segment",
            Recovery::NewData => "send new data",
            Recovery::RetransmitHole => "retransmit a hole",
            Recovery::Rescue => "rescue retransmission",
            Recovery::Exit => "loss recovery ends",
            Recovery::DsackReceived => "the peer got these octets twice",
            Recovery::SkipSacked => "skip what the peer holds",
            Recovery::PawsDrop => "stale segment dropped",
            Recovery::RackLost => "RACK marks lost",
            Recovery::TailLossProbe => "tail loss probe",
            Recovery::ProbeRepairedLoss => "the probe repaired a loss",
        })
    }
}

/// What kind of change a congestion event is ([`crate::CwndReason::change`]), for tools
/// that draw a connection over time: where loss recovery begins and ends, and what began it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CwndChange {
    /// Growth: slow start or congestion avoidance (RFC 5681 §3.1, RFC 9438).
    Growth,
    /// Restart after idle (RFC 5681 §4.1).
    IdleRestart,
    /// Fast retransmit on duplicate ACKs begins fast recovery (RFC 5681 §3.2, RFC 6582).
    FastRetransmit,
    /// Loss recovery with SACK begins (RFC 6675 §5 step 4).
    SackRecovery,
    /// A change during recovery: inflation, partial ACK, proportional rate reduction.
    InRecovery,
    /// Loss recovery ends (RFC 6582 §3.2 full ACK, RFC 6675 §5 (A)).
    RecoveryExit,
    /// A tail loss probe repaired a loss (RFC 8985 §7.4.2).
    ProbeRepair,
    /// The retransmission timer expired (RFC 5681 §3.1, RFC 6298 §5.5).
    Timeout,
}
