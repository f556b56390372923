//! The driver's edge of a host ([`Driven`]: frames, timers, events) and its socket API
//! ([`SocketApi`]: the calls its programs make).

use super::*;

/// What `recv` gives when no data waits: the connection's error, the end of the stream
/// (`Some(empty)`) once the peer has closed, or `None` (it would block).
fn nothing_to_read(tcb: &Tcb) -> Result<Option<Vec<u8>>, SocketError> {
    if let Some(error) = tcb.error() {
        return Err(error);
    }
    let eof = tcb.peer_closed() || tcb.state() == TcpState::Closed;
    Ok(eof.then(Vec::new))
}

/// The driver's side of our host: a frame in, the timers run, what came of it taken out.
impl Driven for Host {
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
            .chain(self.poll_at6())
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
            let reason = f.drop_reason(false);
            self.drop_event(now, reason, None);
        }
        self.ndp_poll(now);
    }

    /// Connections that are not CLOSED (listeners not counted).
    fn open_connections(&self) -> usize {
        self.sockets
            .values()
            .filter(|s| matches!(s, Socket::Conn(tcb) if tcb.state() != TcpState::Closed))
            .count()
    }
}

/// The socket API of our host: the one place these calls are written (drivers and programs
/// reach them through the [`Engine`] trait).
impl SocketApi for Host {
    /// Send one ICMP echo request to `dst` with this TTL, like `ping -c 1 -t TTL`; returns
    /// the identifier its answer will carry.
    fn ping(&mut self, now: Time, dst: IpAddr, ttl: u8) -> Result<u16, SocketError> {
        let dst = match dst {
            IpAddr::V4(dst) => dst,
            IpAddr::V6(dst) => return self.ping6(now, dst, ttl),
        };
        if !self.is_local4(dst) && self.next_hop4(now, dst).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        let (id, data) = self.new_ping(now);
        let request = IcmpMessage::EchoRequest { id, seq: 1, data };
        self.ip_output_ttl(now, (None, dst), Ipv4Payload::Icmp(request), ttl);
        Ok(id)
    }

    /// What came back for the echo request `id`, if anything has.
    fn ping_result(&mut self, id: u16) -> Option<PingResult> {
        self.pings.get(&id).and_then(|(_, r)| r.clone())
    }

    fn bind_port(&self, local: SocketAddr, options: &SocketOptions) -> Result<(), SocketError> {
        // Linux's inet_csk_bind_conflict: a listener always holds its address; a connection
        // holds it unless both its socket and the new one set SO_REUSEADDR.
        let port = local.port();
        let new = Binding::of(local.ip(), options);
        if self.listeners.clashes(port, new) {
            return Err(SocketError::AddrInUse);
        }
        let held = |s: &Socket| match s {
            Socket::Conn(tcb) => {
                let both_reuse = options.reuse_addr && tcb.options().reuse_addr;
                let theirs = Binding::of(tcb.local().ip(), tcb.options());
                !both_reuse
                    && tcb.local().port() == port
                    && theirs.overlaps(new)
                    && tcb.state() != TcpState::Closed
            }
            Socket::Listener(_) | Socket::Udp(_) => false,
        };
        if self.sockets.values().any(held) {
            Err(SocketError::AddrInUse)
        } else {
            Ok(())
        }
    }

    fn has_ipv6(&self) -> bool {
        self.v6.is_some()
    }

    fn is_own_address(&self, ip: IpAddr) -> bool {
        ip.is_unspecified() || self.is_local(ip)
    }

    fn source_address(&self, remote: IpAddr) -> IpAddr {
        self.source_for(remote)
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
        let anywhere = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
        Some(self.ephemeral_port(PortUse::Bind, anywhere.ip(), anywhere))
    }

    fn listen_on(
        &mut self,
        now: Time,
        local: SocketAddr,
        backlog: u32,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError> {
        let port = local.port();
        let binding = Binding::of(local.ip(), &options);
        if self.listeners.clashes(port, binding) {
            return Err(SocketError::AddrInUse);
        }
        if !local.ip().is_unspecified() && !self.is_local(local.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        let id = self.new_socket_id();
        self.listeners.insert(port, id, binding);
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
        remote: SocketAddr,
        local: Option<SocketAddr>,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError> {
        if !self.is_local(remote.ip()) && self.next_hop(now, remote.ip()).is_none() {
            return Err(SocketError::NetworkUnreachable);
        }
        // Source address selection: through lo, a loopback address answers from 127.0.0.1.
        let ip = match local {
            Some(l) if !l.ip().is_unspecified() => l.ip(),
            _ => self.source_for(remote.ip()),
        };
        let port = match local {
            Some(l) if l.port() != 0 => l.port(),
            _ => self.ephemeral_port(PortUse::Connect, ip, remote),
        };
        if self
            .conn_index
            .contains_key(&(port, remote.ip(), remote.port()))
        {
            // The same four numbers as a connection that still exists (Linux: EADDRNOTAVAIL).
            return Err(SocketError::AddrNotAvailable);
        }
        let local = SocketAddr::new(ip, port);
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
            .insert((local.port(), remote.ip(), remote.port()), id);
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
                self.udp_ports.remove(port, id);
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
        dst: SocketAddr,
        count: u32,
        (net, prefix): (Ipv4Addr, u8),
    ) -> Result<(), SocketError> {
        let IpAddr::V4(dst_ip) = dst.ip() else {
            return Err(SocketError::Unsupported);
        };
        let Some(hop) = self.next_hop4(now, dst_ip) else {
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
                dst: dst_ip,
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
    fn udp_bind_on(
        &mut self,
        _now: Time,
        local: SocketAddr,
        options: SocketOptions,
    ) -> Result<SocketId, SocketError> {
        if !local.ip().is_unspecified() && !self.is_local(local.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        let port = match local.port() {
            0 => self.ephemeral_port(PortUse::Udp, local.ip(), local),
            port => port,
        };
        let binding = Binding::of(local.ip(), &options);
        if self.udp_ports.clashes(port, binding) {
            return Err(SocketError::AddrInUse);
        }
        let id = self.new_socket_id();
        self.udp_ports.insert(port, id, binding);
        self.sockets.insert(
            id,
            Socket::Udp(UdpSocket {
                local: SocketAddr::new(local.ip(), port),
                queue: VecDeque::new(),
                peer: None,
                error: None,
                options,
            }),
        );
        Ok(id)
    }

    fn udp_connect(&mut self, id: SocketId, remote: SocketAddr) -> Result<(), SocketError> {
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
        remote: SocketAddr,
    ) -> Result<usize, SocketError> {
        let Some(Socket::Udp(u)) = self.sockets.get(&id) else {
            return Err(SocketError::BadSocket);
        };
        let (src_port, options, src) = (u.local.port(), u.options, u.local.ip());
        let limited = matches!(remote.ip(), IpAddr::V4(ip) if ip.is_broadcast());
        if limited && self.config.gateway.is_none() {
            // Linux routes the limited broadcast by the default route: without one, nowhere.
            return Err(SocketError::NetworkUnreachable);
        }
        if self.is_broadcast(remote.ip()) && !options.broadcast {
            // Linux's rule (ip_route_output: a broadcast route needs SOCK_BROADCAST).
            return Err(SocketError::PermissionDenied);
        }
        // No IP fragmentation here: a datagram must fit one packet of the interface.
        let mtu = if self.is_local(remote.ip()) {
            usize::from(LOOPBACK_MSS) + 40
        } else {
            usize::from(self.config.mtu)
        };
        let headers = if remote.is_ipv4() { 28 } else { 48 };
        if data.len() > mtu - headers {
            return Err(SocketError::MessageTooLong);
        }
        let routed = self.is_local(remote.ip()) || self.is_broadcast(remote.ip());
        if !routed && self.next_hop(now, remote.ip()).is_none() {
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
        self.send_transport(now, (src, remote.ip()), Transport::Udp(datagram), ttl);
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
    ) -> Result<Option<(Vec<u8>, SocketAddr)>, SocketError> {
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
