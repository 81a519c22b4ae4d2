//! `webhook-operator apply -f`: the `Webhook` reconcile without a cluster. Resources are read
//! from YAML files, Secrets among them resolve `secretRef`s, and registrations are written
//! straight into the database the gateway reads (`SPRING_DATASOURCE_*`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use serde::Deserialize;
use webhook_crds::Webhook;
use webhook_gateway::auth::credentials;
use webhook_gateway::store::sealing::SealingKeys;
use webhook_gateway::store::{Database, NewRegistration};

use crate::context::secret_key;
use crate::registration;
use crate::sync::{Outcome, sync};

/// The resources found in the given files.
#[derive(Default, Debug)]
pub struct Documents {
    pub webhooks: Vec<Webhook>,
    /// Secrets by `<namespace>/<name>`.
    pub secrets: BTreeMap<String, Secret>,
}

/// Every `*.yaml` and `*.yml` file under `paths`, in name order.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            let nested: Vec<PathBuf> = entries
                .into_iter()
                .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.extend(files(&nested)?);
        } else if path.exists() {
            found.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(found)
}

/// Reads every document of `files`, keeping Webhooks and Secrets; other kinds are skipped.
pub fn read(files: &[PathBuf], default_namespace: &str) -> Result<Documents, String> {
    let mut documents = Documents::default();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        parse(&text, file, default_namespace, &mut documents)?;
    }
    Ok(documents)
}

fn parse(
    text: &str,
    file: &Path,
    default_namespace: &str,
    documents: &mut Documents,
) -> Result<(), String> {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let where_ = format!("{} (document {})", file.display(), index + 1);
        let value =
            serde_yaml::Value::deserialize(document).map_err(|e| format!("{where_}: {e}"))?;
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        let api_version = value
            .get("apiVersion")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_owned();
        match (api_version.as_str(), kind.as_str()) {
            ("webhooks.flowx.ai/v1alpha1", "Webhook") => {
                let mut webhook: Webhook =
                    serde_yaml::from_value(value).map_err(|e| format!("{where_}: {e}"))?;
                if webhook.metadata.namespace.is_none() {
                    webhook.metadata.namespace = Some(default_namespace.to_owned());
                }
                documents.webhooks.push(webhook);
            }
            ("v1", "Secret") => {
                let mut secret: Secret =
                    serde_yaml::from_value(value).map_err(|e| format!("{where_}: {e}"))?;
                let namespace = secret
                    .namespace()
                    .unwrap_or_else(|| default_namespace.to_owned());
                secret.metadata.namespace = Some(namespace.clone());
                documents
                    .secrets
                    .insert(format!("{namespace}/{}", secret.name_any()), secret);
            }
            _ => {}
        }
    }
    Ok(())
}

/// One webhook, checked and ready to write.
struct Planned {
    new: NewRegistration,
    owner: String,
    secret: Option<String>,
}

/// Checks every webhook, then writes them; nothing is written when any is invalid. Returns the
/// report printed to the user, and whether every webhook is registered.
/// With `public_url` each registered webhook's URL is printed too.
pub async fn apply(
    documents: &Documents,
    database: &Database,
    sealing: &SealingKeys,
    public_url: Option<&str>,
) -> (String, bool) {
    let mut out = String::new();
    let mut problems = Vec::new();
    let mut planned = Vec::new();
    let mut ids = BTreeSet::new();
    for webhook in &documents.webhooks {
        let owner = registration::owner(webhook);
        let new = match registration::registration(webhook) {
            Ok(new) => new,
            Err(problem) => {
                problems.push(format!("Webhook {owner}: {problem}"));
                continue;
            }
        };
        if !ids.insert(new.id.clone()) {
            problems.push(format!(
                "Webhook {owner}: webhook id {:?} is used twice in the files",
                new.id
            ));
            continue;
        }
        let secret = match &webhook.spec.auth.secret_ref {
            Some(reference) if registration::needs_secret(&new.auth) => {
                let namespace = webhook.namespace().unwrap_or_default();
                let found = documents
                    .secrets
                    .get(&format!("{namespace}/{}", reference.name))
                    .and_then(|secret| secret_key(secret, &reference.key));
                match found {
                    Some(value) => Some(value),
                    None => {
                        problems.push(format!(
                            "Webhook {owner}: Secret {namespace}/{} with key {:?} is not in the given files",
                            reference.name, reference.key
                        ));
                        continue;
                    }
                }
            }
            _ => None,
        };
        planned.push(Planned { new, owner, secret });
    }
    if !problems.is_empty() {
        for problem in &problems {
            let _ = writeln!(out, "error: {problem}");
        }
        let _ = writeln!(
            out,
            "nothing written: {} of {} webhooks are invalid",
            problems.len(),
            documents.webhooks.len()
        );
        return (out, false);
    }

    let mut all_ok = true;
    for mut plan in planned {
        let mut generated = None;
        if plan.secret.is_none() && registration::needs_secret(&plan.new.auth) {
            let has_credential = match database.managed(&plan.new.id).await {
                Ok(current) => current.is_some_and(|c| !c.credentials.is_empty()),
                Err(error) => {
                    let _ = writeln!(out, "error: Webhook {}: {error}", plan.owner);
                    all_ok = false;
                    continue;
                }
            };
            if !has_credential {
                let value = credentials::generate(&plan.new.auth);
                generated = Some(value.clone());
                plan.secret = Some(value);
            }
        }
        match sync(
            database,
            sealing,
            &plan.new,
            &plan.owner,
            plan.secret.as_deref(),
        )
        .await
        {
            Ok(outcome) => {
                let _ = writeln!(
                    out,
                    "webhook {} ({}): {}",
                    plan.new.id,
                    plan.owner,
                    outcome.as_str()
                );
                if let Some(base) = public_url {
                    let _ = writeln!(
                        out,
                        "  url: {}/webhooks/{}",
                        base.trim_end_matches('/'),
                        plan.new.id
                    );
                }
                if let (Some(value), true) = (generated, outcome != Outcome::Unchanged) {
                    let _ = writeln!(
                        out,
                        "  generated credential for {} (shown once, keep it): {value}",
                        plan.new.id
                    );
                }
            }
            Err(error) => {
                let _ = writeln!(
                    out,
                    "error: Webhook {} ({}): {error}",
                    plan.owner,
                    error.reason()
                );
                all_ok = false;
            }
        }
    }
    (out, all_ok)
}
