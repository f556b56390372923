//! The reference peer: a host whose TCP/IP is smoltcp, behind the same [`Engine`] interface
//! as packetlab's own stack, so that every lesson and every interop test can put an
//! independent implementation at the other end.
//!
//! smoltcp keeps its TCB private, so its transitions are found by comparing every socket's
//! state before and after each frame, call and timer, and are logged with that cause. Its
//! documented differences from RFC 9293 and from Linux show in lessons and are said there:
//!
//! - TIME-WAIT lasts a fixed 10 s (not 2×MSL).
//! - There is no listen backlog: a listener is a pool of sockets in LISTEN, one per
//!   connection it may hold unaccepted (`backlog + 1` here); when all are taken, a SYN is
//!   answered with RST instead of being queued or dropped.
//! - `close()` changes the state at once, before the FIN leaves; `close()` with unread data
//!   sends a FIN, not a RST.
//! - No retransmission count: a connection is aborted when its timeout passes without
//!   progress ([`ABORT_TIMEOUT`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

mod device;
mod driven;
mod rules;
mod sockets;

use device::{QueueDevice, smol, std_ip};
use rules::{rule, state_of};
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use sockets::apply_options;
use stack::{
    Driven, Engine, HostConfig, SocketApi, SocketError, SocketId, SocketInfo, SocketOption,
};
use trace::{
    Cause, Endpoint, Event, EventKind, Note, Rule, SocketNote, TcpNote, TcpState, TcpVars, Time,
    TimerKind,
};
use wire::{EthPayload, Ipv4Payload};

/// Which implementation a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// packetlab's own stack.
    Packetlab,
    /// smoltcp, the reference peer.
    Smoltcp,
}

impl EngineKind {
    /// A host of this kind with this configuration.
    pub fn build(self, config: HostConfig) -> Box<dyn Engine> {
        match self {
            EngineKind::Packetlab => Box::new(stack::Host::new(config)),
            EngineKind::Smoltcp => Box::new(SmolHost::new(config)),
        }
    }
}

/// smoltcp has no retransmission limit; a connection that hears nothing from its peer for
/// this long is aborted (RFC 9293 §3.8.3's R2 as a time, as the RFC allows): 15 minutes,
/// beyond the 10 our stack spends on its 15 retransmissions (Linux's tcp_retries2), so that
/// the reference does not give up on a peer that has not. smoltcp counts idle time too.
pub const ABORT_TIMEOUT: Duration = Duration::from_secs(900);
/// smoltcp's default ACK delay.
const ACK_DELAY: Duration = Duration::from_millis(10);

/// One socket as the program sees it.
#[derive(Debug)]
struct Entry {
    handle: SocketHandle,
    state: TcpState,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    /// The listener whose pool this socket is in, until accepted.
    pool_of: Option<SocketId>,
    error: Option<SocketError>,
    /// The program has closed it: it goes away once CLOSED.
    released: bool,
}

#[derive(Debug)]
struct Listener {
    local: SocketAddr,
    pool: Vec<SocketId>,
    closed: bool,
    options: (bool, bool),
}

/// A host whose TCP/IP is smoltcp.
pub struct SmolHost {
    config: HostConfig,
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    entries: BTreeMap<SocketId, Entry>,
    listeners: BTreeMap<SocketId, Listener>,
    next_id: SocketId,
    /// Where ephemeral ports come from: Linux's range, as our host takes them.
    ports: stack::Ports,
    events: Vec<Event>,
    next_poll: Option<Time>,
    /// The connection variables as the segments on the wire show them, per (local port,
    /// remote address), since smoltcp's own are private.
    seen: BTreeMap<(u16, SocketAddr), TcpVars>,
    /// How many of `device.tx` have been looked at.
    observed_tx: usize,
    /// UDP sockets: smoltcp's handle and the bound port.
    udp: BTreeMap<SocketId, (SocketHandle, u16)>,
}

impl std::fmt::Debug for SmolHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmolHost")
            .field("name", &self.config.name)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

/// A connection's two ends, once smoltcp knows them (an accepted one's, after its SYN).
fn learn_ends(entry: &mut Entry, socket: &tcp::Socket) {
    if let Some(remote) = socket.remote_endpoint() {
        entry.remote = Some(SocketAddr::new(std_ip(remote.addr), remote.port));
    }
    if let Some(local) = socket.local_endpoint() {
        entry.local = SocketAddr::new(std_ip(local.addr), local.port);
    }
}

/// The error a connection that has just closed reports to its program: what an RST or
/// smoltcp's timeout did to it; none for an orderly close.
fn error_on_close(from: TcpState, cause: &Cause, rst: bool) -> Option<SocketError> {
    use TcpState::*;
    match (from, cause) {
        (SynSent | SynReceived, Cause::Frame(_)) if rst => Some(SocketError::ConnectionRefused),
        (Established | FinWait1 | FinWait2 | CloseWait, Cause::Frame(_)) if rst => {
            Some(SocketError::ConnectionReset)
        }
        (TimeWait | LastAck | Closing, _) => None,
        (_, Cause::Timer(_)) => Some(SocketError::TimedOut),
        _ => None,
    }
}

/// The note for a connection smoltcp gave up on.
fn timed_out(now: Time, host: &str, id: SocketId) -> Event {
    Event {
        t: now,
        kind: EventKind::Note {
            node: host.to_string(),
            note: Note::Tcp(SocketNote {
                socket: id,
                what: TcpNote::SmoltcpTimedOut {
                    secs: ABORT_TIMEOUT.secs(),
                },
            }),
        },
    }
}

fn instant(t: Time) -> Instant {
    Instant::from_micros((t.0 / 1_000) as i64)
}

impl SmolHost {
    /// A smoltcp host with this address, buffers and seed.
    pub fn new(config: HostConfig) -> SmolHost {
        let mut device = QueueDevice {
            mtu: usize::from(config.mtu) + 14,
            ..QueueDevice::default()
        };
        let secret = (config.numbering == stack::Numbering::Secret).then(stack::Secret::new);
        let ports = stack::Ports::new(config.numbering, config.seed);
        let mut iface_config = Config::new(EthernetAddress(config.mac.0).into());
        // smoltcp draws its ISNs from this seed: the host's own (every run the same), or the
        // secret's on a real network, where a rerun must not repeat them.
        iface_config.random_seed = secret.as_ref().map_or(config.seed, stack::Secret::seed);
        let mut iface = Interface::new(iface_config, &mut device, Instant::ZERO);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(config.ip), config.prefix))
                .expect("one address fits");
            // With IPv6, its link-local address from the MAC first, as ours (RFC 4291).
            if !config.ip6.is_empty() {
                let link_local = IpAddress::Ipv6(stack::link_local(config.mac));
                let _ = addrs.push(IpCidr::new(link_local, 64));
            }
            for (addr, len) in config.ip6.iter().take(2) {
                let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(*addr), *len));
            }
        });
        if let Some(gateway) = config.gateway {
            iface
                .routes_mut()
                .add_default_ipv4_route(gateway)
                .expect("one route fits");
        }
        if let Some(gateway) = config.gateway6 {
            iface
                .routes_mut()
                .add_default_ipv6_route(gateway)
                .expect("one route fits");
        }
        SmolHost {
            config,
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            entries: BTreeMap::new(),
            listeners: BTreeMap::new(),
            next_id: 1,
            ports,
            events: Vec::new(),
            next_poll: None,
            seen: BTreeMap::new(),
            observed_tx: 0,
            udp: BTreeMap::new(),
        }
    }

    /// The next ephemeral port towards `remote` (for `what`), as our host chooses it:
    /// Linux's range and parity, seeded or keyed by a secret; not one a socket holds.
    fn ephemeral_port(&mut self, what: stack::PortUse, remote: SocketAddr) -> u16 {
        let held: std::collections::BTreeSet<u16> = self
            .sockets
            .iter()
            .map(|(_, socket)| match socket {
                smoltcp::socket::Socket::Tcp(tcp) => tcp
                    .local_endpoint()
                    .map_or(tcp.listen_endpoint().port, |e| e.port),
                smoltcp::socket::Socket::Udp(udp) => udp.endpoint().port,
            })
            .collect();
        self.ports
            .choose(what, (self.config.ip.into(), remote), |p| {
                !held.contains(&p)
            })
            .unwrap_or(*stack::EPHEMERAL_PORTS.start())
    }

    /// Read SND.UNA, SND.NXT, RCV.NXT and both windows off a segment going out or coming in.
    fn observe(&mut self, bytes: &[u8], outgoing: bool) {
        let Ok(frame) = wire::decode(bytes) else {
            return;
        };
        let (src, dst, seg): (IpAddr, IpAddr, _) = match frame.payload {
            EthPayload::Ipv4(ip) => match ip.payload {
                Ipv4Payload::Tcp(seg) => (ip.src.into(), ip.dst.into(), seg),
                _ => return,
            },
            EthPayload::Ipv6(ip) => match ip.payload {
                wire::Ipv6Payload::Tcp(seg) => (ip.src.into(), ip.dst.into(), seg),
                _ => return,
            },
            _ => return,
        };
        let key = if outgoing {
            (seg.src_port, SocketAddr::new(dst, seg.dst_port))
        } else {
            (seg.dst_port, SocketAddr::new(src, seg.src_port))
        };
        let vars = self.seen.entry(key).or_default();
        if outgoing {
            let end = seg.seq.wrapping_add(seg.seg_len());
            if end.wrapping_sub(vars.snd_nxt) as i32 > 0 || vars.snd_nxt == 0 {
                vars.snd_nxt = end;
            }
            if seg.flags.ack {
                vars.rcv_nxt = seg.ack;
            }
            vars.rcv_wnd = u32::from(seg.window);
        } else if seg.flags.ack {
            vars.snd_una = seg.ack;
            vars.snd_wnd = u32::from(seg.window);
        }
    }

    fn new_socket(&mut self, options: (bool, bool)) -> SocketHandle {
        let rx = tcp::SocketBuffer::new(vec![0; self.config.rcv_buf as usize]);
        let tx = tcp::SocketBuffer::new(vec![0; self.config.snd_buf as usize]);
        let mut socket = tcp::Socket::new(rx, tx);
        socket.set_timeout(Some(ABORT_TIMEOUT));
        apply_options(&mut socket, options);
        self.sockets.add(socket)
    }

    /// Our address towards `remote`: the IPv4 one, or the first IPv6 one of its scope.
    fn local_for(&self, remote: IpAddr) -> IpAddr {
        match remote {
            IpAddr::V4(_) => self.config.ip.into(),
            IpAddr::V6(r) if r.segments()[0] & 0xffc0 == 0xfe80 => {
                stack::link_local(self.config.mac).into()
            }
            IpAddr::V6(_) => self.config.ip6.first().map_or(remote, |(a, _)| (*a).into()),
        }
    }

    fn new_id(&mut self) -> SocketId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn socket(&mut self, id: SocketId) -> Result<&mut tcp::Socket<'static>, SocketError> {
        let entry = self.entries.get(&id).ok_or(SocketError::BadSocket)?;
        if entry.released {
            return Err(SocketError::BadSocket);
        }
        Ok(self.sockets.get_mut::<tcp::Socket>(entry.handle))
    }

    /// What a read of a socket with nothing queued gives: its error, the end of the
    /// stream (empty), or `None` while more may come.
    fn nothing_queued(
        &mut self,
        id: SocketId,
        error: Option<SocketError>,
    ) -> Result<Option<Vec<u8>>, SocketError> {
        if let Some(error) = error {
            return Err(error);
        }
        let socket = self.socket(id)?;
        let ended = !socket.may_recv()
            && !matches!(
                socket.state(),
                tcp::State::SynSent | tcp::State::SynReceived | tcp::State::Listen
            );
        Ok(ended.then(Vec::new))
    }

    /// Run smoltcp's output until it has nothing more to send.
    fn egress(&mut self, now: Time) {
        for _ in 0..100_000 {
            let sent = self
                .iface
                .poll_egress(instant(now), &mut self.device, &mut self.sockets);
            if matches!(sent, PollResult::None) {
                break;
            }
        }
    }

    /// Compare every socket's state with the last one seen and log the transitions, with
    /// their cause; then forget sockets that are closed and released, and note the next
    /// deadline.
    fn settle(&mut self, now: Time, cause: Cause, rst: bool) {
        let sent: Vec<Vec<u8>> = self.device.tx[self.observed_tx..].to_vec();
        for frame in &sent {
            self.observe(frame, true);
        }
        self.observed_tx = self.device.tx.len();
        let mut gone = Vec::new();
        for (&id, entry) in &mut self.entries {
            let socket = self.sockets.get_mut::<tcp::Socket>(entry.handle);
            let state = state_of(socket.state());
            if entry.remote.is_none() {
                learn_ends(entry, socket);
            }
            if state != entry.state {
                let from = entry.state;
                entry.state = state;
                if state == TcpState::Closed && entry.error.is_none() {
                    entry.error = error_on_close(from, &cause, rst);
                    if matches!(entry.error, Some(SocketError::TimedOut)) {
                        self.events.push(timed_out(now, &self.config.name, id));
                    }
                }
                let applied = rule(from, state, &cause);
                self.events.push(Event {
                    t: now,
                    kind: EventKind::TcpTransition {
                        endpoint: Endpoint {
                            host: self.config.name.clone(),
                            socket: id,
                            local: entry.local,
                            remote: entry.remote,
                        },
                        from,
                        to: state,
                        cause: cause.clone(),
                        rule: applied.0,
                        detail: applied.1,
                        // smoltcp keeps its TCB private: these are read off the wire.
                        vars: entry
                            .remote
                            .and_then(|r| self.seen.get(&(entry.local.port(), r)))
                            .copied()
                            .unwrap_or_default(),
                    },
                });
            }
            if state == TcpState::Closed && entry.released {
                gone.push(id);
            }
        }
        for id in gone {
            if let Some(entry) = self.entries.remove(&id) {
                self.sockets.remove(entry.handle);
            }
        }
        let at = self
            .iface
            .poll_at(instant(now), &self.sockets)
            .map(|i| Time(i.total_micros().max(0) as u64 * 1_000));
        // A deadline that is not in the future would stall the clock; smoltcp has just
        // been polled, so the next useful moment is later.
        self.next_poll = at.map(|t| t.max(now + Time(1_000)));
    }

    /// A call: let smoltcp send what it wants, then log what changed.
    fn after_call(&mut self, now: Time, call: String) {
        self.egress(now);
        self.settle(now, Cause::Call(call), false);
    }
}
