//! `POST/DELETE/GET /api/hook/webhook` (Ayrshare's webhook registration, per profile), and
//! the payloads of the events postgate fires: `scheduled`, `social` and postgate's `delete`.
//! Delivery (outbox, signature, retries) is `service::webhooks`.

use super::answers::{
    DeleteEvent, PlatformMap, WebhookList, WebhookRegistered, WebhookUnregistered, WebhookView,
};
use super::auth::Caller;
use super::error::ApiError;
use super::{json_body, json_response, AppState};
use crate::domain::Post;
use crate::networks::Networks;
use crate::service::webhooks::{RegisterRefusal, ACTIONS};
use crate::service::DeleteReport;
use crate::store::Profile;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

fn iso(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Register {
    action: String,
    url: String,
    secret: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Unregister {
    action: String,
}

/// `POST /api/hook/webhook {action, url, secret?}`
#[utoipa::path(
    post,
    path = "/api/hook/webhook",
    operation_id = "hook_register",
    tag = "ayrshare",
    description = "Registers the profile's webhook for an action.",
    request_body(content = Register, content_type = "application/json"),
    responses((status = 200, description = "Registered", body = super::answers::WebhookRegistered))
)]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: Register = json_body(&state, "webhook", payload).await?;
    match state
        .webhooks
        .register(&caller.profile.id, &body.action, &body.url, body.secret)
        .await?
    {
        Ok(reg) => Ok(json_response(
            StatusCode::OK,
            &WebhookRegistered {
                status: "success",
                action: reg.action,
                url: reg.url,
                ref_id: caller.profile.id.to_string(),
            },
        )),
        Err(RegisterRefusal::UnknownAction) => Err(ApiError::invalid(
            "webhook",
            format!(
                "Field 'action' must be one of: {}.",
                ACTIONS.join(", ")
            ),
        )),
        Err(RegisterRefusal::BadUrl) => Err(ApiError::invalid(
            "webhook",
            "Field 'url' must be an https:// URL (http:// only where the gateway sets webhooks.allow_http).",
        )),
    }
}

/// `DELETE /api/hook/webhook {action}`
#[utoipa::path(
    delete,
    path = "/api/hook/webhook",
    tag = "ayrshare",
    description = "Unregisters the profile's webhook for an action (also when none was registered).",
    request_body(content = Unregister, content_type = "application/json"),
    responses((status = 200, description = "Unregistered", body = super::answers::WebhookUnregistered))
)]
pub async fn unregister(
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: Unregister = json_body(&state, "webhook", payload).await?;
    state
        .webhooks
        .unregister(&caller.profile.id, &body.action)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &WebhookUnregistered {
            status: "success",
            action: body.action,
            ref_id: caller.profile.id.to_string(),
        },
    ))
}

/// `GET /api/hook/webhook`
#[utoipa::path(
    get,
    path = "/api/hook/webhook",
    tag = "postgate",
    description = "The profile's webhooks (postgate extension; secrets are never answered).",
    responses((status = 200, description = "The webhooks", body = super::answers::WebhookList))
)]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let regs = state.webhooks.list(&caller.profile.id).await?;
    let urls = PlatformMap(
        regs.iter()
            .map(|r| (r.action.clone(), r.url.clone()))
            .collect(),
    );
    let updated = regs.iter().map(|r| r.created).max().map(|t| iso(&t));
    Ok(json_response(
        StatusCode::OK,
        &WebhookList {
            status: "success",
            urls,
            updated,
            webhooks: regs
                .into_iter()
                .map(|r| WebhookView {
                    action: r.action,
                    url: r.url,
                    signed: r.secret.is_some(),
                    created: iso(&r.created),
                })
                .collect(),
            ref_id: caller.profile.id.to_string(),
        },
    ))
}

fn object(v: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The `delete` event of queued platforms that finished.
pub fn delete_event(report: &DeleteReport, networks: &Networks) -> Map<String, Value> {
    object(&DeleteEvent {
        action: "delete",
        id: report.post_id.as_str().to_owned(),
        status: if report.all_succeeded() {
            "success"
        } else {
            "error"
        },
        platforms: PlatformMap(
            report
                .entries
                .iter()
                .map(|e| {
                    (
                        e.platform.as_str().to_owned(),
                        super::delete::platform_entry(e, networks, None),
                    )
                })
                .collect(),
        ),
    })
}

/// The `scheduled` event (Ayrshare's payload): a scheduled post was processed.
pub fn scheduled_event(post: &Post, profile: &Profile, networks: &Networks) -> Map<String, Value> {
    let view = super::posts::render_post(post, profile, networks);
    let ok = view.errors.is_empty();
    let mut m = Map::new();
    m.insert("action".into(), "scheduled".into());
    m.insert("created".into(), iso(&chrono::Utc::now()).into());
    m.insert("code".into(), (if ok { 200 } else { 400 }).into());
    m.insert("refId".into(), profile.id.to_string().into());
    m.insert(
        "status".into(),
        (if ok { "success" } else { "error" }).into(),
    );
    m.insert("id".into(), post.id.as_str().into());
    m.insert(
        "errors".into(),
        serde_json::to_value(&view.errors).unwrap_or_default(),
    );
    m.insert(
        "postIds".into(),
        serde_json::to_value(&view.post_ids).unwrap_or_default(),
    );
    m
}

/// Fires the `social` event of `profile_id`; a failure to queue it is logged, never fails
/// the request that linked or unlinked.
pub async fn emit_social(
    state: &AppState,
    profile_id: &str,
    platform: &str,
    kind: &str,
    display_name: Option<&str>,
) {
    if let Err(e) = state
        .webhooks
        .emit_social(profile_id, platform, kind, "user", display_name, None)
        .await
    {
        tracing::error!(error = %e, "the social webhook could not be queued");
    }
}
