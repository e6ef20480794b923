//! `postgate migrate-store`: a sled store built through the API is copied into PostgreSQL by
//! the real binary (twice: the second run copies nothing), then a gateway on PostgreSQL
//! serves the same profiles and posts and deletes. Needs `POSTGATE_TEST_PG_URL` (set by
//! `scripts/test.sh`); without it this fails when `CI` is set and is skipped otherwise.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use postgate::configuration::StoreBackend;
use postgate::domain::PostId;
use postgate::store::{PostgresStore, SledStore, Store};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use std::str::FromStr;
use std::time::Duration;

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
        "postgate_mig_{}",
        PostId::generate().as_str().to_lowercase()
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

/// Runs `postgate migrate-store`; retries while the sled directory is still locked by a
/// handle this process dropped a moment ago. Exit code and stdout.
async fn migrate(from: &std::path::Path, to: &str) -> (i32, String) {
    for _ in 0..50 {
        let (from, to) = (from.to_owned(), to.to_owned());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_postgate"))
                .args(["migrate-store", "--from"])
                .arg(from)
                .args(["--to", &to])
                .output()
                .expect("the binary runs")
        })
        .await
        .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if code == 2 && stderr.contains("cannot open the sled store") {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert!(!stderr.contains("secret"), "{stderr}");
        return (code, String::from_utf8_lossy(&out.stdout).into_owned());
    }
    panic!("the sled store stayed locked");
}

/// The counts of one row of the report: (in source, copied, already there, missing).
fn row(report: &str, name: &str) -> (usize, usize, usize, usize) {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} row in {report}"));
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (n[0], n[1], n[2], n[3])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sled_store_moves_to_postgres_once_and_a_gateway_serves_it() {
    let Some(url) = fresh_database_url().await else {
        return;
    };
    // A sled gateway with a user profile, linked accounts, a deleted post, a live post and a
    // scheduled one.
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, team_key) = app.create_profile("Team").await;
    let gone = app
        .published_post("18011", "1445880548472328192", None)
        .await;
    let live = app
        .published_post("18012", "1445880548472328193", None)
        .await;
    threads_delete_ok(&app.threads, "18011", 1).await;
    x_delete_ok(&app.x, "1445880548472328192", 1).await;
    let r = app.delete_post(json!({ "id": gone })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let due = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r: serde_json::Value = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&json!({"post": "later", "platforms": ["threads"], "scheduleDate": due}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "scheduled", "{r}");
    let scheduled = r["id"].as_str().unwrap().to_owned();
    let (dir, settings) = (app.dir.clone(), app.settings.clone());
    app.stop().await;
    let path = settings.store.path.clone();
    // An idempotency key, written straight into the stopped gateway's store.
    {
        let mut tries = 0;
        let sled = loop {
            match SledStore::open(&path) {
                Ok(s) => break s,
                Err(_) if tries < 50 => tries += 1,
                Err(e) => panic!("{e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let profile = sled.all_profiles().await.unwrap()[0].id.clone();
        sled.remember_answer(&profile, "k-1", &json!({"httpStatus": 200, "body": {}}))
            .await
            .unwrap();
        sled.flush().await.unwrap();
    }

    let (code, report) = migrate(&path, &url).await;
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("verified"), "{report}");
    // Two primary profiles (the test's two API keys) and "Team".
    assert_eq!(row(&report, "profiles"), (3, 3, 0, 0), "{report}");
    assert_eq!(row(&report, "linked accounts"), (2, 2, 0, 0), "{report}");
    assert_eq!(row(&report, "posts"), (3, 3, 0, 0), "{report}");
    assert_eq!(row(&report, "idempotency keys"), (1, 1, 0, 0), "{report}");
    assert_eq!(row(&report, "quotas"), (2, 2, 0, 0), "{report}");

    // Run again (as after an interruption): everything is there, nothing is copied twice.
    let (code, again) = migrate(&path, &url).await;
    assert_eq!(code, 0, "{again}");
    for name in [
        "profiles",
        "linked accounts",
        "posts",
        "idempotency keys",
        "quotas",
        "meta",
    ] {
        let (source, copied, present, missing) = row(&again, name);
        assert_eq!(
            (copied, present, missing),
            (0, source, 0),
            "{name}: {again}"
        );
    }
    let pg = PostgresStore::connect_with(
        PgConnectOptions::from_str(&url).unwrap(),
        2,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(pg.posts_after(None, 100).await.unwrap().len(), 3);
    assert_eq!(pg.all_profiles().await.unwrap().len(), 3);

    // A gateway on PostgreSQL sees the same truth.
    let pg_app = spawn_app_with(|s| {
        s.store.backend = StoreBackend::Postgres;
        s.store.url = url.clone();
    })
    .await;
    let (status, p) = pg_app.get_post(&gone, None).await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("deleted")),
        "{p}"
    );
    let (status, p) = pg_app.get_post(&scheduled, None).await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("pending")),
        "{p}"
    );
    // The user profile's key (only its hash was stored) still works.
    let r = pg_app
        .request(reqwest::Method::GET, "/api/history", Some(&team_key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // And deleting works, with the linked accounts copied over.
    threads_delete_ok(&pg_app.threads, "18012", 1).await;
    x_delete_ok(&pg_app.x, "1445880548472328193", 1).await;
    let r = pg_app.delete_post(json!({ "id": live })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r: serde_json::Value = pg_app
        .delete_post(json!({ "id": gone }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["code"], 383, "{r}");

    // A mistyped source is refused, not read as an empty store.
    let (code, _) = migrate(&dir.path().join("no-such-store"), &url).await;
    assert_eq!(code, 2);
    assert!(!dir.path().join("no-such-store").exists());
}
