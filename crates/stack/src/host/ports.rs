//! Who holds each port. Several sockets may share a port where their addresses do not
//! overlap (`127.0.0.1` and `::1`; `0.0.0.0` and a `::` with `IPV6_V6ONLY`), as Linux's
//! bind table allows, and a packet goes to the one that matches its destination best.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::{SocketId, SocketOptions};

/// The address a socket is bound to, as binding and demultiplexing see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The address, or `0.0.0.0` / `::` for any.
    pub ip: IpAddr,
    /// `IPV6_V6ONLY`: a `::` socket that takes IPv6 only.
    pub v6only: bool,
}

impl Binding {
    /// A socket bound to `ip` with `options` (of which `IPV6_V6ONLY` counts here).
    pub fn of(ip: IpAddr, options: &SocketOptions) -> Binding {
        Binding {
            ip,
            v6only: options.v6only,
        }
    }

    /// Whether this socket takes a packet to `dst`: its own address, any of its family, or
    /// (a dual-stack `::`) any IPv4 address too (RFC 3493 §3.7; `net.ipv6.bindv6only` 0).
    pub fn takes(self, dst: IpAddr) -> bool {
        match (self.ip, dst) {
            (IpAddr::V6(b), IpAddr::V4(_)) => b.is_unspecified() && !self.v6only,
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
            _ => self.ip.is_unspecified() || self.ip == dst,
        }
    }

    /// Whether two sockets bound so would both take some packet, so that Linux refuses the
    /// second bind (EADDRINUSE): the same address, or a wildcard that covers the other.
    pub fn overlaps(self, other: Binding) -> bool {
        match (self.ip, other.ip) {
            (IpAddr::V4(_), IpAddr::V6(_)) => other.takes(self.ip),
            (IpAddr::V6(_), IpAddr::V4(_)) => self.takes(other.ip),
            _ => self.ip.is_unspecified() || other.ip.is_unspecified() || self.ip == other.ip,
        }
    }

    /// How well this socket matches a packet to `dst` (Linux's `compute_score`): its exact
    /// address beats a wildcard, and for IPv4 an IPv4 socket beats a dual-stack one.
    fn score(self, dst: IpAddr) -> u8 {
        let exact = if self.ip == dst { 4 } else { 0 };
        let family = if self.ip.is_ipv4() == dst.is_ipv4() {
            2
        } else {
            1
        };
        exact + family
    }
}

/// The sockets bound to each port, of one protocol.
#[derive(Debug, Default)]
pub(super) struct PortTable(BTreeMap<u16, Vec<(SocketId, Binding)>>);

impl PortTable {
    /// Whether a socket already holds `port` where `binding` would.
    pub(super) fn clashes(&self, port: u16, binding: Binding) -> bool {
        self.on(port).any(|(_, b)| b.overlaps(binding))
    }

    /// Whether any socket holds `port`.
    pub(super) fn holds(&self, port: u16) -> bool {
        self.0.contains_key(&port)
    }

    pub(super) fn insert(&mut self, port: u16, id: SocketId, binding: Binding) {
        self.0.entry(port).or_default().push((id, binding));
    }

    pub(super) fn remove(&mut self, port: u16, id: SocketId) {
        if let Some(held) = self.0.get_mut(&port) {
            held.retain(|(s, _)| *s != id);
            if held.is_empty() {
                self.0.remove(&port);
            }
        }
    }

    /// The socket that takes a packet to `dst` on `port`: the best match, if any takes it.
    pub(super) fn lookup(&self, dst: IpAddr, port: u16) -> Option<SocketId> {
        self.on(port)
            .filter(|(_, b)| b.takes(dst))
            .max_by_key(|(_, b)| b.score(dst))
            .map(|(id, _)| id)
    }

    /// Every socket on `port`.
    pub(super) fn on(&self, port: u16) -> impl Iterator<Item = (SocketId, Binding)> + '_ {
        self.0.get(&port).into_iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ip: &str, v6only: bool) -> Binding {
        Binding {
            ip: ip.parse().unwrap(),
            v6only,
        }
    }

    #[test]
    fn overlaps_as_linux_binds() {
        // What Linux answered in a namespace, bind after bind on one port.
        assert!(b("0.0.0.0", false).overlaps(b("::", false)));
        assert!(!b("0.0.0.0", false).overlaps(b("::", true)));
        assert!(b("::", true).overlaps(b("::1", false)));
        assert!(b("0.0.0.0", false).overlaps(b("127.0.0.1", false)));
        assert!(!b("127.0.0.1", false).overlaps(b("::1", false)));
        assert!(!b("127.0.0.1", false).overlaps(b("10.0.0.1", false)));
        assert!(b("::", false).overlaps(b("10.0.0.1", false)));
    }

    #[test]
    fn the_best_match_takes_the_packet() {
        let mut t = PortTable::default();
        t.insert(80, 1, b("::", false));
        t.insert(80, 2, b("127.0.0.1", false));
        assert_eq!(t.lookup("127.0.0.1".parse().unwrap(), 80), Some(2));
        assert_eq!(t.lookup("10.0.0.1".parse().unwrap(), 80), Some(1));
        assert_eq!(t.lookup("::1".parse().unwrap(), 80), Some(1));
        t.remove(80, 1);
        assert_eq!(t.lookup("::1".parse().unwrap(), 80), None);
        assert!(t.holds(80));
        t.remove(80, 2);
        assert!(!t.holds(80));
    }
}
