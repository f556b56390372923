//! Bulk transfer over a TAP device to and from the Linux kernel: 1 GiB each way on a clean
//! device, and 256 MiB each way through our fault model's 2 % loss and 1 % reordering (the
//! kernel's netem is not available), our engine against smoltcp on the same TAP in the same
//! run, as goodput per wall-clock second.
//!
//! Each engine is timed to the same event, by its own trace: receiving, from ESTABLISHED to
//! the kernel's FIN (CLOSE-WAIT: every byte is in); sending, from ESTABLISHED to the ACK of
//! our FIN (FIN-WAIT-2, or TIME-WAIT when the kernel's FIN carries it: every byte is
//! acknowledged). TIME-WAIT and the program's start are not timed (smoltcp's TIME-WAIT is a
//! fixed 10 s).
//!
//! `cargo bench -p packetlab-tap --bench tap_bulk` (as root); `PACKETLAB_BENCH_MIB` and
//! `PACKETLAB_BENCH_LOSSY_MIB` set the sizes, `PACKETLAB_BENCH_LOSSY_ROUNDS` the lossy rounds, `PACKETLAB_BENCH_WAYS` (`in`, `out`) one way only, `PACKETLAB_BENCH_TRACES` a folder for each run's trace. The kernel side is a small Python program in
//! the namespace that sends or counts bytes; both engines face the same one.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use packetlab_tap::{Driver, DriverConfig, Lab, Tap};
use program::{Line, ProgramRun, Stmt, Value};
use reference::EngineKind;
use stack::HostConfig;
use trace::{EventKind, TcpState, Time};
use wire::MacAddr;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn host(engine: EngineKind) -> Box<dyn stack::Engine> {
    // Linux's profile, as `packetlab tap` runs our host: the peer is Linux.
    let mut config = HostConfig::new("us", MacAddr([2, 0, 0, 0, 0x77, 2]), OURS, 24).linux();
    config.msl = Time::from_millis(1);
    config.min_rto = Time::from_millis(200);
    engine.build(config)
}

/// Loss and reordering at our side of the device, both ways: none, or the lossy round's.
fn faults(lossy: bool) -> link::LinkConfig {
    let mut f = link::Faults::default();
    if lossy {
        f.loss = 0.02;
        f.reorder = 0.01;
    }
    link::LinkConfig::symmetric(Time::ZERO, f)
}

/// When our connection first entered one of `states`, by its own trace.
fn entered(events: &[trace::Event], states: &[TcpState]) -> Option<Time> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::TcpTransition { to, .. } if states.contains(to) => Some(e.t),
        _ => None,
    })
}

/// Run our host with `program` on the lab's TAP until done; the seconds from ESTABLISHED to
/// `done` (see the module's note), and the program.
fn drive(lab: &Lab, run: Run, lines: Vec<Stmt>, done: &[TcpState]) -> (f64, ProgramRun) {
    let tap = Tap::open(lab.name(), lab.dev()).expect("the TAP opens");
    // Capture off: a gigabyte of frames would otherwise be held in memory for the file.
    let config = DriverConfig {
        netns: lab.name().to_string(),
        no_capture: std::env::var_os("PACKETLAB_BENCH_TRACES").is_none(),
        faults: faults(run.lossy),
        seed: run.seed,
        ..DriverConfig::default()
    };
    let engine = run.engine;
    let mut driver = Driver::new(host(engine), tap, config).expect("the driver starts");
    let mut program = ProgramRun::new(lines.into_iter().map(Line::from).collect(), 1);
    // Hashing a gigabyte would measure SHA-256, not TCP; lengths are still counted.
    program.skip_digests = true;
    driver
        .run(&mut program, &AtomicBool::new(false))
        .expect("the run ends");
    let (outcome, _) = driver.finish();
    if let Some(dir) = std::env::var_os("PACKETLAB_BENCH_TRACES") {
        // To see why a run was slow: its trace, with frames (capture on, for small runs).
        let name = format!(
            "{}-{:?}-{}.trace.jsonl",
            run.seed,
            engine,
            if done.contains(&TcpState::CloseWait) {
                "in"
            } else {
                "out"
            }
        );
        let file = std::fs::File::create(std::path::Path::new(&dir).join(name)).unwrap();
        trace::write_jsonl(&outcome.events, std::io::BufWriter::new(file)).unwrap();
    }
    let from = entered(&outcome.events, &[TcpState::Established]).expect("ESTABLISHED");
    let to = entered(&outcome.events, done).unwrap_or_else(|| panic!("{done:?} in the trace"));
    ((to - from).as_nanos() as f64 / 1e9, program)
}

/// One engine, on a clean or a lossy device.
#[derive(Clone, Copy)]
struct Run {
    engine: EngineKind,
    lossy: bool,
    /// The fault model's seed.
    seed: u64,
}

fn stream_len(program: &ProgramRun, var: &str) -> u64 {
    match program.vars.get(var) {
        Some(Value::Stream(d)) => d.len,
        other => panic!(
            "`{var}` is {other:?}; the program stopped: {:?}",
            program.failed
        ),
    }
}

/// The namespace's kernel, sending `bytes` to port 9100 of our address once it answers.
fn kernel_sender(lab: &Lab, bytes: u64) -> std::process::Child {
    lab.command("python3")
        .args([
            "-c",
            &format!(
                "
import socket, time
for _ in range(200):
    try:
        s = socket.create_connection(('{OURS}', 9100)); break
    except OSError:
        time.sleep(0.02)
buf, left = bytes(1 << 16), {bytes}
while left:
    n = min(left, len(buf)); s.sendall(buf[:n]); left -= n
s.close()
"
            ),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 runs")
}

/// Linux in our place: the kernel of a second namespace (`rx`, at our address) receives
/// `bytes` from the first's, through our relay with the same fault model; the seconds from
/// accept() to the end of the stream.
fn inbound_linux(lab: &Lab, rx: &Lab, run: Run, bytes: u64) -> f64 {
    let receiver = rx
        .command("python3")
        .args([
            "-c",
            "
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('', 9100)); l.listen(5)
c, _ = l.accept(); t, n = time.monotonic(), 0
while data := c.recv(1 << 20):
    n += len(data)
print(time.monotonic() - t, n)
",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    rx.wait_for_listener(Duration::from_secs(10));
    let traces = std::env::var_os("PACKETLAB_BENCH_TRACES");
    let relay =
        packetlab_tap::Relay::start(&[lab, rx], faults(run.lossy), run.seed, traces.is_some())
            .expect("the relay starts");
    let sender = kernel_sender(lab, bytes);
    let out = receiver.wait_with_output().expect("python3 ends");
    let _ = sender.wait_with_output();
    let frames = relay.stop().expect("the relay ran");
    if let Some(dir) = traces {
        let path = std::path::Path::new(&dir).join(format!("{}-Linux-in.pcap", run.seed));
        packetlab_tap::write_relayed(&frames, &path).expect("the pcap written");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let secs: f64 = words.next().and_then(|w| w.parse().ok()).expect("seconds");
    assert_eq!(
        words.next(),
        Some(bytes.to_string().as_str()),
        "Linux received it all"
    );
    secs
}

/// The kernel sends `bytes` to our sink.
fn inbound(lab: &Lab, run: Run, bytes: u64) -> f64 {
    let sender = kernel_sender(lab, bytes);
    let (secs, program) = drive(
        lab,
        run,
        vec![
            Stmt::Listen {
                var: "s".into(),
                port: 9100,
                backlog: 5,
            },
            Stmt::Accept {
                var: "c".into(),
                listener: "s".into(),
            },
            Stmt::RecvAll {
                var: Some("got".into()),
                conn: "c".into(),
                limit: None,
            },
            Stmt::Close { conn: "c".into() },
            Stmt::Close { conn: "s".into() },
        ],
        &[TcpState::CloseWait],
    );
    let _ = sender.wait_with_output();
    assert_eq!(stream_len(&program, "got"), bytes);
    secs
}

/// Our source sends `bytes` to the kernel.
fn outbound(lab: &Lab, run: Run, bytes: u64) -> f64 {
    let receiver = lab
        .command("python3")
        .args([
            "-c",
            &format!(
                "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('{KERNEL}', 9101)); l.listen(5)
c, _ = l.accept(); n = 0
while True:
    data = c.recv(1 << 20)
    if not data:
        break
    n += len(data)
c.close(); print(n)
"
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    lab.wait_for_listener(Duration::from_secs(10));
    let (secs, program) = drive(
        lab,
        run,
        vec![
            Stmt::Connect {
                var: "c".into(),
                addr: std::net::SocketAddr::from((KERNEL, 9101)),
            },
            Stmt::SendRandom {
                var: Some("sent".into()),
                conn: "c".into(),
                len: bytes,
            },
            Stmt::Close { conn: "c".into() },
        ],
        // Our FIN acknowledged, alone or with the kernel's FIN.
        &[TcpState::FinWait2, TcpState::TimeWait],
    );
    let out = receiver.wait_with_output().expect("python3 ends");
    let received: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(stream_len(&program, "sent"), bytes);
    assert_eq!(received, bytes, "the kernel received it all");
    secs
}

/// Both engines, both ways, `rounds` rounds alternating engines, each round with its own
/// fault seed. On a clean device the best round of each counts; through loss, where one
/// unlucky timeout can take more than the transfer, the sum of all rounds.
fn compare(labs: (&Lab, &Lab), lossy: bool, mib: u64, rounds: u64) {
    let (lab, rx) = labs;
    let bytes = mib << 20;
    let what = if lossy {
        "through 2 % loss and 1 % reordering at our side, all rounds summed"
    } else {
        "on a clean device, best round"
    };
    println!("{mib} MiB each way to and from the Linux kernel, {rounds} rounds, {what}");
    let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut linux = Vec::new();
    let ways = std::env::var("PACKETLAB_BENCH_WAYS").unwrap_or_default();
    for round in 0..rounds {
        if ways != "out" {
            let run = Run {
                engine: EngineKind::Packetlab,
                lossy,
                seed: 7 + round,
            };
            linux.push(inbound_linux(lab, rx, run, bytes));
            println!(
                "    round {round}: Linux received in {:.2} s",
                linux[round as usize]
            );
        }
        for (i, engine) in [EngineKind::Packetlab, EngineKind::Smoltcp]
            .into_iter()
            .enumerate()
        {
            let run = Run {
                engine,
                lossy,
                seed: 7 + round,
            };
            let name = ["packetlab", "smoltcp"][i];
            if ways != "out" {
                times[i][0].push(inbound(lab, run, bytes));
                println!(
                    "    round {round}: {name} received in {:.2} s",
                    times[i][0][round as usize]
                );
            }
            if ways != "in" {
                times[i][1].push(outbound(lab, run, bytes));
                println!(
                    "    round {round}: {name} sent in {:.2} s",
                    times[i][1][round as usize]
                );
            }
        }
    }
    let total = |t: &Vec<f64>| -> f64 {
        if lossy {
            t.iter().sum()
        } else {
            t.iter().copied().fold(f64::MAX, f64::min)
        }
    };
    let bytes_timed = if lossy { bytes * rounds } else { bytes };
    let gbit = |secs: f64| bytes_timed as f64 * 8.0 / secs / 1e9;
    let mut figures = [(0.0, 0.0); 2];
    for (i, name) in ["packetlab", "smoltcp"].into_iter().enumerate() {
        let (receiving, sending) = (total(&times[i][0]), total(&times[i][1]));
        figures[i] = (receiving, sending);
        let way = |secs: f64, t: &Vec<f64>| {
            if t.is_empty() {
                "      not timed        ".to_string()
            } else {
                format!("{secs:7.2} s {:6.2} Gbit/s", gbit(secs))
            }
        };
        println!(
            "  {name:<9}  kernel → us {}   us → kernel {}",
            way(receiving, &times[i][0]),
            way(sending, &times[i][1])
        );
    }
    if !linux.is_empty() {
        let secs = total(&linux);
        println!(
            "  Linux      kernel → kernel {secs:7.2} s {:6.2} Gbit/s (receiving in our place)",
            gbit(secs)
        );
        println!(
            "  ours / Linux goodput, receiving: {:.2}×",
            secs / figures[0].0
        );
    }
    let (ours, smol) = (figures[0], figures[1]);
    for (what, i) in [("receiving", 0), ("sending", 1)] {
        if !times[0][i].is_empty() {
            let (o, s) = if i == 0 {
                (ours.0, smol.0)
            } else {
                (ours.1, smol.1)
            };
            println!("  ours / smoltcp goodput, {what}: {:.2}×", s / o);
        }
    }
}

fn main() {
    if let Err(e) = packetlab_tap::check_environment() {
        println!("skipped: {e}");
        return;
    }
    let have_python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_python {
        println!("skipped: python3 is missing");
        return;
    }
    let size = |var: &str, default: u64| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let lab = Lab::up(&Lab::unique_name("plbench"), "tap0", "10.77.0.1/24").expect("lab up");
    // Linux in our place: our address, and our MAC, so the sender's ARP entry fits both.
    let rx = Lab::up(&Lab::unique_name("plbenchrx"), "tap0", "10.77.0.2/24").expect("lab up");
    for step in [
        &["link", "set", "tap0", "down"][..],
        &["link", "set", "tap0", "address", "02:00:00:00:77:02"],
        &["link", "set", "tap0", "up"],
    ] {
        rx.ip(step).expect("the receiver's device is set up");
    }
    println!(
        "timed by each engine's trace: receiving, ESTABLISHED to the kernel's FIN (CLOSE-WAIT); \
         sending, ESTABLISHED to the ACK of our FIN (FIN-WAIT-2 or TIME-WAIT)"
    );
    compare((&lab, &rx), false, size("PACKETLAB_BENCH_MIB", 1024), 2);
    compare(
        (&lab, &rx),
        true,
        size("PACKETLAB_BENCH_LOSSY_MIB", 256),
        size("PACKETLAB_BENCH_LOSSY_ROUNDS", 3),
    );
}
