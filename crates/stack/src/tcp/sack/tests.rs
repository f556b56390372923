use super::*;

fn r(a: u32, b: u32) -> Range {
    (SeqNum(a), SeqNum(b))
}

fn blocks(list: &[(u32, u32)]) -> SackBlocks {
    let mut b = SackBlocks::default();
    for &(l, r) in list {
        b.push(l, r);
    }
    b
}

#[test]
fn the_block_of_the_latest_segment_comes_first_then_the_recent_ones() {
    let held = [r(10, 20), r(30, 40), r(50, 60), r(70, 80)];
    let mut rx = SackReceiver::default();
    rx.arrived(SeqNum(30));
    rx.arrived(SeqNum(55));
    let got = rx.blocks(&held, 3);
    assert_eq!(got.as_slice(), &[(50, 60), (30, 40), (10, 20)]);
}

#[test]
fn a_dsack_block_is_first_once_followed_by_the_block_that_holds_it() {
    let held = [r(10, 20), r(30, 40)];
    let mut rx = SackReceiver::default();
    rx.arrived(SeqNum(10));
    rx.duplicate(r(32, 35));
    assert_eq!(
        rx.blocks(&held, 4).as_slice(),
        &[(32, 35), (30, 40), (10, 20)]
    );
    assert_eq!(rx.blocks(&held, 4).as_slice(), &[(10, 20), (30, 40)]);
    rx.duplicate(r(1, 5));
    assert_eq!(rx.blocks(&[], 4).as_slice(), &[(1, 5)]);
}

#[test]
fn update_merges_blocks_and_recognises_dsack() {
    let mut sb = Scoreboard::default();
    let learned = sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(2000, 3000), (4000, 5000)]),
    );
    assert_eq!(learned.newly_sacked, 2000);
    let learned = sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(3000, 4000)]),
    );
    assert_eq!(learned.newly_sacked, 1000);
    assert_eq!(sb.sacked(), &[r(2000, 5000)]);
    // Below SND.UNA: the receiver got it twice.
    let learned = sb.update(
        SeqNum(0),
        (SeqNum(1000), SeqNum(10_000)),
        &blocks(&[(0, 1000), (2000, 5000)]),
    );
    assert_eq!(learned.dsack, Some(r(0, 1000)));
    assert_eq!(learned.newly_sacked, 0);
    // Inside the second block: a duplicate too.
    let learned = sb.update(
        SeqNum(0),
        (SeqNum(1000), SeqNum(10_000)),
        &blocks(&[(2500, 3000), (2000, 5000)]),
    );
    assert_eq!(learned.dsack, Some(r(2500, 3000)));
    // Beyond anything sent: ignored.
    let learned = sb.update(
        SeqNum(0),
        (SeqNum(1000), SeqNum(10_000)),
        &blocks(&[(9000, 12_000)]),
    );
    assert_eq!(learned, Learned::default());
    // Before anything a retransmission could have duplicated: not ours, ignored.
    let learned = sb.update(
        SeqNum(500),
        (SeqNum(1000), SeqNum(10_000)),
        &blocks(&[(0, 400)]),
    );
    assert_eq!(learned, Learned::default());
}

#[test]
fn is_lost_counts_ranges_or_octets_above() {
    let smss = 1000;
    let mut sb = Scoreboard::default();
    sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(1000, 2000), (3000, 4000)]),
    );
    assert!(!sb.is_lost(SeqNum(0), smss), "two segments above: not yet");
    sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(5000, 6000)]),
    );
    assert!(
        sb.is_lost(SeqNum(0), smss),
        "three discontiguous ranges above"
    );
    assert!(!sb.is_lost(SeqNum(2000), smss));
    let mut sb = Scoreboard::default();
    sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(1000, 3001)]),
    );
    assert!(sb.is_lost(SeqNum(0), smss), "more than 2·SMSS octets above");
}

#[test]
fn pipe_leaves_out_lost_octets_and_counts_retransmissions() {
    let smss = 1000;
    let mut sb = Scoreboard::default();
    sb.update(
        SeqNum(0),
        (SeqNum(0), SeqNum(10_000)),
        &blocks(&[(1000, 4000)]),
    );
    // The hole 0..1000 is lost; 4000..10000 is in flight.
    assert_eq!(sb.pipe(SeqNum(0), SeqNum(10_000), smss), 6000);
    sb.high_rxt = SeqNum(1000);
    assert_eq!(sb.pipe(SeqNum(0), SeqNum(10_000), smss), 7000);
}

#[test]
fn next_seg_follows_the_four_rules() {
    let smss = 1000;
    let (una, max) = (SeqNum(0), SeqNum(10_000));
    let mut sb = Scoreboard::default();
    sb.update(
        SeqNum(0),
        (una, max),
        &blocks(&[(1000, 2000), (3000, 4000), (5000, 6000)]),
    );
    sb.high_rxt = una;
    assert_eq!(
        sb.next_seg(una, max, smss, true),
        Some(NextSeg::Lost(r(0, 1000)))
    );
    sb.high_rxt = SeqNum(1000);
    // 2000..3000 has two ranges above it, 2000 octets: not lost, so new data goes first.
    assert_eq!(sb.next_seg(una, max, smss, true), Some(NextSeg::NewData));
    assert_eq!(
        sb.next_seg(una, max, smss, false),
        Some(NextSeg::Hole(r(2000, 3000)))
    );
    sb.high_rxt = SeqNum(5000);
    assert_eq!(
        sb.next_seg(una, max, smss, false),
        Some(NextSeg::Rescue(r(9000, 10_000)))
    );
    sb.rescue_rxt = Some(max);
    assert_eq!(sb.next_seg(una, max, smss, false), None);
}
