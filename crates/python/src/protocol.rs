//! The bridge protocol between the shim in each Python thread and the simulator: one JSON
//! line a request, one a reply. Bytes travel as hex.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::errno::Errno;

/// The kind of a socket (`SOCK_STREAM` or `SOCK_DGRAM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// TCP (or a stream pair).
    Stream,
    /// UDP (or a datagram pair).
    Dgram,
}

/// The address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// `AF_INET`: IPv4, addresses `(host, port)`.
    #[default]
    Inet,
    /// `AF_INET6`: IPv6, addresses `(host, port, flowinfo, scope_id)`; dual-stack unless
    /// `IPV6_V6ONLY` is set, its IPv4 peers shown as `::ffff:a.b.c.d`.
    Inet6,
}

/// A socket option, by the name `setsockopt` knows it; the shim refuses the rest by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum SockOpt {
    /// SOL_SOCKET: may bind a port a closing connection still holds.
    SO_REUSEADDR,
    /// SOL_SOCKET: keep-alive probes.
    SO_KEEPALIVE,
    /// SOL_SOCKET: the receive buffer.
    SO_RCVBUF,
    /// SOL_SOCKET: the send buffer.
    SO_SNDBUF,
    /// SOL_SOCKET: what `close` does with unsent data (value: -1 off, else the seconds).
    SO_LINGER,
    /// SOL_SOCKET: the pending error, read once (getsockopt only).
    SO_ERROR,
    /// SOL_SOCKET: sending to a broadcast address.
    SO_BROADCAST,
    /// SOL_SOCKET: whether the socket listens (getsockopt only).
    SO_ACCEPTCONN,
    /// IPPROTO_TCP: Nagle off.
    TCP_NODELAY,
    /// IPPROTO_TCP: the MSS.
    TCP_MAXSEG,
    /// IPPROTO_TCP: idle time before keep-alive probes, seconds.
    TCP_KEEPIDLE,
    /// IPPROTO_TCP: time between keep-alive probes, seconds.
    TCP_KEEPINTVL,
    /// IPPROTO_TCP: probes before the connection is dropped.
    TCP_KEEPCNT,
    /// IPPROTO_TCP: no delayed ACKs.
    TCP_QUICKACK,
    /// IPPROTO_TCP: hold partial segments until uncorked.
    TCP_CORK,
    /// IPPROTO_IP: the time to live.
    IP_TTL,
    /// IPPROTO_IPV6: an `AF_INET6` socket takes IPv6 only (set before `bind`).
    IPV6_V6ONLY,
}

impl Request {
    /// `socket.socket(family, kind)` made by a driver rather than a program (no line to name).
    pub fn socket(kind: Kind, family: Family) -> Request {
        Request::Socket {
            kind,
            family,
            at: String::new(),
        }
    }
}

/// `recv` and `send` flags, as Linux numbers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// MSG_PEEK: leave the data to be read again.
    pub peek: bool,
    /// MSG_WAITALL: wait for all that was asked.
    pub wait_all: bool,
    /// MSG_DONTWAIT: do not wait, whatever the socket's mode.
    pub dont_wait: bool,
    /// MSG_MORE: more data follows; a partial segment waits for it.
    pub more: bool,
}

impl Flags {
    /// From the number a program passed.
    pub fn from_bits(bits: i64) -> Flags {
        Flags {
            peek: bits & 0x2 != 0,
            wait_all: bits & 0x100 != 0,
            dont_wait: bits & 0x40 != 0,
            more: bits & 0x8000 != 0,
        }
    }
}

/// A request from a Python thread.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The thread's first words: it waits to be let run.
    Hello {},
    /// `socket.socket(family, kind)`.
    Socket {
        /// Stream or datagram.
        kind: Kind,
        /// `AF_INET` or `AF_INET6`.
        #[serde(default)]
        family: Family,
        /// The program's line.
        at: String,
    },
    /// `socket.socketpair()`: two sockets joined to each other on this host, no packets
    /// (an `AF_UNIX` pair).
    Socketpair {
        /// Stream or datagram.
        kind: Kind,
        /// The program's line.
        at: String,
    },
    /// `setsockopt`.
    Setsockopt {
        /// The socket.
        fd: u32,
        /// The option.
        opt: SockOpt,
        /// Its value.
        value: i64,
        /// The program's line.
        at: String,
    },
    /// `getsockopt`.
    Getsockopt {
        /// The socket.
        fd: u32,
        /// The option.
        opt: SockOpt,
        /// The program's line.
        at: String,
    },
    /// `bind((host, port))`.
    Bind {
        /// The socket.
        fd: u32,
        /// The address (`0.0.0.0` for any).
        host: String,
        /// The port (0: any).
        port: u16,
        /// The program's line.
        at: String,
    },
    /// `listen(backlog)`.
    Listen {
        /// The socket.
        fd: u32,
        /// The backlog.
        backlog: u32,
        /// The program's line.
        at: String,
    },
    /// `accept()`.
    Accept {
        /// The listening socket.
        fd: u32,
        /// Seconds to wait at most (`settimeout`), none for ever.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// `connect((host, port))`.
    Connect {
        /// The socket.
        fd: u32,
        /// The address.
        host: String,
        /// The port.
        port: u16,
        /// Seconds to wait at most.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// `send(data, flags)`: on a blocking socket, everything is queued before it returns;
    /// with a timeout or none, what fits.
    Send {
        /// The socket.
        fd: u32,
        /// The bytes, in hex.
        data: String,
        /// Seconds to wait at most (0: not at all).
        timeout: Option<f64>,
        /// `MSG_*` flags.
        #[serde(default)]
        flags: i64,
        /// The program's line.
        at: String,
    },
    /// `recv(max, flags)`.
    Recv {
        /// The socket.
        fd: u32,
        /// At most this many octets.
        max: usize,
        /// Seconds to wait at most (0: not at all).
        timeout: Option<f64>,
        /// `MSG_*` flags.
        #[serde(default)]
        flags: i64,
        /// The program's line.
        at: String,
    },
    /// `sendto(data, (host, port))`.
    Sendto {
        /// The socket.
        fd: u32,
        /// The bytes, in hex.
        data: String,
        /// The address.
        host: String,
        /// The port.
        port: u16,
        /// The program's line.
        at: String,
    },
    /// `recvfrom(max, flags)`.
    Recvfrom {
        /// The socket.
        fd: u32,
        /// At most this many octets.
        max: usize,
        /// Seconds to wait at most (0: not at all).
        timeout: Option<f64>,
        /// `MSG_*` flags.
        #[serde(default)]
        flags: i64,
        /// The program's line.
        at: String,
    },
    /// `shutdown(how)`.
    Shutdown {
        /// The socket.
        fd: u32,
        /// `SHUT_RD` 0, `SHUT_WR` 1, `SHUT_RDWR` 2.
        how: i64,
        /// The program's line.
        at: String,
    },
    /// `close()`: the descriptor goes; the socket with it, as the kernel closes it.
    Close {
        /// The socket.
        fd: u32,
        /// The program's line.
        at: String,
    },
    /// `getsockname()`.
    Getsockname {
        /// The socket.
        fd: u32,
        /// The program's line.
        at: String,
    },
    /// `getpeername()`.
    Getpeername {
        /// The socket.
        fd: u32,
        /// The program's line.
        at: String,
    },
    /// `select.select(read, write, [], timeout)` (and the selectors built on it).
    Select {
        /// Sockets to watch for reading.
        read: Vec<u32>,
        /// Sockets to watch for writing.
        write: Vec<u32>,
        /// Seconds to wait at most; none for ever.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// `time.sleep(secs)`.
    Sleep {
        /// How long, in seconds.
        secs: f64,
        /// The program's line.
        at: String,
    },
    /// `time.time()` and its kin.
    Time {
        /// The program's line.
        at: String,
    },
    /// Output on standard output or error.
    Print {
        /// `stdout` or `stderr`.
        stream: String,
        /// The text.
        text: String,
    },
    /// `Thread.start()`: a new thread is about to connect.
    Spawn {
        /// Its name.
        name: String,
        /// The program's line.
        at: String,
    },
    /// `Thread.join()`: until that thread has ended.
    Join {
        /// The thread, as `spawn` numbered it.
        thread: usize,
        /// Seconds to wait at most.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// A lock (or a condition, event, semaphore or queue built on one) is taken: wait until
    /// it has been released more than `seen` times.
    LockWait {
        /// The lock, numbered by the program.
        lock: u64,
        /// How many releases the thread had seen.
        seen: u64,
        /// Seconds to wait at most.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// A lock that some thread waits for was released, for the `releases`th time.
    LockRelease {
        /// The lock.
        lock: u64,
        /// How many times it has been released.
        releases: u64,
    },
    /// The program asked for something packetlab does not simulate (`os.fork`, `AF_INET6`);
    /// it is refused with an `OSError` at its line.
    NotSimulated {
        /// What, as the program named it.
        what: String,
        /// The program's line.
        at: String,
    },
    /// New lines of the program's TLS key log (NSS format).
    TlsKeys {
        /// The lines.
        lines: String,
    },
    /// A thread's last words.
    ThreadExit {},
    /// The program has ended with this status.
    Exit {
        /// Its exit status.
        status: i32,
        /// The exception that ended it, by its class name.
        #[serde(default)]
        exception: Option<String>,
        /// That exception was a refusal of something packetlab does not simulate.
        #[serde(default)]
        refused: bool,
    },
}

impl Request {
    /// The program's line that made the call (empty for the shim's own messages).
    pub fn at(&self) -> &str {
        use Request::*;
        match self {
            Socket { at, .. }
            | Socketpair { at, .. }
            | Setsockopt { at, .. }
            | Getsockopt { at, .. }
            | Bind { at, .. }
            | Listen { at, .. }
            | Accept { at, .. }
            | Connect { at, .. }
            | Send { at, .. }
            | Recv { at, .. }
            | Sendto { at, .. }
            | Recvfrom { at, .. }
            | Shutdown { at, .. }
            | Close { at, .. }
            | Getsockname { at, .. }
            | Getpeername { at, .. }
            | Select { at, .. }
            | Spawn { at, .. }
            | Join { at, .. }
            | LockWait { at, .. }
            | Sleep { at, .. }
            | Time { at }
            | NotSimulated { at, .. } => at,
            Hello { .. }
            | Print { .. }
            | Exit { .. }
            | ThreadExit { .. }
            | LockRelease { .. }
            | TlsKeys { .. } => "",
        }
    }

    /// How long a blocking call may wait, if the program set a timeout.
    pub fn timeout(&self) -> Option<f64> {
        match self {
            Request::Accept { timeout, .. }
            | Request::Connect { timeout, .. }
            | Request::Send { timeout, .. }
            | Request::Recv { timeout, .. }
            | Request::Recvfrom { timeout, .. }
            | Request::Select { timeout, .. }
            | Request::Join { timeout, .. }
            | Request::LockWait { timeout, .. } => *timeout,
            _ => None,
        }
    }

    /// Whether the trace shows this call (the shim's own messages and clock reads are not
    /// socket calls a learner made).
    pub fn traced(&self) -> bool {
        !matches!(
            self,
            Request::Hello { .. }
                | Request::Print { .. }
                | Request::Exit { .. }
                | Request::ThreadExit { .. }
                | Request::LockRelease { .. }
                | Request::Time { .. }
                | Request::NotSimulated { .. }
                | Request::TlsKeys { .. }
        )
    }
}

/// A successful reply.
pub fn ok(value: Value) -> Value {
    json!({ "ok": value })
}

/// A failed call: the errno name the shim turns into the matching Python exception.
pub fn err(e: Errno) -> Value {
    json!({ "err": e.name() })
}

/// A call that waited longer than its socket's timeout.
pub fn timed_out() -> Value {
    json!({ "err": "timeout" })
}

/// Bytes as hex, as they travel.
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(data.len() * 2);
    for &b in data {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Hex back to bytes; `None` if it is not.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_the_shim_writes_them() {
        let r: Request = serde_json::from_str(
            r#"{"op": "connect", "at": "client.py:3 s.connect(('127.0.0.1', 9000))", "fd": 3, "host": "127.0.0.1", "port": 9000, "timeout": null}"#,
        )
        .unwrap();
        assert!(matches!(r, Request::Connect { port: 9000, .. }));
        assert_eq!(r.at(), "client.py:3 s.connect(('127.0.0.1', 9000))");
        assert_eq!(unhex(&hex(b"\x00hi\xff")).unwrap(), b"\x00hi\xff");
        assert_eq!(unhex("abc"), None);
    }
}
