//! The Map view: the layered service graph, box nodes, routed edges coloured by health (and
//! policy verdict) and labelled with rate / error % / p99.

use meshlens_analyzer::render::{Health, node_health};
use meshlens_analyzer::snapshot::NodeKind;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::{POLICY_COLOR, edge_label, fmt_rate, health_color, put, truncate};
use crate::app::{App, EdgeKey, Hits};
use crate::layout::Route;

const N: u8 = 1;
const E: u8 = 2;
const S: u8 = 4;
const W: u8 = 8;

/// Colour classes of edges, by priority (higher wins where edges overlap).
const IDLE: u8 = 1;
const HEALTHY: u8 = 2;
const DEGRADED: u8 = 3;
const FAILING: u8 = 4;
const POLICY: u8 = 5;
const SELECTED: u8 = 6;

fn class_style(class: u8) -> Style {
    let color = match class {
        HEALTHY => Color::Green,
        DEGRADED => Color::Yellow,
        FAILING => Color::Red,
        POLICY => POLICY_COLOR,
        SELECTED => Color::Cyan,
        _ => Color::DarkGray,
    };
    let style = Style::default().fg(color);
    if class == SELECTED {
        style.add_modifier(Modifier::BOLD)
    } else {
        style
    }
}

fn line_char(mask: u8) -> char {
    match mask {
        m if m == N | E | S | W => '┼',
        m if m == N | S | E => '├',
        m if m == N | S | W => '┤',
        m if m == E | W | S => '┬',
        m if m == E | W | N => '┴',
        m if m == E | S => '┌',
        m if m == W | S => '┐',
        m if m == N | E => '└',
        m if m == N | W => '┘',
        m if m & (N | S) != 0 && m & (E | W) == 0 => '│',
        _ => '─',
    }
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer, hits: &mut Hits) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    // One line of detail about the selection at the bottom, when there is room.
    let (view, detail) = if area.height >= 4 {
        (
            Rect::new(area.x, area.y, area.width, area.height - 1),
            Some(Rect::new(area.x, area.bottom() - 1, area.width, 1)),
        )
    } else {
        (area, None)
    };
    let map = &app.map;
    let layout = &map.layout;
    if map.nodes.is_empty() {
        let text = if app.data.graph.nodes.is_empty() {
            "waiting for traffic…"
        } else {
            "nothing matches the filters (Esc clears them)"
        };
        put(
            buf,
            view.x + 1,
            view.y,
            view.right(),
            text,
            Style::default().fg(Color::DarkGray),
        );
    }
    let (vw, vh) = (i32::from(view.width), i32::from(view.height));
    // Origin: centre the selected node when the drawing is larger than the viewport.
    let selected = app
        .selected_node
        .as_ref()
        .and_then(|id| map.nodes.iter().position(|n| n == id));
    let axis = |size: i32, view: i32, centre: Option<i32>, pan: i32| -> i32 {
        if size <= view {
            return pan - (view - size) / 2;
        }
        let c = centre.unwrap_or(0);
        (c - view / 2).clamp(0, size - view) + pan
    };
    let sel_box = selected.map(|v| layout.nodes[v]);
    let ox = axis(layout.width, vw, sel_box.map(|b| b.x + b.w / 2), app.pan.0);
    let oy = axis(layout.height, vh, sel_box.map(|b| b.y + b.h / 2), app.pan.1);
    hits.map = Some((view, ox, oy));

    // Edges: direction masks and colour classes per viewport cell.
    let cells = (view.width as usize) * (view.height as usize);
    let mut mask = vec![0u8; cells];
    let mut class = vec![0u8; cells];
    let graph = &app.data.graph;
    let selected_edge = app.selected_edge.as_ref();
    let edge_class: Vec<u8> = map
        .edges
        .iter()
        .map(|&i| {
            let edge = &graph.edges[i];
            if selected_edge.is_some_and(|k| *k == EdgeKey::of(edge)) {
                return SELECTED;
            }
            if app.verdict(edge).is_bad() {
                return POLICY;
            }
            match app.health(edge) {
                Health::Idle => IDLE,
                Health::Healthy => HEALTHY,
                Health::Degraded => DEGRADED,
                Health::Failing => FAILING,
            }
        })
        .collect();
    let mut mark = |x: i32, y: i32, bits: u8, c: u8| {
        let (cx, cy) = (x - ox, y - oy);
        if cx < 0 || cy < 0 || cx >= vw || cy >= vh {
            return;
        }
        let i = cy as usize * view.width as usize + cx as usize;
        mask[i] |= bits;
        class[i] = class[i].max(c);
    };
    for (k, route) in layout.routes.iter().enumerate() {
        let Some(route) = route else { continue };
        let c = edge_class[k];
        for pair in route.points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if y0 == y1 {
                let (a, b) = (x0.min(x1), x0.max(x1));
                if y0 < oy || y0 >= oy + vh || b < ox || a >= ox + vw {
                    continue;
                }
                for x in a.max(ox - 1)..=b.min(ox + vw) {
                    let mut bits = 0;
                    if x < b {
                        bits |= E;
                    }
                    if x > a {
                        bits |= W;
                    }
                    mark(x, y0, bits, c);
                }
            } else {
                let (a, b) = (y0.min(y1), y0.max(y1));
                if x0 < ox || x0 >= ox + vw || b < oy || a >= oy + vh {
                    continue;
                }
                for y in a.max(oy - 1)..=b.min(oy + vh) {
                    let mut bits = 0;
                    if y < b {
                        bits |= S;
                    }
                    if y > a {
                        bits |= N;
                    }
                    mark(x0, y, bits, c);
                }
            }
        }
    }
    for (i, (&m, &c)) in mask.iter().zip(&class).enumerate() {
        if m == 0 {
            continue;
        }
        let x = view.x + (i % view.width as usize) as u16;
        let y = view.y + (i / view.width as usize) as u16;
        if let Some(cell) = buf.cell_mut((x, y)) {
            cell.set_char(line_char(m)).set_style(class_style(c));
        }
    }
    let to_screen = |x: i32, y: i32| -> Option<(u16, u16)> {
        let (cx, cy) = (x - ox, y - oy);
        if cx < 0 || cy < 0 || cx >= vw || cy >= vh {
            None
        } else {
            Some((view.x + cx as u16, view.y + cy as u16))
        }
    };
    // Arrowheads.
    for (k, route) in layout.routes.iter().enumerate() {
        let Some(Route {
            points, reversed, ..
        }) = route
        else {
            continue;
        };
        if *reversed {
            continue;
        }
        if let Some(&(x, y)) = points.last()
            && let Some(pos) = to_screen(x, y)
            && let Some(cell) = buf.cell_mut(pos)
        {
            cell.set_char('▶').set_style(class_style(edge_class[k]));
        }
    }
    // Labels: the most important first; a label never covers another.
    if layout.geometry.is_some_and(|g| g.box_h > 1) {
        let mut order: Vec<usize> = (0..map.edges.len()).collect();
        order.sort_by(|&a, &b| {
            edge_class[b].cmp(&edge_class[a]).then_with(|| {
                graph.edges[map.edges[b]]
                    .rps
                    .total_cmp(&graph.edges[map.edges[a]].rps)
            })
        });
        let mut taken = vec![false; cells];
        for k in order {
            let Some(Some(route)) = layout.routes.get(k) else {
                continue;
            };
            let Some((lx, ly, room)) = route.label else {
                continue;
            };
            if ly < oy || ly >= oy + vh {
                continue;
            }
            let edge = &graph.edges[map.edges[k]];
            let mut text = edge_label(edge, app.health(edge));
            let verdict = app.verdict(edge);
            if verdict.is_bad() {
                text = format!("✕ {text}");
            }
            let text = truncate(&text, room.max(0) as usize);
            let len = text.chars().count() as i32;
            let row = (ly - oy) as usize * view.width as usize;
            let span = (lx - ox).max(0)..(lx - ox + len).min(vw);
            if span.is_empty() || span.clone().any(|cx| taken[row + cx as usize]) {
                continue;
            }
            for cx in span {
                taken[row + cx as usize] = true;
            }
            let style = class_style(edge_class[k]);
            for (j, ch) in text.chars().enumerate() {
                if let Some(pos) = to_screen(lx + j as i32, ly)
                    && let Some(cell) = buf.cell_mut(pos)
                {
                    cell.set_char(ch).set_style(style);
                }
            }
        }
    }
    // Nodes.
    for (v, b) in layout.nodes.iter().enumerate() {
        if b.x + b.w < ox || b.x >= ox + vw || b.y + b.h < oy || b.y >= oy + vh {
            continue;
        }
        let node = map.node_index[v].map(|i| &graph.nodes[i]);
        let id = &map.nodes[v];
        let health = node.map_or(Health::Idle, |n| node_health(n, &app.thresholds));
        let mut name = node
            .map_or(id.as_str(), |n| {
                if n.service.is_empty() {
                    &n.id
                } else {
                    &n.service
                }
            })
            .to_owned();
        if let Some(node) = node {
            match node.kind {
                NodeKind::Database => name = format!("⛁ {name}"),
                NodeKind::Messaging => name = format!("✉ {name}"),
                NodeKind::User => name = format!("☺ {name}"),
                NodeKind::Virtual | NodeKind::Service => {}
            }
        }
        let is_selected = selected == Some(v);
        let is_focus = app.focus.as_deref() == Some(id.as_str());
        let is_match = !app.search.is_empty() && id.to_lowercase().contains(&app.search);
        let virtual_node = node.is_none_or(|n| n.kind != NodeKind::Service);
        let mut border = Style::default().fg(health_color(health));
        if virtual_node {
            border = border.add_modifier(Modifier::DIM);
        }
        if is_selected {
            border = border.add_modifier(Modifier::BOLD);
        }
        let mut text_style = Style::default();
        if is_match {
            text_style = text_style.fg(Color::Black).bg(Color::Yellow);
        }
        if is_selected {
            text_style = text_style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        let cell_at = |buf: &mut Buffer, x: i32, y: i32, ch: char, style: Style| {
            if let Some(pos) = to_screen(x, y)
                && let Some(cell) = buf.cell_mut(pos)
            {
                cell.set_char(ch).set_style(style);
            }
        };
        let text_at = |buf: &mut Buffer, x: i32, y: i32, text: &str, style: Style| {
            for (j, ch) in text.chars().enumerate() {
                cell_at(buf, x + j as i32, y, ch, style);
            }
        };
        if b.h <= 1 {
            // Compact: `[name]` on one row.
            let inner = (b.w - 2).max(0) as usize;
            let label = format!("{:<inner$}", truncate(&name, inner));
            cell_at(buf, b.x, b.y, if is_focus { '«' } else { '[' }, border);
            text_at(
                buf,
                b.x + 1,
                b.y,
                &label,
                text_style.fg(if is_match {
                    Color::Black
                } else {
                    health_color(health)
                }),
            );
            cell_at(
                buf,
                b.x + b.w - 1,
                b.y,
                if is_focus { '»' } else { ']' },
                border,
            );
            continue;
        }
        let (h, v_, tl, tr, bl, br) = if is_focus {
            ('═', '║', '╔', '╗', '╚', '╝')
        } else {
            ('─', '│', '┌', '┐', '└', '┘')
        };
        for dy in 0..b.h {
            let y = b.y + dy;
            for dx in 0..b.w {
                let x = b.x + dx;
                let ch = match (dx, dy) {
                    (0, 0) => tl,
                    (0, _) if dy == b.h - 1 => bl,
                    (_, 0) if dx == b.w - 1 => tr,
                    _ if dx == b.w - 1 && dy == b.h - 1 => br,
                    (0, _) => v_,
                    _ if dx == b.w - 1 => v_,
                    _ if dy == 0 || dy == b.h - 1 => h,
                    _ => ' ',
                };
                cell_at(buf, x, y, ch, border);
            }
        }
        let inner = (b.w - 2).max(0) as usize;
        text_at(buf, b.x + 1, b.y + 1, &truncate(&name, inner), text_style);
        if b.h >= 4
            && let Some(node) = node
        {
            let stats = if node.requests > 0.0 {
                format!(
                    "{} {}",
                    fmt_rate(node.rps),
                    meshlens_analyzer::render::fmt_percent(node.error_rate)
                )
            } else {
                node.versions.join(",")
            };
            text_at(
                buf,
                b.x + 1,
                b.y + 2,
                &truncate(&stats, inner),
                Style::default().fg(health_color(health)),
            );
        }
    }
    if let Some(detail) = detail {
        draw_detail(app, detail, buf);
    }
}

/// The selected node's numbers (and the selected edge's, when it touches the node).
fn draw_detail(app: &App, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, Style::default().bg(Color::Indexed(234)));
    let Some(id) = &app.selected_node else {
        return;
    };
    let graph = &app.data.graph;
    let node = graph.nodes.iter().find(|n| &n.id == id);
    let ins = graph.edges.iter().filter(|e| &e.target == id).count();
    let outs = graph.edges.iter().filter(|e| &e.source == id).count();
    let mut text = format!(" {id}");
    if let Some(node) = node {
        if !node.versions.is_empty() {
            text.push_str(&format!(" [{}]", node.versions.join(",")));
        }
        text.push_str(&format!(
            "  {} {} err",
            fmt_rate(node.rps),
            meshlens_analyzer::render::fmt_percent(node.error_rate)
        ));
    }
    text.push_str(&format!("  in {ins} out {outs}"));
    if let Some(edge) = app.current_edge()
        && app.selected_edge.is_some()
        && (&edge.source == id || &edge.target == id)
    {
        text.push_str(&format!(
            "  │ {} → {}: {}",
            edge.source,
            edge.target,
            edge_label(edge, app.health(edge))
        ));
    }
    text.push_str(&format!("  zoom {}", app.map.zoom + 1));
    put(buf, area.x, area.y, area.right(), &text, Style::default());
}
