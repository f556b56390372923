//! `packetlab report`: one self-contained HTML file with an SVG ladder diagram of a timeline.
//! One column per endpoint, one arrow per frame labelled like Wireshark's Info column, each
//! state change drawn beside its column, the comments of the frames that caused transitions,
//! and stepping by keyboard or click that shows one step at a time with the variables.
//!
//! The page fetches nothing: a Content-Security-Policy forbids it, so a stray external
//! reference would be a console error, which the browser test looks for.

use std::fmt::Write as _;

use serde::Serialize;

use timeline::dissect;
use timeline::{Source, StepKind, Timeline};

/// Steps drawn at most; a bigger capture is cut here, and the page says so.
pub const MAX_STEPS: usize = 50_000;

/// What the page's script needs of one step.
#[derive(Serialize)]
struct StepData {
    /// Time, seconds as text.
    t: String,
    /// Time in seconds, for the plot's cursor.
    ts: f64,
    /// `frame`, `transition` or `note`.
    kind: &'static str,
    /// The step in one line.
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    /// The program line whose call caused a transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    /// For a transition: the endpoint's short name, in full, its new state and variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vars: Option<String>,
    /// For a frame: its layers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    layers: Vec<dissect::Layer>,
}

/// Escape text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A colour per state family, so the eye follows a connection's life down a column.
fn state_class(state: trace::TcpState) -> &'static str {
    use trace::TcpState::*;
    match state {
        Closed => "s-closed",
        Listen => "s-listen",
        SynSent | SynReceived => "s-open",
        Established => "s-est",
        FinWait1 | FinWait2 | Closing | TimeWait => "s-active",
        CloseWait | LastAck => "s-passive",
    }
}

const ROW: u32 = 24;
/// A frame with a comment gets a second line for it, under the arrow.
const COMMENTED_ROW: u32 = 40;
const TOP: u32 = 16;
const LEFT: u32 = 84;

/// The page around the drawing: markup, style and the stepping script, with `{{name}}` holes.
const TEMPLATE: &str = include_str!("report.html");

/// Where the lanes stand and how big the drawing is.
struct Layout {
    /// The x of each column's lane.
    lane_x: Vec<u32>,
    width: u32,
    height: u32,
    /// Arrows carry the short label (many columns) or the full Info line.
    short: bool,
}

impl Layout {
    fn new(timeline: &Timeline, steps: &[timeline::Step]) -> Layout {
        // With many columns the arrows carry the short label (flags, seq, ack, len), so the
        // ladder stays within reach; the full Info line is in the side pane either way.
        let short = timeline.columns.len() > 3;
        // Each gap between neighbouring lanes is as wide as the longest label that must fit
        // in it: an arrow across several gaps shares its label's width among them.
        let mut need = vec![200u32; timeline.columns.len().saturating_sub(1)];
        for step in steps {
            if let StepKind::Frame(f) = &step.kind {
                let (lo, hi) = (f.from.min(f.to), f.from.max(f.to));
                if hi > lo {
                    let chars = label_of(f, short).chars().count() as u32;
                    let width = (chars * 15 / 2 + 40) / (hi - lo) as u32;
                    for gap in &mut need[lo..hi] {
                        *gap = (*gap).max(width.min(600));
                    }
                }
            }
        }
        // The first lane leaves room for a state box centred on it.
        let mut lane_x = vec![LEFT + 120];
        for gap in &need {
            lane_x.push(lane_x[lane_x.len() - 1] + gap);
        }
        let lanes_right = lane_x[lane_x.len() - 1] + 60;
        // A frame a host sends itself has its label after a short arrow: make room for it.
        let self_labels = steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Frame(f) if f.from == f.to => {
                    let x = lane_x[f.from.min(lane_x.len() - 1)];
                    Some(x + 60 + label_of(f, short).chars().count() as u32 * 15 / 2)
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        // Notes (calls, ARP, routes) start at their lane and may run past the last one: the
        // picture is as wide as the longest, so that none is cut at the right-hand edge.
        let notes = steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Note { column, text } => {
                    let x = column.map_or(LEFT, |c| lane_x[c.min(lane_x.len() - 1)]);
                    let chars = text.lines().next().unwrap_or("").chars().count() as u32;
                    Some(x + 6 + chars * 15 / 2 + 20)
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Layout {
            lane_x,
            width: (lanes_right + 420).max(self_labels).max(notes),
            height: TOP + steps.iter().map(row_height).sum::<u32>() + 20,
            short,
        }
    }

    fn x_of(&self, column: usize) -> u32 {
        self.lane_x[column.min(self.lane_x.len() - 1)]
    }
}

fn label_of(f: &timeline::FrameStep, short: bool) -> &str {
    if short { &f.label } else { &f.info }
}

fn row_height(step: &timeline::Step) -> u32 {
    match &step.kind {
        StepKind::Frame(f) if f.comment.is_some() => COMMENTED_ROW,
        _ => ROW,
    }
}

/// The whole page.
pub fn render(timeline: &Timeline) -> String {
    let steps = &timeline.steps[..timeline.steps.len().min(MAX_STEPS)];
    let cut = timeline.steps.len() - steps.len();
    let layout = Layout::new(timeline, steps);
    let (svg, data) = ladder(timeline, steps, &layout);
    let mut header = String::new();
    for (c, name) in timeline.columns.iter().enumerate() {
        let _ = write!(
            header,
            r#"<text class="column" x="{x}" y="20" text-anchor="middle">{name}</text>"#,
            x = layout.x_of(c),
            name = esc(name),
        );
    }
    let json = serde_json::to_string(&data)
        .unwrap_or_else(|_| "[]".to_string())
        // Inside a script element, "</" could end it early.
        .replace("</", "<\\/");
    let kind = match timeline.kind {
        Source::Trace => "states as the stacks logged them",
        Source::Capture => "states inferred from the packets alone",
    };
    let mut cut_note = if cut > 0 {
        format!(
            r#"<p class="warn">Only the first {MAX_STEPS} steps are drawn; {cut} more are left out.</p>"#
        )
    } else {
        String::new()
    };
    if let Some(short) = &timeline.cut_short {
        cut_note.push_str(&format!(
            r#"<p class="warn">{}: the steps are of the packets before it.</p>"#,
            esc(short)
        ));
    }
    let plot = plot_panel(timeline);
    let quiz = timeline::quiz::default_connection(timeline)
        .map(|c| timeline::quiz::questions(timeline, c))
        .unwrap_or_default();
    let quiz = serde_json::to_string(&quiz)
        .unwrap_or_else(|_| "[]".to_string())
        .replace("</", "<\\/");
    fill(
        TEMPLATE,
        &[
            ("body_class", if plot.is_some() { "has-plot" } else { "" }),
            ("plot", plot.as_deref().unwrap_or("")),
            ("plot_script", plot::SCRIPT),
            ("quiz", &quiz),
            ("title", &esc(&timeline.source)),
            ("frames", &timeline.frame_count().to_string()),
            ("nsteps", &timeline.steps.len().to_string()),
            ("kind", kind),
            ("width", &layout.width.to_string()),
            ("header", &header),
            ("cut_note", &cut_note),
            ("svg", &svg),
            ("json", &json),
        ],
    )
}

/// The picture above the ladder: the busiest connection's cwnd from a trace, its
/// time-sequence graph from a capture; none when there is no TCP connection to draw.
fn plot_panel(timeline: &Timeline) -> Option<String> {
    let recording = plot::load(std::path::Path::new(&timeline.source)).ok()?;
    let figure = plot::default_figure(&recording).ok()?;
    Some(plot::svg_in(&figure, plot::Layout::WIDE))
}

/// The template with each `{{name}}` replaced by its value, in one pass, so that a value that
/// happens to contain `{{…}}` is left as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let hole = after.find("}}").map(|end| &after[..end]);
        match hole.and_then(|name| values.iter().find(|(n, _)| *n == name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &after[name.len() + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The SVG ladder, and what the script needs of each step.
fn ladder(
    timeline: &Timeline,
    steps: &[timeline::Step],
    layout: &Layout,
) -> (String, Vec<StepData>) {
    let (width, height) = (layout.width, layout.height);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="ladder" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="ladder diagram">"#
    );
    svg.push_str(
        r#"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="head"/></marker></defs>"#,
    );
    for c in 0..timeline.columns.len() {
        let x = layout.x_of(c);
        let _ = write!(
            svg,
            r#"<line class="lane" x1="{x}" y1="0" x2="{x}" y2="{height}"/>"#
        );
    }
    let mut data = Vec::with_capacity(steps.len());
    let mut y = TOP;
    for (i, step) in steps.iter().enumerate() {
        data.push(draw_step(&mut svg, timeline, layout, (i, step), y));
        y += row_height(step);
    }
    svg.push_str("</svg>");
    (svg, data)
}

/// One step's row of the ladder; returns what the script needs of it.
fn draw_step(
    svg: &mut String,
    timeline: &Timeline,
    layout: &Layout,
    (i, step): (usize, &timeline::Step),
    y: u32,
) -> StepData {
    let mid = y + ROW / 2;
    let t = trace::Time(step.t_ns).to_string();
    let _ = write!(
        svg,
        r#"<g class="step {kind}" data-step="{i}" id="s{i}"><rect class="hit" x="0" y="{y}" width="{width}" height="{h}"/><text class="time" x="{tx}" y="{ty}">{t}</text>"#,
        kind = match step.kind {
            StepKind::Frame(_) => "frame arrow",
            StepKind::Transition(_) => "transition",
            StepKind::Note { .. } => "note",
        },
        width = layout.width,
        h = row_height(step),
        tx = LEFT - 8,
        ty = mid + 4,
    );
    let mut d = StepData {
        t,
        ts: step.t_ns as f64 / 1e9,
        kind: "note",
        text: step.describe(&timeline.columns),
        frame: None,
        comment: None,
        rule: None,
        source: None,
        cause: None,
        key: None,
        endpoint: None,
        state: None,
        vars: None,
        layers: Vec::new(),
    };
    match &step.kind {
        StepKind::Frame(f) => draw_frame(svg, layout, f, mid, &mut d),
        StepKind::Transition(tr) => draw_transition(svg, layout, tr, (y, mid), &mut d),
        StepKind::Note { column, text } => {
            let x = column.map_or(LEFT, |c| layout.x_of(c)) + 6;
            let _ = write!(
                svg,
                r#"<text class="note-text" x="{x}" y="{ty}">{text}</text>"#,
                ty = mid + 4,
                text = esc(text.lines().next().unwrap_or("")),
            );
        }
    }
    svg.push_str("</g>");
    d
}

/// A frame's arrow (cut short and crossed out when it was lost), label and comment.
fn draw_frame(
    svg: &mut String,
    layout: &Layout,
    f: &timeline::FrameStep,
    mid: u32,
    d: &mut StepData,
) {
    let (x1, x2) = (layout.x_of(f.from), layout.x_of(f.to));
    let label = format!("#{} {}", f.number, label_of(f, layout.short));
    let tx = (x1 + x2) / 2;
    let (x1, x2) = if x1 == x2 {
        (x1, x1 + 40)
    } else if x2 > x1 {
        (x1 + 2, x2 - 2)
    } else {
        (x1 - 2, x2 + 2)
    };
    if f.lost {
        // Sent, never arrived: the arrow stops two thirds of the way, crossed out.
        let end = (x1 as i64 + (x2 as i64 - x1 as i64) * 2 / 3) as u32;
        let _ = write!(
            svg,
            r#"<line class="msg lost" x1="{x1}" y1="{y1}" x2="{end}" y2="{y1}"/><text class="cross" x="{end}" y="{cy}" text-anchor="middle">✕</text>"#,
            y1 = mid + 5,
            cy = mid + 10,
        );
    } else {
        let _ = write!(
            svg,
            r#"<line class="msg" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y1}" marker-end="url(#head)"/>"#,
            y1 = mid + 5,
        );
    }
    // A frame a host sends to itself (loopback) gets a short arrow with its label after it.
    let (tx, anchor) = if layout.x_of(f.from) == layout.x_of(f.to) {
        (x2 + 6, "start")
    } else {
        (tx, "middle")
    };
    let _ = write!(
        svg,
        r#"<text class="label" x="{tx}" y="{mid}" text-anchor="{anchor}">{label}</text>"#,
        label = esc(&label),
    );
    if let Some(comment) = &f.comment {
        let _ = write!(
            svg,
            r#"<text class="comment" x="{tx}" y="{ty}" text-anchor="{anchor}">{c}</text>"#,
            ty = mid + 20,
            c = esc(comment),
        );
    }
    d.kind = "frame";
    d.frame = Some(f.number);
    d.comment = f.comment.clone();
    if let Some(bytes) = &f.bytes {
        d.layers = dissect::layers(bytes, f.number, f.len);
    }
}

/// A state box on the endpoint's lane.
fn draw_transition(
    svg: &mut String,
    layout: &Layout,
    tr: &timeline::TransitionStep,
    (y, mid): (u32, u32),
    d: &mut StepData,
) {
    let x = layout.x_of(tr.column);
    let text = format!("{}: {}", tr.key, tr.to);
    let w = text.chars().count() as u32 * 7 + 12;
    let _ = write!(
        svg,
        r#"<rect class="state {cls}" x="{rx}" y="{ry}" width="{w}" height="{h}" rx="4"/><text class="state-text" x="{x}" y="{ty}" text-anchor="middle">{text}</text>"#,
        cls = state_class(tr.to),
        rx = x.saturating_sub(w / 2),
        ry = y + 3,
        h = ROW - 6,
        ty = mid + 4,
        text = esc(&text),
    );
    d.kind = "transition";
    d.text = format!(
        "TCP {}: {} → {} (by {})",
        tr.endpoint, tr.from, tr.to, tr.cause
    );
    d.rule = Some(tr.rule.clone());
    d.source = tr.source.clone();
    d.cause = Some(tr.cause.clone());
    if let Some(source) = &tr.source {
        // The program line beside the state it led to.
        let _ = write!(
            svg,
            r#"<text class="source" x="{sx}" y="{ty}">← {s}</text>"#,
            sx = x + w / 2 + 8,
            ty = mid + 4,
            s = esc(source),
        );
    }
    d.key = Some(tr.key.clone());
    d.endpoint = Some(tr.endpoint.clone());
    d.state = Some(tr.to.to_string());
    d.vars = tr.vars.map(|v| v.to_string());
}
