//! `attune serve`: the HTTP API.

use clap::Args;

use attune::server::{serve, AllowList, ApiKey, Limits, ServerConfig};

use super::{source_options, CliError};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (without an API key, only loopback is allowed).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Accepted API keys (repeat the flag, or comma-separate them in ATTUNE_API_KEY). KEY can do
    /// everything; KEY:inference only embeds, classifies and lists models.
    #[arg(
        long = "api-key",
        env = "ATTUNE_API_KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// Memory for loaded models, in MiB.
    #[arg(long, default_value_t = 2048)]
    cache_mb: u64,
    /// Texts per embed or classify call.
    #[arg(long, default_value_t = 96)]
    max_texts: usize,
    /// Largest JSON request body, in KiB (dataset uploads may be up to 64 MiB).
    #[arg(long, default_value_t = 4096)]
    max_body_kb: usize,
    /// Do not run fine-tuning jobs in this process (serve only; `attune worker` processes train
    /// them).
    #[arg(long = "no-worker", visible_alias = "no-jobs")]
    no_jobs: bool,
    /// A base model that requests may name besides the registry's models (repeat the flag; a
    /// Hub id or a folder). The default model is always allowed.
    #[arg(long = "allow-model", env = "ATTUNE_ALLOW_MODELS", value_delimiter = ',')]
    allow_models: Vec<String>,
    /// Let requests name any folder on this machine or any Hub id (only for a trusted network).
    #[arg(long)]
    allow_any_model: bool,
    /// The precision every served model computes in: f32, bf16 or int8 (check the cost first
    /// with `attune eval --dtype`).
    #[arg(long, env = "ATTUNE_DTYPE", default_value = "f32")]
    dtype: attune::Precision,
}

pub fn run(a: ServeArgs) -> Result<(), CliError> {
    let cfg = ServerConfig {
        host: a.host.clone(),
        port: a.port,
        api_keys: a
            .api_keys
            .iter()
            .map(|k| ApiKey::parse(k))
            .filter(|k| !k.key.is_empty())
            .collect(),
        home: attune::registry::default_home(),
        limits: Limits {
            max_texts: a.max_texts,
            max_body_bytes: a.max_body_kb << 10,
            ..Limits::default()
        },
        cache_bytes: a.cache_mb << 20,
        precision: a.dtype,
        jobs: !a.no_jobs,
        allow: {
            let mut allow = AllowList::default();
            allow.models.extend(a.allow_models.iter().map(|m| m.trim().to_string()));
            allow.any = a.allow_any_model;
            allow
        },
    };
    let keys = cfg.api_keys.len();
    serve(cfg, source_options(), |addr| {
        eprintln!(
            "attune: serving on http://{addr} ({}); docs at /openapi.json",
            if keys > 0 {
                format!("{keys} API key(s)")
            } else {
                "no API key".into()
            }
        );
    })?;
    Ok(())
}
