//! Least-privilege suggestion from observed traffic: the suggested YAML, parsed back with the
//! crate's own parser, allows every observed request with a known caller and nothing else —
//! not another caller, method, port or path. First the bookinfo example (golden YAML, the four
//! properties, coverage), then single behaviours, then randomized properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use meshlens_policies::eval::{Options, PolicySet, Protocol, Request, Verdict};
use meshlens_policies::inventory::read_inventory;
use meshlens_policies::model::{AuthorizationPolicy, Inventory};
use meshlens_policies::parse::parse_policies;
use meshlens_policies::suggest::{
    NotCovered, Observed, PathOptions, Reason, SuggestOptions, SuggestedOperation, Suggestion,
    suggest,
};

use Verdict::{Allow as ALLOW, Deny as DENY};

// ---------------------------------------------------------------------------------------------
// Helpers

const GATEWAY: &str = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
const PRODUCTPAGE: &str = "cluster.local/ns/bookinfo/sa/bookinfo-productpage";
const REVIEWS: &str = "cluster.local/ns/bookinfo/sa/bookinfo-reviews";
const RATINGS: &str = "cluster.local/ns/bookinfo/sa/bookinfo-ratings";

fn bookinfo_inventory() -> Inventory {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/inventory/bookinfo.yaml");
    let (inventory, errors) = read_inventory(&[path]).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    inventory
}

/// An HTTP request on port 9080 of a bookinfo workload (labels left to the inventory).
fn http(principal: Option<&str>, workload: &str, method: &str, path: &str) -> Request {
    let mut r = Request::default();
    r.source.principal = principal.map(str::to_owned);
    r.destination.namespace = Some("bookinfo".to_owned());
    r.destination.workload = Some(workload.to_owned());
    r.destination.port = Some(9080);
    r.protocol = Protocol::Http;
    r.request.method = Some(method.to_owned());
    r.request.path = Some(path.to_owned());
    r
}

/// A request to a workload named by its labels alone.
fn labelled(principal: Option<&str>, app: &str, port: u16, protocol: Protocol) -> Request {
    let mut r = Request::default();
    r.source.principal = principal.map(str::to_owned);
    r.destination.namespace = Some("shop".to_owned());
    r.destination.workload = Some(app.to_owned());
    r.destination.labels = BTreeMap::from([("app".to_owned(), app.to_owned())]);
    r.destination.port = Some(port);
    r.protocol = protocol;
    r
}

fn with_http(mut r: Request, method: &str, path: &str) -> Request {
    r.request.method = Some(method.to_owned());
    r.request.path = Some(path.to_owned());
    r
}

fn bookinfo_traffic() -> Vec<Observed> {
    let o = Observed::new;
    vec![
        o(
            http(Some(GATEWAY), "productpage-v1", "GET", "/productpage"),
            20,
        ),
        o(
            http(
                Some(GATEWAY),
                "productpage-v1",
                "GET",
                "/static/bootstrap/css/bootstrap.min.css",
            ),
            4,
        ),
        o(http(Some(GATEWAY), "productpage-v1", "POST", "/login"), 2),
        o(http(Some(GATEWAY), "productpage-v1", "GET", "/logout"), 2),
        // Plain text from outside the mesh: no identity to allow.
        o(http(None, "productpage-v1", "GET", "/productpage"), 3),
        o(
            http(Some(PRODUCTPAGE), "details-v1", "GET", "/details/0"),
            20,
        ),
        o(
            http(Some(PRODUCTPAGE), "reviews-v1", "GET", "/reviews/0"),
            7,
        ),
        o(
            http(Some(PRODUCTPAGE), "reviews-v2", "GET", "/reviews/0"),
            7,
        ),
        o(
            http(Some(PRODUCTPAGE), "reviews-v3", "GET", "/reviews/0"),
            6,
        ),
        o(http(Some(REVIEWS), "ratings-v1", "GET", "/ratings/0"), 7),
        o(
            http(Some(REVIEWS), "ratings-v1", "GET", "/ratings/1?x=1"),
            6,
        ),
    ]
}

fn options(allow_nothing: bool) -> SuggestOptions {
    SuggestOptions {
        allow_nothing,
        ..SuggestOptions::default()
    }
}

/// The suggestion's YAML parsed back: no errors, no skipped documents, every policy there.
fn parse_back(suggestion: &Suggestion) -> Vec<AuthorizationPolicy> {
    let text = suggestion.to_yaml();
    let parsed = parse_policies(Path::new("suggested.yaml"), &text).expect("YAML");
    assert!(parsed.errors.is_empty(), "{:#?}\n{text}", parsed.errors);
    assert!(parsed.skipped.is_empty(), "{:#?}", parsed.skipped);
    assert_eq!(parsed.policies.len(), suggestion.policies.len(), "{text}");
    parsed.policies
}

fn policy_set(suggestion: &Suggestion, trust_domain: &str) -> PolicySet {
    PolicySet::new(
        parse_back(suggestion),
        Options {
            trust_domain: trust_domain.to_owned(),
            ..Options::default()
        },
    )
}

/// The suggestion's own check (YAML parsed back, claimed requests evaluated) found nothing to
/// take back: what it reports as not covered was classified so up front.
fn self_check_clean(suggestion: &Suggestion) -> bool {
    suggestion
        .coverage
        .destinations
        .iter()
        .flat_map(|d| &d.not_covered)
        .all(|n| !matches!(&n.reason, Reason::Unexpressible(why) if why.starts_with("the suggested")))
}

/// The decision for a request, its destination completed from the inventory first (as the
/// suggestion saw it).
fn decide(set: &PolicySet, request: &Request, inventory: Option<&Inventory>) -> Verdict {
    let mut request = request.clone();
    if let Some(inventory) = inventory {
        request.complete_from(inventory);
    }
    set.evaluate(&request).decision
}

// ---------------------------------------------------------------------------------------------
// Bookinfo

const BOOKINFO_YAML: &str = r#"# Istio AuthorizationPolicies suggested by meshlens from observed traffic.
#
# Each policy allows a workload only the callers (mTLS principals), ports, methods and paths
# seen in the traces; everything else sent to that workload is denied once it is applied.
# Requests without a known caller identity, and traffic the traces did not show, are not
# allowed: read the coverage report and review before applying.
---
# Denies every request to workloads of this namespace that no other ALLOW policy allows.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: bookinfo
spec: {}
---
# Allows 20 observed requests from 1 caller.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: details-v1-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: details
      version: v1
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/details/{*}"]
---
# Allows 28 observed requests from 1 caller.
# 3 other observed requests to this workload are not allowed: see the coverage report.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: productpage-v1-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: productpage
      version: v1
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/logout", "/productpage", "/static/bootstrap/css/bootstrap.min.css"]
    - operation:
        ports: ["9080"]
        methods: ["POST"]
        paths: ["/login"]
---
# Allows 13 observed requests from 1 caller.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-v1-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: ratings
      version: v1
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-reviews"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/ratings/{*}"]
---
# Allows 7 observed requests from 1 caller.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-v1-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
      version: v1
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/reviews/{*}"]
---
# Allows 7 observed requests from 1 caller.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-v2-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
      version: v2
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/reviews/{*}"]
---
# Allows 6 observed requests from 1 caller.
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-v3-allow-observed
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
      version: v3
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
    to:
    - operation:
        ports: ["9080"]
        methods: ["GET"]
        paths: ["/reviews/{*}"]
"#;

#[test]
fn bookinfo_yaml_is_golden() {
    let inventory = bookinfo_inventory();
    let suggestion = suggest(&bookinfo_traffic(), Some(&inventory), &options(true));
    let text = suggestion.to_yaml();
    assert_eq!(text, BOOKINFO_YAML, "actual:\n{text}");
    // Deterministic: the same traffic in another order gives the same text.
    let mut reversed = bookinfo_traffic();
    reversed.reverse();
    assert_eq!(
        suggest(&reversed, Some(&inventory), &options(true)).to_yaml(),
        text
    );
}

#[test]
fn bookinfo_allows_what_was_observed_and_nothing_else() {
    let inventory = bookinfo_inventory();
    let traffic = bookinfo_traffic();
    for allow_nothing in [false, true] {
        let suggestion = suggest(&traffic, Some(&inventory), &options(allow_nothing));
        let set = policy_set(&suggestion, "cluster.local");
        let inv = Some(&inventory);
        for observed in &traffic {
            let r = &observed.request;
            let Some(caller) = r.source.principal.as_deref() else {
                // (0) no rule opens the workload to callers without identity.
                assert_eq!(decide(&set, r, inv), DENY, "{r:?}");
                continue;
            };
            // (1) every observed request with a known caller is allowed.
            assert_eq!(decide(&set, r, inv), ALLOW, "{r:?}");
            // (2) a caller never seen, or seen only elsewhere, is denied.
            for other in [RATINGS, PRODUCTPAGE, REVIEWS, GATEWAY] {
                let seen = traffic.iter().any(|o| {
                    o.request.source.principal.as_deref() == Some(other)
                        && o.request.destination.workload == r.destination.workload
                });
                let mut probe = r.clone();
                probe.source.principal = Some(other.to_owned());
                let want = if seen { ALLOW } else { DENY };
                assert_eq!(decide(&set, &probe, inv), want, "{caller} → {other}: {r:?}");
            }
            // (3) a method never seen is denied.
            for method in ["DELETE", "PUT", "PATCH"] {
                let probe = with_http(r.clone(), method, r.request.path.as_deref().unwrap());
                assert_eq!(decide(&set, &probe, inv), DENY, "{method} {r:?}");
            }
            // POST was seen only for /login.
            if r.request.path.as_deref() != Some("/login") {
                let probe = with_http(r.clone(), "POST", r.request.path.as_deref().unwrap());
                assert_eq!(decide(&set, &probe, inv), DENY, "POST {r:?}");
            }
            // (4) a port never seen is denied.
            let mut probe = r.clone();
            probe.destination.port = Some(9081);
            assert_eq!(decide(&set, &probe, inv), DENY, "port 9081 {r:?}");
            // A path never seen is denied; another id in a templated segment is allowed.
            let probe = with_http(r.clone(), "GET", "/admin");
            assert_eq!(decide(&set, &probe, inv), DENY, "/admin {r:?}");
        }
        let other_id = http(Some(PRODUCTPAGE), "reviews-v2", "GET", "/reviews/42");
        assert_eq!(decide(&set, &other_id, inv), ALLOW);
        let deeper = http(Some(PRODUCTPAGE), "reviews-v2", "GET", "/reviews/42/x");
        assert_eq!(decide(&set, &deeper, inv), DENY);
        // A workload without observed traffic: untouched, unless the namespace allows nothing.
        let mut unobserved = http(Some(PRODUCTPAGE), "mongodb", "GET", "/");
        unobserved.destination.labels = BTreeMap::from([("app".to_owned(), "mongodb".to_owned())]);
        let want = if allow_nothing { DENY } else { ALLOW };
        assert_eq!(decide(&set, &unobserved, inv), want);
    }
}

#[test]
fn bookinfo_coverage() {
    let inventory = bookinfo_inventory();
    let suggestion = suggest(&bookinfo_traffic(), Some(&inventory), &options(false));
    let coverage = &suggestion.coverage;
    assert_eq!(
        (
            coverage.covered(),
            coverage.not_covered(),
            coverage.denied()
        ),
        (81, 3, 3)
    );
    let productpage = coverage
        .destinations
        .iter()
        .find(|d| d.destination == "productpage-v1")
        .unwrap();
    assert_eq!(
        productpage.policy.as_deref(),
        Some("bookinfo/productpage-v1-allow-observed")
    );
    assert_eq!(productpage.covered, 28);
    assert_eq!(productpage.callers, [GATEWAY]);
    assert_eq!(
        productpage.not_covered,
        [NotCovered {
            reason: Reason::UnknownIdentity,
            requests: 3,
            denied: 3
        }]
    );
    let text = coverage.to_string();
    assert!(
        text.contains(
            "bookinfo/productpage-v1: policy bookinfo/productpage-v1-allow-observed\n  covered: 28 requests from 1 caller: \"cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account\"\n  not covered: 3 requests, unknown caller identity (no mTLS principal) (denied once applied)\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("total: 81 requests covered, 3 not covered (3 denied once applied)\n"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Single behaviours

#[test]
fn callers_with_the_same_operations_share_a_rule() {
    let a = "cluster.local/ns/shop/sa/a";
    let b = "cluster.local/ns/shop/sa/b";
    let c = "cluster.local/ns/shop/sa/c";
    let traffic: Vec<Observed> = [a, b]
        .iter()
        .map(|p| {
            let r = labelled(Some(p), "cart", 8080, Protocol::Http);
            Observed::new(with_http(r, "GET", "/items"), 1)
        })
        .chain(std::iter::once(Observed::new(
            with_http(
                labelled(Some(c), "cart", 8080, Protocol::Http),
                "POST",
                "/items",
            ),
            1,
        )))
        .collect();
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    let rules = &suggestion.policies[0].rules;
    assert_eq!(rules.len(), 2, "{rules:#?}");
    assert_eq!(rules[0].principals, [a, b]);
    assert_eq!(rules[0].operations[0].methods, ["GET"]);
    assert_eq!(rules[1].principals, [c]);
    assert_eq!(rules[1].operations[0].methods, ["POST"]);
}

#[test]
fn operations_never_combine_what_was_not_observed() {
    let caller = "cluster.local/ns/shop/sa/a";
    let r = |port, method, path| {
        Observed::new(
            with_http(
                labelled(Some(caller), "api", port, Protocol::Http),
                method,
                path,
            ),
            1,
        )
    };
    let traffic = vec![
        r(8080, "GET", "/a"),
        r(8080, "POST", "/b"),
        r(8080, "PUT", "/b"),
        r(9090, "GET", "/a"),
        r(9090, "DELETE", "/c"),
    ];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    let op = |ports: &[u16], methods: &[&str], paths: &[&str]| SuggestedOperation {
        ports: ports.to_vec(),
        methods: methods.iter().map(|s| (*s).to_owned()).collect(),
        paths: paths.iter().map(|s| (*s).to_owned()).collect(),
    };
    assert_eq!(
        suggestion.policies[0].rules[0].operations,
        [
            op(&[8080], &["POST", "PUT"], &["/b"]),
            op(&[8080, 9090], &["GET"], &["/a"]),
            op(&[9090], &["DELETE"], &["/c"]),
        ]
    );
    let set = policy_set(&suggestion, "cluster.local");
    for (port, method, path, want) in [
        (8080, "POST", "/a", DENY),
        (9090, "POST", "/b", DENY),
        (8080, "DELETE", "/c", DENY),
        (9090, "GET", "/a", ALLOW),
        (8080, "PUT", "/b", ALLOW),
    ] {
        let probe = with_http(
            labelled(Some(caller), "api", port, Protocol::Http),
            method,
            path,
        );
        assert_eq!(decide(&set, &probe, None), want, "{port} {method} {path}");
    }
}

#[test]
fn tcp_gets_ports_only() {
    let caller = "cluster.local/ns/shop/sa/app";
    let traffic = vec![
        Observed::new(labelled(Some(caller), "db", 5432, Protocol::Tcp), 9),
        Observed::new(labelled(Some(caller), "db", 5433, Protocol::Tcp), 1),
        // Without a port a TCP rule could only allow everything.
        {
            let mut r = labelled(Some(caller), "db", 1, Protocol::Tcp);
            r.destination.port = None;
            Observed::new(r, 2)
        },
    ];
    let mut traffic = traffic;
    traffic.push(Observed::new(
        with_http(
            labelled(Some(caller), "db", 8080, Protocol::Http),
            "GET",
            "/metrics",
        ),
        1,
    ));
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    // Istio drops an ALLOW rule with HTTP fields for TCP traffic: TCP gets a rule of its own.
    let rules = &suggestion.policies[0].rules;
    assert_eq!(rules.len(), 2, "{rules:#?}");
    assert_eq!(rules[1].operations[0].methods, ["GET"]);
    assert_eq!(
        rules[0].operations,
        [SuggestedOperation {
            ports: vec![5432, 5433],
            methods: vec![],
            paths: vec![],
        }]
    );
    assert!(
        suggestion
            .to_yaml()
            .contains("    - operation:\n        ports: [\"5432\", \"5433\"]\n")
    );
    let set = policy_set(&suggestion, "cluster.local");
    assert_eq!(decide(&set, &traffic[0].request, None), ALLOW);
    let other_port = labelled(Some(caller), "db", 6379, Protocol::Tcp);
    assert_eq!(decide(&set, &other_port, None), DENY);
    let d = &suggestion.coverage.destinations[0];
    assert_eq!(d.covered, 11);
    assert_eq!(d.not_covered[0].reason, Reason::NoPort);
}

#[test]
fn unknown_identity_only_gets_no_policy() {
    let traffic = vec![Observed::new(
        with_http(labelled(None, "web", 80, Protocol::Http), "GET", "/"),
        5,
    )];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    assert!(suggestion.policies.is_empty());
    let d = &suggestion.coverage.destinations[0];
    assert_eq!(d.policy, None);
    // Nothing suggested denies them…
    assert_eq!(
        d.not_covered,
        [NotCovered {
            reason: Reason::UnknownIdentity,
            requests: 5,
            denied: 0
        }]
    );
    // …but an allow-nothing policy would, and says so.
    let suggestion = suggest(&traffic, None, &options(true));
    assert_eq!(suggestion.policies.len(), 1);
    assert!(suggestion.policies[0].is_allow_nothing());
    assert_eq!(suggestion.coverage.denied(), 5);
    let set = policy_set(&suggestion, "cluster.local");
    assert_eq!(decide(&set, &traffic[0].request, None), DENY);
}

#[test]
fn destinations_need_labels() {
    let mut r = with_http(
        labelled(
            Some("cluster.local/ns/shop/sa/a"),
            "ghost",
            80,
            Protocol::Http,
        ),
        "GET",
        "/",
    );
    r.destination.labels.clear();
    let suggestion = suggest(&[Observed::new(r, 1)], None, &SuggestOptions::default());
    assert!(suggestion.policies.is_empty());
    assert_eq!(
        suggestion.coverage.destinations[0].not_covered[0].reason,
        Reason::NoDestinationLabels
    );
}

#[test]
fn selector_labels_are_the_stable_common_ones() {
    let caller = "cluster.local/ns/shop/sa/a";
    let pod = |hash: &str| {
        let mut r = with_http(
            labelled(Some(caller), "cart", 80, Protocol::Http),
            "GET",
            "/",
        );
        r.destination
            .labels
            .insert("pod-template-hash".into(), hash.into());
        r.destination.labels.insert("version".into(), "v1".into());
        r
    };
    let mut other = pod("abc");
    other.destination.labels.remove("version");
    // Pods of two rollouts: their hashes differ, so only the common labels remain.
    let traffic = vec![Observed::new(pod("abc"), 1), Observed::new(pod("def"), 1)];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    assert_eq!(
        suggestion.policies[0].selector,
        Some(BTreeMap::from([
            ("app".to_owned(), "cart".to_owned()),
            ("version".to_owned(), "v1".to_owned()),
        ]))
    );
    // Pods of one rollout share the hash, which is left out all the same.
    let traffic = vec![Observed::new(pod("abc"), 1), Observed::new(pod("abc"), 1)];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    let selector = suggestion.policies[0].selector.as_ref().unwrap();
    assert!(!selector.contains_key("pod-template-hash"));
    let notes = &suggestion.coverage.destinations[0].notes;
    assert!(
        notes.iter().any(|n| n.contains("pod-template-hash")),
        "{notes:?}"
    );
    let traffic = vec![Observed::new(pod("abc"), 1), Observed::new(other, 1)];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    assert_eq!(
        suggestion.policies[0].selector,
        Some(BTreeMap::from([("app".to_owned(), "cart".to_owned())]))
    );
}

#[test]
fn inventory_shows_what_else_a_selector_picks() {
    let inventory = bookinfo_inventory();
    // Labels {app: reviews} alone pick all three versions.
    let mut r = http(Some(PRODUCTPAGE), "reviews-v1", "GET", "/reviews/0");
    r.destination.labels = BTreeMap::from([("app".to_owned(), "reviews".to_owned())]);
    let suggestion = suggest(&[Observed::new(r, 1)], Some(&inventory), &options(false));
    let notes = &suggestion.coverage.destinations[0].notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("bookinfo/reviews-v2, bookinfo/reviews-v3")),
        "{notes:?}"
    );
}

#[test]
fn path_cap_uses_a_common_prefix() {
    let caller = "cluster.local/ns/shop/sa/a";
    let traffic: Vec<Observed> = ["/api/v1/users", "/api/v1/orders", "/api/v1/carts"]
        .iter()
        .map(|p| {
            Observed::new(
                with_http(labelled(Some(caller), "api", 80, Protocol::Http), "GET", p),
                1,
            )
        })
        .collect();
    let opts = SuggestOptions {
        paths: PathOptions {
            templates: true,
            max_per_rule: 2,
        },
        ..SuggestOptions::default()
    };
    let suggestion = suggest(&traffic, None, &opts);
    assert_eq!(
        suggestion.policies[0].rules[0].operations[0].paths,
        ["/api/v1/*"]
    );
    let notes = &suggestion.coverage.destinations[0].notes;
    assert!(notes.iter().any(|n| n.contains("3 paths")), "{notes:?}");
    let set = policy_set(&suggestion, "cluster.local");
    let probe = with_http(
        labelled(Some(caller), "api", 80, Protocol::Http),
        "GET",
        "/api/v2/x",
    );
    assert_eq!(decide(&set, &probe, None), DENY);
    let probe = with_http(
        labelled(Some(caller), "api", 80, Protocol::Http),
        "GET",
        "/api/v1/x",
    );
    assert_eq!(decide(&set, &probe, None), ALLOW);
}

#[test]
fn paths_are_matched_as_the_proxy_normalises_them() {
    let caller = "cluster.local/ns/shop/sa/a";
    let req = |path: &str| {
        with_http(
            labelled(Some(caller), "api", 80, Protocol::Http),
            "GET",
            path,
        )
    };
    let traffic = vec![
        Observed::new(req("/a/./b/../c?q=1#f"), 1),
        Observed::new(req("/%7Bid%7D/%61"), 1),
        Observed::new(req("/users/{id}"), 1),
    ];
    let suggestion = suggest(&traffic, None, &SuggestOptions::default());
    assert_eq!(
        suggestion.policies[0].rules[0].operations[0].paths,
        ["/a/c", "/users/{*}", "/{*}/a"]
    );
    assert_eq!(suggestion.coverage.not_covered(), 0);
}

#[test]
fn what_no_rule_can_match_exactly_is_reported() {
    let caller = "example.com/ns/shop/sa/a";
    let req = |principal: &str, method: &str, path: &str| {
        Observed::new(
            with_http(
                labelled(Some(principal), "api", 80, Protocol::Http),
                method,
                path,
            ),
            1,
        )
    };
    let traffic = vec![
        req(caller, "GET", "/ok"),
        req(caller, "GET", "/files/*"),
        req("cluster.local/ns/shop/sa/*", "GET", "/ok"),
        req(caller, "get", "/ok"),
        req(caller, "GET", "/x%00"),
        // The mesh's trust domain is example.com: Istio rewrites cluster.local principals to it.
        req("cluster.local/ns/shop/sa/b", "GET", "/ok"),
        req("spiffe://example.com/ns/shop/sa/c", "GET", "/ok"),
    ];
    let opts = SuggestOptions {
        trust_domain: "example.com".to_owned(),
        ..SuggestOptions::default()
    };
    let suggestion = suggest(&traffic, None, &opts);
    let d = &suggestion.coverage.destinations[0];
    assert_eq!(d.covered, 2, "{:#?}", d);
    assert_eq!(d.callers, [caller, "example.com/ns/shop/sa/c"]);
    let reasons: Vec<String> = d.not_covered.iter().map(|n| n.reason.to_string()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("is not upper case")),
        "{reasons:#?}"
    );
    assert!(reasons.iter().any(|r| r.contains("%00")), "{reasons:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("reads as a prefix")),
        "{reasons:#?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("reads as a wildcard")),
        "{reasons:#?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("trust domain cluster.local")),
        "{reasons:#?}"
    );
    // The rewritten principal is not in the YAML any more.
    assert!(!suggestion.to_yaml().contains("sa/b\""));
    let set = policy_set(&suggestion, "example.com");
    assert_eq!(decide(&set, &traffic[6].request, None), ALLOW);
}

#[test]
fn hostile_strings_stay_values() {
    let principal = "cluster.local/ns/x/sa/a\"]\n  evil: [\"#\u{2028}\u{feff}é\\";
    let mut r = with_http(
        labelled(Some(principal), "web", 80, Protocol::Http),
        "GET\" ]",
        "/p\"a th/#x/\u{0}/\u{1F600}'",
    );
    r.destination.workload = Some("Web_Ünïcode\n---".to_owned());
    r.destination.labels = BTreeMap::from([
        ("app".to_owned(), "true".to_owned()),
        ("k: v\n- x".to_owned(), "1.0".to_owned()),
        ("empty".to_owned(), String::new()),
    ]);
    let suggestion = suggest(&[Observed::new(r.clone(), 1)], None, &options(true));
    assert_eq!(suggestion.coverage.covered(), 1, "{}", suggestion.coverage);
    let text = suggestion.to_yaml();
    assert!(text.is_ascii(), "{text}");
    let parsed = parse_back(&suggestion);
    let policy = parsed.iter().find(|p| p.selector.is_some()).unwrap();
    assert_eq!(policy.name, "web-n-code-allow-observed");
    let rules = policy.rules.as_ref().unwrap();
    assert_eq!(rules[0].from[0].principals, [principal]);
    assert_eq!(rules[0].to[0].methods, ["GET\" ]"]);
    assert_eq!(policy.selector.as_ref().unwrap()["k: v\n- x"], "1.0");
    assert_eq!(policy.selector.as_ref().unwrap()["app"], "true");
    let set = policy_set(&suggestion, "cluster.local");
    assert_eq!(decide(&set, &r, None), ALLOW);
}

#[test]
fn nothing_observed_is_just_the_header() {
    let suggestion = suggest(&[], None, &options(true));
    assert!(suggestion.policies.is_empty());
    assert!(suggestion.to_yaml().lines().all(|l| l.starts_with('#')));
    assert!(parse_back(&suggestion).is_empty());
}

#[test]
fn root_namespace_gets_no_allow_nothing() {
    let mut r = labelled(Some(GATEWAY), "istio-ingressgateway", 8080, Protocol::Http);
    r.destination.namespace = Some("istio-system".to_owned());
    let r = with_http(r, "GET", "/healthz");
    let suggestion = suggest(&[Observed::new(r, 1)], None, &options(true));
    assert_eq!(suggestion.policies.len(), 1);
    assert!(!suggestion.policies[0].is_allow_nothing());
    assert!(
        suggestion.coverage.notes[0].contains("root namespace"),
        "{:?}",
        suggestion.coverage.notes
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

mod properties {
    use super::*;
    use proptest::prelude::*;

    const PRINCIPALS: &[&str] = &[
        "cluster.local/ns/a/sa/x",
        "cluster.local/ns/a/sa/y",
        "cluster.local/ns/b/sa/x",
        "spiffe://cluster.local/ns/b/sa/z",
    ];
    const UNSEEN_PRINCIPAL: &str = "cluster.local/ns/c/sa/never";
    /// (namespace, workload); each is labelled `app: <workload>`.
    const WORKLOADS: &[(&str, &str)] = &[("shop", "cart"), ("shop", "web"), ("pay", "ledger")];
    const HTTP_PORTS: &[u16] = &[8080, 9080];
    /// TCP only: a TCP rule allows any HTTP on its ports, so the two never share a port here.
    const TCP_PORT: u16 = 3306;
    const METHODS: &[&str] = &["GET", "POST", "PUT"];
    const SEGMENTS: &[&str] = &[
        "api", "v1", "users", "7", "42", "%7Bid%7D", "a.b", "x-y", "",
    ];

    fn request(principal: Option<&str>, workload: usize, tcp: bool, port: usize) -> Request {
        let (namespace, name) = WORKLOADS[workload];
        let mut r = Request::default();
        r.source.principal = principal.map(str::to_owned);
        r.destination.namespace = Some(namespace.to_owned());
        r.destination.workload = Some(name.to_owned());
        r.destination.labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
        if tcp {
            r.protocol = Protocol::Tcp;
            r.destination.port = Some(TCP_PORT);
        } else {
            r.destination.port = Some(HTTP_PORTS[port]);
        }
        r
    }

    fn path() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::sample::select(SEGMENTS), 1..4),
            any::<bool>(),
        )
            .prop_map(|(segments, query)| {
                format!("/{}{}", segments.join("/"), if query { "?q=1" } else { "" })
            })
    }

    fn observed() -> impl Strategy<Value = Observed> {
        (
            prop::option::weighted(0.9, prop::sample::select(PRINCIPALS)),
            0..WORKLOADS.len(),
            prop::bool::weighted(0.2),
            0..HTTP_PORTS.len(),
            prop::sample::select(METHODS),
            path(),
            1..5u64,
        )
            .prop_map(|(principal, workload, tcp, port, method, path, count)| {
                let mut r = request(principal, workload, tcp, port);
                if !tcp {
                    r = with_http(r, method, &path);
                }
                Observed::new(r, count)
            })
    }

    fn suggest_options() -> impl Strategy<Value = SuggestOptions> {
        (
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec![1usize, 2, 4, usize::MAX]),
        )
            .prop_map(|(allow_nothing, templates, max_per_rule)| SuggestOptions {
                allow_nothing,
                paths: PathOptions {
                    templates,
                    max_per_rule,
                },
                ..SuggestOptions::default()
            })
    }

    /// The path as policies see it, for these generated paths (nothing to decode or resolve).
    fn normalised(path: &str) -> &str {
        path.split('?').next().unwrap()
    }

    fn principal_of(r: &Request) -> Option<&str> {
        r.source
            .principal
            .as_deref()
            .map(|p| p.strip_prefix("spiffe://").unwrap_or(p))
    }

    /// What identifies an allowed request: caller, workload, protocol, port, method, path.
    type Key = (String, String, bool, u16, String, String);

    fn key(r: &Request) -> Option<Key> {
        let tcp = r.protocol == Protocol::Tcp;
        let (method, path) = if tcp {
            (String::new(), String::new())
        } else {
            (
                r.request.method.clone()?,
                normalised(r.request.path.as_deref()?).to_owned(),
            )
        };
        Some((
            principal_of(r)?.to_owned(),
            r.destination.workload.clone()?,
            tcp,
            r.destination.port?,
            method,
            path,
        ))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// The four properties over random traffic: observed requests with a caller are allowed
        /// (and reported covered); an unseen caller, method or port is denied.
        #[test]
        fn observed_allowed_unseen_denied(
            traffic in prop::collection::vec(observed(), 1..25),
            opts in suggest_options(),
        ) {
            let suggestion = suggest(&traffic, None, &opts);
            let set = policy_set(&suggestion, "cluster.local");
            let known: u64 = traffic
                .iter()
                .filter(|o| o.request.source.principal.is_some())
                .map(|o| o.count)
                .sum();
            let total: u64 = traffic.iter().map(|o| o.count).sum();
            prop_assert_eq!(suggestion.coverage.covered(), known, "{}", suggestion.coverage);
            prop_assert_eq!(suggestion.coverage.not_covered(), total - known);
            for o in &traffic {
                let r = &o.request;
                if r.source.principal.is_none() {
                    continue;
                }
                prop_assert_eq!(decide(&set, r, None), ALLOW, "{:?}", r);
                let mut probe = r.clone();
                probe.source.principal = Some(UNSEEN_PRINCIPAL.to_owned());
                prop_assert_eq!(decide(&set, &probe, None), DENY, "unseen caller {:?}", r);
                let mut probe = r.clone();
                probe.source.principal = None;
                prop_assert_eq!(decide(&set, &probe, None), DENY, "no identity {:?}", r);
                if r.protocol == Protocol::Http {
                    let probe = with_http(r.clone(), "DELETE", r.request.path.as_deref().unwrap());
                    prop_assert_eq!(decide(&set, &probe, None), DENY, "unseen method {:?}", r);
                }
                let mut probe = r.clone();
                probe.destination.port = Some(1);
                prop_assert_eq!(decide(&set, &probe, None), DENY, "unseen port {:?}", r);
            }
        }

        /// Without generalisation the suggestion is exact: a request to a workload that got a
        /// policy is allowed if and only if it was observed (with a known caller).
        #[test]
        fn exact_without_generalisation(
            traffic in prop::collection::vec(observed(), 1..25),
            probes in prop::collection::vec(observed(), 1..40),
        ) {
            let opts = SuggestOptions {
                paths: PathOptions { templates: false, max_per_rule: usize::MAX },
                ..SuggestOptions::default()
            };
            let suggestion = suggest(&traffic, None, &opts);
            prop_assert!(self_check_clean(&suggestion), "{}", suggestion.coverage);
            let set = policy_set(&suggestion, "cluster.local");
            let seen: BTreeSet<Key> = traffic.iter().filter_map(|o| key(&o.request)).collect();
            let guarded: BTreeSet<&str> = suggestion
                .coverage
                .destinations
                .iter()
                .filter(|d| d.policy.is_some())
                .map(|d| d.destination.as_str())
                .collect();
            for probe in probes.iter().chain(&traffic) {
                let r = &probe.request;
                if !guarded.contains(r.destination.workload.as_deref().unwrap()) {
                    continue;
                }
                let want = if key(r).is_some_and(|k| seen.contains(&k)) { ALLOW } else { DENY };
                prop_assert_eq!(decide(&set, r, None), want, "{:?}\n{}", r, suggestion.to_yaml());
            }
        }

        /// Whatever the strings from traffic, the YAML parses without errors, every request
        /// reported covered is allowed by what was parsed, and counts add up.
        #[test]
        fn any_strings_give_valid_yaml(
            principal in "\\PC{0,20}|[ -~\n\t]{0,20}",
            workload in "\\PC{0,12}",
            label in "[a-z]{1,3}|[ -~]{0,8}",
            value in "\\PC{0,10}",
            method in "[A-Z]{1,6}|[ -~]{0,6}",
            path in "\\PC{0,24}|[ -~]{0,24}",
            namespace in "[a-z]{1,5}|\\PC{0,6}",
            tcp in any::<bool>(),
        ) {
            let mut r = Request::default();
            r.source.principal = Some(principal);
            r.destination.namespace = Some(namespace);
            r.destination.workload = Some(workload);
            r.destination.labels = BTreeMap::from([(label, value)]);
            r.destination.port = Some(8080);
            r.protocol = if tcp { Protocol::Tcp } else { Protocol::Http };
            let r = with_http(r, &method, &path);
            let suggestion = suggest(&[Observed::new(r.clone(), 3)], None, &options(true));
            let set = policy_set(&suggestion, "cluster.local");
            let coverage = &suggestion.coverage;
            prop_assert!(self_check_clean(&suggestion), "{}", coverage);
            prop_assert_eq!(coverage.covered() + coverage.not_covered(), 3);
            if coverage.covered() > 0 {
                prop_assert_eq!(decide(&set, &r, None), ALLOW, "{}", suggestion.to_yaml());
            }
            prop_assert!(suggestion.to_yaml().is_ascii());
        }
    }
}
