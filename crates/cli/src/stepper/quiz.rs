//! `packetlab step --quiz`: before each state change of one connection the stepper stops and
//! asks what comes next; a digit answers, the verdict comes with the rule, and the score with
//! the last answer.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use timeline::Timeline;
use timeline::quiz::Question;

/// The questions, the answers given, and the one being asked.
pub struct Quiz {
    questions: Vec<Question>,
    answers: HashMap<usize, usize>,
    /// The question on screen, an index into `questions`.
    pending: Option<usize>,
    /// What the last answer showed, until the next key.
    verdict: Option<Vec<Line<'static>>>,
}

impl Quiz {
    /// The questions of the connection with the most state changes.
    pub fn new(timeline: &Timeline) -> Quiz {
        let questions = timeline::quiz::default_connection(timeline)
            .map(|c| timeline::quiz::questions(timeline, c))
            .unwrap_or_default();
        Quiz {
            questions,
            answers: HashMap::new(),
            pending: None,
            verdict: None,
        }
    }

    /// The unanswered question about step `step`, if any: it is asked before the step shows.
    pub fn ask_before(&mut self, step: usize) -> bool {
        let Some(q) = self.questions.iter().position(|q| q.step == step) else {
            return false;
        };
        if self.answers.contains_key(&q) {
            return false;
        }
        self.pending = Some(q);
        true
    }

    /// Whether a question is on screen.
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }

    /// A key while a question is on screen: a digit answers and returns the step it was
    /// about (to be shown now); anything else leaves it asked.
    pub fn answer(&mut self, digit: char) -> Option<usize> {
        let q = self.pending?;
        let chosen = digit.to_digit(10)? as usize;
        let question = &self.questions[q];
        if chosen == 0 || chosen > question.options.len() {
            return None;
        }
        self.pending = None;
        self.answers.insert(q, chosen - 1);
        let right = chosen - 1 == question.answer;
        let (word, colour) = if right {
            ("Right: ", Color::Green)
        } else {
            ("Not quite: it is ", Color::Red)
        };
        let bold = Style::default().fg(colour).add_modifier(Modifier::BOLD);
        let mut lines = vec![
            Line::styled(format!("{word}{}", question.options[question.answer]), bold),
            Line::raw(question.rule.clone()),
        ];
        if self.answers.len() == self.questions.len() {
            lines.push(Line::styled(
                format!("Score: {} of {}", self.score(), self.questions.len()),
                bold,
            ));
        }
        self.verdict = Some(lines);
        Some(question.step)
    }

    /// Right answers so far.
    pub fn score(&self) -> usize {
        self.answers
            .iter()
            .filter(|(q, a)| self.questions[**q].answer == **a)
            .count()
    }

    /// Forget the verdict once the learner moves on.
    pub fn clear_verdict(&mut self) {
        self.verdict = None;
    }

    /// The question or the verdict, over the middle of `area`.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let lines: Vec<Line> = match (self.pending, &self.verdict) {
            (Some(q), _) => {
                let q = &self.questions[q];
                let n = self.questions.iter().position(|x| x == q).unwrap_or(0) + 1;
                let mut lines = vec![Line::raw(format!(
                    "Question {n} of {}: {}",
                    self.questions.len(),
                    q.prompt
                ))];
                for (i, o) in q.options.iter().enumerate() {
                    lines.push(Line::raw(format!("  {}  {o}", i + 1)));
                }
                lines.push(Line::styled(
                    "a digit answers",
                    Style::default().fg(Color::DarkGray),
                ));
                lines
            }
            (None, Some(verdict)) => verdict.clone(),
            (None, None) => return,
        };
        let width = area.width.min(70);
        let height = (lines.len() as u16 + 4).min(area.height);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        Clear.render(popup, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Predict, then see "))
            .render(popup, buf);
    }
}
