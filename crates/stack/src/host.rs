//! A host: one network interface with a MAC and an IPv4 address, its ARP cache, and its
//! sockets. Everything a host does is driven by the caller and reported as trace events.
//!
//! This file holds the host and its input, a frame taken apart layer by layer (Ethernet,
//! ARP, IPv4, ICMP, then TCP or UDP); the rest is one file a layer: IPv4 output
//! ([`ipv4`]), UDP ([`udp`]), LISTEN with its queues and SYN cookies ([`listen`]), the socket
//! table with its ports and timer deadlines ([`sockets`]), and the socket calls a driver and
//! a program make ([`engine`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use trace::{
    Cause, DropReason, Endpoint, Event, EventKind, HostNote, Note, RouteDecision, Rule, TcpState,
    TcpVars, Time,
};
use wire::{Arp, EthPayload, IcmpMessage, Ipv4Packet, Ipv4Payload, MacAddr, TcpSegment};
use wire::{Icmpv6Message, Ipv6Packet, Ipv6Payload};

use crate::arp::ArpPort;
use crate::neighbours::{Neighbours, Outgoing};
use crate::numbering::{Numbering, PortUse, Ports, Secret};
use crate::syncookies::{CookieKey, CookieOptions, SynCookies};
use crate::tcp::{Ctx, Outbound, SocketOptions, Tcb, TcbInit, TcpStats, Timer, Tuning, rst_for};
use crate::{CongestionControl, Profile};
use crate::{
    Driven, PingResult, Readiness, SeqNum, SocketApi, SocketError, SocketId, SocketOption,
};

mod dad;
mod engine;
mod icmp;
mod icmpv6;
mod ip;
mod ipv4;
mod ipv6;
mod listen;
mod ports;
mod sockets;
mod udp;

pub(crate) use ip::Transport;
use ipv6::Ipv6Config;
use listen::Listener;
pub use ports::Binding;
use ports::PortTable;
use sockets::Deadlines;
use udp::UdpSocket;

/// How a host is set up.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Name used in traces.
    pub name: String,
    /// The interface's MAC address.
    pub mac: MacAddr,
    /// The interface's IPv4 address.
    pub ip: Ipv4Addr,
    /// Subnet prefix length (24 for a 255.255.255.0 mask).
    pub prefix: u8,
    /// Default gateway, for destinations outside the subnet.
    pub gateway: Option<Ipv4Addr>,
    /// The interface's IPv6 addresses with their prefix lengths; none leaves IPv6 off (as
    /// Linux's `disable_ipv6`). With any, a link-local address made from the MAC joins them
    /// (RFC 4291 §2.5.1, RFC 4862 §5.3).
    pub ip6: Vec<(Ipv6Addr, u8)>,
    /// The default IPv6 router, for destinations on no prefix of ours.
    pub gateway6: Option<Ipv6Addr>,
    /// Ask for routers at start and form addresses from their advertisements (SLAAC, RFC
    /// 4862; Linux's `accept_ra`), which turns IPv6 on without an address of its own.
    pub slaac: bool,
    /// Check each IPv6 address for duplicates before it is used (RFC 4862 §5.4, as Linux
    /// does with `accept_dad` 1 and `dad_transmits` 1): one solicitation, a second's wait.
    pub dad: bool,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this. The default, 30 s, gives the
    /// 60 s TIME-WAIT of Linux (TCP_TIMEWAIT_LEN); RFC 9293 §3.4.2 suggests MSL = 2 minutes.
    pub msl: Time,
    /// Interface MTU; our MSS is this minus 40 (RFC 9293 §3.7.1).
    pub mtu: u16,
    /// Receive buffer per connection, which bounds the advertised window. Above 65 535
    /// octets the window scale option (RFC 7323) carries it.
    pub rcv_buf: u32,
    /// Send buffer per connection: `send` blocks while it is full.
    pub snd_buf: u32,
    /// Delay ACKs (RFC 1122 §4.2.3.2); a socket can opt out with TCP_QUICKACK.
    pub delayed_ack: bool,
    /// The lowest retransmission timeout: RFC 6298's 1 s by default; Linux uses 200 ms.
    pub min_rto: Time,
    /// Limit on half-open connections per listener (Linux: tcp_max_syn_backlog).
    pub max_syn_backlog: u32,
    /// When to answer SYNs with SYN cookies (Linux's tcp_syncookies; by default once the
    /// SYN queue is full).
    pub syncookies: SynCookies,
    /// Offer and accept selective acknowledgments (RFC 2018; Linux's tcp_sack).
    pub sack: bool,
    /// Offer and accept timestamps (RFC 7323; Linux's tcp_timestamps).
    pub timestamps: bool,
    /// Seed of this host's random numbers (initial sequence numbers).
    pub seed: u64,
    /// Whose reading of the RFCs TCP follows where they leave a choice.
    pub profile: Profile,
    /// The largest a receive buffer may grow to (Linux's `tcp_rmem[2]`): the window scale
    /// offered is the smallest that fits it (RFC 7323 §2.3; Linux's
    /// `tcp_select_initial_window`).
    pub rcv_buf_max: u32,
    /// The initial congestion window in segments (RFC 6928), or none for RFC 5681's.
    pub initial_window: Option<u32>,
    /// Reno or CUBIC.
    pub congestion: CongestionControl,
    /// Proportional Rate Reduction during loss recovery (RFC 6937).
    pub prr: bool,
    /// Linux's `tcp_min_tso_segs` (2): the fewest segments of a TSO chunk, each chunk's
    /// last segment carrying PSH under the Linux profile.
    pub min_tso_segs: u32,
    /// Linux's `tcp_slow_start_after_idle` (on): under the Linux profile, a sender idle
    /// for longer than its RTO starts again from the initial window (RFC 5681 §4.1).
    pub slow_start_after_idle: bool,
    /// Seeded numbering (the simulator), or RFC 6528 and RFC 6056 from a secret (a real
    /// network).
    pub numbering: Numbering,
}

impl HostConfig {
    /// A host with the defaults described on each field.
    pub fn new(name: &str, mac: MacAddr, ip: Ipv4Addr, prefix: u8) -> HostConfig {
        HostConfig {
            name: name.to_string(),
            mac,
            ip,
            prefix,
            gateway: None,
            ip6: Vec::new(),
            gateway6: None,
            slaac: false,
            dad: false,
            msl: Time::from_secs(30),
            mtu: 1500,
            rcv_buf: 65_535,
            snd_buf: 65_536,
            delayed_ack: true,
            min_rto: crate::tcp::MIN_RTO,
            max_syn_backlog: 128,
            syncookies: SynCookies::OnOverflow,
            sack: true,
            timestamps: true,
            seed: 0,
            numbering: Numbering::Seeded,
            profile: Profile::Rfc,
            rcv_buf_max: 65_535,
            initial_window: None,
            congestion: CongestionControl::Reno,
            prr: false,
            min_tso_segs: 2,
            slow_start_after_idle: true,
        }
    }

    /// This host with Linux's defaults (6.x) where the RFCs leave a choice: the profile
    /// `drill` and the TAP mode use, so that what they show is what Linux does.
    pub fn linux(mut self) -> HostConfig {
        self.profile = Profile::Linux;
        self.min_rto = Time::from_millis(200);
        self.initial_window = Some(10);
        self.congestion = CongestionControl::Cubic;
        self.prr = true;
        // net.ipv4.tcp_rmem = 4096 131072 33554432 (Linux 6.10 and later).
        self.rcv_buf = 131_072;
        self.rcv_buf_max = 33_554_432;
        self
    }

    fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix))
    }
}

fn prefix_mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// What a program may ask about one of its sockets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SocketInfo {
    /// Current state (LISTEN for a listener; CLOSED once gone).
    pub state: TcpState,
    /// Local address.
    pub local: SocketAddr,
    /// Remote address (none for a listener).
    pub remote: Option<SocketAddr>,
}

/// The MSS a connection through the loopback interface announces: Linux's `lo` has an MTU
/// of 65536, and the MSS is capped by the largest IPv4 packet, 65535 − 40.
const LOOPBACK_MSS: u16 = 65495;

#[derive(Debug)]
enum Socket {
    Listener(Listener),
    Conn(Box<Tcb>),
    Udp(UdpSocket),
}

/// One host of our own stack.
#[derive(Debug)]
pub struct Host {
    config: HostConfig,
    rng: ChaCha8Rng,
    sockets: BTreeMap<SocketId, Socket>,
    next_socket: SocketId,
    /// Demultiplexing of connections: (local port, remote IP, remote port).
    conn_index: BTreeMap<(u16, IpAddr, u16), SocketId>,
    listeners: PortTable,
    udp_ports: PortTable,
    /// Where ephemeral ports come from.
    ports: Ports,
    /// The secret behind RFC 6528 and RFC 6056 numbering, when the host numbers that way.
    secret: Option<Secret>,
    /// The ISS the next connection takes instead of a drawn one (one reopened out of
    /// TIME-WAIT).
    next_iss: Option<SeqNum>,
    /// The key of this host's SYN cookies.
    cookie_key: CookieKey,
    ip_ident: u16,
    arp: ArpPort,
    /// IPv6's addresses and neighbour cache, when it is on.
    v6: Option<Ipv6Config>,
    ndp: Neighbours<Ipv6Addr>,
    /// Echo requests out: identifier → when sent and what came back.
    pings: BTreeMap<u16, (Time, Option<PingResult>)>,
    next_ping_id: u16,
    routes_explained: BTreeSet<IpAddr>,
    frames: Vec<Vec<u8>>,
    /// Frames for the loopback interface `lo`: to 127.0.0.0/8 or to our own address.
    loopback: Vec<Vec<u8>>,
    events: Vec<Event>,
    tcp_out: Vec<Outbound>,
    /// Every connection's next timer deadline, in time order, so that finding the next one
    /// and the ones due costs no walk over all sockets.
    deadlines: Deadlines,
    /// Connections something happened to since [`Engine::take_woken`] last asked (none
    /// until it first asks).
    woken: Option<BTreeSet<SocketId>>,
}

impl Host {
    /// A host with no sockets and an empty ARP cache.
    pub fn new(config: HostConfig) -> Host {
        let secret = (config.numbering == Numbering::Secret).then(Secret::new);
        let cookie_key = match config.numbering {
            Numbering::Seeded => CookieKey::Seeded(config.seed ^ 0x5359_4e43_4f4f_4b49),
            Numbering::Secret => CookieKey::Secret(std::collections::hash_map::RandomState::new()),
        };
        Host {
            cookie_key,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            arp: ArpPort::new(config.mac, config.ip),
            v6: Ipv6Config::new(&config),
            ndp: Neighbours::new(config.mac),
            ports: Ports::new(config.numbering, config.seed),
            pings: BTreeMap::new(),
            next_ping_id: 0x5000,
            config,
            sockets: BTreeMap::new(),
            next_socket: 1,
            next_iss: None,
            conn_index: BTreeMap::new(),
            listeners: PortTable::default(),
            udp_ports: PortTable::default(),
            secret,
            ip_ident: 0,
            routes_explained: BTreeSet::new(),
            deadlines: Deadlines::default(),
            woken: None,
            frames: Vec::new(),
            loopback: Vec::new(),
            events: Vec::new(),
            tcp_out: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    fn event(&mut self, now: Time, kind: EventKind) {
        self.events.push(Event { t: now, kind });
    }

    fn note(&mut self, now: Time, note: HostNote) {
        let node = self.config.name.clone();
        let note = Note::Host(note);
        self.event(now, EventKind::Note { node, note });
    }

    fn drop_event(&mut self, now: Time, reason: DropReason, frame: Option<u64>) {
        let node = self.config.name.clone();
        self.event(
            now,
            EventKind::Drop {
                node,
                reason,
                frame,
            },
        );
    }

    /// A frame from the Ethernet interface, or (`via_lo`) from the loopback interface, which
    /// carries no MAC addresses and delivers 127.0.0.0/8 as ours (RFC 1122 §3.2.1.3).
    fn input(&mut self, now: Time, bytes: &[u8], frame_number: u64, via_lo: bool) {
        let frame = match wire::decode(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                let reason = DropReason::Undecodable {
                    error: e.to_string(),
                };
                return self.drop_event(now, reason, Some(frame_number));
            }
        };
        if !via_lo && frame.dst != self.config.mac && !self.joined(frame.dst) {
            let reason = if frame.dst.is_group() {
                DropReason::NotJoined { group: frame.dst }
            } else {
                DropReason::NotMyMac {
                    dst: frame.dst,
                    mine: self.config.mac,
                    port: None,
                }
            };
            return self.drop_event(now, reason, Some(frame_number));
        }
        if !via_lo {
            let name = &self.config.name;
            match frame.payload {
                EthPayload::Ipv4(_) => self.arp.heard_from(now, name, frame.src, &mut self.events),
                EthPayload::Ipv6(_) => self.ndp.heard_from(now, name, frame.src, &mut self.events),
                _ => {}
            }
        }
        match frame.payload {
            EthPayload::Arp(arp) => self.arp_input(now, arp),
            EthPayload::Ipv4(ip) => self.ipv4_input(now, ip, &bytes[14..], frame_number, via_lo),
            EthPayload::Ipv6(ip) => self.ipv6_input(now, ip, &bytes[14..], frame_number, via_lo),
            EthPayload::Other { ether_type } => {
                let reason = DropReason::UnknownEtherType {
                    ether_type,
                    router: false,
                };
                self.drop_event(now, reason, Some(frame_number));
            }
        }
    }

    /// An IPv4 packet (`raw`, for the ICMP errors that quote it) for us or not (RFC 1122
    /// §3.2.1), handed to its protocol once its checksums hold.
    fn ipv4_input(
        &mut self,
        now: Time,
        ip: Ipv4Packet<&[u8]>,
        raw: &[u8],
        frame_number: u64,
        via_lo: bool,
    ) {
        if !ip.header_checksum_ok {
            let reason = DropReason::BadIpv4HeaderChecksum;
            return self.drop_event(now, reason, Some(frame_number));
        }
        let ours = ip.dst == self.config.ip
            || self.is_broadcast4(ip.dst)
            || (via_lo && ip.dst.is_loopback());
        if !ours {
            let reason = DropReason::NotForMe { dst: ip.dst.into() };
            return self.drop_event(now, reason, Some(frame_number));
        }
        match ip.payload {
            Ipv4Payload::Tcp(seg) if !seg.checksum_ok => {
                let reason = DropReason::BadTcpChecksum;
                self.drop_event(now, reason, Some(frame_number));
            }
            Ipv4Payload::Tcp(seg) => {
                self.tcp_input(now, (ip.src.into(), ip.dst.into()), &seg, frame_number)
            }
            Ipv4Payload::Udp(udp) if !udp.checksum_ok => {
                let reason = DropReason::BadUdpChecksum;
                self.drop_event(now, reason, Some(frame_number));
            }
            Ipv4Payload::Udp(udp) => {
                self.udp_input(now, (ip.src.into(), ip.dst.into()), udp, raw, frame_number)
            }
            Ipv4Payload::Icmp(message) => {
                self.icmp_input(now, (ip.src, ip.dst, ip.ttl), message, via_lo)
            }
            _ => {}
        }
    }

    /// RFC 826, "Packet Reception", on our one interface.
    fn arp_input(&mut self, now: Time, arp: Arp) {
        let name = &self.config.name;
        self.arp
            .input(now, name, &arp, &mut self.frames, &mut self.events);
    }

    fn tcp_input(
        &mut self,
        now: Time,
        (src, dst): (IpAddr, IpAddr),
        seg: &TcpSegment<&[u8]>,
        frame_number: u64,
    ) {
        let cause = Cause::Frame(frame_number);
        if let Some(&id) = self.conn_index.get(&(seg.dst_port, src, seg.src_port)) {
            if let Some(listener) = self.reopens(id, dst, seg) {
                // The old incarnation closes; the SYN goes on to the listener.
                self.drive(now, id, cause.clone(), |tcb, ctx| {
                    tcb.set_state(ctx, TcpState::Closed, Rule::TimeWaitSyn)
                });
                self.listen_input(now, listener, (src, dst), seg, cause);
                self.next_iss = None;
                return;
            }
            if let Some(full) = self.accept_queue_overflow(id, seg) {
                return self.note(now, full);
            }
            self.drive(now, id, cause, |tcb, ctx| tcb.segment_arrives(ctx, seg));
        } else if let Some(id) = self.listener_for(dst, seg.dst_port) {
            self.listen_input(now, id, (src, dst), seg, cause);
        } else if !seg.flags.rst {
            // RFC 9293 §3.10.7.1: "If the state is CLOSED (i.e., TCB does not exist) then ...
            // an incoming segment not containing a RST causes a RST to be sent in response."
            let port = seg.dst_port;
            self.note(now, HostNote::NoTcpSocket { port });
            self.reply(now, (src, dst), Transport::Tcp(rst_for(seg)));
        }
    }

    /// The listener that takes a SYN which ends connection `id`'s TIME-WAIT, with the
    /// ISS the new connection will take; none if the SYN does not, or nothing listens.
    fn reopens(&mut self, id: SocketId, dst: IpAddr, seg: &TcpSegment<&[u8]>) -> Option<SocketId> {
        let Some(Socket::Conn(tcb)) = self.sockets.get(&id) else {
            return None;
        };
        let iss = tcb.time_wait_reopens(seg)?;
        let listener = self.listener_for(dst, seg.dst_port)?;
        self.next_iss = Some(iss);
        Some(listener)
    }

    /// Answer a packet from `src` to our `dst`: from the address it was sent to.
    fn reply(&mut self, now: Time, (src, dst): (IpAddr, IpAddr), payload: Transport) {
        self.send_transport(now, (Some(dst), src), payload, crate::tcp::DEFAULT_TTL);
    }
}
