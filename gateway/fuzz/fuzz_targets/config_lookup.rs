//! The configuration reader over an arbitrary environment. Each input line sets one variable:
//! its first character picks a known name (or, past the list, the line is `NAME=VALUE`) and the
//! rest is the value. Reading must never panic; an accepted configuration keeps the invariants
//! start-up relies on; an error names a known variable and never repeats a secret value.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use webhook_gateway::config::Config;

const VARIABLES: &[&str] = &[
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "WEBHOOK_GATEWAY_PUBLIC_URL",
    "WEBHOOK_GATEWAY_MAX_BODY_BYTES",
    "WEBHOOK_GATEWAY_WORKERS",
    "WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS",
    "WEBHOOK_GATEWAY_SHUTDOWN_TIMEOUT_MS",
    "SPRING_DATASOURCE_URL",
    "SPRING_DATASOURCE_USERNAME",
    "SPRING_DATASOURCE_PASSWORD",
    "WEBHOOK_GATEWAY_DB_POOL_SIZE",
    "SPRING_DATA_REDIS_HOST",
    "SPRING_DATA_REDIS_PORT",
    "SPRING_DATA_REDIS_PASSWORD",
    "SPRING_REDIS_HOST",
    "SPRING_REDIS_PORT",
    "SPRING_REDIS_PASSWORD",
    "REDIS_TTL",
    "SPRING_PROFILES_ACTIVE",
    "SPRING_KAFKA_SECURITY_PROTOCOL",
    "SPRING_KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_OAUTH_CLIENT_ID",
    "KAFKA_OAUTH_CLIENT_SECRET",
    "KAFKA_OAUTH_TOKEN_ENDPOINT_URI",
    "KAFKA_AUTHEXCEPTIONRETRYINTERVAL",
    "KAFKA_TOPIC_PROCESS_START_OUT",
    "KAFKA_TOPIC_NAMING_PACKAGE",
    "KAFKA_TOPIC_NAMING_ENVIRONMENT",
    "KAFKA_TOPIC_NAMING_VERSION",
    "KAFKA_TOPIC_NAMING_SEPARATOR",
    "KAFKA_TOPIC_NAMING_SEPARATOR2",
    "WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS",
    "WEBHOOK_GATEWAY_LOCAL_CACHE_TTL_MS",
    "WEBHOOK_GATEWAY_NEGATIVE_CACHE_TTL_MS",
    "WEBHOOK_GATEWAY_LOCAL_CACHE_CAPACITY",
    "LOGGING_LEVEL_ROOT",
    "LOGGING_LEVEL_APP",
    "WEBHOOK_GATEWAY_SEALING_KEYS",
    "WEBHOOK_GATEWAY_SEALING_KEY_ID",
    "WEBHOOK_GATEWAY_TRUSTED_PROXIES",
    "WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS",
    "WEBHOOK_GATEWAY_BODY_TIMEOUT_MS",
    "WEBHOOK_GATEWAY_MAX_CONNECTIONS",
    "WEBHOOK_GATEWAY_DEDUPE_TTL_SECONDS",
    "SECURITY_TYPE",
    "SECURITY_OAUTH2_BASE_SERVER_URL",
    "SECURITY_OAUTH2_REALM",
    "SECURITY_OAUTH2_CLIENT_CLIENT_ID",
    "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
    "SPRING_SECURITY_OAUTH2_CLIENT_PROVIDER_MAINAUTHPROVIDER_TOKEN_URI",
    "WEBHOOK_GATEWAY_API_AUDIENCE",
    "WEBHOOK_GATEWAY_API_ALGORITHMS",
    "FLOWX_LIB_CASCLIENT_SPICEDB_HOST",
    "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
    "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
    "WEBHOOK_GATEWAY_SPICEDB_WORKSPACE_TYPE",
    "WEBHOOK_GATEWAY_SPICEDB_SUBJECT_TYPE",
    "WEBHOOK_GATEWAY_SPICEDB_VIEW_PERMISSION",
    "WEBHOOK_GATEWAY_SPICEDB_MANAGE_PERMISSION",
    "WEBHOOK_GATEWAY_AUTHZ_CACHE_MS",
];

/// Variables whose values must never be repeated, in an error or in `Debug` output.
const SECRETS: &[&str] = &[
    "SPRING_DATASOURCE_PASSWORD",
    "SPRING_DATA_REDIS_PASSWORD",
    "SPRING_REDIS_PASSWORD",
    "KAFKA_OAUTH_CLIENT_SECRET",
    "WEBHOOK_GATEWAY_SEALING_KEYS",
    "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
    "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
];

/// Shortest run of a secret's characters that counts as repeating it.
const LEAK_LENGTH: usize = 12;

/// Everything a read produces that a person could see: the error line, or the `Debug` dump.
fn shown(vars: &HashMap<String, String>) -> String {
    match Config::from_lookup(&|name| vars.get(name).cloned()) {
        Ok(config) => format!("{config:?}"),
        Err(error) => error.to_string(),
    }
}

/// The parts of a secret variable's value that are secret. Sealing key ids are public (they
/// are logged and stored beside each secret), but only when they are valid ids: an entry whose
/// "id" is not one may well be key material written the wrong way round.
fn secret_parts(name: &str, value: &str) -> Vec<String> {
    if name != "WEBHOOK_GATEWAY_SEALING_KEYS" {
        return vec![value.to_owned()];
    }
    value
        .split(',')
        .map(|entry| match entry.split_once(':') {
            Some((id, material))
                if !id.trim().is_empty()
                    && id
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                material.to_owned()
            }
            _ => entry.to_owned(),
        })
        .collect()
}

fn check_accepted(config: &Config, vars: &HashMap<String, String>) {
    assert!(config.server.max_body_bytes >= 1);
    assert!(config.server.workers >= 1);
    assert!(config.database.pool_size >= 1);
    assert!(!config.database.database.is_empty());
    assert!(config.protection.max_connections >= 1);
    assert!(!config.redis.ttl.is_zero());
    assert!(config.kafka.publish_timeout.as_millis() >= 100);
    assert!(config.security.decision_ttl.as_secs() <= 60);
    let topic = &config.kafka.start_topic;
    assert!(
        (1..=249).contains(&topic.len())
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && topic != "."
            && topic != "..",
        "illegal start topic {topic:?}"
    );
    for algorithm in &config.security.algorithms {
        assert!(
            !algorithm.starts_with("HS") && algorithm != "NONE",
            "{algorithm} accepted"
        );
    }
    let base_given = vars
        .get("SECURITY_OAUTH2_BASE_SERVER_URL")
        .is_some_and(|v| !v.trim().is_empty());
    assert_eq!(config.security.realm_url.is_some(), base_given);
    // The public URL is pasted in front of every webhook URL that is printed or served.
    let public = &config.server.public_url;
    let lower = public.to_ascii_lowercase();
    assert!(
        (lower.starts_with("http://") || lower.starts_with("https://"))
            && public.trim() == public
            && !public.ends_with('/'),
        "public URL {public:?} makes webhook URLs like {public}/webhooks/id"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut vars: HashMap<String, String> = HashMap::new();
    for line in text.split('\n') {
        let mut chars = line.chars();
        let Some(selector) = chars.next() else {
            continue;
        };
        let rest = chars.as_str();
        match VARIABLES.get(selector as usize % (VARIABLES.len() + 1)) {
            Some(name) => {
                vars.insert((*name).to_owned(), rest.to_owned());
            }
            None => {
                let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
                vars.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    match Config::from_lookup(&|name| vars.get(name).cloned()) {
        Ok(config) => check_accepted(&config, &vars),
        Err(error) => assert!(
            VARIABLES.contains(&error.variable),
            "an error names {:?}, which is not a known variable",
            error.variable
        ),
    }

    // Differential check for leaks: any run of a secret's characters that is shown only while
    // that secret is set was taken from it.
    let with_all = shown(&vars);
    for secret in SECRETS {
        let Some(value) = vars.get(*secret) else {
            continue;
        };
        let mut without = vars.clone();
        without.remove(*secret);
        let with_none = shown(&without);
        for part in secret_parts(secret, value) {
            let characters: Vec<char> = part.chars().collect();
            for window in characters.windows(LEAK_LENGTH) {
                let run: String = window.iter().collect();
                if with_all.contains(&run) && !with_none.contains(&run) {
                    panic!("{secret} leaked ({run:?}) into: {with_all}");
                }
            }
        }
    }
});
