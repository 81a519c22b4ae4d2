//! An in-memory stand-in for the Kubernetes API server, used by the tests and the benchmark
//! because no real API server can run on the build machines. It is not a Kubernetes
//! implementation: it stores objects by URL path and answers the requests the operator makes
//! (get, list with label selectors, create, replace, server-side apply as a replace of the
//! fields sent, JSON merge patch with resourceVersion checks, status patches, delete with
//! finalizers, watches from a resourceVersion) and records every request so tests can count
//! what was written.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::{Client, Resource};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// One request the fake answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: Method,
    /// Path without the query string.
    pub path: String,
    pub query: String,
}

impl Recorded {
    /// Whether the request changes anything.
    pub fn is_write(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// One change to a stored object, as a watch reports it.
#[derive(Clone, Debug)]
struct Change {
    version: u64,
    path: String,
    kind: &'static str,
    object: Value,
}

struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    version: u64,
    failures: Vec<(Method, String, u16)>,
    /// Every change so far, for watches that start from an older resourceVersion.
    changes: Vec<Change>,
    /// Whether `changes` is kept; without it watches see only what happens after they start.
    history: bool,
    live: broadcast::Sender<Change>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            requests: Vec::new(),
            version: 0,
            failures: Vec::new(),
            changes: Vec::new(),
            history: true,
            live: broadcast::channel(4096).0,
        }
    }
}

impl State {
    fn record(&mut self, kind: &'static str, path: &str, object: &Value) {
        let change = Change {
            version: self.version,
            path: path.to_owned(),
            kind,
            object: object.clone(),
        };
        if self.history {
            self.changes.push(change.clone());
        }
        let _ = self.live.send(change);
    }

    /// Stores `object` at `path`, telling watchers it was added or modified.
    fn store(&mut self, path: String, object: Value) {
        let kind = if self.objects.contains_key(&path) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.record(kind, &path, &object);
        self.objects.insert(path, object);
    }

    fn remove(&mut self, path: &str) {
        if let Some(mut object) = self.objects.remove(path) {
            self.version += 1;
            object["metadata"]["resourceVersion"] = json!(self.version.to_string());
            self.record("DELETED", path, &object);
        }
    }
}

/// The fake API server; clones share one state.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Whether the object stored at `path` belongs to the list or watch of `collection`, which is
/// namespaced (`.../namespaces/NS/PLURAL`) or across namespaces (`.../PLURAL`).
fn in_collection(path: &str, collection: &str) -> bool {
    let (key_collection, _, key_sub) = split(path);
    if key_sub.is_some() {
        return false;
    }
    if collection.contains("/namespaces/") {
        return key_collection == collection;
    }
    let plural = collection.rsplit('/').next().unwrap_or_default();
    key_collection.ends_with(&format!("/{plural}"))
        && key_collection.starts_with(collection.trim_end_matches(&format!("/{plural}")))
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    respond(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "reason": reason, "message": message, "code": code.as_u16()}),
    )
}

fn respond(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed_unsync())
        .expect("valid response")
}

/// A watch answer: the changes after the requested version, then every live one, as JSON lines.
fn watch(
    replay: Vec<Change>,
    live: broadcast::Receiver<Change>,
    collection: String,
    selector: String,
) -> Response<Body> {
    let last_replayed = replay.last().map(|c| c.version).unwrap_or(0);
    let relevant = move |change: &Change| {
        in_collection(&change.path, &collection) && matches_selector(&change.object, &selector)
    };
    let relevant_live = relevant.clone();
    let replayed = futures::stream::iter(replay.into_iter().filter(relevant));
    let live = futures::stream::unfold(live, |mut live| async move {
        loop {
            match live.recv().await {
                Ok(change) => return Some((change, live)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .filter(move |change| {
        futures::future::ready(change.version > last_replayed && relevant_live(change))
    });
    let lines = replayed.chain(live).map(|change| {
        let line = json!({"type": change.kind, "object": change.object}).to_string() + "\n";
        Ok::<_, Infallible>(Frame::data(Bytes::from(line)))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(StreamBody::new(lines).boxed_unsync())
        .expect("valid response")
}

/// Splits an API path into the collection path, the object name and the subresource.
fn split(path: &str) -> (String, Option<String>, Option<String>) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let prefix_len = if segments.first() == Some(&"api") {
        2
    } else {
        3
    };
    let rest = &segments[prefix_len.min(segments.len())..];
    let collection_len = if rest.first() == Some(&"namespaces") {
        3
    } else {
        1
    };
    let collection = segments[..(prefix_len + collection_len).min(segments.len())].join("/");
    let name = rest.get(collection_len).map(|s| s.to_string());
    let sub = rest.get(collection_len + 1).map(|s| s.to_string());
    (format!("/{collection}"), name, sub)
}

fn matches_selector(object: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|t| !t.is_empty())
        .all(|term| match term.split_once('=') {
            Some((key, value)) => object["metadata"]["labels"][key].as_str() == Some(value),
            None => !object["metadata"]["labels"][term].is_null(),
        })
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

impl FakeApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client whose every request this fake answers.
    pub fn client(&self) -> Client {
        let fake = self.clone();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let fake = fake.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Ok::<_, Infallible>(fake.handle(&parts, &body))
            }
        });
        Client::new(service, "default")
    }

    /// Stores `object` as if it had been created.
    pub fn insert<K: Resource<DynamicType = ()> + Serialize>(&self, object: &K) {
        let namespace = object.meta().namespace.clone();
        let path = format!(
            "{}/{}",
            K::url_path(&(), namespace.as_deref()),
            object.meta().name.clone().unwrap_or_default()
        );
        let mut value = serde_json::to_value(object).expect("serializable object");
        value["apiVersion"] = json!(K::api_version(&()));
        value["kind"] = json!(K::kind(&()));
        let mut state = self.state.lock().expect("fake api lock");
        Self::stamp_new(&mut state, &mut value);
        state.store(path, value);
    }

    /// The stored object at `K`'s path in `namespace`.
    pub fn get<K: Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) -> Option<Value> {
        let path = format!("{}/{name}", K::url_path(&(), Some(namespace)));
        self.state
            .lock()
            .expect("fake api lock")
            .objects
            .get(&path)
            .cloned()
    }

    /// Every stored object of `K` in `namespace`.
    pub fn list<K: Resource<DynamicType = ()>>(&self, namespace: &str) -> Vec<Value> {
        let prefix = format!("{}/", K::url_path(&(), Some(namespace)));
        let state = self.state.lock().expect("fake api lock");
        state
            .objects
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix) && !path[prefix.len()..].contains('/'))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Changes a stored object in place, as another client would.
    pub fn modify<K: Resource<DynamicType = ()>>(
        &self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) {
        let path = format!("{}/{name}", K::url_path(&(), Some(namespace)));
        let mut state = self.state.lock().expect("fake api lock");
        state.version += 1;
        let version = state.version;
        let mut object = state
            .objects
            .get(&path)
            .cloned()
            .expect("object to modify exists");
        change(&mut object);
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        state.store(path, object);
    }

    /// Every version stored at `K`'s path in `namespace`, oldest first, while history is kept.
    pub fn history<K: Resource<DynamicType = ()>>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Vec<Value> {
        let path = format!("{}/{name}", K::url_path(&(), Some(namespace)));
        let state = self.state.lock().expect("fake api lock");
        state
            .changes
            .iter()
            .filter(|c| c.path == path && c.kind != "DELETED")
            .map(|c| c.object.clone())
            .collect()
    }

    /// Stops keeping past changes, for runs without watches that should not grow with them.
    pub fn forget_history(&self) {
        let mut state = self.state.lock().expect("fake api lock");
        state.history = false;
        state.changes = Vec::new();
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("fake api lock").requests.clone()
    }

    /// The requests that changed something.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_write)
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state.lock().expect("fake api lock").requests.clear();
    }

    /// Makes the next request with `method` on a path containing `path_part` fail with `code`.
    pub fn fail_next(&self, method: Method, path_part: &str, code: u16) {
        self.state.lock().expect("fake api lock").failures.push((
            method,
            path_part.to_owned(),
            code,
        ));
    }

    fn stamp_new(state: &mut State, value: &mut Value) {
        state.version += 1;
        let metadata = &mut value["metadata"];
        metadata["resourceVersion"] = json!(state.version.to_string());
        if metadata["uid"].is_null() {
            metadata["uid"] = json!(format!("uid-{}", state.version));
        }
        if metadata["generation"].is_null() {
            metadata["generation"] = json!(1);
        }
        if metadata["creationTimestamp"].is_null() {
            metadata["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
    }

    fn handle(&self, parts: &http::request::Parts, body: &[u8]) -> Response<Body> {
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let mut state = self.state.lock().expect("fake api lock");
        state.requests.push(Recorded {
            method: parts.method.clone(),
            path: path.clone(),
            query: query.clone(),
        });
        if let Some(position) = state
            .failures
            .iter()
            .position(|(method, part, _)| *method == parts.method && path.contains(part.as_str()))
        {
            let (_, _, code) = state.failures.remove(position);
            let code = StatusCode::from_u16(code).expect("valid status");
            return status(code, "InternalError", "injected failure");
        }
        let (collection, name, sub) = split(&path);
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(body) {
                Ok(value) => value,
                Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
            }
        };
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();

        match (&parts.method, name) {
            (&Method::GET, None) => {
                let selector = query_value(&query, "labelSelector").unwrap_or_default();
                if query_value(&query, "watch").as_deref() == Some("true") {
                    let since: u64 = query_value(&query, "resourceVersion")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let replay = state
                        .changes
                        .iter()
                        .filter(|c| c.version > since)
                        .cloned()
                        .collect();
                    let live = state.live.subscribe();
                    return watch(replay, live, collection, selector);
                }
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(key, _)| in_collection(key, &collection))
                    .map(|(_, v)| v.clone())
                    .filter(|v| matches_selector(v, &selector))
                    .collect();
                let version = state.version.to_string();
                respond(
                    StatusCode::OK,
                    &json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            (&Method::POST, None) => {
                let mut object = body;
                let name = match object["metadata"]["name"].as_str() {
                    Some(name) => name.to_owned(),
                    None => {
                        let generated = format!(
                            "{}{}",
                            object["metadata"]["generateName"]
                                .as_str()
                                .unwrap_or("object-"),
                            state.version + 1
                        );
                        object["metadata"]["name"] = json!(generated);
                        generated
                    }
                };
                let key = format!("{collection}/{name}");
                if state.objects.contains_key(&key) {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{name} already exists"),
                    );
                }
                Self::stamp_new(&mut state, &mut object);
                state.store(key.clone(), object.clone());
                respond(StatusCode::CREATED, &object)
            }
            (method, Some(name)) => {
                let key = format!("{collection}/{name}");
                let existing = state.objects.get(&key).cloned();
                match (method, existing) {
                    (&Method::GET, Some(object)) => respond(StatusCode::OK, &object),
                    (&Method::GET, None) => status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{name} not found"),
                    ),
                    (&Method::PATCH, None)
                        if content_type.starts_with("application/apply-patch") && sub.is_none() =>
                    {
                        let mut object = body;
                        Self::stamp_new(&mut state, &mut object);
                        state.store(key.clone(), object.clone());
                        respond(StatusCode::CREATED, &object)
                    }
                    (&Method::PATCH, Some(mut object)) => {
                        let patch = if sub.as_deref() == Some("status") {
                            json!({"status": body["status"]})
                        } else {
                            body
                        };
                        if content_type.starts_with("application/apply-patch") {
                            let keep = object["metadata"].clone();
                            let status = object["status"].take();
                            object = patch;
                            for field in [
                                "uid",
                                "creationTimestamp",
                                "finalizers",
                                "deletionTimestamp",
                                "generation",
                            ] {
                                if !keep[field].is_null() {
                                    object["metadata"][field] = keep[field].clone();
                                }
                            }
                            if !status.is_null() {
                                object["status"] = status;
                            }
                        } else if content_type.starts_with("application/merge-patch") {
                            let expected = patch["metadata"]["resourceVersion"]
                                .as_str()
                                .map(str::to_owned);
                            if let Some(expected) = expected
                                && object["metadata"]["resourceVersion"].as_str()
                                    != Some(expected.as_str())
                            {
                                return status(
                                    StatusCode::CONFLICT,
                                    "Conflict",
                                    "the object has been modified",
                                );
                            }
                            let spec_before = object["spec"].clone();
                            json_patch::merge(&mut object, &patch);
                            if object["spec"] != spec_before {
                                let generation =
                                    object["metadata"]["generation"].as_i64().unwrap_or(1);
                                object["metadata"]["generation"] = json!(generation + 1);
                            }
                        } else {
                            return status(
                                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                                "UnsupportedMediaType",
                                &content_type,
                            );
                        }
                        state.version += 1;
                        object["metadata"]["resourceVersion"] = json!(state.version.to_string());
                        let finalized = !object["metadata"]["deletionTimestamp"].is_null()
                            && object["metadata"]["finalizers"]
                                .as_array()
                                .is_none_or(|f| f.is_empty());
                        if finalized {
                            state.remove(&key);
                        } else {
                            state.store(key.clone(), object.clone());
                        }
                        respond(StatusCode::OK, &object)
                    }
                    (&Method::PUT, Some(current)) => {
                        let mut object = body;
                        if object["metadata"]["resourceVersion"]
                            != current["metadata"]["resourceVersion"]
                        {
                            return status(
                                StatusCode::CONFLICT,
                                "Conflict",
                                "the object has been modified",
                            );
                        }
                        state.version += 1;
                        object["metadata"]["resourceVersion"] = json!(state.version.to_string());
                        state.store(key.clone(), object.clone());
                        respond(StatusCode::OK, &object)
                    }
                    (&Method::DELETE, Some(mut object)) => {
                        let has_finalizers = object["metadata"]["finalizers"]
                            .as_array()
                            .is_some_and(|f| !f.is_empty());
                        if has_finalizers {
                            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
                            state.version += 1;
                            object["metadata"]["resourceVersion"] =
                                json!(state.version.to_string());
                            state.store(key.clone(), object.clone());
                        } else {
                            state.remove(&key);
                        }
                        respond(StatusCode::OK, &object)
                    }
                    (_, None) => status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{name} not found"),
                    ),
                    _ => status(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "MethodNotAllowed",
                        parts.method.as_str(),
                    ),
                }
            }
            _ => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                parts.method.as_str(),
            ),
        }
    }
}
