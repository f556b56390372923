//! SYN cookies (RFC 4987 §3.6), as Linux uses them with tcp_syncookies = 1: only once the SYN
//! queue (bounded by the listen backlog) is full; the SYN+ACK keeps nothing, and without
//! timestamps carries only an MSS; the ACK that returns the cookie establishes the
//! connection, or is dropped while the accept queue is full; a wrong cookie is reset.

mod common;

use common::{Peer, seg};
use packetlab_stack::{Driven, SocketApi};
use trace::{EventKind, HostNote, Note, TcpState};

/// A listener with backlog 1, whose SYN queue two SYNs that are never answered fill.
fn full_queue(cookies: bool) -> (Peer, packetlab_stack::SocketId) {
    let mut peer = Peer::with(|config| {
        config.max_syn_backlog = 128;
        config.syncookies = if cookies {
            packetlab_stack::SynCookies::OnOverflow
        } else {
            packetlab_stack::SynCookies::Off
        };
    });
    // Linux bounds the SYN queue by the backlog: more than 1 half-open fills it.
    let listener = peer.host.listen(peer.now, 9000, 1).unwrap();
    for port in [50001, 50002] {
        let mut syn = seg(9000, "S", 7000, 0, b"");
        syn.src_port = port;
        peer.send(syn);
        peer.expect("S.");
    }
    (peer, listener)
}

#[test]
fn a_full_syn_queue_answers_with_a_cookie_and_keeps_nothing() {
    let (mut peer, listener) = full_queue(true);
    let before = peer.host.open_connections();
    let mut syn = seg(9000, "S", 1000, 0, b"");
    syn.window_scale = Some(7);
    syn.sack_permitted = true;
    peer.send(syn);
    let synack = peer.expect("S.");
    // Only the MSS: a cookie cannot carry window scaling, SACK or timestamps.
    assert_eq!(synack.mss, Some(1460));
    assert_eq!(synack.window_scale, None);
    assert!(!synack.sack_permitted && synack.timestamps.is_none());
    assert_eq!(synack.ack, 1001);
    assert_eq!(peer.host.open_connections(), before, "nothing kept");
    let notes: Vec<Note> = peer
        .host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Note { note, .. } => Some(note),
            _ => None,
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| matches!(n, Note::Host(HostNote::CookiesFromNowOn { port: 9000, .. }))),
        "{notes:?}"
    );
    // The ACK returns cookie + 1: the connection is rebuilt, established, and accepted.
    peer.send(seg(9000, ".", 1001, synack.seq.wrapping_add(1), b""));
    peer.expect_nothing();
    let id = peer
        .host
        .accept(peer.now, listener)
        .unwrap()
        .expect("accepted");
    assert_eq!(peer.state(id), TcpState::Established);
    // Data flows on it.
    peer.send(seg(9000, "P.", 1001, synack.seq.wrapping_add(1), b"hello"));
    assert_eq!(peer.expect(".").ack, 1006);
}

#[test]
fn an_ack_with_a_wrong_cookie_is_reset() {
    let (mut peer, listener) = full_queue(true);
    peer.send(seg(9000, "S", 1000, 0, b""));
    let synack = peer.expect("S.");
    peer.send(seg(9000, ".", 1001, synack.seq.wrapping_add(2), b""));
    peer.expect("R");
    assert_eq!(peer.host.accept(peer.now, listener).unwrap(), None);
}

#[test]
fn without_cookies_a_full_syn_queue_drops_the_syn() {
    let (mut peer, _) = full_queue(false);
    peer.send(seg(9000, "S", 1000, 0, b""));
    peer.expect_nothing();
}

#[test]
fn a_cookie_that_meets_a_full_accept_queue_is_dropped_and_comes_back_with_the_data() {
    let mut peer = Peer::with(|_| {});
    let listener = peer.host.listen(peer.now, 9000, 1).unwrap();
    // Two half-open connections fill the SYN queue (more than the backlog, 1) ...
    let mut synacks = Vec::new();
    for port in [50001, 50002] {
        let mut syn = seg(9000, "S", 7000, 0, b"");
        syn.src_port = port;
        peer.send(syn);
        synacks.push((port, peer.expect("S.").seq));
    }
    // ... so the next SYN gets a cookie.
    peer.send(seg(9000, "S", 1000, 0, b""));
    let cookie = peer.expect("S.").seq.wrapping_add(1);
    // The two handshakes complete: the accept queue holds 2, more than the backlog: full.
    for (port, seq) in synacks {
        let mut ack = seg(9000, ".", 7001, seq.wrapping_add(1), b"");
        ack.src_port = port;
        peer.send(ack);
    }
    // Linux drops the cookie's ACK while the accept queue is full: no RST, nothing kept.
    peer.send(seg(9000, ".", 1001, cookie, b""));
    peer.expect_nothing();
    // accept() makes room; the client's request brings the cookie again and is taken.
    for _ in 0..2 {
        peer.host
            .accept(peer.now, listener)
            .unwrap()
            .expect("a waiting connection");
    }
    peer.send(seg(9000, "P.", 1001, cookie, b"hello"));
    assert_eq!(peer.expect(".").ack, 1006);
    let id = peer
        .host
        .accept(peer.now, listener)
        .unwrap()
        .expect("the cookie's connection");
    assert_eq!(peer.state(id), TcpState::Established);
}
