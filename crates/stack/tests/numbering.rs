//! Seeded numbering repeats itself run after run (the simulator's lessons reproduce byte for
//! byte); secret numbering (the TAP mode) does not, so a rerun against a real kernel does not
//! land on its TIME-WAIT for the last run's connection (RFC 6528, RFC 6056).

mod common;

use std::net::SocketAddrV4;

use common::{PEER, PEER_MAC, US, US_MAC};
use packetlab_stack::{Engine, Host, HostConfig, Numbering};
use trace::Time;
use wire::{Arp, ArpOp, EthPayload, Frame, Ipv4Packet, Ipv4Payload, MacAddr};

/// The (source port, ISN) of the SYN a fresh host sends to the peer's port 80.
fn first_syn(numbering: Numbering) -> (u16, u32) {
    let mut config = HostConfig::new("us", US_MAC, US, 24);
    config.seed = 42;
    config.numbering = numbering;
    let mut host = Host::new(config);
    // The peer's ARP request teaches our host its MAC, so the SYN leaves at once.
    let arp = Frame {
        src: PEER_MAC,
        dst: MacAddr::BROADCAST,
        payload: EthPayload::Arp(Arp {
            op: ArpOp::Request,
            sender_mac: PEER_MAC,
            sender_ip: PEER,
            target_mac: MacAddr::ZERO,
            target_ip: US,
        }),
    };
    host.receive(Time::ZERO, &arp.encode(), 1);
    host.connect(Time(5_000_000), SocketAddrV4::new(PEER, 80))
        .unwrap();
    host.take_frames()
        .iter()
        .find_map(|bytes| match wire::decode(bytes).ok()?.payload {
            EthPayload::Ipv4(Ipv4Packet {
                payload: Ipv4Payload::Tcp(seg),
                ..
            }) if seg.flags.syn => Some((seg.src_port, seg.seq)),
            _ => None,
        })
        .expect("a SYN")
}

#[test]
fn seeded_numbering_is_the_same_every_run() {
    assert_eq!(first_syn(Numbering::Seeded), first_syn(Numbering::Seeded));
    assert_eq!(first_syn(Numbering::Seeded).0, 49152);
}

#[test]
fn secret_numbering_differs_from_run_to_run() {
    let (a, b) = (first_syn(Numbering::Secret), first_syn(Numbering::Secret));
    // Two runs share an ISN once in 2^32 and a port once in 16384.
    assert_ne!(a.1, b.1);
    let ports: std::collections::BTreeSet<u16> =
        (0..8).map(|_| first_syn(Numbering::Secret).0).collect();
    assert!(ports.len() > 1, "{ports:?}");
    assert!(ports.iter().all(|&p| p >= 49152));
}
