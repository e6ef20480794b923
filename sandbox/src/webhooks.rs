//! A webhook receiver, so `postgate sandbox` can stand in for a client's endpoint: register
//! `http://<sandbox>/__sandbox/webhooks/receive` as a webhook URL (the gateway needs
//! `webhooks.allow_http = true` for loopback), then read what arrived. Both servers (Threads
//! and X ports) share one receiver.
//!
//! - `POST /__sandbox/webhooks/receive` — records the delivery (time, the
//!   `X-Authorization-Timestamp` and `X-Authorization-Content-SHA256` headers, the body) and
//!   answers 200, or the status set by `fail` while failures remain;
//! - `GET /__sandbox/webhooks` — `{"deliveries":[{"receivedAt","timestamp","signature",
//!   "status","body"}…]}`, oldest first (`status` is what the receiver answered);
//! - `PUT /__sandbox/webhooks/fail {"count":N,"status":500}` — fail the next N deliveries;
//! - `POST /__sandbox/webhooks/reset` — forget the deliveries and the failures.
//!
//! Signatures are recorded, not checked: the receiver does not know the secrets.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Mutex;

/// Most deliveries kept (the oldest are dropped past it).
const KEEP: usize = 10_000;

/// One delivery as received.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// `X-Authorization-Timestamp`, if sent.
    pub timestamp: Option<String>,
    /// `X-Authorization-Content-SHA256`, if sent.
    pub signature: Option<String>,
    /// What the receiver answered.
    pub status: u16,
    /// The body, as JSON when it is JSON, else as text.
    pub body: Value,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    fail_remaining: u32,
    fail_status: u16,
}

/// The shared receiver.
#[derive(Default)]
pub struct WebhookReceiver(Mutex<State>);

impl WebhookReceiver {
    /// Every delivery so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state().deliveries.clone()
    }

    /// Fails the next `count` deliveries with `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut s = self.state();
        s.fail_remaining = count;
        s.fail_status = status;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn receive(
    rx: web::Data<WebhookReceiver>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut s = rx.state();
    let status = if s.fail_remaining > 0 {
        s.fail_remaining -= 1;
        s.fail_status
    } else {
        200
    };
    if s.deliveries.len() >= KEEP {
        s.deliveries.remove(0);
    }
    s.deliveries.push(Delivery {
        received_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        timestamp: header(&req, "x-authorization-timestamp"),
        signature: header(&req, "x-authorization-content-sha256"),
        status,
        body: serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    });
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code).json(json!({ "received": status == 200 }))
}

async fn list(rx: web::Data<WebhookReceiver>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "deliveries": rx.deliveries() }))
}

#[derive(Deserialize)]
struct Fail {
    count: u32,
    #[serde(default = "server_error")]
    status: u16,
}

fn server_error() -> u16 {
    500
}

async fn fail(rx: web::Data<WebhookReceiver>, body: web::Json<Fail>) -> HttpResponse {
    if !(100..=599).contains(&body.status) {
        return HttpResponse::BadRequest().json(json!({ "error": "status must be 100..=599" }));
    }
    rx.fail_next(body.count, body.status);
    HttpResponse::Ok().json(json!({ "count": body.count, "status": body.status }))
}

async fn reset(rx: web::Data<WebhookReceiver>) -> HttpResponse {
    *rx.state() = State::default();
    HttpResponse::Ok().json(json!({ "reset": true }))
}

/// Routes `/__sandbox/webhooks*`.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/__sandbox/webhooks/receive", web::post().to(receive))
        .route("/__sandbox/webhooks", web::get().to(list))
        .route("/__sandbox/webhooks/fail", web::put().to(fail))
        .route("/__sandbox/webhooks/reset", web::post().to(reset));
}
