//! Programs that poll instead of waiting: a loop of non-blocking calls, zero-timeout
//! `select`s or clock reads that find nothing. On Linux time passes while such a loop spins,
//! and whatever it waits for (a deadline, another program) comes; in virtual time nothing
//! would ever move. So a thread whose polls keep finding nothing at one instant is held, for
//! a while that doubles each time (from 10 µs, at most 100 ms), unless its poll finds
//! something sooner: virtual time moves on to the next event, or by that while.

use serde_json::Value;
use trace::Time;

use crate::protocol::Request;

/// Polls that find nothing, at one instant, before a thread is held.
const SPIN_LIMIT: u32 = 200;
/// The first hold.
const FIRST_HOLD: Time = Time(10_000);
/// The longest hold.
const LONGEST_HOLD: Time = Time::from_millis(100);

/// One thread's polling.
#[derive(Debug, Default)]
pub(crate) struct Spin {
    /// The instant its polls found nothing at, and how many did.
    at: Time,
    count: u32,
    /// The next hold.
    next: Time,
    /// The end of the hold under way.
    until: Option<Time>,
}

/// Whether a reply is a poll's that found nothing: a clock read, a zero-timeout `select`
/// with nothing ready, a non-blocking call that would have blocked.
pub(crate) fn found_nothing(request: &Request, reply: &Value) -> bool {
    if reply.get("err").and_then(Value::as_str) == Some("EAGAIN") {
        return true;
    }
    match request {
        Request::Time { .. } => true,
        Request::Select { timeout, .. } if *timeout == Some(0.0) => reply
            .get("ok")
            .and_then(Value::as_array)
            .is_some_and(|lists| {
                lists
                    .iter()
                    .all(|l| l.as_array().is_some_and(Vec::is_empty))
            }),
        _ => false,
    }
}

impl Spin {
    /// A poll found nothing at `now`: whether to hold its reply (the thread waits).
    pub fn holds(&mut self, now: Time) -> bool {
        if self.at != now && self.until.is_none() {
            self.at = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count <= SPIN_LIMIT && self.until.is_none() {
            return false;
        }
        let until = match self.until {
            Some(until) => until,
            None => {
                let hold = self.next.max(FIRST_HOLD);
                self.next = Time(hold.0 * 2).min(LONGEST_HOLD);
                *self.until.insert(now + hold)
            }
        };
        if now < until {
            return true;
        }
        // Held long enough: this reply goes, and the next empty poll is held again.
        self.until = None;
        self.at = now;
        self.count = SPIN_LIMIT;
        false
    }

    /// A call found something: the thread is not spinning.
    pub fn reset(&mut self) {
        *self = Spin::default();
    }

    /// When a held poll is answered anyway.
    pub fn until(&self) -> Option<Time> {
        self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_poller_is_held_longer_each_time() {
        let mut spin = Spin::default();
        let now = Time::from_secs(1);
        for _ in 0..SPIN_LIMIT {
            assert!(!spin.holds(now));
        }
        assert!(spin.holds(now));
        assert_eq!(spin.until(), Some(now + FIRST_HOLD));
        let later = now + FIRST_HOLD;
        assert!(!spin.holds(later), "the hold is over: the reply goes");
        assert!(
            spin.holds(later),
            "and the next empty poll is held, twice as long"
        );
        assert_eq!(spin.until(), Some(later + Time(2 * FIRST_HOLD.0)));
        spin.reset();
        assert!(!spin.holds(later));
    }
}
