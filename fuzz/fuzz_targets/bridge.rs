//! The Python bridge's protocol: JSON request lines, as the shim in a learner's program sends
//! them, parsed and served against a host.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use python::protocol::Request;
use python::sockets::Sockets;
use stack::{Host, HostConfig};
use trace::Time;
use wire::MacAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = HostConfig::new(
        "py",
        MacAddr([2, 0, 0, 0, 0, 1]),
        Ipv4Addr::new(10, 0, 0, 1),
        24,
    );
    let mut host = Host::new(config);
    let mut sockets = Sockets::default();
    let mut now = Time::ZERO;
    for (i, line) in text.lines().take(64).enumerate() {
        let Ok(request) = serde_json::from_str::<Request>(line) else {
            continue;
        };
        now = Time(i as u64 * 10_000_000);
        // Two programs take turns by line, as two processes on one host do.
        let _ = sockets.serve(i % 2, &request, &mut host, (now, Time::ZERO));
    }
    // Both exit: the kernel closes what they left open.
    for process in 0..2 {
        sockets.close_process(process, &mut host, now);
    }
});
