//! `GET /metrics` (Prometheus text) and the middleware that measures every request: counted
//! and timed by its matched route pattern (never the raw path: ids and query strings stay out
//! of labels and logs), and logged as one info line.

use super::error::{codes, ApiError};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use std::time::Instant;

/// Who may read `/metrics`: with a token, only `Authorization: Bearer <token>`.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// `metrics.token`; `None` leaves the page open.
    pub token: Option<String>,
}

/// Measures one request and logs its summary line (method, route pattern, status, latency).
pub async fn measure(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let res = next.call(req).await;
    let elapsed = started.elapsed();
    let (route, status) = match &res {
        Ok(r) => (r.request().match_pattern(), r.status()),
        Err(e) => (None, e.as_response_error().status_code()),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    crate::metrics::http_request(method.as_str(), &route, status.as_u16(), elapsed);
    tracing::info!(
        http.method = %method,
        http.route = %route,
        http.status_code = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    res
}

fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let sent = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or("")
        .trim();
    bool::from(sent.as_bytes().ct_eq(token.as_bytes()))
}

/// Prometheus metrics of this process (see `src/metrics.rs` for the list).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    description = "Prometheus text exposition of the gateway's metrics (postgate extension). \
        Open unless `metrics.token` is set; then it needs `Authorization: Bearer <token>`.",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics.token` is set and was not sent", body = super::answers::ErrorBody),
        (status = 503, description = "Another metrics recorder owns this process", body = super::answers::ErrorBody),
    )
)]
pub async fn metrics(
    req: HttpRequest,
    access: Option<web::Data<MetricsAccess>>,
    state: Option<web::Data<super::AppState>>,
) -> HttpResponse {
    if let Some(token) = access.as_ref().and_then(|a| a.token.as_deref()) {
        if !bearer_matches(&req, token) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "metrics",
                codes::API_KEY,
                "Send the metrics token (metrics.token) as 'Authorization: Bearer <token>'.",
            )
            .error_response_owned();
        }
    }
    match crate::metrics::render() {
        Some(mut text) => {
            // The quota gauge is this gateway's own, not the process recorder's.
            if let Some(state) = &state {
                text.push_str(&state.delete.quota_remaining().render());
            }
            HttpResponse::Ok()
                .insert_header((
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                ))
                .body(text)
        }
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics",
            codes::INTERNAL,
            "Metrics are not available: another metrics recorder was installed in this process.",
        )
        .error_response_owned(),
    }
}
