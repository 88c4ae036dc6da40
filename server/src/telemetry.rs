use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG` (default: info for Arbiter, warn
/// for the rest); `json`: one JSON object per line (time, level, target,
/// message, fields, the request's span).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,arbiter_server=info,arbiter_core=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().with_current_span(true).try_init() } else { builder.try_init() };
}
