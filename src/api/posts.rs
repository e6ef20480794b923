//! Posts entering and leaving the store through the API: import, read.

use super::answers::{ImportAnswer, ImportItemAnswer, PostError, PostIdView, PostView};
use super::auth::Caller;
use super::error::{codes, ApiError};
use super::{json_body, json_response, AppState};
use crate::domain::{
    EntryState, NetworkPostId, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus,
};
use crate::networks::Networks;
use crate::service::history::owned_post;
use crate::service::import::{import_posts, Imported};
use crate::store::Profile;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Most items in one import request.
pub const IMPORT_MAX_ITEMS: usize = 1000;

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One failed platform of `post`, or one whose publish outcome is unknown. `credentials_hint`
/// adds `"error":"x_credentials_required"` to a 419, as publish answers do.
pub fn post_error(
    post: &Post,
    e: &PlatformEntry,
    networks: &Networks,
    credentials_hint: bool,
) -> PostError {
    let (code, message) = e
        .error
        .as_ref()
        .map(|x| {
            (
                super::error::code_for(x.kind, networks.auth_code(&e.platform), "post"),
                super::messages::entry_error_message(post, e, x),
            )
        })
        .unwrap_or((codes::PUBLISH_FAILED, "publishing failed".into()));
    PostError {
        action: "post",
        status: "error",
        code,
        message,
        platform: e.platform.as_str().to_owned(),
        error: (credentials_hint && code == codes::X_CREDENTIALS_REQUIRED)
            .then_some("x_credentials_required"),
        // The network may have published it: postgate keeps it as possibly live.
        outcome_unknown: (e.state == EntryState::Publishing).then_some(true),
    }
}

/// Whether `e` is answered in `errors`: failed, or published with an unknown outcome.
pub fn is_error_entry(e: &PlatformEntry) -> bool {
    e.state == EntryState::Failed || (e.state == EntryState::Publishing && e.error.is_some())
}

/// A stored post in Ayrshare's shape (`GET /api/post/:id`, history items).
pub fn render_post(post: &Post, profile: &Profile, networks: &Networks) -> PostView {
    let post_ids = post
        .entries
        .iter()
        .filter(|e| e.id.is_some())
        .map(|e| PostIdView {
            status: if e.state == EntryState::Failed {
                "error"
            } else {
                "success"
            },
            id: e.id.as_ref().map(|i| i.as_str().to_owned()),
            platform: e.platform.as_str().to_owned(),
            post_url: e.post_url.clone(),
            post_type: e.post_type.clone(),
            media_type: e.media_type.clone(),
            state: e.state.as_str(),
            retry_at: None,
            deleted_at: e.deleted_at.as_ref().map(ts),
            last_error: e
                .error
                .as_ref()
                .filter(|_| e.state != EntryState::Failed)
                .map(|err| super::messages::entry_error_message(post, e, err)),
        })
        .collect();
    PostView {
        id: post.id.as_str().to_owned(),
        status: post.status.as_str(),
        post: post.text.clone(),
        platforms: post
            .entries
            .iter()
            .map(|e| e.platform.as_str().to_owned())
            .collect(),
        post_ids,
        errors: post
            .entries
            .iter()
            .filter(|e| is_error_entry(e))
            .map(|e| post_error(post, e, networks, false))
            .collect(),
        kind: match post.kind {
            PostKind::Now => "now",
            PostKind::Scheduled => "scheduled",
        },
        created: ts(&post.created),
        ref_id: profile.id.to_string(),
        profile_title: profile.title.clone(),
        schedule_date: post.schedule_date.as_ref().map(ts),
        media_urls: post.media_urls.clone(),
    }
}

/// Whether `post` has a publish of unknown outcome that a read should check (not while it is
/// still being published).
fn has_unknown_publish(post: &Post) -> bool {
    post.status != PostStatus::Processing
        && post
            .entries
            .iter()
            .any(|e| e.state == EntryState::Publishing && e.error.is_some())
}

/// [`render_post`], with the platforms whose delete waits in the queue as `queued` and
/// their `retryAt`.
async fn with_queued(
    state: &AppState,
    post: &Post,
    profile: &Profile,
) -> Result<super::answers::PostView, ApiError> {
    let mut view = render_post(post, profile, &state.networks);
    for (platform, retry_at) in state.queue.queued_for_post(&post.id).await? {
        for v in view.post_ids.iter_mut() {
            if v.platform == platform.as_str() && v.state != "deleted" {
                v.state = "queued";
                v.retry_at = Some(ts(&retry_at));
            }
        }
    }
    Ok(view)
}

/// `GET /api/post/{id}`
#[utoipa::path(
    get,
    path = "/api/post/{id}",
    tag = "ayrshare",
    description = "One post and where it stands on each platform.",
    params(("id" = String, Path, description = "The post's id")),
    responses(
        (status = 200, description = "The post", body = super::answers::PostView),
        (status = 404, description = "No such post in this profile (code 920)", body = super::answers::ErrorBody),
    )
)]
pub async fn get_post(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    match owned_post(state.store.as_ref(), &caller.profile.id, &raw).await? {
        Some(post) if has_unknown_publish(&post) => {
            // A read asks the network about publishes whose outcome is unknown (Threads: the
            // container's status), and records what it learns before answering.
            let ctx = caller.call_context(&state);
            let post = state
                .publish
                .reconcile(&post.id, &ctx)
                .await?
                .unwrap_or(post);
            Ok(json_response(
                StatusCode::OK,
                &with_queued(&state, &post, &caller.profile).await?,
            ))
        }
        Some(post) => Ok(json_response(
            StatusCode::OK,
            &with_queued(&state, &post, &caller.profile).await?,
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "post",
            codes::POST_NOT_FOUND,
            "Post not found.",
        )
        .with_id(raw)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ImportBody {
    /// Posts as Ayrshare's history answers them (each item is checked on its own).
    #[schema(value_type = Vec<ImportItem>)]
    posts: Vec<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ImportItem {
    #[serde(default)]
    id: Option<String>,
    post: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    schedule_date: Option<Value>,
    #[serde(default)]
    created: Option<Value>,
    #[serde(default)]
    post_ids: Vec<ImportPostId>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// The post's images (Ayrshare's `mediaUrls`): kept, shown by `GET /api/post`, and
    /// fetched when a scheduled item comes due.
    #[serde(default)]
    media_urls: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ImportPostId {
    platform: String,
    id: Value,
    #[serde(default, rename = "type")]
    post_type: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    post_url: Option<String>,
}

/// Reads Ayrshare's date forms: `"2024-11-19T19:00:14Z"` or `{"_seconds":..,"utc":"..."}`.
fn parse_date(field: &str, v: &Value) -> Result<DateTime<Utc>, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => match (o.get("utc"), o.get("_seconds")) {
            (Some(Value::String(s)), _) => s.clone(),
            (_, Some(Value::Number(n))) => {
                return n
                    .as_i64()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                    .ok_or_else(|| format!("'{field}' has an invalid _seconds"))
            }
            _ => return Err(format!("'{field}' must be an ISO-8601 string")),
        },
        _ => return Err(format!("'{field}' must be an ISO-8601 string")),
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("'{field}' is not an ISO-8601 date: {text:?}"))
}

/// An imported platform name: Ayrshare's names only (`x` is `twitter`).
fn import_platform(field: &str, name: &str) -> Result<Platform, String> {
    Platform::parse(name).ok_or_else(|| {
        format!(
            "'{field}' is not an Ayrshare platform name: {:?} (known: {}, or x for twitter)",
            name.chars().take(40).collect::<String>(),
            Platform::AYRSHARE_NAMES.join(", ")
        )
    })
}

/// Turns one import item into a post of `profile_id`.
fn import_item(profile_id: &str, raw: Value) -> Result<Post, (u32, String)> {
    let bad = |m: String| (codes::IMPORT_ITEM, m);
    let item: ImportItem = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        bad(format!("invalid field '{path}': {}", e.into_inner()))
    })?;
    let id = match &item.id {
        Some(s) => PostId::parse(s).map_err(|e| bad(format!("invalid 'id' {s:?}: {e}")))?,
        None => PostId::generate(),
    };
    let created = match &item.created {
        Some(v) => parse_date("created", v).map_err(bad)?,
        None => Utc::now(),
    };
    let schedule_date = item
        .schedule_date
        .as_ref()
        .filter(|v| !v.is_null())
        .map(|v| parse_date("scheduleDate", v))
        .transpose()
        .map_err(bad)?;
    let status = item
        .status
        .as_deref()
        .unwrap_or("success")
        .to_ascii_lowercase();
    let mut entries = Vec::new();
    let post_status = match status.as_str() {
        "pending" | "scheduled" | "paused" | "awaiting approval" if item.post_ids.is_empty() => {
            if item.platforms.is_empty() {
                return Err(bad(
                    "a scheduled item names its targets in 'platforms'".into()
                ));
            }
            if schedule_date.is_none() {
                return Err(bad("a scheduled item needs 'scheduleDate'".into()));
            }
            for (i, p) in item.platforms.iter().enumerate() {
                let platform = import_platform(&format!("platforms[{i}]"), p).map_err(bad)?;
                if entries
                    .iter()
                    .any(|e: &PlatformEntry| e.platform == platform)
                {
                    return Err(bad(format!(
                        "'platforms[{i}]' names {} twice; a post has one entry per platform",
                        platform.as_str()
                    )));
                }
                entries.push(PlatformEntry::new(platform, EntryState::Pending));
            }
            // Held posts stay held: an imported post awaiting approval is not published
            // by the scheduler until someone approves it here.
            match status.as_str() {
                "paused" => PostStatus::Paused,
                "awaiting approval" => PostStatus::AwaitingApproval,
                _ => PostStatus::Pending,
            }
        }
        "success" | "error" | "deleted" | "pending" | "scheduled" | "processing" => {
            if item.post_ids.is_empty() {
                return Err(bad("'postIds' must list the post's network ids".into()));
            }
            let deleted = status == "deleted";
            for (i, pid) in item.post_ids.iter().enumerate() {
                let id = match &pid.id {
                    Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(bad(format!(
                            "'postIds[{i}].id' must be a non-empty string or number"
                        )))
                    }
                };
                let platform = import_platform(&format!("postIds[{i}].platform"), &pid.platform)
                    .map_err(bad)?;
                if entries.iter().any(|e| e.platform == platform) {
                    return Err(bad(format!(
                        "'postIds[{i}].platform' names {} twice; a post has one entry per platform",
                        platform.as_str()
                    )));
                }
                let id = NetworkPostId(id);
                id.check_for(&platform)
                    .map_err(|e| bad(format!("invalid 'postIds[{i}].id': {e}")))?;
                let failed = pid.status.as_deref() == Some("error");
                let mut e = PlatformEntry::new(
                    platform,
                    if deleted {
                        EntryState::Deleted
                    } else if failed {
                        EntryState::Failed
                    } else {
                        EntryState::Published
                    },
                );
                e.id = Some(id);
                e.post_type = pid.post_type.clone();
                e.media_type = pid.media_type.clone();
                e.post_url = pid.post_url.clone();
                entries.push(e);
            }
            for (i, p) in item.platforms.iter().enumerate() {
                let platform = import_platform(&format!("platforms[{i}]"), p).map_err(bad)?;
                if !entries.iter().any(|e| e.platform == platform) {
                    entries.push(PlatformEntry::new(platform, EntryState::Failed));
                }
            }
            match status.as_str() {
                "deleted" => PostStatus::Deleted,
                "error" => PostStatus::Error,
                _ if entries.iter().any(|e| e.state == EntryState::Failed) => PostStatus::Error,
                _ => PostStatus::Success,
            }
        }
        other => return Err(bad(format!("unknown 'status' {other:?}"))),
    };
    let kind = if item.kind.as_deref() == Some("scheduled") || post_status == PostStatus::Pending {
        PostKind::Scheduled
    } else {
        PostKind::Now
    };
    if item.post.chars().count() > crate::domain::MAX_TEXT_CHARS {
        return Err(bad(format!(
            "'post' is longer than {} characters",
            crate::domain::MAX_TEXT_CHARS
        )));
    }
    if item.media_urls.len() > super::publish::MAX_MEDIA_URLS {
        return Err(bad(format!(
            "'mediaUrls' has {} URLs; at most {} are kept",
            item.media_urls.len(),
            super::publish::MAX_MEDIA_URLS
        )));
    }
    for (i, u) in item.media_urls.iter().enumerate() {
        let ok = u.len() <= 2048
            && reqwest::Url::parse(u).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
        if !ok {
            return Err(bad(format!(
                "'mediaUrls[{i}]' must be an http(s) URL of at most 2,048 characters"
            )));
        }
    }
    Ok(Post {
        id,
        profile_id: profile_id.into(),
        text: item.post,
        status: post_status,
        kind,
        created,
        schedule_date,
        entries,
        idempotency_key: None,
        media_urls: item.media_urls,
    })
}

/// `POST /api/post/import` — stores posts exported from Ayrshare's history (postgate extension).
#[utoipa::path(
    post,
    path = "/api/post/import",
    tag = "postgate",
    description = "Stores posts exported from Ayrshare's history, without calling any network (postgate extension).",
    request_body(content = ImportBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Every item stored", body = super::openapi::ImportResponse),
        (status = 400, description = "Some item refused (each says why), or the request is not valid", body = super::openapi::ImportResponse),
    )
)]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ImportBody = json_body(&state, "import", payload).await?;
    if body.posts.len() > IMPORT_MAX_ITEMS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "import",
            codes::TOO_MANY,
            format!(
                "At most {IMPORT_MAX_ITEMS} posts per import request; this one has {}. Send them in batches (postgate import does).",
                body.posts.len()
            ),
        ));
    }
    // The id as sent, to name a refused item even when it is not a valid id.
    let given_ids: Vec<Option<String>> = body
        .posts
        .iter()
        .map(|raw| raw.get("id").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    let parsed = body
        .posts
        .into_iter()
        .map(|raw| import_item(&caller.profile.id, raw))
        .collect();
    let outcomes = import_posts(state.store.as_ref(), parsed).await?;
    let mut results = Vec::with_capacity(outcomes.len());
    let mut failed = 0;
    for (index, (outcome, given_id)) in outcomes.into_iter().zip(given_ids).enumerate() {
        let result = match outcome {
            Ok(Imported::Stored(id)) => Ok(id),
            Ok(Imported::Duplicate(id)) => Err((
                codes::DUPLICATE_ID,
                format!("a post with id {id} already exists; it was not overwritten"),
            )),
            Err(e) => Err(e),
        };
        results.push(match result {
            Ok(id) => ImportItemAnswer {
                status: "success",
                index,
                code: None,
                message: None,
                id: Some(id.as_str().to_owned()),
            },
            Err((code, message)) => {
                failed += 1;
                ImportItemAnswer {
                    status: "error",
                    index,
                    code: Some(code),
                    message: Some(message),
                    id: given_id,
                }
            }
        });
    }
    let imported = results.len() - failed;
    let status = if failed == 0 { "success" } else { "error" };
    Ok(json_response(
        if failed == 0 {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        &ImportAnswer {
            status,
            imported,
            failed,
            posts: results,
        },
    ))
}
