//! The interop matrix: our stack against itself and against smoltcp, in both roles, with
//! every close order, transfer sizes from nothing to 16 MiB, over clean and faulty links, and
//! with our hosts' SACK and timestamps each on or off (smoltcp always offers SACK). Each run
//! must deliver exactly the bytes sent (same length and SHA-256), with no abort up to 20 %
//! loss; on other faults a connection may end aborted after its retransmissions, never with
//! a panic or silent corruption. A smaller matrix runs the same over IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use link::{Faults, LinkConfig};
use packetlab_reference::EngineKind;
use program::{Line, Stmt, Value};
use sim::{Node, World};
use stack::{Engine, HostConfig};
use trace::{EventKind, Note, TcpNote, TcpState, Time};
use wire::MacAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    /// The client sends and closes first (active close by the opener).
    ClientFirst,
    /// The server sends and closes first (the opener closes passively).
    ServerFirst,
    /// Both close at the same moment once the data is in.
    Simultaneous,
}

#[derive(Clone, Copy, Debug)]
enum LinkKind {
    Clean,
    Loss(f64),
    Reorder,
    Duplicate,
    Corrupt,
}

impl LinkKind {
    fn faults(self) -> Faults {
        let mut f = Faults::default();
        match self {
            LinkKind::Clean => {}
            LinkKind::Loss(p) => f.loss = p,
            LinkKind::Reorder => f.reorder = 0.1,
            LinkKind::Duplicate => f.duplicate = 0.1,
            LinkKind::Corrupt => f.corrupt = 0.05,
        }
        f
    }
}

const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
// Well within smoltcp's 60 s ARP cache lifetime, so neither side has to ARP again first.
const CLOSE_AT: Time = Time::from_secs(10);

fn line(stmt: Stmt) -> Line {
    Line::from(stmt)
}

/// SACK and timestamps on our hosts: as Linux (both), one of them, or neither.
const OPTIONS: [(bool, bool); 4] = [(true, true), (true, false), (false, true), (false, false)];

fn engine(
    which: EngineKind,
    world: &World,
    (name, mac, ip, ip6): (&str, u8, Ipv4Addr, Option<Ipv6Addr>),
    (sack, timestamps): (bool, bool),
) -> Box<dyn Engine> {
    let mut config = HostConfig::new(name, MacAddr([2, 0, 0, 0, 0, mac]), ip, 24);
    config.ip6 = ip6.map(|a| (a, 64)).into_iter().collect();
    config.seed = world.seed_for(name);
    config.sack = sack;
    config.timestamps = timestamps;
    which.build(config)
}

fn programs(close: Close, size: u64, server: IpAddr) -> (Vec<Line>, Vec<Line>) {
    let mut client = vec![line(Stmt::Connect {
        var: "c".into(),
        addr: SocketAddr::new(server, 9000),
    })];
    let mut server = vec![
        line(Stmt::Listen {
            var: "s".into(),
            port: 9000,
            backlog: 5,
        }),
        line(Stmt::Accept {
            var: "conn".into(),
            listener: "s".into(),
        }),
    ];
    let send = |c: &str| {
        line(Stmt::SendRandom {
            var: Some("sent".into()),
            conn: c.into(),
            len: size,
        })
    };
    let recv = |c: &str, limit| {
        line(Stmt::RecvAll {
            var: Some("got".into()),
            conn: c.into(),
            limit,
        })
    };
    let close_stmt = |c: &str| line(Stmt::Close { conn: c.into() });
    match close {
        Close::ClientFirst => {
            client.extend([send("c"), close_stmt("c")]);
            server.extend([recv("conn", None), close_stmt("conn")]);
        }
        Close::ServerFirst => {
            server.extend([send("conn"), close_stmt("conn")]);
            client.extend([recv("c", None), close_stmt("c")]);
        }
        Close::Simultaneous => {
            client.extend([send("c"), line(Stmt::At(CLOSE_AT)), close_stmt("c")]);
            server.extend([
                recv("conn", Some(size)),
                line(Stmt::At(CLOSE_AT)),
                close_stmt("conn"),
            ]);
        }
    }
    (client, server)
}

struct Outcome {
    delivered: bool,
    aborted: bool,
    both_closing: bool,
    frames: u64,
}

/// One run of the matrix.
#[derive(Clone, Copy, Debug)]
struct Case {
    seed: u64,
    pair: (EngineKind, EngineKind),
    close: Close,
    size: u64,
    link: LinkKind,
    options: (bool, bool),
    /// Over IPv6 rather than IPv4.
    v6: bool,
}

fn run_case(case: Case) -> Outcome {
    let Case {
        seed,
        pair,
        close,
        size,
        link,
        options,
        v6,
    } = case;
    let mut world = World::new(seed);
    world.set_capture(false);
    let (to, c6, s6) = if v6 {
        (IpAddr::V6(SERVER6), Some(CLIENT6), Some(SERVER6))
    } else {
        (IpAddr::V4(SERVER_IP), None, None)
    };
    let (client_prog, server_prog) = programs(close, size, to);
    let client = engine(pair.0, &world, ("client", 1, CLIENT_IP, c6), options);
    let server = engine(pair.1, &world, ("server", 2, SERVER_IP, s6), options);
    let c = world.add_engine(client, client_prog);
    let s = world.add_engine(server, server_prog);
    world.connect_with(
        c,
        s,
        "client-server",
        LinkConfig::symmetric(Time::from_millis(1), link.faults()),
    );
    world.run(Time::from_secs(200_000));
    let (outcome, nodes) = world.finish();
    let value = |node: usize, var: &str| match &nodes[node] {
        Node::Host(h) => h.program.as_program()?.vars.get(var).cloned(),
        Node::Switch(_) | Node::Router(_) => None,
    };
    let (sender, receiver) = match close {
        Close::ServerFirst => (s, c),
        _ => (c, s),
    };
    let sent = value(sender, "sent");
    let got = value(receiver, "got");
    let aborted = outcome.events.iter().any(|e| match &e.kind {
        EventKind::Note {
            note: Note::Tcp(n), ..
        } => matches!(
            n.what,
            TcpNote::Aborted { .. } | TcpNote::SmoltcpTimedOut { .. }
        ),
        _ => false,
    });
    let frames = outcome
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Frame { .. }))
        .count() as u64;
    let (Some(Value::Stream(sent_digest)), Some(Value::Stream(got_digest))) = (&sent, &got) else {
        assert!(
            aborted,
            "{case:?}: the transfer did not finish and nothing was aborted (sent {sent:?}, \
             got {got:?})"
        );
        return Outcome {
            delivered: false,
            aborted,
            both_closing: false,
            frames,
        };
    };
    assert_eq!(
        sent_digest, got_digest,
        "{case:?}: silent corruption or loss"
    );
    let closing = |host: &str| {
        outcome.events.iter().any(|e| {
            matches!(&e.kind, EventKind::TcpTransition { endpoint, to: TcpState::Closing, .. }
                if endpoint.host == host)
        })
    };
    Outcome {
        delivered: true,
        aborted,
        both_closing: closing("client") && closing("server"),
        frames,
    }
}

#[test]
fn interop_matrix_delivers_every_byte_or_aborts_clearly() {
    let pairs = [
        (EngineKind::Packetlab, EngineKind::Packetlab),
        (EngineKind::Packetlab, EngineKind::Smoltcp),
        (EngineKind::Smoltcp, EngineKind::Packetlab),
    ];
    let closes = [Close::ClientFirst, Close::ServerFirst, Close::Simultaneous];
    let sizes = [0u64, 1, 1 << 20, 16 << 20];
    let links = [
        LinkKind::Clean,
        LinkKind::Loss(0.01),
        LinkKind::Loss(0.05),
        LinkKind::Loss(0.20),
        LinkKind::Reorder,
        LinkKind::Duplicate,
        LinkKind::Corrupt,
    ];
    let (mut runs, mut delivered, mut aborted, mut frames) = (0u64, 0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    let mut cases = Vec::new();
    for &pair in &pairs {
        for &close in &closes {
            for &size in &sizes {
                for &link in &links {
                    for &options in &OPTIONS {
                        let seed = 1000 + cases.len() as u64;
                        cases.push(Case {
                            seed,
                            pair,
                            close,
                            size,
                            link,
                            options,
                            v6: false,
                        });
                    }
                }
            }
        }
    }
    for case in cases {
        let out = run_case(case);
        runs += 1;
        delivered += u64::from(out.delivered);
        aborted += u64::from(out.aborted);
        frames += out.frames;
        if matches!(case.link, LinkKind::Clean | LinkKind::Loss(_)) {
            assert!(
                out.delivered && !out.aborted,
                "{case:?}: delivered, no abort"
            );
        }
        if matches!(case.link, LinkKind::Clean)
            && case.close == Close::Simultaneous
            && case.size <= 1
        {
            assert!(
                out.both_closing,
                "{case:?}: both ends close at once, so both pass CLOSING"
            );
        }
    }
    println!(
        "interop matrix: {runs} runs, {delivered} delivered byte-exact, {aborted} aborted \
         after retransmissions, {frames} frames, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(runs >= 1000);
    assert!(
        delivered >= runs * 9 / 10,
        "{delivered} of {runs} delivered"
    );
}

#[test]
fn over_ipv6_ours_and_smoltcp_deliver_every_byte_both_ways() {
    let pairs = [
        (EngineKind::Packetlab, EngineKind::Packetlab),
        (EngineKind::Packetlab, EngineKind::Smoltcp),
        (EngineKind::Smoltcp, EngineKind::Packetlab),
    ];
    let closes = [Close::ClientFirst, Close::ServerFirst, Close::Simultaneous];
    let links = [LinkKind::Clean, LinkKind::Loss(0.05), LinkKind::Reorder];
    let mut runs = 0;
    for &pair in &pairs {
        for &close in &closes {
            for &size in &[0u64, 1 << 20] {
                for &link in &links {
                    let case = Case {
                        seed: 9000 + runs,
                        pair,
                        close,
                        size,
                        link,
                        options: (true, true),
                        v6: true,
                    };
                    let out = run_case(case);
                    runs += 1;
                    if !matches!(link, LinkKind::Reorder) {
                        assert!(
                            out.delivered && !out.aborted,
                            "{case:?}: delivered, no abort"
                        );
                    }
                    assert!(out.delivered || out.aborted, "{case:?}");
                }
            }
        }
    }
    println!("interop over IPv6: {runs} runs");
}
