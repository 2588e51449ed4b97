//! The viewer's security headers, on every page and file it is served:
//!
//! * `Content-Security-Policy`: no framing (`frame-ancestors 'none'`), scripts
//!   only from the relay's own files and the page's inline scripts by their
//!   SHA-256 (trunk's import map and loader: hashed from `index.html` as it is
//!   now, so a rebuilt viewer is still allowed), WebAssembly, WebSockets to
//!   the relay itself, the service worker and the web app manifest from the
//!   relay's own files, no plugins, no `<base>`;
//! * `X-Frame-Options: DENY` (for browsers without `frame-ancestors`),
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, HOST, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The policy of the viewer in one directory: it allows the inline scripts
/// of that directory's `index.html`.
#[derive(Debug)]
pub(super) struct Policy {
    index: PathBuf,
    /// The hashes of the index as last read.
    cached: Mutex<Option<Hashed>>,
    /// The hashes of an index that never changes (the embedded viewer's).
    fixed: Option<Arc<Vec<String>>>,
}

/// An index's inline scripts' hashes, and which version of the file they
/// are of.
#[derive(Debug)]
struct Hashed {
    /// The file's modification time and length.
    stamp: (SystemTime, u64),
    hashes: Arc<Vec<String>>,
}

impl Policy {
    /// The policy for `index` (`dist/index.html`).
    pub(super) fn new(index: PathBuf) -> Self {
        Self {
            index,
            cached: Mutex::new(None),
            fixed: None,
        }
    }

    /// The policy for an index page that never changes.
    pub(super) fn for_html(html: &str) -> Self {
        Self {
            fixed: Some(Arc::new(inline_script_hashes(html))),
            ..Self::new(PathBuf::new())
        }
    }

    /// The inline scripts' hashes of the index as it is on disk now.
    fn script_hashes(&self) -> Arc<Vec<String>> {
        if let Some(fixed) = &self.fixed {
            return fixed.clone();
        }
        let Ok(meta) = std::fs::metadata(&self.index) else {
            return Arc::default();
        };
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hashed) = cached.as_ref().filter(|h| h.stamp == stamp) {
            return hashed.hashes.clone();
        }
        let html = std::fs::read_to_string(&self.index).unwrap_or_default();
        let hashes = Arc::new(inline_script_hashes(&html));
        *cached = Some(Hashed {
            stamp,
            hashes: hashes.clone(),
        });
        hashes
    }

    /// The `Content-Security-Policy` for a request to `host` (its `Host`:
    /// `'self'` covers WebSockets to it only in newer browsers).
    fn header(&self, host: Option<&str>) -> String {
        let scripts: String = self
            .script_hashes()
            .iter()
            .map(|h| format!(" 'sha256-{h}'"))
            .collect();
        let host = host.filter(|h| is_plain_host(h));
        let sockets = host.map_or(String::new(), |h| format!(" ws://{h} wss://{h}"));
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{scripts}; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
             connect-src 'self'{sockets}; worker-src 'self'; manifest-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }
}

/// Whether `host` is a bare `host[:port]` (safe to put in a policy).
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// SHA-256 (base64) of each inline `<script>`'s exact text in `html`, as
/// CSP's `'sha256-…'` sources name them; scripts with `src` are files.
pub(super) fn inline_script_hashes(html: &str) -> Vec<String> {
    // ASCII lowercasing keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<script") {
        let tag_start = at + found;
        let Some(tag_len) = lower[tag_start..].find('>') else {
            break;
        };
        let body_start = tag_start + tag_len + 1;
        let Some(body_len) = lower[body_start..].find("</script") else {
            break;
        };
        let tag = &lower[tag_start..body_start];
        let external = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attribute| attribute.starts_with("src="));
        if !external {
            let body = &html[body_start..body_start + body_len];
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(base64::engine::general_purpose::STANDARD.encode(digest));
        }
        at = body_start + body_len;
    }
    hashes
}

/// Middleware: adds the security headers to every response of the viewer.
pub(super) async fn add_security_headers(
    State(policy): State<Arc<Policy>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&policy.header(host.as_deref())) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_as_csp_names_them() {
        let html = r#"<head><script type="importmap">{"imports": {}}</script>
            <script src="/x.js"></script><SCRIPT type="module">
import init from '/v.js';
</SCRIPT></head>"#;
        let hashes = inline_script_hashes(html);
        let expected = |text: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        assert_eq!(
            hashes,
            [
                expected(r#"{"imports": {}}"#),
                expected("\nimport init from '/v.js';\n")
            ]
        );
        // The well-known digest of the empty script.
        assert_eq!(
            inline_script_hashes("<script></script>"),
            ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]
        );
    }

    #[test]
    fn the_policy_names_the_relay_for_websockets_and_forbids_framing() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index.html");
        std::fs::write(&index, "<script>a</script>").unwrap();
        let policy = Policy::new(index.clone());
        let header = policy.header(Some("127.0.0.1:9"));
        assert!(header.contains("frame-ancestors 'none'"), "{header}");
        assert!(header.contains("worker-src 'self'; manifest-src 'self'"));
        assert!(header.contains("connect-src 'self' ws://127.0.0.1:9 wss://127.0.0.1:9"));
        let first = inline_script_hashes("<script>a</script>")[0].clone();
        assert!(header.contains(&format!("'sha256-{first}'")));
        // A rebuilt index is hashed anew.
        std::fs::write(&index, "<script>bb</script>").unwrap();
        let second = inline_script_hashes("<script>bb</script>")[0].clone();
        assert!(policy.header(None).contains(&second));
        assert!(!policy.header(Some("evil\"; script-src *")).contains("evil"));
    }
}
