//! A recording from a file: any capture (what the packets show), or a trace of our own run
//! with its capture beside it (the packets, plus what the sender itself knew: cwnd,
//! ssthresh, pipe, and every recovery decision with its rule). A trace is read line by line
//! and only the events a picture needs are decoded, so a million-segment trace stays small.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trace::{CwndChange, EventKind, Recovery};

use crate::PlotError;
use crate::record::{Builder, Conn, tcp_in};

/// Where a recording's numbers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A trace of our own run: the sender's own variables, exactly.
    Trace,
    /// A capture alone: what the packets show, inferred as Wireshark infers it.
    Capture,
}

/// One value of the sender's congestion window, as the stack logged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CwndPoint {
    /// Nanoseconds since the recording began.
    pub t: u64,
    /// cwnd, octets.
    pub cwnd: u32,
    /// ssthresh, octets (`u32::MAX`: not yet set).
    pub ssthresh: u32,
}

/// A kind of loss-recovery episode, as the picture names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpisodeKind {
    /// Fast recovery on duplicate ACKs, without SACK (RFC 5681 §3.2, RFC 6582 NewReno).
    NewReno,
    /// Loss recovery with SACK (RFC 6675), entered on duplicate ACKs or SACKed data.
    Sack,
    /// Loss recovery with SACK entered because RACK marked a segment lost (RFC 8985).
    Rack,
    /// After a retransmission timeout: slow start from one segment back to ssthresh.
    Timeout,
}

impl EpisodeKind {
    /// Its name on the picture.
    pub fn name(self) -> &'static str {
        match self {
            EpisodeKind::NewReno => "fast recovery (NewReno, RFC 6582)",
            EpisodeKind::Sack => "fast recovery (SACK, RFC 6675)",
            EpisodeKind::Rack => "recovery (RACK, RFC 8985)",
            EpisodeKind::Timeout => "RTO (RFC 6298)",
        }
    }
}

/// One recovery episode of a sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Episode {
    /// When it began.
    pub start: u64,
    /// When it ended (the end of the recording if it never did).
    pub end: u64,
    /// What it was.
    pub kind: EpisodeKind,
}

/// A moment the sender decided something worth a mark on the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// The retransmission timer expired.
    Timeout,
    /// A tail loss probe went out (RFC 8985 §7.3).
    TailLossProbe,
    /// RACK marked a segment lost (RFC 8985 §6.2).
    RackLost,
    /// The peer reported octets it got twice (D-SACK, RFC 2883).
    Dsack,
    /// cwnd restarted after idle (RFC 5681 §4.1).
    IdleRestart,
}

impl MarkKind {
    /// Its name in the legend.
    pub fn name(self) -> &'static str {
        match self {
            MarkKind::Timeout => "retransmission timeout",
            MarkKind::TailLossProbe => "tail loss probe",
            MarkKind::RackLost => "RACK: marked lost",
            MarkKind::Dsack => "D-SACK received",
            MarkKind::IdleRestart => "restart after idle",
        }
    }
}

/// A mark at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// When.
    pub t: u64,
    /// What.
    pub kind: MarkKind,
}

/// What one sender logged of itself (empty for a capture).
#[derive(Clone, Debug, Default)]
pub struct SenderLog {
    /// cwnd and ssthresh, at each change.
    pub cwnd: Vec<CwndPoint>,
    /// RFC 6675's pipe, at each recovery decision.
    pub pipe: Vec<(u64, u32)>,
    /// Recovery episodes.
    pub episodes: Vec<Episode>,
    /// Marks.
    pub marks: Vec<Mark>,
    open: Option<(u64, EpisodeKind)>,
    rack_at: Option<u64>,
}

/// A recording: its connections and, from a trace, what each sender logged.
#[derive(Debug)]
pub struct Recording {
    /// The file it was read from.
    pub file: String,
    /// Trace or capture.
    pub origin: Origin,
    /// The TCP connections, in the order they began.
    pub conns: Vec<Conn>,
    /// For each connection, `[client's log, server's log]` as senders.
    pub logs: Vec<[SenderLog; 2]>,
    /// The end of the recording, in nanoseconds since it began.
    pub end: u64,
}

/// A decoded event a picture needs, with its sender.
struct SenderEvent {
    t: u64,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    kind: EventKind,
}

/// What a trace holds for a picture.
#[derive(Default)]
struct TraceParts {
    frame_t: Vec<u64>,
    lost: HashSet<u64>,
    events: Vec<SenderEvent>,
}

#[derive(Deserialize)]
struct FrameLine {
    t: u64,
    number: u64,
}

#[derive(Deserialize)]
struct FaultLine {
    frame: u64,
    fault: trace::Fault,
}

/// Read a trace (`.trace.jsonl`, or a file starting with `{`) or any capture.
pub fn load(path: &Path) -> Result<Recording, PlotError> {
    let file = path.display().to_string();
    let is_trace = file.ends_with(".jsonl") || first_byte(path)? == Some(b'{');
    if !is_trace {
        return from_capture(&file, open(path)?, None);
    }
    let parts = read_trace(&file, open(path)?)?;
    let stem = file.strip_suffix(".trace.jsonl").unwrap_or(&file);
    let capture = ["pcapng", "pcap"]
        .iter()
        .map(|ext| PathBuf::from(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
        .ok_or_else(|| PlotError::NoCapture(file.clone()))?;
    let mut recording = from_capture(
        &capture.display().to_string(),
        open(&capture)?,
        Some(&parts),
    )?;
    recording.file = file;
    recording.origin = Origin::Trace;
    attribute(&mut recording, parts.events);
    Ok(recording)
}

/// A file to read as it goes: a 1 GiB capture is never held whole.
fn open(path: &Path) -> Result<BufReader<std::fs::File>, PlotError> {
    std::fs::File::open(path)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|e| PlotError::Read(path.to_path_buf(), e))
}

/// The file's first octet that is not white space, if any.
fn first_byte(path: &Path) -> Result<Option<u8>, PlotError> {
    let mut head = [0u8; 64];
    let n = open(path)?
        .read(&mut head)
        .map_err(|e| PlotError::Read(path.to_path_buf(), e))?;
    Ok(head[..n].iter().copied().find(|b| !b.is_ascii_whitespace()))
}

/// The connections of a capture; with a trace's parts, times and losses are the trace's.
fn from_capture(
    file: &str,
    input: impl Read,
    parts: Option<&TraceParts>,
) -> Result<Recording, PlotError> {
    let mut builder = Builder::default();
    let mut first = None;
    let mut end = 0;
    observer::for_each_packet(file, input, |p| {
        let t = match parts {
            Some(parts) => parts.frame_t.get(p.number as usize).copied().unwrap_or(0),
            None => p.t_ns.saturating_sub(*first.get_or_insert(p.t_ns)),
        };
        end = end.max(t);
        if let Some(tcp) = observer::ip_in(p.link, p.frame).and_then(tcp_in) {
            let lost = parts.is_some_and(|parts| parts.lost.contains(&p.number));
            builder.packet((t, p.interface, p.number), tcp, lost);
        }
    })
    .or_else(|e| match e.kind {
        // A capture whose writer was killed: its packets before the cut still tell.
        observer::ReadErrorKind::CutShort => Ok(0),
        _ => Err(PlotError::Capture(e.to_string())),
    })?;
    let logs = builder.conns.iter().map(|_| Default::default()).collect();
    Ok(Recording {
        file: file.to_string(),
        origin: Origin::Capture,
        conns: builder.conns,
        logs,
        end,
    })
}

/// The lines of a trace a picture needs, decoded.
fn read_trace(file: &str, input: impl Read) -> Result<TraceParts, PlotError> {
    let mut parts = TraceParts {
        frame_t: vec![0],
        ..TraceParts::default()
    };
    for (i, line) in BufReader::new(input).lines().enumerate() {
        let at = |e: serde_json::Error| PlotError::Trace {
            file: file.to_string(),
            line: i + 1,
            column: e.column(),
            what: e.to_string(),
        };
        let line = line.map_err(|e| PlotError::Trace {
            file: file.to_string(),
            line: i + 1,
            column: 1,
            what: e.to_string(),
        })?;
        if i == 0 {
            trace::check_header(&line).map_err(|what| PlotError::Trace {
                file: file.to_string(),
                line: 1,
                column: 1,
                what,
            })?;
            continue;
        }
        let kind = line
            .split_once("\"event\":\"")
            .and_then(|(_, rest)| rest.split('"').next())
            .unwrap_or("");
        match kind {
            "frame" => {
                let f: FrameLine = serde_json::from_str(&line).map_err(at)?;
                let n = f.number as usize;
                if parts.frame_t.len() <= n {
                    parts.frame_t.resize(n + 1, f.t);
                }
                parts.frame_t[n] = f.t;
            }
            "link_fault" => {
                let f: FaultLine = serde_json::from_str(&line).map_err(at)?;
                if f.fault.is_loss() {
                    parts.lost.insert(f.frame);
                }
            }
            "congestion" | "recovery" => {
                let e: trace::Event = serde_json::from_str(&line).map_err(at)?;
                let endpoint = match &e.kind {
                    EventKind::Congestion { endpoint, .. }
                    | EventKind::Recovery { endpoint, .. } => endpoint.clone(),
                    _ => continue,
                };
                parts.events.push(SenderEvent {
                    t: e.t.0,
                    local: endpoint.local,
                    remote: endpoint.remote,
                    kind: e.kind,
                });
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// Give each sender event to its connection and side, and make episodes and marks of them.
fn attribute(recording: &mut Recording, events: Vec<SenderEvent>) {
    let mut index: HashMap<(SocketAddr, SocketAddr), Vec<usize>> = HashMap::new();
    for (i, c) in recording.conns.iter().enumerate() {
        index.entry((c.client, c.server)).or_default().push(i);
        index.entry((c.server, c.client)).or_default().push(i);
    }
    for e in events {
        let Some(remote) = e.remote else { continue };
        let Some(candidates) = index.get(&(e.local, remote)) else {
            continue;
        };
        // The latest connection on this pair that began by then.
        let conn = candidates
            .iter()
            .rev()
            .find(|&&i| recording.conns[i].start <= e.t)
            .or(candidates.first())
            .copied()
            .expect("a pair has a connection");
        let side = usize::from(recording.conns[conn].client != e.local);
        recording.logs[conn][side].add(e.t, &e.kind);
    }
    let end = recording.end;
    for log in recording.logs.iter_mut().flatten() {
        log.finish(end);
    }
}

impl SenderLog {
    fn add(&mut self, t: u64, kind: &EventKind) {
        match kind {
            EventKind::Congestion {
                cwnd,
                ssthresh,
                reason,
                ..
            } => {
                self.cwnd.push(CwndPoint {
                    t,
                    cwnd: *cwnd,
                    ssthresh: *ssthresh,
                });
                self.change(t, reason.change(), *cwnd, *ssthresh);
            }
            EventKind::Recovery {
                decision,
                pipe,
                cwnd,
                ..
            } => {
                if let Some(pipe) = pipe {
                    self.pipe.push((t, *pipe));
                }
                if self.cwnd.last().is_none_or(|p| p.cwnd != *cwnd) {
                    let ssthresh = self.cwnd.last().map_or(u32::MAX, |p| p.ssthresh);
                    self.cwnd.push(CwndPoint {
                        t,
                        cwnd: *cwnd,
                        ssthresh,
                    });
                }
                self.decision(t, *decision);
            }
            _ => {}
        }
    }

    fn change(&mut self, t: u64, change: CwndChange, cwnd: u32, ssthresh: u32) {
        match change {
            CwndChange::FastRetransmit => self.open(t, EpisodeKind::NewReno),
            CwndChange::SackRecovery => {
                let kind = if self.rack_at == Some(t) {
                    EpisodeKind::Rack
                } else {
                    EpisodeKind::Sack
                };
                self.open(t, kind);
            }
            CwndChange::RecoveryExit => self.close(t),
            CwndChange::Timeout => {
                self.marks.push(Mark {
                    t,
                    kind: MarkKind::Timeout,
                });
                self.open(t, EpisodeKind::Timeout);
            }
            CwndChange::IdleRestart => self.marks.push(Mark {
                t,
                kind: MarkKind::IdleRestart,
            }),
            CwndChange::Growth if cwnd >= ssthresh => {
                if matches!(self.open, Some((_, EpisodeKind::Timeout))) {
                    self.close(t);
                }
            }
            _ => {}
        }
    }

    fn decision(&mut self, t: u64, decision: Recovery) {
        let kind = match decision {
            Recovery::RackLost => {
                self.rack_at = Some(t);
                MarkKind::RackLost
            }
            Recovery::TailLossProbe => MarkKind::TailLossProbe,
            Recovery::DsackReceived => MarkKind::Dsack,
            Recovery::Exit => {
                self.close(t);
                return;
            }
            _ => return,
        };
        self.marks.push(Mark { t, kind });
    }

    fn open(&mut self, t: u64, kind: EpisodeKind) {
        self.close(t);
        self.open = Some((t, kind));
    }

    fn close(&mut self, t: u64) {
        if let Some((start, kind)) = self.open.take() {
            self.episodes.push(Episode {
                start,
                end: t,
                kind,
            });
        }
    }

    fn finish(&mut self, end: u64) {
        self.close(end);
    }
}
