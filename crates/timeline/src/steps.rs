//! One timeline of numbered steps, built from a trace (`packetlab run`'s `.trace.jsonl`, with
//! its capture beside it for the bytes) or from any capture (states inferred by the observer).
//! The stepper, `step --plain` and the HTML report all draw this same model, so they cannot
//! disagree about what happened.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use observer::DataLink;
use trace::{Cause, EventKind, TcpState, TcpVars};

/// A frame's bytes as captured, with the link type that says how to read them.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The capture's link type (Ethernet, Linux cooked, raw IP).
    pub link: DataLink,
    /// The frame, maybe cut short by a snaplen.
    pub data: Vec<u8>,
}

/// The innermost tunnel a frame's packet travelled in, if any.
fn tunnel_of(frame: &Captured) -> Option<observer::Wrapping> {
    observer::wrappings(frame.link, &frame.data)
        .into_iter()
        .rev()
        .find(|w| matches!(w, observer::Wrapping::Tunnel { .. }))
}

/// A frame between two columns of the ladder.
#[derive(Clone, Debug)]
pub struct FrameStep {
    /// Its number in the capture, from 1 (as in Wireshark).
    pub number: u64,
    /// Column that sent it.
    pub from: usize,
    /// Column it went to.
    pub to: usize,
    /// A Wireshark-style Info line (TCP sequence numbers relative, as Wireshark shows them).
    pub info: String,
    /// A short form for a narrow ladder: `[SYN, ACK] Seq=0 Ack=1 Len=0`.
    pub label: String,
    /// The comment the capture carries on it (why a state changed, a link fault).
    pub comment: Option<String>,
    /// Its length on the wire.
    pub len: usize,
    /// The bytes, when a capture was at hand.
    pub bytes: Option<Captured>,
    /// The link lost or dropped it: it was sent but never arrived (known from a trace).
    pub lost: bool,
}

/// One endpoint's TCP state change.
#[derive(Clone, Debug)]
pub struct TransitionStep {
    /// The column of the host it happened on.
    pub column: usize,
    /// A short name for the endpoint: `client#1` in a trace, `10.0.0.1:49152` in a capture.
    pub key: String,
    /// The endpoint in full (with its addresses).
    pub endpoint: String,
    /// State before.
    pub from: TcpState,
    /// State after.
    pub to: TcpState,
    /// What caused it: a frame, a call or a timer.
    pub cause: String,
    /// The frame that caused it, when one did.
    pub cause_frame: Option<u64>,
    /// The RFC rule.
    pub rule: String,
    /// Connection variables after it, when the trace has them (a capture does not).
    pub vars: Option<TcpVars>,
    /// The program line whose call caused it (`echo_server.py:21 conn.close()`), when a
    /// call did.
    pub source: Option<String>,
}

/// What one step is.
#[derive(Clone, Debug)]
pub enum StepKind {
    /// A frame on a link.
    Frame(FrameStep),
    /// A TCP state transition.
    Transition(TransitionStep),
    /// Anything else the trace logged (ARP, switch, calls and returns, faults, notes).
    Note {
        /// The column it belongs to, if it belongs to one.
        column: Option<usize>,
        /// What happened.
        text: String,
    },
}

/// One step of the timeline.
#[derive(Clone, Debug)]
pub struct Step {
    /// Nanoseconds since the first step.
    pub t_ns: u64,
    /// The TCP connection it belongs to (an index into [`Timeline::connections`]).
    pub conn: Option<usize>,
    /// What it is.
    pub kind: StepKind,
}

impl Step {
    /// The step as one line of text (without its time).
    pub fn describe(&self, columns: &[String]) -> String {
        match &self.kind {
            StepKind::Frame(f) => format!(
                "#{:<4} {} → {}  {}",
                f.number, columns[f.from], columns[f.to], f.info
            ),
            StepKind::Transition(t) => format!(
                "TCP {}: {} → {}  (by {}; {})",
                t.endpoint, t.from, t.to, t.cause, t.rule
            ),
            StepKind::Note { text, .. } => text.clone(),
        }
    }

    /// Whether it is a state transition.
    pub fn is_transition(&self) -> bool {
        matches!(self.kind, StepKind::Transition(_))
    }
}

/// Where a timeline came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A trace of our own run: states as the stacks logged them.
    Trace,
    /// A capture: states inferred from the packets alone.
    Capture,
}

/// One endpoint's state at some step.
#[derive(Clone, Debug)]
pub struct EndpointState {
    /// Short name.
    pub key: String,
    /// In full.
    pub endpoint: String,
    /// Ladder column.
    pub column: usize,
    /// Its state.
    pub state: TcpState,
    /// Its variables, if known.
    pub vars: Option<TcpVars>,
    /// The step that put it there.
    pub since: usize,
    /// The connection it belongs to (none for a listener).
    pub conn: Option<usize>,
}

/// The whole timeline.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// The file it was read from.
    pub source: String,
    /// Trace or capture.
    pub kind: Source,
    /// The capture the bytes came from, for a trace that has one beside it.
    pub capture: Option<PathBuf>,
    /// The ladder's columns: nodes of the simulated network, or IP addresses in a capture.
    pub columns: Vec<String>,
    /// TCP connections, each as `a ↔ b`, for filtering.
    pub connections: Vec<String>,
    /// Every step in order.
    pub steps: Vec<Step>,
    /// Where its capture was cut short (its writer killed), if it was: the steps are of the
    /// packets before.
    pub cut_short: Option<String>,
}

/// Why a file could not be made into a timeline.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// The connection a 4-tuple belongs to, whichever way the packet goes.
#[derive(Default)]
struct Connections {
    index: HashMap<(SocketAddr, SocketAddr), usize>,
    labels: Vec<String>,
}

impl Connections {
    fn of(&mut self, a: SocketAddr, b: SocketAddr) -> usize {
        let key = if a <= b { (a, b) } else { (b, a) };
        let next = self.labels.len();
        *self.index.entry(key).or_insert_with(|| {
            self.labels.push(format!("{a} ↔ {b}"));
            next
        })
    }
}

/// Column names in order of first appearance.
#[derive(Default)]
struct Columns {
    index: HashMap<String, usize>,
    names: Vec<String>,
}

impl Columns {
    fn of(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// The source and destination addresses of an IPv4 or IPv6 packet.
fn ip_ends(ip: &[u8]) -> Option<(String, String)> {
    match ip.first()? >> 4 {
        4 => wire::Ipv4View::new_checked(ip)
            .ok()
            .map(|h| (h.src().to_string(), h.dst().to_string())),
        6 => wire::Ipv6View::new_checked(ip)
            .ok()
            .map(|h| (h.src().to_string(), h.dst().to_string())),
        _ => None,
    }
}

/// The TCP 4-tuple of an IP packet, if it carries TCP.
fn tcp_pair(ip: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    crate::dissect::tcp_fields(ip).map(|t| (t.src, t.dst))
}

/// Wireshark's relative sequence numbers: each direction's initial sequence number, from its
/// SYN (or the first segment seen, for a capture that began mid-connection).
#[derive(Default)]
struct RelativeSeq {
    isn: HashMap<(SocketAddr, SocketAddr), u32>,
    /// Each direction's window scale shift, from its SYN (RFC 7323 §2.2).
    shift: HashMap<(SocketAddr, SocketAddr), u8>,
}

impl RelativeSeq {
    /// The Info line and the short label of a TCP segment; `None` if `ip` carries none.
    fn describe(&mut self, ip: &[u8]) -> Option<(String, String)> {
        let t = crate::dissect::tcp_fields(ip)?;
        let syn = t.flags & 0x02 != 0;
        if syn {
            match t.ws {
                Some(ws) => self.shift.insert((t.src, t.dst), ws.min(14)),
                None => self.shift.remove(&(t.src, t.dst)),
            };
        }
        // As Wireshark shows it: scaled once both SYNs carried the option, never on a SYN.
        let both = self.shift.contains_key(&(t.dst, t.src));
        let window = match self.shift.get(&(t.src, t.dst)) {
            Some(&shift) if both && !syn => u32::from(t.window) << shift,
            _ => u32::from(t.window),
        };
        let isn = if syn {
            self.isn.insert((t.src, t.dst), t.seq);
            t.seq
        } else {
            *self.isn.entry((t.src, t.dst)).or_insert(t.seq)
        };
        let mut label = format!("[{}] Seq={}", t.flag_names(), t.seq.wrapping_sub(isn));
        if t.flags & 0x10 != 0 {
            let ack = match self.isn.get(&(t.dst, t.src)) {
                Some(peer) => t.ack.wrapping_sub(*peer),
                None => t.ack,
            };
            label.push_str(&format!(" Ack={ack}"));
        }
        let mut info = format!(
            "{} → {} {label} Win={window} Len={}",
            t.src.port(),
            t.dst.port(),
            t.len
        );
        label.push_str(&format!(" Len={}", t.len));
        if let Some(mss) = t.mss {
            info.push_str(&format!(" MSS={mss}"));
        }
        if let Some(ws) = t.ws {
            info.push_str(&format!(" WS={}", 1u32 << ws.min(14)));
        }
        Some((info, label))
    }
}

/// What turning a trace's events into steps keeps track of.
#[derive(Default)]
struct TraceSteps {
    /// The capture's frames, by number; each frame's comment and bytes move to its step.
    frames: Vec<CapturedFrame>,
    columns: Columns,
    connections: Connections,
    relative: RelativeSeq,
    /// Frames a link lost or dropped.
    lost: std::collections::HashSet<u64>,
    /// Each host's latest call, the line a transition caused by a call comes from.
    last_call: HashMap<String, String>,
}

impl TraceSteps {
    fn step(&mut self, event: trace::Event) -> Step {
        let t_ns = event.t.as_nanos();
        let (conn, kind) = match event.kind {
            EventKind::Frame {
                number,
                from,
                to,
                len,
                summary,
                ..
            } => self.frame((number, len), (&from, &to), summary),
            EventKind::TcpTransition {
                endpoint,
                from,
                to,
                cause,
                rule,
                detail,
                vars,
            } => {
                let rule = trace::rule_text(rule, detail.as_deref());
                let conn = endpoint
                    .remote
                    .map(|r| self.connections.of(endpoint.local, r));
                let cause_frame = match cause {
                    Cause::Frame(n) => Some(n),
                    _ => None,
                };
                let source = match cause {
                    Cause::Call(_) => self.last_call.get(&endpoint.host).cloned(),
                    _ => None,
                };
                let transition = TransitionStep {
                    source,
                    column: self.columns.of(&endpoint.host),
                    key: format!("{}#{}", endpoint.host, endpoint.socket),
                    endpoint: endpoint.to_string(),
                    from,
                    to,
                    cause: cause.to_string(),
                    cause_frame,
                    rule,
                    vars: Some(vars),
                };
                (conn, StepKind::Transition(transition))
            }
            other => {
                if let EventKind::Call { host, call } = &other {
                    self.last_call.insert(host.clone(), call.clone());
                }
                self.note(other)
            }
        };
        Step { t_ns, conn, kind }
    }

    /// A frame, with its bytes and comment from the capture when there is one.
    fn frame(
        &mut self,
        (number, len): (u64, usize),
        (from, to): (&str, &str),
        summary: String,
    ) -> (Option<usize>, StepKind) {
        let captured = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.frames.get_mut(i));
        let (comment, bytes) = match captured {
            Some(f) => (f.comment.take(), Some(f.bytes.clone())),
            None => (None, None),
        };
        let ip = bytes
            .as_ref()
            .and_then(|b| observer::ip_in(b.link, &b.data));
        let conn = ip
            .and_then(tcp_pair)
            .map(|(a, b)| self.connections.of(a, b));
        let (info, label) = ip
            .and_then(|ip| self.relative.describe(ip))
            .unwrap_or_else(|| (summary.clone(), summary));
        let frame = FrameStep {
            number,
            from: self.columns.of(from),
            to: self.columns.of(to),
            info,
            label,
            comment,
            len,
            bytes,
            lost: false,
        };
        (conn, StepKind::Frame(frame))
    }

    /// Any other event: a line in the column of the node it happened at.
    fn note(&mut self, other: EventKind) -> (Option<usize>, StepKind) {
        if let EventKind::LinkFault { frame, fault, .. } = &other
            && fault.is_loss()
        {
            self.lost.insert(*frame);
        }
        let column = match &other {
            EventKind::Arp { host, .. }
            | EventKind::Route { host, .. }
            | EventKind::Call { host, .. }
            | EventKind::Return { host, .. } => Some(self.columns.of(host)),
            EventKind::Switch { switch, .. } => Some(self.columns.of(switch)),
            EventKind::Drop { node, .. }
            | EventKind::Note { node, .. }
            | EventKind::Exit { host: node, .. }
            | EventKind::TlsKeys { host: node, .. } => Some(self.columns.of(node)),
            EventKind::LinkFault { from, .. } => Some(self.columns.of(from)),
            EventKind::Congestion { endpoint, .. } | EventKind::Recovery { endpoint, .. } => {
                Some(self.columns.of(&endpoint.host))
            }
            _ => None,
        };
        let conn = match &other {
            EventKind::Congestion { endpoint, .. } | EventKind::Recovery { endpoint, .. } => {
                endpoint
                    .remote
                    .map(|r| self.connections.of(endpoint.local, r))
            }
            _ => None,
        };
        let text = other.describe();
        (conn, StepKind::Note { column, text })
    }
}

/// The frames of a capture, by number: bytes, comment, length and time.
struct CapturedFrame {
    t_ns: u64,
    orig_len: usize,
    comment: Option<String>,
    bytes: Captured,
}

fn read_capture(
    path: &Path,
    bytes: &[u8],
) -> Result<(Vec<CapturedFrame>, Option<String>), LoadError> {
    let mut frames = Vec::new();
    let read = observer::for_each_packet(&path.display().to_string(), bytes, |p| {
        frames.push(CapturedFrame {
            t_ns: p.t_ns,
            orig_len: p.orig_len as usize,
            comment: p.comment.map(str::to_string),
            bytes: Captured {
                link: p.link,
                data: p.frame.to_vec(),
            },
        })
    });
    match read {
        Ok(_) => Ok((frames, None)),
        Err(e) if e.kind == observer::ReadErrorKind::CutShort => Ok((frames, Some(e.to_string()))),
        Err(e) => Err(LoadError(e.to_string())),
    }
}

impl Timeline {
    /// Read a trace (by its `.jsonl` name or a first `{`) or a pcap/pcapng capture.
    pub fn load(path: &Path) -> Result<Timeline, LoadError> {
        if path.extension().is_some_and(|e| e == "toml") {
            return Err(LoadError(format!(
                "{0}: a scenario, not a trace or a capture: run it first (`packetlab run {0}`), \
                 then step through the trace it writes (captures/NAME.trace.jsonl)",
                path.display()
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError(format!("{}: cannot read the file: {e}", path.display())))?;
        let looks_like_trace = path.to_string_lossy().ends_with(".jsonl")
            || bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if looks_like_trace {
            Timeline::from_trace(path, &bytes)
        } else if is_capture(&bytes) {
            Timeline::from_capture(path, &bytes)
        } else {
            Err(LoadError(format!(
                "{}: at byte offset 0: neither a trace nor a capture (no pcap or pcapng magic \
                 number): step, report and plot read a packetlab trace (NAME.trace.jsonl) or a \
                 pcap or pcapng capture",
                path.display()
            )))
        }
    }

    /// A trace, with the bytes of its frames from the capture beside it when there is one
    /// (`NAME.trace.jsonl` → `NAME.pcapng` or `NAME.pcap`).
    pub fn from_trace(path: &Path, bytes: &[u8]) -> Result<Timeline, LoadError> {
        let events =
            trace::read_jsonl(bytes).map_err(|e| LoadError(format!("{}:{e}", path.display())))?;
        let name = path.to_string_lossy();
        let stem = name.strip_suffix(".trace.jsonl").unwrap_or(&name);
        let capture = ["pcapng", "pcap"]
            .iter()
            .map(|ext| PathBuf::from(format!("{stem}.{ext}")))
            .find(|p| p.is_file());
        let frames = match &capture {
            Some(capture) => {
                let bytes = std::fs::read(capture).map_err(|e| {
                    LoadError(format!("{}: cannot read the file: {e}", capture.display()))
                })?;
                read_capture(capture, &bytes)?
            }
            None => (Vec::new(), None),
        };
        let (frames, cut_short) = frames;
        let mut builder = TraceSteps {
            frames,
            ..TraceSteps::default()
        };
        let mut steps: Vec<Step> = events.into_iter().map(|e| builder.step(e)).collect();
        // The fault is logged after the frame it hit.
        for step in &mut steps {
            if let StepKind::Frame(f) = &mut step.kind {
                f.lost = builder.lost.contains(&f.number);
            }
        }
        Ok(Timeline {
            source: path.display().to_string(),
            kind: Source::Trace,
            capture,
            columns: builder.columns.names,
            connections: builder.connections.labels,
            steps,
            cut_short,
        })
    }

    /// Any capture: one step per frame, and after each frame the transitions the observer
    /// infers from it.
    pub fn from_capture(path: &Path, bytes: &[u8]) -> Result<Timeline, LoadError> {
        let (frames, cut_short) = read_capture(path, bytes)?;
        let explanation = observer::explain(&path.display().to_string(), bytes)
            .map_err(|e| LoadError(e.to_string()))?;
        let mut inferred: Vec<&observer::Inferred> = explanation
            .connections
            .iter()
            .flat_map(|c| &c.transitions)
            .collect();
        inferred.sort_by_key(|t| t.frame);
        let mut inferred = inferred.into_iter().peekable();
        let start = frames.first().map_or(0, |f| f.t_ns);
        let mut columns = Columns::default();
        let mut connections = Connections::default();
        let mut relative = RelativeSeq::default();
        let mut steps = Vec::with_capacity(frames.len());
        for (i, frame) in frames.into_iter().enumerate() {
            let number = i as u64 + 1;
            let t_ns = frame.t_ns.saturating_sub(start);
            let ip = observer::ip_in(frame.bytes.link, &frame.bytes.data);
            let (from, to, info, label) = ends_and_info(&frame.bytes, ip, &mut relative);
            let conn = ip.and_then(tcp_pair).map(|(a, b)| connections.of(a, b));
            let (from, to) = (columns.of(&from), columns.of(&to));
            steps.push(Step {
                t_ns,
                conn,
                kind: StepKind::Frame(FrameStep {
                    number,
                    from,
                    to,
                    info,
                    label,
                    comment: frame.comment,
                    len: frame.orig_len,
                    bytes: Some(frame.bytes),
                    lost: false,
                }),
            });
            while let Some(t) = inferred.next_if(|t| t.frame == number) {
                let column = columns.of(&t.endpoint.ip().to_string());
                steps.push(Step {
                    t_ns,
                    conn,
                    kind: StepKind::Transition(TransitionStep {
                        column,
                        key: t.endpoint.to_string(),
                        endpoint: t.endpoint.to_string(),
                        from: t.from,
                        to: t.to,
                        cause: format!("frame #{number}"),
                        cause_frame: Some(number),
                        rule: t.rule.to_string(),
                        vars: None,
                        source: None,
                    }),
                });
            }
        }
        Ok(Timeline {
            source: path.display().to_string(),
            kind: Source::Capture,
            capture: Some(path.to_path_buf()),
            columns: columns.names,
            connections: connections.labels,
            steps,
            cut_short,
        })
    }

    /// Every endpoint's state after step `at` (inclusive), in order of first appearance.
    pub fn states_at(&self, at: usize) -> Vec<EndpointState> {
        let mut states: Vec<EndpointState> = Vec::new();
        for (i, step) in self.steps.iter().enumerate().take(at.saturating_add(1)) {
            if let StepKind::Transition(t) = &step.kind {
                let now = EndpointState {
                    key: t.key.clone(),
                    endpoint: t.endpoint.clone(),
                    column: t.column,
                    state: t.to,
                    vars: t.vars,
                    since: i,
                    conn: step.conn,
                };
                match states.iter_mut().find(|s| s.key == t.key) {
                    Some(s) => *s = now,
                    None => states.push(now),
                }
            }
        }
        states
    }

    /// The index of the step of frame `number`, if there is one.
    pub fn frame_step(&self, number: u64) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| matches!(&s.kind, StepKind::Frame(f) if f.number == number))
    }

    /// How many frames it has.
    pub fn frame_count(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Frame(_)))
            .count()
    }
}

/// A frame's two ends (IP addresses, or MAC addresses for one without IP), its info line
/// and its label on the ladder (sequence numbers relative to each connection's first).
fn ends_and_info(
    captured: &Captured,
    ip: Option<&[u8]>,
    relative: &mut RelativeSeq,
) -> (String, String, String, String) {
    let Some((ip, (src, dst))) = ip.and_then(|ip| Some((ip, ip_ends(ip)?))) else {
        let (from, to, info) = non_ip_ends(captured);
        return (from, to, info.clone(), info);
    };
    let (mut info, label) = relative.describe(ip).unwrap_or_else(|| {
        let info = if ip.first().is_some_and(|v| v >> 4 == 6) {
            format!("IPv6, next header {}", ip.get(6).copied().unwrap_or(0))
        } else if captured.link == DataLink::ETHERNET {
            wire::summary_of(&captured.data)
        } else {
            wire::summary_of_ipv4(ip)
        };
        (info.clone(), info)
    });
    if let Some(tunnel) = tunnel_of(captured) {
        info = format!("{info}  (inside {tunnel})");
    }
    (src, dst, info, label)
}

/// The two ends of a frame that is not IPv4: ARP by sender and target protocol address,
/// anything else by MAC address.
fn non_ip_ends(captured: &Captured) -> (String, String, String) {
    if captured.link == DataLink::ETHERNET {
        match wire::decode(&captured.data) {
            Ok(frame) => {
                let info = wire::summary(&frame);
                match &frame.payload {
                    // A request is broadcast, but it is about (and answered by) the target.
                    wire::EthPayload::Arp(arp) => {
                        (arp.sender_ip.to_string(), arp.target_ip.to_string(), info)
                    }
                    _ => (frame.src.to_string(), frame.dst.to_string(), info),
                }
            }
            Err(e) => ("?".into(), "?".into(), format!("malformed: {e}")),
        }
    } else {
        (
            "?".into(),
            "?".into(),
            format!("not IPv4 (link type {})", u32::from(captured.link)),
        )
    }
}

/// Whether a file begins as a pcap (either byte order, micro- or nanoseconds) or a pcapng.
fn is_capture(bytes: &[u8]) -> bool {
    let magics: [[u8; 4]; 5] = [
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    bytes.len() < 4 || magics.iter().any(|m| bytes.starts_with(m))
}
