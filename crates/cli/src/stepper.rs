//! `packetlab step`: a terminal stepper over a timeline. A ladder of frames between the
//! endpoints on the left, each endpoint's state and variables on the right, the current frame
//! by layer and in hex below, and a help line that is always there.
//!
//! The state is a plain struct driven by key codes, and each pane renders into a buffer, so the
//! tests drive it with ratatui's test backend exactly as the terminal loop does.

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use timeline::dissect;
use timeline::{Source, StepKind, Timeline};

mod chart;
mod quiz;

/// The stepper's state: where the cursor is and what is shown.
pub struct Stepper {
    timeline: Timeline,
    /// Indices of the steps shown (all, or one connection's).
    visible: Vec<usize>,
    /// Position in `visible`.
    cursor: usize,
    /// The connection shown, if filtered.
    filter: Option<usize>,
    /// Digits typed after `g`, while a frame number is being entered.
    input: Option<String>,
    /// A one-line message for the help bar (a jump that failed).
    message: Option<String>,
    /// The picture pane, made the first time it is shown (or why there is none).
    chart: Option<Result<chart::Chart, String>>,
    /// Whether the picture pane is shown in place of the frame's layers and hex.
    chart_shown: bool,
    /// Predict, then see (`--quiz`).
    quiz: Option<quiz::Quiz>,
}

impl Stepper {
    /// A stepper at the first step, showing everything.
    pub fn new(timeline: Timeline) -> Stepper {
        let visible = (0..timeline.steps.len()).collect();
        Stepper {
            timeline,
            visible,
            cursor: 0,
            filter: None,
            input: None,
            message: None,
            chart: None,
            chart_shown: false,
            quiz: None,
        }
    }

    /// The same stepper as a quiz: it stops before each state change of the connection with
    /// the most of them and asks what comes next, starting with the first.
    pub fn with_quiz(mut self) -> Stepper {
        let mut quiz = quiz::Quiz::new(&self.timeline);
        if let Some(first) = (0..self.timeline.steps.len()).find(|&i| quiz.ask_before(i)) {
            self.cursor = first.saturating_sub(1);
        }
        self.quiz = Some(quiz);
        self
    }

    /// Whether the picture pane is shown.
    pub fn chart_shown(&self) -> bool {
        self.chart_shown
    }

    /// A key while a quiz question is on screen: Some(quit?) when the quiz took it.
    fn quiz_key(&mut self, key: KeyCode) -> Option<bool> {
        let quiz = self.quiz.as_mut()?;
        quiz.clear_verdict();
        if !quiz.pending() {
            return None;
        }
        match key {
            KeyCode::Char('q') | KeyCode::Esc => Some(true),
            KeyCode::Char(c) => {
                if let Some(step) = quiz.answer(c) {
                    self.go_to_step(step);
                }
                Some(false)
            }
            _ => Some(false),
        }
    }

    /// After a move from `before`: a forward move onto a state change to predict stops just
    /// before it, and the question is asked.
    fn quiz_gate(&mut self, before: usize) {
        let step = self.current();
        let (Some(quiz), Some(step)) = (self.quiz.as_mut(), step) else {
            return;
        };
        if self.cursor > before && quiz.ask_before(step) {
            self.cursor -= 1;
        }
    }

    /// Put the cursor on timeline step `step`, showing everything if a filter hides it.
    fn go_to_step(&mut self, step: usize) {
        if !self.visible.contains(&step) {
            self.set_filter(None);
        }
        if let Some(at) = self.visible.iter().position(|&i| i == step) {
            self.cursor = at;
        }
    }

    /// The timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The index of the current step in the timeline, if there is any step.
    pub fn current(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    /// The connection being shown, if the view is filtered.
    pub fn filter(&self) -> Option<usize> {
        self.filter
    }

    /// Handle one key; true means quit.
    pub fn handle(&mut self, key: KeyCode) -> bool {
        if let Some(input) = &mut self.input {
            match key {
                KeyCode::Char(c) if c.is_ascii_digit() => input.push(c),
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Enter => {
                    let typed = self.input.take().unwrap_or_default();
                    self.jump_to_frame(&typed);
                }
                KeyCode::Esc => self.input = None,
                _ => {}
            }
            return false;
        }
        if let Some(quit) = self.quiz_key(key) {
            return quit;
        }
        self.message = None;
        let last = self.visible.len().saturating_sub(1);
        let before = self.cursor;
        match key {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Down | KeyCode::Char('j' | 'n' | ' ') => {
                self.cursor = (self.cursor + 1).min(last)
            }
            KeyCode::Up | KeyCode::Char('k' | 'p') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::PageDown => self.cursor = (self.cursor + 20).min(last),
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(20),
            KeyCode::Home | KeyCode::Char('<') => self.cursor = 0,
            KeyCode::End | KeyCode::Char('>') => self.cursor = last,
            KeyCode::Char('t') => self.next_transition(true),
            KeyCode::Char('T') => self.next_transition(false),
            KeyCode::Char('g') => self.input = Some(String::new()),
            KeyCode::Char('c') => self.cycle_filter(true),
            KeyCode::Char('C') => self.cycle_filter(false),
            KeyCode::Char('v') => self.toggle_chart(),
            _ => {}
        }
        self.quiz_gate(before);
        false
    }

    fn toggle_chart(&mut self) {
        self.chart_shown = !self.chart_shown;
        if self.chart_shown && self.chart.is_none() {
            self.chart = Some(chart::Chart::load(&self.timeline.source));
        }
    }

    fn next_transition(&mut self, forward: bool) {
        let steps = &self.timeline.steps;
        let found = if forward {
            (self.cursor + 1..self.visible.len()).find(|&i| steps[self.visible[i]].is_transition())
        } else {
            (0..self.cursor)
                .rev()
                .find(|&i| steps[self.visible[i]].is_transition())
        };
        match found {
            Some(i) => self.cursor = i,
            None => {
                self.message = Some(if forward {
                    "no later transition".into()
                } else {
                    "no earlier transition".into()
                })
            }
        }
    }

    fn jump_to_frame(&mut self, typed: &str) {
        let Ok(number) = typed.parse::<u64>() else {
            self.message = Some("type a frame number, then Enter".into());
            return;
        };
        let Some(step) = self.timeline.frame_step(number) else {
            self.message = Some(format!("there is no frame #{number}"));
            return;
        };
        if !self.visible.contains(&step) {
            // The frame is outside the connection shown: show everything rather than refuse.
            self.set_filter(None);
            self.message = Some(format!(
                "frame #{number} is in another connection: showing all"
            ));
        }
        if let Some(i) = self.visible.iter().position(|&s| s == step) {
            self.cursor = i;
        }
    }

    fn cycle_filter(&mut self, forward: bool) {
        let n = self.timeline.connections.len();
        if n == 0 {
            self.message = Some("no TCP connection to filter by".into());
            return;
        }
        // None, 0, 1, …, n-1, None, …
        let next = match (self.filter, forward) {
            (None, true) => Some(0),
            (Some(i), true) if i + 1 < n => Some(i + 1),
            (Some(_), true) => None,
            (None, false) => Some(n - 1),
            (Some(0), false) => None,
            (Some(i), false) => Some(i - 1),
        };
        self.set_filter(next);
    }

    fn set_filter(&mut self, filter: Option<usize>) {
        let current = self.current();
        self.filter = filter;
        self.visible = (0..self.timeline.steps.len())
            .filter(|&i| filter.is_none() || self.timeline.steps[i].conn == filter)
            .collect();
        // Stay at the same moment: the last shown step at or before the old one.
        self.cursor = match current {
            Some(c) => self.visible.iter().rposition(|&s| s <= c).unwrap_or(0),
            None => 0,
        };
    }

    /// Draw the whole screen.
    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let [main, help] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(1)]).areas(area);
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(main);
        let [ladder, states] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(top);
        let hex_width = if bottom.width >= 150 { 76 } else { 44 };
        let [layers, hex] =
            Layout::horizontal([Constraint::Min(20), Constraint::Length(hex_width)]).areas(bottom);
        self.render_ladder(ladder, buf);
        self.render_states(states, buf);
        match (&self.chart, self.chart_shown) {
            (Some(Ok(chart)), true) => {
                let now = self.current().map_or(0, |i| self.timeline.steps[i].t_ns);
                chart.render(bottom, buf, now as f64 / 1e9);
            }
            (Some(Err(why)), true) => Paragraph::new(format!("no picture: {why}"))
                .wrap(Wrap { trim: false })
                .block(Stepper::title_block(" Picture · v hides ".to_string()))
                .render(bottom, buf),
            _ => {
                self.render_layers(layers, buf);
                self.render_hex(hex, buf);
            }
        }
        if let Some(quiz) = &self.quiz {
            quiz.render(main, buf);
        }
        self.render_help(help, buf);
    }

    fn title_block(title: String) -> Block<'static> {
        Block::bordered().title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
    }

    /// The ladder: one row per step, columns for the endpoints, arrows for frames.
    pub fn render_ladder(&self, area: Rect, buf: &mut Buffer) {
        let filter = match self.filter {
            Some(i) => format!(" · {}", self.timeline.connections[i]),
            None => String::new(),
        };
        let position = match self.current() {
            Some(_) => format!("step {}/{}", self.cursor + 1, self.visible.len()),
            None => "no steps".to_string(),
        };
        let block = Stepper::title_block(format!(" Ladder · {position}{filter} "));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height < 2 || inner.width < 20 {
            return;
        }
        let time_width: u16 = 11;
        // Filtered to one connection, only the columns it touches are drawn.
        let shown = self.shown_columns();
        let mut slot = vec![None; self.timeline.columns.len()];
        for (i, &c) in shown.iter().enumerate() {
            slot[c] = Some(i as u16);
        }
        let span = inner.width.saturating_sub(time_width + 1);
        let n = shown.len().max(1) as u16;
        let x_of = |c: usize| {
            let i = slot.get(c).copied().flatten().unwrap_or(0);
            inner.x + time_width + (span * (2 * i + 1)) / (2 * n)
        };
        // Header: column names centred over their lines.
        for &c in &shown {
            let name = &self.timeline.columns[c];
            let width = (span / n).max(4) as usize - 1;
            let name: String = name.chars().take(width).collect();
            let x = x_of(c).saturating_sub(name.chars().count() as u16 / 2);
            buf.set_string(
                x,
                inner.y,
                &name,
                Style::default().add_modifier(Modifier::BOLD),
            );
        }
        let rows = (inner.height - 1) as usize;
        let offset = self
            .cursor
            .saturating_sub(rows / 2)
            .min(self.visible.len().saturating_sub(rows));
        for (row, &index) in self.visible.iter().enumerate().skip(offset).take(rows) {
            // In a quiz the ladder ends at the cursor: what comes next is to be predicted.
            if self.quiz.is_some() && row > self.cursor {
                break;
            }
            let y = inner.y + 1 + (row - offset) as u16;
            let step = &self.timeline.steps[index];
            let selected = row == self.cursor;
            // The current row gets a background band, keeping each part's colour readable.
            let base = if selected {
                Style::default().bg(Color::Indexed(238))
            } else {
                Style::default()
            };
            for x in inner.x..inner.x + inner.width {
                buf[(x, y)].set_symbol(" ").set_style(base);
            }
            buf.set_string(
                inner.x,
                y,
                format!("{:>10}", trace::Time(step.t_ns).to_string()),
                base.fg(if selected {
                    Color::White
                } else {
                    Color::DarkGray
                }),
            );
            for &c in &shown {
                buf[(x_of(c), y)].set_symbol("│");
            }
            draw_step(buf, &step.kind, &x_of, (y, inner, base, time_width));
        }
    }

    /// Every endpoint's state and variables at the current step, and the step itself.
    pub fn render_states(&self, area: Rect, buf: &mut Buffer) {
        let title = match self.timeline.kind {
            Source::Trace => " Endpoints (as the stacks logged them) ",
            Source::Capture => " Endpoints (inferred from the packets) ",
        };
        let mut lines: Vec<Line> = Vec::new();
        if let Some(index) = self.current() {
            let step = &self.timeline.steps[index];
            lines.push(Line::from(vec![
                Span::styled(
                    format!("t={} ", trace::Time(step.t_ns)),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::raw(step.describe(&self.timeline.columns)),
            ]));
            if let StepKind::Frame(f) = &step.kind
                && let Some(comment) = &f.comment
            {
                lines.push(Line::styled(
                    format!("comment: {comment}"),
                    Style::default().fg(Color::Yellow),
                ));
            }
            if index + 1 == self.timeline.steps.len()
                && let Some(cut) = &self.timeline.cut_short
            {
                lines.push(Line::styled(
                    format!("the capture ends here, {cut}"),
                    Style::default().fg(Color::Red),
                ));
            }
            lines.push(Line::raw(""));
            for s in self.timeline.states_at(index) {
                if self.filter.is_some() && s.conn != self.filter {
                    continue;
                }
                let changed = s.since == index;
                let style = if changed {
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default().add_modifier(Modifier::BOLD)
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", s.state), style),
                    Span::raw(s.endpoint.clone()),
                ]));
                let idle = matches!(s.state, trace::TcpState::Listen | trace::TcpState::Closed);
                if let Some(v) = s.vars.filter(|_| !idle) {
                    lines.push(Line::styled(
                        format!("  {v}"),
                        Style::default().fg(Color::Gray),
                    ));
                }
            }
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Stepper::title_block(title.to_string()))
            .render(area, buf);
    }

    /// The frame of the current step: the step's own, the one that caused a transition, or
    /// the latest before it.
    fn frame_in_view(&self) -> Option<&timeline::FrameStep> {
        let index = self.current()?;
        let steps = &self.timeline.steps;
        if let StepKind::Transition(t) = &steps[index].kind
            && let Some(n) = t.cause_frame
            && let Some(i) = self.timeline.frame_step(n)
            && let StepKind::Frame(f) = &steps[i].kind
        {
            return Some(f);
        }
        self.visible[..=self.cursor]
            .iter()
            .rev()
            .find_map(|&i| match &steps[i].kind {
                StepKind::Frame(f) => Some(f),
                _ => None,
            })
    }

    /// The ladder's columns in view: all of them, or those the filtered connection uses.
    fn shown_columns(&self) -> Vec<usize> {
        if self.filter.is_none() {
            return (0..self.timeline.columns.len()).collect();
        }
        let mut used = std::collections::BTreeSet::new();
        for &i in &self.visible {
            match &self.timeline.steps[i].kind {
                StepKind::Frame(f) => {
                    used.insert(f.from);
                    used.insert(f.to);
                }
                StepKind::Transition(t) => {
                    used.insert(t.column);
                }
                StepKind::Note { column, .. } => used.extend(*column),
            }
        }
        used.into_iter().collect()
    }

    /// The current frame taken apart by layer.
    pub fn render_layers(&self, area: Rect, buf: &mut Buffer) {
        let frame = self.frame_in_view();
        let title = match frame {
            Some(f) => format!(" Frame #{} by layer ", f.number),
            None => " Frame ".to_string(),
        };
        let mut lines: Vec<Line> = Vec::new();
        match frame {
            Some(f) => match &f.bytes {
                Some(bytes) => {
                    for layer in dissect::layers(bytes, f.number, f.len) {
                        lines.push(Line::styled(
                            layer.title,
                            Style::default().add_modifier(Modifier::BOLD),
                        ));
                        if !layer.fields.is_empty() {
                            lines.push(Line::raw(format!("  {}", layer.fields.join(" · "))));
                        }
                    }
                }
                None => {
                    lines.push(Line::raw(f.info.clone()));
                    lines.push(Line::styled(
                        "(no capture beside the trace: the bytes are not at hand)",
                        Style::default().fg(Color::DarkGray),
                    ));
                }
            },
            None => lines.push(Line::raw("no frame yet")),
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Stepper::title_block(title))
            .render(area, buf);
    }

    /// The current frame in hex.
    pub fn render_hex(&self, area: Rect, buf: &mut Buffer) {
        let frame = self.frame_in_view();
        let per_line = if area.width >= 76 { 16 } else { 8 };
        let lines: Vec<Line> = frame
            .and_then(|f| f.bytes.as_ref())
            .map(|b| {
                dissect::hex_dump(&b.data, per_line)
                    .into_iter()
                    .map(Line::raw)
                    .collect()
            })
            .unwrap_or_default();
        Paragraph::new(lines)
            .block(Stepper::title_block(" Hex ".to_string()))
            .render(area, buf);
    }

    /// The help line, or the frame number being typed.
    pub fn render_help(&self, area: Rect, buf: &mut Buffer) {
        let key = Style::default()
            .fg(Color::Black)
            .bg(Color::Gray)
            .add_modifier(Modifier::BOLD);
        let spans: Vec<Span> = if let Some(input) = &self.input {
            vec![
                Span::styled(" go to frame: ", key),
                Span::raw(format!(" {input}_ ")),
                Span::raw("  Enter jump · Esc cancel"),
            ]
        } else {
            let mut spans = Vec::new();
            // Every key the stepper takes, in under 100 columns.
            for (k, what) in [
                ("↓n ↑p", "step"),
                ("t T", "transition"),
                ("g", "frame"),
                ("c C", "connection"),
                ("Home End", "ends"),
                ("v", "plot"),
                ("q", "quit"),
            ] {
                spans.push(Span::styled(format!(" {k} "), key));
                spans.push(Span::raw(format!(" {what} ")));
            }
            if let Some(quiz) = &self.quiz {
                spans.push(Span::styled(
                    format!("score {} ", quiz.score()),
                    Style::default().fg(Color::Green),
                ));
            }
            if let Some(message) = &self.message {
                spans.push(Span::styled(
                    message.clone(),
                    Style::default().fg(Color::Yellow),
                ));
            }
            spans
        };
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

/// A frame's arrow from lane `a` to lane `b` on row `y`, labelled on the shaft when it fits
/// and beside it (up to `right`) when not; a lost frame is dashed and crossed out.
fn draw_arrow(
    buf: &mut Buffer,
    f: &timeline::FrameStep,
    (a, b): (u16, u16),
    (y, right): (u16, u16),
    base: Style,
) {
    let style = base.fg(if f.comment.is_some() {
        Color::Yellow
    } else {
        Color::Cyan
    });
    let (lo, hi) = (a.min(b), a.max(b));
    let (shaft, head_right, head_left) = if f.lost {
        ("╌", "✕", "✕")
    } else {
        ("─", "▶", "◀")
    };
    let style = if f.lost { style.fg(Color::Red) } else { style };
    for x in lo + 1..hi {
        buf[(x, y)].set_symbol(shaft).set_style(style);
    }
    if b > a {
        buf[(hi - 1, y)].set_symbol(head_right).set_style(style);
    } else if b < a {
        buf[(lo + 1, y)].set_symbol(head_left).set_style(style);
    }
    let label = format!("#{} {}", f.number, f.label);
    let room = (hi - lo).saturating_sub(4) as usize;
    if room >= 12 {
        let label: String = label.chars().take(room).collect();
        let x = lo + 2 + (room - label.chars().count()) as u16 / 2;
        buf.set_string(x, y, label, style);
    } else {
        let x = hi + 2;
        if x < right {
            buf.set_stringn(x, y, label, (right - x) as usize, style);
        }
    }
}

/// Write `text` to the right of `x`, or to its left when it does not fit there.
fn draw_beside(buf: &mut Buffer, x: u16, y: u16, inner: Rect, text: &str, style: Style) {
    let right = inner.x + inner.width;
    let len = text.chars().count() as u16;
    if x + 1 + len <= right {
        buf.set_string(x + 1, y, text, style);
    } else if x >= inner.x + 11 + len {
        buf.set_string(x - len, y, text.trim_start(), style);
    } else {
        let start = x + 1;
        if start < right {
            buf.set_stringn(start, y, text, (right - start) as usize, style);
        }
    }
}

/// Run the stepper in the terminal until the user quits; `quiz` asks before each state change.
pub fn run(timeline: Timeline, quiz: bool) -> std::io::Result<()> {
    let mut stepper = Stepper::new(timeline);
    if quiz {
        stepper = stepper.with_quiz();
    }
    let mut terminal = ratatui::init();
    let result = (|| loop {
        terminal.draw(|frame| stepper.render(frame.area(), frame.buffer_mut()))?;
        if let Event::Key(key) = event::read()? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            let ctrl_c =
                key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
            if ctrl_c || stepper.handle(key.code) {
                return Ok(());
            }
        }
    })();
    ratatui::restore();
    result
}

/// The buffer's characters, one line per row, trailing blanks cut: what a snapshot compares.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.y..area.y + area.height {
        let mut line = String::new();
        for x in area.x..area.x + area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One step on its row `y` of the ladder: a frame's arrow, a transition's dot and its states,
/// a note's first line; `x_of` places each column, `time_width` is the time's.
fn draw_step(
    buf: &mut Buffer,
    kind: &StepKind,
    x_of: &dyn Fn(usize) -> u16,
    (y, inner, base, time_width): (u16, Rect, Style, u16),
) {
    match kind {
        StepKind::Frame(f) => {
            let right = inner.x + inner.width;
            draw_arrow(buf, f, (x_of(f.from), x_of(f.to)), (y, right), base)
        }
        StepKind::Transition(t) => {
            let x = x_of(t.column);
            let style = base.fg(Color::Yellow).add_modifier(Modifier::BOLD);
            buf[(x, y)].set_symbol("●").set_style(style);
            let source = t.source.as_deref().map(|s| format!("  ← {s}"));
            let text = format!(
                " {}: {} → {}{}",
                t.key,
                t.from,
                t.to,
                source.unwrap_or_default()
            );
            draw_beside(buf, x, y, inner, &text, style);
        }
        StepKind::Note { column, text } => {
            let style = base.fg(Color::Gray);
            let x = column.map_or(inner.x + time_width, x_of);
            let text = format!(" {}", text.lines().next().unwrap_or(""));
            draw_beside(buf, x, y, inner, &text, style);
        }
    }
}
