//! A picture as one self-contained page: the SVG inline, zoom and pan by mouse and keys, and
//! the data behind it as tables for screen readers (and for anyone who wants the numbers).

use std::fmt::Write as _;

use crate::figure::{Data, Figure};

/// The script that zooms, pans and marks a plot; the report embeds it too.
pub const SCRIPT: &str = include_str!("plot.js");

/// At most this many rows per series in the page's tables (evenly chosen beyond).
const ROWS: usize = 2000;

/// The page.
pub fn html(fig: &Figure, svg: &str) -> String {
    let mut s = String::with_capacity(svg.len() + 64 * 1024);
    let title = esc(&fig.title);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:1em}}svg{{max-width:100%;height:auto;outline:none}}\
         table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}\
         .help{{color:#555;font-size:13px}}</style></head><body>\n<div id=\"plot\">{svg}</div>\n\
         <p class=\"help\">Wheel: zoom time (Shift: the y axis) · drag: pan · keys + − ← → ↑ ↓, 0 resets (click the picture first).</p>\n"
    );
    s.push_str("<details><summary>The data behind the picture</summary>\n");
    for series in &fig.series {
        table(&mut s, &series.name, &series.data);
    }
    for shade in &fig.shades {
        let _ = writeln!(
            s,
            "<p>{}: from {:.6} s to {:.6} s</p>",
            esc(&shade.label),
            shade.x0,
            shade.x1
        );
    }
    let _ = write!(
        s,
        "</details>\n<script>{SCRIPT}\nPacketlabPlot.attach(document.querySelector('#plot > svg'));</script>\n</body></html>\n"
    );
    s
}

fn table(s: &mut String, name: &str, data: &Data) {
    let every = data.len().div_ceil(ROWS).max(1);
    let note = if every > 1 {
        format!(" (every {every}th of {} values)", data.len())
    } else {
        String::new()
    };
    let head = match data {
        Data::Spans(_) => "<th>time (s)</th><th>from</th><th>to</th>",
        _ => "<th>time (s)</th><th>value</th>",
    };
    let _ = write!(
        s,
        "<table><caption>{}{note}</caption><tr>{head}</tr>",
        esc(name)
    );
    match data {
        Data::Line(v) | Data::Steps(v) | Data::Dots(v) => {
            for (x, y) in v.iter().step_by(every) {
                let _ = write!(s, "<tr><td>{x:.6}</td><td>{y}</td></tr>");
            }
        }
        Data::Spans(v) => {
            for (x, a, b) in v.iter().step_by(every) {
                let _ = write!(s, "<tr><td>{x:.6}</td><td>{a}</td><td>{b}</td></tr>");
            }
        }
    }
    s.push_str("</table>\n");
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
