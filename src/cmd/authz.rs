//! `meshlens authz check`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use meshlens_policies::eval::{Options, PolicySet, Request};
use meshlens_policies::model::Inventory;

use super::policy_input::PolicyArgs;

#[derive(Debug, Subcommand)]
pub enum AuthzCommand {
    /// Decide requests against the policies, with Istio's exact semantics.
    Check(CheckArgs),
}

use super::output::TextOrJson;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    input: PolicyArgs,
    /// One request as JSON: {"source":{...},"destination":{...},"protocol":"http","request":{...}}.
    #[arg(
        long,
        value_name = "JSON",
        conflicts_with = "requests",
        required_unless_present = "requests"
    )]
    request: Option<String>,
    /// A file with one JSON request per line (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    requests: Option<PathBuf>,
    /// Output: one JSON decision per line, or a readable explanation [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<TextOrJson>,
}

pub fn run(command: AuthzCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthzCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.input.load()?;
    if let Some(error) = loaded.invalid.first() {
        // Deciding without a policy the repository declares would answer a different question.
        bail!(
            "{} invalid polic{} (first: {error}); run `meshlens lint` for all of them",
            loaded.invalid.len(),
            if loaded.invalid.len() == 1 {
                "y"
            } else {
                "ies"
            }
        );
    }
    let policies = PolicySet::new(
        loaded.policies,
        Options {
            root_namespace: args.input.root_namespace.clone(),
            trust_domain: args.input.trust_domain.clone(),
        },
    );
    let format = TextOrJson::or_by_terminal(args.format);
    let requests = read_requests(&args)?;
    let mut out = std::io::stdout().lock();
    for (origin, text) in requests {
        let request = parse_request(&text, loaded.inventory.as_ref())
            .with_context(|| format!("{origin}: invalid request"))?;
        match format {
            TextOrJson::Json => {
                serde_json::to_writer(&mut out, &policies.evaluate(&request))?;
                writeln!(out)?;
            }
            TextOrJson::Text => writeln!(out, "{}", policies.explain(&request))?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The requests with where each came from (`--request`, or `file:line`).
fn read_requests(args: &CheckArgs) -> anyhow::Result<Vec<(String, String)>> {
    if let Some(request) = &args.request {
        return Ok(vec![("--request".to_owned(), request.clone())]);
    }
    let Some(path) = &args.requests else {
        bail!("give --request JSON or --requests FILE");
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Box::new(BufReader::new(file))
    };
    let mut requests = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if !line.trim().is_empty() {
            requests.push((format!("{}:{}", path.display(), index + 1), line));
        }
    }
    Ok(requests)
}

fn parse_request(text: &str, inventory: Option<&Inventory>) -> anyhow::Result<Request> {
    let mut request: Request = serde_json::from_str(text)?;
    if let Some(inventory) = inventory {
        request.complete_from(inventory);
    }
    request.validate()?;
    Ok(request)
}
