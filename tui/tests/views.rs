//! Snapshots of every view on the bookinfo sample at 80×24 and 120×40.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{app, key, render};
use crossterm::event::KeyCode;
use meshlens_tui::View;

fn snapshot_view(name: &str, view: View, prepare: impl Fn(&mut meshlens_tui::App)) {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = app();
        prepare(&mut app);
        app.switch(view);
        let terminal = render(&mut app, w, h);
        let name = format!("{name}_{w}x{h}");
        insta::assert_snapshot!(name, terminal.backend());
    }
}

#[test]
fn map() {
    snapshot_view("map", View::Map, |_| {});
}

#[test]
fn map_zoomed_in() {
    snapshot_view("map_zoomed_in", View::Map, |app| {
        app.zoom = Some(2);
        app.refresh();
    });
}

#[test]
fn edges() {
    snapshot_view("edges", View::Edges, |_| {});
}

#[test]
fn anomalies() {
    snapshot_view("anomalies", View::Anomalies, |_| {});
}

#[test]
fn policies() {
    snapshot_view("policies", View::Policies, |_| {});
}

#[test]
fn traces() {
    // The erroring edge: productpage → reviews, whose sample traces have spans.
    snapshot_view("traces", View::Traces, |app| {
        app.switch(View::Edges);
        for _ in 0..4 {
            key(app, KeyCode::Char('j'));
        }
    });
}

#[test]
fn help_overlay() {
    snapshot_view("help_overlay", View::Edges, |app| {
        key(app, KeyCode::Char('?'))
    });
}
