//! The scenario language's statements, as a program holds them: each with the text it was
//! written as, the variables' values, and the line a scenario would write for a statement.

use std::net::SocketAddr;

use stack::{SocketError, SocketId, SocketOption};
use trace::{TcpState, Time};

use crate::StreamDigest;
use crate::framing::{LengthPrefix, parse_file_header};

/// One statement of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// Block for a duration.
    Sleep(Time),
    /// Block until an absolute time.
    At(Time),
    /// `var = listen PORT [backlog N]`.
    Listen {
        /// Variable for the listening socket.
        var: String,
        /// Port.
        port: u16,
        /// Backlog.
        backlog: u32,
    },
    /// `var = accept LISTENER`.
    Accept {
        /// Variable for the new connection.
        var: String,
        /// The listening socket's variable.
        listener: String,
    },
    /// `var = connect IP:PORT`.
    Connect {
        /// Variable for the connection.
        var: String,
        /// Where to.
        addr: SocketAddr,
    },
    /// `send CONN "data"`: all of it, blocking while the send buffer is full (Python's
    /// `sendall`).
    Send {
        /// The connection's variable.
        conn: String,
        /// What to send.
        data: Vec<u8>,
    },
    /// `[var =] send CONN random SIZE`: SIZE seeded pseudo-random octets, for transfers
    /// checked by SHA-256.
    SendRandom {
        /// Variable for the digest of what was sent, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How many octets.
        len: u64,
    },
    /// `[var =] recvall CONN [SIZE]`: read until end of stream (or until SIZE octets),
    /// keeping length and SHA-256.
    RecvAll {
        /// Variable for the digest of what was received, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// Stop after this many octets instead of at end of stream.
        limit: Option<u64>,
    },
    /// `var = udp PORT`: a UDP socket bound to PORT (0: any).
    UdpBind {
        /// Variable for the socket.
        var: String,
        /// Port.
        port: u16,
    },
    /// `sendto SOCK "data" IP:PORT`: one datagram.
    SendTo {
        /// The UDP socket's variable.
        sock: String,
        /// What to send.
        data: Vec<u8>,
        /// Where to.
        addr: SocketAddr,
    },
    /// `[var =] recvfrom SOCK [MAX]`: the next datagram, whole (cut to MAX).
    RecvFrom {
        /// Variable for the data, if kept.
        var: Option<String>,
        /// The UDP socket's variable.
        sock: String,
        /// At most this many octets.
        max: usize,
    },
    /// `[var =] ping IP [ttl N] [timeout D]`: one ICMP echo request, waiting for its reply,
    /// an ICMP error about it, or the timeout.
    Ping {
        /// Variable for the line `ping` would print, if kept.
        var: Option<String>,
        /// Whom to ping.
        dst: std::net::IpAddr,
        /// The request's TTL.
        ttl: u8,
        /// How long to wait for an answer.
        timeout: Time,
    },
    /// `flood IP:PORT COUNT from CIDR [rate N]`: COUNT SYNs from addresses forged in CIDR,
    /// N a second (a SYN flood, as an attacker's tool sends it).
    Flood {
        /// The target.
        dst: SocketAddr,
        /// How many SYNs.
        count: u32,
        /// The subnet the forged sources are drawn from.
        from: (std::net::Ipv4Addr, u8),
        /// SYNs a second.
        rate: u32,
    },
    /// `setsockopt CONN OPTION VALUE`.
    SetOption {
        /// The socket's variable.
        conn: String,
        /// The option and its value.
        option: SocketOption,
    },
    /// `[var =] recv CONN [MAX]`.
    Recv {
        /// Variable for the data received, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// At most this many octets (like `recv(1024)`).
        max: usize,
    },
    /// `[var =] recv CONN framed [FMT]`: one whole message behind a 4-byte length, read in a
    /// loop (`recv(4)`, then `recv(1024)` until the length is reached).
    RecvFramed {
        /// Variable for the message, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How the length is packed.
        prefix: LengthPrefix,
    },
    /// `[var =] send_file CONN "NAME" SIZE [framed FMT]`: a JSON header
    /// `{"filename": NAME, "filesize": SIZE}` behind a 4-byte length, then SIZE seeded
    /// random octets as the file.
    SendFile {
        /// Variable for the file's digest, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// The header, length prefix included.
        header: Vec<u8>,
        /// The file's size.
        len: u64,
    },
    /// `[var =] recv_file CONN [framed FMT]`: the header, then `recv(1024)` until the
    /// file's size has arrived; keeps its length and SHA-256.
    RecvFile {
        /// Variable for the file's digest, if kept.
        var: Option<String>,
        /// The connection's variable.
        conn: String,
        /// How the header's length is packed.
        prefix: LengthPrefix,
    },
    /// `serve LISTENER HANDLER`: socketserver.ThreadingTCPServer's `serve_forever()`: accept
    /// every connection and run HANDLER on each independently, as one thread each would.
    /// It never returns.
    Serve {
        /// The listening socket's variable.
        listener: String,
        /// What each connection's thread does.
        handler: Handler,
    },
    /// `shutdown CONN` (SHUT_WR).
    Shutdown {
        /// The connection's variable.
        conn: String,
    },
    /// `close SOCK`.
    Close {
        /// The socket's variable.
        conn: String,
    },
    /// `abort CONN`: close with RST, as a program that dies does.
    Abort {
        /// The connection's variable.
        conn: String,
    },
    /// `wait CONN STATE`: block until the connection has reached STATE.
    Wait {
        /// The connection's variable.
        conn: String,
        /// The state to wait for.
        state: TcpState,
    },
}

/// What a `serve` thread does with its connection, until the client closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `while data := conn.recv(1024): conn.sendall(data)`.
    Echo,
    /// The same, answering `data.upper()`.
    Upper,
}

/// A statement with the text it was written as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The statement.
    pub stmt: Stmt,
    /// The source text, for the trace.
    pub text: String,
}

impl From<Stmt> for Line {
    /// A statement built in code rather than read from a scenario; its text is the line a
    /// scenario would write for it.
    fn from(stmt: Stmt) -> Line {
        Line {
            text: stmt.to_string(),
            stmt,
        }
    }
}

/// Bytes as a scenario writes them: in double quotes, with `\n \r \t \\ \" \xNN`.
fn quoted(data: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in data {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// `VAR = ` before a call whose result is kept.
fn kept(var: &Option<String>) -> String {
    var.as_ref().map(|v| format!("{v} = ")).unwrap_or_default()
}

impl std::fmt::Display for Stmt {
    /// The statement in the scenario language.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stmt::Sleep(t) => write!(f, "sleep {t}s"),
            Stmt::At(t) => write!(f, "at {t}s"),
            Stmt::Listen { var, port, backlog } => {
                write!(f, "{var} = listen {port} backlog {backlog}")
            }
            Stmt::Accept { var, listener } => write!(f, "{var} = accept {listener}"),
            Stmt::Connect { var, addr } => write!(f, "{var} = connect {addr}"),
            Stmt::Send { conn, data } => write!(f, "send {conn} {}", quoted(data)),
            Stmt::SendRandom { var, conn, len } => {
                write!(f, "{}send {conn} random {len}", kept(var))
            }
            Stmt::RecvAll { var, conn, limit } => match limit {
                Some(limit) => write!(f, "{}recvall {conn} {limit}", kept(var)),
                None => write!(f, "{}recvall {conn}", kept(var)),
            },
            Stmt::UdpBind { var, port } => write!(f, "{var} = udp {port}"),
            Stmt::SendTo { sock, data, addr } => {
                write!(f, "sendto {sock} {} {addr}", quoted(data))
            }
            Stmt::RecvFrom { var, sock, max } => write!(f, "{}recvfrom {sock} {max}", kept(var)),
            Stmt::Ping {
                var,
                dst,
                ttl,
                timeout,
            } => write!(f, "{}ping {dst} ttl {ttl} timeout {timeout}s", kept(var)),
            Stmt::Flood {
                dst,
                count,
                from: (net, prefix),
                rate,
            } => write!(f, "flood {dst} {count} from {net}/{prefix} rate {rate}"),
            Stmt::SetOption { conn, option } => write!(f, "setsockopt {conn} {option}"),
            Stmt::Recv { var, conn, max } => write!(f, "{}recv {conn} {max}", kept(var)),
            Stmt::RecvFramed { var, conn, prefix } => {
                write!(f, "{}recv {conn} framed '{}'", kept(var), prefix.format())
            }
            Stmt::SendFile {
                var,
                conn,
                header,
                len,
            } => {
                let name = header
                    .get(4..)
                    .and_then(|json| parse_file_header(json).ok())
                    .map_or_else(String::new, |(name, _)| name);
                write!(
                    f,
                    "{}send_file {conn} {} {len}",
                    kept(var),
                    quoted(name.as_bytes())
                )
            }
            Stmt::RecvFile { var, conn, prefix } => {
                write!(
                    f,
                    "{}recv_file {conn} framed '{}'",
                    kept(var),
                    prefix.format()
                )
            }
            Stmt::Serve { listener, handler } => {
                let handler = match handler {
                    Handler::Echo => "echo",
                    Handler::Upper => "upper",
                };
                write!(f, "serve {listener} {handler}")
            }
            Stmt::Shutdown { conn } => write!(f, "shutdown {conn}"),
            Stmt::Close { conn } => write!(f, "close {conn}"),
            Stmt::Abort { conn } => write!(f, "abort {conn}"),
            Stmt::Wait { conn, state } => write!(f, "wait {conn} {state}"),
        }
    }
}

/// What a program variable holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A socket of the host.
    Socket(SocketId),
    /// Bytes returned by recv.
    Bytes(Vec<u8>),
    /// The error a call failed with.
    Error(SocketError),
    /// The length and SHA-256 of a stream sent or received.
    Stream(StreamDigest),
}
