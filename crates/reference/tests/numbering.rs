//! smoltcp as our host's engine numbers its connections as ours does: the same every run on
//! the simulator, unguessable on a real network (its ISNs from a secret seed, ports by RFC
//! 6056's Algorithm 3), so `packetlab tap --engine smoltcp` rerun against the kernel does
//! not land on the last run's TIME-WAIT.

use std::net::Ipv4Addr;

use packetlab_reference::SmolHost;
use stack::{Driven, HostConfig, Numbering, SocketApi};
use trace::Time;
use wire::{EthPayload, Ipv4Packet, Ipv4Payload, MacAddr};

const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// The (source port, ISN) of the first SYN a fresh smoltcp host sends to the peer's port 80
/// (the peer's address already in its ARP cache, from the peer's ARP request).
fn first_syn(numbering: Numbering) -> (u16, u32) {
    let mut config = HostConfig::new(
        "us",
        MacAddr([2, 0, 0, 0, 0, 1]),
        Ipv4Addr::new(10, 0, 0, 1),
        24,
    );
    config.numbering = numbering;
    let mut host = SmolHost::new(config);
    host.connect(Time(5_000_000), std::net::SocketAddr::from((PEER, 80)))
        .unwrap();
    let mut now = Time(5_000_000);
    for _ in 0..50 {
        for bytes in host.take_frames() {
            let Ok(frame) = wire::decode(&bytes) else {
                continue;
            };
            match frame.payload {
                EthPayload::Ipv4(Ipv4Packet {
                    payload: Ipv4Payload::Tcp(seg),
                    ..
                }) if seg.flags.syn => return (seg.src_port, seg.seq),
                EthPayload::Arp(arp) => host.receive(now, &answer(&arp), 1),
                _ => {}
            }
        }
        now = now + Time::from_millis(10);
        host.poll_timers(now);
    }
    panic!("smoltcp sent no SYN");
}

/// The peer's reply to an ARP request.
fn answer(request: &wire::Arp) -> Vec<u8> {
    let peer_mac = MacAddr([2, 0, 0, 0, 0, 2]);
    wire::Frame {
        src: peer_mac,
        dst: request.sender_mac,
        payload: EthPayload::Arp(wire::Arp {
            op: wire::ArpOp::Reply,
            sender_mac: peer_mac,
            sender_ip: PEER,
            target_mac: request.sender_mac,
            target_ip: request.sender_ip,
        }),
    }
    .encode()
}

#[test]
fn seeded_smoltcp_numbers_the_same_every_run() {
    assert_eq!(first_syn(Numbering::Seeded), first_syn(Numbering::Seeded));
    let port = first_syn(Numbering::Seeded).0;
    assert!(
        stack::EPHEMERAL_PORTS.contains(&port) && port % 2 == 0,
        "{port}"
    );
}

#[test]
fn secret_smoltcp_numbers_differently_every_run() {
    let runs: Vec<(u16, u32)> = (0..8).map(|_| first_syn(Numbering::Secret)).collect();
    let isns: std::collections::BTreeSet<u32> = runs.iter().map(|r| r.1).collect();
    let ports: std::collections::BTreeSet<u16> = runs.iter().map(|r| r.0).collect();
    // Eight runs share an ISN once in 2^29, and all eight one port once in 2^98.
    assert_eq!(isns.len(), 8, "{runs:?}");
    assert!(ports.len() > 1, "{runs:?}");
    assert!(ports.iter().all(|p| stack::EPHEMERAL_PORTS.contains(p)));
}
