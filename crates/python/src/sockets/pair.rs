//! `socket.socketpair()`: two sockets joined to each other inside one host, as an `AF_UNIX`
//! pair is. No packets: what one end sends waits for the other in memory. asyncio's event
//! loop makes one to wake itself up.

use std::collections::VecDeque;

use serde_json::Value;
use serde_json::json;

use super::{Fd, Outcome, Sock, Sockets};
use crate::errno::Errno;
use crate::protocol::{Family, Kind};
use stack::SocketError;

/// How much one end holds unread before a sender waits (Linux's default for a Unix stream
/// socket is about this).
const PAIR_BUFFER: usize = 212_992;

/// One end of a pair.
#[derive(Debug)]
pub(super) struct Pair {
    /// The other end.
    pub peer: Fd,
    /// What the other end sent, not yet read: a stream's chunks, or whole datagrams.
    inbox: VecDeque<Vec<u8>>,
    /// The other end has closed (or shut down its writing).
    peer_gone: bool,
}

impl Pair {
    /// Whether a read and a write would complete now.
    pub fn readiness(&self) -> (bool, bool) {
        (!self.inbox.is_empty() || self.peer_gone, true)
    }

    fn queued(&self) -> usize {
        self.inbox.iter().map(Vec::len).sum()
    }
}

impl Sockets {
    /// Make a pair: two new descriptors of `process`.
    pub(super) fn socketpair(&mut self, process: usize, kind: Kind) -> (Value, String) {
        let a = self.open(process, Sock::new(kind, Family::Inet));
        let b = self.open(process, Sock::new(kind, Family::Inet));
        for (me, peer) in [(a, b), (b, a)] {
            if let Some(sock) = self.table.get_mut(&(process, me)) {
                sock.pair = Some(Pair {
                    peer: (process, peer),
                    inbox: VecDeque::new(),
                    peer_gone: false,
                });
            }
        }
        let shown = format!("(<socket fd={a}, AF_UNIX>, <socket fd={b}, AF_UNIX>)");
        (json!([a, b]), shown)
    }

    /// The other end of `peer`'s pair is gone: it reads the end of the stream.
    pub(super) fn pair_closed(&mut self, peer: Fd) {
        if let Some(pair) = self.table.get_mut(&peer).and_then(|s| s.pair.as_mut()) {
            pair.peer_gone = true;
        }
    }

    /// `send` on one end: into the other's inbox, as far as it has room.
    pub(super) fn pair_send(&mut self, fd: Fd, data: &[u8]) -> Result<Option<usize>, Errno> {
        let sock = self.sock(fd)?;
        let (peer, kind) = match &sock.pair {
            Some(p) if !p.peer_gone => (p.peer, sock.kind),
            _ => return Err(Errno::Stack(SocketError::BrokenPipe)),
        };
        let Some(other) = self.table.get_mut(&peer).and_then(|s| s.pair.as_mut()) else {
            return Err(Errno::Stack(SocketError::BrokenPipe));
        };
        let room = PAIR_BUFFER.saturating_sub(other.queued());
        let n = match kind {
            Kind::Stream => room.min(data.len()),
            Kind::Dgram if data.len() <= room => data.len(),
            Kind::Dgram => 0,
        };
        if n == 0 && !data.is_empty() {
            return Ok(None);
        }
        other.inbox.push_back(data[..n].to_vec());
        Ok(Some(n))
    }

    /// `recv` on one end: what the other sent (a stream's bytes across its sends, or one
    /// datagram), or the end once it has gone.
    pub(super) fn pair_recv(&mut self, fd: Fd, max: usize, peek: bool) -> Outcome {
        let sock = self.sock(fd)?;
        let kind = sock.kind;
        let Some(pair) = sock.pair.as_mut() else {
            return Err(Errno::Stack(SocketError::BadSocket));
        };
        if pair.inbox.is_empty() {
            return Ok(pair.peer_gone.then(|| (json!(""), "b''".to_string())));
        }
        let mut data = Vec::new();
        let mut inbox = pair.inbox.clone();
        while let Some(mut chunk) = inbox.pop_front() {
            let take = (max - data.len()).min(chunk.len());
            data.extend_from_slice(&chunk[..take]);
            if kind == Kind::Dgram {
                break;
            }
            if take < chunk.len() {
                chunk.drain(..take);
                inbox.push_front(chunk);
            }
            if data.len() == max {
                break;
            }
        }
        if !peek {
            pair.inbox = inbox;
        }
        let shown = trace::python_bytes_shown(&data);
        Ok(Some((json!(crate::protocol::hex(&data)), shown)))
    }
}
