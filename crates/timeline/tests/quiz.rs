//! The quiz's questions, over every committed trace: one before each state change of the
//! connection asked about, the right answer among 2 to 4 choices, never the state it leaves.

use std::path::Path;

use packetlab_timeline::{StepKind, Timeline, quiz};

#[test]
fn every_question_offers_the_true_next_state_among_few() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures");
    let mut asked = 0;
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let path = entry.path();
        if !path.to_string_lossy().ends_with(".trace.jsonl") {
            continue;
        }
        let timeline = Timeline::load(&path).unwrap();
        let Some(conn) = quiz::default_connection(&timeline) else {
            continue;
        };
        let questions = quiz::questions(&timeline, conn);
        let transitions = timeline
            .steps
            .iter()
            .filter(|s| s.conn == Some(conn) && s.is_transition())
            .count();
        assert_eq!(questions.len(), transitions, "{}", path.display());
        for q in &questions {
            let StepKind::Transition(t) = &timeline.steps[q.step].kind else {
                panic!(
                    "{}: question about a step that is no transition",
                    path.display()
                );
            };
            assert_eq!(q.options[q.answer], t.to.to_string());
            assert!((2..=4).contains(&q.options.len()), "{:?}", q.options);
            assert!(!q.options.contains(&t.from.to_string()), "{:?}", q.options);
            assert_eq!(q.rule, t.rule);
            asked += 1;
        }
    }
    assert!(asked > 100, "{asked} questions");
}
