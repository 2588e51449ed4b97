//! The relay's VAPID key (RFC 8292): a P-256 key pair made on first start
//! and kept in the data directory (`vapid.pk8`, PKCS#8, mode 0600), or with
//! `--database-url` in the database all nodes share, and the
//! `Authorization: vapid t=JWT, k=KEY` header it signs for each push service.

use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

/// How long a signed JWT is good for (RFC 8292 allows at most 24 hours).
const JWT_LIFETIME_SECS: u64 = 12 * 3600;

/// The relay's application server key.
pub(crate) struct VapidKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// `sub`: how a push service can reach the relay's operator.
    contact: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("VapidKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{what} is not a P-256 PKCS#8 key"),
    )
}

impl VapidKey {
    /// The key in `path`, made (0600) if there is none; `contact` is the
    /// JWT's `sub` (`mailto:…` or `https://…`).
    pub(crate) fn load_or_create(path: &Path, contact: &str) -> std::io::Result<Self> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            Err(_) => {
                let made = Self::generate_pkcs8()?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(&made)?;
                file.sync_all()?;
                made
            }
        };
        Self::from_pkcs8(&pkcs8, contact, &path.display().to_string())
    }

    /// A new random key pair, PKCS#8.
    pub(crate) fn generate_pkcs8() -> std::io::Result<Vec<u8>> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map(|made| made.as_ref().to_vec())
            .map_err(|_| invalid("a new key"))
    }

    /// The key in `pkcs8` (named `what` in errors).
    pub(crate) fn from_pkcs8(pkcs8: &[u8], contact: &str, what: &str) -> std::io::Result<Self> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| invalid(what))?;
        Ok(Self {
            pair,
            rng,
            contact: contact.to_string(),
        })
    }

    /// The public key, uncompressed, base64url: what the browser's
    /// `pushManager.subscribe` takes as `applicationServerKey`.
    pub(crate) fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// The `Authorization` header for a push service at `audience` (its
    /// origin, `https://host[:port]`), valid from `now` (Unix seconds).
    pub(crate) fn authorization(&self, audience: &str, now: u64) -> Option<String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": audience,
            "exp": now + JWT_LIFETIME_SECS,
            "sub": self.contact,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature = self.pair.sign(&self.rng, signed.as_bytes()).ok()?;
        let jwt = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Some(format!("vapid t={jwt}, k={}", self.public_key()))
    }
}

/// The origin (`scheme://host[:port]`) of an endpoint URL, the JWT's `aud`.
pub(crate) fn origin(endpoint: &str) -> Option<&str> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (!rest[..host_len].is_empty()).then(|| &endpoint[..scheme.len() + 3 + host_len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_signs_for_an_origin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.pk8");
        let key = VapidKey::load_or_create(&path, "mailto:ops@example.com").unwrap();
        let again = VapidKey::load_or_create(&path, "mailto:ops@example.com").unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let header = key.authorization("https://push.example", 1000).unwrap();
        assert!(header.starts_with("vapid t="), "{header}");
        assert!(header.ends_with(&format!(", k={}", key.public_key())));
        assert!(!format!("{key:?}").contains("pair"));
        let shared = VapidKey::generate_pkcs8().unwrap();
        let one = VapidKey::from_pkcs8(&shared, "mailto:a@b", "shared").unwrap();
        let other = VapidKey::from_pkcs8(&shared, "mailto:a@b", "shared").unwrap();
        assert_eq!(one.public_key(), other.public_key());
        let bad = VapidKey::from_pkcs8(b"junk", "mailto:a@b", "the database's key");
        assert!(bad.unwrap_err().to_string().contains("the database's key"));
    }

    #[test]
    fn origins_of_endpoints() {
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/abc"),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:9000/p?x"),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin("https:///x"), None);
        assert_eq!(origin("nope"), None);
    }
}
