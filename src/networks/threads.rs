//! Threads (graph.threads.net). The user token rides in the `access_token` query parameter,
//! so URLs never reach a log line or an error message unredacted.

use super::text::{is_emoji, is_emoji_modifier};
use super::{
    checked_id, http_client, identity, retry_after_header, snippet, CallContext, Existence, Gone,
    Identity, Media, MediaRules, Network, NetworkError, PublishCheck, PublishError, Published,
    Quota, TextRule,
};
use crate::configuration::ThreadsSettings;
use crate::domain::{LinkedAccount, NetworkPostId, Platform};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most characters of a Threads post.
pub const THREADS_MAX: usize = 500;

/// Threads' length of `text`: characters, where an emoji counts as its UTF-8 byte length
/// (Meta's rule).
pub fn threads_length(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if is_emoji(c) || is_emoji_modifier(c) || c == '\u{200D}' {
                c.len_utf8()
            } else {
                1
            }
        })
        .sum()
}

/// Most images of a Threads carousel (one image alone is an IMAGE post).
pub const THREADS_MAX_IMAGES: usize = 20;
/// Largest image Threads takes (8 MB).
pub const THREADS_MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// Rate-limit wait when Threads gives no hint (it documents none).
const DEFAULT_RETRY_AFTER_SECS: u64 = 900;

/// The Threads adapter.
pub struct Threads {
    base: String,
    quota: Quota,
    client: super::HttpClient,
    in_flight: Arc<Semaphore>,
    /// How often, and how long at most, an image container's status is asked.
    container_poll: Duration,
    container_wait: Duration,
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
            quota: Quota {
                limit: settings.delete_limit,
                window_secs: settings.delete_window_secs,
            },
            client: http_client(
                Duration::from_millis(settings.connect_timeout_ms),
                settings.timeout(),
            ),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            container_poll: Duration::from_millis(settings.container_poll_ms.max(1)),
            container_wait: Duration::from_millis(settings.container_wait_ms),
        }
    }

    /// Creates a container from `fields` (plus the token) and returns its id. A container is
    /// not a post: whatever happens to this call, nothing is live yet.
    async fn container(
        &self,
        account: &LinkedAccount,
        fields: &[(&str, &str)],
    ) -> Result<String, NetworkError> {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("access_token", account.access_token.as_str()));
        let req = self
            .client
            .post(self.url(&format!("{}/threads", account.user_id)))
            .form(&form);
        let id = self.id_of(req, "container").await?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NetworkError::Rejected(format!(
                "Threads answered a container id that is not a Graph id: {}",
                snippet(&id)
            )));
        }
        Ok(id)
    }

    /// Waits until Threads has fetched and processed an image container: asks
    /// `GET /{container}?fields=status,error_message` every `container_poll` until
    /// `FINISHED`, for at most `container_wait`. Nothing is published yet, so every failure
    /// here is a sure "not published".
    async fn wait_finished(
        &self,
        account: &LinkedAccount,
        container: &str,
    ) -> Result<(), NetworkError> {
        let deadline = tokio::time::Instant::now() + self.container_wait;
        loop {
            let req = self.client.get(self.url(container)).query(&[
                ("fields", "status,error_message"),
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
            let state = v.get("status").and_then(|s| s.as_str()).unwrap_or("");
            let detail = v
                .get("error_message")
                .and_then(|s| s.as_str())
                .unwrap_or("no detail given");
            match state {
                "FINISHED" => return Ok(()),
                "ERROR" => {
                    return Err(NetworkError::Rejected(format!(
                        "Threads could not process the image (container status ERROR: {detail})"
                    )))
                }
                "EXPIRED" | "PUBLISHED" => {
                    return Err(NetworkError::Rejected(format!(
                        "Threads container is {state}, it cannot be published"
                    )))
                }
                _ => {}
            }
            if tokio::time::Instant::now() + self.container_poll > deadline {
                return Err(NetworkError::Timeout(format!(
                    "Threads had not finished processing the image after {} ms (container status {})",
                    self.container_wait.as_millis(),
                    if state.is_empty() { "unknown" } else { state }
                )));
            }
            tokio::time::sleep(self.container_poll).await;
        }
    }

    /// Publishes a ready container (`threads_publish`) and reads the post's permalink.
    async fn publish_ready(
        &self,
        account: &LinkedAccount,
        container: &str,
    ) -> Result<Published, PublishError> {
        let token = account.access_token.as_str();
        let user = &account.user_id;
        let req = self
            .client
            .post(self.url(&format!("{user}/threads_publish")))
            .query(&[("creation_id", container), ("access_token", token)]);
        let media = IdBody {
            id: self.publish_container(req, container).await?,
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
        .unwrap_or_else(|| profile_url(account));
        Ok(Published {
            id: NetworkPostId(media.id),
            url,
        })
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
        let (status, headers, body) = self
            .client
            .exchange(req)
            .await
            .map_err(|e| e.network("Threads"))?;
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

    /// Sends `threads_publish` for `container` and reads the media id. Once the request may
    /// have reached Threads, every unclear end (timeout, dropped connection, any 5xx — Threads
    /// has answered HTTP 500 code 10 for posts it did publish — or a 2xx without an id) is an
    /// unknown outcome that keeps the container id; only a 4xx refusal means "not published".
    async fn publish_container(
        &self,
        req: reqwest::RequestBuilder,
        container: &str,
    ) -> Result<String, PublishError> {
        let reference = || Some(container.to_owned());
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| NetworkError::Transient("Threads adapter is shutting down".into()))?;
        let (status, headers, body) = self
            .client
            .exchange(req)
            .await
            .map_err(|e| e.publish("Threads", reference()))?;
        tracing::debug!(status = status.as_u16(), "Threads answered threads_publish");
        if status.is_success() {
            return match serde_json::from_str::<IdBody>(&body) {
                Ok(b) if !b.id.is_empty() => Ok(b.id),
                _ => Err(PublishError::unknown(
                    NetworkError::Ambiguous(format!(
                        "Threads accepted threads_publish without a media id: {}",
                        snippet(&body)
                    )),
                    reference(),
                )),
            };
        }
        let error = match Self::classify(status, &headers, &body) {
            Classified::Error(e) => e,
            Classified::NotFoundOrNoAccess(m) => NetworkError::Rejected(m),
        };
        if status.is_server_error() {
            return Err(PublishError::unknown(
                NetworkError::Ambiguous(format!(
                    "Threads answered HTTP {} to threads_publish ({error}); Threads has given such answers for posts it did publish",
                    status.as_u16()
                )),
                reference(),
            ));
        }
        Err(PublishError::from(error))
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

    fn delete_quota(&self) -> Quota {
        self.quota
    }

    fn profile_url(&self, account: &LinkedAccount) -> Option<String> {
        account.username.as_ref().map(|_| profile_url(account))
    }

    fn text_rule(&self) -> TextRule {
        TextRule::new(
            THREADS_MAX,
            "characters (emoji count their UTF-8 bytes)",
            threads_length,
        )
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
                // when it finds the post; when the read answers the same way it stays
                // "not found or no access"; when the read itself fails, nothing is known.
                match self.exists(account, id, ctx).await {
                    Ok(Existence::Exists) => Err(NetworkError::Auth(format!(
                        "{msg}. The post still exists, so the linked token cannot delete it: it lacks the threads_delete permission or the post belongs to another account. Re-link Threads with threads_basic and threads_delete."
                    ))),
                    Ok(Existence::Gone) => Err(NetworkError::NotFoundOrNoAccess(format!(
                        "{msg}. Threads gives this answer both for a post that no longer exists and for a token without the threads_delete permission, and a follow-up read did not find the post. If it is gone, record that with markManualDeleted."
                    ))),
                    Err(e) => Err(NetworkError::Ambiguous(format!(
                        "{msg}. Threads gives this answer both for a post that no longer exists and for a token without the threads_delete permission, and the follow-up read that would tell them apart failed ({e}): the outcome is unknown. Retry the delete."
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
        if status.as_u16() == 404 && serde_json::from_str::<GraphErrorBody>(&body).is_err() {
            // A bare 404 (no Graph error) may be a wrong base URL or a proxy: not proof.
            return Err(NetworkError::Ambiguous(format!(
                "Threads answered HTTP 404 without a Graph error, which does not say the post is gone (check threads.base_url): {}",
                snippet(&body)
            )));
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
    ) -> Result<Published, PublishError> {
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
        // A container is not a post: whatever happens to this call, nothing is live yet.
        let container = self.id_of(req, "container").await?;
        self.publish_ready(account, &container).await
    }

    fn media_rules(&self) -> MediaRules {
        MediaRules {
            max_images: THREADS_MAX_IMAGES,
            max_bytes: THREADS_MAX_IMAGE_BYTES,
            fetches_url: true,
        }
    }

    /// One image: an `IMAGE` container with `image_url`. Several: one item container per
    /// image (`is_carousel_item=true`), all waited on together until `FINISHED`, then a
    /// `CAROUSEL` container of them. Threads fetches each URL itself; the last container is
    /// waited on until `FINISHED` before `threads_publish`.
    async fn publish_with_media(
        &self,
        account: &LinkedAccount,
        text: &str,
        media: &[Media],
        ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        let container = match media {
            [] => return self.publish(account, text, ctx).await,
            [one] => {
                self.container(
                    account,
                    &[
                        ("media_type", "IMAGE"),
                        ("image_url", one.url.as_str()),
                        ("text", text),
                    ],
                )
                .await?
            }
            many => {
                let mut children = Vec::with_capacity(many.len());
                for m in many {
                    let item = self
                        .container(
                            account,
                            &[
                                ("media_type", "IMAGE"),
                                ("image_url", m.url.as_str()),
                                ("is_carousel_item", "true"),
                            ],
                        )
                        .await?;
                    children.push(item);
                }
                // Threads fetches the items in parallel: waiting on them together keeps a
                // 20-image carousel within one publish's time budget.
                futures::future::try_join_all(
                    children
                        .iter()
                        .map(|item| self.wait_finished(account, item)),
                )
                .await?;
                let children = children.join(",");
                self.container(
                    account,
                    &[
                        ("media_type", "CAROUSEL"),
                        ("children", children.as_str()),
                        ("text", text),
                    ],
                )
                .await?
            }
        };
        self.wait_finished(account, &container).await?;
        self.publish_ready(account, &container).await
    }

    /// Asks the container's status (`GET /{container}?fields=status,id,error_message`); when
    /// it says `PUBLISHED`, finds the media among the profile's recent threads by its text,
    /// published at or after `since` (less a minute of clock skew). Without a container
    /// there is nothing reliable to ask: the outcome stays unknown.
    async fn check_publish(
        &self,
        account: &LinkedAccount,
        reference: Option<&str>,
        text: &str,
        since: DateTime<Utc>,
        _ctx: &CallContext,
    ) -> Result<PublishCheck, NetworkError> {
        let Some(container) = reference else {
            return Ok(PublishCheck::Unknown(
                "Threads gave no container id before the answer was lost, so there is nothing to check; look at the Threads account".into(),
            ));
        };
        if !container.bytes().all(|b| b.is_ascii_digit()) || container.is_empty() {
            return Ok(PublishCheck::Unknown(format!(
                "the stored Threads container id {container:?} is not a Graph id"
            )));
        }
        let token = account.access_token.as_str();
        let req = self.client.get(self.url(container)).query(&[
            ("fields", "status,id,error_message"),
            ("access_token", token),
        ]);
        let (status, headers, body) = self.send(req).await?;
        if !status.is_success() {
            return Err(match Self::classify(status, &headers, &body) {
                Classified::Error(e) => e,
                Classified::NotFoundOrNoAccess(m) => NetworkError::Ambiguous(m),
            });
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let container_status = v.get("status").and_then(|s| s.as_str()).unwrap_or("");
        match container_status {
            "PUBLISHED" => {}
            "FINISHED" | "ERROR" | "EXPIRED" => {
                let detail = v
                    .get("error_message")
                    .and_then(|m| m.as_str())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Ok(PublishCheck::NotPublished(format!(
                    "Threads says container {container} was not published (status {container_status}{detail})"
                )));
            }
            other => {
                return Ok(PublishCheck::Unknown(format!(
                    "Threads container {container} has status {:?}",
                    snippet(other)
                )))
            }
        }
        let user = &account.user_id;
        let req = self
            .client
            .get(self.url(&format!("{user}/threads")))
            .query(&[
                ("fields", "id,text,timestamp,permalink"),
                ("limit", RECENT_THREADS_LIMIT),
                ("access_token", token),
            ]);
        let (status, headers, body) = self.send(req).await?;
        if !status.is_success() {
            return Err(match Self::classify(status, &headers, &body) {
                Classified::Error(e) => e,
                Classified::NotFoundOrNoAccess(m) => NetworkError::Ambiguous(m),
            });
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let earliest = since - chrono::Duration::seconds(60);
        let found =
            v.get("data")
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
                .filter(|t| t.get("text").and_then(|x| x.as_str()) == Some(text))
                .filter_map(|t| {
                    let id = t.get("id")?.as_str()?;
                    let at = parse_graph_time(t.get("timestamp")?.as_str()?)?;
                    (at >= earliest && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| {
                            (
                                at,
                                id.to_owned(),
                                t.get("permalink")
                                    .and_then(|p| p.as_str())
                                    .map(str::to_owned),
                            )
                        })
                })
                .min_by_key(|(at, _, _)| *at);
        Ok(match found {
            Some((_, id, permalink)) => PublishCheck::Published(Published {
                url: permalink.unwrap_or_else(|| profile_url(account)),
                id: NetworkPostId(id),
            }),
            None => PublishCheck::Unknown(format!(
                "Threads says container {container} was published, but the post is not among the account's {RECENT_THREADS_LIMIT} most recent threads"
            )),
        })
    }
}

/// How many of the profile's recent threads a publish check reads.
const RECENT_THREADS_LIMIT: &str = "25";

/// The profile's page, when a post's permalink is unknown.
fn profile_url(account: &LinkedAccount) -> String {
    match &account.username {
        Some(u) => format!("https://www.threads.net/@{u}"),
        None => "https://www.threads.net/".to_owned(),
    }
}

/// Graph timestamps (`2023-10-17T05:42:03+0000`), or RFC 3339.
fn parse_graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_counts_emoji_as_bytes() {
        assert_eq!(threads_length("hello"), 5);
        assert_eq!(threads_length("é"), 1);
        assert_eq!(threads_length("😀"), 4);
        assert_eq!(threads_length(&"a".repeat(500)), 500);
    }
}
