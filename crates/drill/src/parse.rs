//! packetdrill's grammar, read by recursive descent: options, init commands, then events of
//! a time and an action (a packet, a call, a command or a code block). Every error names
//! the line, column and byte offset, what was expected and what was found.

use std::fmt;

use crate::lex::{Tok, Token, tokens};
use crate::script::{
    Action, Body, Call, CallName, Direction, Ecn, Event, Expr, Flags, IcmpKind, IcmpSpec, Micros,
    Packet, Pos, Quoted, Script, TcpOpt, TcpSpec, When,
};

/// A script that does not parse: where, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Where.
    pub pos: Pos,
    /// What would have been right.
    pub expected: String,
    /// What is there.
    pub found: String,
}

impl ParseError {
    /// An error at `pos`.
    pub fn new(pos: Pos, expected: impl Into<String>, found: impl Into<String>) -> ParseError {
        ParseError {
            pos,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

impl fmt::Display for ParseError {
    /// `12:5: expected X, found Y (byte 230)`; the caller puts the file's name first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: expected {}, found {} (byte {})",
            self.pos.line, self.pos.column, self.expected, self.found, self.pos.offset
        )
    }
}

/// Parse a whole script.
pub fn parse(text: &str) -> Result<Script, ParseError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    parser.script()
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

type Parsed<T> = Result<T, ParseError>;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.at + n).min(last)].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at].pos
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn error<T>(&self, expected: impl Into<String>) -> Parsed<T> {
        Err(ParseError::new(
            self.pos(),
            expected,
            self.peek().describe(),
        ))
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Parsed<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.error(format!("`{c}`"))
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Tok::Word(w) if w == word) {
            self.next();
            true
        } else {
            false
        }
    }

    fn int(&mut self, what: &str) -> Parsed<i64> {
        match *self.peek() {
            Tok::Int(n) => {
                self.next();
                Ok(n)
            }
            _ => self.error(what),
        }
    }

    /// A whole number within `T`'s range.
    fn number<T: TryFrom<i64>>(&mut self, what: &str) -> Parsed<T> {
        let pos = self.pos();
        let n = self.int(what)?;
        T::try_from(n).map_err(|_| ParseError::new(pos, what, format!("`{n}`, out of range")))
    }

    fn script(&mut self) -> Parsed<Script> {
        let mut script = Script::default();
        while let Tok::Option(name, value) = self.peek().clone() {
            script.options.push((name, value));
            self.next();
        }
        while let Tok::Command(command) = self.peek().clone() {
            script.init.push((self.pos(), command));
            self.next();
        }
        while *self.peek() != Tok::End {
            if let Tok::Command(command) = self.peek().clone() {
                if self.peek_at(1) == &Tok::End {
                    // A last command with no time is the cleanup command: run at the end.
                    let pos = self.pos();
                    self.next();
                    script.events.push(Event {
                        pos,
                        when: When::Relative(0),
                        action: Action::Command(command),
                    });
                    continue;
                }
            }
            script.events.push(self.event()?);
        }
        if let Some(first) = script.events.first() {
            if !matches!(first.when, When::Absolute(0)) {
                return Err(ParseError::new(
                    first.pos,
                    "the first event at time 0",
                    "another time",
                ));
            }
        }
        Ok(script)
    }

    fn event(&mut self) -> Parsed<Event> {
        let pos = self.pos();
        let when = self.when()?;
        let action = match self.peek().clone() {
            Tok::Punct('<') => Action::Packet(self.packet(Direction::Inbound)?),
            Tok::Punct('>') => Action::Packet(self.packet(Direction::Outbound)?),
            Tok::Command(command) => {
                self.next();
                Action::Command(command)
            }
            Tok::Code(code) => {
                self.next();
                Action::Code(code)
            }
            Tok::Word(_) | Tok::Ellipsis => Action::Call(self.call()?),
            _ => return self.error("a packet (`<` or `>`), a system call, a command or code"),
        };
        if matches!(when, When::Any)
            && !matches!(&action, Action::Packet(p) if p.direction == Direction::Outbound)
        {
            return Err(ParseError::new(
                pos,
                "a time (`*` is for outbound packets)",
                "`*`",
            ));
        }
        Ok(Event { pos, when, action })
    }

    /// `0.1`, `+0.1`, `*`, `0.1~0.2`, `+0.1~+0.2`.
    fn when(&mut self) -> Parsed<When> {
        if self.eat_punct('*') {
            return Ok(When::Any);
        }
        let relative = self.eat_punct('+');
        let start = self.time()?;
        if !self.eat_punct('~') {
            return Ok(if relative {
                When::Relative(start)
            } else {
                When::Absolute(start)
            });
        }
        if relative && !self.eat_punct('+') {
            return self.error("`+` (a range after a relative time is relative too)");
        }
        let end = self.time()?;
        if end < start {
            return self.error("an end time after the start time");
        }
        Ok(if relative {
            When::RelativeRange(start, end)
        } else {
            When::AbsoluteRange(start, end)
        })
    }

    /// Seconds, as microseconds.
    fn time(&mut self) -> Parsed<Micros> {
        let micros = match *self.peek() {
            Tok::Int(n) if n >= 0 => n.saturating_mul(1_000_000),
            Tok::Float(x) if x >= 0.0 => (x * 1e6).round() as Micros,
            _ => return self.error("a time in seconds (`0`, `.1`, `+0.01`, `*`)"),
        };
        self.next();
        Ok(micros)
    }

    fn packet(&mut self, direction: Direction) -> Parsed<Packet> {
        self.next();
        let ecn = self.ip_info(direction)?;
        let body = if self.eat_word("udp") {
            self.ports()?;
            self.expect_punct('(')?;
            let len = self.number("a UDP payload length")?;
            self.expect_punct(')')?;
            Body::Udp { len }
        } else if self.eat_word("icmp") {
            Body::Icmp(self.icmp(direction)?)
        } else {
            self.ports()?;
            Body::Tcp(self.tcp(direction)?)
        };
        Ok(Packet {
            direction,
            ecn,
            body,
        })
    }

    /// `[ect0]`, `(noecn)`: the ECN codepoint. Other IP fields are refused by name.
    fn ip_info(&mut self, direction: Direction) -> Parsed<Option<Ecn>> {
        let close = match self.peek() {
            Tok::Punct('[') => ']',
            Tok::Punct('(') => ')',
            _ => return Ok(None),
        };
        self.next();
        let pos = self.pos();
        let ecn = match self.peek() {
            Tok::Word(w) => match w.as_str() {
                "noecn" => Ecn::NotEct,
                "ect0" => Ecn::Ect0,
                "ect1" => Ecn::Ect1,
                "ect01" if direction == Direction::Outbound => Ecn::Ect01,
                "ce" => Ecn::Ce,
                _ => return self.error("an ECN codepoint (`noecn`, `ect0`, `ect1`, `ce`)"),
            },
            _ => return self.error("an ECN codepoint (`noecn`, `ect0`, `ect1`, `ce`)"),
        };
        self.next();
        if !self.eat_punct(close) {
            return Err(ParseError::new(
                pos,
                format!("`{close}` after the ECN codepoint (packetlab checks no other IP field)"),
                self.peek().describe(),
            ));
        }
        Ok(Some(ecn))
    }

    /// `1234>8080`: packetdrill maps ports to the live connection's, so they are read and
    /// left.
    fn ports(&mut self) -> Parsed<()> {
        if matches!(self.peek(), Tok::Int(_)) && self.peek_at(1) == &Tok::Punct('>') {
            self.next();
            self.next();
            self.int("a destination port")?;
        }
        Ok(())
    }

    fn tcp(&mut self, direction: Direction) -> Parsed<TcpSpec> {
        let flags = self.flags()?;
        let seq = self.number("a sequence number (`1:1001(1000)`)")?;
        self.expect_punct(':')?;
        let end_pos = self.pos();
        let end: u32 = self.number("the sequence number after the data")?;
        self.expect_punct('(')?;
        let len = self.number("the payload length")?;
        self.expect_punct(')')?;
        if end.wrapping_sub(seq) != len {
            return Err(ParseError::new(
                end_pos,
                format!(
                    "{}:{}({len}), the end that the length gives",
                    seq,
                    seq.wrapping_add(len)
                ),
                format!("{seq}:{end}({len})"),
            ));
        }
        let ack = if self.eat_word("ack") {
            self.number("an acknowledgment number")?
        } else {
            0
        };
        let win = if self.eat_word("win") {
            Some(self.number("a window (0 to 65535)")?)
        } else {
            None
        };
        if self.eat_word("urg") {
            return self.error("no urgent pointer (packetlab does not send urgent data)");
        }
        let options = self.tcp_options(direction)?;
        Ok(TcpSpec {
            flags,
            seq,
            len,
            ack,
            win,
            options,
        })
    }

    /// `S.`, `P.`, `.`, `R`, `-` (none).
    fn flags(&mut self) -> Parsed<Flags> {
        let mut flags = Flags::default();
        if self.eat_punct('-') {
            return Ok(flags);
        }
        if let Tok::Word(word) = self.peek().clone() {
            let pos = self.pos();
            for letter in word.chars() {
                let bit = match letter {
                    'F' => &mut flags.fin,
                    'S' => &mut flags.syn,
                    'R' => &mut flags.rst,
                    'P' => &mut flags.psh,
                    'U' => &mut flags.urg,
                    'E' => &mut flags.ece,
                    'W' => &mut flags.cwr,
                    _ => {
                        return Err(ParseError::new(
                            pos,
                            "TCP flags from `FSRPUEW.`",
                            format!("`{word}`"),
                        ));
                    }
                };
                *bit = true;
            }
            self.next();
            flags.ack = self.eat_punct('.');
            return Ok(flags);
        }
        if self.eat_punct('.') {
            flags.ack = true;
            return Ok(flags);
        }
        self.error("TCP flags (`S`, `S.`, `.`, `P.`, `F.`, `R`, ...)")
    }

    /// `<mss 1460,sackOK,...>`, `<...>` (outbound only), or none.
    fn tcp_options(&mut self, direction: Direction) -> Parsed<Option<Vec<TcpOpt>>> {
        if !self.eat_punct('<') {
            return Ok(Some(Vec::new()));
        }
        if *self.peek() == Tok::Ellipsis {
            if direction == Direction::Inbound {
                return self.error("options (`<...>` is for outbound packets)");
            }
            self.next();
            self.expect_punct('>')?;
            return Ok(None);
        }
        let start = self.pos();
        let mut options = vec![self.tcp_option()?];
        while self.eat_punct(',') {
            options.push(self.tcp_option()?);
        }
        self.expect_punct('>')?;
        let mut octets = Vec::new();
        for option in &options {
            option.encode(&mut octets);
        }
        if octets.len() % 4 != 0 || octets.len() > 40 {
            return Err(ParseError::new(
                start,
                "options whose length is a multiple of 4 octets, at most 40 (pad with `nop`)",
                format!("{} octets", octets.len()),
            ));
        }
        Ok(Some(options))
    }

    fn tcp_option(&mut self) -> Parsed<TcpOpt> {
        const EXPECTED: &str = "a TCP option (`nop`, `eol`, `mss N`, `wscale N`, `sackOK`, \
                                `sack L:R`, `TS val V ecr E`)";
        let Tok::Word(word) = self.peek().clone() else {
            return self.error(EXPECTED);
        };
        let option = match word.as_str() {
            "nop" | "eol" | "mss" | "wscale" | "sackOK" | "sack" | "TS" => word,
            _ => return self.error(EXPECTED),
        };
        self.next();
        Ok(match option.as_str() {
            "nop" => TcpOpt::Nop,
            "eol" => TcpOpt::Eol,
            "mss" => TcpOpt::Mss(self.number("an MSS")?),
            "wscale" => TcpOpt::WScale(self.number("a shift count")?),
            "sackOK" => TcpOpt::SackOk,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(self.peek(), Tok::Int(_)) {
                    let left = self.number("a SACK block's left edge")?;
                    self.expect_punct(':')?;
                    blocks.push((left, self.number("a SACK block's right edge")?));
                }
                if blocks.is_empty() {
                    return self.error("SACK blocks (`1:1001`)");
                }
                TcpOpt::Sack(blocks)
            }
            _ => {
                if !self.eat_word("val") {
                    return self.error("`val`");
                }
                let val = self.number("a TS value")?;
                if !self.eat_word("ecr") {
                    return self.error("`ecr`");
                }
                TcpOpt::Timestamp {
                    val,
                    ecr: self.number("a TS echo reply")?,
                }
            }
        })
    }

    /// `icmp unreachable port [1:1001(1000)]`, `icmp unreachable frag_needed mtu 1200 [...]`.
    fn icmp(&mut self, direction: Direction) -> Parsed<IcmpSpec> {
        if direction == Direction::Outbound {
            return self.error("an inbound ICMP message (packetlab checks the ICMP a host sends only through UDP lines)");
        }
        let kind = if self.eat_word("unreachable") {
            let code = match self.peek() {
                Tok::Word(w) => match w.as_str() {
                    "net_unreachable" | "net" => 0,
                    "host_unreachable" | "host" => 1,
                    "protocol_unreachable" | "protocol" => 2,
                    "port_unreachable" | "port" => 3,
                    "frag_needed" => 4,
                    _ => return self.error(
                        "an unreachable code (`net`, `host`, `protocol`, `port`, `frag_needed`)",
                    ),
                },
                _ => 3,
            };
            if matches!(self.peek(), Tok::Word(_)) {
                self.next();
            }
            IcmpKind::Unreachable(code)
        } else if self.eat_word("time_exceeded") {
            IcmpKind::TimeExceeded
        } else {
            return self.error("an ICMP type (`unreachable`, `time_exceeded`)");
        };
        let mtu = if self.eat_word("mtu") {
            Some(self.number("an MTU")?)
        } else {
            None
        };
        let quoted = if self.eat_punct('[') {
            let quoted = if self.eat_word("udp") {
                self.expect_punct('(')?;
                let len = self.number("a UDP length")?;
                self.expect_punct(')')?;
                Quoted::Udp(len)
            } else {
                let seq = self.number("a sequence number")?;
                self.expect_punct(':')?;
                self.int("the sequence number after the data")?;
                self.expect_punct('(')?;
                let len = self.number("a length")?;
                self.expect_punct(')')?;
                Quoted::Tcp { seq, len }
            };
            self.expect_punct(']')?;
            quoted
        } else {
            Quoted::Tcp { seq: 0, len: 0 }
        };
        Ok(IcmpSpec { kind, mtu, quoted })
    }

    /// `[...T] name(args) = result [ERRNO (note)] [(note)]`.
    fn call(&mut self) -> Parsed<Call> {
        let end = if *self.peek() == Tok::Ellipsis {
            self.next();
            Some(self.time()?)
        } else {
            None
        };
        let pos = self.pos();
        let Tok::Word(word) = self.peek().clone() else {
            return self.error("a system call");
        };
        let Some(name) = CallName::from_name(&word) else {
            let known: Vec<&str> = CallName::ALL.iter().map(|(_, n)| *n).collect();
            return Err(ParseError::new(
                pos,
                format!("a system call packetlab makes ({})", known.join(", ")),
                format!("`{word}`"),
            ));
        };
        self.next();
        self.expect_punct('(')?;
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            args = self.expr_list()?;
            self.expect_punct(')')?;
        }
        self.expect_punct('=')?;
        let result = self.expr()?;
        let mut errno = None;
        if let Tok::Word(w) = self.peek().clone() {
            self.next();
            errno = Some(w);
            if *self.peek() == Tok::Punct('(') {
                self.note()?;
            }
        }
        if *self.peek() == Tok::Punct('(') {
            self.note()?;
        }
        Ok(Call {
            name,
            args,
            end,
            result,
            errno,
        })
    }

    /// `(Connection refused)`: a note for people, skipped.
    fn note(&mut self) -> Parsed<()> {
        let pos = self.pos();
        self.next();
        loop {
            match self.next().tok {
                Tok::Punct(')') => return Ok(()),
                Tok::End => {
                    return Err(ParseError::new(
                        pos,
                        "the `)` that ends this note",
                        "the end of the file",
                    ));
                }
                _ => {}
            }
        }
    }

    fn expr_list(&mut self) -> Parsed<Vec<Expr>> {
        let mut items = vec![self.expr()?];
        while self.eat_punct(',') {
            items.push(self.expr()?);
        }
        Ok(items)
    }

    fn expr(&mut self) -> Parsed<Expr> {
        let mut expr = self.primary()?;
        while self.eat_punct('|') {
            expr = Expr::Or(Box::new(expr), Box::new(self.primary()?));
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Parsed<Expr> {
        let token = self.peek().clone();
        match token {
            Tok::Ellipsis => {
                self.next();
                Ok(Expr::Ellipsis)
            }
            Tok::Int(n) => {
                self.next();
                Ok(Expr::Int(n))
            }
            Tok::Str(s) => {
                self.next();
                if *self.peek() == Tok::Ellipsis {
                    self.next();
                }
                Ok(Expr::Str(s))
            }
            Tok::Word(w) => {
                self.next();
                if self.eat_punct('=') {
                    return Ok(Expr::Field(w, Box::new(self.expr()?)));
                }
                if self.eat_punct('(') {
                    let args = if self.eat_punct(')') {
                        Vec::new()
                    } else {
                        let args = self.expr_list()?;
                        self.expect_punct(')')?;
                        args
                    };
                    if self.eat_punct('=') {
                        // A structure's counted field: `msg_iov(1)=[...]`.
                        return Ok(Expr::Field(w, Box::new(self.expr()?)));
                    }
                    return Ok(Expr::Apply(w, args));
                }
                Ok(Expr::Word(w))
            }
            Tok::Punct(open @ ('[' | '{')) => {
                self.next();
                let close = if open == '[' { ']' } else { '}' };
                let items = if self.eat_punct(close) {
                    Vec::new()
                } else {
                    let items = self.expr_list()?;
                    self.expect_punct(close)?;
                    items
                };
                Ok(if open == '[' {
                    Expr::List(items)
                } else {
                    Expr::Struct(items)
                })
            }
            _ => self.error("a value (a number, a name, `...`, `[...]` or `{...}`)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passive_open_parses_with_its_times_and_options() {
        let script = parse(
            "--tolerance_usecs=10000\n\
             `sysctl -q net.ipv4.tcp_sack=1`\n\
             0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 bind(3, ..., ...) = 0\n\
             +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n\
             +0 > S. 0:0(0) ack 1 <...>\n\
             +.1~+.2 > . 1:1(0) ack 1\n\
             * > F. 1:1(0) ack 1 win 502\n\
             0.1...0.2 accept(3, ..., ...) = 4\n\
             +0 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)\n",
        )
        .unwrap();
        assert_eq!(
            script.options,
            vec![("tolerance_usecs".into(), Some("10000".into()))]
        );
        assert_eq!(script.init.len(), 1);
        assert_eq!(script.events.len(), 8);
        let Action::Packet(syn) = &script.events[2].action else {
            panic!()
        };
        let Body::Tcp(tcp) = &syn.body else { panic!() };
        assert_eq!(tcp.win, Some(32792));
        assert_eq!(tcp.options.as_ref().unwrap()[0], TcpOpt::Mss(1000));
        assert_eq!(script.events[4].when, When::RelativeRange(100_000, 200_000));
        let Action::Packet(synack) = &script.events[3].action else {
            panic!()
        };
        let Body::Tcp(tcp) = &synack.body else {
            panic!()
        };
        assert!(tcp.options.is_none());
        assert_eq!(script.events[5].when, When::Any);
        let Action::Call(accept) = &script.events[6].action else {
            panic!()
        };
        assert_eq!(accept.end, Some(200_000));
        assert_eq!(script.events[6].when, When::Absolute(100_000));
        let Action::Call(connect) = &script.events[7].action else {
            panic!()
        };
        assert_eq!(connect.result, Expr::Int(-1));
        assert_eq!(connect.errno.as_deref(), Some("ECONNREFUSED"));
    }

    #[test]
    fn errors_name_the_line_column_and_what_was_expected() {
        let e = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(1) win 1\n")
            .unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (2, 10));
        assert!(e.expected.contains("0:1(1)"), "{e}");
        let e = parse("0 sendmmsg(3, ...) = 0\n").unwrap_err();
        assert!(
            e.found.contains("sendmmsg") && e.expected.contains("accept"),
            "{e}"
        );
        let e = parse("0 < S 0:0(0) <...>\n").unwrap_err();
        assert!(e.expected.contains("outbound"), "{e}");
        let e = parse("+1 close(3) = 0\n").unwrap_err();
        assert!(e.expected.contains("time 0"), "{e}");
        let e = parse("0 close(3) = 0 /* open").unwrap_err();
        assert_eq!(e.found, "the end of the file");
    }

    #[test]
    fn structures_and_flags_are_values() {
        let script = parse(
            "0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n\
             +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
             +0 poll([{fd=4, events=POLLIN, revents=0}], 1, 0) = 0\n",
        )
        .unwrap();
        let Action::Call(call) = &script.events[1].action else {
            panic!()
        };
        assert_eq!(call.args[2].to_string(), "O_RDWR|O_NONBLOCK");
        let Action::Call(call) = &script.events[2].action else {
            panic!()
        };
        assert_eq!(
            call.args[0].to_string(),
            "[{fd=4, events=POLLIN, revents=0}]"
        );
    }
}
