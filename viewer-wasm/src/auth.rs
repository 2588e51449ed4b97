//! Who the viewer is: an API key (entered once and kept in localStorage, or
//! given as `#key=…`) or a share token (`/s/{id}#token=…`, for that session
//! only). Keys and tokens travel only in the URL fragment (never sent to a
//! server by the browser) and in the WebSocket subprotocol. A `#key=` link
//! never silently replaces a different stored key: the person is asked.

use gloo::storage::{LocalStorage, Storage};

const KEY_STORAGE: &str = "tether.api_key";

/// The credential the viewer presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The user's API key: all of the user's sessions.
    ApiKey(String),
    /// A share token: one session, with the role the token grants.
    ShareToken(String),
}

impl Credential {
    /// The secret itself.
    pub fn secret(&self) -> &str {
        match self {
            Credential::ApiKey(secret) | Credential::ShareToken(secret) => secret,
        }
    }

    /// The WebSocket subprotocol that carries it (`omnara-key.{secret}`).
    pub fn subprotocol(&self) -> String {
        format!("omnara-key.{}", self.secret())
    }

    /// Whether it is a share token.
    pub fn is_share_token(&self) -> bool {
        matches!(self, Credential::ShareToken(_))
    }
}

/// Secrets found in a URL fragment such as `#key=K` or `#token=T&x=1`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FragmentSecrets {
    /// `key=…`
    pub key: Option<String>,
    /// `token=…`
    pub token: Option<String>,
}

/// Parses `#a=b&c=d` (the leading `#` optional). Values are used as they
/// are: keys and tokens are URL-safe.
pub fn parse_fragment(fragment: &str) -> FragmentSecrets {
    let mut secrets = FragmentSecrets::default();
    for pair in fragment.trim_start_matches('#').split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        match name {
            "key" => secrets.key = Some(value.to_owned()),
            "token" => secrets.token = Some(value.to_owned()),
            _ => {}
        }
    }
    secrets
}

/// The stored API key, if any.
pub fn stored_key() -> Option<String> {
    LocalStorage::get::<String>(KEY_STORAGE)
        .ok()
        .filter(|key| !key.is_empty())
}

/// Keeps `key` for later visits.
pub fn store_key(key: &str) {
    // A full or disabled storage only means the key is asked for again.
    let _ = LocalStorage::set(KEY_STORAGE, key);
}

/// Forgets the stored key (after the relay refused it).
pub fn forget_key() {
    LocalStorage::delete(KEY_STORAGE);
}

/// What the person is asked before a link's key replaces the stored one.
pub const REPLACE_KEY_QUESTION: &str = "This link signs in with a different API key than \
the one this browser keeps.\n\nReplace the stored key with the link's key? \
(Cancel keeps the stored key.)";

/// Which key a `#key=` link leads to: the link's `offered` key (and whether
/// to store it), unless a different key is `stored` and the person, asked
/// through `confirm`, keeps it.
pub fn key_from_link(
    stored: Option<&str>,
    offered: &str,
    confirm: impl FnOnce() -> bool,
) -> (String, bool) {
    match stored {
        Some(stored) if stored != offered && !confirm() => (stored.to_owned(), false),
        _ => (offered.to_owned(), true),
    }
}

/// The credential for this page: a share token in the fragment wins, then a
/// key in the fragment (stored — after asking, if it replaces a different
/// one — and removed from the address bar), then the stored key.
pub fn current() -> Option<Credential> {
    let window = web_sys::window()?;
    let location = window.location();
    let hash = location.hash().unwrap_or_default();
    let secrets = parse_fragment(&hash);
    if let Some(token) = secrets.token {
        return Some(Credential::ShareToken(token));
    }
    if let Some(offered) = secrets.key {
        if let (Ok(history), Ok(path)) = (window.history(), location.pathname()) {
            // Only the secret goes: the query (`?history=raw`) stays.
            let search = location.search().unwrap_or_default();
            let address = format!("{path}{search}");
            let _ =
                history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&address));
        }
        let (key, store) = key_from_link(stored_key().as_deref(), &offered, || {
            window
                .confirm_with_message(REPLACE_KEY_QUESTION)
                .unwrap_or(false)
        });
        if store {
            store_key(&key);
        }
        return Some(Credential::ApiKey(key));
    }
    stored_key().map(Credential::ApiKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_secrets() {
        assert_eq!(
            parse_fragment("#key=abc.def&token=t1"),
            FragmentSecrets {
                key: Some("abc.def".into()),
                token: Some("t1".into())
            }
        );
        assert_eq!(parse_fragment("#token="), FragmentSecrets::default());
        assert_eq!(parse_fragment(""), FragmentSecrets::default());
        assert_eq!(parse_fragment("garbage&&="), FragmentSecrets::default());
    }

    #[test]
    fn a_link_key_replaces_a_different_stored_key_only_when_confirmed() {
        let never = || -> bool { panic!("nothing to ask") };
        assert_eq!(key_from_link(None, "new", never), ("new".into(), true));
        assert_eq!(
            key_from_link(Some("new"), "new", never),
            ("new".into(), true)
        );
        assert_eq!(
            key_from_link(Some("old"), "new", || false),
            ("old".into(), false)
        );
        assert_eq!(
            key_from_link(Some("old"), "new", || true),
            ("new".into(), true)
        );
    }

    #[test]
    fn subprotocol_carries_the_secret() {
        assert_eq!(
            Credential::ShareToken("t".into()).subprotocol(),
            "omnara-key.t"
        );
    }
}
