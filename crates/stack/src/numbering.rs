//! How a host numbers its connections: initial sequence numbers and ephemeral ports. The
//! simulator wants every run the same; a real network wants them unguessable (RFC 6528,
//! RFC 6056), or a rerun lands on the previous run's TIME-WAIT at the peer.

use std::hash::BuildHasher;
#[cfg(test)]
use std::net::Ipv4Addr;
use std::net::{IpAddr, SocketAddr};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
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

/// The ephemeral ports: Linux's `net.ipv4.ip_local_port_range`, 32768–60999 (RFC 6056 §2.1
/// leaves the range to the system; IANA's is 49152–65535).
pub const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// How many ephemeral ports there are.
const EPHEMERAL_COUNT: u32 = (*EPHEMERAL_PORTS.end() - *EPHEMERAL_PORTS.start()) as u32 + 1;

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
    pub fn isn(&self, now: Time, local: SocketAddr, remote: SocketAddr) -> u32 {
        let m = (now.0 / 4_000) as u32;
        m.wrapping_add(self.0.hash_one((local, remote)) as u32)
    }

    /// 64 bits from the secret, to seed another generator with (smoltcp's).
    pub fn seed(&self) -> u64 {
        self.0.hash_one("seed")
    }

    /// RFC 6056 §3.3.3 (Algorithm 3): the keyed offset of the ports towards `remote`.
    pub fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        self.0.hash_one((local, remote, "port")) as u32
    }
}

/// What a port is for: Linux looks for `connect()`'s among the even ports first and for
/// `bind(0)`'s among the odd ones, so that the two seldom meet; UDP takes either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortUse {
    /// The local end of an outgoing TCP connection.
    Connect,
    /// `bind((ip, 0))` of a TCP socket.
    Bind,
    /// A UDP socket's, on `bind((ip, 0))` or its first `sendto`.
    Udp,
}

/// Chooses ephemeral ports as Linux does: from an offset into the range (a keyed hash of the
/// addresses plus a counter, RFC 6056 §3.3.3, on a real network; a seeded generator in the
/// simulator, so every run is the same), then every second port of the preferred parity,
/// then the others, the first free one.
#[derive(Debug)]
pub struct Ports {
    offsets: Offsets,
}

#[derive(Debug)]
enum Offsets {
    Seeded(Box<ChaCha8Rng>),
    Secret { secret: Secret, counter: u32 },
}

impl Ports {
    /// Seeded by `seed`, or keyed by a secret of its own.
    pub fn new(numbering: Numbering, seed: u64) -> Ports {
        let offsets = match numbering {
            Numbering::Seeded => {
                Offsets::Seeded(Box::new(ChaCha8Rng::seed_from_u64(seed ^ 0x504f_5254)))
            }
            Numbering::Secret => Offsets::Secret {
                secret: Secret::new(),
                counter: 0,
            },
        };
        Ports { offsets }
    }

    /// A free port for `what` (towards `remote`, when there is one yet), by `free`.
    pub fn choose(
        &mut self,
        what: PortUse,
        ends: (IpAddr, SocketAddr),
        free: impl Fn(u16) -> bool,
    ) -> Option<u16> {
        let offset = match &mut self.offsets {
            Offsets::Seeded(rng) => rng.next_u32(),
            Offsets::Secret { secret, counter } => {
                *counter = counter.wrapping_add(1);
                secret.port_offset(ends.0, ends.1).wrapping_add(*counter)
            }
        } % EPHEMERAL_COUNT;
        let first = *EPHEMERAL_PORTS.start() as u32;
        let candidate = |i: u32| (first + (offset + i) % EPHEMERAL_COUNT) as u16;
        let Some(odd_first) = (match what {
            PortUse::Connect => Some(false),
            PortUse::Bind => Some(true),
            PortUse::Udp => None,
        }) else {
            return (0..EPHEMERAL_COUNT).map(candidate).find(|&p| free(p));
        };
        let preferred = |p: &u16| (p % 2 == 1) == odd_first;
        let all = || (0..EPHEMERAL_COUNT).map(candidate);
        all()
            .filter(preferred)
            .chain(all().filter(|p| !preferred(p)))
            .find(|&p| free(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isns_follow_the_clock_and_differ_by_connection() {
        let s = Secret::new();
        let (a, b) = (
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 50000),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 80),
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
    fn ports_stay_in_linux_range_with_connect_on_even_ports_and_bind_on_odd_ones() {
        let remote = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 80);
        let ends = (Ipv4Addr::new(10, 0, 0, 1).into(), remote);
        for numbering in [Numbering::Seeded, Numbering::Secret] {
            let mut ports = Ports::new(numbering, 7);
            for _ in 0..200 {
                let c = ports.choose(PortUse::Connect, ends, |_| true).unwrap();
                let b = ports.choose(PortUse::Bind, ends, |_| true).unwrap();
                assert!(EPHEMERAL_PORTS.contains(&c) && EPHEMERAL_PORTS.contains(&b));
                assert_eq!((c % 2, b % 2), (0, 1));
            }
            // With every even port taken, connect takes an odd one; with all taken, none.
            let odd = ports
                .choose(PortUse::Connect, ends, |p| p % 2 == 1)
                .unwrap();
            assert_eq!(odd % 2, 1);
            assert_eq!(ports.choose(PortUse::Udp, ends, |_| false), None);
        }
        let first = |seed| Ports::new(Numbering::Seeded, seed).choose(PortUse::Udp, ends, |_| true);
        assert_eq!(first(1), first(1));
    }
}
