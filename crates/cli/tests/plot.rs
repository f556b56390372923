//! `packetlab plot` from the command line: each format written whole, the defaults, and bad
//! requests answered with exit status 2, a clear message and no file.

mod common;

use std::process::Command;

use common::{packetlab, root};

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn each_format_is_written_and_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    for (name, magic) in [
        ("c.png", &b"\x89PNG"[..]),
        ("c.svg", &b"<svg"[..]),
        ("c.html", &b"<!DOCTYPE html>"[..]),
    ] {
        let file = dir.path().join(name);
        let out = packetlab(&[
            "plot",
            "captures/congestion.trace.jsonl",
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("wrote "),
            "{}",
            text(&out.stdout)
        );
        let bytes = std::fs::read(&file).unwrap();
        assert!(bytes.starts_with(magic), "{name}");
    }
    let html = std::fs::read_to_string(dir.path().join("c.html")).unwrap();
    assert!(html.contains("PacketlabPlot.attach("), "the page zooms");
    assert!(
        html.contains("<caption>cwnd"),
        "the page has the data as a table"
    );
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no fetches"
    );
}

#[test]
fn by_default_a_trace_draws_cwnd_and_a_capture_tcptrace_in_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (input, written) in [
        ("captures/sack.trace.jsonl", "sack.cwnd.svg"),
        ("captures/sack.pcapng", "sack.tcptrace.svg"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_packetlab"))
            .args(["plot", root().join(input).to_str().unwrap()])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let svg = std::fs::read_to_string(dir.path().join(written)).unwrap();
        assert!(svg.contains("<svg"), "{written}");
    }
    let cwnd = std::fs::read_to_string(dir.path().join("sack.cwnd.svg")).unwrap();
    assert!(
        cwnd.contains("data-label=\"fast recovery (NewReno, RFC 6582)\""),
        "the default connection's recovery is shaded and named"
    );
}

#[test]
fn a_wrong_request_exits_2_with_a_clear_message_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.svg");
    let out = packetlab(&[
        "plot",
        "captures/handshake.pcapng",
        "--conn",
        "9",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--conn 9: it holds 1 TCP connection(s)"),
        "{err}"
    );
    assert!(
        err.contains("  1  10.0.0.1:"),
        "the connections are listed: {err}"
    );
    assert!(!file.exists());

    let gif = dir.path().join("x.gif");
    let out = packetlab(&[
        "plot",
        "captures/handshake.pcapng",
        "-o",
        gif.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("expected a name ending in .svg, .png or .html"),
        "{}",
        text(&out.stderr)
    );
    assert!(!gif.exists());

    let out = packetlab(&[
        "plot",
        "captures/udp-datagrams.pcapng",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("holds no TCP connection"),
        "{}",
        text(&out.stderr)
    );
    let out = packetlab(&["plot", "README.md", "-o", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
}
