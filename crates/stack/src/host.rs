//! A host: one network interface with a MAC and an IPv4 address, its ARP cache, and its
//! sockets. Everything a host does is driven by the caller and reported as trace events.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use trace::{Cause, Endpoint, Event, EventKind, Rule, TcpState, TcpVars, Time};
use wire::{Arp, EthPayload, IcmpMessage, Ipv4Packet, Ipv4Payload, MacAddr, TcpSegment};

use crate::arp::{ArpPort, Outgoing};
use crate::numbering::{Numbering, PortUse, Ports, Secret};
use crate::syncookies::{CookieKey, CookieOptions, SynCookies};
use crate::tcp::{Ctx, Outbound, SocketOptions, Tcb, TcbInit, TcpStats, Timer, Tuning, rst_for};
use crate::{CongestionControl, Profile};
use crate::{Engine, PingResult, Readiness, SeqNum, SocketError, SocketId, SocketOption};

/// The identifier of the ICMP echo request quoted in an ICMP error, if it quotes one.
fn quoted_echo_id(original: &[u8]) -> Option<u16> {
    let ip = wire::Ipv4View::new_checked(original).ok()?;
    if ip.protocol() != wire::view::protocol::ICMP {
        return None;
    }
    // RFC 792 quotes only the first 8 octets of the datagram: an echo's whole header.
    let echo = wire::IcmpView::new_checked(&original[ip.header_len()..]).ok()?;
    (echo.msg_type() == 8).then(|| echo.echo_id())
}

/// What `recv` gives when no data waits: the connection's error, the end of the stream
/// (`Some(empty)`) once the peer has closed, or `None` (it would block).
fn nothing_to_read(tcb: &Tcb) -> Result<Option<Vec<u8>>, SocketError> {
    if let Some(error) = tcb.error() {
        return Err(error);
    }
    let eof = tcb.peer_closed() || tcb.state() == TcpState::Closed;
    Ok(eof.then(Vec::new))
}

/// The destination and source port of the UDP datagram an ICMP error quotes, if it quotes
/// one (RFC 792: the IP header and the first 8 octets, the whole UDP header).
fn quoted_udp(original: &[u8]) -> Option<(SocketAddrV4, u16)> {
    let ip = wire::Ipv4View::new_checked(original).ok()?;
    if ip.protocol() != wire::view::protocol::UDP {
        return None;
    }
    let udp = original.get(ip.header_len()..ip.header_len() + 4)?;
    let src_port = u16::from_be_bytes([udp[0], udp[1]]);
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    Some((SocketAddrV4::new(ip.dst(), dst_port), src_port))
}

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
    pub local: SocketAddrV4,
    /// Remote address (none for a listener).
    pub remote: Option<SocketAddrV4>,
}

#[derive(Debug)]
struct Listener {
    id: SocketId,
    local: SocketAddrV4,
    backlog: u32,
    /// Connections in SYN-RECEIVED (Linux's "SYN queue", the notes' 半连接池).
    syn_queue: Vec<SocketId>,
    /// Established connections waiting for accept() (the "accept queue").
    accept_queue: VecDeque<SocketId>,
    closed: bool,
    /// Options set on the listener, inherited by the connections it accepts.
    options: SocketOptions,
    /// SYN cookies answered since the SYN queue last had room (a note says when they start).
    cookies: u64,
}

/// A UDP socket: a port and the datagrams that arrived for it, each kept whole.
#[derive(Debug)]
struct UdpSocket {
    /// Its address (`0.0.0.0`: every address of the host) and port.
    local: SocketAddrV4,
    queue: VecDeque<(SocketAddrV4, Vec<u8>)>,
    /// The peer `connect()` named: the only one datagrams are taken from.
    peer: Option<SocketAddrV4>,
    /// An ICMP error about the peer, reported by the next call (a connected socket's only).
    error: Option<SocketError>,
    /// SO_BROADCAST and IP_TTL.
    options: SocketOptions,
}

/// RFC 1122 §4.1.3.5 leaves the receive queue's size to the host; beyond this many waiting
/// datagrams, new ones are dropped, as Linux drops them when SO_RCVBUF is full.
const UDP_QUEUE_LIMIT: usize = 256;

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
    conn_index: BTreeMap<(u16, Ipv4Addr, u16), SocketId>,
    listeners: BTreeMap<u16, SocketId>,
    udp_ports: BTreeMap<u16, SocketId>,
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
    /// Echo requests out: identifier → when sent and what came back.
    pings: BTreeMap<u16, (Time, Option<PingResult>)>,
    next_ping_id: u16,
    routes_explained: BTreeSet<Ipv4Addr>,
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

/// The connections' timer deadlines, ordered by time.
#[derive(Debug, Default)]
struct Deadlines {
    by_time: BTreeSet<(Time, SocketId)>,
    of: BTreeMap<SocketId, Time>,
}

impl Deadlines {
    /// Record that socket `id`'s next deadline is now `at` (none: it has none, or is gone).
    fn set(&mut self, id: SocketId, at: Option<Time>) {
        if self.of.get(&id).copied() == at {
            return;
        }
        if let Some(old) = self.of.remove(&id) {
            self.by_time.remove(&(old, id));
        }
        if let Some(at) = at {
            self.of.insert(id, at);
            self.by_time.insert((at, id));
        }
    }

    fn first(&self) -> Option<Time> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The sockets whose deadline is at or before `now`, earliest first.
    fn due(&self, now: Time) -> Vec<SocketId> {
        self.by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect()
    }
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
            ports: Ports::new(config.numbering, config.seed),
            pings: BTreeMap::new(),
            next_ping_id: 0x5000,
            config,
            sockets: BTreeMap::new(),
            next_socket: 1,
            next_iss: None,
            conn_index: BTreeMap::new(),
            listeners: BTreeMap::new(),
            udp_ports: BTreeMap::new(),
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

    /// Where a packet for `dst` goes, and why (said once per destination).
    fn route_event(&mut self, now: Time, dst: Ipv4Addr, decision: String) {
        let host = self.config.name.clone();
        self.event(
            now,
            EventKind::Route {
                host,
                dst,
                decision,
            },
        );
    }

    fn drop_event(&mut self, now: Time, reason: String, frame: Option<u64>) {
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

    // ----------------------------------------------------------------- input

    /// A frame from the Ethernet interface, or (`via_lo`) from the loopback interface, which
    /// carries no MAC addresses and delivers 127.0.0.0/8 as ours (RFC 1122 §3.2.1.3).
    fn input(&mut self, now: Time, bytes: &[u8], frame_number: u64, via_lo: bool) {
        let frame = match wire::decode(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                return self.drop_event(now, format!("undecodable: {e}"), Some(frame_number));
            }
        };
        if !via_lo && frame.dst != self.config.mac && !frame.dst.is_broadcast() {
            let reason = format!(
                "addressed to {}, not to my MAC {}",
                frame.dst, self.config.mac
            );
            return self.drop_event(now, reason, Some(frame_number));
        }
        if !via_lo && matches!(frame.payload, EthPayload::Ipv4(_)) {
            let name = &self.config.name;
            self.arp.heard_from(now, name, frame.src, &mut self.events);
        }
        match frame.payload {
            EthPayload::Arp(arp) => self.arp_input(now, arp),
            EthPayload::Ipv4(ip) => {
                if !ip.header_checksum_ok {
                    let reason = "bad IPv4 header checksum".to_string();
                    return self.drop_event(now, reason, Some(frame_number));
                }
                let ours = ip.dst == self.config.ip
                    || self.is_broadcast(ip.dst)
                    || (via_lo && ip.dst.is_loopback());
                if !ours {
                    let reason = format!("IPv4 packet for {}, not for me", ip.dst);
                    return self.drop_event(now, reason, Some(frame_number));
                }
                match ip.payload {
                    Ipv4Payload::Tcp(seg) if !seg.checksum_ok => {
                        let reason = "bad TCP checksum".to_string();
                        self.drop_event(now, reason, Some(frame_number));
                    }
                    Ipv4Payload::Tcp(seg) => {
                        self.tcp_input(now, (ip.src, ip.dst), &seg, frame_number)
                    }
                    Ipv4Payload::Udp(udp) if !udp.checksum_ok => {
                        let reason = "bad UDP checksum".to_string();
                        self.drop_event(now, reason, Some(frame_number));
                    }
                    Ipv4Payload::Udp(udp) => {
                        self.udp_input(now, (ip.src, ip.dst), udp, &bytes[14..], frame_number)
                    }
                    Ipv4Payload::Icmp(IcmpMessage::EchoRequest { id, seq, data }) => {
                        let reply = IcmpMessage::EchoReply {
                            id,
                            seq,
                            data: data.to_vec(),
                        };
                        let reply = Ipv4Payload::Icmp(reply);
                        if via_lo {
                            // The reply comes from the address that was pinged (127.0.0.9).
                            self.loop_back(now, (ip.dst, ip.src), reply, 64);
                        } else {
                            self.ip_output(now, ip.src, reply);
                        }
                    }
                    Ipv4Payload::Icmp(IcmpMessage::EchoReply { id, .. }) => {
                        if let Some((sent, result @ None)) = self.pings.get_mut(&id) {
                            *result = Some(PingResult::Reply {
                                from: ip.src,
                                ttl: ip.ttl,
                                rtt: now - *sent,
                            });
                        }
                    }
                    Ipv4Payload::Icmp(
                        ref message @ (IcmpMessage::TimeExceeded { original, .. }
                        | IcmpMessage::Unreachable { original, .. }),
                    ) => {
                        if let IcmpMessage::Unreachable { code, .. } = message {
                            self.udp_unreachable(original, *code);
                        }
                        // RFC 792: the error quotes our datagram's header and first 8 octets,
                        // where an echo request's identifier sits.
                        let quoted_id = quoted_echo_id(original);
                        if let Some((_, result @ None)) =
                            quoted_id.and_then(|id| self.pings.get_mut(&id))
                        {
                            *result = Some(match message {
                                IcmpMessage::TimeExceeded { .. } => {
                                    PingResult::TimeExceeded { from: ip.src }
                                }
                                IcmpMessage::Unreachable { code, .. } => PingResult::Unreachable {
                                    from: ip.src,
                                    code: *code,
                                },
                                _ => unreachable!("matched above"),
                            });
                        }
                    }
                    _ => {}
                }
            }
            EthPayload::Other { ether_type } => {
                let reason = format!("EtherType {ether_type:#06x} is not spoken here");
                self.drop_event(now, reason, Some(frame_number));
            }
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
        (src, dst): (Ipv4Addr, Ipv4Addr),
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
                let node = self.config.name.clone();
                return self.event(now, EventKind::Note { node, text: full });
            }
            self.drive(now, id, cause, |tcb, ctx| tcb.segment_arrives(ctx, seg));
        } else if let Some(id) = self.listener_for(dst, seg.dst_port) {
            self.listen_input(now, id, (src, dst), seg, cause);
        } else if !seg.flags.rst {
            // RFC 9293 §3.10.7.1: "If the state is CLOSED (i.e., TCB does not exist) then ...
            // an incoming segment not containing a RST causes a RST to be sent in response."
            let note = format!(
                "no socket for port {}: reply RST (RFC 9293 §3.10.7.1, CLOSED)",
                seg.dst_port
            );
            let node = self.config.name.clone();
            self.event(now, EventKind::Note { node, text: note });
            self.reply(now, (src, dst), Ipv4Payload::Tcp(rst_for(seg)));
        }
    }

    /// The listener that takes a SYN which ends connection `id`'s TIME-WAIT, with the
    /// ISS the new connection will take; none if the SYN does not, or nothing listens.
    fn reopens(
        &mut self,
        id: SocketId,
        dst: Ipv4Addr,
        seg: &TcpSegment<&[u8]>,
    ) -> Option<SocketId> {
        let Some(Socket::Conn(tcb)) = self.sockets.get(&id) else {
            return None;
        };
        let iss = tcb.time_wait_reopens(seg)?;
        let listener = self.listener_for(dst, seg.dst_port)?;
        self.next_iss = Some(iss);
        Some(listener)
    }

    /// Answer a packet from `src` to our `dst`: from the address it was sent to.
    fn reply(&mut self, now: Time, (src, dst): (Ipv4Addr, Ipv4Addr), payload: Ipv4Payload) {
        self.ip_output_ttl(now, (Some(dst), src), payload, crate::tcp::DEFAULT_TTL);
    }

    /// The listener that takes a segment to `dst:port`: one bound to that address, or to
    /// every address (`0.0.0.0`).
    fn listener_for(&self, dst: Ipv4Addr, port: u16) -> Option<SocketId> {
        let id = *self.listeners.get(&port)?;
        match self.sockets.get(&id) {
            Some(Socket::Listener(l)) if l.local.ip().is_unspecified() || *l.local.ip() == dst => {
                Some(id)
            }
            _ => None,
        }
    }

    /// Linux's rule when a handshake would complete into a full accept queue: the ACK is
    /// dropped (with `tcp_abort_on_overflow` = 0, the default), the connection stays in
    /// SYN-RECEIVED, and the SYN+ACK's retransmission asks the client for another ACK later,
    /// by when accept() may have made room. What to say if `seg` is dropped so.
    fn accept_queue_overflow(&self, id: SocketId, seg: &TcpSegment<&[u8]>) -> Option<String> {
        let Some(Socket::Conn(tcb)) = self.sockets.get(&id) else {
            return None;
        };
        if tcb.state() != TcpState::SynReceived || !seg.flags.ack || seg.flags.rst || seg.flags.syn
        {
            return None;
        }
        let Some(Socket::Listener(l)) = tcb.listener().and_then(|l| self.sockets.get(&l)) else {
            return None;
        };
        // sk_acceptq_is_full: more than `backlog` waiting.
        (l.accept_queue.len() as u32 > l.backlog).then(|| {
            format!(
                "accept queue of port {} full ({} connections wait for accept(), backlog {}; \
                 {} half-open in the SYN queue): the handshake's ACK from {} is dropped and \
                 the connection stays in SYN-RECEIVED, as Linux does (tcp_abort_on_overflow = \
                 0); the SYN+ACK will be sent again",
                l.local.port(),
                l.accept_queue.len(),
                l.backlog,
                l.syn_queue.len(),
                tcb.remote()
            )
        })
    }

    /// RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN.
    fn listen_input(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        seg: &TcpSegment<&[u8]>,
        cause: Cause,
    ) {
        if seg.flags.rst {
            return; // "An incoming RST segment could not be valid ... ignored."
        }
        if seg.flags.ack {
            if !seg.flags.syn && self.cookie_returns(now, listener_id, (src, dst), seg, &cause) {
                return;
            }
            // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
            // state. An acceptable reset segment should be formed."
            return self.reply(now, (src, dst), Ipv4Payload::Tcp(rst_for(seg)));
        }
        if !seg.flags.syn {
            return;
        }
        let Some(Socket::Listener(listener)) = self.sockets.get(&listener_id) else {
            return;
        };
        // The connection's address is the one the SYN was sent to: 127.0.0.1 through lo.
        let local = SocketAddrV4::new(dst, listener.local.port());
        let options = listener.options;
        // Linux (tcp_conn_request): the SYN queue is full when it holds more half-open
        // connections than the listen backlog (inet_csk_reqsk_queue_is_full), and then
        // cookies answer; without cookies a full queue drops the SYN, and so does one with
        // less than a quarter of tcp_max_syn_backlog left. A full accept queue (more than
        // `backlog` waiting, sk_acceptq_is_full) drops it too. The client will retry.
        let half_open = listener.syn_queue.len() as u32;
        let syn_queue_full = half_open > listener.backlog;
        let accept_queue_full = listener.accept_queue.len() as u32 > listener.backlog;
        let cookie = match self.config.syncookies {
            SynCookies::Off => false,
            SynCookies::OnOverflow => syn_queue_full,
            SynCookies::Always => true,
        };
        let most = self.config.max_syn_backlog;
        let syn_queue_full = syn_queue_full || (!cookie && most - half_open.min(most) < most / 4);
        if cookie && !accept_queue_full {
            return self.send_cookie(now, listener_id, (src, dst), seg, cause);
        }
        if let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener_id) {
            l.cookies = 0;
        }
        let Some(Socket::Listener(listener)) = self.sockets.get(&listener_id) else {
            return;
        };
        if accept_queue_full || syn_queue_full {
            let reason = format!(
                "SYN for port {}: listen queue full (accept queue {}, backlog {}, SYN queue \
                 {}); the client will retransmit",
                local.port(),
                listener.accept_queue.len(),
                listener.backlog,
                listener.syn_queue.len()
            );
            return self.drop_event(now, reason, None);
        }
        let init = self.tcb_init(now, local, SocketAddrV4::new(src, seg.src_port), options);
        let id = init.id;
        let mut ctx = Ctx {
            now,
            host: &self.config.name,
            cause,
            events: &mut self.events,
            segments: &mut self.tcp_out,
        };
        let tcb = Tcb::passive_open(init, listener_id, seg, &mut ctx);
        if let Some(Socket::Listener(listener)) = self.sockets.get_mut(&listener_id) {
            listener.syn_queue.push(id);
        }
        self.conn_index
            .insert((local.port(), src, seg.src_port), id);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.flush_tcp(now);
        self.reindex(id);
    }

    /// RFC 4987 §3.6: answer with a SYN cookie and keep nothing. The first cookie of an
    /// overflow says so; the rest are counted, not told one by one.
    fn send_cookie(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        seg: &TcpSegment<&[u8]>,
        cause: Cause,
    ) {
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener_id) else {
            return;
        };
        l.cookies += 1;
        let (first, queued, port, options, backlog) = (
            l.cookies == 1,
            l.syn_queue.len(),
            l.local.port(),
            l.options,
            l.backlog,
        );
        let local = SocketAddrV4::new(dst, port);
        let remote = SocketAddrV4::new(src, seg.src_port);
        if first {
            let text = if self.config.syncookies == SynCookies::Always {
                format!(
                    "port {port} answers every SYN with a SYN cookie and keeps nothing for it \
                     (RFC 4987 §3.6; Linux's tcp_syncookies = 2)"
                )
            } else {
                format!(
                    "SYN queue of port {port} full ({queued} half-open, more than the listen \
                     backlog {backlog}): SYNs are answered with SYN cookies from now on and \
                     nothing is kept for them (RFC 4987 §3.6; Linux's tcp_syncookies = 1, \
                     \"Possible SYN flooding\")"
                )
            };
            let node = self.config.name.clone();
            self.event(now, EventKind::Note { node, text });
        }
        let cookie = self.cookie_key.make(now, (local, remote), seg.seq, seg.mss);
        let Some(reply) = self.cookie_syn_ack(now, (local, remote), seg, options, cookie, cause)
        else {
            return;
        };
        self.reply(now, (src, dst), Ipv4Payload::Tcp(reply));
    }

    /// The SYN+ACK a normal passive open would send, with the cookie as its sequence
    /// number and, when both sides use timestamps, the options in its TSval. Without
    /// timestamps the cookie keeps only the MSS, so the SYN+ACK offers nothing else.
    fn cookie_syn_ack(
        &mut self,
        now: Time,
        (local, remote): (SocketAddrV4, SocketAddrV4),
        syn: &TcpSegment<&[u8]>,
        options: SocketOptions,
        cookie: u32,
        cause: Cause,
    ) -> Option<TcpSegment> {
        let mut syn = syn.clone();
        if syn.timestamps.is_none() || !self.config.timestamps {
            syn.window_scale = None;
            syn.sack_permitted = false;
        }
        let mut init = self.tcb_init_with(local, remote, options, 0);
        init.iss = SeqNum(cookie);
        init.timestamps = self
            .config
            .timestamps
            .then(|| self.cookie_key.ts_offset(local, remote));
        let (mut events, mut out) = (Vec::new(), Vec::new());
        let mut ctx = Ctx {
            now,
            host: &self.config.name,
            cause,
            events: &mut events,
            segments: &mut out,
        };
        Tcb::passive_open(init, 0, &syn, &mut ctx);
        let mut reply = out.pop()?.seg;
        let carried = CookieOptions {
            wscale: reply.window_scale.and(syn.window_scale),
            sack: reply.sack_permitted,
        };
        if let Some(ts) = &mut reply.timestamps {
            ts.tsval = carried.encode(ts.tsval);
        }
        Some(reply)
    }

    /// An ACK to a listener that carries one of our SYN cookies: rebuild the connection it
    /// stands for, established at once (true); anything else is not ours (false).
    fn cookie_returns(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        seg: &TcpSegment<&[u8]>,
        cause: &Cause,
    ) -> bool {
        let Some(Socket::Listener(l)) = self.sockets.get(&listener_id) else {
            return false;
        };
        let (options, port) = (l.options, l.local.port());
        let accept_queue_full = l.accept_queue.len() as u32 > l.backlog;
        if self.config.syncookies == SynCookies::Off {
            return false;
        }
        let local = SocketAddrV4::new(dst, port);
        let remote = SocketAddrV4::new(src, seg.src_port);
        let client_isn = seg.seq.wrapping_sub(1);
        let cookie = seg.ack.wrapping_sub(1);
        let Some(mss) = self
            .cookie_key
            .check(now, (local, remote), client_isn, cookie)
        else {
            return false;
        };
        if accept_queue_full {
            // Linux (tcp_v4_syn_recv_sock, ListenOverflows): no room to make the connection;
            // the ACK is dropped, and the client's next segment brings the cookie again.
            let node = self.config.name.clone();
            let text = format!(
                "ACK from {remote} returns a valid SYN cookie, but the accept queue of port \
                 {port} is full: dropped, as Linux drops it; the client's next segment will \
                 bring the cookie again"
            );
            self.event(now, EventKind::Note { node, text });
            return true;
        }
        let carried = seg
            .timestamps
            .filter(|_| self.config.timestamps)
            .map(|ts| CookieOptions::decode(ts.tsecr));
        self.cookie_note(now, remote, mss, carried);
        let mut init = self.tcb_init(now, local, remote, options);
        init.iss = SeqNum(cookie);
        if carried.is_some() {
            init.timestamps = Some(self.cookie_key.ts_offset(local, remote));
        }
        let carried = carried.unwrap_or_default();
        let id = init.id;
        // The SYN the cookie stands for, as the listener would have kept it.
        let syn = TcpSegment {
            src_port: seg.src_port,
            dst_port: port,
            seq: client_isn,
            flags: wire::TcpFlags {
                syn: true,
                ..wire::TcpFlags::default()
            },
            window: seg.window,
            mss: Some(mss),
            window_scale: carried.wscale,
            sack_permitted: carried.sack,
            timestamps: seg.timestamps.map(|ts| wire::Timestamps {
                tsval: ts.tsval,
                tsecr: 0,
            }),
            checksum_ok: true,
            payload: &[][..],
            ..TcpSegment::default()
        };
        // Its SYN+ACK went out long ago, as the cookie: the one rebuilding it makes is not sent.
        let mut unsent = Vec::new();
        let mut ctx = Ctx {
            now,
            host: &self.config.name,
            cause: cause.clone(),
            events: &mut self.events,
            segments: &mut unsent,
        };
        let tcb = Tcb::passive_open(init, listener_id, &syn, &mut ctx);
        self.conn_index.insert((port, src, seg.src_port), id);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.drive(now, id, cause.clone(), |tcb, ctx| {
            tcb.segment_arrives(ctx, seg)
        });
        true
    }

    /// Say what a returning cookie rebuilt the connection with.
    fn cookie_note(
        &mut self,
        now: Time,
        remote: SocketAddrV4,
        mss: u16,
        carried: Option<CookieOptions>,
    ) {
        let kept = match carried {
            None => "without timestamps a cookie carries nothing else, so this connection \
                     has no window scaling and no SACK"
                .to_string(),
            Some(c) => format!(
                "its timestamp carried the rest (Linux's cookie_init_timestamp): window scale \
                 {}, SACK {}",
                c.wscale.map_or("off".to_string(), |w| w.to_string()),
                if c.sack { "on" } else { "off" }
            ),
        };
        let node = self.config.name.clone();
        let text = format!(
            "ACK from {remote} returns a valid SYN cookie (MSS {mss}): the connection is rebuilt \
             from it, with no SYN-queue entry ever kept; {kept} (RFC 4987 §3.6)"
        );
        self.event(now, EventKind::Note { node, text });
    }

    // ----------------------------------------------------------------- output

    /// Decide the next hop for `dst` by the subnet mask, explaining the arithmetic once per
    /// destination.
    fn next_hop(&mut self, now: Time, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let mask = prefix_mask(self.config.prefix);
        let mine = u32::from(self.config.ip) & mask;
        let theirs = u32::from(dst) & mask;
        let hop = if mine == theirs {
            Some(dst)
        } else {
            self.config.gateway
        };
        if self.routes_explained.insert(dst) {
            let (a, b, m) = (
                Ipv4Addr::from(mine),
                Ipv4Addr::from(theirs),
                self.config.netmask(),
            );
            let decision = if mine == theirs {
                format!(
                    "{dst} AND {m} = {b} = my network {a}: same subnet, deliver directly \
                     (ARP for {dst})"
                )
            } else {
                match self.config.gateway {
                    Some(gw) => format!(
                        "{dst} AND {m} = {b} ≠ my network {a}: another subnet, send to the \
                         gateway {gw}"
                    ),
                    None => {
                        format!("{dst} AND {m} = {b} ≠ my network {a}, and no gateway: unreachable")
                    }
                }
            };
            self.route_event(now, dst, decision);
        }
        hop
    }

    fn ip_output(&mut self, now: Time, dst: Ipv4Addr, payload: Ipv4Payload) {
        self.ip_output_ttl(now, (None, dst), payload, 64);
    }

    /// Send a packet to `dst`, from `src` where the socket (or the packet answered) names
    /// one of our addresses, else from the one the route gives.
    fn ip_output_ttl(
        &mut self,
        now: Time,
        (src, dst): (Option<Ipv4Addr>, Ipv4Addr),
        payload: Ipv4Payload,
        ttl: u8,
    ) {
        if self.is_local(dst) {
            let src = src
                .filter(|s| self.is_local(*s))
                .unwrap_or_else(|| self.source_address(dst));
            return self.loop_back(now, (src, dst), payload, ttl);
        }
        if self.is_broadcast(dst) {
            return self.broadcast_output(dst, payload, ttl);
        }
        let Some(hop) = self.next_hop(now, dst) else {
            return self.drop_event(now, format!("no route to {dst}"), None);
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let packet = Ipv4Packet {
            src: self.config.ip,
            dst,
            ttl,
            ident: self.ip_ident,
            header_checksum_ok: true,
            payload,
        };
        let name = &self.config.name;
        self.arp.send(
            now,
            name,
            hop,
            Outgoing::Built(packet),
            &mut self.frames,
            &mut self.events,
        );
    }

    /// A packet to a broadcast address: to every station of the link (Ethernet's broadcast
    /// address, RFC 894), no ARP.
    fn broadcast_output(&mut self, dst: Ipv4Addr, payload: Ipv4Payload, ttl: u8) {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let frame = wire::Frame {
            src: self.config.mac,
            dst: MacAddr::BROADCAST,
            payload: EthPayload::Ipv4(Ipv4Packet {
                src: self.config.ip,
                dst,
                ttl,
                ident: self.ip_ident,
                header_checksum_ok: true,
                payload,
            }),
        };
        self.frames.push(frame.encode());
    }

    /// Whether `dst` is a broadcast address: the limited one (255.255.255.255) or our
    /// subnet's (RFC 919, RFC 922).
    fn is_broadcast(&self, dst: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.config.prefix);
        let subnet = u32::from(self.config.ip) & mask;
        dst.is_broadcast() || (self.config.prefix < 31 && u32::from(dst) == subnet | !mask)
    }

    /// Whether `dst` is this host: a loopback address (RFC 1122 §3.2.1.3) or our own.
    fn is_local(&self, dst: Ipv4Addr) -> bool {
        dst.is_loopback() || dst == self.config.ip
    }

    /// Send a packet to ourselves through the loopback interface: no ARP, no MAC addresses
    /// (the frame carries zeros, as Linux's `lo` does), never onto the wire.
    fn loop_back(
        &mut self,
        now: Time,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        payload: Ipv4Payload,
        ttl: u8,
    ) {
        if self.routes_explained.insert(dst) {
            let what = if dst.is_loopback() {
                "a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3)"
            } else {
                "my own address"
            };
            let decision = format!("{dst} is {what}: through the loopback interface lo");
            self.route_event(now, dst, decision);
        }
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let frame = wire::Frame {
            src: MacAddr::ZERO,
            dst: MacAddr::ZERO,
            payload: EthPayload::Ipv4(Ipv4Packet {
                src,
                dst,
                ttl,
                ident: self.ip_ident,
                header_checksum_ok: true,
                payload,
            }),
        };
        self.loopback.push(frame.encode());
    }

    fn flush_tcp(&mut self, now: Time) {
        for out in std::mem::take(&mut self.tcp_out) {
            self.ip_output_ttl(
                now,
                (Some(out.src), out.dst),
                Ipv4Payload::Tcp(out.seg),
                out.ttl,
            );
        }
    }

    // ----------------------------------------------------------------- timers

    // ----------------------------------------------------------------- connections

    fn new_socket_id(&mut self) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        id
    }

    /// What a fresh TCB starts with: the next socket number and an ISS from the seeded
    /// generator (RFC 9293 §3.4.1 asks for unpredictable ISNs; we ask for repeatable ones too),
    /// the MSS of the route to `remote` and the buffers, each unless the socket's options say
    /// otherwise.
    fn tcb_init(
        &mut self,
        now: Time,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        options: SocketOptions,
    ) -> TcbInit {
        let iss = match (self.next_iss.take(), &self.secret) {
            (Some(iss), _) => iss.0,
            (None, Some(secret)) => secret.isn(now, local, remote),
            (None, None) => self.rng.next_u32(),
        };
        let id = self.new_socket_id();
        let mut init = self.tcb_init_with(local, remote, options, id);
        init.iss = SeqNum(iss);
        // Drawn only when offered, so runs without timestamps keep their numbers.
        init.timestamps = self.config.timestamps.then(|| self.rng.next_u32());
        init
    }

    /// A TCB's start for socket `id`, drawing no numbers: ISS 0 and no timestamps until
    /// the caller sets them.
    fn tcb_init_with(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        options: SocketOptions,
        id: SocketId,
    ) -> TcbInit {
        let route_mss = self.route_mss(*remote.ip());
        TcbInit {
            id,
            local,
            remote,
            iss: SeqNum(0),
            our_mss: options.max_segment.map_or(route_mss, |m| m.min(route_mss)),
            rcv_buf_cap: options.rcv_buf.unwrap_or(self.config.rcv_buf),
            snd_buf_cap: options.snd_buf.unwrap_or(self.config.snd_buf),
            msl: self.config.msl,
            delayed_ack: self.config.delayed_ack,
            options,
            min_rto: self.config.min_rto,
            tuning: self.tuning(),
            rcv_buf_max: self.config.rcv_buf_max,
            sack: self.config.sack,
            timestamps: None,
        }
    }

    /// How this host's connections manage their windows.
    fn tuning(&self) -> Tuning {
        Tuning {
            initial_window: self.config.initial_window,
            algorithm: self.config.congestion,
            prr: self.config.prr,
            min_tso_segs: self.config.min_tso_segs,
            restart_after_idle: self.config.slow_start_after_idle,
            profile: self.config.profile,
        }
    }

    /// The MSS of the interface towards `dst`: MTU − 40 (RFC 9293 §3.7.1). The loopback
    /// interface's MTU is Linux's `lo`'s, 65536; the MSS announced on it is capped by the
    /// largest IPv4 packet, 65535 − 40 = 65495, as Linux announces it.
    fn route_mss(&self, dst: Ipv4Addr) -> u16 {
        if self.is_local(dst) {
            LOOPBACK_MSS
        } else {
            self.config.mtu - 40
        }
    }

    /// The next ephemeral port for `what`, towards `remote` (`0.0.0.0:0` before there is
    /// one): one no socket of ours holds, as Linux takes it from its range.
    fn ephemeral_port(&mut self, what: PortUse, local: Ipv4Addr, remote: SocketAddrV4) -> u16 {
        let sockets = &self.sockets;
        let udp = &self.udp_ports;
        let free = |port: u16| match what {
            PortUse::Udp => !udp.contains_key(&port),
            PortUse::Connect | PortUse::Bind => !sockets.values().any(|s| match s {
                Socket::Listener(l) => !l.closed && l.local.port() == port,
                Socket::Conn(tcb) => tcb.local().port() == port && tcb.state() != TcpState::Closed,
                Socket::Udp(_) => false,
            }),
        };
        // Linux's range has room for every socket a run makes; a full one gets its first port.
        self.ports
            .choose(what, (local, remote), free)
            .unwrap_or(*crate::numbering::EPHEMERAL_PORTS.start())
    }

    /// Take note of socket `id`'s next timer deadline after anything that may have moved it.
    fn reindex(&mut self, id: SocketId) {
        let at = match self.sockets.get(&id) {
            Some(Socket::Conn(tcb)) => tcb.next_deadline(),
            _ => None,
        };
        self.deadlines.set(id, at);
        if let Some(woken) = &mut self.woken {
            woken.insert(id);
        }
    }

    /// Let one TCB handle one event, then send what it wants to send and keep the host's
    /// books (listener queues, demultiplexing, deletion).
    /// `send`, with MSG_MORE or not: queue as much of `data` as the send buffer has room
    /// for (RFC 9293 §3.10.2) and return how much that was; 0 means the buffer is full and
    /// the call would block.
    fn send_flagged(
        &mut self,
        now: Time,
        id: SocketId,
        data: &[u8],
        more: bool,
    ) -> Result<usize, SocketError> {
        let tcb = self.tcb(id)?;
        match tcb.state() {
            TcpState::SynSent
            | TcpState::SynReceived
            | TcpState::Established
            | TcpState::CloseWait
                if !tcb.fin_queued() => {}
            TcpState::Closed => return Err(tcb.error().unwrap_or(SocketError::BrokenPipe)),
            _ => return Err(SocketError::BrokenPipe),
        }
        let n = tcb.accept_len(data.len());
        if n < data.len() {
            if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) {
                tcb.write_blocked();
            }
        }
        if n == 0 && !data.is_empty() {
            return Ok(0);
        }
        let flag = if more { ", MSG_MORE" } else { "" };
        let cause = Cause::Call(format!("send({n} bytes{flag})"));
        self.drive(now, id, cause, |tcb, ctx| tcb.queue(ctx, &data[..n], more));
        Ok(n)
    }

    fn drive(&mut self, now: Time, id: SocketId, cause: Cause, f: impl FnOnce(&mut Tcb, &mut Ctx)) {
        let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) else {
            return;
        };
        let before = tcb.state();
        let mut ctx = Ctx {
            now,
            host: &self.config.name,
            cause,
            events: &mut self.events,
            segments: &mut self.tcp_out,
        };
        f(tcb, &mut ctx);
        if tcb.state() != TcpState::Closed {
            tcb.output(&mut ctx);
        }
        let after = tcb.state();
        let listener = tcb.listener();
        let orphaned = tcb.is_orphaned();
        let key = (tcb.local().port(), *tcb.remote().ip(), tcb.remote().port());
        if let Some(Socket::Listener(l)) = listener.and_then(|l| self.sockets.get_mut(&l)) {
            if before == TcpState::SynReceived && after != TcpState::SynReceived {
                l.syn_queue.retain(|&c| c != id);
                if after != TcpState::Closed {
                    l.accept_queue.push_back(id);
                }
            }
        }
        if after == TcpState::Closed {
            self.conn_index.remove(&key);
            let never_accepted = before == TcpState::SynReceived && listener.is_some();
            if orphaned || never_accepted {
                self.sockets.remove(&id);
            }
        }
        self.flush_tcp(now);
        self.reindex(id);
    }

    fn tcb(&self, id: SocketId) -> Result<&Tcb, SocketError> {
        match self.sockets.get(&id) {
            Some(Socket::Conn(tcb)) if !tcb.is_orphaned() => Ok(tcb),
            Some(_) => Err(SocketError::InvalidArgument),
            None => Err(SocketError::BadSocket),
        }
    }

    fn listener_transition(
        &mut self,
        now: Time,
        id: SocketId,
        local: SocketAddrV4,
        (from, to): (TcpState, TcpState),
        call: String,
        rule: Rule,
    ) {
        let host = self.config.name.clone();
        self.event(
            now,
            EventKind::TcpTransition {
                endpoint: Endpoint {
                    host,
                    socket: id,
                    local,
                    remote: None,
                },
                from,
                to,
                cause: Cause::Call(call),
                rule,
                detail: None,
                vars: TcpVars::default(),
            },
        );
    }

    /// The numbers behind a connection's behaviour (RTT estimate, windows, queues).
    pub fn stats(&self, id: SocketId) -> Option<TcpStats> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.stats()),
            Socket::Listener(_) | Socket::Udp(_) => None,
        }
    }

    fn abort_with(
        &mut self,
        now: Time,
        id: SocketId,
        call: &str,
        rule: Rule,
    ) -> Result<(), SocketError> {
        self.drive(now, id, Cause::Call(call.to_string()), |tcb, ctx| {
            tcb.abort(ctx, rule)
        });
        Ok(())
    }

    fn close_listener(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&id) else {
            return Err(SocketError::BadSocket);
        };
        if l.closed {
            return Err(SocketError::BadSocket);
        }
        l.closed = true;
        let local = l.local;
        let children: Vec<SocketId> = l.syn_queue.iter().chain(&l.accept_queue).copied().collect();
        let listener_id = l.id;
        self.listeners.remove(&local.port());
        self.listener_transition(
            now,
            listener_id,
            local,
            (TcpState::Listen, TcpState::Closed),
            "close()".to_string(),
            Rule::CloseListen,
        );
        // Like Linux, connections that were never accepted are reset.
        for child in children {
            self.abort_with(
                now,
                child,
                "close() of the listener",
                Rule::CloseListenerPending,
            )?;
        }
        self.sockets.remove(&id);
        Ok(())
    }

    /// An ICMP destination unreachable that quotes a datagram of a connected UDP socket of
    /// ours to its peer: the socket's next call reports it (RFC 1122 §4.1.3.3 passes ICMP
    /// errors to the application; Linux does so for connected sockets).
    fn udp_unreachable(&mut self, original: &[u8], code: u8) {
        let Some((dst, src_port)) = quoted_udp(original) else {
            return;
        };
        let Some(id) = self.udp_ports.get(&src_port).copied() else {
            return;
        };
        if let Some(Socket::Udp(u)) = self.sockets.get_mut(&id)
            && u.peer == Some(dst)
        {
            u.error = Some(match code {
                3 => SocketError::ConnectionRefused,
                _ => SocketError::NetworkUnreachable,
            });
        }
    }

    /// A UDP datagram for us (RFC 768): queue it on its port's socket, or answer "port
    /// unreachable" (RFC 1122 §4.1.3.1) with the start of the IP packet (RFC 792).
    fn udp_input(
        &mut self,
        now: Time,
        (src, dst): (Ipv4Addr, Ipv4Addr),
        udp: wire::UdpDatagram<&[u8]>,
        ip_bytes: &[u8],
        frame_number: u64,
    ) {
        let from = SocketAddrV4::new(src, udp.src_port);
        let socket = self.udp_ports.get(&udp.dst_port).copied();
        if let Some(Socket::Udp(u)) = socket.and_then(|id| self.sockets.get_mut(&id))
            && (u.local.ip().is_unspecified() || *u.local.ip() == dst)
        {
            if u.peer.is_some_and(|peer| peer != from) {
                // A connected socket takes datagrams from its peer only (Linux drops the rest).
                let reason = format!("UDP port {}: connected to another peer", udp.dst_port);
                return self.drop_event(now, reason, Some(frame_number));
            }
            if u.queue.len() >= UDP_QUEUE_LIMIT {
                let reason = format!("UDP port {}: receive queue full", udp.dst_port);
                return self.drop_event(now, reason, Some(frame_number));
            }
            u.queue.push_back((from, udp.payload.to_vec()));
            return;
        }
        let node = self.config.name.clone();
        let text = format!(
            "no socket for UDP port {}: reply ICMP port unreachable (RFC 1122 §4.1.3.1)",
            udp.dst_port
        );
        self.event(now, EventKind::Note { node, text });
        let header_len = usize::from(ip_bytes.first().map_or(5, |b| b & 0x0f)) * 4;
        let original = ip_bytes[..(header_len + 8).min(ip_bytes.len())].to_vec();
        let icmp = IcmpMessage::Unreachable { code: 3, original };
        self.reply(now, (src, dst), Ipv4Payload::Icmp(icmp));
    }
}

/// The socket API and the driver's side of our host: the one place these calls are written
/// (drivers and programs reach them through the [`Engine`] trait).
impl Engine for Host {
    fn name(&self) -> &str {
        &self.config().name
    }

    fn engine_name(&self) -> &'static str {
        "packetlab"
    }

    /// Frames to transmit, in order.
    fn take_frames(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.frames)
    }

    /// Trace events since the last call.
    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The earliest time at which [`Host::poll_timers`] has work to do.
    fn take_woken(&mut self) -> Option<Vec<SocketId>> {
        let woken = self.woken.replace(BTreeSet::new()).unwrap_or_default();
        Some(woken.into_iter().collect())
    }

    fn poll_at(&self) -> Option<Time> {
        debug_assert_eq!(
            self.deadlines.first(),
            self.sockets
                .values()
                .filter_map(|s| match s {
                    Socket::Conn(tcb) => tcb.next_deadline(),
                    Socket::Listener(_) | Socket::Udp(_) => None,
                })
                .min(),
            "the deadline index agrees with the sockets"
        );
        self.deadlines
            .first()
            .into_iter()
            .chain(self.arp.poll_at())
            .min()
    }

    /// A frame arrived on the interface. `frame_number` names it in the capture, so that
    /// transitions it causes can say which frame did it.
    fn receive(&mut self, now: Time, bytes: &[u8], frame_number: u64) {
        self.input(now, bytes, frame_number, false);
    }

    /// A frame came back through the loopback interface.
    fn receive_loopback(&mut self, now: Time, bytes: &[u8], frame_number: u64) {
        self.input(now, bytes, frame_number, true);
    }

    /// Take the frames queued for the loopback interface.
    fn take_loopback_frames(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.loopback)
    }

    /// Send one ICMP echo request to `dst` with this TTL, like `ping -c 1 -t TTL`; returns
    /// the identifier its answer will carry.
    fn ping(&mut self, now: Time, dst: Ipv4Addr, ttl: u8) -> Result<u16, SocketError> {
        if !self.is_local(dst) && self.next_hop(now, dst).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        let id = self.next_ping_id;
        self.next_ping_id = self.next_ping_id.wrapping_add(1);
        self.pings.insert(id, (now, None));
        // Linux's ping sends 56 octets of data (64 with the ICMP header).
        let data: Vec<u8> = (0..56u8).collect();
        let request = IcmpMessage::EchoRequest { id, seq: 1, data };
        self.ip_output_ttl(now, (None, dst), Ipv4Payload::Icmp(request), ttl);
        Ok(id)
    }

    /// What came back for the echo request `id`, if anything has.
    fn ping_result(&mut self, id: u16) -> Option<PingResult> {
        self.pings.get(&id).and_then(|(_, r)| r.clone())
    }

    /// Run every timer that is due at `now`.
    fn poll_timers(&mut self, now: Time) {
        // Served in socket order, as a walk over all sockets would serve them.
        let mut due = self.deadlines.due(now);
        due.sort_unstable();
        for id in due {
            let Some(Socket::Conn(tcb)) = self.sockets.get(&id) else {
                continue;
            };
            let Some(timer) = tcb.expired_timer(now) else {
                continue;
            };
            let cause = Cause::Timer(timer.kind());
            match timer {
                Timer::TimeWait => self.drive(now, id, cause, |tcb, ctx| {
                    tcb.set_state(ctx, TcpState::Closed, Rule::TimeWaitTimeout)
                }),
                Timer::Retransmit => self.drive(now, id, cause, |tcb, ctx| tcb.retransmit(ctx)),
                Timer::Persist => self.drive(now, id, cause, |tcb, ctx| tcb.persist_timeout(ctx)),
                Timer::DelayedAck => self.drive(now, id, cause, |tcb, _| tcb.delayed_ack_timeout()),
                Timer::CompressedAck => {
                    self.drive(now, id, cause, |tcb, _| tcb.compressed_ack_timeout())
                }
                Timer::Reorder => self.drive(now, id, cause, |tcb, ctx| tcb.reorder_timeout(ctx)),
                Timer::Probe => self.drive(now, id, cause, |tcb, ctx| tcb.probe_timeout(ctx)),
                Timer::Keepalive => {
                    self.drive(now, id, cause, |tcb, ctx| tcb.keepalive_timeout(ctx))
                }
            }
        }
        let name = &self.config.name;
        let failed = self.arp.poll(now, name, &mut self.frames, &mut self.events);
        for f in failed {
            self.drop_event(
                now,
                format!(
                    "{} packet(s) for {}: no ARP reply after {} requests",
                    f.packets.len(),
                    f.hop,
                    f.tries
                ),
                None,
            );
        }
    }

    /// `listen(port, backlog)`: a passive OPEN (RFC 9293 §3.10.1).
    fn bind_port(&self, port: u16, reuse_addr: bool) -> Result<(), SocketError> {
        // Linux's inet_csk_bind_conflict: a listener always holds its port; a connection
        // holds it unless both its socket and the new one set SO_REUSEADDR.
        let held = |s: &Socket| match s {
            Socket::Listener(l) => !l.closed && l.local.port() == port,
            Socket::Conn(tcb) => {
                let both_reuse = reuse_addr && tcb.options().reuse_addr;
                !both_reuse && tcb.local().port() == port && tcb.state() != TcpState::Closed
            }
            Socket::Udp(_) => false,
        };
        if self.sockets.values().any(held) {
            Err(SocketError::AddrInUse)
        } else {
            Ok(())
        }
    }

    fn is_own_address(&self, ip: Ipv4Addr) -> bool {
        ip.is_unspecified() || self.is_local(ip)
    }

    fn source_address(&self, remote: Ipv4Addr) -> Ipv4Addr {
        if remote.is_loopback() {
            Ipv4Addr::LOCALHOST
        } else {
            self.config.ip
        }
    }

    fn default_buffers(&self) -> (u32, u32) {
        (self.config.rcv_buf, self.config.snd_buf)
    }

    fn segment_size(&self, id: SocketId) -> Option<u16> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.segment_size()),
            Socket::Listener(_) | Socket::Udp(_) => None,
        }
    }

    fn ephemeral_tcp_port(&mut self) -> Option<u16> {
        let anywhere = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        Some(self.ephemeral_port(PortUse::Bind, Ipv4Addr::UNSPECIFIED, anywhere))
    }

    fn listen_on(
        &mut self,
        now: Time,
        local: SocketAddrV4,
        backlog: u32,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError> {
        let port = local.port();
        if self.listeners.contains_key(&port) {
            return Err(SocketError::AddrInUse);
        }
        if !local.ip().is_unspecified() && !self.is_local(*local.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        let id = self.new_socket_id();
        self.listeners.insert(port, id);
        self.sockets.insert(
            id,
            Socket::Listener(Listener {
                id,
                local,
                backlog,
                syn_queue: Vec::new(),
                accept_queue: VecDeque::new(),
                cookies: 0,
                closed: false,
                options,
            }),
        );
        self.listener_transition(
            now,
            id,
            local,
            (TcpState::Closed, TcpState::Listen),
            format!("listen({port}, backlog={backlog})"),
            Rule::OpenPassive,
        );
        Ok(id)
    }

    /// `accept()`: the next established connection of a listener, or `None` if there is
    /// none yet (the call would block).
    fn accept(&mut self, _now: Time, listener: SocketId) -> Result<Option<SocketId>, SocketError> {
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&listener) else {
            return Err(SocketError::InvalidArgument);
        };
        if l.closed {
            return Err(SocketError::BadSocket);
        }
        let Some(id) = l.accept_queue.pop_front() else {
            return Ok(None);
        };
        if let Some(Socket::Conn(tcb)) = self.sockets.get_mut(&id) {
            tcb.accepted();
        }
        self.reindex(id);
        Ok(Some(id))
    }

    /// `connect((ip, port))`: an active OPEN (RFC 9293 §3.10.1), from `local` where the
    /// socket was bound. Returns at once; the connection is usable when
    /// [`Host::connect_status`] says so.
    fn connect_from(
        &mut self,
        now: Time,
        remote: SocketAddrV4,
        local: Option<SocketAddrV4>,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError> {
        if !self.is_local(*remote.ip()) && self.next_hop(now, *remote.ip()).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        // Source address selection: through lo, a loopback address answers from 127.0.0.1.
        let ip = match local {
            Some(l) if !l.ip().is_unspecified() => *l.ip(),
            _ if remote.ip().is_loopback() => Ipv4Addr::LOCALHOST,
            _ => self.config.ip,
        };
        let port = match local {
            Some(l) if l.port() != 0 => l.port(),
            _ => self.ephemeral_port(PortUse::Connect, ip, remote),
        };
        if self
            .conn_index
            .contains_key(&(port, *remote.ip(), remote.port()))
        {
            // The same four numbers as a connection that still exists (Linux: EADDRNOTAVAIL).
            return Err(SocketError::AddrNotAvailable);
        }
        let local = SocketAddrV4::new(ip, port);
        let init = self.tcb_init(now, local, remote, options);
        let id = init.id;
        let mut ctx = Ctx {
            now,
            host: &self.config.name,
            cause: Cause::Call(format!("connect({remote})")),
            events: &mut self.events,
            segments: &mut self.tcp_out,
        };
        let tcb = Tcb::active_open(init, &mut ctx);
        self.conn_index
            .insert((local.port(), *remote.ip(), remote.port()), id);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.flush_tcp(now);
        self.reindex(id);
        Ok(id)
    }

    /// `None` while the handshake is under way; then whether it succeeded.
    fn connect_status(&self, id: SocketId) -> Option<Result<(), SocketError>> {
        let tcb = match self.tcb(id) {
            Ok(tcb) => tcb,
            Err(e) => return Some(Err(e)),
        };
        match (tcb.state(), tcb.error()) {
            (TcpState::SynSent | TcpState::SynReceived, _) => None,
            (
                TcpState::Closed,
                Some(e @ (SocketError::ConnectionRefused | SocketError::TimedOut)),
            ) => Some(Err(e)),
            _ => Some(Ok(())),
        }
    }

    fn send(&mut self, now: Time, id: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        self.send_flagged(now, id, data, false)
    }

    fn send_more(&mut self, now: Time, id: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        self.send_flagged(now, id, data, true)
    }

    /// `setsockopt`: on a connection, what the option releases leaves at once; on a
    /// listener, its connections inherit it.
    fn set_option(
        &mut self,
        now: Time,
        id: SocketId,
        option: SocketOption,
    ) -> Result<(), SocketError> {
        match self.sockets.get_mut(&id) {
            Some(Socket::Listener(l)) if !l.closed => l.options.apply(option),
            Some(Socket::Conn(tcb)) if !tcb.is_orphaned() => {
                let cause = Cause::Call(format!("setsockopt({option})"));
                self.drive(now, id, cause, |tcb, _| tcb.set_option(option));
            }
            Some(Socket::Udp(u)) => u.options.apply(option),
            _ => return Err(SocketError::BadSocket),
        }
        self.reindex(id);
        Ok(())
    }

    /// `recv(max)`: up to `max` octets; `Some(empty)` at end of stream; `None` if nothing has
    /// arrived yet (the call would block) (RFC 9293 §3.10.3).
    fn recv(
        &mut self,
        now: Time,
        id: SocketId,
        max: usize,
    ) -> Result<Option<Vec<u8>>, SocketError> {
        let tcb = self.tcb(id)?;
        if !tcb.has_unread() {
            return nothing_to_read(tcb);
        }
        let mut data = Vec::new();
        let cause = Cause::Call(format!("recv({max})"));
        self.drive(now, id, cause, |tcb, ctx| data = tcb.read(ctx.now, max));
        Ok(Some(data))
    }

    /// `recv(max, MSG_PEEK)`: as `recv`, the data left to be read again.
    fn peek(&mut self, id: SocketId, max: usize) -> Result<Option<Vec<u8>>, SocketError> {
        let tcb = self.tcb(id)?;
        if !tcb.has_unread() {
            return nothing_to_read(tcb);
        }
        Ok(Some(tcb.peek(max)))
    }

    /// `shutdown(SHUT_WR)`: the RFC's CLOSE of our sending direction; we can still receive.
    fn shutdown_write(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        let tcb = self.tcb(id)?;
        if tcb.fin_queued() {
            return Ok(());
        }
        if !matches!(
            tcb.state(),
            TcpState::SynReceived | TcpState::Established | TcpState::CloseWait
        ) {
            return Err(SocketError::NotConnected);
        }
        let cause = Cause::Call("shutdown(SHUT_WR)".to_string());
        self.drive(now, id, cause, Tcb::close_sending_side);
        Ok(())
    }

    /// `close()`: release the socket. On a connection this is the RFC's CLOSE (§3.10.4), or
    /// an abort if unread data would be lost; on a listener it stops listening.
    fn close(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        match self.sockets.get(&id) {
            None => return Err(SocketError::BadSocket),
            Some(Socket::Listener(_)) => return self.close_listener(now, id),
            Some(Socket::Udp(u)) => {
                let port = u.local.port();
                self.udp_ports.remove(&port);
                self.sockets.remove(&id);
                return Ok(());
            }
            Some(Socket::Conn(tcb)) if tcb.is_orphaned() => return Err(SocketError::BadSocket),
            Some(Socket::Conn(tcb)) if tcb.has_unread() => {
                return self.abort_with(now, id, "close() with unread data", Rule::CloseUnreadData);
            }
            Some(Socket::Conn(_)) => {}
        }
        let cause = Cause::Call("close()".to_string());
        self.drive(now, id, cause, Tcb::close);
        Ok(())
    }

    /// Abort with RST: what `close()` does with SO_LINGER set to zero, or a program that dies.
    fn abort(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        self.tcb(id)?;
        self.abort_with(now, id, "abort()", Rule::Abort)
    }

    /// SYNs with forged sources, each from a random address of `from` and a random port,
    /// as a flooding tool sends them: raw, no socket, nothing remembered.
    fn syn_flood(
        &mut self,
        now: Time,
        dst: SocketAddrV4,
        count: u32,
        (net, prefix): (Ipv4Addr, u8),
    ) -> Result<(), SocketError> {
        let Some(hop) = self.next_hop(now, *dst.ip()) else {
            return Err(SocketError::NetworkUnreachable);
        };
        let hosts = 1u64 << (32 - u32::from(prefix.min(31)));
        for _ in 0..count {
            let offset = 1 + self.rng.next_u64() % (hosts - 2);
            let src = Ipv4Addr::from(u32::from(net).wrapping_add(offset as u32));
            let seg = TcpSegment {
                src_port: 1024 + (self.rng.next_u32() % 64000) as u16,
                dst_port: dst.port(),
                seq: self.rng.next_u32(),
                flags: wire::TcpFlags {
                    syn: true,
                    ..wire::TcpFlags::default()
                },
                window: 64240,
                mss: Some(1460),
                checksum_ok: true,
                ..TcpSegment::default()
            };
            self.ip_ident = self.ip_ident.wrapping_add(1);
            let packet = Ipv4Packet {
                src,
                dst: *dst.ip(),
                ttl: 64,
                ident: self.ip_ident,
                header_checksum_ok: true,
                payload: Ipv4Payload::Tcp(seg),
            };
            let name = &self.config.name;
            let out = Outgoing::Built(packet);
            self.arp
                .send(now, name, hop, out, &mut self.frames, &mut self.events);
        }
        Ok(())
    }

    /// `socket(AF_INET, SOCK_DGRAM)` and `bind(('', port))`; port 0 picks an ephemeral one.
    fn udp_bind_on(&mut self, _now: Time, local: SocketAddrV4) -> Result<SocketId, SocketError> {
        if !local.ip().is_unspecified() && !self.is_local(*local.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        let port = match local.port() {
            0 => self.ephemeral_port(PortUse::Udp, *local.ip(), local),
            port => port,
        };
        if self.udp_ports.contains_key(&port) {
            return Err(SocketError::AddrInUse);
        }
        let id = self.new_socket_id();
        self.udp_ports.insert(port, id);
        self.sockets.insert(
            id,
            Socket::Udp(UdpSocket {
                local: SocketAddrV4::new(*local.ip(), port),
                queue: VecDeque::new(),
                peer: None,
                error: None,
                options: SocketOptions::default(),
            }),
        );
        Ok(id)
    }

    fn udp_connect(&mut self, id: SocketId, remote: SocketAddrV4) -> Result<(), SocketError> {
        let Some(Socket::Udp(u)) = self.sockets.get_mut(&id) else {
            return Err(SocketError::BadSocket);
        };
        u.peer = Some(remote);
        u.error = None;
        Ok(())
    }

    /// `sendto(data, addr)`: one datagram, no connection, no handshake, no retransmission
    /// (RFC 768).
    fn sendto(
        &mut self,
        now: Time,
        id: SocketId,
        data: &[u8],
        remote: SocketAddrV4,
    ) -> Result<usize, SocketError> {
        let Some(Socket::Udp(u)) = self.sockets.get(&id) else {
            return Err(SocketError::BadSocket);
        };
        let (src_port, options, src) = (u.local.port(), u.options, *u.local.ip());
        if remote.ip().is_broadcast() && self.config.gateway.is_none() {
            // Linux routes the limited broadcast by the default route: without one, nowhere.
            return Err(SocketError::NetworkUnreachable);
        }
        if self.is_broadcast(*remote.ip()) && !options.broadcast {
            // Linux's rule (ip_route_output: a broadcast route needs SOCK_BROADCAST).
            return Err(SocketError::PermissionDenied);
        }
        // No IP fragmentation here: a datagram must fit one packet of the interface.
        let mtu = if self.is_local(*remote.ip()) {
            usize::from(LOOPBACK_MSS) + 40
        } else {
            usize::from(self.config.mtu)
        };
        if data.len() > mtu - 28 {
            return Err(SocketError::MessageTooLong);
        }
        let routed = self.is_local(*remote.ip()) || self.is_broadcast(*remote.ip());
        if !routed && self.next_hop(now, *remote.ip()).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        let datagram = wire::UdpDatagram {
            src_port,
            dst_port: remote.port(),
            payload: data.to_vec(),
            checksum_ok: true,
        };
        let ttl = options.ttl.unwrap_or(crate::tcp::DEFAULT_TTL);
        let src = (!src.is_unspecified()).then_some(src);
        self.ip_output_ttl(now, (src, *remote.ip()), Ipv4Payload::Udp(datagram), ttl);
        Ok(data.len())
    }

    /// `recvfrom(max)`: the next datagram whole, cut to `max` octets (the rest of it is
    /// lost, as in Python), and who sent it; `None` while none has arrived. An ICMP error
    /// about a connected socket's peer is reported once, instead.
    fn recvfrom(
        &mut self,
        _now: Time,
        id: SocketId,
        max: usize,
    ) -> Result<Option<(Vec<u8>, SocketAddrV4)>, SocketError> {
        let Some(Socket::Udp(u)) = self.sockets.get_mut(&id) else {
            return Err(SocketError::BadSocket);
        };
        if let Some(error) = u.error.take() {
            return Err(error);
        }
        Ok(u.queue.pop_front().map(|(from, mut data)| {
            data.truncate(max);
            (data, from)
        }))
    }

    /// Connections that are not CLOSED (listeners not counted).
    fn open_connections(&self) -> usize {
        self.sockets
            .values()
            .filter(|s| matches!(s, Socket::Conn(tcb) if tcb.state() != TcpState::Closed))
            .count()
    }

    /// The state and addresses of a socket, if it still exists.
    fn tcp_info(&self, id: SocketId) -> Option<crate::TcpInfo> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.info()),
            Socket::Listener(_) | Socket::Udp(_) => None,
        }
    }

    fn info(&self, id: SocketId) -> Option<SocketInfo> {
        match self.sockets.get(&id)? {
            Socket::Listener(l) => Some(SocketInfo {
                state: if l.closed {
                    TcpState::Closed
                } else {
                    TcpState::Listen
                },
                local: l.local,
                remote: None,
            }),
            Socket::Udp(u) => Some(SocketInfo {
                state: TcpState::Closed,
                local: u.local,
                remote: u.peer,
            }),
            Socket::Conn(tcb) => Some(SocketInfo {
                state: tcb.state(),
                local: tcb.local(),
                remote: Some(tcb.remote()),
            }),
        }
    }

    fn readiness(&self, id: SocketId) -> Option<Readiness> {
        Some(match self.sockets.get(&id)? {
            Socket::Listener(l) => Readiness {
                readable: !l.accept_queue.is_empty() || l.closed,
                writable: false,
            },
            Socket::Udp(u) => Readiness {
                readable: !u.queue.is_empty() || u.error.is_some(),
                writable: true,
            },
            Socket::Conn(tcb) => {
                let over = tcb.state() == TcpState::Closed || tcb.error().is_some();
                let can_send = matches!(tcb.state(), TcpState::Established | TcpState::CloseWait)
                    && !tcb.fin_queued()
                    && tcb.send_space() > 0;
                Readiness {
                    readable: tcb.has_unread() || tcb.peer_closed() || over,
                    writable: can_send || over,
                }
            }
        })
    }
}
