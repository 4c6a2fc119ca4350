//! `attune serve`: the HTTP API, a thin face over the library. axum on tokio; bearer-token auth
//! on every route but `/health`; request limits; Prometheus metrics; graceful shutdown that
//! finishes in-flight requests and checkpoints a running fine-tune.

mod allow;
mod cache;
mod cohere;
mod dashboard;
mod error;
mod jobs;
mod keys;
mod metrics;
mod openai;
mod openapi;
mod routes;
pub mod types;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use allow::AllowList;
pub use error::ApiError;
pub use jobs::work;
pub use keys::{ApiKey, Scope};

use crate::error::{Error, Result};
use crate::source::SourceOptions;

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Texts per embed or classify call (the hosted reference's 96).
    pub max_texts: usize,
    /// Characters per text.
    pub max_text_chars: usize,
    /// Examples per classify call (each is embedded).
    pub max_examples: usize,
    /// Bytes of a JSON body.
    pub max_body_bytes: usize,
    /// Bytes of a dataset upload.
    pub max_upload_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_texts: 96,
            max_text_chars: 20_000,
            max_examples: 512,
            max_body_bytes: 4 << 20,
            max_upload_bytes: 64 << 20,
        }
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Accepted bearer tokens with their scopes; empty means no auth (and loopback only).
    pub api_keys: Vec<ApiKey>,
    /// The registry home (`ATTUNE_HOME`).
    pub home: PathBuf,
    pub limits: Limits,
    /// Memory for loaded model weights, in bytes.
    pub cache_bytes: u64,
    /// The precision every served model computes in.
    pub precision: crate::encoder::Precision,
    /// Run the fine-tuning job runner.
    pub jobs: bool,
    /// The base models requests may name besides the registry's models.
    pub allow: AllowList,
}

/// What every handler can reach.
pub struct AppState {
    pub home: PathBuf,
    pub sources: SourceOptions,
    cache: cache::ModelCache,
    metrics: Arc<metrics::Metrics>,
    limits: Limits,
    api_keys: Vec<ApiKey>,
    pub(crate) allow: AllowList,
    runner: std::sync::Mutex<Option<jobs::JobRunner>>,
}

impl AppState {
    fn notify_jobs(&self) {
        if let Some(r) = self.runner.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            r.notify();
        }
    }
}

async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if st.api_keys.is_empty() || req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110, 11.1): "bearer KEY" is as good.
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key);
    let key = given.and_then(|k| {
        st.api_keys
            .iter()
            .find(|a| constant_time_eq(a.key.as_bytes(), k.trim().as_bytes()))
    });
    match (given, key) {
        (_, Some(k)) if k.scope == Scope::Full || keys::inference_route(req.method(), req.uri().path()) => {
            next.run(req).await
        }
        (_, Some(_)) => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "this API key may only embed, classify and list models; use a full key for this route",
        )
        .into_response(),
        (Some(_), None) => ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "the API key is wrong").into_response(),
        (None, None) => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "this server needs an API key: send the header Authorization: Bearer KEY",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .observe_request(&route, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

/// The router over `state` (exposed for tests that drive it in-process).
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.limits.clone();
    let api = Router::new()
        .route("/v1/embed", post(cohere::embed_v1))
        .route("/v2/embed", post(cohere::embed_v2))
        .route("/v1/classify", post(routes::classify))
        .route("/v1/embeddings", post(openai::embeddings))
        .route(
            "/v1/finetuned-models",
            post(routes::create_finetune).get(routes::list_models),
        )
        .route(
            "/v1/finetuned-models/{id}",
            get(routes::get_finetune).delete(routes::delete_finetune),
        )
        .route("/v1/finetuned-models/{id}/map", get(routes::get_map))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/bases", get(routes::list_bases))
        .route("/v1/models/{*id}", get(openai::get_model))
        .route("/v1/datasets/{id}", get(routes::get_dataset))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .route("/health", get(routes::health))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));
    let uploads = Router::new()
        .route("/v1/datasets", post(routes::upload_dataset))
        .layer(DefaultBodyLimit::max(limits.max_upload_bytes));
    api.merge(uploads)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .merge(dashboard::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn serve(cfg: ServerConfig, sources: SourceOptions, on_ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let mut host = cfg.host.clone();
    if cfg.api_keys.is_empty() && !is_loopback(&host) {
        eprintln!("attune: no API key is set, so the server listens on 127.0.0.1 only (set --api-key or ATTUNE_API_KEY to serve {host})");
        host = "127.0.0.1".into();
    }
    std::fs::create_dir_all(&cfg.home).map_err(|e| Error::io(&cfg.home, e))?;
    crate::registry::Registry::open(&cfg.home)?;
    let runner = cfg
        .jobs
        .then(|| jobs::JobRunner::start(cfg.home.clone(), sources.clone()));
    let state = Arc::new(AppState {
        home: cfg.home.clone(),
        sources,
        cache: cache::ModelCache::new(cfg.cache_bytes, cfg.precision),
        metrics: Arc::default(),
        limits: cfg.limits.clone(),
        api_keys: cfg.api_keys.clone(),
        allow: cfg.allow.clone(),
        runner: std::sync::Mutex::new(runner),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let app = router(state.clone());
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host.as_str(), cfg.port))
            .await
            .map_err(|e| Error::io(format!("{host}:{}", cfg.port), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("{host}:{}", cfg.port), e))?;
        on_ready(addr);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Error::io(addr.to_string(), e))
    });
    // In-flight requests are done; a running job now checkpoints and stops.
    let runner = state.runner.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(r) = runner {
        eprintln!("attune: stopping the job runner (a running fine-tune saves a checkpoint)");
        r.shutdown();
    }
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("attune: shutting down: finishing requests in flight");
}
