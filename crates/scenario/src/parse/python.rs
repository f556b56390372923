//! Hosts that run a learner's Python program (`python = "echo_server.py"`, with `args` and
//! `stdin`), and the kernel side's program in a lesson against the kernel. Arguments may name
//! an address written once in the file: `{server.ip}`, `{kernel.ip}`, and a host's first
//! IPv6 address, `{server.ip6}`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
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
/// (`{NAME.ip6}`) in its arguments replaced by that address.
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

/// `arg` with each `{NAME.ip}` replaced by the address of NAME, `{NAME.ip6}` by its IPv6 one.
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
        out.push_str(&text[rest..open]);
        out.push_str(&addresses.fill(inner).map_err(|e| src.error_at(at, e))?);
        rest = close + 1;
    }
    out.push_str(&text[rest..]);
    Ok(out)
}

/// Every address a program may name: each host's (each member of a group's) and, in a
/// lesson against the kernel, the kernel side's.
#[derive(Debug, Default)]
pub(super) struct Addresses {
    /// The IPv4 address of each.
    pub(super) v4: BTreeMap<String, Ipv4Addr>,
    /// The first IPv6 address of those that have one.
    pub(super) v6: BTreeMap<String, Ipv6Addr>,
}

impl Addresses {
    /// What `{inner}` stands for (`server.ip`, `server.ip6`), or what is wrong with it.
    fn fill(&self, inner: &str) -> Result<String, String> {
        let known = || self.v4.keys().cloned().collect::<Vec<_>>().join(", ");
        if let Some(name) = inner.strip_suffix(".ip6") {
            return match (self.v6.get(name), self.v4.contains_key(name)) {
                (Some(ip), _) => Ok(ip.to_string()),
                (None, true) => Err(format!("`{{{inner}}}`: host `{name}` has no `ip6`")),
                (None, false) => Err(format!(
                    "`{{{inner}}}`: no host `{name}`; known: {}",
                    known()
                )),
            };
        }
        let Some(name) = inner.strip_suffix(".ip") else {
            return Err(format!(
                "`{{{inner}}}`: expected {{HOST.ip}} or {{HOST.ip6}}"
            ));
        };
        match self.v4.get(name) {
            Some(ip) => Ok(ip.to_string()),
            None => Err(format!(
                "`{{{inner}}}`: no host `{name}`; known: {}",
                known()
            )),
        }
    }
}

/// The addresses of `hosts` (before groups are expanded) and of the kernel side.
pub(super) fn addresses(
    hosts: &[HostDef],
    groups: &BTreeMap<String, u32>,
    kernel: (Option<Ipv4Addr>, Option<Ipv6Addr>),
) -> Addresses {
    let mut out = Addresses::default();
    let kernel_name = || "kernel".to_string();
    out.v4.extend(kernel.0.map(|ip| (kernel_name(), ip)));
    out.v6.extend(kernel.1.map(|ip| (kernel_name(), ip)));
    for host in hosts {
        match groups.get(&host.name) {
            Some(&n) => {
                for i in 1..=n {
                    let ip = Ipv4Addr::from(u32::from(host.ip).wrapping_add(i - 1));
                    out.v4.insert(format!("{}{i}", host.name), ip);
                }
            }
            None => {
                out.v4.insert(host.name.clone(), host.ip);
                out.v6
                    .extend(host.ip6.first().map(|(ip, _)| (host.name.clone(), *ip)));
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
