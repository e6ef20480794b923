//! `DELETE /api/post` and its legacy alias `DELETE /api/delete`: one id, `bulk`,
//! `deleteAllScheduled` and `markManualDeleted`, rendered in Ayrshare's shapes.

use super::auth::Caller;
use super::error::{codes, ApiError};
use super::{json_response, read_body, AppState};
use crate::domain::{DeleteFailure, DeleteOutcome, Platform};
use crate::service::{DeleteResult, ManualResult};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

/// Ayrshare's message for code 382.
pub const NOT_MANUALLY_DELETED_MSG: &str = "The post was not manually deleted at the social network. By using the markManualDeleted option, you are responsible for deleting the post at the social network. Please delete the post and try again.";

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

fn error_body(code: u32, message: &str, id: &str) -> Map<String, Value> {
    let v =
        json!({"action": "delete", "status": "error", "code": code, "message": message, "id": id});
    v.as_object().expect("object").clone()
}

/// The code, message and extra fields of one platform's failure.
fn failure_entry(platform: &Platform, f: &DeleteFailure) -> Map<String, Value> {
    let name = platform.display_name();
    let code = super::error::code_for(f.into(), platform, "delete");
    let message: String = match f {
        DeleteFailure::Unsupported(m) => m.clone(),
        DeleteFailure::NoAdapter => format!("{name} is not supported by this gateway: it cannot delete posts there. Delete it at the network, then record that with markManualDeleted."),
        DeleteFailure::NotLinked => format!("{name} does not seem to be linked with this profile. Link the {name} account that published the post with POST /api/profiles/social, then delete again."),
        DeleteFailure::NoXCredentials => "X/Twitter requires your own API credentials: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings.".into(),
        DeleteFailure::RateLimited { message, retry_after } => format!("{name} rate limit: {message}. Retry after {retry_after} seconds."),
        DeleteFailure::Auth(m) if *platform == Platform::Twitter => format!("X/Twitter authorization error: {m}. Re-link the X account."),
        DeleteFailure::Auth(m) => format!("{name} authorization error: {m}"),
        DeleteFailure::Transient(m) => format!("{name} error (temporary, retry the delete): {m}"),
        DeleteFailure::Timeout(m) => format!("{m}; the post may still be live, retry the delete"),
        DeleteFailure::Rejected(m) => format!("{name} refused the delete: {m}"),
        DeleteFailure::Ambiguous(m) => m.clone(),
    };
    let mut o = Map::new();
    o.insert("action".into(), json!("delete"));
    o.insert("status".into(), json!("error"));
    o.insert("code".into(), json!(code));
    o.insert("message".into(), json!(message));
    match f {
        DeleteFailure::RateLimited { retry_after, .. } => {
            o.insert("retryAfter".into(), json!(retry_after));
        }
        DeleteFailure::NoXCredentials => {
            o.insert("error".into(), json!("x_credentials_required"));
        }
        DeleteFailure::Transient(_) | DeleteFailure::Timeout(_) => {
            o.insert("retryAvailable".into(), json!(true));
        }
        _ => {}
    }
    o
}

/// Renders one id's result: (all succeeded, body).
fn render_result(result: &DeleteResult) -> (bool, Map<String, Value>) {
    match result {
        DeleteResult::Internal(raw) => (false, internal_item(raw)),
        DeleteResult::NotFound(raw) => (
            false,
            error_body(codes::DELETE_NOT_FOUND, "Delete id not found.", raw),
        ),
        DeleteResult::AlreadyDeleted(id) => (
            false,
            error_body(
                codes::ALREADY_DELETED,
                "The post is already deleted.",
                id.as_str(),
            ),
        ),
        DeleteResult::Done(report) => {
            let ok = report.all_succeeded();
            let mut body = Map::new();
            body.insert("status".into(), json!(if ok { "success" } else { "error" }));
            if ok {
                body.insert("code".into(), json!(200));
            }
            body.insert("id".into(), json!(report.post_id.as_str()));
            let mut errors = Vec::new();
            for e in &report.entries {
                let mut entry = match &e.outcome {
                    DeleteOutcome::Failed(f) => failure_entry(&e.platform, f),
                    outcome => {
                        let mut o = Map::new();
                        o.insert("action".into(), json!("delete"));
                        o.insert("status".into(), json!("success"));
                        if matches!(
                            outcome,
                            DeleteOutcome::AlreadyGone | DeleteOutcome::PreviouslyDeleted
                        ) {
                            o.insert("alreadyDeleted".into(), json!(true));
                        }
                        if matches!(outcome, DeleteOutcome::NotPublished) {
                            o.insert("published".into(), json!(false));
                        }
                        o
                    }
                };
                if let Some(id) = &e.id {
                    entry.insert("id".into(), json!(id.as_str()));
                }
                if !e.outcome.is_success() {
                    let mut err = entry.clone();
                    err.insert("platform".into(), json!(e.platform.as_str()));
                    errors.push(Value::Object(err));
                }
                body.insert(e.platform.as_str().to_owned(), Value::Object(entry));
            }
            if !ok {
                body.insert("errors".into(), Value::Array(errors));
            }
            (ok, body)
        }
    }
}

/// One id of a bulk that an internal failure stopped (the others are answered as usual).
fn internal_item(raw: &str) -> Map<String, Value> {
    error_body(
        codes::INTERNAL,
        "An internal error stopped the work on this post; platforms already confirmed are recorded. Retry it.",
        raw,
    )
}

fn render_manual(result: &ManualResult) -> (bool, Map<String, Value>) {
    match result {
        ManualResult::Internal(raw) => (false, internal_item(raw)),
        ManualResult::NotFound(raw) => (
            false,
            error_body(codes::DELETE_NOT_FOUND, "Delete id not found.", raw),
        ),
        ManualResult::AlreadyDeleted(id) => (
            false,
            error_body(
                codes::ALREADY_DELETED,
                "The post is already deleted.",
                id.as_str(),
            ),
        ),
        ManualResult::StillLive { post_id, platforms } => {
            let mut b = error_body(
                codes::NOT_MANUALLY_DELETED,
                NOT_MANUALLY_DELETED_MSG,
                post_id.as_str(),
            );
            b.insert("markManualDeleted".into(), json!(true));
            b.insert(
                "platforms".into(),
                json!(platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
            );
            (false, b)
        }
        ManualResult::CheckFailed {
            post_id,
            platform,
            failure,
        } => {
            let entry = failure_entry(platform, failure);
            let mut b = error_body(
                entry["code"].as_u64().unwrap_or(0) as u32,
                &format!(
                    "Could not check that the post is gone from {}: {}. Nothing was recorded.",
                    platform.display_name(),
                    entry["message"].as_str().unwrap_or("")
                ),
                post_id.as_str(),
            );
            b.insert("markManualDeleted".into(), json!(true));
            b.insert("platform".into(), json!(platform.as_str()));
            (false, b)
        }
        ManualResult::Recorded(id) => (true, {
            let v = json!({"status": "success", "id": id.as_str()});
            v.as_object().expect("object").clone()
        }),
    }
}

fn answer(ok: bool, body: Map<String, Value>) -> HttpResponse {
    json_response(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        &Value::Object(body),
    )
}

fn bulk_answer(items: Vec<(bool, Map<String, Value>)>) -> HttpResponse {
    let ok = items.iter().all(|(ok, _)| *ok);
    let mut body = Map::new();
    body.insert("status".into(), json!(if ok { "success" } else { "error" }));
    if ok {
        body.insert("code".into(), json!(200));
    }
    body.insert(
        "posts".into(),
        Value::Array(items.into_iter().map(|(_, b)| Value::Object(b)).collect()),
    );
    answer(ok, body)
}

/// `DELETE /api/post` and `DELETE /api/delete`.
pub async fn delete_post(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(payload, state.body_limit).await?;
    let (work, manual) = parse_request(&bytes, state.bulk_max_ids)?;
    let ctx = caller.call_context(&state);
    let profile = caller.profile.id.as_str();
    Ok(match (work, manual) {
        (Work::AllScheduled, _) => {
            let ids = state.delete.delete_all_scheduled(profile).await?;
            answer(
                true,
                json!({
                    "status": "success",
                    "code": 200,
                    "count": ids.len(),
                    "ids": ids.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
                })
                .as_object()
                .expect("object")
                .clone(),
            )
        }
        (Work::One(id), false) => {
            let r = state.delete.delete(profile, &id, &ctx).await?;
            let (ok, body) = render_result(&r);
            answer(ok, body)
        }
        (Work::Bulk(ids), false) => {
            let results = state.delete.delete_bulk(profile, &ids, &ctx).await?;
            bulk_answer(results.iter().map(render_result).collect())
        }
        (Work::One(id), true) => {
            let r = state.delete.mark_manual_deleted(profile, &id, &ctx).await?;
            let (ok, body) = render_manual(&r);
            answer(ok, body)
        }
        (Work::Bulk(ids), true) => {
            let results = state
                .delete
                .mark_manual_deleted_bulk(profile, &ids, &ctx)
                .await?;
            bulk_answer(results.iter().map(render_manual).collect())
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
