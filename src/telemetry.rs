//! Logging: `tracing` with `RUST_LOG` filtering, human lines by default or JSON.
//!
//! Secrets never reach a log line: request logs carry method, path and status only (the API
//! takes its keys in headers, which are not logged), network calls log no URL with a query,
//! and credential types redact themselves in `Debug`.

use crate::configuration::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

/// Crates whose debug output is noise for operators.
const QUIET: &str =
    "h2=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn,sled=warn,actix_server=warn";

/// The filter: `RUST_LOG` when set, else `level` with noisy crates quieted.
pub fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{level},{QUIET}")))
}

/// Installs the global subscriber. Safe to call twice (the second call does nothing).
pub fn init(settings: &LogSettings) {
    // A closed stderr (a log reader that died) must not break the gateway: by default the
    // subscriber reports write errors with `eprintln!`, which panics on a closed stderr and
    // would take the shutdown-signal task down with it.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&settings.level))
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
