//! Workspace authorization: one SpiceDB permission per operation, decisions reused for a few
//! seconds at most. When SpiceDB cannot answer, nothing is allowed.

use std::time::Duration;

use super::spicedb::{SpiceDb, SpiceDbError};
use super::token::Principal;
use crate::config::SecurityConfig;

/// What an operation needs on a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    View,
    Manage,
}

/// Checks workspace permissions in SpiceDB.
pub struct Authorizer {
    spicedb: SpiceDb,
    decisions: Option<moka::future::Cache<(String, String, Access), bool>>,
    workspace_type: String,
    subject_type: String,
    view_permission: String,
    manage_permission: String,
}

impl Authorizer {
    pub fn new(config: &SecurityConfig) -> Result<Self, SpiceDbError> {
        let spicedb = SpiceDb::new(
            &config.spicedb_host,
            config.spicedb_port,
            config.spicedb_token.expose(),
        )?;
        let decisions = (config.decision_ttl > Duration::ZERO).then(|| {
            moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.decision_ttl)
                .build()
        });
        Ok(Self {
            spicedb,
            decisions,
            workspace_type: config.workspace_type.clone(),
            subject_type: config.subject_type.clone(),
            view_permission: config.view_permission.clone(),
            manage_permission: config.manage_permission.clone(),
        })
    }

    /// Whether `principal` may do `access` on `workspace`.
    pub async fn allows(
        &self,
        principal: &Principal,
        workspace: &str,
        access: Access,
    ) -> Result<bool, SpiceDbError> {
        let key = (principal.subject.clone(), workspace.to_owned(), access);
        if let Some(decision) = match &self.decisions {
            Some(cache) => cache.get(&key).await,
            None => None,
        } {
            return Ok(decision);
        }
        let permission = match access {
            Access::View => &self.view_permission,
            Access::Manage => &self.manage_permission,
        };
        let allowed = self
            .spicedb
            .check(
                (&self.workspace_type, workspace),
                permission,
                (&self.subject_type, &principal.subject),
            )
            .await?;
        if let Some(cache) = &self.decisions {
            cache.insert(key, allowed).await;
        }
        Ok(allowed)
    }

    /// Checks that SpiceDB answers.
    pub async fn ping(&self) -> Result<(), SpiceDbError> {
        self.spicedb
            .check(
                (&self.workspace_type, "health-check"),
                &self.view_permission,
                (&self.subject_type, "health-check"),
            )
            .await
            .map(|_| ())
    }
}
