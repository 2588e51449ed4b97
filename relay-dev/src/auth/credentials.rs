//! Where a request carries its credential: `X-API-Key`, `Authorization:
//! Bearer`, or (browsers cannot set headers on a WebSocket) the subprotocols
//! `omnara-key.{token}` / `omnara-supabase.{token}`.

use axum::http::HeaderMap;

/// Subprotocol prefixes that carry a credential.
const CREDENTIAL_SUBPROTOCOLS: [&str; 2] = ["omnara-key.", "omnara-supabase."];

/// The first offered subprotocol carrying a credential: `(subprotocol, token)`.
pub(crate) fn credential_subprotocol(headers: &HeaderMap) -> Option<(String, String)> {
    offered_subprotocols(headers).find_map(|offered| {
        CREDENTIAL_SUBPROTOCOLS.iter().find_map(|prefix| {
            offered
                .strip_prefix(prefix)
                .map(|token| (offered.to_string(), token.to_string()))
        })
    })
}

/// The subprotocols a WebSocket upgrade request offers, in order.
pub(crate) fn offered_subprotocols(headers: &HeaderMap) -> impl Iterator<Item = &str> + '_ {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The credential in `X-API-Key` or `Authorization: Bearer`.
pub(crate) fn credential_header(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_string());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_credentials_in_headers_and_subprotocols() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-websocket-protocol",
            "tether.v1, omnara-key.abc".parse().unwrap(),
        );
        assert_eq!(
            credential_subprotocol(&headers),
            Some(("omnara-key.abc".into(), "abc".into()))
        );
        headers.insert("authorization", "Bearer xyz".parse().unwrap());
        assert_eq!(credential_header(&headers).as_deref(), Some("xyz"));
        headers.insert("x-api-key", "k".parse().unwrap());
        assert_eq!(credential_header(&headers).as_deref(), Some("k"));
    }
}
