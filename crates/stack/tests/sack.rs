//! Transcripts of selective acknowledgments (RFC 2018, D-SACK of RFC 2883, loss recovery of
//! RFC 6675) and timestamps (RFC 7323): the test plays the peer, segment by segment.

mod common;

use common::*;
use packetlab_stack::{Driven, SocketApi, SocketId};
use trace::{EventKind, Recovery, TcpState, Time};
use wire::{SackBlocks, TcpSegment, Timestamps};

const MSS: u32 = 1460;

/// Our host with SACK and timestamps on (as Linux has them); the peer decides in
/// [`connect`].
fn sack_peer() -> Peer {
    Peer::with(|c| {
        c.sack = true;
        c.timestamps = true;
        c.snd_buf = 1 << 20;
    })
}

/// Our host connects; the peer answers with the options asked for. Returns the socket, our
/// ISS and our SYN.
fn connect(peer: &mut Peer, sack: bool, ts: bool) -> (SocketId, u32, TcpSegment) {
    let (id, syn) = open(peer);
    let port = syn.src_port;
    peer.advance(Time::from_millis(10));
    let mut synack = seg(port, "S.", PEER_ISS, syn.seq + 1, b"");
    synack.window = 65535;
    synack.sack_permitted = sack;
    synack.timestamps = ts.then(|| Timestamps {
        tsval: 500,
        tsecr: syn.timestamps.map_or(0, |t| t.tsval),
    });
    peer.send(synack);
    peer.expect(".");
    peer.host.take_events();
    (id, syn.seq, syn)
}

/// Our host connects to the peer: the socket and our SYN.
fn open(peer: &mut Peer) -> (SocketId, TcpSegment) {
    let id = peer
        .host
        .connect(peer.now, std::net::SocketAddr::from((PEER, PEER_PORT)))
        .unwrap();
    (id, peer.expect("S"))
}

/// A bare ACK from the peer with SACK blocks.
fn ack_with(port: u16, ack: u32, blocks: &[(u32, u32)]) -> TcpSegment {
    let mut s = seg(port, ".", PEER_ISS + 1, ack, b"");
    s.window = 65535;
    for &(l, r) in blocks {
        s.sack.push(l, r);
    }
    s
}

/// Every loss-recovery decision since the last look, with its range.
fn decisions(peer: &mut Peer) -> Vec<(Recovery, Option<(u32, u32)>)> {
    peer.host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Recovery {
                decision, range, ..
            } => Some((decision, range)),
            _ => None,
        })
        .collect()
}

#[test]
fn syn_offers_sack_and_timestamps_and_both_need_the_peer() {
    let mut peer = sack_peer();
    let (id, _, syn) = connect(&mut peer, false, false);
    assert!(syn.sack_permitted, "SACK-permitted on our SYN");
    let ts = syn.timestamps.expect("timestamps on our SYN");
    assert_eq!(ts.tsecr, 0, "nothing to echo yet");
    assert_eq!(
        wire::summary_of(&syn_frame(&syn))
            .split(" MSS")
            .nth(1)
            .unwrap(),
        format!("=1460 SACK_PERM TSval={} TSecr=0 WS=1", ts.tsval),
        "in Linux's order"
    );
    // The peer offered neither: neither is used, and data gets the whole MSS.
    peer.host.send(peer.now, id, &[7; 2000]).unwrap();
    let data = peer.sent();
    assert_eq!(data[0].payload.len(), MSS as usize);
    assert!(data.iter().all(|s| s.timestamps.is_none()));

    let mut peer = sack_peer();
    let (id, _, _) = connect(&mut peer, true, true);
    peer.host.send(peer.now, id, &[7; 2000]).unwrap();
    let data = peer.sent();
    assert_eq!(
        data[0].payload.len(),
        MSS as usize - 12,
        "RFC 6691: timestamps come out of the data"
    );
    assert_eq!(
        data[0].timestamps.unwrap().tsecr,
        500,
        "the peer's TSval echoed"
    );
}

fn syn_frame(syn: &TcpSegment) -> Vec<u8> {
    wire::Frame {
        src: US_MAC,
        dst: PEER_MAC,
        payload: wire::EthPayload::Ipv4(wire::Ipv4Packet {
            src: US,
            dst: PEER,
            ttl: 64,
            ident: 0,
            header_checksum_ok: true,
            payload: wire::Ipv4Payload::Tcp(syn.clone()),
        }),
    }
    .encode()
}

#[test]
fn the_receiver_reports_holes_latest_first_and_duplicates_once() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let base = PEER_ISS + 1;
    let data = |at: u32| {
        let mut s = seg(port, "P.", base + at, iss + 1, &[1; 100]);
        s.window = 65535;
        s
    };
    peer.send(data(100));
    let ack = peer.expect(".");
    assert_eq!(ack.ack, base);
    assert_eq!(ack.sack.as_slice(), &[(base + 100, base + 200)]);
    peer.send(data(300));
    let ack = peer.expect(".");
    assert_eq!(
        ack.sack.as_slice(),
        &[(base + 300, base + 400), (base + 100, base + 200)],
        "the block of the segment that just came first (RFC 2018 §4)"
    );
    peer.send(data(100));
    let ack = peer.expect(".");
    assert_eq!(
        ack.sack.as_slice(),
        &[
            (base + 100, base + 200),
            (base + 100, base + 200),
            (base + 300, base + 400)
        ],
        "a D-SACK block, then the block holding it (RFC 2883 §4)"
    );
    peer.send(data(0));
    let ack = peer.expect(".");
    assert_eq!(ack.ack, base + 200);
    assert_eq!(ack.sack.as_slice(), &[(base + 300, base + 400)]);
    peer.send(data(0));
    let ack = peer.expect(".");
    assert_eq!(
        ack.sack.as_slice(),
        &[(base, base + 100), (base + 300, base + 400)],
        "an old duplicate is reported below the ACK"
    );
    peer.send(data(200));
    let ack = peer.expect(".");
    assert_eq!((ack.ack, ack.sack), (base + 400, SackBlocks::default()));
    assert_eq!(
        peer.host.recv(peer.now, id, 1000).unwrap().map(|d| d.len()),
        Some(400)
    );
}

/// Our host sends `n` full segments with cwnd opened first; returns their sequence numbers.
fn in_flight(peer: &mut Peer, id: SocketId, iss: u32, port: u16, n: usize) -> Vec<u32> {
    // Grow cwnd past n segments with a few acknowledged rounds of 10 ms (slow start, RFC
    // 5681 §3.1).
    let _ = iss;
    peer.host
        .send(peer.now, id, &vec![1; 24 * MSS as usize])
        .unwrap();
    loop {
        let sent = peer.sent();
        if sent.is_empty() {
            break;
        }
        peer.advance(Time::from_millis(10));
        for s in sent {
            peer.send(ack_with(port, s.seq + s.payload.len() as u32, &[]));
        }
    }
    peer.sent();
    peer.host.take_events();
    peer.host
        .send(peer.now, id, &vec![2; n * MSS as usize])
        .unwrap();
    let sent = peer.sent();
    assert_eq!(sent.len(), n, "all {n} in flight at once");
    assert!(sent.iter().all(|s| s.payload.len() == MSS as usize));
    sent.iter().map(|s| s.seq).collect()
}

#[test]
fn two_holes_are_repaired_in_one_round_trip() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let seqs = in_flight(&mut peer, id, iss, port, 8);
    let end = |i: usize| seqs[i] + MSS;
    let una = seqs[0];
    // Segments 0 and 2 are lost; each other one brings a duplicate ACK with SACK blocks, a
    // round trip of 10 ms later.
    peer.advance(Time::from_millis(10));
    peer.send(ack_with(port, una, &[(seqs[1], end(1))]));
    peer.send(ack_with(port, una, &[(seqs[3], end(3)), (seqs[1], end(1))]));
    assert!(
        peer.sent().is_empty(),
        "two duplicates: limited transmit has nothing new"
    );
    peer.send(ack_with(port, una, &[(seqs[3], end(4)), (seqs[1], end(1))]));
    let resent = peer.sent();
    assert_eq!(resent.len(), 1);
    assert_eq!(
        resent[0].seq, seqs[0],
        "the first hole, on the third duplicate"
    );
    let steps = decisions(&mut peer);
    assert!(
        steps.contains(&(Recovery::Enter, Some((seqs[0], end(0))))),
        "{steps:?}"
    );
    peer.send(ack_with(port, una, &[(seqs[3], end(5)), (seqs[1], end(1))]));
    let resent = peer.sent();
    assert_eq!(
        resent.iter().map(|s| s.seq).collect::<Vec<_>>(),
        vec![seqs[2]],
        "the second hole, before any ACK of the first retransmission"
    );
    assert!(decisions(&mut peer).contains(&(Recovery::RetransmitLost, Some((seqs[2], end(2))))));
    // Both repairs arrive: everything is acknowledged and recovery ends.
    peer.send(ack_with(port, end(7), &[]));
    assert!(decisions(&mut peer).contains(&(Recovery::Exit, None)));
    let stats = peer.host.stats(id).unwrap();
    assert_eq!(stats.retransmissions, 2);
    assert_eq!(stats.cwnd, stats.ssthresh, "cwnd = ssthresh after recovery");
}

#[test]
fn without_sack_the_second_hole_waits_for_a_partial_ack() {
    let mut peer = Peer::with(|c| c.snd_buf = 1 << 20);
    let (id, iss) = peer.established_client();
    let port = peer.our_port(id);
    let seqs = in_flight(&mut peer, id, iss, port, 8);
    let una = seqs[0];
    for _ in 0..4 {
        peer.send(ack_with(port, una, &[]));
    }
    let resent = peer.sent();
    assert_eq!(
        resent.iter().map(|s| s.seq).collect::<Vec<_>>(),
        vec![seqs[0]]
    );
    // NewReno learns of the second hole only from the partial ACK a round trip later.
    peer.send(ack_with(port, seqs[2], &[]));
    assert_eq!(peer.sent()[0].seq, seqs[2]);
}

#[test]
fn a_dsack_from_the_peer_is_reported() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    peer.host.send(peer.now, id, b"hello").unwrap();
    peer.sent();
    peer.send(ack_with(port, iss + 6, &[(iss + 1, iss + 6)]));
    assert_eq!(
        decisions(&mut peer),
        vec![(Recovery::DsackReceived, Some((iss + 1, iss + 6)))]
    );
}

#[test]
fn the_rescue_retransmission_sends_the_last_segment_once() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let seqs = in_flight(&mut peer, id, iss, port, 6);
    let end = |i: usize| seqs[i] + MSS;
    let una = seqs[0];
    // 0 and 5 are lost (5 is the tail: nothing comes after it to show it lost).
    peer.send(ack_with(port, una, &[(seqs[1], end(1))]));
    peer.send(ack_with(port, una, &[(seqs[1], end(2))]));
    peer.send(ack_with(port, una, &[(seqs[1], end(3))]));
    decisions(&mut peer);
    peer.sent();
    peer.send(ack_with(port, una, &[(seqs[1], end(4))]));
    peer.sent();
    decisions(&mut peer);
    // The first retransmission arrives: a partial ACK; pipe has room, and rule 4 resends
    // the highest unSACKed segment, the lost tail.
    peer.send(ack_with(port, end(4), &[]));
    let steps = decisions(&mut peer);
    assert!(
        steps.contains(&(Recovery::Rescue, Some((seqs[5], end(5))))),
        "{steps:?}"
    );
    peer.send(ack_with(port, end(4), &[]));
    assert!(
        !decisions(&mut peer).iter().any(|d| d.0 == Recovery::Rescue),
        "only once"
    );
}

#[test]
fn paws_drops_a_segment_with_an_old_clock_until_24_days_pass() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, true);
    let port = syn.src_port;
    let base = PEER_ISS + 1;
    let data = |at: u32, tsval: u32| {
        let mut s = seg(port, "P.", base + at, iss + 1, b"abc");
        s.window = 65535;
        s.timestamps = Some(Timestamps { tsval, tsecr: 0 });
        s
    };
    peer.send(data(0, 600));
    peer.expect(".");
    // A segment from an older incarnation whose clock is behind: dropped, ACKed.
    peer.send(data(3, 550));
    let ack = peer.expect(".");
    assert_eq!(ack.ack, base + 3, "not taken");
    assert_eq!(decisions(&mut peer)[0].0, Recovery::PawsDrop);
    assert_eq!(
        peer.host.recv(peer.now, id, 100).unwrap().as_deref(),
        Some(&b"abc"[..])
    );
    // RFC 7323 §5.5: after 24 days idle TS.Recent is no longer trusted.
    peer.now = peer.now + Time::from_secs(25 * 24 * 3600);
    peer.send(data(3, 550));
    let ack = peer.expect(".");
    assert_eq!(ack.ack, base + 6);
}

#[test]
fn timestamps_measure_the_rtt_of_a_retransmitted_segment() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, true);
    let port = syn.src_port;
    let srtt = peer.host.stats(id).unwrap().srtt;
    peer.host.send(peer.now, id, b"two").unwrap();
    peer.expect("P.");
    peer.advance(Time::from_secs(1));
    let again = peer.expect("P.");
    peer.advance(Time::from_millis(40));
    let mut ack = ack_with(port, iss + 4, &[]);
    ack.timestamps = Some(Timestamps {
        tsval: 700,
        tsecr: again.timestamps.unwrap().tsval,
    });
    peer.send(ack);
    let after = peer.host.stats(id).unwrap().srtt;
    assert_ne!(
        after, srtt,
        "Karn would have kept no sample; the echo gives one"
    );
    assert!(after.unwrap() > Time::ZERO);
}

#[test]
fn rack_finds_a_loss_by_time_from_a_single_sack() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let seqs = in_flight(&mut peer, id, iss, port, 4);
    // Only segment 1 arrives: one duplicate ACK, never three.
    peer.advance(Time::from_millis(10));
    peer.send(ack_with(port, seqs[0], &[(seqs[1], seqs[1] + MSS)]));
    assert!(peer.sent().is_empty(), "within the reordering window: wait");
    // RFC 8985 §6.2: the reordering timer fires once min_RTT/4 has passed.
    let deadline = peer.host.poll_at().unwrap();
    assert!(
        deadline < peer.now + Time::from_millis(10),
        "a fraction of the RTT, not an RTO"
    );
    peer.advance(deadline - peer.now);
    let resent = peer.sent();
    assert_eq!(resent[0].seq, seqs[0]);
    let steps = decisions(&mut peer);
    assert_eq!(
        steps[0],
        (Recovery::RackLost, Some((seqs[0], seqs[0] + MSS)))
    );
    assert!(steps.contains(&(Recovery::Enter, Some((seqs[0], seqs[0] + MSS)))));
}

#[test]
fn a_lost_tail_costs_one_probe_not_a_timeout() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let seqs = in_flight(&mut peer, id, iss, port, 4);
    // All but the last segment arrive; nothing comes after the last one to reveal its loss.
    peer.advance(Time::from_millis(10));
    peer.send(ack_with(port, seqs[3], &[]));
    peer.sent();
    let deadline = peer.host.poll_at().unwrap();
    let stats = peer.host.stats(id).unwrap();
    assert!(
        deadline - peer.now < stats.rto,
        "the probe timeout comes before the RTO"
    );
    peer.advance(deadline - peer.now);
    let probe = peer.expect("P.");
    assert_eq!((probe.seq, probe.payload.len()), (seqs[3], MSS as usize));
    assert_eq!(
        decisions(&mut peer),
        vec![(Recovery::TailLossProbe, Some((seqs[3], seqs[3] + MSS)))]
    );
    // The probe repaired the loss; the next data's ACK goes past it: cwnd is reduced.
    peer.advance(Time::from_millis(10));
    peer.send(ack_with(port, seqs[3] + MSS, &[]));
    peer.host.send(peer.now, id, b"more").unwrap();
    let more = peer.expect("P.");
    peer.advance(Time::from_millis(10));
    peer.send(ack_with(port, more.seq + 4, &[]));
    assert_eq!(
        decisions(&mut peer),
        vec![(Recovery::ProbeRepairedLoss, None)]
    );
    assert_eq!(peer.host.stats(id).unwrap().retransmissions, 1);
}

#[test]
fn a_probe_answered_by_a_dsack_reduces_nothing() {
    let mut peer = sack_peer();
    let (id, iss, syn) = connect(&mut peer, true, false);
    let port = syn.src_port;
    let seqs = in_flight(&mut peer, id, iss, port, 2);
    let cwnd = peer.host.stats(id).unwrap().cwnd;
    // Both segments arrive, but their ACK is slow: the probe resends the last.
    let deadline = peer.host.poll_at().unwrap();
    peer.advance(deadline - peer.now);
    peer.expect("P.");
    decisions(&mut peer);
    let end = seqs[1] + MSS;
    peer.send(ack_with(port, end, &[]));
    peer.send(ack_with(port, end, &[(seqs[1], end)]));
    assert_eq!(
        decisions(&mut peer),
        vec![(Recovery::DsackReceived, Some((seqs[1], end)))]
    );
    assert_eq!(
        peer.host.stats(id).unwrap().ssthresh,
        u32::MAX,
        "no loss, no reduction"
    );
    assert!(peer.host.stats(id).unwrap().cwnd >= cwnd);
}

/// Found by fuzzing (the input is `fuzz/regressions/stack/crash-f54006…`, minimized): a
/// simultaneous open leaves our SYN unacknowledged in SYN-RECEIVED, and a `close()` there
/// takes us to FIN-WAIT-1 (as Linux's does) with data queued. That data went out before our
/// SYN was acknowledged; an old ACK with a SACK block then started a loss recovery that
/// sliced the send buffer at −1.
#[test]
fn data_waits_for_the_ack_of_our_syn_and_an_ancient_ack_is_challenged() {
    let mut peer = sack_peer();
    let (id, syn) = open(&mut peer);
    let port = syn.src_port;
    // Their SYN crosses ours (RFC 9293 §3.5, simultaneous open): we answer with SYN+ACK.
    let mut theirs = seg(port, "S", PEER_ISS, 0, b"");
    theirs.sack_permitted = true;
    theirs.window = 32859;
    peer.send(theirs);
    let synack = peer.expect("S.");
    assert_eq!(synack.seq, syn.seq, "the same SYN, now with an ACK");
    assert_eq!(peer.state(id), TcpState::SynReceived);
    peer.host.send(peer.now, id, &[b'x'; 27756]).unwrap();
    peer.host.close(peer.now, id).unwrap();
    assert_eq!(peer.state(id), TcpState::FinWait1);
    peer.expect_nothing();
    // The fuzzer's ACK: 28,673 octets before what we sent, inside the window they offered
    // (RFC 5961 §5.2), with a SACK block before our ISS. An old duplicate: ignored.
    let ack = syn.seq.wrapping_add(1).wrapping_sub(28_673);
    let mut old = ack_with(port, ack, &[(ack + 27_756, ack + 27_775)]);
    old.seq = PEER_ISS + 1;
    peer.send(old);
    peer.expect_nothing();
    {
        let d = decisions(&mut peer);
        assert!(d.is_empty(), "no loss recovery: {d:?}");
    }
    // Older than any window they offered (the old ACK's window was not taken): dropped with
    // a challenge ACK.
    let ancient = syn.seq.wrapping_add(1).wrapping_sub(40_000);
    let mut ancient = ack_with(port, ancient, &[(ancient + 10, ancient + 20)]);
    ancient.seq = PEER_ISS + 1;
    peer.send(ancient);
    let challenge = peer.expect(".");
    assert_eq!((challenge.seq, challenge.ack), (syn.seq + 1, PEER_ISS + 1));
    assert!(decisions(&mut peer).is_empty(), "no loss recovery");
    // The ACK of our SYN lets the data out, from the octet after it.
    peer.send(ack_with(port, syn.seq + 1, &[]));
    let data = peer.sent();
    assert!(!data.is_empty());
    assert_eq!(data[0].seq, syn.seq + 1, "{}", brief(&data));
}
