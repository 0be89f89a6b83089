//! The Policies view: per workload, the policies and rules that apply, hits per rule, rules
//! never matched, and violations.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{POLICY_COLOR, fmt_age, put, scroll_offset, truncate};
use crate::app::{App, Hits, policy_anomalies};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    if area.height < 2 {
        return;
    }
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::DarkGray);
    // Header: the policy set's status.
    let header = match &app.data.policies {
        None => {
            "policies: not available (no policy set is checked; serve with --policies)".to_owned()
        }
        Some(panel) => match &panel.status {
            Some(s) => {
                let mut text = format!(
                    "{} policies from {} files · {} loads",
                    s.policies,
                    s.files.len(),
                    s.loads
                );
                if s.loaded_at_unix_ms > 0 && app.now_ms >= s.loaded_at_unix_ms {
                    text.push_str(&format!(
                        " · loaded {} ago",
                        fmt_age(app.now_ms - s.loaded_at_unix_ms)
                    ));
                }
                if let Some(error) = &s.last_error {
                    text.push_str(&format!(" · last reload failed: {error}"));
                }
                text
            }
            None => format!("{} workloads with policies", panel.workloads.len()),
        },
    };
    let error = app
        .data
        .policies
        .as_ref()
        .and_then(|p| p.status.as_ref())
        .is_some_and(|s| s.last_error.is_some());
    put(
        buf,
        area.x + 1,
        area.y,
        area.right(),
        &header,
        if error {
            Style::default().fg(Color::Red)
        } else {
            bold
        },
    );
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    let workloads = app.policy_workloads();
    let list_w = (body.width / 3).clamp(10, 30).min(body.width);
    let list = Rect::new(body.x, body.y, list_w, body.height);
    let offset = scroll_offset(app.policy_sel, usize::from(list.height));
    hits.list = Some((list, offset));
    for (row, name) in workloads
        .iter()
        .enumerate()
        .skip(offset)
        .take(usize::from(list.height))
    {
        let violations = policy_anomalies(&app.data, name)
            .iter()
            .filter(|a| a.is_open())
            .count()
            + app
                .data
                .policies
                .iter()
                .flat_map(|p| &p.workloads)
                .filter(|w| &w.workload == name)
                .map(|w| w.violations.len())
                .sum::<usize>();
        let marker = if violations > 0 { "✕ " } else { "  " };
        let mut style = if violations > 0 {
            Style::default().fg(POLICY_COLOR)
        } else {
            Style::default()
        };
        if row == app.policy_sel {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = format!(
            "{marker}{}",
            truncate(name, usize::from(list_w).saturating_sub(3))
        );
        let y = list.y + (row - offset) as u16;
        buf.set_style(Rect::new(list.x, y, list_w.saturating_sub(1), 1), style);
        put(
            buf,
            list.x,
            y,
            list.x + list_w.saturating_sub(1),
            &text,
            style,
        );
    }
    if workloads.is_empty() {
        put(buf, list.x + 1, list.y, list.right(), "no workloads", dim);
    }
    if body.width <= list_w + 2 {
        return;
    }
    let detail = Rect::new(
        body.x + list_w + 1,
        body.y,
        body.width - list_w - 1,
        body.height,
    );
    let Some(name) = workloads.get(app.policy_sel) else {
        return;
    };
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(name.clone(), bold))];
    let panel = app.data.policies.as_ref();
    let entry = panel.and_then(|p| p.workloads.iter().find(|w| &w.workload == name));
    match (panel, entry) {
        (Some(panel), _) if !panel.detail_available => {
            lines.push(Line::styled(
                "per-rule hits: not available from this source (--connect shows the set's status)",
                dim,
            ));
        }
        (None, _) => lines.push(Line::styled("policies: not available", dim)),
        (Some(_), None) => lines.push(Line::styled("no policy applies to this workload", dim)),
        (Some(_), Some(entry)) => {
            for policy in &entry.policies {
                let mut head = format!("{} {}", policy.action, policy.name);
                if policy.dry_run {
                    head.push_str(" (dry-run)");
                }
                if let Some(at) = &policy.location {
                    head.push_str(&format!("  {at}"));
                }
                lines.push(Line::styled(head, Style::default().fg(Color::Cyan)));
                if policy.rules.is_empty() {
                    lines.push(Line::styled("  (no rules: matches nothing)", dim));
                }
                for rule in &policy.rules {
                    let (hits, style) = if rule.hits == 0 {
                        (
                            "never matched".to_owned(),
                            Style::default().fg(Color::Yellow),
                        )
                    } else {
                        (format!("{} hits", rule.hits), Style::default())
                    };
                    lines.push(Line::from(vec![
                        Span::raw(format!("  rule {}: ", rule.index)),
                        Span::styled(format!("{hits:>13}"), style),
                        Span::raw(format!("  {}", rule.summary)),
                    ]));
                }
            }
            if !entry.violations.is_empty() {
                lines.push(Line::styled("violations", bold.fg(POLICY_COLOR)));
            }
            for v in &entry.violations {
                let how = if v.enforced {
                    "denied (403)"
                } else {
                    "should be denied"
                };
                lines.push(Line::styled(
                    format!(
                        "  {} {} ×{} {how}: {}",
                        v.source, v.operation, v.requests, v.reason
                    ),
                    Style::default().fg(POLICY_COLOR),
                ));
            }
        }
    }
    let anomalies = policy_anomalies(&app.data, name);
    if !anomalies.is_empty() {
        lines.push(Line::styled("policy anomalies", bold));
        for a in anomalies {
            let state = if a.is_open() { "open" } else { "ended" };
            lines.push(Line::styled(
                format!("  {} [{state}] {}", a.kind, a.message),
                Style::default().fg(POLICY_COLOR),
            ));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(detail, buf);
}
