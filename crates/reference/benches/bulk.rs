//! Bulk transfer benchmark: 256 MiB from one host to another through a switch over fast
//! links, our engine against smoltcp in the same harness and the same run, as goodput per
//! wall-clock second; then our engine again with the capture on (snaplen 128), and our
//! engine over IPv6 against itself over IPv4 (issue #26 asks for ≥ 0.95 of IPv4's goodput).
//!
//! `cargo bench -p packetlab-reference --bench bulk`; `PACKETLAB_BENCH_MIB` sets the size.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use link::LinkConfig;
use packetlab_reference::EngineKind;
use program::{Line, Stmt, Value};
use sim::{Node, World};
use stack::{Engine, HostConfig};
use trace::Time;
use wire::MacAddr;

fn line(stmt: Stmt) -> Line {
    Line::from(stmt)
}

/// Which IP the transfer runs over.
#[derive(Clone, Copy, PartialEq)]
enum Ip {
    V4,
    V6,
}

/// Host `mac`'s address in the family.
fn address(ip: Ip, mac: u8) -> IpAddr {
    match ip {
        Ip::V4 => Ipv4Addr::new(10, 0, 0, mac).into(),
        Ip::V6 => Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(mac)).into(),
    }
}

fn engine(which: EngineKind, world: &World, name: &str, mac: u8, ip: Ip) -> Box<dyn Engine> {
    let v4 = Ipv4Addr::new(10, 0, 0, mac);
    let mut config = HostConfig::new(name, MacAddr([2, 0, 0, 0, 0, mac]), v4, 24);
    if let IpAddr::V6(v6) = address(ip, mac) {
        config.ip6 = vec![(v6, 64)];
    }
    config.seed = world.seed_for(name);
    // The same buffers for both engines: 256 KiB each way.
    config.rcv_buf = 256 * 1024;
    config.snd_buf = 256 * 1024;
    which.build(config)
}

/// Run one transfer; returns (wall seconds, frames captured). With `verify`, both ends
/// hash the stream and the hashes must agree; without, only the lengths are compared, so
/// that the hash does not dominate the timing.
fn transfer(
    (which, ip): (EngineKind, Ip),
    bytes: u64,
    snaplen: Option<usize>,
    verify: bool,
) -> (f64, usize) {
    let mut world = World::new(1);
    world.set_capture(snaplen.is_some());
    world.set_snaplen(snaplen);
    let server_ip = address(ip, 2);
    let sender = vec![
        line(Stmt::Connect {
            var: "c".into(),
            addr: std::net::SocketAddr::from((server_ip, 9000)),
        }),
        line(Stmt::SendRandom {
            var: Some("sent".into()),
            conn: "c".into(),
            len: bytes,
        }),
        line(Stmt::Close { conn: "c".into() }),
    ];
    let receiver = vec![
        line(Stmt::Listen {
            var: "s".into(),
            port: 9000,
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
    ];
    let a = engine(which, &world, "sender", 1, ip);
    let b = engine(which, &world, "receiver", 2, ip);
    let a = world.add_engine(a, sender);
    let b = world.add_engine(b, receiver);
    let switch = world.add_switch("sw1", sim::DEFAULT_AGING);
    // A fast LAN: 10 µs of propagation delay, no rate limit.
    let fast = LinkConfig::new(Time(10_000));
    world.connect_with(a, switch, "sender-sw1", fast.clone());
    world.connect_with(b, switch, "receiver-sw1", fast);
    if !verify {
        world.skip_stream_digests();
    }
    let started = Instant::now();
    // Past the transfer and the FIN exchange; TIME-WAIT's expiry is not part of it.
    let mut done = false;
    while !done && world.step() {
        done = world.host(b).is_some_and(|h| h.program.finished());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (outcome, nodes) = world.finish();
    let digest = |n: usize, var: &str| match &nodes[n] {
        Node::Host(h) => match h.program.as_program()?.vars.get(var) {
            Some(Value::Stream(d)) => Some(*d),
            _ => None,
        },
        Node::Switch(_) | Node::Router(_) => None,
    };
    assert_eq!(digest(a, "sent"), digest(b, "got"), "byte-exact");
    assert_eq!(digest(b, "got").map(|d| d.len), Some(bytes));
    let frames = outcome
        .events
        .iter()
        .filter(|e| matches!(e.kind, trace::EventKind::Frame { .. }))
        .count();
    (elapsed, frames)
}

fn main() {
    let mib: u64 = std::env::var("PACKETLAB_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let bytes = mib << 20;
    let gbit = |secs: f64| bytes as f64 * 8.0 / secs / 1e9;
    println!("bulk transfer of {mib} MiB through a switch, capture off unless said");
    let ours4 = (EngineKind::Packetlab, Ip::V4);
    let ours6 = (EngineKind::Packetlab, Ip::V6);
    let smol4 = (EngineKind::Smoltcp, Ip::V4);
    for run in [ours4, smol4, ours6] {
        // Byte-exact first (SHA-256 at both ends), then timed without the hash.
        transfer(run, 16 << 20, None, true);
    }
    println!("  (16 MiB byte-exact with SHA-256 for both engines; timed runs compare lengths)");
    // Rounds alternate the three runs so that neither engine always goes first into a cold
    // allocator; each figure is the best of its rounds.
    let rounds: usize = std::env::var("PACKETLAB_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (mut ours, mut smol, mut captured, mut v6) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let (mut our_frames, mut smol_frames, mut frames, mut v6_frames) = (0, 0, 0, 0);
    for round in 1..=rounds {
        let (t, n) = transfer(ours4, bytes, None, false);
        (ours, our_frames) = (ours.min(t), n);
        let (t, n) = transfer(smol4, bytes, None, false);
        (smol, smol_frames) = (smol.min(t), n);
        let (t, n) = transfer(ours4, bytes, Some(128), false);
        (captured, frames) = (captured.min(t), n);
        let (t, n) = transfer(ours6, bytes, None, false);
        (v6, v6_frames) = (v6.min(t), n);
        eprintln!("  round {round} of {rounds} done");
    }
    println!(
        "  packetlab → packetlab   {ours:8.2} s  {:6.2} Gbit/s  ({our_frames} frames on the links)",
        gbit(ours)
    );
    println!(
        "  smoltcp   → smoltcp     {smol:8.2} s  {:6.2} Gbit/s  ({smol_frames} frames on the links)",
        gbit(smol)
    );
    println!(
        "  packetlab, capture on   {captured:8.2} s  {:6.2} Gbit/s  ({frames} frames captured, snaplen 128)",
        gbit(captured)
    );
    println!(
        "  packetlab over IPv6     {v6:8.2} s  {:6.2} Gbit/s  ({v6_frames} frames on the links)",
        gbit(v6)
    );
    println!("ours / smoltcp goodput:          {:.2}×", smol / ours);
    println!("IPv6 / IPv4 goodput (ours):      {:.2}×", ours / v6);
    println!("capture on / capture off (ours): {:.2}×", ours / captured);
}
