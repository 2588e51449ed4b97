//! The built browser viewer: static files at `/`, and `index.html` for the
//! dashboard routes (`/`, `/s/{session_id}`), with the right MIME types.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The MIME type for a file name.
pub fn mime_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A request path as a file under `root`, refusing `..` and absolute parts.
fn file_under(root: &Path, request_path: &str) -> Option<PathBuf> {
    let relative = Path::new(request_path.trim_start_matches('/'));
    let mut path = root.to_path_buf();
    for component in relative.components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(path)
}

/// Serves the viewer's files; unknown non-asset paths fall back to `index.html`.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let Some(root) = state.static_dir.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "tether-relay: the viewer is not built (run trunk build, or pass --static-dir)\n",
        )
            .into_response();
    };
    let request_path = request.uri().path();
    let dashboard_route = request_path == "/" || request_path.starts_with("/s/");
    let path = if dashboard_route {
        Some(root.join("index.html"))
    } else {
        file_under(root, request_path)
    };
    let Some(path) = path else {
        return (StatusCode::BAD_REQUEST, "bad path\n").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, mime_type(&path))], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_viewer_file_types() {
        assert_eq!(mime_type(Path::new("a/viewer_bg.wasm")), "application/wasm");
        assert!(mime_type(Path::new("xterm.mjs")).starts_with("text/javascript"));
        assert!(mime_type(Path::new("xterm.css")).starts_with("text/css"));
    }

    #[test]
    fn refuses_paths_leaving_the_root() {
        let root = Path::new("/srv/dist");
        assert_eq!(
            file_under(root, "/a/b.js"),
            Some(PathBuf::from("/srv/dist/a/b.js"))
        );
        assert_eq!(file_under(root, "/../etc/passwd"), None);
    }
}
