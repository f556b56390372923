//! Bulk transfer over a TAP device to and from the Linux kernel: 1 GiB each way, our engine
//! against smoltcp on the same TAP in the same run, as goodput per wall-clock second.
//!
//! `cargo bench -p packetlab-tap --bench tap_bulk` (as root); `PACKETLAB_BENCH_MIB` sets
//! the size. The kernel side is a small Python program in the namespace that sends or
//! counts bytes; both engines face the same one.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use packetlab_tap::{Driver, DriverConfig, Lab, ProgramApp, Tap};
use program::{Line, ProgramRun, Stmt, Value};
use reference::EngineKind;
use stack::HostConfig;
use trace::Time;
use wire::MacAddr;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const OURS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn host(engine: EngineKind) -> Box<dyn stack::Engine> {
    let mut config = HostConfig::new("us", MacAddr([2, 0, 0, 0, 0x77, 2]), OURS, 24);
    config.msl = Time::from_millis(1);
    config.min_rto = Time::from_millis(200);
    engine.build(config)
}

/// Run our host with `program` on the lab's TAP until done; wall seconds and the program.
fn drive(lab: &Lab, engine: EngineKind, lines: Vec<Stmt>) -> (f64, ProgramRun) {
    let tap = Tap::open(lab.name(), lab.dev()).expect("the TAP opens");
    // Capture off: a gigabyte of frames would otherwise be held in memory for the file.
    let config = DriverConfig {
        netns: lab.name().to_string(),
        no_capture: true,
        ..DriverConfig::default()
    };
    let mut driver = Driver::new(host(engine), tap, config).expect("the driver starts");
    let mut program = ProgramRun::new(lines.into_iter().map(Line::from).collect(), 1);
    // Hashing a gigabyte would measure SHA-256, not TCP; lengths are still counted.
    program.skip_digests = true;
    let mut app = ProgramApp::new(program);
    let started = Instant::now();
    driver
        .run(&mut app, &AtomicBool::new(false))
        .expect("the run ends");
    let elapsed = started.elapsed().as_secs_f64();
    (elapsed, app.into_program())
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
fn inbound(lab: &Lab, engine: EngineKind, bytes: u64) -> f64 {
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
        engine,
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
    );
    let _ = sender.wait_with_output();
    assert_eq!(stream_len(&program, "got"), bytes);
    secs
}

/// Our source sends `bytes` to the kernel.
fn outbound(lab: &Lab, engine: EngineKind, bytes: u64) -> f64 {
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
        engine,
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
    let mib: u64 = std::env::var("PACKETLAB_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let bytes = mib << 20;
    let gbit = |secs: f64| bytes as f64 * 8.0 / secs / 1e9;
    let lab = Lab::up(&Lab::unique_name("plbench"), "tap0", "10.77.0.1/24").expect("lab up");
    println!("{mib} MiB over a TAP device to and from the Linux kernel");
    // Two rounds, alternating engines so that neither always runs first; best of each.
    let mut best = [(f64::MAX, f64::MAX); 2];
    for _round in 0..2 {
        for (i, engine) in [EngineKind::Packetlab, EngineKind::Smoltcp]
            .into_iter()
            .enumerate()
        {
            let receiving = inbound(&lab, engine, bytes);
            let sending = outbound(&lab, engine, bytes);
            best[i] = (best[i].0.min(receiving), best[i].1.min(sending));
        }
    }
    for (i, name) in ["packetlab", "smoltcp"].into_iter().enumerate() {
        let (receiving, sending) = best[i];
        println!(
            "  {name:<9}  kernel → us {receiving:7.2} s {:6.2} Gbit/s   us → kernel {sending:7.2} s {:6.2} Gbit/s",
            gbit(receiving),
            gbit(sending)
        );
    }
    let results = best;
    let (ours, smol) = (results[0], results[1]);
    println!("ours / smoltcp goodput, receiving: {:.2}×", smol.0 / ours.0);
    println!("ours / smoltcp goodput, sending:   {:.2}×", smol.1 / ours.1);
}
