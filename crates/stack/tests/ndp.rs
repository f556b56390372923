//! IPv6 on our host, as transcripts: the test plays a neighbour on the link, crafting each
//! packet by hand and checking what our host answers. Neighbor Discovery (RFC 4861), ICMPv6
//! (RFC 4443), and TCP and UDP over IPv6 (RFC 8200 §8.1, RFC 9293 §3.7.1).

use std::net::{Ipv6Addr, SocketAddr};

use packetlab_stack::{Driven, Host, HostConfig, PingResult, SocketApi, SocketError};
use trace::{ArpAction, EventKind, Time};
use wire::{EthPayload, Frame, Icmpv6Message, Ipv6Packet, Ipv6Payload, MacAddr, TcpFlags};
use wire::{NeighborAdvert, TcpSegment, UdpDatagram};

const US: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const US_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

fn host() -> Host {
    let mut config = HostConfig::new("us", US_MAC, "10.0.0.1".parse().unwrap(), 24);
    config.ip6 = vec![(US, 64)];
    config.seed = 42;
    Host::new(config)
}

/// A frame from the peer to `dst_mac`, carrying `payload` from PEER to `dst`.
fn from_peer(dst: (MacAddr, Ipv6Addr), hop_limit: u8, payload: Ipv6Payload) -> Vec<u8> {
    Frame {
        src: PEER_MAC,
        dst: dst.0,
        payload: EthPayload::Ipv6(Ipv6Packet {
            src: PEER,
            dst: dst.1,
            hop_limit,
            payload,
        }),
    }
    .encode()
}

/// The frames our host sent, decoded.
fn sent(host: &mut Host) -> Vec<Frame> {
    let frames = host.take_frames();
    frames
        .iter()
        .map(|b| wire::decode(b).unwrap().into_owned())
        .collect()
}

fn ipv6(frame: &Frame) -> &Ipv6Packet {
    match &frame.payload {
        EthPayload::Ipv6(ip) => ip,
        other => panic!("not IPv6: {other:?}"),
    }
}

fn neighbour_actions(host: &mut Host) -> Vec<ArpAction> {
    host.take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Arp { action, ip, .. } if ip.is_ipv6() => Some(action),
            _ => None,
        })
        .collect()
}

/// The peer solicits our address: our host learns the peer's MAC from it (RFC 4861 §7.2.3)
/// and answers, which the test takes away.
fn advertise_peer(host: &mut Host, now: Time) {
    let ns = Icmpv6Message::NeighborSolicit {
        target: US,
        source_mac: Some(PEER_MAC),
    };
    host.receive(
        now,
        &from_peer((US_MAC, US), 255, Ipv6Payload::Icmpv6(ns)),
        1,
    );
    host.take_frames();
    host.take_events();
}

#[test]
fn a_packet_for_an_unknown_neighbour_waits_for_a_solicitation_to_its_group() {
    let mut host = host();
    let id = host.udp_bind(Time::ZERO, 5000).unwrap();
    host.sendto(Time::ZERO, id, b"hi", SocketAddr::from((PEER, 9)))
        .unwrap();
    let frames = sent(&mut host);
    assert_eq!(
        frames.len(),
        1,
        "the datagram waits; one solicitation leaves"
    );
    let ns = ipv6(&frames[0]);
    let group: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
    assert_eq!(
        (frames[0].dst, ns.dst),
        (MacAddr([0x33, 0x33, 0xff, 0, 0, 2]), group)
    );
    assert_eq!((ns.src, ns.hop_limit), (US, 255));
    assert_eq!(
        ns.payload,
        Ipv6Payload::Icmpv6(Icmpv6Message::NeighborSolicit {
            target: PEER,
            source_mac: Some(US_MAC),
        })
    );
    assert_eq!(
        neighbour_actions(&mut host),
        [ArpAction::Queued, ArpAction::RequestSent]
    );
    let na = Icmpv6Message::NeighborAdvert(NeighborAdvert {
        router: false,
        solicited: true,
        override_flag: true,
        target: PEER,
        target_mac: Some(PEER_MAC),
    });
    let na = from_peer((US_MAC, US), 255, Ipv6Payload::Icmpv6(na));
    host.receive(Time::from_millis(1), &na, 1);
    let frames = sent(&mut host);
    assert_eq!(frames.len(), 1, "the datagram that waited");
    assert_eq!(frames[0].dst, PEER_MAC);
    assert!(matches!(ipv6(&frames[0]).payload, Ipv6Payload::Udp(_)));
    assert_eq!(neighbour_actions(&mut host), [ArpAction::Learned]);
}

#[test]
fn three_unanswered_solicitations_a_second_apart_and_the_packet_is_dropped() {
    let mut host = host();
    let id = host.udp_bind(Time::ZERO, 5000).unwrap();
    host.sendto(Time::ZERO, id, b"hi", SocketAddr::from((PEER, 9)))
        .unwrap();
    let mut times = vec![Time::ZERO];
    sent(&mut host);
    while let Some(at) = host.poll_at() {
        host.poll_timers(at);
        if !sent(&mut host).is_empty() {
            times.push(at);
        }
        if at > Time::from_secs(10) {
            break;
        }
    }
    assert_eq!(times, [0, 1, 2].map(Time::from_secs));
    let drops: Vec<String> = host
        .take_events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Drop { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        drops,
        [
            "1 packet(s) for 2001:db8:1::2: no neighbor advertisement after 3 solicitations \
          (RFC 4861 §7.2.2)"
        ]
    );
}

#[test]
fn a_solicitation_for_our_address_is_answered_and_teaches_us_the_asker() {
    let mut host = host();
    let ns = Icmpv6Message::NeighborSolicit {
        target: US,
        source_mac: Some(PEER_MAC),
    };
    let group = "ff02::1:ff00:1".parse().unwrap();
    let to_group = (MacAddr([0x33, 0x33, 0xff, 0, 0, 1]), group);
    host.receive(
        Time::ZERO,
        &from_peer(to_group, 255, Ipv6Payload::Icmpv6(ns)),
        1,
    );
    let frames = sent(&mut host);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        frames[0].dst, PEER_MAC,
        "the answer is unicast to the asker"
    );
    assert_eq!(
        ipv6(&frames[0]).payload,
        Ipv6Payload::Icmpv6(Icmpv6Message::NeighborAdvert(NeighborAdvert {
            router: false,
            solicited: true,
            override_flag: true,
            target: US,
            target_mac: Some(US_MAC),
        }))
    );
    assert_eq!(
        neighbour_actions(&mut host),
        [ArpAction::Learned, ArpAction::ReplySent]
    );
    // The asker is known now: a ping to it needs no solicitation of its own.
    host.ping(Time::ZERO, PEER.into(), 64).unwrap();
    let frames = sent(&mut host);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].dst, PEER_MAC);
}

#[test]
fn neighbor_discovery_from_beyond_the_link_is_dropped() {
    let mut host = host();
    let ns = Icmpv6Message::NeighborSolicit {
        target: US,
        source_mac: Some(PEER_MAC),
    };
    // A router on the way would have lowered the hop limit from 255 (RFC 4861 §7.1.1).
    host.receive(
        Time::ZERO,
        &from_peer((US_MAC, US), 254, Ipv6Payload::Icmpv6(ns)),
        1,
    );
    assert!(sent(&mut host).is_empty());
}

#[test]
fn an_advertisement_nobody_asked_for_is_not_cached() {
    let mut host = host();
    let na = Icmpv6Message::NeighborAdvert(NeighborAdvert {
        router: false,
        solicited: false,
        override_flag: true,
        target: PEER,
        target_mac: Some(PEER_MAC),
    });
    // RFC 4861 §7.2.5: with no entry for the target, the advertisement is discarded.
    host.receive(
        Time::ZERO,
        &from_peer((US_MAC, US), 255, Ipv6Payload::Icmpv6(na)),
        1,
    );
    host.ping(Time::ZERO, PEER.into(), 64).unwrap();
    let frames = sent(&mut host);
    assert_eq!(
        frames[0].dst,
        MacAddr([0x33, 0x33, 0xff, 0, 0, 2]),
        "a solicitation"
    );
}

#[test]
fn a_frame_for_another_solicited_node_group_is_not_taken() {
    let mut host = host();
    let ns = Icmpv6Message::NeighborSolicit {
        target: PEER,
        source_mac: Some(PEER_MAC),
    };
    let group = "ff02::1:ff00:2".parse().unwrap();
    let to_group = (MacAddr([0x33, 0x33, 0xff, 0, 0, 2]), group);
    host.receive(
        Time::ZERO,
        &from_peer(to_group, 255, Ipv6Payload::Icmpv6(ns)),
        1,
    );
    assert!(sent(&mut host).is_empty());
    assert_eq!(neighbour_actions(&mut host), []);
}

#[test]
fn echo_requests_are_answered_and_our_pings_matched() {
    let mut host = host();
    advertise_peer(&mut host, Time::ZERO);
    let request = Icmpv6Message::EchoRequest {
        id: 9,
        seq: 1,
        data: b"abc".to_vec(),
    };
    host.receive(
        Time::ZERO,
        &from_peer((US_MAC, US), 64, Ipv6Payload::Icmpv6(request)),
        2,
    );
    let frames = sent(&mut host);
    let reply = Icmpv6Message::EchoReply {
        id: 9,
        seq: 1,
        data: b"abc".to_vec(),
    };
    assert_eq!(ipv6(&frames[0]).payload, Ipv6Payload::Icmpv6(reply));
    let id = host.ping(Time::ZERO, PEER.into(), 64).unwrap();
    let frames = sent(&mut host);
    let Ipv6Payload::Icmpv6(Icmpv6Message::EchoRequest {
        id: sent_id, data, ..
    }) = &ipv6(&frames[0]).payload
    else {
        panic!("not an echo request")
    };
    assert_eq!(*sent_id, id);
    let reply = Icmpv6Message::EchoReply {
        id,
        seq: 1,
        data: data.clone(),
    };
    let at = Time::from_millis(3);
    host.receive(
        at,
        &from_peer((US_MAC, US), 61, Ipv6Payload::Icmpv6(reply)),
        3,
    );
    assert_eq!(
        host.ping_result(id).map(|r| r.to_string()),
        Some("reply from 2001:db8:1::2: icmp_seq=1 ttl=61 time=3.000 ms".into())
    );
    assert!(matches!(
        host.ping_result(id),
        Some(PingResult::Reply { .. })
    ));
}

#[test]
fn a_datagram_to_a_closed_port_gets_icmpv6_port_unreachable_and_a_connected_socket_econnrefused() {
    let mut host = host();
    advertise_peer(&mut host, Time::ZERO);
    let udp = UdpDatagram {
        src_port: 7000,
        dst_port: 9,
        payload: b"anyone?".to_vec(),
        checksum_ok: true,
    };
    let bytes = from_peer((US_MAC, US), 64, Ipv6Payload::Udp(udp));
    host.receive(Time::ZERO, &bytes, 2);
    let frames = sent(&mut host);
    let Ipv6Payload::Icmpv6(Icmpv6Message::Unreachable { code, original }) =
        &ipv6(&frames[0]).payload
    else {
        panic!("not destination unreachable")
    };
    assert_eq!(*code, 4, "port unreachable (RFC 4443 §3.1)");
    assert_eq!(
        original[..],
        bytes[14..],
        "the whole packet, within 1280 octets"
    );

    // Our connected socket hears of it as Linux reports it: ECONNREFUSED on the next call.
    let id = host.udp_bind(Time::ZERO, 7000).unwrap();
    let remote = SocketAddr::from((PEER, 9));
    host.udp_connect(id, remote).unwrap();
    host.sendto(Time::ZERO, id, b"x", remote).unwrap();
    let ours = sent(&mut host).remove(0);
    let mut quoted = Vec::new();
    ipv6(&ours).clone().encode_into(&mut quoted);
    let error = Icmpv6Message::Unreachable {
        code: 4,
        original: quoted,
    };
    host.receive(
        Time::ZERO,
        &from_peer((US_MAC, US), 64, Ipv6Payload::Icmpv6(error)),
        3,
    );
    assert_eq!(
        host.recvfrom(Time::ZERO, id, 100),
        Err(SocketError::ConnectionRefused)
    );
}

#[test]
fn a_syn_over_ipv6_announces_the_mtu_less_60_octets_and_a_rst_answers_a_closed_port() {
    let mut host = host();
    advertise_peer(&mut host, Time::ZERO);
    host.connect(Time::ZERO, SocketAddr::from((PEER, 80)))
        .unwrap();
    let frames = sent(&mut host);
    let Ipv6Payload::Tcp(syn) = &ipv6(&frames[0]).payload else {
        panic!("not TCP")
    };
    assert_eq!(
        syn.mss,
        Some(1440),
        "1500 − 40 (IPv6) − 20 (TCP), RFC 9293 §3.7.1"
    );
    assert!(syn.checksum_ok);
    let probe = TcpSegment {
        src_port: 40000,
        dst_port: 81,
        seq: 5000,
        flags: TcpFlags {
            syn: true,
            ..TcpFlags::default()
        },
        window: 8192,
        checksum_ok: true,
        ..TcpSegment::default()
    };
    host.receive(
        Time::ZERO,
        &from_peer((US_MAC, US), 64, Ipv6Payload::Tcp(probe)),
        2,
    );
    let frames = sent(&mut host);
    let Ipv6Payload::Tcp(rst) = &ipv6(&frames[0]).payload else {
        panic!("not TCP")
    };
    assert!(rst.flags.rst && rst.flags.ack && rst.ack == 5001);
}

/// A host with SLAAC and no address of its own.
fn slaac_host() -> Host {
    let mut config = HostConfig::new("us", US_MAC, "10.0.0.1".parse().unwrap(), 24);
    config.slaac = true;
    config.seed = 42;
    Host::new(config)
}

fn advert(prefix: &str, mtu: Option<u32>) -> Ipv6Payload {
    Ipv6Payload::Icmpv6(Icmpv6Message::RouterAdvert(wire::RouterAdvert {
        hop_limit: 64,
        lifetime: 1800,
        mtu,
        source_mac: Some(PEER_MAC),
        prefixes: vec![wire::PrefixInfo {
            prefix: prefix.parse().unwrap(),
            len: 64,
            on_link: true,
            autonomous: true,
            valid: 86_400,
            preferred: 14_400,
        }],
    }))
}

#[test]
fn slaac_solicits_routers_three_times_four_seconds_apart_until_one_answers() {
    let mut host = slaac_host();
    let mut times = Vec::new();
    while let Some(at) = host.poll_at().filter(|t| *t < Time::from_secs(20)) {
        host.poll_timers(at);
        for frame in sent(&mut host) {
            let rs = ipv6(&frame);
            assert_eq!(rs.dst, "ff02::2".parse::<Ipv6Addr>().unwrap());
            assert_eq!(rs.src, "fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap());
            assert!(matches!(
                rs.payload,
                Ipv6Payload::Icmpv6(Icmpv6Message::RouterSolicit { .. })
            ));
            times.push(at);
        }
    }
    assert_eq!(
        times,
        [0, 4, 8].map(Time::from_secs),
        "RFC 4861 §6.3.7, §10"
    );
}

#[test]
fn an_advertisement_gives_an_address_a_default_router_and_the_link_mtu() {
    let mut host = slaac_host();
    host.poll_timers(Time::ZERO);
    sent(&mut host);
    let router: Ipv6Addr = "fe80::1".parse().unwrap();
    let frame = Frame {
        src: PEER_MAC,
        dst: MacAddr([0x33, 0x33, 0, 0, 0, 1]),
        payload: EthPayload::Ipv6(Ipv6Packet {
            src: router,
            dst: "ff02::1".parse().unwrap(),
            hop_limit: 255,
            payload: advert("2001:db8:7::", Some(1400)),
        }),
    };
    host.receive(Time::from_millis(1), &frame.encode(), 1);
    let formed: Ipv6Addr = "2001:db8:7::ff:fe00:1".parse().unwrap();
    assert!(
        host.is_own_address(formed.into()),
        "the prefix and our interface identifier"
    );
    assert_eq!(
        host.poll_at(),
        None,
        "no more solicitations once a router answered"
    );
    // Off-link destinations go to the router, whose MAC the advertisement carried: the SYN
    // leaves at once, from the new address, with the MSS of the advertised MTU.
    let far = SocketAddr::from(("2001:db8:99::5".parse::<Ipv6Addr>().unwrap(), 80));
    host.connect(Time::from_millis(2), far).unwrap();
    let frames = sent(&mut host);
    assert_eq!(frames[0].dst, PEER_MAC);
    let syn = ipv6(&frames[0]);
    assert_eq!(syn.src, formed);
    let Ipv6Payload::Tcp(seg) = &syn.payload else {
        panic!("not TCP")
    };
    assert_eq!(seg.mss, Some(1340), "1400 − 60");
}

#[test]
fn packet_too_big_shrinks_the_segments_and_resends_what_was_too_big() {
    let mut host = host();
    advertise_peer(&mut host, Time::ZERO);
    let id = host
        .connect(Time::ZERO, SocketAddr::from((PEER, 80)))
        .unwrap();
    let syn = match &ipv6(&sent(&mut host)[0]).payload {
        Ipv6Payload::Tcp(s) => s.clone(),
        other => panic!("not TCP: {other:?}"),
    };
    let synack = TcpSegment {
        src_port: 80,
        dst_port: syn.src_port,
        seq: 7000,
        ack: syn.seq + 1,
        flags: TcpFlags {
            syn: true,
            ack: true,
            ..TcpFlags::default()
        },
        window: 65535,
        mss: Some(1440),
        checksum_ok: true,
        ..TcpSegment::default()
    };
    host.receive(
        Time::from_millis(1),
        &from_peer((US_MAC, US), 64, Ipv6Payload::Tcp(synack)),
        2,
    );
    host.send(Time::from_millis(1), id, &[7; 3000]).unwrap();
    let big: Vec<Vec<u8>> = host.take_frames();
    let first = big
        .iter()
        .find(|f| f.len() > 1300)
        .expect("a full-size segment")
        .clone();
    assert_eq!(first.len(), 14 + 40 + 20 + 1440);
    // A router on the way says the next link takes 1280 octets.
    let too_big = Icmpv6Message::PacketTooBig {
        mtu: 1280,
        original: first[14..14 + 1232].to_vec(),
    };
    let at = Time::from_millis(2);
    host.receive(
        at,
        &from_peer((US_MAC, US), 64, Ipv6Payload::Icmpv6(too_big)),
        3,
    );
    let again = sent(&mut host);
    let sizes: Vec<usize> = again
        .iter()
        .filter_map(|f| match &ipv6(f).payload {
            Ipv6Payload::Tcp(s) => Some(s.payload.len()),
            _ => None,
        })
        .collect();
    assert!(
        !sizes.is_empty() && sizes.iter().all(|n| *n <= 1220),
        "{sizes:?}"
    );
    let Ipv6Payload::Tcp(resent) = &ipv6(&again[0]).payload else {
        panic!("not TCP")
    };
    assert_eq!(resent.seq, syn.seq + 1, "from SND.UNA");
}

/// A host that checks its addresses for duplicates first.
fn dad_host() -> Host {
    let mut config = HostConfig::new("us", US_MAC, "10.0.0.1".parse().unwrap(), 24);
    config.ip6 = vec![(US, 64)];
    config.dad = true;
    config.seed = 42;
    Host::new(config)
}

#[test]
fn dad_probes_from_the_unspecified_address_and_takes_the_address_after_a_quiet_second() {
    let mut host = dad_host();
    assert!(!host.is_own_address(US.into()), "tentative: not ours yet");
    host.poll_timers(Time::ZERO);
    let probes: Vec<(Ipv6Addr, Ipv6Payload)> = sent(&mut host)
        .iter()
        .map(|f| (ipv6(f).src, ipv6(f).payload.clone()))
        .collect();
    let probe = |target| {
        let ns = Icmpv6Message::NeighborSolicit {
            target,
            source_mac: None,
        };
        (Ipv6Addr::UNSPECIFIED, Ipv6Payload::Icmpv6(ns))
    };
    let link_local: Ipv6Addr = "fe80::ff:fe00:1".parse().unwrap();
    assert_eq!(probes, [probe(link_local), probe(US)], "RFC 4862 §5.4.2");
    assert_eq!(host.poll_at(), Some(Time::from_secs(1)));
    host.poll_timers(Time::from_secs(1));
    assert!(
        host.is_own_address(US.into()),
        "nobody answered in a second"
    );
}

#[test]
fn dad_gives_the_address_up_when_its_owner_defends_it() {
    let mut host = dad_host();
    host.poll_timers(Time::ZERO);
    sent(&mut host);
    // The address's owner answers the probe, to all nodes (RFC 4861 §7.2.4).
    let na = Icmpv6Message::NeighborAdvert(NeighborAdvert {
        router: false,
        solicited: false,
        override_flag: true,
        target: US,
        target_mac: Some(PEER_MAC),
    });
    let all_nodes = (
        MacAddr([0x33, 0x33, 0, 0, 0, 1]),
        "ff02::1".parse().unwrap(),
    );
    host.receive(
        Time::from_millis(2),
        &from_peer(all_nodes, 255, Ipv6Payload::Icmpv6(na)),
        1,
    );
    host.poll_timers(Time::from_secs(1));
    assert!(
        !host.is_own_address(US.into()),
        "RFC 4862 §5.4.5: never used"
    );
    assert!(host.is_own_address("fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap().into()));
    // And a solicitation for it now is someone else's business: no answer.
    let ns = Icmpv6Message::NeighborSolicit {
        target: US,
        source_mac: Some(PEER_MAC),
    };
    let group = (
        MacAddr([0x33, 0x33, 0xff, 0, 0, 1]),
        "ff02::1:ff00:1".parse().unwrap(),
    );
    host.receive(
        Time::from_secs(2),
        &from_peer(group, 255, Ipv6Payload::Icmpv6(ns)),
        2,
    );
    assert!(sent(&mut host).is_empty());
}
