//! The end of every run, on the simulator or against the kernel: what each expectation saw,
//! and whether it held.

use std::collections::BTreeMap;

use capture::Record;
use program::{AppOutcome, Application, StreamDigest, StreamHasher, Value, python_bytes};
use python::Observed;
use stack::SocketId;
use trace::{Event, EventKind, Note, ProgramNote, TcpState, Time};

use crate::watch::Watch;
use crate::{
    Check, Direction, Ending, Expectation, Report, Scenario, SocketRef, StreamRef, Verdict,
};

/// What a run left to judge by.
pub struct Evidence {
    /// The trace.
    pub events: Vec<Event>,
    /// The capture's interfaces.
    pub interfaces: Vec<capture::Interface>,
    /// The captured frames.
    pub records: Vec<Record>,
    /// What the kernel side's program did, in a lesson against the kernel.
    pub kernel: Option<Observed>,
}

/// Note the programs still waiting, judge the expectations and put their verdicts last in
/// the trace: the end of a run whose whole trace and capture are at hand (a lesson against
/// the kernel).
pub fn conclude<'a>(
    scenario: &Scenario,
    end: Time,
    evidence: Evidence,
    apps: impl Iterator<Item = (String, &'a dyn Application)>,
) -> Report {
    let Evidence {
        mut events,
        interfaces,
        records,
        kernel,
    } = evidence;
    let mut watch = Watch::new(scenario);
    watch.events(&events);
    watch.frames(&records);
    let (last, verdicts) = judge_all(scenario, end, &mut watch, apps, kernel.as_ref());
    events.extend(last);
    Report {
        events,
        interfaces,
        records,
        verdicts,
        snaplen: scenario.snaplen,
    }
}

/// The last events of a run and the verdicts: a note for each program still waiting, then
/// each expectation judged on what `watch` saw.
pub(crate) fn judge_all<'a>(
    scenario: &Scenario,
    end: Time,
    watch: &mut Watch,
    apps: impl Iterator<Item = (String, &'a dyn Application)>,
    kernel: Option<&Observed>,
) -> (Vec<Event>, Vec<Verdict>) {
    let mut last = Vec::new();
    let mut hosts = BTreeMap::new();
    for (name, app) in apps {
        for call in app.blocked_on() {
            last.push(Event {
                t: end,
                kind: EventKind::Note {
                    node: name.clone(),
                    note: Note::Program(ProgramNote::StillWaiting { call }),
                },
            });
        }
        let ran = match app.as_program() {
            Some(p) => Ran::Program {
                vars: p.vars.clone(),
                bound: p.bound.clone(),
            },
            None => Ran::Python(app.outcome().unwrap_or_default()),
        };
        hosts.insert(name, ran);
    }
    watch.events(&last);
    let seen = Seen {
        watch,
        hosts: &hosts,
        kernel,
    };
    let verdicts: Vec<Verdict> = scenario
        .expectations
        .iter()
        .map(|e| judge(e, &seen))
        .collect();
    for verdict in &verdicts {
        last.push(Event {
            t: end,
            kind: EventKind::Expectation {
                text: verdict.text.clone(),
                passed: verdict.passed,
                actual: verdict.actual.clone(),
            },
        });
    }
    (last, verdicts)
}

/// What ran on a host, as far as expectations care.
enum Ran {
    /// A scenario program: its variables, and the socket each socket variable holds.
    Program {
        vars: BTreeMap<String, Value>,
        bound: BTreeMap<String, u32>,
    },
    /// A Python program.
    Python(AppOutcome),
}

/// Everything an expectation may look at.
struct Seen<'a> {
    watch: &'a Watch,
    hosts: &'a BTreeMap<String, Ran>,
    kernel: Option<&'a Observed>,
}

impl Seen<'_> {
    fn var(&self, host: &str, var: &str) -> Option<&Value> {
        match self.hosts.get(host)? {
            Ran::Program { vars, .. } => vars.get(var),
            Ran::Python(_) => None,
        }
    }

    /// The engine socket `socket` names on `host`.
    fn socket(&self, host: &str, socket: &SocketRef) -> Result<SocketId, String> {
        match socket {
            SocketRef::Var(var) => match self.hosts.get(host) {
                Some(Ran::Program { bound, .. }) => bound.get(var).copied().ok_or_else(|| {
                    format!("`{var}` was never given a socket (the program did not get there)")
                }),
                _ => Err(format!("host `{host}` has no variable `{var}`")),
            },
            SocketRef::Port { port, nth } => {
                let opened = self.watch.connections(host, *port);
                opened.get(nth - 1).copied().ok_or_else(|| {
                    let n = opened.len();
                    format!("{host} opened {n} connection(s) with port {port}")
                })
            }
        }
    }

    /// The digest of a stream an expectation names.
    fn stream(&self, (host, stream): &(String, StreamRef)) -> Result<StreamDigest, String> {
        match stream {
            StreamRef::Var(var) => match self.var(host, var) {
                Some(Value::Stream(d)) => Ok(*d),
                Some(Value::Error(e)) => {
                    Err(format!("{host}.{var}: the call failed with {}", e.errno()))
                }
                _ => Err(format!(
                    "{host}.{var} was never assigned (the call did not return)"
                )),
            },
            StreamRef::Connection { socket, direction } if host == "kernel" => {
                self.kernel_stream(socket, *direction)
            }
            StreamRef::Connection { socket, direction } => {
                let id = self.socket(host, socket)?;
                let Some(Ran::Python(outcome)) = self.hosts.get(host) else {
                    return Err(format!("host `{host}` does not run Python"));
                };
                let empty = StreamHasher::default().digest();
                let streams = outcome.streams.get(&id);
                Ok(match direction {
                    Direction::Sent => streams.map_or(empty, |s| s.sent),
                    Direction::Received => streams.map_or(empty, |s| s.received),
                })
            }
        }
    }

    fn kernel_stream(
        &self,
        socket: &SocketRef,
        direction: Direction,
    ) -> Result<StreamDigest, String> {
        let (SocketRef::Port { port, nth }, Some(kernel)) = (socket, self.kernel) else {
            return Err("no kernel side in this lesson".to_string());
        };
        let matching: Vec<_> = kernel
            .connections
            .iter()
            .filter(|c| c.local.port() == *port || c.remote.port() == *port)
            .collect();
        let c = matching.get(nth - 1).ok_or_else(|| {
            format!(
                "the kernel's program recorded {} connection(s) with port {port}",
                matching.len()
            )
        })?;
        Ok(match direction {
            Direction::Sent => c.streams.sent,
            Direction::Received => c.streams.received,
        })
    }

    /// How the Python program of `host` (or the kernel side) ended, and what it printed.
    fn program_end(&self, host: &str) -> Option<program::ProgramEnd> {
        if host == "kernel" {
            return self.kernel.map(|k| k.end.clone());
        }
        match self.hosts.get(host)? {
            Ran::Python(outcome) => outcome.programs.first().cloned(),
            Ran::Program { .. } => None,
        }
    }
}

fn judge(expectation: &Expectation, seen: &Seen) -> Verdict {
    let (passed, actual) = match &expectation.check {
        Check::Passes { .. } | Check::StateAt { .. } => states(&expectation.check, seen),
        Check::Data { host, var, data } => match seen.var(host, var) {
            Some(Value::Bytes(got)) => (got == data, format!("= {}", python_bytes(got))),
            Some(Value::Error(e)) => (false, format!("the recv failed with {}", e.errno())),
            _ => (
                false,
                format!("`{var}` was never assigned (the recv did not return)"),
            ),
        },
        Check::Error { host, var, errno } => match seen.var(host, var) {
            Some(Value::Error(e)) => (e.errno() == errno, format!("error {}", e.errno())),
            Some(_) => (false, "the call succeeded".to_string()),
            None => (false, format!("`{var}` was never assigned")),
        },
        Check::WireFlags(expected) => {
            let got = seen.watch.flags();
            (
                got == expected.as_slice(),
                format!("flags {}", got.join(", ")),
            )
        }
        Check::SameStream { a, b } => match (seen.stream(a), seen.stream(b)) {
            (Ok(x), Ok(y)) => (x == y, format!("{}: {x}; {}: {y}", shown(a), shown(b))),
            (Err(e), _) | (_, Err(e)) => (false, e),
        },
        Check::Prints { host, text } => match seen.program_end(host) {
            Some(end) => (
                end.output.contains(text.as_str()),
                format!("{} printed {}", end.name, quoted(&end.output)),
            ),
            None => (false, format!("no Python program ran on `{host}`")),
        },
        Check::Ends { host, how } => ends(seen, host, how),
        Check::TraceCount(text, n) => {
            let count = seen.watch.text(text).map_or(0, |t| t.count);
            (count == *n, format!("{count} events say so"))
        }
        Check::TraceContains(text) => match seen.watch.text(text).and_then(|t| t.first.clone()) {
            Some(first) => (true, first),
            None => (false, "no event says so".to_string()),
        },
    };
    Verdict {
        text: expectation.text.clone(),
        passed,
        actual,
    }
}

/// `passes STATES` and `at T is STATE`: the states a socket went through.
fn states(check: &Check, seen: &Seen) -> (bool, String) {
    let (host, socket) = match check {
        Check::Passes { host, socket, .. } | Check::StateAt { host, socket, .. } => (host, socket),
        _ => return (false, String::new()),
    };
    let id = match seen.socket(host, socket) {
        Ok(id) => id,
        Err(e) => return (false, e),
    };
    let went = seen.watch.transitions(host, id);
    match check {
        Check::StateAt { t, state, .. } => {
            let at = went
                .iter()
                .take_while(|(when, _)| when <= t)
                .last()
                .map_or(TcpState::Closed, |(_, s)| *s);
            (at == *state, format!("at {t}s is {at}"))
        }
        Check::Passes { states, .. } => {
            let got: Vec<TcpState> = went.iter().map(|(_, s)| *s).collect();
            let shown = got.iter().map(|s| s.name()).collect::<Vec<_>>().join(" ");
            (got == *states, format!("passes {shown}"))
        }
        _ => (false, String::new()),
    }
}

/// A stream as an expectation names it: `client.d`, `server:9000 received`.
fn shown((host, stream): &(String, StreamRef)) -> String {
    match stream {
        StreamRef::Var(var) => format!("{host}.{var}"),
        StreamRef::Connection { socket, direction } => {
            let way = match direction {
                Direction::Sent => "sent",
                Direction::Received => "received",
            };
            format!("{host}{socket} {way}")
        }
    }
}

/// `HOST raises NAME` or `HOST exits N`.
fn ends(seen: &Seen, host: &str, how: &Ending) -> (bool, String) {
    let Some(end) = seen.program_end(host) else {
        return (false, format!("no Python program ran on `{host}`"));
    };
    let actual = match (&end.exception, end.exit) {
        (Some(e), _) => format!("{} raised {e}", end.name),
        (None, Some(status)) => format!("{} exited with status {status}", end.name),
        (None, None) => format!("{} had not ended", end.name),
    };
    let passed = match how {
        Ending::Raises(name) => end.exception.as_deref() == Some(name.as_str()),
        Ending::Exits(status) => end.exception.is_none() && end.exit == Some(*status),
    };
    (passed, actual)
}

/// A program's output in double quotes, its line breaks, tabs, quotes and backslashes
/// escaped, so that a verdict stays on one line.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
