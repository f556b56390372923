//! Wireshark reads our captures without complaint: tshark with checksum validation on.

mod common;

use std::process::Command;

use common::{prerequisite, root, shipped_scenarios};

fn have_tshark() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(found, "PACKETLAB_REQUIRE_TSHARK", "tshark")
}

/// tshark's fields for every frame of a capture, checksums validated.
fn fields(capture: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec![
        "-r".to_string(),
        capture.to_string(),
        "-o".into(),
        "tcp.check_checksum:TRUE".into(),
        "-o".into(),
        "ip.check_checksum:TRUE".into(),
        "-T".into(),
        "fields".into(),
        "-E".into(),
        "separator=|".into(),
        "-E".into(),
        "aggregator=;".into(),
    ];
    for f in fields {
        args.push("-e".into());
        args.push((*f).into());
    }
    let out = Command::new("tshark")
        .args(&args)
        .current_dir(root())
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {capture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

const PI_WARN: u32 = 0x0060_0000;
/// Wireshark's expert group for TCP sequence analysis: retransmissions, zero windows,
/// duplicate ACKs. Lessons about loss and flow control are made of these.
const PI_SEQUENCE: u32 = 0x0200_0000;
/// Wireshark's expert group for checksums.
const PI_CHECKSUM: u32 = 0x0100_0000;

/// Everything tshark finds wrong with a capture: malformed packets, checksums that are not
/// "Good" (status 1), unnamed interfaces, expert items of warning severity or worse (but for
/// resets where `resets_expected`, which Wireshark always flags, and TCP sequence analysis,
/// which describes what TCP did rather than a fault of the capture). An ICMPv6 error quotes
/// as much of the packet it is about as fits in 1280 octets (RFC 4443 §2.4(c)): the quoted
/// segment is cut, so its checksum cannot hold, and is not asked to; the ICMPv6 checksum is.
fn problems(capture: &str, resets_expected: bool) -> Vec<String> {
    let rows = fields(
        capture,
        &[
            "frame.number",
            "_ws.malformed",
            "ip.checksum.status",
            "tcp.checksum.status",
            "_ws.expert.severity",
            "_ws.expert.message",
            "frame.interface_name",
            "_ws.expert.group",
            "icmpv6.type",
            "icmpv6.checksum.status",
        ],
    );
    let mut found = Vec::new();
    if rows.is_empty() {
        found.push(format!("{capture} has no frames"));
    }
    for row in rows {
        let frame = &row[0];
        if !row[1].is_empty() {
            found.push(format!("frame {frame} is malformed"));
        }
        let quoting = row[8]
            .split(';')
            .next()
            .and_then(|t| t.parse::<u8>().ok())
            .is_some_and(|t| (1..=4).contains(&t));
        // In an error, the first ICMPv6 checksum is the message's own; the rest are quoted.
        let (transport, icmpv6) = if quoting {
            ("", row[9].split(';').next().unwrap_or(""))
        } else {
            (row[3].as_str(), row[9].as_str())
        };
        for status in row[2]
            .split(';')
            .chain(transport.split(';'))
            .chain(icmpv6.split(';'))
            .filter(|s| !s.is_empty())
        {
            if status != "1" {
                found.push(format!(
                    "frame {frame}: checksum status {status} (1 is good)"
                ));
            }
        }
        if row[6].is_empty() {
            found.push(format!("frame {frame} has no interface name"));
        }
        let messages: Vec<&str> = row[5].split(';').collect();
        let groups: Vec<&str> = row[7].split(';').collect();
        for (i, severity) in row[4].split(';').filter(|s| !s.is_empty()).enumerate() {
            let severity: u32 = severity.parse().unwrap();
            let rst = messages
                .get(i)
                .is_some_and(|m| m.starts_with("Connection reset"));
            let group = groups.get(i).and_then(|g| g.parse::<u32>().ok());
            let sequence = group == Some(PI_SEQUENCE);
            let quoted_checksum = quoting && group == Some(PI_CHECKSUM);
            let excused = (rst && resets_expected) || sequence || quoted_checksum;
            if severity >= PI_WARN && !excused {
                found.push(format!(
                    "frame {frame}: expert item {:?} of severity {severity:#x}",
                    messages.get(i)
                ));
            }
        }
    }
    found
}

#[test]
fn every_committed_capture_is_clean() {
    if !have_tshark() {
        return;
    }
    for scenario in shipped_scenarios() {
        let stem = scenario.file_stem().unwrap().to_string_lossy().into_owned();
        let capture = format!("captures/{stem}.pcapng");
        // The closed-port lesson is about a reset, which Wireshark flags as a warning.
        let problems = problems(&capture, stem == "closed-port");
        assert!(problems.is_empty(), "{capture}: {problems:#?}");
    }
}

#[test]
fn the_checker_catches_a_flipped_bit() {
    if !have_tshark() {
        return;
    }
    let mut bytes = std::fs::read(root().join("captures/handshake.pcapng")).unwrap();
    // The client's ephemeral port, as the trace names its end.
    let trace = std::fs::read_to_string(root().join("captures/handshake.trace.jsonl")).unwrap();
    let port: u16 = trace
        .split(r#""local":"10.0.0.1:"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|p| p.parse().ok())
        .expect("the client's port in the trace");
    // Flip a bit in the TCP header of the SYN (frame 3): its checksum no longer matches.
    let [hi, lo] = port.to_be_bytes();
    let syn = bytes
        .windows(4)
        .position(|w| w == [hi, lo, 0x23, 0x28])
        .expect("the SYN from the client's port to 9000");
    bytes[syn + 14] ^= 0x40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.pcapng");
    std::fs::write(&path, bytes).unwrap();
    let problems = problems(path.to_str().unwrap(), false);
    assert!(
        problems.iter().any(|p| p.contains("checksum status 0")),
        "{problems:#?}"
    );
}

#[test]
fn the_handshake_capture_tells_the_story() {
    if !have_tshark() {
        return;
    }
    let rows = fields(
        "captures/handshake.pcapng",
        &["tcp.flags.str", "frame.comment", "_ws.expert.severity"],
    );
    let tcp: Vec<&Vec<String>> = rows.iter().filter(|r| !r[0].is_empty()).collect();
    let flags: Vec<String> = tcp
        .iter()
        .map(|r| r[0].chars().filter(|c| c.is_ascii_alphabetic()).collect())
        .collect();
    assert_eq!(&flags[..3], ["S", "AS", "A"], "SYN, SYN+ACK, ACK");
    assert_eq!(
        flags.iter().filter(|f| f.contains('F')).count(),
        2,
        "both FINs: {flags:?}"
    );
    for row in &rows {
        for severity in row[2].split(';').filter(|s| !s.is_empty()) {
            assert!(severity.parse::<u32>().unwrap() < PI_WARN, "{row:?}");
        }
    }
    let comments: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    let all = comments.join("\n");
    for expected in [
        "server: LISTEN → SYN-RECEIVED",
        "client: SYN-SENT → ESTABLISHED",
        "client: FIN-WAIT-2 → TIME-WAIT",
        "client: TIME-WAIT → CLOSED",
    ] {
        assert!(all.contains(expected), "no comment {expected:?} in\n{all}");
    }
}

#[test]
fn snaplen_truncates_frames_but_keeps_their_length() {
    if !have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = common::packetlab(&[
        "run",
        "scenarios/lossy-transfer.toml",
        "--quiet",
        "--snaplen",
        "128",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let capture = dir.path().join("lossy-transfer.pcapng");
    let rows = fields(
        capture.to_str().unwrap(),
        &["frame.len", "frame.cap_len", "_ws.malformed"],
    );
    assert!(!rows.is_empty());
    let mut truncated = 0;
    for row in &rows {
        let (len, cap): (usize, usize) = (row[0].parse().unwrap(), row[1].parse().unwrap());
        assert_eq!(cap, len.min(128), "{row:?}");
        assert!(
            row[2].is_empty(),
            "a truncated frame is not a malformed one: {row:?}"
        );
        truncated += usize::from(len > cap);
    }
    assert!(truncated > 20, "the data segments are cut to 128 octets");
}
