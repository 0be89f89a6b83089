//! The dashboard's state: what is shown, what is selected, and how keys and mouse change it.
//! Rendering reads an [`App`]; only [`App::handle_key`], [`App::handle_mouse`] and
//! [`App::apply`] change it, so navigation is testable without a terminal.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use meshlens_analyzer::anomaly::{Anomaly, AnomalyKind, Subject};
use meshlens_analyzer::render::{Health, HealthThresholds, edge_health};
use meshlens_analyzer::snapshot::EdgeSnapshot;
use ratatui::layout::{Position, Rect};

use crate::data::{ConnectionState, DashboardData, Update};
use crate::layout::{Geometry, Layout, layout};

/// The five views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Map,
    Edges,
    Anomalies,
    Policies,
    Traces,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Map,
        View::Edges,
        View::Anomalies,
        View::Policies,
        View::Traces,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Map => "Map",
            View::Edges => "Edges",
            View::Anomalies => "Anomalies",
            View::Policies => "Policies",
            View::Traces => "Traces",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|&v| v == self).unwrap_or(0)
    }
}

/// Columns of the Edges table, in the order `s` cycles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortColumn {
    Source,
    Destination,
    Protocol,
    Rps,
    Success,
    P50,
    P95,
    P99,
    Policy,
}

impl SortColumn {
    pub const ALL: [SortColumn; 9] = [
        SortColumn::Source,
        SortColumn::Destination,
        SortColumn::Protocol,
        SortColumn::Rps,
        SortColumn::Success,
        SortColumn::P50,
        SortColumn::P95,
        SortColumn::P99,
        SortColumn::Policy,
    ];

    fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|&c| c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }
}

/// What the policies say about an edge's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// No policies are checked.
    Unknown,
    /// Policies loaded, no violation on this edge.
    Allowed,
    /// The proxy enforced RBAC denials (`rbac-denial`).
    RbacDenied,
    /// Traffic the policies forbid is flowing (`policy-violation`).
    Violation,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Unknown => "-",
            Verdict::Allowed => "ok",
            Verdict::RbacDenied => "RBAC 403",
            Verdict::Violation => "DENY",
        }
    }

    pub fn is_bad(self) -> bool {
        matches!(self, Verdict::RbacDenied | Verdict::Violation)
    }
}

/// An edge's identity across updates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    pub source: String,
    pub target: String,
    pub protocol: String,
}

impl EdgeKey {
    pub fn of(edge: &EdgeSnapshot) -> Self {
        Self {
            source: edge.source.clone(),
            target: edge.target.clone(),
            protocol: edge.protocol.clone(),
        }
    }

    fn matches(&self, edge: &EdgeSnapshot) -> bool {
        self.source == edge.source && self.target == edge.target && self.protocol == edge.protocol
    }
}

/// Keyboard mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a `/` search.
    Search,
}

/// Where things were drawn in the last frame, for mouse clicks and scrolling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hits {
    pub tabs: Vec<(Rect, View)>,
    /// A list's body (rows start at its top) and the index of its first shown row.
    pub list: Option<(Rect, usize)>,
    /// The map's viewport and its world origin.
    pub map: Option<(Rect, i32, i32)>,
}

/// The Map view's visible subgraph and its layout.
#[derive(Debug, Clone, Default)]
pub struct MapModel {
    /// Node ids shown, in layout input order (index = layout node index).
    pub nodes: Vec<String>,
    /// Index into `graph.nodes` for each shown node (None for edge endpoints without a node).
    pub node_index: Vec<Option<usize>>,
    /// Edges shown: index into `graph.edges`, with layout endpoints.
    pub edges: Vec<usize>,
    pub layout: Layout,
    /// Zoom level used.
    pub zoom: usize,
}

/// The dashboard state.
#[derive(Debug)]
pub struct App {
    pub data: DashboardData,
    /// Updates received while paused, applied on resume.
    held: Option<DashboardData>,
    pub connection: ConnectionState,
    pub view: View,
    pub mode: Mode,
    pub help: bool,
    pub paused: bool,
    pub should_quit: bool,
    pub thresholds: HealthThresholds,
    /// Wall clock for ages (set by the event loop's ticks; fixed in tests).
    pub now_ms: u64,
    /// When the last data update arrived (`now_ms` then).
    pub last_update_ms: Option<u64>,
    pub updates: u64,
    /// Map selection and focus.
    pub selected_node: Option<String>,
    pub focus: Option<String>,
    pub hops: usize,
    /// Edges/Traces selection.
    pub selected_edge: Option<EdgeKey>,
    /// The applied search (lowercase) and the text being typed.
    pub search: String,
    pub search_input: String,
    pub errors_only: bool,
    /// `None`: fit the map to the window.
    pub zoom: Option<usize>,
    /// Map pan, in cells, added to the origin that keeps the selection in view.
    pub pan: (i32, i32),
    pub sort: SortColumn,
    pub sort_desc: bool,
    pub anomaly_sel: usize,
    pub policy_sel: usize,
    pub trace_sel: usize,
    pub hits: Hits,
    /// Size of the map viewport in the last frame (for fitting the zoom).
    pub map_viewport: (u16, u16),
    // Derived from the above, rebuilt by `refresh`.
    pub edge_rows: Vec<usize>,
    pub anomaly_rows: Vec<usize>,
    pub verdicts: HashMap<(String, String), Verdict>,
    pub map: MapModel,
}

impl Default for App {
    fn default() -> Self {
        Self::new(DashboardData::default())
    }
}

impl App {
    pub fn new(data: DashboardData) -> Self {
        let mut app = App {
            data,
            held: None,
            connection: ConnectionState::Live,
            view: View::Map,
            mode: Mode::Normal,
            help: false,
            paused: false,
            should_quit: false,
            thresholds: HealthThresholds::default(),
            now_ms: 0,
            last_update_ms: None,
            updates: 0,
            selected_node: None,
            focus: None,
            hops: 1,
            selected_edge: None,
            search: String::new(),
            search_input: String::new(),
            errors_only: false,
            zoom: None,
            pan: (0, 0),
            sort: SortColumn::Source,
            sort_desc: false,
            anomaly_sel: 0,
            policy_sel: 0,
            trace_sel: 0,
            hits: Hits::default(),
            map_viewport: (0, 0),
            edge_rows: Vec::new(),
            anomaly_rows: Vec::new(),
            verdicts: HashMap::new(),
            map: MapModel::default(),
        };
        app.refresh();
        app
    }

    /// Folds a source's update in (held back while paused). Returns whether the screen changes.
    pub fn apply(&mut self, update: Update) -> bool {
        let target = if self.paused {
            self.held.get_or_insert_with(|| self.data.clone())
        } else {
            &mut self.data
        };
        match update {
            Update::Data(data) => *target = *data,
            Update::Snapshot { graph, anomalies } => {
                target.graph = *graph;
                target.anomalies = anomalies;
            }
            Update::Policies(policies) => target.policies = policies,
            Update::Traces(traces) => target.traces = traces,
            Update::Connection(state) => {
                self.connection = state;
                return true;
            }
        }
        self.updates += 1;
        self.last_update_ms = Some(self.now_ms);
        if self.paused {
            return true; // the status bar counts held updates
        }
        self.refresh();
        true
    }

    /// Whether updates are waiting for `p`.
    pub fn has_held(&self) -> bool {
        self.held.is_some()
    }

    // ----- derived state -----

    /// Rebuilds the derived tables and the map layout after data or filters changed.
    pub fn refresh(&mut self) {
        self.verdicts = verdicts(&self.data);
        self.edge_rows = self.compute_edge_rows();
        self.anomaly_rows = self.compute_anomaly_rows();
        self.rebuild_map();
        if self.selected_node.is_none() {
            // The first node of the first layer: where traffic enters.
            let first = self
                .map
                .layout
                .layers
                .iter()
                .find_map(|l| l.first().copied());
            self.selected_node = first.and_then(|v| self.map.nodes.get(v).cloned());
        }
        self.anomaly_sel = clamp_index(self.anomaly_sel, self.anomaly_rows.len());
        let workloads = self.policy_workloads().len();
        self.policy_sel = clamp_index(self.policy_sel, workloads);
        self.trace_sel = clamp_index(self.trace_sel, self.traces_for_edge().len());
    }

    pub fn verdict(&self, edge: &EdgeSnapshot) -> Verdict {
        if let Some(v) = self
            .verdicts
            .get(&(edge.source.clone(), edge.target.clone()))
        {
            return *v;
        }
        if self.data.policies.is_some() {
            Verdict::Allowed
        } else {
            Verdict::Unknown
        }
    }

    pub fn health(&self, edge: &EdgeSnapshot) -> Health {
        edge_health(edge, &self.thresholds)
    }

    /// Whether an edge passes the errors-only filter.
    pub fn is_error_edge(&self, edge: &EdgeSnapshot) -> bool {
        matches!(self.health(edge), Health::Degraded | Health::Failing)
            || self.verdict(edge).is_bad()
    }

    fn matches_search(&self, text: &str) -> bool {
        self.search.is_empty() || text.to_lowercase().contains(&self.search)
    }

    fn compute_edge_rows(&self) -> Vec<usize> {
        let edges = &self.data.graph.edges;
        let mut rows: Vec<usize> = (0..edges.len())
            .filter(|&i| {
                let e = &edges[i];
                (!self.errors_only || self.is_error_edge(e))
                    && (self.matches_search(&e.source) || self.matches_search(&e.target))
            })
            .collect();
        let key = |i: &usize| EdgeKey::of(&edges[*i]);
        let num = |e: &EdgeSnapshot| -> f64 {
            match self.sort {
                SortColumn::Rps => e.rps,
                SortColumn::Success => 1.0 - e.error_rate,
                SortColumn::P50 => e.latency_ms.p50,
                SortColumn::P95 => e.latency_ms.p95,
                SortColumn::P99 => e.latency_ms.p99,
                _ => 0.0,
            }
        };
        rows.sort_by(|a, b| {
            let (ea, eb) = (&edges[*a], &edges[*b]);
            let primary = match self.sort {
                SortColumn::Source => ea.source.cmp(&eb.source),
                SortColumn::Destination => ea.target.cmp(&eb.target),
                SortColumn::Protocol => ea.protocol.cmp(&eb.protocol),
                SortColumn::Policy => self.verdict(ea).cmp(&self.verdict(eb)),
                _ => num(ea).total_cmp(&num(eb)),
            };
            let primary = if self.sort_desc {
                primary.reverse()
            } else {
                primary
            };
            primary.then_with(|| key(a).cmp(&key(b)))
        });
        rows
    }

    fn compute_anomaly_rows(&self) -> Vec<usize> {
        let anomalies = &self.data.anomalies;
        let mut rows: Vec<usize> = (0..anomalies.len())
            .filter(|&i| {
                let a = &anomalies[i];
                (!self.errors_only || a.is_open())
                    && (self.matches_search(&a.subject.to_string())
                        || self.matches_search(&a.message))
            })
            .collect();
        rows.sort_by(|&a, &b| {
            let (x, y) = (&anomalies[a], &anomalies[b]);
            y.is_open()
                .cmp(&x.is_open())
                .then(y.severity.cmp(&x.severity))
                .then(y.started_at_unix_ms.cmp(&x.started_at_unix_ms))
                .then(x.id.cmp(&y.id))
        });
        rows
    }

    /// The Edges table's selected row (index into `edge_rows`).
    pub fn edge_sel(&self) -> usize {
        let edges = &self.data.graph.edges;
        self.selected_edge
            .as_ref()
            .and_then(|key| self.edge_rows.iter().position(|&i| key.matches(&edges[i])))
            .unwrap_or(0)
    }

    /// The selected edge (the first row when none is selected).
    pub fn current_edge(&self) -> Option<&EdgeSnapshot> {
        let edges = &self.data.graph.edges;
        if let Some(key) = &self.selected_edge
            && let Some(edge) = edges.iter().find(|e| key.matches(e))
        {
            return Some(edge);
        }
        self.edge_rows.first().map(|&i| &edges[i])
    }

    /// Sample traces of the current edge: those with one of its trace ids, or in which a span
    /// of its source has a child span of its target.
    pub fn traces_for_edge(&self) -> Vec<usize> {
        let Some(edge) = self.current_edge() else {
            return Vec::new();
        };
        let ids: BTreeSet<&str> = edge.trace_ids.iter().map(String::as_str).collect();
        let shows_call = |trace: &crate::data::TraceSample| {
            trace.spans.iter().enumerate().any(|(i, child)| {
                child.service == edge.target
                    && trace.spans[..i]
                        .iter()
                        .any(|p| p.service == edge.source && p.depth + 1 == child.depth)
            })
        };
        (0..self.data.traces.len())
            .filter(|&i| {
                let trace = &self.data.traces[i];
                ids.contains(trace.trace_id.as_str()) || shows_call(trace)
            })
            .collect()
    }

    /// Workloads of the Policies view: the panel's, else those with policy anomalies.
    pub fn policy_workloads(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if let Some(panel) = &self.data.policies {
            names.extend(panel.workloads.iter().map(|w| w.workload.clone()));
        }
        for a in &self.data.anomalies {
            if matches!(
                a.kind,
                AnomalyKind::PolicyViolation | AnomalyKind::RbacDenial
            ) && let Subject::Edge(edge) = &a.subject
            {
                names.insert(edge.target.clone());
            }
        }
        let mut names: Vec<String> = names
            .into_iter()
            .filter(|n| self.matches_search(n))
            .collect();
        // Workloads with violations first.
        names.sort_by_cached_key(|n| (!self.has_violations(n), n.clone()));
        names
    }

    /// Whether a workload has violations (panel) or open policy anomalies.
    pub fn has_violations(&self, workload: &str) -> bool {
        policy_anomalies(&self.data, workload)
            .iter()
            .any(|a| a.is_open())
            || self.data.policies.iter().any(|p| {
                p.workloads
                    .iter()
                    .any(|w| w.workload == workload && !w.violations.is_empty())
            })
    }

    fn rebuild_map(&mut self) {
        let graph = &self.data.graph;
        let mut ids: BTreeSet<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        for e in &graph.edges {
            ids.insert(&e.source);
            ids.insert(&e.target);
        }
        // Focus: nodes within `hops` of the focus node, either direction.
        let keep: Option<BTreeSet<&str>> = self.focus.as_deref().map(|focus| {
            let mut adjacency: HashMap<&str, Vec<&str>> = HashMap::new();
            for e in &graph.edges {
                adjacency.entry(&e.source).or_default().push(&e.target);
                adjacency.entry(&e.target).or_default().push(&e.source);
            }
            let mut seen: BTreeSet<&str> = BTreeSet::from([focus]);
            let mut queue = VecDeque::from([(focus, 0usize)]);
            while let Some((v, d)) = queue.pop_front() {
                if d >= self.hops {
                    continue;
                }
                for &w in adjacency.get(v).map(Vec::as_slice).unwrap_or(&[]) {
                    if seen.insert(w) {
                        queue.push_back((w, d + 1));
                    }
                }
            }
            seen
        });
        let mut edges: Vec<usize> = (0..graph.edges.len())
            .filter(|&i| {
                let e = &graph.edges[i];
                keep.as_ref()
                    .is_none_or(|k| k.contains(e.source.as_str()) && k.contains(e.target.as_str()))
                    && (!self.errors_only || self.is_error_edge(e))
            })
            .collect();
        edges.sort_by_key(|&i| EdgeKey::of(&graph.edges[i]));
        let nodes: Vec<String> = ids
            .into_iter()
            .filter(|id| keep.as_ref().is_none_or(|k| k.contains(id)))
            .filter(|id| {
                !self.errors_only
                    || self.focus.as_deref() == Some(*id)
                    || edges
                        .iter()
                        .any(|&i| graph.edges[i].source == *id || graph.edges[i].target == *id)
            })
            .map(str::to_owned)
            .collect();
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let pairs: Vec<(usize, usize)> = edges
            .iter()
            .map(|&i| {
                let e = &graph.edges[i];
                (
                    index.get(e.source.as_str()).copied().unwrap_or(0),
                    index.get(e.target.as_str()).copied().unwrap_or(0),
                )
            })
            .collect();
        let node_index = nodes
            .iter()
            .map(|id| graph.nodes.iter().position(|n| &n.id == id))
            .collect();
        // Fit: the largest zoom level whose layout fits the viewport's width (the layering
        // does not depend on the level, so one layout tells how many columns there are).
        let mut layout = layout(
            nodes.len(),
            &pairs,
            Geometry::LEVELS[self.zoom.unwrap_or(0)],
        );
        let zoom = match self.zoom {
            Some(z) => z,
            None => {
                let columns = layout.layers.len() as i32;
                let width = i32::from(self.map_viewport.0);
                let fit = (0..Geometry::LEVELS.len())
                    .rev()
                    .find(|&z| {
                        let g = Geometry::LEVELS[z];
                        columns * (g.box_w + g.gap) - g.gap <= width
                    })
                    .unwrap_or(0);
                if fit != 0 {
                    layout = crate::layout::layout(nodes.len(), &pairs, Geometry::LEVELS[fit]);
                }
                fit
            }
        };
        self.map = MapModel {
            nodes,
            node_index,
            edges,
            layout,
            zoom,
        };
    }

    /// Node ids matching the search, in map order.
    fn search_matches(&self) -> Vec<String> {
        if self.search.is_empty() {
            return Vec::new();
        }
        self.map
            .nodes
            .iter()
            .filter(|id| id.to_lowercase().contains(&self.search))
            .cloned()
            .collect()
    }

    /// Tells the app the map viewport's size (from the last frame); re-fits the zoom when it
    /// changed. Returns whether a redraw is needed.
    pub fn set_map_viewport(&mut self, size: (u16, u16)) -> bool {
        if self.map_viewport == size {
            return false;
        }
        self.map_viewport = size;
        if self.zoom.is_none() {
            self.rebuild_map();
        }
        true
    }

    // ----- input -----

    /// Handles one key press. Returns whether the screen changes.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d'))
        {
            self.should_quit = true;
            return true;
        }
        if self.mode == Mode::Search {
            return self.search_key(key);
        }
        if self.help {
            // Any key closes help; q still quits.
            self.help = false;
            if key.code == KeyCode::Char('q') {
                self.should_quit = true;
            }
            return true;
        }
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Char('q') => self.should_quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => self.switch(View::ALL[(self.view.index() + 1) % View::ALL.len()]),
            KeyCode::BackTab => {
                self.switch(View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()]);
            }
            KeyCode::Char(c @ '1'..='5') => {
                let i = c as usize - '1' as usize;
                self.switch(View::ALL[i]);
            }
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('/') => {
                self.mode = Mode::Search;
                self.search_input = self.search.clone();
            }
            KeyCode::Char('e') => {
                self.errors_only = !self.errors_only;
                self.refresh();
            }
            KeyCode::Esc => self.escape(),
            KeyCode::Char('n') => self.next_match(),
            _ => return self.view_key(key.code, shift),
        }
        true
    }

    fn search_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.search_input.clear();
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                self.search = self.search_input.trim().to_lowercase();
                self.refresh();
                if let Some(first) = self.search_matches().into_iter().next() {
                    self.selected_node = Some(first);
                    self.pan = (0, 0);
                }
            }
            KeyCode::Backspace => {
                self.search_input.pop();
            }
            KeyCode::Char(c) => self.search_input.push(c),
            _ => return false,
        }
        true
    }

    fn escape(&mut self) {
        if !self.search.is_empty() {
            self.search.clear();
        } else if self.focus.is_some() {
            self.focus = None;
        } else if self.errors_only {
            self.errors_only = false;
        }
        self.refresh();
    }

    fn next_match(&mut self) {
        let matches = self.search_matches();
        if matches.is_empty() {
            return;
        }
        let next = self
            .selected_node
            .as_ref()
            .and_then(|s| matches.iter().position(|m| m == s))
            .map_or(0, |i| (i + 1) % matches.len());
        self.selected_node = Some(matches[next].clone());
        self.pan = (0, 0);
    }

    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused
            && let Some(held) = self.held.take()
        {
            self.data = held;
            self.refresh();
        }
    }

    /// Switches to a view.
    pub fn switch(&mut self, view: View) {
        self.view = view;
        self.hits.list = None;
        self.hits.map = None;
    }

    fn view_key(&mut self, code: KeyCode, shift: bool) -> bool {
        let step: isize = match code {
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::PageDown => 10,
            KeyCode::PageUp => -10,
            KeyCode::Char('g') | KeyCode::Home => isize::MIN,
            KeyCode::Char('G') | KeyCode::End => isize::MAX,
            _ => 0,
        };
        match self.view {
            View::Map => return self.map_key(code, shift, step),
            View::Edges => match code {
                KeyCode::Char('s') => {
                    self.sort = self.sort.next();
                    self.refresh();
                }
                KeyCode::Char('r') => {
                    self.sort_desc = !self.sort_desc;
                    self.refresh();
                }
                KeyCode::Enter => {
                    self.select_edge_row(self.edge_sel());
                    self.trace_sel = 0;
                    self.switch(View::Traces);
                }
                _ if step != 0 => {
                    let row = step_index(self.edge_sel(), self.edge_rows.len(), step);
                    self.select_edge_row(row);
                }
                _ => return false,
            },
            View::Anomalies => match code {
                KeyCode::Enter => self.jump_to_anomaly(),
                _ if step != 0 => {
                    self.anomaly_sel = step_index(self.anomaly_sel, self.anomaly_rows.len(), step);
                }
                _ => return false,
            },
            View::Policies if step != 0 => {
                self.policy_sel = step_index(self.policy_sel, self.policy_workloads().len(), step);
            }
            View::Traces if step != 0 => {
                self.trace_sel = step_index(self.trace_sel, self.traces_for_edge().len(), step);
            }
            View::Traces => match code {
                // h/l: previous / next edge.
                KeyCode::Left | KeyCode::Char('h') | KeyCode::Right | KeyCode::Char('l') => {
                    let back = matches!(code, KeyCode::Left | KeyCode::Char('h'));
                    let row = step_index(
                        self.edge_sel(),
                        self.edge_rows.len(),
                        if back { -1 } else { 1 },
                    );
                    self.select_edge_row(row);
                    self.trace_sel = 0;
                }
                _ => return false,
            },
            View::Policies => return false,
        }
        true
    }

    fn select_edge_row(&mut self, row: usize) {
        if let Some(&i) = self.edge_rows.get(row) {
            self.selected_edge = Some(EdgeKey::of(&self.data.graph.edges[i]));
        }
    }

    fn map_key(&mut self, code: KeyCode, shift: bool, step: isize) -> bool {
        match code {
            KeyCode::Enter => {
                if self.focus.is_some() && self.focus == self.selected_node {
                    self.focus = None;
                } else {
                    self.focus = self.selected_node.clone();
                }
                self.pan = (0, 0);
                self.rebuild_map();
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.hops = (self.hops + 1).min(9);
                self.rebuild_map();
            }
            KeyCode::Char('-') | KeyCode::Char('_') => {
                self.hops = self.hops.saturating_sub(1).max(1);
                self.rebuild_map();
            }
            KeyCode::Char('z') => {
                self.zoom = Some((self.map.zoom + 1).min(Geometry::LEVELS.len() - 1));
                self.pan = (0, 0);
                self.rebuild_map();
            }
            KeyCode::Char('Z') => {
                self.zoom = Some(self.map.zoom.saturating_sub(1));
                self.pan = (0, 0);
                self.rebuild_map();
            }
            KeyCode::Char('0') => {
                self.zoom = None;
                self.pan = (0, 0);
                self.rebuild_map();
            }
            // Pan: H J K L and shifted arrows.
            KeyCode::Char('H') => self.pan.0 -= 8,
            KeyCode::Char('L') => self.pan.0 += 8,
            KeyCode::Char('K') => self.pan.1 -= 4,
            KeyCode::Char('J') => self.pan.1 += 4,
            KeyCode::Left if shift => self.pan.0 -= 8,
            KeyCode::Right if shift => self.pan.0 += 8,
            KeyCode::Up if shift => self.pan.1 -= 4,
            KeyCode::Down if shift => self.pan.1 += 4,
            KeyCode::Left | KeyCode::Char('h') => self.move_layer(-1),
            KeyCode::Right | KeyCode::Char('l') => self.move_layer(1),
            KeyCode::Char('g') | KeyCode::Home => self.select_extreme(false),
            KeyCode::Char('G') | KeyCode::End => self.select_extreme(true),
            _ if step != 0 => self.move_in_layer(step.signum()),
            _ => return false,
        }
        true
    }

    fn selected_map_index(&self) -> Option<usize> {
        let id = self.selected_node.as_ref()?;
        self.map.nodes.iter().position(|n| n == id)
    }

    fn select_map_node(&mut self, index: usize) {
        if let Some(id) = self.map.nodes.get(index) {
            self.selected_node = Some(id.clone());
            self.pan = (0, 0);
        }
    }

    fn move_in_layer(&mut self, step: isize) {
        let layers = &self.map.layout.layers;
        let Some(current) = self.selected_map_index() else {
            self.select_extreme(false);
            return;
        };
        let layer = self.map.layout.nodes[current].layer;
        let Some(list) = layers.get(layer) else {
            return;
        };
        let Some(pos) = list.iter().position(|&v| v == current) else {
            return;
        };
        let next = step_index(pos, list.len(), step);
        self.select_map_node(list[next]);
    }

    fn move_layer(&mut self, step: isize) {
        let Some(current) = self.selected_map_index() else {
            self.select_extreme(false);
            return;
        };
        let boxes = &self.map.layout.nodes;
        let layer = boxes[current].layer as isize + step;
        let Some(list) = usize::try_from(layer)
            .ok()
            .and_then(|l| self.map.layout.layers.get(l))
        else {
            return;
        };
        let y = boxes[current].y;
        if let Some(&best) = list.iter().min_by_key(|&&v| (boxes[v].y - y).abs()) {
            self.select_map_node(best);
        }
    }

    fn select_extreme(&mut self, last: bool) {
        let layers = &self.map.layout.layers;
        let pick = if last {
            layers.iter().rev().find_map(|l| l.last().copied())
        } else {
            layers.iter().find_map(|l| l.first().copied())
        };
        if let Some(v) = pick {
            self.select_map_node(v);
        }
    }

    fn jump_to_anomaly(&mut self) {
        let Some(&i) = self.anomaly_rows.get(self.anomaly_sel) else {
            return;
        };
        match self.data.anomalies[i].subject.clone() {
            Subject::Edge(edge) => {
                let found = self
                    .data
                    .graph
                    .edges
                    .iter()
                    .find(|e| e.source == edge.source && e.target == edge.target)
                    .map(EdgeKey::of);
                self.selected_edge = Some(found.unwrap_or(EdgeKey {
                    source: edge.source.clone(),
                    target: edge.target.clone(),
                    protocol: String::new(),
                }));
                self.selected_node = Some(edge.source);
                // The edge must be visible in the table.
                self.search.clear();
                self.errors_only = false;
                self.refresh();
                self.switch(View::Edges);
            }
            Subject::Node(node) => {
                self.selected_node = Some(node);
                self.focus = None;
                self.pan = (0, 0);
                self.rebuild_map();
                self.switch(View::Map);
            }
        }
    }

    /// Handles a mouse event against the last frame's [`Hits`].
    pub fn handle_mouse(&mut self, mouse: MouseEvent) -> bool {
        let at = Position::new(mouse.column, mouse.row);
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.help {
                    self.help = false;
                    return true;
                }
                if let Some(&(_, view)) = self.hits.tabs.iter().find(|(r, _)| r.contains(at)) {
                    self.switch(view);
                    return true;
                }
                if let Some((body, offset)) = self.hits.list
                    && body.contains(at)
                {
                    let row = offset + usize::from(at.y - body.y);
                    return self.click_row(row);
                }
                if let Some((area, ox, oy)) = self.hits.map
                    && area.contains(at)
                {
                    let wx = ox + i32::from(at.x - area.x);
                    let wy = oy + i32::from(at.y - area.y);
                    let hit =
                        self.map.layout.nodes.iter().position(|b| {
                            wx >= b.x && wx < b.x + b.w && wy >= b.y && wy < b.y + b.h
                        });
                    if let Some(v) = hit {
                        if let Some(id) = self.map.nodes.get(v) {
                            self.selected_node = Some(id.clone());
                        }
                        return true;
                    }
                }
                false
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let down = mouse.kind == MouseEventKind::ScrollDown;
                if self.view == View::Map {
                    self.pan.1 += if down { 3 } else { -3 };
                    true
                } else {
                    self.view_key(if down { KeyCode::Down } else { KeyCode::Up }, false)
                }
            }
            _ => false,
        }
    }

    fn click_row(&mut self, row: usize) -> bool {
        match self.view {
            View::Edges if row < self.edge_rows.len() => self.select_edge_row(row),
            View::Anomalies if row < self.anomaly_rows.len() => self.anomaly_sel = row,
            View::Policies if row < self.policy_workloads().len() => self.policy_sel = row,
            View::Traces if row < self.traces_for_edge().len() => self.trace_sel = row,
            _ => return false,
        }
        true
    }
}

/// Policy verdicts per (source, target) from open `policy-violation` / `rbac-denial` anomalies
/// and the policy panel's violations.
fn verdicts(data: &DashboardData) -> HashMap<(String, String), Verdict> {
    let mut out: HashMap<(String, String), Verdict> = HashMap::new();
    let mut put = |key: (String, String), v: Verdict| {
        let slot = out.entry(key).or_insert(v);
        *slot = (*slot).max(v);
    };
    for a in data.anomalies.iter().filter(|a| a.is_open()) {
        let v = match a.kind {
            AnomalyKind::PolicyViolation => Verdict::Violation,
            AnomalyKind::RbacDenial => Verdict::RbacDenied,
            _ => continue,
        };
        if let Subject::Edge(e) = &a.subject {
            put((e.source.clone(), e.target.clone()), v);
        }
    }
    if let Some(panel) = &data.policies {
        for w in &panel.workloads {
            for violation in &w.violations {
                let v = if violation.enforced {
                    Verdict::RbacDenied
                } else {
                    Verdict::Violation
                };
                put((violation.source.clone(), w.workload.clone()), v);
            }
        }
    }
    out
}

/// Policy anomalies (open first) — used by the Policies view.
pub fn policy_anomalies<'a>(data: &'a DashboardData, workload: &str) -> Vec<&'a Anomaly> {
    data.anomalies
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                AnomalyKind::PolicyViolation | AnomalyKind::RbacDenial
            )
        })
        .filter(|a| matches!(&a.subject, Subject::Edge(e) if e.target == workload))
        .collect()
}

fn clamp_index(i: usize, len: usize) -> usize {
    if len == 0 { 0 } else { i.min(len - 1) }
}

fn step_index(i: usize, len: usize, step: isize) -> usize {
    if len == 0 {
        return 0;
    }
    match step {
        isize::MIN => 0,
        isize::MAX => len - 1,
        s => (i as isize + s).clamp(0, len as isize - 1) as usize,
    }
}
