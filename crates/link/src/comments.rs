//! Where the comment for a TCP transition goes in the capture, so that a learner who opens
//! it in Wireshark finds each transition on the frame that caused or announced it. Shared by
//! the simulator and the TAP driver.

use trace::{Cause, Event, EventKind, Time};

/// The frame a transition's comment belongs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentAt {
    /// The frame that caused it.
    Frame(u64),
    /// The first frame sent by the same call or timer (numbered only once sent).
    FirstSent,
    /// Nothing was sent: the frame nearest in time, found when the run ends.
    Nearest(Time),
}

/// The comments for the transitions among `events`, produced at `now` by one action that
/// sent frames or not (`sent_any`).
pub fn transition_comments(
    events: &[Event],
    now: Time,
    sent_any: bool,
) -> Vec<(CommentAt, String)> {
    let mut out = Vec::new();
    for event in events {
        let EventKind::TcpTransition {
            endpoint,
            from,
            to,
            cause,
            ..
        } = &event.kind
        else {
            continue;
        };
        let text = format!("{}: {from} → {to}", endpoint.host);
        out.push(match cause {
            Cause::Frame(n) => (CommentAt::Frame(*n), text),
            Cause::Call(call) if sent_any => (CommentAt::FirstSent, format!("{text} ({call})")),
            Cause::Timer(timer) if sent_any => {
                (CommentAt::FirstSent, format!("{text} (timer {timer})"))
            }
            Cause::Call(call) => (
                CommentAt::Nearest(now),
                format!("{text} ({call}, at {now}s)"),
            ),
            Cause::Timer(timer) => (
                CommentAt::Nearest(now),
                format!("{text} (timer {timer} expired at {now}s)"),
            ),
        });
    }
    out
}
