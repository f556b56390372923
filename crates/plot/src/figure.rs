//! A picture as data: the axes, shaded spans, series and marks, in the units a learner
//! reads (seconds, octets, milliseconds, Mbit/s). Each kind of picture is built here from a
//! recording; `svg` draws any of them.

/// How a series is drawn. Every style differs from the others in line or marker, not only in
/// colour, so a picture printed in black and white still reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// cwnd: a thick solid line.
    Cwnd,
    /// ssthresh: a long dash.
    Ssthresh,
    /// Bytes in flight: a thin dotted line.
    Flight,
    /// pipe: small circles.
    Pipe,
    /// The peer's window: dash-dot.
    PeerWindow,
    /// Data segments: thin vertical lines.
    Segment,
    /// Retransmitted segments: thick red vertical lines.
    Retransmission,
    /// Frames the link lost: crosses.
    Lost,
    /// The cumulative ACK: a solid step line.
    AckLine,
    /// The advertised window's right edge: a dashed step line.
    WindowEdge,
    /// SACK blocks: wide pale vertical bars.
    Sack,
    /// Duplicate ACKs: small diamonds.
    DupAck,
    /// Zero-window probes: triangles.
    Probe,
    /// RTT samples: dots.
    Sample,
    /// SRTT: solid.
    Srtt,
    /// RTTVAR: dotted.
    Rttvar,
    /// RTO: dashed.
    Rto,
    /// A second solid series (the other side, or what was sent).
    Other,
}

/// The shape a series' data has.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Points joined by a line.
    Line(Vec<(f64, f64)>),
    /// A value held until the next (a variable that changes at events).
    Steps(Vec<(f64, f64)>),
    /// Points alone.
    Dots(Vec<(f64, f64)>),
    /// Vertical spans: at x, from y0 to y1.
    Spans(Vec<(f64, f64, f64)>),
}

impl Data {
    /// How many values it holds.
    pub fn len(&self) -> usize {
        match self {
            Data::Line(v) | Data::Steps(v) | Data::Dots(v) => v.len(),
            Data::Spans(v) => v.len(),
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One named series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name in the legend (and in the SVG, for tools that read it back).
    pub name: String,
    /// How it is drawn.
    pub style: Style,
    /// Its values.
    pub data: Data,
}

/// A shaded span of time: a recovery episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    /// From, seconds.
    pub x0: f64,
    /// To, seconds.
    pub x1: f64,
    /// Its name on the picture.
    pub label: String,
}

/// A moment marked along the top of the plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// When, seconds.
    pub x: f64,
    /// What happened (the legend groups marks by it).
    pub label: String,
}

/// A whole picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What it shows, in one line.
    pub title: String,
    /// Where its numbers come from.
    pub subtitle: String,
    /// The y axis's label, with its unit.
    pub y_label: String,
    /// The time the x axis spans, seconds.
    pub x: (f64, f64),
    /// The y range.
    pub y: (f64, f64),
    /// Shaded spans.
    pub shades: Vec<Shade>,
    /// Series, drawn in order.
    pub series: Vec<Series>,
    /// Marks along the top.
    pub marks: Vec<Mark>,
}

impl Figure {
    /// A figure with these words and nothing drawn yet.
    pub fn new(title: String, subtitle: String, y_label: &str) -> Figure {
        Figure {
            title,
            subtitle,
            y_label: y_label.to_string(),
            x: (0.0, 1.0),
            y: (0.0, 1.0),
            shades: Vec::new(),
            series: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Add a series unless it is empty.
    pub fn add(&mut self, name: &str, style: Style, data: Data) {
        if !data.is_empty() {
            self.series.push(Series {
                name: name.to_string(),
                style,
                data,
            });
        }
    }

    /// Set the ranges to hold every value, from zero up on y, over `x` on the time axis.
    pub fn fit(&mut self, x: (f64, f64)) {
        let mut top = 0.0f64;
        for s in &self.series {
            match &s.data {
                Data::Line(v) | Data::Steps(v) | Data::Dots(v) => {
                    top = v.iter().fold(top, |m, p| m.max(p.1));
                }
                Data::Spans(v) => top = v.iter().fold(top, |m, p| m.max(p.2)),
            }
        }
        let span = (x.1 - x.0).max(1e-6);
        self.x = (x.0, x.0 + span);
        self.y = (0.0, if top > 0.0 { top * 1.05 } else { 1.0 });
    }
}
