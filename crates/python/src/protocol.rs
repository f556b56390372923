//! The bridge protocol between the shim in each Python thread and the simulator: one JSON
//! line a request, one a reply. Bytes travel as hex.

use serde::Deserialize;
use serde_json::{Value, json};
use stack::SocketError;

/// A request from a Python thread.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The thread's first words: it waits to be let run.
    Hello {},
    /// `socket.socket(AF_INET, kind)`.
    Socket {
        /// `stream` or `dgram`.
        kind: String,
        /// The program's line.
        at: String,
    },
    /// `setsockopt`.
    Setsockopt {
        /// The socket.
        fd: u32,
        /// `SO_REUSEADDR` or `TCP_NODELAY`.
        opt: String,
        /// Its value.
        value: i64,
        /// The program's line.
        at: String,
    },
    /// `getsockopt`.
    Getsockopt {
        /// The socket.
        fd: u32,
        /// `SO_REUSEADDR` or `TCP_NODELAY`.
        opt: String,
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
    /// `send(data)`.
    Send {
        /// The socket.
        fd: u32,
        /// The bytes, in hex.
        data: String,
        /// Seconds to wait at most.
        timeout: Option<f64>,
        /// The program's line.
        at: String,
    },
    /// `recv(max)`.
    Recv {
        /// The socket.
        fd: u32,
        /// At most this many octets.
        max: usize,
        /// Seconds to wait at most.
        timeout: Option<f64>,
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
    /// `recvfrom(max)`.
    Recvfrom {
        /// The socket.
        fd: u32,
        /// At most this many octets.
        max: usize,
        /// Seconds to wait at most.
        timeout: Option<f64>,
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
    /// `close()`.
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
    /// A thread's last words.
    ThreadExit {},
    /// The program has ended with this status.
    Exit {
        /// Its exit status.
        status: i32,
        /// The exception that ended it, by its class name.
        #[serde(default)]
        exception: Option<String>,
    },
}

impl Request {
    /// The program's line that made the call (empty for the shim's own messages).
    pub fn at(&self) -> &str {
        use Request::*;
        match self {
            Socket { at, .. }
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
            Hello { .. } | Print { .. } | Exit { .. } | ThreadExit { .. } | LockRelease { .. } => {
                ""
            }
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
        )
    }
}

/// A successful reply.
pub fn ok(value: Value) -> Value {
    json!({ "ok": value })
}

/// A failed call: the errno name the shim turns into the matching Python exception.
pub fn err(e: SocketError) -> Value {
    json!({ "err": e.errno() })
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
