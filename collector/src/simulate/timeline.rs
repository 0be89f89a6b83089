//! The scripted incidents: what goes wrong, on which edge, from when to when (in the
//! simulation's own seconds, which a time scale may run faster than the wall clock).
//!
//! Timed against the analyzer's default anomaly configuration (`AnomalyConfig::default()`):
//! baselines need 120 s of history, edges first seen in the first 120 s are known, an
//! anomaly starts after 2 observations 5 s apart (latency: 3), a lost pair shows after the
//! 10-s pairing TTL. So: the error burst and RBAC denials come early (absolute thresholds,
//! no baseline needed); the new edge, the latency regression and the telemetry gap after the
//! warm-up.

use super::latency::Latency;
use super::topology::{Scenario, Topology};

/// What an incident does to the traffic.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The callee's requests from the caller take `extra` longer (only `callee_version` if set).
    Latency {
        caller: usize,
        callee: usize,
        callee_version: Option<String>,
        extra: Latency,
    },
    /// A share of the caller's calls fail with 503 and these Envoy response flags (in turn).
    Errors {
        caller: usize,
        callee: usize,
        ratio: f64,
        flags: Vec<&'static str>,
    },
    /// The callee's sidecar denies a share of the caller's calls: 403 `RBAC: access denied`.
    RbacDenials {
        caller: usize,
        callee: usize,
        caller_version: Option<String>,
        ratio: f64,
    },
    /// The caller starts calling the callee (an edge the demo policies deny).
    NewRoute {
        caller: usize,
        callee: usize,
        path: String,
        probability: f64,
    },
    /// SERVER spans of workloads in these namespaces stop arriving.
    DropServerSpans { namespaces: Vec<String> },
}

/// One scripted incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// A short name (`error-burst`): what the summary lists.
    pub name: &'static str,
    /// What a user is told happens.
    pub description: String,
    /// Simulation seconds since the start.
    pub start: f64,
    pub end: f64,
    pub effect: Effect,
    /// The anomaly kinds (API spelling) the analyzer should report for it.
    pub expected: &'static [&'static str],
    /// The graph edge concerned (node ids), when it is one edge.
    pub edge: Option<(String, String)>,
}

impl Incident {
    pub fn active(&self, t: f64) -> bool {
        self.start <= t && t < self.end
    }
}

/// The incidents of a run, by start time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub incidents: Vec<Incident>,
    /// Simulation seconds after which every incident has ended.
    pub length: f64,
}

impl Timeline {
    /// The scripted incidents of the scenario's demo.
    pub fn demo(topology: &Topology) -> Self {
        match topology.scenario {
            Scenario::Bookinfo => bookinfo(topology),
            Scenario::Large => large(topology),
        }
        .unwrap_or_default()
    }

    /// No incidents: steady traffic (the load generator).
    pub fn quiet() -> Self {
        Self::default()
    }

    /// The incidents active at `t` simulation seconds.
    pub fn active(&self, t: f64) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(move |i| i.active(t))
    }
}

struct Builder<'a> {
    topology: &'a Topology,
    incidents: Vec<Incident>,
}

impl Builder<'_> {
    fn node(&self, index: usize) -> String {
        self.topology
            .services
            .get(index)
            .map_or_else(String::new, |s| s.node_id())
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: &'static str,
        description: String,
        (start, end): (f64, f64),
        effect: Effect,
        expected: &'static [&'static str],
        edge: Option<(usize, usize)>,
    ) {
        let edge = edge.map(|(a, b)| (self.node(a), self.node(b)));
        self.incidents.push(Incident {
            name,
            description,
            start,
            end,
            effect,
            expected,
            edge,
        });
    }

    fn finish(self, length: f64) -> Timeline {
        let mut incidents = self.incidents;
        incidents.sort_by(|a, b| a.start.total_cmp(&b.start));
        Timeline { incidents, length }
    }
}

const ERROR_BURST: &[&str] = &["error-burst"];
const RBAC: &[&str] = &["rbac-denial", "authz-denial-burst"];
const LATENCY: &[&str] = &["latency-regression"];
const NEW_EDGE: &[&str] = &["new-edge", "policy-violation"];
const GAP: &[&str] = &["telemetry-gap"];

/// Bookinfo's four minutes: details fails (0:30–1:15), ratings denies reviews v2
/// (0:50–1:40), reviews v3 slows down (2:15–3:20), productpage calls ratings directly
/// (from 2:20), the bookinfo sidecars' SERVER spans go missing (2:30–3:50).
fn bookinfo(t: &Topology) -> Option<Timeline> {
    let gateway = t.root;
    let productpage = t.service("productpage")?;
    let details = t.service("details")?;
    let reviews = t.service("reviews")?;
    let ratings = t.service("ratings")?;
    let _ = gateway;
    let mut b = Builder {
        topology: t,
        incidents: Vec::new(),
    };
    b.add(
        "error-burst",
        "details fails 40% of productpage's calls: 503 with URX/UF (upstream retries exhausted, connection failures)".to_owned(),
        (30.0, 75.0),
        Effect::Errors {
            caller: productpage,
            callee: details,
            ratio: 0.4,
            flags: vec!["URX", "UF"],
        },
        ERROR_BURST,
        Some((productpage, details)),
    );
    b.add(
        "rbac-denial",
        "ratings' sidecar denies reviews v2 (403 RBAC: access denied)".to_owned(),
        (50.0, 100.0),
        Effect::RbacDenials {
            caller: reviews,
            callee: ratings,
            caller_version: Some("v2".to_owned()),
            ratio: 1.0,
        },
        RBAC,
        Some((reviews, ratings)),
    );
    b.add(
        "latency-regression",
        "reviews v3 slows down: +300 ms (p99 450 ms) on productpage's calls".to_owned(),
        (135.0, 200.0),
        Effect::Latency {
            caller: productpage,
            callee: reviews,
            callee_version: Some("v3".to_owned()),
            extra: Latency::new(300.0, 450.0),
        },
        LATENCY,
        Some((productpage, reviews)),
    );
    b.add(
        "new-edge",
        "productpage starts calling ratings directly: a new edge the policies deny (the traffic goes through)".to_owned(),
        (140.0, 230.0),
        Effect::NewRoute {
            caller: productpage,
            callee: ratings,
            path: "/ratings/{id}".to_owned(),
            probability: 0.3,
        },
        NEW_EDGE,
        Some((productpage, ratings)),
    );
    b.add(
        "telemetry-gap",
        "the bookinfo sidecars' SERVER spans stop arriving (a collector filter drops them)"
            .to_owned(),
        (150.0, 230.0),
        Effect::DropServerSpans {
            namespaces: vec!["bookinfo".to_owned()],
        },
        GAP,
        None,
    );
    Some(b.finish(240.0))
}

/// The large mesh's incidents, on its busiest edges (the gateway's), on the same clock as
/// bookinfo's.
fn large(t: &Topology) -> Option<Timeline> {
    let web = |i: usize| t.service(&format!("web-{i:02}"));
    let (web0, web1, web2, web3) = (web(0)?, web(1)?, web(2)?, web(3)?);
    let payments = t.service("payments-00")?;
    let mut b = Builder {
        topology: t,
        incidents: Vec::new(),
    };
    b.add(
        "error-burst",
        format!(
            "{} fails 30% of the gateway's calls: 503 URX/UF",
            b.node(web1)
        ),
        (30.0, 75.0),
        Effect::Errors {
            caller: t.root,
            callee: web1,
            ratio: 0.3,
            flags: vec!["URX", "UF"],
        },
        ERROR_BURST,
        Some((t.root, web1)),
    );
    b.add(
        "rbac-denial",
        format!(
            "{}'s sidecar denies half the gateway's calls (403 RBAC)",
            b.node(web3)
        ),
        (50.0, 100.0),
        Effect::RbacDenials {
            caller: t.root,
            callee: web3,
            caller_version: None,
            ratio: 0.5,
        },
        RBAC,
        Some((t.root, web3)),
    );
    b.add(
        "latency-regression",
        format!(
            "{} slows down: +400 ms on the gateway's calls",
            b.node(web0)
        ),
        (135.0, 200.0),
        Effect::Latency {
            caller: t.root,
            callee: web0,
            callee_version: None,
            extra: Latency::new(400.0, 600.0),
        },
        LATENCY,
        Some((t.root, web0)),
    );
    b.add(
        "new-edge",
        format!(
            "{} starts calling {}: web may not call payments",
            b.node(web2),
            b.node(payments)
        ),
        (140.0, 230.0),
        Effect::NewRoute {
            caller: web2,
            callee: payments,
            path: "/v1/charge/{id}".to_owned(),
            probability: 0.5,
        },
        NEW_EDGE,
        Some((web2, payments)),
    );
    b.add(
        "telemetry-gap",
        "SERVER spans stop arriving from every namespace but identity and data".to_owned(),
        (150.0, 230.0),
        Effect::DropServerSpans {
            namespaces: ["web", "api", "catalog", "orders", "search", "payments"]
                .map(str::to_owned)
                .to_vec(),
        },
        GAP,
        None,
    );
    Some(b.finish(240.0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bookinfo_timeline_scripts_every_kind_of_finding_in_order() {
        let topology = Topology::new(Scenario::Bookinfo);
        let timeline = Timeline::demo(&topology);
        let names: Vec<&str> = timeline.incidents.iter().map(|i| i.name).collect();
        assert_eq!(
            names,
            [
                "error-burst",
                "rbac-denial",
                "latency-regression",
                "new-edge",
                "telemetry-gap"
            ]
        );
        let kinds: Vec<&str> = timeline
            .incidents
            .iter()
            .flat_map(|i| i.expected.iter().copied())
            .collect();
        for kind in [
            "error-burst",
            "rbac-denial",
            "latency-regression",
            "new-edge",
            "policy-violation",
            "telemetry-gap",
        ] {
            assert!(kinds.contains(&kind), "{kind} is scripted");
        }
        for incident in &timeline.incidents {
            assert!(incident.start < incident.end && incident.end <= timeline.length);
        }
        // Incidents that need a baseline (120 s of history under the default detector
        // configuration) or the new-edge warm-up start after it.
        for name in ["latency-regression", "new-edge", "telemetry-gap"] {
            let incident = timeline.incidents.iter().find(|i| i.name == name).unwrap();
            assert!(incident.start >= 130.0, "{name} starts after the warm-up");
        }
        let active: Vec<&str> = timeline.active(60.0).map(|i| i.name).collect();
        assert_eq!(active, ["error-burst", "rbac-denial"]);
        assert_eq!(timeline.active(10.0).count(), 0);
        assert_eq!(timeline.active(235.0).count(), 0, "all over by the end");
        let latency = &timeline.incidents[2];
        assert_eq!(
            latency.edge,
            Some((
                "productpage.bookinfo".to_owned(),
                "reviews.bookinfo".to_owned()
            ))
        );
    }

    #[test]
    fn large_timeline_names_edges_of_the_large_mesh() {
        let topology = Topology::new(Scenario::Large);
        let timeline = Timeline::demo(&topology);
        assert_eq!(timeline.incidents.len(), 5);
        let edges = topology.edges();
        for incident in &timeline.incidents {
            match (&incident.effect, &incident.edge) {
                (Effect::NewRoute { .. }, Some(edge)) => {
                    assert!(!edges.contains(edge), "the new edge is new")
                }
                (_, Some(edge)) => assert!(edges.contains(edge), "{edge:?} exists"),
                (_, None) => {}
            }
        }
    }
}
