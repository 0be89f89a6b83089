//! The simulated meshes: services (with versions), the calls they make, and how long their
//! own work takes. `bookinfo` is Istio's sample behind its ingress gateway; `large` is 200
//! services in eight namespaces with about 2,000 edges.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::latency::Latency;
use super::rng::Rng;

/// Which mesh to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Istio's bookinfo behind `istio-ingressgateway`.
    #[default]
    Bookinfo,
    /// 200 services, ~2,000 edges, eight namespaces.
    Large,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bookinfo => "bookinfo",
            Self::Large => "large",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bookinfo" => Ok(Self::Bookinfo),
            "large" => Ok(Self::Large),
            other => Err(format!("unknown scenario {other:?} (bookinfo or large)")),
        }
    }
}

/// A service and its deployed versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    /// At least one.
    pub versions: Vec<String>,
    /// An ingress gateway (`router~` proxy) rather than a sidecar.
    pub gateway: bool,
    pub port: u16,
    /// The service's own work per request, children excluded.
    pub latency: Latency,
}

impl Service {
    /// The graph's node id: `<service>.<namespace>`.
    pub fn node_id(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }

    /// The SPIFFE principal (without `spiffe://`) of the service's account.
    pub fn principal(&self) -> String {
        let account = if self.gateway {
            format!("{}-service-account", self.name)
        } else {
            self.name.clone()
        };
        format!("cluster.local/ns/{}/sa/{account}", self.namespace)
    }
}

/// A call a service makes while handling a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Index into [`Topology::services`].
    pub caller: usize,
    pub callee: usize,
    pub method: &'static str,
    /// The path; `{id}` is replaced by a random id per call (`/reviews/{id}` → `/reviews/42`).
    pub path: String,
    /// Chance the call is made per request the caller handles (the root picks one route).
    pub probability: f64,
    /// Only these caller versions make the call (`None`: all).
    pub caller_versions: Option<Vec<String>>,
}

/// A simulated mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub scenario: Scenario,
    pub services: Vec<Service>,
    pub routes: Vec<Route>,
    /// The gateway every trace starts at.
    pub root: usize,
    /// SERVER spans carry the caller's principal (a Telemetry custom tag of
    /// `%DOWNSTREAM_PEER_URI_SAN%`); otherwise identities come from the inventory.
    pub peer_principals: bool,
}

impl Topology {
    pub fn new(scenario: Scenario) -> Self {
        match scenario {
            Scenario::Bookinfo => bookinfo(),
            Scenario::Large => layered(200),
        }
    }

    /// A mesh of `services` services (at least 2, the gateway included) shaped like `large`:
    /// the load generator's `--services`.
    pub fn with_services(services: usize) -> Self {
        let mut topology = layered(services.max(2));
        if services != 200 {
            topology.scenario = Scenario::Large;
        }
        topology
    }

    /// The index of the service named `name` (`name` or `name.namespace`).
    pub fn service(&self, name: &str) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.name == name || s.node_id() == name)
    }

    /// The service-level edges the routes make, as graph node ids.
    pub fn edges(&self) -> BTreeSet<(String, String)> {
        self.routes
            .iter()
            .filter_map(|r| {
                Some((
                    self.services.get(r.caller)?.node_id(),
                    self.services.get(r.callee)?.node_id(),
                ))
            })
            .collect()
    }

    /// The namespaces, sorted.
    pub fn namespaces(&self) -> BTreeSet<&str> {
        self.services.iter().map(|s| s.namespace.as_str()).collect()
    }

    /// Per callee namespace, the namespaces whose services call into it.
    pub fn callers_by_namespace(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for route in &self.routes {
            if let (Some(caller), Some(callee)) = (
                self.services.get(route.caller),
                self.services.get(route.callee),
            ) {
                out.entry(callee.namespace.as_str())
                    .or_default()
                    .insert(caller.namespace.as_str());
            }
        }
        out
    }
}

fn service(name: &str, namespace: &str, versions: &[&str], latency: Latency) -> Service {
    Service {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        gateway: false,
        port: 9080,
        latency,
    }
}

fn gateway() -> Service {
    Service {
        gateway: true,
        port: 8080,
        ..service(
            "istio-ingressgateway",
            "istio-system",
            &["1.24"],
            Latency::new(0.4, 2.0),
        )
    }
}

fn route(caller: usize, callee: usize, path: &str, probability: f64) -> Route {
    Route {
        caller,
        callee,
        method: "GET",
        path: path.to_owned(),
        probability,
        caller_versions: None,
    }
}

/// Istio's bookinfo: the gateway calls productpage, which calls details and reviews (v1, v2,
/// v3 in equal parts); reviews v2 and v3 call ratings.
fn bookinfo() -> Topology {
    let services = vec![
        gateway(),
        service("productpage", "bookinfo", &["v1"], Latency::new(6.0, 30.0)),
        service("details", "bookinfo", &["v1"], Latency::new(1.5, 8.0)),
        service(
            "reviews",
            "bookinfo",
            &["v1", "v2", "v3"],
            Latency::new(4.0, 20.0),
        ),
        service("ratings", "bookinfo", &["v1"], Latency::new(1.0, 5.0)),
    ];
    let mut ratings = route(3, 4, "/ratings/{id}", 1.0);
    ratings.caller_versions = Some(vec!["v2".to_owned(), "v3".to_owned()]);
    Topology {
        scenario: Scenario::Bookinfo,
        services,
        routes: vec![
            route(0, 1, "/productpage", 1.0),
            route(1, 2, "/details/{id}", 1.0),
            route(1, 3, "/reviews/{id}", 1.0),
            ratings,
        ],
        root: 0,
        peer_principals: false,
    }
}

/// Namespaces of the large mesh and their sizes (199 services, plus the gateway: 200).
pub const LARGE_NAMESPACES: [(&str, usize); 8] = [
    ("web", 20),
    ("api", 30),
    ("catalog", 30),
    ("orders", 30),
    ("search", 20),
    ("payments", 25),
    ("identity", 20),
    ("data", 24),
];

/// Which namespaces each namespace calls in the large mesh (`data` calls nothing).
pub const LARGE_CALLS: [(&str, &[&str]); 7] = [
    ("web", &["api"]),
    ("api", &["catalog", "orders", "search", "identity"]),
    ("catalog", &["data", "search"]),
    ("orders", &["payments", "catalog", "identity", "data"]),
    ("search", &["data"]),
    ("payments", &["identity", "data"]),
    ("identity", &["data"]),
];

/// `total` services (the gateway included) in eight namespaces layered as [`LARGE_CALLS`]
/// says, sized in the proportions of [`LARGE_NAMESPACES`]; each caller calls 11 or 12
/// services of the namespaces it may call (for 200 services, about 2,000 edges), each with
/// a 10% chance per request, so a trace is a handful of calls deep.
fn layered(total: usize) -> Topology {
    let mut rng = Rng::new(0x1a59e);
    let mut services = vec![gateway()];
    let base: usize = LARGE_NAMESPACES.iter().map(|(_, n)| n).sum();
    let wanted = total.saturating_sub(1);
    let mut left = wanted;
    for (index, (namespace, count)) in LARGE_NAMESPACES.into_iter().enumerate() {
        let count = if index + 1 == LARGE_NAMESPACES.len() {
            left
        } else {
            (count * wanted).div_ceil(base).min(left)
        };
        left -= count;
        for i in 0..count {
            let median = 0.8 + rng.unit() * 6.0;
            services.push(service(
                &format!("{namespace}-{i:02}"),
                namespace,
                &["v1"],
                Latency::new(median, median * (3.0 + rng.unit() * 4.0)),
            ));
        }
    }
    let in_namespace = |services: &[Service], ns: &str| -> Vec<usize> {
        services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.namespace == ns)
            .map(|(i, _)| i)
            .collect()
    };
    let mut routes = Vec::new();
    for web in in_namespace(&services, "web") {
        routes.push(route(0, web, "/", 1.0));
    }
    for (namespace, callees) in LARGE_CALLS {
        let targets: Vec<usize> = callees
            .iter()
            .flat_map(|ns| in_namespace(&services, ns))
            .collect();
        for (n, caller) in in_namespace(&services, namespace).into_iter().enumerate() {
            let k = (11 + n % 2).min(targets.len());
            let mut chosen = BTreeSet::new();
            while chosen.len() < k {
                chosen.insert(targets[rng.below(targets.len())]);
            }
            for callee in chosen {
                let path = format!("/v1/{}/{{id}}", services[callee].name);
                routes.push(route(caller, callee, &path, 0.1));
            }
        }
    }
    Topology {
        scenario: Scenario::Large,
        services,
        routes,
        root: 0,
        peer_principals: true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bookinfo_is_the_istio_sample_behind_its_gateway() {
        let t = Topology::new(Scenario::Bookinfo);
        let names: Vec<(&str, &str)> = t
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.namespace.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("istio-ingressgateway", "istio-system"),
                ("productpage", "bookinfo"),
                ("details", "bookinfo"),
                ("reviews", "bookinfo"),
                ("ratings", "bookinfo"),
            ]
        );
        assert!(t.services[t.root].gateway);
        assert_eq!(t.services[3].versions, ["v1", "v2", "v3"]);
        let edges: Vec<(String, String)> = t.edges().into_iter().collect();
        let edge = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            edges,
            [
                edge("istio-ingressgateway.istio-system", "productpage.bookinfo"),
                edge("productpage.bookinfo", "details.bookinfo"),
                edge("productpage.bookinfo", "reviews.bookinfo"),
                edge("reviews.bookinfo", "ratings.bookinfo"),
            ]
        );
        let ratings = &t.routes[3];
        assert_eq!(
            ratings.caller_versions.as_deref(),
            Some(&["v2".to_owned(), "v3".to_owned()][..]),
            "reviews v1 shows no stars"
        );
    }

    #[test]
    fn large_has_200_services_about_2000_edges_in_eight_namespaces() {
        let t = Topology::new(Scenario::Large);
        assert_eq!(t.services.len(), 200);
        let edges = t.edges().len();
        assert!((1900..=2100).contains(&edges), "{edges} edges");
        assert_eq!(t.namespaces().len(), 9, "eight namespaces and istio-system");
        // Layered: nothing calls back up, and only allowed namespace pairs appear.
        let callers = t.callers_by_namespace();
        assert_eq!(
            callers["payments"].iter().copied().collect::<Vec<_>>(),
            ["orders"]
        );
        assert!(!callers.contains_key("istio-system"));
        // Deterministic.
        assert_eq!(t, Topology::new(Scenario::Large));
    }

    #[test]
    fn scenarios_parse_by_name() {
        assert_eq!("bookinfo".parse(), Ok(Scenario::Bookinfo));
        assert_eq!("Large".parse(), Ok(Scenario::Large));
        assert!("huge".parse::<Scenario>().is_err());
    }
}
