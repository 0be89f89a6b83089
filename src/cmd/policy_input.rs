//! The flags every policy command shares, and loading what they name.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use meshlens_policies::inventory::read_inventory;
use meshlens_policies::model::{AuthorizationPolicy, Inventory};
use meshlens_policies::parse::{ParseError, read_policies};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// AuthorizationPolicy YAML files or directories (read recursively; other kinds skipped).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Kubernetes manifests (Deployments, Pods, Services, ServiceAccounts, Namespaces…) that
    /// tell workloads' labels, service accounts and ports.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
    /// Namespace whose policies apply mesh-wide (meshConfig.rootNamespace).
    #[arg(long, default_value = "istio-system", value_name = "NS")]
    pub root_namespace: String,
    /// The mesh's trust domain, for principals.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub trust_domain: String,
}

/// Policies as read, with the documents that failed validation.
#[derive(Debug)]
pub struct LoadedPolicies {
    pub policies: Vec<AuthorizationPolicy>,
    pub invalid: Vec<ParseError>,
    pub inventory: Option<Inventory>,
}

impl PolicyArgs {
    /// Reads policies and inventory. Unreadable files and YAML syntax errors fail the command;
    /// documents that parse but are not valid policies are returned for the caller to report.
    pub fn load(&self) -> anyhow::Result<LoadedPolicies> {
        let files = read_policies(&self.policies).context("cannot read the policies")?;
        for (kind, count) in files.skipped_by_kind() {
            tracing::debug!(
                kind,
                count,
                "skipped documents that are not AuthorizationPolicies"
            );
        }
        Ok(LoadedPolicies {
            policies: files.policies,
            invalid: files.errors,
            inventory: load_inventory(&self.inventory)?,
        })
    }
}

/// The inventory the manifests describe (`None` without manifests); an invalid manifest
/// fails the command.
pub fn load_inventory(paths: &[PathBuf]) -> anyhow::Result<Option<Inventory>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let (inventory, errors) = read_inventory(paths).context("cannot read the inventory")?;
    if !errors.is_empty() {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("invalid inventory manifests:\n  {}", listed.join("\n  "));
    }
    Ok(Some(inventory))
}
