//! Start-up configuration errors and graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::support::{
    Gateway, TestDatabase, command, create_topic, read_topic, register, set, stack_var,
};

fn start_with(overrides: &[(&str, &str)]) -> (i32, String) {
    let mut env: Vec<(String, String)> = vec![(
        "SPRING_DATASOURCE_PASSWORD".into(),
        "db-secret-never-shown".into(),
    )];
    for (name, value) in overrides {
        set(&mut env, name, value);
    }
    let output = command(&env).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_stop_start_up_with_one_line_naming_the_variable() {
    let cases = [
        ("SPRING_DATASOURCE_URL", "postgres://not-jdbc/db"),
        ("SPRING_DATA_REDIS_PORT", "redis"),
        ("REDIS_TTL", "-1"),
        ("SPRING_KAFKA_SECURITY_PROTOCOL", "SSL"),
        ("SPRING_KAFKA_BOOTSTRAP_SERVERS", "no-port"),
        ("KAFKA_TOPIC_PROCESS_START_OUT", "spaces are illegal"),
        ("LOGGING_LEVEL_ROOT", "CHATTY"),
        ("SERVER_PORT", "99999"),
    ];
    for (variable, value) in cases {
        let (code, stderr) = start_with(&[(variable, value)]);
        assert_eq!(
            code, 2,
            "{variable}={value} did not stop start-up: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains("db-secret-never-shown"));
    }
}

#[test]
fn an_unreachable_database_stops_start_up_with_a_clear_message() {
    let port = crate::support::free_port();
    let url = format!("jdbc:postgresql://127.0.0.1:{port}/webhook_gateway");
    let (code, _) = start_with(&[("SPRING_DATASOURCE_URL", &url)]);
    assert_ne!(code, 0);
}

#[tokio::test]
async fn sigterm_fails_readiness_first_then_answers_every_accepted_call() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(&mut env, "WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS", "1500");
    let mut gateway = Gateway::start(env.clone()).await;
    let key = register(&env, "draining", &[]);
    let url = gateway.url("/webhooks/draining");

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..8 {
        let (url, key, accepted, stop) = (url.clone(), key.clone(), accepted.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = format!(r#"{{"sender":{sender},"n":{n}}}"#);
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-api-key", &key)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        assert_eq!(response.status(), 202, "an answered call was not accepted");
                        let body: Value = response.json().await.unwrap();
                        accepted
                            .lock()
                            .await
                            .push(body["eventId"].as_str().unwrap().to_owned());
                    }
                    // Refused or reset connections were never accepted: the sender would retry.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = nix::unistd::Pid::from_raw(gateway.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let readiness = reqwest::get(gateway.url("/actuator/health/readiness"))
        .await
        .unwrap();
    assert_eq!(
        readiness.status(),
        503,
        "readiness must fail as soon as shutdown begins"
    );

    let status = tokio::task::spawn_blocking(move || {
        let status = gateway.terminate_wait();
        (status, gateway)
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(
        status.0.success(),
        "the gateway did not exit cleanly: {:?}",
        status.0
    );
    assert!(status.1.log_text().contains("producer flushed"));

    let accepted = accepted.lock().await.clone();
    assert!(
        accepted.len() > 10,
        "too little load to prove anything: {}",
        accepted.len()
    );
    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        Some(accepted.len()),
        Duration::from_secs(5),
    );
    let stored: std::collections::HashSet<&str> = records
        .iter()
        .filter_map(|r| r.value["eventId"].as_str())
        .collect();
    let lost: Vec<&String> = accepted
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events were lost: {lost:?}",
        lost.len()
    );
}
