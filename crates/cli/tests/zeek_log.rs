//! `explain --zeek-log`: Zeek's conn.log, read back as a TSV file the way `zeek-cut` reads it,
//! its header held to the field list Zeek documents for `Conn::Info`, and its packet and IP
//! octet counts held to tshark's for every committed capture.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use common::{prerequisite, root};

/// Zeek's documented conn.log columns and their types (base/protocols/conn/main.zeek, Zeek 7.1
/// and later, which added `ip_proto`).
const ZEEK_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
];

const CONN_STATES: &[&str] = &[
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];

/// A conn.log read as Zeek's ASCII reader reads one: header lines by their tag, records as
/// maps from the `#fields` names to their text.
struct ConnLog {
    header: BTreeMap<String, String>,
    fields: Vec<String>,
    types: Vec<String>,
    records: Vec<BTreeMap<String, String>>,
    closed: bool,
}

fn parse(text: &str) -> ConnLog {
    let mut log = ConnLog {
        header: BTreeMap::new(),
        fields: Vec::new(),
        types: Vec::new(),
        records: Vec::new(),
        closed: false,
    };
    for line in text.lines() {
        if let Some(sep) = line.strip_prefix("#separator ") {
            assert_eq!(sep, "\\x09", "Zeek's separator line");
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (tag, value) = rest.split_once('\t').expect("a tab after each header tag");
            match tag {
                "fields" => log.fields = value.split('\t').map(str::to_string).collect(),
                "types" => log.types = value.split('\t').map(str::to_string).collect(),
                "close" => log.closed = true,
                _ => {}
            }
            log.header.insert(tag.to_string(), value.to_string());
            continue;
        }
        assert!(!log.closed, "a record after #close");
        let values: Vec<&str> = line.split('\t').collect();
        assert_eq!(values.len(), log.fields.len(), "{line}");
        let record = log
            .fields
            .iter()
            .cloned()
            .zip(values.iter().map(|v| v.to_string()))
            .collect();
        log.records.push(record);
    }
    log
}

/// Each value parses as its declared type, or is Zeek's unset mark.
fn check_types(log: &ConnLog) {
    for r in &log.records {
        for (field, kind) in log.fields.iter().zip(&log.types) {
            let v = &r[field];
            if v == "-" {
                continue;
            }
            let ok = match kind.as_str() {
                "time" | "interval" => {
                    v.parse::<f64>().is_ok() && v.split('.').nth(1).map(str::len) == Some(6)
                }
                "addr" => v.parse::<IpAddr>().is_ok(),
                "port" => v.parse::<u16>().is_ok(),
                "count" => v.parse::<u64>().is_ok(),
                "bool" => v == "T" || v == "F",
                "enum" => v == "tcp",
                _ => true,
            };
            assert!(ok, "{field} = {v:?} is not a {kind}");
        }
        assert!(CONN_STATES.contains(&r["conn_state"].as_str()), "{r:?}");
        assert!(r["uid"].starts_with('C') && r["uid"].len() == 18, "{r:?}");
    }
}

fn zeek_log(capture: &Path, dir: &Path) -> String {
    let out = common::packetlab(&[
        "explain",
        capture.to_str().unwrap(),
        "--zeek-log",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join("conn.log")).expect("conn.log written")
}

#[test]
fn conn_log_has_zeeks_header_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let capture = root().join("captures/handshake.pcapng");
    let text = zeek_log(&capture, dir.path());
    let log = parse(&text);
    let documented: Vec<&str> = ZEEK_FIELDS.iter().map(|(f, _)| *f).collect();
    let types: Vec<&str> = ZEEK_FIELDS.iter().map(|(_, t)| *t).collect();
    assert_eq!(log.fields, documented);
    assert_eq!(log.types, types);
    assert_eq!(log.header["path"], "conn");
    assert_eq!(log.header["set_separator"], ",");
    assert_eq!(log.header["empty_field"], "(empty)");
    assert_eq!(log.header["unset_field"], "-");
    assert!(log.closed, "#close ends the file");
    check_types(&log);
    // The lesson's one connection: a whole handshake, data both ways and a clean close.
    assert_eq!(log.records.len(), 1, "{text}");
    let r = &log.records[0];
    assert_eq!(r["conn_state"], "SF", "{r:?}");
    assert!(r["history"].starts_with("ShAD"), "{r:?}");
    assert_eq!(r["missed_bytes"], "0");
    assert_eq!(r["proto"], "tcp");
    assert_eq!(r["ip_proto"], "6");
    assert_ne!(
        r["duration"], "-",
        "a connection that lasted has a duration"
    );

    // The same bytes on standard output, and nothing else there; and again on a second run.
    let out = common::packetlab(&["explain", capture.to_str().unwrap(), "--zeek-log", "-"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
    assert_eq!(
        zeek_log(&capture, dir.path()),
        text,
        "deterministic uids and times"
    );
}

#[test]
fn conn_log_agrees_with_explain_on_every_committed_capture() {
    let dir = tempfile::tempdir().unwrap();
    for capture in committed_captures() {
        let log = parse(&zeek_log(&capture, dir.path()));
        check_types(&log);
        let json = common::packetlab(&["explain", "--json", capture.to_str().unwrap()]);
        let explained: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let records = explained["conn_log"].as_array().unwrap();
        assert_eq!(records.len(), log.records.len(), "{}", capture.display());
        let mut histories: Vec<(&str, &str)> = log
            .records
            .iter()
            .map(|r| (r["history"].as_str(), r["conn_state"].as_str()))
            .collect();
        let mut expected: Vec<(&str, &str)> = records
            .iter()
            .map(|r| {
                let h = r["history"].as_str().unwrap();
                (
                    if h.is_empty() { "-" } else { h },
                    r["conn_state"].as_str().unwrap(),
                )
            })
            .collect();
        histories.sort();
        expected.sort();
        assert_eq!(histories, expected, "{}", capture.display());
    }
}

/// Every capture committed under `captures/`, the lessons' and the Python programs'.
fn committed_captures() -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for dir in ["captures", "captures/python"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pcapng") {
                all.push(path);
            }
        }
    }
    all.sort();
    all
}

/// What each unordered pair of ends sent, by sender: packets and IP octets.
type Sent = BTreeMap<(String, String), (u64, u64)>;

fn tshark_sent(capture: &Path) -> Option<Sent> {
    let out = Command::new("tshark")
        .args([
            "-r",
            capture.to_str().unwrap(),
            "-Y",
            "tcp && !icmp && !icmpv6",
            "-T",
            "fields",
        ])
        .args(["-E", "separator=|", "-E", "occurrence=f"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"])
        .args([
            "-e",
            "ip.len",
            "-e",
            "ipv6.plen",
            "-e",
            "ip.frag_offset",
            "-e",
            "ip.flags.mf",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sent = Sent::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f[8].parse::<u64>().is_ok_and(|o| o > 0) || f[9] == "1" || f[9] == "True" {
            return None; // fragments: tshark shows the segment on the last one only
        }
        let end = |ip4: &str, ip6: &str, port: &str| {
            let ip = if ip4.is_empty() { ip6 } else { ip4 };
            format!("{ip}:{port}")
        };
        let (src, dst) = (end(f[0], f[1], f[2]), end(f[3], f[4], f[5]));
        let len = match f[6].parse::<u64>() {
            Ok(len) => len,
            Err(_) => 40 + f[7].parse::<u64>().expect("an IPv6 payload length"),
        };
        let e = sent.entry((src, dst)).or_default();
        e.0 += 1;
        e.1 += len;
    }
    Some(sent)
}

fn conn_log_sent(log: &ConnLog) -> Sent {
    let mut sent = Sent::new();
    for r in &log.records {
        let orig = format!("{}:{}", r["id.orig_h"], r["id.orig_p"]);
        let resp = format!("{}:{}", r["id.resp_h"], r["id.resp_p"]);
        for (from, to, pkts, bytes) in [
            (&orig, &resp, "orig_pkts", "orig_ip_bytes"),
            (&resp, &orig, "resp_pkts", "resp_ip_bytes"),
        ] {
            let n: u64 = r[pkts].parse().unwrap();
            if n == 0 {
                continue;
            }
            let e = sent.entry((from.clone(), to.clone())).or_default();
            e.0 += n;
            e.1 += r[bytes].parse::<u64>().unwrap();
        }
    }
    sent
}

#[test]
fn packet_and_ip_octet_counts_match_tsharks() {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !prerequisite(found, "PACKETLAB_REQUIRE_TSHARK", "tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for capture in committed_captures() {
        let Some(expected) = tshark_sent(&capture) else {
            continue;
        };
        let log = parse(&zeek_log(&capture, dir.path()));
        assert_eq!(conn_log_sent(&log), expected, "{}", capture.display());
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} captures compared");
}
