//! Link faults are trace events and capture comments, and the receiver's checksum catches
//! the corruption a link causes.

use std::net::Ipv4Addr;

use link::{Faults, LinkConfig};
use packetlab_sim::World;
use program::{Line, Stmt};
use stack::HostConfig;
use trace::{DropReason, EventKind, Fault, Time};
use wire::MacAddr;

fn host(name: &str, n: u8) -> HostConfig {
    HostConfig::new(
        name,
        MacAddr([2, 0, 0, 0, 0, n]),
        Ipv4Addr::new(10, 0, 0, n),
        24,
    )
}

/// A client that connects and sends, a server that reads, over one faulty cable.
fn run(faults: [Faults; 2]) -> packetlab_sim::Outcome {
    let mut world = World::new(5);
    let client = world.add_host(
        host("client", 1),
        vec![
            Line::from(Stmt::Connect {
                var: "c".into(),
                addr: std::net::SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 80)),
            }),
            Line::from(Stmt::Send {
                conn: "c".into(),
                data: b"over a faulty link".to_vec(),
            }),
        ],
    );
    let server = world.add_host(
        host("server", 2),
        vec![
            Line::from(Stmt::Listen {
                var: "l".into(),
                port: 80,
                backlog: 5,
            }),
            Line::from(Stmt::Accept {
                var: "s".into(),
                listener: "l".into(),
            }),
            Line::from(Stmt::Recv {
                var: Some("got".into()),
                conn: "s".into(),
                max: 1024,
            }),
        ],
    );
    let config = LinkConfig {
        delay: Time::from_millis(1),
        faults,
    };
    world.connect_with(client, server, "client-server", config);
    world.run(Time::from_secs(30));
    world.finish().0
}

#[test]
fn a_dropped_frame_is_an_event_and_a_comment_and_tcp_recovers() {
    let drop_syn = Faults {
        drop_nth: vec![2], // ARP request, then the SYN
        ..Faults::default()
    };
    let outcome = run([drop_syn, Faults::default()]);
    let faults: Vec<(u64, Fault)> = outcome
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LinkFault { frame, fault, .. } => Some((*frame, *fault)),
            _ => None,
        })
        .collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let (frame, fault) = &faults[0];
    assert_eq!(*fault, Fault::DroppedOnPurpose { nth: 2 });
    let record = &outcome.records[(*frame - 1) as usize];
    assert!(
        record
            .comments
            .iter()
            .any(|c| c.contains("dropped on purpose")),
        "{:?}",
        record.comments
    );
    let delivered = outcome.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Return { call, result, .. }
            if call.contains("recv s") && result == "b'over a faulty link'")
    });
    assert!(delivered, "the SYN was retransmitted and the data arrived");
}

#[test]
fn corruption_is_caught_by_the_receivers_checksum() {
    let corrupt_all = Faults {
        corrupt: 1.0,
        ..Faults::default()
    };
    let outcome = run([corrupt_all, Faults::default()]);
    let corrupted = outcome
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::LinkFault { fault, .. } if matches!(fault, Fault::Corrupted { .. })))
        .count();
    let caught = outcome
        .events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::Drop { node, reason, .. }
                if node == "server" && matches!(reason, DropReason::BadIpv4HeaderChecksum
                    | DropReason::BadTcpChecksum | DropReason::BadUdpChecksum
                    | DropReason::NotForMe { .. } | DropReason::NotMyMac { .. }
                    | DropReason::NotJoined { .. } | DropReason::Undecodable { .. }
                    | DropReason::UnknownEtherType { .. }))
        })
        .count();
    assert!(corrupted > 0);
    // Every corrupted frame is rejected by some check; ARP has no checksum, so a flipped
    // bit there may still be taken, but no TCP segment with a flipped bit ever is.
    let accepted_transitions = outcome.events.iter().any(|e| {
        matches!(&e.kind, EventKind::TcpTransition { endpoint, to: trace::TcpState::SynReceived, .. }
            if endpoint.host == "server")
    });
    assert!(
        !accepted_transitions,
        "no corrupted SYN may open a connection"
    );
    assert!(caught > 0, "{caught} of {corrupted} caught");
}
