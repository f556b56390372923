//! Scenario files: executable lessons. A scenario names the network (hosts, switches, links),
//! the program each host runs, and what the class should see; [`run`] plays it on the
//! simulator and checks the expectations.

mod judge;
mod parse;
mod runner;
mod watch;

pub use judge::{Evidence, conclude};
pub use runner::{Progress, RunError, RunSink, drive, run, run_into, run_with_progress};
pub use watch::Watch;

pub use parse::{parse_cidr, parse_cidr6, parse_duration, parse_percent, parse_size};

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use capture::{Format, Interface, Record};
use link::LinkConfig;
use program::{Line, ProgramRun};
use python::PythonProgram;
use stack::HostConfig;
use stack::derive_seed;
use trace::{Event, TcpState, Time};
use wire::MacAddr;

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
    /// IPv6 addresses and their prefix lengths (none: IPv6 off).
    pub ip6: Vec<(std::net::Ipv6Addr, u8)>,
    /// The default IPv6 router.
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// Form IPv6 addresses from router advertisements (SLAAC, RFC 4862).
    pub slaac: bool,
    /// Check IPv6 addresses for duplicates before using them (RFC 4862 §5.4).
    pub dad: bool,
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
    /// The lowest retransmission timeout, if not RFC 6298's 1 s (or Linux's 200 ms).
    pub min_rto: Option<Time>,
    /// Whose reading of the RFCs its TCP follows.
    pub profile: stack::Profile,
    /// Its congestion control, if not the profile's (Reno; CUBIC under Linux's).
    pub congestion: Option<stack::CongestionControl>,
    /// Half-open connections per listener, if not 128 (Linux's `tcp_max_syn_backlog`).
    pub syn_backlog: Option<u32>,
    /// Offer selective acknowledgments (RFC 2018), as Linux does by default.
    pub sack: bool,
    /// Offer timestamps (RFC 7323), as Linux does by default.
    pub timestamps: bool,
    /// Answer SYNs with SYN cookies once the SYN queue is full, as Linux does by default.
    pub syncookies: bool,
    /// The program it runs.
    pub program: Vec<Line>,
    /// The learner's Python program it runs instead, if any.
    pub python: Option<PythonProgram>,
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

/// Which socket of a host an expectation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketRef {
    /// `client.c`: the socket a scenario program's variable holds.
    Var(String),
    /// `server:9000`, `server:9000[2]`: the host's Nth connection (from 1) with this port at
    /// either end, in the order they were opened; listeners are not counted.
    Port {
        /// The port.
        port: u16,
        /// Which of them.
        nth: usize,
    },
}

impl fmt::Display for SocketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketRef::Var(var) => write!(f, ".{var}"),
            SocketRef::Port { port, nth: 1 } => write!(f, ":{port}"),
            SocketRef::Port { port, nth } => write!(f, ":{port}[{nth}]"),
        }
    }
}

/// One way of a connection's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the host's program sent on it.
    Sent,
    /// What its program received.
    Received,
}

/// A stream that `same as` compares: a scenario program's variable (`client.d`) or a
/// connection's stream one way (`server:9000 received`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRef {
    /// A variable holding a stream's digest.
    Var(String),
    /// A connection's stream one way.
    Connection {
        /// The connection, by port.
        socket: SocketRef,
        /// Which way.
        direction: Direction,
    },
}

/// How a Python program is expected to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `raises ConnectionRefusedError`: an uncaught exception of this class ended it.
    Raises(String),
    /// `exits 0`: it exited with this status.
    Exits(i32),
}

/// One check of an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `HOST.VAR passes S1 S2 …` (or `HOST:PORT passes …`): exactly this sequence of states
    /// entered.
    Passes {
        /// Host.
        host: String,
        /// Which of its sockets.
        socket: SocketRef,
        /// States in order.
        states: Vec<TcpState>,
    },
    /// `HOST.VAR at T is STATE`.
    StateAt {
        /// Host.
        host: String,
        /// Which of its sockets.
        socket: SocketRef,
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
    /// `A same as B`: two streams of the same length and SHA-256, each a (host, stream).
    SameStream {
        /// One.
        a: (String, StreamRef),
        /// The other.
        b: (String, StreamRef),
    },
    /// `trace contains "text"`: some event of the trace, as printed, contains the text.
    TraceContains(String),
    /// `trace contains "text" N times`: exactly N events do.
    TraceCount(String, usize),
    /// `HOST prints "text"` (`kernel prints …`): the host's Python program printed the text.
    Prints {
        /// The host, or `kernel`.
        host: String,
        /// What it printed, somewhere in its output.
        text: String,
    },
    /// `HOST raises NAME`, `HOST exits N`: how the host's Python program ended.
    Ends {
        /// The host, or `kernel`.
        host: String,
        /// How.
        how: Ending,
    },
}

/// The Linux kernel at the other end of a TAP device, in a lesson against the kernel.
#[derive(Debug, Clone)]
pub struct KernelDef {
    /// The kernel side's address.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Its IPv6 address and prefix length, if it speaks IPv6.
    pub ip6: Option<(std::net::Ipv6Addr, u8)>,
    /// The Python program the kernel side runs, started in the namespace before our host.
    pub program: PythonProgram,
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
    /// Where the Python programs' working folders go, one per host (set by the caller, like
    /// `snaplen`); a temporary folder when none is given.
    pub workdir: Option<PathBuf>,
    /// Whether frames are captured (set by the caller; true unless `--no-capture`).
    pub capture: bool,
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
    if host.profile == stack::Profile::Linux {
        config = config.linux();
    }
    if let Some(congestion) = host.congestion {
        config.congestion = congestion;
    }
    config.gateway = host.gateway;
    config.ip6.clone_from(&host.ip6);
    config.gateway6 = host.gateway6;
    config.slaac = host.slaac;
    config.dad = host.dad;
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
    if let Some(backlog) = host.syn_backlog {
        config.max_syn_backlog = backlog;
    }
    if let Some(min_rto) = host.min_rto {
        config.min_rto = min_rto;
    }
    config.sack = host.sack;
    config.timestamps = host.timestamps;
    config.syncookies = if host.syncookies {
        stack::SynCookies::OnOverflow
    } else {
        stack::SynCookies::Off
    };
    config
}

/// The engine and program of the one host of a lesson against the kernel, seeded from the
/// scenario's seed as the simulator would seed them.
pub fn kernel_host(scenario: &Scenario) -> Option<(Box<dyn stack::Engine>, ProgramRun)> {
    let host = scenario.hosts.first()?;
    let mut config = host_config(host);
    config.seed = derive_seed(scenario.seed, &host.name);
    // On a TAP device the peer is a real kernel: unguessable numbers (RFC 6528, RFC 6056).
    config.numbering = stack::Numbering::Secret;
    let program_seed = derive_seed(scenario.seed, &format!("{}/program", host.name));
    let program = ProgramRun::new(host.program.clone(), program_seed);
    Some((host.engine.build(config), program))
}

/// Where a run's outputs go.
pub fn output_paths(scenario_path: &Path, out_dir: &Path, format: Format) -> (PathBuf, PathBuf) {
    let name = output_name(scenario_path);
    (
        out_dir.join(format!("{name}.{}", format.extension())),
        out_dir.join(format!("{name}.trace.jsonl")),
    )
}

/// The name a lesson's outputs take: its path under a `scenarios` folder without `.toml`
/// (`kernel/length-prefix`), so that the outputs mirror the folders and no two lessons share
/// them; a file elsewhere gives its stem.
pub fn output_name(scenario_path: &Path) -> String {
    let stem = scenario_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string());
    let folders: Vec<String> = scenario_path
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    match folders.iter().rposition(|f| f == "scenarios") {
        Some(i) => folders[i + 1..]
            .iter()
            .chain(std::iter::once(&stem))
            .cloned()
            .collect::<Vec<_>>()
            .join("/"),
        None => stem,
    }
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

#[cfg(test)]
mod output_name_tests {
    use super::output_name;
    use std::path::Path;

    #[test]
    fn outputs_mirror_the_folders_under_scenarios() {
        assert_eq!(
            output_name(Path::new("scenarios/handshake.toml")),
            "handshake"
        );
        assert_eq!(
            output_name(Path::new(
                "/src/packetlab/scenarios/kernel/length-prefix.toml"
            )),
            "kernel/length-prefix"
        );
        assert_eq!(output_name(Path::new("my/lesson.toml")), "lesson");
    }
}
