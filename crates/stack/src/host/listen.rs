//! LISTEN (RFC 9293 §3.10.7.2): the SYN queue and the accept queue a backlog bounds, and
//! SYN cookies (RFC 4987 §3.6) once the SYN queue is full.

use super::*;
use trace::CookieCarried;

#[derive(Debug)]
pub(super) struct Listener {
    pub(super) id: SocketId,
    pub(super) local: SocketAddr,
    pub(super) backlog: u32,
    /// Connections in SYN-RECEIVED (Linux's "SYN queue", the notes' 半连接池).
    pub(super) syn_queue: Vec<SocketId>,
    /// Established connections waiting for accept() (the "accept queue").
    pub(super) accept_queue: VecDeque<SocketId>,
    pub(super) closed: bool,
    /// Options set on the listener, inherited by the connections it accepts.
    pub(super) options: SocketOptions,
    /// SYN cookies answered since the SYN queue last had room (a note says when they start).
    pub(super) cookies: u64,
}

/// The SYN a returning cookie stands for, as the listener would have kept it: the ACK's
/// sequence number less one, the MSS and options the cookie carried.
fn cookie_syn<'a>(
    ack: &TcpSegment<&'a [u8]>,
    port: u16,
    client_isn: u32,
    mss: u16,
    carried: CookieOptions,
) -> TcpSegment<&'a [u8]> {
    TcpSegment {
        src_port: ack.src_port,
        dst_port: port,
        seq: client_isn,
        flags: wire::TcpFlags {
            syn: true,
            ..wire::TcpFlags::default()
        },
        window: ack.window,
        mss: Some(mss),
        window_scale: carried.wscale,
        sack_permitted: carried.sack,
        timestamps: ack.timestamps.map(|ts| wire::Timestamps {
            tsval: ts.tsval,
            tsecr: 0,
        }),
        checksum_ok: true,
        payload: &[][..],
        ..TcpSegment::default()
    }
}

/// What LISTEN does with a SYN.
enum SynAdmission {
    /// Answer with a SYN cookie and keep nothing (RFC 4987 §3.6).
    Cookie,
    /// Drop it, for this reason: a queue is full.
    Drop(DropReason),
    /// Keep a half-open connection in the SYN queue.
    HalfOpen,
}

impl Host {
    /// The listener that takes a segment to `dst:port`: the one bound to that address, or
    /// else to every address (`0.0.0.0`, `::`).
    pub(super) fn listener_for(&self, dst: IpAddr, port: u16) -> Option<SocketId> {
        let id = self.listeners.lookup(dst, port)?;
        match self.sockets.get(&id) {
            Some(Socket::Listener(_)) => Some(id),
            _ => None,
        }
    }

    /// Linux's rule when a handshake would complete into a full accept queue: the ACK is
    /// dropped (with `tcp_abort_on_overflow` = 0, the default), the connection stays in
    /// SYN-RECEIVED, and the SYN+ACK's retransmission asks the client for another ACK later,
    /// by when accept() may have made room. What to say if `seg` is dropped so.
    pub(super) fn accept_queue_overflow(
        &self,
        id: SocketId,
        seg: &TcpSegment<&[u8]>,
    ) -> Option<HostNote> {
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
        (l.accept_queue.len() as u32 > l.backlog).then(|| HostNote::AcceptQueueFull {
            port: l.local.port(),
            waiting: l.accept_queue.len(),
            backlog: l.backlog,
            half_open: l.syn_queue.len(),
            from: tcb.remote(),
        })
    }

    /// RFC 9293 §3.10.7.2: SEGMENT ARRIVES in LISTEN.
    pub(super) fn listen_input(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (IpAddr, IpAddr),
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
            return self.reply(now, (src, dst), Transport::Tcp(rst_for(seg)));
        }
        if !seg.flags.syn {
            return;
        }
        let Some(Socket::Listener(listener)) = self.sockets.get(&listener_id) else {
            return;
        };
        // The connection's address is the one the SYN was sent to: 127.0.0.1 through lo.
        let local = SocketAddr::new(dst, listener.local.port());
        let options = listener.options;
        let remote = SocketAddr::new(src, seg.src_port);
        match self.admit_syn(listener_id, local.port()) {
            Some(SynAdmission::Cookie) => {
                self.send_cookie(now, listener_id, (src, dst), seg, cause)
            }
            Some(SynAdmission::Drop(reason)) => self.drop_event(now, reason, None),
            Some(SynAdmission::HalfOpen) => {
                let init = self.tcb_init(now, local, remote, options);
                self.half_open(now, listener_id, init, seg, cause);
            }
            None => {}
        }
    }

    /// What LISTEN does with a SYN on port `port`. Linux (tcp_conn_request): the SYN queue
    /// is full when it holds more half-open connections than the listen backlog
    /// (inet_csk_reqsk_queue_is_full), and then cookies answer; without cookies a full queue
    /// drops the SYN, and so does one with less than a quarter of tcp_max_syn_backlog left.
    /// A full accept queue (more than `backlog` waiting, sk_acceptq_is_full) drops it too.
    /// The client will retry.
    fn admit_syn(&mut self, listener_id: SocketId, port: u16) -> Option<SynAdmission> {
        let Some(Socket::Listener(listener)) = self.sockets.get_mut(&listener_id) else {
            return None;
        };
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
            return Some(SynAdmission::Cookie);
        }
        listener.cookies = 0;
        if accept_queue_full || syn_queue_full {
            return Some(SynAdmission::Drop(DropReason::ListenQueueFull {
                port,
                accept_queue: listener.accept_queue.len(),
                backlog: listener.backlog,
                syn_queue: listener.syn_queue.len(),
            }));
        }
        Some(SynAdmission::HalfOpen)
    }

    /// A new connection in SYN-RECEIVED, kept in the listener's SYN queue (RFC 9293
    /// §3.10.7.2: "set RCV.NXT to SEG.SEQ+1 ... send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>").
    fn half_open(
        &mut self,
        now: Time,
        listener_id: SocketId,
        init: TcbInit,
        seg: &TcpSegment<&[u8]>,
        cause: Cause,
    ) {
        let (id, local, remote) = (init.id, init.local, init.remote);
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
            .insert((local.port(), remote.ip(), remote.port()), id);
        self.sockets.insert(id, Socket::Conn(Box::new(tcb)));
        self.flush_tcp(now);
        self.reindex(id);
    }

    /// RFC 4987 §3.6: answer with a SYN cookie and keep nothing. The first cookie of an
    /// overflow says so; the rest are counted, not told one by one.
    pub(super) fn send_cookie(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (IpAddr, IpAddr),
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
        let local = SocketAddr::new(dst, port);
        let remote = SocketAddr::new(src, seg.src_port);
        if first {
            let note = if self.config.syncookies == SynCookies::Always {
                HostNote::CookiesAlways { port }
            } else {
                HostNote::CookiesFromNowOn {
                    port,
                    queued,
                    backlog,
                }
            };
            self.note(now, note);
        }
        let cookie = self.cookie_key.make(now, (local, remote), seg.seq, seg.mss);
        let Some(reply) = self.cookie_syn_ack(now, (local, remote), seg, options, cookie, cause)
        else {
            return;
        };
        self.reply(now, (src, dst), Transport::Tcp(reply));
    }

    /// The SYN+ACK a normal passive open would send, with the cookie as its sequence
    /// number and, when both sides use timestamps, the options in its TSval. Without
    /// timestamps the cookie keeps only the MSS, so the SYN+ACK offers nothing else.
    pub(super) fn cookie_syn_ack(
        &mut self,
        now: Time,
        (local, remote): (SocketAddr, SocketAddr),
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
    pub(super) fn cookie_returns(
        &mut self,
        now: Time,
        listener_id: SocketId,
        (src, dst): (IpAddr, IpAddr),
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
        let local = SocketAddr::new(dst, port);
        let remote = SocketAddr::new(src, seg.src_port);
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
            let from = remote;
            self.note(now, HostNote::CookieButQueueFull { port, from });
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
        let syn = cookie_syn(seg, port, client_isn, mss, carried);
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
    pub(super) fn cookie_note(
        &mut self,
        now: Time,
        remote: SocketAddr,
        mss: u16,
        carried: Option<CookieOptions>,
    ) {
        let carried = carried.map(|c| CookieCarried {
            wscale: c.wscale,
            sack: c.sack,
        });
        let from = remote;
        self.note(now, HostNote::CookieAccepted { from, mss, carried });
    }

    pub(super) fn listener_transition(
        &mut self,
        now: Time,
        id: SocketId,
        local: SocketAddr,
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

    pub(super) fn close_listener(&mut self, now: Time, id: SocketId) -> Result<(), SocketError> {
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
        self.listeners.remove(local.port(), listener_id);
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
}
