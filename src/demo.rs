//! `postgate demo`: the newcomer's round trip in one command. It starts the sandbox and a
//! gateway on a temporary store (both on free loopback ports), links the sandbox Threads and X
//! accounts through the linking page and the networks' consent screens (OAuth, as a user
//! would) and the Bluesky account with its app password, publishes a post to Threads, X and
//! Bluesky, deletes it, deletes it again, and prints every request
//! and answer.

use crate::configuration::{Settings, SettingsError};
use crate::startup::Application;
use postgate_sandbox::{self as sandbox, SandboxAddrs, SandboxOptions};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

/// Settings for a gateway in front of the sandbox at `sb`: the built-in defaults, every network
/// pointed at the sandbox (with its X app's consumer credentials), the store at `store`, one
/// API key and port 0. The demo, the tests and the benchmark build on it rather than
/// repeating the list, so a network added to the sandbox is wired here once.
pub fn sandbox_settings(
    sb: &SandboxAddrs,
    store: &Path,
    api_key: &str,
) -> Result<Settings, SettingsError> {
    let mut s = Settings::load_with_env(None, sb.gateway_env())?;
    s.server.port = 0;
    s.store.path = store.to_path_buf();
    s.auth.api_keys = vec![api_key.to_owned()];
    Ok(s)
}

/// The `<input type="hidden">` fields of an HTML page, in order, unescaped. Enough for the
/// gateway's linking page and the sandbox's consent screens (no JavaScript on either).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let Some(end) = rest.find('"') else { break };
        let name = unescape(&rest[..end]);
        rest = &rest[end..];
        let Some(v) = rest.find("value=\"") else {
            break;
        };
        rest = &rest[v + 7..];
        let Some(end) = rest.find('"') else { break };
        out.push((name, unescape(&rest[..end])));
        rest = &rest[end..];
    }
    out
}

/// Links `platform` to the primary profile of `api_key` the way a person would: generateJWT,
/// open the linking page, press Connect, press Allow (or Deny) on the network's consent
/// screen, follow the redirects back. Returns the linking page shown at the end.
pub async fn link_via_consent(
    gateway: &str,
    api_key: &str,
    platform: &str,
    allow: bool,
) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let err = |e: reqwest::Error| e.without_url().to_string();
    let location = |r: &reqwest::Response| -> Result<String, String> {
        r.headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("HTTP {} without a redirect", r.status()))
    };
    let jwt: Value = client
        .post(format!("{gateway}/api/profiles/generateJWT"))
        .bearer_auth(api_key)
        .json(&json!({"domain": "postgate-demo"}))
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    let url = jwt["url"].as_str().ok_or("generateJWT gave no url")?;
    let page = client
        .get(url)
        .send()
        .await
        .map_err(err)?
        .text()
        .await
        .map_err(err)?;
    let mut form: Vec<(String, String)> = hidden_fields(&page)
        .into_iter()
        .filter(|(k, _)| k == "jwt" || k == "csrf")
        .take(2)
        .collect();
    form.push(("platform".into(), platform.into()));
    let r = client
        .post(format!("{gateway}/link/connect"))
        .form(&form)
        .send()
        .await
        .map_err(err)?;
    let consent_url = location(&r)?;
    let consent = client.get(&consent_url).send().await.map_err(err)?;
    if !consent.status().is_success() {
        return Err(format!(
            "the consent screen answered HTTP {}",
            consent.status()
        ));
    }
    let consent = consent.text().await.map_err(err)?;
    let mut decision = hidden_fields(&consent);
    decision.push(("account".into(), "0".into()));
    decision.push((
        "decision".into(),
        if allow { "allow" } else { "deny" }.into(),
    ));
    let origin = reqwest::Url::parse(&consent_url)
        .map_err(|e| e.to_string())?
        .origin()
        .ascii_serialization();
    let r = client
        .post(format!("{origin}/oauth/authorize"))
        .form(&decision)
        .send()
        .await
        .map_err(err)?;
    let callback = location(&r)?;
    let r = client.get(&callback).send().await.map_err(err)?;
    let back = location(&r)?;
    client
        .get(format!("{gateway}{back}"))
        .send()
        .await
        .map_err(err)?
        .text()
        .await
        .map_err(err)
}

async fn step(
    client: &reqwest::Client,
    n: usize,
    title: &str,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    println!("\n{n}. {title}");
    println!("   {method} {url}");
    let mut req = client.request(method, url).bearer_auth(key);
    if let Some(b) = &body {
        println!("   {b}");
        req = req.json(b);
    }
    let r = req.send().await.map_err(|e| e.without_url().to_string())?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    println!(
        "   → HTTP {status}\n   {}",
        serde_json::to_string_pretty(&v)
            .unwrap_or_default()
            .replace('\n', "\n   ")
    );
    Ok(v)
}

/// Runs the demo; non-zero if a step did not answer as expected.
pub async fn run() -> ExitCode {
    match demo().await {
        Ok(()) => {
            println!("\nDone: published to all three networks and deleted from all three. Next: `postgate sandbox` and `postgate serve` (README, \"A round trip without real accounts\").");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postgate demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), String> {
    let sb = sandbox::start(SandboxOptions::ephemeral())
        .await
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("postgate-demo-{}", std::process::id()));
    let key = crate::keys::generate_key(6);
    let s = sandbox_settings(&sb.addrs(), &dir.join("db"), &key).map_err(|e| e.to_string())?;
    let app = Application::build(s).await.map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    println!(
        "postgate demo: sandbox Threads at {}, X at {}, Bluesky at {}; gateway at {base} (temporary store {})",
        sb.threads_url,
        sb.x_url,
        sb.bluesky_url,
        dir.display()
    );

    let client = reqwest::Client::new();
    let t = &sb.accounts.threads[0];
    let x = &sb.accounts.x[0];
    let b = &sb.accounts.bluesky[0];
    let post = reqwest::Method::POST;
    let delete = reqwest::Method::DELETE;
    let result = async {
        for (n, platform, name, handle) in [(1, "threads", "Threads", &t.username), (2, "twitter", "X", &x.username)] {
            println!("\n{n}. Link the sandbox {name} account (@{handle}) as a user would: generateJWT, open the linking page, Connect, Allow on the {name} consent screen");
            let page = link_via_consent(&base, &key, platform, true).await?;
            if !page.contains("is linked.") {
                return Err(format!("linking {name} through its consent screen did not succeed"));
            }
            println!("   → the linking page says: {name} is linked.");
        }
        let social = format!("{base}/api/profiles/social");
        step(&client, 3, "Link the sandbox Bluesky account (handle + app password)", post.clone(), &social, &key,
            Some(json!({"platform": "bluesky", "handle": b.handle, "appPassword": b.app_password}))).await?;
        let published = step(&client, 4, "Publish to all three, with one of the gateway's built-in images", post, &format!("{base}/api/post"), &key,
            Some(json!({"post": "Hello from postgate", "platforms": ["threads", "twitter", "bluesky"], "randomMediaUrl": true}))).await?;
        let id = published["id"].as_str().ok_or("publishing gave no id")?.to_owned();
        if published["status"] != "success" {
            return Err("publishing did not succeed".to_string());
        }
        let deleted = step(&client, 5, "Delete it everywhere", delete.clone(), &format!("{base}/api/post"), &key, Some(json!({"id": id}))).await?;
        if deleted["status"] != "success" {
            return Err("the delete did not succeed".to_string());
        }
        let again = step(&client, 6, "Delete it again", delete, &format!("{base}/api/post"), &key, Some(json!({"id": id}))).await?;
        if again["code"] != 383 {
            return Err("the second delete did not answer 383".to_string());
        }
        let (ts, xs, bs) = (sb.threads_stats(), sb.x_stats(), sb.bluesky_stats());
        println!("\nThe sandbox saw: Threads {} published / {} deleted; X {} published / {} deleted; Bluesky {} published / {} deleted; images received: Threads {}, X {}, Bluesky {}.", ts.published, ts.deleted, xs.published, xs.deleted, bs.published, bs.deleted, ts.media, xs.media, bs.media);
        Ok(())
    }
    .await;
    shutdown.cancel();
    let _ = server.await;
    sb.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
