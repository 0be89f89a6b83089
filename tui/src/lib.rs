//! Terminal dashboard over analyzer snapshots (issue 6): `meshlens tui`.
//!
//! Structured like tokio-console: [`app`] holds the state and turns keys, mouse events and
//! source updates into state changes; [`view`] renders one module per view into a ratatui
//! buffer; [`run`] is the event loop (input thread, update channel, ticks) on a real terminal.
//! Data arrives as [`Update`]s over a `std::sync::mpsc` channel, from an in-process analyzer or
//! from [`sse::connect`] attached to a running `meshlens serve`.

pub mod app;
pub mod convert;
pub mod data;
pub mod layout;
pub mod live_source;
pub mod sample;
pub mod sse;
pub mod view;

use std::io::{self, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub use app::{App, View};
pub use data::{
    ConnectionState, DashboardData, PolicyEntry, PolicyPanel, PolicySetStatus, RuleEntry,
    SpanSample, SpanStatus, TraceSample, Update, Violation, WorkloadPolicies,
};
pub use view::draw;

/// Why the dashboard stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
    #[error("stdout is not a terminal: run the dashboard in a terminal")]
    NotATerminal,
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Redraw period without input or data (ages and "updated … ago" move on).
    pub tick: Duration,
    /// What to show before the first update.
    pub initial: DashboardData,
    /// The status bar's connection state before the source says anything.
    pub connection: ConnectionState,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            initial: DashboardData::default(),
            connection: ConnectionState::Live,
        }
    }
}

/// What the event loop waits on.
enum LoopEvent {
    Input(Event),
    Update(Update),
}

/// Runs the dashboard on the terminal until the user quits: raw mode, the alternate screen
/// and mouse capture are set up, and restored on return, on error and on panic.
///
/// The loop blocks on one channel that merges terminal input (a reader thread), the source's
/// `updates`, and a tick timeout; it redraws only when something changed or a tick passed.
/// When the source hangs up the dashboard keeps showing the last data.
pub fn run(updates: Receiver<Update>, options: RunOptions) -> Result<(), TuiError> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    install_panic_hook();
    let mut terminal = TerminalGuard::enter()?;

    let (tx, rx) = channel::<LoopEvent>();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let tx = tx.clone();
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("meshlens-tui-input".to_owned())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match event::poll(Duration::from_millis(250)) {
                        Ok(true) => match event::read() {
                            Ok(ev) => {
                                if tx.send(LoopEvent::Input(ev)).is_err() {
                                    break;
                                }
                            }
                            Err(_) => break,
                        },
                        Ok(false) => {}
                        Err(_) => break,
                    }
                }
            })?;
    }
    std::thread::Builder::new()
        .name("meshlens-tui-updates".to_owned())
        .spawn(move || {
            for update in updates {
                if tx.send(LoopEvent::Update(update)).is_err() {
                    break;
                }
            }
        })?;

    let mut app = App::new(options.initial);
    app.connection = options.connection;
    app.now_ms = wall_ms();
    let result = event_loop(&mut terminal.terminal, &mut app, &rx, options.tick);
    stop.store(true, Ordering::Relaxed);
    drop(terminal);
    result
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    rx: &Receiver<LoopEvent>,
    tick: Duration,
) -> Result<(), TuiError> {
    let mut dirty = true;
    let mut next_tick = Instant::now() + tick;
    loop {
        if dirty {
            let mut hits = app::Hits::default();
            terminal.draw(|frame| {
                let area = frame.area();
                hits = draw(app, area, frame.buffer_mut());
            })?;
            app.hits = hits;
            dirty = false;
            // The map's zoom fits its viewport: a new viewport size may change the drawing.
            if let Some((area, _, _)) = app.hits.map {
                dirty = app.set_map_viewport((area.width, area.height));
            }
            if dirty {
                continue;
            }
        }
        let timeout = next_tick.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(LoopEvent::Input(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                dirty = app.handle_key(key);
            }
            Ok(LoopEvent::Input(Event::Mouse(mouse))) => dirty = app.handle_mouse(mouse),
            Ok(LoopEvent::Input(Event::Resize(..))) => dirty = true,
            Ok(LoopEvent::Input(_)) => {}
            Ok(LoopEvent::Update(update)) => {
                app.now_ms = wall_ms();
                dirty = app.apply(update);
            }
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + tick;
                app.now_ms = wall_ms();
                dirty = true;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if app.should_quit {
            return Ok(());
        }
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The terminal in dashboard mode; dropping it restores the terminal.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> Result<Self, TuiError> {
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(error) = execute!(stdout, EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(error.into());
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(mut terminal) => {
                let _ = terminal.hide_cursor();
                let _ = terminal.clear();
                Ok(Self { terminal })
            }
            Err(error) => {
                restore_terminal();
                Err(error.into())
            }
        }
    }
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TerminalGuard")
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore_terminal();
    }
}

/// Leaves the alternate screen, stops mouse capture and raw mode (idempotent).
pub fn restore_terminal() {
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

/// Restores the terminal before the default panic message is printed, so a panic never
/// leaves the shell in raw mode on the alternate screen.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}
