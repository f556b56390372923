//! The socket table: socket numbers, ports, the index of connections, each connection
//! driven with its context, and the deadline index of every connection's timers.

use super::*;

/// The connections' timer deadlines, ordered by time.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    by_time: BTreeSet<(Time, SocketId)>,
    of: BTreeMap<SocketId, Time>,
}

impl Deadlines {
    /// Record that socket `id`'s next deadline is now `at` (none: it has none, or is gone).
    pub(super) fn set(&mut self, id: SocketId, at: Option<Time>) {
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

    pub(super) fn first(&self) -> Option<Time> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The sockets whose deadline is at or before `now`, earliest first.
    pub(super) fn due(&self, now: Time) -> Vec<SocketId> {
        self.by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect()
    }
}

impl Host {
    pub(super) fn flush_tcp(&mut self, now: Time) {
        for out in std::mem::take(&mut self.tcp_out) {
            let to = (Some(out.src), out.dst);
            self.send_transport(now, to, Transport::Tcp(out.seg), out.ttl);
        }
    }

    pub(super) fn new_socket_id(&mut self) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        id
    }

    /// What a fresh TCB starts with: the next socket number and an ISS from the seeded
    /// generator (RFC 9293 §3.4.1 asks for unpredictable ISNs; we ask for repeatable ones too),
    /// the MSS of the route to `remote` and the buffers, each unless the socket's options say
    /// otherwise.
    pub(super) fn tcb_init(
        &mut self,
        now: Time,
        local: SocketAddr,
        remote: SocketAddr,
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
    pub(super) fn tcb_init_with(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        options: SocketOptions,
        id: SocketId,
    ) -> TcbInit {
        let route_mss = self.route_mss(remote.ip());
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
    pub(super) fn tuning(&self) -> Tuning {
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
    pub(super) fn route_mss(&self, dst: IpAddr) -> u16 {
        match (self.is_local(dst), dst.is_ipv4()) {
            (true, true) => LOOPBACK_MSS,
            // IPv6 has no such cap: lo's 65536 less the 40-octet IPv6 and 20-octet TCP
            // headers (RFC 8200 §5 keeps the payload under 65 535 too, so Linux's 65476).
            (true, false) => LOOPBACK_MSS - 19,
            (false, true) => self.config.mtu - 40,
            (false, false) => match dst {
                IpAddr::V6(dst) => self.mtu_to6(dst) - 60,
                IpAddr::V4(_) => self.config.mtu - 60,
            },
        }
    }

    /// The next ephemeral port for `what`, towards `remote` (`0.0.0.0:0` before there is
    /// one): one no socket of ours holds, as Linux takes it from its range.
    pub(super) fn ephemeral_port(
        &mut self,
        what: PortUse,
        local: IpAddr,
        remote: SocketAddr,
    ) -> u16 {
        let sockets = &self.sockets;
        let udp = &self.udp_ports;
        let free = |port: u16| match what {
            PortUse::Udp => !udp.holds(port),
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
    pub(super) fn reindex(&mut self, id: SocketId) {
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
    pub(super) fn send_flagged(
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

    pub(super) fn drive(
        &mut self,
        now: Time,
        id: SocketId,
        cause: Cause,
        f: impl FnOnce(&mut Tcb, &mut Ctx),
    ) {
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
        let key = (tcb.local().port(), tcb.remote().ip(), tcb.remote().port());
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

    pub(super) fn tcb(&self, id: SocketId) -> Result<&Tcb, SocketError> {
        match self.sockets.get(&id) {
            Some(Socket::Conn(tcb)) if !tcb.is_orphaned() => Ok(tcb),
            Some(_) => Err(SocketError::InvalidArgument),
            None => Err(SocketError::BadSocket),
        }
    }

    /// The numbers behind a connection's behaviour (RTT estimate, windows, queues).
    pub fn stats(&self, id: SocketId) -> Option<TcpStats> {
        match self.sockets.get(&id)? {
            Socket::Conn(tcb) => Some(tcb.stats()),
            Socket::Listener(_) | Socket::Udp(_) => None,
        }
    }

    pub(super) fn abort_with(
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
}
