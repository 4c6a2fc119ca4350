//! The web dashboard: plain HTML, CSS and JavaScript modules from `dashboard/`, compiled into
//! the binary so the page works offline with nothing else installed. It talks to the server
//! only through the public API; these files are served without a key (the page asks for one).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../dashboard/index.html"),
    ),
    (
        "/dashboard/style.css",
        "text/css; charset=utf-8",
        include_str!("../../dashboard/style.css"),
    ),
    (
        "/dashboard/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/app.js"),
    ),
    (
        "/dashboard/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/api.js"),
    ),
    (
        "/dashboard/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/ui.js"),
    ),
    (
        "/dashboard/charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../dashboard/charts.js"),
    ),
];

/// Only this server's own files and API: no CDN, no inline script.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The dashboard's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES.iter().fold(Router::new(), |r, &(path, mime, body)| {
        r.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, mime),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    body,
                )
                    .into_response()
            }),
        )
    })
}
