//! Authentication: who a request's credential stands for.
//!
//! * API key: `tk1.{key_id}.{nonce}.{sig}`. The signature ([`tokens`]) is
//!   checked first, then the store: the key's SHA-256 must match the stored
//!   hash and the key must not be revoked. Keys themselves are never stored.
//! * Share token: `ts2.{share_id}.{session_id}.{ro|rw}.{expires_unix}.{sig}`,
//!   naming a stored grant of one role on one session until a time. The
//!   signature and expiry are checked first, then the store: the grant must
//!   exist and be unrevoked, and so must the API key that minted it.
//!
//! Credentials come from headers or WebSocket subprotocols ([`credentials`]).
//! Open links watch the revoked grants ([`revocation`]); the viewers each
//! share link has open are counted ([`share_viewers`]).

mod credentials;
mod revocation;
mod share_viewers;
mod tokens;

pub(crate) use credentials::{credential_header, credential_subprotocol, offered_subprotocols};
pub(crate) use revocation::{refresh_revocations, Grant, Revoked};
pub(crate) use share_viewers::ShareViewers;
pub(crate) use tokens::Signer;

use crate::store::{AsyncStore, ShareRecord, StoreError};
use crate::time::unix_now;

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A user, through one of their API keys.
    User {
        /// The user's name.
        user: String,
        /// The key's id (for revocation).
        key_id: String,
    },
    /// The holder of a share token: its stored grant.
    Share(ShareRecord),
}

/// Why a credential was refused. The messages are safe to send to clients
/// and to log: they never contain the credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
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
    /// The share link was revoked, or the key that minted it was.
    #[error("share link revoked")]
    ShareRevoked,
    /// A share token (by its prefix) that is malformed, badly signed or
    /// names no stored grant.
    #[error("unknown share link")]
    UnknownShare,
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Checks a credential against the signature and the store.
pub(crate) async fn authenticate(
    signer: &Signer,
    store: &AsyncStore,
    token: Option<&str>,
) -> Result<Principal, AuthError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
    if let Some(key_id) = signer.api_key_id(token) {
        let record = store.key(key_id.clone()).await?.ok_or(AuthError::Invalid)?;
        if record.hash != tokens::hash_token(token) {
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
    if let Some(claims) = signer.share_claims(token) {
        if claims.expires_at <= unix_now() {
            return Err(AuthError::Expired);
        }
        let id = claims.id.clone();
        let (grant, minted_by) = store
            .call(move |s| {
                let Some(grant) = s.share(&id)? else {
                    return Ok((None, None));
                };
                let key = s.key(&grant.key_id)?;
                Ok((Some(grant), key))
            })
            .await?;
        let grant = grant
            .filter(|g| g.session_id == claims.session_id && g.role == claims.role)
            .ok_or(AuthError::UnknownShare)?;
        if grant.revoked || minted_by.is_none_or(|key| key.revoked) {
            return Err(AuthError::ShareRevoked);
        }
        return Ok(Principal::Share(grant));
    }
    if token.starts_with(tokens::SHARE_FAMILY) {
        return Err(AuthError::UnknownShare);
    }
    Err(AuthError::Invalid)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use protocol::Role;
    use uuid::Uuid;

    use super::*;
    use crate::store::{SqliteStore, Store as _};

    fn signer() -> Signer {
        Signer::new(vec![7; 32])
    }

    #[tokio::test]
    async fn api_keys_verify_by_signature_hash_and_revocation() {
        let sqlite = Arc::new(SqliteStore::in_memory().unwrap());
        let (signer, store) = (signer(), AsyncStore::new(sqlite.clone()));
        let (key, record) = signer.mint_api_key("ann").unwrap();
        assert!(!record.hash.contains(&key) && record.hash.len() == 64);
        sqlite.insert_key(&record).unwrap();
        assert_eq!(
            authenticate(&signer, &store, Some(&key)).await.unwrap(),
            Principal::User {
                user: "ann".into(),
                key_id: record.id.clone()
            }
        );
        let mut forged = key.clone();
        forged.replace_range(4..5, if &key[4..5] == "a" { "b" } else { "a" });
        assert!(matches!(
            authenticate(&signer, &store, Some(&forged)).await,
            Err(AuthError::Invalid)
        ));
        let other = Signer::new(vec![8; 32]);
        assert!(matches!(
            authenticate(&other, &store, Some(&key)).await,
            Err(AuthError::Invalid)
        ));
        assert!(matches!(
            authenticate(&signer, &store, None).await,
            Err(AuthError::Missing)
        ));
        sqlite.revoke_key(&record.id).unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&key)).await,
            Err(AuthError::Revoked)
        ));
    }

    #[tokio::test]
    async fn share_tokens_name_a_stored_grant_revoked_alone_or_with_its_key() {
        let sqlite = Arc::new(SqliteStore::in_memory().unwrap());
        let (signer, store) = (signer(), AsyncStore::new(sqlite.clone()));
        let (_, key) = signer.mint_api_key("ann").unwrap();
        sqlite.insert_key(&key).unwrap();
        let session = Uuid::new_v4();
        let mint = |role, expires_at| {
            let (token, grant) = signer
                .mint_share(&key.id, session, role, expires_at)
                .unwrap();
            sqlite.insert_share(&grant).unwrap();
            (token, grant)
        };
        let (token, grant) = mint(Role::ReadOnly, unix_now() + 60);
        assert_eq!(
            authenticate(&signer, &store, Some(&token)).await.unwrap(),
            Principal::Share(grant.clone())
        );
        let (expired, _) = mint(Role::ReadOnly, 1);
        assert!(matches!(
            authenticate(&signer, &store, Some(&expired)).await,
            Err(AuthError::Expired)
        ));
        let tampered = token.replacen(".ro.", ".rw.", 1);
        assert!(matches!(
            authenticate(&signer, &store, Some(&tampered)).await,
            Err(AuthError::UnknownShare)
        ));
        // Signed but never stored: refused.
        let (unstored, _) = signer
            .mint_share(&key.id, session, Role::ReadWrite, unix_now() + 60)
            .unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&unstored)).await,
            Err(AuthError::UnknownShare)
        ));

        sqlite.revoke_share(&grant.id).unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&token)).await,
            Err(AuthError::ShareRevoked)
        ));
        let (other, _) = mint(Role::ReadWrite, unix_now() + 60);
        assert!(authenticate(&signer, &store, Some(&other)).await.is_ok());
        sqlite.revoke_key(&key.id).unwrap();
        assert!(matches!(
            authenticate(&signer, &store, Some(&other)).await,
            Err(AuthError::ShareRevoked)
        ));
    }
}
