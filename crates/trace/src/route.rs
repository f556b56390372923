//! Where a host or a router sends an IP packet, and why: each decision a value with the
//! arithmetic's numbers (mask, network, prefix, TTL), its words and RFC in `Display` by way of
//! [`RouteDecision::about`], since the words name the destination the event holds.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// A routing decision about one destination.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum RouteDecision {
    /// A host's destination on its own subnet: delivered directly, after ARP.
    SameSubnet {
        /// The subnet mask.
        mask: Ipv4Addr,
        /// The destination AND the mask: the host's own network.
        network: Ipv4Addr,
    },
    /// A host's destination on another subnet: to the gateway, if there is one.
    OtherSubnet {
        /// The subnet mask.
        mask: Ipv4Addr,
        /// The destination AND the mask.
        theirs: Ipv4Addr,
        /// The host's own network.
        mine: Ipv4Addr,
        /// The default gateway (none: unreachable).
        gateway: Option<Ipv4Addr>,
    },
    /// The host itself: through the loopback interface.
    Loopback {
        /// The host's own address rather than a loopback one.
        own: bool,
    },
    /// An IPv6 destination on one of the host's prefixes (RFC 4861 §5.2).
    OnLink {
        /// The host's address on that prefix.
        mine: IpAddr,
        /// The prefix length.
        len: u8,
    },
    /// An IPv6 destination on no prefix of the host's: to the default router, if any.
    OffLink {
        /// The default router (none: unreachable).
        router: Option<IpAddr>,
    },
    /// A router's packet whose TTL (hop limit) would reach 0: ICMP time exceeded.
    Expired {
        /// Its TTL or hop limit as it came.
        ttl: u8,
        /// Who sent it.
        src: IpAddr,
    },
    /// A router's packet that no route matches: ICMP unreachable to its sender.
    NoMatch {
        /// Who sent it.
        src: IpAddr,
    },
    /// An IPv6 packet too big for the next link: Packet Too Big (routers do not fragment).
    TooBig {
        /// Its length.
        len: usize,
        /// Who sent it.
        src: IpAddr,
        /// The next link's MTU.
        mtu: u16,
        /// The port it would leave by.
        port: String,
    },
    /// A router forwards the packet by the route that matches it.
    Forward {
        /// The route's network.
        network: IpAddr,
        /// The route's prefix length.
        prefix: u8,
        /// The port it leaves by.
        port: String,
        /// The next router (none: the destination is on that port's network).
        via: Option<IpAddr>,
        /// Its TTL (hop limit) as it came; it leaves with one less.
        ttl: u8,
    },
}

/// A decision with the destination it is about, as the log prints it.
pub struct About<'a> {
    decision: &'a RouteDecision,
    dst: IpAddr,
}

impl RouteDecision {
    /// The decision's words about `dst`.
    pub fn about(&self, dst: IpAddr) -> About<'_> {
        About {
            decision: self,
            dst,
        }
    }
}

impl fmt::Display for About<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dst = self.dst;
        let v4 = dst.is_ipv4();
        match self.decision {
            RouteDecision::SameSubnet { mask, network } => write!(
                f,
                "{dst} AND {mask} = {network} = my network {network}: same subnet, deliver \
                 directly (ARP for {dst})"
            ),
            RouteDecision::OtherSubnet {
                mask,
                theirs,
                mine,
                gateway,
            } => {
                write!(f, "{dst} AND {mask} = {theirs} ≠ my network {mine}")?;
                match gateway {
                    Some(gw) => write!(f, ": another subnet, send to the gateway {gw}"),
                    None => f.write_str(", and no gateway: unreachable"),
                }
            }
            RouteDecision::Loopback { own } => {
                let what = match (own, v4) {
                    (true, _) => "my own address",
                    (false, true) => "a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3)",
                    (false, false) => "the loopback address ::1 (RFC 4291 §2.5.3)",
                };
                write!(f, "{dst} is {what}: through the loopback interface lo")
            }
            RouteDecision::OnLink { mine, len } => write!(
                f,
                "{dst} shares the first {len} bits with my {mine}: on-link, deliver directly \
                 (neighbor solicitation for {dst}, RFC 4861 §5.2)"
            ),
            RouteDecision::OffLink { router: Some(gw) } => write!(
                f,
                "{dst} is on no prefix of mine: send to the default router {gw} (RFC 4861 §5.2)"
            ),
            RouteDecision::OffLink { router: None } => write!(
                f,
                "{dst} is on no prefix of mine, and no default router: unreachable"
            ),
            RouteDecision::Expired { ttl, src } if v4 => write!(
                f,
                "TTL {ttl} of a packet from {src} would reach 0 here: drop it, send ICMP time \
                 exceeded back (RFC 1812 §5.3.1)"
            ),
            RouteDecision::Expired { ttl, src } => write!(
                f,
                "hop limit {ttl} of a packet from {src} would reach 0 here: drop it, send \
                 ICMPv6 time exceeded back (RFC 8200 §3, RFC 4443 §3.3)"
            ),
            RouteDecision::NoMatch { src } if v4 => write!(
                f,
                "{dst} matches no route (and there is no default): drop it, send ICMP network \
                 unreachable to {src} (RFC 1812 §5.2.7.1)"
            ),
            RouteDecision::NoMatch { src } => write!(
                f,
                "{dst} matches no route: drop it, send ICMPv6 no route to {src} (RFC 4443 §3.1)"
            ),
            RouteDecision::TooBig {
                len,
                src,
                mtu,
                port,
            } => write!(
                f,
                "a {len}-octet packet from {src} does not fit the {mtu}-octet MTU of {port}: \
                 IPv6 routers do not fragment; drop it, send Packet Too Big (MTU {mtu}) back \
                 (RFC 8200 §5, RFC 4443 §3.2)"
            ),
            RouteDecision::Forward { .. } => self.forward(f),
        }
    }
}

impl About<'_> {
    /// A forwarding decision: the mask arithmetic for IPv4, the route taken, the TTL (IPv6's
    /// hop limit) lowered.
    fn forward(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RouteDecision::Forward {
            network,
            prefix,
            port,
            via,
            ttl,
        } = self.decision
        else {
            return Ok(());
        };
        let dst = self.dst;
        let (default, lifetime) = match dst {
            IpAddr::V4(_) => ("0.0.0.0/0", "TTL"),
            IpAddr::V6(_) => ("::/0", "hop limit"),
        };
        match (via, network) {
            (Some(_), _) if *prefix == 0 => write!(
                f,
                "{dst} matches no network in the table but the default route {default}"
            )?,
            (_, IpAddr::V4(net)) => {
                let mask =
                    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0));
                write!(f, "{dst} AND {mask} = {net}: matches {net}/{prefix}")?;
            }
            (_, IpAddr::V6(net)) => write!(f, "{dst} matches {net}/{prefix}")?,
        }
        match via {
            None => write!(f, ", a connected network: out of {port} straight to {dst}")?,
            Some(via) if *prefix == 0 => write!(f, ": out of {port} to the next router {via}")?,
            Some(via) => write!(
                f,
                ", a static route: out of {port} to the next router {via}"
            )?,
        }
        write!(f, "; {lifetime} {ttl} → {}", ttl.saturating_sub(1))
    }
}
