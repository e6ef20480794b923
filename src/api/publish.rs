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

use super::answers::{PostError, ProfileWrapped, PublishAnswer, PublishedId};
use super::auth::Caller;
use super::error::{codes, ApiError};
use super::posts::{is_error_entry, post_error};
use super::{json_body, json_response, AppState};
use crate::domain::{EntryState, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus};
use crate::networks::Networks;
use crate::service::idempotency::{Held, Idempotency, StoredAnswer};
use crate::service::media::{display_url, MediaFetcher};
use crate::service::NewPost;
use crate::store::{Profile, StoreError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Most `mediaUrls` entries accepted whatever the networks (Threads' carousel limit).
pub const MAX_MEDIA_URLS: usize = 20;

/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// Header set on an answer replayed for a repeated idempotency key.
pub const REPLAY_HEADER: &str = "idempotent-replayed";

/// Whether `name` is one of [`AYRSHARE_PLATFORMS`] (case-insensitively).
pub fn is_ayrshare_platform(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    AYRSHARE_PLATFORMS.contains(&lower.as_str())
}

/// The body of `POST /api/post`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PublishBody {
    /// The text.
    #[serde(default)]
    post: Option<String>,
    /// Where to publish it (Ayrshare platform names).
    #[serde(default)]
    platforms: Option<Vec<String>>,
    /// When to publish it: ISO-8601 (UTC without a zone); absent, `null` or `""`: now.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    schedule_date: Option<Value>,
    /// Repeating a request with the same key answers the first answer again.
    #[serde(default)]
    idempotency_key: Option<String>,
    /// Image URLs (`media_urls` is the legacy spelling).
    #[serde(default, alias = "media_urls")]
    media_urls: Option<Vec<String>>,
    /// Ayrshare's test helper: a random quote replaces `post`.
    #[serde(default)]
    random_post: Option<bool>,
    /// Ayrshare's test helper: a random built-in image is added to `mediaUrls`.
    #[serde(default)]
    random_media_url: Option<bool>,
    /// Marks the media as video (not published by this gateway).
    #[serde(default)]
    is_video: Option<bool>,
    /// Hold the post until `PATCH /api/post {id, approved: true}`.
    #[serde(default)]
    requires_approval: Option<bool>,
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
    mut body: PublishBody,
    profile_id: &str,
    idempotency_key: Option<String>,
    id: PostId,
    networks: &Networks,
    media: &MediaFetcher,
) -> Result<(NewPost, Vec<String>), ApiError> {
    // Ayrshare's test helpers: random picks from the built-in set.
    if body.random_post == Some(true) {
        let quotes = crate::service::media::RANDOM_QUOTES;
        body.post = Some(quotes[rand::random_range(0..quotes.len())].to_owned());
    }
    let mut media_urls = body.media_urls.take().unwrap_or_default();
    if body.random_media_url == Some(true) {
        media_urls.push(media.random_image_url(rand::random_range(0..usize::MAX)));
    }
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
        if let Some(rule) = networks.text_rule(p) {
            let (length, limit) = (rule.length(&text), rule.limit);
            if length > limit {
                return Err(invalid_post(format!(
                    "Field 'post' is too long for {}: {length} {}; the limit is {limit}.",
                    p.display_name(),
                    rule.unit
                ))
                .with_platform(p.as_str()));
            }
        }
    }
    check_media_counts(
        &media_urls,
        body.is_video == Some(true),
        &platforms,
        networks,
    )?;
    Ok((
        NewPost {
            id,
            profile_id: profile_id.into(),
            text,
            platforms,
            schedule_date: parse_schedule_date(body.schedule_date)?,
            idempotency_key,
            media: Vec::new(),
            requires_approval: body.requires_approval.unwrap_or(false),
        },
        media_urls,
    ))
}

/// The image checks that need no network: no video, and no more images than each
/// requested network takes (as its adapter declares).
fn check_media_counts(
    urls: &[String],
    is_video: bool,
    platforms: &[Platform],
    networks: &Networks,
) -> Result<(), ApiError> {
    if urls.is_empty() {
        return Ok(());
    }
    if urls.len() > MAX_MEDIA_URLS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "post",
            codes::MEDIA_TOO_MANY,
            format!(
                "Field 'mediaUrls' has {} URLs; the most this gateway accepts is {MAX_MEDIA_URLS}.",
                urls.len()
            ),
        ));
    }
    let published: Vec<&Platform> = platforms
        .iter()
        .filter(|p| networks.get(p).is_some())
        .collect();
    let video = is_video
        || urls
            .iter()
            .any(|u| crate::service::media::looks_like_video(u));
    if video {
        if let Some(p) = published.first() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "post",
                codes::MEDIA_VIDEO,
                format!(
                    "Video posts are not supported on {} by this gateway: send image URLs (JPEG, PNG, GIF or WebP) in 'mediaUrls'.",
                    published.iter().map(|p| p.display_name()).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_platform(p.as_str()));
        }
    }
    for p in published {
        let rules = networks.media_rules(p);
        if urls.len() > rules.max_images {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "post",
                codes::MEDIA_TOO_MANY,
                format!(
                    "Too many images for {}: {} sent, at most {} on one post.",
                    p.display_name(),
                    urls.len(),
                    rules.max_images
                ),
            )
            .with_platform(p.as_str()));
        }
    }
    Ok(())
}

/// Checks the images of a validated post, downloading them when it is published now to a
/// network that wants bytes (a scheduled post downloads them when due), and holds each
/// downloaded image to each network's own size limit.
async fn prepare_media(
    new: &mut NewPost,
    urls: &[String],
    networks: &Networks,
    media: &MediaFetcher,
) -> Result<(), ApiError> {
    if urls.is_empty() {
        return Ok(());
    }
    let now = new.schedule_date.is_none_or(|d| d <= Utc::now());
    let wants_bytes = |p: &Platform| {
        let rules = networks.media_rules(p);
        networks.get(p).is_some() && !rules.fetches_url
    };
    let download = now && new.platforms.iter().any(wants_bytes);
    let prepared = media.prepare(urls, download).await.map_err(|(url, e)| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "post",
            codes::MEDIA_INVALID,
            format!("Field 'mediaUrls': the image {} {e}.", display_url(&url)),
        )
    })?;
    for p in new.platforms.iter().filter(|p| wants_bytes(p)) {
        let limit = networks.media_rules(p).max_bytes;
        if let Some((m, n)) = prepared
            .iter()
            .filter_map(|m| m.bytes.as_ref().map(|b| (m, b.len())))
            .find(|(_, n)| *n > limit)
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "post",
                codes::MEDIA_INVALID,
                format!(
                    "Field 'mediaUrls': the image {} is {n} bytes, more than {}'s limit of {limit} bytes.",
                    display_url(&m.url),
                    p.display_name()
                ),
            )
            .with_platform(p.as_str()));
        }
    }
    new.media = prepared;
    Ok(())
}

/// `GET /media/random/{n}.png`: the built-in images `randomMediaUrl` picks from, without
/// auth, so that networks fetching image URLs themselves (Threads) can read them.
#[utoipa::path(
    get,
    path = "/media/random/{name}",
    tag = "postgate",
    description = "A built-in image `randomMediaUrl` picks from (`1.png` to `4.png`; no authentication).",
    params(("name" = String, Path, description = "`1.png` … `4.png`")),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 404, description = "No such image"),
    )
)]
pub async fn random_image(name: web::Path<String>) -> HttpResponse {
    match crate::service::media::random_image(&name) {
        Some(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "image/png"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The answer to a create: Ayrshare's object, wrapped in `{"status","posts":[...]}` for a
/// `Profile-Key` request.
#[derive(Serialize, Debug, Clone)]
#[serde(untagged)]
pub enum PublishReply {
    /// Without a `Profile-Key`.
    Plain(PublishAnswer),
    /// With a `Profile-Key`.
    Wrapped(ProfileWrapped<PublishAnswer>),
}

/// The answer to a create: (HTTP status, answer).
pub fn render_answer(
    post: &Post,
    profile: &Profile,
    via_profile_key: bool,
    networks: &Networks,
) -> (StatusCode, PublishReply) {
    let mut entries: Vec<&PlatformEntry> = post.entries.iter().collect();
    entries.sort_by(|a, b| a.platform.as_str().cmp(b.platform.as_str()));
    let errors: Vec<PostError> = entries
        .iter()
        .filter(|e| is_error_entry(e))
        .map(|e| post_error(post, e, networks, true))
        .collect();
    let ok = errors.is_empty();
    let awaiting = post.status == PostStatus::AwaitingApproval;
    let status = match (post.kind, ok) {
        (_, false) => "error",
        _ if awaiting => PostStatus::AwaitingApproval.as_str(),
        (PostKind::Scheduled, true) => "scheduled",
        (PostKind::Now, true) => "success",
    };
    let post_ids = (post.kind == PostKind::Now && !awaiting).then(|| {
        entries
            .iter()
            .filter(|e| e.state == EntryState::Published)
            .map(|e| PublishedId {
                status: "success",
                id: e.id.as_ref().map(|i| i.as_str().to_owned()),
                platform: e.platform.as_str().to_owned(),
                post_url: e.post_url.clone(),
            })
            .collect()
    });
    let answer = PublishAnswer {
        status,
        errors,
        post_ids,
        id: post.id.as_str().to_owned(),
        schedule_date: post
            .schedule_date
            .as_ref()
            .filter(|_| post.kind == PostKind::Scheduled)
            .map(ts),
        ref_id: profile.id.to_string(),
        post: post.text.clone(),
        profile_title: via_profile_key.then(|| profile.title.clone()),
    };
    let http = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    if via_profile_key {
        (
            http,
            PublishReply::Wrapped(ProfileWrapped {
                status,
                posts: vec![answer],
            }),
        )
    } else {
        (http, PublishReply::Plain(answer))
    }
}

fn replay(stored: StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(stored.http_status).unwrap_or(StatusCode::OK);
    let mut resp = json_response(status, &stored.body);
    resp.headers_mut().insert(
        header::HeaderName::from_static(REPLAY_HEADER),
        header::HeaderValue::from_static("true"),
    );
    resp
}

enum Outcome {
    Fresh(StatusCode, PublishReply),
    Replayed(StoredAnswer),
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
    .with_id(post_id.as_str())
    .with_idempotency_key(key)
}

/// The answer `post` gets, as it is remembered for an idempotency key.
fn to_stored(status: StatusCode, reply: &PublishReply) -> Result<StoredAnswer, ApiError> {
    let body = serde_json::to_value(reply).map_err(|e| {
        tracing::error!(error = %e, "publish answer could not be serialized");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            codes::INTERNAL,
            "Internal error while publishing. The details are in the gateway's log.",
        )
    })?;
    Ok(StoredAnswer {
        http_status: status.as_u16(),
        body,
    })
}

/// The answer to a repeated key, or `Err(post id)`: a claim whose post was never written.
async fn answer_held(
    idem: &Idempotency<'_>,
    networks: &Networks,
    caller: &Caller,
    key: &str,
    held: Held,
) -> Result<Result<Outcome, PostId>, ApiError> {
    match held {
        Held::Answered(stored) => Ok(Ok(Outcome::Replayed(stored))),
        Held::InProgress(post_id) => Err(in_progress(&post_id, key)),
        Held::Unwritten(post_id) => Ok(Err(post_id)),
        Held::Post(post) => {
            let (status, reply) =
                render_answer(&post, &caller.profile, caller.via_profile_key, networks);
            let stored = to_stored(status, &reply)?;
            idem.remember(&caller.profile.id, key, &stored).await?;
            Ok(Ok(Outcome::Replayed(stored)))
        }
    }
}

/// `POST /api/post`
#[utoipa::path(
    post,
    path = "/api/post",
    tag = "ayrshare",
    description = "Publishes a text post now, or schedules it (`scheduleDate`).",
    request_body(content = PublishBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Published (or scheduled) on every platform", body = super::openapi::PublishResponse),
        (status = 400, description = "Some platform failed, or the request is not valid", body = super::openapi::PublishResponse),
        (status = 409, description = "A request with this idempotency key is still in progress (code 931)", body = super::answers::ErrorBody),
    )
)]
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
    let task = state.publish.clone().detach(async move {
        let idem = Idempotency::new(state.store.as_ref(), &state.idempotency_locks);
        let profile_id = caller.profile.id.as_str();
        let _key_guard = match &key {
            Some(k) => Some(idem.lock(profile_id, k).await),
            None => None,
        };
        let mut post_id = PostId::generate();
        let mut claimed = false;
        if let Some(k) = &key {
            if let Some(held) = idem.look_up(profile_id, k).await? {
                match answer_held(&idem, &state.networks, &caller, k, held).await? {
                    Ok(outcome) => return Ok::<_, ApiError>(outcome),
                    Err(id) => {
                        post_id = id;
                        claimed = true;
                    }
                }
            }
        }
        let (mut new, media_urls) = validate(
            body,
            profile_id,
            key.clone(),
            post_id.clone(),
            &state.networks,
            &state.media,
        )?;
        prepare_media(&mut new, &media_urls, &state.networks, &state.media).await?;
        if let (Some(k), false) = (&key, claimed) {
            if let Some(held) = idem.claim(profile_id, k, &post_id).await? {
                return match answer_held(&idem, &state.networks, &caller, k, held).await? {
                    Ok(outcome) => Ok(outcome),
                    Err(other) => Err(in_progress(&other, k)),
                };
            }
        }
        let post = match (state.publish.create(new, &ctx).await, &key) {
            // The key's post, claimed by another gateway sharing the store, was written by it
            // meanwhile (before anything was sent here): answer as a repeat of that request.
            (Err(StoreError::DuplicatePost(id)), Some(k)) if claimed => {
                return match idem.look_up(profile_id, k).await? {
                    Some(held) => {
                        match answer_held(&idem, &state.networks, &caller, k, held).await? {
                            Ok(outcome) => Ok(outcome),
                            Err(other) => Err(in_progress(&other, k)),
                        }
                    }
                    None => Err(in_progress(&id, k)),
                };
            }
            (r, _) => r?,
        };
        let (status, reply) = render_answer(
            &post,
            &caller.profile,
            caller.via_profile_key,
            &state.networks,
        );
        if let Some(k) = &key {
            idem.remember(profile_id, k, &to_stored(status, &reply)?)
                .await?;
        }
        Ok(Outcome::Fresh(status, reply))
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
    use serde_json::json;

    fn body(v: Value) -> PublishBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn in_progress_names_the_post_then_the_key() {
        let id = PostId::parse("AyrInProgress0000001").unwrap();
        let e = in_progress(&id, "k-1");
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let text = serde_json::to_string(e.body()).unwrap();
        assert!(
            text.starts_with(r#"{"action":"post","status":"error","code":931,"message":"A request with this idempotencyKey is still publishing post AyrInProgress0000001,"#),
            "{text}"
        );
        assert!(
            text.ends_with(r#"GET /api/post/AyrInProgress0000001.","id":"AyrInProgress0000001","idempotencyKey":"k-1"}"#),
            "{text}"
        );
    }

    #[test]
    fn validation_names_fields() {
        let settings =
            crate::configuration::Settings::load_with_env(None, Vec::<(String, String)>::new())
                .unwrap();
        let networks = Networks::from_settings(&settings);
        let media = MediaFetcher::new(&settings.media, "http://127.0.0.1:1");
        let e = validate(
            body(json!({"platforms": ["threads"]})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap_err();
        assert!(e.body().failure.message.contains("'post'"));
        let e = validate(
            body(json!({"post": "  ", "platforms": ["threads"]})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap_err();
        assert_eq!(e.body().failure.code, codes::POST_INVALID);
        let e = validate(
            body(json!({"post": "hi", "platforms": ["myspace"]})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap_err();
        assert!(e.body().failure.message.contains("'platforms'"));
        let e = validate(
            body(json!({"post": "x".repeat(281), "platforms": ["twitter"]})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap_err();
        assert_eq!(e.body().platform.as_deref(), Some("twitter"));
        let e = validate(
            body(json!({"post": "hi", "platforms": ["threads"], "scheduleDate": "tomorrow"})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap_err();
        assert!(e.body().failure.message.contains("'scheduleDate'"));
        let ok = validate(
            body(json!({"post": "hi", "platforms": ["X", "twitter", "threads"], "scheduleDate": "2030-01-01T10:00:00"})),
            "p",
            None,
            PostId::generate(),
            &networks,
            &media,
        )
        .unwrap()
        .0;
        assert_eq!(ok.platforms, vec![Platform::Twitter, Platform::Threads]);
        assert_eq!(ts(&ok.schedule_date.unwrap()), "2030-01-01T10:00:00Z");
    }
}
