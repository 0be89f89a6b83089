//! Rendering: one module per view, plus the tab bar, the status bar and the help overlay.
//! Everything draws into a [`Buffer`], so tests and benches need no terminal.

mod anomalies;
mod edges;
mod help;
mod map;
mod policies;
mod traces;

use meshlens_analyzer::render::{Health, fmt_rps};
use meshlens_analyzer::snapshot::EdgeSnapshot;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::app::{App, Hits, Mode, View};
use crate::data::ConnectionState;

/// Draws the whole screen into `buf` over `area`; returns where things went.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer) -> Hits {
    let mut hits = Hits::default();
    if area.width < 10 || area.height < 3 {
        buf.set_stringn(
            area.x,
            area.y,
            "meshlens: window too small",
            usize::from(area.width),
            Style::default(),
        );
        return hits;
    }
    let tabs = Rect::new(area.x, area.y, area.width, 1);
    let status = Rect::new(area.x, area.bottom() - 1, area.width, 1);
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
    draw_tabs(app, tabs, buf, &mut hits);
    match app.view {
        View::Map => map::render(app, body, buf, &mut hits),
        View::Edges => edges::render(app, body, buf, &mut hits),
        View::Anomalies => anomalies::render(app, body, buf, &mut hits),
        View::Policies => policies::render(app, body, buf, &mut hits),
        View::Traces => traces::render(app, body, buf, &mut hits),
    }
    draw_status(app, status, buf);
    if app.help {
        help::render(area, buf);
    }
    hits
}

fn draw_tabs(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    buf.set_style(area, Style::default().bg(Color::Indexed(236)));
    let mut x = area.x;
    let end = area.right();
    let title = " meshlens ";
    x = put(
        buf,
        x,
        area.y,
        end,
        title,
        Style::default().add_modifier(Modifier::BOLD),
    );
    let open = app.data.anomalies.iter().filter(|a| a.is_open()).count();
    for (i, view) in View::ALL.iter().enumerate() {
        let label = match view {
            View::Anomalies if open > 0 => format!(" {} {} ({open}) ", i + 1, view.title()),
            _ => format!(" {} {} ", i + 1, view.title()),
        };
        let style = if *view == app.view {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let start = x;
        x = put(buf, x, area.y, end, &label, style);
        if x > start {
            hits.tabs
                .push((Rect::new(start, area.y, x - start, 1), *view));
        }
        if x >= end {
            break;
        }
    }
}

/// Writes `text` at (x, y) clipped at `end`; returns the x after it.
pub(crate) fn put(buf: &mut Buffer, x: u16, y: u16, end: u16, text: &str, style: Style) -> u16 {
    if x >= end {
        return x;
    }
    let (after, _) = buf.set_stringn(x, y, text, usize::from(end - x), style);
    after
}

fn draw_status(app: &App, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, Style::default().bg(Color::Indexed(236)));
    let end = area.right();
    if app.mode == Mode::Search {
        let text = format!("/{}█", app.search_input);
        put(
            buf,
            area.x,
            area.y,
            end,
            &text,
            Style::default().fg(Color::Yellow),
        );
        return;
    }
    let mut x = area.x;
    let (state, style) = match &app.connection {
        ConnectionState::Live => ("● live".to_owned(), Style::default().fg(Color::Green)),
        ConnectionState::Connected { url } => {
            (format!("● {url}"), Style::default().fg(Color::Green))
        }
        ConnectionState::Connecting { url, attempt } => (
            format!("◌ connecting {url} (#{attempt})"),
            Style::default().fg(Color::Yellow),
        ),
        ConnectionState::Disconnected {
            url,
            error,
            retry_in_ms,
        } => (
            format!(
                "✕ {url}: {error}; retry in {:.1}s",
                *retry_in_ms as f64 / 1000.0
            ),
            Style::default().fg(Color::Red),
        ),
    };
    x = put(buf, x, area.y, end, " ", Style::default());
    x = put(buf, x, area.y, end, &state, style);
    if app.paused {
        let held = if app.has_held() { " +new" } else { "" };
        x = put(buf, x, area.y, end, "  ", Style::default());
        x = put(
            buf,
            x,
            area.y,
            end,
            &format!("PAUSED{held}"),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        );
    }
    let graph = &app.data.graph;
    let mut parts = vec![format!(
        "{} nodes {} edges",
        graph.nodes.len(),
        graph.edges.len()
    )];
    if graph.window_seconds > 0.0 {
        parts.push(format!("window {}", fmt_seconds(graph.window_seconds)));
    }
    if let Some(at) = app.last_update_ms {
        parts.push(format!(
            "updated {} ago",
            fmt_age(app.now_ms.saturating_sub(at))
        ));
    }
    if let Some(focus) = &app.focus {
        parts.push(format!("focus {focus} ±{}", app.hops));
    }
    if app.errors_only {
        parts.push("errors only".to_owned());
    }
    if !app.search.is_empty() {
        parts.push(format!("/{}", app.search));
    }
    parts.push("? help".to_owned());
    let rest = format!("  {}", parts.join(" · "));
    put(buf, x, area.y, end, &rest, Style::default().fg(Color::Gray));
}

/// `60s`, `5m`, `1h`.
pub(crate) fn fmt_seconds(s: f64) -> String {
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{s:.0}s")
    }
}

/// `5s`, `3m`, `2h`, `4d`.
pub(crate) fn fmt_age(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// `12/s`, `0.50/s`.
pub(crate) fn fmt_rate(rps: f64) -> String {
    let text = fmt_rps(rps);
    format!("{}/s", text.trim_end_matches(" rps"))
}

/// The compact edge label of the map: `10/s 12% 140ms` (or `idle`).
pub(crate) fn edge_label(edge: &EdgeSnapshot, health: Health) -> String {
    if health == Health::Idle {
        return "idle".to_owned();
    }
    let approx = if edge.estimated { "~" } else { "" };
    format!(
        "{approx}{} {} {}",
        fmt_rate(edge.rps),
        short_percent(edge.error_rate),
        short_ms(edge.latency_ms.p99)
    )
}

/// `0%`, `<0.1%`, `2.5%`, `12%`.
pub(crate) fn short_percent(ratio: f64) -> String {
    let pct = ratio * 100.0;
    if !pct.is_finite() || pct <= 0.0 {
        "0%".to_owned()
    } else if pct < 0.05 {
        "<0.1%".to_owned()
    } else if pct < 9.95 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.0}%")
    }
}

/// `0.4ms`, `12ms`, `140ms`, `1.2s`.
pub(crate) fn short_ms(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        "0ms".to_owned()
    } else if ms < 9.95 {
        format!("{ms:.1}ms")
    } else if ms < 999.5 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

pub(crate) fn health_color(health: Health) -> Color {
    match health {
        Health::Healthy => Color::Green,
        Health::Degraded => Color::Yellow,
        Health::Failing => Color::Red,
        Health::Idle => Color::DarkGray,
    }
}

/// Colour of policy trouble on an edge.
pub(crate) const POLICY_COLOR: Color = Color::Magenta;

/// Text truncated to `width` display columns with `…`.
pub(crate) fn truncate(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A table's rows below its header line, and the first row shown so that `selected` is in
/// view: where the table draws its body, and what mouse clicks map to.
pub(crate) fn table_body(table: Rect, selected: usize) -> (Rect, usize) {
    let body = Rect::new(
        table.x,
        table.y + 1,
        table.width,
        table.height.saturating_sub(1),
    );
    (body, scroll_offset(selected, usize::from(body.height)))
}

/// The first index of a window of `rows` rows that shows `selected`.
pub(crate) fn scroll_offset(selected: usize, rows: usize) -> usize {
    if rows == 0 {
        return selected;
    }
    selected.saturating_sub(rows - 1)
}
