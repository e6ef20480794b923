//! The gateway API calls the scenarios make, and the direct network deletes they compare with.

use crate::*;
use futures::StreamExt;
use postgate::networks::{sign_oauth1, ConsumerCredentials};
use serde_json::json;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) fn auth(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header("Authorization", format!("Bearer {API_KEY}"))
}

pub(crate) async fn link_accounts(client: &reqwest::Client, gw: &Gateway) -> Res<()> {
    for body in [
        json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}),
        json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN,
               "accessTokenSecret": X_TOKEN_SECRET}),
    ] {
        let r = auth(client.post(format!("{}/api/profiles/social", gw.base)))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            return fail(format!("linking {}: {}", body["platform"], r.text().await?));
        }
    }
    Ok(())
}

/// Imports one batch of (Threads id, X id) posts; returns the gateway's post ids in order.
pub(crate) async fn import_batch(
    client: &reqwest::Client,
    base: &str,
    batch: &[(String, String)],
) -> Res<Vec<String>> {
    let posts: Vec<Value> = batch
        .iter()
        .map(|(t, x)| {
            json!({"post": "postgate bench post", "postIds": [
                {"platform": "threads", "id": t},
                {"platform": "twitter", "id": x},
            ]})
        })
        .collect();
    let r = auth(client.post(format!("{base}/api/post/import")))
        .json(&json!({ "posts": posts }))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        return fail(format!(
            "import answered {status}: {}",
            v.to_string().chars().take(400).collect::<String>()
        ));
    }
    let ids: Vec<String> = v["posts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.len() != batch.len() {
        return fail(format!(
            "import returned {} ids for {} posts",
            ids.len(),
            batch.len()
        ));
    }
    Ok(ids)
}

/// Imports posts in batches of 1,000 with a few concurrent clients; ids in order.
pub(crate) async fn import_all(
    client: &reqwest::Client,
    base: &str,
    pairs: &[(String, String)],
) -> Res<Vec<String>> {
    let batches: Vec<Res<Vec<String>>> = futures::stream::iter(pairs.chunks(1000))
        .map(|b| import_batch(client, base, b))
        .buffered(4)
        .collect()
        .await;
    let mut ids = Vec::with_capacity(pairs.len());
    for b in batches {
        ids.extend(b?);
    }
    Ok(ids)
}

/// Seeds `n` posts on both networks and imports them: the gateway's post ids.
pub(crate) async fn prepare_posts(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    gw: &Gateway,
    n: usize,
) -> Res<Vec<String>> {
    let pairs = sandbox.seed(client, n).await?;
    import_all(client, &gw.base, &pairs).await
}

/// One `DELETE /api/post {"id"}`; true if the gateway answered 200 (every platform deleted).
pub(crate) async fn delete_one(client: reqwest::Client, url: Arc<String>, id: String) -> bool {
    let r = auth(client.delete(url.as_str()))
        .json(&json!({ "id": id }))
        .send()
        .await;
    match r {
        Ok(r) => {
            let ok = r.status() == reqwest::StatusCode::OK;
            let body = r.bytes().await;
            if !ok {
                report_error(&format!(
                    "gateway delete: {}",
                    body.as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default()
                ));
            }
            ok && body.is_ok()
        }
        Err(e) => {
            report_error(&format!("gateway delete: {e}"));
            false
        }
    }
}

pub(crate) static ERRORS_SHOWN: AtomicUsize = AtomicUsize::new(0);

/// Prints the first few failures (there should be none).
pub(crate) fn report_error(msg: &str) {
    if ERRORS_SHOWN.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!(
            "bench: request failed: {}",
            msg.chars().take(500).collect::<String>()
        );
    }
}

/// The same delete done directly at the sandbox: Threads and X concurrently.
pub(crate) async fn delete_direct(
    client: reqwest::Client,
    sandbox: Arc<(String, String)>,
    ids: (String, String),
) -> bool {
    let (threads_url, x_url) = &*sandbox;
    let threads = async {
        client
            .delete(format!("{threads_url}/{}", ids.0))
            .query(&[("access_token", THREADS_TOKEN)])
            .send()
            .await
    };
    let x = async {
        let url = format!("{x_url}/2/tweets/{}", ids.1);
        let consumer = ConsumerCredentials {
            key: X_CONSUMER_KEY.to_owned(),
            secret: X_CONSUMER_SECRET.to_owned(),
        };
        let authorization = sign_oauth1("DELETE", &url, &consumer, X_TOKEN, X_TOKEN_SECRET);
        client
            .delete(&url)
            .header("Authorization", authorization)
            .send()
            .await
    };
    let (t, x) = tokio::join!(threads, x);
    let mut ok = true;
    for (name, r) in [("Threads", t), ("X", x)] {
        match r {
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await.unwrap_or_default();
                if !status.is_success() {
                    report_error(&format!(
                        "direct {name} delete {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                    ok = false;
                }
            }
            Err(e) => {
                report_error(&format!("direct {name} delete: {e}"));
                ok = false;
            }
        }
    }
    ok
}
