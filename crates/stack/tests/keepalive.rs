//! Keep-alive (RFC 1122 §4.2.3.6) as packet transcripts: an idle connection with
//! SO_KEEPALIVE gets Linux's probe (no data, SEQ = SND.UNA − 1) after TCP_KEEPIDLE; a peer
//! that answers keeps it alive; one that does not, after TCP_KEEPCNT probes TCP_KEEPINTVL
//! apart, gets a RST, and the connection ends with ETIMEDOUT.

mod common;

use common::*;
use packetlab_stack::{Driven, SocketApi, SocketError, SocketOption};
use trace::{EventKind, Rule, TcpState, Time};

const S: u64 = 1_000_000_000;

/// An established client with keep-alive on: 10 s idle, probes 2 s apart, 3 of them.
fn keepalive_client() -> (Peer, packetlab_stack::SocketId, u32) {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    for option in [
        SocketOption::KeepAlive(true),
        SocketOption::KeepIdle(Time(10 * S)),
        SocketOption::KeepInterval(Time(2 * S)),
        SocketOption::KeepCount(3),
    ] {
        peer.host.set_option(peer.now, id, option).unwrap();
    }
    (peer, id, iss)
}

#[test]
fn an_idle_connection_is_probed_and_an_answer_keeps_it() {
    let (mut peer, id, iss) = keepalive_client();
    let port = peer.our_port(id);
    peer.advance(Time(10 * S - 1));
    peer.expect_nothing();
    peer.advance(Time(1));
    let probe = peer.expect(".");
    assert_eq!(probe.seq, iss, "SND.UNA − 1: an octet the peer already has");
    assert!(probe.payload.is_empty());
    // The peer answers with an ACK: the connection is alive, the next probe is an idle
    // time away again.
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 1, b""));
    peer.advance(Time(2 * S));
    peer.expect_nothing();
    peer.advance(Time(8 * S));
    peer.expect(".");
    assert_eq!(peer.state(id), TcpState::Established);
}

#[test]
fn unanswered_probes_end_the_connection_with_rst_and_etimedout() {
    let (mut peer, id, _) = keepalive_client();
    peer.advance(Time(10 * S));
    peer.expect(".");
    for _ in 0..2 {
        peer.advance(Time(2 * S));
        peer.expect(".");
    }
    peer.advance(Time(2 * S));
    peer.expect("R.");
    assert_eq!(peer.state(id), TcpState::Closed);
    assert_eq!(peer.host.recv(peer.now, id, 10), Err(SocketError::TimedOut));
    let rules: Vec<Rule> = peer
        .host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::TcpTransition { rule, .. } => Some(rule),
            _ => None,
        })
        .collect();
    assert!(rules.contains(&Rule::KeepaliveExceeded), "{rules:?}");
}

#[test]
fn without_keepalive_an_idle_connection_stays_silent() {
    let mut peer = Peer::new();
    let (id, _) = peer.established_client();
    peer.advance(Time(3 * 3600 * S));
    peer.expect_nothing();
    assert_eq!(peer.state(id), TcpState::Established);
}
