//! Threads (graph.threads.net). The user token rides in the `access_token` query parameter,
//! so URLs never reach a log line or an error message unredacted.

use super::{
    checked_id, http_client, identity, retry_after_header, snippet, transport_error, CallContext,
    Existence, Gone, Identity, Network, NetworkError, Published,
};
use crate::configuration::ThreadsSettings;
use crate::domain::{NetworkPostId, Platform};
use crate::store::LinkedAccount;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Rate-limit wait when Threads gives no hint (it documents none).
const DEFAULT_RETRY_AFTER_SECS: u64 = 900;

/// The Threads adapter.
pub struct Threads {
    base: String,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

/// Graph API error envelope (`{"error":{"message","type","code","error_subcode",...}}`).
#[derive(Debug, Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct IdBody {
    id: String,
}

/// How a Graph error answer reads.
enum Classified {
    /// code 100 / subcode 33: "does not exist, cannot be loaded due to missing permissions, or
    /// does not support this operation" — gone or not ours; the text cannot tell.
    NotFoundOrNoAccess(String),
    Error(NetworkError),
}

impl Threads {
    /// An adapter for the configured base URL.
    pub fn new(settings: &ThreadsSettings) -> Self {
        Self {
            base: settings.base_url.trim_end_matches('/').to_owned(),
            client: http_client(
                Duration::from_millis(settings.connect_timeout_ms),
                settings.timeout(),
            ),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends a request and returns status, headers and body text.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), NetworkError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| NetworkError::Transient("Threads adapter is shutting down".into()))?;
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error("Threads", e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .text()
            .await
            .map_err(|e| transport_error("Threads", e))?;
        tracing::debug!(status = status.as_u16(), "Threads answered");
        Ok((status, headers, body))
    }

    /// Sends a publishing call and reads the `id` of its answer.
    async fn id_of(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<String, NetworkError> {
        let (status, headers, body) = self.send(req).await?;
        if !status.is_success() {
            return Err(match Self::classify(status, &headers, &body) {
                Classified::Error(e) => e,
                Classified::NotFoundOrNoAccess(m) => NetworkError::Rejected(m),
            });
        }
        serde_json::from_str::<IdBody>(&body)
            .map(|b| b.id)
            .map_err(|_| {
                NetworkError::Rejected(format!(
                    "Threads {what} answer without id: {}",
                    snippet(&body)
                ))
            })
    }

    /// Classifies a non-success Graph answer by `code`, never by HTTP status alone: Threads
    /// answers a missing permission with HTTP 500 and code 10.
    fn classify(
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) -> Classified {
        let Ok(GraphErrorBody { error }) = serde_json::from_str::<GraphErrorBody>(body) else {
            let msg = format!(
                "Threads answered HTTP {}: {}",
                status.as_u16(),
                snippet(body)
            );
            return Classified::Error(if status.is_server_error() {
                NetworkError::Transient(msg)
            } else if status.as_u16() == 429 {
                NetworkError::RateLimited {
                    retry_after: retry_after_header(headers).unwrap_or(DEFAULT_RETRY_AFTER_SECS),
                    message: msg,
                }
            } else {
                NetworkError::Rejected(msg)
            });
        };
        let code = error.code.unwrap_or(0);
        let sub = error.error_subcode.unwrap_or(0);
        let msg = format!(
            "Threads error {code}{}: {}",
            if sub != 0 {
                format!("/{sub}")
            } else {
                String::new()
            },
            error.message
        );
        let err = match code {
            100 if sub == 33 => return Classified::NotFoundOrNoAccess(msg),
            4 | 17 | 32 | 341 | 368 | 613 => NetworkError::RateLimited {
                retry_after: retry_after_header(headers).unwrap_or(DEFAULT_RETRY_AFTER_SECS),
                message: msg,
            },
            3 | 10 | 102 | 190 | 200..=299 => NetworkError::Auth(msg),
            1 | 2 => NetworkError::Transient(msg),
            _ if error.is_transient == Some(true) => NetworkError::Transient(msg),
            _ if status.is_server_error() && code == 0 => NetworkError::Transient(msg),
            _ => NetworkError::Rejected(msg),
        };
        Classified::Error(err)
    }
}

#[async_trait]
impl Network for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    async fn delete(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        ctx: &CallContext,
    ) -> Result<Gone, NetworkError> {
        checked_id(id, &Platform::Threads)?;
        let req = self
            .client
            .delete(self.url(id.as_str()))
            .query(&[("access_token", account.access_token.as_str())]);
        let (status, headers, body) = self.send(req).await?;
        if status.is_success() {
            // The documented sample has a trailing comma; accept it rather than fail a delete
            // that happened.
            let cleaned = body.replace(",}", "}").replace(", }", "}");
            let v: serde_json::Value = serde_json::from_str(&cleaned).unwrap_or_default();
            return if v.get("success").and_then(|s| s.as_bool()) == Some(true) {
                Ok(Gone::Deleted)
            } else {
                Err(NetworkError::Rejected(format!(
                    "Threads did not confirm the delete: {}",
                    snippet(&body)
                )))
            };
        }
        match Self::classify(status, &headers, &body) {
            Classified::Error(e) => Err(e),
            Classified::NotFoundOrNoAccess(msg) => {
                // Code 100/33 means "gone" and "not permitted" alike. A read tells them apart
                // when it finds the post; when the read fails the same way it stays ambiguous.
                match self.exists(account, id, ctx).await {
                    Ok(Existence::Exists) => Err(NetworkError::Auth(format!(
                        "{msg}. The post still exists, so the linked token cannot delete it: it lacks the threads_delete permission or the post belongs to another account. Re-link Threads with threads_basic and threads_delete."
                    ))),
                    _ => Err(NetworkError::Ambiguous(format!(
                        "{msg}. Threads gives this answer both for a post that no longer exists and for a token without the threads_delete permission, and a follow-up read did not find the post. If it is gone, record that with markManualDeleted."
                    ))),
                }
            }
        }
    }

    async fn exists(
        &self,
        account: &LinkedAccount,
        id: &NetworkPostId,
        _ctx: &CallContext,
    ) -> Result<Existence, NetworkError> {
        checked_id(id, &Platform::Threads)?;
        let req = self.client.get(self.url(id.as_str())).query(&[
            ("fields", "id"),
            ("access_token", account.access_token.as_str()),
        ]);
        let (status, headers, body) = self.send(req).await?;
        if status.is_success() {
            return Ok(Existence::Exists);
        }
        if status.as_u16() == 404 {
            return Ok(Existence::Gone);
        }
        match Self::classify(status, &headers, &body) {
            Classified::NotFoundOrNoAccess(_) => Ok(Existence::Gone),
            Classified::Error(e) => Err(e),
        }
    }

    async fn whoami(
        &self,
        account: &LinkedAccount,
        _ctx: &CallContext,
    ) -> Result<Identity, NetworkError> {
        let req = self.client.get(self.url("me")).query(&[
            ("fields", "id,username"),
            ("access_token", account.access_token.as_str()),
        ]);
        let (status, headers, body) = self.send(req).await?;
        if !status.is_success() {
            return Err(match Self::classify(status, &headers, &body) {
                Classified::Error(e) => e,
                Classified::NotFoundOrNoAccess(m) => NetworkError::Rejected(m),
            });
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        identity(
            &Platform::Threads,
            v.get("id").and_then(|i| i.as_str()),
            v.get("username").and_then(|u| u.as_str()),
            &body,
        )
    }

    async fn publish(
        &self,
        account: &LinkedAccount,
        text: &str,
        _ctx: &CallContext,
    ) -> Result<Published, NetworkError> {
        let token = account.access_token.as_str();
        let user = &account.user_id;
        let req = self
            .client
            .post(self.url(&format!("{user}/threads")))
            .form(&[
                ("media_type", "TEXT"),
                ("text", text),
                ("access_token", token),
            ]);
        let container = self.id_of(req, "container").await?;
        let req = self
            .client
            .post(self.url(&format!("{user}/threads_publish")))
            .query(&[("creation_id", container.as_str()), ("access_token", token)]);
        let media = IdBody {
            id: self.id_of(req, "publish").await?,
        };
        // The permalink needs one more read; a post is published even if that read fails.
        let req = self
            .client
            .get(self.url(&media.id))
            .query(&[("fields", "permalink"), ("access_token", token)]);
        let url = match self.send(req).await {
            Ok((s, _, b)) if s.is_success() => serde_json::from_str::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| {
                    v.get("permalink")
                        .and_then(|p| p.as_str())
                        .map(str::to_owned)
                }),
            _ => None,
        }
        .unwrap_or_else(|| match &account.username {
            Some(u) => format!("https://www.threads.net/@{u}"),
            None => "https://www.threads.net/".to_owned(),
        });
        Ok(Published {
            id: NetworkPostId(media.id),
            url,
        })
    }
}
