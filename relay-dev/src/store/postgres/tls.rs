//! TLS to PostgreSQL, asked for in `--database-url` with libpq's words:
//! `sslmode=require` (or `verify-ca`, `verify-full`) connects over TLS and
//! verifies the server's certificate and name — against the CA certificates
//! in `sslrootcert=PATH` (PEM) when given, else the public roots
//! (`webpki-roots`); `sslmode=disable`, or no `sslmode`, connects in the
//! clear. `prefer` and `allow`, which fall back to the clear, are refused.
//! (libpq's `require` does not verify; here every TLS mode verifies.)

use rustls_tokio_postgres::rustls::ClientConfig;
use rustls_tokio_postgres::{config_from_ca_cert, config_webpki_roots};

use super::super::{StoreError, StoreResult};

/// The URL as tokio-postgres takes it (`sslrootcert` taken out, the
/// verifying modes as `require`), and the TLS configuration when TLS is
/// asked for. Messages name the mode and the CA file, never the URL.
pub(super) fn split_url(url: &str) -> StoreResult<(String, Option<ClientConfig>)> {
    const FORM: &str = "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError(format!(
            "--database-url is not a PostgreSQL URL: expected {FORM}"
        )));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(value) = pair.strip_prefix("sslmode=") {
            mode = Some(value);
        } else if let Some(value) = pair.strip_prefix("sslrootcert=") {
            root_cert = Some(value);
        } else {
            kept.push(pair);
        }
    }
    let tls = match mode {
        None | Some("disable") => {
            if root_cert.is_some() {
                return Err(StoreError(
                    "--database-url names an sslrootcert= without sslmode=require".into(),
                ));
            }
            None
        }
        Some("require" | "verify-ca" | "verify-full") => {
            kept.push("sslmode=require");
            Some(client_config(root_cert)?)
        }
        Some(other) => {
            const MODES: [&str; 2] = ["allow", "prefer"];
            let mode = MODES.iter().find(|m| **m == other).unwrap_or(&"(unknown)");
            return Err(StoreError(format!(
                "--database-url asks for sslmode={mode}, which may fall back to an unencrypted \
                 connection: give sslmode=require (TLS, the server's certificate verified \
                 against sslrootcert=PATH or the public CAs) or sslmode=disable"
            )));
        }
    };
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

/// A verifying TLS configuration: the CAs in `root_cert` (a PEM file), or
/// the public roots.
fn client_config(root_cert: Option<&str>) -> StoreResult<ClientConfig> {
    match root_cert {
        Some(path) => config_from_ca_cert(path)
            .map_err(|e| StoreError(format!("--database-url's sslrootcert={path}: {e}"))),
        None => Ok(config_webpki_roots()),
    }
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn tls_modes_are_read_and_the_rest_passed_on() {
        let (url, tls) = split_url("postgres://a:pw@h/db?connect_timeout=3").unwrap();
        assert_eq!(
            (url.as_str(), tls.is_none()),
            ("postgres://a:pw@h/db?connect_timeout=3", true)
        );
        let (url, tls) = split_url("postgres://a@h/db?sslmode=verify-full").unwrap();
        assert_eq!(
            (url.as_str(), tls.is_some()),
            ("postgres://a@h/db?sslmode=require", true)
        );
        let (url, _) = split_url("postgres://a@h/db?sslmode=disable").unwrap();
        assert_eq!(url, "postgres://a@h/db");
        for refused in ["prefer", "allow", "s3cret"] {
            let url = format!("postgres://a:s3cret@h/db?sslmode={refused}");
            let error = split_url(&url).unwrap_err().to_string();
            assert!(error.contains("sslmode=require"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        let missing = split_url("postgres://a@h/db?sslmode=require&sslrootcert=/nonexistent.pem");
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("sslrootcert=/nonexistent.pem"));
        assert!(split_url("mysql://a:s3cret@h/db")
            .unwrap_err()
            .to_string()
            .contains("not a PostgreSQL URL"));
    }
}
