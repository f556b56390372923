//! Each kind of picture, built from one direction of one connection.

use crate::figure::{Data, Figure, Mark, Shade, Style};
use crate::load::{Origin, Recording, SenderLog};
use crate::record::{Conn, Flow, SegKind};

const NS: f64 = 1e9;

/// One direction of one connection, with what its sender logged.
pub struct View<'a> {
    /// The recording.
    pub rec: &'a Recording,
    /// The connection.
    pub conn: &'a Conn,
    /// The flow: the data of side `side`, and the other side's ACKs.
    pub flow: &'a Flow,
    /// The sender's own log (empty for a capture).
    pub log: &'a SenderLog,
    /// Whose data: 0 the client's, 1 the server's.
    pub side: usize,
}

impl View<'_> {
    fn title(&self, what: &str) -> String {
        let (from, to) = if self.side == 0 {
            (self.conn.client, self.conn.server)
        } else {
            (self.conn.server, self.conn.client)
        };
        format!("{what}: {from} → {to}")
    }

    fn span(&self) -> (f64, f64) {
        (self.conn.start as f64 / NS, self.conn.end as f64 / NS)
    }

    fn source(&self, trace_words: &str) -> String {
        match self.rec.origin {
            Origin::Trace => format!("{}: {trace_words}", self.rec.file),
            Origin::Capture => format!(
                "{}: inferred from the packets, as Wireshark and tcptrace infer it",
                self.rec.file
            ),
        }
    }
}

fn secs(t: u64) -> f64 {
    t as f64 / NS
}

/// Bytes in flight after each segment and each ACK: the highest sequence sent minus the
/// cumulative ACK (Wireshark's `tcp.analysis.bytes_in_flight`).
fn flight(flow: &Flow) -> Vec<(f64, f64)> {
    let (mut s, mut a) = (0, 0);
    let (mut high, mut una) = (0u64, 0u64);
    let mut out = Vec::with_capacity(flow.segs.len() + flow.acks.len());
    while s < flow.segs.len() || a < flow.acks.len() {
        let seg_first = a == flow.acks.len()
            || (s < flow.segs.len() && flow.segs[s].frame < flow.acks[a].frame);
        let t = if seg_first {
            let seg = &flow.segs[s];
            s += 1;
            if seg.kind == SegKind::Syn {
                una = seg.seq + 1;
            }
            high = high.max(seg.seq + u64::from(seg.len));
            seg.t
        } else {
            let ack = &flow.acks[a];
            a += 1;
            una = una.max(ack.ack);
            ack.t
        };
        out.push((secs(t), high.saturating_sub(una) as f64));
    }
    out
}

/// cwnd, ssthresh, pipe, bytes in flight and the peer's window, with recovery shaded.
pub fn cwnd(v: &View) -> Figure {
    let mut f = Figure::new(
        v.title("Congestion window"),
        v.source("cwnd, ssthresh and pipe as the sender logged them"),
        "octets",
    );
    if v.rec.origin == Origin::Capture {
        f.subtitle.push_str(
            "; cwnd and ssthresh are the sender's own and no capture shows them: plot a trace",
        );
    }
    let log = v.log;
    f.add(
        "cwnd",
        Style::Cwnd,
        Data::Steps(
            log.cwnd
                .iter()
                .map(|p| (secs(p.t), p.cwnd as f64))
                .collect(),
        ),
    );
    f.add(
        "ssthresh",
        Style::Ssthresh,
        Data::Steps(
            log.cwnd
                .iter()
                .filter(|p| p.ssthresh != u32::MAX)
                .map(|p| (secs(p.t), p.ssthresh as f64))
                .collect(),
        ),
    );
    f.add(
        "pipe (RFC 6675)",
        Style::Pipe,
        Data::Dots(log.pipe.iter().map(|&(t, p)| (secs(t), p as f64)).collect()),
    );
    f.add(
        "bytes in flight",
        Style::Flight,
        Data::Steps(flight(v.flow)),
    );
    f.add(
        "peer's window",
        Style::PeerWindow,
        Data::Steps(
            v.flow
                .acks
                .iter()
                .map(|a| (secs(a.t), a.window as f64))
                .collect(),
        ),
    );
    f.fit(v.span());
    // The peer's window can dwarf cwnd; keep the sender's variables readable.
    let own = log.cwnd.iter().map(|p| p.cwnd).max().unwrap_or(0) as f64;
    if own > 0.0 {
        f.y.1 = f.y.1.min(own * 2.5);
    }
    f.shades = log
        .episodes
        .iter()
        .map(|e| Shade {
            x0: secs(e.start),
            x1: secs(e.end),
            label: e.kind.name().to_string(),
        })
        .collect();
    f.marks = log
        .marks
        .iter()
        .map(|m| Mark {
            x: secs(m.t),
            label: m.kind.name().to_string(),
        })
        .collect();
    f.marks.extend(link_marks(v));
    f
}

/// Losses on the link, retransmissions (for a capture) and zero windows, as marks.
fn link_marks(v: &View) -> Vec<Mark> {
    let mut marks = Vec::new();
    for s in &v.flow.segs {
        if s.lost {
            marks.push(Mark {
                x: secs(s.t),
                label: "lost on the link".into(),
            });
        } else if s.kind == SegKind::Retransmission && v.rec.origin == Origin::Capture {
            marks.push(Mark {
                x: secs(s.t),
                label: "retransmission".into(),
            });
        }
    }
    let mut was_zero = false;
    for a in &v.flow.acks {
        let zero = a.window == 0;
        if zero && !was_zero {
            marks.push(Mark {
                x: secs(a.t),
                label: "zero window".into(),
            });
        }
        was_zero = zero;
    }
    marks
}

/// Sequence numbers over time, tcptrace's way: each segment a vertical line, the ACK line
/// under them, the window's edge above, SACK blocks, duplicate ACKs and probes marked.
pub fn tcptrace(v: &View) -> Figure {
    let mut f = Figure::new(
        v.title("Time-sequence graph (tcptrace)"),
        v.source("segments from the capture, losses from the trace"),
        "relative sequence number (octets)",
    );
    ack_series(&mut f, v.flow);
    segment_series(&mut f, v.flow);
    f.fit(v.span());
    // The window's edge may lie far above the data: show it up to twice the data's height.
    let high = v.flow.high() as f64;
    let edge = v
        .flow
        .acks
        .iter()
        .map(|a| (a.ack + a.window) as f64)
        .fold(high, f64::max);
    f.y.1 = f.y.1.min(edge.min(high * 2.0).max(high) * 1.05 + 1.0);
    f
}

/// What the receiver's ACKs draw: the window's edge, SACK blocks, the ACK line, duplicates.
fn ack_series(f: &mut Figure, flow: &Flow) {
    let acks = &flow.acks;
    let points = |y: &dyn Fn(&crate::Ack) -> u64| -> Vec<(f64, f64)> {
        acks.iter().map(|a| (secs(a.t), y(a) as f64)).collect()
    };
    f.add(
        "window edge (ACK + window)",
        Style::WindowEdge,
        Data::Steps(points(&|a| a.ack + a.window)),
    );
    let blocks = acks
        .iter()
        .flat_map(|a| a.sack.iter().map(|&(l, r)| (secs(a.t), l as f64, r as f64)));
    f.add("SACK blocks", Style::Sack, Data::Spans(blocks.collect()));
    f.add("ACK line", Style::AckLine, Data::Steps(points(&|a| a.ack)));
    let duplicates = acks.iter().filter(|a| a.duplicate);
    let duplicates = duplicates.map(|a| (secs(a.t), a.ack as f64)).collect();
    f.add("duplicate ACKs", Style::DupAck, Data::Dots(duplicates));
}

/// What the sender's segments draw: new data, retransmissions, losses, window probes.
fn segment_series(f: &mut Figure, flow: &Flow) {
    let span = |k: SegKind| -> Data {
        let of_kind = flow.segs.iter().filter(|s| s.kind == k);
        Data::Spans(
            of_kind
                .map(|s| (secs(s.t), s.seq as f64, (s.seq + u64::from(s.len)) as f64))
                .collect(),
        )
    };
    f.add("segments", Style::Segment, span(SegKind::New));
    f.add(
        "retransmissions",
        Style::Retransmission,
        span(SegKind::Retransmission),
    );
    let lost = flow.segs.iter().filter(|s| s.lost);
    let lost = lost.map(|s| (secs(s.t), (s.seq + u64::from(s.len) / 2) as f64));
    f.add("lost on the link", Style::Lost, Data::Dots(lost.collect()));
    let probes = flow.segs.iter().filter(|s| s.kind == SegKind::WindowProbe);
    let probes = probes.map(|s| (secs(s.t), s.seq as f64)).collect();
    f.add("zero-window probes", Style::Probe, Data::Dots(probes));
}

/// Sequence numbers over time, Stevens's way: one point per segment at its last octet.
pub fn stevens(v: &View) -> Figure {
    let mut f = Figure::new(
        v.title("Time-sequence graph (Stevens)"),
        v.source("segments from the capture"),
        "relative sequence number (octets)",
    );
    let dots = |retx: bool| -> Data {
        Data::Dots(
            v.flow
                .segs
                .iter()
                .filter(|s| {
                    matches!(s.kind, SegKind::New | SegKind::Retransmission)
                        && (s.kind == SegKind::Retransmission) == retx
                })
                .map(|s| (secs(s.t), (s.seq + u64::from(s.len)) as f64))
                .collect(),
        )
    };
    f.add("segments", Style::Sample, dots(false));
    f.add("retransmissions", Style::Lost, dots(true));
    f.fit(v.span());
    f
}

/// RTT samples (Karn's algorithm: never from a retransmitted segment) and RFC 6298's SRTT,
/// RTTVAR and RTO computed from them.
pub fn rtt(v: &View) -> Figure {
    let mut f = Figure::new(
        v.title("Round-trip time"),
        v.source("samples from the capture (Karn's rule), SRTT, RTTVAR and RTO by RFC 6298 §2"),
        "milliseconds",
    );
    let samples = rtt_samples(v.flow);
    let (mut srtt, mut rttvar, mut rto) = (Vec::new(), Vec::new(), Vec::new());
    let mut state: Option<(f64, f64)> = None;
    for &(t, r) in &samples {
        let (s, var) = match state {
            None => (r, r / 2.0),
            Some((s, var)) => (0.875 * s + 0.125 * r, 0.75 * var + 0.25 * (s - r).abs()),
        };
        state = Some((s, var));
        srtt.push((t, s));
        rttvar.push((t, var));
        // RFC 6298 §2.4: at least one second.
        rto.push((t, (s + (4.0 * var).max(1.0)).max(1000.0)));
    }
    f.add("RTT sample", Style::Sample, Data::Dots(samples));
    f.add("SRTT", Style::Srtt, Data::Steps(srtt));
    f.add("RTTVAR", Style::Rttvar, Data::Steps(rttvar));
    f.add("RTO (≥ 1 s, RFC 6298 §2.4)", Style::Rto, Data::Steps(rto));
    f.fit(v.span());
    f
}

/// (time, milliseconds) for each ACK that acknowledges exactly the end of a segment sent
/// once.
fn rtt_samples(flow: &Flow) -> Vec<(f64, f64)> {
    use std::collections::BTreeMap;
    let mut sent: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut acks = flow.acks.iter().peekable();
    let mut una = 0;
    for seg in flow.segs.iter().map(Some).chain(std::iter::once(None)) {
        while let Some(a) = acks.next_if(|a| seg.is_none_or(|s| a.frame < s.frame)) {
            if a.ack <= una {
                continue;
            }
            una = a.ack;
            if let Some((&end, &(t, retx))) = sent.range(..=a.ack).next_back()
                && end == a.ack
                && !retx
            {
                out.push((secs(a.t), (a.t - t) as f64 / 1e6));
            }
            sent = sent.split_off(&(a.ack + 1));
        }
        let Some(s) = seg else { break };
        let end = s.seq + u64::from(s.len) + u64::from(s.kind == SegKind::Syn);
        match s.kind {
            SegKind::New | SegKind::Syn | SegKind::Fin => {
                sent.insert(end, (s.t, false));
            }
            _ => {
                for (_, e) in sent.range_mut(s.seq + 1..=end.max(s.seq + 1)) {
                    e.1 = true;
                }
            }
        }
    }
    out
}

/// Goodput (octets newly acknowledged) and the sending rate (every data octet sent,
/// retransmissions too), per interval.
pub fn throughput(v: &View) -> Figure {
    let (x0, x1) = v.span();
    let width = ((x1 - x0) / 60.0).max(0.001);
    let mut f = Figure::new(
        v.title("Throughput"),
        v.source(&format!(
            "per interval of {:.0} ms, from the packets",
            width * 1e3
        )),
        "Mbit/s",
    );
    let bins = ((x1 - x0) / width).ceil() as usize + 1;
    let (mut good, mut sent) = (vec![0.0; bins], vec![0.0; bins]);
    let bin = |t: u64| (((secs(t) - x0) / width) as usize).min(bins - 1);
    let mut una = 0;
    for a in &v.flow.acks {
        if a.ack > una {
            if una > 0 {
                good[bin(a.t)] += (a.ack - una) as f64;
            }
            una = a.ack;
        }
    }
    for s in &v.flow.segs {
        sent[bin(s.t)] += f64::from(s.len);
    }
    let rate = |v: Vec<f64>| -> Data {
        Data::Steps(
            v.into_iter()
                .enumerate()
                .map(|(i, o)| (x0 + i as f64 * width, o * 8.0 / width / 1e6))
                .collect(),
        )
    };
    f.add("goodput (newly acknowledged)", Style::Cwnd, rate(good));
    f.add("sent (with retransmissions)", Style::Flight, rate(sent));
    f.fit((x0, x1));
    f
}

/// Both receive windows over time, as each side advertised them.
pub fn window(v: &View) -> Figure {
    let mut f = Figure::new(
        format!("Receive windows: {} and {}", v.conn.client, v.conn.server),
        v.source("as each side advertised them"),
        "octets",
    );
    let advertised = |flow: &Flow| -> Data {
        Data::Steps(
            flow.acks
                .iter()
                .map(|a| (secs(a.t), a.window as f64))
                .collect(),
        )
    };
    // The client's window rides on its ACKs of the server's data, and back.
    let name = |side: usize| {
        let who = if side == 0 {
            v.conn.client
        } else {
            v.conn.server
        };
        format!("{who} advertises")
    };
    f.add(&name(0), Style::Cwnd, advertised(&v.conn.flows[1]));
    f.add(&name(1), Style::PeerWindow, advertised(&v.conn.flows[0]));
    f.fit(v.span());
    f
}

/// Several connections' pictures of one kind on one axis: each one's leading series (cwnd,
/// SRTT, goodput) named by its connection, its marks kept and named so too.
pub fn compare(figures: &[Figure], indices: &[usize]) -> Figure {
    const STYLES: [Style; 4] = [Style::Cwnd, Style::Other, Style::Flight, Style::PeerWindow];
    let first = &figures[0];
    let what = first.title.split(": ").next().unwrap_or("");
    let mut f = Figure::new(
        format!(
            "{what}: connections {}",
            indices
                .iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        first.subtitle.clone(),
        &first.y_label,
    );
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    for (n, (fig, &i)) in figures.iter().zip(indices).enumerate() {
        x0 = x0.min(fig.x.0);
        x1 = x1.max(fig.x.1);
        let who = fig.title.split(": ").nth(1).unwrap_or("");
        let lead = fig
            .series
            .iter()
            .find(|s| matches!(s.style, Style::Cwnd | Style::Srtt))
            .or(fig.series.first());
        if let Some(s) = lead {
            f.add(
                &format!("#{} {who}: {}", i + 1, s.name),
                STYLES[n % STYLES.len()],
                s.data.clone(),
            );
        }
        f.marks.extend(fig.marks.iter().map(|m| Mark {
            x: m.x,
            label: format!("#{} {}", i + 1, m.label),
        }));
    }
    f.fit((x0, x1));
    f
}
