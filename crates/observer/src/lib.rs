//! Passive inference, from the packets alone, of both endpoints' RFC 9293 states for every
//! TCP connection in a capture: what a learner would reason out looking at Wireshark. Each
//! inferred transition names the frame that shows it and the rule.
//!
//! A capture is taken at one point of the network, so a segment is taken to be sent and
//! received at the moment it was captured. A capture that begins mid-connection starts both
//! ends in "ESTABLISHED (inferred)"; TIME-WAIT is shown as entered, its expiry unseen.
//! Memory grows with the number of connections, not of packets.

mod defrag;
mod link;
mod read;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use trace::{Rule, TcpState};
use wire::{Ipv4View, TcpView};

pub use link::{Inner, Unread};
pub use pcap_file::DataLink;
pub use read::{Packet, ReadError, for_each_packet, ip_in, ipv4_in};

/// The TCP header fields the inference needs.
#[derive(Clone, Copy, Debug)]
struct Segment {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    fin: bool,
    rst: bool,
    /// Payload length from the IP header (so a snaplen-cut capture still counts right).
    len: u32,
}

/// A hasher for connection keys: the map is only looked up, never iterated, so the order it
/// keeps cannot reach the output, and a capture is not an adversary that needs SipHash's keyed
/// defence; FNV-1a is several times faster on twelve octets.
#[derive(Clone, Copy)]
struct AddrHasher(u64);

impl Default for AddrHasher {
    fn default() -> Self {
        AddrHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

type BuildAddrHasher = std::hash::BuildHasherDefault<AddrHasher>;

/// Read the TCP segment inside an IPv4 packet, headers only (the payload may be cut by a
/// snaplen: its length comes from the IP header). A fragment holds a piece of a segment: it
/// goes to `defrag`, and the segment is read once the datagram is whole.
fn tcp_segment(bytes: &[u8], defrag: &mut defrag::Defrag) -> Option<Segment> {
    let ip = Ipv4View::new_checked(bytes).ok()?;
    if ip.fragment_offset() != 0 || ip.more_fragments() {
        let whole = defrag.fragment(bytes)?;
        return tcp_segment(&whole, defrag);
    }
    if ip.protocol() != wire::view::protocol::TCP {
        return None;
    }
    let addrs = (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()));
    segment_of(addrs, ip.payload(), ip.payload_len())
}

/// Read the TCP segment inside an IPv6 packet, past its extension headers.
fn tcp_segment_v6(ip: &[u8]) -> Option<Segment> {
    let view = wire::Ipv6View::new_checked(ip).ok()?;
    let transport = view.transport()?;
    if transport.protocol != wire::view::protocol::TCP || transport.fragment.is_some() {
        return None;
    }
    let addrs = (IpAddr::V6(view.src()), IpAddr::V6(view.dst()));
    segment_of(addrs, transport.payload, transport.wire_len)
}

/// The segment from its addresses, its TCP header and the length the IP header gives it.
fn segment_of((src, dst): (IpAddr, IpAddr), tcp: &[u8], wire_len: usize) -> Option<Segment> {
    let tcp = TcpView::new_checked(tcp).ok()?;
    let flags = tcp.flags();
    Some(Segment {
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        seq: tcp.seq(),
        ack: tcp.ack(),
        fin: flags.fin,
        syn: flags.syn,
        rst: flags.rst,
        ack_flag: flags.ack,
        len: wire_len.saturating_sub(tcp.header_len()) as u32,
    })
}

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
    /// Segments it sent again.
    pub retransmissions: u64,
    /// Letters of the history it has contributed already (each shown once).
    #[serde(skip)]
    seen: u32,
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
            seen: 0,
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
    /// Zeek's conn.log history: upper case for the originator, lower for the responder
    /// (S SYN, H SYN+ACK, A pure ACK, D data, F FIN, R RST, T retransmission).
    pub history: String,
    /// Zeek's conn_state summary (S0, S1, SF, REJ, RSTO, RSTR, …).
    pub conn_state: String,
    /// The capture began mid-connection.
    pub mid_stream: bool,
    /// Every inferred transition, in order.
    pub transitions: Vec<Inferred>,
    /// Frames of this connection.
    pub packets: u64,
    /// The first frame.
    pub first_frame: u64,
    /// Zeek-style flags seen, to compute conn_state.
    #[serde(skip)]
    rst_by: Option<bool>,
}

fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Connection {
    fn end_mut(&mut self, orig: bool) -> &mut End {
        if orig { &mut self.orig } else { &mut self.resp }
    }

    fn history_letter(&mut self, orig: bool, letter: char, bit: u32) {
        let end = self.end_mut(orig);
        if end.seen & bit == 0 {
            end.seen |= bit;
            self.history.push(if orig {
                letter
            } else {
                letter.to_ascii_lowercase()
            });
        }
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
    fn segment(&mut self, orig: bool, seg: &Segment, frame: u64, t: u64) {
        self.packets += 1;
        self.count(orig, seg);
        if seg.rst {
            self.reset(orig, frame, t);
        } else if seg.syn {
            self.syn(orig, seg, frame, t);
        } else {
            self.ack_and_fin(orig, seg, frame, t);
        }
    }

    /// Zeek's history letters, bytes and retransmissions of the sender.
    fn count(&mut self, sender: bool, seg: &Segment) {
        if seg.syn && !seg.ack_flag {
            self.history_letter(sender, 'S', 1);
        }
        if seg.syn && seg.ack_flag {
            self.history_letter(sender, 'H', 2);
        }
        if seg.ack_flag && !seg.syn && !seg.fin && !seg.rst && seg.len == 0 {
            self.history_letter(sender, 'A', 4);
        }
        if seg.len > 0 {
            self.history_letter(sender, 'D', 8);
        }
        if seg.fin {
            self.history_letter(sender, 'F', 16);
        }
        if seg.rst {
            self.history_letter(sender, 'R', 32);
            self.rst_by.get_or_insert(sender);
        }
        // Retransmission: the segment does not go beyond what the sender has sent.
        let seg_end = seg
            .seq
            .wrapping_add(seg.len + u32::from(seg.syn) + u32::from(seg.fin));
        let me = self.end_mut(sender);
        let resent = match me.snd_max {
            Some(max) => (seg.len > 0 || seg.syn || seg.fin) && !seq_after(seg_end, max),
            None => false,
        };
        if resent {
            me.retransmissions += 1;
        } else if seg.len > 0 {
            me.bytes += u64::from(seg.len);
        }
        if me.snd_max.is_none_or(|m| seq_after(seg_end, m)) {
            me.snd_max = Some(seg_end);
        }
        if resent {
            self.history_letter(sender, 'T', 64);
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
        if !seg.ack_flag {
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
                .is_some_and(|isn| seg.ack == isn.wrapping_add(1));
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
        // (a) Segments arrive in order: a later segment from the sender means the receiver
        // has its earlier FIN.
        if self.end_mut(receiver).peer_fin_pending {
            self.receive_fin(receiver, frame, t);
        }
        // (b) The sender shows it received the receiver's FIN when it acknowledges it; a
        // FIN of its own that does not means the two FINs crossed.
        if seg.ack_flag {
            let theirs = self.end_mut(receiver).fin_seq;
            let covered = theirs.is_some_and(|f| !seq_after(f.wrapping_add(1), seg.ack));
            if covered && self.end_mut(sender).peer_fin_pending {
                self.receive_fin(sender, frame, t);
            }
        }
        // (c) An ACK that covers the receiver's SYN or FIN moves it on.
        if seg.ack_flag {
            let r = self.end_mut(receiver);
            let (rstate, risn, rfin) = (r.state, r.isn, r.fin_seq);
            if rstate == SynReceived
                && risn.is_some_and(|isn| !seq_after(isn.wrapping_add(1), seg.ack))
            {
                self.set(receiver, Established, frame, t, Rule::SynReceivedAck);
            }
            let fin_acked = rfin.is_some_and(|f| !seq_after(f.wrapping_add(1), seg.ack));
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

    fn finish(&mut self) {
        use TcpState::*;
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
        let h = &self.history;
        let (o, r) = (self.orig.state, self.resp.state);
        self.conn_state = if self.mid_stream {
            "OTH"
        } else if h.contains('S') && !h.contains('h') && !h.contains('r') {
            "S0"
        } else if h.contains('S') && h.contains('r') && !h.contains('h') {
            "REJ"
        } else if let Some(by_orig) = self.rst_by {
            if by_orig { "RSTO" } else { "RSTR" }
        } else if h.contains('F') && h.contains('f') {
            "SF"
        } else if h.contains('F') {
            "S2"
        } else if h.contains('f') {
            "S3"
        } else if o == Established || r == Established {
            "S1"
        } else {
            "OTH"
        }
        .to_string();
    }
}

/// Frames whose contents were not read, by why: never a silent zero.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// Why.
    #[serde(flatten)]
    pub reason: Unread,
    /// How many frames.
    pub frames: u64,
}

/// Every connection of a capture.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// Packets read.
    pub packets: u64,
    /// TCP segments among them.
    pub tcp_segments: u64,
    /// Frames not read, by reason (ARP and non-TCP IPv4 are read, and hold no TCP).
    pub skipped: Vec<Skipped>,
    /// Connections, in the order of their first packet.
    pub connections: Vec<Connection>,
}

/// Infer every connection's states from a capture read from `input`.
pub fn explain(file: &str, input: impl std::io::Read) -> Result<Explanation, ReadError> {
    let mut by_key: HashMap<(SocketAddr, SocketAddr), usize, BuildAddrHasher> = HashMap::default();
    let mut connections: Vec<Connection> = Vec::new();
    let mut tcp_segments = 0;
    let mut skipped: std::collections::BTreeMap<Unread, u64> = std::collections::BTreeMap::new();
    let mut defrag = defrag::Defrag::default();
    let packets = for_each_packet(file, input, |packet| {
        if let Inner::Unread(why) = packet.inner {
            *skipped.entry(why).or_default() += 1;
        }
        let seg = match packet.inner {
            Inner::Ipv4(ip) => tcp_segment(ip, &mut defrag),
            Inner::Ipv6(ip) => tcp_segment_v6(ip),
            _ => None,
        };
        let Some(seg) = seg else {
            return;
        };
        tcp_segments += 1;
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        // A new SYN on the ports of a connection that is over starts a new one.
        let existing = by_key.get(&key).copied();
        let reuse = existing.is_some_and(|i| {
            let c = &connections[i];
            seg.syn
                && !seg.ack_flag
                && matches!(c.orig.state, TcpState::Closed | TcpState::TimeWait)
                && matches!(c.resp.state, TcpState::Closed | TcpState::TimeWait)
                && c.orig.isn != Some(seg.seq)
        });
        let index = match existing {
            Some(i) if !reuse => i,
            _ => {
                let mid_stream = !seg.syn;
                let (orig_state, resp_state) = if mid_stream {
                    (TcpState::Established, TcpState::Established)
                } else if seg.ack_flag {
                    // The first packet is a SYN+ACK: its sender is the responder.
                    (TcpState::SynSent, TcpState::Listen)
                } else {
                    (TcpState::Closed, TcpState::Listen)
                };
                let (orig, resp) = if seg.syn && seg.ack_flag {
                    (seg.dst, seg.src)
                } else {
                    (seg.src, seg.dst)
                };
                connections.push(Connection {
                    orig: End::new(orig, orig_state),
                    resp: End::new(resp, resp_state),
                    history: if mid_stream {
                        "^".to_string()
                    } else {
                        String::new()
                    },
                    conn_state: String::new(),
                    mid_stream,
                    transitions: Vec::new(),
                    packets: 0,
                    first_frame: packet.number,
                    rst_by: None,
                });
                by_key.insert(key, connections.len() - 1);
                connections.len() - 1
            }
        };
        let c = &mut connections[index];
        let from_orig = seg.src == c.orig.addr;
        c.segment(from_orig, &seg, packet.number, packet.t_ns);
    })?;
    for c in &mut connections {
        c.finish();
    }
    Ok(Explanation {
        packets,
        tcp_segments,
        skipped: skipped
            .into_iter()
            .map(|(reason, frames)| Skipped { reason, frames })
            .collect(),
        connections,
    })
}
