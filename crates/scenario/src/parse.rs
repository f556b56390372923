//! Reading a scenario file: TOML for the network, small line languages for programs and
//! expectations. Every error names `file:line:column` and what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;

use program::{Line, Stmt};
use serde::Deserialize;
use toml::Spanned;
use trace::{TcpState, Time};
use wire::MacAddr;

use crate::{Check, Engine, Expectation, HostDef, KernelDef, LinkDef, Scenario, ScenarioError};
use link::{Faults, LinkConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    title: Spanned<String>,
    #[serde(default)]
    lesson: String,
    seed: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    expect: Option<Spanned<String>>,
    #[serde(default)]
    hosts: BTreeMap<String, Spanned<HostSpec>>,
    #[serde(default)]
    switches: BTreeMap<String, Spanned<SwitchSpec>>,
    #[serde(default)]
    routers: BTreeMap<String, Spanned<RouterSpec>>,
    #[serde(default)]
    links: Vec<Spanned<LinkSpec>>,
    kernel: Option<Spanned<KernelSpec>>,
}

/// The Linux kernel at the other end of a TAP device, and the program it runs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelSpec {
    ip: Spanned<String>,
    python: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    mac: Spanned<String>,
    ip: Spanned<String>,
    /// Several hosts alike: NAME1…NAMEn, MAC and IP counted up from these.
    count: Option<Spanned<i64>>,
    gateway: Option<Spanned<String>>,
    msl: Option<Spanned<String>>,
    mtu: Option<Spanned<i64>>,
    recv_buffer: Option<Spanned<i64>>,
    send_buffer: Option<Spanned<i64>>,
    engine: Option<Spanned<String>>,
    tap: Option<Spanned<String>>,
    min_rto: Option<Spanned<String>>,
    program: Option<Spanned<String>>,
}

/// The faults of one direction of a link, as written.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    jitter: Option<Spanned<String>>,
    loss: Option<Spanned<String>>,
    drop: Option<Spanned<Vec<i64>>>,
    reorder: Option<Spanned<String>>,
    reorder_delay: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
}

impl FaultSpec {
    /// These faults with the fields `over` sets replaced.
    fn overridden_by(&self, over: &FaultSpec) -> FaultSpec {
        FaultSpec {
            jitter: over.jitter.clone().or_else(|| self.jitter.clone()),
            loss: over.loss.clone().or_else(|| self.loss.clone()),
            drop: over.drop.clone().or_else(|| self.drop.clone()),
            reorder: over.reorder.clone().or_else(|| self.reorder.clone()),
            reorder_delay: over
                .reorder_delay
                .clone()
                .or_else(|| self.reorder_delay.clone()),
            duplicate: over.duplicate.clone().or_else(|| self.duplicate.clone()),
            corrupt: over.corrupt.clone().or_else(|| self.corrupt.clone()),
            rate: over.rate.clone().or_else(|| self.rate.clone()),
            queue: over.queue.clone().or_else(|| self.queue.clone()),
        }
    }
}

/// The fault fields that may appear directly on a link or a switch port (both directions).
macro_rules! fault_fields {
    ($spec:expr) => {
        FaultSpec {
            jitter: $spec.jitter.clone(),
            loss: $spec.loss.clone(),
            drop: $spec.drop.clone(),
            reorder: $spec.reorder.clone(),
            reorder_delay: $spec.reorder_delay.clone(),
            duplicate: $spec.duplicate.clone(),
            corrupt: $spec.corrupt.clone(),
            rate: $spec.rate.clone(),
            queue: $spec.queue.clone(),
        }
    };
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchSpec {
    links: Vec<PortSpec>,
    /// How long a MAC table entry lives unrefreshed (default 300 s).
    aging: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterSpec {
    /// Cables like a switch's, each with the port's addresses.
    ports: Vec<PortSpec>,
    #[serde(default)]
    routes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortSpec {
    to: Spanned<String>,
    /// A router port's MAC (a switch port has none).
    mac: Option<Spanned<String>>,
    /// A router port's address and prefix.
    ip: Option<Spanned<String>>,
    delay: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    loss: Option<Spanned<String>>,
    drop: Option<Spanned<Vec<i64>>>,
    reorder: Option<Spanned<String>>,
    reorder_delay: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
    /// From the far node up to the switch or router.
    up: Option<FaultSpec>,
    /// From the switch or router down to the far node.
    down: Option<FaultSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    a: Spanned<String>,
    b: Spanned<String>,
    delay: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    loss: Option<Spanned<String>>,
    drop: Option<Spanned<Vec<i64>>>,
    reorder: Option<Spanned<String>>,
    reorder_delay: Option<Spanned<String>>,
    duplicate: Option<Spanned<String>>,
    corrupt: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
    a_to_b: Option<FaultSpec>,
    b_to_a: Option<FaultSpec>,
}

/// Turns byte offsets into `file:line:column` errors.
pub(crate) struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ScenarioError {
            file: self.path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn error<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> ScenarioError {
        self.error_at(spanned.span().start, message)
    }

    /// The offset of each line of a string value's content in the file, so that errors in a
    /// program or expectation point at the right line. Literal strings (`'''`) map one to one;
    /// in basic strings escapes may shift the column.
    fn content_lines<'s>(&self, value: &'s Spanned<String>) -> Vec<(usize, &'s str)> {
        let span: Range<usize> = value.span();
        let raw = &self.text[span.clone()];
        let mut cursor = span.start
            + if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
                3
            } else {
                1
            };
        let mut out = Vec::new();
        for line in value.get_ref().lines() {
            let found = self.text[cursor..span.end].find(line).map(|i| cursor + i);
            let offset = found.unwrap_or(cursor);
            out.push((offset, line));
            if let Some(o) = found {
                cursor = o + line.len();
            }
        }
        out
    }
}

/// Parse a duration like `10ms`, `1.5s`, `2min`, `500us`.
pub fn parse_duration(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let expected = "expected a duration like 10ms, 1.5s, 2min or 500us";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        "" if number == "0" => 1.0,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    Ok(Time((value * scale).round() as u64))
}

/// Parse a percentage like `5%` or `0.5%` into a probability.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let expected = "expected a percentage like \"5%\" or \"0.5%\"";
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("`{text}`: {expected}"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "`{text}`: a percentage must be between 0% and 100%"
        ));
    }
    Ok(value / 100.0)
}

/// Parse a rate like `10Mbit`, `1Gbit`, `500kbit` or `9600bit` into bits per second.
fn parse_rate(text: &str) -> Result<u64, String> {
    let expected = "expected a rate like 10Mbit, 1Gbit, 500kbit (bits per second)";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim().trim_end_matches("/s") {
        "bit" => 1.0,
        "kbit" => 1e3,
        "Mbit" => 1e6,
        "Gbit" => 1e9,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    let bps = (value * scale).round() as u64;
    if bps == 0 {
        return Err(format!("`{text}`: a rate must be above zero"));
    }
    Ok(bps)
}

fn faults_from(src: &Source, spec: &FaultSpec) -> Result<Faults, ScenarioError> {
    let mut faults = Faults::default();
    if let Some(j) = &spec.jitter {
        faults.jitter = parse_duration(j.get_ref()).map_err(|e| src.error(j, e))?;
    }
    let percent = |field: &Option<Spanned<String>>| -> Result<f64, ScenarioError> {
        match field {
            Some(p) => parse_percent(p.get_ref()).map_err(|e| src.error(p, e)),
            None => Ok(0.0),
        }
    };
    faults.loss = percent(&spec.loss)?;
    faults.reorder = percent(&spec.reorder)?;
    faults.duplicate = percent(&spec.duplicate)?;
    faults.corrupt = percent(&spec.corrupt)?;
    if let Some(d) = &spec.reorder_delay {
        faults.reorder_delay = parse_duration(d.get_ref()).map_err(|e| src.error(d, e))?;
    }
    if let Some(list) = &spec.drop {
        for &n in list.get_ref() {
            if n < 1 {
                return Err(src.error(
                    list,
                    format!("`drop` lists frame counts from 1 (the first frame), found {n}"),
                ));
            }
            faults.drop_nth.push(n as u64);
        }
    }
    if let Some(r) = &spec.rate {
        faults.rate_bps = Some(parse_rate(r.get_ref()).map_err(|e| src.error(r, e))?);
        faults.queue = 64;
    }
    if let Some(q) = &spec.queue {
        if spec.rate.is_none() {
            return Err(src.error(
                q,
                "`queue` needs a `rate`: without a rate limit nothing waits",
            ));
        }
        if !(1..=100_000).contains(q.get_ref()) {
            return Err(src.error(q, "the queue holds between 1 and 100000 frames"));
        }
        faults.queue = *q.get_ref() as usize;
    }
    Ok(faults)
}

/// In a group's program, `{n}` in a string is the member's number.
fn number_line(line: &mut Line, n: u32) {
    let n = n.to_string();
    let replace = |data: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(data).replace("{n}", &n);
        *data = text.into_bytes();
    };
    match &mut line.stmt {
        Stmt::Send { data, .. } | Stmt::SendTo { data, .. } => replace(data),
        _ => return,
    }
    line.text = line.text.replace("{n}", &n);
}

/// The `struct` format after `framed`: `'i'` (as in the notes) or `'!I'` (network order).
fn length_prefix(w: &mut Words) -> Result<program::LengthPrefix, ScenarioError> {
    let (at, fmt) = w.next("a struct format for the 4-byte length, like 'i' or '!I'")?;
    program::LengthPrefix::parse(fmt).ok_or_else(|| {
        w.src.error_at(
            at,
            format!(
                "`{fmt}`: expected a struct format for a 4-byte length: 'i' or 'I' (little-endian, \
                 as on x86), '!i' or '!I' (network order)"
            ),
        )
    })
}

/// `framed FMT` if written, else the notes' `'i'`.
fn framed_or_notes_default(w: &mut Words) -> Result<program::LengthPrefix, ScenarioError> {
    if w.peek() == Some("framed") {
        w.next("framed")?;
        length_prefix(w)
    } else {
        Ok(program::LengthPrefix::LittleSigned)
    }
}

/// Parse a static route: `10.0.3.0/24 via 10.0.2.2` or `default via 10.0.2.254`.
fn parse_route(text: &str) -> Result<stack::StaticRoute, String> {
    let expected = || {
        format!(
            "`{text}`: expected a route like \"10.0.3.0/24 via 10.0.2.2\" or \"default via \
             10.0.2.254\""
        )
    };
    let (net, via) = text.split_once(" via ").ok_or_else(expected)?;
    let (network, prefix) = match net.trim() {
        "default" => (Ipv4Addr::UNSPECIFIED, 0),
        cidr => parse_cidr(cidr).ok_or_else(expected)?,
    };
    let via: Ipv4Addr = via.trim().parse().map_err(|_| expected())?;
    Ok(stack::StaticRoute {
        network,
        prefix,
        via,
    })
}

/// Parse an address with a prefix length, like `10.0.0.1/24`.
pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((ip.parse().ok()?, prefix))
}

/// Parse a whole scenario file.
pub(crate) fn parse(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { path, text };
    let spec: FileSpec = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        src.error_at(offset, e.message().trim().to_string())
    })?;

    let seed = match &spec.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(src.error(s, "the seed must be a whole number ≥ 0"));
        }
        Some(s) => *s.get_ref() as u64,
        None => 1,
    };
    let duration = match &spec.duration {
        Some(d) => parse_duration(d.get_ref()).map_err(|m| src.error(d, m))?,
        None => Time::from_secs(600),
    };

    let mut hosts = Vec::new();
    let mut macs: BTreeMap<MacAddr, String> = BTreeMap::new();
    let mut ips: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    // Groups of hosts alike (`count = N`): name → N.
    let mut groups: BTreeMap<String, u32> = BTreeMap::new();
    for (name, host) in &spec.hosts {
        let h = host.get_ref();
        if let Some(count) = &h.count {
            if !(1..=250).contains(count.get_ref()) {
                return Err(src.error(count, "`count` is between 1 and 250 hosts"));
            }
            if *count.get_ref() > 1 {
                groups.insert(name.clone(), *count.get_ref() as u32);
            }
        }
        let mac: MacAddr = h
            .mac
            .get_ref()
            .parse()
            .map_err(|e| src.error(&h.mac, format!("`{}`: {e}", h.mac.get_ref())))?;
        if mac.is_group() {
            return Err(src.error(
                &h.mac,
                format!(
                    "`{mac}` is a group (multicast) address; a host's MAC must have the lowest \
                     bit of the first octet clear, like 02:00:00:00:00:01"
                ),
            ));
        }
        if let Some(other) = macs.insert(mac, name.clone()) {
            return Err(src.error(
                &h.mac,
                format!("MAC {mac} is already used by host `{other}`; every MAC must be unique"),
            ));
        }
        let (ip, prefix) = parse_cidr(h.ip.get_ref()).ok_or_else(|| {
            src.error(
                &h.ip,
                format!(
                    "`{}`: expected an IPv4 address with a prefix length, like 10.0.0.1/24",
                    h.ip.get_ref()
                ),
            )
        })?;
        if let Some(other) = ips.insert(ip, name.clone()) {
            return Err(src.error(
                &h.ip,
                format!("IP address {ip} is already used by host `{other}`"),
            ));
        }
        let gateway = match &h.gateway {
            Some(g) => Some(g.get_ref().parse::<Ipv4Addr>().map_err(|_| {
                src.error(
                    g,
                    format!(
                        "`{}`: expected an IPv4 address like 10.0.0.254",
                        g.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let msl = match &h.msl {
            Some(m) => Some(parse_duration(m.get_ref()).map_err(|e| src.error(m, e))?),
            None => None,
        };
        let mtu = match &h.mtu {
            Some(m) if !(576..=9000).contains(m.get_ref()) => {
                return Err(src.error(m, "the MTU must be between 576 and 9000 octets"));
            }
            Some(m) => Some(*m.get_ref() as u16),
            None => None,
        };
        let recv_buffer = match &h.recv_buffer {
            Some(b) if !(1..=1 << 30).contains(b.get_ref()) => {
                return Err(src.error(b, "the receive buffer must be between 1 octet and 1 GiB"));
            }
            Some(b) => Some(*b.get_ref() as u32),
            None => None,
        };
        let send_buffer = match &h.send_buffer {
            Some(b) if !(1..=1 << 30).contains(b.get_ref()) => {
                return Err(src.error(b, "the send buffer must be between 1 octet and 1 GiB"));
            }
            Some(b) => Some(*b.get_ref() as u32),
            None => None,
        };
        let engine = match h.engine.as_ref().map(|e| (e, e.get_ref().as_str())) {
            None | Some((_, "packetlab")) => Engine::Packetlab,
            Some((_, "smoltcp")) => Engine::Smoltcp,
            Some((e, other)) => {
                return Err(src.error(
                    e,
                    format!("unknown engine `{other}`; expected \"packetlab\" or \"smoltcp\""),
                ));
            }
        };
        hosts.push(HostDef {
            name: name.clone(),
            mac,
            ip,
            prefix,
            gateway,
            msl,
            mtu,
            recv_buffer,
            send_buffer,
            engine,
            tap: h.tap.as_ref().map(|t| t.get_ref().clone()),
            min_rto: match &h.min_rto {
                Some(m) => Some(parse_duration(m.get_ref()).map_err(|e| src.error(m, e))?),
                None => None,
            },
            program: Vec::new(),
        });
    }

    let mut routers = Vec::new();
    for (name, router) in &spec.routers {
        let r = router.get_ref();
        let mut ports = Vec::new();
        for port in &r.ports {
            let (Some(port_mac), Some(port_ip)) = (&port.mac, &port.ip) else {
                return Err(src.error(
                    &port.to,
                    "a router port needs its `mac` and `ip` (like ip = \"10.0.1.1/24\")",
                ));
            };
            let mac: MacAddr = port_mac
                .get_ref()
                .parse()
                .map_err(|e| src.error(port_mac, format!("`{}`: {e}", port_mac.get_ref())))?;
            if let Some(other) = macs.insert(mac, name.clone()) {
                return Err(src.error(
                    port_mac,
                    format!("MAC {mac} is already used by `{other}`; every MAC must be unique"),
                ));
            }
            let (ip, prefix) = parse_cidr(port_ip.get_ref()).ok_or_else(|| {
                src.error(
                    port_ip,
                    format!(
                        "`{}`: expected the port's IPv4 address with a prefix length, like \
                         10.0.1.1/24",
                        port_ip.get_ref()
                    ),
                )
            })?;
            if let Some(other) = ips.insert(ip, name.clone()) {
                return Err(src.error(
                    port_ip,
                    format!("IP address {ip} is already used by `{other}`"),
                ));
            }
            ports.push(stack::RouterPort {
                label: port.to.get_ref().clone(),
                mac,
                ip,
                prefix,
            });
        }
        let mut routes = Vec::new();
        for route in &r.routes {
            routes.push(parse_route(route.get_ref()).map_err(|e| src.error(route, e))?);
        }
        let config = stack::RouterConfig {
            name: name.clone(),
            ports,
            routes,
        };
        if let Err(e) = stack::Router::new(config.clone()) {
            let at = r
                .routes
                .iter()
                .find(|t| parse_route(t.get_ref()).is_ok_and(|x| x.via == e.via))
                .map_or_else(|| router.span(), |t| t.span());
            return Err(src.error_at(at.start, e.to_string()));
        }
        routers.push(config);
    }

    let members: Vec<String> = groups
        .iter()
        .flat_map(|(name, &n)| (1..=n).map(move |i| format!("{name}{i}")))
        .collect();
    let node_names: BTreeSet<&str> = spec
        .hosts
        .keys()
        .chain(spec.switches.keys())
        .chain(spec.routers.keys())
        .chain(&members)
        .map(String::as_str)
        .collect();
    if let Some(name) = spec.hosts.keys().find(|h| spec.switches.contains_key(*h)) {
        let at = &spec.switches[name];
        return Err(src.error(at, format!("`{name}` names both a host and a switch")));
    }
    if let Some(name) = spec
        .routers
        .keys()
        .find(|r| spec.hosts.contains_key(*r) || spec.switches.contains_key(*r))
    {
        let at = &spec.routers[name];
        return Err(src.error(at, format!("`{name}` names a router and another node")));
    }
    let known = || node_names.iter().copied().collect::<Vec<_>>().join(", ");
    let mut links = Vec::new();
    let mut host_links: BTreeMap<String, String> = BTreeMap::new();
    let mut add_link = |a: &Spanned<String>,
                        b: &Spanned<String>,
                        delay: &Option<Spanned<String>>,
                        faults: [FaultSpec; 2],
                        ports: [Option<usize>; 2],
                        links: &mut Vec<LinkDef>|
     -> Result<(), ScenarioError> {
        for end in [a, b] {
            if !node_names.contains(end.get_ref().as_str()) {
                return Err(src.error(
                    end,
                    format!(
                        "link to `{}`, which is not a host, a switch or a router; known: {}",
                        end.get_ref(),
                        known()
                    ),
                ));
            }
        }
        if a.get_ref() == b.get_ref() {
            return Err(src.error(b, format!("a link from `{}` to itself", a.get_ref())));
        }
        for end in [a, b] {
            if let Some(n) = groups.get(end.get_ref()) {
                return Err(src.error(
                    end,
                    format!(
                        "`{}` is a group of {n} hosts (`count`): list it on a switch's ports, \
                         which gives each its own port",
                        end.get_ref()
                    ),
                ));
            }
        }
        let name = format!("{}-{}", a.get_ref(), b.get_ref());
        for end in [a, b] {
            if spec.hosts.contains_key(end.get_ref()) {
                if let Some(first) = host_links.insert(end.get_ref().clone(), name.clone()) {
                    return Err(src.error(
                        end,
                        format!(
                            "host `{}` already has a link ({first}); a host has one network \
                             interface",
                            end.get_ref()
                        ),
                    ));
                }
            }
        }
        let delay = match delay {
            Some(d) => parse_duration(d.get_ref()).map_err(|e| src.error(d, e))?,
            None => Time::from_millis(1),
        };
        let config = LinkConfig {
            delay,
            faults: [
                faults_from(&src, &faults[0])?,
                faults_from(&src, &faults[1])?,
            ],
        };
        links.push(LinkDef {
            a: a.get_ref().clone(),
            b: b.get_ref().clone(),
            name,
            config,
            ports,
        });
        Ok(())
    };
    for (switch, spec) in &spec.switches {
        for port in &spec.get_ref().links {
            if let Some(address) = port.mac.as_ref().or(port.ip.as_ref()) {
                return Err(src.error(
                    address,
                    "a switch port has no addresses: `mac` and `ip` belong on a router's port",
                ));
            }
            let here = Spanned::new(port.to.span(), switch.clone());
            let both = fault_fields!(port);
            let faults = [
                both.overridden_by(&port.up.clone().unwrap_or_default()),
                both.overridden_by(&port.down.clone().unwrap_or_default()),
            ];
            match groups.get(port.to.get_ref()) {
                // A group takes one port each.
                Some(&n) => {
                    for i in 1..=n {
                        let member =
                            Spanned::new(port.to.span(), format!("{}{i}", port.to.get_ref()));
                        let faults = faults.clone();
                        add_link(
                            &member,
                            &here,
                            &port.delay,
                            faults,
                            [None, None],
                            &mut links,
                        )?;
                    }
                }
                None => add_link(
                    &port.to,
                    &here,
                    &port.delay,
                    faults,
                    [None, None],
                    &mut links,
                )?,
            }
        }
    }
    let spec_routers: BTreeMap<&str, &RouterSpec> = spec
        .routers
        .iter()
        .map(|(name, r)| (name.as_str(), r.get_ref()))
        .collect();
    for (router, spec) in &spec.routers {
        for (i, port) in spec.get_ref().ports.iter().enumerate() {
            let here = Spanned::new(port.to.span(), router.clone());
            let both = fault_fields!(port);
            let faults = [
                both.overridden_by(&port.up.clone().unwrap_or_default()),
                both.overridden_by(&port.down.clone().unwrap_or_default()),
            ];
            let far = port.to.get_ref();
            let mut ports = [None, Some(i)];
            if let Some(other) = spec_routers.get(far.as_str()) {
                // A cable between two routers is written on both; make it once.
                let Some(j) = other.ports.iter().position(|p| p.to.get_ref() == router) else {
                    return Err(src.error(
                        &port.to,
                        format!("router `{far}` has no port toward `{router}`"),
                    ));
                };
                if far.as_str() < router.as_str() {
                    continue;
                }
                ports[0] = Some(j);
            }
            add_link(&port.to, &here, &port.delay, faults, ports, &mut links)?;
        }
    }
    for link in &spec.links {
        let l = link.get_ref();
        let both = fault_fields!(l);
        let faults = [
            both.overridden_by(&l.a_to_b.clone().unwrap_or_default()),
            both.overridden_by(&l.b_to_a.clone().unwrap_or_default()),
        ];
        add_link(&l.a, &l.b, &l.delay, faults, [None, None], &mut links)?;
    }

    for (host, def) in spec.hosts.iter().zip(hosts.iter_mut()) {
        if let Some(program) = &host.1.get_ref().program {
            def.program = parse_program(&src, program)?;
        }
    }
    let mut expanded = Vec::with_capacity(hosts.len());
    for (def, (_, spec_host)) in hosts.into_iter().zip(&spec.hosts) {
        let Some(&n) = groups.get(&def.name) else {
            expanded.push(def);
            continue;
        };
        let at = spec_host
            .get_ref()
            .count
            .as_ref()
            .map_or(spec_host.span(), |c| c.span());
        let base_mac = u64::from_be_bytes([
            0,
            0,
            def.mac.0[0],
            def.mac.0[1],
            def.mac.0[2],
            def.mac.0[3],
            def.mac.0[4],
            def.mac.0[5],
        ]);
        for i in 1..=n {
            let mut member = def.clone();
            member.name = format!("{}{i}", def.name);
            let mac = (base_mac + u64::from(i - 1)).to_be_bytes();
            member.mac = MacAddr([mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]]);
            member.ip = Ipv4Addr::from(u32::from(def.ip).wrapping_add(i - 1));
            if i > 1 {
                if let Some(other) = macs.insert(member.mac, member.name.clone()) {
                    let what = format!(
                        "{} would get MAC {}, already used by `{other}`",
                        member.name, member.mac
                    );
                    return Err(src.error_at(at.start, what));
                }
                if let Some(other) = ips.insert(member.ip, member.name.clone()) {
                    let what = format!(
                        "{} would get IP address {}, already used by `{other}`",
                        member.name, member.ip
                    );
                    return Err(src.error_at(at.start, what));
                }
            }
            for line in &mut member.program {
                number_line(line, i);
            }
            expanded.push(member);
        }
    }
    let hosts = expanded;

    let mut switches = Vec::new();
    for (name, switch) in &spec.switches {
        let aging = match &switch.get_ref().aging {
            Some(a) => parse_duration(a.get_ref()).map_err(|e| src.error(a, e))?,
            None => sim::DEFAULT_AGING,
        };
        switches.push(crate::SwitchDef {
            name: name.clone(),
            aging,
        });
    }

    let kernel = kernel_lesson(&src, &spec, &hosts)?;

    let expectations = match &spec.expect {
        Some(text) => parse_expectations(&src, text, &hosts)?,
        None => Vec::new(),
    };

    Ok(Scenario {
        title: spec.title.into_inner(),
        lesson: spec.lesson,
        seed,
        duration,
        hosts,
        switches,
        routers,
        links,
        expectations,
        snaplen: None,
        kernel,
    })
}

/// A line being read word by word, each word with its offset in the file.
struct Words<'a> {
    src: &'a Source<'a>,
    line: &'a str,
    base: usize,
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(src: &'a Source<'a>, base: usize, line: &'a str) -> Words<'a> {
        Words {
            src,
            line,
            base,
            pos: 0,
        }
    }

    fn skip_space(&mut self) {
        while self.pos < self.line.len() && self.line.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.pos >= self.line.len() || self.line[self.pos..].starts_with('#')
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn err(&self, message: impl Into<String>) -> ScenarioError {
        self.src.error_at(self.offset(), message)
    }

    fn peek(&mut self) -> Option<&'a str> {
        if self.at_end() {
            return None;
        }
        let rest = &self.line[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }

    fn next(&mut self, expected: &str) -> Result<(usize, &'a str), ScenarioError> {
        let word = self
            .peek()
            .ok_or_else(|| self.err(format!("expected {expected}, found the end of the line")))?;
        let at = self.offset();
        self.pos += word.len();
        Ok((at, word))
    }

    fn expect_word(&mut self, word: &str) -> Result<(), ScenarioError> {
        let at = self.offset();
        let (_, found) = self.next(&format!("`{word}`"))?;
        if found == word {
            Ok(())
        } else {
            Err(self
                .src
                .error_at(at, format!("expected `{word}`, found `{found}`")))
        }
    }

    fn end(&mut self) -> Result<(), ScenarioError> {
        if self.at_end() {
            Ok(())
        } else {
            let rest = self.line[self.pos..].trim_end();
            Err(self.err(format!("unexpected `{rest}` at the end of the line")))
        }
    }

    /// An IPv4 address and port, like `10.0.0.2:9000`.
    fn socket_addr(&mut self) -> Result<SocketAddrV4, ScenarioError> {
        let (at, addr) = self.next("an address like 10.0.0.2:9000")?;
        addr.parse().map_err(|_| {
            self.src.error_at(
                at,
                format!("`{addr}`: expected an IPv4 address and port like 10.0.0.2:9000"),
            )
        })
    }

    /// The optional size of a `recv` or `recvfrom` (1024, as in `recv(1024)`, if absent).
    fn recv_size(&mut self) -> Result<usize, ScenarioError> {
        if self.at_end() {
            return Ok(1024);
        }
        let (at, n) = self.next("a size")?;
        n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            self.src
                .error_at(at, format!("`{n}`: expected a size ≥ 1, like 1024"))
        })
    }

    /// A double-quoted string with Python-like escapes (`\n`, `\t`, `\\`, `\"`, `\xNN`); an
    /// optional `b` prefix is allowed, as in Python's `b"..."`.
    fn string(&mut self) -> Result<Vec<u8>, ScenarioError> {
        self.skip_space();
        let start = self.offset();
        let rest = &self.line[self.pos..];
        let body = rest
            .strip_prefix("b\"")
            .or_else(|| rest.strip_prefix('"'))
            .ok_or_else(|| self.err("expected a string in double quotes, like \"hello\\n\""))?;
        let quote_len = rest.len() - body.len();
        let mut out = Vec::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += quote_len + i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let (j, e) = chars.next().ok_or_else(|| {
                        self.src
                            .error_at(start, "unterminated string: missing closing \"")
                    })?;
                    match e {
                        'n' => out.push(b'\n'),
                        'r' => out.push(b'\r'),
                        't' => out.push(b'\t'),
                        '0' => out.push(0),
                        '\\' => out.push(b'\\'),
                        '"' => out.push(b'"'),
                        '\'' => out.push(b'\''),
                        'x' => {
                            let hex: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                            let byte = u8::from_str_radix(&hex, 16).map_err(|_| {
                                self.src.error_at(
                                    self.offset() + quote_len + j,
                                    "expected two hex digits after \\x",
                                )
                            })?;
                            out.push(byte);
                        }
                        other => {
                            return Err(self.src.error_at(
                                self.offset() + quote_len + j,
                                format!("unknown escape `\\{other}`; expected one of \\n \\r \\t \\0 \\\\ \\\" \\xNN"),
                            ));
                        }
                    }
                }
                c => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Err(self
            .src
            .error_at(start, "unterminated string: missing closing \""))
    }
}

const CALLS: &str = "sleep, at, listen, accept, connect, send, recv, recvall, shutdown, close, \
                     abort, wait, setsockopt, udp, sendto, recvfrom, ping, send_file, recv_file, serve";

/// Parse a size like `1024`, `64KiB`, `1MiB` or `1GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected = "expected a size like 1000, 64KiB, 16MiB or 1GiB";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    n.checked_mul(scale)
        .filter(|n| *n <= 1 << 40)
        .ok_or_else(|| format!("`{text}`: too large (at most 1TiB)"))
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VarKind {
    Listener,
    Connection,
    Data,
    Stream,
    Datagram,
}

fn parse_program(src: &Source, text: &Spanned<String>) -> Result<Vec<Line>, ScenarioError> {
    let mut lines = Vec::new();
    let mut vars: BTreeMap<String, VarKind> = BTreeMap::new();
    for (offset, raw) in src.content_lines(text) {
        let mut w = Words::new(src, offset, raw);
        if w.at_end() {
            continue;
        }
        let text = raw.split('#').next().unwrap_or(raw).trim().to_string();
        let mut target = None;
        let (first_at, first) = w.next("a call")?;
        let (call_at, call) = if w.peek() == Some("=") {
            if !is_identifier(first) {
                return Err(src.error_at(first_at, format!("`{first}` is not a variable name")));
            }
            target = Some(first.to_string());
            w.next("=")?;
            w.next("a call after `=`")?
        } else {
            (first_at, first)
        };
        let use_var = |w: &mut Words, wanted: VarKind| -> Result<String, ScenarioError> {
            let (at, name) = w.next("a variable")?;
            match vars.get(name) {
                None => Err(src.error_at(
                    at,
                    format!("`{name}` is not defined; assign it first, e.g. `{name} = connect 10.0.0.2:9000`"),
                )),
                Some(kind) if *kind != wanted => {
                    let what = match wanted {
                        VarKind::Listener => "a listening socket (from listen)",
                        VarKind::Connection => "a connection (from connect or accept)",
                        VarKind::Data => "data",
                        VarKind::Stream => "a stream digest (from send … random or recvall)",
                        VarKind::Datagram => "a UDP socket (from udp)",
                    };
                    Err(src.error_at(at, format!("`{name}` is not {what}")))
                }
                Some(_) => Ok(name.to_string()),
            }
        };
        let need_target = |kind: VarKind, vars: &mut BTreeMap<String, VarKind>| {
            let name = target.clone().ok_or_else(|| {
                src.error_at(
                    call_at,
                    format!("`{call}` returns a socket: write `name = {call} ...`"),
                )
            })?;
            vars.insert(name.clone(), kind);
            Ok::<String, ScenarioError>(name)
        };
        // A call whose result may be kept: note the variable's kind, if one is named.
        let keep_target = |kind: VarKind, vars: &mut BTreeMap<String, VarKind>| {
            if let Some(t) = &target {
                vars.insert(t.clone(), kind);
            }
            target.clone()
        };
        let stmt = match call {
            "sleep" | "at" => {
                let (at, d) = w.next("a duration")?;
                let t = parse_duration(d).map_err(|m| src.error_at(at, m))?;
                if call == "sleep" {
                    Stmt::Sleep(t)
                } else {
                    Stmt::At(t)
                }
            }
            "listen" => {
                let (at, port) = w.next("a port number")?;
                let port: u16 = port.parse().map_err(|_| {
                    src.error_at(at, format!("`{port}`: expected a port number 0–65535"))
                })?;
                let mut backlog = 5;
                if !w.at_end() {
                    w.expect_word("backlog")?;
                    let (at, n) = w.next("a backlog size")?;
                    backlog = n
                        .parse()
                        .map_err(|_| src.error_at(at, format!("`{n}`: expected a whole number")))?;
                }
                let var = need_target(VarKind::Listener, &mut vars)?;
                Stmt::Listen { var, port, backlog }
            }
            "accept" => {
                let listener = use_var(&mut w, VarKind::Listener)?;
                let var = need_target(VarKind::Connection, &mut vars)?;
                Stmt::Accept { var, listener }
            }
            "connect" => {
                let addr = w.socket_addr()?;
                let var = need_target(VarKind::Connection, &mut vars)?;
                Stmt::Connect { var, addr }
            }
            "send" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                if w.peek() == Some("random") {
                    w.next("random")?;
                    let (at, size) = w.next("a size like 1MiB")?;
                    let len = parse_size(size).map_err(|m| src.error_at(at, m))?;
                    Stmt::SendRandom {
                        var: keep_target(VarKind::Stream, &mut vars),
                        conn,
                        len,
                    }
                } else {
                    let mut data = w.string()?;
                    // Python's `b"ab" * 3`, for a long message in a short line.
                    if w.peek() == Some("*") {
                        w.next("*")?;
                        let (at, n) = w.next("a repeat count")?;
                        let n: usize = n
                            .parse()
                            .ok()
                            .filter(|n| (1..=1 << 20).contains(n))
                            .ok_or_else(|| {
                                src.error_at(
                                    at,
                                    format!("`{n}`: expected a repeat count 1–1048576"),
                                )
                            })?;
                        data = data.repeat(n);
                    }
                    if w.peek() == Some("framed") {
                        w.next("framed")?;
                        data = length_prefix(&mut w)?.frame(&data);
                    }
                    Stmt::Send { conn, data }
                }
            }
            "send_file" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                let name = String::from_utf8_lossy(&w.string()?).into_owned();
                let (at, size) = w.next("the file's size, like 1MiB")?;
                let len = parse_size(size).map_err(|m| src.error_at(at, m))?;
                let prefix = framed_or_notes_default(&mut w)?;
                Stmt::SendFile {
                    var: keep_target(VarKind::Stream, &mut vars),
                    conn,
                    header: prefix.frame(&program::file_header(&name, len)),
                    len,
                }
            }
            "recv_file" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                let prefix = framed_or_notes_default(&mut w)?;
                Stmt::RecvFile {
                    var: keep_target(VarKind::Stream, &mut vars),
                    conn,
                    prefix,
                }
            }
            "udp" => {
                let (at, port) = w.next("a port number (0 for any)")?;
                let port: u16 = port.parse().map_err(|_| {
                    src.error_at(at, format!("`{port}`: expected a port number 0–65535"))
                })?;
                let var = need_target(VarKind::Datagram, &mut vars)?;
                Stmt::UdpBind { var, port }
            }
            "sendto" => {
                let sock = use_var(&mut w, VarKind::Datagram)?;
                let data = w.string()?;
                let addr = w.socket_addr()?;
                Stmt::SendTo { sock, data, addr }
            }
            "recvfrom" => {
                let sock = use_var(&mut w, VarKind::Datagram)?;
                let max = w.recv_size()?;
                Stmt::RecvFrom {
                    var: keep_target(VarKind::Data, &mut vars),
                    sock,
                    max,
                }
            }
            "ping" => {
                let (at, ip) = w.next("an IPv4 address")?;
                let dst: Ipv4Addr = ip.parse().map_err(|_| {
                    src.error_at(
                        at,
                        format!("`{ip}`: expected an IPv4 address like 10.0.2.5"),
                    )
                })?;
                let (mut ttl, mut timeout) = (64u8, Time::from_secs(1));
                while !w.at_end() {
                    let (at, word) = w.next("`ttl N` or `timeout DURATION`")?;
                    match word {
                        "ttl" => {
                            let (at, n) = w.next("a TTL 1–255")?;
                            ttl = n.parse().ok().filter(|t| *t > 0).ok_or_else(|| {
                                src.error_at(at, format!("`{n}`: expected a TTL 1–255"))
                            })?;
                        }
                        "timeout" => {
                            let (at, d) = w.next("a duration")?;
                            timeout = parse_duration(d).map_err(|m| src.error_at(at, m))?;
                        }
                        other => {
                            return Err(src.error_at(
                                at,
                                format!("`{other}`: expected `ttl N` or `timeout DURATION`"),
                            ));
                        }
                    }
                }
                Stmt::Ping {
                    var: keep_target(VarKind::Data, &mut vars),
                    dst,
                    ttl,
                    timeout,
                }
            }
            "recvall" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                let mut limit = None;
                if !w.at_end() {
                    let (at, size) = w.next("a size like 1MiB")?;
                    limit = Some(parse_size(size).map_err(|m| src.error_at(at, m))?);
                }
                Stmt::RecvAll {
                    var: keep_target(VarKind::Stream, &mut vars),
                    conn,
                    limit,
                }
            }
            "setsockopt" => {
                let (at, name) = w.next("a socket")?;
                if !matches!(
                    vars.get(name),
                    Some(VarKind::Listener | VarKind::Connection)
                ) {
                    return Err(src.error_at(at, format!("`{name}` is not a socket defined above")));
                }
                let (opt_at, opt) = w.next("TCP_NODELAY or TCP_QUICKACK")?;
                let (val_at, val) = w.next("1 or 0")?;
                let on = match val {
                    "1" => true,
                    "0" => false,
                    other => {
                        return Err(src.error_at(val_at, format!("`{other}`: expected 1 or 0")));
                    }
                };
                let option = match opt {
                    "TCP_NODELAY" => stack::SocketOption::NoDelay(on),
                    "TCP_QUICKACK" => stack::SocketOption::QuickAck(on),
                    other => {
                        return Err(src.error_at(
                            opt_at,
                            format!(
                                "unknown option `{other}`; expected TCP_NODELAY or TCP_QUICKACK"
                            ),
                        ));
                    }
                };
                Stmt::SetOption {
                    conn: name.to_string(),
                    option,
                }
            }
            "recv" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                if w.peek() == Some("framed") {
                    w.next("framed")?;
                    Stmt::RecvFramed {
                        var: keep_target(VarKind::Data, &mut vars),
                        conn,
                        prefix: length_prefix(&mut w)?,
                    }
                } else {
                    Stmt::Recv {
                        var: keep_target(VarKind::Data, &mut vars),
                        conn,
                        max: w.recv_size()?,
                    }
                }
            }
            "serve" => {
                let listener = use_var(&mut w, VarKind::Listener)?;
                let (at, handler) = w.next("a handler: echo or upper")?;
                let handler = match handler {
                    "echo" => program::Handler::Echo,
                    "upper" => program::Handler::Upper,
                    other => {
                        return Err(src.error_at(
                            at,
                            format!("`{other}`: expected a handler, echo or upper"),
                        ));
                    }
                };
                Stmt::Serve { listener, handler }
            }
            "shutdown" => Stmt::Shutdown {
                conn: use_var(&mut w, VarKind::Connection)?,
            },
            "close" => {
                let (at, name) = w.next("a socket")?;
                if !matches!(
                    vars.get(name),
                    Some(VarKind::Listener | VarKind::Connection | VarKind::Datagram)
                ) {
                    return Err(src.error_at(at, format!("`{name}` is not a socket defined above")));
                }
                Stmt::Close {
                    conn: name.to_string(),
                }
            }
            "abort" => Stmt::Abort {
                conn: use_var(&mut w, VarKind::Connection)?,
            },
            "wait" => {
                let conn = use_var(&mut w, VarKind::Connection)?;
                let (at, state) = w.next("a TCP state like TIME-WAIT")?;
                let state: TcpState = state
                    .parse()
                    .map_err(|e| src.error_at(at, format!("{e}")))?;
                Stmt::Wait { conn, state }
            }
            other => {
                return Err(src.error_at(
                    call_at,
                    format!("unknown call `{other}`; expected one of {CALLS}"),
                ));
            }
        };
        if target.is_some()
            && !matches!(
                stmt,
                Stmt::Listen { .. }
                    | Stmt::Accept { .. }
                    | Stmt::Connect { .. }
                    | Stmt::Recv { .. }
                    | Stmt::SendRandom { .. }
                    | Stmt::RecvAll { .. }
                    | Stmt::UdpBind { .. }
                    | Stmt::RecvFrom { .. }
                    | Stmt::Ping { .. }
                    | Stmt::RecvFramed { .. }
                    | Stmt::SendFile { .. }
                    | Stmt::RecvFile { .. }
            )
        {
            return Err(src.error_at(first_at, format!("`{call}` returns nothing to assign")));
        }
        w.end()?;
        lines.push(Line { stmt, text });
    }
    Ok(lines)
}

fn parse_expectations(
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
        let (subject_at, subject) = w.next("a subject like client.c, wire or trace")?;
        let check = if subject == "kernel" {
            w.expect_word("prints")?;
            let text = w.string()?;
            Check::KernelPrints(String::from_utf8_lossy(&text).into_owned())
        } else if subject == "trace" {
            w.expect_word("contains")?;
            let text = String::from_utf8_lossy(&w.string()?).into_owned();
            if w.at_end() {
                Check::TraceContains(text)
            } else {
                let (at, n) = w.next("a count, as in `3 times`")?;
                let n: usize = n
                    .parse()
                    .map_err(|_| src.error_at(at, format!("`{n}`: expected a whole number")))?;
                let (at, word) = w.next("`times`")?;
                if word != "times" && !(word == "time" && n == 1) {
                    return Err(src.error_at(at, format!("`{word}`: expected `times`")));
                }
                Check::TraceCount(text, n)
            }
        } else if subject == "wire" {
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
            Check::WireFlags(flags)
        } else {
            let (host, var) = subject.split_once('.').ok_or_else(|| {
                src.error_at(
                    subject_at,
                    format!("`{subject}`: expected HOST.VARIABLE (like client.c) or `wire`"),
                )
            })?;
            let Some(def) = hosts.iter().find(|h| h.name == host) else {
                let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                return Err(src.error_at(
                    subject_at,
                    format!("unknown host `{host}`; known hosts: {}", names.join(", ")),
                ));
            };
            if !program_assigns(&def.program, var) {
                return Err(src.error_at(
                    subject_at + host.len() + 1,
                    format!("host `{host}`'s program never assigns `{var}`"),
                ));
            }
            let (verb_at, verb) = w.next("passes, at, =, same, or error")?;
            match verb {
                "passes" => {
                    let mut states = Vec::new();
                    while !w.at_end() {
                        let (at, s) = w.next("a TCP state")?;
                        states.push(s.parse().map_err(|e| src.error_at(at, format!("{e}")))?);
                    }
                    Check::Passes {
                        host: host.to_string(),
                        var: var.to_string(),
                        states,
                    }
                }
                "at" => {
                    let (at, t) = w.next("a time like 1.5s")?;
                    let t = parse_duration(t).map_err(|m| src.error_at(at, m))?;
                    w.expect_word("is")?;
                    let (at, s) = w.next("a TCP state")?;
                    let state = s.parse().map_err(|e| src.error_at(at, format!("{e}")))?;
                    Check::StateAt {
                        host: host.to_string(),
                        var: var.to_string(),
                        t,
                        state,
                    }
                }
                "=" => Check::Data {
                    host: host.to_string(),
                    var: var.to_string(),
                    data: w.string()?,
                },
                "same" => {
                    w.expect_word("as")?;
                    let (other_at, other) = w.next("HOST.VARIABLE")?;
                    let (other_host, other_var) = other.split_once('.').ok_or_else(|| {
                        src.error_at(other_at, format!("`{other}`: expected HOST.VARIABLE"))
                    })?;
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
                    Check::SameStream {
                        a: (host.to_string(), var.to_string()),
                        b: (other_host.to_string(), other_var.to_string()),
                    }
                }
                "error" => {
                    let (_, errno) = w.next("an errno name like ECONNREFUSED")?;
                    Check::Error {
                        host: host.to_string(),
                        var: var.to_string(),
                        errno: errno.to_string(),
                    }
                }
                other => {
                    return Err(src.error_at(
                        verb_at,
                        format!("unknown check `{other}`; expected passes, at, =, same or error"),
                    ));
                }
            }
        };
        w.end()?;
        out.push(Expectation { text, check });
    }
    Ok(out)
}

/// A lesson against the kernel: one host on a TAP device, a `[kernel]` table, nothing else.
fn kernel_lesson(
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

fn program_assigns(program: &[Line], var: &str) -> bool {
    program.iter().any(|line| match &line.stmt {
        Stmt::Listen { var: v, .. }
        | Stmt::Accept { var: v, .. }
        | Stmt::Connect { var: v, .. }
        | Stmt::UdpBind { var: v, .. } => v == var,
        Stmt::RecvFrom { var: Some(v), .. }
        | Stmt::Ping { var: Some(v), .. }
        | Stmt::RecvFramed { var: Some(v), .. }
        | Stmt::SendFile { var: Some(v), .. }
        | Stmt::RecvFile { var: Some(v), .. } => v == var,
        Stmt::Recv { var: Some(v), .. }
        | Stmt::SendRandom { var: Some(v), .. }
        | Stmt::RecvAll { var: Some(v), .. } => v == var,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms").unwrap(), Time::from_millis(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Time::from_millis(1500));
        assert_eq!(parse_duration("2min").unwrap(), Time::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Time::ZERO);
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn error_positions_count_lines_and_columns_from_one() {
        let src = Source {
            path: "x.toml",
            text: "a\nbcd\n",
        };
        let e = src.error_at(4, "m");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(e.to_string(), "x.toml:2:3: m");
    }
}
