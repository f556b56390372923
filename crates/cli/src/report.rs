//! `packetlab report`: one self-contained HTML file with an SVG ladder diagram of a timeline.
//! One column per endpoint, one arrow per frame labelled like Wireshark's Info column, each
//! state change drawn beside its column, the comments of the frames that caused transitions,
//! and stepping by keyboard or click that shows one step at a time with the variables.
//!
//! The page fetches nothing: a Content-Security-Policy forbids it, so a stray external
//! reference would be a console error, which the browser test looks for.

use std::fmt::Write as _;

use serde::Serialize;

use timeline::dissect;
use timeline::{Source, StepKind, Timeline};

/// Steps drawn at most; a bigger capture is cut here, and the page says so.
pub const MAX_STEPS: usize = 50_000;

/// What the page's script needs of one step.
#[derive(Serialize)]
struct StepData {
    /// Time, seconds as text.
    t: String,
    /// `frame`, `transition` or `note`.
    kind: &'static str,
    /// The step in one line.
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    /// For a transition: the endpoint's short name, in full, its new state and variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vars: Option<String>,
    /// For a frame: its layers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    layers: Vec<dissect::Layer>,
}

/// Escape text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A colour per state family, so the eye follows a connection's life down a column.
fn state_class(state: trace::TcpState) -> &'static str {
    use trace::TcpState::*;
    match state {
        Closed => "s-closed",
        Listen => "s-listen",
        SynSent | SynReceived => "s-open",
        Established => "s-est",
        FinWait1 | FinWait2 | Closing | TimeWait => "s-active",
        CloseWait | LastAck => "s-passive",
    }
}

const ROW: u32 = 24;
/// A frame with a comment gets a second line for it, under the arrow.
const COMMENTED_ROW: u32 = 40;
const TOP: u32 = 16;
const LEFT: u32 = 84;

/// The whole page.
pub fn render(timeline: &Timeline) -> String {
    let steps = &timeline.steps[..timeline.steps.len().min(MAX_STEPS)];
    let cut = timeline.steps.len() - steps.len();
    // With many columns the arrows carry the short label (flags, seq, ack, len), so the
    // ladder stays within reach; the full Info line is in the side pane either way.
    let short = timeline.columns.len() > 3;
    let label_of = |f: &timeline::FrameStep| {
        if short {
            f.label.clone()
        } else {
            f.info.clone()
        }
    };
    // Each gap between neighbouring lanes is as wide as the longest label that must fit in
    // it: an arrow across several gaps shares its label's width among them.
    let mut need = vec![200u32; timeline.columns.len().saturating_sub(1)];
    for step in steps {
        if let StepKind::Frame(f) = &step.kind {
            let (lo, hi) = (f.from.min(f.to), f.from.max(f.to));
            if hi > lo {
                let width = (label_of(f).chars().count() as u32 * 15 / 2 + 40) / (hi - lo) as u32;
                for gap in &mut need[lo..hi] {
                    *gap = (*gap).max(width.min(600));
                }
            }
        }
    }
    // The first lane leaves room for a state box centred on it.
    let mut lane_x = vec![LEFT + 120];
    for gap in &need {
        lane_x.push(lane_x[lane_x.len() - 1] + gap);
    }
    let x_of = |c: usize| lane_x[c.min(lane_x.len() - 1)];
    let lanes_right = x_of(timeline.columns.len().saturating_sub(1)) + 60;
    // Notes (calls, ARP, routes) may run past the last lane.
    let width = lanes_right + 420;
    let row_height = |step: &timeline::Step| match &step.kind {
        StepKind::Frame(f) if f.comment.is_some() => COMMENTED_ROW,
        _ => ROW,
    };
    let height = TOP + steps.iter().map(row_height).sum::<u32>() + 20;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="ladder" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="ladder diagram">"#
    );
    svg.push_str(
        r#"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="head"/></marker></defs>"#,
    );
    for c in 0..timeline.columns.len() {
        let x = x_of(c);
        let _ = write!(
            svg,
            r#"<line class="lane" x1="{x}" y1="0" x2="{x}" y2="{height}"/>"#
        );
    }
    let mut data = Vec::with_capacity(steps.len());
    let mut y = TOP;
    for (i, step) in steps.iter().enumerate() {
        let h = row_height(step);
        let mid = y + ROW / 2;
        let t = trace::Time(step.t_ns).to_string();
        let _ = write!(
            svg,
            r#"<g class="step {kind}" data-step="{i}" id="s{i}"><rect class="hit" x="0" y="{y}" width="{width}" height="{h}"/><text class="time" x="{tx}" y="{ty}">{t}</text>"#,
            kind = match step.kind {
                StepKind::Frame(_) => "frame arrow",
                StepKind::Transition(_) => "transition",
                StepKind::Note { .. } => "note",
            },
            tx = LEFT - 8,
            ty = mid + 4,
        );
        let mut d = StepData {
            t,
            kind: "note",
            text: step.describe(&timeline.columns),
            frame: None,
            comment: None,
            rule: None,
            cause: None,
            key: None,
            endpoint: None,
            state: None,
            vars: None,
            layers: Vec::new(),
        };
        match &step.kind {
            StepKind::Frame(f) => {
                let (x1, x2) = (x_of(f.from), x_of(f.to));
                let label = format!("#{} {}", f.number, label_of(f));
                let tx = (x1 + x2) / 2;
                let (x1, x2) = if x1 == x2 {
                    (x1, x1 + 40)
                } else if x2 > x1 {
                    (x1 + 2, x2 - 2)
                } else {
                    (x1 - 2, x2 + 2)
                };
                if f.lost {
                    // Sent, never arrived: the arrow stops two thirds of the way, crossed out.
                    let end = (x1 as i64 + (x2 as i64 - x1 as i64) * 2 / 3) as u32;
                    let _ = write!(
                        svg,
                        r#"<line class="msg lost" x1="{x1}" y1="{y1}" x2="{end}" y2="{y1}"/><text class="cross" x="{end}" y="{cy}" text-anchor="middle">✕</text>"#,
                        y1 = mid + 5,
                        cy = mid + 10,
                    );
                } else {
                    let _ = write!(
                        svg,
                        r#"<line class="msg" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y1}" marker-end="url(#head)"/>"#,
                        y1 = mid + 5,
                    );
                }
                let _ = write!(
                    svg,
                    r#"<text class="label" x="{tx}" y="{ly}" text-anchor="middle">{label}</text>"#,
                    ly = mid,
                    label = esc(&label),
                );
                if let Some(comment) = &f.comment {
                    let _ = write!(
                        svg,
                        r#"<text class="comment" x="{tx}" y="{ty}" text-anchor="middle">{c}</text>"#,
                        ty = mid + 20,
                        c = esc(comment),
                    );
                }
                d.kind = "frame";
                d.frame = Some(f.number);
                d.comment = f.comment.clone();
                if let Some(bytes) = &f.bytes {
                    d.layers = dissect::layers(bytes, f.number, f.len);
                }
            }
            StepKind::Transition(tr) => {
                let x = x_of(tr.column);
                let text = format!("{}: {}", tr.key, tr.to);
                let w = text.chars().count() as u32 * 7 + 12;
                let _ = write!(
                    svg,
                    r#"<rect class="state {cls}" x="{rx}" y="{ry}" width="{w}" height="{h}" rx="4"/><text class="state-text" x="{x}" y="{ty}" text-anchor="middle">{text}</text>"#,
                    cls = state_class(tr.to),
                    rx = x.saturating_sub(w / 2),
                    ry = y + 3,
                    h = ROW - 6,
                    ty = mid + 4,
                    text = esc(&text),
                );
                d.kind = "transition";
                d.text = format!(
                    "TCP {}: {} → {} (by {})",
                    tr.endpoint, tr.from, tr.to, tr.cause
                );
                d.rule = Some(tr.rule.clone());
                d.cause = Some(tr.cause.clone());
                d.key = Some(tr.key.clone());
                d.endpoint = Some(tr.endpoint.clone());
                d.state = Some(tr.to.to_string());
                d.vars = tr.vars.map(|v| v.to_string());
            }
            StepKind::Note { column, text } => {
                let x = column.map_or(LEFT, x_of) + 6;
                let _ = write!(
                    svg,
                    r#"<text class="note-text" x="{x}" y="{ty}">{text}</text>"#,
                    ty = mid + 4,
                    text = esc(text.lines().next().unwrap_or("")),
                );
            }
        }
        svg.push_str("</g>");
        data.push(d);
        y += h;
    }
    svg.push_str("</svg>");

    let mut header = String::new();
    for (c, name) in timeline.columns.iter().enumerate() {
        let _ = write!(
            header,
            r#"<text class="column" x="{x}" y="20" text-anchor="middle">{name}</text>"#,
            x = x_of(c),
            name = esc(name),
        );
    }
    let json = serde_json::to_string(&data)
        .unwrap_or_else(|_| "[]".to_string())
        // Inside a script element, "</" could end it early.
        .replace("</", "<\\/");
    let kind = match timeline.kind {
        Source::Trace => "states as the stacks logged them",
        Source::Capture => "states inferred from the packets alone",
    };
    let cut_note = if cut > 0 {
        format!(
            r#"<p class="warn">Only the first {MAX_STEPS} steps are drawn; {cut} more are left out.</p>"#
        )
    } else {
        String::new()
    };
    let title = esc(&timeline.source);
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>packetlab report: {title}</title>
<script>
// Record any error or console.error, first thing, so a test can read it off the page.
(function () {{
  var errors = [];
  function note(m) {{ errors.push(String(m)); document.documentElement.setAttribute('data-errors', String(errors.length)); }}
  window.addEventListener('error', function (e) {{ note(e.message); }});
  window.addEventListener('securitypolicyviolation', function (e) {{ note('blocked ' + e.blockedURI); }});
  var original = console.error;
  console.error = function () {{ note(Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); }};
}})();
</script>
<style>
:root {{ --fg:#1d2327; --muted:#6b7280; --line:#cbd5e1; --cur:#fff3bf; }}
* {{ box-sizing: border-box; }}
body {{ margin:0; font:14px/1.4 system-ui, sans-serif; color:var(--fg); background:#fafafa; }}
header {{ padding:10px 16px; background:#0f172a; color:#e2e8f0; }}
header h1 {{ font-size:17px; margin:0 0 2px; }}
header p {{ margin:0; color:#94a3b8; }}
kbd {{ background:#334155; color:#f1f5f9; border-radius:3px; padding:0 5px; font-size:12px; }}
main {{ display:flex; height:calc(100vh - 64px); }}
#pane {{ flex:1; overflow:auto; background:#fff; }}
#columns {{ position:sticky; top:0; background:#fff; border-bottom:1px solid var(--line); z-index:1; display:block; }}
#side {{ width:420px; overflow:auto; padding:10px 14px; border-left:1px solid var(--line); background:#f8fafc; }}
#side h2 {{ font-size:15px; margin:4px 0; }}
#side .rule {{ color:#334155; font-size:13px; }}
#side .comment {{ background:#fef9c3; padding:4px 6px; border-radius:4px; }}
#side table {{ border-collapse:collapse; width:100%; font-size:13px; }}
#side td {{ border-top:1px solid var(--line); padding:3px 4px; vertical-align:top; }}
#side .vars {{ color:var(--muted); font-family:ui-monospace, monospace; font-size:12px; }}
#side .layer {{ font-weight:600; margin-top:6px; }}
#side .fields {{ font-family:ui-monospace, monospace; font-size:12px; color:#334155; }}
.warn {{ color:#b45309; }}
svg text {{ font-family:ui-monospace, monospace; font-size:12px; }}
.column {{ font-weight:700; font-size:13px; }}
.lane {{ stroke:#94a3b8; stroke-width:1.5; }}
.hit {{ fill:transparent; cursor:pointer; }}
.step.current .hit {{ fill:var(--cur); }}
.step:hover .hit {{ fill:#f1f5f9; }}
.step.current:hover .hit {{ fill:var(--cur); }}
.time {{ fill:var(--muted); text-anchor:end; }}
.msg {{ stroke:#0369a1; stroke-width:1.6; }}
.head {{ fill:#0369a1; }}
.lost {{ stroke:#b91c1c; stroke-dasharray:5 4; }}
.cross {{ fill:#b91c1c; font-size:15px; font-weight:700; }}
.label {{ fill:#0c4a6e; }}
.comment {{ fill:#a16207; font-style:italic; font-size:11px; }}
.note-text {{ fill:var(--muted); }}
.state {{ stroke:#475569; stroke-width:1; }}
.state-text {{ fill:#111827; font-weight:700; }}
.s-closed {{ fill:#e5e7eb; }} .s-listen {{ fill:#dbeafe; }} .s-open {{ fill:#e0f2fe; }}
.s-est {{ fill:#dcfce7; }} .s-active {{ fill:#fde68a; }} .s-passive {{ fill:#fbcfe8; }}
</style>
</head>
<body>
<header>
<h1>packetlab report: {title}</h1>
<p>{frames} frames, {nsteps} steps, {kind}. <kbd>↓</kbd>/<kbd>j</kbd> next · <kbd>↑</kbd>/<kbd>k</kbd> previous · <kbd>t</kbd>/<kbd>T</kbd> next/previous transition · <kbd>Home</kbd>/<kbd>End</kbd> · click a row</p>
</header>
<main>
<div id="pane">
<svg id="columns" xmlns="http://www.w3.org/2000/svg" width="{width}" height="30">{header}</svg>
{cut_note}
{svg}
</div>
<aside id="side"><h2 id="where"></h2><div id="detail"></div></aside>
</main>
<script type="application/json" id="data">{json}</script>
<script>
(function () {{
  var steps = JSON.parse(document.getElementById('data').textContent);
  var rows = document.querySelectorAll('#ladder .step');
  var current = -1;
  function text(tag, cls, s) {{ var e = document.createElement(tag); if (cls) e.className = cls; e.textContent = s; return e; }}
  function statesAt(i) {{
    var order = [], by = {{}};
    for (var j = 0; j <= i; j++) {{
      var s = steps[j];
      if (s.kind !== 'transition') continue;
      if (!(s.key in by)) order.push(s.key);
      by[s.key] = {{ endpoint: s.endpoint, state: s.state, vars: s.vars, at: j }};
    }}
    return order.map(function (k) {{ return by[k]; }});
  }}
  function lastFrame(i) {{
    var s = steps[i];
    if (s.kind === 'transition' && s.cause && s.cause.indexOf('frame #') === 0) {{
      var n = Number(s.cause.slice(7));
      for (var j = 0; j < steps.length; j++) if (steps[j].frame === n) return steps[j];
    }}
    for (var k = i; k >= 0; k--) if (steps[k].kind === 'frame') return steps[k];
    return null;
  }}
  function select(i) {{
    if (!steps.length) return;
    i = Math.max(0, Math.min(steps.length - 1, i));
    if (current >= 0) rows[current].classList.remove('current');
    current = i;
    rows[i].classList.add('current');
    // Bring the step's own drawing into view, not the row's full-width background.
    var mark = rows[i].querySelector('line.msg, rect.state, text.note-text') || rows[i];
    mark.scrollIntoView({{ block: 'nearest', inline: 'nearest' }});
    var s = steps[i];
    document.getElementById('where').textContent = 'Step ' + (i + 1) + ' of ' + steps.length + ' · t=' + s.t;
    var d = document.getElementById('detail');
    d.textContent = '';
    d.appendChild(text('p', '', s.text));
    if (s.comment) d.appendChild(text('p', 'comment', s.comment));
    if (s.rule) d.appendChild(text('p', 'rule', s.rule));
    var table = document.createElement('table');
    statesAt(i).forEach(function (e) {{
      var tr = document.createElement('tr');
      if (e.at === i) tr.style.background = 'var(--cur)';
      var td = document.createElement('td');
      td.appendChild(text('b', '', e.state));
      tr.appendChild(td);
      var td2 = document.createElement('td');
      td2.appendChild(text('div', '', e.endpoint));
      if (e.vars) td2.appendChild(text('div', 'vars', e.vars));
      tr.appendChild(td2);
      table.appendChild(tr);
    }});
    d.appendChild(text('h2', '', 'Endpoints'));
    d.appendChild(table);
    var f = lastFrame(i);
    if (f && f.layers) {{
      d.appendChild(text('h2', '', 'Frame #' + f.frame));
      f.layers.forEach(function (l) {{
        d.appendChild(text('div', 'layer', l.title));
        if (l.fields.length) d.appendChild(text('div', 'fields', l.fields.join(' · ')));
      }});
    }}
    if (history.replaceState) history.replaceState(null, '', '#step=' + (i + 1));
  }}
  function nextTransition(from, dir) {{
    for (var j = from + dir; j >= 0 && j < steps.length; j += dir) if (steps[j].kind === 'transition') return j;
    return from;
  }}
  document.addEventListener('keydown', function (e) {{
    var k = e.key;
    if (k === 'ArrowDown' || k === 'j' || k === 'n') select(current + 1);
    else if (k === 'ArrowUp' || k === 'k' || k === 'p') select(current - 1);
    else if (k === 't') select(nextTransition(current, 1));
    else if (k === 'T') select(nextTransition(current, -1));
    else if (k === 'Home') select(0);
    else if (k === 'End') select(steps.length - 1);
    else return;
    e.preventDefault();
  }});
  rows.forEach(function (row) {{
    row.addEventListener('click', function () {{ select(Number(row.getAttribute('data-step'))); }});
  }});
  var m = /step=(\d+)/.exec(location.hash);
  select(m ? Number(m[1]) - 1 : 0);
  document.documentElement.setAttribute('data-arrows', String(document.querySelectorAll('#ladder .arrow').length));
  document.documentElement.setAttribute('data-ready', '1');
}})();
</script>
</body>
</html>
"##,
        frames = timeline.frame_count(),
        nsteps = timeline.steps.len(),
    )
}
