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
//! `PACKETLAB_BENCH_LOSSY_MIB` set the sizes. The kernel side is a small Python program in
//! the namespace that sends or counts bytes; both engines face the same one.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use packetlab_tap::{Driver, DriverConfig, Lab, ProgramApp, Tap};
use program::{Line, ProgramRun, Stmt, Value};
use reference::EngineKind;
use stack::HostConfig;
use trace::{EventKind, TcpState, Time};
use wire::MacAddr;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn host(engine: EngineKind) -> Box<dyn stack::Engine> {
    let mut config = HostConfig::new("us", MacAddr([2, 0, 0, 0, 0x77, 2]), OURS, 24);
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
        no_capture: true,
        faults: faults(run.lossy),
        seed: run.seed,
        ..DriverConfig::default()
    };
    let engine = run.engine;
    let mut driver = Driver::new(host(engine), tap, config).expect("the driver starts");
    let mut program = ProgramRun::new(lines.into_iter().map(Line::from).collect(), 1);
    // Hashing a gigabyte would measure SHA-256, not TCP; lengths are still counted.
    program.skip_digests = true;
    let mut app = ProgramApp::new(program);
    driver
        .run(&mut app, &AtomicBool::new(false))
        .expect("the run ends");
    let (outcome, _) = driver.finish();
    let from = entered(&outcome.events, &[TcpState::Established]).expect("ESTABLISHED");
    let to = entered(&outcome.events, done).unwrap_or_else(|| panic!("{done:?} in the trace"));
    ((to - from).as_nanos() as f64 / 1e9, app.into_program())
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

/// The kernel sends `bytes` to our sink.
fn inbound(lab: &Lab, run: Run, bytes: u64) -> f64 {
    let sender = lab
        .command("python3")
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
        .expect("python3 runs");
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
                addr: SocketAddrV4::new(KERNEL, 9101),
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
fn compare(lab: &Lab, lossy: bool, mib: u64, rounds: u64) {
    let bytes = mib << 20;
    let what = if lossy {
        "through 2 % loss and 1 % reordering at our side, all rounds summed"
    } else {
        "on a clean device, best round"
    };
    println!("{mib} MiB each way to and from the Linux kernel, {rounds} rounds, {what}");
    let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for round in 0..rounds {
        for (i, engine) in [EngineKind::Packetlab, EngineKind::Smoltcp]
            .into_iter()
            .enumerate()
        {
            let run = Run {
                engine,
                lossy,
                seed: 7 + round,
            };
            times[i][0].push(inbound(lab, run, bytes));
            times[i][1].push(outbound(lab, run, bytes));
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
        println!(
            "  {name:<9}  kernel → us {receiving:7.2} s {:6.2} Gbit/s   us → kernel {sending:7.2} s {:6.2} Gbit/s",
            gbit(receiving),
            gbit(sending)
        );
    }
    let (ours, smol) = (figures[0], figures[1]);
    println!(
        "  ours / smoltcp goodput, receiving: {:.2}×",
        smol.0 / ours.0
    );
    println!(
        "  ours / smoltcp goodput, sending:   {:.2}×",
        smol.1 / ours.1
    );
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
    println!(
        "timed by each engine's trace: receiving, ESTABLISHED to the kernel's FIN (CLOSE-WAIT); \
         sending, ESTABLISHED to the ACK of our FIN (FIN-WAIT-2 or TIME-WAIT)"
    );
    compare(&lab, false, size("PACKETLAB_BENCH_MIB", 1024), 2);
    compare(&lab, true, size("PACKETLAB_BENCH_LOSSY_MIB", 256), 3);
}
