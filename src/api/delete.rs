//! `DELETE /api/post` and its legacy alias `DELETE /api/delete`: one id, `bulk`,
//! `deleteAllScheduled` and `markManualDeleted`, rendered in Ayrshare's shapes.

use super::answers::{
    AllScheduledAnswer, BulkAnswer, DeleteAnswer, DeleteItem, ErrorBody, Failure, ManualRecorded,
    PlatformDelete, PlatformMap,
};
use super::auth::Caller;
use super::error::{codes, ApiError};
use super::{json_response, read_body, AppState};
use crate::domain::{DeleteFailure, DeleteOutcome, Platform};
use crate::networks::{AuthCode, Networks};
use crate::service::queue::{Enqueued, QueueMark, QueueReason};
use crate::service::{DeleteResult, EntryReport, ManualResult};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

/// Ayrshare's message for code 382.
pub const NOT_MANUALLY_DELETED_MSG: &str = "The post was not manually deleted at the social network. By using the markManualDeleted option, you are responsible for deleting the post at the social network. Please delete the post and try again.";

/// The body of a delete, for the API description (the handler reads the fields itself, to
/// word each error as Ayrshare does).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct DeleteRequest {
    /// One post's id.
    id: Option<String>,
    /// Several posts' ids (at most `delete.bulk_max_ids`).
    bulk: Option<Vec<String>>,
    /// Cancels every scheduled post of the profile (`id` and `bulk` are then ignored).
    delete_all_scheduled: Option<bool>,
    /// Records that the post was deleted by hand where the network cannot delete it.
    mark_manual_deleted: Option<bool>,
    /// postgate extension: finish in the durable delete queue (default `delete.queue_default`).
    queue: Option<bool>,
}

/// The postgate extension `"queue"`: `None` when not sent (the setting decides).
fn queue_flag(body: &[u8]) -> Result<Option<bool>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => match o.get("queue") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(
                "delete",
                "Field 'queue' must be a boolean.",
            )),
        },
        // parse_request has answered these already.
        _ => Ok(None),
    }
}

/// ISO 8601 with milliseconds, as every time postgate answers.
fn iso(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a delete request asks for, after validation.
#[derive(Debug, PartialEq, Eq)]
enum Work {
    One(String),
    Bulk(Vec<String>),
    AllScheduled,
}

fn parse_request(body: &[u8], bulk_max: usize) -> Result<(Work, bool), ApiError> {
    let invalid = |m: &str| ApiError::invalid("delete", m);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(
            "Request body is empty: send a JSON object with 'id', 'bulk' or 'deleteAllScheduled'.",
        ));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(&format!("Request body is not valid JSON: {e}")))?;
    let Value::Object(o) = v else {
        return Err(invalid(
            "Request body must be a JSON object with 'id', 'bulk' or 'deleteAllScheduled'.",
        ));
    };
    let flag = |name: &str| -> Result<bool, ApiError> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(&format!("Field '{name}' must be a boolean."))),
        }
    };
    let all_scheduled = flag("deleteAllScheduled")?;
    let manual = flag("markManualDeleted")?;
    if all_scheduled {
        // Ayrshare: `id` and `bulk` are ignored when deleteAllScheduled is true.
        if manual {
            return Err(invalid(
                "'markManualDeleted' cannot be combined with 'deleteAllScheduled'.",
            ));
        }
        return Ok((Work::AllScheduled, false));
    }
    let id = match o.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(invalid(
                "Field 'id' must be a string (an Ayrshare post id).",
            ))
        }
    };
    let bulk = match o.get("bulk") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(invalid("Field 'bulk' must list at least one post id."));
            }
            if items.len() > bulk_max {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "delete",
                    codes::TOO_MANY,
                    format!("Field 'bulk' lists {} ids; at most {bulk_max} are accepted per request (delete.bulk_max_ids).", items.len()),
                ));
            }
            let mut ids = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => ids.push(s.clone()),
                    _ => {
                        return Err(invalid(&format!(
                            "Field 'bulk[{i}]' must be a string (an Ayrshare post id)."
                        )))
                    }
                }
            }
            Some(ids)
        }
        Some(_) => return Err(invalid("Field 'bulk' must be an array of post id strings.")),
    };
    match (id, bulk) {
        (Some(_), Some(_)) => Err(invalid("Send either 'id' or 'bulk', not both.")),
        (Some(id), None) => Ok((Work::One(id), manual)),
        (None, Some(ids)) => Ok((Work::Bulk(ids), manual)),
        (None, None) => Err(invalid(
            "Send 'id' (a post id), 'bulk' (an array of post ids) or 'deleteAllScheduled': true.",
        )),
    }
}

fn error_item(code: u32, message: &str, id: &str) -> ErrorBody {
    ErrorBody::new("delete", Failure::new(code, message)).about(id)
}

/// The code, message and retry hints of one platform's failure.
fn failure(platform: &Platform, f: &DeleteFailure, networks: &Networks) -> Failure {
    let name = platform.display_name();
    let auth = networks.auth_code(platform);
    let code = super::error::code_for(f.into(), auth, "delete");
    let message: String = match f {
        DeleteFailure::Unsupported(m) => m.clone(),
        DeleteFailure::NoAdapter => format!("{name} is not supported by this gateway: it cannot delete posts there. Delete it at the network, then record that with markManualDeleted."),
        DeleteFailure::NotLinked => format!("{name} does not seem to be linked with this profile. Link the {name} account that published the post with POST /api/profiles/social, then delete again."),
        DeleteFailure::NoXCredentials => "X/Twitter requires your own API credentials: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings.".into(),
        DeleteFailure::RateLimited { message, retry_after } => format!("{name} rate limit: {message}. Retry after {retry_after} seconds."),
        DeleteFailure::Auth(m) if auth == AuthCode::XRelink => format!("X/Twitter authorization error: {m}. Re-link the X account."),
        DeleteFailure::Auth(m) => format!("{name} authorization error: {m}"),
        DeleteFailure::Transient(m) => format!("{name} error (temporary, retry the delete): {m}"),
        DeleteFailure::Timeout(m) => format!("{m}; the post may still be live, retry the delete"),
        DeleteFailure::Rejected(m) => format!("{name} refused the delete: {m}"),
        DeleteFailure::Ambiguous(m) => m.clone(),
    };
    let mut out = Failure::new(code, message);
    match f {
        DeleteFailure::RateLimited { retry_after, .. } => out.retry_after = Some(*retry_after),
        DeleteFailure::NoXCredentials => out.error = Some("x_credentials_required"),
        DeleteFailure::Transient(_) | DeleteFailure::Timeout(_) => out.retry_available = Some(true),
        _ => {}
    }
    out
}

/// One platform's entry of a delete answer; `mark` says whether its failure was queued.
pub fn platform_entry(
    e: &EntryReport,
    networks: &Networks,
    mark: Option<&QueueMark>,
) -> PlatformDelete {
    let mut retry_at = None;
    let (status, failure) = match (&e.outcome, mark) {
        (
            DeleteOutcome::Failed(_),
            Some(QueueMark::Queued {
                retry_at: at,
                reason,
            }),
        ) => {
            retry_at = Some(iso(at));
            let (code, why) = match reason {
                QueueReason::RateLimited => (codes::RATE_LIMITED, "the rate limit is reached"),
                QueueReason::Transient => (codes::NETWORK_TRANSIENT, "the network failed for now"),
            };
            let message = format!(
                "Queued: {} {why}; postgate deletes it in the background from {} and reports it to the 'delete' webhook.",
                e.platform.display_name(),
                iso(at)
            );
            ("queued", Some(Failure::new(code, message)))
        }
        (DeleteOutcome::Failed(f), Some(QueueMark::Full { max })) => {
            let mut out = failure(&e.platform, f, networks);
            out.message = format!(
                "{} Not queued: this account's delete queue is full ({max} waiting, delete.queue_max_per_account); retry later.",
                out.message
            );
            ("error", Some(out))
        }
        (DeleteOutcome::Failed(f), None) => ("error", Some(failure(&e.platform, f, networks))),
        _ => ("success", None),
    };
    PlatformDelete {
        action: "delete",
        status,
        retry_at,
        failure,
        already_deleted: matches!(
            e.outcome,
            DeleteOutcome::AlreadyGone | DeleteOutcome::PreviouslyDeleted
        )
        .then_some(true),
        published: matches!(e.outcome, DeleteOutcome::NotPublished).then_some(false),
        id: e.id.as_ref().map(|i| i.as_str().to_owned()),
        platform: None,
    }
}

/// Renders one id's result: (no platform failed, answer). A platform queued is not a failure.
fn render_result(
    result: &DeleteResult,
    networks: &Networks,
    queued: &Enqueued,
) -> (bool, DeleteItem) {
    match result {
        DeleteResult::Internal(raw) => (false, DeleteItem::Error(internal_item(raw))),
        DeleteResult::NotFound(raw) => (
            false,
            DeleteItem::Error(error_item(
                codes::DELETE_NOT_FOUND,
                "Delete id not found.",
                raw,
            )),
        ),
        DeleteResult::AlreadyDeleted(id) => (
            false,
            DeleteItem::Error(error_item(
                codes::ALREADY_DELETED,
                "The post is already deleted.",
                id.as_str(),
            )),
        ),
        DeleteResult::Done(report) => {
            let all = report.all_succeeded();
            let entries: Vec<(String, PlatformDelete)> = report
                .entries
                .iter()
                .map(|e| {
                    let mark = queued.mark(&report.post_id, &e.platform);
                    (
                        e.platform.as_str().to_owned(),
                        platform_entry(e, networks, mark),
                    )
                })
                .collect();
            let ok = entries
                .iter()
                .all(|(_, p)| p.status == "success" || p.status == "queued");
            let errors = (!ok).then(|| {
                entries
                    .iter()
                    .filter(|(_, p)| p.status == "error")
                    .map(|(platform, entry)| PlatformDelete {
                        platform: Some(platform.clone()),
                        ..entry.clone()
                    })
                    .collect()
            });
            (
                ok,
                DeleteItem::Done(DeleteAnswer {
                    status: match (all, ok) {
                        (true, _) => "success",
                        (false, true) => "queued",
                        (false, false) => "error",
                    },
                    code: all.then_some(200),
                    id: report.post_id.as_str().to_owned(),
                    platforms: PlatformMap(entries),
                    errors,
                }),
            )
        }
    }
}

/// One id of a bulk that an internal failure stopped (the others are answered as usual).
fn internal_item(raw: &str) -> ErrorBody {
    error_item(
        codes::INTERNAL,
        "An internal error stopped the work on this post; platforms already confirmed are recorded. Retry it.",
        raw,
    )
}

fn render_manual(result: &ManualResult, networks: &Networks) -> (bool, DeleteItem) {
    let error = match result {
        ManualResult::Recorded(id) => {
            return (
                true,
                DeleteItem::Recorded(ManualRecorded {
                    status: "success",
                    id: id.as_str().to_owned(),
                }),
            )
        }
        ManualResult::Internal(raw) => internal_item(raw),
        ManualResult::NotFound(raw) => {
            error_item(codes::DELETE_NOT_FOUND, "Delete id not found.", raw)
        }
        ManualResult::AlreadyDeleted(id) => error_item(
            codes::ALREADY_DELETED,
            "The post is already deleted.",
            id.as_str(),
        ),
        ManualResult::StillLive { post_id, platforms } => ErrorBody {
            mark_manual_deleted: Some(true),
            platforms: Some(platforms.iter().map(|p| p.as_str().to_owned()).collect()),
            ..error_item(
                codes::NOT_MANUALLY_DELETED,
                NOT_MANUALLY_DELETED_MSG,
                post_id.as_str(),
            )
        },
        ManualResult::CheckFailed {
            post_id,
            platform,
            failure: f,
        } => {
            let cause = failure(platform, f, networks);
            ErrorBody {
                mark_manual_deleted: Some(true),
                platform: Some(platform.as_str().to_owned()),
                ..error_item(
                    cause.code,
                    &format!(
                        "Could not check that the post is gone from {}: {}. Nothing was recorded.",
                        platform.display_name(),
                        cause.message
                    ),
                    post_id.as_str(),
                )
            }
        }
    };
    (false, DeleteItem::Error(error))
}

fn http_status(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn is_queued(item: &DeleteItem) -> bool {
    matches!(item, DeleteItem::Done(a) if a.status == "queued")
}

/// 202 Accepted when nothing failed but something waits in the queue.
fn answer((ok, item): (bool, DeleteItem)) -> HttpResponse {
    let status = if ok && is_queued(&item) {
        StatusCode::ACCEPTED
    } else {
        http_status(ok)
    };
    json_response(status, &item)
}

fn bulk_answer(items: Vec<(bool, DeleteItem)>, queued: Option<&Enqueued>) -> HttpResponse {
    let ok = items.iter().all(|(ok, _)| *ok);
    let some_queued = items.iter().any(|(_, item)| is_queued(item));
    let (status, http) = match (ok, some_queued) {
        (true, false) => ("success", StatusCode::OK),
        (true, true) => ("queued", StatusCode::ACCEPTED),
        (false, _) => ("error", StatusCode::BAD_REQUEST),
    };
    json_response(
        http,
        &BulkAnswer {
            status,
            code: (status == "success").then_some(200),
            posts: items.into_iter().map(|(_, item)| item).collect(),
            queued_count: queued.map(|q| q.count),
            estimated_completion: queued.and_then(|q| q.estimated_completion.as_ref().map(iso)),
        },
    )
}

/// `DELETE /api/post` and `DELETE /api/delete`.
#[utoipa::path(
    delete,
    path = "/api/post",
    tag = "ayrshare",
    description = "Deletes a post everywhere it was published (`id`), several (`bulk`), every \
        scheduled post (`deleteAllScheduled`), or records a delete done by hand \
        (`markManualDeleted`). Each platform says what happened there.",
    request_body(content = DeleteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Every platform of every id succeeded", body = super::openapi::DeleteResponse),
        (status = 202, description = "Nothing failed; some platforms wait in the delete queue (postgate extension)", body = super::openapi::DeleteResponse),
        (status = 400, description = "Some platform or id failed (per-platform codes), or the request is not valid", body = super::openapi::DeleteResponse),
    )
)]
pub async fn delete_post(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(payload, state.body_limit).await?;
    let (work, manual) = parse_request(&bytes, state.bulk_max_ids)?;
    let queue = queue_flag(&bytes)?.unwrap_or(state.queue_default) && !manual;
    let ctx = caller.call_context(&state);
    let profile = caller.profile.id.as_str();
    Ok(match (work, manual) {
        (Work::AllScheduled, _) => {
            let ids = state.delete.delete_all_scheduled(profile).await?;
            json_response(
                StatusCode::OK,
                &AllScheduledAnswer {
                    status: "success",
                    code: 200,
                    count: ids.len(),
                    ids: ids.iter().map(|i| i.as_str().to_owned()).collect(),
                },
            )
        }
        (Work::One(id), false) => {
            let result = state.delete.delete(profile, &id, &ctx).await?;
            let queued = if queue {
                state
                    .queue
                    .enqueue(profile, std::slice::from_ref(&result))
                    .await?
            } else {
                Enqueued::default()
            };
            answer(render_result(&result, &state.networks, &queued))
        }
        (Work::Bulk(ids), false) => {
            let results = state.delete.delete_bulk(profile, &ids, &ctx).await?;
            let queued = if queue {
                Some(state.queue.enqueue(profile, &results).await?)
            } else {
                None
            };
            let none = Enqueued::default();
            bulk_answer(
                results
                    .iter()
                    .map(|r| render_result(r, &state.networks, queued.as_ref().unwrap_or(&none)))
                    .collect(),
                queued.as_ref(),
            )
        }
        (Work::One(id), true) => answer(render_manual(
            &state.delete.mark_manual_deleted(profile, &id, &ctx).await?,
            &state.networks,
        )),
        (Work::Bulk(ids), true) => {
            let results = state
                .delete
                .mark_manual_deleted_bulk(profile, &ids, &ctx)
                .await?;
            bulk_answer(
                results
                    .iter()
                    .map(|r| render_manual(r, &state.networks))
                    .collect(),
                None,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_validation() {
        let p = |s: &str| parse_request(s.as_bytes(), 1000);
        assert_eq!(
            p(r#"{"id":"x","source":"npm"}"#).unwrap(),
            (Work::One("x".into()), false)
        );
        assert_eq!(
            p(r#"{"id":"x","bulk":["a"],"deleteAllScheduled":true}"#).unwrap(),
            (Work::AllScheduled, false)
        );
        assert_eq!(
            p(r#"{"bulk":["a","b"],"markManualDeleted":true}"#).unwrap(),
            (Work::Bulk(vec!["a".into(), "b".into()]), true)
        );
        for bad in [
            "",
            "{}",
            "[]",
            r#"{"bulk":[]}"#,
            r#"{"bulk":[1]}"#,
            r#"{"id":5}"#,
            r#"{"id":"a","bulk":["b"]}"#,
            r#"{"deleteAllScheduled":"yes"}"#,
            "{not json",
        ] {
            assert!(p(bad).is_err(), "{bad} should fail");
        }
        assert!(parse_request(br#"{"bulk":["a","b"]}"#, 1).is_err());
    }
}
