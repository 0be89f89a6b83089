//! The `?` overlay.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

/// The key map, as shown in the overlay (also in the README).
pub const KEYS: &[(&str, &str)] = &[
    (
        "Tab S-Tab 1-5",
        "switch view: Map Edges Anomalies Policies Traces",
    ),
    ("j k ↓ ↑", "move the selection (PgUp/PgDn by 10)"),
    ("g G Home End", "first / last"),
    ("h l ← →", "Map: layer left / right; Traces: other edge"),
    (
        "Enter",
        "Map: focus the node (again: unfocus); Edges: traces",
    ),
    ("", "Anomalies: go to the subject edge or node"),
    ("+ -", "Map: hops around the focused node"),
    ("z Z 0", "Map: zoom in / out / fit"),
    ("H J K L S-arrows", "Map: pan"),
    ("/ n", "search nodes and edges; next match"),
    ("e", "errors only (failing, degraded, policy-denied)"),
    ("s r", "Edges: cycle the sort column; reverse"),
    ("p", "pause / resume updates"),
    ("Esc", "clear search, then focus, then errors-only"),
    ("mouse", "click a tab, row or node; wheel scrolls"),
    ("q Ctrl-C", "quit"),
];

pub(super) fn render(area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2).min(74);
    let h = area.height.saturating_sub(2).min(KEYS.len() as u16 + 2);
    if w < 4 || h < 3 {
        return;
    }
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    let key_style = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<17}"), key_style),
                Span::raw(*what),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys (any key closes) "),
        )
        .render(rect, buf);
}
