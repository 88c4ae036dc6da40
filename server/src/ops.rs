//! The operations hooks: liveness and readiness probes for a load balancer
//! or an orchestrator, and Prometheus metrics on an address of their own.
use arbiter_core::services::maintenance;
use arbiter_core::storage::Db;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// `GET /healthz`: the process is up and answering (no database call).
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers and its schema is this
/// binary's; 503 (with the reason) otherwise, so a balancer sends no
/// traffic here meanwhile.
pub async fn readyz(State(db): State<Db>) -> Response {
    match maintenance::readiness(&db).await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(serde_json::json!({ "status": "not ready", "reason": reason })),
        )
            .into_response(),
    }
}

/// Latency buckets in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0];

/// The process's Prometheus recorder, installed on first use (once per
/// process: the `metrics` facade has one global recorder). Until then every
/// `metrics::` call is a no-op.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("arbiter_writer_batch_size".into()), &BATCH_BUCKETS)
                })
                .expect("the bucket lists are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Counts each request by route pattern (not by path, so ids do not make
/// new series), method and status, with its latency.
pub async fn track(req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None => "unmatched".to_owned(),
    };
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("arbiter_http_requests_total", &labels).increment(1);
    metrics::histogram!("arbiter_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}

/// The metrics listener's routes: `GET /metrics` only.
pub fn metrics_router(db: Db) -> Router {
    let handle = recorder();
    Router::new().route("/metrics", get(scrape)).with_state((db, handle))
}

/// Sets the gauges read at scrape time, then renders everything.
async fn scrape(State((db, handle)): State<(Db, PrometheusHandle)>) -> Response {
    match maintenance::gauges(&db).await {
        Ok(g) => {
            metrics::gauge!("arbiter_live_leases").set(g.live_leases as f64);
            metrics::gauge!("arbiter_writer_queue_depth").set(g.writer_queue_depth as f64);
            for (pool, open, idle) in g.pools {
                metrics::gauge!("arbiter_db_pool_connections", "pool" => pool, "state" => "idle").set(idle as f64);
                metrics::gauge!("arbiter_db_pool_connections", "pool" => pool, "state" => "busy")
                    .set(f64::from(open) - idle as f64);
            }
            metrics::gauge!("arbiter_database_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database gauges could not be read");
            metrics::gauge!("arbiter_database_up").set(0.0);
        }
    }
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}
