//! The RFC 9293 inference: both ends' states, one segment at a time, as a learner would
//! reason them out from the packets.

use std::net::SocketAddr;

use serde::Serialize;
use trace::{Rule, TcpState};

use crate::{ConnState, Segment};

/// One inferred transition.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Inferred {
    /// The frame that shows it.
    pub frame: u64,
    /// When, nanoseconds since the epoch.
    pub t_ns: u64,
    /// Which end.
    pub endpoint: SocketAddr,
    /// Before.
    pub from: TcpState,
    /// After.
    pub to: TcpState,
    /// The RFC rule it follows.
    pub rule: Rule,
}

/// One end's inferred variables.
#[derive(Clone, Debug, Serialize)]
pub struct End {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state now.
    pub state: TcpState,
    /// True until a SYN of its own was seen.
    #[serde(skip)]
    isn: Option<u32>,
    /// One past the highest sequence number it has sent (its SND.NXT, seen on the wire).
    #[serde(skip)]
    snd_max: Option<u32>,
    /// Its FIN's sequence number, once it sent one.
    #[serde(skip)]
    fin_seq: Option<u32>,
    /// Its FIN has been acknowledged.
    #[serde(skip)]
    fin_acked: bool,
    /// The peer's FIN is on the wire and this end has not yet shown that it received it.
    #[serde(skip)]
    peer_fin_pending: bool,
    /// Octets of data it sent (retransmissions not counted twice).
    pub bytes: u64,
    /// Segments whose payload it sent again.
    pub retransmissions: u64,
    /// In SYN-SENT, it was sent an ACK that does not acknowledge its SYN (this number).
    #[serde(skip)]
    bad_ack: Option<u32>,
}

impl End {
    fn new(addr: SocketAddr, state: TcpState) -> End {
        End {
            addr,
            state,
            isn: None,
            snd_max: None,
            fin_seq: None,
            fin_acked: false,
            peer_fin_pending: false,
            bytes: 0,
            retransmissions: 0,
            bad_ack: None,
        }
    }
}

/// One TCP connection seen in the capture.
#[derive(Clone, Debug, Serialize)]
pub struct Connection {
    /// The originator: the end that sent the first SYN (or the first packet seen).
    pub orig: End,
    /// The responder.
    pub resp: End,
    /// Zeek's conn.log history of the record this connection's first packet went to (upper
    /// case for Zeek's originator).
    pub history: String,
    /// Zeek's conn_state of that record.
    pub conn_state: ConnState,
    /// The Zeek records (indexes into `conn_log`) that begin in this connection: more than
    /// one where Zeek starts a new record (a SYN retried after 5 s, a reused port).
    pub zeek_records: Vec<usize>,
    /// The capture began mid-connection.
    pub mid_stream: bool,
    /// Every inferred transition, in order.
    pub transitions: Vec<Inferred>,
    /// Frames of this connection.
    pub packets: u64,
    /// The first frame.
    pub first_frame: u64,
}

/// What a segment showed about another connection on the same ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Beyond {
    /// Nothing.
    Nothing,
    /// A RST answered an ACK that the old connection's TIME-WAIT sent to a new SYN: that
    /// RST ends the TIME-WAIT (as Linux does; RFC 1337 would ignore it).
    TimeWaitReset,
}

fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Connection {
    /// A connection whose first segment is `seg`; `server_first` when a first segment that
    /// is not a SYN looks like the server's (Zeek's port heuristic).
    pub(crate) fn new(seg: &Segment, frame: u64, server_first: bool) -> Connection {
        let mid_stream = !seg.syn;
        let (orig_state, resp_state) = if mid_stream {
            (TcpState::Established, TcpState::Established)
        } else if seg.ack {
            (TcpState::SynSent, TcpState::Listen)
        } else {
            (TcpState::Closed, TcpState::Listen)
        };
        let flip = (seg.syn && seg.ack) || (mid_stream && server_first);
        let (orig, resp) = if flip {
            (seg.dst, seg.src)
        } else {
            (seg.src, seg.dst)
        };
        Connection {
            orig: End::new(orig, orig_state),
            resp: End::new(resp, resp_state),
            history: String::new(),
            conn_state: ConnState::Oth,
            zeek_records: Vec::new(),
            mid_stream,
            transitions: Vec::new(),
            packets: 0,
            first_frame: frame,
        }
    }

    /// A new SYN on these ports starts a new connection once this one is over.
    pub(crate) fn is_over_for(&self, seg: &Segment) -> bool {
        let over = |s: TcpState| matches!(s, TcpState::Closed | TcpState::TimeWait);
        seg.syn
            && !seg.ack
            && over(self.orig.state)
            && over(self.resp.state)
            && self.orig.isn != Some(seg.seq)
    }

    /// The end at `addr` leaves TIME-WAIT on a RST.
    pub(crate) fn time_wait_reset(&mut self, addr: SocketAddr, frame: u64, t: u64) {
        let orig = self.orig.addr == addr;
        if self.end_mut(orig).state == TcpState::TimeWait {
            self.set(orig, TcpState::Closed, frame, t, Rule::ClosingReset);
        }
    }

    fn end_mut(&mut self, orig: bool) -> &mut End {
        if orig { &mut self.orig } else { &mut self.resp }
    }

    fn set(&mut self, orig: bool, to: TcpState, frame: u64, t_ns: u64, rule: Rule) {
        let end = self.end_mut(orig);
        if end.state == to {
            return;
        }
        let from = end.state;
        end.state = to;
        let endpoint = end.addr;
        self.transitions.push(Inferred {
            frame,
            t_ns,
            endpoint,
            from,
            to,
            rule,
        });
    }

    /// Take one segment from `orig`'s side (true) or the responder's.
    pub(crate) fn segment(&mut self, orig: bool, seg: &Segment, frame: u64, t: u64) -> Beyond {
        self.packets += 1;
        self.count(orig, seg);
        if seg.rst {
            if self.end_mut(orig).bad_ack.take() == Some(seg.seq) {
                // RFC 9293 §3.10.7.3: in SYN-SENT an unacceptable ACK is answered by a RST
                // and the state stays; a listener ignores a RST (§3.10.7.2).
                return Beyond::TimeWaitReset;
            }
            self.reset(orig, frame, t);
        } else if seg.syn {
            self.syn(orig, seg, frame, t);
        } else {
            self.ack_and_fin(orig, seg, frame, t);
        }
        Beyond::Nothing
    }

    /// Bytes and payload retransmissions of the sender.
    fn count(&mut self, sender: bool, seg: &Segment) {
        let seg_end = seg
            .seq
            .wrapping_add(seg.len + u32::from(seg.syn) + u32::from(seg.fin));
        let me = self.end_mut(sender);
        // Payload that does not go beyond what the sender had sent is sent again.
        let resent =
            seg.len > 0 && !seg.rst && me.snd_max.is_some_and(|max| !seq_after(seg_end, max));
        if resent {
            me.retransmissions += 1;
        } else if seg.len > 0 && !seg.rst {
            me.bytes += u64::from(seg.len);
        }
        if !seg.rst && me.snd_max.is_none_or(|m| seq_after(seg_end, m)) {
            me.snd_max = Some(seg_end);
        }
    }

    /// RFC 9293 §3.10.7: a reset ends the connection for both ends.
    fn reset(&mut self, sender: bool, frame: u64, t: u64) {
        use TcpState::*;
        let receiver = !sender;
        let rule = if self.end_mut(sender).state == Listen {
            Rule::NoSocket
        } else {
            Rule::RstSent
        };
        self.set(sender, Closed, frame, t, rule);
        let receiver_state = self.end_mut(receiver).state;
        let rule = if receiver_state == SynSent {
            Rule::SynSentRefused
        } else {
            Rule::Reset
        };
        self.set(receiver, Closed, frame, t, rule);
    }

    /// A SYN or SYN+ACK: who opened, who listened, whose SYN is acknowledged.
    fn syn(&mut self, sender: bool, seg: &Segment, frame: u64, t: u64) {
        use TcpState::*;
        let receiver = !sender;
        self.end_mut(sender).isn = Some(seg.seq);
        if !seg.ack {
            let state = self.end_mut(sender).state;
            if matches!(state, Closed | Listen) {
                self.set(sender, SynSent, frame, t, Rule::OpenActive);
            }
            // Whether the receiver listens shows only in its answer (SYN+ACK or RST);
            // only a crossing SYN is certain now.
            if self.end_mut(receiver).state == SynSent {
                self.set(receiver, SynReceived, frame, t, Rule::SimultaneousOpen);
            }
        } else {
            // SYN+ACK: the sender is (or becomes) SYN-RECEIVED; the receiver, if its SYN
            // is acknowledged, ESTABLISHED.
            let sstate = self.end_mut(sender).state;
            if matches!(sstate, Closed | Listen) {
                self.set(sender, SynReceived, frame, t, Rule::ListenSyn);
            }
            let acks_syn = self
                .end_mut(receiver)
                .isn
                .is_some_and(|isn| seg.ack_seq == isn.wrapping_add(1));
            let rstate = self.end_mut(receiver).state;
            if acks_syn && matches!(rstate, SynSent | SynReceived) {
                self.set(receiver, Established, frame, t, Rule::SynSentSynAck);
            }
        }
    }

    /// Any other segment: FINs received (shown by what follows them), ACKs of SYNs and
    /// FINs, and the sender's own FIN.
    fn ack_and_fin(&mut self, sender: bool, seg: &Segment, frame: u64, t: u64) {
        use TcpState::*;
        let receiver = !sender;
        self.unacceptable_ack(receiver, seg);
        // (a) Segments arrive in order: a later segment from the sender means the receiver
        // has its earlier FIN.
        if self.end_mut(receiver).peer_fin_pending {
            self.receive_fin(receiver, frame, t);
        }
        // (b) The sender shows it received the receiver's FIN when it acknowledges it; a
        // FIN of its own that does not means the two FINs crossed.
        if seg.ack {
            let theirs = self.end_mut(receiver).fin_seq;
            let covered = theirs.is_some_and(|f| !seq_after(f.wrapping_add(1), seg.ack_seq));
            if covered && self.end_mut(sender).peer_fin_pending {
                self.receive_fin(sender, frame, t);
            }
        }
        // (c) An ACK that covers the receiver's SYN or FIN moves it on.
        if seg.ack {
            let r = self.end_mut(receiver);
            let (rstate, risn, rfin) = (r.state, r.isn, r.fin_seq);
            if rstate == SynReceived
                && risn.is_some_and(|isn| !seq_after(isn.wrapping_add(1), seg.ack_seq))
            {
                self.set(receiver, Established, frame, t, Rule::SynReceivedAck);
            }
            let fin_acked = rfin.is_some_and(|f| !seq_after(f.wrapping_add(1), seg.ack_seq));
            if fin_acked && !self.end_mut(receiver).fin_acked {
                self.end_mut(receiver).fin_acked = true;
                match self.end_mut(receiver).state {
                    FinWait1 => self.set(receiver, FinWait2, frame, t, Rule::FinWait1Ack),
                    Closing => self.set(receiver, TimeWait, frame, t, Rule::ClosingAck),
                    LastAck => self.set(receiver, Closed, frame, t, Rule::LastAckAck),
                    _ => {}
                }
            }
        }
        // (d) The sender's own FIN.
        if seg.fin {
            let fin_seq = seg.seq.wrapping_add(seg.len);
            let me = self.end_mut(sender);
            if me.fin_seq.is_some() {
                return; // a retransmitted FIN
            }
            me.fin_seq = Some(fin_seq);
            match me.state {
                Established | SynReceived => {
                    self.set(sender, FinWait1, frame, t, Rule::CloseEstablished)
                }
                CloseWait => self.set(sender, LastAck, frame, t, Rule::CloseCloseWait),
                _ => {}
            }
            self.end_mut(receiver).peer_fin_pending = true;
        }
    }

    /// RFC 9293 §3.10.7.3: an ACK that does not acknowledge the SYN of an end in SYN-SENT
    /// (an old connection's TIME-WAIT answering a new SYN) is answered by a RST.
    fn unacceptable_ack(&mut self, receiver: bool, seg: &Segment) {
        let r = self.end_mut(receiver);
        if seg.ack
            && r.state == TcpState::SynSent
            && r.isn.is_some_and(|isn| seg.ack_seq != isn.wrapping_add(1))
        {
            r.bad_ack = Some(seg.ack_seq);
        }
    }

    /// The end `orig` received its peer's FIN (RFC 9293 §3.10.7.4, eighth step).
    fn receive_fin(&mut self, orig: bool, frame: u64, t: u64) {
        use TcpState::*;
        let end = self.end_mut(orig);
        end.peer_fin_pending = false;
        let acked = end.fin_acked;
        match end.state {
            Established | SynReceived => self.set(orig, CloseWait, frame, t, Rule::EstablishedFin),
            FinWait1 if acked => self.set(orig, TimeWait, frame, t, Rule::FinWait1FinAcked),
            FinWait1 => self.set(orig, Closing, frame, t, Rule::SimultaneousClose),
            FinWait2 => self.set(orig, TimeWait, frame, t, Rule::FinWait2Fin),
            _ => {}
        }
    }

    pub(crate) fn finish(&mut self) {
        // A FIN whose receipt no later packet showed was received all the same, as far as
        // the capture can tell.
        let last = self
            .transitions
            .last()
            .map_or((self.first_frame, 0), |t| (t.frame, t.t_ns));
        for orig in [true, false] {
            if self.end_mut(orig).peer_fin_pending {
                self.receive_fin(orig, last.0, last.1);
            }
        }
    }
}
