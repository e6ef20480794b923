//! Whole gateways on the PostgreSQL store (`POSTGATE_TEST_PG_URL`, started by
//! `scripts/test.sh`): the app builds on it, and two gateways on one database see one truth.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use postgate::configuration::StoreBackend;
use serde_json::json;
use sqlx::Connection;

/// A URL of a new, empty database on the test server; `None` (after a notice) outside CI.
async fn fresh_database_url() -> Option<String> {
    let url = match std::env::var("POSTGATE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!(
            "POSTGATE_TEST_PG_URL is not set but CI is: the PostgreSQL tests must run \
             (scripts/test.sh starts a throwaway PostgreSQL and sets it)"
        ),
        _ => {
            eprintln!("notice: POSTGATE_TEST_PG_URL is not set; PostgreSQL tests skipped");
            return None;
        }
    };
    let name = format!(
        "postgate_gw_{}",
        postgate::domain::PostId::generate().as_str().to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let mut u = reqwest::Url::parse(&url).expect("POSTGATE_TEST_PG_URL parses");
    u.set_path(&name);
    Some(u.to_string())
}

#[tokio::test]
async fn two_gateways_on_one_database_see_one_truth() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let on_postgres = |s: &mut postgate::configuration::Settings| {
        s.store.backend = StoreBackend::Postgres;
        s.store.url = url.clone();
    };
    let a = spawn_app_with(on_postgres).await;
    let b = spawn_app_with(on_postgres).await;

    a.link_both(None).await;
    let id = a.published_post("18011", "1445880548472328192", None).await;
    let (status, seen) = b.get_post(&id, None).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], id.as_str(), "{seen}");

    threads_delete_ok(&a.threads, "18011", 1).await;
    x_delete_ok(&a.x, "1445880548472328192", 1).await;
    let r = a.delete_post(json!({ "id": id })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The second gateway knows it is gone and calls no network.
    let again: serde_json::Value = b
        .delete_post(json!({ "id": id }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["code"], 383, "{again}");
    assert!(b.threads.received_requests().await.unwrap().is_empty());
    assert!(b.x.received_requests().await.unwrap().is_empty());
    assert_eq!(a.threads.received_requests().await.unwrap().len(), 1);
    assert_eq!(a.x.received_requests().await.unwrap().len(), 1);

    // A profile created through one gateway answers through the other.
    let (_, profile_key) = a.create_profile("Shared").await;
    let r = b
        .request(reqwest::Method::GET, "/api/history", Some(&profile_key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    a.stop().await;
    b.stop().await;
}

fn on_postgres(url: &str) -> impl FnOnce(&mut postgate::configuration::Settings) + '_ {
    move |s| {
        s.store.backend = StoreBackend::Postgres;
        s.store.url = url.to_owned();
    }
}

/// Webhook registrations of one profile changed through two gateways at the same moment:
/// each change is a compare-and-swap in the store, so none overwrites the other's.
#[tokio::test]
async fn two_gateways_changing_webhooks_at_once_lose_no_change() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    let a = spawn_app_with(on_postgres(&url)).await;
    let b = spawn_app_with(on_postgres(&url)).await;
    let hook = |app: &TestApp, method: reqwest::Method, body: serde_json::Value| {
        app.request(method, "/api/hook/webhook", None)
            .json(&body)
            .send()
    };
    let actions = postgate::service::webhooks::ACTIONS;
    for round in 0..4 {
        // Every action at once, alternately through either gateway.
        let sent = actions.iter().enumerate().map(|(i, action)| {
            let app = if i % 2 == 0 { &a } else { &b };
            hook(
                app,
                reqwest::Method::POST,
                json!({"action": action, "url": format!("https://hooks.example/{round}/{action}")}),
            )
        });
        for r in futures::future::join_all(sent).await {
            assert_eq!(r.unwrap().status(), 200);
        }
        for app in [&a, &b] {
            let list: serde_json::Value = app.get_json("/api/hook/webhook").await;
            let urls: Vec<&str> = list["webhooks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["url"].as_str().unwrap())
                .collect();
            assert_eq!(urls.len(), actions.len(), "round {round}: {list}");
            assert!(
                urls.iter()
                    .all(|u| u.starts_with(&format!("https://hooks.example/{round}/"))),
                "round {round}: {list}"
            );
        }
    }
    // Removing through one gateway while the other adds: both land.
    let (removed, added) = futures::join!(
        hook(&a, reqwest::Method::DELETE, json!({"action": "feed"})),
        hook(
            &b,
            reqwest::Method::POST,
            json!({"action": "social", "url": "https://hooks.example/last"})
        ),
    );
    assert_eq!(removed.unwrap().status(), 200);
    assert_eq!(added.unwrap().status(), 200);
    let list: serde_json::Value = a.get_json("/api/hook/webhook").await;
    let webhooks = list["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), actions.len() - 1, "{list}");
    assert!(webhooks.iter().all(|w| w["action"] != "feed"), "{list}");
    assert!(
        webhooks
            .iter()
            .any(|w| w["action"] == "social" && w["url"] == "https://hooks.example/last"),
        "{list}"
    );
    a.stop().await;
    b.stop().await;
}

/// The restart-mid-drain race on PostgreSQL: the restart lands while the queue worker's
/// deletes wait on Threads (answers take 300 ms) over connections the bulk request opened.
/// Every post is deleted once at the network, none twice.
#[tokio::test]
async fn a_restart_while_queued_deletes_wait_on_the_network_sends_none_twice() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    let Some(url) = fresh_database_url().await else {
        return;
    };
    const POSTS: usize = 25;
    const LIMIT: usize = 10;
    let app = spawn_app_with(|s| {
        on_postgres(&url)(s);
        s.threads.delete_limit = LIMIT as u32;
        s.threads.delete_window_secs = 2;
        s.delete.queue_tick_ms = 100;
        s.delete.queue_lease_secs = 2;
    })
    .await;
    app.link_both(None).await;
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v1\.0/9\d+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true}))
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .mount(&app.threads)
        .await;
    let posts: Vec<serde_json::Value> = (0..POSTS)
        .map(|i| json!({"post": format!("p{i}"), "postIds": [{"platform": "threads", "id": format!("{}", 900000 + i)}]}))
        .collect();
    let (status, r) = app.import(json!(posts), None).await;
    assert_eq!(status, 200, "{r}");
    let ids: Vec<String> = r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let r = app.delete_post(json!({"bulk": ids, "queue": true})).await;
    assert_eq!(r.status(), 202);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while deletes(&app).await.len() <= LIMIT {
        assert!(std::time::Instant::now() < deadline, "the second window");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let app = app.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    while deletes(&app).await.len() < POSTS {
        assert!(std::time::Instant::now() < deadline, "every delete");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for p in deletes(&app).await {
        *counts.entry(p).or_default() += 1;
    }
    assert_eq!(counts.len(), POSTS, "{counts:?}");
    assert!(
        counts.values().all(|c| *c == 1),
        "deleted twice: {counts:?}"
    );
    for id in &ids {
        let (_, post) = app.get_post(id, None).await;
        assert_eq!(post["postIds"][0]["state"], "deleted", "{post}");
    }
    app.stop().await;
}

/// The paths of the Threads deletes a gateway's mock received.
async fn deletes(app: &TestApp) -> Vec<String> {
    app.threads
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_owned())
        .collect()
}
