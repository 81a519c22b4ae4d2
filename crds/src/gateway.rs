//! `WebhookGateway`: one deployment of the gateway and where its dependencies are.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;

/// A deployment of the webhook gateway: its pods, its public `/webhooks` ingress, the services it
/// connects to and the network policies around it. Each field that maps to one of the gateway's
/// environment variables names it.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "webhooks.flowx.ai",
    version = "v1alpha1",
    kind = "WebhookGateway",
    plural = "webhookgateways",
    shortname = "whgw",
    category = "flowx",
    namespaced,
    doc = "A deployment of the webhook gateway: its pods, its public /webhooks ingress, the services it connects to and its network policies.",
    status = "WebhookGatewayStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Host","type":"string","jsonPath":".spec.ingress.host"}"#,
    printcolumn = r#"{"name":"Available","type":"integer","jsonPath":".status.availableReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.autoscaling) || !has(self.replicas)").message("replicas and autoscaling exclude each other: the autoscaler sets the number of pods"),
    validation = Rule::new("!has(self.autoscaling) || (has(self.resources) && has(self.resources.requests) && 'cpu' in self.resources.requests)").message("autoscaling needs resources.requests.cpu: the autoscaler measures CPU use against it")
)]
pub struct WebhookGatewaySpec {
    /// Container image of the gateway. Defaults to the image the operator was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// When the kubelet pulls the image: Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['Always', 'IfNotPresent', 'Never']").message("must be Always, IfNotPresent or Never"))]
    pub image_pull_policy: Option<String>,

    /// Secrets holding registry credentials for the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,

    /// Number of gateway pods. Defaults to 2, so one can be drained at a time. Leave it out
    /// when `autoscaling` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,

    /// Scale the gateway pods with their CPU use, through a HorizontalPodAutoscaler, instead
    /// of a fixed `replicas`. Needs `resources.requests.cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,

    /// CPU and memory requests and limits of the gateway container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Base URL external systems call, e.g. `https://hooks.example.com`; webhook URLs are
    /// `<publicUrl>/webhooks/<id>` (`WEBHOOK_GATEWAY_PUBLIC_URL`). Defaults to
    /// `https://<ingress.host>` when an ingress host is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("must be an http(s) URL"))]
    pub public_url: Option<String>,

    /// The Ingress that exposes `/webhooks` (and nothing else) to the callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<GatewayIngress>,

    /// The registration database.
    pub database: DatabaseSettings,

    /// The Kafka cluster the gateway publishes to.
    pub kafka: KafkaSettings,

    /// The Redis server used for the registration cache, duplicate suppression and rate limits.
    pub redis: RedisSettings,

    /// The OAuth2/OIDC provider that issues the tokens of the management API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySettings>,

    /// The SpiceDB server that decides workspace access on the management API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spicedb: Option<SpiceDbSettings>,

    /// Base URLs of the FlowX services the gateway talks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<FlowxServices>,

    /// The keys that seal webhook signing secrets at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<SealingSettings>,

    /// Log levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingSettings>,

    /// NetworkPolicies around the gateway pods. On unless `enabled` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySettings>,

    /// Prometheus scraping of `/actuator/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSettings>,

    /// Further environment variables of the gateway container, by name and value, for settings
    /// this resource has no field for (e.g. `WEBHOOK_GATEWAY_MAX_BODY_BYTES`). Names set by
    /// other fields cannot be overridden here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_env: BTreeMap<String, String>,
}

/// The public Ingress of the gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayIngress {
    /// Whether to create the Ingress. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// IngressClass that serves it, e.g. `nginx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,

    /// Host name the external systems call, e.g. `hooks.example.com`.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')").message("must be a DNS host name"))]
    pub host: String,

    /// TLS Secret for the host; without it the Ingress serves plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,

    /// Annotations of the Ingress, e.g. for cert-manager or body-size limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The registration database (PostgreSQL).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSettings {
    /// JDBC URL (`SPRING_DATASOURCE_URL`), e.g.
    /// `jdbc:postgresql://postgresql:5432/webhook_gateway`.
    #[x_kube(validation = Rule::new("self.startsWith('jdbc:postgresql://')").message("must be a jdbc:postgresql:// URL"))]
    pub url: String,

    /// Database user (`SPRING_DATASOURCE_USERNAME`). Defaults to `flowx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,

    /// The user's password (`SPRING_DATASOURCE_PASSWORD`). The operator reads it as well, to
    /// write the registrations of `Webhook` resources.
    pub password_secret_ref: SecretKeyRef,

    /// Connections per gateway pod (`WEBHOOK_GATEWAY_DB_POOL_SIZE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub pool_size: Option<i32>,

    /// Where the operator reaches the database, when its address from inside the cluster
    /// differs from the gateway's (a JDBC URL). Defaults to `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_url: Option<String>,
}

/// Bounds and target of the gateway's HorizontalPodAutoscaler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.minReplicas) ? self.minReplicas : 2) <= self.maxReplicas").message("maxReplicas must be at least minReplicas (default 2)"))]
pub struct Autoscaling {
    /// Fewest gateway pods. Defaults to 2, so one can be drained at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: Option<i32>,
    /// Most gateway pods.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,
    /// Average CPU use the autoscaler keeps the pods at, in percent of their CPU request.
    /// Defaults to 70.
    #[serde(
        default,
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: Option<i32>,
}

/// The Kafka cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.oauth) || self.securityProtocol == 'SASL_PLAINTEXT'").message("oauth needs securityProtocol SASL_PLAINTEXT"))]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list (`SPRING_KAFKA_BOOTSTRAP_SERVERS`).
    pub bootstrap_servers: String,

    /// `PLAINTEXT` or `SASL_PLAINTEXT` with OAUTHBEARER (`SPRING_KAFKA_SECURITY_PROTOCOL`).
    #[serde(default = "plaintext")]
    #[x_kube(validation = Rule::new("self in ['PLAINTEXT', 'SASL_PLAINTEXT']").message("must be PLAINTEXT or SASL_PLAINTEXT"))]
    pub security_protocol: String,

    /// OAuth client for SASL OAUTHBEARER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<KafkaOauth>,

    /// Seconds to wait after an authorization failure (`KAFKA_AUTHEXCEPTIONRETRYINTERVAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub auth_exception_retry_interval_seconds: Option<i32>,

    /// Parts of the topic names (`KAFKA_TOPIC_NAMING_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_naming: Option<TopicNaming>,

    /// The process start topic (`KAFKA_TOPIC_PROCESS_START_OUT`); built from `topicNaming`
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start_topic: Option<String>,
}

fn plaintext() -> String {
    "PLAINTEXT".to_owned()
}

/// OAuth client credentials for Kafka.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaOauth {
    /// Client id (`KAFKA_OAUTH_CLIENT_ID`).
    pub client_id: String,
    /// Client secret (`KAFKA_OAUTH_CLIENT_SECRET`).
    pub client_secret_ref: SecretKeyRef,
    /// Token endpoint (`KAFKA_OAUTH_TOKEN_ENDPOINT_URI`).
    pub token_endpoint_uri: String,
}

/// Parts of Kafka topic names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicNaming {
    /// Package prefix (`KAFKA_TOPIC_NAMING_PACKAGE`), e.g. `ai.flowx.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Environment segment (`KAFKA_TOPIC_NAMING_ENVIRONMENT`), e.g. `dev.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Version suffix (`KAFKA_TOPIC_NAMING_VERSION`), e.g. `.v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Primary separator (`KAFKA_TOPIC_NAMING_SEPARATOR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Secondary separator (`KAFKA_TOPIC_NAMING_SEPARATOR2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator2: Option<String>,
}

/// The Redis server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedisSettings {
    /// Host name (`SPRING_DATA_REDIS_HOST`).
    pub host: String,
    /// Port (`SPRING_DATA_REDIS_PORT`). Defaults to 6379.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Password (`SPRING_DATA_REDIS_PASSWORD`), if the server asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// How long a registration stays in Redis, in milliseconds (`REDIS_TTL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub ttl_millis: Option<i64>,
}

/// The OAuth2/OIDC provider of the management API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySettings {
    /// `oauth2` (tokens introspected) or `jwt-public-key` (tokens checked against the
    /// provider's published keys) (`SECURITY_TYPE`).
    #[serde(default = "oauth2", rename = "type")]
    #[x_kube(validation = Rule::new("self in ['oauth2', 'jwt-public-key']").message("must be oauth2 or jwt-public-key"))]
    pub type_: String,
    /// Base URL of the provider (`SECURITY_OAUTH2_BASE_SERVER_URL`).
    pub base_server_url: String,
    /// Realm (`SECURITY_OAUTH2_REALM`).
    pub realm: String,
    /// Client used for token introspection (`SECURITY_OAUTH2_CLIENT_CLIENT_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Its secret (`SECURITY_OAUTH2_CLIENT_CLIENT_SECRET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    /// Service account client id (`SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_client_id: Option<String>,
    /// Service account secret (`SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_client_secret_ref: Option<SecretKeyRef>,
    /// Audience access tokens must carry (`WEBHOOK_GATEWAY_API_AUDIENCE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

fn oauth2() -> String {
    "oauth2".to_owned()
}

/// The SpiceDB server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpiceDbSettings {
    /// Host name (`FLOWX_LIB_CASCLIENT_SPICEDB_HOST`).
    pub host: String,
    /// gRPC port (`FLOWX_LIB_CASCLIENT_SPICEDB_PORT`). Defaults to 50051.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Preshared key (`FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeyRef>,
}

/// Base URLs of FlowX services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowxServices {
    /// Organization Manager (`FLOWX_LIB_SECURITY_SERVICES_ORGANIZATIONMANAGER_BASEURL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_manager_url: Option<String>,
    /// Authorization System (`FLOWX_LIB_CASCLIENT_SERVICES_AUTHORIZATIONSYSTEM_BASEURL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_system_url: Option<String>,
}

/// The keys that seal signing secrets (AES-256-GCM).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealingSettings {
    /// Comma-separated `id:base64key` list (`WEBHOOK_GATEWAY_SEALING_KEYS`), as printed by
    /// `webhook-gateway generate-sealing-key`. The operator reads it too, to seal the secrets of
    /// signed `Webhook` resources.
    pub keys_secret_ref: SecretKeyRef,
    /// Which key seals new secrets (`WEBHOOK_GATEWAY_SEALING_KEY_ID`). Defaults to the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key_id: Option<String>,
}

/// Log levels (`LOGGING_LEVEL_ROOT`, `LOGGING_LEVEL_APP`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggingSettings {
    /// Level of every library: TRACE, DEBUG, INFO, WARN or ERROR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'OFF']").message("must be a log level"))]
    pub root: Option<String>,
    /// Level of the gateway's own messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'OFF']").message("must be a log level"))]
    pub app: Option<String>,
}

/// NetworkPolicies of the gateway: ingress to port 8080 only from the ingress controller and
/// monitoring, egress only to DNS and the seven destinations of the egress table. Each
/// destination's policy applies to pods carrying its `flowx.ai/egress-s-<name>` label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySettings {
    /// Whether to create the policies. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Pods allowed to call port 8080 as the ingress controller. Defaults to every pod in the
    /// namespace named `ingress-nginx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_controller: Option<PeerSelector>,
    /// Pods allowed to scrape port 8080. Defaults to every pod in the namespace named
    /// `monitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<PeerSelector>,
    /// DNS servers the pods may query on port 53. Defaults to the `kube-system` namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<PeerSelector>,
    /// Destinations of the egress table, one entry per service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressDestinations>,
}

/// A set of pods, by namespace and pod labels (both must match when both are given).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerSelector {
    /// Namespaces of the pods; every namespace when absent and `podSelector` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Labels of the pods; every pod of the selected namespaces when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// The egress destinations of the gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EgressDestinations {
    /// Kafka brokers (label `flowx.ai/egress-s-kafka`; default port 9092).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<EgressDestination>,
    /// PostgreSQL (label `flowx.ai/egress-s-postgresql`; default port 5432).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgresql: Option<EgressDestination>,
    /// Redis (label `flowx.ai/egress-s-redis`; default port 6379).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<EgressDestination>,
    /// Keycloak or another OAuth2 provider (label `flowx.ai/egress-s-keycloak`; default ports
    /// 8080 and 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keycloak: Option<EgressDestination>,
    /// SpiceDB (label `flowx.ai/egress-s-spicedb`; default port 50051).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spicedb: Option<EgressDestination>,
    /// Organization Manager (label `flowx.ai/egress-s-organization-manager`; default port 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_manager: Option<EgressDestination>,
    /// Authorization System (label `flowx.ai/egress-s-authorization-system`; default port 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_system: Option<EgressDestination>,
}

/// Where one egress destination is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EgressDestination {
    /// Whether the gateway may reach it at all (and its pods carry its label). Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The destination's pods. Without `to` and `cidrs`, any address on `ports` is allowed,
    /// which suits services outside the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<PeerSelector>,
    /// Address ranges of the destination outside the cluster, in CIDR notation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
    /// TCP ports; the destination's default port when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(p, p >= 1 && p <= 65535)").message("ports must be 1 to 65535"))]
    pub ports: Vec<i32>,
}

/// Prometheus scraping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSettings {
    /// Whether pods carry the `prometheus.io/scrape`, `prometheus.io/port` and
    /// `prometheus.io/path` annotations. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape: Option<bool>,
    /// Further pod labels, e.g. the label your Prometheus selects scrape targets by.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
}

/// What the operator last observed of a `WebhookGateway`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookGatewayStatus {
    /// `Ready` (first): the Deployment is available and the database answers. `Available`:
    /// the Deployment's pods are ready. `DatabaseReachable`: the operator reached the
    /// registration database. `Reconciled`: every child resource was applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods of the Deployment that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Base URL of the webhooks this gateway serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}
