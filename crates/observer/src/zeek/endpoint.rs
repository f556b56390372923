//! One end of a connection as Zeek keeps it (`TCP_Endpoint`): its pseudo-state, its sequence
//! space made relative to its first sequence number, and its history counters.

use serde::Serialize;

use super::history::{History, Letter, Scaled};
use super::reassembly::Reassembly;

/// A sequence jump larger than this on a SYN or RST is not believed (Zeek's constant).
pub(super) const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

/// Zeek's per-endpoint pseudo-state (not an RFC 9293 state: Zeek sees one side of a wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointState {
    /// Nothing seen from this side.
    Inactive,
    /// A SYN seen, no ACK.
    SynSent,
    /// A SYN+ACK seen without an initial SYN.
    SynAckSent,
    /// Data seen, no SYN.
    Partial,
    /// The handshake seen (or implied).
    Established,
    /// A FIN seen.
    Closed,
    /// A RST seen.
    Reset,
}

impl EndpointState {
    /// Still in the handshake, as far as the inactivity timeout is concerned.
    pub(super) fn in_handshake(self) -> bool {
        matches!(self, Self::Inactive | Self::SynSent | Self::SynAckSent)
    }

    /// Zeek's `TCP_INACTIVE` or `TCP_PARTIAL`: no handshake seen from this side.
    pub(super) fn inactive_or_partial(self) -> bool {
        matches!(self, Self::Inactive | Self::Partial)
    }
}

/// RFC 1982 difference of two sequence numbers.
pub(super) fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn full(seq: u32, wraps: u32) -> u64 {
    (u64::from(wraps) << 32) + u64::from(seq)
}

/// One end of a Zeek connection.
#[derive(Debug)]
pub(super) struct Endpoint {
    pub is_orig: bool,
    pub state: EndpointState,
    pub prev_state: EndpointState,
    start_seq: i64,
    last_seq: u32,
    ack_seq: u32,
    seq_wraps: u32,
    ack_wraps: u32,
    /// Relative sequence number one past its FIN.
    pub fin_seq: u64,
    pub fin_cnt: u32,
    pub rst_cnt: u32,
    pub did_close: bool,
    hist_last_syn: u64,
    hist_last_fin: u64,
    hist_last_rst: u64,
    pub checksum_errors: Scaled,
    retransmissions: Scaled,
    zero_windows: Scaled,
    pub gaps: Scaled,
    pub reassembly: Reassembly,
}

impl Endpoint {
    pub fn new(is_orig: bool) -> Endpoint {
        Endpoint {
            is_orig,
            state: EndpointState::Inactive,
            prev_state: EndpointState::Inactive,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            seq_wraps: 0,
            ack_wraps: 0,
            fin_seq: 0,
            fin_cnt: 0,
            rst_cnt: 0,
            did_close: false,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            checksum_errors: Scaled::default(),
            retransmissions: Scaled::default(),
            zero_windows: Scaled::default(),
            gaps: Scaled::default(),
            reassembly: Reassembly::default(),
        }
    }

    /// Change state; true when this change ends a handshake that both ends were still in.
    pub fn set_state(&mut self, to: EndpointState, peer: EndpointState) -> bool {
        if to == self.state {
            return false;
        }
        let ends_handshake = !to.in_handshake() && self.state.in_handshake() && peer.in_handshake();
        self.prev_state = self.state;
        self.state = to;
        ends_handshake
    }

    pub fn start_seq(&self) -> u32 {
        self.start_seq as u32
    }

    pub fn last_seq(&self) -> u32 {
        self.last_seq
    }

    pub fn ack_seq(&self) -> u32 {
        self.ack_seq
    }

    pub fn seq_wraps(&self) -> u32 {
        self.seq_wraps
    }

    pub fn ack_wraps(&self) -> u32 {
        self.ack_wraps
    }

    /// Start the sequence space at `seq` (all three marks).
    pub fn init_seqs(&mut self, start: u32, ack: u32, last: u32) {
        self.start_seq = i64::from(start);
        self.ack_seq = ack;
        self.last_seq = last;
    }

    pub fn update_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps += 1;
        }
        self.last_seq = seq;
    }

    pub fn update_ack_seq(&mut self, seq: u32) {
        if seq < self.ack_seq {
            self.ack_wraps += 1;
        }
        self.ack_seq = seq;
    }

    /// `seq` relative to the first sequence number, and whether it lies before it.
    pub fn relative(&self, seq: u32, last: u32, mut wraps: u32) -> (u64, bool) {
        let delta = seq_delta(seq, last);
        if delta < 0 && wraps > 0 && seq > last {
            wraps -= 1;
        } else if delta > 0 && seq < last {
            wraps += 1;
        }
        if wraps == 0 {
            let delta = seq_delta(seq, self.start_seq());
            return (i64::from(delta) as u64, delta < 0);
        }
        (full(seq, wraps).wrapping_sub(self.start_seq as u64), false)
    }

    /// The relative sequence number the peer has acknowledged.
    pub fn relative_ack(&self) -> u64 {
        full(self.ack_seq, self.ack_wraps).wrapping_sub(self.start_seq as u64)
    }

    /// Relative sequence number one past the last octet sent.
    pub fn relative_last(&self) -> u64 {
        full(self.last_seq, self.seq_wraps).wrapping_sub(self.start_seq as u64)
    }

    /// None of its data has been acknowledged (one octet allowed, for the SYN).
    pub fn no_data_acked(&self) -> bool {
        let ack = full(self.ack_seq, self.ack_wraps);
        let start = self.start_seq as u64;
        ack == start || ack == start.wrapping_add(1)
    }

    /// Octets of data sent, from the sequence numbers (Zeek's `Size()`).
    pub fn size(&self, peer: EndpointState) -> u64 {
        if self.prev_state == EndpointState::SynSent
            && self.state == EndpointState::Reset
            && peer == EndpointState::Inactive
            && !self.no_data_acked()
        {
            return 0;
        }
        let top = full(self.last_seq, self.seq_wraps).max(full(self.ack_seq, self.ack_wraps));
        // Neither the SYN's octet nor the FIN's is data.
        let size = top.wrapping_sub(self.start_seq as u64).saturating_sub(1);
        if self.fin_cnt > 0 {
            size.saturating_sub(1)
        } else {
            size
        }
    }

    /// The SYN, FIN and RST letters repeat only when their sequence number differs.
    pub fn note_syn(&mut self, history: &mut History, letter: Letter, rel_seq: u64) {
        if history.check(self.is_orig, letter) && rel_seq != self.hist_last_syn {
            history.add(self.is_orig, letter);
        }
        self.hist_last_syn = rel_seq;
    }

    pub fn note_fin(&mut self, history: &mut History, rel_seq: u64, len: u32) {
        let at = rel_seq.wrapping_add(u64::from(len));
        if history.check(self.is_orig, Letter::Fin) && at != self.hist_last_fin {
            history.add(self.is_orig, Letter::Fin);
        }
        self.hist_last_fin = at;
    }

    pub fn note_rst(&mut self, history: &mut History, rel_seq: u64) {
        if history.check(self.is_orig, Letter::Rst) && rel_seq != self.hist_last_rst {
            history.add(self.is_orig, Letter::Rst);
        }
        self.hist_last_rst = rel_seq;
    }

    pub fn retransmitted(&mut self, history: &mut History) {
        history.scaled(
            self.is_orig,
            Letter::Retransmission,
            &mut self.retransmissions,
        );
    }

    pub fn zero_window(&mut self, history: &mut History) {
        history.scaled(self.is_orig, Letter::ZeroWindow, &mut self.zero_windows);
    }
}
