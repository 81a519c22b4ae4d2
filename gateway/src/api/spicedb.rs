//! A SpiceDB client for the one call the gateway needs: `authzed.api.v1` CheckPermission, over
//! gRPC with tonic, authenticated by a preshared bearer token. The three messages are declared
//! here with prost instead of generating the whole API.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

const CHECK_PERMISSION: &str = "/authzed.api.v1.PermissionsService/CheckPermission";

/// Longest wait for SpiceDB's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, PartialEq, prost::Message)]
struct ObjectReference {
    #[prost(string, tag = "1")]
    object_type: String,
    #[prost(string, tag = "2")]
    object_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SubjectReference {
    #[prost(message, optional, tag = "1")]
    object: Option<ObjectReference>,
    #[prost(string, tag = "2")]
    optional_relation: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Consistency {
    #[prost(oneof = "Requirement", tags = "1, 4")]
    requirement: Option<Requirement>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Requirement {
    #[prost(bool, tag = "1")]
    MinimizeLatency(bool),
    #[prost(bool, tag = "4")]
    FullyConsistent(bool),
}

#[derive(Clone, PartialEq, prost::Message)]
struct CheckPermissionRequest {
    #[prost(message, optional, tag = "1")]
    consistency: Option<Consistency>,
    #[prost(message, optional, tag = "2")]
    resource: Option<ObjectReference>,
    #[prost(string, tag = "3")]
    permission: String,
    #[prost(message, optional, tag = "4")]
    subject: Option<SubjectReference>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CheckPermissionResponse {
    #[prost(int32, tag = "2")]
    permissionship: i32,
}

/// `PERMISSIONSHIP_HAS_PERMISSION` in `authzed.api.v1`.
const HAS_PERMISSION: i32 = 2;

/// Why SpiceDB could not decide.
#[derive(Debug, Clone, thiserror::Error)]
#[error("SpiceDB unavailable: {0}")]
pub struct SpiceDbError(pub String);

/// A connection to SpiceDB.
#[derive(Clone)]
pub struct SpiceDb {
    channel: Channel,
    authorization: MetadataValue<tonic::metadata::Ascii>,
}

impl SpiceDb {
    /// Prepares a lazily connected channel to `host:port`.
    pub fn new(host: &str, port: u16, token: &str) -> Result<Self, SpiceDbError> {
        let endpoint = Endpoint::from_shared(format!("http://{host}:{port}"))
            .map_err(|e| SpiceDbError(e.to_string()))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(CALL_TIMEOUT);
        let authorization = format!("Bearer {token}")
            .parse()
            .map_err(|_| SpiceDbError("the token is not a valid header value".into()))?;
        Ok(Self {
            channel: endpoint.connect_lazy(),
            authorization,
        })
    }

    /// Whether `subject_type:subject_id` has `permission` on `resource_type:resource_id`.
    pub async fn check(
        &self,
        resource: (&str, &str),
        permission: &str,
        subject: (&str, &str),
    ) -> Result<bool, SpiceDbError> {
        let message = CheckPermissionRequest {
            consistency: Some(Consistency {
                requirement: Some(Requirement::MinimizeLatency(true)),
            }),
            resource: Some(ObjectReference {
                object_type: resource.0.to_owned(),
                object_id: resource.1.to_owned(),
            }),
            permission: permission.to_owned(),
            subject: Some(SubjectReference {
                object: Some(ObjectReference {
                    object_type: subject.0.to_owned(),
                    object_id: subject.1.to_owned(),
                }),
                optional_relation: String::new(),
            }),
        };
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request.set_timeout(CALL_TIMEOUT);

        let mut client = tonic::client::Grpc::new(self.channel.clone());
        client
            .ready()
            .await
            .map_err(|e| SpiceDbError(e.to_string()))?;
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(CHECK_PERMISSION);
        let codec =
            tonic_prost::ProstCodec::<CheckPermissionRequest, CheckPermissionResponse>::default();
        let response = client
            .unary(request, path, codec)
            .await
            .map_err(|status| SpiceDbError(format!("{:?}: {}", status.code(), status.message())))?;
        Ok(response.into_inner().permissionship == HAS_PERMISSION)
    }
}
