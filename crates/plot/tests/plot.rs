//! The pictures hold what the recordings hold: values read back from the SVG are the trace's,
//! a PNG has its size and is drawn, every committed recording plots, and a huge series is
//! decimated without losing a retransmission.

use std::path::{Path, PathBuf};

use packetlab_plot as plot;
use plot::{Data, Figure, Kind, Request, Style};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An attribute's value in a piece of SVG.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[at..].split('"').next()?.to_string())
}

/// The plot area's ranges, and the vertices of the named series' path, in data units.
fn read_back(svg: &str, series: &str) -> Vec<(f64, f64)> {
    let area_tag = &svg[svg.find("<svg class=\"area\"").unwrap()..];
    let area_tag = &area_tag[..area_tag.find('>').unwrap()];
    let num = |n: &str| attr(area_tag, n).unwrap().parse::<f64>().unwrap();
    let (w, h) = (num("width"), num("height"));
    let (x0, x1, y0, y1) = (
        num("data-x0"),
        num("data-x1"),
        num("data-y0"),
        num("data-y1"),
    );
    let group = &svg[svg.find(&format!("data-name=\"{series}\"")).unwrap()..];
    let d = attr(&group[..group.find("</g>").unwrap()], "d").unwrap();
    let mut out = Vec::new();
    for cmd in d.split(['M', 'L']).filter(|c| !c.is_empty()) {
        let mut it = cmd.split(' ').map(|v| v.parse::<f64>().unwrap());
        let (px, py) = (it.next().unwrap(), it.next().unwrap());
        out.push((x0 + px / w * (x1 - x0), y0 + (h - py) / h * (y1 - y0)));
    }
    out
}

#[test]
fn the_cwnd_read_back_from_the_svg_is_the_traces() {
    let path = root().join("captures/sack.trace.jsonl");
    let rec = plot::load(&path).unwrap();
    let fig = plot::figure(&rec, &Request::default()).unwrap();
    let svg = plot::svg(&fig);
    let drawn = read_back(&svg, "cwnd");
    // The trace, read independently: the congestion events of the sender drawn.
    let events = trace::read_jsonl(std::fs::read(&path).unwrap().as_slice()).unwrap();
    let sender = fig
        .title
        .split(": ")
        .nth(1)
        .unwrap()
        .split(" → ")
        .next()
        .unwrap();
    let logged: Vec<(f64, f64)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            trace::EventKind::Congestion { endpoint, cwnd, .. }
                if endpoint.local.to_string() == sender =>
            {
                Some((e.t.0 as f64 / 1e9, f64::from(*cwnd)))
            }
            _ => None,
        })
        .collect();
    assert!(logged.len() > 10, "{} congestion events", logged.len());
    // A pixel's hundredth, in octets: the SVG's precision.
    let tol = (fig.y.1 - fig.y.0) / 460.0 * 0.01 + 1e-9;
    for &(t, v) in &drawn[..drawn.len() - 1] {
        assert!(
            logged.iter().any(|&(_, c)| (c - v).abs() <= tol),
            "the picture has cwnd {v} at {t} s, a value the trace never logged"
        );
    }
    // Every logged value is drawn: a vertex, or on the vertical line its pixel column draws
    // (values at one moment are decimated to that column's lowest and highest).
    let column = (fig.x.1 - fig.x.0) / 740.0;
    for &(t, c) in &logged {
        let here: Vec<f64> = drawn
            .iter()
            .filter(|&&(x, _)| (x - t).abs() <= column)
            .map(|p| p.1)
            .collect();
        let (lo, hi) = here
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(
            lo - tol <= c && c <= hi + tol,
            "the trace logs cwnd {c} at {t} s, and the picture does not show it"
        );
    }
}

#[test]
fn a_png_has_its_size_and_is_drawn() {
    let rec = plot::load(&root().join("captures/lossy-transfer.trace.jsonl")).unwrap();
    for kind in [Kind::Cwnd, Kind::Tcptrace] {
        let request = Request {
            kind: Some(kind),
            ..Request::default()
        };
        let fig = plot::figure(&rec, &request).unwrap();
        let png = plot::render(fig, plot::Format::Png).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!(
            (pixmap.width(), pixmap.height()),
            (plot::WIDTH, plot::HEIGHT)
        );
        let pixels = pixmap.pixels();
        let inked = pixels
            .iter()
            .filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255))
            .count();
        let colours: std::collections::HashSet<_> = pixels
            .iter()
            .map(|p| (p.red() / 32, p.green() / 32, p.blue() / 32))
            .collect();
        assert!(
            inked > pixels.len() / 100,
            "{kind:?}: only {inked} pixels drawn"
        );
        assert!(colours.len() >= 6, "{kind:?}: {} colours", colours.len());
        // The title's text is drawn (the embedded font): its band has ink.
        let band = (10..30)
            .flat_map(|y| (90..400).map(move |x| (x, y)))
            .filter(|&(x, y)| pixels[(y * plot::WIDTH + x) as usize].red() < 128)
            .count();
        assert!(band > 200, "{kind:?}: the title has {band} dark pixels");
    }
}

/// Every recording committed here: lesson captures and traces, and the Python lessons'. (The
/// other link types and tunnels `explain` reads are plotted where they are made, in the CLI's
/// `explain_links` tests.)
fn recordings() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["captures", "captures/python", "captures/kernel"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.to_string_lossy().into_owned();
            let recording = [".pcapng", ".pcap", ".jsonl"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if recording {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_committed_recording_plots_every_kind() {
    let all = recordings();
    assert!(all.len() > 60, "{} recordings", all.len());
    let mut drawn = 0;
    for path in &all {
        let rec = plot::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for kind in [
            Kind::Tcptrace,
            Kind::Stevens,
            Kind::Cwnd,
            Kind::Rtt,
            Kind::Throughput,
            Kind::Window,
        ] {
            let request = Request {
                kind: Some(kind),
                ..Request::default()
            };
            match plot::figure(&rec, &request) {
                Ok(fig) => {
                    let svg = plot::svg(&fig);
                    assert!(svg.ends_with("</svg>\n"), "{}", path.display());
                    assert!(fig.y.1 > fig.y.0 && fig.x.1 > fig.x.0, "{}", path.display());
                    drawn += 1;
                }
                Err(plot::PlotError::NoConnection(_)) => {}
                Err(e) => panic!("{}: {kind:?}: {e}", path.display()),
            }
        }
    }
    assert!(drawn > 300, "{drawn} pictures drawn");
}

#[test]
fn a_million_points_are_decimated_and_no_retransmission_is_lost() {
    let mut fig = Figure::new("big".into(), "synthetic".into(), "octets");
    let n = 1_000_000;
    let steps: Vec<(f64, f64)> = (0..n)
        .map(|i| (i as f64 / n as f64, ((i * 7919) % 10007) as f64))
        .collect();
    let segs: Vec<(f64, f64, f64)> = (0..n)
        .map(|i| (i as f64 / n as f64, i as f64, i as f64 + 1.0))
        .collect();
    // Three retransmissions, far apart.
    let retx = vec![(0.1, 5.0, 6.0), (0.5, 9.0, 10.0), (0.9, 11.0, 12.0)];
    fig.add("cwnd", Style::Cwnd, Data::Steps(steps));
    fig.add("segments", Style::Segment, Data::Spans(segs));
    fig.add("retransmissions", Style::Retransmission, Data::Spans(retx));
    fig.fit((0.0, 1.0));
    let svg = plot::svg(&fig);
    assert!(svg.len() < 1_000_000, "{} octets", svg.len());
    let cwnd = read_back(&svg, "cwnd");
    // Four values a column, each a step (two vertices).
    assert!(cwnd.len() <= 2 * 4 * 741 + 2, "{} vertices", cwnd.len());
    // Each column keeps its extremes: the lowest and highest values survive.
    let (lo, hi) = cwnd
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
    assert!(lo < 10.0 && hi > 9990.0, "{lo} … {hi}");
    let group = &svg[svg.find("data-name=\"retransmissions\"").unwrap()..];
    let group = &group[..group.find("</g>").unwrap()];
    assert_eq!(group.matches('M').count(), 3, "{group}");
}

#[test]
fn a_broken_trace_is_named_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.trace.jsonl");
    let good = std::fs::read_to_string(root().join("captures/handshake.trace.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"event\":\"frame\""))
        .unwrap();
    lines[at] = "{\"t\":1,\"event\":\"frame\",\"number\":\"one\"}";
    std::fs::write(&path, lines.join("\n")).unwrap();
    std::fs::copy(
        root().join("captures/handshake.pcapng"),
        dir.path().join("broken.pcapng"),
    )
    .unwrap();
    let e = plot::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:{}:", path.display(), at + 1)),
        "{e}"
    );
    assert!(e.contains("expected u64"), "{e}");
}
