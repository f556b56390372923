//! Every event as one line of text: what the log prints, `step --plain` shows and
//! expectations (`trace contains`) read.

use super::*;

fn render_recovery(
    endpoint: &Endpoint,
    decision: Recovery,
    range: Option<(u32, u32)>,
    sacked: &[(u32, u32)],
    pipe: Option<u32>,
    cwnd: u32,
) -> String {
    use std::fmt::Write as _;
    let mut s = format!("      TCP {endpoint}: {decision}");
    if let Some((a, b)) = range {
        let _ = write!(s, " {a}..{b}");
    }
    let _ = write!(s, " ({})  cwnd={cwnd}", decision.rule());
    if let Some(pipe) = pipe {
        let _ = write!(s, " pipe={pipe}");
    }
    if !sacked.is_empty() {
        let blocks: Vec<String> = sacked.iter().map(|(a, b)| format!("{a}..{b}")).collect();
        let _ = write!(s, " SACKed {}", blocks.join(" "));
    }
    s
}

pub(crate) fn render_kind(kind: &EventKind) -> String {
    match kind {
        EventKind::Frame {
            number,
            link,
            from,
            to,
            summary,
            ..
        } => format!("#{number:<4} {link:<14} {from} → {to}  {summary}"),
        EventKind::TcpTransition {
            endpoint,
            from,
            to,
            cause,
            rule,
            detail,
            vars,
        } => {
            let rule = rule_text(*rule, detail.as_deref());
            format!("      TCP {endpoint}: {from} → {to}  (by {cause}; {rule})  {vars}")
        }
        EventKind::Congestion {
            endpoint,
            cwnd,
            ssthresh,
            reason,
            ..
        } => format!(
            "      TCP {endpoint}: cwnd={cwnd} ssthresh={}  ({reason})",
            show_ssthresh(*ssthresh)
        ),
        EventKind::Recovery {
            endpoint,
            decision,
            range,
            sacked,
            pipe,
            cwnd,
        } => render_recovery(endpoint, *decision, *range, sacked, *pipe, *cwnd),
        EventKind::LinkFault {
            link,
            from,
            to,
            frame,
            fault,
        } => format!("      link {link} {from} → {to}: frame #{frame} {fault}"),
        EventKind::Arp {
            host,
            action,
            ip,
            mac,
        } => neighbour_line(host, *action, *ip, mac),
        EventKind::Route {
            host,
            dst,
            decision,
        } => format!("      route {host} → {dst}: {}", decision.about(*dst)),
        EventKind::Switch {
            switch,
            action,
            mac,
            ports,
        } => switch_line(switch, *action, *mac, ports),
        EventKind::Drop {
            node,
            reason,
            frame: Some(n),
        } => format!("      {node} drops frame #{n}: {reason}"),
        EventKind::Drop { node, reason, .. } => format!("      {node} drops: {reason}"),
        EventKind::Call { .. }
        | EventKind::Return { .. }
        | EventKind::Output { .. }
        | EventKind::Exit { .. }
        | EventKind::TlsKeys { .. }
        | EventKind::Expectation { .. } => run_line(kind),
        EventKind::Note { node, note } => format!("      {node}: {note}"),
    }
}

/// A switch's decision about `mac`, on the ports named.
fn switch_line(switch: &str, action: SwitchAction, mac: MacAddr, ports: &[String]) -> String {
    let ports = ports.join(", ");
    let what = match action {
        SwitchAction::Learned => format!("learns {mac} is on port {ports}"),
        SwitchAction::Flooded => format!("floods frame for {mac} to ports {ports}"),
        SwitchAction::Forwarded => format!("forwards frame for {mac} to port {ports}"),
        SwitchAction::Filtered => format!("filters frame for {mac} (same port {ports})"),
        SwitchAction::Aged => {
            format!("forgets {mac} (was on port {ports}): silent for the aging time")
        }
    };
    format!("      switch {switch} {what}")
}

/// How a run went: a program's calls, output and exit, its TLS keys, an expectation judged.
fn run_line(kind: &EventKind) -> String {
    match kind {
        EventKind::Call { host, call } => format!("      {host}: {call}"),
        EventKind::Return { host, call, result } => format!("      {host}: {call} → {result}"),
        EventKind::Output {
            program,
            stream: Stream::Stdout,
            text,
        } => format!("      {program} | {text}"),
        EventKind::Output { program, text, .. } => format!("      {program} (stderr) | {text}"),
        EventKind::Exit {
            host,
            program,
            status,
            exception: Some(e),
        } => format!("      {host}: {program} exited with status {status} ({e})"),
        EventKind::Exit {
            host,
            program,
            status,
            exception: None,
        } => format!("      {host}: {program} exited with status {status}"),
        EventKind::TlsKeys {
            host,
            program,
            key_log,
        } => format!(
            "      {host}: {program}'s TLS session keys ({} key log lines), in the capture for \
             Wireshark",
            key_log.lines().count()
        ),
        EventKind::Expectation {
            text, passed: true, ..
        } => format!("      expect ok    {text}"),
        EventKind::Expectation { text, actual, .. } => {
            format!("      expect FAIL  {text}\n                   actual: {actual}")
        }
        _ => String::new(),
    }
}

/// A transition's rule as people read it: the rule, then how the engine applied it, if said.
pub fn rule_text(rule: Rule, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{rule}; {detail}"),
        None => rule.to_string(),
    }
}

fn mac_or_q(mac: &Option<MacAddr>) -> String {
    mac.map_or_else(|| "?".to_string(), |m| m.to_string())
}

/// A neighbour cache's step: ARP's for IPv4, Neighbor Discovery's for IPv6.
fn neighbour_line(
    host: &str,
    action: ArpAction,
    ip: std::net::IpAddr,
    mac: &Option<MacAddr>,
) -> String {
    match ip {
        std::net::IpAddr::V4(ip) => format!("      ARP {host} {}", arp_text(action, ip, mac)),
        std::net::IpAddr::V6(ip) => format!("      NDP {host} {}", ndp_text(action, ip, mac)),
    }
}

/// What a host's Neighbor Discovery (RFC 4861 §7) did, in words: the same cache states as
/// ARP's, with solicitations and advertisements for requests and replies.
fn ndp_text(action: ArpAction, ip: std::net::Ipv6Addr, mac: &Option<MacAddr>) -> String {
    match action {
        ArpAction::RequestSent => {
            format!("solicits {ip} at its solicited-node multicast address: who has {ip}?")
        }
        ArpAction::ReplySent => format!("advertises: {ip} is at {}", mac_or_q(mac)),
        ArpAction::Learned => format!("learns {ip} is at {}", mac_or_q(mac)),
        ArpAction::Updated => format!("refreshes {ip} is at {}", mac_or_q(mac)),
        ArpAction::Queued => format!("holds a packet for {ip} until a neighbor advertisement"),
        ArpAction::Failed => format!("gives up on {ip}: no neighbor advertisement"),
        ArpAction::Ignored => format!("ignores a solicitation for {ip}: not its address"),
        ArpAction::Stale => format!(
            "uses its stale entry ({ip} is at {}): not heard from for 30 s, it must be \
             within 5 s (RFC 4861 §7.3.3)",
            mac_or_q(mac)
        ),
        ArpAction::ProbeSent => {
            format!("solicits {} by unicast: are you still {ip}?", mac_or_q(mac))
        }
        ArpAction::Confirmed => format!("hears from {ip} at {}: reachable again", mac_or_q(mac)),
        ArpAction::Expired => {
            format!(
                "forgets {ip} is at {}: no answer to its probes",
                mac_or_q(mac)
            )
        }
    }
}

/// What a host's ARP did, in words.
fn arp_text(action: ArpAction, ip: std::net::Ipv4Addr, mac: &Option<MacAddr>) -> String {
    match action {
        ArpAction::RequestSent => format!("broadcasts: who has {ip}?"),
        ArpAction::ReplySent => format!("replies: {ip} is at {}", mac_or_q(mac)),
        ArpAction::Learned => format!("learns {ip} is at {}", mac_or_q(mac)),
        ArpAction::Updated => format!("refreshes {ip} is at {}", mac_or_q(mac)),
        ArpAction::Queued => format!("holds a packet for {ip} until ARP answers"),
        ArpAction::Failed => format!("gives up on {ip}: no ARP reply"),
        ArpAction::Ignored => format!("ignores a request for {ip}: not its address"),
        ArpAction::Stale => format!(
            "uses its stale entry ({ip} is at {}): not heard from for 30 s, it must be \
             within 5 s",
            mac_or_q(mac)
        ),
        ArpAction::ProbeSent => {
            format!("asks {} by unicast: are you still {ip}?", mac_or_q(mac))
        }
        ArpAction::Confirmed => {
            format!("hears from {ip} at {}: reachable again", mac_or_q(mac))
        }
        ArpAction::Expired => {
            format!(
                "forgets {ip} is at {}: no answer to its probes",
                mac_or_q(mac)
            )
        }
    }
}
