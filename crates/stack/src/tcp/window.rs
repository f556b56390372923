//! The receive window we offer (RFC 9293 §3.8.6.2.2, RFC 7323 §2): how much, scaled how,
//! and when an update is worth a segment.

use super::*;

impl Tcb {
    /// RCV.WND: what is left of the window we advertised.
    pub fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        }
    }

    /// Free room in the receive buffer.
    pub(super) fn rcv_space(&self) -> u32 {
        self.rcv_buf_cap.saturating_sub(self.recv_buf.len() as u32)
    }

    /// The room the window may offer: the free room, at most Linux's `rcv_ssthresh` under
    /// the Linux profile.
    pub(super) fn offerable(&self) -> u32 {
        let space = self.rcv_space();
        self.rcv_ssthresh.map_or(space, |clamp| space.min(clamp))
    }

    /// RFC 9293 §3.8.6.2.2 (receiver's SWS avoidance): move the right edge only by at least
    /// min(buffer/2, MSS), so the peer is never invited to send tiny segments.
    pub(super) fn window_grows_enough(&self) -> bool {
        let threshold = (self.rcv_buf_cap / 2).min(u32::from(self.our_mss));
        self.offerable() >= self.rcv_wnd() + threshold
    }

    /// True when reading has opened the window enough to tell the peer at once: by the
    /// SWS threshold, and (as Linux's tcp_cleanup_rbuf decides) to at least twice what the
    /// peer may send now; smaller openings ride on the next ACK.
    pub fn window_update_due(&self) -> bool {
        self.state.is_synchronized()
            && self.window_grows_enough()
            && self.offerable() >= 2 * self.rcv_wnd()
    }

    /// The window scale we offer: the smallest that fits what the buffer may grow to,
    /// unless the application fixed its size (SO_RCVBUF), as Linux's
    /// `tcp_select_initial_window` chooses it.
    pub(super) fn offered_shift(&self) -> u8 {
        let space = if self.options.rcv_buf.is_some() {
            self.rcv_buf_cap
        } else {
            self.rcv_buf_cap.max(self.rcv_buf_max)
        };
        window_shift_for(space)
    }

    /// In-order data arrived: under the Linux profile the window offered opens by two
    /// segments for each segment of 128 octets or more (`tcp_grow_window`).
    pub(super) fn grow_receive_window(&mut self, len: usize) {
        let cap = self.rcv_buf_cap;
        if let Some(ssthresh) = &mut self.rcv_ssthresh {
            if len >= 128 {
                *ssthresh = (*ssthresh + 2 * u32::from(self.our_mss)).min(cap);
            }
        }
    }

    /// The window field for an outgoing segment, and RCV.ADV updated to match.
    pub(super) fn advertise(&mut self, syn: bool) -> u16 {
        if syn {
            // RFC 7323 §2.2: the window of a SYN is never scaled. Linux offers a whole
            // number of segments of the MSS it expects (tcp_select_initial_window): its
            // own on a SYN, less the timestamps option on a SYN+ACK that agrees to them.
            let space = self.rcv_space().min(MAX_UNSCALED_WINDOW);
            let expected = if self.state == TcpState::SynReceived && self.ts.on {
                self.our_mss.saturating_sub(TIMESTAMPS_LEN)
            } else {
                self.our_mss
            };
            let mss = u32::from(expected.max(1));
            let window = if space > mss {
                space - space % mss
            } else {
                space
            };
            if self.state != TcpState::SynSent && self.state != TcpState::Closed {
                self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + window);
            }
            if self.tuning.profile == Profile::Linux {
                self.rcv_ssthresh = Some(window);
            }
            return window as u16;
        }
        if let Some(ssthresh) = self.rcv_ssthresh {
            return self.advertise_linux(ssthresh);
        }
        let unit = 1u32 << self.rcv_shift;
        let current = self.rcv_wnd();
        let wanted = if self.window_grows_enough() {
            self.rcv_space()
        } else {
            current
        };
        // Round down, except never below what was promised (rounding up by less than one
        // unit, as Linux does, rather than shrink the window).
        let mut field = wanted >> self.rcv_shift;
        if field << self.rcv_shift < current {
            field = current.div_ceil(unit);
        }
        let field = field.min(MAX_UNSCALED_WINDOW);
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (field << self.rcv_shift));
        field as u16
    }

    /// Linux's window (`__tcp_select_window`): the free space, at most `rcv_ssthresh`,
    /// rounded up to the scale's unit so that it is not scaled away; never less than what
    /// was promised.
    pub(super) fn advertise_linux(&mut self, ssthresh: u32) -> u16 {
        let unit = 1u32 << self.rcv_shift;
        let free = self.rcv_space().min(ssthresh);
        let promised = self.rcv_wnd();
        debug_assert_eq!(free, self.offerable());
        let wanted = if free >= promised { free } else { promised };
        let field = wanted.div_ceil(unit).min(MAX_UNSCALED_WINDOW);
        self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + (field << self.rcv_shift));
        field as u16
    }
}
