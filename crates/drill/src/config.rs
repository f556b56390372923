//! What a script asks of the run: packetdrill's `--options`, and the shell commands it runs
//! first. For a simulated host, `sysctl -q net.ipv4.tcp_*` lines set the host's matching
//! configuration; lines that mean nothing to a simulated host are skipped with a note; any
//! other line is refused, naming it.

use std::path::{Path, PathBuf};

use stack::HostConfig;

/// How outbound packets are judged (packetdrill's options of the same names).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// How far from its time an event may happen, at least (`--tolerance_usecs`).
    pub tolerance_usecs: i64,
    /// A share of the time since the last event that may be used instead, when larger
    /// (`--tolerance_percent`).
    pub tolerance_percent: f64,
    /// Microseconds per TS val tick: TS values are checked only when this is given
    /// (`--tcp_ts_tick_usecs`).
    pub ts_tick_usecs: Option<i64>,
    /// Each expected segment is one segment on the wire: no aggregation
    /// (`--strict_segments`).
    pub strict_segments: bool,
}

impl Default for Settings {
    /// packetdrill's defaults: 4 ms, 12.5 %.
    fn default() -> Settings {
        Settings {
            tolerance_usecs: 4000,
            tolerance_percent: 12.5,
            ts_tick_usecs: None,
            strict_segments: false,
        }
    }
}

impl Settings {
    /// The settings a script's `--name=value` lines give.
    pub fn from_options(options: &[(String, Option<String>)]) -> Result<Settings, String> {
        let mut settings = Settings::default();
        for (name, value) in options {
            let number = || -> Result<f64, String> {
                value
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("--{name} takes a number"))
            };
            match name.as_str() {
                "tolerance_usecs" => settings.tolerance_usecs = number()? as i64,
                "tolerance_percent" => settings.tolerance_percent = number()?,
                "tcp_ts_tick_usecs" => settings.ts_tick_usecs = Some(number()? as i64),
                "strict_segments" => settings.strict_segments = true,
                // Addresses and devices of packetdrill's own tunnel: the runner has its own.
                "ip_version" if value.as_deref() == Some("ipv4") => {}
                "local_ip" | "remote_ip" | "gateway_ip" | "netmask_ip" | "bind_port"
                | "connect_port" | "mtu" | "init_scripts" | "verbose" | "non_fatal" => {}
                _ => {
                    return Err(format!(
                        "--{name}: packetlab drill does not take this option"
                    ));
                }
            }
        }
        Ok(settings)
    }
}

/// What packetlab makes of one sysctl.
enum Sysctl {
    /// It sets the host's configuration.
    Set(fn(&mut HostConfig, &str) -> Result<(), String>),
    /// packetlab behaves as this value says; another value is refused.
    Same(&'static str, &'static str),
    /// It changes nothing packetlab models: taken, with this note.
    Noted(&'static str),
}

fn flag(value: &str) -> Result<bool, String> {
    match value.trim() {
        "0" => Ok(false),
        "1" | "2" => Ok(true),
        other => Err(format!("expected 0 or 1, found {other}")),
    }
}

/// `min default max` of a buffer sysctl: the default and the largest.
fn buffer_sizes(value: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected three numbers (min default max), found {value}");
    let fields: Vec<&str> = value.split_whitespace().collect();
    let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
    match fields.as_slice() {
        [_, default, max] => Ok((number(default)?, number(max)?)),
        _ => Err(bad()),
    }
}

fn sysctl(name: &str) -> Option<Sysctl> {
    use Sysctl::*;
    Some(match name {
        "net.ipv4.tcp_sack" => Set(|c, v| {
            c.sack = flag(v)?;
            Ok(())
        }),
        "net.ipv4.tcp_timestamps" => Set(|c, v| {
            c.timestamps = flag(v)?;
            Ok(())
        }),
        "net.ipv4.tcp_syncookies" => Set(|c, v| {
            c.syncookies = match v.trim() {
                "0" => stack::SynCookies::Off,
                "1" => stack::SynCookies::OnOverflow,
                "2" => stack::SynCookies::Always,
                _ => return Err(format!("expected 0, 1 or 2, found {v}")),
            };
            Ok(())
        }),
        "net.ipv4.tcp_max_syn_backlog" => Set(|c, v| {
            c.max_syn_backlog = v
                .trim()
                .parse()
                .map_err(|_| format!("expected a number, found {v}"))?;
            Ok(())
        }),
        "net.ipv4.tcp_rmem" => Set(|c, v| {
            (c.rcv_buf, c.rcv_buf_max) = buffer_sizes(v)?;
            Ok(())
        }),
        "net.ipv4.tcp_wmem" => Set(|c, v| {
            c.snd_buf = buffer_sizes(v)?.0;
            Ok(())
        }),
        "net.ipv4.tcp_congestion_control" => Set(|c, v| {
            c.congestion = stack::CongestionControl::from_name(v.trim())
                .ok_or_else(|| format!("packetlab has reno and cubic, not {v}"))?;
            Ok(())
        }),
        "net.ipv4.tcp_dsack" => Same("1", "D-SACK (RFC 2883) is always on"),
        "net.ipv4.tcp_fack" => Same("0", "packetlab has no FACK"),
        "net.ipv4.tcp_reordering" => Same("3", "the duplicate-ACK threshold is 3 (RFC 5681)"),
        "net.ipv4.tcp_ecn" => Same("0", "packetlab does not negotiate ECN"),
        "net.ipv4.tcp_fastopen" => {
            Noted("packetlab has no TCP Fast Open: a script that uses it fails where it does")
        }
        "net.ipv4.tcp_fastopen_key" => Noted("packetlab has no TCP Fast Open"),
        "net.ipv4.tcp_ecn_option" => Noted("ECN is off"),
        "net.ipv4.tcp_frto" => Noted(
            "packetlab has no F-RTO (RFC 5682): a script whose packets depend on it fails where they do",
        ),
        "net.ipv4.tcp_early_retrans" | "net.ipv4.tcp_recovery" => {
            Noted("RACK-TLP (RFC 8985) is always on")
        }
        "net.ipv4.tcp_syn_retries" | "net.ipv4.tcp_synack_retries" => {
            Noted("packetlab retries a SYN as Linux's default (6)")
        }
        "net.ipv4.tcp_slow_start_after_idle" => Set(|c, v| {
            c.slow_start_after_idle = flag(v)?;
            Ok(())
        }),
        "net.ipv4.tcp_tso_win_divisor" => Noted("packetlab has no TSO"),
        "net.ipv4.tcp_min_tso_segs" => Set(|c, v| {
            c.min_tso_segs = v
                .trim()
                .parse()
                .map_err(|_| format!("expected a number, found {v}"))?;
            Ok(())
        }),
        "net.ipv4.tcp_pacing_ss_ratio" | "net.ipv4.tcp_pacing_ca_ratio" => {
            Noted("packetlab does not pace")
        }
        "net.ipv4.tcp_notsent_lowat" => Noted("packetlab has no TCP_NOTSENT_LOWAT"),
        _ => return None,
    })
}

/// Evaluate `$((a*b*c))` in a value, as the shell would (products and sums of integers).
fn arithmetic(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("$((") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("))") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let sum: i64 = after[..end]
            .split('+')
            .map(|term| {
                term.split('*')
                    .map(|f| f.trim().parse::<i64>().unwrap_or(0))
                    .product::<i64>()
            })
            .sum();
        out.push_str(&sum.to_string());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// One thing a script's commands ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// `sysctl -q name=value`.
    Sysctl(String, String),
    /// `ip tcp_metrics flush`: forget what earlier connections taught.
    FlushMetrics,
    /// A line that means nothing to the host under test, with the note that says why.
    Skipped(String),
}

/// Read a backquoted command (several lines, maybe shell scripts it names, read relative
/// to `folder`) into what it asks for; the first line packetlab does not take is refused.
pub fn read_commands(command: &str, folder: &Path, depth: usize) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    // A line ending in `\` goes on on the next.
    let joined = command.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.split(" >").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["sysctl", rest @ ..] => sysctls(&arithmetic(&rest.join(" ")), &mut out)?,
            ["ip", "tcp_metrics", "flush", ..] => out.push(Line::FlushMetrics),
            [script, settings @ ..] if script.ends_with("set_sysctls.py") => {
                for setting in settings {
                    let Some((file, value)) = setting.split_once('=') else {
                        return Err(format!("`{line}`: expected /proc/sys/NAME=VALUE"));
                    };
                    let name = file.trim_start_matches("/proc/sys/").replace('/', ".");
                    out.push(Line::Sysctl(name, value.to_string()));
                }
            }
            ["ethtool", "-K", ..] => out.push(Line::Skipped(format!(
                "`{line}`: the host under test has no segmentation offload"
            ))),
            ["tc", ..] => out.push(Line::Skipped(format!(
                "`{line}`: the host under test has no queueing discipline to set"
            ))),
            [path] if path.ends_with(".sh") && depth < 4 => {
                let file = folder.join(path);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("`{line}`: cannot read {}: {e}", file.display()))?;
                out.extend(read_commands(&text, &parent(&file), depth + 1)?);
            }
            _ => {
                return Err(format!(
                    "`{line}`: packetlab runs no commands but sysctl and ip tcp_metrics flush"
                ));
            }
        }
    }
    Ok(out)
}

/// `sysctl -q a=b c="d e"`.
fn sysctls(args: &str, out: &mut Vec<Line>) -> Result<(), String> {
    let mut rest = args.trim();
    while !rest.is_empty() {
        // -q quiet, -w write, -e ignore unknown names: none changes what is set.
        let flag = ["-q", "-w", "-e"].iter().find_map(|f| rest.strip_prefix(f));
        if let Some(after) = flag {
            rest = after.trim_start();
            continue;
        }
        let Some(eq) = rest.find('=') else {
            return Err(format!("sysctl {rest}: expected name=value"));
        };
        let name = rest[..eq].trim();
        let after = &rest[eq + 1..];
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            }
            None => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        // sysctl takes `net/ipv4/x` as well as `net.ipv4.x`.
        out.push(Line::Sysctl(name.replace('/', "."), value.to_string()));
        rest = next.trim_start();
    }
    Ok(())
}

/// Apply what the commands ask for to a simulated host's configuration: the notes to
/// show, or the first line refused.
pub fn apply_to_sim(lines: &[Line], config: &mut HostConfig) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for line in lines {
        match line {
            Line::Sysctl(name, value) => match sysctl(name) {
                Some(Sysctl::Set(set)) => set(config, value).map_err(|e| format!("{name}: {e}"))?,
                Some(Sysctl::Same(ours, _)) if value.trim() == ours => {}
                Some(Sysctl::Same(_, what)) => return Err(format!("{name}={value}: {what}")),
                Some(Sysctl::Noted(note)) => notes.push(format!("{name}={value}: {note}")),
                None => return Err(format!("{name}: packetlab has no such setting")),
            },
            Line::FlushMetrics => notes
                .push("`ip tcp_metrics flush`: a simulated host keeps no TCP metrics".to_string()),
            Line::Skipped(note) => notes.push(note.clone()),
        }
    }
    Ok(notes)
}

fn parent(file: &Path) -> PathBuf {
    file.parent().map_or_else(PathBuf::new, Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HostConfig {
        HostConfig::new(
            "h",
            wire::MacAddr([2, 0, 0, 0, 0, 1]),
            std::net::Ipv4Addr::LOCALHOST,
            8,
        )
    }

    #[test]
    fn sysctls_set_the_host_and_unknown_lines_are_refused_by_name() {
        let mut c = config();
        let lines = read_commands(
            "sysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_rmem=\"4096 $((4*1024)) 8192\"\nip tcp_metrics flush all > /dev/null 2>&1",
            Path::new(""),
            0,
        )
        .unwrap();
        assert_eq!(lines.len(), 3);
        let notes = apply_to_sim(&lines, &mut c).unwrap();
        assert_eq!(notes.len(), 1);
        assert!(!c.sack);
        assert_eq!(c.rcv_buf, 4096);
        let lines = read_commands("sysctl -q net.ipv4.tcp_foo=1", Path::new(""), 0).unwrap();
        let e = apply_to_sim(&lines, &mut c).unwrap_err();
        assert!(e.contains("tcp_foo"), "{e}");
        let e = read_commands("echo hi", Path::new(""), 0).unwrap_err();
        assert!(e.contains("echo hi"), "{e}");
        let lines = read_commands(
            "sysctl -q net.ipv4.tcp_congestion_control=bbr",
            Path::new(""),
            0,
        )
        .unwrap();
        let e = apply_to_sim(&lines, &mut c).unwrap_err();
        assert!(e.contains("reno and cubic"), "{e}");
    }
}
