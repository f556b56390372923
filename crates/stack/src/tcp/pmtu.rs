//! Path MTU discovery's part in TCP (RFC 8201 §4 for IPv6, RFC 1191 §6.4): a Packet Too Big
//! lowers the segment size, and what was sent too big is sent again in smaller segments.

use super::*;

impl Tcb {
    /// The path to the peer now carries at most `mtu` octets a packet (less `ip_header`):
    /// segments shrink, and everything unacknowledged is resent at the new size. As Linux's
    /// `tcp_simple_retransmit`, the congestion window is left alone: the network holds no
    /// more data than before, only in smaller units.
    pub fn path_mtu_reduced(&mut self, ctx: &mut Ctx, mtu: u16, ip_header: u16) {
        let options = if self.ts.on { TIMESTAMPS_LEN } else { 0 };
        let size = mtu.saturating_sub(ip_header + 20 + options).max(1);
        if size >= self.send_mss {
            return;
        }
        let before = self.send_mss;
        self.send_mss = size;
        let snd_una = self.snd_una.0;
        let what = TcpNote::PathMtu {
            mtu,
            before,
            size,
            snd_una,
        };
        ctx.note(self.id, what);
        if self.snd_max.since(self.snd_una) > 0 {
            self.scoreboard.clear();
            self.rack.clear_lost();
            self.snd_nxt = self.snd_una;
        }
    }
}
