//! Logging setup. Conventions (docs/LOGGING.md): one span per request named
//! by its matched route, with the request id; no personal data or secrets.

use crate::config::{Config, LogFormat};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the process's subscriber, writing to stderr (stdout is for
/// command output such as `--print-config`). `RUST_LOG` overrides `log_level`.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second call (tests) keeps the first subscriber.
    let _ = match config.log_format {
        LogFormat::Text => {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(true)
                        // Colour codes only for a person at a terminal, never into files or collectors.
                        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                        .with_writer(std::io::stderr),
                )
                .try_init()
        }
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
