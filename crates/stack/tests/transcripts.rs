//! TCP per state, written as packet transcripts: the test plays the peer, crafting each
//! segment by hand (`peer.send`) and checking each segment our host answers (`peer.expect`).

mod common;

use common::*;
use packetlab_stack::{Driven, SocketApi, SocketError};
use trace::{DropReason, EventKind, TcpState, Time};

use TcpState::*;

// ------------------------------------------------------------------ CLOSED

#[test]
fn closed_port_answers_syn_with_rst_ack() {
    let mut peer = Peer::new();
    peer.send(seg(8080, "S", 5000, 0, b""));
    let rst = peer.expect("R.");
    assert_eq!(rst.seq, 0);
    assert_eq!(rst.ack, 5001, "SEG.SEQ + SEG.LEN, the SYN counting one");
}

#[test]
fn closed_port_answers_ack_with_rst_at_its_ack() {
    let mut peer = Peer::new();
    peer.send(seg(8080, ".", 5000, 777, b"x"));
    let rst = peer.expect("R");
    assert_eq!(rst.seq, 777);
}

#[test]
fn closed_port_ignores_rst() {
    let mut peer = Peer::new();
    peer.send(seg(8080, "R", 5000, 0, b""));
    peer.expect_nothing();
}

// ------------------------------------------------------------------ SYN-SENT

#[test]
fn active_open_reaches_established_and_announces_mss() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    assert_eq!(peer.transitions(), [(Closed, SynSent)]);
    assert_eq!(peer.host.connect_status(id), None);
    let syn = peer.expect("S");
    assert_eq!(syn.mss, Some(1460));
    // Linux's range, and an even port for connect() (RFC 6056 §2.1 leaves the range open).
    assert!(packetlab_stack::EPHEMERAL_PORTS.contains(&syn.src_port) && syn.src_port % 2 == 0);
    let port = syn.src_port;
    peer.send(seg(port, "S.", PEER_ISS, syn.seq + 1, b""));
    let ack = peer.expect(".");
    assert_eq!((ack.seq, ack.ack), (syn.seq + 1, PEER_ISS + 1));
    assert_eq!(peer.transitions(), [(SynSent, Established)]);
    assert_eq!(peer.host.connect_status(id), Some(Ok(())));
}

#[test]
fn syn_sent_rst_with_acceptable_ack_is_connection_refused() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    let syn = peer.expect("S");
    peer.transitions();
    // A RST whose ACK does not acknowledge our SYN is not for us.
    peer.send(seg(syn.src_port, "R.", 0, syn.seq + 7, b""));
    assert_eq!(peer.state(id), SynSent);
    peer.send(seg(syn.src_port, "R.", 0, syn.seq + 1, b""));
    assert_eq!(peer.transitions(), [(SynSent, Closed)]);
    assert_eq!(
        peer.host.connect_status(id),
        Some(Err(SocketError::ConnectionRefused))
    );
}

#[test]
fn syn_sent_bad_ack_gets_rst() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    let syn = peer.expect("S");
    peer.send(seg(syn.src_port, "S.", PEER_ISS, syn.seq + 100, b""));
    let rst = peer.expect("R");
    assert_eq!(rst.seq, syn.seq + 100);
    assert_eq!(peer.state(id), SynSent);
}

#[test]
fn syn_is_retransmitted_six_times_with_exponential_backoff_then_aborted() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    let first = peer.expect("S");
    peer.transitions();
    let mut gap = Time::from_secs(1);
    for _ in 0..6 {
        peer.advance(gap - Time(1));
        peer.expect_nothing();
        peer.advance(Time(1));
        assert_eq!(peer.expect("S").seq, first.seq, "same ISS on every try");
        // RFC 6298 §2.5: the RTO may be capped, at no less than 60 s.
        gap = Time((gap.0 * 2).min(Time::from_secs(60).0));
    }
    peer.advance(gap);
    peer.expect_nothing();
    assert_eq!(peer.transitions(), [(SynSent, Closed)]);
    assert_eq!(
        peer.host.connect_status(id),
        Some(Err(SocketError::TimedOut))
    );
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    let syn = peer.expect("S");
    peer.transitions();
    peer.send(seg(syn.src_port, "S", PEER_ISS, 0, b""));
    let synack = peer.expect("S.");
    assert_eq!((synack.seq, synack.ack), (syn.seq, PEER_ISS + 1));
    assert_eq!(peer.transitions(), [(SynSent, SynReceived)]);
    peer.send(seg(syn.src_port, ".", PEER_ISS + 1, syn.seq + 1, b""));
    assert_eq!(peer.transitions(), [(SynReceived, Established)]);
    assert_eq!(peer.state(id), Established);
}

// ------------------------------------------------------------------ LISTEN / SYN-RECEIVED

#[test]
fn passive_open_through_listener_and_accept() {
    let mut peer = Peer::new();
    let listener = peer.host.listen(peer.now, 9000, 5).unwrap();
    assert_eq!(peer.transitions(), [(Closed, Listen)]);
    assert_eq!(peer.host.accept(peer.now, listener), Ok(None));
    peer.send(seg(9000, "S", PEER_ISS, 0, b""));
    let synack = peer.expect("S.");
    assert_eq!(synack.ack, PEER_ISS + 1);
    assert_eq!(synack.mss, Some(1460));
    assert_eq!(peer.transitions(), [(Listen, SynReceived)]);
    assert_eq!(
        peer.host.accept(peer.now, listener),
        Ok(None),
        "not yet established"
    );
    peer.send(seg(9000, ".", PEER_ISS + 1, synack.seq + 1, b""));
    assert_eq!(peer.transitions(), [(SynReceived, Established)]);
    let conn = peer.host.accept(peer.now, listener).unwrap().unwrap();
    assert_eq!(peer.state(conn), Established);
    assert_eq!(peer.state(listener), Listen);
}

#[test]
fn ack_in_listen_gets_rst() {
    let mut peer = Peer::new();
    peer.host.listen(peer.now, 9000, 5).unwrap();
    peer.send(seg(9000, ".", PEER_ISS, 4242, b""));
    assert_eq!(peer.expect("R").seq, 4242);
}

#[test]
fn rst_in_syn_received_returns_the_connection_to_listen() {
    let mut peer = Peer::new();
    let listener = peer.host.listen(peer.now, 9000, 5).unwrap();
    peer.send(seg(9000, "S", PEER_ISS, 0, b""));
    peer.expect("S.");
    peer.transitions();
    peer.send(seg(9000, "R", PEER_ISS + 1, 0, b""));
    // RFC 9293 §3.10.7.4: "return this connection to LISTEN state"; the half-open TCB goes.
    assert_eq!(peer.transitions(), [(SynReceived, Listen)]);
    assert_eq!(peer.host.accept(peer.now, listener), Ok(None));
    assert_eq!(peer.state(listener), Listen);
}

#[test]
fn syn_received_retransmits_syn_ack() {
    let mut peer = Peer::new();
    peer.host.listen(peer.now, 9000, 5).unwrap();
    peer.send(seg(9000, "S", PEER_ISS, 0, b""));
    let first = peer.expect("S.");
    peer.advance(Time::from_secs(1));
    let again = peer.expect("S.");
    assert_eq!((again.seq, again.ack), (first.seq, first.ack));
}

#[test]
fn a_full_accept_queue_drops_syns_like_linux() {
    let mut peer = Peer::new();
    let listener = peer.host.listen(peer.now, 9000, 1).unwrap();
    // Linux accepts backlog + 1 connections into the accept queue before dropping SYNs.
    for i in 0..2u32 {
        let mut syn = seg(9000, "S", PEER_ISS, 0, b"");
        syn.src_port = PEER_PORT + i as u16;
        peer.send(syn);
        let synack = peer.expect("S.");
        let mut ack = seg(9000, ".", PEER_ISS + 1, synack.seq + 1, b"");
        ack.src_port = PEER_PORT + i as u16;
        peer.send(ack);
    }
    let mut third = seg(9000, "S", PEER_ISS, 0, b"");
    third.src_port = PEER_PORT + 2;
    peer.send(third);
    peer.expect_nothing();
    let dropped = peer.host.take_events().into_iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Drop {
                reason: DropReason::ListenQueueFull { .. },
                ..
            }
        )
    });
    assert!(dropped);
    assert!(peer.host.accept(peer.now, listener).unwrap().is_some());
    assert!(peer.host.accept(peer.now, listener).unwrap().is_some());
    assert_eq!(peer.host.accept(peer.now, listener), Ok(None));
}

// ------------------------------------------------------------------ ESTABLISHED

#[test]
fn data_flows_both_ways_and_is_acknowledged() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"hello"));
    let ack = peer.expect(".");
    assert_eq!(ack.ack, PEER_ISS + 6);
    assert_eq!(
        peer.host.recv(peer.now, id, 1024),
        Ok(Some(b"hello".to_vec()))
    );
    assert_eq!(
        peer.host.recv(peer.now, id, 1024),
        Ok(None),
        "nothing more yet"
    );
    peer.host.send(peer.now, id, b"world").unwrap();
    let data = peer.expect("P.");
    assert_eq!(
        (data.seq, data.payload.as_slice()),
        (iss + 1, &b"world"[..])
    );
    peer.send(seg(port, ".", PEER_ISS + 6, iss + 6, b""));
    peer.expect_nothing();
}

#[test]
fn the_peers_mss_limits_our_segments() {
    let mut peer = Peer::new();
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    let syn = peer.expect("S");
    let mut synack = seg(syn.src_port, "S.", PEER_ISS, syn.seq + 1, b"");
    synack.mss = Some(100);
    peer.send(synack);
    peer.expect(".");
    peer.host.send(peer.now, id, &[7u8; 250]).unwrap();
    let lens: Vec<usize> = peer.sent().iter().map(|s| s.payload.len()).collect();
    // Nagle holds the small tail while full segments are unacknowledged.
    assert_eq!(lens, [100, 100]);
    let port = peer.our_port(id);
    peer.send(seg(port, ".", PEER_ISS + 1, syn.seq + 201, b""));
    assert_eq!(peer.expect("P.").payload.len(), 50);
}

#[test]
fn duplicate_data_is_not_delivered_twice() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"abc"));
    peer.expect(".");
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"abcdef"));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 7);
    assert_eq!(
        peer.host.recv(peer.now, id, 100),
        Ok(Some(b"abcdef".to_vec()))
    );
}

#[test]
fn exact_rst_resets_and_inexact_rst_gets_a_challenge_ack() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "R", PEER_ISS + 100, 0, b""));
    let challenge = peer.expect(".");
    assert_eq!(challenge.ack, PEER_ISS + 1);
    assert_eq!(peer.state(id), Established);
    peer.send(seg(port, "R", PEER_ISS + 1, 0, b""));
    assert_eq!(peer.transitions(), [(Established, Closed)]);
    assert_eq!(
        peer.host.recv(peer.now, id, 10),
        Err(SocketError::ConnectionReset)
    );
    assert_eq!(
        peer.host.send(peer.now, id, b"x"),
        Err(SocketError::ConnectionReset)
    );
    let _ = iss;
}

#[test]
fn syn_in_established_gets_a_challenge_ack() {
    let mut peer = Peer::new();
    let (id, _) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "S", PEER_ISS + 1, 0, b""));
    peer.expect(".");
    assert_eq!(peer.state(id), Established);
}

#[test]
fn data_retransmitted_after_rto() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    peer.host.send(peer.now, id, b"lost").unwrap();
    peer.expect("P.");
    peer.advance(Time::from_secs(1));
    let again = peer.expect("P.");
    assert_eq!(
        (again.seq, again.payload.as_slice()),
        (iss + 1, &b"lost"[..])
    );
}

// ------------------------------------------------------------------ closing

#[test]
fn active_close_through_fin_wait_and_time_wait() {
    let mut peer = Peer::with(|c| c.msl = Time::from_secs(1));
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.close(peer.now, id).unwrap();
    let fin = peer.expect("F.");
    assert_eq!(fin.seq, iss + 1);
    assert_eq!(peer.transitions(), [(Established, FinWait1)]);
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 2, b""));
    assert_eq!(peer.transitions(), [(FinWait1, FinWait2)]);
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 2, b""));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 2);
    assert_eq!(peer.transitions(), [(FinWait2, TimeWait)]);
    peer.advance(Time::from_millis(1999));
    assert_eq!(peer.transitions(), []);
    peer.advance(Time::from_millis(1));
    assert_eq!(peer.transitions(), [(TimeWait, Closed)]);
}

#[test]
fn fin_wait_1_with_fin_and_ack_together_passes_fin_wait_2() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.close(peer.now, id).unwrap();
    peer.expect("F.");
    peer.transitions();
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 2, b""));
    peer.expect(".");
    assert_eq!(
        peer.transitions(),
        [(FinWait1, FinWait2), (FinWait2, TimeWait)]
    );
}

#[test]
fn passive_close_through_close_wait_and_last_ack() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 1, b""));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 2);
    assert_eq!(peer.transitions(), [(Established, CloseWait)]);
    assert_eq!(
        peer.host.recv(peer.now, id, 10),
        Ok(Some(Vec::new())),
        "end of stream"
    );
    peer.host.send(peer.now, id, b"bye").unwrap();
    peer.expect("P.");
    peer.host.close(peer.now, id).unwrap();
    let fin = peer.expect("F.");
    assert_eq!(fin.seq, iss + 4);
    assert_eq!(peer.transitions(), [(CloseWait, LastAck)]);
    peer.send(seg(port, ".", PEER_ISS + 2, iss + 5, b""));
    assert_eq!(peer.transitions(), [(LastAck, Closed)]);
}

#[test]
fn simultaneous_close_passes_closing() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.close(peer.now, id).unwrap();
    peer.expect("F.");
    peer.transitions();
    // The peer's FIN crossed ours: it does not acknowledge our FIN.
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 1, b""));
    peer.expect(".");
    assert_eq!(peer.transitions(), [(FinWait1, Closing)]);
    peer.send(seg(port, ".", PEER_ISS + 2, iss + 2, b""));
    assert_eq!(peer.transitions(), [(Closing, TimeWait)]);
}

#[test]
fn half_close_keeps_receiving_in_fin_wait_2() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.send(peer.now, id, b"request").unwrap();
    peer.expect("P.");
    peer.host.shutdown_write(peer.now, id).unwrap();
    peer.expect("F.");
    assert_eq!(
        peer.host.send(peer.now, id, b"more"),
        Err(SocketError::BrokenPipe)
    );
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 9, b""));
    assert_eq!(
        peer.transitions(),
        [(Established, FinWait1), (FinWait1, FinWait2)]
    );
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 9, b"answer"));
    peer.expect(".");
    assert_eq!(
        peer.host.recv(peer.now, id, 100),
        Ok(Some(b"answer".to_vec()))
    );
    peer.send(seg(port, "F.", PEER_ISS + 7, iss + 9, b""));
    peer.expect(".");
    assert_eq!(peer.transitions(), [(FinWait2, TimeWait)]);
    assert_eq!(peer.host.recv(peer.now, id, 100), Ok(Some(Vec::new())));
}

#[test]
fn time_wait_acks_a_retransmitted_fin_and_restarts_2msl() {
    let mut peer = Peer::with(|c| c.msl = Time::from_secs(1));
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.close(peer.now, id).unwrap();
    peer.expect("F.");
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 2, b""));
    peer.expect(".");
    peer.transitions();
    peer.advance(Time::from_millis(1500));
    // Our last ACK was "lost": the peer sends its FIN again.
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 2, b""));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 2);
    peer.advance(Time::from_millis(1999));
    assert_eq!(peer.transitions(), [], "the 2×MSL timer restarted at 1.5 s");
    peer.advance(Time::from_millis(1));
    assert_eq!(peer.transitions(), [(TimeWait, Closed)]);
}

#[test]
fn rst_closes_every_closing_state() {
    // CLOSE-WAIT
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 1, b""));
    peer.expect(".");
    peer.transitions();
    peer.send(seg(port, "R", PEER_ISS + 2, 0, b""));
    assert_eq!(peer.transitions(), [(CloseWait, Closed)]);

    // FIN-WAIT-2
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.shutdown_write(peer.now, id).unwrap();
    peer.expect("F.");
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 2, b""));
    peer.transitions();
    peer.send(seg(port, "R", PEER_ISS + 1, 0, b""));
    assert_eq!(peer.transitions(), [(FinWait2, Closed)]);

    // LAST-ACK
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 1, b""));
    peer.expect(".");
    peer.host.close(peer.now, id).unwrap();
    peer.expect("F.");
    peer.transitions();
    peer.send(seg(port, "R", PEER_ISS + 2, 0, b""));
    assert_eq!(peer.transitions(), [(LastAck, Closed)]);

    // TIME-WAIT
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.close(peer.now, id).unwrap();
    peer.expect("F.");
    peer.send(seg(port, "F.", PEER_ISS + 1, iss + 2, b""));
    peer.expect(".");
    peer.transitions();
    peer.send(seg(port, "R", PEER_ISS + 2, 0, b""));
    assert_eq!(peer.transitions(), [(TimeWait, Closed)]);
}

#[test]
fn close_with_unread_data_sends_rst_instead_of_fin() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"unread"));
    peer.expect(".");
    peer.transitions();
    peer.host.close(peer.now, id).unwrap();
    // RST with the ACK of what arrived, as Linux sends it.
    let rst = peer.expect("R.");
    assert_eq!((rst.seq, rst.ack), (iss + 1, PEER_ISS + 7));
    assert_eq!(peer.transitions(), [(Established, Closed)]);
}

#[test]
fn abort_sends_rst() {
    let mut peer = Peer::new();
    let (id, _) = peer.established_client();
    peer.host.abort(peer.now, id).unwrap();
    peer.expect("R.");
    assert_eq!(peer.transitions(), [(Established, Closed)]);
}

// ------------------------------------------------------------------ determinism

#[test]
fn initial_sequence_numbers_come_from_the_seed() {
    let iss = |seed: u64| {
        let mut peer = Peer::with(|c| c.seed = seed);
        peer.host
            .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
            .unwrap();
        peer.expect("S").seq
    };
    assert_eq!(iss(1), iss(1));
    assert_ne!(iss(1), iss(2));
}
