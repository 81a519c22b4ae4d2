//! JSON log lines, levels from `LOGGING_LEVEL_ROOT` (libraries) and `LOGGING_LEVEL_APP` (the
//! gateway). Request logs carry paths only: query strings (which may hold API keys) and headers
//! are never logged.

use tracing_subscriber::EnvFilter;

use crate::config::LoggingConfig;

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    Stdout,
    Stderr,
}

/// Installs the global subscriber; later calls are ignored.
pub fn init(logging: LoggingConfig, sink: Sink) {
    let filter = EnvFilter::new(format!(
        "{},webhook_gateway={}",
        logging.root.as_directive(),
        logging.app.as_directive()
    ));
    let builder = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter);
    let _ = match sink {
        Sink::Stdout => builder.with_writer(std::io::stdout).try_init(),
        Sink::Stderr => builder.with_writer(std::io::stderr).try_init(),
    };
}
