//! `PUT`/`PATCH /api/post` (change a post that was not sent yet: text, due date, approval,
//! pause) and `PUT /api/post/retry` (publish again the platforms whose publish failed).
//!
//! - Update: `{"id", "post"?, "scheduleDate"?, "approved"?, "scheduledPause"?}` answers
//!   `{"status":"success","id","refId","postStatus","post","scheduleDate"?}` (`postStatus` is
//!   the post's history status afterwards; an approval of a due post answers once it was
//!   sent). A post already sent keeps its text and date: HTTP 400, code 941.
//! - Retry: `{"id"}` answers like `POST /api/post` (every platform of the post, the earlier
//!   successes included); a post with no failed platform answers HTTP 400, code 942.

use super::answers::PostUpdated;
use super::auth::Caller;
use super::error::{codes, ApiError};
use super::publish::render_answer;
use super::{json_body, json_response, AppState};
use crate::domain::{PostId, MAX_TEXT_CHARS};
use crate::service::{PostChange, PostRefusal};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    post: Option<String>,
    /// ISO 8601 date-time (a zone or `Z`; without one, UTC).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    schedule_date: Option<Value>,
    #[serde(default)]
    approved: Option<bool>,
    #[serde(default)]
    scheduled_pause: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RetryBody {
    #[serde(default)]
    id: Option<String>,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn not_found(raw: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "post",
        codes::POST_NOT_FOUND,
        "Post not found.",
    )
    .with_id(raw)
}

/// The post id of a body: required, and a well-formed id (any other string is unknown).
fn post_id(raw: Option<String>) -> Result<(String, Option<PostId>), ApiError> {
    let raw = raw.map(|r| r.trim().to_owned()).unwrap_or_default();
    if raw.is_empty() {
        return Err(ApiError::invalid(
            "post",
            "Field 'id' is required: the post's id.",
        ));
    }
    let id = PostId::parse(&raw).ok();
    Ok((raw, id))
}

/// `scheduleDate` as `POST /api/post` reads it; `null` or `""` change nothing.
fn schedule_date(v: Option<Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let bad = |what: String| {
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
                    .map_err(|_| bad(format!("is not a date: {s:?}")))?,
            };
            if !crate::domain::DATE_YEARS.contains(&chrono::Datelike::year(&d)) {
                return Err(bad(format!("is out of range: {s:?}")));
            }
            Ok(Some(d))
        }
        Some(_) => Err(bad("must be a string".into())),
    }
}

fn refusal(raw: &str, r: PostRefusal) -> ApiError {
    match r {
        PostRefusal::NotFound => not_found(raw),
        PostRefusal::NotEditable(why) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "post",
            codes::POST_NOT_EDITABLE,
            why,
        )
        .with_id(raw),
        PostRefusal::NothingToRetry => ApiError::new(
            StatusCode::BAD_REQUEST,
            "post",
            codes::NOTHING_TO_RETRY,
            "No platform of this post failed to publish: there is nothing to retry.",
        )
        .with_id(raw),
    }
}

/// `PUT /api/post` and `PATCH /api/post`.
#[utoipa::path(
    put,
    path = "/api/post",
    tag = "ayrshare",
    description = "Changes a post under its lock: text and scheduleDate while nothing was sent, approval (`approved: true`), pause and resume (`scheduledPause`). Codes 941 (not editable in its state), 920 (unknown post).",
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = super::answers::PostUpdated),
        (status = 404, description = "No such post (920)", body = super::answers::ErrorBody),
    )
)]
pub async fn update_post(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UpdateBody = json_body(&state, "post", payload).await?;
    let (raw, id) = post_id(body.id)?;
    let text = match body.post {
        None => None,
        Some(t) if t.trim().is_empty() => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "post",
                codes::POST_INVALID,
                "Field 'post' is empty: send the new text, or leave the field out.",
            ))
        }
        Some(t) => Some(t),
    };
    let change = PostChange {
        text,
        schedule_date: schedule_date(body.schedule_date)?,
        approve: body.approved == Some(true),
        pause: body.scheduled_pause,
    };
    if change.text.is_none()
        && change.schedule_date.is_none()
        && !change.approve
        && change.pause.is_none()
    {
        return Err(ApiError::invalid(
            "post",
            "Nothing to change: send 'post', 'scheduleDate', 'approved': true or 'scheduledPause'.",
        ));
    }
    let Some(id) = id else {
        return Err(not_found(&raw));
    };
    // The new text must fit every platform of the post (checked before the lock: the
    // platforms of a post never change).
    if let Some(text) = &change.text {
        let Some(post) = state
            .store
            .get_post(&id)
            .await?
            .filter(|p| p.profile_id == caller.profile.id)
        else {
            return Err(not_found(&raw));
        };
        check_text(&state, text, &post)?;
    }
    let ctx = caller.call_context(&state);
    let profile_id = caller.profile.id.clone();
    // Its own task: an approval that publishes records its outcome even if the client goes.
    let publish = state.publish.clone();
    let task = state
        .publish
        .detach(async move { publish.update(&profile_id, &id, change, &ctx).await });
    let post = match task.await {
        Ok(r) => r?.map_err(|r| refusal(&raw, r))?,
        Err(e) => {
            tracing::error!(error = %e, "update task failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                codes::INTERNAL,
                "Internal error while updating the post. The details are in the gateway's log.",
            ));
        }
    };
    Ok(json_response(
        StatusCode::OK,
        &PostUpdated {
            status: "success",
            id: post.id.as_str().to_owned(),
            ref_id: caller.profile.id.to_string(),
            post_status: post.status.as_str(),
            post: post.text.clone(),
            schedule_date: post.schedule_date.as_ref().map(ts),
        },
    ))
}

fn check_text(state: &AppState, text: &str, post: &crate::domain::Post) -> Result<(), ApiError> {
    let invalid =
        |m: String| ApiError::new(StatusCode::BAD_REQUEST, "post", codes::POST_INVALID, m);
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "Field 'post' is too long: the most this gateway accepts is {MAX_TEXT_CHARS} characters."
        )));
    }
    for e in &post.entries {
        if let Some(rule) = state.networks.text_rule(&e.platform) {
            let (length, limit) = (rule.length(text), rule.limit);
            if length > limit {
                return Err(invalid(format!(
                    "Field 'post' is too long for {}: {length} {}; the limit is {limit}.",
                    e.platform.display_name(),
                    rule.unit
                ))
                .with_platform(e.platform.as_str()));
            }
        }
    }
    Ok(())
}

/// `PUT /api/post/retry {"id"}`
#[utoipa::path(
    put,
    path = "/api/post/retry",
    tag = "ayrshare",
    description = "Publishes again only the platforms of a post whose publish failed; answers like `POST /api/post`. Code 942 when nothing failed, 920 for an unknown post.",
    request_body(content = RetryBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Published again", body = super::openapi::PublishResponse),
        (status = 404, description = "No such post (920)", body = super::answers::ErrorBody),
    )
)]
pub async fn retry_post(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: RetryBody = json_body(&state, "post", payload).await?;
    let (raw, id) = post_id(body.id)?;
    let Some(id) = id else {
        return Err(not_found(&raw));
    };
    let ctx = caller.call_context(&state);
    let profile_id = caller.profile.id.clone();
    let publish = state.publish.clone();
    // Its own task: the outcome of the network calls is recorded even if the client goes.
    let task = state
        .publish
        .detach(async move { publish.retry(&profile_id, &id, &ctx).await });
    let post = match task.await {
        Ok(r) => r?.map_err(|r| refusal(&raw, r))?,
        Err(e) => {
            tracing::error!(error = %e, "retry task failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                codes::INTERNAL,
                "Internal error while retrying the post. The details are in the gateway's log.",
            ));
        }
    };
    let (status, reply) = render_answer(
        &post,
        &caller.profile,
        caller.via_profile_key,
        &state.networks,
    );
    Ok(json_response(status, &reply))
}
