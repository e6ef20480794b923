//! The simulated Threads API (graph.threads.net, paths under `/v1.0`).

use super::consent::{self, OAuthFaults, OAuthSwitch, CODE_TTL};
use super::faults::{ErrorKind, FaultSwitch, Injected, MovingWindow, Stats};
use super::{is_form, query_pairs, SandboxOptions, SimNetwork, StatsSnapshot, ThreadsAccount};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Threads' text limit, in characters (emojis count as their UTF-8 byte length).
const TEXT_LIMIT: usize = 500;
/// The post quota's window (documented: 250 posts per 24-hour moving period).
const POST_WINDOW: Duration = Duration::from_secs(86_400);

/// One simulated Threads server's state.
pub(crate) struct ThreadsSim {
    accounts: Vec<ThreadsAccount>,
    by_token: HashMap<String, usize>,
    inner: Mutex<Inner>,
    next_container: AtomicU64,
    next_media: AtomicU64,
    faults: FaultSwitch,
    stats: Stats,
    delete_limit: u32,
    delete_window: Duration,
    post_limit: u32,
    oauth: Mutex<OAuthState>,
    oauth_faults: OAuthSwitch,
}

/// The simulated Threads app a gateway links through (`threads.app_id` / `app_secret`).
pub const THREADS_APP_ID: &str = "1000000000000001";
/// Its secret.
pub const THREADS_APP_SECRET: &str = "sandbox-threads-app-secret";
/// Seconds a long-lived token lives (Threads' documented 60 days, as its answers say it).
const LONG_LIVED_SECS: u64 = 5_183_944;

/// Codes and tokens the OAuth flow issued.
#[derive(Default)]
struct OAuthState {
    codes: HashMap<String, Grant>,
    /// token → (account, long-lived).
    tokens: HashMap<String, (usize, bool)>,
    scopes: HashMap<String, String>,
}

struct Grant {
    account: usize,
    scope: String,
    redirect_uri: String,
    issued: Instant,
}

struct Inner {
    quotas: Vec<Quotas>,
    containers: HashMap<u64, Container>,
    media: HashMap<u64, Media>,
}

struct Quotas {
    deletes: MovingWindow,
    posts: MovingWindow,
}

struct Container {
    owner: usize,
    /// Taken when published.
    text: Option<String>,
    published: Option<u64>,
    /// Image URLs (one for IMAGE and carousel items, the items' for a CAROUSEL).
    images: Vec<String>,
    /// A carousel item: only publishable inside a CAROUSEL.
    carousel_item: bool,
    /// `TEXT_POST`, `IMAGE` or `CAROUSEL_ALBUM`, as the media will read.
    media_type: &'static str,
    /// Status reads still answered IN_PROGRESS (Threads fetching the image).
    processing: u32,
    /// Why processing failed (status ERROR).
    error: Option<String>,
}

struct Media {
    owner: usize,
    text: String,
    timestamp: String,
    media_type: &'static str,
    images: Vec<String>,
}

impl ThreadsSim {
    pub(crate) fn new(opts: &SandboxOptions, accounts: &[ThreadsAccount]) -> Self {
        let delete_window = Duration::from_secs(opts.threads_delete_window_secs.max(1));
        Self {
            accounts: accounts.to_vec(),
            by_token: accounts
                .iter()
                .enumerate()
                .map(|(i, a)| (a.access_token.clone(), i))
                .collect(),
            inner: Mutex::new(Inner {
                quotas: accounts
                    .iter()
                    .map(|_| Quotas {
                        deletes: MovingWindow::new(opts.threads_delete_limit, delete_window),
                        posts: MovingWindow::new(opts.threads_post_limit, POST_WINDOW),
                    })
                    .collect(),
                containers: HashMap::new(),
                media: HashMap::new(),
            }),
            next_container: AtomicU64::new(17_890_000_000_000_001),
            next_media: AtomicU64::new(18_060_000_000_000_001),
            faults: FaultSwitch::new(opts.threads_faults()),
            stats: Stats::default(),
            delete_limit: opts.threads_delete_limit,
            delete_window,
            post_limit: opts.threads_post_limit,
            oauth: Mutex::new(OAuthState::default()),
            oauth_faults: OAuthSwitch::default(),
        }
    }

    fn oauth(&self) -> MutexGuard<'_, OAuthState> {
        self.oauth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the OAuth faults (denied consent, expired codes, failing refreshes).
    pub(crate) fn set_oauth_faults(&self, f: OAuthFaults) {
        self.oauth_faults.set(f);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A Graph error envelope, counted in the stats.
    fn error(
        &self,
        kind: ErrorKind,
        status: u16,
        ty: &str,
        code: u32,
        subcode: Option<u32>,
        message: String,
    ) -> HttpResponse {
        self.stats.error(kind);
        graph_error(status, ty, code, subcode, message)
    }

    /// Code 100 / subcode 33: unknown, deleted, or not this token's object.
    fn unsupported(&self, method: &str, id: &str) -> HttpResponse {
        self.error(
            ErrorKind::NotFound,
            400,
            "THApiException",
            100,
            Some(33),
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
    }

    fn invalid(&self, message: String) -> HttpResponse {
        self.error(
            ErrorKind::Invalid,
            400,
            "THApiException",
            100,
            None,
            message,
        )
    }

    fn rate_limited(&self, what: &str, limit: u32, window: Duration) -> HttpResponse {
        self.error(
            ErrorKind::RateLimited,
            400,
            "OAuthException",
            17,
            None,
            format!(
                "(#17) User request limit reached: this account used its {limit} {what} of the last {} seconds",
                window.as_secs()
            ),
        )
    }

    fn injected(&self, inj: Injected) -> HttpResponse {
        match inj {
            Injected::Internal => graph_transient(500, 1, "An unknown error has occurred."),
            Injected::Unavailable => graph_transient(503, 2, "Service temporarily unavailable"),
        }
    }

    /// The account of the request's token (`access_token` parameter, or a Bearer header).
    fn authenticate(
        &self,
        req: &HttpRequest,
        params: &HashMap<String, String>,
    ) -> Result<usize, Box<HttpResponse>> {
        let token = params.get("access_token").map(String::as_str).or_else(|| {
            req.headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
        });
        match token {
            None | Some("") => Err(Box::new(self.error(
                ErrorKind::Auth,
                400,
                "OAuthException",
                104,
                None,
                "An access token is required to request this resource.".into(),
            ))),
            Some(t) => self
                .by_token
                .get(t)
                .copied()
                .or_else(|| self.oauth().tokens.get(t).map(|(a, _)| *a))
                .ok_or_else(|| {
                    Box::new(self.error(
                        ErrorKind::Auth,
                        400,
                        "OAuthException",
                        190,
                        None,
                        "Invalid OAuth access token - Cannot parse access token".into(),
                    ))
                }),
        }
    }

    /// `{user-id}` in a path must be the token's own user (or `me`): the refusal otherwise.
    fn other_user(&self, user: &str, account: usize, method: &str) -> Option<HttpResponse> {
        if user == "me" || user == self.accounts[account].user_id {
            None
        } else {
            Some(self.unsupported(method, user))
        }
    }

    fn media_json(&self, id: u64, m: &Media, fields: &[&str]) -> Result<Value, String> {
        let acct = &self.accounts[m.owner];
        let code = shortcode(id);
        let mut out = Map::new();
        for &f in fields {
            let v = match f {
                "id" => json!(id.to_string()),
                "permalink" => json!(format!(
                    "https://www.threads.net/@{}/post/{code}",
                    acct.username
                )),
                "text" => json!(m.text),
                "timestamp" => json!(m.timestamp),
                "username" => json!(acct.username),
                "shortcode" => json!(code),
                "media_product_type" => json!("THREADS"),
                "media_type" => json!(m.media_type),
                "media_url" => match m.images.first() {
                    Some(u) => json!(u),
                    None => continue,
                },
                "owner" => json!({ "id": acct.user_id }),
                "is_quote_post" | "has_replies" | "is_reply" => json!(false),
                "hide_status" => json!("NOT_HUSHED"),
                "reply_audience" => json!("EVERYONE"),
                other => return Err(other.to_owned()),
            };
            out.insert(f.to_owned(), v);
        }
        Ok(Value::Object(out))
    }

    fn create_media(&self, inner: &mut Inner, owner: usize, text: String) -> u64 {
        self.create_media_with(inner, owner, text, "TEXT_POST", Vec::new())
    }

    fn create_media_with(
        &self,
        inner: &mut Inner,
        owner: usize,
        text: String,
        media_type: &'static str,
        images: Vec<String>,
    ) -> u64 {
        let id = self.next_media.fetch_add(1, Ordering::Relaxed);
        inner.media.insert(
            id,
            Media {
                owner,
                text,
                timestamp: chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S+0000")
                    .to_string(),
                media_type,
                images,
            },
        );
        id
    }
}

impl SimNetwork for ThreadsSim {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn faults(&self) -> &FaultSwitch {
        &self.faults
    }

    fn stats(&self) -> StatsSnapshot {
        let live = self.lock().media.len() as u64;
        self.stats.snapshot(self.name(), live)
    }

    fn reset(&self) {
        self.stats.reset();
        let mut inner = self.lock();
        for q in &mut inner.quotas {
            q.deletes.clear();
            q.posts.clear();
        }
    }

    fn seed(&self, user_id: Option<&str>, count: usize, text: &str) -> Result<Vec<String>, String> {
        let owner = super::seed_owner(
            self.accounts.iter().map(|a| a.user_id.as_str()),
            user_id,
            "Threads",
        )?;
        let mut inner = self.lock();
        Ok((0..count)
            .map(|_| {
                self.create_media(&mut inner, owner, text.to_owned())
                    .to_string()
            })
            .collect())
    }
}

/// A Graph error envelope with a fresh `fbtrace_id`.
fn graph_error(
    status: u16,
    ty: &str,
    code: u32,
    subcode: Option<u32>,
    message: String,
) -> HttpResponse {
    let mut error = json!({"message": message, "type": ty, "code": code});
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    error["fbtrace_id"] = json!(trace_id());
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .json(json!({ "error": error }))
}

fn graph_transient(status: u16, code: u32, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(json!({"error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "is_transient": true,
            "fbtrace_id": trace_id(),
        }}))
}

fn trace_id() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(11)
        .map(char::from)
        .collect()
}

/// A media id as an 11-character shortcode (base64url alphabet).
fn shortcode(id: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..11)
        .rev()
        .map(|i| ALPHABET[((id >> (i * 6)) & 63) as usize] as char)
        .collect()
}

/// Threads' text length: characters, except that emojis count as their UTF-8 byte length.
fn text_len(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let emoji = matches!(
                c as u32,
                0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D
            );
            if emoji {
                c.len_utf8()
            } else {
                1
            }
        })
        .sum()
}

/// Query parameters merged with a form or JSON body (the body wins).
fn params(req: &HttpRequest, body: &[u8]) -> Option<HashMap<String, String>> {
    let mut out: HashMap<String, String> = query_pairs(req)?.into_iter().collect();
    if body.is_empty() {
        return Some(out);
    }
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if is_json {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, v);
        }
    } else if is_form(req)
        || req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .is_none()
    {
        let text = std::str::from_utf8(body).ok()?;
        let pairs = web::Query::<Vec<(String, String)>>::from_query(text).ok()?;
        out.extend(pairs.into_inner());
    }
    Some(out)
}

/// Fault injection, the call counter, parameters and the token's account; or the answer.
macro_rules! prelude {
    ($sim:expr, $req:expr, $body:expr, $counter:ident) => {{
        if let Some(inj) = $sim.faults.apply(&$sim.stats).await {
            return $sim.injected(inj);
        }
        $sim.stats.$counter.fetch_add(1, Ordering::Relaxed);
        let Some(p) = params(&$req, &$body) else {
            return $sim.invalid("(#100) Could not parse the request parameters".into());
        };
        match $sim.authenticate(&$req, &p) {
            Ok(a) => (p, a),
            Err(r) => return *r,
        }
    }};
}

/// `POST /v1.0/{user-id}/threads` — creates a media container.
async fn create_container(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    user: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, acct) = prelude!(sim, req, body, container);
    if let Some(r) = sim.other_user(&user, acct, "post") {
        return r;
    }
    let media_type = p.get("media_type").map(String::as_str).unwrap_or("");
    match media_type {
        "TEXT" => {}
        "IMAGE" | "CAROUSEL" => return create_media_container(&sim, acct, &p),
        "" => {
            return sim.invalid("(#100) The parameter media_type is required.".into());
        }
        other => {
            return sim.invalid(format!(
                "(#100) Param media_type must be one of {{TEXT, IMAGE, CAROUSEL}} in the sandbox, got {other}"
            ));
        }
    }
    let text = p.get("text").cloned().unwrap_or_default();
    if text.trim().is_empty() {
        return sim.invalid("(#100) Param text is required for TEXT posts.".into());
    }
    if text_len(&text) > TEXT_LIMIT {
        return sim.invalid(format!(
            "Param text must be at most {TEXT_LIMIT} characters long."
        ));
    }
    let auto_publish = p.get("auto_publish_text").map(String::as_str) == Some("true");
    let mut inner = sim.lock();
    if auto_publish {
        let now = Instant::now();
        if inner.quotas[acct].posts.is_full(now) {
            drop(inner);
            return sim.rate_limited("posts", sim.post_limit, POST_WINDOW);
        }
        inner.quotas[acct].posts.record(now);
        let id = sim.create_media(&mut inner, acct, text);
        sim.stats.published.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::Ok().json(json!({"id": id.to_string()}));
    }
    let id = sim.next_container.fetch_add(1, Ordering::Relaxed);
    inner.containers.insert(
        id,
        Container {
            owner: acct,
            text: Some(text),
            published: None,
            images: Vec::new(),
            carousel_item: false,
            media_type: "TEXT_POST",
            processing: 0,
            error: None,
        },
    );
    HttpResponse::Ok().json(json!({"id": id.to_string()}))
}

/// Most items of a carousel.
const CAROUSEL_MAX: usize = 20;

/// An IMAGE container (`image_url`, optionally `is_carousel_item=true`) or a CAROUSEL of
/// item containers (`children`). The sandbox keeps the URLs and fetches nothing: an image
/// container reads IN_PROGRESS once, then FINISHED; one whose `image_url` is not http(s)
/// ends in ERROR, as Threads' fetch would.
fn create_media_container(
    sim: &ThreadsSim,
    acct: usize,
    p: &HashMap<String, String>,
) -> HttpResponse {
    let text = p.get("text").cloned().unwrap_or_default();
    if text_len(&text) > TEXT_LIMIT {
        return sim.invalid(format!(
            "Param text must be at most {TEXT_LIMIT} characters long."
        ));
    }
    let carousel_item = p.get("is_carousel_item").map(String::as_str) == Some("true");
    let mut inner = sim.lock();
    let container = if p.get("media_type").map(String::as_str) == Some("IMAGE") {
        let Some(url) = p.get("image_url").filter(|u| !u.trim().is_empty()) else {
            drop(inner);
            return sim.invalid("(#100) Param image_url is required for IMAGE posts.".into());
        };
        let fetchable = url.starts_with("https://") || url.starts_with("http://");
        sim.stats.media.fetch_add(1, Ordering::Relaxed);
        Container {
            owner: acct,
            text: Some(text),
            published: None,
            images: vec![url.clone()],
            carousel_item,
            media_type: "IMAGE",
            processing: 1,
            error: (!fetchable).then(|| format!("Media download has failed: {url} is not a URL")),
        }
    } else {
        let children: Vec<u64> = p
            .get("children")
            .map(|c| c.split(',').filter_map(|i| i.trim().parse().ok()).collect())
            .unwrap_or_default();
        if children.len() < 2 || children.len() > CAROUSEL_MAX {
            drop(inner);
            return sim.invalid(format!(
                "(#100) Param children must list 2 to {CAROUSEL_MAX} carousel item containers."
            ));
        }
        let mut images = Vec::new();
        for child in &children {
            match inner.containers.get(child) {
                Some(c) if c.owner == acct && c.carousel_item && c.published.is_none() => {
                    if c.processing > 0 || c.error.is_some() {
                        drop(inner);
                        return sim
                            .invalid(format!("(#100) Carousel item {child} is not FINISHED."));
                    }
                    images.extend(c.images.iter().cloned());
                }
                _ => {
                    drop(inner);
                    return sim.invalid(format!(
                        "(#100) Param children: {child} is not a carousel item container of this user."
                    ));
                }
            }
        }
        Container {
            owner: acct,
            text: Some(text),
            published: None,
            images,
            carousel_item: false,
            media_type: "CAROUSEL_ALBUM",
            processing: 1,
            error: None,
        }
    };
    let id = sim.next_container.fetch_add(1, Ordering::Relaxed);
    inner.containers.insert(id, container);
    HttpResponse::Ok().json(json!({"id": id.to_string()}))
}

/// `POST /v1.0/{user-id}/threads_publish?creation_id=…` — publishes a container.
async fn publish(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    user: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, acct) = prelude!(sim, req, body, publish);
    if let Some(r) = sim.other_user(&user, acct, "post") {
        return r;
    }
    let Some(creation) = p.get("creation_id").filter(|c| !c.is_empty()) else {
        return sim.invalid("(#100) The parameter creation_id is required.".into());
    };
    let now = Instant::now();
    let mut inner = sim.lock();
    let container = creation
        .parse::<u64>()
        .ok()
        .and_then(|n| inner.containers.get(&n).map(|c| (n, c.owner, c.published)));
    let not_ready = creation
        .parse::<u64>()
        .ok()
        .and_then(|n| inner.containers.get(&n))
        .filter(|c| c.owner == acct && c.published.is_none())
        .and_then(|c| {
            if c.carousel_item {
                Some("(#100) A carousel item cannot be published on its own; publish its CAROUSEL container.".to_owned())
            } else if let Some(e) = &c.error {
                Some(format!("(#9007) The media container is in status ERROR: {e}"))
            } else if c.processing > 0 {
                Some("(#9007) Media ID is not available: the media is not ready for publishing, please wait for a moment".to_owned())
            } else {
                None
            }
        });
    if let Some(message) = not_ready {
        drop(inner);
        // Meta's "media not ready" (code 9007, subcode 2207027); a carousel item alone is a
        // plain invalid parameter.
        return if message.starts_with("(#9007)") {
            sim.error(
                ErrorKind::Invalid,
                400,
                "OAuthException",
                9007,
                Some(2207027),
                message,
            )
        } else {
            sim.invalid(message)
        };
    }
    let cid = match container {
        Some((n, owner, None)) if owner == acct => n,
        Some((_, owner, Some(_))) if owner == acct => {
            drop(inner);
            return sim.invalid(format!(
                "(#100) The media container {creation} has already been published."
            ));
        }
        _ => {
            drop(inner);
            return sim.invalid(format!(
                "(#100) Param creation_id {creation} is not a media container of this user."
            ));
        }
    };
    if inner.quotas[acct].posts.is_full(now) {
        drop(inner);
        return sim.rate_limited("posts", sim.post_limit, POST_WINDOW);
    }
    inner.quotas[acct].posts.record(now);
    let (text, media_type, images) = inner
        .containers
        .get_mut(&cid)
        .map(|c| {
            (
                c.text.take().unwrap_or_default(),
                c.media_type,
                std::mem::take(&mut c.images),
            )
        })
        .unwrap_or_default();
    let id = sim.create_media_with(&mut inner, acct, text, media_type, images);
    if let Some(c) = inner.containers.get_mut(&cid) {
        c.published = Some(id);
    }
    drop(inner);
    sim.stats.published.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({"id": id.to_string()}))
}

/// `GET /v1.0/{id}?fields=…` — a media object, a container's status, or the token's user.
async fn get_object(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, acct) = prelude!(sim, req, body, get);
    let fields: Vec<&str> = p
        .get("fields")
        .map(String::as_str)
        .unwrap_or("id")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let fields = if fields.is_empty() {
        vec!["id"]
    } else {
        fields
    };
    let nonexisting = |field: String, node: &str| {
        sim.invalid(format!(
            "(#100) Tried accessing nonexisting field ({field}) on node type ({node})"
        ))
    };
    if let Ok(n) = id.parse::<u64>() {
        let inner = sim.lock();
        if let Some(m) = inner.media.get(&n) {
            if m.owner != acct {
                drop(inner);
                return sim.unsupported("get", &id);
            }
            let v = sim.media_json(n, m, &fields);
            drop(inner);
            return match v {
                Ok(v) => HttpResponse::Ok().json(v),
                Err(f) => nonexisting(f, "ThreadsMedia"),
            };
        }
        drop(inner);
        let mut inner = sim.lock();
        if let Some(c) = inner.containers.get_mut(&n) {
            if c.owner != acct {
                drop(inner);
                return sim.unsupported("get", &id);
            }
            let asks_status = fields.contains(&"status");
            let status = if c.published.is_some() {
                "PUBLISHED"
            } else if c.processing > 0 {
                // Each status read moves the fetch along: IN_PROGRESS, then the outcome.
                if asks_status {
                    c.processing -= 1;
                }
                "IN_PROGRESS"
            } else if c.error.is_some() {
                "ERROR"
            } else {
                "FINISHED"
            };
            let error = c.error.clone().filter(|_| status == "ERROR");
            drop(inner);
            let mut out = Map::new();
            for &f in &fields {
                let v = match f {
                    "id" => json!(id.as_str()),
                    "status" => json!(status),
                    "error_message" => match &error {
                        Some(e) => json!(e),
                        None => continue,
                    },
                    other => return nonexisting(other.to_owned(), "ThreadsMediaContainer"),
                };
                out.insert(f.to_owned(), v);
            }
            return HttpResponse::Ok().json(Value::Object(out));
        }
    }
    let a = &sim.accounts[acct];
    if id.as_str() == "me" || *id == a.user_id {
        let mut out = Map::new();
        for &f in &fields {
            let v = match f {
                "id" => json!(a.user_id),
                "username" => json!(a.username),
                "name" => json!(format!("Sandbox {}", a.username)),
                "threads_biography" => json!("A postgate sandbox account."),
                "threads_profile_picture_url" => json!(""),
                other => return nonexisting(other.to_owned(), "ThreadsUser"),
            };
            out.insert(f.to_owned(), v);
        }
        return HttpResponse::Ok().json(Value::Object(out));
    }
    sim.unsupported("get", &id)
}

/// `DELETE /v1.0/{media-id}` — deletes a post of the token's account.
async fn delete_object(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (_, acct) = prelude!(sim, req, body, delete);
    let now = Instant::now();
    let mut inner = sim.lock();
    if inner.quotas[acct].deletes.is_full(now) {
        drop(inner);
        return sim.rate_limited("deletes", sim.delete_limit, sim.delete_window);
    }
    let owned = id
        .parse::<u64>()
        .ok()
        .filter(|n| inner.media.get(n).is_some_and(|m| m.owner == acct));
    let Some(n) = owned else {
        drop(inner);
        return sim.unsupported("delete", &id);
    };
    inner.media.remove(&n);
    inner.quotas[acct].deletes.record(now);
    drop(inner);
    sim.stats.deleted.fetch_add(1, Ordering::Relaxed);
    if sim.faults.lose_response(&sim.stats) {
        return lost_response();
    }
    HttpResponse::Ok().json(json!({"success": true, "deleted_id": id.as_str()}))
}

/// An answer that never arrives: its body fails before anything is written, so the server
/// drops the connection without sending even the status line (the client sees the
/// connection closed after its request was written).
fn lost_response() -> HttpResponse {
    let failing = futures::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::other(
            "sandbox fault: the answer to this delete is lost",
        ))
    });
    HttpResponse::Ok().streaming(failing)
}

/// `GET /v1.0/{user-id}/threads_publishing_limit?fields=…`
async fn publishing_limit(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    user: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, acct) = prelude!(sim, req, body, publishing_limit);
    if let Some(r) = sim.other_user(&user, acct, "get") {
        return r;
    }
    let now = Instant::now();
    let (posts, deletes) = {
        let mut inner = sim.lock();
        let q = &mut inner.quotas[acct];
        (q.posts.usage(now), q.deletes.usage(now))
    };
    let config = |total: u32, secs: u64| json!({"quota_total": total, "quota_duration": secs});
    let mut out = Map::new();
    for f in p
        .get("fields")
        .map(String::as_str)
        .unwrap_or("quota_usage,config")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        let v = match f {
            "quota_usage" => json!(posts),
            "config" => config(sim.post_limit, POST_WINDOW.as_secs()),
            "reply_quota_usage" => json!(0),
            "reply_config" => config(1000, 86_400),
            "delete_quota_usage" => json!(deletes),
            "delete_config" => config(sim.delete_limit, sim.delete_window.as_secs()),
            "location_search_quota_usage" => json!(0),
            "location_search_config" => config(500, 86_400),
            other => {
                return sim.invalid(format!(
                    "(#100) Tried accessing nonexisting field ({other}) on node type (ThreadsPublishingLimit)"
                ))
            }
        };
        out.insert(f.to_owned(), v);
    }
    HttpResponse::Ok().json(json!({"data": [Value::Object(out)]}))
}

/// Anything else: Graph's unknown-path error.
async fn unknown_path(sim: web::Data<ThreadsSim>, req: HttpRequest) -> HttpResponse {
    sim.stats.requests.fetch_add(1, Ordering::Relaxed);
    sim.error(
        ErrorKind::Invalid,
        400,
        "OAuthException",
        2500,
        None,
        format!("Unknown path components: {}", req.path()),
    )
}

fn oauth_error(status: u16, code: u32, message: &str) -> HttpResponse {
    graph_error_plain(status, code, message)
}

fn graph_error_plain(status: u16, code: u32, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)).json(
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": trace_id()}}),
    )
}

/// `GET /oauth/authorize` — the consent page (on threads.net for real).
async fn authorize_page(sim: web::Data<ThreadsSim>, req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = query_pairs(&req).unwrap_or_default().into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != THREADS_APP_ID {
        return consent::error_page(400, "Invalid client_id: no such Threads app.");
    }
    if get("response_type") != "code" || get("redirect_uri").is_empty() {
        return consent::error_page(400, "response_type=code and a redirect_uri are required.");
    }
    let scopes: Vec<String> = get("scope")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if !scopes.iter().any(|s| s == "threads_basic") {
        return consent::error_page(400, "The threads_basic scope is required.");
    }
    let accounts: Vec<(String, String)> = sim
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (i.to_string(), format!("@{}", a.username)))
        .collect();
    consent::page(
        "Threads",
        "postgate",
        &scopes,
        &accounts,
        "/oauth/authorize",
        &[
            ("client_id", get("client_id")),
            ("redirect_uri", get("redirect_uri")),
            ("scope", get("scope")),
            ("state", get("state")),
        ],
    )
}

/// `POST /oauth/authorize` — the user's decision: back to `redirect_uri` with a code, or
/// with `error=access_denied`.
async fn authorize_decision(sim: web::Data<ThreadsSim>, body: web::Bytes) -> HttpResponse {
    let f = consent::form(&body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    let state = get("state");
    if get("client_id") != THREADS_APP_ID || redirect_uri.is_empty() {
        return consent::error_page(400, "Invalid authorization request.");
    }
    if get("decision") != "allow" || sim.oauth_faults.get().deny_consent {
        return consent::redirect(
            redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("error_description", "Permissions error"),
                ("state", state),
            ],
        );
    }
    let account = get("account").parse::<usize>().unwrap_or(0);
    if account >= sim.accounts.len() {
        return consent::error_page(400, "No such account.");
    }
    let code = consent::token("THCODE");
    sim.oauth().codes.insert(
        code.clone(),
        Grant {
            account,
            scope: get("scope").to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            issued: Instant::now(),
        },
    );
    consent::redirect(redirect_uri, &[("code", &code), ("state", state)])
}

/// `POST /oauth/access_token` — code → short-lived token (1 h).
async fn exchange_code(
    sim: web::Data<ThreadsSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(p) = params(&req, &body) else {
        return oauth_error(400, 100, "Could not parse the request parameters");
    };
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != THREADS_APP_ID || get("client_secret") != THREADS_APP_SECRET {
        return oauth_error(400, 101, "Error validating client secret.");
    }
    if get("grant_type") != "authorization_code" {
        return oauth_error(400, 100, "Unsupported grant_type");
    }
    let grant = sim.oauth().codes.remove(get("code"));
    let Some(grant) = grant else {
        return oauth_error(
            400,
            100,
            "Invalid verification code format or code already used.",
        );
    };
    if sim.oauth_faults.get().expired_code || grant.issued.elapsed() > CODE_TTL {
        return oauth_error(400, 100, "This authorization code has expired.");
    }
    if grant.redirect_uri != get("redirect_uri") {
        return oauth_error(400, 100, "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request");
    }
    let token = consent::token("THSHORT");
    let mut o = sim.oauth();
    o.tokens.insert(token.clone(), (grant.account, false));
    o.scopes.insert(token.clone(), grant.scope.clone());
    let user: u64 = sim.accounts[grant.account].user_id.parse().unwrap_or(0);
    // `scope` is the sandbox's own addition: it tells the gateway what was granted.
    HttpResponse::Ok().json(json!({"access_token": token, "user_id": user, "scope": grant.scope}))
}

/// `GET /access_token?grant_type=th_exchange_token` — short-lived → long-lived (60 days).
async fn long_lived(sim: web::Data<ThreadsSim>, req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = query_pairs(&req).unwrap_or_default().into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "th_exchange_token" {
        return oauth_error(400, 100, "Unsupported grant_type");
    }
    if get("client_secret") != THREADS_APP_SECRET {
        return oauth_error(400, 101, "Error validating client secret.");
    }
    let mut o = sim.oauth();
    let Some(&(account, false)) = o.tokens.get(get("access_token")) else {
        return oauth_error(
            400,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    };
    let scope = o
        .scopes
        .get(get("access_token"))
        .cloned()
        .unwrap_or_default();
    let token = consent::token("THLONG");
    o.tokens.insert(token.clone(), (account, true));
    o.scopes.insert(token.clone(), scope.clone());
    HttpResponse::Ok().json(json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS, "scope": scope}))
}

/// `GET /refresh_access_token?grant_type=th_refresh_token` — a new long-lived token.
async fn refresh(sim: web::Data<ThreadsSim>, req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = query_pairs(&req).unwrap_or_default().into_iter().collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "th_refresh_token" {
        return oauth_error(400, 100, "Unsupported grant_type");
    }
    if sim.oauth_faults.get().refresh_fails {
        return oauth_error(400, 190, "Error validating access token: The session has been invalidated because the user changed their password or Meta has changed the session for security reasons.");
    }
    let old = get("access_token");
    let account = sim.by_token.get(old).copied().or_else(|| {
        sim.oauth()
            .tokens
            .get(old)
            .and_then(|(a, long)| long.then_some(*a))
    });
    let Some(account) = account else {
        return oauth_error(
            400,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    };
    let token = consent::token("THLONG");
    let mut o = sim.oauth();
    let scope = o.scopes.get(old).cloned();
    o.tokens.insert(token.clone(), (account, true));
    if let Some(s) = scope {
        o.scopes.insert(token.clone(), s);
    }
    HttpResponse::Ok()
        .json(json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS}))
}

async fn get_oauth_faults(sim: web::Data<ThreadsSim>) -> HttpResponse {
    consent::get_faults(&sim.oauth_faults).await
}

async fn set_oauth_faults(sim: web::Data<ThreadsSim>, body: web::Bytes) -> HttpResponse {
    consent::set_faults(&sim.oauth_faults, &body)
}

/// The Threads routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize_page))
        .route("/oauth/authorize", web::post().to(authorize_decision))
        .route("/oauth/access_token", web::post().to(exchange_code))
        .route("/access_token", web::get().to(long_lived))
        .route("/refresh_access_token", web::get().to(refresh))
        .route("/__sandbox/oauth_faults", web::get().to(get_oauth_faults))
        .route("/__sandbox/oauth_faults", web::put().to(set_oauth_faults));
    cfg.service(
        web::resource("/v1.0/{id}")
            .route(web::get().to(get_object))
            .route(web::delete().to(delete_object)),
    )
    .route("/v1.0/{user}/threads", web::post().to(create_container))
    .route("/v1.0/{user}/threads_publish", web::post().to(publish))
    .route(
        "/v1.0/{user}/threads_publishing_limit",
        web::get().to(publishing_limit),
    )
    .default_service(web::to(unknown_path));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_length_counts_emoji_bytes() {
        assert_eq!(text_len("hello"), 5);
        assert_eq!(text_len("é"), 1);
        assert_eq!(text_len("😀"), 4);
        assert!(text_len(&"😀".repeat(126)) > TEXT_LIMIT);
    }

    #[test]
    fn shortcodes_are_stable() {
        assert_eq!(shortcode(0), "AAAAAAAAAAA");
        assert_eq!(shortcode(1).len(), 11);
        assert_ne!(
            shortcode(18_060_000_000_000_001),
            shortcode(18_060_000_000_000_002)
        );
    }
}
