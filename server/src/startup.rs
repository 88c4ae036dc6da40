//! Builds the application: database, router (pages, server functions, forms,
//! REST API, static files) and the listener.
use crate::security::{self, TrustedProxies};
use crate::{api, auth, forms};
use anyhow::Context;
use app::PublicUrl;
use app::{shell, App};
use arbiter_core::services::reveal::Reveal;
use arbiter_core::services::throttle::Throttle;
use arbiter_core::storage::Db;
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    /// Where the built site is (`pkg/arbiter.{js,wasm,css}`, `favicon.ico`).
    pub site_root: PathBuf,
    /// Mark the session cookie `Secure` (also implied by an https public URL).
    pub secure_cookies: bool,
    /// How users reach the site, for links in invites (e.g. `https://arbiter.example.org`).
    pub public_url: String,
    /// Largest import upload, in bytes.
    pub max_import_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Where to serve `GET /metrics` (Prometheus); none: no metrics.
    pub metrics_addr: Option<SocketAddr>,
}

/// What the handlers share, behind one `Arc`: each request clones the state
/// for every layer and extractor that takes it, and a clone is then one
/// reference count (field by field, the Leptos options' texts and the
/// database's pools and caches, it was ~2% of the servers' CPU in the load
/// benchmark).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<TrustedProxies> {
    fn from_ref(state: &AppState) -> Self {
        state.proxies.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    pub reveal: Arc<Reveal>,
    pub throttle: Arc<Throttle>,
    pub proxies: Arc<TrustedProxies>,
}

impl Shared {
    pub fn secure_cookies(&self) -> bool {
        self.config.secure_cookies || self.config.public_url.starts_with("https://")
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The metrics listener and its router, when `metrics_addr` is set.
    metrics: Option<(TcpListener, Router)>,
    pub db: Db,
    public_url: String,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db = Db::connect(&config.database_url).await?;
        Self::with_db(config, db).await
    }

    pub async fn with_db(mut config: Config, db: Db) -> anyhow::Result<Application> {
        // The code highlighter's grammars load once (tens of ms): not on
        // the first annotator's request.
        tokio::task::spawn_blocking(|| arbiter_core::render::markdown("```rust\nfn warm() {}\n```\n"));
        let listener =
            TcpListener::bind(config.addr).await.with_context(|| format!("Failed to listen on {}", config.addr))?;
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", listener.local_addr()?);
        }
        config.public_url = config.public_url.trim_end_matches('/').to_owned();
        let leptos_options = LeptosOptions::builder()
            .output_name("arbiter")
            .site_root(config.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(listener.local_addr()?)
            .build();
        let state = AppState(Arc::new(Shared {
            leptos_options: leptos_options.clone(),
            db: db.clone(),
            reveal: Arc::new(Reveal::default()),
            throttle: Arc::new(Throttle::default()),
            proxies: Arc::new(config.trusted_proxies.clone()),
            config: Arc::new(config),
        }));
        let metrics = match state.config.metrics_addr {
            Some(addr) => {
                let listener =
                    TcpListener::bind(addr).await.with_context(|| format!("Failed to listen for metrics on {addr}"))?;
                Some((listener, crate::ops::metrics_router(db.clone())))
            }
            None => None,
        };
        let public_url = state.config.public_url.clone();
        Ok(Application { listener, router: router(state), metrics, db, public_url })
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The metrics listener's address, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until Ctrl-C / SIGTERM, then closes the database cleanly.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        // The peer address feeds the login throttle.
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server failed")?;
        if let Some(task) = metrics {
            task.abort();
        }
        self.db.close().await;
        Ok(())
    }
}

/// The pages' route list, generated once per process. Generating it sets a
/// process-wide flag in leptos (`SuppressResourceLoad`) under which every
/// resource created anywhere in the process never loads: a second app built
/// in the same process (tests, benchmarks) froze pages the first one was
/// rendering at that moment (docs/decisions.md).
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Whether pages other than the admins' load the annotator's bundle: when
/// it was built, and not before the full one (`cargo leptos watch` after
/// `scripts/build.sh` rebuilds only the full one; an older annotator's
/// bundle would not match the server's pages).
fn annotator_bundle_is_current(pkg: &std::path::Path, state: &AppState) -> bool {
    let built = |name: &str| std::fs::metadata(pkg.join(format!("{name}.wasm"))).and_then(|m| m.modified()).ok();
    match (built(app::ANNOTATOR_BUNDLE), built(&state.leptos_options.output_name)) {
        (Some(annotator), Some(full)) => annotator >= full,
        _ => false,
    }
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let (db, reveal, public_url) = (state.db.clone(), state.reveal.clone(), state.config.public_url.clone());
    let small = annotator_bundle_is_current(&state.config.site_root.join(&*state.leptos_options.site_pkg_dir), &state);
    let pages: Router<AppState> = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(db.clone());
                provide_context(reveal.clone());
                provide_context(PublicUrl(public_url.clone()));
                provide_context(app::AnnotatorBundle(small));
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        // Pages that do not exist get the app's own 404 page.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Server functions read bodies of at most the API's size; a larger
        // one is a 413 before the function runs.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(api::JSON_LIMIT));

    // The built assets are served here, not by leptos_axum's file handler:
    // that one answers a found file inside a reactive owner that can pick up
    // another request's response options, so a page answered 404 at the same
    // moment (a broken image link) turned `/pkg/arbiter.wasm` into a 404 and
    // the page never hydrated (docs/decisions.md).
    let site = state.config.site_root.clone();
    let assets: Router<AppState> = Router::new()
        .nest_service("/pkg", ServeDir::new(site.join("pkg")))
        .route_service("/favicon.ico", ServeFile::new(site.join("favicon.ico")));

    let max_import = state.config.max_import_bytes;
    Router::new()
        .route("/healthz", axum::routing::get(crate::ops::healthz))
        .route("/readyz", axum::routing::get(crate::ops::readyz))
        .nest("/api/v1", api::router(max_import))
        .merge(forms::router(max_import))
        .merge(assets)
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard_pages))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::resolve_user))
        .layer(axum::middleware::from_fn(security::csrf_guard))
        .layer(axum::middleware::from_fn_with_state(state.proxies.clone(), security::client_addr))
        .layer(axum::middleware::from_fn(security::json_413))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, security::default_csp()))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(crate::ops::track))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(crate::isolation::isolate))
        .with_state(state)
}

/// (method, path) of every axum route outside the Leptos pages and server
/// functions: the REST API and the form posts.
pub fn http_routes() -> Vec<(String, String)> {
    let api = api::routes(0).into_iter().map(|(m, p, _)| (m.to_string(), format!("/api/v1{p}")));
    let forms = forms::routes(0).into_iter().map(|(p, _)| ("POST".to_string(), p.to_string()));
    api.chain(forms).collect()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
