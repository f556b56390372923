//! The stepper, driven by keys and drawn on ratatui's test backend: snapshots of each pane
//! at chosen steps, and the keys' behaviour (transitions, jumps, the connection filter).

mod common;

use packetlab_cli::stepper::{Stepper, buffer_text};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use timeline::{StepKind, Timeline};
use trace::TcpState;

fn load(relative: &str) -> Timeline {
    Timeline::load(&common::root().join(relative)).expect("a shipped file loads")
}

/// Draw one pane of the stepper on a test backend of the given size.
fn pane(
    stepper: &Stepper,
    (width, height): (u16, u16),
    draw: fn(&Stepper, Rect, &mut Buffer),
) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| draw(stepper, frame.area(), frame.buffer_mut()))
        .unwrap();
    buffer_text(terminal.backend().buffer())
}

/// Press keys in order; true if one of them quit.
fn press(stepper: &mut Stepper, keys: &[KeyCode]) -> bool {
    keys.iter().any(|&k| stepper.handle(k))
}

fn keys(typed: &str) -> Vec<KeyCode> {
    typed
        .chars()
        .map(|c| match c {
            '\n' => KeyCode::Enter,
            c => KeyCode::Char(c),
        })
        .collect()
}

/// Move to the step where `key` enters `to`.
fn go_to_transition(stepper: &mut Stepper, key: &str, to: TcpState) {
    press(stepper, &[KeyCode::Home]);
    for _ in 0..stepper.timeline().steps.len() {
        let here = stepper.current().unwrap();
        if let StepKind::Transition(t) = &stepper.timeline().steps[here].kind
            && t.key == key
            && t.to == to
        {
            return;
        }
        press(stepper, &keys("t"));
    }
    panic!("{key} never enters {to}");
}

#[test]
fn each_pane_at_the_handshake_steps_of_a_trace() {
    let mut stepper = Stepper::new(load("captures/handshake.trace.jsonl"));
    go_to_transition(&mut stepper, "client#1", TcpState::Established);
    insta::assert_snapshot!(
        "trace_established_ladder",
        pane(&stepper, (100, 24), Stepper::render_ladder)
    );
    insta::assert_snapshot!(
        "trace_established_states",
        pane(&stepper, (60, 20), Stepper::render_states)
    );
    // The transition was caused by the SYN+ACK, so that is the frame shown.
    let layers = pane(&stepper, (96, 16), Stepper::render_layers);
    assert!(layers.contains("Frame #4 by layer"), "{layers}");
    assert!(layers.contains("Flags: 0x012 (SYN, ACK)"), "{layers}");
    insta::assert_snapshot!("trace_established_layers", layers);
    insta::assert_snapshot!(
        "trace_established_hex",
        pane(&stepper, (44, 10), Stepper::render_hex)
    );
    insta::assert_snapshot!("help", pane(&stepper, (110, 1), Stepper::render_help));

    go_to_transition(&mut stepper, "client#1", TcpState::TimeWait);
    let states = pane(&stepper, (60, 20), Stepper::render_states);
    assert!(states.contains("TIME-WAIT client#1"), "{states}");
    insta::assert_snapshot!("trace_time_wait_states", states);
}

#[test]
fn each_pane_of_a_capture_with_inferred_states() {
    let mut stepper = Stepper::new(load("captures/simultaneous-close.pcapng"));
    press(&mut stepper, &[KeyCode::End]);
    press(&mut stepper, &keys("T"));
    let states = pane(&stepper, (60, 12), Stepper::render_states);
    assert!(states.contains("inferred from the packets"), "{states}");
    insta::assert_snapshot!("capture_last_transition_states", states);
    insta::assert_snapshot!(
        "capture_last_transition_ladder",
        pane(&stepper, (90, 30), Stepper::render_ladder)
    );
}

#[test]
fn the_whole_screen_fits_the_panes_and_the_help_line() {
    let mut stepper = Stepper::new(load("captures/handshake.trace.jsonl"));
    press(&mut stepper, &keys("ttt"));
    let screen = pane(&stepper, (140, 40), Stepper::render);
    for title in ["Ladder", "Endpoints", "by layer", "Hex", "q  quit"] {
        assert!(screen.contains(title), "{title} missing:\n{screen}");
    }
    insta::assert_snapshot!("whole_screen", screen);
}

#[test]
fn keys_step_by_event_by_transition_and_jump_to_a_frame() {
    let mut stepper = Stepper::new(load("captures/handshake.trace.jsonl"));
    let steps = stepper.timeline().steps.clone();
    assert_eq!(stepper.current(), Some(0));
    press(&mut stepper, &[KeyCode::Down, KeyCode::Down, KeyCode::Up]);
    assert_eq!(stepper.current(), Some(1));
    // Previous at the first step and next at the last stay put.
    press(&mut stepper, &[KeyCode::Home, KeyCode::Up]);
    assert_eq!(stepper.current(), Some(0));
    press(&mut stepper, &[KeyCode::End, KeyCode::Down]);
    assert_eq!(stepper.current(), Some(steps.len() - 1));

    // `t` visits exactly the transitions, in order; `T` walks them back.
    press(&mut stepper, &[KeyCode::Home]);
    let transitions: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].is_transition())
        .collect();
    let mut visited = Vec::new();
    for _ in &transitions {
        press(&mut stepper, &keys("t"));
        visited.push(stepper.current().unwrap());
    }
    assert_eq!(visited, transitions);
    press(&mut stepper, &keys("t"));
    assert_eq!(
        stepper.current(),
        transitions.last().copied(),
        "no later one"
    );
    press(&mut stepper, &keys("T"));
    assert_eq!(stepper.current(), Some(transitions[transitions.len() - 2]));

    // `g 5 Enter` goes to frame #5, whatever the cursor was.
    press(&mut stepper, &keys("g5\n"));
    match &steps[stepper.current().unwrap()].kind {
        StepKind::Frame(f) => assert_eq!(f.number, 5),
        other => panic!("not a frame: {other:?}"),
    }
    // While typing, the help line says so; a frame that does not exist leaves the cursor.
    press(&mut stepper, &keys("g99"));
    let help = pane(&stepper, (80, 1), Stepper::render_help);
    assert!(help.contains("go to frame:  99_"), "{help}");
    let before = stepper.current();
    press(&mut stepper, &[KeyCode::Enter]);
    assert_eq!(stepper.current(), before);
    let help = pane(&stepper, (140, 1), Stepper::render_help);
    assert!(help.contains("there is no frame #99"), "{help}");
    // Esc cancels typing without quitting; q quits.
    assert!(!press(&mut stepper, &[KeyCode::Char('g'), KeyCode::Esc]));
    assert!(press(&mut stepper, &keys("q")));
}

#[test]
fn the_connection_filter_shows_one_connection_at_a_time() {
    let out = tempfile::tempdir().unwrap();
    let fixture = common::root().join("crates/cli/tests/fixtures/two-clients.toml");
    let run = common::packetlab(&[
        "run",
        fixture.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "-q",
    ]);
    assert!(run.status.success(), "{run:?}");
    for file in ["two-clients.trace.jsonl", "two-clients.pcapng"] {
        let timeline = Timeline::load(&out.path().join(file)).unwrap();
        assert_eq!(
            timeline.connections.len(),
            2,
            "{file}: {:?}",
            timeline.connections
        );
        let mut stepper = Stepper::new(timeline);
        let steps = stepper.timeline().steps.clone();
        let tcp_frames = steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Frame(_)) && s.conn.is_some())
            .count();
        let mut frames_seen = 0;
        for conn in 0..2 {
            press(&mut stepper, &keys("c"));
            assert_eq!(stepper.filter(), Some(conn));
            press(&mut stepper, &[KeyCode::Home]);
            let mut shown = vec![stepper.current().unwrap()];
            loop {
                let before = stepper.current();
                press(&mut stepper, &[KeyCode::Down]);
                if stepper.current() == before {
                    break;
                }
                shown.push(stepper.current().unwrap());
            }
            assert!(shown.iter().all(|&i| steps[i].conn == Some(conn)), "{file}");
            frames_seen += shown
                .iter()
                .filter(|&&i| matches!(steps[i].kind, StepKind::Frame(_)))
                .count();
            let ladder = pane(&stepper, (100, 8), Stepper::render_ladder);
            let label = &stepper.timeline().connections[conn];
            assert!(ladder.contains(label.as_str()), "{file}: {ladder}");
        }
        assert_eq!(
            frames_seen, tcp_frames,
            "{file}: every TCP frame in one connection"
        );
        // Back to everything; a jump to a frame outside the shown connection shows all.
        press(&mut stepper, &keys("c"));
        assert_eq!(stepper.filter(), None);
        press(&mut stepper, &keys("c"));
        let elsewhere = steps
            .iter()
            .find_map(|s| match &s.kind {
                StepKind::Frame(f) if s.conn == Some(1) => Some(f.number),
                _ => None,
            })
            .unwrap();
        press(&mut stepper, &keys(&format!("g{elsewhere}\n")));
        assert_eq!(stepper.filter(), None);
        match &steps[stepper.current().unwrap()].kind {
            StepKind::Frame(f) => assert_eq!(f.number, elsewhere),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_last_step_of_a_capture_cut_short_says_where_it_was_cut() {
    let whole = std::fs::read(common::root().join("captures/handshake.pcapng")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &whole[..whole.len() - 30]).unwrap();
    let mut stepper = Stepper::new(Timeline::load(&cut).unwrap());
    press(&mut stepper, &[KeyCode::End]);
    let text = pane(&stepper, (100, 30), Stepper::render_states);
    assert!(text.contains("the capture ends here"), "{text}");
    press(&mut stepper, &[KeyCode::Home]);
    let text = pane(&stepper, (100, 30), Stepper::render_states);
    assert!(!text.contains("the capture ends here"), "{text}");
}

/// The columns of the chart where the current step's line (yellow) is drawn.
fn cursor_columns(stepper: &Stepper) -> Vec<u16> {
    let mut terminal = Terminal::new(TestBackend::new(150, 44)).unwrap();
    terminal
        .draw(|frame| stepper.render(frame.area(), frame.buffer_mut()))
        .unwrap();
    let buf = terminal.backend().buffer();
    let mut columns: Vec<u16> = (0..150)
        .filter(|&x| {
            // The chart is the bottom part of the screen.
            (27..42).any(|y| {
                let cell = &buf[(x, y)];
                cell.fg == ratatui::style::Color::Yellow && cell.symbol() != " "
            })
        })
        .collect();
    columns.dedup();
    columns
}

#[test]
fn v_shows_cwnd_and_in_flight_over_time_with_the_current_step_marked() {
    let mut stepper = Stepper::new(load("captures/congestion.trace.jsonl"));
    press(&mut stepper, &keys("v"));
    assert!(stepper.chart_shown());
    let screen = pane(&stepper, (150, 44), Stepper::render);
    for words in [
        "Congestion window",
        "cwnd",
        "ssthresh",
        "bytes in flight",
        "v hides",
    ] {
        assert!(screen.contains(words), "{words} missing:\n{screen}");
    }
    assert!(
        !screen.contains("Hex"),
        "the chart takes the frame's panes' place"
    );
    // The current step's line moves right as the steps go on.
    press(&mut stepper, &[KeyCode::PageDown; 10]);
    let early = cursor_columns(&stepper);
    press(&mut stepper, &[KeyCode::PageDown; 30]);
    let late = cursor_columns(&stepper);
    assert!(!early.is_empty() && !late.is_empty(), "{early:?} {late:?}");
    assert!(late[0] > early[0] + 20, "{early:?} then {late:?}");
    press(&mut stepper, &keys("v"));
    assert!(pane(&stepper, (150, 44), Stepper::render).contains("Hex"));
}

#[test]
fn the_quiz_asks_before_each_state_change_and_keeps_the_score() {
    let timeline = load("captures/handshake.trace.jsonl");
    let conn = timeline::quiz::default_connection(&timeline).unwrap();
    let questions = timeline::quiz::questions(&timeline, conn);
    assert!(questions.len() >= 6, "{} questions", questions.len());
    let mut stepper = Stepper::new(timeline).with_quiz();
    let screen = pane(&stepper, (150, 44), Stepper::render);
    assert!(
        screen.contains(&format!("Question 1 of {}", questions.len())),
        "{screen}"
    );
    // The step asked about is not shown yet, nor anything after it.
    assert_eq!(stepper.current(), Some(questions[0].step - 1));
    let first = &questions[0];
    assert!(first.options.len() >= 3);
    let right = char::from(b'1' + first.answer as u8);
    press(&mut stepper, &[KeyCode::Char(right)]);
    assert_eq!(stepper.current(), Some(first.step));
    let screen = pane(&stepper, (150, 44), Stepper::render);
    assert!(
        screen.contains(&format!("Right: {}", first.options[first.answer])),
        "{screen}"
    );
    // Stepping on stops before the next state change and asks; a wrong answer is told so.
    for _ in 0..200 {
        press(&mut stepper, &[KeyCode::Down]);
        if pane(&stepper, (150, 44), Stepper::render).contains("Question 2 of") {
            break;
        }
    }
    let second = &questions[1];
    assert_eq!(stepper.current(), Some(second.step - 1));
    let wrong = char::from(b'1' + ((second.answer + 1) % second.options.len()) as u8);
    press(&mut stepper, &[KeyCode::Char(wrong)]);
    let screen = pane(&stepper, (150, 44), Stepper::render);
    assert!(
        screen.contains(&format!(
            "Not quite: it is {}",
            second.options[second.answer]
        )),
        "{screen}"
    );
    assert!(screen.contains("score 1"), "{screen}");
}
