//! Keep-alive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4): with SO_KEEPALIVE set, a connection idle
//! for TCP_KEEPIDLE gets a probe, a segment the peer must acknowledge; after TCP_KEEPCNT
//! probes TCP_KEEPINTVL apart go unanswered, the connection is dropped with RST and
//! ETIMEDOUT. The probe is Linux's: no data, its sequence number SND.UNA − 1 (one the peer
//! has already had, so it answers with an ACK and takes nothing).

use trace::{Rule, TcpNote, TcpState, Time};
use wire::TcpFlags;

use super::timers::Timer;
use super::{Ctx, Tcb};
use crate::SocketError;

/// What keep-alive knows of the peer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Liveness {
    /// When a segment last came from the peer.
    last_heard: Time,
    /// Probes sent since then.
    probes: u32,
}

impl Tcb {
    /// A segment came from the peer: it is alive.
    pub(crate) fn heard_from_peer(&mut self, now: Time) {
        self.liveness = Liveness {
            last_heard: now,
            probes: 0,
        };
    }

    /// Set the keep-alive timer for the connection as it is now: after the idle time, or
    /// the interval after a probe; none when off or not synchronised.
    pub(crate) fn arm_keepalive(&mut self) {
        let ka = self.options.keepalive;
        let probing = ka.on && self.state.is_synchronized() && self.state != TcpState::TimeWait;
        if !probing {
            self.timers.stop(Timer::Keepalive);
            return;
        }
        if self.liveness.probes == 0 {
            self.timers
                .set(Timer::Keepalive, self.liveness.last_heard + ka.idle);
        } else {
            self.timers
                .start_unless_running(Timer::Keepalive, self.liveness.last_heard + ka.idle);
        }
    }

    /// The keep-alive timer expired: probe, or give up on the peer.
    pub fn keepalive_timeout(&mut self, ctx: &mut Ctx) {
        self.timers.stop(Timer::Keepalive);
        let ka = self.options.keepalive;
        if self.snd_una != self.snd_max {
            // Data in flight: the retransmission timer watches the peer (Linux waits too).
            self.timers.set(Timer::Keepalive, ctx.now + ka.idle);
            return;
        }
        if self.liveness.probes >= ka.count {
            let probes = self.liveness.probes;
            ctx.note(self.id, TcpNote::KeepaliveExhausted { probes });
            self.error = Some(SocketError::TimedOut);
            self.send_rst(ctx);
            self.set_state(ctx, TcpState::Closed, Rule::KeepaliveExceeded);
            return;
        }
        self.liveness.probes += 1;
        let idle = ctx.now - self.liveness.last_heard;
        let (probe, count) = (self.liveness.probes, ka.count);
        ctx.note(self.id, TcpNote::KeepaliveProbe { idle, probe, count });
        let flags = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        let seg = self.segment(ctx.now, self.snd_una - 1, flags, Vec::new());
        self.push(ctx, seg);
        self.timers.set(Timer::Keepalive, ctx.now + ka.interval);
    }
}
