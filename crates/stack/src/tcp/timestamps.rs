//! The timestamps option of RFC 7323: a clock on every segment, echoed back, which measures
//! the RTT on every ACK (§4) and protects against wrapped sequence numbers (PAWS, §5).

use trace::Time;

use crate::SeqNum;

/// RFC 7323 §5.5: a TS.Recent older than 24 days is no longer valid (the clock of a
/// 1 ms tick wraps its sign bit in 24.8 days).
pub(crate) const PAWS_IDLE: Time = Time::from_secs(24 * 24 * 60 * 60);

/// One connection's timestamp state.
#[derive(Debug, Default)]
pub(crate) struct TsClock {
    /// Negotiated: both SYNs carried the option.
    pub on: bool,
    /// Added to our millisecond clock, so that TSval says nothing about uptime (RFC 7323
    /// §7.1 and §5.4: a random offset per connection).
    offset: u32,
    /// TS.Recent: the TSval to echo, and when it was taken.
    recent: u32,
    recent_at: Option<Time>,
    /// Last.ACK.sent: the ACK field of the last segment we sent.
    pub last_ack_sent: SeqNum,
}

/// Why PAWS dropped a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stale {
    /// The segment's TSval.
    pub tsval: u32,
    /// TS.Recent.
    pub recent: u32,
}

impl TsClock {
    /// A clock with this offset; `on` until the peer's SYN says otherwise.
    pub fn new(offer: bool, offset: u32) -> TsClock {
        TsClock {
            on: offer,
            offset,
            ..TsClock::default()
        }
    }

    /// TSval now: a 1 ms tick (RFC 7323 §5.4 allows 1 ms to 1 s).
    pub fn tsval(&self, now: Time) -> u32 {
        self.offset
            .wrapping_add((now.as_nanos() / 1_000_000) as u32)
    }

    /// The option for a segment sent now.
    pub fn option(&self, now: Time) -> Option<wire::Timestamps> {
        self.on.then(|| wire::Timestamps {
            tsval: self.tsval(now),
            tsecr: self.recent,
        })
    }

    /// The peer's SYN: timestamps stay on only if it carries them (RFC 7323 §3.2), and its
    /// TSval is the first TS.Recent.
    pub fn take_syn(&mut self, now: Time, ts: Option<wire::Timestamps>) {
        match ts {
            Some(ts) if self.on => {
                self.recent = ts.tsval;
                self.recent_at = Some(now);
            }
            _ => self.on = false,
        }
    }

    /// Whether `ts` carries a clock later than TS.Recent (RFC 6191's test for a SYN that
    /// may end TIME-WAIT).
    pub fn is_newer(&self, ts: Option<wire::Timestamps>) -> bool {
        self.on && ts.is_some_and(|ts| (self.recent.wrapping_sub(ts.tsval) as i32) < 0)
    }

    /// RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent is a stale
    /// duplicate, unless TS.Recent has been idle for over 24 days (§5.5), when it is no
    /// longer trusted. A RST is never dropped this way.
    pub fn paws_check(
        &mut self,
        now: Time,
        ts: Option<wire::Timestamps>,
        rst: bool,
    ) -> Result<(), Stale> {
        let (Some(ts), true, false) = (ts, self.on, rst) else {
            return Ok(());
        };
        let older = (ts.tsval.wrapping_sub(self.recent) as i32) < 0;
        if !older {
            return Ok(());
        }
        if self.recent_at.is_some_and(|at| now - at > PAWS_IDLE) {
            // §5.5: invalidate TS.Recent, take this segment's clock instead.
            self.recent = ts.tsval;
            self.recent_at = Some(now);
            return Ok(());
        }
        Err(Stale {
            tsval: ts.tsval,
            recent: self.recent,
        })
    }

    /// RFC 7323 §4.3 (2): keep TS.Recent from a segment that is not older, if SEG.SEQ =<
    /// Last.ACK.sent (so a segment ahead of a gap does not move it).
    pub fn remember(&mut self, now: Time, seq: SeqNum, ts: Option<wire::Timestamps>) {
        let Some(ts) = ts.filter(|_| self.on) else {
            return;
        };
        let newer = (ts.tsval.wrapping_sub(self.recent) as i32) >= 0;
        if newer && seq <= self.last_ack_sent {
            self.recent = ts.tsval;
            self.recent_at = Some(now);
        }
    }

    /// RFC 7323 §4.1: the RTT an ACK of new data measures, from the TSval it echoes.
    pub fn rtt(&self, now: Time, ts: Option<wire::Timestamps>) -> Option<Time> {
        let ts = ts.filter(|t| self.on && t.tsecr != 0)?;
        let ms = self.tsval(now).wrapping_sub(ts.tsecr);
        // An echo from the future, or more than a minute old, is not our clock's.
        (ms < 60_000).then(|| Time::from_millis(u64::from(ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(tsval: u32, tsecr: u32) -> Option<wire::Timestamps> {
        Some(wire::Timestamps { tsval, tsecr })
    }

    #[test]
    fn paws_drops_an_older_tsval_until_24_days_have_passed() {
        let mut clock = TsClock::new(true, 0);
        clock.take_syn(Time::ZERO, ts(1000, 0));
        assert!(clock.paws_check(Time::ZERO, ts(1000, 0), false).is_ok());
        assert_eq!(
            clock.paws_check(Time::ZERO, ts(999, 0), false),
            Err(Stale {
                tsval: 999,
                recent: 1000
            })
        );
        assert!(
            clock.paws_check(Time::ZERO, ts(999, 0), true).is_ok(),
            "a RST"
        );
        let later = PAWS_IDLE + Time::from_secs(1);
        assert!(clock.paws_check(later, ts(999, 0), false).is_ok());
        assert!(clock.paws_check(later, ts(998, 0), false).is_err());
    }

    #[test]
    fn ts_recent_follows_segments_that_cover_the_last_ack() {
        let mut clock = TsClock::new(true, 0);
        clock.take_syn(Time::ZERO, ts(10, 0));
        clock.last_ack_sent = SeqNum(100);
        clock.remember(Time::ZERO, SeqNum(200), ts(20, 0));
        assert_eq!(
            clock.option(Time::ZERO).unwrap().tsecr,
            10,
            "ahead of a gap"
        );
        clock.remember(Time::ZERO, SeqNum(100), ts(30, 0));
        assert_eq!(clock.option(Time::ZERO).unwrap().tsecr, 30);
    }

    #[test]
    fn rtt_from_the_echo_and_nothing_without_the_option() {
        let mut clock = TsClock::new(true, 5000);
        clock.take_syn(Time::ZERO, ts(1, 0));
        let sent = clock.tsval(Time::from_millis(100));
        assert_eq!(
            clock.rtt(Time::from_millis(130), ts(7, sent)),
            Some(Time::from_millis(30))
        );
        let mut off = TsClock::new(true, 0);
        off.take_syn(Time::ZERO, None);
        assert!(!off.on);
        assert_eq!(off.rtt(Time::from_millis(130), ts(7, 100)), None);
    }
}
