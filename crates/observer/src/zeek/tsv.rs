//! conn.log in Zeek's own TSV format, as Zeek's ASCII writer lays it out: the `#separator`,
//! `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields` and `#types`
//! header lines, one record a line with `-` for an unset field, and `#close`. The columns are
//! `Conn::Info`'s (Zeek 7.1 and later, with `ip_proto`), so that `zeek-cut`, RITA or a diff
//! against Zeek's own file read it as they read Zeek's.
//!
//! Two choices make the file reproducible, where Zeek's is not: the `uid` is a hash of the
//! record's first packet (time, frame and addresses) rather than a random number, and `#open`
//! and `#close` give the capture's first and last packet times (UTC) rather than the time the
//! file was written.

use std::io::{self, Write};
use std::net::SocketAddr;

use super::ConnLog;

/// conn.log's columns, in Zeek's order.
const FIELDS: [(&str, &str); 22] = [
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

/// Zeek's mark for an unset field.
const UNSET: &str = "-";

/// Write `records` as Zeek's conn.log; `span` is the capture's first and last packet times
/// (nanoseconds since the epoch) for `#open` and `#close`.
pub fn write_conn_log(
    records: &[ConnLog],
    span: (u64, u64),
    mut out: impl Write,
) -> io::Result<()> {
    writeln!(out, "#separator \\x09")?;
    writeln!(out, "#set_separator\t,")?;
    writeln!(out, "#empty_field\t(empty)")?;
    writeln!(out, "#unset_field\t{UNSET}")?;
    writeln!(out, "#path\tconn")?;
    writeln!(out, "#open\t{}", stamp(span.0))?;
    let names: Vec<&str> = FIELDS.iter().map(|(name, _)| *name).collect();
    writeln!(out, "#fields\t{}", names.join("\t"))?;
    let types: Vec<&str> = FIELDS.iter().map(|(_, kind)| *kind).collect();
    writeln!(out, "#types\t{}", types.join("\t"))?;
    let mut records: Vec<&ConnLog> = records.iter().collect();
    // Zeek writes a record when its connection ends; by first packet is the order to diff.
    records.sort_by_key(|r| (r.ts_ns, r.first_frame));
    for r in records {
        writeln!(out, "{}", line(r))?;
    }
    writeln!(out, "#close\t{}", stamp(span.1))
}

/// One record's line.
fn line(r: &ConnLog) -> String {
    // Zeek's set_conn: duration and the sequence-number sizes only when the duration is
    // positive; the packet counts always.
    let timed = r.duration_ns > 0;
    let unless = |set: bool, value: String| if set { value } else { UNSET.to_string() };
    // connection_flipped sets local_orig and local_resp even when Site::local_nets is empty.
    let local = if r.flipped_midway { "F" } else { UNSET };
    let history = if r.history.is_empty() {
        UNSET
    } else {
        &r.history
    };
    let fields = [
        seconds(r.ts_ns),
        uid(r),
        r.orig.ip().to_string(),
        r.orig.port().to_string(),
        r.resp.ip().to_string(),
        r.resp.port().to_string(),
        "tcp".to_string(),
        UNSET.to_string(),
        unless(timed, seconds(r.duration_ns)),
        unless(timed, r.orig_bytes.to_string()),
        unless(timed, r.resp_bytes.to_string()),
        r.conn_state.code().to_string(),
        local.to_string(),
        local.to_string(),
        r.missed_bytes.to_string(),
        history.to_string(),
        r.orig_packets.packets.to_string(),
        r.orig_packets.ip_bytes.to_string(),
        r.resp_packets.packets.to_string(),
        r.resp_packets.ip_bytes.to_string(),
        UNSET.to_string(),
        "6".to_string(),
    ];
    fields.join("\t")
}

/// Seconds with Zeek's six decimals.
fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

/// A uid in Zeek's shape (`C` and 17 base62 digits), from what makes the record unique.
fn uid(r: &ConnLog) -> String {
    let mut hash = Fnv::default();
    hash.write(&r.ts_ns.to_be_bytes());
    hash.write(&r.first_frame.to_be_bytes());
    for addr in [r.orig, r.resp] {
        write_addr(&mut hash, addr);
    }
    let high = hash.0;
    hash.write(b"uid");
    // 128 bits, of which 17 base62 digits keep about 101: every digit takes any value.
    let mut n = (u128::from(high) << 64) | u128::from(hash.0);
    let mut text = String::from("C");
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..17 {
        text.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
    text
}

fn write_addr(hash: &mut Fnv, addr: SocketAddr) {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => hash.write(&ip.octets()),
        std::net::IpAddr::V6(ip) => hash.write(&ip.octets()),
    }
    hash.write(&addr.port().to_be_bytes());
}

/// FNV-1a, 64 bits: stable across runs and platforms, which the standard hasher is not.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// `#open`'s and `#close`'s `YYYY-MM-DD-HH-MM-SS`, in UTC.
fn stamp(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}-{:02}-{:02}-{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(stamp(0), "1970-01-01-00-00-00");
        // 2024-02-29 12:34:56 UTC: a leap day.
        assert_eq!(stamp(1_709_210_096 * 1_000_000_000), "2024-02-29-12-34-56");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn seconds_have_six_decimals() {
        assert_eq!(seconds(1_500_000_123_456_789), "1500000.123456");
        assert_eq!(seconds(7_000), "0.000007");
    }
}
