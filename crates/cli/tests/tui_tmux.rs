//! The stepper end to end in a real terminal: tmux runs `packetlab step`, keys go in with
//! `send-keys`, and what the terminal shows comes back with `capture-pane`.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::prerequisite;
use timeline::{StepKind, Timeline};

/// A tmux server of our own (its own socket), killed when the test ends, pass or fail.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        // One server per test: tests run in parallel in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tmux {
            socket: format!("packetlab-test-{}-{n}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "lab"]).stdout).into_owned()
    }

    /// Wait until the screen shows `text`; the screen as last seen.
    fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the terminal never showed {text:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A session of `width`×`height` running `packetlab ARGS`, then saying how it exited and
    /// waiting, so the test can read both.
    fn start(&self, args: &str, (width, height): (u16, u16)) {
        let command = format!(
            "{} {args}; echo \"stepper exited with $?\"; sleep 60",
            env!("CARGO_BIN_EXE_packetlab"),
        );
        let (w, h) = (width.to_string(), height.to_string());
        let started = self.run(&[
            "new-session",
            "-d",
            "-s",
            "lab",
            "-x",
            &w,
            "-y",
            &h,
            "sh",
            "-c",
            &command,
        ]);
        assert!(started.status.success(), "{started:?}");
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = self.run(&["send-keys", "-t", "lab", key]);
            assert!(out.status.success(), "{out:?}");
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn have_tmux() -> bool {
    let present = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    prerequisite(present, "PACKETLAB_REQUIRE_TMUX", "tmux")
}

#[test]
fn the_stepper_runs_in_a_terminal_and_answers_its_keys() {
    if !have_tmux() {
        return;
    }
    let trace = common::root().join("captures/handshake.trace.jsonl");
    let timeline = Timeline::load(&trace).unwrap();
    let total = timeline.steps.len();
    let frame4 = timeline.frame_step(4).unwrap();
    let third_transition = (0..total)
        .filter(|&i| timeline.steps[i].is_transition())
        .nth(2)
        .unwrap();
    let StepKind::Transition(expected) = &timeline.steps[third_transition].kind else {
        unreachable!()
    };

    let tmux = Tmux::new();
    tmux.start(&format!("step {}", trace.display()), (130, 40));

    // The terminal is read while the stepper may still be drawing: wait for every part.
    for part in [
        &format!("step 1/{total}"),
        "Ladder",
        "Endpoints",
        "Frame",
        "Hex",
        "q  quit",
    ] {
        tmux.wait_for(part);
    }

    tmux.keys(&["t", "t", "t"]);
    tmux.wait_for(&format!("step {}/{total}", third_transition + 1));
    tmux.wait_for(&format!(
        "{}: {} → {}",
        expected.key, expected.from, expected.to
    ));

    tmux.keys(&["g", "4"]);
    tmux.wait_for("go to frame:  4_");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("step {}/{total}", frame4 + 1));
    tmux.wait_for("Frame #4 by layer");
    // The flags may wrap onto the next line beside the SYN's options.
    tmux.wait_for("Flags: 0x012");
    tmux.wait_for("(SYN, ACK)");

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("stepper exited with 0");
    // The terminal is given back: the stepper's screen is gone.
    assert!(!screen.contains("Ladder"), "{screen}");
}

#[test]
fn the_quiz_and_the_plot_pane_work_in_a_terminal() {
    if !have_tmux() {
        return;
    }
    let trace = common::root().join("captures/sack.trace.jsonl");
    let timeline = Timeline::load(&trace).unwrap();
    let conn = timeline::quiz::default_connection(&timeline).unwrap();
    let first = timeline::quiz::questions(&timeline, conn).remove(0);
    let tmux = Tmux::new();
    tmux.start(&format!("step --quiz {}", trace.display()), (150, 44));
    tmux.wait_for("Question 1 of");
    let right = (first.answer + 1).to_string();
    tmux.keys(&[&right]);
    tmux.wait_for(&format!("Right: {}", first.options[first.answer]));
    tmux.keys(&["v"]);
    let screen = tmux.wait_for("v hides");
    assert!(screen.contains("Congestion window"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("stepper exited with 0");
}

#[test]
fn without_a_terminal_the_stepper_says_to_use_plain() {
    let out = common::packetlab(&["step", "captures/handshake.trace.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--plain"), "{err}");
}
