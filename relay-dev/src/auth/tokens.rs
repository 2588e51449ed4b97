//! The relay's signed credentials: API keys (`tk1.{key_id}.{nonce}.{sig}`)
//! and share tokens (`ts2.{share_id}.{session_id}.{ro|rw}.{expires_unix}.{sig}`),
//! signed with HMAC-SHA256 under the relay's secret.

use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, Mac};
use protocol::Role;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{KeyRecord, ShareRecord};
use crate::time::unix_now;

type HmacSha256 = Hmac<Sha256>;

const KEY_PREFIX: &str = "tk1";
/// `ts1` tokens (before grants had ids) are no longer accepted.
const SHARE_PREFIX: &str = "ts2";
/// What every share token, of any version, starts with: a refused one is
/// reported as an unknown share link rather than a bad key.
pub(crate) const SHARE_FAMILY: &str = "ts";

/// The relay's signing secret.
pub(crate) struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// `n` random bytes as hex.
fn random_hex(n: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(std::io::Error::other)?;
    Ok(hex::encode(buf))
}

/// SHA-256 of a token, hex: what the store keeps instead of the key.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a share token says: grant `id` of one role on one session until a
/// time. The grant itself (who minted it, whether it was revoked) is in the
/// store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShareClaims {
    /// The grant's id.
    pub(crate) id: String,
    /// The session it opens.
    pub(crate) session_id: Uuid,
    /// What the holder may do.
    pub(crate) role: Role,
    /// Unix seconds after which it is refused.
    pub(crate) expires_at: u64,
}

impl Signer {
    /// A signer with this secret.
    pub(crate) fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// A new random secret (32 bytes).
    pub(crate) fn random_secret() -> std::io::Result<Vec<u8>> {
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(std::io::Error::other)?;
        Ok(secret)
    }

    /// Reads the secret from `path`, creating a random one (mode 0600) if absent.
    pub(crate) fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                // Never replace an existing secret: that would void every key.
                return hex::decode(text.trim())
                    .ok()
                    .filter(|s| s.len() >= 32)
                    .map(Self::new)
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{} is not a valid signing secret", path.display()),
                        )
                    });
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        let secret = Self::random_secret()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(hex::encode(&secret).as_bytes())?;
        file.sync_all()?;
        Ok(Self::new(secret))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    fn sign(&self, message: &str) -> String {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, message: &str, signature: &str) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    /// Mints a new API key for `user`: the key to hand out and the record to store.
    pub(crate) fn mint_api_key(&self, user: &str) -> std::io::Result<(String, KeyRecord)> {
        let id = random_hex(8)?;
        let body = format!("{KEY_PREFIX}.{id}.{}", random_hex(16)?);
        let token = format!("{body}.{}", self.sign(&body));
        let record = KeyRecord {
            id,
            user: user.to_string(),
            hash: hash_token(&token),
            created_at: unix_now(),
            revoked: false,
        };
        Ok((token, record))
    }

    /// The key id of a correctly signed API key, `None` otherwise.
    pub(crate) fn api_key_id(&self, token: &str) -> Option<String> {
        let (body, sig) = token.rsplit_once('.')?;
        let mut parts = body.split('.');
        let (prefix, id, _nonce) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != KEY_PREFIX || parts.next().is_some() || !self.verify(body, sig) {
            return None;
        }
        Some(id.to_string())
    }

    /// Mints a share link to `session_id` with `role` until `expires_at`,
    /// for the holder of key `key_id`: the token to hand out and the grant
    /// to store.
    pub(crate) fn mint_share(
        &self,
        key_id: &str,
        session_id: Uuid,
        role: Role,
        expires_at: u64,
    ) -> std::io::Result<(String, ShareRecord)> {
        let id = random_hex(8)?;
        let role_text = match role {
            Role::ReadOnly => "ro",
            Role::ReadWrite => "rw",
        };
        let body = format!(
            "{SHARE_PREFIX}.{id}.{}.{role_text}.{expires_at}",
            session_id.simple()
        );
        let token = format!("{body}.{}", self.sign(&body));
        let record = ShareRecord {
            id,
            session_id,
            role,
            key_id: key_id.to_string(),
            created_at: unix_now(),
            expires_at,
            revoked: false,
        };
        Ok((token, record))
    }

    /// What a correctly signed share token says (expired or not), `None`
    /// otherwise.
    pub(crate) fn share_claims(&self, token: &str) -> Option<ShareClaims> {
        let (body, sig) = token.rsplit_once('.')?;
        let parts: Vec<&str> = body.split('.').collect();
        let [prefix, id, session, role, expires] = parts[..] else {
            return None;
        };
        if prefix != SHARE_PREFIX || !self.verify(body, sig) {
            return None;
        }
        Some(ShareClaims {
            id: id.to_string(),
            session_id: Uuid::parse_str(session).ok()?,
            role: match role {
                "ro" => Role::ReadOnly,
                "rw" => Role::ReadWrite,
                _ => return None,
            },
            expires_at: expires.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.secret");
        let first = Signer::load_or_create(&path).unwrap();
        let again = Signer::load_or_create(&path).unwrap();
        assert_eq!(first.secret, again.secret);
        assert_eq!(first.secret.len(), 32);
        std::fs::write(&path, "not hex").unwrap();
        assert!(Signer::load_or_create(&path).is_err(), "never replaced");
    }
}
