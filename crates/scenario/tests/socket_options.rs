//! Socket options set from a scenario change what goes on the wire.

use wire::{EthPayload, Ipv4Payload};

fn scenario(option_line: &str) -> String {
    format!(
        r#"
title = "three small sends"
[hosts.client]
mac = "02:00:00:00:00:01"
ip  = "10.0.0.1/24"
program = '''
c = connect 10.0.0.2:9000
{option_line}
send c "a"
send c "b"
send c "c"
sleep 1s
close c
'''
[hosts.server]
mac = "02:00:00:00:00:02"
ip  = "10.0.0.2/24"
program = '''
s = listen 9000
conn = accept s
got = recvall conn
'''
[[links]]
a = "client"
b = "server"
delay = "10ms"
"#
    )
}

/// The payload lengths of the client's data segments.
fn client_segments(text: &str) -> Vec<usize> {
    let s = packetlab_scenario::parse_str("test.toml", text).unwrap();
    let report = packetlab_scenario::run(&s).unwrap();
    report
        .records
        .iter()
        .filter_map(|r| match wire::decode(&r.data).ok()?.payload {
            EthPayload::Ipv4(ip) if ip.src.octets()[3] == 1 => match ip.payload {
                Ipv4Payload::Tcp(seg) if !seg.payload.is_empty() => Some(seg.payload.len()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn nagle_coalesces_small_sends_and_tcp_nodelay_does_not() {
    // Nagle: "a" goes at once, "b" and "c" wait for its ACK and leave together.
    assert_eq!(client_segments(&scenario("")), [1, 2]);
    assert_eq!(
        client_segments(&scenario("setsockopt c TCP_NODELAY 1")),
        [1, 1, 1]
    );
}
