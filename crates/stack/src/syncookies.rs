//! SYN cookies (RFC 4987 §3.6), as Linux makes them: with `tcp_syncookies = 1` only when a
//! listener's SYN queue (半连接池) is full, with `2` for every SYN. The SYN+ACK's sequence
//! number carries what the listener would have kept — a coarse clock, the client's MSS (one
//! of four) and a keyed hash of the connection — and nothing is kept at all; the
//! handshake's ACK brings it back. When both SYNs carry timestamps, the low six bits of the
//! SYN+ACK's TSval carry the rest (Linux's `cookie_init_timestamp`): the peer's window
//! scale and SACK-permitted, which come back in the ACK's TSecr. Without timestamps a
//! cookie connection has no window scaling and no SACK.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use trace::Time;

/// The MSS values a cookie can say (Linux's `msstab`).
pub(crate) const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// The cookie's clock ticks once a minute (64 s, as Linux's); a cookie is good for two ticks.
const TICK: u64 = 64_000_000_000;
const HASH_BITS: u32 = 25;

/// When a listener answers with SYN cookies (Linux's `tcp_syncookies`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SynCookies {
    /// Never: a full SYN queue drops SYNs (0).
    Off,
    /// Once the SYN queue is full (1, Linux's default).
    #[default]
    OnOverflow,
    /// For every SYN (2).
    Always,
}

/// Bits of the cookie's TSval: the window scale (15: none) and SACK-permitted.
const TS_OPT_WSCALE_MASK: u32 = 0xf;
const TS_OPT_SACK: u32 = 1 << 4;
const TS_BITS: u32 = 6;

/// The options a cookie carries in its timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct CookieOptions {
    /// The peer's window scale, if both sides scale.
    pub wscale: Option<u8>,
    /// Both sides agreed to SACK.
    pub sack: bool,
}

impl CookieOptions {
    /// The TSval of the cookie's SYN+ACK: the clock `tsval` with its low six bits replaced
    /// by the options, never later than the clock.
    pub fn encode(self, tsval: u32) -> u32 {
        let bits = self.wscale.map_or(TS_OPT_WSCALE_MASK, u32::from)
            | if self.sack { TS_OPT_SACK } else { 0 };
        let ts = (tsval >> TS_BITS << TS_BITS) | bits;
        if ts > tsval {
            ts.wrapping_sub(1 << TS_BITS)
        } else {
            ts
        }
    }

    /// The options from the TSecr of the ACK that returns the cookie.
    pub fn decode(tsecr: u32) -> CookieOptions {
        let wscale = tsecr & TS_OPT_WSCALE_MASK;
        CookieOptions {
            wscale: (wscale != TS_OPT_WSCALE_MASK).then_some(wscale as u8),
            sack: tsecr & TS_OPT_SACK != 0,
        }
    }
}

/// The key behind a host's cookies.
#[derive(Debug)]
pub(crate) enum CookieKey {
    /// From the host's seed: the simulator's runs repeat themselves.
    Seeded(u64),
    /// From the system's randomness (SipHash): a real network.
    Secret(std::collections::hash_map::RandomState),
}

/// An address as 32 bits for the seeded hash: an IPv4 address itself, an IPv6 one folded.
fn ip_word(ip: std::net::IpAddr) -> u32 {
    match ip {
        std::net::IpAddr::V4(v4) => u32::from(v4),
        std::net::IpAddr::V6(v6) => {
            let x = u128::from(v6);
            (x ^ x >> 32 ^ x >> 64 ^ x >> 96) as u32
        }
    }
}

impl CookieKey {
    /// The 25-bit hash of the connection, the client's ISN and the clock tick.
    fn hash(&self, local: SocketAddr, remote: SocketAddr, client_isn: u32, tick: u32) -> u32 {
        let mask = (1u32 << HASH_BITS) - 1;
        match self {
            CookieKey::Secret(state) => {
                state.hash_one((local, remote, client_isn, tick)) as u32 & mask
            }
            CookieKey::Seeded(key) => {
                let words = [
                    u64::from(ip_word(local.ip())) << 16 | u64::from(local.port()),
                    u64::from(ip_word(remote.ip())) << 16 | u64::from(remote.port()),
                    u64::from(client_isn) << 8 | u64::from(tick),
                ];
                words.iter().fold(*key, |h, w| mix(h ^ w)) as u32 & mask
            }
        }
    }

    /// The timestamp offset of a connection made from a cookie: derived from its
    /// addresses (as Linux's `secure_tcp_ts_off`), so the SYN+ACK and the connection
    /// rebuilt later count from the same clock.
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        let high = self.hash(local, remote, 0x7473, 0xff) << 7;
        high ^ self.hash(remote, local, 0x7473, 0xfe)
    }

    /// The cookie for a SYN from `remote` with ISN `client_isn` and MSS `mss`, at `now`.
    pub fn make(
        &self,
        now: Time,
        (local, remote): (SocketAddr, SocketAddr),
        client_isn: u32,
        mss: Option<u16>,
    ) -> u32 {
        let tick = (now.0 / TICK) as u32 & 0x1f;
        let index = MSS_TABLE
            .iter()
            .rposition(|&m| m <= mss.unwrap_or(536))
            .unwrap_or(0) as u32;
        tick << 27 | index << HASH_BITS | self.hash(local, remote, client_isn, tick)
    }

    /// The MSS a cookie came back with, if it is one of ours and less than two ticks old.
    pub fn check(
        &self,
        now: Time,
        (local, remote): (SocketAddr, SocketAddr),
        client_isn: u32,
        cookie: u32,
    ) -> Option<u16> {
        let tick = cookie >> 27;
        let current = (now.0 / TICK) as u32;
        let fresh = tick == current & 0x1f || tick == current.wrapping_sub(1) & 0x1f;
        let mask = (1u32 << HASH_BITS) - 1;
        let genuine = cookie & mask == self.hash(local, remote, client_isn, tick);
        (fresh && genuine).then(|| MSS_TABLE[(cookie >> HASH_BITS & 3) as usize])
    }
}

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ends() -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 9000),
            SocketAddr::new(Ipv4Addr::new(10, 0, 0, 1).into(), 49152),
        )
    }

    #[test]
    fn a_cookie_comes_back_with_its_mss_and_nothing_else_passes() {
        for key in [
            CookieKey::Seeded(7),
            CookieKey::Secret(std::collections::hash_map::RandomState::new()),
        ] {
            let now = Time::from_secs(10);
            let cookie = key.make(now, ends(), 1000, Some(1460));
            assert_eq!(key.check(now, ends(), 1000, cookie), Some(1460));
            assert_eq!(
                key.check(Time::from_secs(100), ends(), 1000, cookie),
                Some(1460)
            );
            // Too old, another client ISN, another peer, a guess: refused.
            assert_eq!(key.check(Time::from_secs(200), ends(), 1000, cookie), None);
            assert_eq!(key.check(now, ends(), 1001, cookie), None);
            let (a, b) = ends();
            assert_eq!(
                key.check(now, (a, SocketAddr::new(b.ip(), 1)), 1000, cookie),
                None
            );
            assert_eq!(key.check(now, ends(), 1000, cookie ^ 1), None);
        }
    }

    #[test]
    fn options_survive_the_timestamp_and_the_clock_never_runs_ahead() {
        for (options, clock) in [
            (
                CookieOptions {
                    wscale: Some(7),
                    sack: true,
                },
                1_000_000,
            ),
            (
                CookieOptions {
                    wscale: None,
                    sack: false,
                },
                5,
            ),
            (
                CookieOptions {
                    wscale: Some(14),
                    sack: false,
                },
                u32::MAX,
            ),
            (
                CookieOptions {
                    wscale: Some(0),
                    sack: true,
                },
                64,
            ),
        ] {
            let ts = options.encode(clock);
            assert!(
                clock.wrapping_sub(ts) < 64,
                "{ts} is within a tick before {clock}"
            );
            assert_eq!(CookieOptions::decode(ts), options);
        }
    }

    #[test]
    fn the_mss_is_rounded_down_to_the_table() {
        let key = CookieKey::Seeded(1);
        let now = Time::ZERO;
        for (offered, kept) in [
            (Some(1460), 1460),
            (Some(1400), 1300),
            (None, 536),
            (Some(100), 536),
        ] {
            let cookie = key.make(now, ends(), 5, offered);
            assert_eq!(key.check(now, ends(), 5, cookie), Some(kept));
        }
    }
}
