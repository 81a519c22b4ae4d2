//! The Kubernetes API permissions the operator uses, printed by `webhook-operator permissions`
//! so the chart's RBAC can be checked against them.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub api_group: &'static str,
    pub resource: &'static str,
    pub verbs: Vec<&'static str>,
    /// `lease` for the permission only leader election needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
}

fn rule(api_group: &'static str, resource: &'static str, verbs: &[&'static str]) -> Permission {
    let mut verbs = verbs.to_vec();
    verbs.sort_unstable();
    Permission {
        api_group,
        resource,
        verbs,
        scope: None,
    }
}

/// Every permission, with the verbs the code issues: watchers list and watch, reconciles get,
/// server-side apply patches (and creates), pruning deletes.
pub fn all() -> Vec<Permission> {
    let children = ["create", "delete", "get", "list", "patch", "watch"];
    vec![
        rule(
            "webhooks.flowx.ai",
            "webhookgateways",
            &["get", "list", "patch", "watch"],
        ),
        rule(
            "webhooks.flowx.ai",
            "webhooks",
            &["get", "list", "patch", "watch"],
        ),
        rule(
            "webhooks.flowx.ai",
            "webhookgateways/status",
            &["get", "patch"],
        ),
        rule("webhooks.flowx.ai", "webhooks/status", &["get", "patch"]),
        rule("webhooks.flowx.ai", "webhooks/finalizers", &["update"]),
        rule("apps", "deployments", &children),
        rule("", "services", &children),
        rule("networking.k8s.io", "ingresses", &children),
        rule("networking.k8s.io", "networkpolicies", &children),
        rule("policy", "poddisruptionbudgets", &children),
        rule("autoscaling", "horizontalpodautoscalers", &children),
        rule("", "secrets", &["create", "get", "list", "patch", "watch"]),
        rule("events.k8s.io", "events", &["create", "patch"]),
        Permission {
            scope: Some("lease"),
            ..rule(
                "coordination.k8s.io",
                "leases",
                &["create", "get", "update"],
            )
        },
    ]
}
