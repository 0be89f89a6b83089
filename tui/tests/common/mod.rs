#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meshlens_tui::{App, draw, sample};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The bookinfo sample at its own "now".
pub fn app() -> App {
    let mut app = App::new(sample::bookinfo());
    app.now_ms = sample::NOW_MS;
    app.last_update_ms = Some(sample::NOW_MS - 1_000);
    app
}

/// Renders like the event loop does (twice when the map's viewport changes the zoom).
pub fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    for _ in 0..2 {
        let mut hits = Default::default();
        terminal
            .draw(|frame| {
                let area = frame.area();
                hits = draw(app, area, frame.buffer_mut());
            })
            .unwrap();
        app.hits = hits;
        let changed = app
            .hits
            .map
            .is_some_and(|(area, _, _)| app.set_map_viewport((area.width, area.height)));
        if !changed {
            break;
        }
    }
    terminal
}

pub fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

pub fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The screen as text lines.
pub fn text(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}
