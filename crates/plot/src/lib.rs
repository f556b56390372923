//! Pictures of a TCP connection over time, as Wireshark's TCP stream graphs and tcptrace draw
//! them (time-sequence, throughput, round-trip time, windows), and what only packetlab's
//! traces hold: the sender's own congestion window, ssthresh and pipe with each recovery
//! episode shaded and named. From a trace the sender's numbers are exact; from any capture
//! they are inferred from the packets. Written as SVG, PNG (resvg, no browser) or a
//! self-contained HTML page with zoom and pan.

mod figure;
mod html;
mod kinds;
mod load;
mod png;
mod record;
mod svg;

use std::path::{Path, PathBuf};

pub use figure::{Data, Figure, Mark, Series, Shade, Style};
pub use html::{SCRIPT, html};
pub use load::{CwndPoint, Episode, EpisodeKind, MarkKind, Origin, Recording, SenderLog, load};
pub use png::png;
pub use record::{Ack, Conn, Flow, Seg, SegKind};
pub use svg::{HEIGHT, Layout, WIDTH, decimate_to, svg, svg_in};

/// Which picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Sequence numbers over time: segments, ACK line, window edge, SACK blocks.
    Tcptrace,
    /// Sequence numbers over time: one point per segment.
    Stevens,
    /// cwnd, ssthresh, pipe, bytes in flight and the peer's window, recovery shaded.
    Cwnd,
    /// RTT samples, SRTT, RTTVAR and RTO (RFC 6298).
    Rtt,
    /// Goodput and sending rate per interval.
    Throughput,
    /// Both receive windows.
    Window,
}

impl Kind {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcptrace => "tcptrace",
            Kind::Stevens => "stevens",
            Kind::Cwnd => "cwnd",
            Kind::Rtt => "rtt",
            Kind::Throughput => "throughput",
            Kind::Window => "window",
        }
    }
}

/// Whose data a picture follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dir {
    /// The data the client (the side that sent the SYN) sent.
    Client,
    /// The data the server sent.
    Server,
}

/// What to draw; `None` picks the default.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The connections, from 1 in the order they began (none: the one that carried most);
    /// two or more are compared on one axis (`cwnd`, `rtt`, `throughput`).
    pub conns: Vec<usize>,
    /// The picture (default: `cwnd` for a trace, `tcptrace` for a capture).
    pub kind: Option<Kind>,
    /// Whose data (default: the side that sent more).
    pub dir: Option<Dir>,
}

/// The file formats a picture is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// A PNG image, rendered here.
    Png,
    /// A page with the picture, zoom and pan, and its data as a table.
    Html,
}

impl Format {
    /// The format a file name asks for, by its extension.
    pub fn of(path: &Path) -> Result<Format, PlotError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            Some("html" | "htm") => Ok(Format::Html),
            _ => Err(PlotError::Output(format!(
                "{}: expected a name ending in .svg, .png or .html",
                path.display()
            ))),
        }
    }
}

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {}", .0.display(), .1)]
    Read(PathBuf, std::io::Error),
    /// A trace without its capture.
    #[error("{0}: a trace is plotted with its capture beside it (NAME.pcapng); none was found")]
    NoCapture(String),
    /// The capture is not one.
    #[error("{0}")]
    Capture(String),
    /// A trace line that does not read.
    #[error("{file}:{line}:{column}: {what}")]
    Trace {
        /// The file.
        file: String,
        /// Its line, from 1.
        line: usize,
        /// Its column, from 1.
        column: usize,
        /// What was expected.
        what: String,
    },
    /// Several connections asked of a picture that draws one.
    #[error("--kind {0} draws one connection; several are compared with cwnd, rtt or throughput")]
    OneOnly(&'static str),
    /// No TCP connection to draw.
    #[error("{0}: it holds no TCP connection to plot")]
    NoConnection(String),
    /// `--conn` names none.
    #[error("{file}: --conn {asked}: it holds {count} TCP connection(s):\n{list}")]
    NoSuchConnection {
        /// The file.
        file: String,
        /// The number asked for.
        asked: usize,
        /// How many there are.
        count: usize,
        /// Them, one a line.
        list: String,
    },
    /// The picture could not be rendered.
    #[error("cannot draw the picture: {0}")]
    Render(String),
    /// The output cannot be written.
    #[error("{0}")]
    Output(String),
}

impl Recording {
    /// The picture drawn unasked: the sender's cwnd from a trace, the time-sequence graph
    /// from a capture.
    pub fn default_kind(&self) -> Kind {
        match self.origin {
            Origin::Trace => Kind::Cwnd,
            Origin::Capture => Kind::Tcptrace,
        }
    }

    /// Each connection as one line: its number, its ends, what it carried.
    pub fn list(&self) -> String {
        self.conns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "  {}  {} ↔ {}  {} + {} octets",
                    i + 1,
                    c.client,
                    c.server,
                    c.flows[0].octets,
                    c.flows[1].octets
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The picture a request asks for.
pub fn figure(rec: &Recording, req: &Request) -> Result<Figure, PlotError> {
    if rec.conns.is_empty() {
        return Err(PlotError::NoConnection(rec.file.clone()));
    }
    let kind = req.kind.unwrap_or(rec.default_kind());
    let mut indices = Vec::new();
    for &n in &req.conns {
        if !(1..=rec.conns.len()).contains(&n) {
            return Err(PlotError::NoSuchConnection {
                file: rec.file.clone(),
                asked: n,
                count: rec.conns.len(),
                list: rec.list(),
            });
        }
        indices.push(n - 1);
    }
    if indices.is_empty() {
        indices.extend(
            (0..rec.conns.len()).max_by_key(|&i| (rec.conns[i].octets(), std::cmp::Reverse(i))),
        );
    }
    let views: Vec<kinds::View> = indices.iter().map(|&i| view(rec, i, req.dir)).collect();
    if let [one] = views.as_slice() {
        return Ok(draw(kind, one));
    }
    if !matches!(kind, Kind::Cwnd | Kind::Rtt | Kind::Throughput) {
        return Err(PlotError::OneOnly(kind.name()));
    }
    let figures: Vec<Figure> = views.iter().map(|v| draw(kind, v)).collect();
    Ok(kinds::compare(&figures, &indices))
}

/// One direction of connection `index`, with its sender's log.
fn view(rec: &Recording, index: usize, dir: Option<Dir>) -> kinds::View<'_> {
    let conn = &rec.conns[index];
    let side = match dir {
        Some(Dir::Client) => 0,
        Some(Dir::Server) => 1,
        None => usize::from(conn.flows[1].octets > conn.flows[0].octets),
    };
    kinds::View {
        rec,
        conn,
        flow: &conn.flows[side],
        log: &rec.logs[index][side],
        side,
    }
}

fn draw(kind: Kind, view: &kinds::View) -> Figure {
    match kind {
        Kind::Tcptrace => kinds::tcptrace(view),
        Kind::Stevens => kinds::stevens(view),
        Kind::Cwnd => kinds::cwnd(view),
        Kind::Rtt => kinds::rtt(view),
        Kind::Throughput => kinds::throughput(view),
        Kind::Window => kinds::window(view),
    }
}

/// The picture a page shows unasked: the busiest connection's congestion window where a
/// trace logged one, else its time-sequence graph.
pub fn default_figure(rec: &Recording) -> Result<Figure, PlotError> {
    let ask = |kind| Request {
        kind: Some(kind),
        ..Request::default()
    };
    let cwnd = figure(rec, &ask(Kind::Cwnd))?;
    if rec.origin == Origin::Trace && cwnd.series.iter().any(|s| s.style == Style::Cwnd) {
        Ok(cwnd)
    } else {
        figure(rec, &ask(Kind::Tcptrace))
    }
}

/// The picture in a format, as the octets of its file. The figure is given up as soon as it
/// is drawn: a million points need not wait while the PNG is rendered.
pub fn render(fig: Figure, format: Format) -> Result<Vec<u8>, PlotError> {
    let drawing = svg(&fig);
    Ok(match format {
        Format::Svg => drawing.into_bytes(),
        Format::Png => {
            drop(fig);
            png(&drawing)?
        }
        Format::Html => html(&fig, &drawing).into_bytes(),
    })
}
