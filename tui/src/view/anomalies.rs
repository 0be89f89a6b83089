//! The Anomalies view: the live feed, open first, worst first.

use meshlens_analyzer::anomaly::{AnomalyKind, Severity};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use super::{POLICY_COLOR, fmt_age, put, table_body};
use crate::app::{App, Hits};

fn severity_style(severity: Severity) -> (&'static str, Style) {
    match severity {
        Severity::Critical => (
            "CRIT",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Severity::Warning => ("WARN", Style::default().fg(Color::Yellow)),
        Severity::Info => ("INFO", Style::default().fg(Color::Blue)),
    }
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    if area.height < 2 {
        return;
    }
    let detail_h = if area.height >= 10 { 3 } else { 0 };
    let table_area = Rect::new(area.x, area.y, area.width, area.height - detail_h);
    let (body, offset) = table_body(table_area, app.anomaly_sel);
    let body_rows = usize::from(body.height);
    hits.list = Some((body, offset));
    let anomalies = &app.data.anomalies;
    // The messages name their subject; a separate column only when there is room.
    let wide = area.width >= 110;
    let rows = app
        .anomaly_rows
        .iter()
        .skip(offset)
        .take(body_rows)
        .map(|&i| {
            let a = &anomalies[i];
            let (sev, mut style) = severity_style(a.severity);
            let age = match a.ended_at_unix_ms {
                None => fmt_age(app.now_ms.saturating_sub(a.started_at_unix_ms)),
                Some(end) => format!("✓{}", fmt_age(app.now_ms.saturating_sub(end))),
            };
            let mut kind_style = Style::default();
            if matches!(
                a.kind,
                AnomalyKind::PolicyViolation | AnomalyKind::RbacDenial
            ) {
                kind_style = kind_style.fg(POLICY_COLOR);
            }
            let mut cells = vec![
                Cell::from(sev).style(style),
                Cell::from(age),
                Cell::from(a.kind.as_str()).style(kind_style),
            ];
            if wide {
                cells.push(Cell::from(a.subject.to_string()));
            }
            cells.push(Cell::from(a.message.clone()));
            let row = Row::new(cells);
            if !a.is_open() {
                style = Style::default().add_modifier(Modifier::DIM);
                row.style(style)
            } else {
                row
            }
        });
    let (names, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec!["SEV", "AGE", "KIND", "SUBJECT", "MESSAGE"],
            vec![
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(18),
                Constraint::Fill(1),
                Constraint::Fill(2),
            ],
        )
    } else {
        (
            vec!["SEV", "AGE", "KIND", "MESSAGE"],
            vec![
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(18),
                Constraint::Fill(1),
            ],
        )
    };
    let header = Row::new(names).style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default();
    if !app.anomaly_rows.is_empty() {
        state.select(Some(app.anomaly_sel - offset));
    }
    StatefulWidget::render(table, table_area, buf, &mut state);
    if app.anomaly_rows.is_empty() {
        put(
            buf,
            area.x + 1,
            area.y + 1,
            area.right(),
            "no anomalies",
            Style::default().fg(Color::DarkGray),
        );
    }
    if detail_h > 0 {
        let detail = Rect::new(area.x, area.bottom() - detail_h, area.width, detail_h);
        buf.set_style(detail, Style::default().bg(Color::Indexed(234)));
        if let Some(&i) = app.anomaly_rows.get(app.anomaly_sel) {
            let a = &anomalies[i];
            let mut lines = vec![Line::from(format!(
                "{} ({}): {}",
                a.kind, a.severity, a.message
            ))];
            let mut evidence = String::from("Enter: go to the subject");
            if !a.evidence.trace_ids.is_empty() {
                evidence = format!("traces {} · {evidence}", a.evidence.trace_ids.join(" "));
            }
            lines.push(Line::from(evidence).style(Style::default().fg(Color::Gray)));
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .render(detail, buf);
        }
    }
}
