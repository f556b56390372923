//! What a capture says of each TCP connection, packet by packet, as tcptrace and Wireshark's
//! stream graphs read it: each side's segments (new, retransmitted, probing a zero window) and
//! the other side's ACKs (cumulative point, window edge, SACK blocks, duplicates), sequence
//! numbers relative to the side's first, times from the first packet. Memory is a few dozen
//! octets per segment: the bytes themselves are never kept.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use wire::{Ipv4View, Ipv6View, TcpFlags, TcpOption, TcpView};

/// What one data-bearing (or SYN, FIN, RST) segment was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    /// A SYN (its sequence number is the side's first).
    Syn,
    /// Data never sent before.
    New,
    /// Data sent before: a retransmission.
    Retransmission,
    /// A probe of the peer's zero window (RFC 9293 §3.8.6.1).
    WindowProbe,
    /// A FIN without data.
    Fin,
    /// A reset.
    Rst,
}

/// One segment from the side that sends this flow's data.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// Nanoseconds since the recording began.
    pub t: u64,
    /// Its first sequence number, relative to the side's first.
    pub seq: u64,
    /// Octets of data.
    pub len: u32,
    /// What it was.
    pub kind: SegKind,
    /// The link lost it (known from a trace only).
    pub lost: bool,
    /// Its frame number in the capture.
    pub frame: u64,
}

/// One acknowledgment from the other side.
#[derive(Clone, Debug)]
pub struct Ack {
    /// Nanoseconds since the recording began.
    pub t: u64,
    /// The cumulative acknowledgment, relative.
    pub ack: u64,
    /// The advertised window in octets (scaled when both SYNs agreed on scaling).
    pub window: u64,
    /// SACK blocks, relative, as sent.
    pub sack: Vec<(u64, u64)>,
    /// A duplicate ACK (RFC 5681 §2): no data, same ACK and window, data outstanding.
    pub duplicate: bool,
    /// Its frame number in the capture.
    pub frame: u64,
}

/// One direction of a connection: one side's data and the other side's ACKs of it.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    /// The data side's segments, in order.
    pub segs: Vec<Seg>,
    /// The other side's ACKs, in order.
    pub acks: Vec<Ack>,
    /// Octets of data sent once (not counting retransmissions).
    pub octets: u64,
    base: Option<u32>,
    last: u64,
    high: u64,
}

impl Flow {
    /// A sequence number relative to this side's first, unwrapped past 2³².
    fn relative(&mut self, seq: u32) -> u64 {
        let base = *self.base.get_or_insert(seq);
        let low = u64::from(seq.wrapping_sub(base));
        let mut v = (self.last & !0xffff_ffff) | low;
        if v + (1 << 31) < self.last {
            v += 1 << 32;
        } else if v > self.last + (1 << 31) && v >= 1 << 32 {
            v -= 1 << 32;
        }
        self.last = self.last.max(v);
        v
    }

    /// The highest sequence number sent, plus one.
    pub fn high(&self) -> u64 {
        self.high
    }
}

/// One TCP connection, as two flows.
#[derive(Clone, Debug)]
pub struct Conn {
    /// The side that sent the first SYN (or the first packet seen).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// `[client's data, server's data]`.
    pub flows: [Flow; 2],
    /// When its first packet was seen, in nanoseconds since the recording began.
    pub start: u64,
    /// When its last packet was seen.
    pub end: u64,
    /// Window scale shifts `[client's, server's]`, from the SYNs.
    scale: [Option<u8>; 2],
    syn_acked: bool,
}

impl Conn {
    /// The window scale a side's windows are multiplied by, once both SYNs carried the option
    /// (RFC 7323 §2.2).
    fn shift(&self, side: usize) -> u32 {
        match self.scale {
            [Some(a), Some(b)] if self.syn_acked => u32::from([a, b][side].min(14)),
            _ => 0,
        }
    }

    /// Octets of data both ways.
    pub fn octets(&self) -> u64 {
        self.flows[0].octets + self.flows[1].octets
    }
}

/// The TCP header fields a picture needs.
pub struct Tcp<'a> {
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// IP identification (0 for IPv6): tells a router's copy from a retransmission.
    ident: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    checksum: u16,
    len: u32,
    options: wire::view::TcpOptions<'a>,
}

/// Read the TCP segment in an IPv4 or IPv6 packet (never a fragment).
pub fn tcp_in(ip: &[u8]) -> Option<Tcp<'_>> {
    let (src, dst, ident, body, wire_len) = match ip.first()? >> 4 {
        4 => {
            let v = Ipv4View::new_checked(ip).ok()?;
            if v.protocol() != 6 || v.fragment_offset() != 0 || v.more_fragments() {
                return None;
            }
            let range = v.payload_range();
            let (src, dst) = (IpAddr::V4(v.src()), IpAddr::V4(v.dst()));
            (src, dst, v.ident(), &ip[range], v.payload_len())
        }
        6 => {
            let v = Ipv6View::new_checked(ip).ok()?;
            let t = v.transport()?;
            if t.protocol != 6 || t.fragment.is_some() {
                return None;
            }
            let (src, dst) = (IpAddr::V6(v.src()), IpAddr::V6(v.dst()));
            (src, dst, 0, t.payload, t.wire_len)
        }
        _ => return None,
    };
    let t = TcpView::new_checked(body).ok()?;
    let len = wire_len.saturating_sub(t.header_len());
    Some(Tcp {
        src: SocketAddr::new(src, t.src_port()),
        dst: SocketAddr::new(dst, t.dst_port()),
        ident,
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flags(),
        window: t.window(),
        checksum: t.checksum(),
        len: len as u32,
        options: {
            // The options borrow the packet, not the view.
            let end = t.header_len().min(body.len());
            wire::view::TcpOptions::new(&body[20.min(end)..end])
        },
    })
}

/// Every TCP connection of a recording, built one packet at a time.
#[derive(Default)]
pub struct Builder {
    /// The connections, in the order they began.
    pub conns: Vec<Conn>,
    by_pair: HashMap<(SocketAddr, SocketAddr), usize>,
    recent: VecDeque<(u64, u64)>,
    /// Packets seen lately, by their hash: the interface each was first captured on.
    seen: HashMap<u64, u32>,
}

/// How long a packet's exact copy on another interface of the capture counts as the same
/// packet (a switch's or router's copy on the next link), not a retransmission.
const COPY_WINDOW_NS: u64 = 100_000_000;

impl Builder {
    /// Add the packet captured at `t` (ns since the recording began) on `interface` as frame
    /// `frame`.
    pub fn packet(&mut self, (t, interface, frame): (u64, u32, u64), tcp: Tcp, lost: bool) {
        if self.is_copy(t, interface, &tcp) {
            return;
        }
        let i = self.conn_of(t, &tcp);
        let conn = &mut self.conns[i];
        conn.end = t;
        let side = usize::from(tcp.src != conn.client);
        let flags = tcp.flags;
        let mut sack = Vec::new();
        for option in tcp.options.clone() {
            match option {
                TcpOption::WindowScale(s) if flags.syn => conn.scale[side] = Some(s),
                TcpOption::Sack(blocks) => sack.extend(blocks.chunks_exact(8).map(|b| {
                    let be = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
                    (be(0), be(4))
                })),
                TcpOption::End | TcpOption::Malformed { .. } => break,
                _ => {}
            }
        }
        if flags.syn && flags.ack {
            conn.syn_acked = true;
        }
        let window = if flags.syn {
            u64::from(tcp.window)
        } else {
            u64::from(tcp.window) << conn.shift(side)
        };
        let peer_window_zero = conn.flows[side].acks.last().is_some_and(|a| a.window == 0);
        segment(
            &mut conn.flows[side],
            t,
            frame,
            &tcp,
            lost,
            peer_window_zero,
        );
        if flags.ack {
            let flow = &mut conn.flows[1 - side];
            let ack = flow.relative(tcp.ack);
            let sack: Vec<(u64, u64)> = sack
                .into_iter()
                .map(|(a, b)| (flow.relative(a), flow.relative(b)))
                .collect();
            let same = flow
                .acks
                .last()
                .is_some_and(|p| p.ack == ack && p.window == window);
            let duplicate = tcp.len == 0 && !flags.syn && !flags.fin && flow.high > ack && same;
            // Data that carries an unchanged ACK says nothing new of the other flow (and is no
            // duplicate ACK, RFC 5681 §2): a bulk sender's million segments add no entries.
            if same && tcp.len > 0 && sack.is_empty() {
                return;
            }
            flow.acks.push(Ack {
                t,
                ack,
                window,
                sack,
                duplicate,
                frame,
            });
        }
    }

    /// Whether this exact packet was seen a moment ago on another interface of the capture:
    /// the same packet on its next link. (On one interface an exact repeat is a real one: a
    /// duplicate ACK of IPv6, which has no identification field to tell them apart.)
    fn is_copy(&mut self, t: u64, interface: u32, tcp: &Tcp) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (tcp.src, tcp.dst, tcp.ident, tcp.seq, tcp.ack).hash(&mut h);
        (tcp.window, tcp.checksum, tcp.len).hash(&mut h);
        let key = h.finish();
        while let Some(&(old, k)) = self.recent.front() {
            if old + COPY_WINDOW_NS >= t {
                break;
            }
            self.recent.pop_front();
            self.seen.remove(&k);
        }
        match self.seen.get(&key) {
            Some(&first) => first != interface,
            None => {
                self.seen.insert(key, interface);
                self.recent.push_back((t, key));
                false
            }
        }
    }

    /// The connection a packet belongs to, opened when it is new: a SYN on a pair whose
    /// connection began with another ISN opens a new one (a port used again).
    fn conn_of(&mut self, t: u64, tcp: &Tcp) -> usize {
        let pair = if tcp.src < tcp.dst {
            (tcp.src, tcp.dst)
        } else {
            (tcp.dst, tcp.src)
        };
        let reused = |c: &Conn| {
            tcp.flags.syn
                && !tcp.flags.ack
                && c.flows[0].base.is_some_and(|isn| isn != tcp.seq)
                && c.client == tcp.src
        };
        match self.by_pair.get(&pair) {
            Some(&i) if !reused(&self.conns[i]) => i,
            _ => {
                let (client, server) = if tcp.flags.syn && tcp.flags.ack {
                    (tcp.dst, tcp.src)
                } else {
                    (tcp.src, tcp.dst)
                };
                self.conns.push(Conn {
                    client,
                    server,
                    flows: Default::default(),
                    start: t,
                    end: t,
                    scale: [None, None],
                    syn_acked: false,
                });
                self.by_pair.insert(pair, self.conns.len() - 1);
                self.conns.len() - 1
            }
        }
    }
}

/// Add what a packet says of its sender's own flow.
fn segment(flow: &mut Flow, t: u64, frame: u64, tcp: &Tcp, lost: bool, peer_zero: bool) {
    let flags = tcp.flags;
    if flags.syn {
        flow.base.get_or_insert(tcp.seq);
    }
    if tcp.len == 0 && !flags.syn && !flags.fin && !flags.rst {
        // A pure ACK; a zero-length probe of a zero window carries SND.UNA − 1 (Linux).
        if peer_zero && flow.base.is_some() {
            let seq = flow.relative(tcp.seq);
            if seq + 1 < flow.high || flow.high == 0 {
                return;
            }
            flow.segs.push(Seg {
                t,
                seq,
                len: 0,
                kind: SegKind::WindowProbe,
                lost,
                frame,
            });
        }
        return;
    }
    let seq = flow.relative(tcp.seq);
    let end = seq + u64::from(tcp.len) + u64::from(flags.syn) + u64::from(flags.fin);
    let kind = if flags.rst {
        SegKind::Rst
    } else if flags.syn {
        SegKind::Syn
    } else if peer_zero && tcp.len <= 1 {
        SegKind::WindowProbe
    } else if end <= flow.high {
        SegKind::Retransmission
    } else if tcp.len == 0 {
        SegKind::Fin
    } else {
        SegKind::New
    };
    if kind == SegKind::New || (kind == SegKind::WindowProbe && end > flow.high) {
        flow.octets += end
            .saturating_sub(flow.high.max(seq))
            .min(u64::from(tcp.len));
    }
    flow.high = flow.high.max(end);
    flow.segs.push(Seg {
        t,
        seq,
        len: tcp.len,
        kind,
        lost,
        frame,
    });
}
