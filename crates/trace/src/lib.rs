//! The event model of packetlab: everything that happens in a run (frames on links, TCP state
//! transitions with their causes, ARP and switch decisions, application calls) as plain data,
//! written as JSON Lines and rendered as a human log.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod cwnd;
mod drop;
mod fault;
mod jsonl;
mod note;
mod recovery;
mod render;
mod route;
mod rule;

pub use cwnd::{CwndReason, Reduction};
pub use drop::DropReason;
pub use fault::{Fault, PerMille, TimerKind};
pub use jsonl::{
    FORMAT_VERSION, TraceReadError, TraceWriter, check_header, read_jsonl, write_jsonl,
};
pub use note::{
    CookieCarried, HostNote, Note, OutOfOrderAck, ProgramNote, ServeStep, SocketNote, TcpNote,
};
pub use recovery::{CwndChange, Recovery};
use render::render_kind;
pub use render::rule_text;
pub use route::{About, RouteDecision};
pub use rule::Rule;
pub use wire::MacAddr;

/// A point in (virtual or wall-clock) time, in nanoseconds since the run began.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Time {
    /// The beginning of a run.
    pub const ZERO: Time = Time(0);

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    /// From seconds.
    pub const fn from_secs(s: u64) -> Time {
        Time(s * 1_000_000_000)
    }

    /// Nanoseconds since the beginning.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
}

impl std::ops::Add<Time> for Time {
    type Output = Time;
    fn add(self, rhs: Time) -> Time {
        Time(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub<Time> for Time {
    type Output = Time;
    fn sub(self, rhs: Time) -> Time {
        Time(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Time {
    /// Seconds with microsecond precision, like Wireshark's time column: `1.002000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0 / 1_000_000_000,
            (self.0 % 1_000_000_000) / 1000
        )
    }
}

/// The eleven connection states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum TcpState {
    /// No connection state at all.
    #[serde(rename = "CLOSED")]
    Closed,
    /// Waiting for a connection request from any remote TCP and port.
    #[serde(rename = "LISTEN")]
    Listen,
    /// Waiting for a matching connection request after having sent one.
    #[serde(rename = "SYN-SENT")]
    SynSent,
    /// Waiting for a confirming ACK after having both received and sent a SYN.
    #[serde(rename = "SYN-RECEIVED")]
    SynReceived,
    /// An open connection: data can flow both ways.
    #[serde(rename = "ESTABLISHED")]
    Established,
    /// Our FIN is sent; waiting for its ACK or the peer's FIN.
    #[serde(rename = "FIN-WAIT-1")]
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    #[serde(rename = "FIN-WAIT-2")]
    FinWait2,
    /// The peer's FIN has arrived; waiting for our application to close.
    #[serde(rename = "CLOSE-WAIT")]
    CloseWait,
    /// Both FINs sent, ours not yet acknowledged (simultaneous close).
    #[serde(rename = "CLOSING")]
    Closing,
    /// We closed after the peer; waiting for the ACK of our FIN.
    #[serde(rename = "LAST-ACK")]
    LastAck,
    /// Waiting 2×MSL so that the peer surely got our last ACK and old segments die out.
    #[serde(rename = "TIME-WAIT")]
    TimeWait,
}

impl TcpState {
    /// Every state, in the order RFC 9293 lists them.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The RFC 9293 name, e.g. `SYN-SENT`.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// True in the states where both sequence spaces are synchronised (RFC 9293 §3.5).
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text is not one of the RFC 9293 state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = TcpState::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "`{}` is not a TCP state; expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for TcpState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.to_ascii_uppercase().replace('_', "-");
        TcpState::ALL
            .into_iter()
            .find(|state| state.name() == wanted)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// What made a transition happen.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A segment that arrived: its frame number in the capture (1-based, as in Wireshark).
    Frame(u64),
    /// An application call, e.g. `close(c)`.
    Call(String),
    /// A timer that expired.
    Timer(TimerKind),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Frame(n) => write!(f, "frame #{n}"),
            Cause::Call(call) => write!(f, "call {call}"),
            Cause::Timer(timer) => write!(f, "timer {timer}"),
        }
    }
}

/// The connection variables of RFC 9293 §3.3.1 after a transition.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TcpVars {
    /// Oldest unacknowledged sequence number.
    pub snd_una: u32,
    /// Next sequence number to be sent.
    pub snd_nxt: u32,
    /// Next sequence number expected on an incoming segment.
    pub rcv_nxt: u32,
    /// Send window (the peer's advertised window).
    pub snd_wnd: u32,
    /// Receive window (what we advertise).
    pub rcv_wnd: u32,
    /// Congestion window (RFC 5681), where the engine has one it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u32>,
    /// Slow-start threshold (RFC 5681), where the engine has one it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u32>,
    /// Octets the peer has SACKed above SND.UNA (RFC 2018), when there are some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sacked: Option<u32>,
}

/// Print a slow-start threshold, whose initial value is "arbitrarily high" (RFC 5681 §3.1).
pub fn show_ssthresh(ssthresh: u32) -> String {
    if ssthresh == u32::MAX {
        "∞".to_string()
    } else {
        ssthresh.to_string()
    }
}

impl fmt::Display for TcpVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SND.UNA={} SND.NXT={} RCV.NXT={} SND.WND={} RCV.WND={}",
            self.snd_una, self.snd_nxt, self.rcv_nxt, self.snd_wnd, self.rcv_wnd
        )?;
        if let Some(cwnd) = self.cwnd {
            write!(f, " cwnd={cwnd}")?;
        }
        if let Some(ssthresh) = self.ssthresh {
            write!(f, " ssthresh={}", show_ssthresh(ssthresh))?;
        }
        if let Some(sacked) = self.sacked {
            write!(f, " SACKed={sacked}")?;
        }
        Ok(())
    }
}

/// One end of a TCP connection (or a listener), as a host sees it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Endpoint {
    /// The host's name.
    pub host: String,
    /// The host's socket number (1, 2, …), stable for the run.
    pub socket: u32,
    /// Local address and port.
    pub local: SocketAddr,
    /// Remote address and port; none for a listener.
    pub remote: Option<SocketAddr>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.remote {
            Some(remote) => write!(f, "{}#{} {}↔{}", self.host, self.socket, self.local, remote),
            None => write!(f, "{}#{} {}", self.host, self.socket, self.local),
        }
    }
}

/// What a host did with ARP.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArpAction {
    /// Broadcast "who has IP?".
    RequestSent,
    /// Answered a request for our own address, by unicast.
    ReplySent,
    /// Added a new IP→MAC entry to the cache.
    Learned,
    /// Refreshed an existing entry (RFC 826's merge).
    Updated,
    /// Held an outgoing packet until the address is resolved.
    Queued,
    /// No answer after the retries: queued packets are dropped.
    Failed,
    /// Heard a broadcast request for someone else's address, and stayed quiet.
    Ignored,
    /// Used an entry whose owner has not been heard from for a while: it must be soon.
    Stale,
    /// Asked a stale entry's owner again, by unicast.
    ProbeSent,
    /// Heard from a stale entry's owner: reachable again.
    Confirmed,
    /// A stale entry's owner never answered its probes: the entry is dropped.
    Expired,
}

/// What a learning switch did with a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchAction {
    /// The source MAC was new (or moved) and is now tied to the ingress port.
    Learned,
    /// Sent out of every port but the ingress one: broadcast, or destination not yet learned.
    Flooded,
    /// Sent out of the one port the destination was learned on.
    Forwarded,
    /// Dropped: the destination lives on the port the frame came from.
    Filtered,
    /// An entry not refreshed for the aging time was forgotten (IEEE 802.1D §7.9.2).
    Aged,
}

/// Where a program's output went.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output (`print`).
    Stdout,
    /// Standard error (tracebacks).
    Stderr,
}

/// Everything that can happen in a run.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A frame put on a link (one record in the capture).
    Frame {
        /// Frame number in the capture, 1-based.
        number: u64,
        /// The link's name (the capture interface).
        link: Arc<str>,
        /// The node that put it on the link.
        from: Arc<str>,
        /// The node at the other end.
        to: Arc<str>,
        /// Length in octets.
        len: usize,
        /// Wireshark-style one-line description.
        summary: String,
    },
    /// A TCP endpoint changed state.
    TcpTransition {
        /// Which endpoint.
        endpoint: Endpoint,
        /// State before.
        from: TcpState,
        /// State after.
        to: TcpState,
        /// What caused it.
        cause: Cause,
        /// The RFC rule that decided it.
        rule: Rule,
        /// How this engine applied the rule, where that adds to the rule's own words (smoltcp's
        /// fixed TIME-WAIT, its listening pool).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Connection variables after the transition.
        vars: TcpVars,
    },
    /// A TCP sender changed its congestion window or slow-start threshold (RFC 5681).
    Congestion {
        /// Which endpoint.
        endpoint: Endpoint,
        /// Congestion window after the change, in octets.
        cwnd: u32,
        /// Slow-start threshold after the change, in octets (`u32::MAX`: not yet set).
        ssthresh: u32,
        /// Why, with its numbers; its words and rule are its `Display`: "slow start: +1460
        /// for an ACK of 1460 new octets (RFC 5681 §3.1)".
        reason: CwndReason,
    },
    /// A loss-recovery decision: SACK, D-SACK, timestamps (RFC 2018, 2883, 6675, 7323).
    Recovery {
        /// Which endpoint.
        endpoint: Endpoint,
        /// What it decided; the rule comes with it.
        decision: Recovery,
        /// The sequence numbers concerned (first, one past the last), when there are some.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<(u32, u32)>,
        /// The scoreboard after the decision: the ranges the peer has SACKed above SND.UNA.
        sacked: Vec<(u32, u32)>,
        /// RFC 6675's pipe (octets thought to be in the network), during loss recovery.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pipe: Option<u32>,
        /// The congestion window after the decision.
        cwnd: u32,
    },
    /// A link fault hit a frame: lost, delayed, reordered, duplicated, corrupted or
    /// dropped by a full queue.
    LinkFault {
        /// The link.
        link: String,
        /// The node that sent the frame.
        from: String,
        /// The node it was going to.
        to: String,
        /// The frame's number in the capture.
        frame: u64,
        /// What happened to it, and by which rule of the link.
        fault: Fault,
    },
    /// An ARP cache or resolution step.
    Arp {
        /// The host.
        host: String,
        /// What it did.
        action: ArpAction,
        /// The IP address concerned (IPv6: Neighbor Discovery, RFC 4861).
        ip: IpAddr,
        /// The MAC address, when known.
        mac: Option<MacAddr>,
    },
    /// A host decided where to send an IP packet (subnet mask arithmetic shown).
    Route {
        /// The host.
        host: String,
        /// The destination IP.
        dst: IpAddr,
        /// The decision, with the arithmetic's numbers; its words are `decision.about(dst)`.
        decision: RouteDecision,
    },
    /// A learning switch's decision.
    Switch {
        /// The switch.
        switch: String,
        /// What it did.
        action: SwitchAction,
        /// The MAC address concerned (source for `learned`, destination otherwise).
        mac: MacAddr,
        /// The port(s) involved, by the name of the node at the other end.
        ports: Vec<String>,
    },
    /// An application made a socket call.
    Call {
        /// The host running the program.
        host: String,
        /// The call as written in the scenario.
        call: String,
    },
    /// A socket call returned.
    Return {
        /// The host running the program.
        host: String,
        /// The call as written in the scenario.
        call: String,
        /// What it returned, as Python would print it (`b'hello\n'`, an error name).
        result: String,
    },
    /// A frame or packet was dropped, and why.
    Drop {
        /// Where.
        node: String,
        /// Why, with its numbers; its words are its `Display`.
        reason: DropReason,
        /// The frame, when it was one in the capture.
        frame: Option<u64>,
    },
    /// A line a program printed (a Python program's `print`, its traceback).
    Output {
        /// The program (`server.py`).
        program: String,
        /// Standard output or standard error.
        stream: Stream,
        /// The line, without its newline.
        text: String,
    },
    /// A program ended: how, and by which exception if one ended it.
    Exit {
        /// The host it ran on.
        host: String,
        /// The program, named as in its `output` events.
        program: String,
        /// Its exit status (`sys.exit(N)`; 1 for an uncaught exception).
        status: i32,
        /// The class of the exception that ended it (`ConnectionRefusedError`), if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exception: Option<String>,
    },
    /// Session keys a program's TLS library derived, as its key log gives them (NSS key log
    /// lines): the capture carries them in a Decryption Secrets Block, so that Wireshark
    /// decrypts what they protect.
    TlsKeys {
        /// The host the program runs on.
        host: String,
        /// The program, named as in its `output` events.
        program: String,
        /// The key log lines.
        key_log: String,
    },
    /// A note from a host or program (a retransmission, a SYN cookie, a program stopped).
    Note {
        /// Where.
        node: String,
        /// What, with its numbers; its words are its `Display`.
        note: Note,
    },
    /// The result of one expectation of the scenario.
    Expectation {
        /// The expectation as written.
        text: String,
        /// Whether it held.
        passed: bool,
        /// What was seen.
        actual: String,
    },
}

/// One event at one time.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Event {
    /// When, in nanoseconds since the run began.
    pub t: Time,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// A human-readable line: time, then what happened.
    pub fn render(&self) -> String {
        format!("{:>12}  {}", self.t.to_string(), render_kind(&self.kind))
    }
}

impl EventKind {
    /// What happened, in one line without the time (as in [`Event::render`]).
    pub fn describe(&self) -> String {
        render_kind(self).trim_start().to_string()
    }
}

/// Python's repr of a bytes object: `b'hello\n'`.
pub fn python_bytes(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(data.len() + 3);
    s.push_str("b'");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('\'');
    s
}

/// Bytes as Python prints them, the first 64 of a longer run with its length: how a trace
/// shows data it does not need whole.
pub fn python_bytes_shown(data: &[u8]) -> String {
    if data.len() <= 64 {
        return python_bytes(data);
    }
    format!("{}… ({} bytes)", python_bytes(&data[..64]), data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_and_parse_by_their_rfc_names() {
        for state in TcpState::ALL {
            assert_eq!(state.name().parse::<TcpState>().unwrap(), state);
        }
        assert_eq!("time_wait".parse::<TcpState>().unwrap(), TcpState::TimeWait);
        let err = "ESTABLISH".parse::<TcpState>().unwrap_err().to_string();
        assert!(err.contains("expected one of CLOSED, LISTEN"), "{err}");
    }

    #[test]
    fn events_round_trip_through_jsonl() {
        let events = vec![
            Event {
                t: Time::from_millis(10),
                kind: EventKind::TcpTransition {
                    endpoint: Endpoint {
                        host: "client".into(),
                        socket: 1,
                        local: "10.0.0.1:49152".parse().unwrap(),
                        remote: Some("10.0.0.2:9000".parse().unwrap()),
                    },
                    from: TcpState::Closed,
                    to: TcpState::SynSent,
                    cause: Cause::Call("connect 10.0.0.2:9000".into()),
                    rule: Rule::OpenActive,
                    detail: None,
                    vars: TcpVars::default(),
                },
            },
            Event {
                t: Time::from_millis(11),
                kind: EventKind::Frame {
                    number: 1,
                    link: "client-sw1".into(),
                    from: "client".into(),
                    to: "sw1".into(),
                    len: 58,
                    summary: "SYN".into(),
                },
            },
        ];
        let mut bytes = Vec::new();
        write_jsonl(&events, &mut bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""from":"CLOSED","to":"SYN-SENT""#),
            "{text}"
        );
        assert!(
            text.contains(r#""cause":{"call":"connect 10.0.0.2:9000"}"#),
            "{text}"
        );
        assert!(text.contains(r#""rule":"open_active""#), "{text}");
        assert!(
            text.starts_with(r#"{"format":"packetlab-trace","version":4}"#),
            "{text}"
        );
        assert_eq!(read_jsonl(&bytes[..]).unwrap(), events);
    }

    #[test]
    fn time_prints_like_wireshark() {
        assert_eq!(Time(1_002_003_004).to_string(), "1.002003");
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The `event` tag of each kind; the match is exhaustive, so a new kind cannot be added
    /// without naming it here, and then in SCHEMA.md.
    fn tag(kind: &EventKind) -> &'static str {
        match kind {
            EventKind::Frame { .. } => "frame",
            EventKind::TcpTransition { .. } => "tcp_transition",
            EventKind::Congestion { .. } => "congestion",
            EventKind::Recovery { .. } => "recovery",
            EventKind::LinkFault { .. } => "link_fault",
            EventKind::Arp { .. } => "arp",
            EventKind::Route { .. } => "route",
            EventKind::Switch { .. } => "switch",
            EventKind::Call { .. } => "call",
            EventKind::Return { .. } => "return",
            EventKind::Drop { .. } => "drop",
            EventKind::Output { .. } => "output",
            EventKind::Exit { .. } => "exit",
            EventKind::TlsKeys { .. } => "tls_keys",
            EventKind::Note { .. } => "note",
            EventKind::Expectation { .. } => "expectation",
        }
    }

    const TAGS: [&str; 16] = [
        "frame",
        "tcp_transition",
        "congestion",
        "recovery",
        "link_fault",
        "arp",
        "route",
        "switch",
        "call",
        "return",
        "drop",
        "output",
        "exit",
        "tls_keys",
        "note",
        "expectation",
    ];

    #[test]
    fn schema_lists_every_rule_and_event() {
        let schema = include_str!("../SCHEMA.md");
        let note = EventKind::Note {
            node: "n".into(),
            note: Note::Program(ProgramNote::Interrupted),
        };
        let json = serde_json::to_string(&note).unwrap();
        assert!(
            json.contains(&format!("\"event\":\"{}\"", tag(&note))),
            "{json}"
        );
        for tag in TAGS {
            assert!(
                schema.contains(&format!("| `{tag}` |")),
                "SCHEMA.md lacks {tag}"
            );
        }
        let missing: Vec<String> = Rule::ALL
            .iter()
            .map(|r| format!("| `{}` | {} | {} |", r.id(), r.section(), r.text()))
            .filter(|row| !schema.contains(row.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "SCHEMA.md's rule table lacks these rows:\n{}",
            missing.join("\n")
        );
    }
}
