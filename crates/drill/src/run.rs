//! A script played against a simulated host, in virtual time, as packetdrill plays one
//! against a kernel: inbound packets injected at their times, system calls made (blocking
//! ones in the background, `...`), and each outbound packet compared with the next one the
//! host sent, fields, options and time. The first difference ends the run.

use std::collections::{BTreeMap, VecDeque};

use capture::Record;
use trace::{Event, EventKind, Time};

use crate::calls::{Got, Op, Program};
use crate::code::{self, CodeError, Snippet};
use crate::config::Settings;
use crate::packet::{self, Opt, Segment, Sent, addr};
use crate::script::{
    Action, Body, Call, CallName, Direction, Event as ScriptEvent, Expr, IcmpKind, Micros, Packet,
    Quoted, Script, TcpOpt, TcpSpec, When,
};
use crate::target::Target;
use crate::verdict;

mod outbound;

/// How long the runner looks past an outbound packet's time for it (packetdrill's 2 s).
const SNIFF_SLACK: Micros = 2_000_000;
/// How long a call without `...` may block before the run gives up on it.
const BLOCK_LIMIT: Micros = 600_000_000;
/// The first port the remote end opens connections from.
const REMOTE_PORT: u16 = 48_000;

/// One script line as it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The line.
    pub line: u32,
    /// When it happened (for an outbound packet, when the host sent it).
    pub t: Time,
    /// What happened, as the script would write it.
    pub text: String,
}

/// Why a run stopped before its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The script line.
    pub line: u32,
    /// What differs.
    pub message: String,
    /// The line as the script expects it, where it is a packet or a call.
    pub expected: Option<String>,
    /// What the host did instead.
    pub actual: Option<String>,
    /// The host's last transition before, with its rule.
    pub state: Option<String>,
    /// A feature packetlab does not simulate, not a difference of behaviour.
    pub refused: bool,
}

/// The connection under test, as packetdrill maps it between script and wire.
#[derive(Clone, Copy, Debug, Default)]
struct Conn {
    local_port: u16,
    remote_port: u16,
    /// The local ISN as the script writes it, and as the host chose it.
    script_isn: u32,
    live_isn: Option<u32>,
    /// Opened by the host's SYN (an inbound SYN then belongs to it: a simultaneous open).
    active: bool,
    /// The script sent a SYN on this connection again (a new incarnation of it, e.g. out
    /// of TIME-WAIT): a SYN-ACK gives the local ISN anew.
    reopened: bool,
}

impl Conn {
    /// What to add to a script's local sequence number to get the live one.
    fn offset(&self) -> u32 {
        self.live_isn
            .map_or(0, |live| live.wrapping_sub(self.script_isn))
    }
}

/// A blocking call under way in the background (`...`).
struct Pending {
    line: u32,
    call: Call,
    since: Time,
    /// When it must return (script time).
    end: Micros,
}

/// A frame the host sent that no line has matched yet.
struct Queued {
    t: Time,
    number: u64,
    sent: Sent,
}

/// A run in progress.
pub struct Runner<'a> {
    name: &'a str,
    settings: Settings,
    target: Box<dyn Target>,
    program: Program,
    queue: VecDeque<Queued>,
    records: Vec<Record>,
    events: Vec<Event>,
    steps: Vec<Step>,
    conn: Conn,
    next_remote_port: u16,
    /// A `listen()` has been made since the last passive open: the next inbound SYN
    /// opens a new connection from a new port (as packetdrill's socket under test).
    listening: bool,
    udp: Option<(u16, u16)>,
    pending: Option<Pending>,
    /// The `%{ }%` blocks so far, each with its TCP_INFO, run when the script has.
    snippets: Vec<Snippet>,
    /// When the last line happened, for the next line's relative time.
    last_at: Option<Micros>,
    ident: u16,
    /// Script TS val → live TS val, and the first pair seen.
    ts_map: BTreeMap<u32, u32>,
    ts_base: Option<(u32, u32)>,
}

type Outcome<T> = Result<T, Failure>;

fn us(t: Time) -> Micros {
    (t.as_nanos() / 1000) as Micros
}

fn time(micros: Micros) -> Time {
    Time(micros.max(0) as u64 * 1000)
}

fn secs(micros: Micros) -> String {
    format!("{:.6}", micros as f64 / 1e6)
}

impl<'a> Runner<'a> {
    /// A run of the script `name` against `target`.
    pub fn new(name: &'a str, settings: Settings, target: Box<dyn Target>) -> Runner<'a> {
        Runner {
            name,
            settings,
            target,
            program: Program::default(),
            queue: VecDeque::new(),
            records: Vec::new(),
            events: Vec::new(),
            steps: Vec::new(),
            conn: Conn::default(),
            next_remote_port: REMOTE_PORT,
            listening: false,
            udp: None,
            pending: None,
            snippets: Vec::new(),
            last_at: None,
            ident: 0,
            ts_map: BTreeMap::new(),
            ts_base: None,
        }
    }

    /// Each line as it went, the capture and the trace; the host under test is let go
    /// (a kernel's namespace deleted).
    pub fn finish(self) -> (Vec<Step>, Vec<Record>, Vec<Event>) {
        (self.steps, self.records, self.events)
    }

    fn fail(&self, line: u32, message: impl Into<String>) -> Failure {
        Failure {
            line,
            message: message.into(),
            expected: None,
            actual: None,
            state: self.last_transition(),
            refused: false,
        }
    }

    /// The host's last state change, with its rule: what the learner looks at next.
    fn last_transition(&self) -> Option<String> {
        self.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::TcpTransition { from, to, rule, .. } => Some(format!(
                "the host went {from} → {to} at {} s ({rule})",
                secs(us(e.t))
            )),
            _ => None,
        })
    }

    /// Play every event; the first failure ends the run. The gateway introduces itself
    /// first (an ARP request, answered), as packetdrill's tunnel needs no ARP: no engine's
    /// first packet then waits on ARP, nor is dropped while it asks (smoltcp's would be).
    pub fn play(&mut self, script: &Script) -> Outcome<()> {
        let request = packet::arp_request();
        let number = self.record(&request, true, self.target.now());
        self.target.inject(&request, number);
        self.collect()?;
        let mut last: Option<(Micros, bool)> = None;
        for event in &script.events {
            let inbound =
                matches!(&event.action, Action::Packet(p) if p.direction == Direction::Inbound);
            // A relative time counts from when the previous line happened (a packet went or
            // came, a call began): not from when the runner got round to the next line,
            // which on a busy machine may be milliseconds after the kernel's answer.
            let base = self.last_at.unwrap_or_else(|| us(self.target.now()));
            let (start, end) = match event.when {
                When::Absolute(t) => (t, t),
                When::Relative(d) => (base + d, base + d),
                When::Any => (base, base),
                When::AbsoluteRange(a, b) => (a, b),
                When::RelativeRange(a, b) => (base + a, base + b),
            };
            let window = Window {
                start,
                end,
                any: event.when == When::Any,
                last: last.map(|l| l.0),
            };
            self.event(event, window, base)?;
            last = Some((start, inbound));
        }
        self.finish_pending(script.events.last().map_or(0, |e| e.pos.line))?;
        self.run_snippets()
    }

    /// At a `%{ }%` line: the connection's TCP_INFO now, for the block to read later.
    fn snapshot(&mut self, line: u32, code: &str) -> Outcome<()> {
        let info = self
            .target
            .tcp_info(self.conn.remote_port)
            .map_err(|why| Failure {
                refused: true,
                ..self.fail(line, format!("%{{ }}% block: {why}"))
            })?;
        self.snippets.push(Snippet {
            line,
            code: code.to_string(),
            info,
        });
        let now = self.target.now();
        self.step(line, now, "%{ TCP_INFO taken }%".to_string());
        Ok(())
    }

    /// Run the blocks, as packetdrill does once the script has run.
    fn run_snippets(&mut self) -> Outcome<()> {
        match code::run(&self.snippets) {
            Ok(()) => Ok(()),
            Err(CodeError::NoPython(why)) => {
                let line = self.snippets.first().map_or(0, |s| s.line);
                Err(Failure {
                    refused: true,
                    ..self.fail(line, why)
                })
            }
            Err(CodeError::Failed { line, message }) => Err(self.fail(line, message)),
        }
    }

    fn event(&mut self, event: &ScriptEvent, window: Window, base: Micros) -> Outcome<()> {
        let line = event.pos.line;
        match &event.action {
            Action::Packet(p) if p.direction == Direction::Outbound => self.expect(line, p, window),
            Action::Packet(p) => {
                self.wait_until(line, window, "inbound packet")?;
                self.inject(line, p)
            }
            Action::Call(call) => {
                self.wait_until(line, window, "system call start")?;
                let end = call.end.map(|e| match event.when {
                    When::Relative(_) => base + e,
                    _ => e,
                });
                self.call(line, call, end)
            }
            // packetdrill's set_sysctls.py writes a script that puts the settings back;
            // its scripts run it at their end. A run's settings die with the run here.
            Action::Command(command) if command.trim().starts_with("/tmp/sysctl_restore_") => {
                let now = self.target.now();
                self.step(line, now, format!("`{command}`: nothing to restore"));
                Ok(())
            }
            Action::Command(command) => Err(Failure {
                refused: true,
                ..self.fail(
                    line,
                    format!("`{command}`: packetlab applies commands only before the first event"),
                )
            }),
            Action::Code(code) => {
                self.wait_until(line, window, "%{ }% block")?;
                self.snapshot(line, code)
            }
        }
    }

    /// The tolerance for an event at `start` after one at `last` (packetdrill's rule: the
    /// larger of the fixed tolerance and a share of the time between them).
    fn tolerance(&self, start: Micros, last: Option<Micros>) -> Micros {
        let share = last.map_or(0.0, |l| {
            (start - l) as f64 * self.settings.tolerance_percent / 100.0
        });
        self.settings.tolerance_usecs.max(share as Micros)
    }

    /// Whether `actual` is within the window; `Err` says how it is not.
    fn on_time(&self, window: Window, actual: Micros, what: &str) -> Result<(), String> {
        if window.any {
            return Ok(());
        }
        let tolerance = self.tolerance(window.start, window.last);
        if actual < window.start - tolerance || actual > window.end + tolerance {
            let expected = if window.start == window.end {
                format!("at {} s", secs(window.start))
            } else {
                format!("in {}~{} s", secs(window.start), secs(window.end))
            };
            return Err(format!(
                "timing error: expected {what} {expected} but it happened at {} s (tolerance {} s)",
                secs(actual),
                secs(tolerance)
            ));
        }
        Ok(())
    }

    fn wait_until(&mut self, line: u32, window: Window, what: &str) -> Outcome<()> {
        self.advance(time(window.start))?;
        self.on_time(window, us(self.target.now()), what)
            .map_err(|message| self.fail(line, message))
    }

    /// Let time pass to `until`: the host's timers fire, what it sends is queued, a call in
    /// the background may return.
    fn advance(&mut self, until: Time) -> Outcome<()> {
        self.target.advance(until, false);
        self.collect()
    }

    /// Take what the host sent (answering ARP for the gateway, queueing the rest) and what
    /// happened to it; check a call in the background that returned.
    fn collect(&mut self) -> Outcome<()> {
        loop {
            let frames = self.target.take_frames();
            if frames.is_empty() {
                break;
            }
            for (t, frame) in frames {
                let number = self.record(&frame, false, t);
                match packet::read(&frame) {
                    Sent::ArpRequest {
                        sender_ip,
                        target_ip,
                    } if target_ip == addr::GATEWAY => {
                        let reply = packet::arp_reply(target_ip, sender_ip);
                        let number = self.record(&reply, true, self.target.now());
                        self.target.inject(&reply, number);
                    }
                    Sent::ArpRequest { .. } | Sent::Other => {}
                    sent => self.queue.push_back(Queued { t, number, sent }),
                }
            }
        }
        let events = self.target.take_events();
        self.events.extend(events);
        self.check_returned()
    }

    /// Put a frame in the capture and the trace; its number.
    fn record(&mut self, frame: &[u8], inbound: bool, t: Time) -> u64 {
        let number = self.records.len() as u64 + 1;
        let (from, to) = if inbound {
            ("script", "host")
        } else {
            ("host", "script")
        };
        self.events.push(Event {
            t,
            kind: EventKind::Frame {
                number,
                link: "drill".into(),
                from: from.into(),
                to: to.into(),
                len: frame.len(),
                summary: wire::summary_of(frame),
            },
        });
        self.records.push(Record {
            interface: 0,
            t_ns: t.as_nanos(),
            data: frame.to_vec(),
            original_len: frame.len() as u32,
            comments: Vec::new(),
            direction: Some(if inbound {
                capture::Direction::Inbound
            } else {
                capture::Direction::Outbound
            }),
        });
        number
    }

    fn comment(&mut self, number: u64, line: u32, text: &str) {
        if let Some(record) = self.records.get_mut(number as usize - 1) {
            record
                .comments
                .push(format!("{}:{line}: {text}", self.name));
        }
    }

    fn step(&mut self, line: u32, t: Time, text: String) {
        self.steps.push(Step { line, t, text });
    }
}

/// When an event may happen.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Micros,
    end: Micros,
    any: bool,
    /// The previous event's time, for the tolerance.
    last: Option<Micros>,
}

/// Inbound packets.
impl Runner<'_> {
    fn inject(&mut self, line: u32, p: &Packet) -> Outcome<()> {
        self.ident = self.ident.wrapping_add(1);
        let (frame, text) = match &p.body {
            Body::Tcp(spec) => self.tcp_in(line, spec, p)?,
            Body::Udp { len } => {
                let (local, remote) = self.udp.unwrap_or((addr::PORT, self.next_remote_port));
                self.udp = Some((local, remote));
                (
                    packet::udp_frame(remote, local, *len, self.ident),
                    format!("< udp ({len})"),
                )
            }
            Body::Icmp(spec) => self.icmp_in(spec),
        };
        let now = self.target.now();
        let number = self.record(&frame, true, now);
        self.comment(number, line, &text);
        self.target.inject(&frame, number);
        self.last_at = Some(us(now));
        self.step(line, now, text);
        self.collect()
    }

    fn tcp_in(&mut self, line: u32, spec: &TcpSpec, p: &Packet) -> Outcome<(Vec<u8>, String)> {
        let syn = spec.flags.syn && !spec.flags.ack && !self.conn.active;
        if syn && (self.listening || self.conn.local_port == 0) {
            // A SYN to a listener opens a new connection (passive open) from a new port.
            self.listening = false;
            self.conn = Conn {
                local_port: addr::PORT,
                remote_port: self.next_remote_port,
                ..Conn::default()
            };
            self.next_remote_port += 1;
        } else if syn {
            // Otherwise it goes to the connection under test, as packetdrill sends it.
            self.conn.reopened = true;
        } else if self.conn.local_port == 0 {
            self.conn.local_port = addr::PORT;
            self.conn.remote_port = self.next_remote_port;
        }
        let offset = self.conn.offset();
        let mut options = spec.options.clone().unwrap_or_default();
        for option in &mut options {
            match option {
                TcpOpt::Sack(blocks) => {
                    for (l, r) in blocks.iter_mut() {
                        *l = l.wrapping_add(offset);
                        *r = r.wrapping_add(offset);
                    }
                }
                TcpOpt::Timestamp { ecr, .. } if spec.flags.ack => {
                    *ecr = self.live_ecr(line, *ecr)?;
                }
                _ => {}
            }
        }
        let seg = Segment {
            src_port: self.conn.remote_port,
            dst_port: self.conn.local_port,
            seq: spec.seq,
            ack: if spec.flags.ack {
                spec.ack.wrapping_add(offset)
            } else {
                0
            },
            flags: spec.flags,
            win: spec.win.unwrap_or(0),
            urg: 0,
            options: Vec::new(),
            len: spec.len,
            ecn: 0,
        };
        let frame = packet::tcp_frame(&seg, &options, p.ecn, self.ident);
        Ok((frame, format!("< {}", show_spec(spec))))
    }

    /// The live TS ecr for a script's: the host's TS val that the script's value stands
    /// for (packetdrill refuses a value it cannot map).
    fn live_ecr(&self, line: u32, script: u32) -> Outcome<u32> {
        if let Some(live) = self.ts_map.get(&script) {
            return Ok(*live);
        }
        Err(self.fail(
            line,
            format!("unable to infer live TS ecr for script TS ecr {script}: no outbound line gave that TS val"),
        ))
    }

    fn icmp_in(&mut self, spec: &crate::script::IcmpSpec) -> (Vec<u8>, String) {
        let (icmp_type, code, what) = match spec.kind {
            IcmpKind::Unreachable(code) => (3, code, "unreachable"),
            IcmpKind::TimeExceeded => (11, 0, "time_exceeded"),
        };
        let quoted = match spec.quoted {
            Quoted::Tcp { seq, len } => {
                let live = seq.wrapping_add(self.conn.offset());
                packet::quoted_tcp(self.conn.local_port, self.conn.remote_port, live, len)
            }
            Quoted::Udp(len) => {
                let (local, remote) = self.udp.unwrap_or((addr::PORT, self.next_remote_port));
                packet::quoted_udp(local, remote, len)
            }
        };
        let frame = packet::icmp_frame(icmp_type, code, spec.mtu, &quoted, self.ident);
        (frame, format!("< icmp {what} (code {code})"))
    }
}

/// Calls.
impl Runner<'_> {
    fn call(&mut self, line: u32, call: &Call, end: Option<Micros>) -> Outcome<()> {
        let op = self.program.prepare(call).map_err(|r| Failure {
            refused: true,
            ..self.fail(line, r.0)
        })?;
        if self.pending.is_some() {
            // As packetdrill: wait up to 1 s for the call in the background to return.
            let until = self.target.now() + Time::from_secs(1);
            while self.pending.is_some() && self.target.now() < until {
                self.target.advance(until, true);
                self.collect()?;
            }
            if self.pending.is_some() && end.is_some() {
                return Err(self.fail(
                    line,
                    "a blocking system call while another blocking system call is in progress",
                ));
            }
        }
        if matches!(op, Op::Listen(..)) {
            self.listening = true;
        }
        let since = self.target.now();
        self.last_at = Some(us(since));
        let got = self.target.call(&op, end.is_some(), time(BLOCK_LIMIT));
        self.collect()?;
        match (got, end) {
            (Some(got), end) => {
                let t = self.target.now();
                if end.is_some() {
                    // A blocking call happened when it returned.
                    self.last_at = Some(us(t));
                }
                self.returned(line, call, got, end, (since, t))
            }
            (None, Some(end)) => {
                self.pending = Some(Pending {
                    line,
                    call: call.clone(),
                    since,
                    end,
                });
                Ok(())
            }
            (None, None) => Err(self.fail(
                line,
                format!(
                    "{} blocked and never returned (write `...` for a call that blocks)",
                    call.name.name()
                ),
            )),
        }
    }

    /// A call in the background that has returned: checked as the script says.
    fn check_returned(&mut self) -> Outcome<()> {
        if self.pending.is_none() {
            return Ok(());
        }
        let Some((got, t)) = self.target.take_returned() else {
            return Ok(());
        };
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        self.returned(p.line, &p.call, got, Some(p.end), (p.since, t))
    }

    /// A call returned at `t`: its result checked, and the time it returned if the script
    /// gives one (`...END`; a call that does not block is checked by when the next line
    /// happens, as packetdrill checks it).
    fn returned(
        &mut self,
        line: u32,
        call: &Call,
        got: Got,
        end: Option<Micros>,
        (since, t): (Time, Time),
    ) -> Outcome<()> {
        let text = format!("{}(...) = {got}", call.name.name());
        let window = end.map(|end| Window {
            start: end,
            end,
            any: false,
            last: Some(us(since)),
        });
        let mismatch = verdict::check(call, &got)
            .err()
            .or_else(|| window.and_then(|w| self.on_time(w, us(t), "system call return").err()));
        if let Some(message) = mismatch {
            let errno = call
                .errno
                .as_ref()
                .map(|e| format!(" {e}"))
                .unwrap_or_default();
            return Err(Failure {
                expected: Some(format!(
                    "{}(...) = {}{errno}",
                    call.name.name(),
                    call.result
                )),
                actual: Some(text),
                ..self.fail(line, message)
            });
        }
        if let (Expr::Int(script), Got::Value(live, _)) = (&call.result, &got) {
            if matches!(call.name, CallName::Socket | CallName::Accept) {
                self.program.map_fd(*script, *live);
            }
        }
        self.step(line, t, text);
        Ok(())
    }

    fn finish_pending(&mut self, line: u32) -> Outcome<()> {
        if self.pending.is_some() {
            let until = self.target.now() + Time::from_secs(1);
            while self.pending.is_some() && self.target.now() < until {
                self.target.advance(until, true);
                self.collect()?;
            }
        }
        match &self.pending {
            Some(p) => Err(self.fail(
                p.line.max(line),
                "the script ended while a blocking system call was in progress",
            )),
            None => Ok(()),
        }
    }
}

/// A script's TCP line, as it would print.
pub(crate) fn show_spec(spec: &TcpSpec) -> String {
    let options = spec
        .options
        .as_ref()
        .map(|o| o.iter().map(TcpOpt::to_string).collect());
    packet::show_parts(spec.flags, spec.seq, spec.len, spec.ack, spec.win, options)
}
