//! The errors a Python program sees from a socket call: an errno, as Linux numbers it, and
//! the exception CPython raises for it (PEP 3151 picks the class by the number).

use stack::SocketError;

/// An errno a socket call fails with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// One the engine reports.
    Stack(SocketError),
    /// EAGAIN: a non-blocking call would block.
    Again,
    /// EINPROGRESS: a non-blocking connect has started.
    InProgress,
    /// EALREADY: a non-blocking connect is still under way.
    Already,
    /// EISCONN: the socket is connected already.
    IsConnected,
    /// EDESTADDRREQ: `send` on a datagram socket with no peer.
    DestinationRequired,
    /// ENOPROTOOPT: an option the socket does not have.
    NoSuchOption,
    /// EOPNOTSUPP: a call this kind of socket does not take (`listen` on UDP).
    NotSupported,
}

impl From<SocketError> for Errno {
    fn from(e: SocketError) -> Errno {
        Errno::Stack(e)
    }
}

impl Errno {
    /// The errno's name, which the shim turns into its number (`errno.ECONNREFUSED`).
    pub fn name(self) -> &'static str {
        match self {
            Errno::Stack(e) => e.errno(),
            Errno::Again => "EAGAIN",
            Errno::InProgress => "EINPROGRESS",
            Errno::Already => "EALREADY",
            Errno::IsConnected => "EISCONN",
            Errno::DestinationRequired => "EDESTADDRREQ",
            Errno::NoSuchOption => "ENOPROTOOPT",
            Errno::NotSupported => "EOPNOTSUPP",
        }
    }

    /// Linux's number and message for it, as `os.strerror` gives it.
    pub fn number_and_text(self) -> (i32, &'static str) {
        match self.name() {
            "ECONNREFUSED" => (111, "Connection refused"),
            "ECONNRESET" => (104, "Connection reset by peer"),
            "ETIMEDOUT" => (110, "Connection timed out"),
            "EPIPE" => (32, "Broken pipe"),
            "ENOTCONN" => (107, "Transport endpoint is not connected"),
            "EADDRINUSE" => (98, "Address already in use"),
            "EADDRNOTAVAIL" => (99, "Cannot assign requested address"),
            "EACCES" => (13, "Permission denied"),
            "ENETUNREACH" => (101, "Network is unreachable"),
            "EBADF" => (9, "Bad file descriptor"),
            "EINVAL" => (22, "Invalid argument"),
            "EMSGSIZE" => (90, "Message too long"),
            "EAGAIN" => (11, "Resource temporarily unavailable"),
            "EINPROGRESS" => (115, "Operation now in progress"),
            "EALREADY" => (114, "Operation already in progress"),
            "EISCONN" => (106, "Transport endpoint is already connected"),
            "EDESTADDRREQ" => (89, "Destination address required"),
            "ENOPROTOOPT" => (92, "Protocol not available"),
            _ => (95, "Operation not supported"),
        }
    }

    /// The exception as CPython prints it: `ConnectionRefusedError: [Errno 111] Connection
    /// refused`.
    pub fn shown(self) -> String {
        let (number, text) = self.number_and_text();
        let class = match number {
            111 => "ConnectionRefusedError",
            104 => "ConnectionResetError",
            110 => "TimeoutError",
            32 => "BrokenPipeError",
            13 => "PermissionError",
            11 | 114 | 115 => "BlockingIOError",
            _ => "OSError",
        };
        format!("{class}: [Errno {number}] {text}")
    }
}
