//! The socket calls of the smoltcp host: each made on smoltcp's sockets, then smoltcp polled
//! and what changed logged as our host logs it. smoltcp has no accept queue, so a listener is
//! a pool of sockets in LISTEN, one taken and another put back for each connection.

use super::*;

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
pub(crate) fn apply_options(socket: &mut tcp::Socket, (nodelay, quickack): (bool, bool)) {
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
