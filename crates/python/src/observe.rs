//! The kernel side's program in a lesson against the kernel runs on real sockets under a
//! small observer (`python/packetlab_observe.py`) that records, per connection, the length
//! and SHA-256 of what the program sent and received, and how the program ended; packetlab
//! reads that record afterwards so a lesson can compare streams across the two sides.

use std::net::SocketAddr;
use std::path::Path;

use program::{ProgramEnd, StreamDigest, Streams};
use serde::Deserialize;

/// The observer, to be written beside the program's record and run as
/// `python3 packetlab_observe.py PROGRAM ARGS…` with `PACKETLAB_OBSERVE` naming the record.
pub const OBSERVER: &str = include_str!("../python/packetlab_observe.py");

/// What the observer saw of one program run on the kernel.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// How it ended and what it printed.
    pub end: ProgramEnd,
    /// Its connections, in the order they were opened (connected or accepted).
    pub connections: Vec<ObservedConnection>,
}

/// One connection of an observed program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedConnection {
    /// Its own address and port.
    pub local: SocketAddr,
    /// The peer's.
    pub remote: SocketAddr,
    /// What went through it each way.
    pub streams: Streams,
}

#[derive(Deserialize)]
struct Record {
    exit: Option<i32>,
    exception: Option<String>,
    connections: Vec<RecordConnection>,
}

#[derive(Deserialize)]
struct RecordConnection {
    local: SocketAddr,
    remote: SocketAddr,
    sent: (u64, String),
    received: (u64, String),
}

fn digest((len, hex): &(u64, String)) -> Option<StreamDigest> {
    let mut sha256 = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in sha256.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(StreamDigest { len: *len, sha256 })
}

/// Read the observer's record of a program called `name` that printed `output`; a program
/// that was killed before it wrote one has an empty record.
pub fn read_record(path: &Path, name: &str, output: String) -> Observed {
    let record: Option<Record> = read_not_following(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let mut observed = Observed {
        end: ProgramEnd {
            name: name.to_string(),
            output,
            ..ProgramEnd::default()
        },
        connections: Vec::new(),
    };
    let Some(record) = record else {
        return observed;
    };
    observed.end.exit = record.exit;
    observed.end.exception = record.exception;
    for c in &record.connections {
        if let (Some(sent), Some(received)) = (digest(&c.sent), digest(&c.received)) {
            observed.connections.push(ObservedConnection {
                local: c.local,
                remote: c.remote,
                streams: Streams { sent, received },
            });
        }
    }
    observed
}

/// The file at `path`, read by root from a folder the program's user owns: never through a
/// link (which could point at a file only root may read) nor waiting on a FIFO.
fn read_not_following(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}
