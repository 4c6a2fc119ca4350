//! The small HTTP client the model sources share: timeouts so an unreachable host fails fast,
//! streamed downloads written atomically, sha256 computed on the way.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::util::write_atomic;

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("attune/", env!("CARGO_PKG_VERSION")))
        // The system's trust store, so TLS-inspecting proxies that the machine trusts work.
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .new_agent()
}

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<ureq::http::Response<ureq::Body>> {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    req.call().map_err(|e| Error::Download {
        url: url.into(),
        reason: e.to_string(),
    })
}

/// GETs `url` and parses the body as JSON.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
) -> Result<T> {
    let mut resp = get(agent, url, token)?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| Error::Download {
            url: url.into(),
            reason: e.to_string(),
        })?;
    serde_json::from_str(&text).map_err(|e| Error::Download {
        url: url.into(),
        reason: format!("unexpected answer: {e}"),
    })
}

/// Downloads `url` to `dest` (atomically) and returns the sha256 of what was written.
pub(crate) fn download(agent: &ureq::Agent, url: &str, token: Option<&str>, dest: &Path) -> Result<String> {
    let resp = get(agent, url, token)?;
    let mut reader = resp.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut failure = None;
    write_atomic(dest, |w| {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) => {
                    failure = Some(e.to_string());
                    return Err(e);
                }
            };
            hasher.update(&buf[..n]);
            w.write_all(&buf[..n])?;
        }
    })
    .map_err(|e| match failure.take() {
        Some(reason) => Error::Download {
            url: url.into(),
            reason: format!("connection broke off: {reason}"),
        },
        None => e,
    })?;
    Ok(hex::encode(hasher.finalize()))
}
