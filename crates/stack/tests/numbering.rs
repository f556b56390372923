//! Seeded numbering repeats itself run after run (the simulator's lessons reproduce byte for
//! byte); secret numbering (the TAP mode) does not, so a rerun against a real kernel does not
//! land on its TIME-WAIT for the last run's connection (RFC 6528, RFC 6056).

mod common;

use common::{PEER, Peer};
use packetlab_stack::{Numbering, SocketApi};
use trace::Time;

/// The (source port, ISN) of the SYN a fresh host sends to the peer's port 80.
fn first_syn(numbering: Numbering) -> (u16, u32) {
    let mut peer = Peer::with(|config| config.numbering = numbering);
    peer.host
        .connect(Time(5_000_000), std::net::SocketAddr::from((PEER, 80)))
        .unwrap();
    let syn = peer.expect("S");
    (syn.src_port, syn.seq)
}

#[test]
fn seeded_numbering_is_the_same_every_run() {
    assert_eq!(first_syn(Numbering::Seeded), first_syn(Numbering::Seeded));
    let port = first_syn(Numbering::Seeded).0;
    // Linux's range, and an even port for connect() as Linux prefers.
    assert!(
        packetlab_stack::EPHEMERAL_PORTS.contains(&port) && port % 2 == 0,
        "{port}"
    );
}

#[test]
fn secret_numbering_differs_from_run_to_run() {
    let (a, b) = (first_syn(Numbering::Secret), first_syn(Numbering::Secret));
    // Two runs share an ISN once in 2^32 and a port once in 16384.
    assert_ne!(a.1, b.1);
    let ports: std::collections::BTreeSet<u16> =
        (0..8).map(|_| first_syn(Numbering::Secret).0).collect();
    assert!(ports.len() > 1, "{ports:?}");
    assert!(
        ports
            .iter()
            .all(|p| packetlab_stack::EPHEMERAL_PORTS.contains(p))
    );
}

#[test]
fn udp_ports_follow_the_numbering_too() {
    let bind = |numbering: Numbering| {
        let mut peer = Peer::with(|config| config.numbering = numbering);
        let id = peer.host.udp_bind(Time::ZERO, 0).unwrap();
        peer.host.info(id).map(|i| i.local.port())
    };
    assert_eq!(bind(Numbering::Seeded), bind(Numbering::Seeded));
    assert!(bind(Numbering::Seeded).is_some_and(|p| packetlab_stack::EPHEMERAL_PORTS.contains(&p)));
    let ports: std::collections::BTreeSet<Option<u16>> =
        (0..8).map(|_| bind(Numbering::Secret)).collect();
    assert!(ports.len() > 1, "{ports:?}");
}
