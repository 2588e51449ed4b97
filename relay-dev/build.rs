//! Embeds the built browser viewer (trunk's `dist/` at the workspace root,
//! or `$TETHER_VIEWER_DIST`) in `tether-relay`, each file with gzip and
//! brotli copies compressed here once, so one binary serves everything and
//! no request compresses anything.
//!
//! Writes `$OUT_DIR/viewer_files.rs`: a slice of `EmbeddedFile`s (see
//! `src/web/embedded.rs`), empty when the viewer is not built — the relay
//! then answers "viewer not built" (or serves `--static-dir`). Build the
//! viewer first (`trunk build --release`, as `scripts/test` does); cargo
//! rebuilds the relay when a file in `dist/` changes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A compressed copy is kept only when it is at least this much smaller.
const MIN_GAIN: f64 = 0.95;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TETHER_VIEWER_DIST");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = match std::env::var_os("TETHER_VIEWER_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"),
    };
    let mut code = String::from("&[\n");
    // Without a built viewer nothing is watched: a missing path would make
    // cargo rebuild the relay on every build. Build the viewer first.
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
        let mut files = Vec::new();
        collect(&dist, &dist, &mut files);
        files.sort();
        let store = out.join("viewer");
        for relative in files {
            embed(&dist, &relative, &store, &mut code);
        }
    }
    code.push_str("]\n");
    std::fs::write(out.join("viewer_files.rs"), code).expect("write viewer_files.rs");
}

/// Every file under `dir`, as paths relative to `root` with `/` separators.
fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        // trunk stages a build in `dist/.stage`: never half a viewer.
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
            files.push(parts.join("/"));
        }
    }
}

/// Writes the file's identity, gzip and brotli copies under `store` and
/// appends its `EmbeddedFile` to `code`.
fn embed(dist: &Path, relative: &str, store: &Path, code: &mut String) {
    let bytes = std::fs::read(dist.join(relative)).expect("read a viewer file");
    let target = store.join(relative);
    std::fs::create_dir_all(target.parent().expect("a file has a parent")).expect("mkdir");
    std::fs::write(&target, &bytes).expect("write the identity copy");
    let variant = |suffix: &str, compressed: Vec<u8>| {
        if (compressed.len() as f64) > bytes.len() as f64 * MIN_GAIN {
            return "None".to_string();
        }
        let path = PathBuf::from(format!("{}.{suffix}", target.display()));
        std::fs::write(&path, compressed).expect("write a compressed copy");
        format!("Some(include_bytes!({:?}))", path.display().to_string())
    };
    let gzip = variant("gz", gzip(&bytes));
    let brotli = variant("br", brotli(&bytes));
    let _ = writeln!(
        code,
        "    EmbeddedFile {{ path: {relative:?}, etag: \"\\\"{:016x}\\\"\", identity: include_bytes!({:?}), gzip: {gzip}, brotli: {brotli} }},",
        fnv1a(&bytes),
        target.display().to_string(),
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        // Quality 11 (the best), a 4 MiB window: what static files are for.
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 << 10, 11, 22);
        writer.write_all(bytes).expect("brotli in memory");
    }
    out
}

/// 64-bit FNV-1a: a strong enough tag for the file's `ETag`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
