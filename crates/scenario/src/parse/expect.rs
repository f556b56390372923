//! The expectation language (`expect = '''…'''`): what a lesson checks after its run, one
//! check a line; and the `[kernel]` table of a lesson against the kernel.

use toml::Spanned;

use super::Source;
use super::program::program_assigns;
use super::python::{self, Addresses, Written};
use super::source::Words;
use super::spec::{FileSpec, HostSpec};
use super::values::{parse_cidr, parse_duration};
use crate::{
    Check, Direction, Ending, Expectation, HostDef, KernelDef, ScenarioError, SocketRef, StreamRef,
};

/// What an expectation may name: the hosts, and whether there is a kernel side.
#[derive(Clone, Copy)]
pub(super) struct Known<'a> {
    pub(super) hosts: &'a [HostDef],
    pub(super) kernel: bool,
}

/// What a host runs, as far as expectations care.
enum Runs<'a> {
    Program(&'a HostDef),
    Python,
}

impl Known<'_> {
    /// The host (or the kernel side) called `name`, or an error listing the known ones.
    fn host(&self, src: &Source, at: usize, name: &str) -> Result<Runs<'_>, ScenarioError> {
        if name == "kernel" && self.kernel {
            return Ok(Runs::Python);
        }
        match self.hosts.iter().find(|h| h.name == name) {
            Some(h) if h.python.is_some() => Ok(Runs::Python),
            Some(h) => Ok(Runs::Program(h)),
            None => {
                let mut names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
                if self.kernel {
                    names.push("kernel");
                }
                Err(src.error_at(
                    at,
                    format!("unknown host `{name}`; known hosts: {}", names.join(", ")),
                ))
            }
        }
    }
}

/// Parse the `expect` text against the hosts it may name.
pub(super) fn parse_expectations(
    src: &Source,
    text: &Spanned<String>,
    known: Known,
) -> Result<Vec<Expectation>, ScenarioError> {
    let mut out = Vec::new();
    for (offset, raw) in src.content_lines(text) {
        let mut w = Words::new(src, offset, raw);
        if w.at_end() {
            continue;
        }
        let text = super::source::without_comment(raw).to_string();
        let check = expectation(src, &mut w, known)?;
        w.end()?;
        out.push(Expectation { text, check });
    }
    Ok(out)
}

fn expectation(src: &Source, w: &mut Words, known: Known) -> Result<Check, ScenarioError> {
    let (at, subject) = w.next("a subject like client.c, server:9000, wire or trace")?;
    match subject {
        "trace" => trace_contains(src, w),
        "wire" => wire_flags(w),
        _ if subject.contains(':') => {
            let (host, socket) = host_port(src, known, (at, subject))?;
            socket_check(src, w, known, (host, socket))
        }
        _ if subject.contains('.') => {
            let (host, var) = host_var(src, known, (at, subject))?;
            variable_check(src, w, known, (host, var))
        }
        _ => program_check(src, w, known, (at, subject)),
    }
}

/// `wire flags S, S., …`.
fn wire_flags(w: &mut Words) -> Result<Check, ScenarioError> {
    w.expect_word("flags")?;
    let mut flags = Vec::new();
    while !w.at_end() {
        let (_, f) = w.next("TCP flags like S. or F.")?;
        flags.push(f.to_string());
        w.skip_space();
        if w.line[w.pos..].starts_with(',') {
            w.pos += 1;
        }
    }
    Ok(Check::WireFlags(flags))
}

/// `HOST prints "text"`, `HOST raises NAME`, `HOST exits N`, for a host running Python.
fn program_check(
    src: &Source,
    w: &mut Words,
    known: Known,
    (at, host): (usize, &str),
) -> Result<Check, ScenarioError> {
    if let Runs::Program(_) = known.host(src, at, host)? {
        return Err(src.error_at(
            at,
            format!(
                "host `{host}` runs a scenario program: name one of its variables, like \
                 {host}.c, or use wire or trace"
            ),
        ));
    }
    let host = host.to_string();
    let (verb_at, verb) = w.next("prints, raises or exits")?;
    match verb {
        "prints" => Ok(Check::Prints {
            host,
            text: String::from_utf8_lossy(&w.string()?).into_owned(),
        }),
        "raises" => {
            let (_, name) = w.next("an exception's name like ConnectionResetError")?;
            Ok(Check::Ends {
                host,
                how: Ending::Raises(name.to_string()),
            })
        }
        "exits" => {
            let (at, n) = w.next("an exit status like 0")?;
            let status = n
                .parse()
                .map_err(|_| src.error_at(at, format!("`{n}`: expected an exit status")))?;
            Ok(Check::Ends {
                host,
                how: Ending::Exits(status),
            })
        }
        other => Err(src.error_at(
            verb_at,
            format!("unknown check `{other}`; expected prints, raises or exits"),
        )),
    }
}

/// `trace contains "text" [N times]`.
fn trace_contains(src: &Source, w: &mut Words) -> Result<Check, ScenarioError> {
    w.expect_word("contains")?;
    let text = String::from_utf8_lossy(&w.string()?).into_owned();
    if w.at_end() {
        return Ok(Check::TraceContains(text));
    }
    let (at, n) = w.next("a count, as in `3 times`")?;
    let n: usize = n
        .parse()
        .map_err(|_| src.error_at(at, format!("`{n}`: expected a whole number")))?;
    let (at, word) = w.next("`times`")?;
    if word != "times" && !(word == "time" && n == 1) {
        return Err(src.error_at(at, format!("`{word}`: expected `times`")));
    }
    Ok(Check::TraceCount(text, n))
}

/// `HOST:PORT` or `HOST:PORT[N]`: a host's (Nth) connection by port.
fn host_port<'w>(
    src: &Source,
    known: Known,
    (at, subject): (usize, &'w str),
) -> Result<(&'w str, SocketRef), ScenarioError> {
    let (host, port) = subject.split_once(':').unwrap_or((subject, ""));
    known.host(src, at, host)?;
    let at = at + host.len() + 1;
    let (port, nth) = match port.split_once('[') {
        Some((port, nth)) => (port, nth.strip_suffix(']').unwrap_or("")),
        None => (port, "1"),
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        src.error_at(
            at,
            format!("`{port}`: expected a port like 9000 (as in {host}:9000 or {host}:9000[2])"),
        )
    })?;
    let nth: usize = nth.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        src.error_at(
            at,
            format!(
                "`{subject}`: expected which connection in brackets, counting from 1, as in \
                 {host}:{port}[2]"
            ),
        )
    })?;
    Ok((host, SocketRef::Port { port, nth }))
}

/// `HOST.VAR`, where HOST is a host whose program assigns VAR.
fn host_var<'w>(
    src: &Source,
    known: Known,
    (at, subject): (usize, &'w str),
) -> Result<(&'w str, &'w str), ScenarioError> {
    let (host, var) = subject.split_once('.').unwrap_or((subject, ""));
    let Runs::Program(def) = known.host(src, at, host)? else {
        return Err(src.error_at(
            at,
            format!(
                "host `{host}` runs a Python program: name its connections by port, like \
                 {host}:9000, or say `{host} prints \"…\"`"
            ),
        ));
    };
    if !program_assigns(&def.program, var) {
        return Err(src.error_at(
            at + host.len() + 1,
            format!("host `{host}`'s program never assigns `{var}`"),
        ));
    }
    Ok((host, var))
}

/// What follows `HOST:PORT`: `passes STATE…`, `at TIME is STATE`, or
/// `sent|received same as STREAM`.
fn socket_check(
    src: &Source,
    w: &mut Words,
    known: Known,
    (host, socket): (&str, SocketRef),
) -> Result<Check, ScenarioError> {
    let (verb_at, verb) = w.next("passes, at, sent or received")?;
    if matches!(verb, "sent" | "received") {
        streams_recorded(src, known, (verb_at, host))?;
    }
    let direction = match verb {
        "sent" => Direction::Sent,
        "received" => Direction::Received,
        _ if host == "kernel" => {
            return Err(src.error_at(
                verb_at,
                format!("`{verb}`: the kernel's states are not seen; expected sent or received"),
            ));
        }
        _ => return state_check(src, w, (host, socket), (verb_at, verb)),
    };
    let stream = StreamRef::Connection { socket, direction };
    w.expect_word("same")?;
    same_as(src, w, known, (host.to_string(), stream))
}

/// `passes STATE…` or `at TIME is STATE`, after a socket.
fn state_check(
    src: &Source,
    w: &mut Words,
    (host, socket): (&str, SocketRef),
    (verb_at, verb): (usize, &str),
) -> Result<Check, ScenarioError> {
    let host = host.to_string();
    match verb {
        "passes" => {
            let mut states = Vec::new();
            while !w.at_end() {
                let (at, s) = w.next("a TCP state")?;
                states.push(s.parse().map_err(|e| src.error_at(at, format!("{e}")))?);
            }
            Ok(Check::Passes {
                host,
                socket,
                states,
            })
        }
        "at" => {
            let (at, t) = w.next("a time like 1.5s")?;
            let t = parse_duration(t).map_err(|m| src.error_at(at, m))?;
            w.expect_word("is")?;
            let (at, s) = w.next("a TCP state")?;
            let state = s.parse().map_err(|e| src.error_at(at, format!("{e}")))?;
            Ok(Check::StateAt {
                host,
                socket,
                t,
                state,
            })
        }
        other => Err(src.error_at(
            verb_at,
            format!("unknown check `{other}`; expected passes, at, sent or received"),
        )),
    }
}

/// What follows `HOST.VAR`: `passes STATE…`, `at TIME is STATE`, `= "data"`,
/// `same as STREAM` or `error ERRNO`.
fn variable_check(
    src: &Source,
    w: &mut Words,
    known: Known,
    (host, var): (&str, &str),
) -> Result<Check, ScenarioError> {
    let (verb_at, verb) = w.next("passes, at, =, same, or error")?;
    let (host, var) = (host.to_string(), var.to_string());
    match verb {
        "passes" | "at" => state_check(src, w, (&host, SocketRef::Var(var)), (verb_at, verb)),
        "=" => Ok(Check::Data {
            host,
            var,
            data: w.string()?,
        }),
        "same" => same_as(src, w, known, (host, StreamRef::Var(var))),
        "error" => {
            let (_, errno) = w.next("an errno name like ECONNREFUSED")?;
            Ok(Check::Error {
                host,
                var,
                errno: errno.to_string(),
            })
        }
        other => Err(src.error_at(
            verb_at,
            format!("unknown check `{other}`; expected passes, at, =, same or error"),
        )),
    }
}

/// A connection's streams are recorded for Python programs only; a scenario program keeps
/// a stream's digest in a variable (`d = send_random c 1MiB`).
fn streams_recorded(
    src: &Source,
    known: Known,
    (at, host): (usize, &str),
) -> Result<(), ScenarioError> {
    match known.host(src, at, host)? {
        Runs::Python => Ok(()),
        Runs::Program(_) => Err(src.error_at(
            at,
            format!(
                "host `{host}` runs a scenario program, whose connections' streams are not \
                 recorded: keep one in a variable (d = send_random c 1MiB) and name it \
                 ({host}.d)"
            ),
        )),
    }
}

/// `as HOST.VAR` or `as HOST:PORT sent|received`, after the first stream and `same`.
fn same_as(
    src: &Source,
    w: &mut Words,
    known: Known,
    a: (String, StreamRef),
) -> Result<Check, ScenarioError> {
    w.expect_word("as")?;
    let (at, other) = w.next("HOST.VARIABLE or HOST:PORT sent|received")?;
    let b = if other.contains(':') {
        let (host, socket) = host_port(src, known, (at, other))?;
        let (at, way) = w.next("sent or received")?;
        streams_recorded(src, known, (at, host))?;
        let direction = match way {
            "sent" => Direction::Sent,
            "received" => Direction::Received,
            _ => return Err(src.error_at(at, format!("`{way}`: expected sent or received"))),
        };
        (
            host.to_string(),
            StreamRef::Connection { socket, direction },
        )
    } else {
        let (host, var) = host_var(src, known, (at, other))?;
        (host.to_string(), StreamRef::Var(var.to_string()))
    };
    Ok(Check::SameStream { a, b })
}

/// A lesson against the kernel: one host on a TAP device, a `[kernel]` table, nothing else.
pub(super) fn kernel_lesson(
    src: &Source,
    spec: &FileSpec,
    hosts: &[HostDef],
    addresses: &Addresses,
) -> Result<Option<KernelDef>, ScenarioError> {
    let tapped: Vec<(&String, &Spanned<HostSpec>)> = spec
        .hosts
        .iter()
        .filter(|(_, h)| h.get_ref().tap.is_some())
        .collect();
    let Some(kernel) = &spec.kernel else {
        if let Some((name, host)) = tapped.first() {
            let tap = host.get_ref().tap.as_ref().expect("filtered on tap");
            return Err(src.error(
                tap,
                format!(
                    "host `{name}` is on a TAP device, so a [kernel] table must say what runs \
                     at the other end (ip and python)"
                ),
            ));
        }
        return Ok(None);
    };
    let [(name, _)] = tapped[..] else {
        return Err(src.error(
            kernel,
            "a [kernel] lesson needs exactly one host with `tap = \"tap0\"`: ours, on the \
             TAP device, with the kernel at the other end",
        ));
    };
    if hosts.len() != 1
        || !spec.links.is_empty()
        || !spec.switches.is_empty()
        || !spec.routers.is_empty()
    {
        return Err(src.error(
            kernel,
            format!(
                "a [kernel] lesson has only host `{name}` and the kernel: no other hosts, \
                 links or switches"
            ),
        ));
    }
    let k = kernel.get_ref();
    let (ip, prefix) = parse_cidr(k.ip.get_ref()).ok_or_else(|| {
        src.error(
            &k.ip,
            format!(
                "`{}`: expected the kernel side's address with a prefix length, like \
                 10.77.0.1/24",
                k.ip.get_ref()
            ),
        )
    })?;
    let ip6 = match &k.ip6 {
        Some(text) => Some(super::values::parse_cidr6(text.get_ref()).ok_or_else(|| {
            let what = format!(
                "`{}`: expected the kernel side's IPv6 address with a prefix length, like \
                 2001:db8:77::1/64",
                text.get_ref()
            );
            src.error(text, what)
        })?),
        None => None,
    };
    let written = Written {
        python: &k.python,
        args: k.args.as_ref(),
        stdin: k.stdin.as_ref(),
    };
    let label = format!("kernel/{}", k.python.get_ref());
    Ok(Some(KernelDef {
        ip,
        prefix,
        ip6,
        program: python::program(src, written, addresses, label)?,
    }))
}
