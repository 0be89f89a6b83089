//! Key sequences change the dashboard as a user expects; no size panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{app, key, keys, render, text};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use meshlens_tui::app::{Mode, SortColumn};
use meshlens_tui::{Update, View, sample};

#[test]
fn tab_digits_and_backtab_switch_views() {
    let mut app = app();
    assert_eq!(app.view, View::Map);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Edges);
    keys(&mut app, "3");
    assert_eq!(app.view, View::Anomalies);
    keys(&mut app, "5");
    assert_eq!(app.view, View::Traces);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Map);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, View::Traces);
    keys(&mut app, "4");
    assert_eq!(app.view, View::Policies);
}

#[test]
fn edges_sort_cycles_and_reverses() {
    let mut app = app();
    keys(&mut app, "2");
    assert_eq!(app.sort, SortColumn::Source);
    keys(&mut app, "sss"); // destination, protocol, rps
    assert_eq!(app.sort, SortColumn::Rps);
    let rps: Vec<f64> = app
        .edge_rows
        .iter()
        .map(|&i| app.data.graph.edges[i].rps)
        .collect();
    assert!(rps.windows(2).all(|w| w[0] <= w[1]), "{rps:?}");
    keys(&mut app, "r");
    let first = &app.data.graph.edges[app.edge_rows[0]];
    assert_eq!(first.rps, 10.0);
    // Sorting by success puts the failing edge first (ascending).
    keys(&mut app, "sr");
    assert_eq!(app.sort, SortColumn::Success);
    let first = &app.data.graph.edges[app.edge_rows[0]];
    assert_eq!(first.target, "reviews.bookinfo");
    // Selection follows the edge across sorts, and vim keys move it.
    keys(&mut app, "G");
    assert_eq!(app.edge_sel(), app.edge_rows.len() - 1);
    let selected = app.selected_edge.clone().unwrap();
    keys(&mut app, "s");
    assert_eq!(
        app.edge_rows
            .iter()
            .position(|&i| app.data.graph.edges[i].target == selected.target
                && app.data.graph.edges[i].source == selected.source),
        Some(app.edge_sel())
    );
    keys(&mut app, "gj");
    assert_eq!(app.edge_sel(), 1);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.edge_sel(), 0);
}

#[test]
fn search_filters_edges_and_selects_a_matching_node() {
    let mut app = app();
    keys(&mut app, "/");
    assert_eq!(app.mode, Mode::Search);
    keys(&mut app, "Reviews");
    key(&mut app, KeyCode::Backspace);
    keys(&mut app, "s");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.search, "reviews");
    assert_eq!(app.selected_node.as_deref(), Some("reviews.bookinfo"));
    assert_eq!(app.edge_rows.len(), 2);
    let screen = text(&render(&mut app, 80, 24));
    assert!(screen.contains("/reviews"), "{screen}");
    key(&mut app, KeyCode::Esc);
    assert!(app.search.is_empty());
    assert_eq!(app.edge_rows.len(), 6);
}

#[test]
fn focus_shows_the_neighbourhood_and_plus_minus_change_hops() {
    let mut app = app();
    let all = app.map.nodes.len();
    // Select reviews: gateway → (l) productpage → (l) the middle layer, then find reviews.
    keys(&mut app, "ll");
    while app.selected_node.as_deref() != Some("reviews.bookinfo") {
        keys(&mut app, "j");
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.focus.as_deref(), Some("reviews.bookinfo"));
    assert_eq!(app.hops, 1);
    let mut shown = app.map.nodes.clone();
    shown.sort();
    assert_eq!(
        shown,
        [
            "productpage.bookinfo",
            "ratings.bookinfo",
            "reviews.bookinfo"
        ]
    );
    keys(&mut app, "+");
    assert_eq!(app.hops, 2);
    assert_eq!(app.map.nodes.len(), all);
    keys(&mut app, "--");
    assert_eq!(app.hops, 1);
    // Enter on the focused node unfocuses.
    key(&mut app, KeyCode::Enter);
    assert!(app.focus.is_none());
    assert_eq!(app.map.nodes.len(), all);
}

#[test]
fn errors_only_keeps_failing_and_denied_edges() {
    let mut app = app();
    keys(&mut app, "e");
    assert!(app.errors_only);
    let mut edges: Vec<(String, String)> = app
        .edge_rows
        .iter()
        .map(|&i| {
            let e = &app.data.graph.edges[i];
            (e.source.clone(), e.target.clone())
        })
        .collect();
    edges.sort();
    assert_eq!(
        edges,
        [
            ("details.bookinfo".into(), "ratings.bookinfo".into()),
            ("productpage.bookinfo".into(), "ratings.bookinfo".into()),
            ("productpage.bookinfo".into(), "reviews.bookinfo".into()),
        ]
    );
    assert!(
        !app.map
            .nodes
            .contains(&"istio-ingressgateway.istio-system".to_owned())
    );
    keys(&mut app, "e");
    assert_eq!(app.edge_rows.len(), 6);
}

#[test]
fn pause_holds_updates_until_resumed() {
    let mut app = app();
    keys(&mut app, "p");
    assert!(app.paused);
    let mut next = sample::bookinfo();
    next.graph.edges.truncate(2);
    app.apply(Update::Data(Box::new(next)));
    assert_eq!(
        app.data.graph.edges.len(),
        6,
        "paused: the screen keeps its data"
    );
    assert!(app.has_held());
    let screen = text(&render(&mut app, 80, 24));
    assert!(screen.contains("PAUSED +new"), "{screen}");
    keys(&mut app, "p");
    assert!(!app.paused);
    assert_eq!(app.data.graph.edges.len(), 2);
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let mut app = app();
    keys(&mut app, "?");
    assert!(app.help);
    let screen = text(&render(&mut app, 80, 24));
    assert!(screen.contains("keys (any key closes)"));
    keys(&mut app, "2");
    assert!(!app.help);
    assert_eq!(app.view, View::Map, "the closing key does nothing else");
}

#[test]
fn quit_with_q_and_ctrl_c() {
    let mut app = app();
    keys(&mut app, "q");
    assert!(app.should_quit);
    let mut app = common::app();
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.should_quit);
}

#[test]
fn enter_on_an_anomaly_jumps_to_its_edge() {
    let mut app = app();
    keys(&mut app, "3");
    // The first row is the policy violation productpage → ratings; the second the error burst.
    keys(&mut app, "j");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Edges);
    let edge = app.current_edge().unwrap();
    assert_eq!(
        (edge.source.as_str(), edge.target.as_str()),
        ("productpage.bookinfo", "reviews.bookinfo")
    );
    // Enter in Edges shows its traces.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Traces);
    assert_eq!(app.traces_for_edge().len(), 2);
    keys(&mut app, "j");
    assert_eq!(app.trace_sel, 1);
}

#[test]
fn zoom_and_pan_keys() {
    let mut app = app();
    render(&mut app, 80, 24);
    let fitted = app.map.zoom;
    keys(&mut app, "z");
    assert_eq!(app.map.zoom, fitted + 1);
    keys(&mut app, "Z");
    assert_eq!(app.map.zoom, fitted);
    keys(&mut app, "L");
    assert_eq!(app.pan, (8, 0));
    keys(&mut app, "0");
    assert_eq!((app.zoom, app.pan), (None, (0, 0)));
}

#[test]
fn mouse_clicks_select_tabs_rows_and_nodes() {
    let mut app = app();
    render(&mut app, 120, 40);
    let click = |app: &mut meshlens_tui::App, column, row| {
        app.handle_mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // A node: the middle of the gateway's box.
    let (area, ox, oy) = app.hits.map.unwrap();
    let index = app
        .map
        .nodes
        .iter()
        .position(|n| n == "productpage.bookinfo")
        .unwrap();
    let b = app.map.layout.nodes[index];
    let x = (b.x + b.w / 2 - ox) as u16 + area.x;
    let y = (b.y + b.h / 2 - oy) as u16 + area.y;
    assert!(click(&mut app, x, y));
    assert_eq!(app.selected_node.as_deref(), Some("productpage.bookinfo"));
    // The Edges tab.
    let (tab, _) = app
        .hits
        .tabs
        .iter()
        .find(|(_, v)| *v == View::Edges)
        .copied()
        .unwrap();
    assert!(click(&mut app, tab.x + 1, tab.y));
    assert_eq!(app.view, View::Edges);
    render(&mut app, 120, 40);
    // The third row.
    let (body, _) = app.hits.list.unwrap();
    assert!(click(&mut app, body.x + 2, body.y + 2));
    assert_eq!(app.edge_sel(), 2);
}

#[test]
fn every_view_survives_every_size() {
    let sizes = [
        (80, 24),
        (120, 40),
        (10, 5),
        (1, 1),
        (9, 2),
        (20, 3),
        (30, 4),
        (200, 60),
        (80, 6),
        (12, 30),
    ];
    for view in View::ALL {
        for help in [false, true] {
            for &(w, h) in &sizes {
                let mut app = app();
                app.switch(view);
                app.help = help;
                render(&mut app, w, h);
                // Keys after a resize too.
                keys(&mut app, "jjGglhz+e");
                render(&mut app, w, h);
            }
        }
    }
    // Empty data.
    for view in View::ALL {
        let mut app = meshlens_tui::App::default();
        app.switch(view);
        keys(&mut app, "jkGgsre");
        key(&mut app, KeyCode::Enter);
        for &(w, h) in &sizes {
            render(&mut app, w, h);
        }
    }
}

#[test]
fn live_updates_change_the_screen() {
    let mut app = app();
    keys(&mut app, "2");
    let before = text(&render(&mut app, 80, 24));
    let mut next = sample::bookinfo();
    next.graph.edges[0].rps = 42.0;
    app.apply(Update::Snapshot {
        graph: Box::new(next.graph),
        anomalies: next.anomalies,
    });
    let after = text(&render(&mut app, 80, 24));
    assert_ne!(before, after);
    assert!(after.contains("42/s"), "{after}");
}

#[test]
fn large_graph_renders_and_navigates() {
    let mut app = meshlens_tui::App::new(sample::large(200, 2000));
    render(&mut app, 200, 60);
    assert_eq!(app.data.graph.edges.len(), 2000);
    keys(&mut app, "lljjjz");
    key(&mut app, KeyCode::Enter);
    assert!(app.focus.is_some());
    render(&mut app, 80, 24);
}
