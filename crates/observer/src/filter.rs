//! Capture filters in the words of tcpdump's (pcap-filter(7)): the primitives a learner types
//! to watch one conversation (`tcp port 9000`, `host 10.0.0.2 and not port 22`), matched
//! against the innermost IP packet of each frame. It is the part of pcap-filter that names
//! protocols, hosts, networks and ports; byte offsets and link-layer primitives are refused
//! with their column, never ignored.

use std::net::IpAddr;

use crate::Inner;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter(Expr);

/// Which end of a packet a primitive looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    Either,
}

/// The protocols a filter can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Ip,
    Ip6,
    Arp,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    Proto(Proto),
    Host(Dir, IpAddr),
    Net(Dir, IpAddr, u8),
    Port(Dir, u16, u16),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A filter that does not parse: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct FilterError {
    /// The column (from 1) of the word in question.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Filter {
    /// Parse a filter expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let words = tokens(text);
        let mut parser = Parser { words, at: 0 };
        let expr = parser.or()?;
        match parser.words.get(parser.at) {
            None => Ok(Filter(expr)),
            Some((column, word)) => Err(FilterError {
                column: *column,
                message: format!("`{word}` is not expected here: `and` or `or` joins primitives"),
            }),
        }
    }

    /// Whether a frame holding `inner` passes.
    pub fn matches(&self, inner: &Inner) -> bool {
        let fields = Fields::of(inner);
        self.0.eval(&fields)
    }
}

/// The words of a filter and the column each starts at; `(`, `)` and `!` are words alone.
fn tokens(text: &str) -> Vec<(usize, String)> {
    let mut words = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, c) in text.char_indices() {
        let column = text[..i].chars().count() + 1;
        if c.is_whitespace() || matches!(c, '(' | ')' | '!') {
            words.extend(current.take());
            if !c.is_whitespace() {
                words.push((column, c.to_string()));
            }
        } else {
            current.get_or_insert((column, String::new())).1.push(c);
        }
    }
    words.extend(current);
    // `!=` never occurs in these primitives; `&&` and `||` are words of their own already.
    words
}

struct Parser {
    words: Vec<(usize, String)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(|(_, w)| w.as_str())
    }

    fn column(&self) -> usize {
        self.words
            .get(self.at)
            .map_or_else(|| self.end_column(), |(c, _)| *c)
    }

    fn end_column(&self) -> usize {
        self.words.last().map_or(1, |(c, w)| c + w.chars().count())
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError {
            column: self.column(),
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    /// `and`, `&&`, or two primitives side by side (`tcp port 80`).
    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.not()?;
        loop {
            match self.peek() {
                Some("and" | "&&") => self.at += 1,
                Some(w) if w != ")" && w != "or" && w != "||" => {}
                _ => return Ok(left),
            }
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if matches!(self.peek(), Some("not" | "!")) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some("(") {
            self.at += 1;
            let inner = self.or()?;
            if self.peek() != Some(")") {
                return self.error("a `)` to close the `(`");
            }
            self.at += 1;
            return Ok(inner);
        }
        self.primitive()
    }

    fn primitive(&mut self) -> Result<Expr, FilterError> {
        let dir = match self.peek() {
            Some("src") => Dir::Src,
            Some("dst") => Dir::Dst,
            _ => Dir::Either,
        };
        if dir != Dir::Either {
            self.at += 1;
        }
        let Some(word) = self.peek().map(str::to_string) else {
            return self.error("a primitive (tcp, udp, host ADDR, net CIDR, port N, ...)");
        };
        let proto = match word.as_str() {
            "ip" => Some(Proto::Ip),
            "ip6" => Some(Proto::Ip6),
            "arp" => Some(Proto::Arp),
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "icmp" => Some(Proto::Icmp),
            "icmp6" => Some(Proto::Icmp6),
            _ => None,
        };
        if let Some(proto) = proto {
            if dir != Dir::Either {
                return self.error(format!("`{word}` takes no src or dst"));
            }
            self.at += 1;
            return Ok(Expr::Proto(proto));
        }
        self.at += 1;
        match word.as_str() {
            "host" => self.host(dir),
            "net" => self.net(dir),
            "port" | "portrange" => self.port(dir, word == "portrange"),
            _ => {
                self.at -= 1;
                self.error(format!(
                    "`{word}` is not a primitive this filter knows: it reads ip, ip6, arp, tcp, \
                     udp, icmp, icmp6, [src|dst] host ADDR, net CIDR, port N, portrange N-M, \
                     joined by and, or, not and parentheses"
                ))
            }
        }
    }

    fn value(&mut self, what: &str) -> Result<String, FilterError> {
        match self.peek() {
            Some(w) if !matches!(w, "(" | ")" | "!" | "and" | "or" | "not") => {
                let w = w.to_string();
                self.at += 1;
                Ok(w)
            }
            _ => self.error(format!("{what} here")),
        }
    }

    fn host(&mut self, dir: Dir) -> Result<Expr, FilterError> {
        let column = self.column();
        let text = self.value("an address (10.0.0.2 or 2001:db8::1)")?;
        match text.parse() {
            Ok(addr) => Ok(Expr::Host(dir, addr)),
            Err(_) => Err(FilterError {
                column,
                message: format!(
                    "`{text}` is not an IPv4 or IPv6 address (names are not looked up)"
                ),
            }),
        }
    }

    fn net(&mut self, dir: Dir) -> Result<Expr, FilterError> {
        let column = self.column();
        let text = self.value("a network (10.0.0.0/24)")?;
        let bad = || FilterError {
            column,
            message: format!(
                "`{text}` is not a network: expected ADDRESS/LENGTH, like 10.0.0.0/24"
            ),
        };
        let (addr, len) = text.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let most = if addr.is_ipv4() { 32 } else { 128 };
        if len > most {
            return Err(bad());
        }
        Ok(Expr::Net(dir, addr, len))
    }

    fn port(&mut self, dir: Dir, range: bool) -> Result<Expr, FilterError> {
        let column = self.column();
        let text = self.value(if range {
            "a range (8000-8080)"
        } else {
            "a port number"
        })?;
        let number = |s: &str| s.parse::<u16>().ok();
        let (low, high) = if range {
            text.split_once('-')
                .and_then(|(a, b)| Some((number(a)?, number(b)?)))
        } else {
            number(&text).map(|p| (p, p))
        }
        .filter(|(a, b)| a <= b)
        .ok_or_else(|| FilterError {
            column,
            message: format!(
                "`{text}` is not {} (service names are not looked up)",
                if range {
                    "a range of ports, like 8000-8080"
                } else {
                    "a port number"
                }
            ),
        })?;
        Ok(Expr::Port(dir, low, high))
    }
}

/// What a filter looks at in one frame.
struct Fields {
    protos: [bool; 7],
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ports: Option<(u16, u16)>,
}

impl Fields {
    fn of(inner: &Inner) -> Fields {
        let mut f = Fields {
            protos: [false; 7],
            src: None,
            dst: None,
            ports: None,
        };
        let (protocol, transport) = match *inner {
            Inner::Arp => {
                f.protos[Proto::Arp as usize] = true;
                return f;
            }
            Inner::Ipv4(ip) => {
                let Ok(v) = wire::Ipv4View::new_checked(ip) else {
                    return f;
                };
                f.protos[Proto::Ip as usize] = true;
                (f.src, f.dst) = (Some(v.src().into()), Some(v.dst().into()));
                let header = usize::from(ip[0] & 0x0f) * 4;
                let payload = ip.get(header..).filter(|_| v.fragment_offset() == 0);
                (v.protocol(), payload.unwrap_or_default())
            }
            Inner::Ipv6(ip) => {
                let Ok(v) = wire::Ipv6View::new_checked(ip) else {
                    return f;
                };
                f.protos[Proto::Ip6 as usize] = true;
                (f.src, f.dst) = (Some(v.src().into()), Some(v.dst().into()));
                match v.transport() {
                    Some(t) if t.fragment.is_none_or(|(offset, ..)| offset == 0) => {
                        (t.protocol, t.payload)
                    }
                    Some(t) => (t.protocol, &[][..]),
                    None => return f,
                }
            }
            Inner::Unread(_) => return f,
        };
        let slot = match protocol {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            1 => Some(Proto::Icmp),
            58 => Some(Proto::Icmp6),
            _ => None,
        };
        if let Some(p) = slot {
            f.protos[p as usize] = true;
        }
        if matches!(protocol, 6 | 17 | 132) && transport.len() >= 4 {
            let port = |at: usize| u16::from_be_bytes([transport[at], transport[at + 1]]);
            f.ports = Some((port(0), port(2)));
        }
        f
    }
}

impl Expr {
    fn eval(&self, f: &Fields) -> bool {
        let either = |dir: Dir, test: &dyn Fn(bool) -> bool| match dir {
            Dir::Src => test(true),
            Dir::Dst => test(false),
            Dir::Either => test(true) || test(false),
        };
        match self {
            Expr::Proto(p) => f.protos[*p as usize],
            Expr::Host(dir, addr) => either(*dir, &|src| {
                (if src { f.src } else { f.dst }) == Some(*addr)
            }),
            Expr::Net(dir, net, len) => either(*dir, &|src| {
                (if src { f.src } else { f.dst }).is_some_and(|a| in_net(a, *net, *len))
            }),
            Expr::Port(dir, low, high) => either(*dir, &|src| {
                f.ports
                    .map(|(s, d)| if src { s } else { d })
                    .is_some_and(|p| (*low..=*high).contains(&p))
            }),
            Expr::Not(e) => !e.eval(f),
            Expr::And(a, b) => a.eval(f) && b.eval(f),
            Expr::Or(a, b) => a.eval(f) || b.eval(f),
        }
    }
}

fn in_net(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP packet from 10.0.0.1:40000 to 10.0.0.2:9000.
    fn tcp_packet() -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip.extend_from_slice(&[0x9c, 0x40, 0x23, 0x28]);
        ip.extend_from_slice(&[0; 16]);
        ip
    }

    fn passes(filter: &str, packet: &[u8]) -> bool {
        Filter::parse(filter).unwrap().matches(&Inner::Ipv4(packet))
    }

    #[test]
    fn primitives_and_their_combinations_match_as_tcpdump_would() {
        let p = tcp_packet();
        for yes in [
            "tcp",
            "ip",
            "tcp port 9000",
            "port 40000",
            "dst port 9000",
            "src host 10.0.0.1",
            "host 10.0.0.2 and not port 22",
            "net 10.0.0.0/24",
            "udp or tcp",
            "!(udp or icmp)",
            "portrange 8000-9000 && tcp",
        ] {
            assert!(passes(yes, &p), "{yes}");
        }
        for no in [
            "udp",
            "ip6",
            "src port 9000",
            "dst host 10.0.0.1",
            "net 10.0.1.0/24",
            "not tcp",
        ] {
            assert!(!passes(no, &p), "{no}");
        }
        assert!(Filter::parse("arp").unwrap().matches(&Inner::Arp));
    }

    #[test]
    fn a_bad_filter_says_where_and_what_was_expected() {
        let e = Filter::parse("tcp port http").unwrap_err();
        assert_eq!(e.column, 10);
        assert!(e.message.contains("not a port number"), "{e}");
        let e = Filter::parse("ether host 00:11:22:33:44:55").unwrap_err();
        assert_eq!(e.column, 1);
        let e = Filter::parse("(tcp or udp").unwrap_err();
        assert_eq!(e.column, 12);
        assert!(e.message.contains(")"), "{e}");
        let e = Filter::parse("host").unwrap_err();
        assert!(e.message.contains("an address"), "{e}");
    }
}
