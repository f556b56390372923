//! The loopback interface: traffic to 127.0.0.0/8 and to the host's own address goes through
//! `lo` (no ARP, no MAC addresses, never onto the cable), for TCP, UDP and ping alike.

use packetlab_scenario::{Report, parse_str, run};
use wire::{EthPayload, MacAddr};

fn scenario(program: &str) -> Report {
    let text = format!(
        "title = \"t\"\nduration = \"3min\"\n\
         [hosts.a]\nmac = \"02:00:00:00:00:01\"\nip = \"10.0.0.1/24\"\nprogram = '''{program}'''\n\
         [hosts.b]\nmac = \"02:00:00:00:00:02\"\nip = \"10.0.0.2/24\"\n\
         [[links]]\na = \"a\"\nb = \"b\"\n"
    );
    run(&parse_str("t.toml", &text).unwrap_or_else(|e| panic!("{e}"))).unwrap()
}

/// The (source, destination) addresses of every IPv4 frame on interface `iface`.
fn ends_on(report: &Report, iface: &str) -> Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
    let index = report
        .interfaces
        .iter()
        .position(|i| i.name == iface)
        .unwrap_or_else(|| panic!("an interface named {iface}"));
    report
        .records
        .iter()
        .filter(|r| r.interface as usize == index)
        .filter_map(|r| match wire::decode(&r.data).ok()?.payload {
            EthPayload::Ipv4(ip) => Some((ip.src, ip.dst)),
            _ => None,
        })
        .collect()
}

#[test]
fn tcp_to_our_own_address_goes_through_lo_and_never_onto_the_cable() {
    let report = scenario(
        "\ns = listen 9000\nc = connect 10.0.0.1:9000\nconn = accept s\nsend c \"x\"\n\
         got = recv conn 10\nclose c\nclose conn\n",
    );
    let lo = ends_on(&report, "a:lo");
    assert!(lo.len() >= 7, "handshake, data and close on lo: {lo:?}");
    let own = std::net::Ipv4Addr::new(10, 0, 0, 1);
    assert!(lo.iter().all(|&(s, d)| s == own && d == own), "{lo:?}");
    assert!(ends_on(&report, "a-b").is_empty(), "nothing on the cable");
    for record in &report.records {
        let frame = wire::decode(&record.data).unwrap();
        assert_eq!((frame.src, frame.dst), (MacAddr::ZERO, MacAddr::ZERO));
    }
}

#[test]
fn udp_and_ping_to_localhost_come_back_through_lo() {
    let report = scenario(
        "\nu = udp 5000\nv = udp 0\nsendto v \"ping?\" 127.0.0.1:5000\nd = recvfrom u\n\
         r = ping 127.0.0.9\n",
    );
    let text: Vec<String> = report.events.iter().map(|e| e.render()).collect();
    let text = text.join("\n");
    // From 127.0.0.1 and the ephemeral port `udp 0` drew from Linux's range (seeded).
    assert!(
        text.contains("d = recvfrom u → (b'ping?', ('127.0.0.1', 39193))"),
        "{text}"
    );
    assert!(
        text.contains("r = ping 127.0.0.9 → reply from 127.0.0.9"),
        "{text}"
    );
    let lo = ends_on(&report, "a:lo");
    let localhost = std::net::Ipv4Addr::LOCALHOST;
    assert!(
        lo.iter()
            .all(|&(s, _)| s == localhost || s == std::net::Ipv4Addr::new(127, 0, 0, 9))
    );
    assert!(report.verdicts.is_empty());
}
