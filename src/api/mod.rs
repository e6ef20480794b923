//! The Ayrshare wire layer: actix-web handlers that parse Ayrshare requests into domain
//! values, call a service, and render the outcome as a typed answer ([`answers`]). The only
//! module that knows Ayrshare's field names and error codes; nothing outside it imports it
//! except the route table in `startup`.

pub mod answers;
pub mod auth;
pub mod delete;
pub mod error;
pub mod history;
pub mod hook;
pub mod link;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod posts;
pub mod profiles;
pub mod publish;
pub mod update;

use crate::keys::ApiKeys;
use crate::networks::{ConsumerCredentials, Networks};
use crate::service::media::MediaFetcher;
use crate::service::webhooks::Webhooks;
use crate::service::{
    CallCounts, DeleteQueue, DeleteService, KeyedLocks, LinkingService, PublishService,
};
use crate::store::Store;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use error::{codes, ApiError};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Shared state of the handlers.
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Accepted API keys.
    pub api_keys: ApiKeys,
    /// The delete orchestrator.
    pub delete: DeleteService,
    /// The publisher (publish now, schedule).
    pub publish: PublishService,
    /// Serializes requests that carry the same idempotency key.
    pub idempotency_locks: KeyedLocks,
    /// X consumer credentials from settings, if any.
    pub x_consumer: Option<ConsumerCredentials>,
    /// The network adapters (identity checks at link time).
    pub networks: Networks,
    /// Largest body accepted.
    pub body_limit: usize,
    /// Most ids in one bulk delete.
    pub bulk_max_ids: usize,
    /// Linking tokens, the linking page's flows.
    pub linking: LinkingService,
    /// The durable delete queue (`"queue": true`).
    pub queue: DeleteQueue,
    /// Whether deletes queue by default (`delete.queue_default`).
    pub queue_default: bool,
    /// Webhook registrations and deliveries.
    pub webhooks: Webhooks,
    /// Checks and downloads `mediaUrls`; knows the URLs of the built-in random images.
    pub media: MediaFetcher,
    /// Counts of API calls per key and month (`monthlyApiCalls`).
    pub call_counts: CallCounts,
}

/// A JSON answer with Ayrshare's `Content-Type: application/json; charset=utf-8`.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    match serde_json::to_string(body) {
        Ok(text) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
            .body(text),
        // Only a map with non-string keys could fail; no answer type has one.
        Err(e) => {
            tracing::error!(error = %e, "answer could not be serialized");
            HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
                .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
                .body(r#"{"action":"internal","status":"error","code":915,"message":"Internal error: the answer could not be rendered. The details are in the gateway's log."}"#)
        }
    }
}

/// Reads a body of at most `limit` bytes.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::invalid("request", format!("could not read the request body: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request",
                codes::BODY_TOO_LARGE,
                format!("Request body is larger than the limit of {limit} bytes (server.body_limit_bytes)."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body into `T`, naming the offending field on error. Unknown fields are
/// ignored (the SDKs add `"source"`).
pub fn parse_json<T: DeserializeOwned>(action: &str, bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            action,
            "Request body is empty: send a JSON object.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = if inner.is_syntax() || inner.is_eof() {
            format!("Request body is not valid JSON: {inner}")
        } else if path == "." || path.is_empty() {
            format!("Request body is not of the expected shape: {inner}")
        } else {
            format!("Invalid field '{path}': {inner}")
        };
        ApiError::invalid(action, msg)
    })
}

/// Reads and parses a JSON body in one step.
pub async fn json_body<T: DeserializeOwned>(
    state: &AppState,
    action: &str,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let bytes = read_body(payload, state.body_limit).await?;
    parse_json(action, &bytes)
}

/// Whether the process answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    description = "Liveness: answers while the process runs (no authentication).",
    responses((status = 200, description = "The process answers", body = answers::HealthAnswer))
)]
async fn health() -> HttpResponse {
    json_response(
        StatusCode::OK,
        &answers::HealthAnswer {
            status: "success",
            healthy: true,
        },
    )
}

async fn route_not_found() -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "request",
        codes::ROUTE,
        "No such endpoint on this gateway.",
    )
    .error_response_owned()
}

async fn method_not_allowed() -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "request",
        codes::ROUTE,
        "This endpoint does not support that HTTP method.",
    )
    .error_response_owned()
}

impl ApiError {
    fn error_response_owned(self) -> HttpResponse {
        json_response(self.status(), self.body())
    }
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/api/openapi.json", web::get().to(openapi::document))
        .service(
            web::resource("/api/post")
                .route(web::post().to(publish::publish_post))
                .route(web::delete().to(delete::delete_post))
                .route(web::put().to(update::update_post))
                .route(web::patch().to(update::update_post))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/post/retry")
                .route(web::put().to(update::retry_post))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/delete")
                .route(web::delete().to(delete::delete_post))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/post/import")
                .route(web::post().to(posts::import))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/post/{id}")
                .route(web::get().to(posts::get_post))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/hook/webhook")
                .route(web::post().to(hook::register))
                .route(web::delete().to(hook::unregister))
                .route(web::get().to(hook::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/history")
                .route(web::get().to(history::history))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/history/{id}")
                .route(web::get().to(history::history_one))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/profiles")
                .route(web::get().to(profiles::list_profiles))
                .route(web::post().to(profiles::create_profile))
                .route(web::patch().to(profiles::update_profile))
                .route(web::put().to(profiles::update_profile))
                .route(web::delete().to(profiles::delete_profile))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(["/api/profiles/profile", "/api/profiles/create-profile"])
                .route(web::post().to(profiles::create_profile))
                .route(web::delete().to(profiles::delete_profile))
                // Both SDKs' updateProfile() call `PUT profiles/profile`.
                .route(web::put().to(profiles::update_profile))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            // The Python SDK 1.3.0's deleteProfile() calls this path.
            web::resource("/api/profiles/delete-profile")
                .route(web::delete().to(profiles::delete_profile))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/profiles/social")
                .route(web::post().to(profiles::link_social))
                .route(web::delete().to(profiles::unlink_social))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/api/profiles/generateJWT")
                .route(web::post().to(profiles::generate_jwt))
                .default_service(web::to(method_not_allowed)),
        )
        .configure(link::routes)
        .service(
            web::resource("/api/user")
                .route(web::get().to(profiles::user))
                .default_service(web::to(method_not_allowed)),
        )
        .route("/media/random/{name}", web::get().to(publish::random_image))
        .default_service(web::to(route_not_found));
}
