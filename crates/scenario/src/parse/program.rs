//! The program language: one socket call a line, as a Python socket program makes them. Each
//! keyword has its own parser; variables are checked to hold the kind of socket (or data) the
//! call needs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use program::{Line, Stmt};
use toml::Spanned;
use trace::{TcpState, Time};

use super::Source;
use super::python::Addresses;
use super::source::Words;
use super::values::{parse_cidr, parse_duration, parse_size};
use crate::ScenarioError;

const CALLS: &str = "sleep, at, listen, accept, connect, send, recv, recvall, shutdown, close, \
                     abort, wait, setsockopt, udp, sendto, recvfrom, ping, send_file, recv_file, serve";

/// What a variable holds, so that a call on the wrong kind is an error at its line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VarKind {
    Listener,
    Connection,
    Data,
    Stream,
    Datagram,
}

impl VarKind {
    fn described(self) -> &'static str {
        match self {
            VarKind::Listener => "a listening socket (from listen)",
            VarKind::Connection => "a connection (from connect or accept)",
            VarKind::Data => "data",
            VarKind::Stream => "a stream digest (from send … random or recvall)",
            VarKind::Datagram => "a UDP socket (from udp)",
        }
    }
}

/// One line's call: its remaining words, its keyword, and the variable it assigns, if any.
struct Call<'a> {
    w: Words<'a>,
    name: &'a str,
    at: usize,
    target: Option<String>,
}

/// Reads a program line by line, remembering what each variable holds.
struct ProgramParser<'s> {
    src: &'s Source<'s>,
    vars: BTreeMap<String, VarKind>,
    /// The hosts' addresses, so that a program may say `connect server:9000`.
    addresses: &'s Addresses,
}

/// Parse a host's `program`.
pub(super) fn parse_program(
    src: &Source,
    text: &Spanned<String>,
    addresses: &Addresses,
) -> Result<Vec<Line>, ScenarioError> {
    let mut parser = ProgramParser {
        src,
        vars: BTreeMap::new(),
        addresses,
    };
    let mut lines = Vec::new();
    for (offset, raw) in src.content_lines(text) {
        if let Some(line) = parser.line(offset, raw)? {
            lines.push(line);
        }
    }
    Ok(lines)
}

impl<'s> ProgramParser<'s> {
    /// One line: `[VAR =] CALL ARGS… [# comment]`; none for a blank or comment line.
    fn line(&mut self, offset: usize, raw: &'s str) -> Result<Option<Line>, ScenarioError> {
        let src = self.src;
        let mut w = Words::new(src, offset, raw);
        if w.at_end() {
            return Ok(None);
        }
        let text = super::source::without_comment(raw).to_string();
        let (first_at, first) = w.next("a call")?;
        let mut target = None;
        let (at, name) = if w.peek() == Some("=") {
            if !is_identifier(first) {
                return Err(src.error_at(first_at, format!("`{first}` is not a variable name")));
            }
            target = Some(first.to_string());
            w.next("=")?;
            w.next("a call after `=`")?
        } else {
            (first_at, first)
        };
        let mut call = Call {
            w,
            name,
            at,
            target,
        };
        let stmt = self.statement(&mut call)?;
        if call.target.is_some() && !assigns(&stmt) {
            return Err(src.error_at(first_at, format!("`{name}` returns nothing to assign")));
        }
        call.w.end()?;
        Ok(Some(Line { stmt, text }))
    }

    /// `10.0.0.2:9000`, or a host's name for its address: `server:9000`, `kernel:9000`.
    fn address(&self, w: &mut Words) -> Result<SocketAddr, ScenarioError> {
        let Some(word) = w.peek() else {
            return w.socket_addr();
        };
        let (name, port) = word.split_once(':').unwrap_or((word, ""));
        if name.parse::<Ipv4Addr>().is_ok() || word.starts_with('[') {
            return w.socket_addr();
        }
        let (at, _) = w.next("an address")?;
        let ip = self.addresses.v4.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.addresses.v4.keys().map(String::as_str).collect();
            self.src.error_at(
                at,
                format!(
                    "`{word}`: expected an address like 10.0.0.2:9000 or HOST:PORT with a \
                     host of {}",
                    known.join(", ")
                ),
            )
        })?;
        let port: u16 = port.parse().map_err(|_| {
            self.src.error_at(
                at + name.len(),
                format!("`{word}`: expected a port after `{name}:`, like {name}:9000"),
            )
        })?;
        Ok(SocketAddr::new((*ip).into(), port))
    }

    fn statement(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        match c.name {
            "sleep" | "at" => self.clock(c),
            "listen" => self.listen(c),
            "accept" => {
                let listener = self.use_var(&mut c.w, VarKind::Listener)?;
                let var = self.need_target(c, VarKind::Connection)?;
                Ok(Stmt::Accept { var, listener })
            }
            "connect" => {
                let addr = self.address(&mut c.w)?;
                let var = self.need_target(c, VarKind::Connection)?;
                Ok(Stmt::Connect { var, addr })
            }
            "send" => self.send(c),
            "send_file" => self.send_file(c),
            "recv_file" => {
                let conn = self.use_var(&mut c.w, VarKind::Connection)?;
                let prefix = framed_or_notes_default(&mut c.w)?;
                let var = self.keep_target(c, VarKind::Stream);
                Ok(Stmt::RecvFile { var, conn, prefix })
            }
            "udp" => {
                let port = self.port(&mut c.w, "a port number (0 for any)")?;
                let var = self.need_target(c, VarKind::Datagram)?;
                Ok(Stmt::UdpBind { var, port })
            }
            "sendto" => {
                let sock = self.use_var(&mut c.w, VarKind::Datagram)?;
                let data = c.w.string()?;
                let addr = self.address(&mut c.w)?;
                Ok(Stmt::SendTo { sock, data, addr })
            }
            "recvfrom" => {
                let sock = self.use_var(&mut c.w, VarKind::Datagram)?;
                let max = c.w.recv_size()?;
                let var = self.keep_target(c, VarKind::Data);
                Ok(Stmt::RecvFrom { var, sock, max })
            }
            "ping" => self.ping(c),
            "flood" => self.flood(c),
            "recvall" => self.recvall(c),
            "setsockopt" => self.setsockopt(c),
            "recv" => self.recv(c),
            "serve" => self.serve(c),
            "shutdown" => Ok(Stmt::Shutdown {
                conn: self.use_var(&mut c.w, VarKind::Connection)?,
            }),
            "close" => Ok(Stmt::Close {
                conn: self.any_socket(&mut c.w, true)?,
            }),
            "abort" => Ok(Stmt::Abort {
                conn: self.use_var(&mut c.w, VarKind::Connection)?,
            }),
            "wait" => {
                let conn = self.use_var(&mut c.w, VarKind::Connection)?;
                let (at, state) = c.w.next("a TCP state like TIME-WAIT")?;
                let state: TcpState = state
                    .parse()
                    .map_err(|e| self.src.error_at(at, format!("{e}")))?;
                Ok(Stmt::Wait { conn, state })
            }
            other => Err(self.src.error_at(
                c.at,
                format!("unknown call `{other}`; expected one of {CALLS}"),
            )),
        }
    }

    /// A variable that must hold `wanted`.
    fn use_var(&self, w: &mut Words, wanted: VarKind) -> Result<String, ScenarioError> {
        let (at, name) = w.next("a variable")?;
        match self.vars.get(name) {
            None => Err(self.src.error_at(
                at,
                format!(
                    "`{name}` is not defined; assign it first, e.g. `{name} = connect 10.0.0.2:9000`"
                ),
            )),
            Some(kind) if *kind != wanted => Err(self
                .src
                .error_at(at, format!("`{name}` is not {}", wanted.described()))),
            Some(_) => Ok(name.to_string()),
        }
    }

    /// A variable holding any TCP socket (or, with `udp`, a UDP one too).
    fn any_socket(&self, w: &mut Words, udp: bool) -> Result<String, ScenarioError> {
        let (at, name) = w.next("a socket")?;
        match self.vars.get(name) {
            Some(VarKind::Listener | VarKind::Connection) => Ok(name.to_string()),
            Some(VarKind::Datagram) if udp => Ok(name.to_string()),
            _ => Err(self
                .src
                .error_at(at, format!("`{name}` is not a socket defined above"))),
        }
    }

    /// A call that returns a socket must be assigned: its variable now holds `kind`.
    fn need_target(&mut self, c: &Call, kind: VarKind) -> Result<String, ScenarioError> {
        let name = c.target.clone().ok_or_else(|| {
            self.src.error_at(
                c.at,
                format!(
                    "`{}` returns a socket: write `name = {} ...`",
                    c.name, c.name
                ),
            )
        })?;
        self.vars.insert(name.clone(), kind);
        Ok(name)
    }

    /// A call whose result may be kept: note the variable's kind, if one is named.
    fn keep_target(&mut self, c: &Call, kind: VarKind) -> Option<String> {
        if let Some(t) = &c.target {
            self.vars.insert(t.clone(), kind);
        }
        c.target.clone()
    }

    fn port(&self, w: &mut Words, expected: &str) -> Result<u16, ScenarioError> {
        let (at, port) = w.next(expected)?;
        port.parse().map_err(|_| {
            self.src
                .error_at(at, format!("`{port}`: expected a port number 0–65535"))
        })
    }

    /// `sleep DURATION` and `at TIME`.
    fn clock(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let (at, d) = c.w.next("a duration")?;
        let t = parse_duration(d).map_err(|m| self.src.error_at(at, m))?;
        Ok(if c.name == "sleep" {
            Stmt::Sleep(t)
        } else {
            Stmt::At(t)
        })
    }

    /// `VAR = listen PORT [backlog N]`.
    fn listen(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let port = self.port(&mut c.w, "a port number")?;
        let mut backlog = 5;
        if !c.w.at_end() {
            c.w.expect_word("backlog")?;
            let (at, n) = c.w.next("a backlog size")?;
            backlog = n.parse().map_err(|_| {
                self.src
                    .error_at(at, format!("`{n}`: expected a whole number"))
            })?;
        }
        let var = self.need_target(c, VarKind::Listener)?;
        Ok(Stmt::Listen { var, port, backlog })
    }

    /// `send CONN "text" [* N] [framed FMT]` or `[VAR =] send CONN random SIZE`.
    fn send(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let conn = self.use_var(&mut c.w, VarKind::Connection)?;
        if c.w.peek() == Some("random") {
            c.w.next("random")?;
            let (at, size) = c.w.next("a size like 1MiB")?;
            let len = parse_size(size).map_err(|m| self.src.error_at(at, m))?;
            let var = self.keep_target(c, VarKind::Stream);
            return Ok(Stmt::SendRandom { var, conn, len });
        }
        let mut data = c.w.string()?;
        // Python's `b"ab" * 3`, for a long message in a short line.
        if c.w.peek() == Some("*") {
            c.w.next("*")?;
            let (at, n) = c.w.next("a repeat count")?;
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| (1..=1 << 20).contains(n))
                .ok_or_else(|| {
                    self.src
                        .error_at(at, format!("`{n}`: expected a repeat count 1–1048576"))
                })?;
            data = data.repeat(n);
        }
        if c.w.peek() == Some("framed") {
            c.w.next("framed")?;
            data = length_prefix(&mut c.w)?.frame(&data);
        }
        Ok(Stmt::Send { conn, data })
    }

    /// `[VAR =] send_file CONN "NAME" SIZE [framed FMT]`.
    fn send_file(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let conn = self.use_var(&mut c.w, VarKind::Connection)?;
        let name = String::from_utf8_lossy(&c.w.string()?).into_owned();
        let (at, size) = c.w.next("the file's size, like 1MiB")?;
        let len = parse_size(size).map_err(|m| self.src.error_at(at, m))?;
        let prefix = framed_or_notes_default(&mut c.w)?;
        Ok(Stmt::SendFile {
            var: self.keep_target(c, VarKind::Stream),
            conn,
            header: prefix.frame(&program::file_header(&name, len)),
            len,
        })
    }

    /// `[VAR =] ping IP [ttl N] [timeout DURATION]`.
    fn ping(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let src = self.src;
        let (at, ip) = c.w.next("an IP address")?;
        let dst: IpAddr = ip.parse().map_err(|_| {
            src.error_at(
                at,
                format!("`{ip}`: expected an IP address like 10.0.2.5 or 2001:db8::5"),
            )
        })?;
        let (mut ttl, mut timeout) = (64u8, Time::from_secs(1));
        while !c.w.at_end() {
            let (at, word) = c.w.next("`ttl N` or `timeout DURATION`")?;
            match word {
                "ttl" => {
                    let (at, n) = c.w.next("a TTL 1–255")?;
                    ttl =
                        n.parse().ok().filter(|t| *t > 0).ok_or_else(|| {
                            src.error_at(at, format!("`{n}`: expected a TTL 1–255"))
                        })?;
                }
                "timeout" => {
                    let (at, d) = c.w.next("a duration")?;
                    timeout = parse_duration(d).map_err(|m| src.error_at(at, m))?;
                }
                other => {
                    return Err(src.error_at(
                        at,
                        format!("`{other}`: expected `ttl N` or `timeout DURATION`"),
                    ));
                }
            }
        }
        let var = self.keep_target(c, VarKind::Data);
        Ok(Stmt::Ping {
            var,
            dst,
            ttl,
            timeout,
        })
    }

    /// `flood IP:PORT COUNT from CIDR [rate N]`.
    fn flood(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let src = self.src;
        let dst = self.address(&mut c.w)?;
        let count = self.count(&mut c.w, "how many SYNs, like 100000")?;
        let (at, word) = c.w.next("`from CIDR`")?;
        if word != "from" {
            return Err(src.error_at(
                at,
                format!("`{word}`: expected `from CIDR`, like from 203.0.113.0/24"),
            ));
        }
        let (at, cidr) = c.w.next("a subnet like 203.0.113.0/24")?;
        let from = parse_cidr(cidr)
            .filter(|(_, prefix)| *prefix <= 30)
            .ok_or_else(|| {
                src.error_at(
                    at,
                    format!(
                        "`{cidr}`: expected a subnet of at least 4 addresses, like 203.0.113.0/24"
                    ),
                )
            })?;
        let mut rate = 10_000;
        if c.w.peek() == Some("rate") {
            c.w.next("rate")?;
            rate = self.count(&mut c.w, "SYNs a second, like 10000")?;
        }
        Ok(Stmt::Flood {
            dst,
            count,
            from,
            rate,
        })
    }

    /// A whole number above zero.
    fn count(&self, w: &mut Words, what: &str) -> Result<u32, ScenarioError> {
        let (at, word) = w.next(what)?;
        word.replace('_', "")
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| self.src.error_at(at, format!("`{word}`: expected {what}")))
    }

    /// `[VAR =] recvall CONN [SIZE]`.
    fn recvall(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let conn = self.use_var(&mut c.w, VarKind::Connection)?;
        let mut limit = None;
        if !c.w.at_end() {
            let (at, size) = c.w.next("a size like 1MiB")?;
            limit = Some(parse_size(size).map_err(|m| self.src.error_at(at, m))?);
        }
        let var = self.keep_target(c, VarKind::Stream);
        Ok(Stmt::RecvAll { var, conn, limit })
    }

    /// `setsockopt SOCK TCP_NODELAY|TCP_QUICKACK|TCP_CORK 1|0`.
    fn setsockopt(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let src = self.src;
        let conn = self.any_socket(&mut c.w, false)?;
        let (opt_at, opt) = c.w.next("TCP_NODELAY, TCP_QUICKACK or TCP_CORK")?;
        let (val_at, val) = c.w.next("1 or 0")?;
        let on = match val {
            "1" => true,
            "0" => false,
            other => return Err(src.error_at(val_at, format!("`{other}`: expected 1 or 0"))),
        };
        let option = match opt {
            "TCP_NODELAY" => stack::SocketOption::NoDelay(on),
            "TCP_QUICKACK" => stack::SocketOption::QuickAck(on),
            "TCP_CORK" => stack::SocketOption::Cork(on),
            other => {
                return Err(src.error_at(
                    opt_at,
                    format!(
                        "unknown option `{other}`; expected TCP_NODELAY, TCP_QUICKACK or TCP_CORK"
                    ),
                ));
            }
        };
        Ok(Stmt::SetOption { conn, option })
    }

    /// `[VAR =] recv CONN [MAX]` or `[VAR =] recv CONN framed FMT`.
    fn recv(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let conn = self.use_var(&mut c.w, VarKind::Connection)?;
        if c.w.peek() == Some("framed") {
            c.w.next("framed")?;
            let prefix = length_prefix(&mut c.w)?;
            let var = self.keep_target(c, VarKind::Data);
            return Ok(Stmt::RecvFramed { var, conn, prefix });
        }
        let max = c.w.recv_size()?;
        let var = self.keep_target(c, VarKind::Data);
        Ok(Stmt::Recv { var, conn, max })
    }

    /// `serve LISTENER echo|upper`.
    fn serve(&mut self, c: &mut Call) -> Result<Stmt, ScenarioError> {
        let listener = self.use_var(&mut c.w, VarKind::Listener)?;
        let (at, handler) = c.w.next("a handler: echo or upper")?;
        let handler = match handler {
            "echo" => program::Handler::Echo,
            "upper" => program::Handler::Upper,
            other => {
                return Err(self
                    .src
                    .error_at(at, format!("`{other}`: expected a handler, echo or upper")));
            }
        };
        Ok(Stmt::Serve { listener, handler })
    }
}

/// The calls whose result can be assigned to a variable.
fn assigns(stmt: &Stmt) -> bool {
    matches!(
        stmt,
        Stmt::Listen { .. }
            | Stmt::Accept { .. }
            | Stmt::Connect { .. }
            | Stmt::Recv { .. }
            | Stmt::SendRandom { .. }
            | Stmt::RecvAll { .. }
            | Stmt::UdpBind { .. }
            | Stmt::RecvFrom { .. }
            | Stmt::Ping { .. }
            | Stmt::RecvFramed { .. }
            | Stmt::SendFile { .. }
            | Stmt::RecvFile { .. }
    )
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// In a group's program, `{n}` in a string is the member's number.
pub(super) fn number_line(line: &mut Line, n: u32) {
    let n = n.to_string();
    let replace = |data: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(data).replace("{n}", &n);
        *data = text.into_bytes();
    };
    match &mut line.stmt {
        Stmt::Send { data, .. } | Stmt::SendTo { data, .. } => replace(data),
        _ => return,
    }
    line.text = line.text.replace("{n}", &n);
}

/// The `struct` format after `framed`: `'i'` (as in the notes) or `'!I'` (network order).
fn length_prefix(w: &mut Words) -> Result<program::LengthPrefix, ScenarioError> {
    let (at, fmt) = w.next("a struct format for the 4-byte length, like 'i' or '!I'")?;
    program::LengthPrefix::parse(fmt).ok_or_else(|| {
        w.src.error_at(
            at,
            format!(
                "`{fmt}`: expected a struct format for a 4-byte length: 'i' or 'I' (little-endian, \
                 as on x86), '!i' or '!I' (network order)"
            ),
        )
    })
}

/// `framed FMT` if written, else the notes' `'i'`.
fn framed_or_notes_default(w: &mut Words) -> Result<program::LengthPrefix, ScenarioError> {
    if w.peek() == Some("framed") {
        w.next("framed")?;
        length_prefix(w)
    } else {
        Ok(program::LengthPrefix::LittleSigned)
    }
}

/// Whether some line of the program assigns `var`.
pub(super) fn program_assigns(program: &[Line], var: &str) -> bool {
    program.iter().any(|line| match &line.stmt {
        Stmt::Listen { var: v, .. }
        | Stmt::Accept { var: v, .. }
        | Stmt::Connect { var: v, .. }
        | Stmt::UdpBind { var: v, .. } => v == var,
        Stmt::RecvFrom { var: Some(v), .. }
        | Stmt::Ping { var: Some(v), .. }
        | Stmt::RecvFramed { var: Some(v), .. }
        | Stmt::SendFile { var: Some(v), .. }
        | Stmt::RecvFile { var: Some(v), .. } => v == var,
        Stmt::Recv { var: Some(v), .. }
        | Stmt::SendRandom { var: Some(v), .. }
        | Stmt::RecvAll { var: Some(v), .. } => v == var,
        _ => false,
    })
}
