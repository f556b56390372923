//! ARP entries age as Linux's neighbour entries do (RFC 1122 §2.3.2.1, the states of RFC 4861
//! §7.3): reachable for 30 s after the owner was heard from, then stale; a stale entry in use
//! is confirmed by the owner's next frame or, after 5 s of silence, probed by unicast three
//! times a second apart and then forgotten.

mod common;

use std::net::SocketAddr;

use common::*;
use packetlab_stack::{Driven, SocketApi, SocketId};
use trace::{ArpAction, EventKind, Time};
use wire::{ArpOp, EthPayload, MacAddr};

/// A UDP socket of our host, and the peer's address to send to.
fn udp(peer: &mut Peer) -> (SocketId, SocketAddr) {
    let id = peer.host.udp_bind(peer.now, 5000).unwrap();
    (id, std::net::SocketAddr::from((PEER, 9)))
}

/// The ARP actions our host logged since the last look.
fn arp_actions(peer: &mut Peer) -> Vec<ArpAction> {
    peer.host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Arp { action, .. } => Some(action),
            _ => None,
        })
        .collect()
}

/// The frames our host sent since the last look: (Ethernet destination, an ARP request?).
fn frames(peer: &mut Peer) -> Vec<(MacAddr, bool)> {
    peer.host
        .take_frames()
        .iter()
        .map(|bytes| {
            let frame = wire::decode(bytes).unwrap();
            let request = matches!(&frame.payload, EthPayload::Arp(a) if a.op == ArpOp::Request);
            (frame.dst, request)
        })
        .collect()
}

#[test]
fn an_entry_used_within_30_s_of_hearing_from_its_owner_needs_nothing() {
    let mut peer = Peer::new();
    let (id, to) = udp(&mut peer);
    peer.advance(Time::from_secs(29));
    peer.host.sendto(peer.now, id, b"hi", to).unwrap();
    assert_eq!(frames(&mut peer), [(PEER_MAC, false)]);
    assert_eq!(arp_actions(&mut peer), []);
    assert_eq!(peer.host.poll_at(), None, "no probe is due");
}

#[test]
fn a_stale_entry_is_used_at_once_and_confirmed_by_its_owners_next_frame() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    peer.advance(Time::from_secs(31));
    peer.host.send(peer.now, id, b"still there?").unwrap();
    // The segment goes out at once, to the MAC the cache holds.
    let segment = peer.expect("P.");
    assert_eq!(arp_actions(&mut peer), [ArpAction::Stale]);
    peer.advance(Time::from_millis(20));
    peer.send(seg(segment.src_port, ".", PEER_ISS + 1, iss + 13, b""));
    assert_eq!(arp_actions(&mut peer), [ArpAction::Confirmed]);
    // Nothing is probed five seconds later.
    peer.advance(Time::from_secs(6));
    assert!(frames(&mut peer).iter().all(|&(_, request)| !request));
}

#[test]
fn a_silent_owner_is_probed_by_unicast_three_times_then_forgotten() {
    let mut peer = Peer::new();
    let (id, to) = udp(&mut peer);
    peer.advance(Time::from_secs(31));
    peer.host.sendto(peer.now, id, b"one", to).unwrap();
    assert_eq!(frames(&mut peer), [(PEER_MAC, false)]);
    assert_eq!(arp_actions(&mut peer), [ArpAction::Stale]);
    // Five seconds of silence, then three unicast probes a second apart.
    for probe in 0..3u64 {
        let due = peer.host.poll_at().unwrap();
        assert_eq!(due, Time::from_secs(36 + probe));
        peer.advance(due - peer.now);
        assert_eq!(frames(&mut peer), [(PEER_MAC, true)], "probe {probe}");
        assert_eq!(arp_actions(&mut peer), [ArpAction::ProbeSent]);
    }
    let due = peer.host.poll_at().unwrap();
    peer.advance(due - peer.now);
    assert_eq!(arp_actions(&mut peer), [ArpAction::Expired]);
    // Forgotten: the next datagram waits for a broadcast request.
    peer.host.sendto(peer.now, id, b"two", to).unwrap();
    assert_eq!(frames(&mut peer), [(MacAddr::BROADCAST, true)]);
    assert_eq!(
        arp_actions(&mut peer),
        [ArpAction::Queued, ArpAction::RequestSent]
    );
}

#[test]
fn an_answered_probe_makes_the_entry_reachable_again() {
    let mut peer = Peer::new();
    let (id, to) = udp(&mut peer);
    peer.advance(Time::from_secs(31));
    peer.host.sendto(peer.now, id, b"one", to).unwrap();
    peer.host.take_frames();
    peer.advance(Time::from_secs(5));
    // `sent` answers the probe, as the peer's card does.
    assert!(peer.sent().is_empty());
    let actions = arp_actions(&mut peer);
    assert_eq!(
        actions,
        [ArpAction::Stale, ArpAction::ProbeSent, ArpAction::Updated]
    );
    assert_eq!(
        peer.host.poll_at(),
        None,
        "reachable again: nothing more is due"
    );
}
