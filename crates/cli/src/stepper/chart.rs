//! The stepper's picture pane: the busiest connection's cwnd, ssthresh and bytes in flight
//! over time (from a capture, only what the packets show), drawn with ratatui's chart, and a
//! vertical line at the current step.

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{
    Axis, Block, Chart as RatChart, Dataset, GraphType, LegendPosition, Widget,
};

/// Points drawn per series at most: more than a terminal has columns in Braille dots.
const COLUMNS: usize = 600;

/// One line of the chart: its name, its points (seconds, octets) and its colour.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    colour: Color,
}

/// What the pane draws, made once when it is first shown.
pub struct Chart {
    title: String,
    series: Vec<Line>,
    x: (f64, f64),
    y: (f64, f64),
}

impl Chart {
    /// The picture of the file the timeline came from, or why there is none.
    pub fn load(source: &str) -> Result<Chart, String> {
        let recording = plot::load(Path::new(source)).map_err(|e| e.to_string())?;
        let request = plot::Request {
            kind: Some(plot::Kind::Cwnd),
            ..plot::Request::default()
        };
        let figure = plot::figure(&recording, &request).map_err(|e| e.to_string())?;
        let mut series = Vec::new();
        for s in &figure.series {
            let colour = match s.style {
                plot::Style::Cwnd => Color::Cyan,
                plot::Style::Ssthresh => Color::Magenta,
                plot::Style::Flight => Color::Green,
                _ => continue,
            };
            if let plot::Data::Steps(points) = &s.data {
                let points = plot::decimate_to(points, figure.x, COLUMNS);
                series.push(Line {
                    name: s.name.clone(),
                    points: as_steps(&points, figure.x.1),
                    colour,
                });
            }
        }
        Ok(Chart {
            title: figure.title,
            series,
            x: figure.x,
            y: figure.y,
        })
    }

    /// Draw it, with the current step's time `now` (seconds) marked.
    pub fn render(&self, area: Rect, buf: &mut Buffer, now: f64) {
        let cursor = [(now, self.y.0), (now, self.y.1)];
        let mut datasets: Vec<Dataset> = self
            .series
            .iter()
            .map(|line| {
                Dataset::default()
                    .name(line.name.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::default().fg(line.colour))
                    .data(&line.points)
            })
            .collect();
        datasets.push(
            // Unnamed: the current step's line needs no legend entry.
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::Yellow))
                .data(&cursor),
        );
        let label = |v: f64| Span::raw(plot_label(v));
        RatChart::new(datasets)
            .block(Block::bordered().title(format!(" {} · v hides ", self.title)))
            .legend_position(Some(LegendPosition::TopLeft))
            .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
            .x_axis(
                Axis::default()
                    .title("s")
                    .bounds([self.x.0, self.x.1])
                    .labels([
                        label(self.x.0),
                        label((self.x.0 + self.x.1) / 2.0),
                        label(self.x.1),
                    ]),
            )
            .y_axis(
                Axis::default()
                    .title("octets")
                    .bounds([self.y.0, self.y.1])
                    .labels([label(self.y.0), label(self.y.1 / 2.0), label(self.y.1)]),
            )
            .render(area, buf);
    }
}

/// A value held until the next one, as a line through the corners.
fn as_steps(points: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2 + 1);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x, points[i - 1].1));
        }
        out.push((x, y));
    }
    if let Some(&(_, y)) = points.last() {
        out.push((end, y));
    }
    out
}

/// A tick label: 3 decimals for seconds, k and M for octets.
fn plot_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
