//! Web Push: when a session starts waiting, each of its owner's browser
//! subscriptions gets an encrypted message (RFC 8291, [`encrypt`]) signed
//! for with the relay's VAPID key (RFC 8292, [`vapid`]).
//!
//! Alerts go through a bounded queue ([`QUEUE_JOBS`] messages of at most
//! one record each) to one sender task, which posts them one at a time off
//! the async runtime: a slow or failing push service delays only other
//! pushes, never streaming. A full queue drops the alert (counted). A
//! subscription the push service answers 404 or 410 for is deleted.

mod encrypt;
mod vapid;

use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use tokio::sync::mpsc;

use crate::metrics::{add, Metrics};
use crate::store::{AsyncStore, PushSubscriptionRecord};
use crate::time::unix_now;
pub(crate) use vapid::{origin, VapidKey};

/// Alerts waiting to be sent, at most.
pub(crate) const QUEUE_JOBS: usize = 256;
/// Longest one push request may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a push service keeps an alert for an offline browser.
const TTL_SECS: &str = "86400";

/// One message for one subscription.
#[derive(Debug)]
pub(crate) struct PushJob {
    subscription: PushSubscriptionRecord,
    payload: Vec<u8>,
}

/// What the viewer's service worker shows (JSON in the push message).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct PushMessage<'a> {
    /// The notification's title: the session's name.
    pub(crate) title: &'a str,
    /// The agent's text, or "Waiting for you".
    pub(crate) body: &'a str,
    /// The session's page, relative to the relay (`/s/ID`).
    pub(crate) url: &'a str,
    /// The session.
    pub(crate) session_id: &'a str,
}

/// The sending side: the key and the queue.
#[derive(Debug)]
pub(crate) struct PushService {
    vapid: Arc<VapidKey>,
    queue: mpsc::Sender<PushJob>,
    /// Whether `http://` endpoints are taken (`--push-allow-http`, for tests).
    allow_http: bool,
}

/// The queue's receiving end, for [`spawn_sender`].
pub(crate) struct PushQueue(mpsc::Receiver<PushJob>);

impl PushService {
    /// The service with `vapid`, and its queue.
    pub(crate) fn new(vapid: VapidKey, allow_http: bool) -> (Self, PushQueue) {
        let (queue, jobs) = mpsc::channel(QUEUE_JOBS);
        let service = Self {
            vapid: Arc::new(vapid),
            queue,
            allow_http,
        };
        (service, PushQueue(jobs))
    }

    /// The key, for the sender task.
    pub(crate) fn vapid(&self) -> Arc<VapidKey> {
        self.vapid.clone()
    }

    /// The relay's public key, base64url.
    pub(crate) fn public_key(&self) -> String {
        self.vapid.public_key()
    }

    /// Whether an endpoint may be stored: `https://` (or `http://` when
    /// allowed) with a host.
    pub(crate) fn accepts_endpoint(&self, endpoint: &str) -> bool {
        let secure = endpoint.starts_with("https://");
        let plain = self.allow_http && endpoint.starts_with("http://");
        (secure || plain) && origin(endpoint).is_some()
    }

    /// Queues `message` for each of `subscriptions`; returns how many were
    /// dropped because the queue was full.
    pub(crate) fn alert(
        &self,
        subscriptions: Vec<PushSubscriptionRecord>,
        message: &PushMessage<'_>,
    ) -> u64 {
        let mut payload = serde_json::to_vec(message).unwrap_or_default();
        if payload.len() > encrypt::MAX_PLAINTEXT {
            // A text full of escapes: the title and the link still fit.
            let short = PushMessage {
                body: "Waiting for you",
                ..*message
            };
            payload = serde_json::to_vec(&short).unwrap_or_default();
        }
        let mut dropped = 0;
        for subscription in subscriptions {
            let job = PushJob {
                subscription,
                payload: payload.clone(),
            };
            if self.queue.try_send(job).is_err() {
                dropped += 1;
            }
        }
        dropped
    }
}

/// How one push went.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    /// 404 or 410: the subscription no longer exists.
    Gone,
    Failed(String),
}

/// What the sender task needs of the relay: its counters and its store
/// (to delete the subscriptions that are gone).
pub(crate) trait SenderContext: Send + Sync + 'static {
    /// The relay's counters.
    fn metrics(&self) -> &Metrics;
    /// The relay's store.
    fn store(&self) -> &AsyncStore;
}

/// Starts the task that sends queued pushes for as long as the relay (its
/// `state`) runs.
pub(crate) fn spawn_sender<C: SenderContext>(
    state: Weak<C>,
    PushQueue(mut jobs): PushQueue,
    vapid: Arc<VapidKey>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(SEND_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    tokio::spawn(async move {
        while let Some(job) = jobs.recv().await {
            let (agent, vapid) = (agent.clone(), vapid.clone());
            let (user, id) = (job.subscription.user.clone(), job.subscription.id.clone());
            let delivery = tokio::task::spawn_blocking(move || deliver(&agent, &vapid, &job))
                .await
                .unwrap_or_else(|e| Delivery::Failed(e.to_string()));
            let Some(state) = state.upgrade() else { return };
            match delivery {
                Delivery::Sent => add(&state.metrics().push_sent, 1),
                Delivery::Gone => {
                    tracing::info!(subscription = %id, "push subscription gone: deleted");
                    let deleted = state
                        .store()
                        .call(move |s| s.delete_push_subscription(&user, &id))
                        .await;
                    if let Err(e) = deleted {
                        tracing::warn!("deleting a push subscription: {e}");
                    }
                }
                Delivery::Failed(why) => {
                    add(&state.metrics().push_failures, 1);
                    tracing::warn!(subscription = %id, "push failed: {why}");
                }
            }
        }
    });
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Encrypts and posts one push (blocking).
fn deliver(agent: &ureq::Agent, vapid: &VapidKey, job: &PushJob) -> Delivery {
    let subscription = &job.subscription;
    let (Some(ua_public), Some(auth)) = (decode(&subscription.p256dh), decode(&subscription.auth))
    else {
        return Delivery::Gone;
    };
    let body = match encrypt::encrypt(&ua_public, &auth, &job.payload) {
        Ok(body) => body,
        Err(encrypt::EncryptError::BadKeys) => return Delivery::Gone,
        Err(e) => return Delivery::Failed(e.to_string()),
    };
    let Some(authorization) =
        origin(&subscription.endpoint).and_then(|aud| vapid.authorization(aud, unix_now()))
    else {
        return Delivery::Failed("cannot sign for the endpoint".into());
    };
    let sent = agent
        .post(&subscription.endpoint)
        .header("TTL", TTL_SECS)
        .header("Urgency", "high")
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", &authorization)
        .send(&body[..]);
    match sent.map(|r| r.status().as_u16()) {
        Ok(200..=299) => Delivery::Sent,
        Ok(404 | 410) => Delivery::Gone,
        Ok(status) => Delivery::Failed(format!("the push service answered {status}")),
        // The error names the host, never the endpoint's secret path.
        Err(e) => Delivery::Failed(e.to_string()),
    }
}
