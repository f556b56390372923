//! Scenario files: executable lessons. A scenario names the network (hosts, switches, links),
//! the program each host runs, and what the class should see; [`run`] plays it on the
//! simulator and checks the expectations.

mod parse;

pub use parse::{parse_cidr, parse_duration, parse_percent, parse_size};

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use capture::{Format, Interface, Record};
use link::LinkConfig;
use program::{Line, ProgramRun, Value, python_bytes};
use sim::{Node, NodeId, World};
use stack::HostConfig;
use stack::derive_seed;
use trace::{Event, EventKind, TcpState, Time};
use wire::{EthPayload, Ipv4Payload, MacAddr};

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// A host in a scenario.
#[derive(Debug, Clone)]
pub struct HostDef {
    /// Name.
    pub name: String,
    /// MAC address.
    pub mac: MacAddr,
    /// IPv4 address.
    pub ip: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Maximum segment lifetime, if not the default.
    pub msl: Option<Time>,
    /// Interface MTU, if not 1500.
    pub mtu: Option<u16>,
    /// Receive buffer per connection (the largest window advertised), if not 65535.
    pub recv_buffer: Option<u32>,
    /// Send buffer per connection, if not 65536.
    pub send_buffer: Option<u32>,
    /// Which TCP/IP implementation the host runs.
    pub engine: Engine,
    /// The TAP device this host is attached to, in a lesson against the kernel.
    pub tap: Option<String>,
    /// The lowest retransmission timeout, if not RFC 6298's 1 s.
    pub min_rto: Option<Time>,
    /// The program it runs.
    pub program: Vec<Line>,
}

/// The implementation a host runs.
pub use reference::EngineKind as Engine;

/// A cable between two nodes.
#[derive(Debug, Clone)]
pub struct LinkDef {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Name (the capture interface).
    pub name: String,
    /// Delay and faults of each direction (the first from `a` to `b`).
    pub config: LinkConfig,
    /// The router port each end plugs into, where an end is a router.
    pub ports: [Option<usize>; 2],
}

/// A learning switch.
#[derive(Debug, Clone)]
pub struct SwitchDef {
    /// Name.
    pub name: String,
    /// How long its MAC table keeps an entry without hearing from it.
    pub aging: Time,
}

/// One check of an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `HOST.VAR passes S1 S2 …`: exactly this sequence of states entered.
    Passes {
        /// Host.
        host: String,
        /// Socket variable.
        var: String,
        /// States in order.
        states: Vec<TcpState>,
    },
    /// `HOST.VAR at T is STATE`.
    StateAt {
        /// Host.
        host: String,
        /// Socket variable.
        var: String,
        /// When.
        t: Time,
        /// Expected state.
        state: TcpState,
    },
    /// `HOST.VAR = "data"`: what a recv returned.
    Data {
        /// Host.
        host: String,
        /// Data variable.
        var: String,
        /// Expected bytes.
        data: Vec<u8>,
    },
    /// `HOST.VAR error ERRNO`: the call that assigns VAR failed so.
    Error {
        /// Host.
        host: String,
        /// Variable.
        var: String,
        /// Errno name.
        errno: String,
    },
    /// `wire flags S, S., …`: TCP flags of every TCP frame sent by a host, in order.
    WireFlags(Vec<String>),
    /// `HOST.VAR same as HOST.VAR`: two streams (sent, received) of the same length and
    /// SHA-256.
    SameStream {
        /// One (host, variable).
        a: (String, String),
        /// The other.
        b: (String, String),
    },
    /// `trace contains "text"`: some event of the trace, as printed, contains the text.
    TraceContains(String),
    /// `trace contains "text" N times`: exactly N events do.
    TraceCount(String, usize),
    /// `kernel prints "text"`: the kernel-side program's output contains the text.
    KernelPrints(String),
}

/// The Linux kernel at the other end of a TAP device, in a lesson against the kernel.
#[derive(Debug, Clone)]
pub struct KernelDef {
    /// The kernel side's address.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// The Python program the kernel side runs, started in the namespace before our host.
    pub python: String,
}

/// An expectation with its source text.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// As written.
    pub text: String,
    /// What it checks.
    pub check: Check,
}

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title.
    pub title: String,
    /// Lesson text.
    pub lesson: String,
    /// Seed.
    pub seed: u64,
    /// The run stops at this virtual time at the latest.
    pub duration: Time,
    /// Hosts, by name order.
    pub hosts: Vec<HostDef>,
    /// Switches.
    pub switches: Vec<SwitchDef>,
    /// Routers.
    pub routers: Vec<stack::RouterConfig>,
    /// Links.
    pub links: Vec<LinkDef>,
    /// Expectations.
    pub expectations: Vec<Expectation>,
    /// Keep only this many octets of each captured frame (set by `--snaplen`, not the file).
    pub snaplen: Option<usize>,
    /// Set for a lesson against the Linux kernel over a TAP device.
    pub kernel: Option<KernelDef>,
}

/// Read and validate a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: shown.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read the file: {e}"),
    })?;
    parse_str(&shown, &text)
}

/// Parse scenario text; `path` is used in error messages.
pub fn parse_str(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse::parse(path, text)
}

/// The result of one expectation.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// As written.
    pub text: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen.
    pub actual: String,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Report {
    /// Trace events, expectations last.
    pub events: Vec<Event>,
    /// Capture interfaces.
    pub interfaces: Vec<Interface>,
    /// Captured frames.
    pub records: Vec<Record>,
    /// One verdict per expectation.
    pub verdicts: Vec<Verdict>,
    /// Octets kept of each frame, if not all.
    pub snaplen: Option<usize>,
}

impl Report {
    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }
}

/// The stack configuration a scenario's host asks for.
pub(crate) fn host_config(host: &HostDef) -> HostConfig {
    let mut config = HostConfig::new(&host.name, host.mac, host.ip, host.prefix);
    config.gateway = host.gateway;
    if let Some(msl) = host.msl {
        config.msl = msl;
    }
    if let Some(mtu) = host.mtu {
        config.mtu = mtu;
    }
    if let Some(recv_buffer) = host.recv_buffer {
        config.rcv_buf = recv_buffer;
    }
    if let Some(send_buffer) = host.send_buffer {
        config.snd_buf = send_buffer;
    }
    if let Some(min_rto) = host.min_rto {
        config.min_rto = min_rto;
    }
    config
}

/// The engine and program of the one host of a lesson against the kernel, seeded from the
/// scenario's seed as the simulator would seed them.
pub fn kernel_host(scenario: &Scenario) -> Option<(Box<dyn stack::Engine>, ProgramRun)> {
    let host = scenario.hosts.first()?;
    let mut config = host_config(host);
    config.seed = derive_seed(scenario.seed, &host.name);
    let program_seed = derive_seed(scenario.seed, &format!("{}/program", host.name));
    let program = ProgramRun::new(host.program.clone(), program_seed);
    Some((host.engine.build(config), program))
}

/// Play the scenario on the simulator and check its expectations.
pub fn run(scenario: &Scenario) -> Report {
    run_with_progress(scenario, &mut |_| {})
}

/// Like [`run`], telling `progress` the virtual time now and then (every few thousand
/// events), for a progress bar on long runs.
pub fn run_with_progress(scenario: &Scenario, progress: &mut dyn FnMut(Time)) -> Report {
    let mut world = World::new(scenario.seed);
    world.set_snaplen(scenario.snaplen);
    let mut ids: BTreeMap<&str, NodeId> = BTreeMap::new();
    for host in &scenario.hosts {
        let mut config = host_config(host);
        config.seed = world.seed_for(&host.name);
        let node = world.add_engine(host.engine.build(config), host.program.clone());
        ids.insert(&host.name, node);
    }
    for switch in &scenario.switches {
        ids.insert(&switch.name, world.add_switch(&switch.name, switch.aging));
    }
    for router in &scenario.routers {
        // Validated when the file was read.
        if let Ok(r) = stack::Router::new(router.clone()) {
            ids.insert(&router.name, world.add_router(r));
        }
    }
    for link in &scenario.links {
        world.connect_ports(
            (ids[link.a.as_str()], link.ports[0]),
            (ids[link.b.as_str()], link.ports[1]),
            &link.name,
            link.config.clone(),
        );
    }
    let mut steps = 0u64;
    while world
        .next_event_at()
        .is_some_and(|t| t <= scenario.duration)
    {
        world.step();
        steps += 1;
        if steps % 4096 == 0 {
            progress(world.now());
        }
    }
    let end = world.now();
    let (outcome, nodes) = world.finish();
    let programs = nodes.iter().filter_map(|node| match node {
        Node::Host(h) => Some((h.host.name().to_string(), h.program.as_program()?)),
        Node::Switch(_) | Node::Router(_) => None,
    });
    conclude(
        scenario,
        end,
        Evidence {
            events: outcome.events,
            interfaces: outcome.interfaces,
            records: outcome.records,
            kernel_output: None,
        },
        programs,
    )
}

/// What a run left to judge by.
pub struct Evidence {
    /// The trace.
    pub events: Vec<Event>,
    /// The capture's interfaces.
    pub interfaces: Vec<Interface>,
    /// The captured frames.
    pub records: Vec<Record>,
    /// What the kernel-side program printed, in a lesson against the kernel.
    pub kernel_output: Option<String>,
}

/// Note the programs still waiting, judge the expectations and put their verdicts last in
/// the trace: the end of every run, on the simulator or against the kernel.
pub fn conclude<'a>(
    scenario: &Scenario,
    end: Time,
    evidence: Evidence,
    programs: impl Iterator<Item = (String, &'a program::ProgramRun)>,
) -> Report {
    let Evidence {
        mut events,
        interfaces,
        records,
        kernel_output,
    } = evidence;
    let mut vars: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut bound: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for (name, program) in programs {
        if let Some(line) = program.blocked_on() {
            events.push(Event {
                t: end,
                kind: EventKind::Note {
                    node: name.clone(),
                    text: format!("the run ended with the program still waiting in `{line}`"),
                },
            });
        }
        bound.insert(name.clone(), program.bound.clone());
        vars.insert(name, program.vars.clone());
    }
    let host_names: Vec<&str> = scenario.hosts.iter().map(|h| h.name.as_str()).collect();
    let seen = Seen {
        events: &events,
        records: &records,
        vars: &vars,
        bound: &bound,
        hosts: &host_names,
        kernel_output: kernel_output.as_deref(),
    };
    let verdicts: Vec<Verdict> = scenario
        .expectations
        .iter()
        .map(|e| judge(e, &seen))
        .collect();
    for verdict in &verdicts {
        events.push(Event {
            t: end,
            kind: EventKind::Expectation {
                text: verdict.text.clone(),
                passed: verdict.passed,
                actual: verdict.actual.clone(),
            },
        });
    }
    Report {
        events,
        interfaces,
        records,
        verdicts,
        snaplen: scenario.snaplen,
    }
}

/// Everything an expectation may look at.
struct Seen<'a> {
    events: &'a [Event],
    records: &'a [Record],
    vars: &'a BTreeMap<String, BTreeMap<String, Value>>,
    bound: &'a Bound,
    hosts: &'a [&'a str],
    kernel_output: Option<&'a str>,
}

type Bound = BTreeMap<String, BTreeMap<String, u32>>;

fn socket_of(bound: &Bound, host: &str, var: &str) -> Result<u32, String> {
    bound
        .get(host)
        .and_then(|v| v.get(var))
        .copied()
        .ok_or_else(|| format!("`{var}` was never given a socket (the program did not get there)"))
}

fn transitions<'a>(
    events: &'a [Event],
    host: &'a str,
    socket: u32,
) -> impl Iterator<Item = (Time, TcpState)> + 'a {
    events.iter().filter_map(move |e| match &e.kind {
        EventKind::TcpTransition { endpoint, to, .. }
            if endpoint.host == host && endpoint.socket == socket =>
        {
            Some((e.t, *to))
        }
        _ => None,
    })
}

fn judge(expectation: &Expectation, seen: &Seen) -> Verdict {
    let Seen {
        events,
        records,
        vars,
        bound,
        hosts,
        kernel_output,
    } = *seen;
    let (passed, actual) = match &expectation.check {
        Check::Passes { host, var, states } => match socket_of(bound, host, var) {
            Ok(id) => {
                let seen: Vec<TcpState> = transitions(events, host, id).map(|(_, s)| s).collect();
                let shown = seen.iter().map(|s| s.name()).collect::<Vec<_>>().join(" ");
                (seen == *states, format!("passes {shown}"))
            }
            Err(e) => (false, e),
        },
        Check::StateAt {
            host,
            var,
            t,
            state,
        } => match socket_of(bound, host, var) {
            Ok(id) => {
                let at = transitions(events, host, id)
                    .take_while(|(when, _)| when <= t)
                    .last()
                    .map_or(TcpState::Closed, |(_, s)| s);
                (at == *state, format!("at {t}s is {at}"))
            }
            Err(e) => (false, e),
        },
        Check::Data { host, var, data } => match vars.get(host).and_then(|v| v.get(var)) {
            Some(Value::Bytes(got)) => (got == data, format!("= {}", python_bytes(got))),
            Some(Value::Error(e)) => (false, format!("the recv failed with {}", e.errno())),
            _ => (
                false,
                format!("`{var}` was never assigned (the recv did not return)"),
            ),
        },
        Check::Error { host, var, errno } => match vars.get(host).and_then(|v| v.get(var)) {
            Some(Value::Error(e)) => (e.errno() == errno, format!("error {}", e.errno())),
            Some(_) => (false, "the call succeeded".to_string()),
            None => (false, format!("`{var}` was never assigned")),
        },
        Check::WireFlags(expected) => {
            let seen = wire_flags(events, records, hosts);
            (seen == *expected, format!("flags {}", seen.join(", ")))
        }
        Check::SameStream { a, b } => {
            let get = |(host, var): &(String, String)| match vars.get(host).and_then(|v| v.get(var))
            {
                Some(Value::Stream(d)) => Ok(*d),
                Some(Value::Error(e)) => {
                    Err(format!("{host}.{var}: the call failed with {}", e.errno()))
                }
                _ => Err(format!(
                    "{host}.{var} was never assigned (the call did not return)"
                )),
            };
            match (get(a), get(b)) {
                (Ok(x), Ok(y)) => (
                    x == y,
                    format!("{}.{}: {x}; {}.{}: {y}", a.0, a.1, b.0, b.1),
                ),
                (Err(e), _) | (_, Err(e)) => (false, e),
            }
        }
        Check::KernelPrints(text) => match kernel_output {
            Some(out) => (
                out.contains(text.as_str()),
                format!("the kernel's program printed {out:?}"),
            ),
            None => (false, "no kernel in this lesson".to_string()),
        },
        Check::TraceCount(text, n) => {
            let count = events
                .iter()
                .filter(|e| e.render().contains(text.as_str()))
                .count();
            (count == *n, format!("{count} events say so"))
        }
        Check::TraceContains(text) => {
            let found = events.iter().find(|e| e.render().contains(text.as_str()));
            match found {
                Some(e) => (true, e.render().trim().to_string()),
                None => (false, "no event says so".to_string()),
            }
        }
    };
    Verdict {
        text: expectation.text.clone(),
        passed,
        actual,
    }
}

/// The tcpdump-style flags of every TCP frame as its host sent it (a switch's copies are not
/// counted again).
fn wire_flags(events: &[Event], records: &[Record], hosts: &[&str]) -> Vec<String> {
    let mut flags = Vec::new();
    for event in events {
        let EventKind::Frame { number, from, .. } = &event.kind else {
            continue;
        };
        if !hosts.contains(&from.as_str()) {
            continue;
        }
        let Some(record) = records.get((*number - 1) as usize) else {
            continue;
        };
        if let Ok(frame) = wire::decode(&record.data) {
            if let EthPayload::Ipv4(ip) = frame.payload {
                if let Ipv4Payload::Tcp(seg) = ip.payload {
                    flags.push(seg.flags.tcpdump());
                }
            }
        }
    }
    flags
}

/// Where a run's outputs go.
pub fn output_paths(scenario_path: &Path, out_dir: &Path, format: Format) -> (PathBuf, PathBuf) {
    let stem = scenario_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    (
        out_dir.join(format!("{stem}.{}", format.extension())),
        out_dir.join(format!("{stem}.trace.jsonl")),
    )
}

/// Write the capture and the JSON Lines trace, each atomically.
pub fn write_outputs(
    report: &Report,
    capture_path: &Path,
    trace_path: &Path,
    format: Format,
) -> std::io::Result<()> {
    let snaplen = report
        .snaplen
        .map_or(capture::DEFAULT_SNAPLEN, |s| s as u32);
    capture::write_file(
        capture_path,
        format,
        &report.interfaces,
        &report.records,
        snaplen,
    )?;
    capture::write_atomically(trace_path, |out| trace::write_jsonl(&report.events, out))
}
