//! The expectation language (`expect = '''…'''`): what a lesson checks after its run, one
//! check a line; and the `[kernel]` table of a lesson against the kernel.

use toml::Spanned;

use super::Source;
use super::program::program_assigns;
use super::source::Words;
use super::spec::{FileSpec, HostSpec};
use super::values::{parse_cidr, parse_duration};
use crate::{Check, Expectation, HostDef, KernelDef, ScenarioError};

/// Parse the `expect` text against the hosts it may name.
pub(super) fn parse_expectations(
    src: &Source,
    text: &Spanned<String>,
    hosts: &[HostDef],
) -> Result<Vec<Expectation>, ScenarioError> {
    let mut out = Vec::new();
    for (offset, raw) in src.content_lines(text) {
        let mut w = Words::new(src, offset, raw);
        if w.at_end() {
            continue;
        }
        let text = raw.split('#').next().unwrap_or(raw).trim().to_string();
        let check = expectation(src, &mut w, hosts)?;
        w.end()?;
        out.push(Expectation { text, check });
    }
    Ok(out)
}

fn expectation(src: &Source, w: &mut Words, hosts: &[HostDef]) -> Result<Check, ScenarioError> {
    let (subject_at, subject) = w.next("a subject like client.c, wire or trace")?;
    match subject {
        "kernel" => {
            w.expect_word("prints")?;
            let text = w.string()?;
            Ok(Check::KernelPrints(
                String::from_utf8_lossy(&text).into_owned(),
            ))
        }
        "trace" => trace_contains(src, w),
        "wire" => {
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
        _ => {
            let (host, var) = host_var(src, hosts, (subject_at, subject))?;
            variable_check(src, w, hosts, (host, var))
        }
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

/// `HOST.VAR`, where HOST is a host whose program assigns VAR.
fn host_var<'w>(
    src: &Source,
    hosts: &[HostDef],
    (at, subject): (usize, &'w str),
) -> Result<(&'w str, &'w str), ScenarioError> {
    let (host, var) = subject.split_once('.').ok_or_else(|| {
        src.error_at(
            at,
            format!("`{subject}`: expected HOST.VARIABLE (like client.c) or `wire`"),
        )
    })?;
    let Some(def) = hosts.iter().find(|h| h.name == host) else {
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(src.error_at(
            at,
            format!("unknown host `{host}`; known hosts: {}", names.join(", ")),
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

/// What follows `HOST.VAR`: `passes STATE…`, `at TIME is STATE`, `= "data"`,
/// `same as HOST.VAR` or `error ERRNO`.
fn variable_check(
    src: &Source,
    w: &mut Words,
    hosts: &[HostDef],
    (host, var): (&str, &str),
) -> Result<Check, ScenarioError> {
    let (host, var) = (host.to_string(), var.to_string());
    let (verb_at, verb) = w.next("passes, at, =, same, or error")?;
    match verb {
        "passes" => {
            let mut states = Vec::new();
            while !w.at_end() {
                let (at, s) = w.next("a TCP state")?;
                states.push(s.parse().map_err(|e| src.error_at(at, format!("{e}")))?);
            }
            Ok(Check::Passes { host, var, states })
        }
        "at" => {
            let (at, t) = w.next("a time like 1.5s")?;
            let t = parse_duration(t).map_err(|m| src.error_at(at, m))?;
            w.expect_word("is")?;
            let (at, s) = w.next("a TCP state")?;
            let state = s.parse().map_err(|e| src.error_at(at, format!("{e}")))?;
            Ok(Check::StateAt {
                host,
                var,
                t,
                state,
            })
        }
        "=" => Ok(Check::Data {
            host,
            var,
            data: w.string()?,
        }),
        "same" => {
            let other = same_as(src, w, hosts)?;
            Ok(Check::SameStream {
                a: (host, var),
                b: other,
            })
        }
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

/// `as HOST.VAR` after `same`: another host's stream.
fn same_as(
    src: &Source,
    w: &mut Words,
    hosts: &[HostDef],
) -> Result<(String, String), ScenarioError> {
    w.expect_word("as")?;
    let (other_at, other) = w.next("HOST.VARIABLE")?;
    let (other_host, other_var) = other
        .split_once('.')
        .ok_or_else(|| src.error_at(other_at, format!("`{other}`: expected HOST.VARIABLE")))?;
    let assigned = hosts
        .iter()
        .find(|h| h.name == other_host)
        .is_some_and(|h| program_assigns(&h.program, other_var));
    if !assigned {
        return Err(src.error_at(
            other_at,
            format!("no host `{other_host}` whose program assigns `{other_var}`"),
        ));
    }
    Ok((other_host.to_string(), other_var.to_string()))
}

/// A lesson against the kernel: one host on a TAP device, a `[kernel]` table, nothing else.
pub(super) fn kernel_lesson(
    src: &Source,
    spec: &FileSpec,
    hosts: &[HostDef],
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
    Ok(Some(KernelDef {
        ip,
        prefix,
        python: k.python.get_ref().clone(),
    }))
}
