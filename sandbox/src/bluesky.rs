//! The simulated Bluesky PDS: the XRPC methods postgate calls (`com.atproto.server.*` sessions,
//! `com.atproto.repo.*` records of the `app.bsky.feed.post` collection).

use super::faults::{ErrorKind, FaultSwitch, Injected, MovingWindow, Stats};
use super::{query_map, BlueskyAccount, SandboxOptions, SimNetwork, StatsSnapshot};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use unicode_segmentation::UnicodeSegmentation;

/// The only collection simulated.
const POSTS: &str = "app.bsky.feed.post";
/// The post lexicon's limits.
const MAX_GRAPHEMES: usize = 300;
const MAX_BYTES: usize = 3000;
/// `createSession`: 30 per 5 minutes per account (documented).
const SESSION_LIMIT: u32 = 30;
const SESSION_WINDOW: Duration = Duration::from_secs(300);

/// One simulated PDS's state.
pub(crate) struct BlueskySim {
    accounts: Vec<BlueskyAccount>,
    inner: Mutex<Inner>,
    next: AtomicU64,
    faults: FaultSwitch,
    stats: Stats,
    access_ttl: Duration,
    delete_limit: u32,
    delete_window: Duration,
}

struct Inner {
    /// Access token → (account, issued at).
    access: HashMap<String, (usize, Instant)>,
    /// Live refresh tokens → account. Renewing revokes the one used.
    refresh: HashMap<String, usize>,
    /// (account, rkey) → text.
    records: HashMap<(usize, String), String>,
    deletes: Vec<MovingWindow>,
    sessions: Vec<MovingWindow>,
    /// Uploaded blobs by CID → owning account.
    blobs: HashMap<String, usize>,
}

/// An XRPC error body.
fn xrpc_error(status: StatusCode, error: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": error, "message": message}))
}

impl BlueskySim {
    pub(crate) fn new(opts: &SandboxOptions, accounts: &[BlueskyAccount]) -> Self {
        let delete_window = Duration::from_secs(opts.bluesky_delete_window_secs.max(1));
        Self {
            accounts: accounts.to_vec(),
            inner: Mutex::new(Inner {
                access: HashMap::new(),
                refresh: HashMap::new(),
                records: HashMap::new(),
                blobs: HashMap::new(),
                deletes: accounts
                    .iter()
                    .map(|_| MovingWindow::new(opts.bluesky_delete_limit, delete_window))
                    .collect(),
                sessions: accounts
                    .iter()
                    .map(|_| MovingWindow::new(SESSION_LIMIT, SESSION_WINDOW))
                    .collect(),
            }),
            next: AtomicU64::new(1),
            faults: FaultSwitch::new(opts.bluesky_faults()),
            stats: Stats::default(),
            access_ttl: Duration::from_secs(opts.bluesky_access_ttl_secs.max(1)),
            delete_limit: opts.bluesky_delete_limit,
            delete_window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(
        &self,
        kind: ErrorKind,
        status: StatusCode,
        error: &str,
        message: &str,
    ) -> HttpResponse {
        self.stats.error(kind);
        xrpc_error(status, error, message)
    }

    fn injected(inj: Injected) -> HttpResponse {
        match inj {
            Injected::Internal => xrpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal Server Error",
            ),
            Injected::Unavailable => xrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UpstreamFailure",
                "Upstream Failure",
            ),
        }
    }

    /// A fresh record key (a TID-shaped 13 characters).
    fn rkey(&self) -> String {
        format!("3l{:011}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// A new session for `account`.
    fn session(&self, inner: &mut Inner, account: usize) -> Value {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let access = format!("sandbox-bsky-access-{account}-{n}");
        let refresh = format!("sandbox-bsky-refresh-{account}-{n}");
        inner
            .access
            .insert(access.clone(), (account, Instant::now()));
        inner.refresh.insert(refresh.clone(), account);
        let a = &self.accounts[account];
        json!({"accessJwt": access, "refreshJwt": refresh, "handle": a.handle, "did": a.did, "active": true})
    }

    /// The account whose access token the request carries.
    fn authenticate(&self, req: &HttpRequest) -> Result<usize, Box<HttpResponse>> {
        let Some(token) = bearer(req) else {
            return Err(Box::new(self.error(
                ErrorKind::Auth,
                StatusCode::UNAUTHORIZED,
                "AuthMissing",
                "Authentication Required",
            )));
        };
        let inner = self.lock();
        match inner.access.get(token) {
            Some((_, issued)) if issued.elapsed() >= self.access_ttl => {
                drop(inner);
                Err(Box::new(self.error(
                    ErrorKind::Auth,
                    StatusCode::BAD_REQUEST,
                    "ExpiredToken",
                    "Token has expired",
                )))
            }
            Some((account, _)) => Ok(*account),
            None => {
                drop(inner);
                Err(Box::new(self.error(
                    ErrorKind::Auth,
                    StatusCode::UNAUTHORIZED,
                    "InvalidToken",
                    "Token could not be verified",
                )))
            }
        }
    }

    /// The account a `repo` (DID or handle) names, when it is the caller's own.
    /// A repo write's common checks: the caller's session, a JSON object body, and `repo`
    /// naming the caller's own repo. The account and the body, or the answer to send.
    fn repo_write(
        &self,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(usize, Value), Box<HttpResponse>> {
        let account = self.authenticate(req)?;
        let Some(v) = json_body(body) else {
            return Err(Box::new(self.error(
                ErrorKind::Invalid,
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Input must be a JSON object",
            )));
        };
        self.own_repo(account, v["repo"].as_str())?;
        Ok((account, v))
    }

    fn own_repo(&self, account: usize, repo: Option<&str>) -> Result<(), Box<HttpResponse>> {
        let a = &self.accounts[account];
        match repo {
            Some(r) if r == a.did || r.eq_ignore_ascii_case(&a.handle) => Ok(()),
            _ => Err(Box::new(self.error(
                ErrorKind::Forbidden,
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Can not write to a repo other than the authenticated one",
            ))),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn json_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

impl SimNetwork for BlueskySim {
    fn name(&self) -> &'static str {
        "bluesky"
    }

    fn faults(&self) -> &FaultSwitch {
        &self.faults
    }

    fn stats(&self) -> StatsSnapshot {
        let live = self.lock().records.len() as u64;
        self.stats.snapshot(self.name(), live)
    }

    fn reset(&self) {
        self.stats.reset();
        let mut guard = self.lock();
        let inner = &mut *guard;
        for w in inner.deletes.iter_mut().chain(inner.sessions.iter_mut()) {
            w.clear();
        }
    }

    fn seed(&self, user_id: Option<&str>, count: usize, text: &str) -> Result<Vec<String>, String> {
        let owner = super::seed_owner(
            self.accounts.iter().map(|a| a.did.as_str()),
            user_id,
            "Bluesky",
        )?;
        let did = &self.accounts[owner].did;
        let mut inner = self.lock();
        Ok((0..count)
            .map(|_| {
                let rkey = self.rkey();
                inner.records.insert((owner, rkey.clone()), text.to_owned());
                format!("at://{did}/{POSTS}/{rkey}")
            })
            .collect())
    }
}

/// Fault injection first, as for every simulated call; `None` means handle it.
async fn faulted(sim: &BlueskySim) -> Option<HttpResponse> {
    sim.faults.apply(&sim.stats).await.map(BlueskySim::injected)
}

/// `POST com.atproto.server.createSession {identifier, password}`
async fn create_session(sim: web::Data<BlueskySim>, body: web::Bytes) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    let Some(v) = json_body(&body) else {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Input must be a JSON object with identifier and password",
        );
    };
    let identifier = v["identifier"].as_str().unwrap_or("").trim();
    let password = v["password"].as_str().unwrap_or("");
    let account = sim.accounts.iter().position(|a| {
        (a.did == identifier || a.handle.eq_ignore_ascii_case(identifier))
            && a.app_password == password
    });
    let Some(account) = account else {
        return sim.error(
            ErrorKind::Auth,
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    };
    let mut inner = sim.lock();
    let now = Instant::now();
    if inner.sessions[account].is_full(now) {
        drop(inner);
        return rate_limited(&sim, SESSION_LIMIT, SESSION_WINDOW);
    }
    inner.sessions[account].record(now);
    let session = sim.session(&mut inner, account);
    HttpResponse::Ok().json(session)
}

/// `POST com.atproto.server.refreshSession` (Bearer refreshJwt): a new pair; the refresh
/// token used is revoked.
async fn refresh_session(sim: web::Data<BlueskySim>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    let mut inner = sim.lock();
    let Some(account) = bearer(&req).and_then(|t| inner.refresh.remove(t)) else {
        drop(inner);
        return sim.error(
            ErrorKind::Auth,
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        );
    };
    let session = sim.session(&mut inner, account);
    HttpResponse::Ok().json(session)
}

/// `GET com.atproto.server.getSession`
async fn get_session(sim: web::Data<BlueskySim>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    match sim.authenticate(&req) {
        Ok(account) => {
            let a = &sim.accounts[account];
            HttpResponse::Ok().json(json!({"handle": a.handle, "did": a.did, "active": true}))
        }
        Err(r) => *r,
    }
}

/// `POST com.atproto.repo.createRecord {repo, collection, record}`
async fn create_record(
    sim: web::Data<BlueskySim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    sim.stats.publish.fetch_add(1, Ordering::Relaxed);
    let (account, v) = match sim.repo_write(&req, &body) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    if v["collection"].as_str() != Some(POSTS) {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The sandbox simulates the app.bsky.feed.post collection only",
        );
    }
    let Some(text) = v["record"]["text"].as_str() else {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRecord",
            "Record/text must be a string",
        );
    };
    if text.graphemes(true).count() > MAX_GRAPHEMES || text.len() > MAX_BYTES {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRecord",
            "Record/text must not be longer than 300 graphemes",
        );
    }
    if let Some(embed) = v["record"].get("embed") {
        if let Err(message) = check_images_embed(&sim, account, embed) {
            return sim.error(
                ErrorKind::Invalid,
                StatusCode::BAD_REQUEST,
                "InvalidRecord",
                &message,
            );
        }
    }
    let rkey = sim.rkey();
    sim.lock()
        .records
        .insert((account, rkey.clone()), text.to_owned());
    sim.stats.published.fetch_add(1, Ordering::Relaxed);
    let did = &sim.accounts[account].did;
    HttpResponse::Ok().json(json!({
        "uri": format!("at://{did}/{POSTS}/{rkey}"),
        "cid": format!("bafyreisandbox{rkey}"),
        "validationStatus": "valid",
    }))
}

/// Largest image blob (`app.bsky.embed.images` lexicon, `maxSize`).
const IMAGE_MAX_BYTES: usize = 1_000_000;

/// An `app.bsky.embed.images` embed: 1 to 4 images, each a blob this account uploaded.
fn check_images_embed(sim: &BlueskySim, account: usize, embed: &Value) -> Result<(), String> {
    if embed["$type"].as_str() != Some("app.bsky.embed.images") {
        return Err("The sandbox simulates the app.bsky.embed.images embed only".into());
    }
    let images = embed["images"]
        .as_array()
        .filter(|i| (1..=4).contains(&i.len()))
        .ok_or("Record/embed/images must have 1 to 4 items")?;
    let inner = sim.lock();
    for image in images {
        let cid = image["image"]["ref"]["$link"].as_str().unwrap_or("");
        if inner.blobs.get(cid) != Some(&account) {
            return Err(format!("Could not find blob: {cid}"));
        }
        if !image["alt"].is_string() {
            return Err("Record/embed/images/alt must be a string".into());
        }
    }
    Ok(())
}

/// `POST com.atproto.repo.uploadBlob` (the raw image, its MIME type as `Content-Type`):
/// keeps the blob for a record to embed and answers its reference.
async fn upload_blob(
    sim: web::Data<BlueskySim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    let account = match sim.authenticate(&req) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mime = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !mime.starts_with("image/") || !crate::media::is_image(&body) {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The sandbox accepts JPEG, PNG, GIF or WebP image blobs only",
        );
    }
    if body.len() > IMAGE_MAX_BYTES {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::PAYLOAD_TOO_LARGE,
            "BlobTooLarge",
            "This file is too large. It is 1 MB at most.",
        );
    }
    let cid = format!("bafkreisandbox{}", sim.next.fetch_add(1, Ordering::Relaxed));
    sim.lock().blobs.insert(cid.clone(), account);
    sim.stats.media.fetch_add(1, Ordering::Relaxed);
    sim.stats
        .media_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({"blob": {
        "$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": body.len()
    }}))
}

/// `POST com.atproto.repo.deleteRecord {repo, collection, rkey}`: "delete a record, or
/// ensure it doesn't exist" — a missing record answers success too.
async fn delete_record(
    sim: web::Data<BlueskySim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    sim.stats.delete.fetch_add(1, Ordering::Relaxed);
    let (account, v) = match sim.repo_write(&req, &body) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let (Some(POSTS), Some(rkey)) = (v["collection"].as_str(), v["rkey"].as_str()) else {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Input must have collection app.bsky.feed.post and an rkey",
        );
    };
    let mut inner = sim.lock();
    let now = Instant::now();
    if inner.deletes[account].is_full(now) {
        drop(inner);
        return rate_limited(&sim, sim.delete_limit, sim.delete_window);
    }
    inner.deletes[account].record(now);
    if inner.records.remove(&(account, rkey.to_owned())).is_some() {
        sim.stats.deleted.fetch_add(1, Ordering::Relaxed);
    }
    HttpResponse::Ok().json(json!({}))
}

/// `GET com.atproto.repo.getRecord?repo&collection&rkey`
async fn get_record(sim: web::Data<BlueskySim>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = faulted(&sim).await {
        return r;
    }
    sim.stats.get.fetch_add(1, Ordering::Relaxed);
    let q = query_map(&req).unwrap_or_default();
    let (Some(repo), Some(collection), Some(rkey)) =
        (q.get("repo"), q.get("collection"), q.get("rkey"))
    else {
        return sim.error(
            ErrorKind::Invalid,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Params must have the properties repo, collection and rkey",
        );
    };
    let owner = sim
        .accounts
        .iter()
        .position(|a| a.did == *repo || a.handle.eq_ignore_ascii_case(repo));
    let uri = format!("at://{repo}/{collection}/{rkey}");
    let text = owner
        .filter(|_| collection == POSTS)
        .and_then(|o| sim.lock().records.get(&(o, rkey.clone())).cloned());
    match text {
        Some(text) => HttpResponse::Ok().json(json!({
            "uri": uri,
            "cid": format!("bafyreisandbox{rkey}"),
            "value": {"$type": POSTS, "text": text},
        })),
        None => sim.error(
            ErrorKind::NotFound,
            StatusCode::BAD_REQUEST,
            "RecordNotFound",
            &format!("Could not locate record: {uri}"),
        ),
    }
}

/// HTTP 429 `RateLimitExceeded` with the `ratelimit-*` headers (reset as a Unix time).
fn rate_limited(sim: &BlueskySim, limit: u32, window: Duration) -> HttpResponse {
    sim.stats.error(ErrorKind::RateLimited);
    let reset = chrono::Utc::now().timestamp() + window.as_secs() as i64;
    HttpResponse::TooManyRequests()
        .insert_header(("ratelimit-limit", limit.to_string()))
        .insert_header(("ratelimit-remaining", "0"))
        .insert_header(("ratelimit-reset", reset.to_string()))
        .insert_header((
            "ratelimit-policy",
            format!("{limit};w={}", window.as_secs()),
        ))
        .json(json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}))
}

async fn unknown_method(sim: web::Data<BlueskySim>, req: HttpRequest) -> HttpResponse {
    sim.stats.requests.fetch_add(1, Ordering::Relaxed);
    sim.error(
        ErrorKind::Invalid,
        StatusCode::NOT_IMPLEMENTED,
        "MethodNotImplemented",
        &format!("Method Not Implemented: {}", req.path()),
    )
}

/// The Bluesky routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/xrpc/com.atproto.server.createSession",
        web::post().to(create_session),
    )
    .route(
        "/xrpc/com.atproto.server.refreshSession",
        web::post().to(refresh_session),
    )
    .route(
        "/xrpc/com.atproto.server.getSession",
        web::get().to(get_session),
    )
    .route(
        "/xrpc/com.atproto.repo.createRecord",
        web::post().to(create_record),
    )
    .route(
        "/xrpc/com.atproto.repo.uploadBlob",
        web::post().to(upload_blob),
    )
    .route(
        "/xrpc/com.atproto.repo.deleteRecord",
        web::post().to(delete_record),
    )
    .route(
        "/xrpc/com.atproto.repo.getRecord",
        web::get().to(get_record),
    )
    .default_service(web::to(unknown_method));
}
