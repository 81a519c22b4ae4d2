use std::process::ExitCode;

use clap::Parser;
use webhook_gateway::cli::{self, Cli, Command};
use webhook_gateway::config::Config;
use webhook_gateway::store::sealing::SealingKeys;
use webhook_gateway::{server, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::GenerateSealingKey { id }) = &cli.command {
        println!("{}", SealingKeys::generate(id));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("webhook-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        command => manage(command, config),
    }
}

fn serve(config: Config) -> ExitCode {
    telemetry::init(config.logging, telemetry::Sink::Stdout);
    let outcome = actix_web::rt::System::new().block_on(server::run(config));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("webhook gateway stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn manage(command: Command, config: Config) -> ExitCode {
    telemetry::init(config.logging, telemetry::Sink::Stderr);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(cli::run(command, &config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webhook-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
