//! A connection's timers in one table keyed by [`Timer`], with one place that says which is
//! due next (in the manner of quinn-proto's `TimerTable`).

use trace::{Time, TimerKind};

/// The timers of one TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// TIME-WAIT's 2×MSL (RFC 9293 §3.10.8).
    TimeWait,
    /// The retransmission timeout (RFC 6298).
    Retransmit,
    /// The persist timer that probes a zero window (RFC 9293 §3.8.6.1).
    Persist,
    /// The delayed ACK (RFC 9293 §3.8.6.3).
    DelayedAck,
    /// RACK's reordering timer (RFC 8985 §6.2 step 5).
    Reorder,
    /// The tail loss probe (RFC 8985 §7.2).
    Probe,
    /// Keep-alive: probe an idle connection (RFC 1122 §4.2.3.6).
    Keepalive,
    /// Linux's compressed SACK: the ACK owed for out-of-order data (see `delack`).
    CompressedAck,
}

impl Timer {
    /// In the order they are served when several are due at once: the end of TIME-WAIT
    /// first (it deletes the TCB), a delayed ACK last (a retransmission carries the ACK too).
    const ALL: [Timer; 8] = [
        Timer::TimeWait,
        Timer::Retransmit,
        Timer::Reorder,
        Timer::Probe,
        Timer::Persist,
        Timer::Keepalive,
        Timer::CompressedAck,
        Timer::DelayedAck,
    ];

    /// The timer as a trace names it in a transition's cause.
    pub fn kind(self) -> TimerKind {
        match self {
            Timer::TimeWait => TimerKind::TimeWait,
            Timer::Retransmit => TimerKind::Retransmission,
            Timer::Persist => TimerKind::Persist,
            Timer::DelayedAck => TimerKind::DelayedAck,
            Timer::Reorder => TimerKind::Reorder,
            Timer::Probe => TimerKind::LossProbe,
            Timer::Keepalive => TimerKind::Keepalive,
            Timer::CompressedAck => TimerKind::CompressedSack,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// When each timer expires, if it is running.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timers {
    at: [Option<Time>; 8],
}

impl Timers {
    /// When `timer` expires, if it runs.
    pub fn get(&self, timer: Timer) -> Option<Time> {
        self.at[timer.index()]
    }

    /// Start (or restart) `timer` to expire at `at`.
    pub fn set(&mut self, timer: Timer, at: Time) {
        self.at[timer.index()] = Some(at);
    }

    /// Start `timer` unless it already runs.
    pub fn start_unless_running(&mut self, timer: Timer, at: Time) {
        self.at[timer.index()].get_or_insert(at);
    }

    /// Stop `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.at[timer.index()] = None;
    }

    /// Whether `timer` runs.
    pub fn is_running(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// Stop every timer but `keep`.
    pub fn stop_all_but(&mut self, keep: Option<Timer>) {
        for timer in Timer::ALL {
            if Some(timer) != keep {
                self.stop(timer);
            }
        }
    }

    /// The earliest expiry of any running timer.
    pub fn next_deadline(&self) -> Option<Time> {
        self.at.iter().flatten().min().copied()
    }

    /// The timer to serve at `now`, if one has expired (see [`Timer::ALL`] for the order).
    pub fn expired(&self, now: Time) -> Option<Timer> {
        Timer::ALL
            .into_iter()
            .find(|t| self.get(*t).is_some_and(|at| at <= now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_deadline_is_the_earliest_and_time_wait_is_served_first() {
        let mut timers = Timers::default();
        assert_eq!(timers.next_deadline(), None);
        timers.set(Timer::DelayedAck, Time::from_millis(40));
        timers.set(Timer::Retransmit, Time::from_millis(200));
        timers.start_unless_running(Timer::Retransmit, Time::from_millis(999));
        assert_eq!(timers.next_deadline(), Some(Time::from_millis(40)));
        assert_eq!(timers.expired(Time::from_millis(39)), None);
        assert_eq!(timers.expired(Time::from_secs(1)), Some(Timer::Retransmit));
        timers.set(Timer::TimeWait, Time::from_millis(10));
        assert_eq!(timers.expired(Time::from_secs(1)), Some(Timer::TimeWait));
        timers.stop_all_but(Some(Timer::TimeWait));
        assert!(!timers.is_running(Timer::Retransmit));
        assert_eq!(timers.next_deadline(), Some(Time::from_millis(10)));
    }
}
