//! Make the README's pictures: the lessons' plots (drawn by `packetlab plot`'s own PNG
//! renderer), the stepper (drawn on ratatui's test backend, turned into HTML with its colours)
//! and the report, both photographed by headless Chromium.
//!
//! `cargo run --release -p packetlab-cli --example screenshots` (needs `chromium`).

use std::path::Path;
use std::process::Command;

use packetlab_cli::stepper::Stepper;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use timeline::Timeline;

/// A terminal colour as CSS (a dark theme, like most teachers' terminals).
fn css(color: Color, default: &str) -> String {
    match color {
        Color::Reset => default.to_string(),
        Color::Black => "#1e2127".into(),
        Color::Red => "#e06c75".into(),
        Color::Green => "#98c379".into(),
        Color::Yellow => "#e5c07b".into(),
        Color::Blue => "#61afef".into(),
        Color::Magenta => "#c678dd".into(),
        Color::Cyan => "#56b6c2".into(),
        Color::Gray => "#abb2bf".into(),
        Color::DarkGray => "#6b7280".into(),
        Color::White => "#ffffff".into(),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        // xterm's grey ramp.
        Color::Indexed(n @ 232..=255) => {
            let v = 8 + 10 * (n - 232);
            format!("#{v:02x}{v:02x}{v:02x}")
        }
        _ => default.to_string(),
    }
}

/// The buffer as an HTML page of coloured monospace text.
fn buffer_html(buf: &Buffer) -> String {
    let (fg0, bg0) = ("#dcdfe4", "#282c34");
    let mut body = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            let (mut fg, mut bg) = (css(cell.fg, fg0), css(cell.bg, bg0));
            if cell.modifier.contains(Modifier::REVERSED) {
                std::mem::swap(&mut fg, &mut bg);
            }
            let weight = if cell.modifier.contains(Modifier::BOLD) {
                "bold"
            } else {
                "normal"
            };
            let symbol = match cell.symbol() {
                "<" => "&lt;",
                ">" => "&gt;",
                "&" => "&amp;",
                s => s,
            };
            body.push_str(&format!(
                "<span style=\"color:{fg};background:{bg};font-weight:{weight}\">{symbol}</span>"
            ));
        }
        body.push('\n');
    }
    format!(
        "<!doctype html><meta charset=utf-8><body style=\"margin:0;background:{bg0}\">\
         <pre style=\"margin:8px;font:14px/1.2 'DejaVu Sans Mono',monospace\">{body}</pre>"
    )
}

fn photograph(page: &Path, png: &Path, size: &str) {
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={size}"))
        .arg(format!("file://{}", page.display()))
        .status()
        .expect("chromium runs");
    assert!(status.success());
    println!("wrote {}", png.display());
}

/// The lessons' pictures in the README: (lesson, picture, connection, file).
const PLOTS: [(&str, plot::Kind, &[usize], &str); 8] = [
    ("congestion", plot::Kind::Cwnd, &[], "plot-congestion.png"),
    ("sack", plot::Kind::Cwnd, &[1], "plot-sack.png"),
    ("sack", plot::Kind::Tcptrace, &[2], "plot-sack-tcptrace.png"),
    ("tail-loss", plot::Kind::Cwnd, &[2], "plot-tail-loss.png"),
    (
        "tail-loss",
        plot::Kind::Cwnd,
        &[1],
        "plot-tail-loss-rto.png",
    ),
    (
        "lossy-transfer",
        plot::Kind::Tcptrace,
        &[],
        "plot-lossy-transfer.png",
    ),
    (
        "zero-window",
        plot::Kind::Tcptrace,
        &[],
        "plot-zero-window.png",
    ),
    (
        "cubic-vs-reno",
        plot::Kind::Cwnd,
        &[1, 2],
        "plot-cubic-vs-reno.png",
    ),
];

/// Each lesson's picture, drawn by `packetlab plot`'s own renderer.
fn lesson_plots(out: &Path) {
    for (lesson, kind, conn, file) in PLOTS {
        let rec = plot::load(Path::new(&format!("captures/{lesson}.trace.jsonl"))).unwrap();
        let request = plot::Request {
            conns: conn.to_vec(),
            kind: Some(kind),
            dir: None,
        };
        let fig = plot::figure(&rec, &request).unwrap();
        let png = plot::render(fig, plot::Format::Png).unwrap();
        std::fs::write(out.join(file), png).unwrap();
        println!("wrote {}", out.join(file).display());
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let dir = std::env::temp_dir().join(format!("packetlab-shots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Relative, so the report's title reads as a user would type it.
    std::env::set_current_dir(&root).unwrap();
    lesson_plots(&out);
    let timeline = Timeline::load(Path::new("captures/handshake.trace.jsonl")).unwrap();
    let mut stepper = Stepper::new(timeline.clone());
    // The client's SYN-SENT → ESTABLISHED: the handshake's middle.
    for _ in 0..3 {
        stepper.handle(KeyCode::Char('t'));
    }
    let mut terminal = Terminal::new(TestBackend::new(150, 44)).unwrap();
    terminal
        .draw(|f| stepper.render(f.area(), f.buffer_mut()))
        .unwrap();
    let page = dir.join("step.html");
    std::fs::write(&page, buffer_html(terminal.backend().buffer())).unwrap();
    photograph(&page, &out.join("step.png"), "1290,800");

    let page = dir.join("report.html");
    std::fs::write(&page, packetlab_cli::report::render(&timeline)).unwrap();
    let chosen = (0..timeline.steps.len())
        .filter(|&i| timeline.steps[i].is_transition())
        .nth(2)
        .unwrap();
    let url_page = dir.join(format!("report.html#step={}", chosen + 1));
    photograph(&url_page, &out.join("report.png"), "1400,860");
    let _ = std::fs::remove_dir_all(&dir);
}
