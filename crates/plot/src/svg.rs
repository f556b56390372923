//! A figure drawn as SVG. Series are decimated by pixel column (each column keeps its first,
//! lowest, highest and last value, as time-series viewers do), so a million segments make a
//! picture of a few thousand points that looks the same; nothing is dropped that would show.
//! The plot area is a nested `<svg>` whose `data-` attributes give its ranges, so a script
//! can zoom it and a test can read the values back.

use std::fmt::Write as _;

use crate::figure::{Data, Figure, Style};

/// A picture's width in pixels, as `plot` writes it.
pub const WIDTH: u32 = Layout::PAGE.width;
/// A picture's height in pixels, as `plot` writes it.
pub const HEIGHT: u32 = Layout::PAGE.height;

/// Where the parts of a picture go.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    left: f64,
    top: f64,
    area_w: f64,
    area_h: f64,
}

impl Layout {
    /// A picture of its own: the plot and its legend beside it.
    pub const PAGE: Layout = Layout {
        width: 1200,
        height: 600,
        left: 90.0,
        top: 70.0,
        area_w: 740.0,
        area_h: 460.0,
    };
    /// A wide strip above a ladder (the report).
    pub const WIDE: Layout = Layout {
        width: 1600,
        height: 420,
        left: 90.0,
        top: 64.0,
        area_w: 1180.0,
        area_h: 290.0,
    };

    fn legend_x(&self) -> f64 {
        self.left + self.area_w + 30.0
    }
}

/// Stroke, dash pattern and width of a style; its marker for points.
struct Pen {
    colour: &'static str,
    dash: &'static str,
    width: f64,
    marker: Marker,
}

#[derive(Clone, Copy, PartialEq)]
enum Marker {
    None,
    Circle,
    Cross,
    Diamond,
    Triangle,
    Dot,
}

fn pen(style: Style) -> Pen {
    let p = |colour, dash, width, marker| Pen {
        colour,
        dash,
        width,
        marker,
    };
    match style {
        Style::Cwnd => p("#1f4e9c", "", 2.2, Marker::None),
        Style::Ssthresh => p("#7b2cbf", "9 4", 1.6, Marker::None),
        Style::Flight => p("#2e8b57", "2 3", 1.5, Marker::None),
        Style::Pipe => p("#c8651b", "", 1.2, Marker::Circle),
        Style::PeerWindow => p("#555555", "8 3 2 3", 1.4, Marker::None),
        Style::Segment => p("#1f4e9c", "", 1.2, Marker::None),
        Style::Retransmission => p("#d62728", "", 2.6, Marker::None),
        Style::Lost => p("#d62728", "", 1.6, Marker::Cross),
        Style::AckLine => p("#2e8b57", "", 1.3, Marker::None),
        Style::WindowEdge => p("#b8860b", "5 3", 1.3, Marker::None),
        Style::Sack => p("#9467bd", "", 4.0, Marker::None),
        Style::DupAck => p("#ff7f0e", "", 1.2, Marker::Diamond),
        Style::Probe => p("#8c564b", "", 1.2, Marker::Triangle),
        Style::Sample => p("#1f4e9c", "", 1.0, Marker::Dot),
        Style::Srtt => p("#d62728", "", 2.0, Marker::None),
        Style::Rttvar => p("#2e8b57", "2 3", 1.5, Marker::None),
        Style::Rto => p("#555555", "7 4", 1.5, Marker::None),
        Style::Other => p("#d62728", "", 1.5, Marker::None),
    }
}

/// The colour of a mark or a shade, by its label.
fn accent(label: &str) -> &'static str {
    const ACCENTS: [(&str, &str); 9] = [
        ("timeout", "#d62728"),
        ("RTO", "#d62728"),
        ("probe", "#ff7f0e"),
        ("RACK", "#9467bd"),
        ("D-SACK", "#17becf"),
        ("idle", "#7f7f7f"),
        ("lost", "#000000"),
        ("zero", "#8c564b"),
        ("NewReno", "#2ca02c"),
    ];
    ACCENTS
        .iter()
        .find(|(k, _)| label.contains(k))
        .map_or("#1f77b4", |(_, c)| c)
}

/// Maps data to pixels of the plot area.
#[derive(Clone, Copy)]
struct Scale {
    x: (f64, f64),
    y: (f64, f64),
    l: Layout,
}

impl Scale {
    fn px(&self, x: f64) -> f64 {
        (x - self.x.0) / (self.x.1 - self.x.0) * self.l.area_w
    }
    fn py(&self, y: f64) -> f64 {
        self.l.area_h - (y - self.y.0) / (self.y.1 - self.y.0) * self.l.area_h
    }
    fn column(&self, x: f64) -> i64 {
        self.px(x).floor() as i64
    }
}

/// The figure as a standalone SVG document.
pub fn svg(fig: &Figure) -> String {
    svg_in(fig, Layout::PAGE)
}

/// The figure as an SVG document laid out as asked.
pub fn svg_in(fig: &Figure, l: Layout) -> String {
    let (width, height, left) = (l.width, l.height, l.left);
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" role="img" aria-labelledby="plot-title plot-desc">"#
    );
    let _ = write!(
        s,
        r#"<title id="plot-title">{}</title><desc id="plot-desc">{}</desc><rect width="100%" height="100%" fill="white"/>"#,
        esc(&fig.title),
        esc(&describe(fig))
    );
    let _ = write!(
        s,
        r##"<text x="{left}" y="28" font-size="18" font-weight="bold">{}</text><text x="{left}" y="48" font-size="12" fill="#444">{}</text>"##,
        esc(&fig.title),
        esc(&fig.subtitle)
    );
    let scale = Scale {
        x: fig.x,
        y: fig.y,
        l,
    };
    axes(&mut s, fig, scale);
    area(&mut s, fig, scale);
    legend(&mut s, fig, l);
    s.push_str("</svg>\n");
    s
}

/// A sentence for screen readers: what is drawn and its ranges.
fn describe(fig: &Figure) -> String {
    let names: Vec<String> = fig
        .series
        .iter()
        .map(|s| format!("{} ({} values)", s.name, s.data.len()))
        .collect();
    format!(
        "{}. Time from {:.3} s to {:.3} s; {} from {} to {}. Series: {}. {} shaded episodes, {} marks.",
        fig.subtitle,
        fig.x.0,
        fig.x.1,
        fig.y_label,
        fig.y.0,
        fig.y.1,
        names.join(", "),
        fig.shades.len(),
        fig.marks.len()
    )
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round numbers for ticks: 1, 2 or 5 times a power of ten, about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let raw = (hi - lo) / n as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

/// A number as a tick label: 65535 → 64k … no, 65.5k; 0.25 → 0.25.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn axes(s: &mut String, fig: &Figure, sc: Scale) {
    let Layout {
        left,
        top,
        area_w,
        area_h,
        ..
    } = sc.l;
    let _ = write!(
        s,
        r##"<g class="axes" font-size="11" fill="#333"><rect x="{left}" y="{top}" width="{area_w}" height="{area_h}" fill="none" stroke="#999"/>"##
    );
    s.push_str(r#"<g class="xticks">"#);
    for t in ticks(fig.x.0, fig.x.1, 8) {
        let x = left + sc.px(t);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + area_h,
            top + area_h + 16.0,
            trim(t)
        );
    }
    s.push_str(r#"</g><g class="yticks">"#);
    for v in ticks(fig.y.0, fig.y.1, 8) {
        let y = top + sc.py(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + area_w,
            left - 6.0,
            y + 4.0,
            short(v)
        );
    }
    let _ = write!(
        s,
        r#"</g><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">time (s)</text><text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle" font-size="13">{}</text></g>"#,
        left + area_w / 2.0,
        top + area_h + 40.0,
        top + area_h / 2.0,
        esc(&fig.y_label)
    );
}

fn area(s: &mut String, fig: &Figure, sc: Scale) {
    let Layout {
        left,
        top,
        area_w,
        area_h,
        ..
    } = sc.l;
    let _ = write!(
        s,
        r#"<svg class="area" x="{left}" y="{top}" width="{area_w}" height="{area_h}" viewBox="0 0 {area_w} {area_h}" preserveAspectRatio="none" data-x0="{}" data-x1="{}" data-y0="{}" data-y1="{}">"#,
        fig.x.0, fig.x.1, fig.y.0, fig.y.1
    );
    for shade in &fig.shades {
        let (x0, x1) = (sc.px(shade.x0), sc.px(shade.x1).max(sc.px(shade.x0) + 1.0));
        let _ = write!(
            s,
            r#"<rect class="shade" data-label="{}" x="{x0:.2}" y="0" width="{:.2}" height="{area_h}" fill="{}" fill-opacity="0.13"/>"#,
            esc(&shade.label),
            x1 - x0,
            accent(&shade.label)
        );
    }
    for mark in &fig.marks {
        let x = sc.px(mark.x);
        let _ = write!(
            s,
            r#"<line class="mark" data-label="{}" x1="{x:.2}" y1="0" x2="{x:.2}" y2="{area_h}" stroke="{}" stroke-width="1" stroke-dasharray="1 3" vector-effect="non-scaling-stroke"/>"#,
            esc(&mark.label),
            accent(&mark.label)
        );
    }
    for series in &fig.series {
        let p = pen(series.style);
        let _ = write!(
            s,
            r#"<g class="series" data-name="{}" fill="none" stroke="{}" stroke-width="{}"{}>"#,
            esc(&series.name),
            p.colour,
            p.width,
            if p.dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{}""#, p.dash)
            }
        );
        draw(s, &series.data, &p, sc);
        s.push_str("</g>");
    }
    let _ = write!(
        s,
        r##"<line class="cursor" x1="-10" y1="0" x2="-10" y2="{area_h}" stroke="#000" stroke-width="1.5" vector-effect="non-scaling-stroke" visibility="hidden"/>"##
    );
    s.push_str("</svg>");
    for (i, mark) in fig.marks.iter().enumerate() {
        if fig.marks[..i]
            .iter()
            .any(|m| (m.x - mark.x).abs() < 1e-12 && m.label == mark.label)
        {
            continue;
        }
        let x = left + sc.px(mark.x);
        let _ = write!(
            s,
            r#"<path class="mark-tick" data-t="{}" transform="translate({x:.1} 0)" d="M0 {:.1} l-4 -8 h8 z" fill="{}"><title>{}</title></path>"#,
            mark.x,
            top - 1.0,
            accent(&mark.label),
            esc(&mark.label)
        );
    }
}

/// A series' data, decimated by pixel column.
fn draw(s: &mut String, data: &Data, p: &Pen, sc: Scale) {
    match data {
        Data::Line(v) => path(s, &decimate(v, sc), false, sc),
        Data::Steps(v) => path(s, &decimate(v, sc), true, sc),
        Data::Dots(v) => {
            for &(x, y) in &decimate_dots(v, sc) {
                marker(s, p, sc.px(x), sc.py(y));
            }
        }
        Data::Spans(v) => {
            s.push_str(r#"<path vector-effect="non-scaling-stroke" d=""#);
            for (x, y0, y1) in decimate_spans(v, sc) {
                let _ = write!(s, "M{:.2} {:.2}V{:.2}", sc.px(x), sc.py(y0), sc.py(y1));
            }
            s.push_str(r#""/>"#);
        }
    }
}

fn path(s: &mut String, v: &[(f64, f64)], steps: bool, sc: Scale) {
    let area_w = sc.l.area_w;
    s.push_str(r#"<path vector-effect="non-scaling-stroke" d=""#);
    let mut prev: Option<f64> = None;
    for (i, &(x, y)) in v.iter().enumerate() {
        let (px, py) = (sc.px(x), sc.py(y));
        match (i, prev) {
            (0, _) => {
                let _ = write!(s, "M{px:.2} {py:.2}");
            }
            (_, Some(last)) if steps => {
                let _ = write!(s, "L{px:.2} {last:.2}L{px:.2} {py:.2}");
            }
            _ => {
                let _ = write!(s, "L{px:.2} {py:.2}");
            }
        }
        prev = Some(py);
    }
    if steps && let (Some(last), false) = (prev, v.is_empty()) {
        let _ = write!(s, "L{area_w:.2} {last:.2}");
    }
    s.push_str(r#""/>"#);
}

fn marker(s: &mut String, p: &Pen, x: f64, y: f64) {
    let _ = match p.marker {
        Marker::Circle => write!(s, r#"<circle cx="{x:.2}" cy="{y:.2}" r="2.6"/>"#),
        Marker::Dot => write!(
            s,
            r#"<circle cx="{x:.2}" cy="{y:.2}" r="1.8" fill="{}" stroke="none"/>"#,
            p.colour
        ),
        Marker::Cross => write!(
            s,
            r#"<path d="M{:.2} {:.2}l7 7m0 -7l-7 7"/>"#,
            x - 3.5,
            y - 3.5
        ),
        Marker::Diamond => write!(s, r#"<path d="M{x:.2} {:.2}l3 3l-3 3l-3 -3z"/>"#, y - 3.0),
        Marker::Triangle => write!(s, r#"<path d="M{x:.2} {:.2}l3.5 6h-7z"/>"#, y - 3.5),
        Marker::None => write!(s, r#"<circle cx="{x:.2}" cy="{y:.2}" r="1.5"/>"#),
    };
}

/// Each pixel column's first, lowest, highest and last point, in time order: the line
/// drawn through them covers the same pixels as the line through all of them.
fn decimate(v: &[(f64, f64)], sc: Scale) -> Vec<(f64, f64)> {
    decimate_by(v, |x| sc.column(x))
}

/// [`decimate`] for `columns` columns over the times `x` (the stepper's chart).
pub fn decimate_to(v: &[(f64, f64)], x: (f64, f64), columns: usize) -> Vec<(f64, f64)> {
    let width = (x.1 - x.0).max(1e-12) / columns.max(1) as f64;
    decimate_by(v, |t| ((t - x.0) / width).floor() as i64)
}

fn decimate_by(v: &[(f64, f64)], column: impl Fn(f64) -> i64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let col = column(v[i].0);
        let j = i + v[i..].iter().take_while(|p| column(p.0) == col).count();
        let group = &v[i..j];
        if group.len() <= 4 {
            out.extend_from_slice(group);
        } else {
            let lo = (0..group.len()).min_by(|&a, &b| group[a].1.total_cmp(&group[b].1));
            let hi = (0..group.len()).max_by(|&a, &b| group[a].1.total_cmp(&group[b].1));
            let mut keep = [0, lo.unwrap_or(0), hi.unwrap_or(0), group.len() - 1];
            keep.sort_unstable();
            for (n, &k) in keep.iter().enumerate() {
                if n == 0 || keep[n - 1] != k {
                    out.push(group[k]);
                }
            }
        }
        i = j;
    }
    out
}

fn decimate_dots(v: &[(f64, f64)], sc: Scale) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let col = sc.column(v[i].0);
        let mut j = i;
        let (mut lo, mut hi) = (v[i], v[i]);
        while j < v.len() && sc.column(v[j].0) == col {
            if v[j].1 < lo.1 {
                lo = v[j];
            }
            if v[j].1 > hi.1 {
                hi = v[j];
            }
            j += 1;
        }
        if j - i <= 2 {
            out.extend_from_slice(&v[i..j]);
        } else {
            out.push(lo);
            out.push(hi);
        }
        i = j;
    }
    out
}

fn decimate_spans(v: &[(f64, f64, f64)], sc: Scale) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let mut last_col = i64::MIN;
    for &(x, y0, y1) in v {
        let col = sc.column(x);
        match out.last_mut() {
            Some(o) if col == last_col => {
                o.1 = o.1.min(y0);
                o.2 = o.2.max(y1);
            }
            _ => out.push((x, y0, y1)),
        }
        last_col = col;
    }
    out
}

fn legend(s: &mut String, fig: &Figure, l: Layout) {
    let (top, legend_x) = (l.top, l.legend_x());
    let mut y = top + 6.0;
    s.push_str(r#"<g class="legend" font-size="12">"#);
    for series in &fig.series {
        let p = pen(series.style);
        let dash = if p.dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{}""#, p.dash)
        };
        let _ = write!(
            s,
            r#"<g fill="none" stroke="{}" stroke-width="{}"{dash}>"#,
            p.colour, p.width
        );
        match series.data {
            Data::Dots(_) => marker(s, &p, legend_x + 14.0, y),
            Data::Spans(_) => {
                let _ = write!(
                    s,
                    r#"<path d="M{:.1} {:.1}v12"/>"#,
                    legend_x + 14.0,
                    y - 6.0
                );
            }
            _ => {
                let _ = write!(s, r#"<path d="M{legend_x:.1} {y:.1}h28"/>"#);
            }
        }
        let _ = write!(
            s,
            r#"</g><text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 36.0,
            y + 4.0,
            esc(&series.name)
        );
        y += 20.0;
    }
    let mut seen: Vec<&str> = Vec::new();
    for label in fig
        .shades
        .iter()
        .map(|sh| sh.label.as_str())
        .chain(fig.marks.iter().map(|m| m.label.as_str()))
    {
        if seen.contains(&label) {
            continue;
        }
        seen.push(label);
        let shade = fig.shades.iter().any(|sh| sh.label == label);
        if shade {
            let _ = write!(
                s,
                r#"<rect x="{legend_x}" y="{:.1}" width="28" height="12" fill="{}" fill-opacity="0.25"/>"#,
                y - 6.0,
                accent(label)
            );
        } else {
            let _ = write!(
                s,
                r#"<path d="M{:.1} {:.1} l-4 -8 h8 z" fill="{}"/>"#,
                legend_x + 14.0,
                y + 5.0,
                accent(label)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 36.0,
            y + 4.0,
            esc(label)
        );
        y += 20.0;
    }
    s.push_str("</g>");
}
