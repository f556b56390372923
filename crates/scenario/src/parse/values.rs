//! Values written as text in a scenario: durations, percentages, rates, sizes, addresses,
//! routes, and a link's faults.

use std::net::Ipv4Addr;

use link::Faults;
use toml::Spanned;
use trace::Time;

use super::Source;
use super::spec::FaultSpec;
use crate::ScenarioError;

/// Parse a duration like `10ms`, `1.5s`, `2min`, `500us`.
pub fn parse_duration(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let expected = "expected a duration like 10ms, 1.5s, 2min or 500us";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        "" if number == "0" => 1.0,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    Ok(Time((value * scale).round() as u64))
}

/// Parse a percentage like `5%` or `0.5%` into a probability.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let expected = "expected a percentage like \"5%\" or \"0.5%\"";
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("`{text}`: {expected}"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "`{text}`: a percentage must be between 0% and 100%"
        ));
    }
    Ok(value / 100.0)
}

/// Parse a rate like `10Mbit`, `1Gbit`, `500kbit` or `9600bit` into bits per second.
pub(super) fn parse_rate(text: &str) -> Result<u64, String> {
    let expected = "expected a rate like 10Mbit, 1Gbit, 500kbit (bits per second)";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim().trim_end_matches("/s") {
        "bit" => 1.0,
        "kbit" => 1e3,
        "Mbit" => 1e6,
        "Gbit" => 1e9,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    let bps = (value * scale).round() as u64;
    if bps == 0 {
        return Err(format!("`{text}`: a rate must be above zero"));
    }
    Ok(bps)
}

pub(super) fn faults_from(src: &Source, spec: &FaultSpec) -> Result<Faults, ScenarioError> {
    let mut faults = Faults::default();
    if let Some(j) = &spec.jitter {
        faults.jitter = parse_duration(j.get_ref()).map_err(|e| src.error(j, e))?;
    }
    let percent = |field: &Option<Spanned<String>>| -> Result<f64, ScenarioError> {
        match field {
            Some(p) => parse_percent(p.get_ref()).map_err(|e| src.error(p, e)),
            None => Ok(0.0),
        }
    };
    faults.loss = percent(&spec.loss)?;
    faults.reorder = percent(&spec.reorder)?;
    faults.duplicate = percent(&spec.duplicate)?;
    faults.corrupt = percent(&spec.corrupt)?;
    if let Some(d) = &spec.reorder_delay {
        faults.reorder_delay = parse_duration(d.get_ref()).map_err(|e| src.error(d, e))?;
    }
    if let Some(list) = &spec.drop {
        for &n in list.get_ref() {
            if n < 1 {
                return Err(src.error(
                    list,
                    format!("`drop` lists frame counts from 1 (the first frame), found {n}"),
                ));
            }
            faults.drop_nth.push(n as u64);
        }
    }
    if let Some(r) = &spec.rate {
        faults.rate_bps = Some(parse_rate(r.get_ref()).map_err(|e| src.error(r, e))?);
        faults.queue = 64;
    }
    if let Some(q) = &spec.queue {
        if spec.rate.is_none() {
            return Err(src.error(
                q,
                "`queue` needs a `rate`: without a rate limit nothing waits",
            ));
        }
        if !(1..=100_000).contains(q.get_ref()) {
            return Err(src.error(q, "the queue holds between 1 and 100000 frames"));
        }
        faults.queue = *q.get_ref() as usize;
    }
    Ok(faults)
}

/// Parse a static route: `10.0.3.0/24 via 10.0.2.2` or `default via 10.0.2.254`.
pub(super) fn parse_route(text: &str) -> Result<stack::StaticRoute, String> {
    let expected = || {
        format!(
            "`{text}`: expected a route like \"10.0.3.0/24 via 10.0.2.2\" or \"default via \
             10.0.2.254\""
        )
    };
    let (net, via) = text.split_once(" via ").ok_or_else(expected)?;
    let (network, prefix) = match net.trim() {
        "default" => (Ipv4Addr::UNSPECIFIED, 0),
        cidr => parse_cidr(cidr).ok_or_else(expected)?,
    };
    let via: Ipv4Addr = via.trim().parse().map_err(|_| expected())?;
    Ok(stack::StaticRoute {
        network,
        prefix,
        via,
    })
}

/// An IPv6 route, like `2001:db8:3::/64 via 2001:db8:2::2` or `::/0 via fe80::1`; none if
/// the text is not one (it may be an IPv4 route).
pub(super) fn parse_route6(text: &str) -> Option<stack::StaticRoute6> {
    let (net, via) = text.split_once(" via ")?;
    let (network, prefix) = parse_cidr6(net)?;
    Some(stack::StaticRoute6 {
        network,
        prefix,
        via: via.trim().parse().ok()?,
    })
}

/// An IPv6 address with its prefix length, like `2001:db8:1::10/64`.
pub fn parse_cidr6(text: &str) -> Option<(std::net::Ipv6Addr, u8)> {
    let (ip, len) = text.trim().split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 128)?;
    Some((ip.parse().ok()?, len))
}

/// An IPv4 address with its prefix length, like `10.0.0.1/24`.
pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((ip.parse().ok()?, prefix))
}

/// Parse a size like `1024`, `64KiB`, `1MiB` or `1GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected = "expected a size like 1000, 64KiB, 16MiB or 1GiB";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: {expected}"))?;
    n.checked_mul(scale)
        .filter(|n| *n <= 1 << 40)
        .ok_or_else(|| format!("`{text}`: too large (at most 1TiB)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms").unwrap(), Time::from_millis(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Time::from_millis(1500));
        assert_eq!(parse_duration("2min").unwrap(), Time::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Time::ZERO);
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn error_positions_count_lines_and_columns_from_one() {
        let src = Source {
            path: "x.toml",
            text: "a\nbcd\n",
        };
        let e = src.error_at(4, "m");
        assert_eq!((e.line, e.column), (2, 3));
        assert_eq!(e.to_string(), "x.toml:2:3: m");
    }
}
