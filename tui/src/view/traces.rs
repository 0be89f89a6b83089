//! The Traces view: the selected edge's recent sample traces and a waterfall of the chosen one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::{fmt_rate, put, scroll_offset, truncate};
use crate::app::{App, Hits};
use crate::data::SpanStatus;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    if area.height < 2 {
        return;
    }
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::DarkGray);
    let Some(edge) = app.current_edge() else {
        put(
            buf,
            area.x + 1,
            area.y,
            area.right(),
            "no edge selected",
            dim,
        );
        return;
    };
    let header = format!(
        "{} → {} ({}) · {} · {} trace ids · h/l: other edge",
        edge.source,
        edge.target,
        edge.protocol,
        fmt_rate(edge.rps),
        edge.trace_ids.len()
    );
    put(buf, area.x + 1, area.y, area.right(), &header, bold);
    let samples = app.traces_for_edge();
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    if samples.is_empty() {
        // No span detail from this source: list the edge's trace ids.
        put(
            buf,
            body.x + 1,
            body.y,
            body.right(),
            "no sampled spans for this edge; trace ids:",
            dim,
        );
        for (row, id) in edge
            .trace_ids
            .iter()
            .take(usize::from(body.height.saturating_sub(1)))
            .enumerate()
        {
            put(
                buf,
                body.x + 3,
                body.y + 1 + row as u16,
                body.right(),
                id,
                Style::default(),
            );
        }
        return;
    }
    // The sample list on top, the waterfall below.
    let list_h = (samples.len() as u16).min(5).min(body.height / 3).max(1);
    let list = Rect::new(body.x, body.y, body.width, list_h);
    let offset = scroll_offset(app.trace_sel, usize::from(list_h));
    hits.list = Some((list, offset));
    for (row, &i) in samples
        .iter()
        .enumerate()
        .skip(offset)
        .take(usize::from(list_h))
    {
        let trace = &app.data.traces[i];
        let errors = trace
            .spans
            .iter()
            .filter(|s| s.status == SpanStatus::Error)
            .count();
        let mut style = if errors > 0 {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        };
        if row == app.trace_sel {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = format!(
            " {}  {:>8}  {} spans{}",
            truncate(&trace.trace_id, 32),
            meshlens_analyzer::render::fmt_ms_compact(trace.duration_ms()),
            trace.spans.len(),
            if errors > 0 {
                format!(", {errors} errors")
            } else {
                String::new()
            }
        );
        let y = list.y + (row - offset) as u16;
        buf.set_style(Rect::new(list.x, y, list.width, 1), style);
        put(buf, list.x, y, list.right(), &text, style);
    }
    let Some(&chosen) = samples.get(app.trace_sel) else {
        return;
    };
    let trace = &app.data.traces[chosen];
    let fall = Rect::new(
        body.x,
        body.y + list_h + 1,
        body.width,
        body.height.saturating_sub(list_h + 1),
    );
    if fall.height == 0 {
        return;
    }
    let label_w = (fall.width / 3).clamp(8, 36);
    let dur_w: u16 = 9;
    let bar_w = fall.width.saturating_sub(label_w + dur_w + 2);
    let total = trace.duration_ms().max(f64::MIN_POSITIVE);
    put(
        buf,
        fall.x + 1,
        fall.y.saturating_sub(1).max(body.y + list_h),
        fall.right(),
        &format!("waterfall of {}", trace.trace_id),
        bold,
    );
    for (row, span) in trace
        .spans
        .iter()
        .take(usize::from(fall.height))
        .enumerate()
    {
        let y = fall.y + row as u16;
        let label = format!(
            "{}{} {}",
            "  ".repeat(span.depth.min(6)),
            span.service,
            span.name
        );
        put(
            buf,
            fall.x + 1,
            y,
            fall.x + label_w,
            &truncate(&label, usize::from(label_w - 1)),
            Style::default(),
        );
        if bar_w > 0 {
            let start = ((span.start_offset_ms / total) * f64::from(bar_w)).floor() as u16;
            let len = ((span.duration_ms / total) * f64::from(bar_w)).ceil() as u16;
            let start = start.min(bar_w - 1);
            let len = len.clamp(1, bar_w - start);
            let color = match span.status {
                SpanStatus::Error => Color::Red,
                SpanStatus::Ok => Color::Green,
                SpanStatus::Unset => Color::Blue,
            };
            let x0 = fall.x + label_w + 1;
            put(buf, x0, y, x0 + bar_w, &"·".repeat(usize::from(bar_w)), dim);
            put(
                buf,
                x0 + start,
                y,
                x0 + bar_w,
                &"█".repeat(usize::from(len)),
                Style::default().fg(color),
            );
        }
        let dur = meshlens_analyzer::render::fmt_ms_compact(span.duration_ms);
        put(
            buf,
            fall.right().saturating_sub(dur_w),
            y,
            fall.right(),
            &format!("{dur:>9}"),
            Style::default(),
        );
    }
}
