//! Steady webhook load: senders that each call at a fixed pace with a body naming a unique
//! sequence number, and retry a call like a real sender would after a 503 or a connection
//! error, with the same body, on the next gateway they know of. Every attempt is logged.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Real senders wait `Retry-After` (5 s); a shorter wait puts more attempts into a short run.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// Longer than any answer the gateway gives (publish timeout 2 s plus its 1 s safety net).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Which webhook a sender calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The webhook the steady load calls from the start.
    Steady,
    /// A webhook first called during an outage (PostgreSQL scenario).
    Cold,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status {
        code: u16,
        retry_after: bool,
        event_id: Option<String>,
    },
    /// No HTTP answer: refused, reset, or timed out.
    ConnectionError,
}

impl Answer {
    fn retryable(&self) -> bool {
        matches!(
            self,
            Answer::ConnectionError | Answer::Status { code: 503, .. }
        )
    }

    pub fn code(&self) -> Option<u16> {
        match self {
            Answer::Status { code, .. } => Some(*code),
            Answer::ConnectionError => None,
        }
    }
}

/// One HTTP attempt; times are offsets from the scenario's clock.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub seq: u64,
    pub role: Role,
    /// Index of the gateway in the order they were added.
    pub gateway: usize,
    pub started: Duration,
    pub finished: Duration,
    pub answer: Answer,
}

/// The webhook a group of senders calls.
#[derive(Clone)]
pub struct Hook {
    pub id: String,
    pub key: String,
    pub role: Role,
}

#[derive(Default)]
struct Shared {
    gateways: RwLock<Vec<String>>,
    next_seq: AtomicU64,
    stopping: AtomicBool,
    /// Retries stop at this offset (ms); `u64::MAX` until the load is finished.
    give_up_ms: AtomicU64,
    /// Calls waiting for an answer right now.
    in_flight: AtomicUsize,
    /// Offset (ms) of the latest 202 per [`Role`], so a scenario can wait for recovery while
    /// the load runs.
    last_accepted_ms: [AtomicU64; 2],
}

pub struct Load {
    clock: Instant,
    shared: Arc<Shared>,
    senders: Vec<JoinHandle<Vec<Attempt>>>,
}

impl Load {
    pub fn new(clock: Instant, gateway_url: String) -> Self {
        let shared = Shared {
            gateways: RwLock::new(vec![gateway_url]),
            give_up_ms: AtomicU64::new(u64::MAX),
            ..Shared::default()
        };
        Self {
            clock,
            shared: Arc::new(shared),
            senders: Vec::new(),
        }
    }

    /// Makes another gateway known to the senders: the next one they retry on.
    pub fn add_gateway(&self, url: String) {
        self.shared
            .gateways
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(url);
    }

    /// Starts `count` senders calling `hook`, `rate` calls per second in all.
    pub fn spawn(&mut self, count: usize, rate: f64, hook: &Hook) {
        let period = Duration::from_secs_f64(count as f64 / rate);
        for index in 0..count {
            let sender = Sender {
                id: self.senders.len(),
                hook: hook.clone(),
                clock: self.clock,
                shared: self.shared.clone(),
                client: reqwest::Client::builder()
                    .timeout(CALL_TIMEOUT)
                    .connect_timeout(Duration::from_secs(1))
                    .build()
                    .expect("HTTP client"),
            };
            // Spread the senders over one period instead of firing together.
            let offset = period.mul_f64(index as f64 / count as f64);
            self.senders.push(tokio::spawn(sender.run(period, offset)));
        }
    }

    /// Waits until a call of `role` is answered 202 after `since`, up to `limit`.
    pub async fn wait_accepted_after(&self, role: Role, since: Duration, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let last = self.shared.last_accepted_ms[role as usize].load(Ordering::Relaxed);
            if last > since.as_millis() as u64 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Waits (up to `limit`) for a moment when some call is waiting for its answer, so that a
    /// fault injected next meets work in progress.
    pub async fn wait_in_flight(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.shared.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
    }

    /// Stops starting new calls, lets calls being retried go on for `drain`, and returns every
    /// attempt made.
    pub async fn finish(self, drain: Duration) -> Vec<Attempt> {
        let give_up = self.clock.elapsed() + drain;
        self.shared
            .give_up_ms
            .store(give_up.as_millis() as u64, Ordering::Relaxed);
        self.shared.stopping.store(true, Ordering::Relaxed);
        let mut attempts = Vec::new();
        for sender in self.senders {
            attempts.extend(sender.await.unwrap_or_default());
        }
        attempts
    }
}

struct Sender {
    id: usize,
    hook: Hook,
    clock: Instant,
    shared: Arc<Shared>,
    client: reqwest::Client,
}

impl Sender {
    async fn run(self, period: Duration, offset: Duration) -> Vec<Attempt> {
        tokio::time::sleep(offset).await;
        let mut tick = tokio::time::interval(period);
        // After a stall (the first calls wait for a producer id, outages), skip the missed calls
        // but keep each sender's phase: otherwise the senders fall into step and the load
        // arrives in bursts.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut attempts = Vec::new();
        let mut gateway = 0;
        loop {
            tick.tick().await;
            if self.shared.stopping.load(Ordering::Relaxed) {
                return attempts;
            }
            let seq = self.shared.next_seq.fetch_add(1, Ordering::Relaxed);
            let body = json!({ "seq": seq, "sender": self.id }).to_string();
            loop {
                let url = self.url(&mut gateway);
                self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
                let started = self.clock.elapsed();
                let answer = self.call(&url, &body).await;
                let finished = self.clock.elapsed();
                self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                if answer.code() == Some(202) {
                    self.shared.last_accepted_ms[self.hook.role as usize]
                        .fetch_max(finished.as_millis().max(1) as u64, Ordering::Relaxed);
                }
                let retry = answer.retryable();
                attempts.push(Attempt {
                    seq,
                    role: self.hook.role,
                    gateway,
                    started,
                    finished,
                    answer,
                });
                let give_up = self.shared.give_up_ms.load(Ordering::Relaxed);
                if !retry || finished.as_millis() as u64 >= give_up {
                    break;
                }
                gateway += 1;
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }

    /// The URL on gateway number `gateway` (wrapped around the gateways known now).
    fn url(&self, gateway: &mut usize) -> String {
        let gateways = self
            .shared
            .gateways
            .read()
            .unwrap_or_else(|e| e.into_inner());
        *gateway %= gateways.len();
        format!("{}/webhooks/{}", gateways[*gateway], self.hook.id)
    }

    async fn call(&self, url: &str, body: &str) -> Answer {
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-api-key", &self.hook.key)
            .body(body.to_owned())
            .send()
            .await;
        let Ok(response) = sent else {
            return Answer::ConnectionError;
        };
        let code = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        let event_id = if code == 202 {
            match response.json::<Value>().await {
                Ok(body) => body["eventId"].as_str().map(str::to_owned),
                // The answer was cut off: the sender cannot know it was accepted.
                Err(_) => return Answer::ConnectionError,
            }
        } else {
            // Read the rest so the connection can be reused.
            let _ = response.bytes().await;
            None
        };
        Answer::Status {
            code,
            retry_after,
            event_id,
        }
    }
}
