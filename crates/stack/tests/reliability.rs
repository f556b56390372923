//! Transcripts of what keeps TCP alive on a real network: retransmission timing (RFC 6298)
//! and Karn's rule, zero-window probes, fast retransmit (RFC 5681), reassembly, window
//! scaling (RFC 7323), Nagle and delayed ACKs.

mod common;

use common::*;
use packetlab_stack::{Driven, SocketApi, SocketError, SocketOption};
use trace::{CwndReason, EventKind, Note, TcpNote, Time};
use wire::TcpSegment;

const MS: u64 = 1_000_000;

/// A segment from the peer with a chosen window.
fn with_window(mut segment: TcpSegment, window: u16) -> TcpSegment {
    segment.window = window;
    segment
}

/// The reasons of every congestion event since the last look, with cwnd and ssthresh.
fn congestion(peer: &mut Peer) -> Vec<(u32, u32, String)> {
    peer.host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Congestion {
                cwnd,
                ssthresh,
                reason,
                ..
            } => Some((cwnd, ssthresh, reason.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn rto_doubles_after_each_timeout_and_the_connection_aborts_after_fifteen() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    peer.host.send(peer.now, id, b"are you there?").unwrap();
    let first = peer.expect("P.");
    assert_eq!(first.seq, iss + 1);
    // RFC 6298: RTO starts at 1 s (the handshake's RTT of 0 rounds up to the 1 s minimum),
    // doubles on each timeout (§5.5), and stops growing at 60 s (§2.5).
    let mut expected_at = 0;
    let rtos = [1, 2, 4, 8, 16, 32].into_iter().chain([60; 9]);
    // The peer's card still answers ARP: the stale entry's probes (RFC 4861 §7.3.3) come
    // between the timeouts and are answered; only the segments are counted.
    for (try_number, rto) in rtos.enumerate() {
        expected_at += rto;
        let again = peer.next_segments();
        assert_eq!(
            peer.now,
            Time::from_secs(expected_at),
            "try {}",
            try_number + 1
        );
        assert_eq!(brief(&again), brief(&[again[0].clone()]));
        assert_eq!((again[0].seq, again[0].payload.len()), (iss + 1, 14));
    }
    let reset = peer.next_segments();
    assert_eq!(peer.now, Time::from_secs(expected_at + 60));
    assert_eq!(reset.len(), 1);
    assert!(reset[0].flags.rst);
    let events = peer.host.take_events();
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Note { note: Note::Tcp(n), .. }
            if n.what == TcpNote::Aborted { retransmissions: 15 })));
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::TcpTransition {
            to: trace::TcpState::Closed,
            ..
        }
    )));
    assert_eq!(peer.host.recv(peer.now, id, 10), Err(SocketError::TimedOut));
}

#[test]
fn karn_no_rtt_sample_from_a_retransmitted_segment() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);

    // A clean round trip of 50 ms is a sample (the handshake gave the first, of 0 ms).
    peer.host.send(peer.now, id, b"one").unwrap();
    peer.expect("P.");
    peer.advance(Time(50 * MS));
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 4, b""));
    let srtt = peer.host.stats(id).unwrap().srtt.unwrap();
    assert_eq!(srtt, Time(6_250_000), "7/8 × 0 + 1/8 × 50 ms");

    // The next segment times out and is sent again; its ACK is ambiguous.
    peer.host.send(peer.now, id, b"two").unwrap();
    peer.expect("P.");
    peer.advance(Time::from_secs(1));
    peer.expect("P.");
    peer.advance(Time(10 * MS));
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 7, b""));
    let stats = peer.host.stats(id).unwrap();
    assert_eq!(
        stats.srtt,
        Some(srtt),
        "Karn: no sample from a retransmission"
    );
    assert_eq!(stats.rto, Time::from_secs(2), "the backed-off RTO is kept");

    // A segment sent once gives a sample again and the RTO collapses (RFC 6298 §5.7).
    peer.host.send(peer.now, id, b"three").unwrap();
    peer.expect("P.");
    peer.advance(Time(30 * MS));
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 12, b""));
    let stats = peer.host.stats(id).unwrap();
    assert_eq!(stats.srtt, Some(Time((7 * srtt.0 + 30 * MS) / 8)));
    assert_eq!(stats.rto, Time::from_secs(1));
}

#[test]
fn zero_window_is_probed_with_backoff_until_it_opens() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.send(peer.now, id, &[b'a'; 100]).unwrap();
    peer.expect("P.");
    // The peer's buffer is full: everything acknowledged, window zero.
    peer.send(with_window(seg(port, ".", PEER_ISS + 1, iss + 101, b""), 0));
    peer.host.send(peer.now, id, &[b'b'; 50]).unwrap();
    peer.expect_nothing();

    // RFC 9293 §3.8.6.1: probe with one octet when the persist timer fires, backing off.
    let mut at = peer.now;
    for gap in [1, 2, 4] {
        let deadline = peer.host.poll_at().unwrap();
        assert_eq!(deadline, at + Time::from_secs(gap));
        peer.advance(deadline - peer.now);
        at = peer.now;
        let probe = peer.expect(".");
        assert_eq!(
            (probe.seq, probe.payload.as_slice()),
            (iss + 101, &b"b"[..])
        );
        // Not accepted: the peer answers with its (still zero) window.
        peer.send(with_window(seg(port, ".", PEER_ISS + 1, iss + 101, b""), 0));
        peer.expect_nothing();
    }
    // A window update: the 50 octets go at once, the probe octet first.
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 101, b""));
    let data = peer.expect("P.");
    assert_eq!((data.seq, data.payload.len()), (iss + 101, 50));
    assert_eq!(peer.host.stats(id).unwrap().retransmissions, 1);
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit_and_halve_the_window() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.take_events();
    peer.host.send(peer.now, id, &[7u8; 20_000]).unwrap();
    // RFC 5681 §3.1: the initial window is 4380 octets, three segments of 1460.
    let first = peer.sent();
    assert_eq!(first.len(), 3);
    // The peer got the first segment but not the second; the third makes a duplicate ACK.
    let ack = iss + 1 + 1460;
    peer.send(seg(port, ".", PEER_ISS + 1, ack, b""));
    assert_eq!(peer.sent().len(), 2, "slow start: cwnd grew by one SMSS");
    let grew = congestion(&mut peer);
    assert_eq!(grew.len(), 1);
    assert_eq!(grew[0].0, 4380 + 1460);
    // Limited transmit (RFC 3042): the first duplicate ACK lets one new segment out, to
    // draw the third; the second finds the peer's 8192-octet window full.
    peer.send(seg(port, ".", PEER_ISS + 1, ack, b""));
    let new = peer.expect(".");
    assert_eq!((new.seq, new.payload.len()), (iss + 1 + 5 * 1460, 1460));
    peer.send(seg(port, ".", PEER_ISS + 1, ack, b""));
    peer.expect_nothing();
    peer.send(seg(port, ".", PEER_ISS + 1, ack, b""));
    let resent = peer.expect(".");
    assert_eq!((resent.seq, resent.payload.len()), (ack, 1460));
    let changes = congestion(&mut peer);
    // FlightSize was 5 × 1460: ssthresh = 3650, cwnd = ssthresh + 3 × SMSS.
    assert_eq!((changes[0].0, changes[0].1), (3650 + 3 * 1460, 3650));
    assert!(changes[0].2.contains("fast retransmit"), "{}", changes[0].2);
    // The full ACK (of all sent before recovery began) ends fast recovery and deflates
    // the window.
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 1 + 6 * 1460, b""));
    let after = congestion(&mut peer);
    assert!(
        after[0].2.contains("full ACK ends fast recovery"),
        "{after:?}"
    );
    assert_eq!(after[0].0, 2920);
}

#[test]
fn out_of_order_segments_are_held_and_reassembled() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "P.", PEER_ISS + 4, iss + 1, b"def"));
    let dup = peer.expect(".");
    assert_eq!(
        dup.ack,
        PEER_ISS + 1,
        "a duplicate ACK names the gap at once"
    );
    assert_eq!(
        peer.host.recv(peer.now, id, 100),
        Ok(None),
        "nothing in order yet"
    );
    assert_eq!(peer.host.stats(id).unwrap().out_of_order, 3);
    peer.send(seg(port, "P.", PEER_ISS + 7, iss + 1, b"ghi"));
    peer.expect(".");
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"abc"));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 10, "the gap is filled");
    let data = peer.host.recv(peer.now, id, 100).unwrap().unwrap();
    assert_eq!(data, b"abcdefghi");
}

/// A SYN from the peer with MSS, SACK-permitted, timestamps and window scale 7, as Linux
/// sends it, built directly so that it carries options our encoder never writes.
fn linux_style_syn(port: u16) -> Vec<u8> {
    use etherparse::{PacketBuilder, TcpOptionElement};
    let builder = PacketBuilder::ethernet2(PEER_MAC.0, US_MAC.0)
        .ipv4(PEER.octets(), US.octets(), 64)
        .tcp(PEER_PORT, port, PEER_ISS, 64_240)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(12345, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
    let mut bytes = Vec::new();
    builder.write(&mut bytes, &[]).unwrap();
    bytes
}

#[test]
fn window_scaling_is_negotiated_and_sack_and_timestamps_are_ignored() {
    let mut peer = Peer::with(|c| c.rcv_buf = 1 << 20);
    let listener = peer.host.listen(peer.now, 80, 5).unwrap();
    peer.deliver(&linux_style_syn(80));
    let synack = peer.expect("S.");
    // 1 MiB needs a shift of 5 to fit the 16-bit field (RFC 7323 §2.3).
    assert_eq!(synack.window_scale, Some(5));
    // Never scaled, and a whole number of segments (45 of 1448, timestamps agreed), as
    // Linux's tcp_select_initial_window makes it.
    assert_eq!(synack.window, 65_160, "the window of a SYN is never scaled");
    assert!(
        synack.other_options.is_empty(),
        "SACK and timestamps are not echoed"
    );
    peer.send(with_window(
        seg(80, ".", PEER_ISS + 1, synack.seq + 1, b""),
        100,
    ));
    let id = peer.host.accept(peer.now, listener).unwrap().unwrap();
    let stats = peer.host.stats(id).unwrap();
    assert_eq!(stats.window_shifts, (5, 7));
    assert_eq!(stats.snd_wnd, 100 << 7);
    peer.send(seg(80, "P.", PEER_ISS + 1, synack.seq + 1, b"GET /"));
    let ack = peer.expect(".");
    assert_eq!(
        u32::from(ack.window) << 5,
        (1 << 20) - 32,
        "scaled, rounded down"
    );
}

#[test]
fn without_the_peers_window_scale_option_nothing_is_scaled() {
    let mut peer = Peer::with(|c| c.rcv_buf = 1 << 20);
    peer.host.listen(peer.now, 80, 5).unwrap();
    peer.send(seg(80, "S", PEER_ISS, 0, b""));
    let synack = peer.expect("S.");
    assert_eq!(
        synack.window_scale, None,
        "RFC 7323 §1.3: only in reply to one"
    );
}

#[test]
fn nagle_holds_small_segments_until_tcp_nodelay() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.host.send(peer.now, id, b"a").unwrap();
    peer.expect("P.");
    peer.host.send(peer.now, id, b"b").unwrap();
    peer.host.send(peer.now, id, b"c").unwrap();
    peer.expect_nothing();
    // The ACK releases what Nagle held, as one segment.
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 2, b""));
    assert_eq!(peer.expect("P.").payload, b"bc");
    peer.host
        .set_option(peer.now, id, SocketOption::NoDelay(true))
        .unwrap();
    peer.host.send(peer.now, id, b"d").unwrap();
    assert_eq!(peer.expect("P.").payload, b"d", "TCP_NODELAY: send at once");
}

#[test]
fn acks_are_quick_at_first_then_delayed_up_to_40_ms_or_sent_for_every_second_segment() {
    let mut peer = Peer::with(|c| c.delayed_ack = true);
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    // Linux's quick-ACK mode: a connection's first data is acknowledged segment by segment,
    // 16 times (a window of 65535 holds more than twice that many 536-octet segments).
    let mut seq = PEER_ISS + 1;
    for _ in 0..16 {
        peer.send(seg(port, "P.", seq, iss + 1, b"one"));
        seq += 3;
        assert_eq!(peer.expect(".").ack, seq, "quick-ACK mode: at once");
    }
    peer.send(seg(port, "P.", seq, iss + 1, b"one"));
    seq += 3;
    peer.expect_nothing();
    peer.advance(Time(39 * MS));
    peer.expect_nothing();
    peer.advance(Time(MS));
    assert_eq!(
        peer.expect(".").ack,
        seq,
        "RFC 1122 §4.2.3.2: at most the delay"
    );
    // The ACK that went alone doubled the ACK timeout (Linux's bulk-receiver rule); two
    // segments are acknowledged together at once all the same.
    peer.send(seg(port, "P.", seq, iss + 1, b"two"));
    peer.expect_nothing();
    peer.send(seg(port, "P.", seq + 3, iss + 1, b"three"));
    assert_eq!(
        peer.expect(".").ack,
        seq + 8,
        "RFC 5681 §4.2: every second segment"
    );
    peer.host
        .set_option(peer.now, id, SocketOption::QuickAck(true))
        .unwrap();
    peer.send(seg(port, "P.", seq + 8, iss + 1, b"four"));
    peer.expect(".");
}

#[test]
fn with_few_segments_outstanding_two_duplicates_suffice() {
    let mut peer = Peer::new();
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    // Three segments and nothing more to send: three duplicate ACKs can never come back.
    peer.host.send(peer.now, id, &[1u8; 3 * 1460]).unwrap();
    assert_eq!(peer.sent().len(), 3);
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 1, b""));
    peer.expect_nothing();
    peer.send(seg(port, ".", PEER_ISS + 1, iss + 1, b""));
    // RFC 5827: with oseg = 3 the threshold is oseg − 1 = 2.
    let resent = peer.expect(".");
    assert_eq!((resent.seq, resent.payload.len()), (iss + 1, 1460));
    let events = peer.host.take_events();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Congestion {
            reason: CwndReason::FastRetransmit { threshold: 2, .. },
            ..
        }
    )));
}

#[test]
fn after_out_of_order_data_acks_are_not_delayed_for_a_while() {
    let mut peer = Peer::with(|c| c.delayed_ack = true);
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    peer.send(seg(port, "P.", PEER_ISS + 4, iss + 1, b"def"));
    peer.expect(".");
    peer.send(seg(port, "P.", PEER_ISS + 1, iss + 1, b"abc"));
    peer.expect(".");
    // Quick-ACK mode: the sender is recovering, so in-order segments are ACKed at once.
    peer.send(seg(port, "P.", PEER_ISS + 7, iss + 1, b"ghi"));
    assert_eq!(peer.expect(".").ack, PEER_ISS + 10);
}
