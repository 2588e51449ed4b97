//! A local Web Push service for the relay's push tests (no push service is
//! reachable here): an HTTP endpoint that keeps every request it gets and
//! answers per path — `201` by default, `410` under `/gone`, `404` under
//! `/missing`, `500` under `/broken`, `201` after a delay under `/slow` — and a browser's side of a subscription
//! ([`BrowserKeys`]): its keys, the VAPID checks (RFC 8292) and the payload's
//! decryption (RFC 8291, `aes128gcm`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
use ring::hkdf::{KeyType, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::task::AbortHandle;

/// How long `/slow` takes to answer.
pub const SLOW: Duration = Duration::from_secs(3);

/// One request the push service got.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (the encrypted message).
    pub body: Vec<u8>,
}

impl PushRequest {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The running push service; stops when dropped.
pub struct PushService {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<PushRequest>>>,
    server: AbortHandle,
}

async fn receive(
    State(requests): State<Arc<Mutex<Vec<PushRequest>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_string();
    let request = PushRequest {
        path: path.clone(),
        headers,
        body: body.to_vec(),
    };
    requests.lock().unwrap().push(request);
    match path.as_str() {
        p if p.starts_with("/gone") => StatusCode::GONE,
        p if p.starts_with("/missing") => StatusCode::NOT_FOUND,
        p if p.starts_with("/broken") => StatusCode::INTERNAL_SERVER_ERROR,
        p if p.starts_with("/slow") => {
            tokio::time::sleep(SLOW).await;
            StatusCode::CREATED
        }
        _ => StatusCode::CREATED,
    }
}

impl PushService {
    /// Starts the service on an ephemeral loopback port.
    pub async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&requests));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
        .abort_handle();
        Self {
            addr,
            requests,
            server,
        }
    }

    /// The service's origin, `http://127.0.0.1:PORT` (the JWT's `aud`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An endpoint URL under `path` (e.g. `/gone/1`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// The requests to paths starting with `prefix`, in arrival order.
    pub fn requests(&self, prefix: &str) -> Vec<PushRequest> {
        let all = self.requests.lock().unwrap();
        all.iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A browser's subscription keys: its P-256 key (single use: it decrypts
/// one message) and auth secret.
pub struct BrowserKeys {
    private: Option<EphemeralPrivateKey>,
    public: Vec<u8>,
    auth: [u8; 16],
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[&[u8]], len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    Salt::new(HKDF_SHA256, salt)
        .extract(ikm)
        .expand(info, Len(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("not base64url ({e}): {text}"))
}

impl BrowserKeys {
    /// Fresh keys.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let private = EphemeralPrivateKey::generate(&ECDH_P256, &rng).unwrap();
        let public = private.compute_public_key().unwrap().as_ref().to_vec();
        let mut auth = [0; 16];
        rng.fill(&mut auth).unwrap();
        Self {
            private: Some(private),
            public,
            auth,
        }
    }

    /// The subscription as `PushSubscription.toJSON()` gives it.
    pub fn subscription(&self, endpoint: &str) -> serde_json::Value {
        serde_json::json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(&self.public),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// Decrypts a push body (RFC 8291 / RFC 8188, one record); panics on
    /// anything malformed. Uses up the private key.
    pub fn decrypt(&mut self, body: &[u8]) -> Vec<u8> {
        assert!(body.len() > 21, "body too short: {} bytes", body.len());
        let salt = &body[..16];
        let record_size = u32::from_be_bytes(body[16..20].try_into().unwrap());
        assert!(record_size >= 18, "record size {record_size}");
        let id_len = body[20] as usize;
        assert_eq!(id_len, 65, "keyid is the sender's uncompressed P-256 key");
        let as_public = &body[21..21 + id_len];
        let mut record = body[21 + id_len..].to_vec();
        assert!(record.len() <= record_size as usize, "one record only");
        let private = self.private.take().expect("these keys decrypt one message");
        let peer = UnparsedPublicKey::new(&ECDH_P256, as_public);
        let ecdh_secret = agree_ephemeral(private, &peer, |s| s.to_vec()).unwrap();
        let ikm = hkdf(
            &self.auth,
            &ecdh_secret,
            &[b"WebPush: info\0", &self.public, as_public],
            32,
        );
        let cek = hkdf(salt, &ikm, &[b"Content-Encoding: aes128gcm\0"], 16);
        let nonce = hkdf(salt, &ikm, &[b"Content-Encoding: nonce\0"], 12);
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).unwrap());
        let nonce = Nonce::try_assume_unique_for_key(&nonce).unwrap();
        let plain = key
            .open_in_place(nonce, Aad::empty(), &mut record)
            .expect("the payload decrypts and authenticates");
        // Strip the padding: zeros after the last record's delimiter 0x02.
        let end = plain.iter().rposition(|&b| b != 0).expect("a delimiter");
        assert_eq!(plain[end], 2, "the last record's delimiter");
        plain[..end].to_vec()
    }
}

impl Default for BrowserKeys {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks a request's `Authorization: vapid t=JWT, k=KEY` (RFC 8292): `k`
/// is `relay_key`, the JWT is ES256 signed by it, for `audience`, expiring
/// within 24 hours. Returns the JWT's claims.
pub fn check_vapid(request: &PushRequest, relay_key: &str, audience: &str) -> serde_json::Value {
    let header = request.header("authorization");
    let rest = header
        .strip_prefix("vapid ")
        .unwrap_or_else(|| panic!("not vapid: {header:?}"));
    let mut jwt = None;
    let mut key = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => jwt = Some(v),
            Some(("k", v)) => key = Some(v),
            _ => {}
        }
    }
    let (jwt, key) = (jwt.expect("t="), key.expect("k="));
    assert_eq!(key, relay_key, "k is the relay's public key");
    let (signed, signature) = jwt.rsplit_once('.').expect("a signed JWT");
    let public = b64(key);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
        .verify(signed.as_bytes(), &b64(signature))
        .expect("the JWT's signature verifies with the relay's key");
    let (head, claims) = signed.split_once('.').unwrap();
    let head: serde_json::Value = serde_json::from_slice(&b64(head)).unwrap();
    assert_eq!(head["alg"], "ES256", "{head}");
    let claims: serde_json::Value = serde_json::from_slice(&b64(claims)).unwrap();
    assert_eq!(claims["aud"], audience, "{claims}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:")),
        "{claims}"
    );
    claims
}
