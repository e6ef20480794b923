//! Ayrshare webhooks: registrations per profile (with fallback to the account's primary
//! profile) and a durable outbox of deliveries.
//!
//! A profile's registrations are one store value, changed by compare-and-swap
//! ([`Store::swap_meta`]), so two gateways on one database registering at once lose neither
//! change.
//!
//! An event is written to the outbox (a store job of kind [`KIND`], keyed by its `hookId`)
//! before anything is sent, and removed only after the receiver answered 2xx or the last
//! retry failed: a restart resends what was pending (at-least-once; the `hookId` is kept, so
//! receivers can drop duplicates). Each delivery is a `POST` of the JSON body with
//! `X-Authorization-Timestamp: <unix seconds>` and, when the registration has a secret,
//! `X-Authorization-Content-SHA256: <lowercase hex of HMAC-SHA256(secret, body bytes)>`.
//! No redirects are followed; a delivery has `webhooks.timeout_ms`; a failed one is retried
//! after each of `webhooks.retry_delays_ms` (Ayrshare: 5 s, then 30 s), then dropped.

use crate::store::{Job, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use rand::distr::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The job kind of the outbox.
pub const KIND: &str = "webhook";

/// Every action a registration accepts (Ayrshare's, plus postgate's `delete`).
pub const ACTIONS: &[&str] = &[
    "feed",
    "social",
    "scheduled",
    "batch",
    "messages",
    "accountActivity",
    "delete",
];

/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Authorization-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Authorization-Content-SHA256";

/// What the webhooks need from settings (`[webhooks]`).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Also accept `http://` URLs.
    pub allow_http: bool,
    /// Per-delivery timeout.
    pub timeout: Duration,
    /// Waits before each retry of a failed delivery.
    pub retry_delays: Vec<Duration>,
    /// How often the dispatcher looks for due deliveries.
    pub tick: Duration,
}

/// One registered webhook of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The action it receives.
    pub action: String,
    /// Where deliveries go.
    pub url: String,
    /// Signs deliveries when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// When it was registered.
    pub created: DateTime<Utc>,
}

/// Why a registration was refused (the api layer words it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterRefusal {
    /// Not one of [`ACTIONS`].
    UnknownAction,
    /// Not an `https` URL (or `http` where allowed) with a host.
    BadUrl,
}

/// An outbox entry's payload.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    /// The profile whose registration receives it.
    owner: String,
    action: String,
    /// The exact bytes sent (and signed) on every attempt.
    body: String,
}

/// Lowercase hex of HMAC-SHA256(`secret`, `body`): the `X-Authorization-Content-SHA256` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A fresh `hookId`.
pub fn new_hook_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

fn meta_key(profile_id: &str) -> String {
    format!("webhooks:{profile_id}")
}

/// Registrations and deliveries.
#[derive(Clone)]
pub struct Webhooks {
    store: Arc<dyn Store>,
    config: WebhookConfig,
    client: reqwest::Client,
}

/// Attempts of one registration change before giving up: each failed attempt means another
/// change of the same profile's webhooks landed in between, so this is never reached in
/// practice.
const CHANGE_ATTEMPTS: usize = 100;

impl Webhooks {
    /// Webhooks over `store`.
    pub fn new(store: Arc<dyn Store>, config: WebhookConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store,
            config,
            client,
        }
    }

    async fn registrations(
        &self,
        profile_id: &str,
    ) -> Result<BTreeMap<String, Registration>, StoreError> {
        match self.store.get_meta(&meta_key(profile_id)).await? {
            None => Ok(BTreeMap::new()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
            }
        }
    }

    /// Applies `change` to the profile's registrations (it answers a result and whether it
    /// changed anything) and writes them back with a compare-and-swap on the stored text:
    /// with several gateways on one database, a change that lost the race re-reads and
    /// applies again, so no registration is lost. Durable when this returns.
    async fn change<T>(
        &self,
        profile_id: &str,
        mut change: impl FnMut(&mut BTreeMap<String, Registration>) -> (T, bool),
    ) -> Result<T, StoreError> {
        let key = meta_key(profile_id);
        for _ in 0..CHANGE_ATTEMPTS {
            let old = self.store.get_meta(&key).await?;
            let mut regs: BTreeMap<String, Registration> = match &old {
                None => BTreeMap::new(),
                Some(text) => {
                    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?
                }
            };
            let (out, changed) = change(&mut regs);
            if !changed {
                return Ok(out);
            }
            let new =
                serde_json::to_string(&regs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if self
                .store
                .swap_meta(&key, old.as_deref(), Some(&new))
                .await?
            {
                self.store.flush().await?;
                return Ok(out);
            }
        }
        Err(StoreError::Backend(format!(
            "the webhooks of profile {profile_id} changed {CHANGE_ATTEMPTS} times during one change"
        )))
    }

    /// Registers (or replaces) the profile's webhook for `action`.
    pub async fn register(
        &self,
        profile_id: &str,
        action: &str,
        url: &str,
        secret: Option<String>,
    ) -> Result<Result<Registration, RegisterRefusal>, StoreError> {
        if !ACTIONS.contains(&action) {
            return Ok(Err(RegisterRefusal::UnknownAction));
        }
        let ok_url = reqwest::Url::parse(url).is_ok_and(|u| {
            (u.scheme() == "https" || (u.scheme() == "http" && self.config.allow_http))
                && u.host_str().is_some_and(|h| !h.is_empty())
        });
        if !ok_url {
            return Ok(Err(RegisterRefusal::BadUrl));
        }
        let reg = Registration {
            action: action.to_owned(),
            url: url.to_owned(),
            secret: secret.filter(|s| !s.is_empty()),
            created: Utc::now(),
        };
        self.change(profile_id, |regs| {
            regs.insert(action.to_owned(), reg.clone());
            ((), true)
        })
        .await?;
        Ok(Ok(reg))
    }

    /// Removes the profile's webhook for `action`; whether there was one.
    pub async fn unregister(&self, profile_id: &str, action: &str) -> Result<bool, StoreError> {
        self.change(profile_id, |regs| {
            let existed = regs.remove(action).is_some();
            (existed, existed)
        })
        .await
    }

    /// The profile's own webhooks, by action.
    pub async fn list(&self, profile_id: &str) -> Result<Vec<Registration>, StoreError> {
        Ok(self
            .registrations(profile_id)
            .await?
            .into_values()
            .collect())
    }

    /// The registration an event of `profile_id` goes to: the profile's own, else the
    /// primary profile's of its account (Ayrshare's routing), with its owner.
    async fn route(
        &self,
        profile_id: &str,
        action: &str,
    ) -> Result<Option<(String, Registration)>, StoreError> {
        if let Some(reg) = self.registrations(profile_id).await?.remove(action) {
            return Ok(Some((profile_id.to_owned(), reg)));
        }
        let Some(profile) = self.store.get_profile(profile_id).await? else {
            return Ok(None);
        };
        if profile.primary {
            return Ok(None);
        }
        let primary = crate::domain::primary_profile_id(&profile.account_id);
        Ok(self
            .registrations(&primary)
            .await?
            .remove(action)
            .map(|reg| (primary, reg)))
    }

    /// Puts an event of `profile_id` in the outbox if a webhook receives `action`; returns
    /// whether one does. `payload` gets `hookId` (`hook_id`, else a fresh one: pass a
    /// deterministic id where an event may be emitted again after a crash). Durable when
    /// this returns.
    pub async fn emit(
        &self,
        profile_id: &str,
        action: &str,
        hook_id: Option<String>,
        mut payload: Map<String, Value>,
    ) -> Result<bool, StoreError> {
        let Some((owner, _)) = self.route(profile_id, action).await? else {
            return Ok(false);
        };
        let hook_id = hook_id.unwrap_or_else(new_hook_id);
        payload.insert("hookId".into(), Value::String(hook_id.clone()));
        let delivery = Delivery {
            owner: owner.clone(),
            action: action.to_owned(),
            body: Value::Object(payload).to_string(),
        };
        let job = Job {
            kind: KIND.into(),
            key: hook_id,
            group: owner,
            due: Utc::now(),
            attempts: 0,
            payload: serde_json::to_value(delivery)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        self.store.put_job(&job, usize::MAX).await?;
        self.store.flush().await?;
        Ok(true)
    }

    /// Fires the `social` event of `profile_id`: an account of `platform` was linked,
    /// unlinked or refreshed (`kind`: `link`, `unlink`, `refresh`); `source` is `user` for a
    /// user's request, `system` for postgate's own doing (e.g. a token refresher finding that
    /// an account must be re-linked, with `details` saying why). Durable when this returns.
    pub async fn emit_social(
        &self,
        profile_id: &str,
        platform: &str,
        kind: &str,
        source: &str,
        display_name: Option<&str>,
        details: Option<Value>,
    ) -> Result<bool, StoreError> {
        let mut m = Map::new();
        m.insert("action".into(), "social".into());
        m.insert(
            "created".into(),
            Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        m.insert("code".into(), 200.into());
        m.insert("type".into(), kind.into());
        m.insert("source".into(), source.into());
        m.insert("platform".into(), platform.into());
        if let Some(name) = display_name {
            m.insert("displayName".into(), name.into());
        }
        if let Some(details) = details {
            m.insert("details".into(), details);
        }
        m.insert("refId".into(), profile_id.into());
        self.emit(profile_id, "social", None, m).await
    }

    /// Runs the dispatcher on `tasks` until `stop`.
    pub fn spawn(self, tasks: &TaskTracker, stop: CancellationToken) {
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(self.config.tick) => {}
                }
                if let Err(e) = self.deliver_due().await {
                    tracing::error!(error = %e, "webhooks: a round failed");
                }
            }
        });
    }

    /// Sends the due deliveries (a few at once); returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        // Reserved for longer than an attempt can take, so no other round resends it.
        let lease = self.config.timeout + Duration::from_secs(5);
        let jobs = self.store.claim_jobs(KIND, Utc::now(), 32, lease).await?;
        let n = jobs.len();
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(jobs)
            .map(|job| self.deliver(job))
            .buffer_unordered(8)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    async fn deliver(&self, job: Job) -> Result<(), StoreError> {
        let Ok(delivery) = serde_json::from_value::<Delivery>(job.payload.clone()) else {
            tracing::error!(hook_id = %job.key, "webhooks: unreadable delivery dropped");
            self.store.remove_job(KIND, &job.key).await?;
            return Ok(());
        };
        // Sent to the registration as it is now: an unregistered webhook gets nothing more.
        let Some(reg) = self
            .registrations(&delivery.owner)
            .await?
            .remove(&delivery.action)
        else {
            self.store.remove_job(KIND, &job.key).await?;
            return Ok(());
        };
        let mut request = self
            .client
            .post(&reg.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, Utc::now().timestamp().to_string());
        if let Some(secret) = &reg.secret {
            request = request.header(
                SIGNATURE_HEADER,
                signature(secret, delivery.body.as_bytes()),
            );
        }
        let outcome = request.body(delivery.body.clone()).send().await;
        let ok = matches!(&outcome, Ok(r) if r.status().is_success());
        if ok {
            self.store.remove_job(KIND, &job.key).await?;
            return self.store.flush().await;
        }
        // The URL's host only: a path or query may carry the receiver's own secret.
        let host = reqwest::Url::parse(&reg.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let status = match &outcome {
            Ok(r) => r.status().as_u16().to_string(),
            Err(e) if e.is_timeout() => "timeout".into(),
            Err(_) => "unreachable".into(),
        };
        let attempts = job.attempts.saturating_add(1);
        match self.config.retry_delays.get(job.attempts as usize) {
            Some(delay) => {
                tracing::warn!(hook_id = %job.key, host = %host, status = %status, attempt = attempts, "webhook delivery failed; retrying");
                let due = chrono::Duration::from_std(*delay)
                    .ok()
                    .and_then(|d| Utc::now().checked_add_signed(d))
                    .unwrap_or_else(Utc::now);
                let job = Job {
                    due,
                    attempts,
                    ..job
                };
                self.store.put_job(&job, usize::MAX).await?;
            }
            None => {
                tracing::warn!(hook_id = %job.key, host = %host, status = %status, attempt = attempts, "webhook delivery failed for good; dropped");
                self.store.remove_job(KIND, &job.key).await?;
            }
        }
        self.store.flush().await
    }
}
