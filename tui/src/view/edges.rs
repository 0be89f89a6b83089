//! The Edges view: a sortable table of edges, like `linkerd viz stat` / `edges`.

use meshlens_analyzer::render::{fmt_ms_compact, fmt_percent};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, StatefulWidget, Table, TableState};

use super::{POLICY_COLOR, fmt_rate, health_color, put, table_body};
use crate::app::{App, Hits, SortColumn};

const HEADERS: [(SortColumn, &str); 9] = [
    (SortColumn::Source, "SOURCE"),
    (SortColumn::Destination, "DESTINATION"),
    (SortColumn::Protocol, "PROTO"),
    (SortColumn::Rps, "RPS"),
    (SortColumn::Success, "SUCCESS"),
    (SortColumn::P50, "P50"),
    (SortColumn::P95, "P95"),
    (SortColumn::P99, "P99"),
    (SortColumn::Policy, "POLICY"),
];

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    if area.height < 2 {
        return;
    }
    let footer = area.height >= 5;
    let table_area = Rect::new(area.x, area.y, area.width, area.height - u16::from(footer));
    let selected = app.edge_sel();
    let (body, offset) = table_body(table_area, selected);
    let body_rows = usize::from(body.height);
    hits.list = Some((body, offset));
    let arrow = if app.sort_desc { "▼" } else { "▲" };
    let header = Row::new(HEADERS.iter().map(|(column, name)| {
        if *column == app.sort {
            Cell::from(format!("{name}{arrow}")).style(Style::default().fg(Color::Cyan))
        } else {
            Cell::from(*name)
        }
    }))
    .style(Style::default().add_modifier(Modifier::BOLD));
    let edges = &app.data.graph.edges;
    // Source and destination share what the fixed columns leave; drop the namespace of ids
    // that do not fit.
    let name_w = usize::from(area.width.saturating_sub(53) / 2);
    let name = |id: &str| -> String {
        if id.chars().count() <= name_w {
            id.to_owned()
        } else {
            id.split_once('.')
                .map_or(id, |(service, _)| service)
                .to_owned()
        }
    };
    let rows = app.edge_rows.iter().skip(offset).take(body_rows).map(|&i| {
        let e = &edges[i];
        let health = app.health(e);
        let verdict = app.verdict(e);
        let success = if e.requests > 0.0 {
            fmt_percent(1.0 - e.error_rate)
        } else {
            "-".to_owned()
        };
        let policy_style = if verdict.is_bad() {
            Style::default()
                .fg(POLICY_COLOR)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        Row::new(vec![
            Cell::from(name(&e.source)),
            Cell::from(name(&e.target)),
            Cell::from(e.protocol.clone()),
            Cell::from(fmt_rate(e.rps)),
            Cell::from(success).style(Style::default().fg(health_color(health))),
            Cell::from(fmt_ms_compact(e.latency_ms.p50)),
            Cell::from(fmt_ms_compact(e.latency_ms.p95)),
            Cell::from(fmt_ms_compact(e.latency_ms.p99)),
            Cell::from(verdict.label()).style(policy_style),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default();
    if !app.edge_rows.is_empty() {
        state.select(Some(selected - offset));
    }
    StatefulWidget::render(table, table_area, buf, &mut state);
    if app.edge_rows.is_empty() {
        let text = if edges.is_empty() {
            "no edges yet"
        } else {
            "no edge matches the filters (Esc clears them)"
        };
        put(
            buf,
            area.x + 1,
            area.y + 1,
            area.right(),
            text,
            Style::default().fg(Color::DarkGray),
        );
    }
    if footer {
        let line = Rect::new(area.x, area.bottom() - 1, area.width, 1);
        buf.set_style(line, Style::default().bg(Color::Indexed(234)));
        if let Some(&i) = app.edge_rows.get(selected) {
            let e = &edges[i];
            let mut parts = vec![format!(" {}/{}", selected + 1, app.edge_rows.len())];
            if !e.methods.is_empty() {
                parts.push(e.methods.join(","));
            }
            if !e.paths.is_empty() {
                parts.push(e.paths.join(" "));
            }
            parts.push(format!(
                "4xx {:.0} 403 {:.0}",
                e.client_errors, e.authz_denials
            ));
            parts.push(format!("{} traces", e.trace_ids.len()));
            parts.push("Enter: traces · s: sort · r: reverse".to_owned());
            put(
                buf,
                line.x,
                line.y,
                line.right(),
                &parts.join(" · "),
                Style::default(),
            );
        }
    }
}
