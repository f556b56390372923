//! Proportional Rate Reduction (RFC 6937), as Linux applies it (`tcp_cwnd_reduction`):
//! during loss recovery the window comes down to ssthresh in step with the data the peer
//! reports delivered, instead of at once, so that the sender neither stalls for half a round
//! trip nor bursts when recovery ends.

/// The state of one reduction, in octets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prr {
    /// RecoverFS: the window when recovery began (Linux: `prior_cwnd`).
    recover_fs: u32,
    /// prr_delivered: octets the peer has reported delivered since recovery began.
    delivered: u32,
    /// prr_out: octets sent since recovery began.
    out: u32,
}

impl Prr {
    /// Recovery begins with this window.
    pub fn new(cwnd: u32) -> Prr {
        Prr {
            recover_fs: cwnd.max(1),
            delivered: 0,
            out: 0,
        }
    }

    /// Octets sent during recovery.
    pub fn sent(&mut self, octets: u32) {
        self.out += octets;
    }

    /// An ACK reported `delivered` octets newly delivered (acknowledged or SACKed) with
    /// `pipe` in flight: the window that lets out what PRR allows (RFC 6937 §3.1). Below
    /// ssthresh it may grow back by slow start (PRR-SSRB), by one segment more when the
    /// cumulative ACK advanced and nothing was newly lost.
    pub fn on_ack(
        &mut self,
        delivered: u32,
        pipe: u32,
        ssthresh: u32,
        smss: u32,
        advanced: bool,
    ) -> Option<u32> {
        if delivered == 0 {
            return None;
        }
        self.delivered += delivered;
        let sndcnt = if pipe > ssthresh {
            // Proportional part: CEIL(prr_delivered × ssthresh / RecoverFS) − prr_out.
            let share = (u64::from(self.delivered) * u64::from(ssthresh))
                .div_ceil(u64::from(self.recover_fs));
            (share as u32).saturating_sub(self.out)
        } else {
            let bound = self.delivered.saturating_sub(self.out).max(delivered)
                + if advanced { smss } else { 0 };
            bound.min(ssthresh - pipe)
        };
        // The first retransmission always goes (Linux forces one on entering recovery).
        let sndcnt = if self.out == 0 {
            sndcnt.max(smss)
        } else {
            sndcnt
        };
        Some(pipe + sndcnt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_comes_down_in_proportion_to_what_is_delivered() {
        // RFC 6937's example: RecoverFS 20 segments, ssthresh 10: one segment sent for
        // every two delivered.
        let smss = 1000;
        let mut prr = Prr::new(20 * smss);
        let mut sent = 0;
        for i in 1..=10 {
            let pipe = 19 * smss - i * smss;
            let cwnd = prr.on_ack(smss, pipe, 10 * smss, smss, false).unwrap();
            let allowed = cwnd.saturating_sub(pipe);
            prr.sent(allowed);
            sent += allowed;
        }
        assert_eq!(sent, 5 * smss);
    }
}
