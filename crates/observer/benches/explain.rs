//! `packetlab explain` (Zeek's conn.log written too, as `--zeek-log` writes it) against
//! `tshark -r FILE -q -z conv,tcp` on a capture of about a
//! million TCP packets, in the same run: packets per second and peak memory of each.
//!
//! `cargo bench -p packetlab-observer --bench explain`; `PACKETLAB_BENCH_PACKETS` sets the
//! number of packets (one million by default). The capture is made by the simulator (a bulk
//! transfer, snaplen 128) in a temporary directory.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Instant;

use link::LinkConfig;
use program::{Line, Stmt};
use sim::World;
use stack::HostConfig;
use trace::Time;
use wire::MacAddr;

/// Peak resident memory of this process, in kB (Linux's VmHWM).
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn make_capture(path: &std::path::Path, packets: u64) {
    // Each 1460-octet segment brings about half an ACK: three frames per 2920 octets.
    let bytes = packets * 1460 * 2 / 3;
    let mut world = World::new(1);
    world.set_snaplen(Some(128));
    let server = Ipv4Addr::new(10, 0, 0, 2);
    let a = world.add_host(
        HostConfig::new(
            "client",
            MacAddr([2, 0, 0, 0, 0, 1]),
            Ipv4Addr::new(10, 0, 0, 1),
            24,
        ),
        vec![
            Line::from(Stmt::Connect {
                var: "c".into(),
                addr: std::net::SocketAddr::from((server, 9000)),
            }),
            Line::from(Stmt::SendRandom {
                var: None,
                conn: "c".into(),
                len: bytes,
            }),
            Line::from(Stmt::Close { conn: "c".into() }),
        ],
    );
    let b = world.add_host(
        HostConfig::new("server", MacAddr([2, 0, 0, 0, 0, 2]), server, 24),
        vec![
            Line::from(Stmt::Listen {
                var: "s".into(),
                port: 9000,
                backlog: 5,
            }),
            Line::from(Stmt::Accept {
                var: "conn".into(),
                listener: "s".into(),
            }),
            Line::from(Stmt::RecvAll {
                var: None,
                conn: "conn".into(),
                limit: None,
            }),
            Line::from(Stmt::Close {
                conn: "conn".into(),
            }),
        ],
    );
    world.connect_with(a, b, "client-server", LinkConfig::new(Time(10_000)));
    world.skip_stream_digests();
    world.run(Time::from_secs(3600));
    let (outcome, _) = world.finish();
    capture::write_file(
        path,
        capture::Format::PcapNg,
        &outcome.interfaces,
        &outcome.records,
        128,
    )
    .expect("the capture is written");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Re-run as `--explain-only FILE` so that the peak memory is explain's alone.
    if let Some(i) = args.iter().position(|a| a == "--explain-only") {
        let file = std::fs::File::open(&args[i + 1]).expect("the capture opens");
        let started = Instant::now();
        let explanation =
            packetlab_observer::explain("bench", std::io::BufReader::new(file)).expect("explained");
        // As `explain --zeek-log DIR` does: Zeek's conn.log written too.
        let log = std::fs::File::create(format!("{}.conn.log", args[i + 1])).expect("conn.log");
        let mut log = std::io::BufWriter::new(log);
        packetlab_observer::write_conn_log(&explanation.conn_log, explanation.span_ns, &mut log)
            .expect("conn.log written");
        println!(
            "{} {} {}",
            explanation.packets,
            started.elapsed().as_secs_f64(),
            peak_kb()
        );
        return;
    }
    let packets: u64 = std::env::var("PACKETLAB_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("packetlab-explain-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bulk.pcapng");
    make_capture(&path, packets);
    let size = std::fs::metadata(&path).unwrap().len();
    let ours = Command::new(std::env::current_exe().unwrap())
        .arg("--explain-only")
        .arg(&path)
        .output()
        .expect("the explain run");
    let text = String::from_utf8_lossy(&ours.stdout);
    let mut fields = text.split_whitespace();
    let count: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let ours_secs: f64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let ours_kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    println!(
        "explain on {count} packets ({:.0} MB, snaplen 128)",
        size as f64 / 1e6
    );
    println!(
        "  packetlab explain   {ours_secs:7.2} s  {:>10.0} packets/s  peak {:>6.1} MB",
        count as f64 / ours_secs,
        ours_kb as f64 / 1e3
    );
    // GNU time's %M is the child's peak resident memory in kB.
    let started = Instant::now();
    let tshark = Command::new("/usr/bin/time")
        .args(["-f", "%M", "tshark", "-r"])
        .arg(&path)
        .args(["-q", "-z", "conv,tcp"])
        .output();
    let tshark_secs = started.elapsed().as_secs_f64();
    match tshark {
        Ok(out) if out.status.success() => {
            let kb: f64 = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(f64::NAN);
            println!(
                "  tshark -z conv,tcp  {tshark_secs:7.2} s  {:>10.0} packets/s  peak {:>6.1} MB",
                count as f64 / tshark_secs,
                kb / 1e3
            );
            println!(
                "packets per second, ours / tshark: {:.1}×",
                tshark_secs / ours_secs
            );
        }
        _ => println!("  tshark (with GNU time) is not available here: no comparison"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
