//! Workspace-scoped webhook management: list, get, create, update, delete, activate,
//! deactivate, rotate secret, get URL, recent deliveries.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration as ChronoDuration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::Access;
use super::{ApiError, authorize};
use crate::auth::credentials::{self, IssueError};
use crate::auth::scheme::AuthScheme;
use crate::config::parse_cidr;
use crate::state::Gateway;
use crate::store::{
    Idempotency, ListFilter, NewRegistration, RateLimit, RegistrationRecord, ResponseSettings,
    StoreError,
};

/// Largest page of a listing.
const MAX_PAGE_SIZE: i64 = 200;

pub(super) fn routes(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(list))
        .route("", web::post().to(create))
        .route("/{id}", web::get().to(get))
        .route("/{id}", web::put().to(update))
        .route("/{id}", web::delete().to(delete))
        .route("/{id}/activate", web::post().to(activate))
        .route("/{id}/deactivate", web::post().to(deactivate))
        .route("/{id}/rotate-secret", web::post().to(rotate_secret))
        .route("/{id}/url", web::get().to(url))
        .route("/{id}/deliveries", web::get().to(deliveries));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitInput {
    per_second: u32,
    burst: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IdempotencyInput {
    header: Option<String>,
    json_pointer: Option<String>,
    ttl_seconds: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResponseInput {
    status: Option<u16>,
    body: Option<String>,
}

/// The body of create and update.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WebhookInput {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    organization_id: Option<String>,
    active: Option<bool>,
    start_event: Option<String>,
    topic: Option<String>,
    max_body_bytes: Option<i32>,
    #[serde(default)]
    forwarded_headers: Vec<String>,
    auth: Option<Value>,
    #[serde(default)]
    allowed_cidrs: Vec<String>,
    rate_limit: Option<RateLimitInput>,
    idempotency: Option<IdempotencyInput>,
    response: Option<ResponseInput>,
    /// A secret to use instead of a generated one.
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateInput {
    grace_seconds: Option<i64>,
    secret: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<i64>,
    size: Option<i64>,
    active: Option<bool>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    limit: Option<usize>,
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Invalid(problem) => ApiError::Validation(vec![("body".into(), problem)]),
        other => {
            tracing::warn!("management call failed on the registration store: {other}");
            ApiError::StoreUnavailable
        }
    }
}

fn issue_error(error: IssueError) -> ApiError {
    match error {
        IssueError::Seal(e) => ApiError::CannotIssue(e.to_string()),
        IssueError::Store(e) => store_error(e),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_str("{}").map_err(|e| ApiError::MalformedBody(e.to_string()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody(e.to_string()))
}

/// The registration the input describes, or every field that is wrong with it.
fn registration_from(
    input: WebhookInput,
    id: String,
    workspace: &str,
) -> Result<NewRegistration, ApiError> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let auth = match input.auth {
        None => AuthScheme::ApiKey,
        Some(value) => serde_json::from_value(value).unwrap_or_else(|e| {
            problems.push(("auth".into(), e.to_string()));
            AuthScheme::ApiKey
        }),
    };
    let mut allowed_cidrs = Vec::new();
    for (index, cidr) in input.allowed_cidrs.iter().enumerate() {
        match parse_cidr(cidr) {
            Some(net) => allowed_cidrs.push(net),
            None => problems.push((
                format!("allowedCidrs[{index}]"),
                format!("{cidr:?} is not a CIDR"),
            )),
        }
    }
    let name = input.name.unwrap_or_default();
    let idempotency = input.idempotency.unwrap_or_default();
    let response = input
        .response
        .map_or_else(ResponseSettings::default, |r| ResponseSettings {
            status: r.status.unwrap_or(202),
            body: r.body,
        });
    let registration = NewRegistration {
        id,
        name,
        description: input.description,
        workspace_id: workspace.to_owned(),
        organization_id: input.organization_id,
        active: input.active.unwrap_or(true),
        start_event: input.start_event,
        topic: input.topic,
        max_body_bytes: input.max_body_bytes,
        forwarded_headers: input
            .forwarded_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        auth,
        allowed_cidrs,
        rate_limit: input.rate_limit.map(|l| RateLimit {
            per_second: l.per_second,
            burst: l.burst.unwrap_or(l.per_second),
        }),
        idempotency: Idempotency {
            header: idempotency.header.map(|h| h.to_ascii_lowercase()),
            json_pointer: idempotency.json_pointer,
            ttl_seconds: idempotency.ttl_seconds,
        },
        response,
        managed_by: "api".into(),
    };
    problems.extend(
        registration
            .problems()
            .into_iter()
            .map(|(field, problem)| (field.to_owned(), problem)),
    );
    if problems.is_empty() {
        Ok(registration)
    } else {
        Err(ApiError::Validation(problems))
    }
}

fn view(record: &RegistrationRecord, gateway: &Gateway) -> Value {
    let registration = &record.registration;
    json!({
        "id": registration.id,
        "name": registration.name,
        "description": record.description,
        "workspaceId": registration.workspace_id,
        "organizationId": registration.organization_id,
        "active": registration.active,
        "startEvent": registration.start_event,
        "topic": registration.topic,
        "maxBodyBytes": registration.max_body_bytes,
        "forwardedHeaders": registration.forwarded_headers,
        "auth": registration.auth,
        "allowedCidrs": registration.allowed_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "rateLimit": registration.rate_limit.map(|l| json!({ "perSecond": l.per_second, "burst": l.burst })),
        "idempotency": {
            "header": registration.idempotency.header,
            "jsonPointer": registration.idempotency.json_pointer,
            "ttlSeconds": registration.idempotency.ttl_seconds,
        },
        "response": { "status": registration.response.status, "body": registration.response.body },
        "managedBy": record.managed_by,
        "url": webhook_url(gateway, &registration.id),
        "revision": registration.revision,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    })
}

fn webhook_url(gateway: &Gateway, id: &str) -> String {
    format!("{}/webhooks/{id}", gateway.config.server.public_url)
}

/// Adds a freshly issued credential to an answer, under the name the scheme gives it.
fn with_credential(mut answer: Value, auth: &AuthScheme, issued: Option<String>) -> Value {
    if let Some(secret) = issued {
        let field = if *auth == AuthScheme::ApiKey {
            "apiKey"
        } else {
            "secret"
        };
        answer[field] = json!(secret);
    }
    answer
}

/// The record of `id` if it belongs to `workspace`; another workspace's webhook is reported
/// exactly like a missing one.
async fn record_in(
    gateway: &Gateway,
    workspace: &str,
    id: &str,
) -> Result<RegistrationRecord, ApiError> {
    match gateway.database.record(id).await.map_err(store_error)? {
        Some(record) if record.registration.workspace_id == workspace => Ok(record),
        _ => Err(ApiError::NotFound(id.to_owned())),
    }
}

fn writable(record: &RegistrationRecord) -> Result<(), ApiError> {
    if record.managed_by == "kubernetes" {
        return Err(ApiError::ManagedByKubernetes(
            record.registration.id.clone(),
        ));
    }
    Ok(())
}

async fn list(
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let workspace = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::View).await?;
    let page = query.page.unwrap_or(0);
    let size = query.size.unwrap_or(20);
    let mut problems = Vec::new();
    if !(0..=10_000_000).contains(&page) {
        problems.push(("page".to_owned(), "must be 0 to 10000000".to_owned()));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        problems.push(("size".to_owned(), format!("must be 1 to {MAX_PAGE_SIZE}")));
    }
    if query
        .name
        .as_deref()
        .is_some_and(|name| name.contains('\0'))
    {
        problems.push(("name".to_owned(), "must not contain NUL".to_owned()));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let filter = ListFilter {
        active: query.active,
        name_contains: query.name.clone().filter(|n| !n.is_empty()),
        offset: page.checked_mul(size).ok_or_else(|| {
            ApiError::Validation(vec![("page".to_owned(), "is too large".to_owned())])
        })?,
        limit: size,
    };
    let (records, total) = gateway
        .database
        .records_in(&workspace, &filter)
        .await
        .map_err(store_error)?;
    let items: Vec<Value> = records
        .iter()
        .map(|record| view(record, &gateway))
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "items": items, "page": page, "size": size, "total": total })))
}

async fn create(
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let workspace = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::Manage).await?;
    let mut input: WebhookInput = parse_body(&body)?;
    let id = input
        .id
        .take()
        .unwrap_or_else(|| format!("wh-{}", uuid::Uuid::new_v4().simple()));
    let given = input.secret.take();
    let registration = registration_from(input, id.clone(), &workspace)?;
    if !gateway
        .database
        .create(&registration)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::Exists(id));
    }
    let sealing = &gateway.config.protection.sealing;
    let issued = credentials::issue(
        sealing,
        &gateway.database,
        &id,
        &registration.auth,
        given,
        None,
    )
    .await;
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => {
            // Without its credential the webhook would be unusable: take it back.
            let _ = gateway.database.delete(&id).await;
            return Err(issue_error(e));
        }
    };
    let record = record_in(&gateway, &workspace, &id).await?;
    let answer = with_credential(
        json!({ "webhook": view(&record, &gateway) }),
        &registration.auth,
        issued,
    );
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("{}/{id}", request.path())))
        .json(answer))
}

async fn get(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::View).await?;
    let record = record_in(&gateway, &workspace, &id).await?;
    Ok(HttpResponse::Ok().json(view(&record, &gateway)))
}

async fn update(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::Manage).await?;
    let current = record_in(&gateway, &workspace, &id).await?;
    writable(&current)?;
    let mut input: WebhookInput = parse_body(&body)?;
    if input.id.as_ref().is_some_and(|given| *given != id) {
        return Err(ApiError::Validation(vec![(
            "id".into(),
            "cannot be changed".into(),
        )]));
    }
    let given = input.secret.take();
    let registration = registration_from(input, id.clone(), &workspace)?;
    gateway
        .database
        .upsert(&registration)
        .await
        .map_err(store_error)?;
    let scheme_changed = registration.auth.name() != current.registration.auth.name();
    let issued = if scheme_changed || given.is_some() {
        let sealing = &gateway.config.protection.sealing;
        credentials::issue(
            sealing,
            &gateway.database,
            &id,
            &registration.auth,
            given,
            Some(Utc::now()),
        )
        .await
        .map_err(issue_error)?
    } else {
        None
    };
    let record = record_in(&gateway, &workspace, &id).await?;
    let answer = with_credential(
        json!({ "webhook": view(&record, &gateway) }),
        &registration.auth,
        issued,
    );
    Ok(HttpResponse::Ok().json(answer))
}

async fn delete(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::Manage).await?;
    writable(&record_in(&gateway, &workspace, &id).await?)?;
    gateway.database.delete(&id).await.map_err(store_error)?;
    gateway.deliveries.forget(&id).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_active(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
    active: bool,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::Manage).await?;
    writable(&record_in(&gateway, &workspace, &id).await?)?;
    gateway
        .database
        .set_active(&id, active)
        .await
        .map_err(store_error)?;
    let record = record_in(&gateway, &workspace, &id).await?;
    Ok(HttpResponse::Ok().json(view(&record, &gateway)))
}

async fn activate(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    set_active(request, path, gateway, true).await
}

async fn deactivate(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    set_active(request, path, gateway, false).await
}

async fn rotate_secret(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::Manage).await?;
    let record = record_in(&gateway, &workspace, &id).await?;
    writable(&record)?;
    let input: RotateInput = parse_body(&body)?;
    let grace = input.grace_seconds.unwrap_or(86_400);
    if !(0..=30 * 86_400).contains(&grace) {
        return Err(ApiError::Validation(vec![(
            "graceSeconds".into(),
            "must be 0 to 2592000".into(),
        )]));
    }
    let until = Utc::now() + ChronoDuration::seconds(grace);
    let auth = &record.registration.auth;
    let sealing = &gateway.config.protection.sealing;
    let issued = credentials::issue(
        sealing,
        &gateway.database,
        &id,
        auth,
        input.secret,
        Some(until),
    )
    .await
    .map_err(issue_error)?;
    let answer = with_credential(json!({ "previousValidUntil": until }), auth, issued);
    Ok(HttpResponse::Ok().json(answer))
}

async fn url(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::View).await?;
    record_in(&gateway, &workspace, &id).await?;
    Ok(HttpResponse::Ok().json(json!({ "url": webhook_url(&gateway, &id) })))
}

async fn deliveries(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<DeliveriesQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let (workspace, id) = path.into_inner();
    authorize(&request, &gateway, &workspace, Access::View).await?;
    record_in(&gateway, &workspace, &id).await?;
    let limit = query
        .limit
        .unwrap_or(50)
        .clamp(1, crate::store::deliveries::KEPT);
    let items = gateway.deliveries.recent(&id, limit).await.map_err(|e| {
        tracing::warn!("delivery log unavailable: {e}");
        ApiError::StoreUnavailable
    })?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
