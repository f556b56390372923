//! Captured frames held until nothing can comment on them any more, so that a run can hand
//! its capture out as it goes. A frame can be commented on until it has been delivered (the
//! transition it causes names it), and the frames of the latest instant until a later one is
//! captured (a transition that sends nothing is put on the frame nearest its time: the
//! latest one or the next). Shared by the simulator and the TAP driver.

use std::collections::VecDeque;

use capture::{Interface, Record};
use trace::{Event, Time};

/// Where a run's trace and capture go, as the run goes.
pub trait Sink {
    /// Capture interfaces, numbered on from those given before.
    fn interfaces(&mut self, interfaces: Vec<Interface>) -> std::io::Result<()>;
    /// The next events of the trace.
    fn events(&mut self, events: Vec<Event>) -> std::io::Result<()>;
    /// The next frames of the capture, in order.
    fn frames(&mut self, records: Vec<Record>) -> std::io::Result<()>;
}

/// A captured frame and the time after which nothing can comment on it any more.
#[derive(Debug)]
struct Held {
    record: Record,
    settled_after: Time,
    /// Comments of transitions that sent nothing, put after the frame's own.
    late: Vec<String>,
}

impl Held {
    fn into_record(mut self) -> Record {
        self.record.comments.append(&mut self.late);
        self.record
    }
}

/// The frames of a capture not yet handed out, numbered from 1 in the order captured.
#[derive(Debug)]
pub struct Settling {
    held: VecDeque<Held>,
    /// The frame number of `held[0]`.
    first: u64,
    /// Comments of transitions that sent nothing, waiting for the next frame.
    loose: Vec<(Time, String)>,
}

impl Default for Settling {
    fn default() -> Self {
        Settling {
            held: VecDeque::new(),
            first: 1,
            loose: Vec::new(),
        }
    }
}

impl Settling {
    /// Capture the next frame at `now`: first place the comments waiting for the frame
    /// nearest their time (the latest captured, or this one if it is nearer).
    pub fn capture(&mut self, now: Time, record: Record) {
        let next = record.t_ns;
        let latest = if self.loose.is_empty() {
            None
        } else {
            self.latest_instant()
        };
        let mut on_next = Vec::new();
        for (t, text) in std::mem::take(&mut self.loose) {
            let t = t.as_nanos();
            match latest {
                Some((i, at)) if t.abs_diff(at) <= next.abs_diff(t) => self.held[i].late.push(text),
                _ => on_next.push(text),
            }
        }
        self.held.push_back(Held {
            record,
            settled_after: now,
            late: on_next,
        });
    }

    /// The frame just captured will be delivered at `at` (it may be commented on until then).
    pub fn delivered_at(&mut self, at: Time) {
        if let Some(held) = self.held.back_mut() {
            held.settled_after = held.settled_after.max(at);
        }
    }

    /// Comment on frame `number`, if it is held.
    pub fn comment(&mut self, number: u64, text: String) {
        let held = number
            .checked_sub(self.first)
            .and_then(|i| self.held.get_mut(i as usize));
        if let Some(held) = held {
            held.record.comments.push(text);
        }
    }

    /// A comment for the frame nearest `t` (a transition at `t` that sent nothing).
    pub fn comment_nearest(&mut self, t: Time, text: String) {
        self.loose.push((t, text));
    }

    /// The first held frame of the latest captured instant, and that instant.
    fn latest_instant(&self) -> Option<(usize, u64)> {
        let at = self.held.back()?.record.t_ns;
        let first = self.held.partition_point(|h| h.record.t_ns < at);
        Some((first, at))
    }

    /// The frames that can no longer change, in order: delivered (or lost) before `now`, and
    /// not of the latest instant.
    pub fn take_settled(&mut self, now: Time) -> Vec<Record> {
        let latest = self.held.back().map(|h| h.record.t_ns);
        let mut out = Vec::new();
        while let Some(front) = self.held.front() {
            if front.settled_after >= now || Some(front.record.t_ns) == latest {
                break;
            }
            if let Some(held) = self.held.pop_front() {
                out.push(held.into_record());
                self.first += 1;
            }
        }
        out
    }

    /// The run has ended: every frame left, the comments still waiting on the latest one.
    pub fn finish(mut self) -> Vec<Record> {
        if let Some((i, _)) = self.latest_instant() {
            let waiting = std::mem::take(&mut self.loose);
            self.held[i]
                .late
                .extend(waiting.into_iter().map(|(_, text)| text));
        }
        self.held.into_iter().map(Held::into_record).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t_ns: u64) -> Record {
        Record {
            interface: 0,
            t_ns,
            data: Vec::new(),
            original_len: 0,
            comments: Vec::new(),
            direction: None,
        }
    }

    /// Capture frames at `times` with a comment for time `at` made once the frames up to it
    /// were captured; the frame it lands on.
    fn placed(times: &[u64], at: u64) -> usize {
        let mut settling = Settling::default();
        let mut asked = false;
        for &t in times {
            if !asked && t > at {
                settling.comment_nearest(Time(at), "c".to_string());
                asked = true;
            }
            settling.capture(Time(t), record(t));
        }
        if !asked {
            settling.comment_nearest(Time(at), "c".to_string());
        }
        let records = settling.finish();
        records.iter().position(|r| !r.comments.is_empty()).unwrap()
    }

    #[test]
    fn a_comment_lands_on_the_nearest_frame_the_first_of_an_instant_the_earlier_on_a_tie() {
        let times: [u64; 5] = [10, 20, 20, 30, 50];
        for at in 10..60 {
            let scan = times
                .iter()
                .enumerate()
                .min_by_key(|(_, t)| t.abs_diff(at))
                .unwrap()
                .0;
            assert_eq!(placed(&times, at), scan, "at {at}");
        }
    }

    #[test]
    fn frames_are_handed_out_once_delivered_and_not_of_the_latest_instant() {
        let mut settling = Settling::default();
        settling.capture(Time(10), record(10));
        settling.delivered_at(Time(40));
        settling.capture(Time(20), record(20));
        settling.comment(1, "caused something".to_string());
        // Frame 1 is in flight until 40: nothing is handed out before that.
        assert!(settling.take_settled(Time(30)).is_empty());
        settling.capture(Time(45), record(45));
        let out = settling.take_settled(Time(45));
        assert_eq!(out.len(), 2, "frames 1 and 2; 3 is of the latest instant");
        assert_eq!(out[0].comments, ["caused something"]);
        assert_eq!(settling.finish().len(), 1);
    }
}
