//! No secret in any output: a whole scenario at the most verbose log levels, touching every kind
//! of secret the gateway handles, good calls and failing ones, then a search of every line the
//! gateway processes and the commands wrote (and every HTTP answer) for each secret in every
//! form it could leak in.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{
    Gateway, SECURITY_VARIABLES, TestDatabase, client_secret, command, create_topic, eventually,
    free_port, read_topic, sealing_keys, set, stack_var, token, unique,
};

/// Every secret of the scenario, in each form it could be written in.
#[derive(Default)]
struct Needles {
    list: Vec<(String, String)>,
}

impl Needles {
    /// A textual secret: as is, percent-encoded (as in a connection URL), base64 and hex.
    fn text(&mut self, what: &str, value: &str) {
        assert!(
            value.len() >= 12,
            "{what} is too short to be searched for without false alarms"
        );
        self.push(what, "", value.to_owned());
        let encoded = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        if encoded != value {
            self.push(what, " (percent-encoded)", encoded);
        }
        self.bytes(what, value.as_bytes());
    }

    /// Secret bytes (an HMAC or sealing key): hex, base64 and URL-safe base64.
    fn bytes(&mut self, what: &str, value: &[u8]) {
        self.push(what, " (hex)", hex::encode(value));
        self.push(what, " (base64)", STANDARD.encode(value));
        self.push(what, " (base64url)", URL_SAFE_NO_PAD.encode(value));
    }

    fn push(&mut self, what: &str, form: &str, value: String) {
        if !self.list.iter().any(|(_, known)| *known == value) {
            self.list.push((format!("{what}{form}"), value));
        }
    }

    /// Panics naming every secret found in `text`, except the values in `shown_once` (a
    /// generated key or secret that the output exists to show, once).
    fn assert_absent(&self, source: &str, text: &str, shown_once: &[&str]) {
        let mut text = text.to_owned();
        for shown in shown_once {
            text = text.replace(shown, "<shown once>");
        }
        let leaks: Vec<String> = self
            .list
            .iter()
            .filter(|(_, value)| text.contains(value.as_str()))
            .map(|(what, value)| {
                let line = text
                    .lines()
                    .find(|line| line.contains(value.as_str()))
                    .unwrap_or_default();
                format!(
                    "  {what} in: {}",
                    line.chars().take(400).collect::<String>()
                )
            })
            .collect();
        assert!(
            leaks.is_empty(),
            "{source} leaked {} secret form(s):\n{}",
            leaks.len(),
            leaks.join("\n")
        );
    }
}

/// Everything written by one process or answered by one call, to be searched at the end.
struct Output {
    source: String,
    text: String,
    shown_once: Vec<String>,
}

fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn hmac_sha256(key: &[u8], content: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(content);
    mac.finalize().into_bytes().to_vec()
}

/// A gateway process whose standard output and standard error both go to files.
struct CapturedGateway {
    port: u16,
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl CapturedGateway {
    async fn start(mut env: Vec<(String, String)>) -> Self {
        let port = free_port();
        set(&mut env, "SERVER_PORT", &port.to_string());
        set(&mut env, "SERVER_ADDRESS", "127.0.0.1");
        set(
            &mut env,
            "WEBHOOK_GATEWAY_PUBLIC_URL",
            &format!("http://127.0.0.1:{port}"),
        );
        let dir = tempfile::tempdir().unwrap();
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let child = command(&env)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let gateway = Self {
            port,
            child: Some(child),
            stdout,
            stderr,
            _dir: dir,
        };
        let url = gateway.url("/actuator/health/readiness");
        let ready = eventually(Duration::from_secs(30), || {
            let url = url.clone();
            async move { reqwest::get(url).await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        assert!(ready, "gateway not ready: {}", gateway.stdout_text());
        gateway
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Stops the process and returns what it wrote on each stream.
    fn stop(mut self) -> (String, String) {
        let mut child = self.child.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        (
            self.stdout_text(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }
}

impl Drop for CapturedGateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A private Redis that asks for a password.
struct PasswordRedis {
    port: u16,
    child: Child,
}

impl PasswordRedis {
    async fn start(password: &str) -> Self {
        let port = free_port();
        let child = Command::new(stack_var("WHGW_REDIS_SERVER_BIN"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = eventually(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "private Redis did not start");
        Self { port, child }
    }
}

impl Drop for PasswordRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database owned by a role of its own with a distinctive password: the stack's own
/// password (`flowx`) is also part of topic names and problem URIs, so it cannot be searched for.
async fn database_with_password(password: &str) -> (String, String) {
    let role = unique("whgw_logs").replace('-', "_");
    let (client, connection) =
        tokio_postgres::connect(&stack_var("WHGW_PG_ADMIN_URL"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let statements = [
        format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        format!("CREATE DATABASE {role} OWNER {role}"),
    ];
    for statement in statements {
        client.batch_execute(&statement).await.unwrap();
    }
    let base = stack_var("SPRING_DATASOURCE_URL");
    let server = base.rsplit_once('/').unwrap().0;
    (format!("{server}/{role}"), role)
}

/// Runs a command of the gateway binary, optionally with standard input; returns its output.
fn run(env: &[(String, String)], args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut command = command(env);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
        input.write_all(b"\n").unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// A token of alice signed by the provider's key (or an untrusted one), living `ttl` seconds.
async fn minted(ttl: i64, key: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/test/mint", stack_var("WHGW_OIDC_URL")))
        .json(&json!({ "client_id": "alice", "ttl": ttl, "claims": {}, "key": key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// A token and the parts that identify it (its signature alone is as good as the token).
fn add_token(needles: &mut Needles, what: &str, token: &str) {
    needles.text(what, token);
    if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() >= 12) {
        needles.push(what, " (signature part)", signature.to_owned());
    }
}

/// One HTTP call; its answer (status line, headers, body) is kept for the search.
async fn call(
    outputs: &mut Vec<Output>,
    label: &str,
    request: reqwest::RequestBuilder,
    expected: u16,
) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let mut text = format!("{status}\n");
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = response.text().await.unwrap();
    text.push_str(&body);
    assert_eq!(status, expected, "{label}: {text}");
    outputs.push(Output {
        source: format!("the answer to {label}"),
        text,
        shown_once: Vec::new(),
    });
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn no_secret_reaches_any_log_line_or_command_output_at_trace_level() {
    let mut needles = Needles::default();
    let mut outputs: Vec<Output> = Vec::new();

    // Configuration secrets: our own database role and Redis password, the stack's SpiceDB
    // token and OAuth2 client secrets, the sealing key.
    let db_password = random_secret("PgPass");
    let redis_password = random_secret("RedisPass");
    needles.text("the database password", &db_password);
    needles.text("the Redis password", &redis_password);
    for name in [
        "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
        "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
        "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
    ] {
        needles.text(name, &stack_var(name));
    }
    for client in ["alice", "bob", "mallory"] {
        needles.text(&format!("{client}'s client secret"), &client_secret(client));
    }
    let sealing = sealing_keys();
    needles.text("WEBHOOK_GATEWAY_SEALING_KEYS", sealing);
    let (_, sealing_key) = sealing.split_once(':').unwrap();
    needles.text("the sealing key", sealing_key);
    needles.bytes(
        "the raw sealing key",
        &STANDARD.decode(sealing_key).unwrap(),
    );

    let (jdbc_url, role) = database_with_password(&db_password).await;
    let database = TestDatabase { jdbc_url };
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let redis = PasswordRedis::start(&redis_password).await;
    let mut env = Gateway::stack_env(&database, &topic);
    for name in SECURITY_VARIABLES {
        set(&mut env, name, &stack_var(name));
    }
    set(&mut env, "SPRING_DATASOURCE_USERNAME", &role);
    set(&mut env, "SPRING_DATASOURCE_PASSWORD", &db_password);
    set(&mut env, "SPRING_DATA_REDIS_PORT", &redis.port.to_string());
    set(&mut env, "SPRING_DATA_REDIS_PASSWORD", &redis_password);
    set(&mut env, "SECURITY_TYPE", "oauth2");
    set(&mut env, "LOGGING_LEVEL_APP", "TRACE");
    set(&mut env, "LOGGING_LEVEL_ROOT", "DEBUG");

    // Registration commands, each with its output kept.
    let github_secret = random_secret("gh-secret-");
    let basic_password = random_secret("basic-pass-");
    let rotated_gitlab_token = random_secret("gl-rotated-");
    let refused_secret = random_secret("refused-");
    needles.text("the GitHub secret", &github_secret);
    needles.text("the Basic password", &basic_password);
    needles.text("the Basic credentials", &format!("erp:{basic_password}"));
    needles.text("the rotated GitLab token", &rotated_gitlab_token);
    needles.text("a secret given to a refused command", &refused_secret);
    let register = |id: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["register", "--id", id, "--name", "Logged", "--workspace"];
        args.extend(["ws-logs", "--organization", "org-logs", "--output", "json"]);
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let commands: Vec<(&str, Vec<String>, Option<&str>, bool)> = vec![
        ("register api-key", register("keyed", &[]), None, true),
        (
            "register github --secret",
            register("gh", &["--auth", "github", "--secret", &github_secret]),
            None,
            true,
        ),
        (
            "register standard-webhooks",
            register("std", &["--auth", "standard-webhooks"]),
            None,
            true,
        ),
        (
            "register basic --secret-stdin",
            register(
                "basic",
                &[
                    "--auth",
                    "basic",
                    "--basic-username",
                    "erp",
                    "--secret-stdin",
                ],
            ),
            Some(basic_password.as_str()),
            true,
        ),
        (
            "register gitlab",
            register("gl", &["--auth", "gitlab"]),
            None,
            true,
        ),
        (
            "rotate-secret api-key",
            [
                "rotate-secret",
                "keyed",
                "--grace-seconds",
                "600",
                "--output",
                "json",
            ]
            .map(str::to_owned)
            .to_vec(),
            None,
            true,
        ),
        (
            "rotate-secret gitlab --secret",
            [
                "rotate-secret",
                "gl",
                "--grace-seconds",
                "600",
                "--secret",
                rotated_gitlab_token.as_str(),
            ]
            .map(str::to_owned)
            .to_vec(),
            None,
            true,
        ),
        (
            "register with a bad id and a secret",
            register("bad id", &["--auth", "github", "--secret", &refused_secret]),
            None,
            false,
        ),
        (
            "rotate-secret of a missing webhook",
            [
                "rotate-secret",
                "missing",
                "--secret",
                refused_secret.as_str(),
            ]
            .map(str::to_owned)
            .to_vec(),
            None,
            false,
        ),
        ("list", vec!["list".to_owned()], None, true),
        ("reseal", vec!["reseal".to_owned()], None, true),
    ];
    let mut issued: std::collections::HashMap<String, String> = Default::default();
    for (label, args, stdin, succeeds) in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(&env, &args, *stdin);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.success(),
            *succeeds,
            "{label}: {stdout}\n{stderr}"
        );
        let shown: Option<String> =
            serde_json::from_str::<Value>(&stdout)
                .ok()
                .and_then(|printed| {
                    printed["apiKey"]
                        .as_str()
                        .or(printed["secret"].as_str())
                        .map(str::to_owned)
                });
        if let Some(secret) = &shown {
            issued.insert(label.to_string(), secret.clone());
        }
        outputs.push(Output {
            source: format!("the output of `{label}`"),
            text: stdout,
            shown_once: shown.into_iter().collect(),
        });
        outputs.push(Output {
            source: format!("the error output of `{label}`"),
            text: stderr,
            shown_once: Vec::new(),
        });
    }
    let first_key = issued["register api-key"].clone();
    let second_key = issued["rotate-secret api-key"].clone();
    let whsec = issued["register standard-webhooks"].clone();
    let gitlab_token = issued["register gitlab"].clone();
    assert!(
        !issued.contains_key("register github --secret"),
        "a given secret was echoed"
    );
    needles.text("the first API key", &first_key);
    needles.text("the rotated API key", &second_key);
    needles.text("the GitLab token", &gitlab_token);
    needles.text("the whsec_ secret", &whsec);
    let whsec_key = STANDARD.decode(whsec.trim_start_matches("whsec_")).unwrap();
    needles.text("the whsec_ key", whsec.trim_start_matches("whsec_"));
    needles.bytes("the raw whsec_ key", &whsec_key);

    let gateway = CapturedGateway::start(env.clone()).await;
    let http = reqwest::Client::new();
    let hook = |id: &str| gateway.url(&format!("/webhooks/{id}"));
    let body_secret = random_secret("body-secret-");
    needles.text("a request body", &body_secret);
    let body = json!({ "marker": body_secret }).to_string();
    let json_post = |url: String| {
        http.post(url)
            .header("content-type", "application/json")
            .body(body.clone())
    };

    // API keys, by header and by query, right and wrong.
    let wrong_key = random_secret("whk_wrong");
    needles.text("a wrong API key", &wrong_key);
    call(
        &mut outputs,
        "an API key header",
        json_post(hook("keyed")).header("x-api-key", &first_key),
        202,
    )
    .await;
    call(
        &mut outputs,
        "an apiKey query",
        json_post(format!("{}?apiKey={second_key}", hook("keyed"))),
        202,
    )
    .await;
    call(
        &mut outputs,
        "a wrong API key header",
        json_post(hook("keyed")).header("x-api-key", &wrong_key),
        401,
    )
    .await;
    call(
        &mut outputs,
        "a wrong apiKey query",
        json_post(format!("{}?apiKey={wrong_key}", hook("keyed"))),
        401,
    )
    .await;

    // GitHub: the right signature and one made with a wrong secret.
    let wrong_secret = random_secret("gh-wrong-");
    needles.text("a wrong GitHub secret", &wrong_secret);
    let signature = format!(
        "sha256={}",
        hex::encode(hmac_sha256(github_secret.as_bytes(), body.as_bytes()))
    );
    let forged = format!(
        "sha256={}",
        hex::encode(hmac_sha256(wrong_secret.as_bytes(), body.as_bytes()))
    );
    needles.text("the GitHub signature", &signature);
    needles.text("a forged GitHub signature", &forged);
    call(
        &mut outputs,
        "a GitHub signature",
        json_post(hook("gh")).header("x-hub-signature-256", &signature),
        202,
    )
    .await;
    call(
        &mut outputs,
        "a forged GitHub signature",
        json_post(hook("gh")).header("x-hub-signature-256", &forged),
        401,
    )
    .await;

    // Standard Webhooks: good, forged and stale.
    let standard = |timestamp: i64, key: &[u8]| {
        let content = format!("msg_logs.{timestamp}.{body}");
        format!(
            "v1,{}",
            STANDARD.encode(hmac_sha256(key, content.as_bytes()))
        )
    };
    let now = chrono::Utc::now().timestamp();
    let good = standard(now, &whsec_key);
    let forged = standard(now, b"not the key at all, but 32 bytes");
    let stale = standard(now - 3600, &whsec_key);
    for (what, value) in [
        ("the Standard Webhooks signature", &good),
        ("a forged Standard Webhooks signature", &forged),
        ("a stale Standard Webhooks signature", &stale),
    ] {
        needles.text(what, value.trim_start_matches("v1,"));
    }
    for (label, signature, timestamp, status) in [
        ("a Standard Webhooks signature", &good, now, 202),
        ("a forged Standard Webhooks signature", &forged, now, 401),
        (
            "a stale Standard Webhooks signature",
            &stale,
            now - 3600,
            401,
        ),
    ] {
        let request = json_post(hook("std"))
            .header("webhook-id", "msg_logs")
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        call(&mut outputs, label, request, status).await;
    }

    // Basic and GitLab, right and wrong.
    let wrong_password = random_secret("basic-wrong-");
    needles.text("a wrong Basic password", &wrong_password);
    needles.text("wrong Basic credentials", &format!("erp:{wrong_password}"));
    let wrong_token = random_secret("gl-wrong-");
    needles.text("a wrong GitLab token", &wrong_token);
    call(
        &mut outputs,
        "Basic credentials",
        json_post(hook("basic")).basic_auth("erp", Some(&basic_password)),
        202,
    )
    .await;
    call(
        &mut outputs,
        "a wrong Basic password",
        json_post(hook("basic")).basic_auth("erp", Some(&wrong_password)),
        401,
    )
    .await;
    call(
        &mut outputs,
        "the first GitLab token, after its rotation",
        json_post(hook("gl")).header("x-gitlab-token", &gitlab_token),
        202,
    )
    .await;
    call(
        &mut outputs,
        "the rotated GitLab token",
        json_post(hook("gl")).header("x-gitlab-token", &rotated_gitlab_token),
        202,
    )
    .await;
    call(
        &mut outputs,
        "a wrong GitLab token",
        json_post(hook("gl")).header("x-gitlab-token", &wrong_token),
        401,
    )
    .await;

    // The management API: real, expired, untrusted and garbage tokens; a created webhook whose
    // key is shown once; a given secret that must never come back.
    let alice = token("alice").await;
    let mallory = token("mallory").await;
    let expired = minted(-120, "provider").await;
    let untrusted = minted(300, "untrusted").await;
    let garbage = random_secret("garbage.token.");
    add_token(&mut needles, "alice's token", &alice);
    add_token(&mut needles, "mallory's token", &mallory);
    add_token(&mut needles, "an expired token", &expired);
    add_token(
        &mut needles,
        "a token signed by an untrusted key",
        &untrusted,
    );
    needles.text("a garbage token", &garbage);
    let api = gateway.url("/api/workspaces/ws-alpha/webhooks");
    call(
        &mut outputs,
        "a list with a real token",
        http.get(&api).bearer_auth(&alice),
        200,
    )
    .await;
    for (label, bad) in [
        ("an expired token", &expired),
        ("a token of an untrusted key", &untrusted),
        ("a garbage token", &garbage),
    ] {
        call(&mut outputs, label, http.get(&api).bearer_auth(bad), 401).await;
    }
    call(
        &mut outputs,
        "a token without permission",
        http.get(&api).bearer_auth(&mallory),
        403,
    )
    .await;
    let created = http
        .post(&api)
        .bearer_auth(&alice)
        .json(&json!({ "id": "from-api", "name": "From the API" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created_text = created.text().await.unwrap();
    let api_key = serde_json::from_str::<Value>(&created_text).unwrap()["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    needles.text("the API-created key", &api_key);
    outputs.push(Output {
        source: "the answer to an API create".into(),
        text: created_text,
        shown_once: vec![api_key.clone()],
    });
    let api_secret = random_secret("api-given-");
    needles.text("a secret given to the API", &api_secret);
    call(
        &mut outputs,
        "an API create with a given secret",
        http.post(&api).bearer_auth(&alice).json(&json!({
            "id": "api-github", "name": "Given", "auth": { "type": "github" }, "secret": api_secret
        })),
        201,
    )
    .await;
    let api_rotated_secret = random_secret("api-rotated-");
    needles.text("a secret given to an API rotation", &api_rotated_secret);
    call(
        &mut outputs,
        "an API rotation with a given secret",
        http.post(format!("{api}/api-github/rotate-secret"))
            .bearer_auth(&alice)
            .json(&json!({ "graceSeconds": 60, "secret": api_rotated_secret })),
        200,
    )
    .await;
    let rotated = http
        .post(format!("{api}/from-api/rotate-secret"))
        .bearer_auth(&alice)
        .json(&json!({ "graceSeconds": 60 }))
        .send()
        .await
        .unwrap();
    let rotated_text = rotated.text().await.unwrap();
    let rotated_key = serde_json::from_str::<Value>(&rotated_text).unwrap()["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    needles.text("the API-rotated key", &rotated_key);
    outputs.push(Output {
        source: "the answer to an API rotation".into(),
        text: rotated_text,
        shown_once: vec![rotated_key.clone()],
    });
    call(
        &mut outputs,
        "the API-created key",
        json_post(hook("from-api")).header("x-api-key", &api_key),
        202,
    )
    .await;
    for path in ["", "/from-api", "/api-github", "/from-api/deliveries"] {
        call(
            &mut outputs,
            &format!("GET {path}"),
            http.get(format!("{api}{path}")).bearer_auth(&alice),
            200,
        )
        .await;
    }
    call(
        &mut outputs,
        "the health of the first gateway",
        http.get(gateway.url("/actuator/health")),
        200,
    )
    .await;

    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        Some(8),
        Duration::from_secs(5),
    );
    assert_eq!(records.len(), 8, "every accepted call was published");
    let (stdout, stderr) = gateway.stop();

    // A second gateway whose Redis password, SpiceDB token and introspection secret are all
    // wrong: failing dependencies are where connection details tend to be logged.
    let wrong_redis = random_secret("RedisWrong");
    let wrong_spicedb = random_secret("spicedb-wrong-");
    let wrong_client_secret = random_secret("client-wrong-");
    needles.text("a wrong Redis password", &wrong_redis);
    needles.text("a wrong SpiceDB token", &wrong_spicedb);
    needles.text("a wrong introspection secret", &wrong_client_secret);
    let mut broken_env = env.clone();
    set(&mut broken_env, "SPRING_DATA_REDIS_PASSWORD", &wrong_redis);
    set(
        &mut broken_env,
        "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
        &wrong_spicedb,
    );
    set(
        &mut broken_env,
        "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
        &wrong_client_secret,
    );
    let broken = CapturedGateway::start(broken_env).await;
    call(
        &mut outputs,
        "an API key while Redis refuses the gateway",
        http.post(broken.url("/webhooks/keyed"))
            .header("content-type", "application/json")
            .header("x-api-key", &first_key)
            .body(body.clone()),
        202,
    )
    .await;
    call(
        &mut outputs,
        "a real token while introspection refuses the gateway",
        http.get(broken.url("/api/workspaces/ws-alpha/webhooks"))
            .bearer_auth(&alice),
        503,
    )
    .await;
    let health = http
        .get(broken.url("/actuator/health"))
        .send()
        .await
        .unwrap();
    outputs.push(Output {
        source: "the health of the misconfigured gateway".into(),
        text: health.text().await.unwrap(),
        shown_once: Vec::new(),
    });
    let (broken_stdout, broken_stderr) = broken.stop();

    // The search is only worth something if the logs are as verbose as asked.
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let level = |level: &str| lines.iter().filter(|l| l["level"] == level).count();
    assert!(
        level("DEBUG") + level("TRACE") >= 20,
        "too few DEBUG/TRACE lines to prove anything: {} lines",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l["target"]
            .as_str()
            .is_some_and(|t| !t.starts_with("webhook_gateway"))),
        "no library wrote a log line at LOGGING_LEVEL_ROOT=DEBUG"
    );
    assert!(
        stdout.contains("webhook refused"),
        "the refused calls were not logged"
    );

    for (source, text) in [
        ("the gateway's standard output", stdout),
        ("the gateway's error output", stderr),
        ("the misconfigured gateway's standard output", broken_stdout),
        ("the misconfigured gateway's error output", broken_stderr),
    ] {
        outputs.push(Output {
            source: source.into(),
            text,
            shown_once: Vec::new(),
        });
    }
    // The search itself must find what it looks for, in any form.
    let planted = format!("a line with {} in it", hex::encode(first_key.as_bytes()));
    let found = std::panic::catch_unwind(|| needles.assert_absent("a probe", &planted, &[]));
    assert!(found.is_err(), "the search missed a planted secret");

    for output in &outputs {
        let shown: Vec<&str> = output.shown_once.iter().map(String::as_str).collect();
        needles.assert_absent(&output.source, &output.text, &shown);
    }
}
