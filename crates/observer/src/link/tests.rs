use std::net::Ipv4Addr;

use super::*;

/// An IPv4 packet with a TCP SYN in it, and its protocol number overridable.
fn ip(protocol_payload: Option<(u8, &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    let payload = match protocol_payload {
        None => wire::Ipv4Payload::Tcp(wire::TcpSegment {
            src_port: 40000,
            dst_port: 80,
            flags: wire::TcpFlags {
                syn: true,
                ..wire::TcpFlags::default()
            },
            checksum_ok: true,
            ..wire::TcpSegment::default()
        }),
        Some((protocol, bytes)) => wire::Ipv4Payload::Other {
            protocol,
            bytes: bytes.to_vec(),
        },
    };
    wire::Ipv4Packet {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        ttl: 64,
        ident: 1,
        header_checksum_ok: true,
        payload,
    }
    .encode_into(&mut out);
    out
}

fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(rest);
    f
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn ipv4_is_found_under_every_ethernet_wrapping() {
    let packet = ip(None);
    let vlan = eth(0x8100, &cat(&[&[0, 5, 0x08, 0x00], &packet]));
    let qinq = eth(
        0x88a8,
        &cat(&[&[0, 5, 0x81, 0x00, 0, 7, 0x08, 0x00], &packet]),
    );
    let pppoe = eth(
        0x8864,
        &cat(&[&[0x11, 0, 0, 1, 0, 42, 0x00, 0x21], &packet]),
    );
    let mpls = eth(0x8847, &cat(&[&[0, 1, 0x00, 64, 0, 2, 0x01, 64], &packet]));
    let snap = eth(
        60,
        &cat(&[&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00], &packet]),
    );
    let pbb_inner = cat(&[&[0; 12], &[0x08, 0x00], &packet]);
    let pbb = eth(0x88e7, &cat(&[&[0, 0, 0, 1], &pbb_inner]));
    for (name, frame) in [
        ("plain", eth(0x0800, &packet)),
        ("802.1Q", vlan),
        ("QinQ", qinq),
        ("PPPoE", pppoe),
        ("MPLS", mpls),
        ("LLC/SNAP", snap),
        ("802.1ah", pbb),
    ] {
        assert_eq!(
            inner(DataLink::ETHERNET, &frame),
            Inner::Ipv4(&packet),
            "{name}"
        );
    }
}

#[test]
fn ipv4_is_found_on_every_link_type() {
    let packet = ip(None);
    let cases = [
        (DataLink::NULL, cat(&[&[2, 0, 0, 0], &packet])),
        (DataLink::LOOP, cat(&[&[0, 0, 0, 2], &packet])),
        (DataLink::RAW, packet.clone()),
        (DataLink::IPV4, packet.clone()),
        (DataLink::PPP, cat(&[&[0xff, 0x03, 0x00, 0x21], &packet])),
        (
            DataLink::LINUX_SLL,
            cat(&[&[0; 14], &[0x08, 0x00], &packet]),
        ),
        (
            DataLink::LINUX_SLL2,
            cat(&[&[0x08, 0x00], &[0; 18], &packet]),
        ),
    ];
    for (link, frame) in cases {
        assert_eq!(inner(link, &frame), Inner::Ipv4(&packet), "{link:?}");
    }
}

#[test]
fn tunnels_lead_to_the_inner_packet() {
    let packet = ip(None);
    let gre = ip(Some((
        47,
        &cat(&[&[0x20, 0, 0x08, 0x00, 0, 0, 0, 9], &packet]),
    )));
    assert_eq!(
        inner(DataLink::RAW, &gre),
        Inner::Ipv4(&packet),
        "GRE with a key"
    );
    let inner_eth = eth(0x0800, &packet);
    let vxlan_body = cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &inner_eth]);
    let udp = |port: u16, body: &[u8]| {
        let len = (8 + body.len()) as u16;
        cat(&[
            &[0xc0, 0],
            &port.to_be_bytes(),
            &len.to_be_bytes(),
            &[0, 0],
            body,
        ])
    };
    let vxlan = ip(Some((17, &udp(4789, &vxlan_body))));
    assert_eq!(inner(DataLink::RAW, &vxlan), Inner::Ipv4(&packet), "VXLAN");
    let geneve_body = cat(&[&[0x01, 0, 0x65, 0x58, 0, 0, 1, 0], &[0; 4], &inner_eth]);
    let geneve = ip(Some((17, &udp(6081, &geneve_body))));
    assert_eq!(
        inner(DataLink::RAW, &geneve),
        Inner::Ipv4(&packet),
        "Geneve, one option word"
    );
}

#[test]
fn what_is_not_read_is_named() {
    let v6 = [0x60; 40];
    assert_eq!(
        inner(DataLink::ETHERNET, &eth(0x86dd, &v6)),
        Inner::Ipv6(&v6)
    );
    assert_eq!(
        inner(DataLink::ETHERNET, &eth(0x0806, &[0; 28])),
        Inner::Arp
    );
    assert_eq!(
        inner(DataLink::ETHERNET, &eth(0x88cc, &[0; 10])),
        Inner::Unread(Unread::EtherType { ethertype: 0x88cc })
    );
    assert_eq!(
        inner(DataLink::from(195), &[0; 30]),
        Inner::Unread(Unread::LinkType { linktype: 195 })
    );
    // 802.11: a management frame, and a data frame whose body is encrypted.
    assert_eq!(
        inner(DataLink::IEEE802_11, &[0; 30]),
        Inner::Unread(Unread::WirelessControl)
    );
    let mut protected = [0; 40];
    protected[..2].copy_from_slice(&[0x08, 0x41]);
    assert_eq!(
        inner(DataLink::IEEE802_11, &protected),
        Inner::Unread(Unread::Encrypted)
    );
    assert_eq!(
        inner(DataLink::ETHERNET, &[0; 13]),
        Inner::Unread(Unread::CutShort)
    );
    assert_eq!(
        inner(DataLink::RAW, &[0x50; 20]),
        Inner::Unread(Unread::IpVersion { version: 5 })
    );
}

#[test]
fn no_prefix_of_a_wrapped_frame_panics() {
    let packet = ip(None);
    let frame = eth(
        0x8100,
        &cat(&[&[0, 5, 0x88, 0x47, 0, 1, 0x01, 64], &packet]),
    );
    for n in 0..=frame.len() {
        for link in [
            DataLink::ETHERNET,
            DataLink::NULL,
            DataLink::PPP,
            DataLink::LINUX_SLL2,
        ] {
            let _ = inner(link, &frame[..n]);
        }
    }
}

#[test]
fn teredo_is_found_away_from_its_port_as_zeeks_signature_finds_it() {
    let v6 = |src: [u8; 16]| {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        p.extend_from_slice(&src);
        p.extend_from_slice(&[
            0x20, 0x01, 0x48, 0x60, 0, 0, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x68,
        ]);
        p
    };
    let udp = |body: &[u8]| {
        let len = (8 + body.len()) as u16;
        cat(&[&[0x9c, 0x40, 0xc3, 0x50], &len.to_be_bytes(), &[0, 0], body])
    };
    let teredo_client = [
        0x20, 0x01, 0, 0, 0x41, 0x37, 0x9e, 0x50, 0x80, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15,
    ];
    let tunnelled = v6(teredo_client);
    let outer = ip(Some((17, &udp(&tunnelled))));
    assert_eq!(inner(DataLink::RAW, &outer), Inner::Ipv6(&tunnelled));
    // The same datagram between two ordinary addresses is UDP, not a tunnel.
    let plain = v6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let outer = ip(Some((17, &udp(&plain))));
    assert_eq!(inner(DataLink::RAW, &outer), Inner::Ipv4(&outer));
}
