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

use device::{QueueDevice, smol, std_ip};
use rules::{rule, state_of};
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use stack::{
    Driven, Engine, HostConfig, SocketApi, SocketError, SocketId, SocketInfo, SocketOption,
};
use trace::{Cause, Endpoint, Event, EventKind, Rule, TcpState, TcpVars, Time, TimerKind};
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
                    entry.error = match (from, &cause) {
                        (TcpState::SynSent | TcpState::SynReceived, Cause::Frame(_)) if rst => {
                            Some(SocketError::ConnectionRefused)
                        }
                        (
                            TcpState::Established
                            | TcpState::FinWait1
                            | TcpState::FinWait2
                            | TcpState::CloseWait,
                            Cause::Frame(_),
                        ) if rst => Some(SocketError::ConnectionReset),
                        (TcpState::TimeWait | TcpState::LastAck | TcpState::Closing, _) => None,
                        (_, Cause::Timer(_)) => {
                            self.events.push(Event {
                                t: now,
                                kind: EventKind::Note {
                                    node: self.config.name.clone(),
                                    text: format!(
                                        "socket {id}: connection aborted: no progress for \
                                         smoltcp's timeout of {} s (smoltcp counts time, \
                                         not retransmissions)",
                                        ABORT_TIMEOUT.secs()
                                    ),
                                },
                            });
                            Some(SocketError::TimedOut)
                        }
                        _ => None,
                    };
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

impl SocketApi for SmolHost {
    /// smoltcp listens on a port, on every address; the options it takes are set with
    /// `set_option` once it has a socket.
    fn listen_on(
        &mut self,
        now: Time,
        local: SocketAddr,
        backlog: u32,
        _options: stack::SocketOptions,
    ) -> Result<SocketId, SocketError> {
        let port = local.port();
        if self
            .listeners
            .values()
            .any(|l| !l.closed && l.local.port() == port)
        {
            return Err(SocketError::AddrInUse);
        }
        let id = self.new_id();
        // smoltcp's listener takes every address it has: of both families where it has IPv6.
        let any = if self.config.ip6.is_empty() {
            self.config.ip.into()
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        };
        let local = SocketAddr::new(any, port);
        self.listeners.insert(
            id,
            Listener {
                local,
                pool: Vec::new(),
                closed: false,
                options: (false, false),
            },
        );
        for _ in 0..=backlog {
            self.refill(id);
        }
        let rule = format!(
            "smoltcp: {} sockets in LISTEN (smoltcp has no backlog: one listening socket per \
             connection it may hold)",
            backlog + 1
        );
        let call = format!("listen({port}, backlog={backlog})");
        self.listener_event(
            now,
            (id, local),
            (TcpState::Closed, TcpState::Listen),
            call,
            (Rule::OpenPassive, rule),
        );
        Ok(id)
    }

    fn accept(&mut self, now: Time, listener: SocketId) -> Result<Option<SocketId>, SocketError> {
        let l = self
            .listeners
            .get(&listener)
            .ok_or(SocketError::InvalidArgument)?;
        if l.closed {
            return Err(SocketError::BadSocket);
        }
        let ready = l.pool.iter().copied().find(|id| {
            !matches!(
                self.entries.get(id).map(|e| e.state),
                Some(TcpState::Listen | TcpState::SynReceived) | None
            )
        });
        let Some(id) = ready else {
            return Ok(None);
        };
        if let Some(l) = self.listeners.get_mut(&listener) {
            l.pool.retain(|&p| p != id);
        }
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.pool_of = None;
        }
        self.refill(listener);
        self.settle(now, Cause::Call("accept()".to_string()), false);
        Ok(Some(id))
    }

    /// smoltcp's end is an ephemeral port of its own choosing.
    fn connect_from(
        &mut self,
        now: Time,
        remote: SocketAddr,
        _local: Option<SocketAddr>,
        _options: stack::SocketOptions,
    ) -> Result<SocketId, SocketError> {
        let handle = self.new_socket((false, false));
        let port = self.ephemeral_port(stack::PortUse::Connect, remote);
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        let context = self.iface.context();
        if socket
            .connect(context, (smol(remote.ip()), remote.port()), port)
            .is_err()
        {
            self.sockets.remove(handle);
            return Err(SocketError::NetworkUnreachable);
        }
        let id = self.new_id();
        self.entries.insert(
            id,
            Entry {
                handle,
                state: TcpState::Closed,
                local: SocketAddr::new(self.local_for(remote.ip()), port),
                remote: Some(remote),
                pool_of: None,
                error: None,
                released: false,
            },
        );
        self.after_call(now, format!("connect({remote})"));
        Ok(id)
    }

    fn connect_status(&self, id: SocketId) -> Option<Result<(), SocketError>> {
        let Some(entry) = self.entries.get(&id) else {
            return Some(Err(SocketError::BadSocket));
        };
        match entry.state {
            TcpState::SynSent | TcpState::SynReceived => None,
            TcpState::Closed => Some(Err(entry.error.unwrap_or(SocketError::ConnectionRefused))),
            _ => Some(Ok(())),
        }
    }

    fn send(&mut self, now: Time, id: SocketId, data: &[u8]) -> Result<usize, SocketError> {
        let error = self.entries.get(&id).and_then(|e| e.error);
        let socket = self.socket(id)?;
        if !socket.may_send() {
            return match socket.state() {
                tcp::State::SynSent | tcp::State::SynReceived => Ok(0),
                tcp::State::Closed => Err(error.unwrap_or(SocketError::BrokenPipe)),
                _ => Err(SocketError::BrokenPipe),
            };
        }
        let n = socket
            .send_slice(data)
            .map_err(|_| SocketError::BrokenPipe)?;
        if n > 0 {
            self.after_call(now, format!("send({n} bytes)"));
        }
        Ok(n)
    }

    fn recv(
        &mut self,
        now: Time,
        id: SocketId,
        max: usize,
    ) -> Result<Option<Vec<u8>>, SocketError> {
        let error = self.entries.get(&id).and_then(|e| e.error);
        let socket = self.socket(id)?;
        if socket.can_recv() {
            let mut data = vec![0; max.min(socket.recv_queue())];
            let n = socket.recv_slice(&mut data).unwrap_or(0);
            data.truncate(n);
            self.after_call(now, format!("recv({max})"));
            return Ok(Some(data));
        }
        self.nothing_queued(id, error)
    }

    fn peek(&mut self, id: SocketId, max: usize) -> Result<Option<Vec<u8>>, SocketError> {
        let error = self.entries.get(&id).and_then(|e| e.error);
        let socket = self.socket(id)?;
        if socket.can_recv() {
            let mut data = vec![0; max.min(socket.recv_queue())];
            let n = socket.peek_slice(&mut data).unwrap_or(0);
            data.truncate(n);
            return Ok(Some(data));
        }
        self.nothing_queued(id, error)
    }

    fn shutdown_write(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        let socket = self.socket(id)?;
        if !socket.is_active() {
            return Err(SocketError::NotConnected);
        }
        // smoltcp's close() is a half-close: the FIN goes, receiving goes on.
        socket.close();
        self.after_call(now, "shutdown(SHUT_WR)".to_string());
        Ok(())
    }

    fn close(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        if let Some((handle, _)) = self.udp.remove(&id) {
            self.sockets.remove(handle);
            return Ok(());
        }
        if let Some(l) = self.listeners.get_mut(&id) {
            if l.closed {
                return Err(SocketError::BadSocket);
            }
            l.closed = true;
            let local = l.local;
            let pool = std::mem::take(&mut l.pool);
            for child in pool {
                if let Some(entry) = self.entries.get_mut(&child) {
                    entry.released = true;
                    self.sockets.get_mut::<tcp::Socket>(entry.handle).abort();
                }
            }
            self.listener_event(
                now,
                (id, local),
                (TcpState::Listen, TcpState::Closed),
                "close()".to_string(),
                (
                    Rule::CloseListen,
                    "smoltcp: the pool's unaccepted sockets are aborted".to_string(),
                ),
            );
            self.after_call(now, "close() of the listener".to_string());
            return Ok(());
        }
        self.release(now, id, "close()", tcp::Socket::close)
    }

    fn abort(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
        self.release(now, id, "abort()", tcp::Socket::abort)
    }

    /// smoltcp offers Nagle's algorithm and the delayed ACK as options; the rest are ours.
    fn set_option(
        &mut self,
        _now: Time,
        id: SocketId,
        option: SocketOption,
    ) -> Result<(), SocketError> {
        let change = |(nodelay, quickack): (bool, bool)| match option {
            SocketOption::NoDelay(on) => Ok((on, quickack)),
            SocketOption::QuickAck(on) => Ok((nodelay, on)),
            _ => Err(SocketError::Unsupported),
        };
        if let Some(l) = self.listeners.get_mut(&id) {
            l.options = change(l.options)?;
            let (options, pool) = (l.options, l.pool.clone());
            for child in pool {
                if let Some(entry) = self.entries.get(&child) {
                    apply_options(self.sockets.get_mut(entry.handle), options);
                }
            }
            return Ok(());
        }
        let socket = self.socket(id)?;
        let options = change((!socket.nagle_enabled(), socket.ack_delay().is_none()))?;
        apply_options(socket, options);
        Ok(())
    }

    /// smoltcp binds a port on every address, and has no options for UDP.
    fn udp_bind_on(
        &mut self,
        _now: Time,
        local: SocketAddr,
        _options: stack::SocketOptions,
    ) -> Result<SocketId, SocketError> {
        let port = local.port();
        let port = if port == 0 {
            self.ephemeral_port(
                stack::PortUse::Udp,
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            )
        } else {
            port
        };
        if self.udp.values().any(|(_, p)| *p == port) {
            return Err(SocketError::AddrInUse);
        }
        let buffer =
            || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket
            .bind(port)
            .map_err(|_| SocketError::InvalidArgument)?;
        let handle = self.sockets.add(socket);
        let id = self.new_id();
        self.udp.insert(id, (handle, port));
        Ok(id)
    }

    fn sendto(
        &mut self,
        now: Time,
        id: SocketId,
        data: &[u8],
        remote: SocketAddr,
    ) -> Result<usize, SocketError> {
        let (handle, _) = *self.udp.get(&id).ok_or(SocketError::BadSocket)?;
        let socket = self.sockets.get_mut::<udp::Socket>(handle);
        socket
            .send_slice(data, (smol(remote.ip()), remote.port()))
            .map_err(|_| SocketError::MessageTooLong)?;
        self.after_call(now, format!("sendto({} bytes, {remote})", data.len()));
        Ok(data.len())
    }

    fn recvfrom(
        &mut self,
        _now: Time,
        id: SocketId,
        max: usize,
    ) -> Result<Option<(Vec<u8>, SocketAddr)>, SocketError> {
        let (handle, _) = *self.udp.get(&id).ok_or(SocketError::BadSocket)?;
        let socket = self.sockets.get_mut::<udp::Socket>(handle);
        match socket.recv() {
            Ok((data, meta)) => {
                let from = SocketAddr::new(std_ip(meta.endpoint.addr), meta.endpoint.port);
                let data = data[..data.len().min(max)].to_vec();
                Ok(Some((data, from)))
            }
            Err(_) => Ok(None),
        }
    }

    fn info(&self, id: SocketId) -> Option<SocketInfo> {
        if let Some((_, port)) = self.udp.get(&id) {
            return Some(SocketInfo {
                state: TcpState::Closed,
                local: SocketAddr::new(self.config.ip.into(), *port),
                remote: None,
            });
        }
        if let Some(l) = self.listeners.get(&id) {
            return Some(SocketInfo {
                state: if l.closed {
                    TcpState::Closed
                } else {
                    TcpState::Listen
                },
                local: l.local,
                remote: None,
            });
        }
        let entry = self.entries.get(&id)?;
        Some(SocketInfo {
            state: entry.state,
            local: entry.local,
            remote: entry.remote,
        })
    }
}

/// TCP_NODELAY and TCP_QUICKACK, as smoltcp spells them.
fn apply_options(socket: &mut tcp::Socket, (nodelay, quickack): (bool, bool)) {
    socket.set_nagle_enabled(!nodelay);
    socket.set_ack_delay((!quickack).then_some(ACK_DELAY));
}

impl SmolHost {
    /// The program lets go of a socket (close or abort); it is forgotten once CLOSED.
    fn release(
        &mut self,
        now: Time,
        id: SocketId,
        call: &str,
        how: fn(&mut tcp::Socket<'static>),
    ) -> Result<(), SocketError> {
        how(self.socket(id)?);
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.released = true;
        }
        self.after_call(now, call.to_string());
        Ok(())
    }

    /// A listener's transition, caused by a call.
    fn listener_event(
        &mut self,
        now: Time,
        (id, local): (SocketId, SocketAddr),
        (from, to): (TcpState, TcpState),
        call: String,
        (rule, detail): (Rule, String),
    ) {
        self.events.push(Event {
            t: now,
            kind: EventKind::TcpTransition {
                endpoint: Endpoint {
                    host: self.config.name.clone(),
                    socket: id,
                    local,
                    remote: None,
                },
                from,
                to,
                cause: Cause::Call(call),
                rule,
                detail: Some(detail),
                vars: TcpVars::default(),
            },
        });
    }

    /// Put one more socket in LISTEN in a listener's pool.
    fn refill(&mut self, listener: SocketId) {
        let Some(l) = self.listeners.get(&listener) else {
            return;
        };
        let (local, options) = (l.local, l.options);
        let handle = self.new_socket(options);
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        if socket.listen(local.port()).is_err() {
            self.sockets.remove(handle);
            return;
        }
        let id = self.new_id();
        self.entries.insert(
            id,
            Entry {
                handle,
                state: TcpState::Listen,
                local,
                remote: None,
                pool_of: Some(listener),
                error: None,
                released: false,
            },
        );
        if let Some(l) = self.listeners.get_mut(&listener) {
            l.pool.push(id);
        }
    }
}
