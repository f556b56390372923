//! A node's or a program's notes: what a socket, a host, a router or a program decided that
//! no other event shows, each a value with its numbers as fields and its words (and the RFC,
//! where one says so) in `Display`, so that a tool can count retransmission timeouts or SYN
//! cookies without reading prose, and the stack formats nothing when it notes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Time;

mod host;
mod program;

pub use host::{CookieCarried, HostNote};
pub use program::{ProgramNote, ServeStep};

/// A note: which layer or program made it, and what it says.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Note {
    /// One TCP socket's decision.
    Tcp(SocketNote),
    /// A host's or a router's decision outside one connection.
    Host(HostNote),
    /// What a program or the run itself did.
    Program(ProgramNote),
}

/// A TCP socket's note: its number, then what it decided.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SocketNote {
    /// The host's socket number.
    pub socket: u32,
    /// What it decided.
    #[serde(flatten)]
    pub what: TcpNote,
}

/// How the ACK for a segment held out of order goes (RFC 5681 §4.2, Linux's SACK
/// compression).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfOrderAck {
    /// A duplicate ACK at once, as RFC 5681 §4.2 asks.
    AtOnce,
    /// At once, in Linux's quick-ACK mode.
    QuickAck,
    /// At once: Linux sends the first three for a hole, and every 44th.
    FirstThree,
    /// Held a moment to report more (Linux's SACK compression).
    Compressed,
}

impl fmt::Display for OutOfOrderAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutOfOrderAck::AtOnce => "duplicate ACK at once (RFC 5681 §4.2)",
            OutOfOrderAck::QuickAck => "duplicate ACK at once (quick-ACK mode)",
            OutOfOrderAck::FirstThree => {
                "duplicate ACK at once (Linux sends the first three for a hole, and every 44th)"
            }
            OutOfOrderAck::Compressed => {
                "its ACK waits a moment to report more with it (Linux's SACK compression)"
            }
        })
    }
}

/// What a TCP socket decided.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum TcpNote {
    /// PAWS (RFC 7323 §5.3): a segment with an older timestamp than TS.Recent.
    PawsDrop {
        /// Its TSval.
        tsval: u32,
        /// TS.Recent.
        recent: u32,
    },
    /// A retransmitted FIN in TIME-WAIT (RFC 9293 §3.10.7.4).
    FinInTimeWait,
    /// A probe into our zero window (RFC 9293 §3.8.6.1).
    OurWindowZero,
    /// A segment wholly before RCV.NXT.
    DuplicateSegment {
        /// Its first sequence number.
        first: u32,
        /// One past its last.
        end: u32,
        /// RCV.NXT.
        rcv_nxt: u32,
    },
    /// No ACK for an out-of-window segment: one went out lately (Linux's rate limit).
    AckRateLimited {
        /// How long ago the last one went.
        ago: Time,
        /// Linux's limit.
        limit: Time,
    },
    /// RFC 5961 §3.2: a RST in the window but not at RCV.NXT.
    ChallengeRst {
        /// Its sequence number.
        seq: u32,
        /// RCV.NXT.
        rcv_nxt: u32,
    },
    /// RFC 5961 §4.2: a SYN in a synchronised state.
    ChallengeSyn,
    /// RFC 5961 §5.2: an ACK older than the largest window allows.
    OldAck {
        /// The ACK.
        ack: u32,
        /// SND.UNA.
        snd_una: u32,
        /// The largest window the peer offered.
        reach: u32,
    },
    /// Part of a segment was received before.
    PartlyDuplicate {
        /// Octets received before.
        old: usize,
        /// Octets new.
        new: usize,
    },
    /// Held octets join the stream once the gap is filled.
    GapFilled {
        /// How many.
        moved: u32,
        /// RCV.NXT after.
        rcv_nxt: u32,
    },
    /// A segment ahead of RCV.NXT is held for reassembly (RFC 9293 §3.10.7.4).
    HeldAhead {
        /// Its first sequence number.
        first: u32,
        /// One past its last.
        end: u32,
        /// RCV.NXT.
        rcv_nxt: u32,
        /// Octets new to the reassembly queue.
        new: usize,
        /// Octets it held already.
        duplicate: usize,
        /// How its ACK goes.
        ack: OutOfOrderAck,
    },
    /// Keep-alive probes went unanswered (RFC 1122 §4.2.3.6).
    KeepaliveExhausted {
        /// How many.
        probes: u32,
    },
    /// A keep-alive probe (RFC 1122 §4.2.3.6).
    KeepaliveProbe {
        /// How long the connection was idle.
        idle: Time,
        /// Which probe.
        probe: u32,
        /// Of how many.
        count: u32,
    },
    /// Packet Too Big shrinks the segments (RFC 8201 §4).
    PathMtu {
        /// The path's MTU.
        mtu: u16,
        /// The MSS before.
        before: u16,
        /// The MSS now.
        size: u16,
        /// SND.UNA, where sending starts again.
        snd_una: u32,
    },
    /// Fast retransmit after duplicate ACKs (RFC 5681 §3.2, RFC 5827).
    FastRetransmit {
        /// How many duplicate ACKs it took.
        threshold: u32,
        /// The ACK they repeat.
        ack: u32,
    },
    /// A one-octet probe into the peer's zero window (RFC 9293 §3.8.6.1).
    WindowProbe {
        /// Its sequence number.
        seq: u32,
        /// When the next probe goes, from now.
        next: Time,
    },
    /// Linux's zero-window probe: empty, at SND.UNA − 1.
    EmptyWindowProbe {
        /// Its sequence number.
        seq: u32,
        /// When the next probe goes, from now.
        next: Time,
    },
    /// Data held back by TCP_CORK or MSG_MORE goes with the probe timer (tcp_write_wakeup).
    CorkedSent {
        /// How many octets.
        held: u32,
    },
    /// The connection is given up after its retransmissions.
    Aborted {
        /// How many there were.
        retransmissions: u32,
    },
    /// The SYN or SYN+ACK goes again.
    SynRetransmit {
        /// Whether it is a SYN+ACK.
        syn_ack: bool,
        /// Which try.
        try_number: u32,
        /// The next timeout, from now.
        next: Time,
    },
    /// A retransmission timeout (RFC 6298 §5.4–5.6).
    Timeout {
        /// SND.UNA, where sending starts again.
        snd_una: u32,
        /// Which try.
        try_number: u32,
        /// The next timeout, from now.
        next: Time,
    },
    /// smoltcp gave up: no progress for its timeout.
    SmoltcpTimedOut {
        /// Its timeout in seconds.
        secs: u64,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Tcp(n) => write!(f, "socket {}: {}", n.socket, n.what),
            Note::Host(n) => n.fmt(f),
            Note::Program(n) => n.fmt(f),
        }
    }
}

impl fmt::Display for TcpNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpNote::PawsDrop { tsval, recent } => write!(
                f,
                "TSval {tsval} is older than TS.Recent {recent}: a stale duplicate, dropped \
                 (PAWS, RFC 7323 §5.3)"
            ),
            TcpNote::FinInTimeWait => f.write_str(
                "retransmitted FIN in TIME-WAIT (our last ACK was lost): ACK it again and \
                 restart the 2×MSL timer (RFC 9293 §3.10.7.4)",
            ),
            TcpNote::OurWindowZero => f.write_str(
                "our window is zero: the probe is not accepted; ACK with the window (RFC 9293 \
                 §3.8.6.1)",
            ),
            TcpNote::DuplicateSegment {
                first,
                end,
                rcv_nxt,
            } => write!(
                f,
                "duplicate segment {first}..{end} (all before RCV.NXT={rcv_nxt}): dropped, ACK \
                 again"
            ),
            TcpNote::AckRateLimited { ago, limit } => write!(
                f,
                "no ACK for it: one went out for another such segment {ago} ago (Linux answers \
                 them at most every {limit})"
            ),
            TcpNote::ChallengeRst { seq, rcv_nxt } => write!(
                f,
                "RST at {seq} is in the window but not at RCV.NXT={rcv_nxt}: challenge ACK (RFC \
                 5961 §3.2)"
            ),
            TcpNote::ChallengeSyn => {
                f.write_str("SYN in a synchronised state: challenge ACK (RFC 5961 §4.2)")
            }
            TcpNote::OldAck {
                ack,
                snd_una,
                reach,
            } => write!(
                f,
                "ACK {ack} is older than SND.UNA={snd_una} minus the largest window ({reach}): \
                 dropped, challenge ACK (RFC 5961 §5.2)"
            ),
            other => other.fmt_receiving(f),
        }
    }
}

impl TcpNote {
    /// The words of the notes on what arrives and on keep-alive.
    fn fmt_receiving(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpNote::PartlyDuplicate { old, new } => write!(
                f,
                "{old} octets of this segment were received before; {new} are new"
            ),
            TcpNote::GapFilled { moved, rcv_nxt } => write!(
                f,
                "the gap is filled: {moved} held octets join the stream, RCV.NXT={rcv_nxt}"
            ),
            TcpNote::HeldAhead {
                first,
                end,
                rcv_nxt,
                new,
                duplicate,
                ack,
            } => {
                write!(
                    f,
                    "segment {first}..{end} arrived ahead of RCV.NXT={rcv_nxt}: held for \
                     reassembly ({new} new octets"
                )?;
                if *duplicate > 0 {
                    write!(f, ", {duplicate} already held")?;
                }
                write!(f, "); {ack}")
            }
            TcpNote::KeepaliveExhausted { probes } => write!(
                f,
                "{probes} keep-alive probes went unanswered: the connection is dropped \
                 (ETIMEDOUT)"
            ),
            TcpNote::KeepaliveProbe { idle, probe, count } => write!(
                f,
                "idle for {idle}s: keep-alive probe {probe} of {count} (RFC 1122 §4.2.3.6), SEQ \
                 = SND.UNA − 1 so the peer answers with an ACK"
            ),
            other => other.fmt_sending(f),
        }
    }

    /// The words of the notes on what goes out again: probes, retransmissions, giving up.
    fn fmt_sending(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpNote::PathMtu {
                mtu,
                before,
                size,
                snd_una,
            } => write!(
                f,
                "the path takes {mtu}-octet packets at most (Packet Too Big): segments shrink \
                 from {before} to {size} octets of data; resend from SND.UNA={snd_una} (RFC \
                 8201 §4, as Linux's tcp_simple_retransmit: the congestion window is kept)"
            ),
            TcpNote::FastRetransmit { threshold: 3, ack } => write!(
                f,
                "third duplicate ACK for {ack}: fast retransmit (RFC 5681 §3.2)"
            ),
            TcpNote::FastRetransmit { threshold: n, ack } => write!(
                f,
                "duplicate ACK #{n} (early retransmit, RFC 5827); the {n}th duplicate ACK for \
                 {ack}: fast retransmit (RFC 5681 §3.2)"
            ),
            TcpNote::WindowProbe { seq, next } => write!(
                f,
                "the peer's window is zero: probe with one octet at {seq} (RFC 9293 §3.8.6.1), \
                 next probe in {next}s"
            ),
            TcpNote::EmptyWindowProbe { seq, next } => write!(
                f,
                "the peer's window is zero: probe with an empty segment at SND.UNA − 1 = {seq} \
                 (Linux), next probe in {next}s"
            ),
            TcpNote::CorkedSent { held } => write!(
                f,
                "nothing in flight and {held} octets held back by TCP_CORK or MSG_MORE: the \
                 probe timer sends them (Linux's tcp_write_wakeup)"
            ),
            other => other.fmt_giving_up(f),
        }
    }

    /// The words of the notes on timeouts.
    fn fmt_giving_up(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpNote::Aborted { retransmissions } => write!(
                f,
                "connection aborted after {retransmissions} retransmissions"
            ),
            TcpNote::SynRetransmit {
                syn_ack,
                try_number,
                next,
            } => {
                let what = if *syn_ack { "SYN+ACK" } else { "SYN" };
                write!(
                    f,
                    "retransmits its {what} (try {try_number}), next timeout in {next}s"
                )
            }
            TcpNote::Timeout {
                snd_una,
                try_number,
                next,
            } => write!(
                f,
                "retransmission timeout: resend from SND.UNA={snd_una} (try {try_number}), next \
                 timeout in {next}s (RFC 6298 §5.4–5.6)"
            ),
            TcpNote::SmoltcpTimedOut { secs } => write!(
                f,
                "connection aborted: no progress for smoltcp's timeout of {secs} s (smoltcp \
                 counts time, not retransmissions)"
            ),
            _ => unreachable!("every other note is written by fmt, fmt_receiving or fmt_sending"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(note: Note) -> String {
        let json = serde_json::to_string(&note).unwrap();
        assert_eq!(serde_json::from_str::<Note>(&json).unwrap(), note, "{json}");
        json
    }

    #[test]
    fn notes_keep_their_numbers_as_fields() {
        let json = round_trip(Note::Tcp(SocketNote {
            socket: 3,
            what: TcpNote::Timeout {
                snd_una: 1001,
                try_number: 2,
                next: Time::from_millis(400),
            },
        }));
        assert_eq!(
            json,
            r#"{"by":"tcp","socket":3,"what":"timeout","snd_una":1001,"try_number":2,"next":400000000}"#
        );
        let json = round_trip(Note::Host(HostNote::CookieAccepted {
            from: "10.0.0.2:40000".parse().unwrap(),
            mss: 1460,
            carried: Some(CookieCarried {
                wscale: Some(7),
                sack: true,
            }),
        }));
        assert!(
            json.starts_with(r#"{"by":"host","what":"cookie_accepted""#),
            "{json}"
        );
        round_trip(Note::Program(ProgramNote::Serve {
            thread: 1,
            peer: "10.0.0.2:40000".to_string(),
            step: ServeStep::Failed {
                call: "recv(1024)".to_string(),
                error: "ECONNRESET".to_string(),
            },
        }));
    }

    #[test]
    fn a_note_prints_its_words_and_rule() {
        let note = Note::Tcp(SocketNote {
            socket: 2,
            what: TcpNote::FastRetransmit {
                threshold: 3,
                ack: 5001,
            },
        });
        assert_eq!(
            note.to_string(),
            "socket 2: third duplicate ACK for 5001: fast retransmit (RFC 5681 §3.2)"
        );
        let early = TcpNote::FastRetransmit {
            threshold: 2,
            ack: 5001,
        };
        assert!(early.to_string().contains("RFC 5827"));
    }
}
