//! The linking page (`GET /link?jwt=…`), its Connect/Disconnect forms and the networks'
//! OAuth callbacks. Server-rendered HTML (maud templates compiled into the binary): no
//! script, no CDN asset, usable without JavaScript. Every refusal is a page of its own with a
//! 4xx status; the token rides in the URL, so no page sends a `Referer`.

use super::AppState;
use crate::domain::Platform;
use crate::service::linking::{LinkClaims, LinkError, LinkRow, LinkState};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup, DOCTYPE};
use std::collections::HashMap;

/// Registers the linking routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/link", web::get().to(page))
        .route("/link/connect", web::post().to(connect))
        .route("/link/disconnect", web::post().to(disconnect))
        .route("/link/callback/threads", web::get().to(threads_callback))
        .route("/link/callback/x", web::get().to(x_callback));
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}table{width:100%;border-collapse:collapse}td{padding:.6rem .3rem;border-bottom:1px solid #ddd}\
.state{color:#555}.warn{color:#a35a00}.bad{color:#b00020}.ok{color:#1b6e20}\
button{padding:.35rem .9rem;font-size:1rem;cursor:pointer}form{margin:0}\
.notice{padding:.6rem;border-radius:4px;background:#eef6ee}.notice.bad{background:#fdecee}\
a.done{display:inline-block;margin-top:1.5rem;font-size:1.1rem}";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · postgate" }
                style { (STYLE) }
            }
            body { (body) }
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(markup.into_string())
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

/// The page of a refusal: a status, a heading and what to do.
fn error_page(e: &LinkError) -> HttpResponse {
    let (status, heading, advice) = match e {
        LinkError::Expired => (
            StatusCode::GONE,
            "This linking link has expired",
            "Linking links are short-lived. Go back to the application that sent you here and open a new one.",
        ),
        LinkError::Invalid => (
            StatusCode::BAD_REQUEST,
            "This linking link is not valid",
            "The link was altered or cut short. Go back to the application that sent you here and open a new one.",
        ),
        LinkError::ProfileGone => (
            StatusCode::NOT_FOUND,
            "This profile no longer exists",
            "The profile this link was made for has been deleted.",
        ),
        LinkError::Csrf => (
            StatusCode::FORBIDDEN,
            "This form does not belong to your linking session",
            "Reload the linking page and try again.",
        ),
        LinkError::UnknownState => (
            StatusCode::BAD_REQUEST,
            "This authorization is unknown or was already used",
            "Each authorization can be completed once, within 10 minutes. Go back to the linking page and connect again.",
        ),
        LinkError::NotAvailable(_) => (
            StatusCode::BAD_REQUEST,
            "This network cannot be linked here",
            "It is not offered on this linking page, or the operator has not configured it.",
        ),
        LinkError::Network { .. } => (
            StatusCode::BAD_GATEWAY,
            "The network could not start the authorization",
            "Try again in a moment. If it keeps failing, the operator's app settings may be wrong.",
        ),
        LinkError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The gateway could not save your progress",
            "Try again in a moment.",
        ),
    };
    if let LinkError::Store(err) = e {
        tracing::error!(error = %err, "linking page: store failed");
    } else {
        tracing::info!(reason = %e, "linking page refused a request");
    }
    html_response(
        status,
        layout(
            heading,
            html! {
                h1 class="bad" { (heading) }
                p { (advice) }
                @if let LinkError::NotAvailable(name) = e { p class="state" { "Network: " (name) } }
            },
        ),
    )
}

fn state_text(row: &LinkRow) -> Markup {
    match &row.state {
        LinkState::NotConfigured => {
            html! { span class="state" { "not configured by the operator" } }
        }
        LinkState::NotLinked => html! { span class="state" { "not linked" } },
        LinkState::Linked {
            username,
            expires_at,
            expiring,
            needs_relink,
            cannot_delete,
        } => html! {
            span class="ok" {
                "linked"
                @if let Some(u) = username { " as @" (u) }
            }
            @if *needs_relink {
                br; span class="bad" { "needs re-link: the token can no longer be used — connect again" }
            } @else if *expiring {
                br; span class="warn" {
                    "token expiring"
                    @if let Some(t) = expires_at { " on " (t.format("%Y-%m-%d")) }
                }
            }
            @if *cannot_delete {
                br; span class="warn" { "delete permission not granted: deletes will fail — connect again and allow it" }
            }
        },
    }
}

fn page_markup(
    title: Option<&str>,
    claims: &LinkClaims,
    session: &str,
    csrf: &str,
    rows: &[LinkRow],
    notice: Option<(bool, String)>,
) -> Markup {
    layout(
        "Link your accounts",
        html! {
            @if let Some(title) = title {
                h1 { "Link social accounts to " (title) }
            } @else {
                h1 { "Link your social accounts" }
            }
            @if let Some((ok, text)) = notice {
                p class=(if ok { "notice" } else { "notice bad" }) { (text) }
            }
            table {
                @for row in rows {
                    tr {
                        td { strong { (row.platform.display_name()) } }
                        td { (state_text(row)) }
                        td {
                            @match &row.state {
                                LinkState::NotConfigured => {}
                                LinkState::NotLinked => {
                                    form method="post" action="/link/connect" {
                                        input type="hidden" name="jwt" value=(session);
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="platform" value=(row.platform.as_str());
                                        button type="submit" { "Connect" }
                                    }
                                }
                                LinkState::Linked { needs_relink, cannot_delete, .. } => {
                                    @if *needs_relink || *cannot_delete {
                                        form method="post" action="/link/connect" {
                                            input type="hidden" name="jwt" value=(session);
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="platform" value=(row.platform.as_str());
                                            button type="submit" { "Connect again" }
                                        }
                                    }
                                    form method="post" action="/link/disconnect" {
                                        input type="hidden" name="jwt" value=(session);
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="platform" value=(row.platform.as_str());
                                        button type="submit" { "Disconnect" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(r) = &claims.redirect {
                a class="done" href=(r) { "Done" }
            }
        },
    )
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    form_pairs(req.query_string().as_bytes())
}

/// `application/x-www-form-urlencoded` pairs; the first of a repeated name wins.
fn form_pairs(bytes: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let text = String::from_utf8_lossy(bytes);
    if let Ok(u) = reqwest::Url::parse(&format!("http://form.invalid/?{}", text.trim())) {
        for (k, v) in u.query_pairs() {
            out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    out
}

/// The linking page's forms, for the API description (the handlers read them by hand).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct LinkForm {
    /// The linking token.
    jwt: String,
    /// The form's CSRF token.
    csrf: String,
    /// The platform to connect or disconnect.
    platform: String,
}

/// `GET /link?jwt=…` (after a callback also `linked=` or `failed=` + `reason=`).
#[utoipa::path(
    get,
    path = "/link",
    tag = "linking",
    description = "The linking page of one profile (HTML, no JavaScript).",
    params(("jwt" = String, Query, description = "The linking token from generateJWT")),
    responses(
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "Not a valid linking link or request", content_type = "text/html"),
        (status = 403, description = "The form does not belong to this linking session", content_type = "text/html"),
        (status = 404, description = "The link's profile no longer exists", content_type = "text/html"),
        (status = 410, description = "The linking link has expired", content_type = "text/html"),
        (status = 500, description = "The store failed", content_type = "text/html"),
        (status = 502, description = "A network refused or failed a step", content_type = "text/html"),
        (status = 503, description = "The network is not available for linking", content_type = "text/html"),
    )
)]
async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let now = Utc::now();
    let token = q.get("jwt").map(String::as_str).unwrap_or_default();
    let (claims, profile, session) = match state.linking.open(token, now).await {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let rows = match state.linking.rows(&claims, now).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let name = |p: &str| Platform::from(p).display_name().to_owned();
    let notice = if let Some(p) = q.get("linked") {
        Some((true, format!("{} is linked.", name(p))))
    } else if let Some(p) = q.get("unlinked") {
        Some((true, format!("{} is disconnected.", name(p))))
    } else {
        q.get("failed").map(|p| {
            let reason: String = q
                .get("reason")
                .map(|r| r.chars().take(200).collect())
                .unwrap_or_else(|| "it did not complete".into());
            (false, format!("{} was not linked: {reason}.", name(p)))
        })
    };
    let csrf = state.linking.csrf(&claims);
    // Ayrshare's `hideTitle` and `displayTitle` (PATCH /api/profiles).
    let title =
        (!profile.hide_title).then(|| profile.display_title.as_deref().unwrap_or(&profile.title));
    html_response(
        StatusCode::OK,
        page_markup(title, &claims, &session, &csrf, &rows, notice),
    )
}

/// The session and platform of a Connect/Disconnect form, its CSRF token checked.
async fn form_session(
    state: &AppState,
    body: &[u8],
) -> Result<(LinkClaims, String, Platform), LinkError> {
    let form = form_pairs(body);
    let session = form.get("jwt").cloned().unwrap_or_default();
    let (claims, _, session) = state.linking.open(&session, Utc::now()).await?;
    state.linking.check_csrf(
        &claims,
        form.get("csrf").map(String::as_str).unwrap_or_default(),
    )?;
    let platform = Platform::from(form.get("platform").map(String::as_str).unwrap_or_default());
    Ok((claims, session, platform))
}

/// `POST /link/connect`: to the network's consent page.
#[utoipa::path(
    post,
    path = "/link/connect",
    tag = "linking",
    description = "The page's Connect form: on to the network's consent page.",
    request_body(content = LinkForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "On to the next page (the network's consent page, or back to the linking page)"),
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "Not a valid linking link or request", content_type = "text/html"),
        (status = 403, description = "The form does not belong to this linking session", content_type = "text/html"),
        (status = 404, description = "The link's profile no longer exists", content_type = "text/html"),
        (status = 410, description = "The linking link has expired", content_type = "text/html"),
        (status = 500, description = "The store failed", content_type = "text/html"),
        (status = 502, description = "A network refused or failed a step", content_type = "text/html"),
        (status = 503, description = "The network is not available for linking", content_type = "text/html"),
    )
)]
async fn connect(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (claims, _, platform) = form_session(&state, &body).await?;
        state.linking.connect(&claims, &platform, Utc::now()).await
    }
    .await;
    match result {
        Ok(url) => see_other(&url),
        Err(e) => error_page(&e),
    }
}

/// `POST /link/disconnect`: unlinks (linked or not), back to the page.
#[utoipa::path(
    post,
    path = "/link/disconnect",
    tag = "linking",
    description = "The page's Disconnect form: unlinks, back to the page.",
    request_body(content = LinkForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "On to the next page (the network's consent page, or back to the linking page)"),
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "Not a valid linking link or request", content_type = "text/html"),
        (status = 403, description = "The form does not belong to this linking session", content_type = "text/html"),
        (status = 404, description = "The link's profile no longer exists", content_type = "text/html"),
        (status = 410, description = "The linking link has expired", content_type = "text/html"),
        (status = 500, description = "The store failed", content_type = "text/html"),
        (status = 502, description = "A network refused or failed a step", content_type = "text/html"),
        (status = 503, description = "The network is not available for linking", content_type = "text/html"),
    )
)]
async fn disconnect(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let result = async {
        let (claims, session, platform) = form_session(&state, &body).await?;
        state.linking.disconnect(&claims, &platform).await?;
        Ok::<_, LinkError>((session, platform))
    }
    .await;
    match result {
        Ok((session, platform)) => see_other(&format!(
            "/link?jwt={session}&unlinked={}",
            platform.as_str()
        )),
        Err(e) => error_page(&e),
    }
}

fn back_to_page(outcome: crate::service::linking::CallbackOutcome) -> HttpResponse {
    let mut url = reqwest::Url::parse("http://page.invalid/link").expect("a constant URL parses");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("jwt", &outcome.session);
        match &outcome.failure {
            None => q.append_pair("linked", outcome.platform.as_str()),
            Some(reason) => q
                .append_pair("failed", outcome.platform.as_str())
                .append_pair("reason", reason),
        };
    }
    see_other(&format!("/link?{}", url.query().unwrap_or_default()))
}

/// `GET /link/callback/threads?code=…&state=…` (or `error=…`).
#[utoipa::path(
    get,
    path = "/link/callback/threads",
    tag = "linking",
    description = "Threads' OAuth 2.0 redirect back to the gateway.",
    params(
        ("state" = Option<String>, Query, description = "The OAuth state"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("error" = Option<String>, Query, description = "Why the user or Threads refused"),
    ),
    responses(
        (status = 303, description = "On to the next page (the network's consent page, or back to the linking page)"),
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "Not a valid linking link or request", content_type = "text/html"),
        (status = 403, description = "The form does not belong to this linking session", content_type = "text/html"),
        (status = 404, description = "The link's profile no longer exists", content_type = "text/html"),
        (status = 410, description = "The linking link has expired", content_type = "text/html"),
        (status = 500, description = "The store failed", content_type = "text/html"),
        (status = 502, description = "A network refused or failed a step", content_type = "text/html"),
        (status = 503, description = "The network is not available for linking", content_type = "text/html"),
    )
)]
async fn threads_callback(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str);
    match state
        .linking
        .threads_callback(
            get("state").unwrap_or_default(),
            get("code"),
            get("error"),
            Utc::now(),
        )
        .await
    {
        Ok(outcome) => back_to_page(outcome),
        Err(e) => error_page(&e),
    }
}

/// `GET /link/callback/x?oauth_token=…&oauth_verifier=…` (or `denied=…`).
#[utoipa::path(
    get,
    path = "/link/callback/x",
    tag = "linking",
    description = "X's OAuth 1.0a redirect back to the gateway.",
    params(
        ("oauth_token" = Option<String>, Query, description = "The request token"),
        ("oauth_verifier" = Option<String>, Query, description = "The verifier"),
        ("denied" = Option<String>, Query, description = "Set when the user refused"),
    ),
    responses(
        (status = 303, description = "On to the next page (the network's consent page, or back to the linking page)"),
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "Not a valid linking link or request", content_type = "text/html"),
        (status = 403, description = "The form does not belong to this linking session", content_type = "text/html"),
        (status = 404, description = "The link's profile no longer exists", content_type = "text/html"),
        (status = 410, description = "The linking link has expired", content_type = "text/html"),
        (status = 500, description = "The store failed", content_type = "text/html"),
        (status = 502, description = "A network refused or failed a step", content_type = "text/html"),
        (status = 503, description = "The network is not available for linking", content_type = "text/html"),
    )
)]
async fn x_callback(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let get = |k: &str| q.get(k).map(String::as_str);
    match state
        .linking
        .x_callback(
            get("oauth_token"),
            get("oauth_verifier"),
            get("denied"),
            Utc::now(),
        )
        .await
    {
        Ok(outcome) => back_to_page(outcome),
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent_and_keep_the_first_value() {
        let f = form_pairs(b"jwt=a.b.c&platform=threads&platform=twitter&reason=no+way%21");
        assert_eq!(f["jwt"], "a.b.c");
        assert_eq!(f["platform"], "threads");
        assert_eq!(f["reason"], "no way!");
        assert!(form_pairs(b"").is_empty());
    }

    #[test]
    fn markup_escapes_what_it_shows() {
        let m = layout("<t>", html! { p { ("<script>") } }).into_string();
        assert!(!m.contains("<script>"), "{m}");
        assert!(m.contains("&lt;script&gt;"));
    }
}
