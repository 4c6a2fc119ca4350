//! API keys and what each may do. A full key reaches every route; an inference key
//! (`--api-key KEY:inference`) only embeds, classifies and lists models, so a key handed to an
//! application cannot upload data, start fine-tunes or delete models.

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Full,
    Inference,
}

/// One accepted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    pub scope: Scope,
}

impl ApiKey {
    /// `KEY`, `KEY:full` or `KEY:inference`; any other text after a colon is part of the key.
    pub fn parse(spec: &str) -> ApiKey {
        let spec = spec.trim();
        let (key, scope) = match spec.rsplit_once(':') {
            Some((k, "inference")) => (k, Scope::Inference),
            Some((k, "full")) => (k, Scope::Full),
            _ => (spec, Scope::Full),
        };
        ApiKey {
            key: key.to_string(),
            scope,
        }
    }
}

/// Whether an inference key may call `method path`.
pub fn inference_route(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    match *method {
        Method::POST => matches!(path, "/v1/embed" | "/v2/embed" | "/v1/classify" | "/v1/embeddings"),
        Method::GET => matches!(path, "/v1/models" | "/openapi.json" | "/health") || path.starts_with("/v1/models/"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_bound_routes() {
        assert_eq!(ApiKey::parse("abc").scope, Scope::Full);
        let k = ApiKey::parse("abc:inference");
        assert_eq!((k.key.as_str(), k.scope), ("abc", Scope::Inference));
        assert_eq!(ApiKey::parse("a:b").key, "a:b", "other suffixes are part of the key");
        let post = axum::http::Method::POST;
        assert!(inference_route(&post, "/v1/embed"));
        assert!(!inference_route(&post, "/v1/datasets"));
        assert!(!inference_route(&axum::http::Method::DELETE, "/v1/finetuned-models/x"));
    }
}
