//! How a host numbers its connections: initial sequence numbers and ephemeral ports. The
//! simulator wants every run the same; a real network wants them unguessable (RFC 6528,
//! RFC 6056), or a rerun lands on the previous run's TIME-WAIT at the peer.

use std::hash::BuildHasher;
use std::net::{Ipv4Addr, SocketAddrV4};

use trace::Time;

/// A host's numbering policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Numbering {
    /// From the host's seeded generator, ports in order: every run the same (the simulator).
    #[default]
    Seeded,
    /// From a secret drawn when the host is made: RFC 6528 initial sequence numbers (a 4 µs
    /// clock plus a keyed hash of the connection's addresses) and RFC 6056 ports (its
    /// Algorithm 3, a keyed offset per destination): what a real network needs.
    Secret,
}

/// The secret behind [`Numbering::Secret`]: a keyed hash (SipHash, keyed from the system's
/// randomness) stands for RFC 6528's F().
#[derive(Debug)]
pub struct Secret(std::collections::hash_map::RandomState);

/// The ephemeral range (RFC 6056 §2.1, IANA's 49152–65535).
pub(crate) const FIRST_EPHEMERAL_PORT: u16 = 49152;
const EPHEMERAL_PORTS: u32 = 65536 - FIRST_EPHEMERAL_PORT as u32;

impl Default for Secret {
    fn default() -> Secret {
        Secret::new()
    }
}

impl Secret {
    /// A new secret, from the system's randomness.
    pub fn new() -> Secret {
        Secret(std::collections::hash_map::RandomState::new())
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
    /// timer ticking every 4 microseconds.
    pub fn isn(&self, now: Time, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let m = (now.0 / 4_000) as u32;
        m.wrapping_add(self.0.hash_one((local, remote)) as u32)
    }

    /// 64 bits from the secret, to seed another generator with (smoltcp's).
    pub fn seed(&self) -> u64 {
        self.0.hash_one("seed")
    }

    /// RFC 6056 §3.3.3 (Algorithm 3): the `counter`-th candidate port towards `remote`.
    pub fn port(&self, local: Ipv4Addr, remote: SocketAddrV4, counter: u16) -> u16 {
        let offset = self.0.hash_one((local, remote, "port")) as u32;
        let index = offset.wrapping_add(u32::from(counter)) % EPHEMERAL_PORTS;
        FIRST_EPHEMERAL_PORT + index as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isns_follow_the_clock_and_differ_by_connection() {
        let s = Secret::new();
        let (a, b) = (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 50000),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
        );
        let t = Time(1_000_000_000);
        // Four microseconds later, the same connection's ISN is one higher.
        assert_eq!(
            s.isn(Time(t.0 + 4_000), a, b),
            s.isn(t, a, b).wrapping_add(1)
        );
        assert_ne!(s.isn(t, a, b), s.isn(t, b, a));
        // Another secret (another run) numbers the same connection differently.
        assert_ne!(s.isn(t, a, b), Secret::new().isn(t, a, b));
    }

    #[test]
    fn ports_stay_in_the_ephemeral_range_and_step_through_it() {
        let s = Secret::new();
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let local = Ipv4Addr::new(10, 0, 0, 1);
        let ports: std::collections::BTreeSet<u16> =
            (0..1000).map(|c| s.port(local, remote, c)).collect();
        assert_eq!(ports.len(), 1000);
        assert!(ports.iter().all(|&p| p >= FIRST_EPHEMERAL_PORT));
    }
}
