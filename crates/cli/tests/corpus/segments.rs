//! TCP segments and UDP datagrams as two captures of the same programs are compared: by
//! conversation, which way, flags, length and options (windows, sequence numbers and times
//! differ between any two runs).

// Shared by tests that use different parts of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

/// One segment or datagram as compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    /// From the side that spoke first (the client), or back.
    pub forth: bool,
    /// tcpdump's letters (`S.`, `P.`), or `udp`.
    pub flags: String,
    /// Octets of data.
    pub len: usize,
    /// The options by kind, the MSS with its value: `mss=65495 sack ts ws`.
    pub options: String,
}

pub fn flags(f: &wire::TcpFlags) -> String {
    let mut out = String::new();
    for (on, letter) in [(f.syn, 'S'), (f.fin, 'F'), (f.rst, 'R'), (f.psh, 'P')] {
        if on {
            out.push(letter);
        }
    }
    if f.ack {
        out.push('.');
    }
    out
}

/// A capture's TCP connections and UDP conversations, each its segments in order, in the
/// order they began; the key is the client's port.
pub fn conversations(capture: &Path) -> Vec<Vec<Seg>> {
    let bytes = std::fs::read(capture).unwrap();
    let mut frames = Vec::new();
    observer::for_each_packet("capture", &bytes[..], |p| frames.push(p.frame.to_vec())).unwrap();
    let mut order: Vec<u16> = Vec::new();
    let mut by_client: BTreeMap<u16, Vec<Seg>> = BTreeMap::new();
    let mut client_ports: BTreeMap<(u16, u16), u16> = BTreeMap::new();
    for frame in &frames {
        let Ok(decoded) = wire::decode(frame) else {
            continue;
        };
        let transport = match decoded.payload {
            wire::EthPayload::Ipv4(ip) => match ip.payload {
                wire::Ipv4Payload::Tcp(t) => Some(Ok(t)),
                wire::Ipv4Payload::Udp(u) => Some(Err(u)),
                _ => None,
            },
            wire::EthPayload::Ipv6(ip) => match ip.payload {
                wire::Ipv6Payload::Tcp(t) => Some(Ok(t)),
                wire::Ipv6Payload::Udp(u) => Some(Err(u)),
                _ => None,
            },
            _ => None,
        };
        let (src, dst, seg) = match &transport {
            Some(Ok(t)) => {
                let mut options = Vec::new();
                if let Some(mss) = t.mss {
                    options.push(format!("mss={mss}"));
                }
                if t.sack_permitted {
                    options.push("sack".to_string());
                }
                if t.timestamps.is_some() {
                    options.push("ts".to_string());
                }
                if t.window_scale.is_some() {
                    options.push("ws".to_string());
                }
                let seg = Seg {
                    forth: true,
                    flags: flags(&t.flags),
                    len: t.payload.len(),
                    options: options.join(" "),
                };
                (t.src_port, t.dst_port, seg)
            }
            Some(Err(u)) => {
                let seg = Seg {
                    forth: true,
                    flags: "udp".to_string(),
                    len: u.payload.len(),
                    options: String::new(),
                };
                (u.src_port, u.dst_port, seg)
            }
            None => continue,
        };
        // The client is the side that spoke first: its first segment is a SYN, or its first
        // datagram.
        let pair = (src.min(dst), src.max(dst));
        let client = *client_ports.entry(pair).or_insert(src);
        if !order.contains(&client) {
            order.push(client);
        }
        let forth = src == client;
        by_client
            .entry(client)
            .or_default()
            .push(Seg { forth, ..seg });
    }
    order
        .into_iter()
        .map(|c| by_client.remove(&c).unwrap())
        .collect()
}

/// A conversation with its close in a canonical order: when both ends close at once, which
/// FIN leaves first (and so which end sends the last ACK) is up to Linux's scheduler, and so
/// is whether the ACK of the last data goes before the peer's FIN that follows it at once (the
/// receiving thread's read may or may not come first). So the segments from the first FIN, or
/// from just after the last data if that is sooner, are compared as a set, whichever way they
/// went.
pub fn close_as_a_set(mut segs: Vec<Seg>) -> Vec<Seg> {
    let Some(first_fin) = segs.iter().position(|s| s.flags.contains('F')) else {
        return segs;
    };
    let after_data = segs.iter().rposition(|s| s.len > 0).map_or(0, |i| i + 1);
    let mut close: Vec<Seg> = segs
        .split_off(first_fin.min(after_data))
        .into_iter()
        .map(|s| Seg { forth: true, ..s })
        .collect();
    close.sort_by_key(|s| format!("{s:?}"));
    segs.extend(close);
    segs
}

pub fn shown(conversations: &[Vec<Seg>]) -> String {
    let mut out = String::new();
    for (i, c) in conversations.iter().enumerate() {
        out.push_str(&format!("conversation {}\n", i + 1));
        for s in c {
            let arrow = if s.forth { "->" } else { "<-" };
            out.push_str(&format!(
                "  {arrow} {:3} len={:<6} {}\n",
                s.flags, s.len, s.options
            ));
        }
    }
    out
}
