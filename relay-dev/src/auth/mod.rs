//! Authentication: signed API keys, signed share tokens, and finding the
//! credential a request carries.
//!
//! * API key: `tk1.{key_id}.{nonce}.{sig}`. The signature (HMAC-SHA256 with the
//!   relay's secret) is checked first, then the store: the key's SHA-256 must
//!   match the stored hash and the key must not be revoked. Keys themselves are
//!   never stored.
//! * Share token: `ts1.{session_id}.{ro|rw}.{expires_unix}.{nonce}.{sig}`, a
//!   signed grant of one role on one session until a time; nothing is stored.
//!
//! Credentials come from `X-API-Key`, `Authorization: Bearer`, or the WebSocket
//! subprotocols `omnara-key.{token}` / `omnara-supabase.{token}`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use protocol::Role;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{KeyRecord, Store, StoreError};
use crate::time::unix_now;

type HmacSha256 = Hmac<Sha256>;

const KEY_PREFIX: &str = "tk1";
const SHARE_PREFIX: &str = "ts1";

/// The relay's signing secret.
pub struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(std::io::Error::other)?;
    Ok(hex(&buf))
}

/// SHA-256 of a token, hex: what the store keeps instead of the key.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

impl Signer {
    /// A signer with this secret.
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// Reads the secret from `path`, creating a random one (mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                // Never replace an existing secret: that would void every key.
                return unhex(text.trim())
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
        let secret_hex = random_hex(32)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(secret_hex.as_bytes())?;
        file.sync_all()?;
        Ok(Self::new(unhex(&secret_hex).unwrap_or_default()))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    fn sign(&self, message: &str) -> String {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn verify(&self, message: &str, signature: &str) -> bool {
        let Some(sig) = unhex(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    /// Mints a new API key for `user`: the key to hand out and the record to store.
    pub fn mint_api_key(&self, user: &str) -> std::io::Result<(String, KeyRecord)> {
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
    pub fn api_key_id(&self, token: &str) -> Option<String> {
        let (body, sig) = token.rsplit_once('.')?;
        let mut parts = body.split('.');
        let (prefix, id, _nonce) = (parts.next()?, parts.next()?, parts.next()?);
        if prefix != KEY_PREFIX || parts.next().is_some() || !self.verify(body, sig) {
            return None;
        }
        Some(id.to_string())
    }

    /// Mints a share token for `grant`.
    pub fn mint_share_token(&self, grant: &ShareGrant) -> std::io::Result<String> {
        let role = match grant.role {
            Role::ReadOnly => "ro",
            Role::ReadWrite => "rw",
        };
        let body = format!(
            "{SHARE_PREFIX}.{}.{role}.{}.{}",
            grant.session_id.simple(),
            grant.expires_at,
            random_hex(8)?
        );
        Ok(format!("{body}.{}", self.sign(&body)))
    }

    /// The grant of a correctly signed share token (expired or not), `None` otherwise.
    pub fn share_grant(&self, token: &str) -> Option<ShareGrant> {
        let (body, sig) = token.rsplit_once('.')?;
        let parts: Vec<&str> = body.split('.').collect();
        let [prefix, session, role, expires, _nonce] = parts[..] else {
            return None;
        };
        if prefix != SHARE_PREFIX || !self.verify(body, sig) {
            return None;
        }
        Some(ShareGrant {
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

/// A share token's content: one role on one session until a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareGrant {
    /// The session it opens.
    pub session_id: Uuid,
    /// What the holder may do.
    pub role: Role,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
}

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user, through one of their API keys.
    User {
        /// The user's name.
        user: String,
        /// The key's id (for revocation).
        key_id: String,
    },
    /// The holder of a share token.
    Share(ShareGrant),
}

/// Why a credential was refused. The messages are safe to send to clients
/// and to log: they never contain the credential.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential at all.
    #[error("missing API key")]
    Missing,
    /// Malformed, badly signed or unknown.
    #[error("invalid API key or token")]
    Invalid,
    /// The key was revoked.
    #[error("API key revoked")]
    Revoked,
    /// The share token's time is up.
    #[error("share token expired")]
    Expired,
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Checks a credential against the signature and the store.
pub fn authenticate(
    signer: &Signer,
    store: &dyn Store,
    token: Option<&str>,
) -> Result<Principal, AuthError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
    if let Some(key_id) = signer.api_key_id(token) {
        let record = store.key(&key_id)?.ok_or(AuthError::Invalid)?;
        if record.hash != hash_token(token) {
            return Err(AuthError::Invalid);
        }
        if record.revoked {
            return Err(AuthError::Revoked);
        }
        return Ok(Principal::User {
            user: record.user,
            key_id,
        });
    }
    if let Some(grant) = signer.share_grant(token) {
        if grant.expires_at <= unix_now() {
            return Err(AuthError::Expired);
        }
        return Ok(Principal::Share(grant));
    }
    Err(AuthError::Invalid)
}

/// Subprotocol prefixes that carry a credential.
const CREDENTIAL_SUBPROTOCOLS: [&str; 2] = ["omnara-key.", "omnara-supabase."];

/// The first offered subprotocol carrying a credential: `(subprotocol, token)`.
pub fn credential_subprotocol(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| {
            CREDENTIAL_SUBPROTOCOLS.iter().find_map(|prefix| {
                offered
                    .strip_prefix(prefix)
                    .map(|token| (offered.to_string(), token.to_string()))
            })
        })
}

/// The credential in `X-API-Key` or `Authorization: Bearer`.
pub fn credential_header(headers: &HeaderMap) -> Option<String> {
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
    use crate::store::SqliteStore;

    fn signer() -> Signer {
        Signer::new(vec![7; 32])
    }

    #[test]
    fn api_keys_verify_by_signature_hash_and_revocation() {
        let (signer, store) = (signer(), SqliteStore::in_memory().unwrap());
        let (key, record) = signer.mint_api_key("ann").unwrap();
        assert!(!record.hash.contains(&key) && record.hash.len() == 64);
        store.insert_key(&record).unwrap();
        assert_eq!(
            authenticate(&signer, &store, Some(&key)).unwrap(),
            Principal::User {
                user: "ann".into(),
                key_id: record.id.clone()
            }
        );
        let mut forged = key.clone();
        forged.replace_range(4..5, if &key[4..5] == "a" { "b" } else { "a" });
        assert!(matches!(
            authenticate(&signer, &store, Some(&forged)),
            Err(AuthError::Invalid)
        ));
        let other = Signer::new(vec![8; 32]);
        assert!(matches!(
            authenticate(&other, &store, Some(&key)),
            Err(AuthError::Invalid)
        ));
        assert!(matches!(
            authenticate(&signer, &store, None),
            Err(AuthError::Missing)
        ));
        store.revoke_key(&record.id).unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&key)),
            Err(AuthError::Revoked)
        ));
    }

    #[test]
    fn share_tokens_carry_session_role_and_expiry() {
        let (signer, store) = (signer(), SqliteStore::in_memory().unwrap());
        let grant = ShareGrant {
            session_id: Uuid::new_v4(),
            role: Role::ReadOnly,
            expires_at: unix_now() + 60,
        };
        let token = signer.mint_share_token(&grant).unwrap();
        assert_eq!(
            authenticate(&signer, &store, Some(&token)).unwrap(),
            Principal::Share(grant)
        );
        let expired = signer
            .mint_share_token(&ShareGrant {
                expires_at: 1,
                ..grant
            })
            .unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&expired)),
            Err(AuthError::Expired)
        ));
        let tampered = token.replacen(".ro.", ".rw.", 1);
        assert!(matches!(
            authenticate(&signer, &store, Some(&tampered)),
            Err(AuthError::Invalid)
        ));
    }

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
