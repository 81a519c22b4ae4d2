//! Processes the suite starts: gateways, and private brokers, Redis, SpiceDB and PostgreSQL
//! instances that a scenario may kill and restart without touching the shared stack.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::SuiteError;
use crate::stack::{Env, Stack};

pub fn free_port() -> Result<u16, SuiteError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| SuiteError::io("a port", e))?;
    Ok(listener
        .local_addr()
        .map_err(|e| SuiteError::io("a port", e))?
        .port())
}

async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

async fn wait_port(what: &str, port: u16, limit: Duration) -> Result<(), SuiteError> {
    let deadline = Instant::now() + limit;
    while !port_open(port).await {
        if Instant::now() > deadline {
            return Err(SuiteError::Setup(format!(
                "{what} did not open port {port}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn log_file(path: &Path) -> Result<std::fs::File, SuiteError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SuiteError::io(&path.display().to_string(), e))
}

/// The gateway binary with exactly `env` (plus PATH), so nothing of the suite's own
/// environment leaks into it.
fn gateway_command(bin: &Path, env: &Env) -> Command {
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// Registers an API-key webhook with the gateway's command line; returns the key.
pub async fn register(
    bin: &Path,
    env: &Env,
    id: &str,
    workspace: &str,
) -> Result<String, SuiteError> {
    let output = gateway_command(bin, env)
        .args([
            "register",
            "--id",
            id,
            "--name",
            id,
            "--workspace",
            workspace,
        ])
        .args(["--organization", "org-faults", "--output", "json"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| SuiteError::io("webhook-gateway register", e))?;
    if !output.status.success() {
        return Err(SuiteError::Setup(format!(
            "register {id}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| SuiteError::Setup(format!("register {id} printed no JSON: {e}")))?;
    printed["apiKey"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SuiteError::Setup(format!("register {id} issued no API key")))
}

/// A running gateway; killed if dropped before it was stopped.
pub struct Gateway {
    pub port: u16,
    child: Child,
}

impl Gateway {
    pub async fn start(bin: &Path, env: &Env, log: &Path) -> Result<Self, SuiteError> {
        let port = free_port()?;
        let child = gateway_command(bin, env)
            .env("SERVER_ADDRESS", "127.0.0.1")
            .env("SERVER_PORT", port.to_string())
            .env(
                "WEBHOOK_GATEWAY_PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .stdin(Stdio::null())
            .stdout(log_file(log)?)
            .stderr(log_file(log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SuiteError::io("webhook-gateway", e))?;
        let mut gateway = Self { port, child };
        gateway.wait_ready(log).await?;
        Ok(gateway)
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<(), SuiteError> {
        let client = reqwest::Client::new();
        let url = format!("{}/actuator/health/readiness", self.url());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(SuiteError::Setup(format!(
                    "the gateway exited during start-up ({status}); log: {}",
                    log.display()
                )));
            }
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(SuiteError::Setup(format!(
            "the gateway was not ready within 30 s; log: {}",
            log.display()
        )))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM, the signal of a rolling restart.
    pub fn terminate(&self) -> Result<(), SuiteError> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| SuiteError::Setup("the gateway already exited".into()))?;
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM)
            .map_err(|e| SuiteError::Setup(format!("SIGTERM to the gateway: {e}")))
    }

    /// Waits for the process to exit after [`Gateway::terminate`].
    pub async fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus, SuiteError> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.map_err(|e| SuiteError::io("waiting for the gateway", e)),
            Err(_) => Err(SuiteError::Setup(format!(
                "the gateway did not exit within {limit:?} of SIGTERM"
            ))),
        }
    }

    /// Graceful stop at the end of a scenario.
    pub async fn stop(mut self) {
        if self.terminate().is_ok() && self.wait_exit(Duration::from_secs(20)).await.is_ok() {
            return;
        }
        let _ = self.child.kill().await;
    }
}

/// A private service process on its own port, in its own working directory, that a scenario
/// kills with SIGKILL and starts again with the same arguments.
pub struct Service {
    name: &'static str,
    pub port: u16,
    program: String,
    args: Vec<String>,
    env: Env,
    dir: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// A Tansu broker keeping its data in SQLite in `dir`, so that a restart keeps the topic and
    /// every record it acknowledged (memory storage would lose them: the broker's loss, not the
    /// gateway's).
    pub fn broker(stack: &Stack, dir: PathBuf) -> Result<Self, SuiteError> {
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let args = [
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            // Resolved against the working directory.
            "sqlite://./kafka.db",
        ];
        Self::new("tansu", stack.var("WHGW_TANSU_BIN"), &args, dir, port)
    }

    pub fn redis(stack: &Stack, dir: PathBuf) -> Result<Self, SuiteError> {
        let port = free_port()?.to_string();
        let args = [
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let port = port.parse().unwrap_or_default();
        Self::new(
            "redis",
            stack.var("WHGW_REDIS_SERVER_BIN"),
            &args,
            dir,
            port,
        )
    }

    /// SpiceDB with the stack's test relationships; `key` is its preshared key.
    pub fn spicedb(stack: &Stack, dir: PathBuf, key: &str) -> Result<Self, SuiteError> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let args = [
            "--grpc-addr",
            &addr,
            "--datastore-bootstrap-files",
            stack.var("WHGW_SPICEDB_BOOTSTRAP"),
        ];
        let mut service = Self::new(
            "spicedb",
            stack.var("WHGW_SPICEDB_SERVER"),
            &args,
            dir,
            port,
        )?;
        // In the environment, where ps does not show it.
        service
            .env
            .push(("SPICEDB_GRPC_PRESHARED_KEY".into(), key.into()));
        Ok(service)
    }

    fn new(
        name: &'static str,
        program: &str,
        args: &[&str],
        dir: PathBuf,
        port: u16,
    ) -> Result<Self, SuiteError> {
        std::fs::create_dir_all(&dir).map_err(|e| SuiteError::io(&dir.display().to_string(), e))?;
        Ok(Self {
            name,
            port,
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![("NO_COLOR".into(), "1".into())],
            dir,
            child: None,
        })
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process and waits until its port accepts connections.
    pub async fn start(&mut self) -> Result<(), SuiteError> {
        let log = self.dir.join(format!("{}.log", self.name));
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SuiteError::io(self.name, e))?;
        self.child = Some(child);
        wait_port(self.name, self.port, Duration::from_secs(20)).await
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// A private PostgreSQL cluster (trust authentication, user `postgres`). Its data directory is
/// under the system temp dir because the `postgres` user must reach it.
pub struct PrivatePostgres {
    pub port: u16,
    bin_dir: PathBuf,
    data: PathBuf,
}

impl PrivatePostgres {
    pub async fn create(stack: &Stack) -> Result<Self, SuiteError> {
        let data = std::env::temp_dir().join(format!("fault-suite-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&data).map_err(|e| SuiteError::io("the PostgreSQL dir", e))?;
        let postgres = Self {
            port: free_port()?,
            bin_dir: PathBuf::from(stack.var("WHGW_PG_BIN_DIR")),
            data,
        };
        let chown = Command::new("chown")
            .arg("postgres:")
            .arg(&postgres.data)
            .status()
            .await;
        if !chown.is_ok_and(|s| s.success()) {
            return Err(SuiteError::Setup(
                "could not chown the PostgreSQL dir".into(),
            ));
        }
        let data = postgres.data.display().to_string();
        postgres
            .pg_tool(
                "initdb",
                &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
            )
            .await?;
        postgres.resume().await?;
        Ok(postgres)
    }

    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    pub async fn resume(&self) -> Result<(), SuiteError> {
        let data = self.data.display().to_string();
        let options = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = format!("{data}/server.log");
        self.pg_tool(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-w", "-l", &log, "start"],
        )
        .await
    }

    /// Immediate shutdown: no checkpoint, connections cut, as a crash would.
    pub async fn stop_immediate(&self) -> Result<(), SuiteError> {
        let data = self.data.display().to_string();
        self.pg_tool("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .await
    }

    /// The server refuses to run as root, so its tools run as `postgres`.
    async fn pg_tool(&self, tool: &str, args: &[&str]) -> Result<(), SuiteError> {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin_dir.join(tool))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map_err(|e| SuiteError::io(tool, e))?;
        if status.success() {
            Ok(())
        } else {
            Err(SuiteError::Setup(format!("{tool} failed ({status})")))
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Blocking is fine here: the cluster is dropped after its scenario's load has stopped.
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin_dir.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
