//! smoltcp's TCP states as RFC 9293 names them, and the rule each of its transitions
//! follows, for the trace.

use smoltcp::socket::tcp;
use trace::{Cause, Rule, TcpState};

/// A smoltcp state by its RFC 9293 name.
pub(crate) fn state_of(state: tcp::State) -> TcpState {
    match state {
        tcp::State::Closed => TcpState::Closed,
        tcp::State::Listen => TcpState::Listen,
        tcp::State::SynSent => TcpState::SynSent,
        tcp::State::SynReceived => TcpState::SynReceived,
        tcp::State::Established => TcpState::Established,
        tcp::State::FinWait1 => TcpState::FinWait1,
        tcp::State::FinWait2 => TcpState::FinWait2,
        tcp::State::CloseWait => TcpState::CloseWait,
        tcp::State::Closing => TcpState::Closing,
        tcp::State::LastAck => TcpState::LastAck,
        tcp::State::TimeWait => TcpState::TimeWait,
    }
}

/// The RFC 9293 rule a transition follows, as smoltcp applies it, and what smoltcp adds to
/// its words.
pub(crate) fn rule(from: TcpState, to: TcpState, cause: &Cause) -> (Rule, Option<String>) {
    use TcpState::*;
    let rule = match (from, to) {
        (Closed, SynSent) => Rule::OpenActive,
        (Listen, SynReceived) => Rule::ListenSyn,
        (SynSent, Established) => Rule::SynSentSynAck,
        (SynSent, SynReceived) => Rule::SimultaneousOpen,
        (SynReceived, Established) => Rule::SynReceivedAck,
        (SynReceived, Listen) => Rule::SynReceivedRstPassive,
        (Established | SynReceived, FinWait1) => Rule::CloseEstablished,
        (Established, CloseWait) => Rule::EstablishedFin,
        (CloseWait, LastAck) => Rule::CloseCloseWait,
        (FinWait1, FinWait2) => Rule::FinWait1Ack,
        (FinWait1, Closing) => Rule::SimultaneousClose,
        (FinWait1, TimeWait) => Rule::FinWait1FinAcked,
        (FinWait2, TimeWait) => Rule::FinWait2Fin,
        (Closing, TimeWait) => Rule::ClosingAck,
        (LastAck, Closed) => Rule::LastAckAck,
        (TimeWait, Closed) => {
            return (
                Rule::TimeWaitTimeout,
                Some("smoltcp's TIME-WAIT is a fixed 10 s".to_string()),
            );
        }
        (_, Closed) if matches!(cause, Cause::Call(_)) => Rule::CloseOrAbort,
        (_, Closed) if matches!(cause, Cause::Timer(_)) => {
            return (
                Rule::RetransmissionsExceeded,
                Some("smoltcp: no progress within its timeout".to_string()),
            );
        }
        (_, Closed) => Rule::Reset,
        _ => Rule::EventProcessing,
    };
    (rule, Some(SMOLTCP.to_string()))
}

/// The detail of a transition that smoltcp made by the rule's own words.
const SMOLTCP: &str = "as smoltcp applies it";
