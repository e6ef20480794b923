//! The consent screens of the simulated networks' OAuth flows, shared by Threads and X: a
//! plain HTML form (no script) with an account picker, "Allow" and "Deny", and the OAuth
//! fault switches (denied consent, expired codes, failing refreshes).

use crate::oauth::percent_encode;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Faults of the OAuth endpoints, switched at run time (`PUT /__sandbox/oauth_faults`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthFaults {
    /// "Allow" acts as "Deny": the user refused.
    pub deny_consent: bool,
    /// Every authorization code (Threads) or verifier (X) is refused as expired.
    pub expired_code: bool,
    /// Token refreshes (Threads `th_refresh_token`) fail as for a revoked token.
    pub refresh_fails: bool,
}

/// The current [`OAuthFaults`] of one simulated server.
#[derive(Default)]
pub(crate) struct OAuthSwitch(Mutex<OAuthFaults>);

impl OAuthSwitch {
    pub(crate) fn get(&self) -> OAuthFaults {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set(&self, f: OAuthFaults) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = f;
    }
}

/// How long an authorization code or an authorized request token stays usable.
pub(crate) const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// HTML-escapes text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A consent page: `network` asks whether `app` may act for one of `accounts`
/// ((form value, label) pairs) with `scopes`; the form posts `hidden` fields, `account` and
/// `decision` (`allow` / `deny`) to `action`.
pub(crate) fn page(
    network: &str,
    app: &str,
    scopes: &[String],
    accounts: &[(String, String)],
    action: &str,
    hidden: &[(&str, &str)],
) -> HttpResponse {
    let scopes: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    let options: String = accounts
        .iter()
        .map(|(v, l)| format!("<option value=\"{}\">{}</option>", escape(v), escape(l)))
        .collect();
    let hidden: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{network} (sandbox): authorize {app}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}button{{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}}</style></head>\
<body><h1>{network} (sandbox)</h1><p><strong>{app}</strong> asks to act for your account:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"{action}\">{hidden}<p><label>Account <select name=\"account\">{options}</select></label></p>\
<button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form></body></html>",
        network = escape(network),
        app = escape(app),
        action = escape(action),
    );
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A plain error page of a consent screen.
pub(crate) fn error_page(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
    .body(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>Error</h1><p>{}</p></body></html>",
        escape(message)
    ))
}

/// Sends the browser to `base` with `pairs` added to its query (OAuth redirects are 302).
pub(crate) fn redirect(base: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    if !(base.starts_with("http://") || base.starts_with("https://")) || base.contains('#') {
        return error_page(400, "the redirect URI is not an http(s) URL");
    }
    let mut url = base.to_owned();
    for (i, (k, v)) in pairs.iter().enumerate() {
        let sep = if i == 0 && !base.contains('?') {
            '?'
        } else {
            '&'
        };
        url.push(sep);
        url.push_str(&percent_encode(k));
        url.push('=');
        url.push_str(&percent_encode(v));
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .finish()
}

/// A fresh random token with a readable prefix.
pub(crate) fn token(prefix: &str) -> String {
    use rand::Rng;
    let s: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("{prefix}{s}")
}

/// The form pairs of a urlencoded body (the first value of a name wins).
pub(crate) fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let text = String::from_utf8_lossy(body);
    if let Ok(pairs) = web::Query::<Vec<(String, String)>>::from_query(&text) {
        for (k, v) in pairs.into_inner() {
            out.entry(k).or_insert(v);
        }
    }
    out
}

/// `GET /__sandbox/oauth_faults`.
pub(crate) async fn get_faults(switch: &OAuthSwitch) -> HttpResponse {
    HttpResponse::Ok().json(switch.get())
}

/// `PUT /__sandbox/oauth_faults` with an [`OAuthFaults`] body.
pub(crate) fn set_faults(switch: &OAuthSwitch, body: &web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<OAuthFaults>(body) {
        Ok(f) => {
            switch.set(f);
            HttpResponse::Ok().json(f)
        }
        Err(e) => HttpResponse::BadRequest().json(serde_json::json!({"error": e.to_string()})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn forms_decode() {
        let f = form(b"a=1+2&b=%26&a=3");
        assert_eq!(f["a"], "1 2");
        assert_eq!(f["b"], "&");
    }
}
