//! Where the comment for a TCP transition goes in the capture, so that a learner who opens
//! it in Wireshark finds each transition on the frame that caused or announced it. Shared by
//! the simulator and the TAP driver.

use capture::Record;
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

/// Put a comment on capture frame `number` (1-based), if it was captured.
pub fn comment(records: &mut [Record], number: u64, text: String) {
    if let Some(record) = records.get_mut((number - 1) as usize) {
        record.comments.push(text);
    }
}

/// Put each comment on the record nearest its time (the earlier one on a tie).
pub fn attach_nearest(records: &mut [Record], comments: Vec<(Time, String)>) {
    if records.is_empty() {
        return;
    }
    // Captures are written in time order, so the nearest record is found by bisection.
    let sorted = records.is_sorted_by_key(|r| r.t_ns);
    for (t, text) in comments {
        let t = t.as_nanos();
        let i = if sorted {
            nearest_sorted(records, t)
        } else {
            let near = records
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.t_ns.abs_diff(t));
            near.map_or(0, |(i, _)| i)
        };
        records[i].comments.push(text);
    }
}

/// In records sorted by time, the first of those nearest `t`.
fn nearest_sorted(records: &[Record], t: u64) -> usize {
    let after = records.partition_point(|r| r.t_ns < t);
    let before = after.checked_sub(1);
    let pick = match (before, records.get(after)) {
        (Some(b), Some(a)) if records[b].t_ns.abs_diff(t) > a.t_ns.abs_diff(t) => after,
        (Some(b), _) => b,
        (None, _) => after,
    };
    // The first record with that time, as a scan from the start would find.
    let time = records[pick].t_ns;
    records.partition_point(|r| r.t_ns < time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(times: &[u64]) -> Vec<Record> {
        times
            .iter()
            .map(|&t_ns| Record {
                interface: 0,
                t_ns,
                data: Vec::new(),
                original_len: 0,
                comments: Vec::new(),
                direction: None,
            })
            .collect()
    }

    /// Where the comment landed, for each time asked.
    fn placed(times: &[u64], at: u64) -> usize {
        let mut r = records(times);
        attach_nearest(&mut r, vec![(Time(at), "c".to_string())]);
        r.iter().position(|r| !r.comments.is_empty()).unwrap()
    }

    #[test]
    fn the_nearest_record_takes_the_comment_the_first_of_equals_and_the_earlier_on_a_tie() {
        let times: [u64; 5] = [10, 20, 20, 30, 50];
        // Bisection agrees with a scan from the start for every time around the records.
        for at in 0..60 {
            let scan = times
                .iter()
                .enumerate()
                .min_by_key(|(_, t)| t.abs_diff(at))
                .unwrap()
                .0;
            assert_eq!(placed(&times, at), scan, "at {at}");
        }
        assert_eq!(placed(&times, 25), 1);
        assert_eq!(placed(&times, 40), 3);
        // Unsorted records are scanned.
        assert_eq!(placed(&[30, 10, 20], 12), 1);
    }
}
