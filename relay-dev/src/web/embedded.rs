//! The viewer embedded in the binary at build time (`build.rs` reads
//! trunk's `dist/`): every file with its gzip and brotli copies, served by
//! the request's `Accept-Encoding`, so one binary serves everything and no
//! request compresses anything.
//!
//! Caching: trunk names the wasm, its JavaScript and the CSS after their
//! content (`viewer-wasm-<hash>_bg.wasm`), so those are cached for a year
//! (`public, max-age=31536000, immutable`); `index.html` and the files with
//! fixed names (`xterm.mjs`) are `no-cache`: revalidated each time with
//! their `ETag`, which answers `304 Not Modified` while they are unchanged.

use axum::body::Body;
use axum::http::header::{
    ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One file of the viewer, as `build.rs` embedded it.
#[derive(Debug)]
pub(super) struct EmbeddedFile {
    /// Path under the viewer's root, without the leading `/`.
    pub(super) path: &'static str,
    /// A quoted tag of the content (`"0123456789abcdef"`).
    pub(super) etag: &'static str,
    /// The file as trunk wrote it.
    pub(super) identity: &'static [u8],
    /// gzip (level 9), when smaller.
    pub(super) gzip: Option<&'static [u8]>,
    /// brotli (quality 11), when smaller.
    pub(super) brotli: Option<&'static [u8]>,
}

/// The files of the viewer this binary was built with; empty when `dist/`
/// was not built then.
pub(super) static FILES: &[EmbeddedFile] = include!(concat!(env!("OUT_DIR"), "/viewer_files.rs"));

/// Cache lifetime of content-named files.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Files whose name stays: revalidated every time.
const REVALIDATE: &str = "no-cache";

/// The embedded viewer: its files, and `index.html` among them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Viewer {
    files: &'static [EmbeddedFile],
    index: &'static EmbeddedFile,
}

impl Viewer {
    /// The viewer built into this binary, if `dist/` was there.
    pub(crate) fn built_in() -> Option<Self> {
        Self::of(FILES)
    }

    /// A viewer of `files`, if they hold an `index.html`.
    pub(super) fn of(files: &'static [EmbeddedFile]) -> Option<Self> {
        let index = files.iter().find(|f| f.path == "index.html")?;
        Some(Self { files, index })
    }

    /// How many files, and their size as sent with brotli (or gzip, or as is).
    pub(crate) fn summary(&self) -> (usize, usize) {
        let smallest = |f: &EmbeddedFile| f.brotli.or(f.gzip).map_or(f.identity.len(), <[u8]>::len);
        (self.files.len(), self.files.iter().map(smallest).sum())
    }

    /// The index page (its inline scripts go into the CSP).
    pub(super) fn index_html(&self) -> &'static str {
        std::str::from_utf8(self.index.identity).unwrap_or_default()
    }

    /// Answers a request for `path`: the file (dashboard routes `/` and
    /// `/s/…` get the index), in the best encoding the client accepts.
    pub(super) fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let file = match path {
            "/" | "/s" => Some(self.index),
            p if p.starts_with("/s/") => Some(self.index),
            p => self
                .files
                .iter()
                .find(|f| Some(f.path) == p.strip_prefix('/')),
        };
        match file {
            Some(file) => serve(file, headers),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// One file, by `Accept-Encoding`, with its cache headers (or a 304).
fn serve(file: &'static EmbeddedFile, request: &HeaderMap) -> Response {
    let accepted = request
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let (encoding, body) = choose(file, &accepted);
    let etag = match encoding {
        Some(coding) => format!("{}-{coding}\"", file.etag.trim_end_matches('"')),
        None => file.etag.to_string(),
    };
    let mut headers = HeaderMap::new();
    let cache = if is_content_named(file.path) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if file.gzip.is_some() || file.brotli.is_some() {
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    if not_modified(request, file) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(file.path)),
    );
    if let Some(coding) = encoding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    (headers, Body::from(body)).into_response()
}

/// The encoding to send (`br`, `gzip`, or none) and its bytes: the one the
/// client weights highest among those the file has, brotli first on a tie.
fn choose(
    file: &'static EmbeddedFile,
    accept_encoding: &str,
) -> (Option<&'static str>, &'static [u8]) {
    let weight = |coding: &str| -> f32 {
        let mut star = None;
        for item in accept_encoding.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if name == coding || (coding == "gzip" && name == "x-gzip") {
                return q;
            }
            if name == "*" {
                star = Some(q);
            }
        }
        star.unwrap_or(0.0)
    };
    let candidates = [("br", file.brotli), ("gzip", file.gzip)];
    let best = candidates
        .into_iter()
        .filter_map(|(coding, bytes)| Some((coding, bytes?, weight(coding))))
        .filter(|&(_, _, q)| q > 0.0)
        .fold(None, |best: Option<(&str, &[u8], f32)>, c| match best {
            Some(b) if b.2 >= c.2 => Some(b),
            _ => Some(c),
        });
    match best {
        Some((coding, bytes, _)) => (Some(coding), bytes),
        None => (None, file.identity),
    }
}

/// Whether the request's `If-None-Match` names the file as it is (in any
/// encoding).
fn not_modified(request: &HeaderMap, file: &EmbeddedFile) -> bool {
    let tag = file.etag.trim_matches('"');
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t.split('-').next() == Some(tag))
}

/// Whether trunk named the file after its content: the stem ends in
/// `-<16 hex digits>` (or `-<hex>_bg` for the wasm), e.g.
/// `viewer-wasm-92659e2055fbc643_bg.wasm`, `style-d46640e760ffdca.css`.
pub(super) fn is_content_named(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Content-Type` for a file name (text in UTF-8, JavaScript as
/// `text/javascript` per RFC 9239).
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_FILES: &[EmbeddedFile] = &[
        EmbeddedFile {
            path: "index.html",
            etag: "\"00000000000000aa\"",
            identity: b"<html>index</html>",
            gzip: Some(b"gz-index"),
            brotli: Some(b"br-index"),
        },
        EmbeddedFile {
            path: "viewer-wasm-92659e2055fbc643_bg.wasm",
            etag: "\"00000000000000bb\"",
            identity: b"\0asm....",
            gzip: Some(b"gz-wasm"),
            brotli: None,
        },
    ];

    fn get(path: &str, headers: &[(&'static str, &'static str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        Viewer::of(TEST_FILES)
            .unwrap()
            .respond(&Method::GET, path, &map)
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn picks_the_encoding_the_client_weights_highest() {
        let br = get("/", &[("accept-encoding", "gzip, deflate, br, zstd")]);
        assert_eq!(header(&br, "content-encoding"), Some("br"));
        assert_eq!(header(&br, "etag"), Some("\"00000000000000aa-br\""));
        let gzip = get("/", &[("accept-encoding", "br;q=0.5, gzip")]);
        assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
        let plain = get("/", &[("accept-encoding", "br;q=0, gzip;q=0")]);
        assert_eq!(header(&plain, "content-encoding"), None);
        assert_eq!(header(&get("/", &[]), "content-encoding"), None);
        let star = get("/s/some-session", &[("accept-encoding", "*")]);
        assert_eq!(header(&star, "content-encoding"), Some("br"));
        // The wasm has no brotli copy: gzip it is.
        let wasm = get(
            "/viewer-wasm-92659e2055fbc643_bg.wasm",
            &[("accept-encoding", "br, gzip")],
        );
        assert_eq!(header(&wasm, "content-encoding"), Some("gzip"));
        assert_eq!(header(&wasm, "content-type"), Some("application/wasm"));
        assert_eq!(header(&wasm, "vary"), Some("accept-encoding"));
    }

    #[test]
    fn content_named_files_are_immutable_and_the_index_revalidates() {
        let wasm = get("/viewer-wasm-92659e2055fbc643_bg.wasm", &[]);
        assert_eq!(header(&wasm, "cache-control"), Some(IMMUTABLE));
        let index = get("/", &[]);
        assert_eq!(header(&index, "cache-control"), Some("no-cache"));
        assert_eq!(
            header(&index, "content-type"),
            Some("text/html; charset=utf-8")
        );
        let again = get("/", &[("if-none-match", "\"00000000000000aa-br\"")]);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            get("/", &[("if-none-match", "\"ff\"")]).status(),
            StatusCode::OK
        );
        assert_eq!(get("/missing.js", &[]).status(), StatusCode::NOT_FOUND);
        let post = Viewer::of(TEST_FILES)
            .unwrap()
            .respond(&Method::POST, "/", &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn names_trunk_derives_from_content() {
        assert!(is_content_named("viewer-wasm-92659e2055fbc643_bg.wasm"));
        assert!(is_content_named("viewer-wasm-92659e2055fbc643.js"));
        assert!(is_content_named("style-d46640e760ffdca.css"));
        assert!(!is_content_named("index.html"));
        assert!(!is_content_named("xterm.mjs"));
        assert!(!is_content_named("addon-fit.mjs"));
        assert!(!is_content_named("viewer-wasm.js"));
    }

    #[test]
    fn the_manifest_and_the_service_worker_have_their_types() {
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(content_type("sw.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("icons/icon-192.png"), "image/png");
        assert!(!is_content_named("sw.js"));
    }
}
