//! Malformed input: each scenario file gets `file:line:column: message`, exit status 2, and no
//! output file is left behind; `tap` says what is wrong with its arguments before anything else.

mod common;

use common::packetlab;

const CASES: &[(&str, &str)] = &[
    (
        "route-off-subnet",
        "10:11: route to 0.0.0.0/0 via 192.168.0.1: 192.168.0.1 is on none of the router's \
         subnets (10.0.1.0/24)",
    ),
    (
        "bad-route",
        "9:11: `10.0.3.0/24 to 10.0.1.2`: expected a route like \"10.0.3.0/24 via 10.0.2.2\" \
         or \"default via 10.0.2.254\"",
    ),
    (
        "switch-lists-router",
        "9:35: a cable to router `r1` is written once, on the router's port \
         (`{ to = \"sw\", mac = …, ip = … }`), not on the switch",
    ),
    ("bad-ping-ttl", "7:23: `0`: expected a TTL 1–255"),
    (
        "port-with-link-ends",
        "8:16: a port names its far end with `to`; `a` and `b` are for [[links]]",
    ),
    (
        "link-without-b",
        "7:1: a link needs `a` and `b`, the two nodes it joins",
    ),
    (
        "unknown-fault",
        "14:10: unknown field `los`, expected one of `jitter`, `loss`, `drop`, `reorder`, \
         `reorder_delay`, `duplicate`, `corrupt`, `rate`, `queue`",
    ),
    (
        "bad-framed-format",
        "8:23: `'q'`: expected a struct format for a 4-byte length: 'i' or 'I' (little-endian, \
         as on x86), '!i' or '!I' (network order)",
    ),
    (
        "group-on-a-cable",
        "13:5: `client` is a group of 3 hosts (`count`): list it on a switch's ports, which \
         gives each its own port",
    ),
    (
        "unknown-handler",
        "8:9: `reverse`: expected a handler, echo or upper",
    ),
    ("bad-toml", "1:22: invalid basic string, expected `\"`"),
    (
        "unknown-field",
        "5:1: unknown field `ipp`, expected one of `mac`, `ip`, `count`, `gateway`, `ip6`, \
         `gateway6`, `slaac`, `dad`, `msl`, `mtu`, `recv_buffer`, `send_buffer`, `engine`, `tap`, `min_rto`, `profile`, `congestion`, `syn_backlog`, `sack`, `timestamps`, `syncookies`, `program`, `python`, `args`, `stdin`",
    ),
    (
        "bad-ip6",
        "6:22: `2001:db8::zz/64`: expected an IPv6 address with a prefix length, like \
         2001:db8:1::10/64",
    ),
    (
        "bad-address",
        "5:7: `10.0.0.300/24`: expected an IPv4 address with a prefix length, like 10.0.0.1/24",
    ),
    (
        "missing-prefix",
        "5:7: `10.0.0.1`: expected an IPv4 address with a prefix length, like 10.0.0.1/24",
    ),
    (
        "bad-mac",
        "4:7: `02:00:00:00:01`: expected a MAC address like 02:00:00:00:00:01 (six hex pairs \
         separated by ':')",
    ),
    (
        "duplicate-mac",
        "8:7: MAC 02:00:00:00:00:01 is already used by host `client`; every MAC must be unique",
    ),
    (
        "duplicate-ip",
        "9:7: IP address 10.0.0.1 is already used by host `client`",
    ),
    (
        "link-to-nowhere",
        "15:36: link to `srv`, which is not a host, a switch or a router; known: client, server, sw1",
    ),
    (
        "host-with-two-links",
        "19:5: host `server` already has a link (client-server); a host has one network \
         interface",
    ),
    (
        "unknown-call",
        "8:5: unknown call `conect`; expected one of sleep, at, listen, accept, connect, send, \
         recv, recvall, shutdown, close, abort, wait, setsockopt, udp, sendto, recvfrom, ping, \
         send_file, recv_file, serve",
    ),
    (
        "unknown-connection",
        "8:6: `d` is not defined; assign it first, e.g. `d = connect 10.0.0.2:9000`",
    ),
    (
        "accept-on-connection",
        "8:15: `c` is not a listening socket (from listen)",
    ),
    (
        "bad-duration",
        "7:7: `10`: expected a duration like 10ms, 1.5s, 2min or 500us",
    ),
    (
        "unterminated-string",
        "8:8: unterminated string: missing closing \"",
    ),
    (
        "bad-state",
        "3:26: `ESTABLISH` is not a TCP state; expected one of CLOSED, LISTEN, SYN-SENT, \
         SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, \
         TIME-WAIT",
    ),
    (
        "unknown-host-in-expect",
        "3:1: unknown host `servr`; known hosts: client, server",
    ),
    ("negative-seed", "2:8: the seed must be a whole number ≥ 0"),
    (
        "no-hosts",
        "1:1: nothing to run: a scenario needs at least one host (`[hosts.NAME]` with an `ip`; \
         `packetlab lessons --copy DIR` writes out examples)",
    ),
    (
        "long-title",
        "2:9: a title of one line and at most 200 characters (the lesson text takes the rest)",
    ),
    (
        "bad-percent",
        "18:8: `5`: expected a percentage like \"5%\" or \"0.5%\"",
    ),
    (
        "bad-rate",
        "18:19: `10 Mbps`: expected a rate like 10Mbit, 1Gbit, 500kbit (bits per second)",
    ),
    (
        "queue-without-rate",
        "18:9: `queue` needs a `rate`: without a rate limit nothing waits",
    ),
    (
        "drop-frame-zero",
        "18:8: `drop` lists frame counts from 1 (the first frame), found 0",
    ),
    (
        "unknown-engine",
        "14:10: unknown engine `lwip`; expected \"packetlab\" or \"smoltcp\"",
    ),
    (
        "unknown-socket-option",
        "8:14: unknown option `TCP_FASTOPEN`; expected TCP_NODELAY, TCP_QUICKACK or TCP_CORK",
    ),
    (
        "bad-size",
        "8:22: `10MB`: expected a size like 1000, 64KiB, 16MiB or 1GiB",
    ),
    (
        "tap-without-kernel",
        "6:7: host `client` is on a TAP device, so a [kernel] table must say what runs at the \
         other end (ip and python)",
    ),
    (
        "same-as-unknown",
        "3:28: host `server`'s program never assigns `got`",
    ),
    (
        "group-outside-subnet",
        "4:9: 300 hosts from 10.0.0.10 do not fit in 10.0.0.0/24: the last would be 10.0.1.53; \
         widen the prefix or start lower",
    ),
    (
        "connect-unknown-host",
        "7:13: `serverr:9000`: expected an address like 10.0.0.2:9000 or HOST:PORT with a host \
         of client, server",
    ),
    (
        "connection-index",
        "3:8: `server:9000[0]`: expected which connection in brackets, counting from 1, as in \
         server:9000[2]",
    ),
];

#[test]
fn every_malformed_file_is_rejected_with_its_position_and_status_2() {
    let dir = common::root().join("crates/cli/tests/malformed");
    let on_disk = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        on_disk,
        CASES.len(),
        "every file in {} has a case",
        dir.display()
    );
    for (name, message) in CASES {
        let out = tempfile::tempdir().unwrap();
        let file = format!("crates/cli/tests/malformed/{name}.toml");
        let result = packetlab(&["run", &file, "--out", out.path().to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("error: {file}:{message}"),
            "{name}"
        );
        let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
        assert!(left.is_empty(), "{name} left files behind: {left:?}");
    }
}

#[test]
fn one_bad_file_among_good_ones_runs_none() {
    let out = tempfile::tempdir().unwrap();
    let result = packetlab(&[
        "run",
        "scenarios/handshake.toml",
        "crates/cli/tests/malformed/bad-mac.toml",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn a_missing_file_and_bad_usage_are_status_2() {
    let result = packetlab(&["run", "scenarios/no-such-lesson.toml"]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains(
            "error: scenarios/no-such-lesson.toml: no such file, and no built-in lesson of that \
             name (`packetlab lessons` lists them)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains(":1:1:"),
        "no position in a file that is not there: {stderr}"
    );
    assert_eq!(packetlab(&["run"]).status.code(), Some(2));
    assert_eq!(packetlab(&["fly"]).status.code(), Some(2));
}

#[test]
fn a_failed_expectation_is_status_1_with_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::root().join("scenarios/handshake.toml"))
        .unwrap()
        .replace("server.msg  = \"hello\\n\"", "server.msg  = \"goodbye\\n\"");
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, text).unwrap();
    let result = packetlab(&[
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains("FAIL  server.msg  = \"goodbye\\n\"\n        actual: = b'hello\\n'"),
        "{stdout}"
    );
}

#[test]
fn tap_says_what_is_wrong_with_its_arguments_before_looking_at_the_machine() {
    // No namespace of this name exists, and nothing is looked at: the arguments are wrong.
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("x.pcapng");
    let tap = |dev: &str, capture: &std::path::Path| {
        common::tap_echo_server("packetlab-no-such-namespace", dev, capture)
    };
    let long = tap("a-name-too-long-for-linux", &capture);
    assert_eq!(long.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&long.stderr);
    assert!(
        stderr.contains("--dev") && stderr.contains("IFNAMSIZ"),
        "{stderr}"
    );
    let odd = tap("tap/0", &capture);
    assert_eq!(odd.status.code(), Some(2));
    let nowhere = tap("tap0", &dir.path().join("no/such/folder/x.pcapng"));
    let stderr = String::from_utf8_lossy(&nowhere.stderr);
    if nix::unistd::geteuid().is_root() {
        assert_eq!(nowhere.status.code(), Some(2));
        assert!(stderr.contains("no such folder"), "{stderr}");
    } else {
        // Without privileges that is said first (exit 3), and nothing else is looked at.
        assert_eq!(nowhere.status.code(), Some(3));
        assert!(stderr.contains("needs root"), "{stderr}");
    }
    assert!(!dir.path().join("no").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn step_says_what_it_reads_and_where_a_trace_breaks() {
    let readme = packetlab(&["step", "--plain", "README.md"]);
    assert_eq!(readme.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&readme.stderr);
    assert!(stderr.contains("neither a trace nor a capture"), "{stderr}");
    let scenario = packetlab(&["step", "--plain", "scenarios/handshake.toml"]);
    assert_eq!(scenario.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&scenario.stderr);
    assert!(
        stderr.contains("run it first (`packetlab run scenarios/handshake.toml`)"),
        "{stderr}"
    );
    // A trace cut inside its fourth line: that line, its column, and no "line 1" of serde's.
    let dir = tempfile::tempdir().unwrap();
    let whole =
        std::fs::read_to_string(common::root().join("captures/handshake.trace.jsonl")).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let cut = format!(
        "{}\n{}\n{}\n{}",
        lines[0],
        lines[1],
        lines[2],
        &lines[3][..20]
    );
    let path = dir.path().join("cut.trace.jsonl");
    std::fs::write(&path, cut).unwrap();
    let out = packetlab(&["step", "--plain", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":line 4: column 20: the line ends inside an event"),
        "{stderr}"
    );
    assert!(!stderr.contains("at line 1"), "{stderr}");
}

#[test]
fn tap_takes_its_options_after_the_app_too() {
    let out = packetlab(&[
        "tap",
        "--netns",
        "pl-no-such-lab",
        "echo-server",
        "9",
        "--loss",
        "5%",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    // Not run here (no such lab, or no root): refused for that, with its own words.
    assert!(matches!(out.status.code(), Some(2 | 3)), "{stderr}");
}
