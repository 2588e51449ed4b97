//! The built browser viewer: its files at `/`, and `index.html` for the
//! dashboard's own routes (`/`, `/s/{session_id}`). Served from
//! `--static-dir` (or `./dist`) by `tower-http`, else from the copy embedded
//! in the binary at build time, precompressed ([`embedded`]). Text files are labelled UTF-8,
//! and everything carries the security headers of [`headers`] (CSP, no
//! framing, no sniffing, no referrer). Other paths that name no file are 404.

mod embedded;
mod headers;

pub(crate) use embedded::Viewer;

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// The viewer's routes: everything the API and the links do not claim.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(static_dir: Option<PathBuf>) -> Router<S> {
    routes_of(static_dir, Viewer::built_in())
}

/// The routes for `static_dir` if given, else for the `built_in` viewer.
fn routes_of<S: Clone + Send + Sync + 'static>(
    static_dir: Option<PathBuf>,
    built_in: Option<Viewer>,
) -> Router<S> {
    let Some(root) = static_dir else {
        return match built_in {
            Some(viewer) => {
                let (files, bytes) = viewer.summary();
                tracing::info!(
                    "viewer: built in ({files} files, {} KiB compressed)",
                    bytes >> 10
                );
                embedded_routes(viewer)
            }
            None => {
                tracing::warn!(
                    "viewer: not built into this binary and no --static-dir \
                     (run trunk build, then cargo build)"
                );
                Router::new().fallback(not_built)
            }
        };
    };
    tracing::info!("viewer: files from {}", root.display());
    let policy = Arc::new(headers::Policy::new(root.join("index.html")));
    let index = ServeFile::new(root.join("index.html"));
    Router::new()
        .route_service("/s/", index.clone())
        .route_service("/s/{*session}", index)
        .fallback_service(ServeDir::new(root))
        .layer(map_response(utf8_text))
        .layer(from_fn_with_state(policy, headers::add_security_headers))
}

/// The routes of the viewer embedded in the binary.
fn embedded_routes<S: Clone + Send + Sync + 'static>(viewer: Viewer) -> Router<S> {
    let policy = Arc::new(headers::Policy::for_html(viewer.index_html()));
    let serve = move |method: Method, uri: Uri, headers: HeaderMap| async move {
        viewer.respond(&method, uri.path(), &headers)
    };
    Router::new()
        .fallback(serve)
        .layer(from_fn_with_state(policy, headers::add_security_headers))
}

async fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        "tether-relay: the viewer is not built (run trunk build, or pass --static-dir)\n",
    )
        .into_response()
}

/// Labels text as UTF-8 (`text/html; charset=utf-8`), and JavaScript as
/// `text/javascript` (RFC 9239) rather than the obsolete
/// `application/javascript`.
async fn utf8_text(mut response: Response) -> Response {
    let labelled = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| t.replacen("application/javascript", "text/javascript", 1))
        .filter(|t| t.starts_with("text/") && !t.contains("charset"))
        .and_then(|t| HeaderValue::from_str(&format!("{t}; charset=utf-8")).ok());
    if let Some(value) = labelled {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    async fn get(router: &Router<()>, path: &str) -> (StatusCode, Option<String>, Vec<u8>) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, content_type, body.to_vec())
    }

    #[tokio::test]
    async fn serves_files_and_the_index_for_dashboard_routes() {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), "<html>viewer</html>").unwrap();
        std::fs::write(dist.path().join("viewer_bg.wasm"), b"\0asm").unwrap();
        std::fs::write(dist.path().join("xterm.mjs"), "export {}").unwrap();
        std::fs::write(dist.path().join("style.css"), "body {}").unwrap();
        let router = routes(Some(dist.path().to_path_buf()));
        for path in ["/", "/s/", "/s/00000000-0000-4000-8000-000000000000"] {
            let (status, content_type, body) = get(&router, path).await;
            assert_eq!(
                (status, body.as_slice()),
                (StatusCode::OK, &b"<html>viewer</html>"[..]),
                "{path}"
            );
            assert_eq!(
                content_type.as_deref(),
                Some("text/html; charset=utf-8"),
                "{path}"
            );
        }
        let (_, wasm, _) = get(&router, "/viewer_bg.wasm").await;
        assert_eq!(wasm.as_deref(), Some("application/wasm"));
        let (_, mjs, _) = get(&router, "/xterm.mjs").await;
        assert_eq!(mjs.as_deref(), Some("text/javascript; charset=utf-8"));
        let (_, css, _) = get(&router, "/style.css").await;
        assert_eq!(css.as_deref(), Some("text/css; charset=utf-8"));
        assert_eq!(get(&router, "/missing.js").await.0, StatusCode::NOT_FOUND);
        let response = router
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(header("x-frame-options"), Some("DENY"));
        assert_eq!(header("x-content-type-options"), Some("nosniff"));
        assert_eq!(header("referrer-policy"), Some("no-referrer"));
        assert!(
            header("content-security-policy").is_some_and(|p| p.contains("frame-ancestors 'none'"))
        );
        assert_eq!(
            get(&router, "/../etc/passwd").await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn says_when_the_viewer_is_not_built() {
        let router = routes_of(None, None);
        let (status, _, body) = get(&router, "/").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8(body).unwrap().contains("not built"));
    }
}
