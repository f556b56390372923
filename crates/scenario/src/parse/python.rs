//! Hosts that run a learner's Python program (`python = "echo_server.py"`, with `args` and
//! `stdin`), and the kernel side's program in a lesson against the kernel. Arguments may name
//! an address written once in the file: `{server.ip}`, `{kernel.ip}`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ::python::PythonProgram;
use toml::Spanned;
use trace::Time;

use super::Source;
use super::spec::HostSpec;
use crate::{HostDef, ScenarioError};

/// A program as written: its file, arguments and standard input.
pub(super) struct Written<'a> {
    pub(super) python: &'a Spanned<String>,
    pub(super) args: Option<&'a Vec<Spanned<String>>>,
    pub(super) stdin: Option<&'a Spanned<String>>,
}

/// The program `written` names, its file found beside the scenario file and each `{NAME.ip}`
/// in its arguments replaced by that address.
pub(super) fn program(
    src: &Source,
    written: Written,
    addresses: &Addresses,
    label: String,
) -> Result<PythonProgram, ScenarioError> {
    let file = written.python.get_ref();
    if file.contains('\n') || !file.ends_with(".py") {
        return Err(src.error(
            written.python,
            "expected the name of a Python file beside the scenario file, like \
             \"echo_server.py\"",
        ));
    }
    let path = beside(src.path, file);
    if !path.is_file() {
        return Err(src.error(
            written.python,
            format!("`{file}`: no such file (looked for {})", path.display()),
        ));
    }
    let mut args = Vec::new();
    for arg in written.args.into_iter().flatten() {
        args.push(fill_in(src, arg, addresses)?);
    }
    Ok(PythonProgram {
        path,
        args,
        stdin: written
            .stdin
            .map_or_else(Vec::new, |s| s.get_ref().as_bytes().to_vec()),
        start_at: Time::ZERO,
        label: Some(label),
    })
}

/// `file` relative to the folder of the scenario file at `scenario`.
fn beside(scenario: &str, file: &str) -> PathBuf {
    let folder = Path::new(scenario).parent().unwrap_or(Path::new(""));
    folder.join(file)
}

/// `arg` with each `{NAME.ip}` replaced by the address of NAME.
fn fill_in(
    src: &Source,
    arg: &Spanned<String>,
    addresses: &Addresses,
) -> Result<String, ScenarioError> {
    let text = arg.get_ref();
    let mut out = String::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('{').map(|i| rest + i) {
        // The value's first character follows its opening quote.
        let at = arg.span().start + 1 + open;
        let Some(close) = text[open..].find('}').map(|i| open + i) else {
            return Err(src.error_at(at, "`{` without `}`: expected {HOST.ip}"));
        };
        let inner = &text[open + 1..close];
        let name = inner
            .strip_suffix(".ip")
            .ok_or_else(|| src.error_at(at, format!("`{{{inner}}}`: expected {{HOST.ip}}")))?;
        let ip = addresses.get(name).ok_or_else(|| {
            let known: Vec<&str> = addresses.keys().map(String::as_str).collect();
            src.error_at(
                at,
                format!(
                    "`{{{inner}}}`: no host `{name}`; known: {}",
                    known.join(", ")
                ),
            )
        })?;
        out.push_str(&text[rest..open]);
        out.push_str(&ip.to_string());
        rest = close + 1;
    }
    out.push_str(&text[rest..]);
    Ok(out)
}

/// Every address a program may name: each host's (each member of a group's) and, in a
/// lesson against the kernel, the kernel side's.
pub(super) type Addresses = BTreeMap<String, Ipv4Addr>;

/// The addresses of `hosts` (before groups are expanded) and of the kernel side.
pub(super) fn addresses(
    hosts: &[HostDef],
    groups: &BTreeMap<String, u32>,
    kernel: Option<Ipv4Addr>,
) -> Addresses {
    let mut out = Addresses::new();
    if let Some(ip) = kernel {
        out.insert("kernel".to_string(), ip);
    }
    for host in hosts {
        match groups.get(&host.name) {
            Some(&n) => {
                for i in 1..=n {
                    let ip = Ipv4Addr::from(u32::from(host.ip).wrapping_add(i - 1));
                    out.insert(format!("{}{i}", host.name), ip);
                }
            }
            None => {
                out.insert(host.name.clone(), host.ip);
            }
        }
    }
    out
}

/// Read the `python`, `args` and `stdin` of host `name` into its definition.
pub(super) fn attach(
    src: &Source,
    (name, h): (&str, &HostSpec),
    def: &mut HostDef,
    addresses: &Addresses,
) -> Result<(), ScenarioError> {
    let Some(file) = &h.python else {
        if let Some(stdin) = &h.stdin {
            return Err(src.error(stdin, "`stdin` is for a host that runs a `python` file"));
        }
        if let Some(arg) = h.args.as_ref().and_then(|a| a.first()) {
            return Err(src.error(arg, "`args` are for a host that runs a `python` file"));
        }
        return Ok(());
    };
    if h.program.is_some() {
        return Err(src.error(
            file,
            format!("host `{name}` runs either a `program` or a `python` file, not both"),
        ));
    }
    if h.tap.is_some() {
        return Err(src.error(
            file,
            "our host on a TAP device runs a `program`; a Python program runs on the kernel \
             side ([kernel] python = \"…\")",
        ));
    }
    let written = Written {
        python: file,
        args: h.args.as_ref(),
        stdin: h.stdin.as_ref(),
    };
    let label = format!("{name}/{}", file.get_ref());
    def.python = Some(program(src, written, addresses, label)?);
    Ok(())
}
