//! `Webhook`: one webhook URL, how its callers authenticate and which process it starts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;

/// A webhook URL served by a `WebhookGateway`: who may call it and which process start event
/// each call triggers. The operator writes its registration into the gateway's database and
/// reports the URL in `status.url`; the credential stays in a Secret.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "webhooks.flowx.ai",
    version = "v1alpha1",
    kind = "Webhook",
    plural = "webhooks",
    shortname = "wh",
    category = "flowx",
    namespaced,
    doc = "A webhook URL served by a WebhookGateway: who may call it and which process start event each call triggers.",
    status = "WebhookStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Auth","type":"string","jsonPath":".spec.auth.type"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".status.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.webhookId) == has(oldSelf.webhookId)").message("webhookId cannot be added or removed"),
    validation = Rule::new("!has(self.limits) || !has(self.limits.burst) || has(self.limits.ratePerSecond)").message("limits.burst needs limits.ratePerSecond")
)]
pub struct WebhookSpec {
    /// The `WebhookGateway` that serves this webhook, in the same namespace. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("gatewayRef is immutable"))]
    pub gateway_ref: GatewayRef,

    /// Id of the webhook in its URL (`/webhooks/<webhookId>`), unique per gateway database.
    /// Defaults to the resource's name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self == oldSelf").message("webhookId is immutable"),
        validation = Rule::new("self.matches('^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')").message("must be 1 to 128 of [A-Za-z0-9._-], starting with a letter or digit")
    )]
    pub webhook_id: Option<String>,

    /// FlowX workspace the webhook belongs to; management API access is checked against it.
    /// Immutable.
    #[x_kube(
        validation = Rule::new("self == oldSelf").message("workspaceId is immutable"),
        validation = Rule::new("size(self) >= 1 && size(self) <= 253").message("must be 1 to 253 characters")
    )]
    pub workspace_id: String,

    /// Organization the events belong to, sent in the `Fx-Organization-Id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,

    /// Human-readable name. Defaults to the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) >= 1 && size(self) <= 253").message("must be 1 to 253 characters"))]
    pub display_name: Option<String>,

    /// What the webhook is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// Whether calls are accepted. An inactive webhook answers 403 to authenticated callers.
    /// Defaults to true.
    #[serde(default = "yes")]
    pub active: bool,

    /// The process each call starts.
    pub target: Target,

    /// How callers authenticate.
    pub auth: WebhookAuth,

    /// Source networks allowed to call, in CIDR notation; every address when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("entries must be CIDR ranges"))]
    pub allowed_source_cidrs: Vec<String>,

    /// Size and rate limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,

    /// Request headers forwarded in the Kafka record besides the default ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(h, h.matches('^[A-Za-z0-9!#$%&\\'*+.^_`|~-]+$'))").message("entries must be HTTP header names"))]
    pub forwarded_headers: Vec<String>,

    /// Where callers put an event id, so that retried deliveries are published once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,

    /// The answer to an accepted call, for senders that expect a particular one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseSettings>,
}

fn yes() -> bool {
    true
}

/// Reference to a `WebhookGateway`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Name of the `WebhookGateway` in the webhook's namespace.
    pub name: String,
}

/// The process a call starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// Process start event the record names.
    #[x_kube(validation = Rule::new("size(self) >= 1").message("must not be empty"))]
    pub start_event: String,
    /// Topic to publish to instead of the gateway's start topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9._-]{1,249}$')").message("must be 1 to 249 of [A-Za-z0-9._-]"))]
    pub topic: Option<String>,
}

/// How the callers of a webhook authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type == 'hmac' ? has(self.hmac) : !has(self.hmac)").message("hmac settings are required for type hmac and only allowed there"),
    validation = Rule::new("self.type == 'basic' ? has(self.basic) : !has(self.basic)").message("basic settings are required for type basic and only allowed there"),
    validation = Rule::new("self.type != 'none' || !has(self.secretRef)").message("type none takes no secret"),
    validation = Rule::new("!has(self.toleranceSeconds) || self.type in ['standard-webhooks', 'stripe', 'slack', 'hmac']").message("toleranceSeconds applies to standard-webhooks, stripe, slack and hmac only"),
    validation = Rule::new("self.type != 'hmac' || !has(self.toleranceSeconds) || has(self.hmac.timestampHeader)").message("toleranceSeconds with type hmac needs hmac.timestampHeader")
)]
pub struct WebhookAuth {
    /// `api-key` (key in the `apiKey` query parameter or `X-API-Key` header),
    /// `standard-webhooks`, `github`, `gitlab`, `stripe`, `slack`, `shopify`, `hmac` (any other
    /// HMAC signature, described in `hmac`), `basic` or `none`.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self in ['api-key', 'standard-webhooks', 'github', 'gitlab', 'stripe', 'slack', 'shopify', 'hmac', 'basic', 'none']").message("unknown auth type"))]
    pub type_: String,

    /// The credential: API key, signing secret, GitLab token or Basic password. When absent,
    /// the operator generates one into the Secret `<name>-webhook-credentials` (key
    /// `credential`), owned by this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,

    /// Largest accepted distance between the signed timestamp and now, in seconds (300 when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub tolerance_seconds: Option<i64>,

    /// The signature of type `hmac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacSettings>,

    /// The username of type `basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicSettings>,
}

/// A generic HMAC signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.signedContent) || !self.signedContent.contains('{timestamp}') || has(self.timestampHeader)").message("signedContent with {timestamp} needs timestampHeader"))]
pub struct HmacSettings {
    /// Request header carrying the signature.
    pub header: String,
    /// `sha1`, `sha256` or `sha512`. No default, so SHA-1 is always a deliberate choice.
    #[x_kube(validation = Rule::new("self in ['sha1', 'sha256', 'sha512']").message("must be sha1, sha256 or sha512"))]
    pub algorithm: String,
    /// `hex` or `base64`.
    #[x_kube(validation = Rule::new("self in ['hex', 'base64']").message("must be hex or base64"))]
    pub encoding: String,
    /// Text before the signature in the header, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Request header carrying the Unix time the sender signed at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// What is signed, from `{timestamp}`, `{body}` and literal text; `{body}` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_content: Option<String>,
}

/// HTTP Basic authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicSettings {
    /// The only accepted username; the password is the webhook's credential.
    #[x_kube(validation = Rule::new("size(self) >= 1 && !self.contains(':')").message("must be non-empty and without ':'"))]
    pub username: String,
}

/// Size and rate limits of one webhook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest accepted body in bytes; can only lower the gateway's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_body_bytes: Option<i32>,
    /// Sustained calls per second, shared by all gateway pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub rate_per_second: Option<i32>,
    /// Calls allowed at once above the sustained rate. Defaults to `ratePerSecond`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub burst: Option<i32>,
}

/// Where a caller's event id is found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Idempotency {
    /// Request header holding the event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// JSON pointer (RFC 6901) into the payload, e.g. `/id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == '' || self.startsWith('/')").message("must be a JSON pointer"))]
    pub json_pointer: Option<String>,
    /// How long an event id is remembered, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub ttl_seconds: Option<i32>,
}

/// The answer to an accepted call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseSettings {
    /// 200, 202 (default) or 204.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in [200, 202, 204]").message("must be 200, 202 or 204"))]
    pub status: Option<i32>,
    /// A fixed body sent instead of `{"eventId": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// What the operator last observed of a `Webhook`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookStatus {
    /// `Ready` (first): the registration is written and callers can use the URL.
    /// `Registered`: the registration row matches the spec. `CredentialReady`: the credential
    /// Secret exists and holds the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The URL external systems call. The credential is never shown here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The webhook id in the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// The Secret holding the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_secret: Option<String>,
}
