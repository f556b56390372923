//! Passive inference, from the packets alone, of both endpoints' RFC 9293 states for every
//! TCP connection in a capture: what a learner would reason out looking at Wireshark. Each
//! inferred transition names the frame that shows it and the rule.
//!
//! A capture is taken at one point of the network, so a segment is taken to be sent and
//! received at the moment it was captured. A capture that begins mid-connection starts both
//! ends in "ESTABLISHED (inferred)"; TIME-WAIT is shown as entered, its expiry unseen.
//! Memory grows with the number of connections, not of packets.

mod defrag;
mod infer;
mod link;
mod read;
mod zeek;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use wire::{Ipv4View, TcpView};

pub use link::{Inner, TunnelKind, Unread, Wrapping, wrappings};
pub use pcap_file::DataLink;
pub use read::{Packet, ReadError, ReadErrorKind, for_each_packet, ip_in, ipv4_in};
pub use zeek::{ConnLog, ConnState, Count, EndpointState, write_conn_log};

pub use infer::{Connection, End, Inferred};

use infer::Beyond;
use zeek::Seen as Segment;

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

pub(crate) type BuildAddrHasher = std::hash::BuildHasherDefault<AddrHasher>;

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
    let (src, dst) = (ip.src(), ip.dst());
    let pseudo = u64::from(u32::from(src)) + u64::from(u32::from(dst)) + 6;
    let addrs = (IpAddr::V4(src), IpAddr::V4(dst));
    let ip_len = ip.total_len() as u32;
    segment_of(addrs, ip.payload(), ip.payload_len(), pseudo).map(|s| Segment { ip_len, ..s })
}

/// Read the TCP segment inside an IPv6 packet, past its extension headers.
fn tcp_segment_v6(ip: &[u8], defrag: &mut defrag::Defrag) -> Option<Segment> {
    let view = wire::Ipv6View::new_checked(ip).ok()?;
    let transport = view.transport()?;
    if transport.fragment.is_some() {
        let whole = defrag.fragment_v6(ip)?;
        return tcp_segment_v6(&whole, defrag);
    }
    if transport.protocol != wire::view::protocol::TCP {
        return None;
    }
    let words = |a: std::net::Ipv6Addr| -> u64 { a.segments().iter().map(|&w| u64::from(w)).sum() };
    let pseudo = words(view.src()) + words(view.dst()) + 6;
    let addrs = (IpAddr::V6(view.src()), IpAddr::V6(view.dst()));
    let ip_len = (40 + view.payload_len()) as u32;
    segment_of(addrs, transport.payload, transport.wire_len, pseudo)
        .map(|s| Segment { ip_len, ..s })
}

/// The segment from its addresses, its TCP header, the length the IP header gives it and
/// the sum of its pseudo-header without the length.
fn segment_of(
    (src, dst): (IpAddr, IpAddr),
    tcp: &[u8],
    wire_len: usize,
    pseudo: u64,
) -> Option<Segment> {
    let view = TcpView::new_checked(tcp).ok()?;
    let flags = view.flags();
    let segment = tcp.get(..wire_len);
    let bad_checksum = segment.is_some_and(|segment| {
        let sum = pseudo + segment.len() as u64;
        // A sender that leaves the checksum to its NIC writes the pseudo-header's sum.
        let offloaded = view.checksum() == !wire::view::internet_checksum(sum, &[]);
        wire::view::internet_checksum(sum, segment) != 0 && !offloaded
    });
    Some(Segment {
        src: SocketAddr::new(src, view.src_port()),
        dst: SocketAddr::new(dst, view.dst_port()),
        seq: view.seq(),
        ack_seq: view.ack(),
        fin: flags.fin,
        syn: flags.syn,
        rst: flags.rst,
        ack: flags.ack,
        window: view.window(),
        len: wire_len.saturating_sub(view.header_len()) as u32,
        captured: segment.is_some(),
        bad_checksum,
        ip_len: 0,
    })
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
    /// The records Zeek's conn.log would hold, in the order of their first packet.
    pub conn_log: Vec<ConnLog>,
    /// The first and last packets' times, nanoseconds since the epoch (conn.log's `#open`
    /// and `#close`).
    #[serde(skip)]
    pub span_ns: (u64, u64),
    /// Where the file ends inside a packet, if it was cut short (its writer killed): the
    /// explanation is of the packets before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<CutShort>,
}

/// Where a capture was cut short.
#[derive(Debug, Serialize)]
pub struct CutShort {
    /// The byte offset of the packet the file ends inside.
    pub offset: u64,
    /// What the reader says.
    pub message: String,
}

/// Connections by their ports, and which connection each began after.
#[derive(Default)]
struct Connections {
    by_key: HashMap<(SocketAddr, SocketAddr), usize, BuildAddrHasher>,
    /// The last segment's ports and connection: a capture's packets come in runs.
    last: Option<((SocketAddr, SocketAddr), usize)>,
    list: Vec<Connection>,
    /// For each connection, the connection it reused the ports of.
    previous: Vec<Option<usize>>,
    /// For each connection, the Zeek record its first packet went to.
    first_record: Vec<u64>,
}

impl Connections {
    /// The connection `seg` belongs to, opening one if it starts one.
    fn index(&mut self, seg: &Segment, frame: u64) -> usize {
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let existing = match self.last {
            Some((k, i)) if k == key => Some(i),
            _ => self.by_key.get(&key).copied(),
        };
        let i = match existing {
            Some(i) if !self.list[i].is_over_for(seg) => i,
            _ => {
                let server_first = zeek::flips(seg);
                self.list.push(Connection::new(seg, frame, server_first));
                self.previous.push(existing);
                self.first_record.push(u64::MAX);
                self.by_key.insert(key, self.list.len() - 1);
                self.list.len() - 1
            }
        };
        self.last = Some((key, i));
        i
    }

    /// Take one segment into connection `i`.
    fn segment(&mut self, i: usize, seg: &Segment, frame: u64, t: u64) {
        let c = &mut self.list[i];
        let from_orig = seg.src == c.orig.addr;
        if c.segment(from_orig, seg, frame, t) == Beyond::TimeWaitReset
            && let Some(old) = self.previous[i]
        {
            self.list[old].time_wait_reset(seg.dst, frame, t);
        }
    }

    /// Finish the inference and give each connection its Zeek records.
    fn finish(mut self, conn_log: &[ConnLog]) -> Vec<Connection> {
        let by_id: HashMap<u64, usize> = conn_log
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        for (i, c) in self.list.iter_mut().enumerate() {
            c.finish();
            if let Some(&r) = by_id.get(&self.first_record[i]) {
                c.history.clone_from(&conn_log[r].history);
                c.conn_state = conn_log[r].conn_state;
            }
        }
        for (r, record) in conn_log.iter().enumerate() {
            if let Some(c) = self.list.get_mut(record.connection) {
                c.zeek_records.push(r);
            }
        }
        self.list
    }
}

/// How to read a capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Take every TCP checksum as good, as `zeek -C` does.
    pub ignore_checksums: bool,
}

/// Infer every connection's states from a capture read from `input`.
pub fn explain(file: &str, input: impl std::io::Read) -> Result<Explanation, ReadError> {
    explain_with(file, input, Options::default())
}

/// [`explain`], with options.
pub fn explain_with(
    file: &str,
    input: impl std::io::Read,
    options: Options,
) -> Result<Explanation, ReadError> {
    let mut connections = Connections::default();
    let mut zeek = zeek::Tracker::default();
    let mut tcp_segments = 0;
    let mut skipped: std::collections::BTreeMap<Unread, u64> = std::collections::BTreeMap::new();
    let mut defrag = defrag::Defrag::default();
    let mut read = 0;
    let mut span_ns: Option<(u64, u64)> = None;
    let packets = for_each_packet(file, input, |packet| {
        read = packet.number;
        let (first, last) = span_ns.unwrap_or((packet.t_ns, packet.t_ns));
        span_ns = Some((first.min(packet.t_ns), last.max(packet.t_ns)));
        if let Inner::Unread(why) = packet.inner {
            *skipped.entry(why).or_default() += 1;
        }
        let seg = match packet.inner {
            Inner::Ipv4(ip) => tcp_segment(ip, &mut defrag),
            Inner::Ipv6(ip) => tcp_segment_v6(ip, &mut defrag),
            _ => None,
        };
        let Some(mut seg) = seg else {
            return;
        };
        seg.bad_checksum &= !options.ignore_checksums;
        tcp_segments += 1;
        let i = connections.index(&seg, packet.number);
        let record = zeek.packet(&seg, packet.number, packet.t_ns, i);
        if connections.first_record[i] == u64::MAX {
            connections.first_record[i] = record;
        }
        connections.segment(i, &seg, packet.number, packet.t_ns);
    });
    let (packets, cut_short) = match packets {
        Ok(packets) => (packets, None),
        Err(e) if e.kind == ReadErrorKind::CutShort => {
            let cut = CutShort {
                offset: e.offset,
                message: e.to_string(),
            };
            (read, Some(cut))
        }
        Err(e) => return Err(e),
    };
    let conn_log = zeek.finish();
    Ok(Explanation {
        cut_short,
        packets,
        tcp_segments,
        skipped: skipped
            .into_iter()
            .map(|(reason, frames)| Skipped { reason, frames })
            .collect(),
        connections: connections.finish(&conn_log),
        conn_log,
        span_ns: span_ns.unwrap_or_default(),
    })
}
