//! Hostile callers: slow and endless bodies, floods of idle connections, malformed requests,
//! smuggled header lines and odd methods. Each test checks that the caller gets a bounded answer,
//! that the gateway keeps serving everyone else, and that nothing unintended reaches Kafka.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::support::{
    Gateway, TestDatabase, create_topic, eventually, post, read_topic, register, set, stack_var,
    unique,
};

fn bootstrap() -> String {
    stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")
}

async fn setup(settings: &[(&str, &str)]) -> (TestDatabase, String, Gateway) {
    let database = TestDatabase::create().await;
    let topic = create_topic(&bootstrap()).await;
    let mut env = Gateway::stack_env(&database, &topic);
    for (name, value) in settings {
        set(&mut env, name, value);
    }
    let gateway = Gateway::start(env).await;
    (database, topic, gateway)
}

/// The `marker` field of every record's payload on `topic`, in order.
fn published_markers(topic: &str) -> Vec<String> {
    read_topic(&bootstrap(), topic, None, Duration::from_secs(2))
        .iter()
        .map(|record| {
            record.value["payload"]["marker"]
                .as_str()
                .unwrap_or("<no marker>")
                .to_owned()
        })
        .collect()
}

/// A normal, authenticated call after an attack must still be accepted.
async fn assert_still_serving(gateway: &Gateway, id: &str, key: &str, marker: &str) {
    let body = json!({ "marker": marker }).to_string();
    let response = post(gateway, id, key, &body).await;
    assert_eq!(
        response.status(),
        202,
        "a normal call after the attack was not accepted"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// What came back on a raw connection.
#[derive(Debug, Default)]
struct Answer {
    bytes: Vec<u8>,
    /// The gateway closed the connection (end of stream or reset).
    closed: bool,
}

impl Answer {
    fn head(&self) -> String {
        let end = find(&self.bytes, b"\r\n\r\n").unwrap_or(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[..end]).into_owned()
    }

    fn status(&self) -> Option<u16> {
        let head = self.head();
        let line = head.lines().next()?;
        let mut parts = line.split(' ');
        parts.next().filter(|v| v.starts_with("HTTP/1."))?;
        parts.next()?.parse().ok()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head().lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    fn body(&self) -> &[u8] {
        find(&self.bytes, b"\r\n\r\n").map_or(&[], |end| &self.bytes[end + 4..])
    }

    /// Whether the whole answer (head and, by `Content-Length`, body) has arrived.
    fn is_complete(&self) -> bool {
        if find(&self.bytes, b"\r\n\r\n").is_none() {
            return false;
        }
        let length: usize = self
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        self.body().len() >= length
    }

    /// The problem `type` of a problem+json answer, without its common prefix.
    fn problem_type(&self) -> Option<String> {
        let content_type = self.header("content-type")?;
        assert_eq!(content_type, "application/problem+json", "{}", self.head());
        let problem: Value = serde_json::from_slice(self.body()).ok()?;
        let kind = problem["type"].as_str()?;
        Some(
            kind.trim_start_matches("https://webhooks.flowx.ai/problems/")
                .to_owned(),
        )
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_closed_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// Reads into `answer` until the gateway closes the connection or `limit` passes.
fn read_until_closed(stream: &mut TcpStream, answer: &mut Answer, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut buffer = [0u8; 16 * 1024];
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => {
                answer.closed = true;
                return;
            }
            Ok(n) => answer.bytes.extend_from_slice(&buffer[..n]),
            Err(e) if is_closed_error(&e) => {
                answer.closed = true;
                return;
            }
            Err(_) => {}
        }
    }
}

/// Sends `request` on a fresh connection and collects the answer until the gateway closes the
/// connection or `limit` passes. Write errors are ignored: the gateway may answer and close
/// before it has read everything, and that answer is what counts.
fn exchange(port: u16, request: &[u8], limit: Duration) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Answer::default();
    read_until_closed(&mut stream, &mut answer, limit);
    answer
}

/// One raw header line, as name and value bytes.
fn hdr<'a>(name: &'a [u8], value: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    (name, value)
}

/// A raw HTTP/1.1 request that asks the gateway to close the connection after answering.
fn raw_request(method: &str, target: &[u8], headers: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let mut request = Vec::new();
    request.extend_from_slice(method.as_bytes());
    request.push(b' ');
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    for (name, value) in headers {
        request.extend_from_slice(name);
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    request
}

/// How a trickled body ended.
#[derive(Debug)]
struct Trickled {
    answer: Answer,
    /// From the first body byte to the first answer byte.
    answered_after: Option<Duration>,
    /// From the first answer byte to the connection being closed by the gateway.
    closed_after_answer: Option<Duration>,
}

/// Sends `head`, then one `piece` of body every `every` (a few bytes per second), reading
/// between pieces, and keeps trickling after the answer to see whether the gateway lets go of
/// the connection. Stops when the gateway closes the connection or `limit` passes. `started`
/// is told once the body has begun, so a normal client can be timed against it.
fn trickle(
    port: u16,
    head: &[u8],
    piece: &[u8],
    every: Duration,
    limit: Duration,
    started: tokio::sync::oneshot::Sender<()>,
) -> Trickled {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(head).unwrap();
    let begun = Instant::now();
    let mut started = Some(started);
    let mut answer = Answer::default();
    let mut answered_at = None;
    let mut buffer = [0u8; 4096];
    while begun.elapsed() < limit {
        if let Err(e) = stream.write_all(piece)
            && is_closed_error(&e)
        {
            answer.closed = true;
            break;
        }
        if let Some(signal) = started.take() {
            let _ = signal.send(());
        }
        // The read timeout paces the trickle: it waits for the gateway's answer at most `every`.
        stream.set_read_timeout(Some(every)).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => {
                answer.closed = true;
                break;
            }
            Ok(n) => {
                answered_at.get_or_insert_with(Instant::now);
                answer.bytes.extend_from_slice(&buffer[..n]);
            }
            Err(e) if is_closed_error(&e) => {
                answer.closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    let closed_at = answer.closed.then(Instant::now);
    Trickled {
        answered_after: answered_at.map(|at| at - begun),
        closed_after_answer: match (answered_at, closed_at) {
            (Some(answered), Some(closed)) => Some(closed - answered),
            _ => None,
        },
        answer,
    }
}

fn slow_head(id: &str, key: &str, framing: &str) -> Vec<u8> {
    format!(
        "POST /webhooks/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         X-API-Key: {key}\r\n{framing}\r\n\r\n"
    )
    .into_bytes()
}

/// Trickles `head` + `piece`s while a normal caller posts; returns how the trickle ended and
/// how long the normal call took.
async fn trickle_beside_a_normal_call(
    gateway: &Gateway,
    head: Vec<u8>,
    piece: &'static [u8],
    normal: (&str, &str),
) -> (Trickled, Duration) {
    let port = gateway.port;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let slow = tokio::task::spawn_blocking(move || {
        trickle(
            port,
            &head,
            piece,
            Duration::from_millis(300),
            Duration::from_secs(9),
            started_tx,
        )
    });
    started_rx.await.unwrap();
    let begun = Instant::now();
    assert_still_serving(gateway, normal.0, normal.1, "during-trickle").await;
    let normal_took = begun.elapsed();
    (slow.await.unwrap(), normal_took)
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_its_connection_closed_while_others_are_served() {
    let (_database, topic, gateway) = setup(&[("WEBHOOK_GATEWAY_BODY_TIMEOUT_MS", "1000")]).await;
    let key = register(&gateway.env, "slow", &[]);
    // 1000 bytes announced, 3 arriving every 300 ms: the body could never finish in time.
    let head = slow_head("slow", &key, "Content-Length: 1000");
    let (slow, normal_took) =
        trickle_beside_a_normal_call(&gateway, head, b"   ", ("slow", &key)).await;

    assert!(
        normal_took < Duration::from_secs(3),
        "a normal call waited {normal_took:?} behind a slow one"
    );
    let answered = slow
        .answered_after
        .expect("the trickled call was never answered");
    assert!(
        answered < Duration::from_secs(4),
        "a 1 s body timeout answered after {answered:?}"
    );
    assert_eq!(slow.answer.status(), Some(408), "{}", slow.answer.head());
    assert_eq!(slow.answer.problem_type().as_deref(), Some("body-timeout"));
    let closed = slow
        .closed_after_answer
        .expect("the connection stayed open while the body kept trickling");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");

    assert_still_serving(&gateway, "slow", &key, "after").await;
    assert_eq!(published_markers(&topic), ["during-trickle", "after"]);
}

#[tokio::test]
async fn a_trickled_chunked_body_gets_408_and_cannot_hold_its_connection() {
    let (_database, topic, gateway) = setup(&[("WEBHOOK_GATEWAY_BODY_TIMEOUT_MS", "1000")]).await;
    let key = register(&gateway.env, "slow", &[]);
    // One-byte chunks, never the last one: without a limit of its own the body is endless.
    let head = slow_head("slow", &key, "Transfer-Encoding: chunked");
    let (slow, normal_took) =
        trickle_beside_a_normal_call(&gateway, head, b"1\r\n \r\n", ("slow", &key)).await;

    assert!(
        normal_took < Duration::from_secs(3),
        "a normal call waited {normal_took:?} behind a slow one"
    );
    let answered = slow
        .answered_after
        .expect("the trickled call was never answered");
    assert!(
        answered < Duration::from_secs(4),
        "a 1 s body timeout answered after {answered:?}"
    );
    assert_eq!(slow.answer.status(), Some(408), "{}", slow.answer.head());
    assert_eq!(slow.answer.problem_type().as_deref(), Some("body-timeout"));
    // After its answer the caller keeps trickling; a gateway that drains the rest of the body
    // lets one caller hold a connection (and a worker's attention) for as long as it likes.
    let closed = slow.closed_after_answer.unwrap_or_else(|| {
        panic!(
            "the gateway kept reading the refused chunked body for {:?} after answering",
            Duration::from_secs(9) - answered
        )
    });
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");

    assert_still_serving(&gateway, "slow", &key, "after").await;
    assert_eq!(published_markers(&topic), ["during-trickle", "after"]);
}

#[tokio::test]
async fn an_unauthenticated_chunked_call_cannot_hold_its_connection_by_trickling() {
    let (_database, topic, gateway) = setup(&[
        ("WEBHOOK_GATEWAY_BODY_TIMEOUT_MS", "1000"),
        ("WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS", "1000"),
    ])
    .await;
    let key = register(&gateway.env, "real", &[]);
    // No valid id nor key: the gateway answers 404 before reading the body, then the caller
    // keeps sending chunks, trying to outlive both the header and the body timeouts.
    let head = slow_head("no-such-hook", "whk_wrong", "Transfer-Encoding: chunked");
    let (slow, _) =
        trickle_beside_a_normal_call(&gateway, head, b"1\r\n \r\n", ("real", &key)).await;

    assert_eq!(slow.answer.status(), Some(404), "{}", slow.answer.head());
    let answered = slow.answered_after.unwrap();
    let closed = slow.closed_after_answer.unwrap_or_else(|| {
        panic!(
            "an unauthenticated caller held its connection for {:?} after its 404 \
             (header and body timeouts are 1 s)",
            Duration::from_secs(9) - answered
        )
    });
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");

    assert_still_serving(&gateway, "real", &key, "after").await;
    assert_eq!(published_markers(&topic), ["during-trickle", "after"]);
}

#[tokio::test]
async fn an_endless_chunked_body_is_refused_at_the_limit_without_being_read_to_its_end() {
    let (_database, topic, gateway) = setup(&[]).await;
    let key = register(&gateway.env, "capped", &["--max-body-bytes", "65536"]);
    const CHUNK: usize = 64 * 1024;
    const SENDING_FOR: Duration = Duration::from_secs(5);
    let port = gateway.port;
    let key_for_call = key.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // A gateway that stops reading without closing would block the writer: bound it.
        stream
            .set_write_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream
            .write_all(&slow_head(
                "capped",
                &key_for_call,
                "Transfer-Encoding: chunked",
            ))
            .unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let mut writer_stream = stream.try_clone().unwrap();
        let writer_sent = sent.clone();
        // Chunks without end, for as long as the gateway takes them (at most SENDING_FOR).
        let writer = std::thread::spawn(move || {
            let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b' ', CHUNK));
            chunk.extend_from_slice(b"\r\n");
            let begun = Instant::now();
            while begun.elapsed() < SENDING_FOR {
                if writer_stream.write_all(&chunk).is_err() {
                    return Some(Instant::now());
                }
                writer_sent.fetch_add(CHUNK, Ordering::SeqCst);
            }
            None
        });
        let mut answer = Answer::default();
        let mut buffer = [0u8; 4096];
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut sent_at_answer = None;
        let mut answered_at = None;
        while !answer.is_complete() {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    sent_at_answer.get_or_insert(sent.load(Ordering::SeqCst));
                    answered_at.get_or_insert_with(Instant::now);
                    answer.bytes.extend_from_slice(&buffer[..n]);
                }
            }
        }
        let cut_off_at = writer.join().unwrap();
        let closed_after = match (answered_at, cut_off_at) {
            (Some(answered), Some(cut_off)) => Some(cut_off.saturating_duration_since(answered)),
            _ => None,
        };
        (
            answer,
            sent_at_answer,
            closed_after,
            sent.load(Ordering::SeqCst),
        )
    })
    .await
    .unwrap();
    let (answer, sent_at_answer, closed_after, sent) = outcome;

    assert_eq!(answer.status(), Some(413), "{}", answer.head());
    assert_eq!(answer.problem_type().as_deref(), Some("payload-too-large"));
    // Loopback socket buffers hold a few MiB, so that much may be sent before the answer
    // arrives, but not more.
    let sent_at_answer = sent_at_answer.unwrap();
    assert!(
        sent_at_answer < 16 * 1024 * 1024,
        "the answer came only after {sent_at_answer} bytes"
    );
    // Once the answer is out the gateway must let go: a short linger is fine, reading the
    // endless rest of the body is not.
    let closed_after = closed_after.unwrap_or_else(|| {
        panic!(
            "after its 413 the gateway kept reading: {} MiB of a body capped at 64 KiB in {SENDING_FOR:?}",
            sent / (1024 * 1024)
        )
    });
    assert!(
        closed_after < Duration::from_secs(3),
        "the connection was closed {closed_after:?} after the answer"
    );

    assert_still_serving(&gateway, "capped", &key, "after").await;
    assert_eq!(published_markers(&topic), ["after"]);
}

#[tokio::test]
async fn thousands_of_idle_connections_stay_cheap_and_are_closed_after_the_header_timeout() {
    const IDLE: usize = 2_000;
    let (_database, topic, gateway) = setup(&[("WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS", "4000")]).await;
    let key = register(&gateway.env, "busy", &[]);
    let pid = gateway.pid();
    let (baseline_rss, baseline_fds) = (rss_kib(pid), open_fds(pid));

    let port = gateway.port;
    let idle = tokio::task::spawn_blocking(move || {
        (0..IDLE)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // The baseline may hold a few descriptors that close on their own (the readiness probe's
    // connection, a Kafka reconnect), hence the small slack.
    let accepted = eventually(Duration::from_secs(10), || async {
        open_fds(pid) + 8 >= baseline_fds + IDLE
    })
    .await;
    assert!(
        accepted,
        "only {} of {IDLE} connections were accepted",
        open_fds(pid).saturating_sub(baseline_fds)
    );

    let begun = Instant::now();
    assert_still_serving(&gateway, "busy", &key, "while-idle").await;
    let served_in = begun.elapsed();
    assert!(
        served_in < Duration::from_secs(2),
        "a normal call took {served_in:?} beside {IDLE} idle connections"
    );

    // Bounds: one descriptor per connection and no more (a leak would show as extra ones);
    // memory of at most 32 KiB per idle connection, four times the 8 KiB read buffer actix
    // gives each connection, which leaves room for its write buffer and dispatcher state.
    // Measured here: about 10 KiB per connection.
    let (rss, fds) = (rss_kib(pid), open_fds(pid));
    assert!(
        fds <= baseline_fds + IDLE + 16,
        "{fds} descriptors for {IDLE} connections (baseline {baseline_fds})"
    );
    let grown = rss.saturating_sub(baseline_rss);
    assert!(
        grown <= 32 * IDLE as u64,
        "RSS grew by {grown} KiB for {IDLE} idle connections ({baseline_rss} → {rss} KiB)"
    );

    let released = eventually(Duration::from_secs(10), || async {
        open_fds(pid) <= baseline_fds + 8
    })
    .await;
    assert!(
        released,
        "{} descriptors still open after the header timeout (baseline {baseline_fds})",
        open_fds(pid)
    );
    let still_open = tokio::task::spawn_blocking(move || {
        let mut still_open = 0;
        for mut stream in idle {
            stream.set_nonblocking(true).unwrap();
            let mut buffer = [0u8; 256];
            let answer = stream.read(&mut buffer);
            let closed = match answer {
                Ok(0) => true,
                Ok(n) => buffer[..n].starts_with(b"HTTP/1.1 408"),
                Err(e) => e.kind() != ErrorKind::WouldBlock,
            };
            if !closed {
                still_open += 1;
            }
        }
        still_open
    })
    .await
    .unwrap();
    assert_eq!(
        still_open, 0,
        "idle connections neither closed nor told 408"
    );

    assert_still_serving(&gateway, "busy", &key, "after").await;
    assert_eq!(published_markers(&topic), ["while-idle", "after"]);
}

#[tokio::test]
async fn connections_over_the_per_worker_limit_wait_and_the_gateway_recovers() {
    const LIMIT: usize = 50;
    let limit = LIMIT.to_string();
    let (_database, topic, gateway) = setup(&[
        ("WEBHOOK_GATEWAY_WORKERS", "1"),
        ("WEBHOOK_GATEWAY_MAX_CONNECTIONS", &limit),
        ("WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS", "4000"),
    ])
    .await;
    let key = register(&gateway.env, "crowded", &[]);
    let pid = gateway.pid();
    let baseline_fds = open_fds(pid);

    let port = gateway.port;
    let hogs = tokio::task::spawn_blocking(move || {
        (0..LIMIT)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // A little slack, as above: the baseline may hold descriptors that close on their own.
    let full = eventually(Duration::from_secs(5), || async {
        open_fds(pid) + 4 >= baseline_fds + LIMIT
    })
    .await;
    assert!(full, "the {LIMIT} idle connections were not all accepted");

    let request = raw_request(
        "POST",
        b"/webhooks/crowded",
        &[
            hdr(b"Content-Type", b"application/json"),
            hdr(b"X-API-Key", key.as_bytes()),
        ],
        br#"{"marker":"queued"}"#,
    );
    let queued = tokio::task::spawn_blocking(move || {
        let extra: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(&request).unwrap();
        // Waiting for an answer that must not come while the idle connections hold every slot
        // (they are released by the 4 s header timeout, counted from their acceptance).
        let mut early = Answer::default();
        read_until_closed(&mut stream, &mut early, Duration::from_millis(1500));
        let fds_while_full = open_fds(pid);
        let mut late = Answer::default();
        read_until_closed(&mut stream, &mut late, Duration::from_secs(10));
        drop(extra);
        (early, fds_while_full, late)
    })
    .await
    .unwrap();
    let (early, fds_while_full, late) = queued;

    assert!(
        early.bytes.is_empty(),
        "a connection over the limit was served: {}",
        early.head()
    );
    assert!(
        fds_while_full <= baseline_fds + LIMIT + 4,
        "{fds_while_full} descriptors with a limit of {LIMIT} connections (baseline {baseline_fds})"
    );
    assert_eq!(
        late.status(),
        Some(202),
        "the waiting call was not served once slots freed: {}",
        late.head()
    );
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the gateway died"
    );
    let live = reqwest::get(gateway.url("/actuator/health/liveness"))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    drop(hogs);

    assert_still_serving(&gateway, "crowded", &key, "after").await;
    assert_eq!(published_markers(&topic), ["queued", "after"]);
}

/// One malformed request and the answers it may get.
struct Malformed {
    name: &'static str,
    request: Vec<u8>,
    allowed: &'static [u16],
    /// The problem type, when the gateway itself (not the HTTP parser) answers.
    problem: Option<&'static str>,
}

#[tokio::test]
async fn malformed_requests_get_a_4xx_and_reach_nothing() {
    let (_database, topic, gateway) = setup(&[]).await;
    let key = register(&gateway.env, "guarded", &[]);
    let key = key.as_bytes().to_vec();
    let json = (b"Content-Type".as_slice(), b"application/json".as_slice());
    let with_key = |extra: &[(&'static [u8], &'static [u8])]| {
        let mut headers: Vec<(&[u8], &[u8])> = vec![json, hdr(b"X-API-Key", &key)];
        headers.extend_from_slice(extra);
        headers
    };
    let body: &[u8] = br#"{"marker":"malformed"}"#;
    let call =
        |target: &[u8], headers: &[(&[u8], &[u8])]| raw_request("POST", target, headers, body);
    let long_id = format!("/webhooks/{}", "a".repeat(200));
    let very_long_target = format!("/webhooks/{}", "a".repeat(100_000));
    let many_headers: Vec<(Vec<u8>, Vec<u8>)> = (0..200)
        .map(|i| (format!("X-Filler-{i}").into_bytes(), b"x".to_vec()))
        .collect();
    let mut many: Vec<(&[u8], &[u8])> = with_key(&[]);
    many.extend(
        many_headers
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice())),
    );
    let huge_value = vec![b'v'; 64 * 1024];
    let mut huge: Vec<(&[u8], &[u8])> = with_key(&[]);
    for name in [b"X-Huge-1", b"X-Huge-2", b"X-Huge-3"] {
        huge.push(hdr(name, &huge_value));
    }
    let mut smuggled_length = call(b"/webhooks/guarded", &with_key(&[]));
    let position = find(&smuggled_length, b"Content-Length").unwrap();
    smuggled_length.splice(
        position..position,
        b"Transfer-Encoding: chunked\r\n".to_vec(),
    );

    let cases = vec![
        Malformed {
            name: "invalid UTF-8 in the path",
            request: call(b"/webhooks/\xff\xfe", &with_key(&[])),
            allowed: &[400, 404],
            problem: None,
        },
        Malformed {
            name: "percent-encoded invalid UTF-8 in the path",
            request: call(b"/webhooks/%ff%fe", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "invalid UTF-8 in a header name",
            request: call(b"/webhooks/guarded", &with_key(&[hdr(b"X-\xff", b"a")])),
            allowed: &[400],
            problem: None,
        },
        Malformed {
            name: "invalid UTF-8 in the API key",
            request: call(
                b"/webhooks/guarded",
                &[json, hdr(b"X-API-Key", b"whk_\xff\xfe")],
            ),
            allowed: &[401],
            problem: Some("invalid-api-key"),
        },
        Malformed {
            name: "invalid UTF-8 in the content type",
            request: call(
                b"/webhooks/guarded",
                &[
                    hdr(b"Content-Type", b"application/json\xff"),
                    hdr(b"X-API-Key", &key),
                ],
            ),
            allowed: &[415],
            problem: Some("unsupported-media-type"),
        },
        Malformed {
            name: "encoded traversal out of /webhooks",
            request: call(b"/webhooks/..%2F..%2Fetc%2Fpasswd", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "encoded dots back into the same webhook",
            request: call(b"/webhooks/%2e%2e%2fguarded", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "encoded dot-dot as the id",
            request: call(b"/webhooks/%2e%2e", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "encoded traversal from another segment",
            request: call(b"/webhooks/x/..%2F..%2Fwebhooks%2Fguarded", &with_key(&[])),
            allowed: &[404],
            problem: Some("not-found"),
        },
        Malformed {
            name: "plain dot segments",
            request: call(b"/api/../webhooks/./guarded", &with_key(&[])),
            allowed: &[404],
            problem: Some("not-found"),
        },
        Malformed {
            name: "an encoded slash after the id",
            request: call(b"/webhooks/guarded%2F..", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "a raw NUL in the path",
            request: call(b"/webhooks/guar\0ded", &with_key(&[])),
            allowed: &[400],
            problem: None,
        },
        Malformed {
            name: "an encoded NUL in the path",
            request: call(b"/webhooks/guarded%00", &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "a NUL in a header value",
            request: call(
                b"/webhooks/guarded",
                &with_key(&[hdr(b"X-Request-Id", b"a\0b")]),
            ),
            allowed: &[400],
            problem: None,
        },
        Malformed {
            name: "an encoded NUL as the query key",
            request: call(b"/webhooks/guarded?apiKey=%00", &[json]),
            allowed: &[401],
            problem: Some("invalid-api-key"),
        },
        Malformed {
            name: "a 200-character id",
            request: call(long_id.as_bytes(), &with_key(&[])),
            allowed: &[404],
            problem: Some("webhook-not-found"),
        },
        Malformed {
            name: "a 100,000-character target",
            request: call(very_long_target.as_bytes(), &with_key(&[])),
            allowed: &[400, 414, 431],
            problem: None,
        },
        Malformed {
            name: "200 headers",
            request: call(b"/webhooks/guarded", &many),
            allowed: &[400, 431],
            problem: None,
        },
        Malformed {
            name: "three 64 KiB header values",
            request: call(b"/webhooks/guarded", &huge),
            allowed: &[400, 431],
            problem: None,
        },
        Malformed {
            name: "Transfer-Encoding beside Content-Length",
            request: smuggled_length,
            allowed: &[400],
            problem: None,
        },
        Malformed {
            name: "an unknown HTTP version",
            request: call(b"/webhooks/guarded", &with_key(&[]))
                .replacen_bytes(b"HTTP/1.1", b"HTTP/7.1"),
            allowed: &[400, 505],
            problem: None,
        },
    ];

    let port = gateway.port;
    let answers = tokio::task::spawn_blocking(move || {
        cases
            .into_iter()
            .map(|case| {
                let answer = exchange(port, &case.request, Duration::from_secs(5));
                (case, answer)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (case, answer) in &answers {
        let status = answer.status();
        assert!(
            status.is_some_and(|s| case.allowed.contains(&s)),
            "{}: expected one of {:?}, got {}",
            case.name,
            case.allowed,
            answer.head()
        );
        if let Some(problem) = case.problem {
            assert_eq!(
                answer.problem_type().as_deref(),
                Some(problem),
                "{}",
                case.name
            );
        }
    }

    let key = String::from_utf8(key).unwrap();
    assert_still_serving(&gateway, "guarded", &key, "after").await;
    assert_eq!(published_markers(&topic), ["after"]);
}

trait ReplaceBytes {
    fn replacen_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replacen_bytes(mut self, from: &[u8], to: &[u8]) -> Vec<u8> {
        if let Some(at) = find(&self, from) {
            self.splice(at..at + from.len(), to.to_vec());
        }
        self
    }
}

#[tokio::test]
async fn smuggled_header_lines_never_become_headers_of_the_record() {
    let (_database, topic, gateway) = setup(&[]).await;
    let key = register(&gateway.env, "shop", &["--forward-header", "X-Shop"]);
    let key = key.as_bytes().to_vec();
    let traceparent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let call = |marker: &str, extra: &[(&[u8], &[u8])]| {
        let mut headers: Vec<(&[u8], &[u8])> = vec![
            hdr(b"Content-Type", b"application/json"),
            hdr(b"X-API-Key", &key),
        ];
        headers.extend_from_slice(extra);
        let body = json!({ "marker": marker }).to_string();
        raw_request("POST", b"/webhooks/shop", &headers, body.as_bytes())
    };
    let mut trace_with_line = traceparent.to_vec();
    trace_with_line.extend_from_slice(b"\nFx-Webhook-Id: forged\nFx-Organization-Id: org-forged");
    // (marker, request, answers allowed)
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "bare-lf",
            call(
                "bare-lf",
                &[hdr(b"X-Shop", b"shop.example\nX-Injected: evil")],
            ),
            &[202, 400],
        ),
        (
            "bare-lf-trace",
            call("bare-lf-trace", &[hdr(b"traceparent", &trace_with_line)]),
            &[202, 400],
        ),
        (
            "bare-cr",
            call(
                "bare-cr",
                &[hdr(b"X-Shop", b"shop.example\rX-Injected: evil")],
            ),
            &[400],
        ),
        (
            "folded",
            call(
                "folded",
                &[hdr(b"X-Shop", b"shop.example\r\n X-Injected: evil")],
            ),
            &[400],
        ),
        (
            "encoded",
            call(
                "encoded",
                &[hdr(b"X-Shop", b"shop.example%0d%0aX-Injected:%20evil")],
            ),
            &[202],
        ),
        (
            "not-utf8",
            call("not-utf8", &[hdr(b"X-Request-Id", b"req-\xff\xfe")]),
            &[202],
        ),
        (
            "query",
            raw_request(
                "POST",
                b"/webhooks/shop?apiKey=whk_x%0d%0aX-Injected:%20evil",
                &[hdr(b"Content-Type", b"application/json")],
                br#"{"marker":"query"}"#,
            ),
            &[401],
        ),
    ];
    let port = gateway.port;
    let answers = tokio::task::spawn_blocking(move || {
        cases
            .into_iter()
            .map(|(marker, request, allowed)| {
                let answer = exchange(port, &request, Duration::from_secs(5));
                (marker, allowed, answer)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut accepted = Vec::new();
    for (marker, allowed, answer) in &answers {
        let status = answer.status().unwrap_or(0);
        assert!(
            allowed.contains(&status),
            "{marker}: expected one of {allowed:?}, got {}",
            answer.head()
        );
        assert!(
            answer.header("x-injected").is_none(),
            "{marker}: reflected header"
        );
        if status == 202 {
            accepted.push(marker.to_string());
        }
    }
    let key = String::from_utf8(key).unwrap();
    assert_still_serving(&gateway, "shop", &key, "after").await;
    accepted.push("after".into());

    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    let markers: Vec<&str> = records
        .iter()
        .map(|r| r.value["payload"]["marker"].as_str().unwrap())
        .collect();
    assert_eq!(
        markers, accepted,
        "exactly the accepted calls are published"
    );
    let allowed_record_headers = [
        "Fx-Organization-Id",
        "Fx-Event-Id",
        "Fx-Webhook-Id",
        "Content-Type",
        "traceparent",
        "tracestate",
    ];
    for record in &records {
        let marker = record.value["payload"]["marker"].as_str().unwrap();
        for (name, value) in &record.headers {
            assert!(
                allowed_record_headers.contains(&name.as_str()),
                "{marker}: unexpected record header {name}"
            );
            assert!(
                !value.contains(['\r', '\n']),
                "{marker}: line break in record header {name}: {value:?}"
            );
        }
        assert_eq!(record.headers["Fx-Webhook-Id"], "shop", "{marker}");
        assert_eq!(record.headers["Fx-Organization-Id"], "org-test", "{marker}");
        let forwarded = record.value["headers"].as_object().unwrap();
        for (name, value) in forwarded {
            assert!(
                !name.contains("injected") && !name.starts_with("fx-"),
                "{marker}: forwarded {name}"
            );
            let value = value.as_str().unwrap();
            assert!(
                !value.contains(['\r', '\n']),
                "{marker}: line break in forwarded {name}: {value:?}"
            );
        }
        match marker {
            "bare-lf" => assert_eq!(forwarded["x-shop"], "shop.example"),
            "bare-lf-trace" => {
                assert_eq!(record.headers["traceparent"].as_bytes(), traceparent);
            }
            "encoded" => assert_eq!(
                forwarded["x-shop"], "shop.example%0d%0aX-Injected:%20evil",
                "a header value must be forwarded as sent, never decoded"
            ),
            "not-utf8" => assert!(
                forwarded.get("x-request-id").is_none(),
                "a value that is not UTF-8 is dropped"
            ),
            _ => {}
        }
    }
}

#[tokio::test]
async fn other_methods_get_405_problem_json_and_publish_nothing() {
    let (_database, topic, gateway) = setup(&[]).await;
    let key = register(&gateway.env, "guarded", &[]);
    let methods = [
        "GET",
        "PATCH",
        "PUT",
        "DELETE",
        "OPTIONS",
        "TRACE",
        "HEAD",
        "CONNECT",
        "PROPFIND",
        "FROBNICATE",
        "post",
    ];
    let port = gateway.port;
    let key_bytes = key.clone().into_bytes();
    let answers = tokio::task::spawn_blocking(move || {
        methods
            .iter()
            .map(|method| {
                let request = raw_request(
                    method,
                    b"/webhooks/guarded",
                    &[
                        hdr(b"Content-Type", b"application/json"),
                        hdr(b"X-API-Key", &key_bytes),
                    ],
                    br#"{"marker":"other-method"}"#,
                );
                (*method, exchange(port, &request, Duration::from_secs(5)))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (method, answer) in &answers {
        assert_eq!(answer.status(), Some(405), "{method}: {}", answer.head());
        assert_eq!(answer.header("allow").as_deref(), Some("POST"), "{method}");
        if *method == "HEAD" {
            assert!(answer.body().is_empty(), "HEAD answered with a body");
        } else {
            assert_eq!(
                answer.problem_type().as_deref(),
                Some("method-not-allowed"),
                "{method}"
            );
        }
    }
    let elsewhere = reqwest::Client::new()
        .post(gateway.url("/webhooks/guarded/extra"))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(r#"{"marker":"elsewhere"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    assert_still_serving(&gateway, "guarded", &key, "after").await;
    assert_eq!(published_markers(&topic), ["after"]);
}

/// Every record value of partition 0 of `topic`, as raw bytes: a deeply nested payload is
/// more than `serde_json::Value` will parse.
fn raw_values(topic: &str, expected: usize) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("test-raw-reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.message.max.bytes", "4194304")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut values = Vec::new();
    while values.len() < expected && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            values.push(message.payload().unwrap_or_default().to_vec());
        }
    }
    values
}

#[tokio::test]
async fn deep_nesting_and_a_one_mebibyte_string_are_answered_and_serving_continues() {
    let (_database, topic, gateway) = setup(&[]).await;
    let deep_topic = create_topic(&bootstrap()).await;
    let key = register(&gateway.env, "big", &[]);
    let deep_key = register(&gateway.env, "deep", &["--topic", &deep_topic]);

    let depth = 100_000;
    let nested = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let response = post(&gateway, "deep", &deep_key, &nested).await;
    let deep_status = response.status().as_u16();
    assert!(
        deep_status == 202 || deep_status == 400,
        "nesting {depth} deep: {deep_status}"
    );
    if deep_status == 202 {
        // Accepted means published whole: the payload is the body byte for byte.
        let values = raw_values(&deep_topic, 1);
        assert_eq!(values.len(), 1);
        let text = String::from_utf8(values[0].clone()).unwrap();
        assert!(
            text.contains(&format!(r#""payload":{nested}}}"#)),
            "the nested payload was not published unchanged"
        );
    }

    // A body of exactly the 1 MiB limit: one JSON string.
    let limit = 1024 * 1024;
    let text = "x".repeat(limit - r#"{"marker":"big","s":""}"#.len());
    let body = format!(r#"{{"marker":"big","s":"{text}"}}"#);
    assert_eq!(body.len(), limit);
    let begun = Instant::now();
    let response = post(&gateway, "big", &key, &body).await;
    assert_eq!(response.status(), 202, "a body at the limit was refused");
    assert!(begun.elapsed() < Duration::from_secs(5));
    let over = format!(r#"{{"marker":"over","s":"{text}x"}}"#);
    let response = post(&gateway, "big", &key, &over).await;
    assert_eq!(response.status(), 413, "a body one byte over the limit");

    assert_still_serving(&gateway, "big", &key, "after").await;
    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    let markers: Vec<&str> = records
        .iter()
        .map(|r| r.value["payload"]["marker"].as_str().unwrap())
        .collect();
    assert_eq!(markers, ["big", "after"]);
    assert_eq!(
        records[0].value["payload"]["s"].as_str().unwrap().len(),
        text.len()
    );
}
