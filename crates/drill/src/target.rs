//! What a script is played against: a host that takes frames and calls, sends frames, and
//! lets time pass. The simulated hosts (ours, smoltcp) run in virtual time; the kernel in
//! real time.

use stack::Engine;
use trace::{Event, Time};

use crate::calls::{Got, Op, SimCalls};

/// A host under test, as the runner drives it.
pub trait Target {
    /// Time since the script began.
    fn now(&self) -> Time;
    /// Let time pass until `until`; with `until_frame`, stop as soon as the host has sent a
    /// frame or a call in the background has returned.
    fn advance(&mut self, until: Time, until_frame: bool);
    /// Hand the host a frame.
    fn inject(&mut self, frame: &[u8], number: u64);
    /// The frames the host sent since the last call, each with when it was sent.
    fn take_frames(&mut self) -> Vec<(Time, Vec<u8>)>;
    /// The host's trace events since the last call.
    fn take_events(&mut self) -> Vec<Event>;
    /// Make a call. In the background, it may still be under way when this returns (`None`);
    /// otherwise this waits for it, at most `limit`, and `None` says it never returned.
    fn call(&mut self, op: &Op, background: bool, limit: Time) -> Option<Got>;
    /// The call in the background, once it has returned: what it gave, and when.
    fn take_returned(&mut self) -> Option<(Got, Time)>;
    /// TCP_INFO of the connection with the script's `remote_port`, as `tcpi_*` names
    /// (without the prefix) and values; why not, if the engine gives none.
    fn tcp_info(&mut self, remote_port: u16) -> Result<Vec<(String, i64)>, String>;
}

/// A simulated host: one of our engines, in virtual time.
pub struct Sim {
    host: Box<dyn Engine>,
    calls: SimCalls,
    now: Time,
    frames: Vec<(Time, Vec<u8>)>,
    /// The call in the background, and when it began.
    background: Option<(Op, Time)>,
    returned: Option<(Got, Time)>,
}

impl Sim {
    /// A target of this engine.
    pub fn new(host: Box<dyn Engine>) -> Sim {
        Sim {
            host,
            calls: SimCalls::default(),
            now: Time::ZERO,
            frames: Vec::new(),
            background: None,
            returned: None,
        }
    }

    /// Take the host's frames (its loopback's go back to it at once).
    fn collect(&mut self) {
        loop {
            let looped = self.host.take_loopback_frames();
            if looped.is_empty() {
                break;
            }
            for frame in looped {
                self.host.receive_loopback(self.now, &frame, 0);
            }
        }
        let now = self.now;
        self.frames
            .extend(self.host.take_frames().into_iter().map(|f| (now, f)));
    }

    /// Try the call in the background again.
    fn retry(&mut self) {
        let Some((op, since)) = self.background.take() else {
            return;
        };
        match self
            .calls
            .attempt(&op, self.host.as_mut(), (self.now, since))
        {
            Some(got) => {
                self.collect();
                self.returned = Some((got, self.now));
            }
            None => self.background = Some((op, since)),
        }
    }

    /// Run the timers due next, if before `until`; whether there were any.
    fn step(&mut self, until: Time) -> bool {
        match self.host.poll_at() {
            Some(t) if t <= until => {
                self.now = self.now.max(t);
                self.host.poll_timers(self.now);
                self.collect();
                self.retry();
                true
            }
            _ => false,
        }
    }
}

impl Target for Sim {
    fn now(&self) -> Time {
        self.now
    }

    fn advance(&mut self, until: Time, until_frame: bool) {
        self.retry();
        loop {
            if until_frame && (!self.frames.is_empty() || self.returned.is_some()) {
                return;
            }
            if !self.step(until) {
                break;
            }
        }
        self.now = self.now.max(until);
        self.retry();
    }

    fn inject(&mut self, frame: &[u8], number: u64) {
        self.host.receive(self.now, frame, number);
        self.collect();
        self.retry();
    }

    fn take_frames(&mut self) -> Vec<(Time, Vec<u8>)> {
        std::mem::take(&mut self.frames)
    }

    fn take_events(&mut self) -> Vec<Event> {
        self.host.take_events()
    }

    fn call(&mut self, op: &Op, background: bool, limit: Time) -> Option<Got> {
        let since = self.now;
        let got = self.calls.attempt(op, self.host.as_mut(), (since, since));
        self.collect();
        if got.is_some() {
            return got;
        }
        if background {
            self.background = Some((op.clone(), since));
            return None;
        }
        // The script waits: time passes, and nothing else of the script happens, until the
        // call returns.
        let end = since + limit;
        while self.step(end) {
            if let Some(got) = self
                .calls
                .attempt(op, self.host.as_mut(), (self.now, since))
            {
                self.collect();
                return Some(got);
            }
        }
        None
    }

    fn take_returned(&mut self) -> Option<(Got, Time)> {
        self.returned.take()
    }

    fn tcp_info(&mut self, remote_port: u16) -> Result<Vec<(String, i64)>, String> {
        let id = self
            .calls
            .engine_ids()
            .into_iter()
            .find(|&id| {
                self.host
                    .info(id)
                    .and_then(|i| i.remote)
                    .is_some_and(|r| r.port() == remote_port)
            })
            .ok_or("no socket of the script is connected to the script's port")?;
        let info = self
            .host
            .tcp_info(id)
            .ok_or_else(|| format!("{} gives no TCP_INFO", self.host.engine_name()))?;
        Ok(info
            .fields()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect())
    }
}
