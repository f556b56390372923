//! What `getsockopt(TCP_INFO)` tells on Linux, from our TCB: the congestion state, the
//! window and the scoreboard in segments, the timers in microseconds. packetdrill's
//! `%{ }%` blocks read it as `tcpi_*`.

use trace::{TcpState, Time};

use super::Tcb;

/// Linux's TCP_INFINITE_SSTHRESH: the slow-start threshold before any loss.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// Linux's congestion-avoidance state (`tcpi_ca_state`, `enum tcp_ca_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaState {
    /// Nothing odd seen.
    Open = 0,
    /// Duplicate ACKs or SACKs seen, no recovery yet.
    Disorder = 1,
    /// Fast recovery (RFC 6675, RFC 6582).
    Recovery = 3,
    /// Recovery after a retransmission timeout.
    Loss = 4,
}

/// A connection's TCP_INFO, in Linux's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// RFC 9293 state.
    pub state: TcpState,
    /// The congestion-avoidance state.
    pub ca_state: CaState,
    /// Retransmission timeouts in a row (`tcpi_retransmits`, `tcpi_backoff`).
    pub retransmits: u32,
    /// Zero-window probes unanswered (`tcpi_probes`).
    pub probes: u32,
    /// The peer's window shift and ours.
    pub snd_wscale: u8,
    /// Our window shift.
    pub rcv_wscale: u8,
    /// The retransmission timeout.
    pub rto: Time,
    /// The ACK timeout.
    pub ato: Time,
    /// The most data a segment carries now (`tcpi_snd_mss`).
    pub snd_mss: u32,
    /// The MSS we announced (`tcpi_advmss`).
    pub advmss: u32,
    /// Segments sent and not yet acknowledged (`tcpi_unacked`).
    pub unacked: u32,
    /// Of those, segments SACKed.
    pub sacked: u32,
    /// Of those, segments taken for lost (RFC 6675's IsLost or RACK).
    pub lost: u32,
    /// Of those, segments retransmitted and not yet acknowledged.
    pub retrans: u32,
    /// Smoothed RTT and its variation (RFC 6298).
    pub rtt: Time,
    /// RTTVAR.
    pub rttvar: Time,
    /// Slow-start threshold, segments.
    pub snd_ssthresh: u32,
    /// Congestion window, segments.
    pub snd_cwnd: u32,
    /// Duplicate ACKs that start a fast retransmit.
    pub reordering: u32,
    /// Segments retransmitted in all.
    pub total_retrans: u64,
    /// The peer's window, octets.
    pub snd_wnd: u32,
    /// Octets of data acknowledged.
    pub bytes_acked: u64,
}

impl TcpInfo {
    /// The fields under their Linux names (`tcpi_*` without the prefix), times in µs.
    pub fn fields(&self) -> Vec<(&'static str, i64)> {
        let us = |t: Time| (t.as_nanos() / 1_000) as i64;
        vec![
            ("state", i64::from(linux_state(self.state))),
            ("ca_state", self.ca_state as i64),
            ("retransmits", i64::from(self.retransmits)),
            ("probes", i64::from(self.probes)),
            ("backoff", i64::from(self.retransmits)),
            ("snd_wscale", i64::from(self.snd_wscale)),
            ("rcv_wscale", i64::from(self.rcv_wscale)),
            ("rto", us(self.rto)),
            ("ato", us(self.ato)),
            ("snd_mss", i64::from(self.snd_mss)),
            ("advmss", i64::from(self.advmss)),
            ("unacked", i64::from(self.unacked)),
            ("sacked", i64::from(self.sacked)),
            ("lost", i64::from(self.lost)),
            ("retrans", i64::from(self.retrans)),
            ("rtt", us(self.rtt)),
            ("rttvar", us(self.rttvar)),
            ("snd_ssthresh", i64::from(self.snd_ssthresh)),
            ("snd_cwnd", i64::from(self.snd_cwnd)),
            ("reordering", i64::from(self.reordering)),
            ("total_retrans", self.total_retrans as i64),
            ("snd_wnd", i64::from(self.snd_wnd)),
            ("bytes_acked", self.bytes_acked as i64),
        ]
    }
}

/// Linux's numbering of the states (`TCP_ESTABLISHED` = 1 ...).
fn linux_state(state: TcpState) -> u8 {
    match state {
        TcpState::Established => 1,
        TcpState::SynSent => 2,
        TcpState::SynReceived => 3,
        TcpState::FinWait1 => 4,
        TcpState::FinWait2 => 5,
        TcpState::TimeWait => 6,
        TcpState::Closed => 7,
        TcpState::CloseWait => 8,
        TcpState::LastAck => 9,
        TcpState::Listen => 10,
        TcpState::Closing => 11,
    }
}

impl Tcb {
    /// This connection's TCP_INFO.
    pub fn info(&self) -> TcpInfo {
        let smss = u32::from(self.segment_size().max(1));
        let (unacked, sacked, lost, retrans) = self.segment_counts(smss);
        TcpInfo {
            state: self.state,
            ca_state: self.ca_state(),
            retransmits: self.retries,
            probes: if self.persisting {
                self.persist_backoff
            } else {
                0
            },
            snd_wscale: self.snd_shift,
            rcv_wscale: self.rcv_shift,
            rto: self.rtt.rto,
            ato: self.ack_clock.timeout(),
            snd_mss: smss,
            advmss: u32::from(self.our_mss),
            unacked,
            sacked,
            lost,
            retrans,
            rtt: self.rtt.srtt.unwrap_or(Time::ZERO),
            rttvar: self.rtt.rttvar,
            snd_ssthresh: if self.cc.ssthresh == u32::MAX {
                INFINITE_SSTHRESH
            } else {
                self.cc.ssthresh / smss
            },
            snd_cwnd: self.cc.cwnd / smss,
            reordering: self.rack.reordering(),
            total_retrans: self.retransmissions,
            snd_wnd: self.snd_wnd,
            bytes_acked: u64::from(self.bytes_acked()),
        }
    }

    fn ca_state(&self) -> CaState {
        if self.loss_recovery.is_some() {
            CaState::Loss
        } else if self.cc.in_recovery {
            CaState::Recovery
        } else if !self.scoreboard.is_empty() || (!self.sack_ok && self.cc.dupacks() > 0) {
            // With SACK, Linux's Disorder is SACKed data; without, duplicate ACKs.
            CaState::Disorder
        } else {
            CaState::Open
        }
    }

    /// Segments in flight, SACKed, lost and retransmitted, each segment of `smss` from
    /// SND.UNA counted once, as Linux counts its packets. After a timeout all that was
    /// outstanding is lost (Linux's `tcp_enter_loss`), and what has been sent again since
    /// is retransmitted.
    fn segment_counts(&self, smss: u32) -> (u32, u32, u32, u32) {
        let (mut unacked, mut sacked, mut lost, mut retrans) = (0, 0, 0, 0);
        let mut seq = self.snd_una;
        while seq < self.snd_max {
            unacked += 1;
            if self.scoreboard.sacked_end_at(seq).is_some() {
                sacked += 1;
            } else if let Some(recover) = self.loss_recovery {
                if seq < recover {
                    lost += 1;
                    retrans += u32::from(seq < self.snd_nxt);
                }
            } else if self.scoreboard.is_lost(seq, smss) || self.rack.marked_lost(seq) {
                lost += 1;
                retrans += u32::from(seq < self.scoreboard.high_rxt());
            }
            seq = seq + smss.min(self.snd_max.since(seq));
        }
        (unacked, sacked, lost, retrans)
    }
}
