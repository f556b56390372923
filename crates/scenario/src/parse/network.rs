//! The network of a scenario: hosts (and groups of hosts alike), routers, switches and the
//! cables between them, each checked with the position of what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use link::LinkConfig;
use toml::Spanned;
use trace::Time;
use wire::MacAddr;

use super::Source;
use super::program::number_line;
use super::spec::{CableSpec, FaultSpec, FileSpec, HostSpec, RouterSpec};
use super::values::parse_route6;
use super::values::{faults_from, parse_cidr, parse_cidr6, parse_duration, parse_route};
use crate::{Engine, HostDef, LinkDef, ScenarioError, SwitchDef};

/// Addresses given out so far, so that every MAC and IP address in the file is unique.
#[derive(Default)]
pub(super) struct Taken {
    macs: BTreeMap<MacAddr, String>,
    ips: BTreeMap<Ipv4Addr, String>,
}

impl Taken {
    /// Take `mac` for `owner`; the owner that already has it, if any.
    fn mac(&mut self, mac: MacAddr, owner: &str) -> Option<String> {
        self.macs.insert(mac, owner.to_string())
    }

    /// Take `ip` for `owner`; the owner that already has it, if any.
    fn ip(&mut self, ip: Ipv4Addr, owner: &str) -> Option<String> {
        self.ips.insert(ip, owner.to_string())
    }
}

/// Groups of hosts alike (`count = N`, N > 1): name → N.
pub(super) fn groups(
    src: &Source,
    spec: &FileSpec,
) -> Result<BTreeMap<String, u32>, ScenarioError> {
    let mut groups = BTreeMap::new();
    for (name, host) in &spec.hosts {
        if let Some(count) = &host.get_ref().count {
            if !(1..=65_000).contains(count.get_ref()) {
                return Err(src.error(count, "`count` is between 1 and 65000 hosts"));
            }
            if *count.get_ref() > 1 {
                groups.insert(name.clone(), *count.get_ref() as u32);
            }
        }
    }
    Ok(groups)
}

/// One `[hosts.NAME]` table, its addresses taken.
pub(super) fn host(
    src: &Source,
    taken: &mut Taken,
    name: &str,
    h: &HostSpec,
) -> Result<HostDef, ScenarioError> {
    let mac = host_mac(src, taken, name, &h.mac)?;
    let (ip, prefix) = parse_cidr(h.ip.get_ref()).ok_or_else(|| {
        let text = h.ip.get_ref();
        let what =
            format!("`{text}`: expected an IPv4 address with a prefix length, like 10.0.0.1/24");
        src.error(&h.ip, what)
    })?;
    if let Some(other) = taken.ip(ip, name) {
        return Err(src.error(
            &h.ip,
            format!("IP address {ip} is already used by host `{other}`"),
        ));
    }
    let gateway = gateway_of(src, h)?;
    let (ip6, gateway6) = ipv6_of(src, h)?;
    Ok(HostDef {
        name: name.to_string(),
        mac,
        ip,
        prefix,
        gateway,
        ip6,
        gateway6,
        slaac: h.slaac.unwrap_or(false),
        dad: h.dad.unwrap_or(false),
        msl: optional_duration(src, &h.msl)?,
        mtu: bounded(
            src,
            &h.mtu,
            576..=9000,
            "the MTU must be between 576 and 9000 octets",
        )?
        .map(|m| m as u16),
        recv_buffer: bounded(
            src,
            &h.recv_buffer,
            1..=1 << 30,
            "the receive buffer must be between 1 octet and 1 GiB",
        )?
        .map(|b| b as u32),
        send_buffer: bounded(
            src,
            &h.send_buffer,
            1..=1 << 30,
            "the send buffer must be between 1 octet and 1 GiB",
        )?
        .map(|b| b as u32),
        engine: engine(src, &h.engine)?,
        tap: h.tap.as_ref().map(|t| t.get_ref().clone()),
        min_rto: optional_duration(src, &h.min_rto)?,
        profile: profile(src, &h.profile)?,
        congestion: congestion(src, &h.congestion)?,
        syn_backlog: bounded(
            src,
            &h.syn_backlog,
            1..=1 << 20,
            "the SYN backlog must be between 1 and 1048576 half-open connections",
        )?
        .map(|b| b as u32),
        sack: h.sack.unwrap_or(true),
        timestamps: h.timestamps.unwrap_or(true),
        syncookies: h.syncookies.unwrap_or(true),
        program: Vec::new(),
        python: None,
    })
}

/// A host's IPv4 default gateway, checked.
fn gateway_of(src: &Source, h: &HostSpec) -> Result<Option<Ipv4Addr>, ScenarioError> {
    let Some(g) = &h.gateway else {
        return Ok(None);
    };
    let gateway = g.get_ref().parse::<Ipv4Addr>().map_err(|_| {
        let what = format!(
            "`{}`: expected an IPv4 address like 10.0.0.254",
            g.get_ref()
        );
        src.error(g, what)
    })?;
    Ok(Some(gateway))
}

/// IPv6 addresses with their prefix lengths, each checked; `like` shows one in the error.
fn addresses6(
    src: &Source,
    list: &Option<Vec<Spanned<String>>>,
    like: &str,
) -> Result<Vec<(std::net::Ipv6Addr, u8)>, ScenarioError> {
    list.iter()
        .flatten()
        .map(|a| {
            parse_cidr6(a.get_ref()).ok_or_else(|| {
                let what = format!(
                    "`{}`: expected an IPv6 address with a prefix length, like {like}",
                    a.get_ref()
                );
                src.error(a, what)
            })
        })
        .collect()
}

/// A host's IPv6 addresses with their prefix lengths, and its default router.
type Ipv6Setup = (Vec<(std::net::Ipv6Addr, u8)>, Option<std::net::Ipv6Addr>);

/// A host's IPv6 addresses and default router, each checked.
fn ipv6_of(src: &Source, h: &HostSpec) -> Result<Ipv6Setup, ScenarioError> {
    let ip6 = addresses6(src, &h.ip6, "2001:db8:1::10/64")?;
    let gateway6 = match &h.gateway6 {
        Some(g) => Some(g.get_ref().parse::<std::net::Ipv6Addr>().map_err(|_| {
            let what = format!(
                "`{}`: expected an IPv6 address like 2001:db8:1::1",
                g.get_ref()
            );
            src.error(g, what)
        })?),
        None => None,
    };
    Ok((ip6, gateway6))
}

/// A host's MAC: well formed, not a group address, not taken.
fn host_mac(
    src: &Source,
    taken: &mut Taken,
    name: &str,
    text: &Spanned<String>,
) -> Result<MacAddr, ScenarioError> {
    let mac: MacAddr = text
        .get_ref()
        .parse()
        .map_err(|e| src.error(text, format!("`{}`: {e}", text.get_ref())))?;
    if mac.is_group() {
        return Err(src.error(
            text,
            format!(
                "`{mac}` is a group (multicast) address; a host's MAC must have the lowest \
                 bit of the first octet clear, like 02:00:00:00:00:01"
            ),
        ));
    }
    if let Some(other) = taken.mac(mac, name) {
        return Err(src.error(
            text,
            format!("MAC {mac} is already used by host `{other}`; every MAC must be unique"),
        ));
    }
    Ok(mac)
}

fn optional_duration(
    src: &Source,
    value: &Option<Spanned<String>>,
) -> Result<Option<Time>, ScenarioError> {
    value
        .as_ref()
        .map(|v| parse_duration(v.get_ref()).map_err(|e| src.error(v, e)))
        .transpose()
}

/// An optional whole number, which must lie in `range`.
fn bounded(
    src: &Source,
    value: &Option<Spanned<i64>>,
    range: std::ops::RangeInclusive<i64>,
    message: &str,
) -> Result<Option<i64>, ScenarioError> {
    match value {
        Some(v) if !range.contains(v.get_ref()) => Err(src.error(v, message)),
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    }
}

fn engine(src: &Source, value: &Option<Spanned<String>>) -> Result<Engine, ScenarioError> {
    match value.as_ref().map(|e| (e, e.get_ref().as_str())) {
        None | Some((_, "packetlab")) => Ok(Engine::Packetlab),
        Some((_, "smoltcp")) => Ok(Engine::Smoltcp),
        Some((e, other)) => Err(src.error(
            e,
            format!("unknown engine `{other}`; expected \"packetlab\" or \"smoltcp\""),
        )),
    }
}

fn profile(src: &Source, value: &Option<Spanned<String>>) -> Result<stack::Profile, ScenarioError> {
    match value.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "rfc")) => Ok(stack::Profile::Rfc),
        Some((_, "linux")) => Ok(stack::Profile::Linux),
        Some((p, other)) => Err(src.error(
            p,
            format!("unknown profile `{other}`; expected \"rfc\" or \"linux\""),
        )),
    }
}

fn congestion(
    src: &Source,
    value: &Option<Spanned<String>>,
) -> Result<Option<stack::CongestionControl>, ScenarioError> {
    let Some(value) = value else {
        return Ok(None);
    };
    stack::CongestionControl::from_name(value.get_ref())
        .map(Some)
        .ok_or_else(|| {
            let other = value.get_ref();
            src.error(
                value,
                format!("unknown congestion control `{other}`; expected \"reno\" or \"cubic\""),
            )
        })
}

/// One `[routers.NAME]` table: its ports' addresses taken, its routes checked.
pub(super) fn router(
    src: &Source,
    taken: &mut Taken,
    name: &str,
    router: &Spanned<RouterSpec>,
) -> Result<stack::RouterConfig, ScenarioError> {
    let r = router.get_ref();
    let ports = r
        .ports
        .iter()
        .map(|port| router_port(src, taken, name, port))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut routes, mut routes6) = (Vec::new(), Vec::new());
    for route in &r.routes {
        match parse_route6(route.get_ref()) {
            Some(r6) => routes6.push(r6),
            None => routes.push(parse_route(route.get_ref()).map_err(|e| src.error(route, e))?),
        }
    }
    let config = stack::RouterConfig {
        name: name.to_string(),
        ports,
        routes,
        routes6,
    };
    if let Err(e) = stack::Router::new(config.clone()) {
        let at = r
            .routes
            .iter()
            .find(|t| parse_route(t.get_ref()).is_ok_and(|x| x.via == e.via))
            .map_or_else(|| router.span(), |t| t.span());
        return Err(src.error_at(at.start, e.to_string()));
    }
    Ok(config)
}

fn router_port(
    src: &Source,
    taken: &mut Taken,
    name: &str,
    port: &Spanned<CableSpec>,
) -> Result<stack::RouterPort, ScenarioError> {
    let to = port_end(src, port)?;
    let p = port.get_ref();
    let (Some(port_mac), Some(port_ip)) = (&p.mac, &p.ip) else {
        return Err(src.error(
            to,
            "a router port needs its `mac` and `ip` (like ip = \"10.0.1.1/24\")",
        ));
    };
    let mac: MacAddr = port_mac
        .get_ref()
        .parse()
        .map_err(|e| src.error(port_mac, format!("`{}`: {e}", port_mac.get_ref())))?;
    if let Some(other) = taken.mac(mac, name) {
        return Err(src.error(
            port_mac,
            format!("MAC {mac} is already used by `{other}`; every MAC must be unique"),
        ));
    }
    let (ip, prefix) = parse_cidr(port_ip.get_ref()).ok_or_else(|| {
        let what = format!(
            "`{}`: expected the port's IPv4 address with a prefix length, like 10.0.1.1/24",
            port_ip.get_ref()
        );
        src.error(port_ip, what)
    })?;
    if let Some(other) = taken.ip(ip, name) {
        return Err(src.error(
            port_ip,
            format!("IP address {ip} is already used by `{other}`"),
        ));
    }
    let ip6 = addresses6(src, &p.ip6, "2001:db8:1::1/64")?;
    let mtu = bounded(
        src,
        &p.mtu,
        1280..=9000,
        "an IPv6 link's MTU is 1280 to 9000 octets",
    )?
    .map_or(1500, |m| m as u16);
    Ok(stack::RouterPort {
        label: to.get_ref().clone(),
        mac,
        ip,
        prefix,
        ip6,
        mtu,
    })
}

/// The far end of a switch's or router's port; a port has no `a`, `b` or `a_to_b`/`b_to_a`.
fn port_end<'c>(
    src: &Source,
    port: &'c Spanned<CableSpec>,
) -> Result<&'c Spanned<String>, ScenarioError> {
    let p = port.get_ref();
    if let Some(a) = p.a.as_ref().or(p.b.as_ref()) {
        return Err(src.error(
            a,
            "a port names its far end with `to`; `a` and `b` are for [[links]]",
        ));
    }
    if let Some(d) = p.a_to_b.as_ref().or(p.b_to_a.as_ref()) {
        return Err(src.error(
            d,
            "a port's directions are `up` and `down`; `a_to_b` and `b_to_a` are for [[links]]",
        ));
    }
    p.to.as_ref().ok_or_else(|| {
        src.error(
            port,
            "a port needs `to`, the node at the other end of its cable",
        )
    })
}

/// The two ends of a `[[links]]` entry; a link has no `to`, `mac`, `ip`, `up` or `down`.
fn link_ends<'c>(
    src: &Source,
    link: &'c Spanned<CableSpec>,
) -> Result<(&'c Spanned<String>, &'c Spanned<String>), ScenarioError> {
    let l = link.get_ref();
    if let Some(to) = &l.to {
        return Err(src.error(
            to,
            "a link names its ends `a` and `b`; `to` is for a switch's or router's port",
        ));
    }
    if let Some(address) = l.mac.as_ref().or(l.ip.as_ref()) {
        return Err(src.error(
            address,
            "a link has no addresses: `mac` and `ip` belong on a host or a router's port",
        ));
    }
    if let Some(d) = l.up.as_ref().or(l.down.as_ref()) {
        return Err(src.error(
            d,
            "a link's directions are `a_to_b` and `b_to_a`; `up` and `down` are for ports",
        ));
    }
    match (&l.a, &l.b) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(src.error(link, "a link needs `a` and `b`, the two nodes it joins")),
    }
}

/// Every cable of the file, checked: both ends known, a host on one cable only, groups on
/// switch ports only.
pub(super) struct Cabling<'a> {
    src: &'a Source<'a>,
    spec: &'a FileSpec,
    groups: &'a BTreeMap<String, u32>,
    node_names: BTreeSet<String>,
    host_links: BTreeMap<String, String>,
    links: Vec<LinkDef>,
}

impl<'a> Cabling<'a> {
    /// Check that no name is two kinds of node, then gather the cables.
    pub(super) fn links(
        src: &'a Source<'a>,
        spec: &'a FileSpec,
        groups: &'a BTreeMap<String, u32>,
    ) -> Result<Vec<LinkDef>, ScenarioError> {
        if let Some(name) = spec.hosts.keys().find(|h| spec.switches.contains_key(*h)) {
            let at = &spec.switches[name];
            return Err(src.error(at, format!("`{name}` names both a host and a switch")));
        }
        if let Some(name) = spec
            .routers
            .keys()
            .find(|r| spec.hosts.contains_key(*r) || spec.switches.contains_key(*r))
        {
            let at = &spec.routers[name];
            return Err(src.error(at, format!("`{name}` names a router and another node")));
        }
        let members = groups
            .iter()
            .flat_map(|(name, &n)| (1..=n).map(move |i| format!("{name}{i}")));
        let node_names = spec
            .hosts
            .keys()
            .chain(spec.switches.keys())
            .chain(spec.routers.keys())
            .cloned()
            .chain(members)
            .collect();
        let mut cabling = Cabling {
            src,
            spec,
            groups,
            node_names,
            host_links: BTreeMap::new(),
            links: Vec::new(),
        };
        cabling.switch_ports()?;
        cabling.router_ports()?;
        for link in &spec.links {
            let (a, b) = link_ends(src, link)?;
            let l = link.get_ref();
            cabling.add((a, b), &l.delay, l.directions(), [None, None])?;
        }
        Ok(cabling.links)
    }

    fn switch_ports(&mut self) -> Result<(), ScenarioError> {
        for (switch, spec) in &self.spec.switches {
            for port in &spec.get_ref().links {
                let to = port_end(self.src, port)?;
                let p = port.get_ref();
                let ip6 = p.ip6.as_ref().and_then(|a| a.first());
                if let Some(address) = p.mac.as_ref().or(p.ip.as_ref()).or(ip6) {
                    return Err(self.src.error(
                        address,
                        "a switch port has no addresses: `mac` and `ip` belong on a router's port",
                    ));
                }
                if self.spec.routers.contains_key(to.get_ref()) {
                    return Err(self.src.error(
                        to,
                        format!(
                            "a cable to router `{}` is written once, on the router's port \
                             (`{{ to = \"{switch}\", mac = …, ip = … }}`), not on the switch",
                            to.get_ref()
                        ),
                    ));
                }
                let here = Spanned::new(to.span(), switch.clone());
                let Some(&n) = self.groups.get(to.get_ref()) else {
                    self.add((to, &here), &p.delay, p.directions(), [None, None])?;
                    continue;
                };
                // A group takes one port each.
                for i in 1..=n {
                    let member = Spanned::new(to.span(), format!("{}{i}", to.get_ref()));
                    self.add((&member, &here), &p.delay, p.directions(), [None, None])?;
                }
            }
        }
        Ok(())
    }

    fn router_ports(&mut self) -> Result<(), ScenarioError> {
        let spec = self.spec;
        for (router, r) in &spec.routers {
            for (i, port) in r.get_ref().ports.iter().enumerate() {
                let to = port_end(self.src, port)?;
                let here = Spanned::new(to.span(), router.clone());
                let far = to.get_ref();
                let mut ends = [None, Some(i)];
                if let Some(other) = spec.routers.get(far) {
                    // A cable between two routers is written on both; make it once.
                    let position = other.get_ref().ports.iter().position(|p| {
                        p.get_ref()
                            .to
                            .as_ref()
                            .is_some_and(|t| t.get_ref() == router)
                    });
                    let Some(j) = position else {
                        return Err(self
                            .src
                            .error(to, format!("router `{far}` has no port toward `{router}`")));
                    };
                    if far.as_str() < router.as_str() {
                        continue;
                    }
                    ends[0] = Some(j);
                }
                let p = port.get_ref();
                self.add((to, &here), &p.delay, p.directions(), ends)?;
            }
        }
        Ok(())
    }

    /// One cable from `a` to `b`, after checking its ends.
    fn add(
        &mut self,
        (a, b): (&Spanned<String>, &Spanned<String>),
        delay: &Option<Spanned<String>>,
        faults: [FaultSpec; 2],
        ports: [Option<usize>; 2],
    ) -> Result<(), ScenarioError> {
        self.check_ends(a, b)?;
        let name = format!("{}-{}", a.get_ref(), b.get_ref());
        for end in [a, b] {
            if !self.spec.hosts.contains_key(end.get_ref()) {
                continue;
            }
            if let Some(first) = self.host_links.insert(end.get_ref().clone(), name.clone()) {
                return Err(self.src.error(
                    end,
                    format!(
                        "host `{}` already has a link ({first}); a host has one network interface",
                        end.get_ref()
                    ),
                ));
            }
        }
        let delay = optional_duration(self.src, delay)?.unwrap_or(Time::from_millis(1));
        let config = LinkConfig {
            delay,
            faults: [
                faults_from(self.src, &faults[0])?,
                faults_from(self.src, &faults[1])?,
            ],
        };
        self.links.push(LinkDef {
            a: a.get_ref().clone(),
            b: b.get_ref().clone(),
            name,
            config,
            ports,
        });
        Ok(())
    }

    /// Both ends are nodes of the file, not the same one, and not a group.
    fn check_ends(&self, a: &Spanned<String>, b: &Spanned<String>) -> Result<(), ScenarioError> {
        for end in [a, b] {
            if !self.node_names.contains(end.get_ref()) {
                let known: Vec<&str> = self.node_names.iter().map(String::as_str).collect();
                return Err(self.src.error(
                    end,
                    format!(
                        "link to `{}`, which is not a host, a switch or a router; known: {}",
                        end.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
        }
        if a.get_ref() == b.get_ref() {
            return Err(self
                .src
                .error(b, format!("a link from `{}` to itself", a.get_ref())));
        }
        for end in [a, b] {
            if let Some(n) = self.groups.get(end.get_ref()) {
                return Err(self.src.error(
                    end,
                    format!(
                        "`{}` is a group of {n} hosts (`count`): list it on a switch's ports, \
                         which gives each its own port",
                        end.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Each group (`count = N`) becomes N hosts, NAME1…NAMEn, their MACs and addresses counted up
/// from the group's, `{n}` in their programs' strings their number.
pub(super) fn expand_groups(
    src: &Source,
    taken: &mut Taken,
    hosts: Vec<HostDef>,
    spec: &FileSpec,
    groups: &BTreeMap<String, u32>,
) -> Result<Vec<HostDef>, ScenarioError> {
    let mut expanded = Vec::with_capacity(hosts.len());
    for (def, (_, spec_host)) in hosts.into_iter().zip(&spec.hosts) {
        let Some(&n) = groups.get(&def.name) else {
            expanded.push(def);
            continue;
        };
        let at = spec_host
            .get_ref()
            .count
            .as_ref()
            .map_or(spec_host.span(), |c| c.span());
        fits_subnet(&def, n).map_err(|m| src.error_at(at.start, m))?;
        for i in 1..=n {
            let member = member(&def, i);
            if i > 1 {
                if let Some(other) = taken.mac(member.mac, &member.name) {
                    let what = format!(
                        "{} would get MAC {}, already used by `{other}`",
                        member.name, member.mac
                    );
                    return Err(src.error_at(at.start, what));
                }
                if let Some(other) = taken.ip(member.ip, &member.name) {
                    let what = format!(
                        "{} would get IP address {}, already used by `{other}`",
                        member.name, member.ip
                    );
                    return Err(src.error_at(at.start, what));
                }
            }
            expanded.push(member);
        }
    }
    Ok(expanded)
}

/// The `n` addresses counted up from a group's first stay inside its subnet, short of its
/// broadcast address.
fn fits_subnet(def: &HostDef, n: u32) -> Result<(), String> {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(def.prefix))
        .unwrap_or(0);
    let first = u32::from(def.ip);
    let network = first & mask;
    let broadcast = network | !mask;
    match first.checked_add(n - 1) {
        Some(last) if last & mask == network && last != broadcast => Ok(()),
        last => Err(format!(
            "{n} hosts from {} do not fit in {}/{}: the last would be {}; widen the prefix \
             or start lower",
            def.ip,
            Ipv4Addr::from(network),
            def.prefix,
            last.map_or_else(
                || "past 255.255.255.255".to_string(),
                |l| Ipv4Addr::from(l).to_string()
            ),
        )),
    }
}

/// Member `i` (from 1) of a group.
fn member(def: &HostDef, i: u32) -> HostDef {
    let m = def.mac.0;
    let base_mac = u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]);
    let mac = (base_mac + u64::from(i - 1)).to_be_bytes();
    let mut member = def.clone();
    member.name = format!("{}{i}", def.name);
    if let Some(program) = &mut member.python {
        let file = program
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        program.label = Some(format!("{}/{file}", member.name));
    }
    member.mac = MacAddr([mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]]);
    member.ip = Ipv4Addr::from(u32::from(def.ip).wrapping_add(i - 1));
    for (addr, _) in &mut member.ip6 {
        *addr = std::net::Ipv6Addr::from(u128::from(*addr).wrapping_add(u128::from(i - 1)));
    }
    for line in &mut member.program {
        number_line(line, i);
    }
    member
}

/// The switches, with their aging times.
pub(super) fn switches(src: &Source, spec: &FileSpec) -> Result<Vec<SwitchDef>, ScenarioError> {
    spec.switches
        .iter()
        .map(|(name, switch)| {
            let aging = optional_duration(src, &switch.get_ref().aging)?;
            Ok(SwitchDef {
                name: name.clone(),
                aging: aging.unwrap_or(sim::DEFAULT_AGING),
            })
        })
        .collect()
}
