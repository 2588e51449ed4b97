//! The viewer built into `tether-relay`: with no `--static-dir` (and none
//! in the relay's working directory) the relay serves the copy embedded at
//! build time, in brotli or gzip as the client accepts, with long cache
//! lifetimes for trunk's content-named files and revalidation for the rest;
//! `--static-dir` still overrides it.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tests::relay::RelayProcess;

/// One raw HTTP/1.1 exchange, so the test sees the bytes as sent.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect to the relay");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

/// The relay as a user starts it: no `--static-dir`, run from a directory
/// without `dist/`. `None` (skipped, or failed under
/// `TETHER_REQUIRE_TOOLS=1`) when this binary was built without the viewer.
fn relay_without_static_dir() -> Option<RelayProcess> {
    let relay = RelayProcess::start();
    let index = get(relay.addr(), "/", &[]);
    let built_in = index.status == 200;
    tests::tools::require(&if built_in {
        vec![]
    } else {
        vec![
            "a tether-relay built after the viewer (trunk build --release, then cargo build)"
                .into(),
        ]
    })
    .then_some(relay)
}

#[test]
fn serves_the_built_in_viewer_precompressed_with_cache_headers() {
    let Some(relay) = relay_without_static_dir() else {
        return;
    };
    let addr = relay.addr();
    let plain = get(addr, "/", &[]);
    let html = String::from_utf8(plain.body.clone()).expect("the index is text");
    assert!(html.contains("<html"), "{html}");
    assert_eq!(plain.header("content-encoding"), None, "nothing accepted");
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    assert_eq!(
        plain.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(plain.header("content-security-policy").is_some());

    let br = get(addr, "/", &[("Accept-Encoding", "gzip, deflate, br, zstd")]);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    assert_eq!(unbrotli(&br.body), plain.body);
    let gzip = get(addr, "/s/some-session", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gunzip(&gzip.body),
        plain.body,
        "dashboard routes get the index"
    );

    // The index revalidates: its ETag answers 304 while it is unchanged.
    let etag = br.header("etag").expect("an ETag").to_owned();
    let again = get(
        addr,
        "/",
        &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    // The wasm and its JavaScript are named after their content: a year.
    let wasm = html
        .split('"')
        .find(|s| s.ends_with("_bg.wasm"))
        .expect("the index names the wasm");
    let wasm = format!("/{}", wasm.trim_start_matches('/'));
    let compressed = get(addr, &wasm, &[("Accept-Encoding", "br;q=1, gzip;q=0.5")]);
    assert_eq!(compressed.status, 200, "{wasm}");
    assert_eq!(compressed.header("content-encoding"), Some("br"));
    assert_eq!(compressed.header("content-type"), Some("application/wasm"));
    assert_eq!(
        compressed.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let identity = get(addr, &wasm, &[("Accept-Encoding", "identity")]);
    assert!(identity.body.starts_with(b"\0asm"));
    assert!(compressed.body.len() * 2 < identity.body.len());
    assert_eq!(unbrotli(&compressed.body), identity.body);
    let gz = get(addr, &wasm, &[("Accept-Encoding", "gzip")]);
    assert_eq!(gunzip(&gz.body), identity.body);

    // xterm.js keeps its name: revalidated, not cached for a year.
    let xterm = get(addr, "/xterm.mjs", &[("Accept-Encoding", "br")]);
    assert_eq!(xterm.header("cache-control"), Some("no-cache"));
    assert_eq!(
        xterm.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(get(addr, "/missing.js", &[]).status, 404);
}

#[test]
fn static_dir_overrides_the_built_in_viewer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>dev build</html>").unwrap();
    let relay = RelayProcess::start_with(&["--static-dir", dir.path().to_str().unwrap()]);
    let index = get(relay.addr(), "/", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(index.status, 200);
    assert_eq!(index.body, b"<html>dev build</html>");
}
