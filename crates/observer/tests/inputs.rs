//! Captures of every link type the observer reads, and broken ones with their byte offset.

use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};

fn handshake() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures/handshake.pcapng"))
        .unwrap()
}

/// The Ethernet frames of the handshake lesson.
fn frames() -> Vec<Vec<u8>> {
    let bytes = handshake();
    let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        if let Block::EnhancedPacket(epb) = block.unwrap() {
            out.push(epb.data.into_owned());
        }
    }
    out
}

/// The same packets as a classic pcap of `link`, each frame re-framed by `reframe`.
fn pcap_of(link: DataLink, reframe: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (i, frame) in frames().iter().enumerate() {
        let data = reframe(frame);
        let packet = PcapPacket::new(
            std::time::Duration::from_millis(i as u64),
            data.len() as u32,
            &data,
        );
        writer.write_packet(&packet).unwrap();
    }
    writer.into_writer()
}

fn states(bytes: &[u8]) -> Vec<(u64, String)> {
    let explanation = packetlab_observer::explain("test", bytes).unwrap();
    assert_eq!(explanation.connections.len(), 1);
    explanation.connections[0]
        .transitions
        .iter()
        .map(|t| (t.frame, format!("{} {}", t.endpoint, t.to)))
        .collect()
}

#[test]
fn every_link_type_gives_the_same_story() {
    let ethernet = states(&handshake());
    assert_eq!(ethernet.len(), 10);
    let raw = pcap_of(DataLink::RAW, |f| f[14..].to_vec());
    let sll = pcap_of(DataLink::LINUX_SLL, |f| {
        // Linux cooked v1: packet type, ARPHRD, address length, address (8), protocol.
        let mut out = vec![0, 0, 0, 1, 0, 6];
        out.extend_from_slice(&f[6..12]);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&f[12..14]);
        out.extend_from_slice(&f[14..]);
        out
    });
    let sll2 = pcap_of(DataLink::LINUX_SLL2, |f| {
        // v2: protocol, reserved, interface index, ARPHRD, packet type, address length,
        // address (8).
        let mut out = f[12..14].to_vec();
        out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
        out.extend_from_slice(&f[6..12]);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&f[14..]);
        out
    });
    for capture in [raw, sll, sll2] {
        // Only the IPv4 frames are in these (the ARP ones are not IPv4), so compare states.
        let got: Vec<String> = states(&capture).into_iter().map(|(_, s)| s).collect();
        let want: Vec<String> = ethernet.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn a_capture_cut_short_is_explained_up_to_the_cut_and_says_where() {
    // As a capture is left when its writer is killed: the last block half written.
    let bytes = handshake();
    let whole = packetlab_observer::explain("whole.pcapng", &bytes[..]).unwrap();
    let cut = &bytes[..bytes.len() - 30];
    let explained = packetlab_observer::explain("cut.pcapng", cut).unwrap();
    let at = explained.cut_short.as_ref().expect("the cut is reported");
    assert!(
        at.offset > 0 && at.offset < cut.len() as u64,
        "{}",
        at.message
    );
    assert!(at.message.starts_with("cut.pcapng: "), "{}", at.message);
    assert!(at.message.contains("cut short"), "{}", at.message);
    assert_eq!(explained.packets, whole.packets - 1);
    assert_eq!(explained.connections.len(), whole.connections.len());
    assert!(whole.cut_short.is_none());
    // The same in pcap: the last record's data cut.
    let pcap = pcap_of(DataLink::ETHERNET, <[u8]>::to_vec);
    let explained = packetlab_observer::explain("cut.pcap", &pcap[..pcap.len() - 5]).unwrap();
    assert_eq!(explained.packets, whole.packets - 1);
    assert!(explained.cut_short.is_some());
}

#[test]
fn a_capture_cut_inside_its_own_header_is_refused() {
    let bytes = handshake();
    for len in [10, 20] {
        let err = packetlab_observer::explain("cut.pcapng", &bytes[..len]).unwrap_err();
        assert_eq!(err.kind, packetlab_observer::ReadErrorKind::Broken);
        assert!(err.to_string().contains("cut short"), "{err}");
    }
}

#[test]
fn something_else_is_not_a_capture() {
    let err = packetlab_observer::explain("notes.txt", &b"hello, world"[..]).unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(
        err.to_string()
            .contains("expected the magic number of pcap"),
        "{err}"
    );
    let err = packetlab_observer::explain("empty", &b""[..]).unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");
}

#[test]
fn a_capture_that_begins_mid_connection_starts_established() {
    // Drop the handshake (ARP, SYN, SYN+ACK, ACK): the first TCP segment is data.
    let tail: Vec<Vec<u8>> = frames().into_iter().skip(5).collect();
    let header = PcapHeader::default();
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    for frame in &tail {
        let packet = PcapPacket::new(std::time::Duration::ZERO, frame.len() as u32, frame);
        writer.write_packet(&packet).unwrap();
    }
    let bytes = writer.into_writer();
    let explanation = packetlab_observer::explain("tail", &bytes[..]).unwrap();
    let c = &explanation.connections[0];
    assert!(c.mid_stream);
    // Zeek: both ends closed makes SF even without a SYN; no flip, as neither port is a
    // likely server port.
    assert_eq!(
        c.conn_state,
        packetlab_observer::ConnState::Sf,
        "{}",
        c.history
    );
    assert!(!c.history.contains(['^', 'S', 's']), "{}", c.history);
}

#[test]
fn inputs_the_fuzzer_found_crashing_are_explained_or_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/capture");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = packetlab_observer::explain("regression", &bytes[..]);
        seen += 1;
    }
    assert!(seen > 0);
}
