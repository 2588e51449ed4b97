//! The Origin check of WebSocket upgrades: a browser names the page that
//! opens a link in `Origin`, and only the relay's own pages — the origin of
//! `--public-url` when set, else the one the request's `Host` names (over
//! `http` or `https`) — or an origin given with `--allowed-origin` may open
//! one. Others get 403 before the upgrade. Clients that send no `Origin`
//! (`tether`, scripts: not browsers) are not affected.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::api::ErrorBody;

use crate::config::Config;
use crate::metrics::add;
use crate::state::AppState;

/// Middleware: refuses (403) an upgrade from a page of a foreign origin.
pub(super) async fn check_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match refused_origin(&state.config, request.headers()) {
        None => next.run(request).await,
        Some(origin) => {
            add(&state.metrics.auth_failures, 1);
            tracing::info!(%origin, "WebSocket upgrade refused: foreign origin");
            let reason =
                format!("origin {origin} may not open links to this relay (see --allowed-origin)");
            (StatusCode::FORBIDDEN, Json(ErrorBody::new(reason))).into_response()
        }
    }
}

/// The request's `Origin` if it may not open a link (as sent, for the log).
fn refused_origin(config: &Config, headers: &HeaderMap) -> Option<String> {
    let sent = headers.get(ORIGIN)?;
    let text = String::from_utf8_lossy(sent.as_bytes()).into_owned();
    let Some(origin) = normalize(&text) else {
        return Some(text); // `null` (sandboxed pages, files), or garbage
    };
    let own: Vec<String> = match &config.public_url {
        Some(url) => normalize(url).into_iter().collect(),
        None => headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| {
                ["http", "https"]
                    .iter()
                    .filter_map(|scheme| normalize(&format!("{scheme}://{host}")))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let allowed = config.allowed_origins.iter().filter_map(|o| normalize(o));
    let ok = own.into_iter().chain(allowed).any(|o| o == origin);
    (!ok).then_some(text)
}

/// `scheme://host[:port]` of an `http(s)` URL or origin, lowercase, without
/// the scheme's default port; `None` for anything else.
fn normalize(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn own_allowed_and_absent_origins_pass_others_are_refused() {
        let mut config = Config::for_tests("/tmp/unused".into());
        let refused = |config: &Config, origin: Option<&str>, host: &str| {
            refused_origin(config, &headers(origin, host)).is_some()
        };
        assert!(!refused(&config, None, "relay:8080"));
        assert!(!refused(&config, Some("http://relay:8080"), "relay:8080"));
        assert!(!refused(&config, Some("HTTPS://Relay"), "relay:443"));
        assert!(refused(&config, Some("http://evil.example"), "relay:8080"));
        assert!(refused(&config, Some("http://relay:8081"), "relay:8080"));
        assert!(refused(&config, Some("null"), "relay:8080"));

        config.allowed_origins = vec!["https://app.example/".into()];
        assert!(!refused(&config, Some("https://app.example"), "relay:8080"));
        config.public_url = Some("https://relay.example.com/".into());
        assert!(!refused(
            &config,
            Some("https://relay.example.com"),
            "127.0.0.1:8080"
        ));
        assert!(
            refused(&config, Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            "with --public-url, Host no longer names the relay's origin"
        );
    }

    #[test]
    fn origins_are_compared_without_default_ports_or_paths() {
        assert_eq!(
            normalize("https://a.example:443/x").as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            normalize("http://[::1]:80").as_deref(),
            Some("http://[::1]")
        );
        assert_eq!(normalize("http://a:8080").as_deref(), Some("http://a:8080"));
        assert_eq!(normalize("ftp://a"), None);
        assert_eq!(normalize("http://user@a"), None);
    }
}
