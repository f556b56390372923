//! A packetdrill script as parsed: its options, its commands and its events, each with the
//! place in the file it came from.

use std::fmt;

/// Microseconds of script time, as packetdrill counts them.
pub type Micros = i64;

/// Where something is in a script: 1-based line and column, 0-based byte offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1 (in characters).
    pub column: u32,
    /// Byte offset from the start of the file.
    pub offset: usize,
}

/// A whole script.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The options its `--name=value` lines set, in order.
    pub options: Vec<(String, Option<String>)>,
    /// The backquoted commands before the first event (packetdrill's init command).
    pub init: Vec<(Pos, String)>,
    /// The events, in order.
    pub events: Vec<Event>,
}

/// One event: when, and what.
#[derive(Clone, Debug)]
pub struct Event {
    /// Where it starts in the file.
    pub pos: Pos,
    /// Its time.
    pub when: When,
    /// What happens.
    pub action: Action,
}

/// An event's time, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `0.1`: since the script began.
    Absolute(Micros),
    /// `+0.1`: after the previous event.
    Relative(Micros),
    /// `*`: whenever it happens (outbound packets).
    Any,
    /// `0.1~0.2`: any time in the range, since the script began.
    AbsoluteRange(Micros, Micros),
    /// `+0.1~+0.2`: any time in the range, after the previous event.
    RelativeRange(Micros, Micros),
}

/// What an event does.
#[derive(Clone, Debug)]
pub enum Action {
    /// A packet injected (`<`) or expected (`>`).
    Packet(Packet),
    /// A system call and what it must return.
    Call(Call),
    /// A backquoted shell command.
    Command(String),
    /// A `%{ python }%` block.
    Code(String),
}

/// Which way a packet goes, seen from the host under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the script sends it to the host.
    Inbound,
    /// `>`: the host must send it.
    Outbound,
}

/// A packet line.
#[derive(Clone, Debug)]
pub struct Packet {
    /// `<` or `>`.
    pub direction: Direction,
    /// The ECN codepoint the script gives or expects, if it says (`[ect0]`, `[noecn]`).
    pub ecn: Option<Ecn>,
    /// The transport part.
    pub body: Body,
}

/// The ECN field of the IP header (RFC 3168).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ecn {
    /// Not ECN-capable.
    NotEct,
    /// ECT(0).
    Ect0,
    /// ECT(1).
    Ect1,
    /// Either ECT codepoint (outbound only).
    Ect01,
    /// Congestion experienced.
    Ce,
}

/// A packet's transport header and length.
#[derive(Clone, Debug)]
pub enum Body {
    /// A TCP segment.
    Tcp(TcpSpec),
    /// A UDP datagram of this many octets of data.
    Udp {
        /// Payload length.
        len: u32,
    },
    /// An ICMP message about a packet of the connection.
    Icmp(IcmpSpec),
}

/// A TCP line: `S. 0:0(0) ack 1 win 65535 <mss 1460,...>`.
#[derive(Clone, Debug)]
pub struct TcpSpec {
    /// The control bits.
    pub flags: Flags,
    /// The first sequence number (relative to the ISN for outbound segments).
    pub seq: u32,
    /// Payload octets.
    pub len: u32,
    /// The acknowledgment number, when the ACK bit is set.
    pub ack: u32,
    /// The window, when the script gives it.
    pub win: Option<u16>,
    /// The options in order; `None` for `<...>` (not checked).
    pub options: Option<Vec<TcpOpt>>,
}

/// TCP control bits as packetdrill writes them (`.` is ACK).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// F.
    pub fin: bool,
    /// S.
    pub syn: bool,
    /// R.
    pub rst: bool,
    /// P.
    pub psh: bool,
    /// `.`.
    pub ack: bool,
    /// U.
    pub urg: bool,
    /// E (ECE).
    pub ece: bool,
    /// W (CWR).
    pub cwr: bool,
}

impl Flags {
    /// The flag octet of a TCP header.
    pub fn bits(self) -> u8 {
        u8::from(self.fin)
            | u8::from(self.syn) << 1
            | u8::from(self.rst) << 2
            | u8::from(self.psh) << 3
            | u8::from(self.ack) << 4
            | u8::from(self.urg) << 5
            | u8::from(self.ece) << 6
            | u8::from(self.cwr) << 7
    }

    /// From a TCP header's flag octet.
    pub fn from_bits(bits: u8) -> Flags {
        Flags {
            fin: bits & 1 != 0,
            syn: bits & 2 != 0,
            rst: bits & 4 != 0,
            psh: bits & 8 != 0,
            ack: bits & 16 != 0,
            urg: bits & 32 != 0,
            ece: bits & 64 != 0,
            cwr: bits & 128 != 0,
        }
    }
}

impl fmt::Display for Flags {
    /// As packetdrill writes them: `S.`, `F.`, `P.`, `.`, `R`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters = [
            (self.fin, 'F'),
            (self.syn, 'S'),
            (self.rst, 'R'),
            (self.psh, 'P'),
            (self.urg, 'U'),
            (self.ece, 'E'),
            (self.cwr, 'W'),
        ];
        let mut any = false;
        for (on, letter) in letters {
            if on {
                write!(f, "{letter}")?;
                any = true;
            }
        }
        if self.ack {
            write!(f, ".")?;
        } else if !any {
            write!(f, "-")?;
        }
        Ok(())
    }
}

/// One TCP option as a script writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WScale(u8),
    /// `sackOK`.
    SackOk,
    /// `sack L:R ...`.
    Sack(Vec<(u32, u32)>),
    /// `TS val V ecr E`.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
}

impl TcpOpt {
    /// The option's kind number (RFC 9293, 2018, 7323).
    pub fn kind(&self) -> u8 {
        match self {
            TcpOpt::Eol => 0,
            TcpOpt::Nop => 1,
            TcpOpt::Mss(_) => 2,
            TcpOpt::WScale(_) => 3,
            TcpOpt::SackOk => 4,
            TcpOpt::Sack(_) => 5,
            TcpOpt::Timestamp { .. } => 8,
        }
    }

    /// Append the option's octets.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TcpOpt::Eol => out.push(0),
            TcpOpt::Nop => out.push(1),
            TcpOpt::Mss(mss) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            TcpOpt::WScale(shift) => out.extend_from_slice(&[3, 3, *shift]),
            TcpOpt::SackOk => out.extend_from_slice(&[4, 2]),
            TcpOpt::Sack(blocks) => {
                out.extend_from_slice(&[5, 2 + 8 * blocks.len() as u8]);
                for (left, right) in blocks {
                    out.extend_from_slice(&left.to_be_bytes());
                    out.extend_from_slice(&right.to_be_bytes());
                }
            }
            TcpOpt::Timestamp { val, ecr } => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
        }
    }
}

impl fmt::Display for TcpOpt {
    /// As packetdrill writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOpt::Nop => write!(f, "nop"),
            TcpOpt::Eol => write!(f, "eol"),
            TcpOpt::Mss(mss) => write!(f, "mss {mss}"),
            TcpOpt::WScale(shift) => write!(f, "wscale {shift}"),
            TcpOpt::SackOk => write!(f, "sackOK"),
            TcpOpt::Sack(blocks) => {
                write!(f, "sack")?;
                for (left, right) in blocks {
                    write!(f, " {left}:{right}")?;
                }
                Ok(())
            }
            TcpOpt::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
        }
    }
}

/// An ICMP line: `icmp unreachable port [1:1001(1000)]`.
#[derive(Clone, Debug)]
pub struct IcmpSpec {
    /// The ICMP type and code.
    pub kind: IcmpKind,
    /// The next-hop MTU of a "fragmentation needed" message.
    pub mtu: Option<u16>,
    /// The quoted TCP segment's sequence numbers (first, length), or the quoted UDP
    /// datagram's length.
    pub quoted: Quoted,
}

/// The ICMP messages a script may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable with its code (RFC 792: 0 net, 1 host, 2 protocol, 3 port,
    /// 4 fragmentation needed).
    Unreachable(u8),
    /// Time exceeded in transit.
    TimeExceeded,
}

/// What an ICMP message quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoted {
    /// The start of a TCP segment: its first sequence number and payload length.
    Tcp {
        /// The sequence number (relative, as in the segment lines).
        seq: u32,
        /// Payload octets.
        len: u32,
    },
    /// A UDP datagram of this many octets.
    Udp(u32),
}

/// The calls a script may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallName {
    /// `socket`.
    Socket,
    /// `bind`.
    Bind,
    /// `listen`.
    Listen,
    /// `accept`.
    Accept,
    /// `connect`.
    Connect,
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `recv`.
    Recv,
    /// `send`.
    Send,
    /// `recvfrom`.
    Recvfrom,
    /// `sendto`.
    Sendto,
    /// `sendmsg`, its `msg_iov` sent as one buffer.
    Sendmsg,
    /// `close`.
    Close,
    /// `shutdown`.
    Shutdown,
    /// `setsockopt`.
    Setsockopt,
    /// `getsockopt`.
    Getsockopt,
    /// `fcntl`.
    Fcntl,
    /// `poll`.
    Poll,
    /// `getsockname`.
    Getsockname,
    /// `getpeername`.
    Getpeername,
}

impl CallName {
    /// Every call, with its name.
    pub const ALL: [(CallName, &'static str); 20] = [
        (CallName::Socket, "socket"),
        (CallName::Bind, "bind"),
        (CallName::Listen, "listen"),
        (CallName::Accept, "accept"),
        (CallName::Connect, "connect"),
        (CallName::Read, "read"),
        (CallName::Write, "write"),
        (CallName::Recv, "recv"),
        (CallName::Send, "send"),
        (CallName::Recvfrom, "recvfrom"),
        (CallName::Sendto, "sendto"),
        (CallName::Sendmsg, "sendmsg"),
        (CallName::Close, "close"),
        (CallName::Shutdown, "shutdown"),
        (CallName::Setsockopt, "setsockopt"),
        (CallName::Getsockopt, "getsockopt"),
        (CallName::Fcntl, "fcntl"),
        (CallName::Poll, "poll"),
        (CallName::Getsockname, "getsockname"),
        (CallName::Getpeername, "getpeername"),
    ];

    /// The call of this name, if packetlab makes it.
    pub fn from_name(name: &str) -> Option<CallName> {
        CallName::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| *c)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        CallName::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("?", |(_, n)| n)
    }
}

/// A system call line: `accept(3, ..., ...) = 4`.
#[derive(Clone, Debug)]
pub struct Call {
    /// Which call.
    pub name: CallName,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// `...T`: it blocks, and returns at this time (same base as the event's).
    pub end: Option<Micros>,
    /// What it must return.
    pub result: Expr,
    /// The errno it must fail with (`ECONNREFUSED`).
    pub errno: Option<String>,
}

/// An argument or a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything (or packetdrill's default).
    Ellipsis,
    /// A number.
    Int(i64),
    /// A symbol (`SOL_SOCKET`).
    Word(String),
    /// A quoted string.
    Str(String),
    /// `[a, b]`: an array, or a value passed by pointer.
    List(Vec<Expr>),
    /// `{a, b}`: a structure (pollfd, linger).
    Struct(Vec<Expr>),
    /// `a | b`.
    Or(Box<Expr>, Box<Expr>),
    /// `name = value` inside a structure.
    Field(String, Box<Expr>),
    /// `name(args)`: `htons(8080)`, `inet_addr("192.0.2.1")`.
    Apply(String, Vec<Expr>),
}

impl fmt::Display for Expr {
    /// As a script writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Expr]| -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Expr::Ellipsis => write!(f, "..."),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Word(w) => write!(f, "{w}"),
            Expr::Str(s) => write!(f, "\"{s}\""),
            Expr::List(items) => {
                write!(f, "[")?;
                list(f, items)?;
                write!(f, "]")
            }
            Expr::Struct(items) => {
                write!(f, "{{")?;
                list(f, items)?;
                write!(f, "}}")
            }
            Expr::Or(a, b) => write!(f, "{a}|{b}"),
            Expr::Field(name, value) => write!(f, "{name}={value}"),
            Expr::Apply(name, args) => {
                write!(f, "{name}(")?;
                list(f, args)?;
                write!(f, ")")
            }
        }
    }
}
