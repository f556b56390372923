//! The stack: arbitrary frames and socket calls against a host that listens, has accepted
//! one connection and opened another. Segments on those connections carry the right ports
//! and nearly right numbers, so the fuzzer reaches deep into the TCP state machine.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stack::{Driven, Host, HostConfig, SocketApi, SocketId};
use trace::Time;
use wire::{
    Arp, ArpOp, EthPayload, Frame, Ipv4Packet, Ipv4Payload, MacAddr, SackBlocks, TcpFlags,
    TcpSegment, Timestamps,
};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const US_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const LISTEN_PORT: u16 = 9000;
const PEER_PORT: u16 = 40000;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Any bytes, as a frame.
    Raw(Vec<u8>),
    /// A segment from the peer on one of the two connections.
    Segment(Seg),
    Send {
        conn: bool,
        len: u16,
        /// MSG_MORE.
        more: bool,
    },
    Recv {
        conn: bool,
        max: u16,
    },
    Shutdown {
        conn: bool,
    },
    Close {
        conn: bool,
    },
    Abort {
        conn: bool,
    },
    NoDelay {
        conn: bool,
        on: bool,
    },
    Cork {
        conn: bool,
        on: bool,
    },
    Accept,
    Connect {
        port: u16,
    },
    Listen {
        port: u16,
        backlog: u8,
    },
    Udp {
        port: u16,
        len: u16,
    },
    Advance {
        ms: u16,
    },
    /// A packet over IPv6 from the peer (or a neighbour) to us: any next header and body,
    /// the transport checksum made right unless `corrupt`.
    Ipv6 {
        next_header: u8,
        hop_limit: u8,
        /// To our solicited-node group rather than our address.
        to_group: bool,
        body: Vec<u8>,
        corrupt: bool,
    },
    /// Neighbor Discovery from the peer about `target` (ours, the peer's, or another).
    Nd {
        advert: bool,
        target: u8,
        flags: u8,
        with_mac: bool,
        hop_limit: u8,
    },
    Connect6 {
        port: u16,
    },
    Udp6 {
        port: u16,
        len: u16,
    },
    Ping6 {
        hop_limit: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Seg {
    /// The accepted connection (true) or the one we opened.
    conn: bool,
    flags: u8,
    /// Offsets from the numbers the connection expects.
    seq_off: i16,
    ack_off: i16,
    window: u16,
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    sack: Vec<(i16, i16)>,
    timestamps: Option<(u32, u32)>,
    payload: Vec<u8>,
    /// Leave the checksum wrong.
    corrupt: bool,
}

/// The peer's view of one connection.
#[derive(Clone, Copy, Default)]
struct Conn {
    id: Option<SocketId>,
    our_port: u16,
    peer_port: u16,
    /// The peer's next sequence number.
    peer_nxt: u32,
    /// One past the highest sequence number our host sent on it.
    our_nxt: u32,
}

struct World {
    host: Host,
    now: Time,
    frames: u64,
    accepted: Conn,
    opened: Conn,
    listener: Option<SocketId>,
}

impl World {
    fn new() -> World {
        let mut config = HostConfig::new("us", US_MAC, US, 24);
        config.seed = 7;
        config.ip6 = vec![(US6, 64)];
        let mut world = World {
            host: Host::new(config),
            now: Time::ZERO,
            frames: 0,
            accepted: Conn::default(),
            opened: Conn::default(),
            listener: None,
        };
        world.deliver(&arp_request());
        world.listener = world.host.listen(world.now, LISTEN_PORT, 8).ok();
        world.handshake_in();
        world.handshake_out();
        world
    }

    fn deliver(&mut self, bytes: &[u8]) {
        self.frames += 1;
        self.host.receive(self.now, bytes, self.frames);
        self.collect();
    }

    /// Note how far our host got on each connection.
    fn collect(&mut self) {
        for bytes in self.host.take_frames() {
            let Ok(frame) = wire::decode(&bytes) else {
                continue;
            };
            if let EthPayload::Ipv4(Ipv4Packet {
                payload: Ipv4Payload::Tcp(seg),
                ..
            }) = frame.payload
            {
                for conn in [&mut self.accepted, &mut self.opened] {
                    if seg.src_port == conn.our_port && seg.dst_port == conn.peer_port {
                        let end = seg.seq.wrapping_add(seg.seg_len());
                        if end.wrapping_sub(conn.our_nxt) as i32 > 0 || conn.our_nxt == 0 {
                            conn.our_nxt = end;
                        }
                    }
                }
            }
        }
        self.host.take_events();
    }

    fn send(&mut self, conn: Conn, seg: TcpSegment, corrupt: bool) {
        let mut bytes = tcp_frame(conn, seg);
        if corrupt && let Some(last) = bytes.last_mut() {
            *last ^= 0x55;
        }
        self.deliver(&bytes);
    }

    fn handshake_in(&mut self) {
        self.accepted = Conn {
            our_port: LISTEN_PORT,
            peer_port: PEER_PORT,
            peer_nxt: 1000,
            ..Conn::default()
        };
        let syn = segment("S", 1000, 0);
        self.send(self.accepted, syn, false);
        self.accepted.peer_nxt = 1001;
        let ack = segment("A", 1001, self.accepted.our_nxt);
        self.send(self.accepted, ack, false);
        if let Some(listener) = self.listener {
            self.accepted.id = self.host.accept(self.now, listener).ok().flatten();
        }
    }

    fn handshake_out(&mut self) {
        let remote = SocketAddr::from((PEER, 80));
        let Ok(id) = self.host.connect(self.now, remote) else {
            return;
        };
        let our_port = self.host.info(id).map_or(0, |i| i.local.port());
        self.collect();
        self.opened = Conn {
            id: Some(id),
            our_port,
            peer_port: 80,
            peer_nxt: 5000,
            our_nxt: self.opened.our_nxt,
        };
        let synack = segment("SA", 5000, self.opened.our_nxt);
        self.send(self.opened, synack, false);
        self.opened.peer_nxt = 5001;
    }

    fn conn(&self, accepted: bool) -> Conn {
        if accepted { self.accepted } else { self.opened }
    }

    fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Raw(bytes) => self.deliver(&bytes),
            Op::Segment(seg) => self.segment(seg),
            Op::Send { conn, len, more } => {
                if let Some(id) = self.conn(conn).id {
                    let data = vec![b'x'; usize::from(len)];
                    let _ = if more {
                        self.host.send_more(now, id, &data)
                    } else {
                        self.host.send(now, id, &data)
                    };
                }
            }
            Op::Recv { conn, max } => {
                if let Some(id) = self.conn(conn).id {
                    let _ = self.host.recv(now, id, usize::from(max));
                }
            }
            Op::Shutdown { conn } => self.call(conn, |h, id| h.shutdown_write(now, id)),
            Op::Close { conn } => self.call(conn, |h, id| h.close(now, id)),
            Op::Abort { conn } => self.call(conn, |h, id| h.abort(now, id)),
            Op::NoDelay { conn, on } => {
                let option = stack::SocketOption::NoDelay(on);
                self.call(conn, |h, id| h.set_option(now, id, option));
            }
            Op::Cork { conn, on } => {
                let option = stack::SocketOption::Cork(on);
                self.call(conn, |h, id| h.set_option(now, id, option));
            }
            Op::Accept => {
                if let Some(listener) = self.listener {
                    let _ = self.host.accept(now, listener);
                }
            }
            Op::Connect { port } => {
                let _ = self.host.connect(now, SocketAddr::from((PEER, port)));
            }
            Op::Listen { port, backlog } => {
                let _ = self.host.listen(now, port, u32::from(backlog));
            }
            Op::Udp { port, len } => {
                if let Ok(id) = self.host.udp_bind(now, port) {
                    let to = SocketAddr::from((PEER, port));
                    let _ = self.host.sendto(now, id, &vec![0; usize::from(len)], to);
                }
            }
            Op::Advance { ms } => {
                self.now = self.now + Time(u64::from(ms) * 1_000_000);
                self.host.poll_timers(self.now);
            }
            Op::Ipv6 {
                next_header,
                hop_limit,
                to_group,
                body,
                corrupt,
            } => self.deliver(&ipv6_frame(next_header, hop_limit, to_group, body, corrupt)),
            Op::Nd {
                advert,
                target,
                flags,
                with_mac,
                hop_limit,
            } => self.deliver(&nd_frame(advert, target, flags, with_mac, hop_limit)),
            Op::Connect6 { port } => {
                let _ = self.host.connect(now, SocketAddr::from((PEER6, port)));
            }
            Op::Udp6 { port, len } => {
                if let Ok(id) = self.host.udp_bind(now, port) {
                    let to = SocketAddr::from((PEER6, port));
                    let _ = self.host.sendto(now, id, &vec![0; usize::from(len)], to);
                }
            }
            Op::Ping6 { hop_limit } => {
                let _ = self.host.ping(now, PEER6.into(), hop_limit.max(1));
            }
        }
        self.collect();
    }

    fn call(
        &mut self,
        conn: bool,
        f: impl FnOnce(&mut Host, SocketId) -> Result<(), stack::SocketError>,
    ) {
        if let Some(id) = self.conn(conn).id {
            let _ = f(&mut self.host, id);
        }
    }

    fn segment(&mut self, s: Seg) {
        let conn = self.conn(s.conn);
        let seq = conn.peer_nxt.wrapping_add(s.seq_off as u32);
        let ack = conn.our_nxt.wrapping_add(s.ack_off as u32);
        let mut sack = SackBlocks::default();
        for (l, r) in s.sack.iter().take(SackBlocks::MAX) {
            sack.push(ack.wrapping_add(*l as u32), ack.wrapping_add(*r as u32));
        }
        let flags = TcpFlags::from_bits(s.flags);
        let mut payload = s.payload;
        payload.truncate(1460);
        let seg = TcpSegment {
            src_port: conn.peer_port,
            dst_port: conn.our_port,
            seq,
            ack,
            flags,
            window: s.window,
            mss: s.mss,
            window_scale: s.window_scale,
            sack_permitted: s.sack_permitted,
            sack,
            timestamps: s
                .timestamps
                .map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            payload,
            checksum_ok: true,
            ..TcpSegment::default()
        };
        let advance = seg.seg_len();
        self.send(conn, seg, s.corrupt);
        let target = if s.conn {
            &mut self.accepted
        } else {
            &mut self.opened
        };
        if s.seq_off == 0 {
            target.peer_nxt = target.peer_nxt.wrapping_add(advance);
        }
    }
}

fn segment(flags: &str, seq: u32, ack: u32) -> TcpSegment {
    let flags = TcpFlags {
        syn: flags.contains('S'),
        ack: flags.contains('A'),
        ..TcpFlags::default()
    };
    TcpSegment {
        seq,
        ack,
        flags,
        window: 65535,
        mss: flags.syn.then_some(1460),
        checksum_ok: true,
        ..TcpSegment::default()
    }
}

fn tcp_frame(conn: Conn, mut seg: TcpSegment) -> Vec<u8> {
    seg.src_port = conn.peer_port;
    seg.dst_port = conn.our_port;
    Frame {
        src: PEER_MAC,
        dst: US_MAC,
        payload: EthPayload::Ipv4(Ipv4Packet {
            src: PEER,
            dst: US,
            ttl: 64,
            ident: 1,
            header_checksum_ok: true,
            payload: Ipv4Payload::Tcp(seg),
        }),
    }
    .encode()
}

fn arp_request() -> Vec<u8> {
    Frame {
        src: PEER_MAC,
        dst: MacAddr::BROADCAST,
        payload: EthPayload::Arp(Arp {
            op: ArpOp::Request,
            sender_mac: PEER_MAC,
            sender_ip: PEER,
            target_mac: MacAddr::ZERO,
            target_ip: US,
        }),
    }
    .encode()
}

fuzz_target!(|ops: Vec<Op>| {
    let mut world = World::new();
    for op in ops.into_iter().take(256) {
        world.apply(op);
    }
});

/// Our solicited-node group and its MAC (RFC 4291 §2.7.1, RFC 2464 §7).
fn our_group() -> (MacAddr, Ipv6Addr) {
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1);
    (MacAddr([0x33, 0x33, 0xff, 0, 0, 1]), group)
}

fn ipv6_frame(next: u8, hop_limit: u8, to_group: bool, mut body: Vec<u8>, corrupt: bool) -> Vec<u8> {
    let (mac, dst) = if to_group { our_group() } else { (US_MAC, US6) };
    let checksum_at = match next {
        6 => Some(16),
        17 => Some(6),
        58 => Some(2),
        _ => None,
    };
    if let Some(at) = checksum_at.filter(|at| body.len() >= at + 2) {
        body[at..at + 2].fill(0);
        let sum = wire::pseudo_header_checksum_v6(PEER6, dst, next, &body);
        body[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }
    if corrupt && let Some(last) = body.last_mut() {
        *last ^= 0x55;
    }
    let mut frame = Vec::with_capacity(54 + body.len());
    frame.extend_from_slice(&mac.0);
    frame.extend_from_slice(&PEER_MAC.0);
    frame.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[next, hop_limit]);
    frame.extend_from_slice(&PEER6.octets());
    frame.extend_from_slice(&dst.octets());
    frame.extend_from_slice(&body);
    frame
}

fn nd_frame(advert: bool, target: u8, flags: u8, with_mac: bool, hop_limit: u8) -> Vec<u8> {
    let target = match target % 3 {
        0 => US6,
        1 => PEER6,
        _ => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(target)),
    };
    let mac = with_mac.then_some(PEER_MAC);
    let message = if advert {
        wire::Icmpv6Message::NeighborAdvert(wire::NeighborAdvert {
            router: flags & 4 != 0,
            solicited: flags & 2 != 0,
            override_flag: flags & 1 != 0,
            target,
            target_mac: mac,
        })
    } else {
        wire::Icmpv6Message::NeighborSolicit {
            target,
            source_mac: mac,
        }
    };
    let (mac, dst) = if advert { (US_MAC, US6) } else { our_group() };
    Frame {
        src: PEER_MAC,
        dst: mac,
        payload: EthPayload::Ipv6(wire::Ipv6Packet {
            src: PEER6,
            dst,
            hop_limit,
            payload: wire::Ipv6Payload::Icmpv6(message),
        }),
    }
    .encode()
}

