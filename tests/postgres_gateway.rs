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
