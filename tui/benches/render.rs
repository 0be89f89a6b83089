//! Rendering the map and edges views of a large graph (200 services, 2,000 edges) into a
//! 200×60 buffer; goal ≤ 5 ms per frame. The layout is computed when data arrives, not per
//! frame: `layout` measures that step apart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meshlens_tui::{App, View, draw, sample};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fn app(view: View) -> App {
    let mut app = App::new(sample::large(200, 2000));
    app.switch(view);
    let area = Rect::new(0, 0, 200, 60);
    let mut buf = Buffer::empty(area);
    let hits = draw(&app, area, &mut buf);
    if let Some((map, _, _)) = hits.map {
        app.set_map_viewport((map.width, map.height));
    }
    app.hits = hits;
    app
}

fn bench(c: &mut Criterion) {
    let area = Rect::new(0, 0, 200, 60);
    for (name, view) in [("map", View::Map), ("edges", View::Edges)] {
        let app = app(view);
        let mut buf = Buffer::empty(area);
        c.bench_function(&format!("render_{name}_200x60_large"), |b| {
            b.iter(|| {
                buf.reset();
                black_box(draw(black_box(&app), area, &mut buf));
            });
        });
    }
    let mut app = app(View::Map);
    c.bench_function("layout_large_on_update", |b| {
        b.iter(|| {
            app.refresh();
            black_box(app.map.layout.width);
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
