//! `packetlab lab up|down` and `packetlab tap`: our stack on a TAP device, the Linux kernel
//! at the other end.

use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Subcommand};
use program::{Application, Line, ProgramRun, Stmt, Value};
use stack::HostConfig;
use tap::{Client, Driver, DriverConfig, EchoServer, Lab, LabError, Tap};
use trace::Time;
use wire::MacAddr;

use crate::outputs::{Outputs, Print};
use crate::{EXIT_BAD_INPUT, EXIT_ENVIRONMENT};
use scenario::RunSink;

/// The kernel side of a lab made by `lab up`.
pub const LAB_KERNEL_CIDR: &str = "10.77.0.1/24";
/// The address the README and `lab up` suggest for our host.
pub const LAB_OUR_CIDR: &str = "10.77.0.2/24";

/// `lab up` / `lab down`.
#[derive(Subcommand)]
pub enum LabCommand {
    /// Create a network namespace with a TAP device whose kernel side is 10.77.0.1/24.
    Up {
        /// The namespace's name.
        #[arg(long, default_value = "packetlab")]
        name: String,
        /// The TAP device's name.
        #[arg(long, default_value = "tap0")]
        dev: String,
    },
    /// Delete the namespace and everything in it.
    Down {
        /// The namespace's name.
        #[arg(long, default_value = "packetlab")]
        name: String,
    },
}

/// `packetlab tap …`.
#[derive(Args)]
pub struct TapArgs {
    /// The network namespace holding the TAP device (from `packetlab lab up`).
    #[arg(long, global = true, default_value = "packetlab")]
    netns: String,
    /// The TAP device.
    #[arg(long, global = true, default_value = "tap0")]
    dev: String,
    /// Our host's address and prefix.
    #[arg(long, global = true, default_value = LAB_OUR_CIDR)]
    ip: String,
    /// Default gateway, for destinations off the subnet.
    #[arg(long, global = true)]
    gateway: Option<Ipv4Addr>,
    /// An IPv6 address and prefix for our host too (2001:db8:77::2/64), beside its
    /// link-local one; the device's kernel side needs IPv6 on (the lab switches it off).
    #[arg(long, global = true)]
    ip6: Option<String>,
    /// Our host's MAC address.
    #[arg(long, global = true, default_value = "02:00:00:00:77:02")]
    mac: String,
    /// Maximum segment lifetime: our TIME-WAIT lasts twice this [default: 30s]. smoltcp's
    /// TIME-WAIT is fixed, so `--engine smoltcp` ignores it, and says so.
    #[arg(long, global = true)]
    msl: Option<String>,
    /// The lowest retransmission timeout. Linux's (TCP_RTO_MIN) by default, since the peer
    /// here is Linux; RFC 6298 asks for 1s, which the simulated lessons use.
    #[arg(long, global = true, default_value = "200ms")]
    min_rto: String,
    /// Which stack runs our host: packetlab's or smoltcp.
    #[arg(long, global = true, default_value = "packetlab")]
    engine: String,
    /// Offer no selective acknowledgments (RFC 2018); Linux offers them, and so do we.
    #[arg(long, global = true)]
    no_sack: bool,
    /// Offer no timestamps option (RFC 7323); Linux offers it, and so do we.
    #[arg(long, global = true)]
    no_timestamps: bool,
    /// Lose this share of frames in each direction at our side of the device ("5%").
    #[arg(long, global = true)]
    loss: Option<String>,
    /// Hold back this share of frames so that later ones overtake them.
    #[arg(long, global = true)]
    reorder: Option<String>,
    /// Deliver this share of frames twice.
    #[arg(long, global = true)]
    duplicate: Option<String>,
    /// Seed of the fault model.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Where the capture goes; the trace goes beside it (`.trace.jsonl`).
    #[arg(long, global = true, default_value = "captures/tap.pcapng")]
    capture: PathBuf,
    /// The user to run as once the device is open (no capabilities, no way back) [default:
    /// the user who ran sudo, else nobody].
    #[arg(long, global = true)]
    user: Option<String>,
    /// What runs on our host.
    #[command(subcommand)]
    app: AppCommand,
}

/// The programs our host can run on the TAP device.
#[derive(Subcommand)]
pub enum AppCommand {
    /// A classic echo server: recv(1024) and send it back, for every connection.
    EchoServer {
        /// Port to listen on.
        port: u16,
    },
    /// A UDP echo server: every datagram goes back to its sender.
    UdpEcho {
        /// Port to bind.
        port: u16,
    },
    /// Send the lines of standard input, print what comes back.
    Client {
        /// Where to connect, like 10.77.0.1:7 or [2001:db8:77::1]:7.
        remote: SocketAddr,
    },
    /// Accept one connection, read it to the end, print its length and SHA-256.
    Sink {
        /// Port to listen on.
        port: u16,
    },
    /// Connect, send seeded random bytes, close; print their length and SHA-256.
    Source {
        /// Where to connect.
        remote: SocketAddr,
        /// How much to send (1000, 64KiB, 64MiB).
        #[arg(long)]
        bytes: String,
    },
}

fn env_or_bad(e: LabError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        LabError::Env(_) => ExitCode::from(EXIT_ENVIRONMENT),
        LabError::Command { .. } | LabError::NoLab(_) => ExitCode::from(EXIT_BAD_INPUT),
    }
}

/// `packetlab lab up|down`.
pub fn lab(command: LabCommand) -> ExitCode {
    match command {
        LabCommand::Up { name, dev } => {
            if let Err(e) = tap::check_name(&dev) {
                eprintln!("error: --dev {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            lab_up(&name, &dev)
        }
        LabCommand::Down { name } => match Lab::delete(&name) {
            Ok(()) => {
                println!("deleted network namespace {name} and its devices");
                ExitCode::SUCCESS
            }
            Err(e) => env_or_bad(e),
        },
    }
}

fn line(stmt: Stmt) -> Line {
    Line::from(stmt)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `packetlab lab up`: make the namespace and its TAP device, and say how to use them.
fn lab_up(name: &str, dev: &str) -> ExitCode {
    match Lab::up(name, dev, LAB_KERNEL_CIDR) {
        Ok(lab) => {
            // The lab outlives this command: `lab down` deletes it.
            std::mem::forget(lab);
            println!("made network namespace {name} with TAP device {dev};");
            println!("the kernel's side of {dev} is {LAB_KERNEL_CIDR} and up.");
            println!("run our stack on it:");
            println!(
                "  packetlab tap --netns {name} --dev {dev} --ip {LAB_OUR_CIDR} echo-server 7"
            );
            println!("talk to it from the kernel:");
            println!(
                "  ip netns exec {name} python3 -c \"import socket; s = socket.create_connection(('10.77.0.2', 7)); s.sendall(b'hi\\n'); print(s.recv(1024))\""
            );
            println!("delete it all with: packetlab lab down --name {name}");
            ExitCode::SUCCESS
        }
        Err(e) => env_or_bad(e),
    }
}

/// `packetlab tap …`.
pub fn tap(args: TapArgs) -> ExitCode {
    let bad = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let parsed =
        host_config(&args).and_then(|(config, faults)| Ok((config, faults, config_engine(&args)?)));
    let (config, faults, engine) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return bad(message),
    };
    if engine == reference::EngineKind::Smoltcp && args.msl.is_some() {
        eprintln!(
            "note: --msl is ignored with --engine smoltcp: smoltcp's TIME-WAIT is fixed at 10 s"
        );
    }
    let ip = config.ip;
    if let Err(status) = preflight(&args) {
        return status;
    }
    let lab = match Lab::attach(&args.netns, &args.dev) {
        Ok(lab) => lab,
        Err(e) => return env_or_bad(e),
    };
    let device = match Tap::open(lab.name(), lab.dev()) {
        Ok(device) => device,
        Err(e @ tap::OpenError::Busy { .. }) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_ENVIRONMENT);
        }
        Err(e) => return bad(e.to_string()),
    };
    let driver_config = DriverConfig {
        netns: args.netns.clone(),
        faults: link::LinkConfig::symmetric(Time::ZERO, faults),
        seed: args.seed,
        // smoltcp's TIME-WAIT is its own 10 s, whatever --msl says.
        say_time_wait: Some(match engine {
            reference::EngineKind::Smoltcp => Time::from_secs(10),
            _ => Time(config.msl.0.saturating_mul(2)),
        }),
        ..DriverConfig::default()
    };
    let mut driver = match Driver::new(engine.build(config), device, driver_config) {
        Ok(driver) => driver,
        Err(e) => return bad(format!("cannot watch the TAP device: {e}")),
    };
    let stop = match stop_on_ctrl_c(&driver) {
        Ok(stop) => stop,
        Err(message) => return bad(message),
    };
    let mut app = match build_app(args.app, ip, args.seed, &driver) {
        Ok(app) => app,
        Err(message) => return bad(message),
    };
    let trace_path = args.capture.with_extension("trace.jsonl");
    let capture = (
        args.capture.as_path(),
        capture::Format::PcapNg,
        capture::DEFAULT_SNAPLEN,
    );
    let placement = capture::Placement::AsItGoes;
    let mut outputs =
        match Outputs::create_in(Some(capture), Some(&trace_path), Print::Nothing, placement) {
            Ok(outputs) => outputs,
            Err(e) => return bad(format!("cannot write the outputs: {e}")),
        };
    if let Err(status) = give_up_privileges(args.user.as_deref(), &[&args.capture, &trace_path]) {
        return status;
    }
    let result = driver.run_streaming(app.as_mut(), &stop, Some(&mut outputs));
    if let Err(message) = write_rest(driver, outputs) {
        return bad(message);
    }
    if let Some(status) = report_program(app.as_ref()) {
        return status;
    }
    ended(result)
}

/// How a run that wrote its outputs ends: well, or with the device gone (its namespace was
/// deleted: the machine's doing) or failing.
fn ended(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("error: {e}; what was captured is written");
            ExitCode::from(EXIT_ENVIRONMENT)
        }
        Err(e) => {
            eprintln!("error: the TAP device failed: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// What must hold before the namespace is touched, said in this order: the command line,
/// then what the machine lacks, then the capture's folder.
fn preflight(args: &TapArgs) -> Result<(), ExitCode> {
    let bad = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if let Err(e) = tap::check_name(&args.dev) {
        return Err(bad(format!("--dev {e}")));
    }
    if let Err(e) = tap::check_attach() {
        return Err(env_or_bad(LabError::Env(e)));
    }
    // A privileged process makes no folders: the capture's must exist.
    if let Some(dir) = args.capture.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(bad(format!(
            "{}: no such folder for the capture (make it first; packetlab tap, run with \
             privileges, makes none)",
            dir.display()
        )));
    }
    Ok(())
}

/// Become the unprivileged user before the first frame; the outputs, already open, become a
/// person's own (not `nobody`'s).
pub(crate) fn give_up_privileges(
    user: Option<&str>,
    outputs: &[&std::path::Path],
) -> Result<(), ExitCode> {
    use privilege::{Target, drop_to};
    let failed = |e: privilege::PrivilegeError| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_ENVIRONMENT)
    };
    let target = Target::choose(user).map_err(failed)?;
    target.hand_over(outputs);
    drop_to(&target).map_err(failed)?;
    eprintln!(
        "running as {} (uid {}) with no capabilities from here on",
        target.name, target.uid
    );
    Ok(())
}

/// Our host's configuration and the fault model, from the options.
fn host_config(args: &TapArgs) -> Result<(HostConfig, link::Faults), String> {
    let (ip, prefix) = scenario::parse_cidr(&args.ip).ok_or_else(|| {
        format!(
            "--ip `{}`: expected an address with a prefix length, like {LAB_OUR_CIDR}",
            args.ip
        )
    })?;
    let mac: MacAddr = args
        .mac
        .parse()
        .map_err(|e| format!("--mac `{}`: {e}", args.mac))?;
    // Linux's profile: the kernel at the other end is Linux, and what a learner compares
    // with is what Linux would do in our place.
    let mut config = HostConfig::new("us", mac, ip, prefix).linux();
    config.gateway = args.gateway;
    if let Some(ip6) = &args.ip6 {
        let addr = scenario::parse_cidr6(ip6).ok_or_else(|| {
            format!("--ip6 `{ip6}`: expected an IPv6 address with a prefix length, like 2001:db8:77::2/64")
        })?;
        config.ip6 = vec![addr];
    }
    let msl = args.msl.as_deref().unwrap_or("30s");
    config.msl = scenario::parse_duration(msl).map_err(|e| format!("--msl {e}"))?;
    config.sack = !args.no_sack;
    config.timestamps = !args.no_timestamps;
    config.min_rto =
        scenario::parse_duration(&args.min_rto).map_err(|e| format!("--min-rto {e}"))?;
    config.seed = args.seed;
    // A real network: RFC 6528 sequence numbers and RFC 6056 ports, so that a rerun does not
    // land on the peer's TIME-WAIT of the last run's connection.
    config.numbering = stack::Numbering::Secret;
    let mut faults = link::Faults::default();
    for (flag, value, field) in [
        ("--loss", &args.loss, &mut faults.loss),
        ("--reorder", &args.reorder, &mut faults.reorder),
        ("--duplicate", &args.duplicate, &mut faults.duplicate),
    ] {
        if let Some(value) = value {
            *field = scenario::parse_percent(value).map_err(|e| format!("{flag} {e}"))?;
        }
    }
    Ok((config, faults))
}

fn config_engine(args: &TapArgs) -> Result<reference::EngineKind, String> {
    match args.engine.as_str() {
        "packetlab" => Ok(reference::EngineKind::Packetlab),
        "smoltcp" => Ok(reference::EngineKind::Smoltcp),
        other => Err(format!("--engine `{other}`: expected packetlab or smoltcp")),
    }
}

/// A flag that Ctrl-C raises (waking the driver), so the run ends cleanly.
fn stop_on_ctrl_c(driver: &Driver) -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let waker = driver.waker();
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        let _ = waker.wake();
    })
    .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    Ok(stop)
}

/// The application our host runs.
fn build_app(
    command: AppCommand,
    ip: Ipv4Addr,
    seed: u64,
    driver: &Driver,
) -> Result<Box<dyn Application>, String> {
    Ok(match command {
        AppCommand::EchoServer { port } => {
            eprintln!("echo server on {ip}:{port}; Ctrl-C closes the connections and stops");
            Box::new(EchoServer::new(port))
        }
        AppCommand::UdpEcho { port } => {
            eprintln!("UDP echo server on {ip}:{port}; Ctrl-C stops it");
            Box::new(tap::UdpEcho::new(port))
        }
        AppCommand::Client { remote } => Box::new(Client::new(remote, stdin_lines(driver))),
        AppCommand::Sink { port } => Box::new(ProgramRun::new(sink_program(port), seed)),
        AppCommand::Source { remote, bytes } => {
            let len = scenario::parse_size(&bytes).map_err(|e| format!("--bytes {e}"))?;
            Box::new(ProgramRun::new(source_program(remote, len), seed))
        }
    })
}

/// Standard input's lines, each waking the driver, as they are typed.
fn stdin_lines(driver: &Driver) -> std::sync::mpsc::Receiver<String> {
    let (lines, input) = std::sync::mpsc::channel();
    let waker = driver.waker();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(format!("{line}\n")).is_err() {
                break;
            }
            let _ = waker.wake();
        }
        drop(lines);
        let _ = waker.wake();
    });
    input
}

/// `sink PORT`: read one connection to its end, keeping length and SHA-256.
fn sink_program(port: u16) -> Vec<Line> {
    vec![
        line(Stmt::Listen {
            var: "s".into(),
            port,
            backlog: 5,
        }),
        line(Stmt::Accept {
            var: "conn".into(),
            listener: "s".into(),
        }),
        line(Stmt::RecvAll {
            var: Some("got".into()),
            conn: "conn".into(),
            limit: None,
        }),
        line(Stmt::Close {
            conn: "conn".into(),
        }),
        line(Stmt::Close { conn: "s".into() }),
    ]
}

/// `source HOST:PORT --bytes N`: send N seeded random octets and close.
fn source_program(remote: SocketAddr, len: u64) -> Vec<Line> {
    vec![
        line(Stmt::Connect {
            var: "c".into(),
            addr: remote,
        }),
        line(Stmt::SendRandom {
            var: Some("sent".into()),
            conn: "c".into(),
            len,
        }),
        line(Stmt::Close { conn: "c".into() }),
    ]
}

/// Hand the rest of the run to the outputs (written as it went) and put them in place.
fn write_rest(driver: tap::Driver, mut outputs: Outputs) -> Result<(), String> {
    let (outcome, _) = driver.finish();
    let failed = |e: std::io::Error| format!("cannot write the outputs: {e}");
    outputs.interfaces(outcome.interfaces).map_err(failed)?;
    outputs.events(outcome.events).map_err(failed)?;
    outputs.frames(outcome.records).map_err(failed)?;
    let written = outputs.finish().map_err(failed)?;
    eprintln!("{}", written.summary);
    Ok(())
}

/// Print a program's stream digests; a program that stopped on an error ends with status 1.
fn report_program(app: &dyn Application) -> Option<ExitCode> {
    let program = app.as_program()?;
    for var in ["sent", "got"] {
        if let Some(Value::Stream(d)) = program.vars.get(var) {
            println!("{var} {} bytes sha256 {}", d.len, hex(&d.sha256));
        }
    }
    program.failed.as_ref().map(|failure| {
        eprintln!("error: the program stopped: {failure}");
        ExitCode::from(1)
    })
}
