//! UDP keeps message boundaries, on our stack and on smoltcp alike.

fn lesson(server_engine: &str) -> packetlab_scenario::Report {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/udp-datagrams.toml"),
    )
    .unwrap()
    .replace(
        "ip  = \"10.0.0.2/24\"",
        &format!("ip  = \"10.0.0.2/24\"\nengine = \"{server_engine}\""),
    );
    let scenario = packetlab_scenario::parse_str("udp-datagrams.toml", &text).unwrap();
    packetlab_scenario::run(&scenario).unwrap()
}

#[test]
fn each_recvfrom_returns_one_whole_datagram_on_either_engine() {
    for engine in ["packetlab", "smoltcp"] {
        let report = lesson(engine);
        for verdict in report
            .verdicts
            .iter()
            .filter(|v| v.text.starts_with("server."))
        {
            assert!(
                verdict.passed,
                "{engine}: {} — {}",
                verdict.text, verdict.actual
            );
        }
    }
}

#[test]
fn a_datagram_to_a_closed_port_draws_icmp_port_unreachable() {
    for engine in ["packetlab", "smoltcp"] {
        let report = lesson(engine);
        let unreachable = report.records.iter().any(|r| {
            matches!(
                wire::decode(&r.data).map(|f| f.payload),
                Ok(wire::EthPayload::Ipv4(wire::Ipv4Packet {
                    payload: wire::Ipv4Payload::Icmp(wire::IcmpMessage::Unreachable {
                        code: 3,
                        ..
                    }),
                    ..
                }))
            )
        });
        assert!(unreachable, "{engine} answers with ICMP port unreachable");
    }
}
