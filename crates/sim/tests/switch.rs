//! A learning switch floods what it does not know, learns source addresses, and then
//! forwards to one port only; each decision is in the trace.

use std::net::Ipv4Addr;

use packetlab_sim::World;
use program::{Line, Stmt};
use stack::HostConfig;
use trace::{EventKind, SwitchAction, Time};
use wire::MacAddr;

fn host(name: &str, n: u8) -> HostConfig {
    HostConfig::new(
        name,
        MacAddr([2, 0, 0, 0, 0, n]),
        Ipv4Addr::new(10, 0, 0, n),
        24,
    )
}

fn line(stmt: Stmt) -> Line {
    Line {
        text: format!("{stmt:?}"),
        stmt,
    }
}

/// Three hosts on one switch; `a` connects to `b`, `c` only listens.
fn world(seed: u64) -> World {
    let mut world = World::new(seed);
    let a = world.add_host(
        host("a", 1),
        vec![
            line(Stmt::Sleep(Time::from_millis(5))),
            line(Stmt::Connect {
                var: "c".into(),
                addr: std::net::SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 80)),
            }),
            line(Stmt::Send {
                conn: "c".into(),
                data: b"hi".to_vec(),
            }),
        ],
    );
    let b = world.add_host(
        host("b", 2),
        vec![
            line(Stmt::Listen {
                var: "l".into(),
                port: 80,
                backlog: 5,
            }),
            line(Stmt::Accept {
                var: "s".into(),
                listener: "l".into(),
            }),
            line(Stmt::Recv {
                var: Some("got".into()),
                conn: "s".into(),
                max: 1024,
            }),
        ],
    );
    let c = world.add_host(host("c", 3), Vec::new());
    let sw = world.add_switch("sw", packetlab_sim::DEFAULT_AGING);
    for (node, name) in [(a, "a-sw"), (b, "b-sw"), (c, "c-sw")] {
        world.connect(node, sw, name, Time::from_millis(1));
    }
    world
}

#[test]
fn floods_then_learns_then_forwards_to_one_port() {
    let mut world = world(1);
    world.run(Time::from_secs(1));
    let (outcome, _) = world.finish();
    let decisions: Vec<(SwitchAction, String, Vec<String>)> = outcome
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Switch {
                action, mac, ports, ..
            } => Some((*action, mac.to_string(), ports.clone())),
            _ => None,
        })
        .collect();
    // The ARP request is a broadcast: a is learned, the frame goes to b and c.
    assert_eq!(
        decisions[0],
        (
            SwitchAction::Learned,
            "02:00:00:00:00:01".into(),
            vec!["a".into()]
        )
    );
    assert_eq!(
        decisions[1],
        (
            SwitchAction::Flooded,
            "ff:ff:ff:ff:ff:ff".into(),
            vec!["b".into(), "c".into()]
        )
    );
    // b's unicast reply: b is learned, a is known, so only a's port gets it.
    assert_eq!(
        decisions[2],
        (
            SwitchAction::Learned,
            "02:00:00:00:00:02".into(),
            vec!["b".into()]
        )
    );
    assert_eq!(
        decisions[3],
        (
            SwitchAction::Forwarded,
            "02:00:00:00:00:01".into(),
            vec!["a".into()]
        )
    );
    assert!(
        decisions[2..].iter().all(|d| d.0 != SwitchAction::Flooded),
        "nothing is flooded once both are learned: {decisions:?}"
    );
    // c saw the broadcast and nothing after it.
    let frames_to_c = outcome
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Frame { link, from, .. } if &**link == "c-sw" && &**from == "sw"))
        .count();
    assert_eq!(frames_to_c, 1);
    // Every frame crossed two links: a's side and b's side.
    let on_a = outcome.records.iter().filter(|r| r.interface == 0).count();
    let on_b = outcome.records.iter().filter(|r| r.interface == 1).count();
    assert_eq!(on_a, on_b);
    assert_eq!(outcome.interfaces[2].name, "c-sw");
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let run = |seed| {
        let mut world = world(seed);
        world.run(Time::from_secs(1));
        world.finish().0
    };
    let (x, y, z) = (run(5), run(5), run(6));
    assert_eq!(x.events, y.events);
    assert_eq!(x.records, y.records);
    assert_ne!(x.records, z.records, "the ISNs come from the seed");
}
