//! Predict, then see: before each state change of one connection the learner picks the next
//! state from a short list; the answer comes with the rule that decided it. The stepper and
//! the report ask the same questions, made here.

use trace::TcpState;

use crate::{StepKind, Timeline};

/// One question, asked before step `step` is shown.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Question {
    /// The step it is about (a transition), from 0.
    pub step: usize,
    /// What is asked: "client#1 is in SYN-SENT, and frame #2 arrives. Its next state?".
    pub prompt: String,
    /// The choices, in RFC 9293's order of states.
    pub options: Vec<String>,
    /// The right one, an index into `options`.
    pub answer: usize,
    /// The rule that decided it, shown with the answer.
    pub rule: String,
}

/// The states RFC 9293's diagram (§3.3.2) allows after `from`, plus CLOSED by an abort.
fn successors(from: TcpState) -> &'static [TcpState] {
    use TcpState::*;
    match from {
        Closed => &[Listen, SynSent],
        Listen => &[SynReceived, SynSent, Closed],
        SynSent => &[SynReceived, Established, Closed],
        SynReceived => &[Established, FinWait1, Listen, Closed],
        Established => &[FinWait1, CloseWait, Closed],
        FinWait1 => &[FinWait2, Closing, TimeWait, Closed],
        FinWait2 => &[TimeWait, Closed],
        Closing => &[TimeWait, Closed],
        TimeWait => &[Closed],
        CloseWait => &[LastAck, Closed],
        LastAck => &[Closed],
    }
}

/// Believable wrong answers when the diagram leaves few: the states learners confuse.
const FALLBACK: [TcpState; 4] = [
    TcpState::Established,
    TcpState::TimeWait,
    TcpState::FinWait2,
    TcpState::Listen,
];

/// The questions for connection `conn` (an index into [`Timeline::connections`]): one before
/// each of its transitions.
pub fn questions(timeline: &Timeline, conn: usize) -> Vec<Question> {
    let mut out = Vec::new();
    for (i, step) in timeline.steps.iter().enumerate() {
        let StepKind::Transition(t) = &step.kind else {
            continue;
        };
        if step.conn != Some(conn) {
            continue;
        }
        let mut choices: Vec<TcpState> = vec![t.to];
        for s in successors(t.from).iter().chain(FALLBACK.iter()) {
            if choices.len() < 4 && *s != t.from && !choices.contains(s) {
                choices.push(*s);
            }
        }
        choices.sort_by_key(|s| TcpState::ALL.iter().position(|a| a == s));
        let by = match (t.cause_frame, t.cause.split_once(' ')) {
            (Some(n), _) => format!("frame #{n} arrives"),
            (None, Some(("call", call))) => format!("the program calls {call}"),
            (None, Some(("timer", timer))) => format!("its {timer} timer expires"),
            _ => format!("{} happens", t.cause),
        };
        out.push(Question {
            step: i,
            prompt: format!("{} is in {}, and {by}. Its next state?", t.key, t.from),
            options: choices.iter().map(|s| s.to_string()).collect(),
            answer: choices.iter().position(|s| *s == t.to).unwrap_or(0),
            rule: t.rule.clone(),
        });
    }
    out
}

/// The connection a quiz follows by default: the one with the most transitions.
pub fn default_connection(timeline: &Timeline) -> Option<usize> {
    let mut counts = vec![0usize; timeline.connections.len()];
    for step in &timeline.steps {
        if let (StepKind::Transition(_), Some(c)) = (&step.kind, step.conn) {
            counts[c] += 1;
        }
    }
    (0..counts.len())
        .filter(|&c| counts[c] > 0)
        .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
}
