//! The simulated X API (api.x.com): v2 tweets and v1.1 `statuses/destroy`, OAuth 1.0a.

use super::consent::{self, OAuthFaults, OAuthSwitch, CODE_TTL};
use super::faults::{ErrorKind, FaultSwitch, FixedWindow, Injected, RateState, Stats};
use super::{
    is_form, oauth, query_pairs, SandboxAccounts, SandboxOptions, SimNetwork, StatsSnapshot,
    XAccount, XApp,
};
use actix_web::http::header::{AUTHORIZATION, HOST};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// X's limit, in weighted characters (twitter-text v3: most scripts count 1, others 2).
const TEXT_LIMIT: usize = 280;
/// Window of the `POST /2/tweets` and `GET /2/tweets/{id}` limits.
const WINDOW_15_MIN: Duration = Duration::from_secs(900);

/// One simulated X server's state.
pub(crate) struct XSim {
    accounts: Vec<XAccount>,
    app: XApp,
    by_token: HashMap<String, usize>,
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    faults: FaultSwitch,
    stats: Stats,
    /// Request tokens of the three-legged flow, by `oauth_token`.
    requests: Mutex<HashMap<String, RequestGrant>>,
    oauth_faults: OAuthSwitch,
}

/// A request token of the three-legged flow.
struct RequestGrant {
    secret: String,
    callback: String,
    /// Set once the user allowed: (verifier, account, when).
    authorized: Option<(String, usize, Instant)>,
}

struct Inner {
    limits: Vec<Limits>,
    tweets: HashMap<u64, Tweet>,
    /// Uploaded images by media id, until a tweet uses them.
    uploads: HashMap<u64, Upload>,
}

/// An image uploaded with `POST /2/media/upload`.
struct Upload {
    owner: usize,
}

struct Limits {
    delete: FixedWindow,
    post: FixedWindow,
    read: FixedWindow,
}

struct Tweet {
    owner: usize,
    text: String,
    created: DateTime<Utc>,
    /// Media ids attached (`media.media_ids`).
    media: Vec<u64>,
}

/// Which endpoint's limit a call counts against.
#[derive(Clone, Copy)]
enum Endpoint {
    Delete,
    Post,
    Read,
}

impl XSim {
    pub(crate) fn new(opts: &SandboxOptions, accounts: &SandboxAccounts) -> Self {
        let delete_window = Duration::from_secs(opts.x_delete_window_secs.max(1));
        Self {
            accounts: accounts.x.clone(),
            app: accounts.x_app.clone(),
            by_token: accounts
                .x
                .iter()
                .enumerate()
                .map(|(i, a)| (a.access_token.clone(), i))
                .collect(),
            inner: Mutex::new(Inner {
                limits: accounts
                    .x
                    .iter()
                    .map(|_| Limits {
                        delete: FixedWindow::new(opts.x_delete_limit, delete_window),
                        post: FixedWindow::new(opts.x_post_limit, WINDOW_15_MIN),
                        read: FixedWindow::new(opts.x_read_limit, WINDOW_15_MIN),
                    })
                    .collect(),
                tweets: HashMap::new(),
                uploads: HashMap::new(),
            }),
            next_id: AtomicU64::new(1_900_000_000_000_000_001),
            faults: FaultSwitch::new(opts.x_faults()),
            stats: Stats::default(),
            requests: Mutex::new(HashMap::new()),
            oauth_faults: OAuthSwitch::default(),
        }
    }

    fn requests(&self) -> MutexGuard<'_, HashMap<String, RequestGrant>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the OAuth faults (denied consent, expired verifiers).
    pub(crate) fn set_oauth_faults(&self, f: OAuthFaults) {
        self.oauth_faults.set(f);
    }

    /// The OAuth 1.0a header of a flow request, if its signature holds with the app's
    /// secret and `token_secret` (empty for the request token call).
    fn signed_flow(
        &self,
        req: &HttpRequest,
        body: &[u8],
        token_secret: impl Fn(Option<&str>) -> Option<String>,
    ) -> Option<oauth::OAuthHeader> {
        let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
        let h = oauth::parse_header(header).ok()?;
        if h.get("oauth_signature_method")? != "HMAC-SHA1"
            || h.get("oauth_consumer_key")? != self.app.consumer_key
            || h.get("oauth_timestamp")?.parse::<u64>().is_err()
            || h.get("oauth_nonce")?.is_empty()
        {
            return None;
        }
        let secret = token_secret(h.get("oauth_token"))?;
        let mut params = h.params.clone();
        params.extend(query_pairs(req)?);
        if is_form(req) && !body.is_empty() {
            let text = std::str::from_utf8(body).ok()?;
            params.extend(
                web::Query::<Vec<(String, String)>>::from_query(text)
                    .ok()?
                    .into_inner(),
            );
        }
        let host = match req.headers().get(HOST).and_then(|v| v.to_str().ok()) {
            Some(h) => h.to_owned(),
            None => req.connection_info().host().to_owned(),
        };
        let uri = oauth::base_string_uri("http", &host, req.uri().path());
        let base = oauth::signature_base_string(req.method().as_str(), &uri, &params);
        oauth::verify(&base, &self.app.consumer_secret, &secret, &h.signature).then_some(h)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account that signed the request: OAuth 1.0a (HMAC-SHA1) over the URL as called
    /// (scheme http, the Host header, the path, query and form parameters), or a Bearer
    /// header carrying an account's access token (OAuth 2.0 user context).
    fn authenticate(&self, req: &HttpRequest, body: &[u8]) -> Option<usize> {
        let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
        if let Some(bearer) = header.strip_prefix("Bearer ") {
            return self.by_token.get(bearer.trim()).copied();
        }
        let h = oauth::parse_header(header).ok()?;
        if h.get("oauth_signature_method")? != "HMAC-SHA1"
            || h.get("oauth_consumer_key")? != self.app.consumer_key
            || h.get("oauth_timestamp")?.parse::<u64>().is_err()
            || h.get("oauth_nonce")?.is_empty()
            || h.get("oauth_version").is_some_and(|v| v != "1.0")
        {
            return None;
        }
        let account = *self.by_token.get(h.get("oauth_token")?)?;
        let mut params = h.params;
        params.extend(query_pairs(req)?);
        // RFC 5849 §3.4.1.3.1: a form body is signed, a JSON body never is.
        if is_form(req) && !body.is_empty() {
            let text = std::str::from_utf8(body).ok()?;
            params.extend(
                web::Query::<Vec<(String, String)>>::from_query(text)
                    .ok()?
                    .into_inner(),
            );
        }
        let host = match req.headers().get(HOST).and_then(|v| v.to_str().ok()) {
            Some(h) => h.to_owned(),
            None => req.connection_info().host().to_owned(),
        };
        let uri = oauth::base_string_uri("http", &host, req.uri().path());
        let base = oauth::signature_base_string(req.method().as_str(), &uri, &params);
        oauth::verify(
            &base,
            &self.app.consumer_secret,
            &self.accounts[account].access_token_secret,
            &h.signature,
        )
        .then_some(account)
    }

    fn unauthorized(&self) -> HttpResponse {
        self.stats.error(ErrorKind::Auth);
        problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    fn injected(inj: Injected, v1: bool) -> HttpResponse {
        let (status, title, code, message) = match inj {
            Injected::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                131,
                "Internal error",
            ),
            Injected::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                130,
                "Over capacity",
            ),
        };
        if v1 {
            HttpResponse::build(status)
                .json(json!({"errors": [{"code": code, "message": message}]}))
        } else {
            problem(status, title, title)
        }
    }

    /// Counts the call against its per-user limit; `Err` is the 429.
    fn count(
        &self,
        inner: &mut Inner,
        account: usize,
        endpoint: Endpoint,
    ) -> Result<Option<RateState>, Box<HttpResponse>> {
        let l = &mut inner.limits[account];
        let w = match endpoint {
            Endpoint::Delete => &mut l.delete,
            Endpoint::Post => &mut l.post,
            Endpoint::Read => &mut l.read,
        };
        match w.hit(Instant::now()) {
            Some(s) if s.exceeded => {
                self.stats.error(ErrorKind::RateLimited);
                let mut r = HttpResponse::TooManyRequests();
                rate_headers(&mut r, Some(s));
                Err(Box::new(r.json(json!({
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                }))))
            }
            s => Ok(s),
        }
    }

    fn create_tweet(&self, inner: &mut Inner, owner: usize, text: String) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        inner.tweets.insert(
            id,
            Tweet {
                owner,
                text,
                created: Utc::now(),
                media: Vec::new(),
            },
        );
        id
    }
}

impl SimNetwork for XSim {
    fn name(&self) -> &'static str {
        "x"
    }

    fn faults(&self) -> &FaultSwitch {
        &self.faults
    }

    fn stats(&self) -> StatsSnapshot {
        let live = self.lock().tweets.len() as u64;
        self.stats.snapshot(self.name(), live)
    }

    fn reset(&self) {
        self.stats.reset();
        for l in &mut self.lock().limits {
            l.delete.clear();
            l.post.clear();
            l.read.clear();
        }
    }

    fn seed(&self, user_id: Option<&str>, count: usize, text: &str) -> Result<Vec<String>, String> {
        let owner = super::seed_owner(
            self.accounts.iter().map(|a| a.user_id.as_str()),
            user_id,
            "X",
        )?;
        let mut inner = self.lock();
        Ok((0..count)
            .map(|_| {
                self.create_tweet(&mut inner, owner, text.to_owned())
                    .to_string()
            })
            .collect())
    }
}

/// An RFC 7807 Problem as X v2 answers it.
fn problem(status: StatusCode, title: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "title": title,
        "detail": detail,
        "type": "about:blank",
        "status": status.as_u16(),
    }))
}

fn rate_headers(r: &mut HttpResponseBuilder, state: Option<RateState>) {
    if let Some(s) = state {
        r.insert_header(("x-rate-limit-limit", s.limit.to_string()))
            .insert_header(("x-rate-limit-remaining", s.remaining.to_string()))
            .insert_header(("x-rate-limit-reset", s.reset.to_string()));
    }
}

/// `^[0-9]{1,19}$`, as X validates tweet ids.
fn parse_id(id: &str) -> Option<u64> {
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

fn invalid_id(sim: &XSim, id: &str) -> HttpResponse {
    sim.stats.error(ErrorKind::Invalid);
    HttpResponse::BadRequest().json(json!({
        "errors": [{
            "parameters": {"id": [id]},
            "message": format!("The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$"),
        }],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }))
}

fn not_found_error(id: &str) -> Value {
    json!({
        "value": id,
        "detail": format!("Could not find tweet with id: [{id}]."),
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    })
}

/// twitter-text v3 weighted length: code points in the listed ranges count 1, others 2.
fn weighted_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
            _ => 2,
        })
        .sum()
}

macro_rules! prelude {
    ($sim:expr, $req:expr, $body:expr, $counter:ident, $v1:expr) => {{
        if let Some(inj) = $sim.faults.apply(&$sim.stats).await {
            return XSim::injected(inj, $v1);
        }
        $sim.stats.$counter.fetch_add(1, Ordering::Relaxed);
        match $sim.authenticate(&$req, &$body) {
            Some(a) => a,
            None if $v1 => {
                $sim.stats.error(ErrorKind::Auth);
                return HttpResponse::Unauthorized().json(
                    json!({"errors": [{"code": 32, "message": "Could not authenticate you."}]}),
                );
            }
            None => return $sim.unauthorized(),
        }
    }};
}

/// `POST /2/tweets {"text"}`
async fn post_tweet(sim: web::Data<XSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let account = prelude!(sim, req, body, publish, false);
    let rate = {
        let mut inner = sim.lock();
        match sim.count(&mut inner, account, Endpoint::Post) {
            Ok(r) => r,
            Err(r) => return *r,
        }
    };
    let invalid = |message: String| {
        sim.stats.error(ErrorKind::Invalid);
        let mut r = HttpResponse::BadRequest();
        rate_headers(&mut r, rate);
        r.json(json!({
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }))
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return invalid(format!("Request body is not valid JSON: {e}")),
    };
    let text = match v.get("text") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(Value::String(_)) | None => return invalid("$.text: a text is required".into()),
        Some(_) => return invalid("$.text: expected a string".into()),
    };
    if weighted_len(&text) > TEXT_LIMIT {
        sim.stats.error(ErrorKind::Forbidden);
        let mut r = HttpResponse::Forbidden();
        rate_headers(&mut r, rate);
        return r.json(json!({
            "detail": "Your Tweet text is too long. For more information on how Twitter determines text length see https://github.com/twitter/twitter-text.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        }));
    }
    let media_ids: Vec<String> = match v.pointer("/media/media_ids") {
        None => Vec::new(),
        Some(ids) => match serde_json::from_value::<Vec<String>>(ids.clone()) {
            Ok(ids) if (1..=4).contains(&ids.len()) => ids,
            _ => return invalid("$.media.media_ids: 1 to 4 media id strings".into()),
        },
    };
    let id = {
        let mut inner = sim.lock();
        let mut media = Vec::with_capacity(media_ids.len());
        for m in &media_ids {
            match m
                .parse::<u64>()
                .ok()
                .filter(|n| inner.uploads.get(n).is_some_and(|u| u.owner == account))
            {
                Some(n) => media.push(n),
                None => {
                    drop(inner);
                    return invalid(format!(
                        "$.media.media_ids: {m} is not a media id uploaded by this user"
                    ));
                }
            }
        }
        for n in &media {
            inner.uploads.remove(n);
        }
        let id = sim.create_tweet(&mut inner, account, text.clone());
        if let Some(t) = inner.tweets.get_mut(&id) {
            t.media = media;
        }
        id
    };
    sim.stats.published.fetch_add(1, Ordering::Relaxed);
    let id = id.to_string();
    let mut r = HttpResponse::Created();
    rate_headers(&mut r, rate);
    r.json(json!({"data": {"edit_history_tweet_ids": [id], "id": id, "text": text}}))
}

/// Largest image `POST /2/media/upload` takes (5 MB).
const IMAGE_MAX_BYTES: usize = 5 * 1024 * 1024;

/// `POST /2/media/upload` (multipart: `media`, `media_category`) — keeps the image until a
/// tweet uses it and answers its media id. The multipart body is not signed (RFC 5849).
async fn upload_media(sim: web::Data<XSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(inj) = sim.faults.apply(&sim.stats).await {
        return XSim::injected(inj, false);
    }
    let Some(account) = sim.authenticate(&req, &body) else {
        return sim.unauthorized();
    };
    let invalid = |message: &str| {
        sim.stats.error(ErrorKind::Invalid);
        HttpResponse::BadRequest().json(json!({
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }))
    };
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((part_type, image)) = crate::media::multipart_file(content_type, &body, "media")
    else {
        return invalid("media: a multipart/form-data part named 'media' is required");
    };
    if !crate::media::is_image(&image) || !part_type.starts_with("image/") {
        return invalid("media: the file is not a JPEG, PNG, GIF or WebP image");
    }
    if image.len() > IMAGE_MAX_BYTES {
        return invalid("media: images are at most 5 MB");
    }
    let id = sim.next_id.fetch_add(1, Ordering::Relaxed);
    sim.lock().uploads.insert(id, Upload { owner: account });
    sim.stats.media.fetch_add(1, Ordering::Relaxed);
    sim.stats
        .media_bytes
        .fetch_add(image.len() as u64, Ordering::Relaxed);
    HttpResponse::Ok().json(json!({"data": {
        "id": id.to_string(),
        "media_key": format!("3_{id}"),
        "size": image.len(),
        "expires_after_secs": 86400,
        "image": {"image_type": part_type},
    }}))
}

/// `DELETE /2/tweets/{id}`
async fn delete_tweet(
    sim: web::Data<XSim>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let account = prelude!(sim, req, body, delete, false);
    let mut inner = sim.lock();
    let rate = match sim.count(&mut inner, account, Endpoint::Delete) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Some(n) = parse_id(&id) else {
        drop(inner);
        return invalid_id(&sim, &id);
    };
    let owner = inner.tweets.get(&n).map(|t| t.owner);
    let (mut r, body) = match owner {
        None => {
            drop(inner);
            sim.stats.error(ErrorKind::NotFound);
            let mut body = not_found_error(&id);
            body["status"] = json!(404);
            (HttpResponse::NotFound(), body)
        }
        Some(o) if o != account => {
            drop(inner);
            sim.stats.error(ErrorKind::Forbidden);
            (
                HttpResponse::Forbidden(),
                json!({
                    "title": "Forbidden",
                    "type": "about:blank",
                    "status": 403,
                    "detail": "You are not allowed to delete a Tweet you did not author.",
                }),
            )
        }
        Some(_) => {
            inner.tweets.remove(&n);
            drop(inner);
            sim.stats.deleted.fetch_add(1, Ordering::Relaxed);
            (HttpResponse::Ok(), json!({"data": {"deleted": true}}))
        }
    };
    rate_headers(&mut r, rate);
    r.json(body)
}

/// `GET /2/tweets/{id}`
async fn get_tweet(
    sim: web::Data<XSim>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let account = prelude!(sim, req, body, get, false);
    let mut inner = sim.lock();
    let rate = match sim.count(&mut inner, account, Endpoint::Read) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Some(n) = parse_id(&id) else {
        drop(inner);
        return invalid_id(&sim, &id);
    };
    let body = match inner.tweets.get(&n) {
        Some(t) if !t.media.is_empty() => {
            let keys: Vec<String> = t.media.iter().map(|m| format!("3_{m}")).collect();
            json!({"data": {"edit_history_tweet_ids": [id.as_str()], "id": id.as_str(), "text": t.text,
                            "attachments": {"media_keys": keys}}})
        }
        Some(t) => {
            json!({"data": {"edit_history_tweet_ids": [id.as_str()], "id": id.as_str(), "text": t.text}})
        }
        None => {
            sim.stats.error(ErrorKind::NotFound);
            json!({ "errors": [not_found_error(&id)] })
        }
    };
    drop(inner);
    let mut r = HttpResponse::Ok();
    rate_headers(&mut r, rate);
    r.json(body)
}

/// `POST /1.1/statuses/destroy/{id}.json` (legacy; X documents no rate limit for it).
async fn destroy_v1(
    sim: web::Data<XSim>,
    req: HttpRequest,
    file: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let account = prelude!(sim, req, body, delete, true);
    let id = file.strip_suffix(".json").unwrap_or("");
    let not_found = || {
        sim.stats.error(ErrorKind::NotFound);
        HttpResponse::NotFound()
            .json(json!({"errors": [{"code": 144, "message": "No status found with that ID."}]}))
    };
    let Some(n) = parse_id(id) else {
        return not_found();
    };
    let mut inner = sim.lock();
    match inner.tweets.get(&n).map(|t| t.owner) {
        None => {
            drop(inner);
            not_found()
        }
        Some(o) if o != account => {
            drop(inner);
            sim.stats.error(ErrorKind::Forbidden);
            HttpResponse::Forbidden().json(
                json!({"errors": [{"code": 183, "message": "You may not delete another user's status."}]}),
            )
        }
        Some(_) => {
            let t = inner.tweets.remove(&n).expect("present");
            drop(inner);
            sim.stats.deleted.fetch_add(1, Ordering::Relaxed);
            let u = &sim.accounts[account];
            let user_id: u64 = u.user_id.parse().unwrap_or(0);
            HttpResponse::Ok().json(json!({
                "created_at": t.created.format("%a %b %d %H:%M:%S +0000 %Y").to_string(),
                "id": n,
                "id_str": id,
                "text": t.text,
                "truncated": false,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                "source": "<a href=\"https://github.com/postgate\" rel=\"nofollow\">postgate sandbox</a>",
                "in_reply_to_status_id": null,
                "in_reply_to_status_id_str": null,
                "in_reply_to_user_id": null,
                "in_reply_to_user_id_str": null,
                "in_reply_to_screen_name": null,
                "user": {
                    "id": user_id,
                    "id_str": u.user_id,
                    "name": format!("Sandbox {}", u.username),
                    "screen_name": u.username,
                },
                "geo": null,
                "coordinates": null,
                "place": null,
                "contributors": null,
                "is_quote_status": false,
                "retweet_count": 0,
                "favorite_count": 0,
                "favorited": false,
                "retweeted": false,
                "lang": "en",
            }))
        }
    }
}

/// `GET /2/users/me` — the user the signed token belongs to.
async fn users_me(sim: web::Data<XSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let account = prelude!(sim, req, body, get, false);
    let u = &sim.accounts[account];
    HttpResponse::Ok().json(json!({"data": {
        "id": u.user_id,
        "name": format!("Sandbox {}", u.username),
        "username": u.username,
    }}))
}

/// Anything else: X's "page does not exist".
async fn unknown_path(sim: web::Data<XSim>) -> HttpResponse {
    sim.stats.requests.fetch_add(1, Ordering::Relaxed);
    sim.stats.error(ErrorKind::Invalid);
    HttpResponse::NotFound()
        .json(json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}))
}

fn oauth_refused(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"errors": [{"code": 32, "message": message}]}))
}

/// `POST /oauth/request_token` (signed, with `oauth_callback`) — the first leg.
async fn request_token(sim: web::Data<XSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(h) = sim.signed_flow(&req, &body, |token| token.is_none().then(String::new)) else {
        return oauth_refused("Could not authenticate you.");
    };
    let Some(callback) = h.get("oauth_callback").filter(|c| c.starts_with("http")) else {
        return oauth_refused("Callback URL not approved for this client application.");
    };
    let token = consent::token("XREQ");
    let secret = consent::token("XREQSECRET");
    sim.requests().insert(
        token.clone(),
        RequestGrant {
            secret: secret.clone(),
            callback: callback.to_owned(),
            authorized: None,
        },
    );
    HttpResponse::Ok()
        .content_type("application/x-www-form-urlencoded")
        .body(format!(
            "oauth_token={token}&oauth_token_secret={secret}&oauth_callback_confirmed=true"
        ))
}

/// `GET /oauth/authorize?oauth_token=…` — the consent page.
async fn authorize_page(sim: web::Data<XSim>, req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = query_pairs(&req).unwrap_or_default().into_iter().collect();
    let token = q.get("oauth_token").cloned().unwrap_or_default();
    if !sim.requests().contains_key(&token) {
        return consent::error_page(
            400,
            "This page is no longer valid: the request token is unknown.",
        );
    }
    let accounts: Vec<(String, String)> = sim
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (i.to_string(), format!("@{}", a.username)))
        .collect();
    consent::page(
        "X",
        "postgate",
        &[
            "Read and write Posts".to_owned(),
            "Read your profile".to_owned(),
        ],
        &accounts,
        "/oauth/authorize",
        &[("oauth_token", &token)],
    )
}

/// `POST /oauth/authorize` — the decision: back to the callback with a verifier, or `denied`.
async fn authorize_decision(sim: web::Data<XSim>, body: web::Bytes) -> HttpResponse {
    let f = consent::form(&body);
    let token = f.get("oauth_token").cloned().unwrap_or_default();
    let mut requests = sim.requests();
    let Some(grant) = requests.get_mut(&token) else {
        return consent::error_page(
            400,
            "This page is no longer valid: the request token is unknown.",
        );
    };
    let callback = grant.callback.clone();
    if f.get("decision").map(String::as_str) != Some("allow") || sim.oauth_faults.get().deny_consent
    {
        requests.remove(&token);
        drop(requests);
        return consent::redirect(&callback, &[("denied", &token)]);
    }
    let account = f
        .get("account")
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(0);
    if account >= sim.accounts.len() {
        return consent::error_page(400, "No such account.");
    }
    let verifier = consent::token("XVERIFIER");
    grant.authorized = Some((verifier.clone(), account, Instant::now()));
    drop(requests);
    consent::redirect(
        &callback,
        &[("oauth_token", &token), ("oauth_verifier", &verifier)],
    )
}

/// `POST /oauth/access_token` (signed with the request token, `oauth_verifier`) — the third
/// leg: the account's user token.
async fn access_token(sim: web::Data<XSim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(h) = sim.signed_flow(&req, &body, |token| {
        sim.requests().get(token?).map(|g| g.secret.clone())
    }) else {
        return oauth_refused("Could not authenticate you.");
    };
    let token = h.get("oauth_token").unwrap_or_default().to_owned();
    let q: HashMap<String, String> = query_pairs(&req).unwrap_or_default().into_iter().collect();
    let verifier = h
        .get("oauth_verifier")
        .map(str::to_owned)
        .or_else(|| q.get("oauth_verifier").cloned())
        .unwrap_or_default();
    let grant = sim.requests().remove(&token);
    let Some(RequestGrant {
        authorized: Some((expected, account, when)),
        ..
    }) = grant
    else {
        return oauth_refused("Invalid request token.");
    };
    if expected != verifier {
        return oauth_refused(
            "Error processing your OAuth request: invalid oauth_verifier parameter",
        );
    }
    if sim.oauth_faults.get().expired_code || when.elapsed() > CODE_TTL {
        return oauth_refused("This feature is temporarily unavailable (expired request token)");
    }
    let a = &sim.accounts[account];
    HttpResponse::Ok()
        .content_type("application/x-www-form-urlencoded")
        .body(format!(
            "oauth_token={}&oauth_token_secret={}&user_id={}&screen_name={}",
            oauth::percent_encode(&a.access_token),
            oauth::percent_encode(&a.access_token_secret),
            a.user_id,
            oauth::percent_encode(&a.username)
        ))
}

async fn get_oauth_faults(sim: web::Data<XSim>) -> HttpResponse {
    consent::get_faults(&sim.oauth_faults).await
}

async fn set_oauth_faults(sim: web::Data<XSim>, body: web::Bytes) -> HttpResponse {
    consent::set_faults(&sim.oauth_faults, &body)
}

/// The X routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/request_token", web::post().to(request_token))
        .route("/oauth/authorize", web::get().to(authorize_page))
        .route("/oauth/authorize", web::post().to(authorize_decision))
        .route("/oauth/access_token", web::post().to(access_token))
        .route("/__sandbox/oauth_faults", web::get().to(get_oauth_faults))
        .route("/__sandbox/oauth_faults", web::put().to(set_oauth_faults));
    cfg.route("/2/tweets", web::post().to(post_tweet))
        .route("/2/media/upload", web::post().to(upload_media))
        .route("/2/users/me", web::get().to(users_me))
        .service(
            web::resource("/2/tweets/{id}")
                .route(web::get().to(get_tweet))
                .route(web::delete().to(delete_tweet)),
        )
        .route("/1.1/statuses/destroy/{file}", web::post().to(destroy_v1))
        .default_service(web::to(unknown_path));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_xs_pattern() {
        assert_eq!(parse_id("1445880548472328192"), Some(1445880548472328192));
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("12345678901234567890"), None);
        assert_eq!(parse_id("12a"), None);
        assert_eq!(parse_id("-1"), None);
    }

    #[test]
    fn weighted_length() {
        assert_eq!(weighted_len("hello"), 5);
        assert_eq!(weighted_len("日本"), 4);
        assert_eq!(weighted_len(&"a".repeat(280)), 280);
        assert_eq!(weighted_len(&"日".repeat(141)), 282);
    }
}
