//! `packetlab report`: the page's structure, its refusal of bad input, and a real browser
//! (Debian's headless Chromium) loading it without console errors, one arrow per frame, and
//! stepping to a chosen step; a screenshot of each page lands in the test's output directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::prerequisite;

/// Frames in a shipped trace: its `frame` events.
fn frames_in_trace(trace: &str) -> usize {
    std::fs::read_to_string(common::root().join(trace))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"frame\""))
        .count()
}

fn report(input: &str, dir: &Path, name: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let run = common::packetlab(&["report", input, "-o", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(&out).unwrap();
    (out, html)
}

#[test]
fn the_page_is_self_contained_with_one_arrow_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    for (input, frames) in [
        (
            "captures/handshake.trace.jsonl",
            frames_in_trace("captures/handshake.trace.jsonl"),
        ),
        (
            "captures/lossy-transfer.pcapng",
            frames_in_trace("captures/lossy-transfer.trace.jsonl"),
        ),
    ] {
        let (_, html) = report(input, dir.path(), "page.html");
        assert_eq!(
            html.matches("class=\"step frame arrow\"").count(),
            frames,
            "{input}"
        );
        // Nothing to fetch: no src or href attribute, no URL but the SVG namespace.
        assert!(
            !html.contains(" src=") && !html.contains(" href="),
            "{input}"
        );
        let urls = html.matches("://").count();
        let namespaces = html.matches("http://www.w3.org/2000/svg").count();
        assert_eq!(urls, namespaces, "{input}: only the SVG namespace is a URL");
        assert!(html.contains("Content-Security-Policy"));
    }
    // The comments of the frames that caused transitions are drawn.
    let (_, html) = report("captures/handshake.pcapng", dir.path(), "page.html");
    assert!(html.contains("class=\"comment\""));
    assert!(html.contains("TIME-WAIT"));
}

#[test]
fn a_capture_cut_short_is_drawn_up_to_the_cut_and_the_page_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(common::root().join("captures/handshake.pcapng")).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &whole[..whole.len() - 30]).unwrap();
    let (_, html) = report(cut.to_str().unwrap(), dir.path(), "cut.html");
    let frames = frames_in_trace("captures/handshake.trace.jsonl");
    assert_eq!(
        html.matches("class=\"step frame arrow\"").count(),
        frames - 1
    );
    assert!(html.contains("cut short"), "the page names the cut");
    let step = common::packetlab(&["step", "--plain", cut.to_str().unwrap()]);
    assert!(step.status.success());
    assert!(String::from_utf8_lossy(&step.stderr).contains("warning: "));
}

#[test]
fn bad_input_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.html");
    let run = common::packetlab(&["report", "README.md", "-o", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("at byte offset 0"));
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary left"
    );
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Run headless Chromium on `url` with extra arguments; stdout and stderr.
fn headless(browser: &str, url: &str, args: &[&str], profile: &Path) -> (String, String) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn chromium_loads_the_page_without_errors_and_steps_to_a_chosen_step() {
    let Some(browser) = chromium() else {
        prerequisite(false, "PACKETLAB_REQUIRE_BROWSER", "chromium (headless)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (input, frames, name) in [
        (
            "captures/handshake.trace.jsonl",
            frames_in_trace("captures/handshake.trace.jsonl"),
            "handshake-trace",
        ),
        (
            "captures/simultaneous-close.pcapng",
            frames_in_trace("captures/simultaneous-close.trace.jsonl"),
            "simultaneous-close-capture",
        ),
    ] {
        let (page, html) = report(input, dir.path(), &format!("{name}.html"));
        let steps = html.matches("class=\"step ").count();
        let chosen = steps * 2 / 3;
        let url = format!("file://{}#step={chosen}", page.display());
        let (dom, log) = headless(browser, &url, &["--dump-dom"], &dir.path().join("profile"));
        assert!(
            dom.contains("data-ready=\"1\""),
            "{name}: the script did not finish\n{log}"
        );
        assert!(
            !dom.contains("data-errors="),
            "{name}: errors on the page\n{dom}"
        );
        let console_errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("rror")))
            .collect();
        assert!(console_errors.is_empty(), "{name}: {console_errors:?}");
        assert!(dom.contains(&format!("data-arrows=\"{frames}\"")), "{name}");
        assert_eq!(
            dom.matches("class=\"step frame arrow").count(),
            frames,
            "{name}"
        );
        // The chosen step is the one highlighted, and the side pane describes it.
        let highlighted = format!("data-step=\"{}\" id=\"s{}\"", chosen - 1, chosen - 1);
        let row = dom
            .split("<g ")
            .find(|g| g.contains(&highlighted))
            .unwrap_or_else(|| panic!("{name}: no row {highlighted}"));
        assert!(
            row.contains(" current\""),
            "{name}: step {chosen} is not highlighted: {row}"
        );
        assert_eq!(
            dom.matches(" current\"").count(),
            1,
            "{name}: one step at a time"
        );
        assert!(
            dom.contains(&format!("Step {chosen} of {steps}")),
            "{name}: the side pane does not show step {chosen}"
        );
        assert!(dom.contains("Endpoints"), "{name}");

        let shot = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        headless(
            browser,
            &url,
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1400,900",
            ],
            &dir.path().join("profile"),
        );
        let png = std::fs::read(&shot).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: no screenshot"
        );
        println!("screenshot of the {name} report: {}", shot.display());
    }
}

/// The `<html>` element's attributes of a page as Chromium left it: the page's state.
fn page_state(browser: &str, url: &str, profile: &Path) -> (String, String) {
    let (dom, log) = headless(browser, url, &["--dump-dom"], profile);
    let html = dom
        .split("<html")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap_or("")
        .to_string();
    assert!(html.contains("data-ready=\"1\""), "{url}: not ready\n{log}");
    assert!(!html.contains("data-errors="), "{url}: errors\n{dom}");
    (html, dom)
}

fn attribute(html: &str, name: &str) -> Option<usize> {
    let at = html.find(&format!("{name}=\""))? + name.len() + 2;
    html[at..].split('"').next()?.parse().ok()
}

#[test]
fn the_plot_above_the_ladder_follows_the_step_and_a_click_on_it_moves_the_step() {
    let Some(browser) = chromium() else {
        prerequisite(false, "PACKETLAB_REQUIRE_BROWSER", "chromium (headless)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, html) = report("captures/congestion.trace.jsonl", dir.path(), "c.html");
    assert!(
        html.contains("<body class=\"has-plot\">"),
        "the page has a plot"
    );
    assert!(
        html.contains("data-name=\"cwnd\""),
        "a trace's plot is the sender's cwnd"
    );
    let profile = dir.path().join("profile");
    // A click on the plot at a time (`#t=` clicks there) selects the step nearest it.
    let timeline =
        timeline::Timeline::load(&common::root().join("captures/congestion.trace.jsonl")).unwrap();
    for t in [0.1, 0.3] {
        let url = format!("file://{}#t={t}", page.display());
        let (state, dom) = page_state(browser, &url, &profile);
        let step = attribute(&state, "data-step").expect("a step is selected");
        let at = timeline.steps[step - 1].t_ns as f64 / 1e9;
        // Within a pixel of the plot (the area is 1180 pixels wide, drawn smaller).
        let span = timeline.steps.last().unwrap().t_ns as f64 / 1e9;
        assert!(
            (at - t).abs() < span / 200.0,
            "clicked {t} s, got step {step} at {at} s"
        );
        // The step's time is drawn on the plot as its cursor.
        let cursor = dom.split("<line class=\"cursor\"").nth(1).unwrap();
        let cursor = cursor.split('>').next().unwrap();
        assert!(cursor.contains("visibility=\"visible\""), "{cursor}");
    }
}

#[test]
fn a_report_in_quiz_mode_asks_before_a_state_change_and_hides_what_follows() {
    let Some(browser) = chromium() else {
        prerequisite(false, "PACKETLAB_REQUIRE_BROWSER", "chromium (headless)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = report("captures/handshake.trace.jsonl", dir.path(), "h.html");
    let timeline =
        timeline::Timeline::load(&common::root().join("captures/handshake.trace.jsonl")).unwrap();
    let conn = timeline::quiz::default_connection(&timeline).unwrap();
    let questions = timeline::quiz::questions(&timeline, conn);
    let url = format!("file://{}#quiz", page.display());
    let (state, dom) = page_state(browser, &url, &dir.path().join("profile"));
    let first = &questions[0];
    assert_eq!(attribute(&state, "data-quiz-pending"), Some(first.step + 1));
    assert_eq!(attribute(&state, "data-step"), Some(first.step));
    let question = format!("Question 1 of {}: {}", questions.len(), first.prompt);
    assert!(dom.contains(&question), "{question} not on the page");
    for option in &first.options {
        assert!(
            dom.contains(&format!(". {option}</button>")),
            "{option} is not offered"
        );
    }
    // The step asked about is hidden, and so is everything after it.
    assert!(dom.contains(&format!(
        "data-step=\"{}\" id=\"s{}\"",
        first.step, first.step
    )));
    let row = dom
        .split("<g ")
        .find(|g| g.contains(&format!("id=\"s{}\"", first.step)))
        .unwrap();
    assert!(
        row.contains("future"),
        "the step to predict is drawn: {row}"
    );
}

#[test]
fn the_ladder_is_wide_enough_for_its_longest_note() {
    let dir = tempfile::tempdir().unwrap();
    // The SYN flood's notes (SYN cookies, queues) are the longest of any lesson.
    let (_, html) = report("captures/syn-flood.trace.jsonl", dir.path(), "flood.html");
    let svg = html.split("<svg id=\"ladder\"").nth(1).expect("the ladder");
    let width: u32 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|w| w.split('"').next())
        .and_then(|w| w.parse().ok())
        .expect("the ladder's width");
    let mut notes = 0;
    for piece in svg.split("<text class=\"note-text\" x=\"").skip(1) {
        let x: u32 = piece.split('"').next().unwrap().parse().unwrap();
        let text = piece
            .split('>')
            .nth(1)
            .unwrap()
            .split("</text")
            .next()
            .unwrap();
        let chars = text.chars().count() as u32;
        assert!(
            x + chars * 7 <= width,
            "a note of {chars} characters at x={x} in {width}"
        );
        notes += 1;
    }
    assert!(notes > 0);
}
