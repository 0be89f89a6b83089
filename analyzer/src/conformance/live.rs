//! The policy checks behind `meshlens serve --policies`: the declared policies, reloaded when
//! their files change (or on demand, for SIGHUP) without stopping ingestion, and the recent
//! request shapes checked against them into anomalies (`policy-violation`, `rbac-denial`).
//!
//! A reload that fails — an unreadable file, a YAML error, an invalid policy — keeps the last
//! good set and is reported; traffic is never held up by it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use meshlens_policies::eval::{self, PolicySet};
use meshlens_policies::inventory::read_inventory;
use meshlens_policies::model::Inventory;
use meshlens_policies::parse::read_policies;
use serde::{Deserialize, Serialize};

use super::checks::{Inputs, RBAC_DENIAL_OBSERVED, TRAFFIC_DENIED_BY_POLICY, check_shapes_where};
use super::request::Resolver;
use super::shapes::ShapeLog;
use super::usage::{WorkloadPolicies, policy_usage};
use crate::anomaly::{AnomalyKind, EdgeRef, Severity, Signal};
use crate::engine::Analyzer;

/// Where the policies come from.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub policies: Vec<PathBuf>,
    pub inventory: Vec<PathBuf>,
    pub options: eval::Options,
}

/// One loaded, valid set of policies.
#[derive(Debug)]
pub struct PolicyContext {
    pub policies: PolicySet,
    pub inventory: Option<Inventory>,
    pub trust_domain: String,
}

/// What `GET /api/v1/policies` says about the loaded set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStatus {
    pub policies: usize,
    pub files: Vec<String>,
    /// Successful loads, the first included.
    pub loads: u64,
    pub loaded_at_unix_ms: u64,
    /// The last reload's error, while the files stay broken (the previous set is in use).
    pub last_error: Option<String>,
}

impl PolicySource {
    /// Reads and validates every file. Any invalid document fails the whole load: running
    /// with part of a policy set would report violations that are not there.
    pub fn load(&self) -> Result<(PolicyContext, Vec<String>), String> {
        let read = read_policies(&self.policies).map_err(|e| e.to_string())?;
        if let Some(error) = read.errors.first() {
            let more = read.errors.len() - 1;
            return Err(if more > 0 {
                format!("{error} (and {more} more)")
            } else {
                error.to_string()
            });
        }
        let inventory = if self.inventory.is_empty() {
            None
        } else {
            let (inventory, errors) = read_inventory(&self.inventory).map_err(|e| e.to_string())?;
            if let Some(error) = errors.first() {
                return Err(error.to_string());
            }
            Some(inventory)
        };
        let files = read.files.iter().map(|f| f.display().to_string()).collect();
        Ok((
            PolicyContext {
                policies: PolicySet::new(read.policies, self.options.clone()),
                inventory,
                trust_domain: self.options.trust_domain.clone(),
            },
            files,
        ))
    }

    /// Changes when any file under the paths is added, removed, resized or touched.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        for path in self.policies.iter().chain(&self.inventory) {
            fingerprint_path(path, &mut hasher, 0);
        }
        hasher.finish()
    }
}

/// Directories nest no deeper than this (a symlink loop ends here).
const MAX_DEPTH: usize = 16;

fn fingerprint_path(path: &Path, hasher: &mut DefaultHasher, depth: usize) {
    path.hash(hasher);
    let Ok(meta) = std::fs::metadata(path) else {
        0u8.hash(hasher);
        return;
    };
    if meta.is_dir() && depth < MAX_DEPTH {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for entry in entries {
            fingerprint_path(&entry, hasher, depth + 1);
        }
    } else {
        meta.len().hash(hasher);
        meta.modified().ok().hash(hasher);
    }
}

#[derive(Debug)]
struct Loaded {
    context: Arc<PolicyContext>,
    fingerprint: u64,
    status: PolicyStatus,
}

/// The live policy set: read by the checks, replaced whole by reloads.
#[derive(Debug)]
pub struct LivePolicies {
    source: PolicySource,
    loaded: Mutex<Loaded>,
}

impl LivePolicies {
    /// Loads the policies; an error here stops `serve` from starting.
    pub fn new(source: PolicySource, now_ms: u64) -> Result<Self, String> {
        let fingerprint = source.fingerprint();
        let (context, files) = source.load()?;
        let status = PolicyStatus {
            policies: context.policies.len(),
            files,
            loads: 1,
            loaded_at_unix_ms: now_ms,
            last_error: None,
        };
        Ok(Self {
            source,
            loaded: Mutex::new(Loaded {
                context: Arc::new(context),
                fingerprint,
                status,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn current(&self) -> Arc<PolicyContext> {
        self.lock().context.clone()
    }

    pub fn status(&self) -> PolicyStatus {
        self.lock().status.clone()
    }

    /// Reloads now (SIGHUP). Ok(policy count) on success; on failure the previous set stays.
    pub fn reload(&self, now_ms: u64) -> Result<usize, String> {
        let fingerprint = self.source.fingerprint();
        // Parsing happens outside the lock: checks keep reading the old set meanwhile.
        let loaded = self.source.load();
        let mut state = self.lock();
        state.fingerprint = fingerprint;
        match loaded {
            Ok((context, files)) => {
                let count = context.policies.len();
                state.context = Arc::new(context);
                state.status.policies = count;
                state.status.files = files;
                state.status.loads += 1;
                state.status.loaded_at_unix_ms = now_ms;
                state.status.last_error = None;
                Ok(count)
            }
            Err(error) => {
                state.status.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Reloads when the files changed since the last load or attempt; `None` when they did not.
    pub fn reload_if_changed(&self, now_ms: u64) -> Option<Result<usize, String>> {
        let changed = self.lock().fingerprint != self.source.fingerprint();
        changed.then(|| self.reload(now_ms))
    }

    /// Policies and rule hits per workload over the shapes in `log`.
    pub fn usage(&self, analyzer: &Analyzer, log: &ShapeLog) -> Vec<WorkloadPolicies> {
        let context = self.current();
        let inputs = Inputs {
            policies: &context.policies,
            resolver: Resolver {
                analyzer,
                inventory: context.inventory.as_ref(),
                trust_domain: &context.trust_domain,
            },
        };
        policy_usage(log, inputs, |_| true)
    }

    /// The policy anomalies that hold over the shapes seen since `since_ms`.
    pub fn signals(&self, analyzer: &Analyzer, log: &ShapeLog, since_ms: u64) -> Vec<Signal> {
        let context = self.current();
        let resolver = Resolver {
            analyzer,
            inventory: context.inventory.as_ref(),
            trust_domain: &context.trust_domain,
        };
        let inputs = Inputs {
            policies: &context.policies,
            resolver,
        };
        check_shapes_where(log, inputs, |shape| shape.last_ms >= since_ms)
            .into_iter()
            .filter_map(|finding| {
                let kind = if finding.code == TRAFFIC_DENIED_BY_POLICY.code {
                    AnomalyKind::PolicyViolation
                } else if finding.code == RBAC_DENIAL_OBSERVED.code {
                    AnomalyKind::RbacDenial
                } else {
                    return None;
                };
                let (source, target) = finding.edge()?;
                let severity = match kind {
                    AnomalyKind::PolicyViolation => Severity::Critical,
                    _ => Severity::Warning,
                };
                let trace_ids = finding
                    .extra
                    .get("trace_ids")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let requests = finding
                    .extra
                    .get("count")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or_default();
                Some(Signal {
                    kind,
                    edge: EdgeRef::new(source, target),
                    severity,
                    message: finding.message.clone(),
                    trace_ids,
                    requests,
                })
            })
            .collect()
    }
}
