//! The analyzer's answers (in process or from the API) as dashboard data.

use std::collections::HashMap;

use meshlens_analyzer::conformance::live::PolicyStatus;
use meshlens_analyzer::conformance::usage::WorkloadPolicies as Usage;
use meshlens_analyzer::samples::TraceView;

use crate::data::{
    PolicyEntry, PolicyPanel, PolicySetStatus, RuleEntry, SpanSample, SpanStatus, TraceSample,
    WorkloadPolicies,
};

/// The policy panel from the loaded set's status and the per-workload rule usage.
pub fn policy_panel(status: PolicyStatus, usage: Vec<Usage>) -> PolicyPanel {
    PolicyPanel {
        status: Some(PolicySetStatus {
            policies: status.policies,
            files: status.files,
            loads: status.loads,
            loaded_at_unix_ms: status.loaded_at_unix_ms,
            last_error: status.last_error,
        }),
        detail_available: true,
        workloads: usage
            .into_iter()
            .map(|w| WorkloadPolicies {
                workload: w.workload,
                policies: w
                    .policies
                    .into_iter()
                    .map(|p| PolicyEntry {
                        name: p.policy,
                        action: p.action,
                        dry_run: p.dry_run,
                        location: None,
                        rules: p
                            .rule_hits
                            .iter()
                            .enumerate()
                            .map(|(index, hits)| RuleEntry {
                                index,
                                summary: String::new(),
                                hits: hits.round().max(0.0) as u64,
                            })
                            .collect(),
                    })
                    .collect(),
                violations: Vec::new(),
            })
            .collect(),
    }
}

/// A kept sample trace for the waterfall: depth from the parent chain, failures as errors.
pub fn trace_sample(trace: &TraceView) -> TraceSample {
    let parents: HashMap<&str, Option<&str>> = trace
        .spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_span_id.as_deref()))
        .collect();
    let spans = trace
        .spans
        .iter()
        .map(|s| SpanSample {
            service: s.node.clone(),
            name: s.name.clone(),
            kind: s.kind.clone(),
            depth: depth(&parents, &s.span_id),
            start_offset_ms: s.offset_ms,
            duration_ms: s.duration_ms,
            status: if s.failed {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            },
        })
        .collect();
    TraceSample {
        trace_id: trace.trace_id.clone(),
        spans,
    }
}

/// Ancestors of `id` among the trace's spans; bounded by the span count, so a parent cycle in
/// bad input cannot loop forever.
fn depth<'a>(parents: &HashMap<&'a str, Option<&'a str>>, mut id: &'a str) -> usize {
    let mut depth = 0;
    while let Some(Some(parent)) = parents.get(id) {
        if depth >= parents.len() {
            break;
        }
        depth += 1;
        id = parent;
    }
    depth
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use meshlens_analyzer::samples::SpanView;

    use super::*;

    fn span(id: &str, parent: Option<&str>, failed: bool) -> SpanView {
        SpanView {
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            node: format!("svc-{id}"),
            name: "call".into(),
            kind: "server".into(),
            offset_ms: 0.0,
            duration_ms: 1.0,
            status_code: None,
            failed,
        }
    }

    #[test]
    fn waterfall_depth_follows_parents_and_survives_cycles() {
        let trace = TraceView {
            trace_id: "ab".into(),
            start_unix_nanos: 0,
            duration_ms: 1.0,
            spans: vec![
                span("a", None, false),
                span("b", Some("a"), false),
                span("c", Some("b"), true),
                // A cycle (bad input) and a parent that is not kept.
                span("x", Some("y"), false),
                span("y", Some("x"), false),
                span("z", Some("gone"), false),
            ],
            dropped_spans: 0,
        };
        let sample = trace_sample(&trace);
        let depths: Vec<usize> = sample.spans.iter().map(|s| s.depth).collect();
        assert_eq!(&depths[..3], [0, 1, 2]);
        assert_eq!(depths[5], 1, "a missing parent still indents once");
        assert!(depths[3] <= 6 && depths[4] <= 6);
        assert_eq!(sample.spans[2].status, SpanStatus::Error);
    }

    #[test]
    fn rule_usage_becomes_hits_with_never_matched_rules_at_zero() {
        let usage = vec![Usage {
            workload: "ratings.bookinfo".into(),
            requests: 5.0,
            violations: 0.0,
            denials: 2.0,
            policies: vec![meshlens_analyzer::conformance::usage::PolicyUse {
                policy: "bookinfo/ratings-viewer".into(),
                action: "ALLOW".into(),
                dry_run: false,
                rule_hits: vec![3.0, 0.0],
            }],
        }];
        let panel = policy_panel(PolicyStatus::default(), usage);
        assert!(panel.detail_available);
        let rules: Vec<u64> = panel.workloads[0].policies[0]
            .rules
            .iter()
            .map(|r| r.hits)
            .collect();
        assert_eq!(rules, [3, 0]);
    }
}
