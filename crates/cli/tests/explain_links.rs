//! `explain` reads the captures people really have: the same TCP conversations, rewrapped in
//! every link type and encapsulation it reads (802.1Q, QinQ, PPPoE, MPLS, LLC/SNAP, 802.1ah,
//! BSD loopback, Linux cooked v2, raw IP, PPP; GRE, VXLAN and Geneve tunnels), give tshark's
//! TCP segment and conversation counts; what it does not read is named, never a silent zero.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use observer::DataLink;

/// The Ethernet frames of a committed capture.
fn frames(capture: &str) -> Vec<(u64, Vec<u8>)> {
    let bytes = std::fs::read(common::root().join(capture)).unwrap();
    let mut out = Vec::new();
    observer::for_each_packet(capture, &bytes[..], |p| {
        out.push((p.t_ns, p.frame.to_vec()))
    })
    .unwrap();
    out
}

fn outer_ip(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::Ipv4Packet {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(192, 0, 2, 2),
        ttl: 64,
        ident: 7,
        header_checksum_ok: true,
        payload: wire::Ipv4Payload::Other {
            protocol,
            bytes: payload.to_vec(),
        },
    }
    .encode_into(&mut out);
    out
}

fn udp(port: u16, body: &[u8]) -> Vec<u8> {
    let len = (8 + body.len()) as u16;
    [
        &[0xc0, 0x00][..],
        &port.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        body,
    ]
    .concat()
}

/// One frame rewrapped; None for a frame the wrapping cannot carry (ARP without Ethernet).
fn wrap(how: &str, eth: &[u8]) -> Option<Vec<u8>> {
    let (macs, ethertype, ip) = (&eth[..12], &eth[12..14], &eth[14..]);
    let is_ip = ethertype == [0x08, 0x00];
    let tagged = |tag: &[u8]| [macs, tag, ethertype, ip].concat();
    Some(match how {
        "802.1Q" => tagged(&[0x81, 0x00, 0x00, 0x05]),
        "QinQ" => tagged(&[0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07]),
        "PPPoE" if is_ip => {
            // RFC 2516: version and type, code 0 (session data), session 1, then the length
            // of the PPP payload, its protocol included.
            let len = (2 + ip.len()) as u16;
            [
                macs,
                &[0x88, 0x64, 0x11, 0, 0, 1],
                &len.to_be_bytes(),
                &[0x00, 0x21],
                ip,
            ]
            .concat()
        }
        "MPLS" if is_ip => [macs, &[0x88, 0x47, 0, 1, 0x00, 64, 0, 2, 0x01, 64], ip].concat(),
        // An 802.3 length field holds at most 1500: larger frames cannot be LLC.
        "LLC/SNAP" if is_ip && ip.len() + 8 <= 1500 => {
            let len = (8 + ip.len()) as u16;
            [
                macs,
                &len.to_be_bytes(),
                &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00],
                ip,
            ]
            .concat()
        }
        "802.1ah" => [macs, &[0x88, 0xe7, 0, 0, 0, 1], macs, ethertype, ip].concat(),
        "NULL" if is_ip => [&[2, 0, 0, 0], ip].concat(),
        "LOOP" if is_ip => [&[0, 0, 0, 2], ip].concat(),
        "RAW" if is_ip => ip.to_vec(),
        "PPP" if is_ip => [&[0xff, 0x03, 0x00, 0x21], ip].concat(),
        // Protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length,
        // and the source address padded to 8 octets: 20 in all.
        "SLL2" => [
            ethertype,
            &[0; 2],
            &[0, 0, 0, 1],
            &[0, 1, 0, 6],
            &macs[6..],
            &[0, 0],
            ip,
        ]
        .concat(),
        "GRE" if is_ip => outer_ip(47, &[&[0, 0, 0x08, 0x00], ip].concat()),
        "VXLAN" => outer_ip(
            17,
            &udp(4789, &[&[0x08, 0, 0, 0, 0, 0, 1, 0], eth].concat()),
        ),
        "Geneve" => outer_ip(
            17,
            &udp(6081, &[&[0, 0, 0x65, 0x58, 0, 0, 1, 0], eth].concat()),
        ),
        other => return tunnelled(other, eth),
    })
}

/// An 802.11 QoS data frame to the distribution system, its body LLC/SNAP and the packet.
fn wifi(ethertype: &[u8], ip: &[u8]) -> Vec<u8> {
    let header: &[u8] = &[
        0x88, 0x01, 0, 0, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    ];
    [header, &[0xaa, 0xaa, 0x03, 0, 0, 0], ethertype, ip].concat()
}

/// The wrappings Zeek's test traces have beyond the common ones: more tunnels (over IPv4 and
/// IPv6), Cisco's tags, 802.11.
fn tunnelled(how: &str, eth: &[u8]) -> Option<Vec<u8>> {
    let (macs, ethertype, ip) = (&eth[..12], &eth[12..14], &eth[14..]);
    let is_ip = ethertype == [0x08, 0x00];
    let v6 = || to_ipv6(eth).map(|f| f[14..].to_vec());
    Some(match how {
        "IPinIP" if is_ip => outer_ip(4, ip),
        "GRE/UDP" if is_ip => outer_ip(17, &udp(4754, &[&[0, 0, 0x08, 0x00], ip].concat())),
        // An origin indication (RFC 4380 §5.1.1), then the IPv6 packet.
        "Teredo" => outer_ip(
            17,
            &udp(
                3544,
                &[&[0, 0, 0xc3, 0x50, 0x3f, 0xff, 0xfd, 0xfe][..], &v6()?].concat(),
            ),
        ),
        // A 16-octet identity, a 20-octet signature, "forward", IPv6 next.
        "AYIYA" => outer_ip(
            17,
            &udp(
                5072,
                &[&[0x41, 0x52, 0x11, 41, 0, 0, 0, 0][..], &[7; 36], &v6()?].concat(),
            ),
        ),
        // A G-PDU with a sequence field and one extension header (a PDU session container).
        "GTP-U" if is_ip => {
            let len = (4 + 4 + ip.len()) as u16;
            let header = [&[0x34, 0xff][..], &len.to_be_bytes(), &[0, 0, 0, 1]].concat();
            let ext = [0, 0, 0, 0x85, 1, 0x00, 0x09, 0x00];
            outer_ip(17, &udp(2152, &[&header[..], &ext, ip].concat()))
        }
        // GRE with the sequence bit: ERSPAN type II, its 8 octets, the mirrored frame.
        "ERSPAN" => outer_ip(
            47,
            &[
                &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1][..],
                &[0x10, 0, 0, 5, 0, 0, 0, 0],
                eth,
            ]
            .concat(),
        ),
        // PPTP's enhanced GRE: key (payload length, call ID) and sequence, then PPP.
        "PPTP" if is_ip => {
            let len = (4 + ip.len()) as u16;
            let gre = [
                &[0x30, 0x01, 0x88, 0x0b][..],
                &len.to_be_bytes(),
                &[0, 9, 0, 0, 0, 1],
            ];
            outer_ip(
                47,
                &[&gre.concat()[..], &[0xff, 0x03, 0x00, 0x21], ip].concat(),
            )
        }
        "Aruba" => outer_ip(
            47,
            &[&[0, 0, 0x82, 0x00][..], &wifi(ethertype, ip)].concat(),
        ),
        "GRE6" if is_ip => {
            let gre = [&[0, 0, 0x08, 0x00][..], ip].concat();
            let mut header = vec![0x60, 0, 0, 0];
            header.extend_from_slice(&(gre.len() as u16).to_be_bytes());
            header.extend_from_slice(&[47, 64]);
            header.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().ok()?.octets());
            header.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().ok()?.octets());
            [header, gre].concat()
        }
        "VN-Tag" => [macs, &[0x89, 0x26, 0x80, 0x05, 0, 0], ethertype, ip].concat(),
        "FabricPath" => [
            &[2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 8, 0x89, 0x03, 0, 1][..],
            eth,
        ]
        .concat(),
        "802.11" => wifi(ethertype, ip),
        "radiotap" => [&[0, 0, 8, 0, 0, 0, 0, 0][..], &wifi(ethertype, ip)].concat(),
        _ => return None,
    })
}

fn link_type(how: &str) -> DataLink {
    match how {
        "NULL" => DataLink::NULL,
        "LOOP" => DataLink::LOOP,
        "RAW" | "GRE" | "VXLAN" | "Geneve" | "IPinIP" | "GRE/UDP" | "Teredo" | "AYIYA"
        | "GTP-U" | "ERSPAN" | "PPTP" | "Aruba" | "GRE6" => DataLink::RAW,
        "802.11" => DataLink::IEEE802_11,
        "radiotap" => DataLink::IEEE802_11_RADIOTAP,
        "PPP" => DataLink::PPP,
        "SLL2" => DataLink::LINUX_SLL2,
        _ => DataLink::ETHERNET,
    }
}

fn write_pcap(path: &Path, link: DataLink, frames: &[(u64, Vec<u8>)]) {
    let header = pcap_file::pcap::PcapHeader {
        datalink: link,
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..Default::default()
    };
    let file = std::fs::File::create(path).unwrap();
    let mut writer = pcap_file::pcap::PcapWriter::with_header(file, header).unwrap();
    for (t, data) in frames {
        let packet = pcap_file::pcap::PcapPacket::new(
            std::time::Duration::from_nanos(*t),
            data.len() as u32,
            data,
        );
        writer.write_packet(&packet).unwrap();
    }
}

/// Whether tshark is there to compare with (a failure under PACKETLAB_REQUIRE_TSHARK).
fn tshark_present() -> bool {
    let found = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    common::prerequisite(found, "PACKETLAB_REQUIRE_TSHARK", "tshark")
}

/// tshark's TCP frame count and TCP conversation count.
fn tshark_counts(path: &Path) -> (u64, u64) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("tshark")
            .args(["-r", path.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let segments = run(&["-Y", "tcp"]).lines().count() as u64;
    let conversations = run(&["-q", "-z", "conv,tcp"])
        .lines()
        .filter(|l| l.contains("<->"))
        .count() as u64;
    (segments, conversations)
}

fn explain_counts(path: &Path) -> (u64, u64, String) {
    let out = common::packetlab(&["explain", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let segments = json["tcp_segments"].as_u64().unwrap();
    let connections = json["connections"].as_array().unwrap().len() as u64;
    (
        segments,
        connections,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every wrapping `wrap` makes.
const WRAPPINGS: [&str; 27] = [
    "802.1Q",
    "QinQ",
    "PPPoE",
    "MPLS",
    "LLC/SNAP",
    "802.1ah",
    "NULL",
    "LOOP",
    "RAW",
    "PPP",
    "SLL2",
    "GRE",
    "VXLAN",
    "Geneve",
    "IPinIP",
    "GRE/UDP",
    "Teredo",
    "AYIYA",
    "GTP-U",
    "ERSPAN",
    "PPTP",
    "Aruba",
    "GRE6",
    "VN-Tag",
    "FabricPath",
    "802.11",
    "radiotap",
];

#[test]
fn every_wrapping_gives_tshark_s_segment_and_conversation_counts() {
    let tshark = tshark_present();
    let dir = tempfile::tempdir().unwrap();
    let original = frames("captures/sack.pcapng");
    for how in WRAPPINGS {
        let wrapped: Vec<(u64, Vec<u8>)> = original
            .iter()
            .filter_map(|(t, f)| Some((*t, wrap(how, f)?)))
            .collect();
        // The frames a wrapping can carry (LLC cannot carry the largest), as they were.
        let kept: Vec<(u64, Vec<u8>)> = original
            .iter()
            .filter(|(_, f)| wrap(how, f).is_some())
            .cloned()
            .collect();
        let path = dir.path().join(format!("{}.pcap", how.replace('/', "-")));
        write_pcap(&path, link_type(how), &wrapped);
        let (segments, connections, _) = explain_counts(&path);
        assert!(
            segments > 60 && connections == 2,
            "{how}: {segments} segments, {connections}"
        );
        if tshark {
            assert_eq!(
                (segments, connections),
                tshark_counts(&path),
                "{how}: explain vs tshark"
            );
        }
        plots_like_the_original(&path, &kept, 1);
        let names: Vec<String> = observer::wrappings(link_type(how), &wrapped[0].1)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, wrapping_names(how), "{how}");
    }
}

/// One flow as `plot` sees it: its segments, octets and ACKs.
type FlowSeen = (usize, u64, usize);

/// What `plot` sees of each connection: its ports, and each flow.
fn flows_seen(path: &Path) -> Vec<(u16, u16, [FlowSeen; 2])> {
    let rec = plot::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut seen: Vec<_> = rec
        .conns
        .iter()
        .map(|c| {
            let flow = |f: &plot::Flow| (f.segs.len(), f.octets, f.acks.len());
            (
                c.client.port(),
                c.server.port(),
                [flow(&c.flows[0]), flow(&c.flows[1])],
            )
        })
        .collect();
    seen.sort();
    seen
}

/// `plot` reads a rewrapped capture as it reads the same frames unwrapped (`original`, plain
/// Ethernet, `copies` times over): the same connections with the same segments, octets and
/// ACKs; and each kind of picture draws.
fn plots_like_the_original(path: &Path, original: &[(u64, Vec<u8>)], copies: usize) {
    let plain = path.with_extension("plain.pcap");
    write_pcap(&plain, DataLink::ETHERNET, original);
    let mut expected: Vec<_> = (0..copies).flat_map(|_| flows_seen(&plain)).collect();
    expected.sort();
    assert_eq!(flows_seen(path), expected, "{}", path.display());
    let rec = plot::load(path).unwrap();
    for kind in [plot::Kind::Tcptrace, plot::Kind::Cwnd, plot::Kind::Rtt] {
        let request = plot::Request {
            kind: Some(kind),
            ..plot::Request::default()
        };
        let figure = plot::figure(&rec, &request).unwrap();
        assert!(plot::svg(&figure).ends_with("</svg>\n"), "{kind:?}");
    }
}

/// What `step` names each wrapping of the test frames.
fn wrapping_names(how: &str) -> Vec<&'static str> {
    match how {
        "802.1Q" => vec!["802.1Q VLAN 5"],
        "QinQ" => vec!["802.1ad service VLAN 5", "802.1Q VLAN 7"],
        "PPPoE" => vec!["PPPoE session 0x0001", "PPP"],
        "MPLS" => vec!["MPLS label 16", "MPLS label 32"],
        "LLC/SNAP" => vec!["802.2 LLC/SNAP"],
        "802.1ah" => vec!["802.1ah I-SID 1"],
        "NULL" | "LOOP" => vec!["BSD loopback, address family 2"],
        "PPP" => vec!["PPP"],
        "GRE" => vec!["GRE tunnel 192.0.2.1 → 192.0.2.2"],
        "VXLAN" => vec!["VXLAN VNI 1, tunnel 192.0.2.1 → 192.0.2.2"],
        "Geneve" => vec!["Geneve VNI 1, tunnel 192.0.2.1 → 192.0.2.2"],
        "IPinIP" => vec!["IP-in-IP tunnel 192.0.2.1 → 192.0.2.2"],
        "GRE/UDP" => vec!["GRE-in-UDP tunnel 192.0.2.1 → 192.0.2.2"],
        "Teredo" => vec!["Teredo tunnel 192.0.2.1 → 192.0.2.2"],
        "AYIYA" => vec!["AYIYA tunnel 192.0.2.1 → 192.0.2.2"],
        "GTP-U" => vec!["GTP-U TEID 0x1, tunnel 192.0.2.1 → 192.0.2.2"],
        "ERSPAN" => vec!["GRE tunnel 192.0.2.1 → 192.0.2.2", "ERSPAN type II"],
        "PPTP" => vec!["GRE tunnel 192.0.2.1 → 192.0.2.2", "PPP"],
        "Aruba" => vec![
            "GRE tunnel 192.0.2.1 → 192.0.2.2",
            "802.11 data frame",
            "802.2 LLC/SNAP",
        ],
        "GRE6" => vec!["GRE tunnel 2001:db8::1 → 2001:db8::2"],
        "VN-Tag" => vec!["VN-Tag, destination VIF 5"],
        "FabricPath" => vec!["Cisco FabricPath"],
        "802.11" | "radiotap" => vec!["802.11 data frame", "802.2 LLC/SNAP"],
        _ => vec![],
    }
}

#[test]
fn step_shows_the_tunnel_a_segment_came_through() {
    let dir = tempfile::tempdir().unwrap();
    let wrapped: Vec<(u64, Vec<u8>)> = frames("captures/handshake.pcapng")
        .iter()
        .filter_map(|(t, f)| Some((*t, wrap("VXLAN", f)?)))
        .collect();
    let path = dir.path().join("vxlan.pcap");
    write_pcap(&path, link_type("VXLAN"), &wrapped);
    let step = common::packetlab(&["step", "--plain", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&step.stdout);
    let syn = text
        .lines()
        .find(|l| l.contains("[SYN]"))
        .unwrap_or_default();
    assert!(
        syn.contains("(inside VXLAN VNI 1, tunnel 192.0.2.1 → 192.0.2.2)"),
        "{text}"
    );
    // The connection is the inner one: the ladder's columns are the inner hosts.
    assert!(
        text.contains("10.0.0.1") && !syn.starts_with("192.0.2"),
        "{text}"
    );
}

#[test]
fn what_explain_does_not_read_is_said_on_stderr_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zigbee.pcap");
    write_pcap(
        &path,
        DataLink::from(195),
        &frames("captures/handshake.pcapng"),
    );
    let (segments, _, stderr) = explain_counts(&path);
    assert_eq!(segments, 0);
    assert!(
        stderr.contains("skipped 11 frame(s): link type 195 (IEEE 802.15.4)"),
        "{stderr}"
    );
    let out = common::packetlab(&["explain", "--json", path.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["skipped"],
        serde_json::json!([{"kind": "link_type", "linktype": 195, "frames": 11}])
    );
}

#[test]
fn a_tcpdump_snaplen_capture_is_read_like_tshark_reads_it() {
    // tcpdump -s 96: the header's snaplen is 96, every record's original length beyond it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap96.pcap");
    let original = frames("captures/sack.pcapng");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    bytes.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&96u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    for (i, (t, frame)) in original.iter().enumerate() {
        let kept = &frame[..frame.len().min(96)];
        // A microsecond field of a second or more, as some writers leave it, on one record.
        let usec = if i == 3 {
            1_000_000
        } else {
            (t / 1000 % 1_000_000) as u32
        };
        bytes.extend_from_slice(&((t / 1_000_000_000) as u32).to_le_bytes());
        bytes.extend_from_slice(&usec.to_le_bytes());
        bytes.extend_from_slice(&(kept.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        bytes.extend_from_slice(kept);
    }
    std::fs::write(&path, &bytes).unwrap();
    let (segments, connections, _) = explain_counts(&path);
    let full = dir.path().join("full.pcap");
    write_pcap(&full, DataLink::ETHERNET, &original);
    assert_eq!((segments, connections), {
        let (s, c, _) = explain_counts(&full);
        (s, c)
    });
    // The byte counts come from the headers, not from the octets captured.
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(
            &common::packetlab(&["explain", "--json", p.to_str().unwrap()]).stdout,
        )
        .unwrap()
    };
    assert_eq!(
        json(&path)["connections"][0]["orig"],
        json(&full)["connections"][0]["orig"]
    );
}

/// The IPv4 header checksum (RFC 791).
fn header_checksum(header: &mut [u8]) {
    header[10..12].copy_from_slice(&[0, 0]);
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    header[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// An Ethernet frame's IPv4 packet cut into fragments of at most 496 octets of data, last
/// first when `reversed`; frames without a long IPv4 packet as they are.
fn fragments(eth: &[u8], reversed: bool) -> Vec<Vec<u8>> {
    let (head, ip) = eth.split_at(14);
    if head[12..14] != [0x08, 0x00] || ip.len() < 600 {
        return vec![eth.to_vec()];
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
    cut_into(&ip[hl..], reversed, |offset, more, piece| {
        let mut header = ip[..hl].to_vec();
        header[2..4].copy_from_slice(&((hl + piece.len()) as u16).to_be_bytes());
        let field = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        header[6..8].copy_from_slice(&field.to_be_bytes());
        header_checksum(&mut header);
        [head, &header, piece].concat()
    })
}

/// `data` cut into pieces of at most 496 octets, each made a frame by `frame(offset, more
/// fragments follow, piece)`; last first when `reversed`.
fn cut_into(
    data: &[u8],
    reversed: bool,
    frame: impl Fn(usize, bool, &[u8]) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = data
        .chunks(496)
        .enumerate()
        .map(|(i, piece)| frame(i * 496, (i + 1) * 496 < data.len(), piece))
        .collect();
    if reversed {
        out.reverse();
    }
    out
}

#[test]
fn fragments_are_reassembled_not_read_as_segments() {
    let tshark = tshark_present();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fragments.pcap");
    let mut frames_out = Vec::new();
    for (i, (t, frame)) in frames("captures/sack.pcapng").into_iter().enumerate() {
        for piece in fragments(&frame, i % 2 == 1) {
            frames_out.push((t, piece));
        }
    }
    write_pcap(&path, DataLink::ETHERNET, &frames_out);
    let (segments, connections, _) = explain_counts(&path);
    assert!(
        frames_out.len() as u64 > segments + 200,
        "fragments were made"
    );
    let whole = dir.path().join("whole.pcap");
    write_pcap(&whole, DataLink::ETHERNET, &frames("captures/sack.pcapng"));
    read_as_whole((segments, connections), &path, &whole, tshark);
    let step = common::packetlab(&["step", "--plain", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&step.stdout);
    assert!(
        text.contains("Fragmented IP protocol (proto=6, off=496"),
        "{text}"
    );
}

#[test]
fn no_prefix_of_any_frame_committed_or_made_here_makes_explain_step_or_report_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut cut = Vec::new();
    let mut captures: Vec<_> = std::fs::read_dir(common::root().join("captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    captures.sort();
    for capture in &captures {
        let name = format!(
            "captures/{}",
            capture.file_name().unwrap().to_string_lossy()
        );
        // The headers are where a reader can trip: every prefix of them, of a few frames each.
        for (t, frame) in frames(&name).into_iter().take(12) {
            for n in 0..=frame.len().min(96) {
                cut.push((t, frame[..n].to_vec()));
            }
        }
    }
    let mut files = vec![
        (DataLink::ETHERNET, "ethernet".to_string(), cut.clone()),
        (DataLink::NULL, "null".to_string(), cut),
    ];
    // And the test captures made here: every wrapping, IPv6, IPv6 fragments.
    let handshake = frames("captures/handshake.pcapng");
    let prefixes = |frames: &[Vec<u8>]| -> Vec<(u64, Vec<u8>)> {
        frames
            .iter()
            .flat_map(|f| (0..=f.len().min(160)).map(|n| (0, f[..n].to_vec())))
            .collect()
    };
    for how in WRAPPINGS {
        let wrapped: Vec<Vec<u8>> = handshake.iter().filter_map(|(_, f)| wrap(how, f)).collect();
        files.push((link_type(how), how.replace('/', "-"), prefixes(&wrapped)));
    }
    let v6: Vec<Vec<u8>> = handshake.iter().filter_map(|(_, f)| to_ipv6(f)).collect();
    let v6_pieces: Vec<Vec<u8>> = frames("captures/sack.pcapng")
        .iter()
        .take(20)
        .filter_map(|(_, f)| to_ipv6(f))
        .flat_map(|f| fragments_v6(&f, 1, false))
        .collect();
    files.push((DataLink::ETHERNET, "ipv6".into(), prefixes(&v6)));
    files.push((
        DataLink::ETHERNET,
        "ipv6-fragments".into(),
        prefixes(&v6_pieces),
    ));
    for (link, how, cut) in files {
        let path = dir.path().join(format!("prefixes-{how}.pcap"));
        write_pcap(&path, link, &cut);
        let file = path.to_str().unwrap();
        let report = dir.path().join("report.html").display().to_string();
        for args in [
            vec!["explain", file],
            vec!["step", "--plain", file],
            vec!["report", "--output", &report, file],
        ] {
            let out = common::packetlab(&args);
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
    }
}

/// An Ethernet frame's IPv4 TCP packet as the same segment over IPv6 (fd00::10.0.0.1 and so
/// on), its checksum made anew; None for anything else.
fn to_ipv6(eth: &[u8]) -> Option<Vec<u8>> {
    let ip = wire::Ipv4View::new_checked(eth.get(14..)?).ok()?;
    if eth[12..14] != [0x08, 0x00] || ip.protocol() != 6 {
        return None;
    }
    let v6 = |a: Ipv4Addr| {
        let o = a.octets();
        std::net::Ipv6Addr::new(
            0xfd00,
            0,
            0,
            0,
            0,
            0,
            u16::from_be_bytes([o[0], o[1]]),
            u16::from_be_bytes([o[2], o[3]]),
        )
    };
    let (src, dst) = (v6(ip.src()), v6(ip.dst()));
    let mut tcp = eth[14 + ip.header_len()..].to_vec();
    tcp[16..18].copy_from_slice(&[0, 0]);
    let sum = wire::pseudo_header_checksum_v6(src, dst, 6, &tcp);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut header = vec![0x60, 0, 0, 0];
    header.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    header.extend_from_slice(&[6, ip.ttl()]);
    header.extend_from_slice(&src.octets());
    header.extend_from_slice(&dst.octets());
    Some([&eth[..12], &[0x86, 0xdd][..], &header, &tcp].concat())
}

#[test]
fn ipv6_connections_are_explained_like_ipv4_ones() {
    let tshark = tshark_present();
    let dir = tempfile::tempdir().unwrap();
    let v4 = frames("captures/sack.pcapng");
    let v6: Vec<(u64, Vec<u8>)> = v4
        .iter()
        .filter_map(|(t, f)| Some((*t, to_ipv6(f)?)))
        .collect();
    let converted: Vec<(u64, Vec<u8>)> = v4
        .iter()
        .filter(|(_, f)| to_ipv6(f).is_some())
        .cloned()
        .collect();
    // Ethernet, and BSD loopback with macOS's AF_INET6 (30), as Wireshark writes lo0.
    let mut mixed = v4.clone();
    mixed.extend(v6.iter().map(|(t, f)| (t + 5_000_000_000, f.clone())));
    let null: Vec<(u64, Vec<u8>)> = v6
        .iter()
        .map(|(t, f)| (*t, [&[30, 0, 0, 0][..], &f[14..]].concat()))
        .collect();
    for (name, link, list) in [
        ("v6", DataLink::ETHERNET, &v6),
        ("mixed", DataLink::ETHERNET, &mixed),
        ("lo0", DataLink::NULL, &null),
    ] {
        let path = dir.path().join(format!("{name}.pcap"));
        write_pcap(&path, link, list);
        let (segments, connections, stderr) = explain_counts(&path);
        let expected = if name == "mixed" { 4 } else { 2 };
        assert_eq!(connections, expected, "{name}: {stderr}");
        assert!(segments > 200, "{name}");
        plots_like_the_original(&path, &converted, if name == "mixed" { 2 } else { 1 });
        if tshark {
            assert_eq!(
                (segments, connections),
                tshark_counts(&path),
                "{name}: explain vs tshark"
            );
        }
    }
    let path = dir.path().join("v6.pcap");
    let out = common::packetlab(&["explain", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The client's port is an ephemeral one (Linux's range), the server's 9000.
    let client = text
        .split("[fd00::a00:1]:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse::<u16>().ok());
    assert!(
        client.is_some_and(|p| stack::EPHEMERAL_PORTS.contains(&p)),
        "{text}"
    );
    assert!(text.contains(" → [fd00::a00:2]:9000"), "{text}");
    assert!(text.contains("FIN-WAIT-2 → TIME-WAIT"), "{text}");
    let step = common::packetlab(&["step", "--plain", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&step.stdout);
    assert!(text.contains("fd00::a00:1 → fd00::a00:2"), "{text}");
    assert!(text.contains("[SYN] Seq=0"), "{text}");
}

/// An IPv6 frame's payload cut into fragments of at most 496 octets, each behind a
/// Fragment header (RFC 8200 §4.5), last first when `reversed`.
fn fragments_v6(eth: &[u8], ident: u32, reversed: bool) -> Vec<Vec<u8>> {
    let (head, ip) = eth.split_at(14);
    if ip.len() < 600 {
        return vec![eth.to_vec()];
    }
    let (fixed, data) = ip.split_at(40);
    cut_into(data, reversed, |offset, more, piece| {
        let mut header = fixed.to_vec();
        header[4..6].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
        header[6] = 44;
        let field = offset as u16 | u16::from(more);
        let mut fragment = vec![fixed[6], 0];
        fragment.extend_from_slice(&field.to_be_bytes());
        fragment.extend_from_slice(&ident.to_be_bytes());
        [head, &header, &fragment, piece].concat()
    })
}

#[test]
fn ipv6_fragments_are_reassembled_like_tshark_does() {
    let tshark = tshark_present();
    let dir = tempfile::tempdir().unwrap();
    let v6: Vec<(u64, Vec<u8>)> = frames("captures/sack.pcapng")
        .iter()
        .filter_map(|(t, f)| Some((*t, to_ipv6(f)?)))
        .collect();
    let mut cut = Vec::new();
    for (i, (t, frame)) in v6.iter().enumerate() {
        for piece in fragments_v6(frame, i as u32, i % 2 == 1) {
            cut.push((*t, piece));
        }
    }
    let path = dir.path().join("fragments6.pcap");
    write_pcap(&path, DataLink::ETHERNET, &cut);
    let whole = dir.path().join("whole6.pcap");
    write_pcap(&whole, DataLink::ETHERNET, &v6);
    let (segments, connections, stderr) = explain_counts(&path);
    assert!(cut.len() as u64 > segments + 200, "fragments were made");
    assert!(stderr.is_empty(), "{stderr}");
    read_as_whole((segments, connections), &path, &whole, tshark);
}

/// A capture cut into fragments gives the counts of the same capture whole, and tshark's.
fn read_as_whole(counts: (u64, u64), cut: &Path, whole: &Path, tshark: bool) {
    let (whole_segments, whole_connections, _) = explain_counts(whole);
    assert_eq!(counts, (whole_segments, whole_connections));
    if tshark {
        assert_eq!(counts, tshark_counts(cut), "explain vs tshark");
    }
}

#[test]
fn step_shows_windows_scaled_as_wireshark_does() {
    // The congestion lesson's server offers 256 KiB with a window scale option.
    let out = common::packetlab(&["step", "--plain", "captures/congestion.pcapng"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let widest = text
        .lines()
        .filter(|l| l.contains("  9000 → ") && !l.contains("SYN"))
        .filter_map(|l| {
            l.split("Win=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap();
    assert!(widest > 65_535, "the window field times 2^shift: {widest}");
    let syn_ack = text.lines().find(|l| l.contains("[SYN, ACK]")).unwrap();
    // Never scaled, and a whole number of segments (45 of 1448), as Linux offers it.
    assert!(
        syn_ack.contains("Win=65160"),
        "a SYN's window is never scaled: {syn_ack}"
    );
}

/// Every prefix of every frame of every committed capture, through every decoder: the wire
/// decoder and its summaries, the link walk and its wrappings, the dissector's layers and TCP
/// fields. None may panic (the test would abort), whatever the cut.
#[test]
fn every_prefix_of_every_committed_frame_goes_through_every_decoder() {
    let mut captures = Vec::new();
    for dir in ["captures", "captures/python"] {
        for entry in std::fs::read_dir(common::root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pcapng") {
                captures.push(format!(
                    "{dir}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    captures.sort();
    let mut seen = std::collections::HashSet::new();
    let mut prefixes = 0u64;
    for capture in &captures {
        for (_, frame) in frames(capture) {
            // The same frame in another capture, or on another link, adds nothing.
            if !seen.insert(frame.clone()) {
                continue;
            }
            for n in 0..=frame.len() {
                let cut = &frame[..n];
                if let Ok(decoded) = wire::decode(cut) {
                    let _ = wire::summary(&decoded);
                }
                let _ = wire::summary_of(cut);
                let ip = observer::ip_in(DataLink::ETHERNET, cut);
                let _ = observer::wrappings(DataLink::ETHERNET, cut);
                if let Some(ip) = ip {
                    let _ = wire::summary_of_ipv4(ip);
                    let _ = timeline::dissect::tcp_fields(ip);
                }
                let captured = timeline::Captured {
                    link: DataLink::ETHERNET,
                    data: cut.to_vec(),
                };
                let _ = timeline::dissect::layers(&captured, 1, frame.len());
                prefixes += 1;
            }
        }
    }
    assert!(prefixes > 100_000, "{prefixes} prefixes");
}
