//! `POST /api/post`: publish now to Threads and X, or schedule, answered in Ayrshare's shapes.
//!
//! - Now: `{"status","errors","postIds":[{"status","id","platform","postUrl"}],"id","refId",
//!   "post"}`; HTTP 200 when every platform published, else HTTP 400 with `status: "error"`
//!   and each failed platform in `errors` (the others are published and listed in `postIds`).
//! - Scheduled (`scheduleDate` in the future): `{"status":"scheduled","errors":[],"id",
//!   "scheduleDate","refId","post"}`.
//! - With a `Profile-Key` header: `{"status", "posts":[{...the object above...,
//!   "profileTitle"}]}`, as Ayrshare answers.
//! - `idempotencyKey`: the key is claimed for the new post's id, durably, before any network
//!   call; the first answer is then stored with its HTTP status and replayed for every later
//!   request with that key; nothing is published again. A key claimed but never answered (the
//!   gateway stopped mid-publish) answers from the post as stored, or HTTP 409 code 931 with
//!   the post's `id` while it is still `processing`.

use super::auth::Caller;
use super::error::{codes, ApiError};
use super::{json_body, json_response, AppState};
use crate::domain::{EntryState, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus};
use crate::service::publish::text_length;
use crate::service::NewPost;
use crate::store::{IdempotencyRecord, Profile};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Platform names Ayrshare accepts in `platforms` (`x` is taken as `twitter`). Others are
/// refused as unknown; known ones without a postgate adapter get a per-platform error.
pub const AYRSHARE_PLATFORMS: &[&str] = &[
    "bluesky",
    "facebook",
    "gmb",
    "instagram",
    "linkedin",
    "pinterest",
    "reddit",
    "snapchat",
    "telegram",
    "threads",
    "tiktok",
    "twitter",
    "x",
    "youtube",
];

/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// Header set on an answer replayed for a repeated idempotency key.
pub const REPLAY_HEADER: &str = "idempotent-replayed";

/// Whether `name` is one of [`AYRSHARE_PLATFORMS`] (case-insensitively).
pub fn is_ayrshare_platform(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    AYRSHARE_PLATFORMS.contains(&lower.as_str())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishBody {
    #[serde(default)]
    post: Option<String>,
    #[serde(default)]
    platforms: Option<Vec<String>>,
    #[serde(default)]
    schedule_date: Option<Value>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

fn invalid_post(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "post",
        codes::POST_INVALID,
        message,
    )
}

/// Parses `scheduleDate`: ISO-8601 with an offset (`2026-07-08T12:30:00Z`), or without one
/// (taken as UTC). `null` or `""` mean "publish now".
fn parse_schedule_date(v: Option<Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let bad = |what: &str| {
        ApiError::invalid(
            "post",
            format!("Field 'scheduleDate' {what}: send an ISO-8601 UTC date such as \"2026-07-08T12:30:00Z\"."),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            let d = match DateTime::parse_from_rfc3339(s) {
                Ok(d) => d.with_timezone(&Utc),
                Err(_) => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|n| n.and_utc())
                    .map_err(|_| bad(&format!("is not a date: {s:?}")))?,
            };
            // Year 0 or 9999+ is a client's mistake, not "publish now" or "never".
            if !crate::domain::DATE_YEARS.contains(&chrono::Datelike::year(&d)) {
                return Err(bad(&format!("is out of range: {s:?}")));
            }
            Ok(Some(d))
        }
        Some(_) => Err(bad("must be a string")),
    }
}

/// Validates a request into a [`NewPost`]: text, platforms, limits, schedule date.
fn validate(
    body: PublishBody,
    profile_id: &str,
    idempotency_key: Option<String>,
    id: PostId,
) -> Result<NewPost, ApiError> {
    let Some(text) = body.post else {
        return Err(ApiError::invalid(
            "post",
            "Field 'post' is required: the text to publish.",
        ));
    };
    if text.trim().is_empty() {
        return Err(invalid_post(
            "Field 'post' is empty: send the text to publish.",
        ));
    }
    if text.chars().count() > crate::domain::MAX_TEXT_CHARS {
        return Err(invalid_post(format!(
            "Field 'post' is too long: the most this gateway accepts is {} characters.",
            crate::domain::MAX_TEXT_CHARS
        )));
    }
    let Some(names) = body.platforms else {
        return Err(ApiError::invalid(
            "post",
            "Field 'platforms' is required: an array of platform names such as [\"threads\", \"twitter\"].",
        ));
    };
    if names.is_empty() {
        return Err(ApiError::invalid(
            "post",
            "Field 'platforms' must list at least one platform, such as [\"threads\", \"twitter\"].",
        ));
    }
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !is_ayrshare_platform(n))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid(
            "post",
            format!(
                "Field 'platforms' has unknown platform names: {}. Known names: {}.",
                unknown
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                AYRSHARE_PLATFORMS.join(", ")
            ),
        ));
    }
    let mut platforms: Vec<Platform> = Vec::new();
    for name in &names {
        let p = Platform::from(name.trim().to_ascii_lowercase());
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    for p in &platforms {
        if let Some((length, limit)) = text_length(p, &text) {
            if length > limit {
                let unit = if *p == Platform::Twitter {
                    "weighted characters (URLs count 23, CJK and emoji 2)"
                } else {
                    "characters (emoji count their UTF-8 bytes)"
                };
                return Err(invalid_post(format!(
                    "Field 'post' is too long for {}: {length} {unit}; the limit is {limit}.",
                    p.display_name()
                ))
                .with("platform", p.as_str()));
            }
        }
    }
    Ok(NewPost {
        id,
        profile_id: profile_id.to_owned(),
        text,
        platforms,
        schedule_date: parse_schedule_date(body.schedule_date)?,
        idempotency_key,
    })
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One failed platform in `errors`.
fn error_item(e: &PlatformEntry) -> Value {
    let (code, message) = e
        .error
        .as_ref()
        .map(|x| {
            (
                super::error::code_for(x.kind, &e.platform, "post"),
                x.message.clone(),
            )
        })
        .unwrap_or((codes::PUBLISH_FAILED, "publishing failed".into()));
    let mut v = json!({
        "action": "post",
        "status": "error",
        "code": code,
        "message": message,
        "platform": e.platform.as_str(),
    });
    if code == codes::X_CREDENTIALS_REQUIRED {
        v["error"] = json!("x_credentials_required");
    }
    if e.state == EntryState::Publishing {
        // The network may have published it: postgate keeps it as possibly live.
        v["outcomeUnknown"] = json!(true);
    }
    v
}

/// The answer to a create: (HTTP status, body).
pub fn render_answer(post: &Post, profile: &Profile, via_profile_key: bool) -> (StatusCode, Value) {
    let mut entries: Vec<&PlatformEntry> = post.entries.iter().collect();
    entries.sort_by(|a, b| a.platform.as_str().cmp(b.platform.as_str()));
    let errors: Vec<Value> = entries
        .iter()
        .filter(|e| {
            e.state == EntryState::Failed
                || (e.state == EntryState::Publishing && e.error.is_some())
        })
        .map(|e| error_item(e))
        .collect();
    let ok = errors.is_empty();
    let mut o = Map::new();
    let status = if post.kind == PostKind::Scheduled {
        if ok {
            "scheduled"
        } else {
            "error"
        }
    } else if ok {
        "success"
    } else {
        "error"
    };
    o.insert("status".into(), json!(status));
    o.insert("errors".into(), Value::Array(errors));
    if post.kind == PostKind::Now {
        let post_ids: Vec<Value> = entries
            .iter()
            .filter(|e| e.state == EntryState::Published)
            .map(|e| {
                json!({
                    "status": "success",
                    "id": e.id.as_ref().map(|i| i.as_str()),
                    "platform": e.platform.as_str(),
                    "postUrl": e.post_url,
                })
            })
            .collect();
        o.insert("postIds".into(), Value::Array(post_ids));
    }
    o.insert("id".into(), json!(post.id.as_str()));
    if post.kind == PostKind::Scheduled {
        if let Some(d) = &post.schedule_date {
            o.insert("scheduleDate".into(), json!(ts(d)));
        }
    }
    o.insert("refId".into(), json!(profile.id));
    o.insert("post".into(), json!(post.text));
    let http = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    if via_profile_key {
        o.insert("profileTitle".into(), json!(profile.title));
        (http, json!({"status": status, "posts": [Value::Object(o)]}))
    } else {
        (http, Value::Object(o))
    }
}

/// What an idempotency key remembers: the status and the body.
fn remembered(status: StatusCode, body: &Value) -> Value {
    json!({"httpStatus": status.as_u16(), "body": body})
}

fn replay(stored: Value) -> HttpResponse {
    let status = stored
        .get("httpStatus")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = stored.get("body").cloned().unwrap_or(stored);
    let mut resp = json_response(status, &body);
    resp.headers_mut().insert(
        header::HeaderName::from_static(REPLAY_HEADER),
        header::HeaderValue::from_static("true"),
    );
    resp
}

enum Outcome {
    Fresh(StatusCode, Value),
    Replayed(Value),
}

/// HTTP 409 / 931: the key's post is still being published (or was interrupted).
fn in_progress(post_id: &PostId, key: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "post",
        codes::IDEMPOTENCY_IN_PROGRESS,
        format!(
            "A request with this idempotencyKey is still publishing post {post_id}, or was interrupted before its outcome was recorded. Nothing was sent again: read the post with GET /api/post/{post_id}."
        ),
    )
    .with("id", post_id.as_str())
    .with("idempotencyKey", key)
}

/// A key claimed for `post_id` but never answered: the request is still running elsewhere,
/// or the gateway stopped before it answered. Answers from the post as stored (and remembers
/// that answer), or 409 / 931 while the post is still `processing`. `Ok(None)`: the post was
/// never written, so nothing was sent for it; the caller publishes it under that id.
async fn resume_claim(
    state: &AppState,
    caller: &Caller,
    key: &str,
    post_id: &PostId,
) -> Result<Option<Outcome>, ApiError> {
    let Some(post) = state
        .store
        .get_post(post_id)
        .await?
        .filter(|p| p.profile_id == caller.profile.id)
    else {
        return Ok(None);
    };
    if post.status == PostStatus::Processing {
        return Err(in_progress(post_id, key));
    }
    let (status, answer) = render_answer(&post, &caller.profile, caller.via_profile_key);
    let stored = remembered(status, &answer);
    state
        .store
        .remember_answer(&caller.profile.id, key, &stored)
        .await?;
    state.store.flush().await?;
    Ok(Some(Outcome::Replayed(stored)))
}

/// What a key already holds, as the answer to a repeated request; `Ok(None)`: a claim whose
/// post was never written (publish under the claimed id).
async fn answer_held(
    state: &AppState,
    caller: &Caller,
    key: &str,
    held: IdempotencyRecord,
) -> Result<Result<Outcome, PostId>, ApiError> {
    match held {
        IdempotencyRecord::Answered(v) => Ok(Ok(Outcome::Replayed(v))),
        IdempotencyRecord::Claimed { post_id, .. } => {
            match resume_claim(state, caller, key, &post_id).await? {
                Some(outcome) => Ok(Ok(outcome)),
                None => Ok(Err(post_id)),
            }
        }
    }
}

/// `POST /api/post`
pub async fn publish_post(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: PublishBody = json_body(&state, "post", payload).await?;
    let key = match body.idempotency_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) if k.chars().count() > IDEMPOTENCY_KEY_MAX => {
            return Err(ApiError::invalid(
                "post",
                format!("Field 'idempotencyKey' is longer than {IDEMPOTENCY_KEY_MAX} characters."),
            ))
        }
        Some(k) => Some(k.to_owned()),
    };
    let ctx = caller.call_context(&state);
    // Its own task: a client that disconnects does not cut the publish short between the
    // network calls and the record of their outcome (nor before its answer is remembered).
    let task = tokio::spawn(async move {
        let _key_guard = match &key {
            Some(k) => Some(
                state
                    .idempotency_locks
                    .lock(&format!("{}\0{k}", caller.profile.id))
                    .await,
            ),
            None => None,
        };
        let mut post_id = PostId::generate();
        let mut claimed = false;
        if let Some(k) = &key {
            if let Some(held) = state
                .store
                .idempotency_record(&caller.profile.id, k)
                .await?
            {
                match answer_held(&state, &caller, k, held).await? {
                    Ok(outcome) => return Ok::<_, ApiError>(outcome),
                    Err(id) => {
                        post_id = id;
                        claimed = true;
                    }
                }
            }
        }
        let new = validate(body, &caller.profile.id, key.clone(), post_id.clone())?;
        if let (Some(k), false) = (&key, claimed) {
            // The claim is durable before any network call: a retry after a crash finds it.
            if let Some(held) = state
                .store
                .claim_idempotency_key(&caller.profile.id, k, &post_id, Utc::now())
                .await?
            {
                // Claimed meanwhile by another gateway process sharing the store.
                return match answer_held(&state, &caller, k, held).await? {
                    Ok(outcome) => Ok(outcome),
                    Err(other) => Err(in_progress(&other, k)),
                };
            }
            state.store.flush().await?;
        }
        let post = state.publish.create(new, &ctx).await?;
        let (status, answer) = render_answer(&post, &caller.profile, caller.via_profile_key);
        if let Some(k) = &key {
            state
                .store
                .remember_answer(&caller.profile.id, k, &remembered(status, &answer))
                .await?;
            state.store.flush().await?;
        }
        Ok(Outcome::Fresh(status, answer))
    });
    match task.await {
        Ok(Ok(Outcome::Fresh(status, body))) => Ok(json_response(status, &body)),
        Ok(Ok(Outcome::Replayed(stored))) => Ok(replay(stored)),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            tracing::error!(error = %e, "publish task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                codes::INTERNAL,
                "Internal error while publishing. The details are in the gateway's log.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> PublishBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_names_fields() {
        let e = validate(
            body(json!({"platforms": ["threads"]})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap_err();
        assert!(e.body()["message"].as_str().unwrap().contains("'post'"));
        let e = validate(
            body(json!({"post": "  ", "platforms": ["threads"]})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap_err();
        assert_eq!(e.body()["code"], codes::POST_INVALID);
        let e = validate(
            body(json!({"post": "hi", "platforms": ["myspace"]})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap_err();
        assert!(e.body()["message"]
            .as_str()
            .unwrap()
            .contains("'platforms'"));
        let e = validate(
            body(json!({"post": "x".repeat(281), "platforms": ["twitter"]})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap_err();
        assert_eq!(e.body()["platform"], "twitter");
        let e = validate(
            body(json!({"post": "hi", "platforms": ["threads"], "scheduleDate": "tomorrow"})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap_err();
        assert!(e.body()["message"]
            .as_str()
            .unwrap()
            .contains("'scheduleDate'"));
        let ok = validate(
            body(json!({"post": "hi", "platforms": ["X", "twitter", "threads"], "scheduleDate": "2030-01-01T10:00:00"})),
            "p",
            None,
            PostId::generate(),
        )
        .unwrap();
        assert_eq!(ok.platforms, vec![Platform::Twitter, Platform::Threads]);
        assert_eq!(ts(&ok.schedule_date.unwrap()), "2030-01-01T10:00:00Z");
    }
}
