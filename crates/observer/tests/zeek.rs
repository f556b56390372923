//! Zeek's conn.log notation, one test per history letter and per conn_state, written from
//! Zeek's documentation of conn.log (`base/protocols/conn/main.zeek`): each capture is built
//! packet by packet, and the record is what Zeek's rules give for it.

use std::net::Ipv4Addr;

use packetlab_observer::{ConnLog, ConnState, explain};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// One packet of a test capture.
#[derive(Clone)]
struct P {
    from_client: bool,
    flags: &'static str,
    seq: u32,
    ack: u32,
    len: usize,
    window: u16,
    ms: u64,
    cut: bool,
    corrupt: bool,
}

/// A packet from the client (`c`) or the server (`s`): flags as letters S A F R P.
fn c(flags: &'static str, seq: u32, ack: u32, len: usize) -> P {
    P {
        from_client: true,
        flags,
        seq,
        ack,
        len,
        window: 1000,
        ms: 0,
        cut: false,
        corrupt: false,
    }
}

fn s(flags: &'static str, seq: u32, ack: u32, len: usize) -> P {
    P {
        from_client: false,
        ..c(flags, seq, ack, len)
    }
}

impl P {
    fn at(mut self, ms: u64) -> P {
        self.ms = ms;
        self
    }

    fn window(mut self, window: u16) -> P {
        self.window = window;
        self
    }

    fn corrupt(mut self) -> P {
        self.corrupt = true;
        self
    }

    fn cut(mut self) -> P {
        self.cut = true;
        self
    }

    fn bytes(&self, ports: (u16, u16)) -> Vec<u8> {
        let (src, dst, sp, dp) = if self.from_client {
            (CLIENT, SERVER, ports.0, ports.1)
        } else {
            (SERVER, CLIENT, ports.1, ports.0)
        };
        let bits = self.flags.chars().fold(0u8, |b, f| {
            b | match f {
                'F' => 0x01,
                'S' => 0x02,
                'R' => 0x04,
                'P' => 0x08,
                'A' => 0x10,
                _ => panic!("flag {f}"),
            }
        });
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sp.to_be_bytes());
        tcp.extend_from_slice(&dp.to_be_bytes());
        tcp.extend_from_slice(&self.seq.to_be_bytes());
        tcp.extend_from_slice(&self.ack.to_be_bytes());
        tcp.extend_from_slice(&[0x50, bits]);
        tcp.extend_from_slice(&self.window.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend(std::iter::repeat_n(b'x', self.len));
        let sum = wire::view::pseudo_header_checksum(src, dst, 6, &tcp);
        let sum = if self.corrupt { sum ^ 0x5555 } else { sum };
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip[2..4].copy_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        let ip_sum = wire::view::internet_checksum(0, &ip);
        ip[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        ip.extend_from_slice(&tcp);
        ip
    }
}

/// The capture of `packets` between client port 40000 and server `port`, as raw IP.
fn capture(port: u16, packets: &[P]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (i, p) in packets.iter().enumerate() {
        let data = p.bytes((40000, port));
        let kept = if p.cut { 40 } else { data.len() };
        let t = std::time::Duration::from_millis(if p.ms > 0 { p.ms } else { i as u64 });
        let packet = PcapPacket::new(t, data.len() as u32, &data[..kept]);
        writer.write_packet(&packet).unwrap();
    }
    writer.into_writer()
}

fn records(port: u16, packets: &[P]) -> Vec<ConnLog> {
    explain("test", &capture(port, packets)[..])
        .unwrap()
        .conn_log
}

/// The single record's history and state.
fn zeek(port: u16, packets: &[P]) -> (String, ConnState) {
    let records = records(port, packets);
    assert_eq!(records.len(), 1, "{records:#?}");
    (records[0].history.clone(), records[0].conn_state)
}

/// The handshake: client ISN 100, server ISN 500.
fn handshake() -> Vec<P> {
    vec![c("S", 100, 0, 0), s("SA", 500, 101, 0), c("A", 101, 501, 0)]
}

fn with(mut first: Vec<P>, rest: impl IntoIterator<Item = P>) -> Vec<P> {
    first.extend(rest);
    first
}

/// Handshake, 10 octets each way, both FINs, the last ACK.
fn normal() -> Vec<P> {
    with(
        handshake(),
        [
            c("PA", 101, 501, 10),
            s("A", 501, 111, 0),
            s("PA", 501, 111, 10),
            c("A", 111, 511, 0),
            c("FA", 111, 511, 0),
            s("FA", 511, 112, 0),
            c("A", 112, 512, 0),
        ],
    )
}

#[test]
fn s_h_a_d_f_and_sf_for_a_normal_connection() {
    assert_eq!(zeek(9000, &normal()), ("ShADadFf".into(), ConnState::Sf));
    let r = &records(9000, &normal())[0];
    assert_eq!((r.orig_bytes, r.resp_bytes), (10, 10));
}

#[test]
fn s0_is_an_unanswered_syn_and_a_retried_syn_is_not_a_new_letter() {
    let packets = [c("S", 100, 0, 0), c("S", 100, 0, 0).at(1000)];
    assert_eq!(zeek(9000, &packets), ("S".into(), ConnState::S0));
}

#[test]
fn an_attempt_unanswered_for_five_seconds_ends_its_record() {
    let packets = [c("S", 100, 0, 0).at(1), c("S", 100, 0, 0).at(7000)];
    let records = records(9000, &packets);
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.conn_state == ConnState::S0));
}

#[test]
fn s1_is_established_and_not_closed() {
    let packets = with(handshake(), [c("PA", 101, 501, 10)]);
    assert_eq!(zeek(9000, &packets), ("ShAD".into(), ConnState::S1));
}

#[test]
fn rej_and_r_lower_case_a_refused_syn() {
    let packets = [c("S", 100, 0, 0), s("RA", 0, 101, 0)];
    assert_eq!(zeek(9000, &packets), ("Sr".into(), ConnState::Rej));
}

#[test]
fn s2_and_s3_a_close_attempt_without_a_reply() {
    let s2 = with(handshake(), [c("FA", 101, 501, 0)]);
    assert_eq!(zeek(9000, &s2), ("ShAF".into(), ConnState::S2));
    let s3 = with(handshake(), [s("FA", 501, 101, 0)]);
    assert_eq!(zeek(9000, &s3), ("ShAf".into(), ConnState::S3));
}

#[test]
fn rsto_and_rstr_who_aborted() {
    let rsto = with(handshake(), [c("RA", 101, 501, 0)]);
    assert_eq!(zeek(9000, &rsto), ("ShAR".into(), ConnState::Rsto));
    let rstr = with(handshake(), [s("RA", 501, 101, 0)]);
    assert_eq!(zeek(9000, &rstr), ("ShAr".into(), ConnState::Rstr));
}

#[test]
fn rstos0_a_syn_then_the_originators_rst() {
    let packets = [c("S", 100, 0, 0), c("R", 101, 0, 0)];
    assert_eq!(zeek(9000, &packets), ("SR".into(), ConnState::Rstos0));
}

#[test]
fn rstrh_and_flip_a_syn_ack_then_a_rst_from_a_server_port() {
    // The first packet is the server's SYN+ACK from port 80: Zeek turns the roles around.
    let packets = [s("SA", 500, 101, 0), s("RA", 501, 101, 0)];
    assert_eq!(zeek(80, &packets), ("^hr".into(), ConnState::Rstrh));
}

#[test]
fn sh_and_shr_half_open_closes() {
    let sh = [c("S", 100, 0, 0), c("F", 101, 0, 0)];
    assert_eq!(zeek(9000, &sh), ("SF".into(), ConnState::Sh));
    let shr = [s("SA", 500, 101, 0), s("FA", 501, 101, 0)];
    assert_eq!(zeek(80, &shr), ("^hf".into(), ConnState::Shr));
}

#[test]
fn oth_midstream_traffic_not_closed() {
    let packets = [c("PA", 101, 501, 10), s("A", 501, 111, 0)];
    assert_eq!(zeek(9000, &packets), ("Da".into(), ConnState::Oth));
}

#[test]
fn flip_on_a_first_data_packet_from_a_likely_server_port() {
    let packets = [s("PA", 501, 101, 10), c("A", 101, 511, 0)];
    let records = records(443, &packets);
    assert_eq!(records[0].history, "^dA");
    assert_eq!(records[0].orig.port(), 40000);
}

#[test]
fn t_retransmitted_payload_logarithmically() {
    let once = with(handshake(), [c("PA", 101, 501, 10), c("PA", 101, 501, 10)]);
    assert_eq!(zeek(9000, &once).0, "ShADT");
    let mut ten = handshake();
    ten.extend(std::iter::repeat_n(c("PA", 101, 501, 10), 11));
    assert_eq!(zeek(9000, &ten).0, "ShADTT");
    let mut hundred = handshake();
    hundred.extend(std::iter::repeat_n(c("PA", 101, 501, 10), 101));
    assert_eq!(zeek(9000, &hundred).0, "ShADTTT");
}

#[test]
fn a_retransmitted_syn_or_fin_is_not_t() {
    let packets = with(
        handshake(),
        [
            c("FA", 101, 501, 0),
            c("FA", 101, 501, 0),
            s("A", 501, 102, 0),
        ],
    );
    assert_eq!(zeek(9000, &packets), ("ShAFa".into(), ConnState::S2));
}

#[test]
fn f_h_r_repeat_when_their_sequence_number_differs() {
    // A SYN+ACK again with the same number is not a new letter; one from an end that has
    // closed, further on in its sequence space, is. (In the handshake states Zeek restarts
    // the numbering at a new SYN, so there the relative number is the same.)
    let same = with(handshake(), [s("SA", 500, 101, 0)]);
    assert_eq!(zeek(9000, &same).0, "ShA");
    let closed = with(handshake(), [s("FA", 501, 101, 0), s("SA", 900, 101, 0)]);
    assert_eq!(zeek(9000, &closed).0, "ShAfh");
    let rr = with(handshake(), [c("R", 101, 0, 0), c("R", 5000, 0, 0)]);
    assert_eq!(zeek(9000, &rr).0, "ShARR");
}

#[test]
fn w_a_zero_window() {
    let packets = with(
        handshake(),
        [c("PA", 101, 501, 10), s("A", 501, 111, 0).window(0)],
    );
    assert_eq!(zeek(9000, &packets).0, "ShADaw");
}

#[test]
fn c_a_bad_checksum_and_the_packet_is_not_read_further() {
    let packets = with(handshake(), [c("PA", 101, 501, 10).corrupt()]);
    assert_eq!(zeek(9000, &packets).0, "ShAC");
}

#[test]
fn g_acknowledged_data_the_capture_never_carried() {
    let packets = with(
        handshake(),
        [
            c("PA", 101, 501, 10),
            c("PA", 121, 501, 10),
            s("A", 501, 131, 0),
        ],
    );
    assert_eq!(zeek(9000, &packets).0, "ShADaG");
}

#[test]
fn a_payload_cut_by_the_snaplen_is_not_seen_so_its_ack_is_a_gap() {
    let packets = with(
        handshake(),
        [c("PA", 101, 501, 100).cut(), s("A", 501, 201, 0)],
    );
    let (history, _) = zeek(9000, &packets);
    assert_eq!(history, "ShADaG");
    assert_eq!(records(9000, &packets)[0].orig_bytes, 100);
}

#[test]
fn i_and_q_odd_flag_combinations() {
    let i = with(handshake(), [c("FRA", 101, 501, 0)]);
    assert_eq!(zeek(9000, &i).0, "ShAI");
    let q = [c("SF", 100, 0, 0)];
    assert_eq!(zeek(9000, &q).0, "Q");
}

#[test]
fn a_syn_and_its_syn_ack_captured_in_reverse_order_flip_the_record() {
    let packets = [
        s("SA", 500, 101, 0),
        c("S", 100, 0, 0),
        c("A", 101, 501, 0),
        c("PA", 101, 501, 10),
    ];
    let records = records(9000, &packets);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].history, "Hs^AD");
    assert_eq!(records[0].orig.port(), 40000);
}

#[test]
fn a_port_reused_after_a_close_or_a_reset_is_a_new_record() {
    let mut packets = normal();
    packets.extend([c("S", 9000, 0, 0).at(2000), s("RA", 0, 9001, 0).at(2001)]);
    packets.extend([c("S", 7000, 0, 0).at(3000), s("SA", 100, 7001, 0).at(3001)]);
    let records = records(9000, &packets);
    let summary: Vec<(&str, ConnState)> = records
        .iter()
        .map(|r| (r.history.as_str(), r.conn_state))
        .collect();
    assert_eq!(
        summary,
        [
            ("ShADadFf", ConnState::Sf),
            ("Sr", ConnState::Rej),
            // A SYN+ACK makes both ends established in Zeek's eyes.
            ("Sh", ConnState::S1)
        ]
    );
}

#[test]
fn sf_when_rsts_follow_both_fins() {
    let packets = with(
        handshake(),
        [
            c("FA", 101, 501, 0),
            s("FA", 501, 102, 0),
            c("R", 102, 0, 0),
            s("R", 502, 0, 0),
        ],
    );
    let (history, state) = zeek(9000, &packets);
    assert_eq!(state, ConnState::Sf, "{history}");
}

#[test]
fn a_syn_into_the_servers_time_wait_is_answered_reset_and_retried() {
    use trace::TcpState::*;
    // The server closes first and sits in TIME-WAIT; the client comes back on the same
    // ports. The old TIME-WAIT answers the new SYN with an ACK of the old sequence space;
    // the client, in SYN-SENT, resets that ACK; the reset ends the TIME-WAIT (Linux), and
    // the retried SYN opens the new connection.
    let mut packets = with(
        handshake(),
        [
            s("FA", 501, 101, 0),
            c("A", 101, 502, 0),
            c("FA", 101, 502, 0),
            s("A", 502, 102, 0),
        ],
    );
    packets.extend([
        c("S", 7000, 0, 0).at(1000),
        s("A", 502, 102, 0).at(1001),
        c("R", 102, 0, 0).at(1002),
        c("S", 7000, 0, 0).at(2002),
        s("SA", 3000, 7001, 0).at(2003),
        c("A", 7001, 3001, 0).at(2004),
    ]);
    let explanation = explain("test", &capture(9000, &packets)[..]).unwrap();
    let [old, new] = &explanation.connections[..] else {
        panic!("{:#?}", explanation.connections);
    };
    let server_end = old.transitions.last().unwrap();
    assert_eq!(
        (server_end.frame, server_end.from, server_end.to),
        (10, TimeWait, Closed)
    );
    assert_eq!(server_end.rule, trace::Rule::ClosingReset);
    let story: Vec<(u64, trace::TcpState)> =
        new.transitions.iter().map(|t| (t.frame, t.to)).collect();
    assert_eq!(
        story,
        [
            (8, SynSent),
            (12, SynReceived),
            (12, Established),
            (13, Established)
        ]
    );
    assert_eq!((new.orig.retransmissions, new.resp.retransmissions), (0, 0));
    // Zeek: a record for the reset attempt, another for the retried SYN.
    let zeek: Vec<(&str, ConnState)> = explanation
        .conn_log
        .iter()
        .map(|r| (r.history.as_str(), r.conn_state))
        .collect();
    assert_eq!(
        zeek,
        [
            ("ShAfFa", ConnState::Sf),
            ("SaR", ConnState::Rstos0),
            ("ShA", ConnState::S1)
        ]
    );
    assert_eq!(new.zeek_records, [1, 2]);
}

#[test]
fn ignoring_checksums_reads_a_bad_one_as_zeek_dash_c_does() {
    let packets = with(handshake(), [c("PA", 101, 501, 10).corrupt()]);
    let bytes = capture(9000, &packets);
    let options = packetlab_observer::Options {
        ignore_checksums: true,
    };
    let explanation = packetlab_observer::explain_with("test", &bytes[..], options).unwrap();
    assert_eq!(explanation.conn_log[0].history, "ShAD");
}

#[test]
fn a_half_closed_connection_and_a_packet_decades_later_end_quickly() {
    // Found by fuzzing: the idle check of a half-closed connection rescheduled itself six
    // seconds at a time up to the next packet; Zeek fires it at the packet's time, once.
    let mut packets = with(handshake(), [c("FA", 101, 501, 0), s("A", 501, 102, 0)]);
    packets.push(c("S", 9000, 0, 0).at(60 * 365 * 24 * 3600 * 1000));
    let records = records(9000, &packets);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].conn_state, ConnState::S2);
}
