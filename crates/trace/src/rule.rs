//! The rules that decide TCP transitions, each an identifier with its RFC section. Our stack,
//! the smoltcp reference host and the capture observer all name the same rule the same way,
//! so a learner (or a script) can compare what each did by the rule, not by its wording.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule of RFC 9293 (or of the RFCs that amend it) that decides a transition.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// OPEN call, passive: LISTEN.
    OpenPassive,
    /// OPEN call, active: SYN sent.
    OpenActive,
    /// A listener receives a SYN and answers with SYN+ACK.
    ListenSyn,
    /// RST answered to a segment for which no socket exists.
    NoSocket,
    /// An RST that an end sent, seen from outside: an ABORT, or no socket for the segment.
    RstSent,
    /// SYN-SENT receives an RST that acknowledges its SYN: connection refused.
    SynSentRefused,
    /// SYN-SENT receives SYN+ACK for its SYN.
    SynSentSynAck,
    /// SYN-SENT receives a SYN without ACK: both SYNs crossed.
    SimultaneousOpen,
    /// SYN-RECEIVED after a passive OPEN receives an in-window SYN.
    SynReceivedSyn,
    /// SYN-RECEIVED receives the ACK of its SYN.
    SynReceivedAck,
    /// SYN-RECEIVED after a passive OPEN receives an RST.
    SynReceivedRstPassive,
    /// SYN-RECEIVED after an active OPEN receives an RST.
    SynReceivedRstActive,
    /// FIN-WAIT-1 receives the ACK of its FIN.
    FinWait1Ack,
    /// CLOSING receives the ACK of its FIN.
    ClosingAck,
    /// LAST-ACK receives the ACK of its FIN.
    LastAckAck,
    /// ESTABLISHED receives the peer's FIN.
    EstablishedFin,
    /// FIN-WAIT-1 receives the peer's FIN together with the ACK of its own.
    FinWait1FinAcked,
    /// FIN-WAIT-1 receives the peer's FIN before the ACK of its own: both FINs crossed.
    SimultaneousClose,
    /// FIN-WAIT-2 receives the peer's FIN.
    FinWait2Fin,
    /// A synchronised connection receives an acceptable RST.
    Reset,
    /// CLOSING, LAST-ACK or TIME-WAIT receives an RST.
    ClosingReset,
    /// Data arrives for an application that has closed: reset (RFC 2525 §2.17).
    DataAfterClose,
    /// CLOSE call in SYN-SENT.
    CloseSynSent,
    /// CLOSE call on a listener.
    CloseListen,
    /// A connection not yet accepted when its listener closed.
    CloseListenerPending,
    /// CLOSE call in ESTABLISHED: FIN.
    CloseEstablished,
    /// CLOSE call in CLOSE-WAIT: FIN.
    CloseCloseWait,
    /// CLOSE call with received data unread: RST instead of FIN.
    CloseUnreadData,
    /// ABORT call: RST.
    Abort,
    /// CLOSE or ABORT call, where which one is not known.
    CloseOrAbort,
    /// Too many retransmissions: the connection is aborted.
    RetransmissionsExceeded,
    /// Keep-alive probes went unanswered: the connection is aborted.
    KeepaliveExceeded,
    /// The TIME-WAIT timer expires.
    TimeWaitTimeout,
    /// A new SYN for the same connection, beyond the old one's sequence numbers, ends
    /// TIME-WAIT early: the listener takes it.
    TimeWaitSyn,
    /// Any other processing of an event (RFC 9293 §3.10), where no finer rule is known.
    EventProcessing,
}

impl Rule {
    /// Every rule, for the schema and its tests.
    pub const ALL: [Rule; 35] = [
        Rule::OpenPassive,
        Rule::OpenActive,
        Rule::ListenSyn,
        Rule::NoSocket,
        Rule::RstSent,
        Rule::SynSentRefused,
        Rule::SynSentSynAck,
        Rule::SimultaneousOpen,
        Rule::SynReceivedSyn,
        Rule::SynReceivedAck,
        Rule::SynReceivedRstPassive,
        Rule::SynReceivedRstActive,
        Rule::FinWait1Ack,
        Rule::ClosingAck,
        Rule::LastAckAck,
        Rule::EstablishedFin,
        Rule::FinWait1FinAcked,
        Rule::SimultaneousClose,
        Rule::FinWait2Fin,
        Rule::Reset,
        Rule::ClosingReset,
        Rule::DataAfterClose,
        Rule::CloseSynSent,
        Rule::CloseListen,
        Rule::CloseListenerPending,
        Rule::CloseEstablished,
        Rule::CloseCloseWait,
        Rule::CloseUnreadData,
        Rule::Abort,
        Rule::CloseOrAbort,
        Rule::RetransmissionsExceeded,
        Rule::KeepaliveExceeded,
        Rule::TimeWaitTimeout,
        Rule::TimeWaitSyn,
        Rule::EventProcessing,
    ];

    /// The RFC and section that state it, e.g. `RFC 9293 §3.10.7.3`.
    pub fn section(self) -> &'static str {
        self.parts().0
    }

    /// What the rule says, after its section.
    pub fn text(self) -> &'static str {
        self.parts().1
    }

    /// The identifier used in JSON traces, e.g. `syn_sent_syn_ack`.
    pub fn id(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn parts(self) -> (&'static str, &'static str) {
        use Rule::*;
        match self {
            OpenPassive | OpenActive => ("RFC 9293 §3.10.1", self.open_text()),
            ListenSyn => (
                "RFC 9293 §3.10.7.2",
                "(LISTEN, SYN): new TCB, ISS chosen (§3.4.1); send SYN+ACK, enter SYN-RECEIVED",
            ),
            NoSocket => (
                "RFC 9293 §3.10.7.1",
                "(CLOSED): no socket for the segment; answer with RST",
            ),
            RstSent => (
                "RFC 9293 §3.10.5",
                "it sent RST (ABORT call, or no socket for the segment); enter CLOSED",
            ),
            SynSentRefused | SynSentSynAck | SimultaneousOpen => {
                ("RFC 9293 §3.10.7.3", self.syn_sent_text())
            }
            SynReceivedSyn
            | SynReceivedAck
            | SynReceivedRstPassive
            | SynReceivedRstActive
            | FinWait1Ack
            | ClosingAck
            | LastAckAck
            | EstablishedFin
            | FinWait1FinAcked
            | SimultaneousClose
            | FinWait2Fin
            | Reset
            | ClosingReset => ("RFC 9293 §3.10.7.4", self.other_states_text()),
            DataAfterClose => (
                "RFC 2525 §2.17",
                "data arrived after close(); nobody can read it, so reset the connection",
            ),
            CloseSynSent | CloseListen | CloseListenerPending | CloseEstablished
            | CloseCloseWait => ("RFC 9293 §3.10.4", self.close_text()),
            CloseUnreadData => (
                "RFC 2525 §2.17 and RFC 1122 §4.2.2.13",
                "close() with unread data received: send RST instead of FIN, enter CLOSED",
            ),
            Abort => (
                "RFC 9293 §3.10.5",
                "(ABORT call): send RST, flush queues, enter CLOSED",
            ),
            CloseOrAbort => (
                "RFC 9293 §3.10.4/§3.10.5",
                "(CLOSE or ABORT call): enter CLOSED",
            ),
            RetransmissionsExceeded => (
                "RFC 9293 §3.8.3",
                "retransmissions exceeded R2; abort the connection",
            ),
            KeepaliveExceeded => (
                "RFC 1122 §4.2.3.6",
                "keep-alive probes went unanswered (TCP_KEEPCNT of them); send RST, abort the \
                 connection",
            ),
            TimeWaitTimeout => (
                "RFC 9293 §3.10.8",
                "(TIME-WAIT timeout): 2×MSL has passed; delete the TCB, enter CLOSED",
            ),
            TimeWaitSyn => (
                "RFC 1122 §4.2.2.13",
                "(TIME-WAIT, SYN): a SYN beyond the old connection's sequence numbers (or with \
                 a newer timestamp, RFC 6191) may reopen it: delete the TCB, enter CLOSED; the \
                 listener takes the SYN",
            ),
            EventProcessing => ("RFC 9293 §3.10", "(event processing)"),
        }
    }

    fn open_text(self) -> &'static str {
        match self {
            Rule::OpenPassive => "(OPEN call, passive, CLOSED): create a TCB, enter LISTEN",
            _ => "(OPEN call, active, CLOSED): ISS chosen (§3.4.1); send SYN, enter SYN-SENT",
        }
    }

    fn syn_sent_text(self) -> &'static str {
        match self {
            Rule::SynSentRefused => {
                "(SYN-SENT, RST with acceptable ACK): \"error: connection reset\"; nothing \
                 listens on that port"
            }
            Rule::SynSentSynAck => {
                "(SYN-SENT): SYN+ACK acknowledges our SYN; send ACK, enter ESTABLISHED"
            }
            _ => {
                "(SYN-SENT): a SYN without ACK (simultaneous open); send SYN+ACK, enter \
                 SYN-RECEIVED"
            }
        }
    }

    fn other_states_text(self) -> &'static str {
        use Rule::*;
        match self {
            SynReceivedSyn => {
                "(SYN-RECEIVED, SYN in window after passive OPEN): return to LISTEN; this \
                 half-open connection is deleted"
            }
            SynReceivedAck => {
                "(SYN-RECEIVED, fifth step): the ACK acknowledges our SYN; enter ESTABLISHED"
            }
            SynReceivedRstPassive => {
                "(SYN-RECEIVED, RST after passive OPEN): return to LISTEN; this half-open \
                 connection is deleted"
            }
            SynReceivedRstActive => "(SYN-RECEIVED, RST after active OPEN): connection refused",
            FinWait1Ack => "(FIN-WAIT-1, fifth step): our FIN is acknowledged; enter FIN-WAIT-2",
            ClosingAck => "(CLOSING, fifth step): our FIN is acknowledged; enter TIME-WAIT",
            LastAckAck => {
                "(LAST-ACK, fifth step): our FIN is acknowledged; delete the TCB, enter CLOSED"
            }
            EstablishedFin => {
                "(ESTABLISHED, eighth step): the peer's FIN; ACK it, tell the application \
                 (recv returns b''), enter CLOSE-WAIT"
            }
            FinWait1FinAcked => {
                "(FIN-WAIT-1, eighth step): FIN and our FIN is ACKed; enter TIME-WAIT, start \
                 the 2×MSL timer"
            }
            SimultaneousClose => {
                "(FIN-WAIT-1, eighth step): the peer's FIN before the ACK of ours \
                 (simultaneous close); enter CLOSING"
            }
            FinWait2Fin => {
                "(FIN-WAIT-2, eighth step): the peer's FIN; ACK it, enter TIME-WAIT, start the \
                 2×MSL timer"
            }
            Reset => {
                "(synchronised state, RST): \"connection reset\"; queues flushed, enter CLOSED"
            }
            _ => "(CLOSING, LAST-ACK or TIME-WAIT, RST): enter CLOSED, delete the TCB",
        }
    }

    fn close_text(self) -> &'static str {
        match self {
            Rule::CloseSynSent => "(CLOSE call, SYN-SENT): delete the TCB, enter CLOSED",
            Rule::CloseListen => {
                "(CLOSE call, LISTEN): requests pending are refused; delete the TCB, enter \
                 CLOSED"
            }
            Rule::CloseListenerPending => {
                "the listener closed before this connection was accepted; reset it"
            }
            Rule::CloseEstablished => {
                "(CLOSE call, ESTABLISHED): send FIN after the queued data, enter FIN-WAIT-1"
            }
            _ => "(CLOSE call, CLOSE-WAIT): send FIN after the queued data, enter LAST-ACK",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        if text.starts_with('(') {
            write!(f, "{} {text}", self.section())
        } else {
            write!(f, "{}: {text}", self.section())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_section_and_a_distinct_id() {
        let mut ids: Vec<String> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert!(ids.iter().all(|id| !id.is_empty()));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
        for rule in Rule::ALL {
            assert!(rule.section().starts_with("RFC "), "{rule:?}");
        }
        assert_eq!(
            Rule::SynSentSynAck.to_string(),
            "RFC 9293 §3.10.7.3 (SYN-SENT): SYN+ACK acknowledges our SYN; send ACK, enter \
             ESTABLISHED"
        );
        assert_eq!(
            Rule::RetransmissionsExceeded.to_string(),
            "RFC 9293 §3.8.3: retransmissions exceeded R2; abort the connection"
        );
    }
}
