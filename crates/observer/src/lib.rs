//! Passive inference, from the packets alone, of both endpoints' RFC 9293 states for every
//! TCP connection in a capture: what a learner would reason out looking at Wireshark. Each
//! inferred transition names the frame that shows it and the rule.
//!
//! A capture is taken at one point of the network, so a segment is taken to be sent and
//! received at the moment it was captured. A capture that begins mid-connection starts both
//! ends in "ESTABLISHED (inferred)"; TIME-WAIT is shown as entered, its expiry unseen.
//! Memory grows with the number of connections, not of packets.

mod defrag;
mod filter;
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

pub use filter::{Filter, FilterError};
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

/// Whether an IPv4 header's checksum is wrong: Zeek drops such a packet (unless `-C`), and so
/// does the host it was for.
fn bad_header_checksum(ip: &[u8]) -> bool {
    Ipv4View::new_checked(ip).is_ok_and(|v| !v.header_checksum_ok())
}

/// Read the TCP segment inside an IPv4 packet, headers only (the payload may be cut by a
/// snaplen: its length comes from the IP header). A fragment holds a piece of a segment: it
/// goes to `defrag`, and the segment is read once the datagram is whole.
fn tcp_segment(bytes: &[u8], defrag: &mut defrag::Defrag) -> Option<Segment> {
    let ip = Ipv4View::new_checked(bytes).ok()?;
    if ip.fragment_offset() != 0 || ip.more_fragments() {
        let whole = defrag.fragment(bytes)?;
        return segment_in(&whole, defrag);
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

/// The TCP segment in a reassembled datagram, through any tunnel it carries (a GTP-U or
/// Teredo packet fragmented on the outside is a tunnel only once whole).
fn segment_in(whole: &[u8], defrag: &mut defrag::Defrag) -> Option<Segment> {
    match link::inner(DataLink::RAW, whole) {
        Inner::Ipv4(ip) => tcp_segment(ip, defrag),
        Inner::Ipv6(ip) => tcp_segment_v6(ip, defrag),
        _ => None,
    }
}

/// Read the TCP segment inside an IPv6 packet, past its extension headers.
fn tcp_segment_v6(ip: &[u8], defrag: &mut defrag::Defrag) -> Option<Segment> {
    let view = wire::Ipv6View::new_checked(ip).ok()?;
    let transport = view.transport()?;
    if transport.fragment.is_some() {
        let whole = defrag.fragment_v6(ip)?;
        return segment_in(&whole, defrag);
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
    /// Take every checksum as good, as `zeek -C` does: a TCP segment's, and an IPv4
    /// header's (a packet whose header checksum is wrong is otherwise dropped).
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
    let mut observer = Observer::new(options);
    let packets = for_each_packet(file, input, |packet| {
        observer.packet(&packet);
    });
    let cut_short = match packets {
        Ok(_) => None,
        Err(e) if e.kind == ReadErrorKind::CutShort => Some(CutShort {
            offset: e.offset,
            message: e.to_string(),
        }),
        Err(e) => return Err(e),
    };
    Ok(observer.finish(cut_short))
}

/// An explanation in the making, one packet at a time, as a file or a live interface gives
/// them.
pub struct Observer {
    options: Options,
    connections: Connections,
    zeek: zeek::Tracker,
    tcp_segments: u64,
    skipped: std::collections::BTreeMap<Unread, u64>,
    defrag: defrag::Defrag,
    packets: u64,
    span_ns: Option<(u64, u64)>,
}

/// What one packet changed: the connection it went to and the transitions it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The connection's index.
    pub connection: usize,
    /// Which of its transitions are new.
    pub transitions: std::ops::Range<usize>,
    /// The Zeek record the packet went to.
    record: u64,
}

impl Observer {
    /// An observer that has seen nothing yet.
    pub fn new(options: Options) -> Observer {
        Observer {
            options,
            connections: Connections::default(),
            zeek: zeek::Tracker::default(),
            tcp_segments: 0,
            skipped: std::collections::BTreeMap::new(),
            defrag: defrag::Defrag::default(),
            packets: 0,
            span_ns: None,
        }
    }

    /// One packet; what it changed, if it was a TCP segment.
    pub fn packet(&mut self, packet: &Packet) -> Option<Update> {
        self.packets = self.packets.max(packet.number);
        let t = packet.t_ns;
        let (first, last) = self.span_ns.unwrap_or((t, t));
        self.span_ns = Some((first.min(t), last.max(t)));
        let seg = match packet.inner {
            Inner::Ipv4(ip) if !self.options.ignore_checksums && bad_header_checksum(ip) => {
                *self.skipped.entry(Unread::BadIpv4Checksum).or_default() += 1;
                None
            }
            Inner::Ipv4(ip) => tcp_segment(ip, &mut self.defrag),
            Inner::Ipv6(ip) => tcp_segment_v6(ip, &mut self.defrag),
            Inner::Unread(why) => {
                *self.skipped.entry(why).or_default() += 1;
                None
            }
            Inner::Arp => None,
        };
        let mut seg = seg?;
        seg.bad_checksum &= !self.options.ignore_checksums;
        self.tcp_segments += 1;
        let i = self.connections.index(&seg, packet.number);
        let record = self.zeek.packet(&seg, packet.number, t, i);
        if self.connections.first_record[i] == u64::MAX {
            self.connections.first_record[i] = record;
        }
        let before = self.connections.list[i].transitions.len();
        self.connections.segment(i, &seg, packet.number, t);
        let after = self.connections.list[i].transitions.len();
        Some(Update {
            connection: i,
            transitions: before..after,
            record,
        })
    }

    /// A connection as it stands.
    pub fn connection(&self, i: usize) -> &Connection {
        &self.connections.list[i]
    }

    /// The Zeek history so far of the record an update's packet went to.
    pub fn history(&self, update: &Update) -> &str {
        self.zeek.history(update.record).unwrap_or_default()
    }

    /// Everything seen, explained; `cut_short` says where a file ended inside a packet.
    pub fn finish(self, cut_short: Option<CutShort>) -> Explanation {
        let conn_log = self.zeek.finish();
        Explanation {
            cut_short,
            packets: self.packets,
            tcp_segments: self.tcp_segments,
            skipped: self
                .skipped
                .into_iter()
                .map(|(reason, frames)| Skipped { reason, frames })
                .collect(),
            connections: self.connections.finish(&conn_log),
            conn_log,
            span_ns: self.span_ns.unwrap_or_default(),
        }
    }
}
