//! The `storefront` binary: parse the command line, load configuration, hand over to the
//! library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use storefront::cli::{self, Cli};
use storefront::config::Config;
use storefront::http::ClientFaultsBelowError;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Configuration first: it loads .env, which may set RUST_LOG.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("storefront: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Logs go to stderr, so a command's own output on stdout stays machine-readable.
    tracing_subscriber::registry()
        .with(EnvFilter::new(&config.log_filter))
        .with(ClientFaultsBelowError)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    match cli::run(cli, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storefront: {err:#}");
            ExitCode::FAILURE
        }
    }
}
