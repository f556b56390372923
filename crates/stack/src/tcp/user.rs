//! The user calls of RFC 9293 §3.10.1–3.10.6: OPEN, SEND, RECEIVE, CLOSE, ABORT, and the
//! socket options and reads around them.

use super::*;

impl Tcb {
    /// RFC 9293 §3.10.1, OPEN call, active: a new TCB sends its SYN and enters SYN-SENT.
    pub fn active_open(init: TcbInit, ctx: &mut Ctx) -> Tcb {
        let mut tcb = Tcb::new(init);
        tcb.snd_nxt = tcb.iss + 1;
        tcb.set_state(ctx, TcpState::SynSent, Rule::OpenActive);
        tcb.send_syn(ctx);
        tcb
    }

    /// RFC 9293 §3.10.7.2: a SYN reaches the listener `listener`; a new TCB takes the peer's
    /// sequence number and options, answers SYN+ACK and enters SYN-RECEIVED.
    pub fn passive_open(
        init: TcbInit,
        listener: SocketId,
        syn: &TcpSegment<&[u8]>,
        ctx: &mut Ctx,
    ) -> Tcb {
        let mut tcb = Tcb::new(init);
        tcb.listener = Some(listener);
        tcb.irs = SeqNum(syn.seq);
        tcb.rcv_nxt = tcb.irs + 1;
        tcb.rcv_adv = tcb.rcv_nxt;
        tcb.take_syn_options(ctx.now, syn);
        tcb.snd_wl1 = tcb.irs;
        tcb.set_state_from(
            ctx,
            TcpState::Listen,
            TcpState::SynReceived,
            Rule::ListenSyn,
        );
        tcb.send_syn(ctx);
        tcb
    }

    /// The options set on its socket (or inherited from its listener).
    pub fn options(&self) -> &SocketOptions {
        &self.options
    }

    /// The most data one segment carries now (what TCP_MAXSEG reads): the MSS, but no more
    /// than half the largest window the peer has offered, as Linux bounds it
    /// (`tcp_bound_to_half_wnd`), so that a window always takes two segments. On an
    /// Ethernet the bound never bites; on the loopback interface, whose MSS is about as
    /// large as the whole window, it halves the segments.
    pub fn segment_size(&self) -> u16 {
        let cutoff = if self.max_snd_wnd > u32::from(DEFAULT_MSS) {
            self.max_snd_wnd / 2
        } else {
            self.max_snd_wnd
        };
        match u16::try_from(cutoff) {
            Ok(cutoff) if cutoff > 0 && self.send_mss > cutoff => cutoff.max(48),
            _ => self.send_mss,
        }
    }

    /// `recv(max, MSG_PEEK)`: what `read` would give, left in place.
    pub fn peek(&self, max: usize) -> Vec<u8> {
        let len = max.min(self.recv_buf.len());
        self.recv_buf.slice(0, len).to_vec()
    }

    /// `accept()` took this connection off its listener's queue.
    pub fn accepted(&mut self) {
        self.listener = None;
    }

    /// `setsockopt` on this connection.
    pub fn set_option(&mut self, option: SocketOption) {
        self.options.apply(option);
        match option {
            // The window scale was fixed by the SYNs: a larger buffer is announced only as
            // far as the scale reaches.
            SocketOption::RecvBuffer(n) => self.rcv_buf_cap = n,
            SocketOption::SendBuffer(n) => {
                self.snd_buf_cap = n;
                if self.tuning.profile == Profile::Linux {
                    self.send_mem = Some(self.memory_for(n));
                }
            }
            // tcp(7): TCP_NODELAY "forces an explicit flush of pending output, even if
            // TCP_CORK is currently set"; uncorking flushes too.
            SocketOption::NoDelay(true) => self.push_held = true,
            SocketOption::Cork(false) => self.push_held |= self.options.nodelay,
            SocketOption::QuickAck(on) if self.tuning.profile == Profile::Linux => {
                // Linux's TCP_QUICKACK is not a lasting switch: it sets the interactive
                // mode of the ACK clock, which the connection's own traffic changes again.
                self.options.quickack = false;
                self.ack_clock.set_interactive(!on);
            }
            _ => {}
        }
        self.arm_keepalive();
    }

    /// `send`: queue `data` (the caller has checked it fits, RFC 9293 §3.10.2). Under
    /// the Linux profile, a sender that has been idle with nothing in flight first
    /// restarts its window (Linux's `tcp_slow_start_after_idle_check`).
    /// With `more` (MSG_MORE), the push that follows holds a partial segment back, and the
    /// end of this data is no push point.
    pub fn queue(&mut self, ctx: &mut Ctx, data: &[u8], more: bool) {
        self.restart_if_idle(ctx);
        let queue = self.queue_shape();
        if let Some(mem) = &mut self.send_mem {
            mem.add(data.len() as u32, queue);
        }
        self.send_buf.push(data);
        self.tail_pushed = !more;
        self.more_now = more;
        self.push_held = false;
    }

    /// Linux's slow start after idle: nothing in flight, and no data sent for longer than
    /// the RTO. Checked when data is queued and again when it can go (data queued before a
    /// zero window reopens restarts then, as Linux's first chunk after the wait shows).
    pub(super) fn restart_if_idle(&mut self, ctx: &mut Ctx) {
        let idle = self.snd_max == self.snd_una
            && self.tuning.profile == Profile::Linux
            && self.tuning.restart_after_idle;
        if let Some(last) = self.last_data_sent.filter(|_| idle) {
            if let Some(reason) = self.cc.restart_after_idle(ctx.now - last, self.rtt.rto) {
                self.congestion_event(ctx, reason);
            }
        }
    }

    /// `recv`: up to `max` octets of what has arrived in order (RFC 9293 §3.10.3).
    pub fn read(&mut self, now: Time, max: usize) -> Vec<u8> {
        let data = self.recv_buf.take_front(max);
        self.autotune(now, data.len());
        // RFC 9293 §3.8.6.2.2: tell the sender at once when the window reopens enough
        // (by min(buffer/2, MSS)); smaller openings wait, against silly windows.
        if self.window_update_due() {
            self.ack_now = true;
        }
        data
    }

    /// Linux's autotuning: the buffer, and with it the window that may be offered, grows
    /// with what the application reads per round trip (see `autotune`), unless SO_RCVBUF
    /// fixed it. The round trip is the receiver's estimate: with timestamps, Linux measures
    /// it from their echo in whole ticks of 1 ms, never less than one
    /// (`tcp_rcv_rtt_measure_ts`), so on a path faster than that it counts per millisecond.
    pub(super) fn autotune(&mut self, now: Time, read: usize) {
        if self.tuning.profile != Profile::Linux || self.options.rcv_buf.is_some() || read == 0 {
            return;
        }
        let advmss = u32::from(self.our_mss);
        let first = self.rcv_ssthresh.unwrap_or(self.rcv_buf_cap);
        let rtt = self.receiver_rtt_estimate();
        let space = self
            .rcv_space
            .get_or_insert_with(|| autotune::RcvSpace::new(advmss, first));
        // Linux's window is half its buffer (tcp_win_from_space): at most tcp_rmem[2] / 2.
        let bounds = (self.rcv_buf_cap, self.rcv_buf_max / 2);
        if let Some(bigger) = space.read(read, now, rtt, advmss, bounds) {
            self.rcv_buf_cap = bigger;
        }
    }

    /// Whether received data waits to be read.
    pub fn has_unread(&self) -> bool {
        !self.recv_buf.is_empty()
    }

    /// `shutdown(SHUT_WR)`, or the FIN of `close()`: RFC 9293 §3.10.4 in a synchronised state.
    pub fn close_sending_side(&mut self, ctx: &mut Ctx) {
        self.queue_fin();
        match self.state {
            TcpState::CloseWait => self.set_state(ctx, TcpState::LastAck, Rule::CloseCloseWait),
            _ => self.set_state(ctx, TcpState::FinWait1, Rule::CloseEstablished),
        }
    }

    /// `close()` (RFC 9293 §3.10.4): nobody will read again; FIN where one is due.
    pub fn close(&mut self, ctx: &mut Ctx) {
        self.orphaned = true;
        match self.state {
            TcpState::SynSent => self.set_state(ctx, TcpState::Closed, Rule::CloseSynSent),
            TcpState::SynReceived | TcpState::Established | TcpState::CloseWait
                if self.fin_seq.is_none() =>
            {
                self.close_sending_side(ctx)
            }
            // Already closing (after shutdown, or a FIN is on its way): just let go.
            _ => {}
        }
    }

    /// ABORT (RFC 9293 §3.10.5), by `rule`: RST to a peer that may be listening, queues
    /// flushed, CLOSED.
    pub fn abort(&mut self, ctx: &mut Ctx, rule: Rule) {
        self.orphaned = true;
        if matches!(
            self.state,
            TcpState::SynReceived
                | TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait
        ) {
            self.send_rst(ctx);
        }
        self.send_buf.clear();
        self.recv_buf.clear();
        if self.state != TcpState::Closed {
            self.set_state(ctx, TcpState::Closed, rule);
        }
    }

    /// Queue our FIN behind all the data queued so far.
    pub fn queue_fin(&mut self) {
        if self.fin_seq.is_none() {
            self.fin_seq = Some(self.buf_seq() + self.send_buf.len() as u32);
        }
    }
}
