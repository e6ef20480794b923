//! Builds the application from settings: store, keys, networks, services, HTTP server.

use crate::api::{self, AppState};
use crate::configuration::{Settings, StoreBackend};
use crate::keys::{self, ApiKeys, GENERATED_KEY_META};
use crate::networks::link_flows::{ThreadsOAuth, XOAuth};
use crate::networks::{CallContext, ConsumerCredentials, Networks};
use crate::service::delete::{DeleteConfig, RetryPolicy};
use crate::service::linking::{LinkEvent, LinkingConfig, LinkingService};
use crate::service::media::MediaFetcher;
use crate::service::queue::OnFinished;
use crate::service::webhooks::{WebhookConfig, Webhooks};
use crate::service::{
    DeleteQueue, DeleteService, KeyedLocks, PostLocks, PublishConfig, PublishService, QueueConfig,
    QueueWorker, Scheduler, SchedulerHandle,
};
use crate::store::{PostgresStore, SledStore, Store, StoreError};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

/// The request spans of the access log. The linking pages carry credentials in their query
/// string (the linking token, OAuth codes and verifiers): their spans record the path alone.
/// Every other request is logged as `tracing-actix-web` does by default.
pub struct RedactedLinkSpans;

impl RootSpanBuilder for RedactedLinkSpans {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let path = request.path();
        if path != "/link" && !path.starts_with("/link/") {
            return DefaultRootSpanBuilder::on_request_start(request);
        }
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %path,
            http.target = %path,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding the port or writing the key file.
    #[error("{0}")]
    Io(String),
}

/// A built, bound, not yet running gateway.
pub struct Application {
    port: u16,
    server: Server,
    store: Arc<dyn Store>,
    scheduler: SchedulerHandle,
    /// Every background task (scheduler, recovery, deletes detached from their requests):
    /// shutdown waits for them within the grace period.
    tasks: TaskTracker,
    /// The one switch that stops the gateway (see [`Application::shutdown_token`]).
    shutdown: CancellationToken,
    shutdown_grace: Duration,
    /// The API key generated on this start, if `auth.api_keys` was empty and none existed.
    pub generated_api_key: Option<(String, PathBuf)>,
}

/// Where a generated API key is written: beside the store directory.
pub fn key_file_path(store_path: &Path) -> PathBuf {
    let mut name = store_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".api-key");
    store_path.with_file_name(name)
}

fn write_key_file(path: &Path, key: &str) -> std::io::Result<()> {
    use std::io::Write;
    // With the PostgreSQL store nothing else has created the directory.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(format!("{key}\n").as_bytes())?;
    f.sync_all()
}

/// The keys from settings, or the generated one (created on the very first start).
async fn load_keys(
    settings: &Settings,
    store: &dyn Store,
) -> Result<(ApiKeys, Option<(String, PathBuf)>), StartupError> {
    if !settings.auth.api_keys.is_empty() {
        return Ok((ApiKeys::from_plain(&settings.auth.api_keys), None));
    }
    let mut keys = ApiKeys::default();
    if let Some(hex_hash) = store.get_meta(GENERATED_KEY_META).await? {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hex_hash.trim(), &mut hash)
            .map_err(|_| StoreError::Corrupt("stored API key hash".into()))?;
        keys.add_hash(hash);
        return Ok((keys, None));
    }
    let key = keys::generate_key(6);
    let path = key_file_path(&settings.store.path);
    write_key_file(&path, &key).map_err(|e| {
        StartupError::Io(format!(
            "cannot write the generated API key to {}: {e}",
            path.display()
        ))
    })?;
    let hash = keys::hash_key(&key);
    store
        .set_meta(GENERATED_KEY_META, &hex::encode(hash))
        .await?;
    store.flush().await?;
    keys.add_hash(hash);
    Ok((keys, Some((key, path))))
}

/// Renews Threads tokens before they expire (and flags those that cannot be renewed): one
/// pass at start-up, then every `interval`, until `stop`.
fn spawn_refresher(
    tasks: &TaskTracker,
    stop: CancellationToken,
    linking: LinkingService,
    account_ids: Vec<String>,
    interval: Duration,
) {
    tasks.spawn(async move {
        loop {
            let pass = linking.refresh_all(&account_ids, chrono::Utc::now());
            tokio::select! {
                _ = stop.cancelled() => return,
                r = pass => match r {
                    Ok((0, 0)) => {}
                    Ok((refreshed, flagged)) => tracing::info!(refreshed, flagged, "token refresher pass"),
                    Err(e) => tracing::error!(error = %e, "token refresher pass failed; retried next interval"),
                },
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
}

/// Sends the linking page's and the refresher's account events as `social` webhooks, the
/// same payload `POST`/`DELETE /api/profiles/social` emit: linked and unlinked (`source:
/// "user"`), and an account that must be re-linked (`type: "refresh"`, `source: "system"`).
/// A renewed token is not an event subscribers are told about.
fn spawn_link_hooks(
    tasks: &TaskTracker,
    stop: CancellationToken,
    mut events: broadcast::Receiver<LinkEvent>,
    webhooks: Webhooks,
) {
    tasks.spawn(async move {
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                e = events.recv() => e,
            };
            let (profile_id, platform, kind, source, details) = match event {
                Ok(LinkEvent::Linked { profile_id, platform }) => (profile_id, platform, "link", "user", None),
                Ok(LinkEvent::Unlinked { profile_id, platform }) => (profile_id, platform, "unlink", "user", None),
                Ok(LinkEvent::NeedsRelink { profile_id, platform }) => {
                    let details = serde_json::json!({
                        "status": "error",
                        "message": format!("The {} token can no longer be renewed: link the account again.", platform.display_name()),
                    });
                    (profile_id, platform, "refresh", "system", Some(details))
                }
                Ok(LinkEvent::Refreshed { .. }) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "social webhooks: link events were missed");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Err(e) = webhooks
                .emit_social(&profile_id, platform.as_str(), kind, source, None, details)
                .await
            {
                tracing::error!(error = %e, "the social webhook could not be queued");
            }
        }
    });
}

impl Application {
    /// Opens the store, loads keys, builds the services and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // The process's metrics recorder, installed once (every gateway of a process shares it).
        crate::metrics::handle();
        let store: Arc<dyn Store> = match settings.store.backend {
            StoreBackend::Sled => Arc::new(SledStore::open_with(
                &settings.store.path,
                settings.store.cache_capacity_mb,
                settings.store.compress_new_stores,
            )?),
            StoreBackend::Postgres => Arc::new(PostgresStore::connect(&settings.store).await?),
        };
        let (api_keys, generated_api_key) = load_keys(&settings, store.as_ref()).await?;
        for account in api_keys.account_ids() {
            store.ensure_primary_profile(&account).await?;
        }

        let networks = Networks::from_settings(&settings).with_session_store(Arc::new(
            crate::service::sessions::StoreSessions(store.clone()),
        ));
        let locks = PostLocks::default();
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let delete = DeleteService::new(
            store.clone(),
            networks.clone(),
            locks.clone(),
            DeleteConfig {
                deadline: Duration::from_millis(settings.delete.deadline_ms),
                retry: RetryPolicy {
                    attempts: settings.delete.retry_attempts,
                    base: Duration::from_millis(settings.delete.retry_base_ms),
                    max: Duration::from_millis(settings.delete.retry_max_ms),
                },
                bulk_concurrency: settings.delete.bulk_concurrency,
            },
        )
        .with_tasks(tasks.clone());
        let x_consumer = (!settings.x.consumer_key.is_empty()).then(|| ConsumerCredentials {
            key: settings.x.consumer_key.clone(),
            secret: settings.x.consumer_secret.clone(),
        });

        // Deletes interrupted by a crash are finished in the background.
        let recovery = delete.clone();
        let recovery_ctx = CallContext {
            x_consumer: x_consumer.clone(),
        };
        tasks.spawn(async move {
            match recovery.recover(&recovery_ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(posts = n, "finished interrupted deletes"),
                Err(e) => tracing::error!(error = %e, "recovery of interrupted deletes failed"),
            }
        });

        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr)
            .map_err(|e| StartupError::Io(format!("cannot listen on {addr}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Io(e.to_string()))?
            .port();
        // Knows the gateway's own URL: its random images are answered from memory.
        let media = MediaFetcher::new(&settings.media, &settings.server.public_url(port));
        let publish = PublishService::new(
            store.clone(),
            networks.clone(),
            locks.clone(),
            // Publishing is never retried blindly: a timed-out publish may have gone through.
            PublishConfig {
                deadline: Duration::from_millis(settings.delete.deadline_ms),
            },
            x_consumer.clone(),
        )
        .with_media(media.clone())
        .with_tasks(tasks.clone());
        let webhooks = Webhooks::new(
            store.clone(),
            WebhookConfig {
                allow_http: settings.webhooks.allow_http,
                timeout: Duration::from_millis(settings.webhooks.timeout_ms),
                retry_delays: settings
                    .webhooks
                    .retry_delays_ms
                    .iter()
                    .map(|ms| Duration::from_millis(*ms))
                    .collect(),
                tick: Duration::from_millis(settings.webhooks.tick_ms.max(10)),
            },
        );
        // Publishes scheduled posts when due, including those that came due while stopped;
        // each one sent fires the `scheduled` webhook.
        let scheduled_hook = {
            let (webhooks, networks, store) = (webhooks.clone(), networks.clone(), store.clone());
            Arc::new(move |post: crate::domain::Post| {
                let (webhooks, networks, store) =
                    (webhooks.clone(), networks.clone(), store.clone());
                Box::pin(async move {
                    let profile = match store.get_profile(&post.profile_id).await {
                        Ok(Some(p)) => p,
                        _ => return,
                    };
                    let event = api::hook::scheduled_event(&post, &profile, &networks);
                    if let Err(e) = webhooks.emit(&profile.id, "scheduled", None, event).await {
                        tracing::error!(error = %e, "the scheduled webhook could not be queued");
                    }
                }) as futures::future::BoxFuture<'static, ()>
            })
        };
        let scheduler = Scheduler::new(
            store.clone(),
            publish.clone(),
            Duration::from_millis(settings.scheduler.tick_ms),
            settings.scheduler.batch_size,
        )
        .with_lease(Duration::from_secs(settings.scheduler.lease_secs))
        .on_published(scheduled_hook);

        // Queued deletes, finished in the background; each finished post fires `delete`.
        let queue = DeleteQueue::new(
            store.clone(),
            networks.clone(),
            QueueConfig {
                max_per_account: settings.delete.queue_max_per_account,
                concurrency: settings.delete.queue_concurrency.max(1),
                tick: Duration::from_millis(settings.delete.queue_tick_ms.max(10)),
                lease: Duration::from_secs(settings.delete.queue_lease_secs.max(1)),
                retry: Duration::from_secs(settings.delete.queue_retry_secs.max(1)),
                max_attempts: settings.delete.queue_max_attempts.max(1),
            },
        );
        let delete_hook: OnFinished = {
            let (webhooks, networks) = (webhooks.clone(), networks.clone());
            Arc::new(
                move |profile: String, report: crate::service::DeleteReport| {
                    let (webhooks, networks) = (webhooks.clone(), networks.clone());
                    Box::pin(async move {
                        // The same finish told again (a crash before its items were removed)
                        // keeps its hookId, so receivers can drop the repeat.
                        let mut seed = format!("delete:{}", report.post_id.as_str());
                        for e in &report.entries {
                            seed.push(':');
                            seed.push_str(e.platform.as_str());
                        }
                        use sha2::Digest;
                        let hook_id =
                            hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..24].to_owned();
                        let event = api::hook::delete_event(&report, &networks);
                        webhooks
                            .emit(&profile, "delete", Some(hook_id), event)
                            .await
                            .map(|_| ())
                    })
                },
            )
        };
        let queue_worker = QueueWorker::new(
            queue.clone(),
            delete.clone(),
            CallContext {
                x_consumer: x_consumer.clone(),
            },
        )
        .on_finished(delete_hook);

        let linking = LinkingService::new(
            store.clone(),
            networks.clone(),
            LinkingConfig {
                public_url: settings.server.public_url(port),
                refresh_before: chrono::Duration::days(
                    settings.threads.refresh_before_days.min(365) as i64,
                ),
                x_consumer: x_consumer.clone(),
            },
            ThreadsOAuth::from_settings(&settings.threads),
            XOAuth::from_settings(&settings.x),
        )
        .await?;
        let link_events = linking.subscribe();
        let account_ids = api_keys.account_ids();

        let state = web::Data::new(AppState {
            store: store.clone(),
            api_keys,
            delete,
            publish,
            idempotency_locks: KeyedLocks::default(),
            x_consumer,
            networks: networks.clone(),
            body_limit: settings.server.body_limit_bytes,
            bulk_max_ids: settings.delete.bulk_max_ids,
            linking: linking.clone(),
            queue,
            queue_default: settings.delete.queue_default,
            webhooks: webhooks.clone(),
            media,
            call_counts: crate::service::CallCounts::new(store.clone()),
        });
        let metrics_access = web::Data::new(api::metrics::MetricsAccess {
            token: Some(settings.metrics.token.clone()).filter(|t| !t.is_empty()),
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(api::metrics::measure))
                .wrap(TracingLogger::<RedactedLinkSpans>::new())
                .app_data(state.clone())
                .app_data(metrics_access.clone())
                .configure(api::routes)
        })
        .shutdown_timeout(settings.server.shutdown_grace_secs)
        .keep_alive(match settings.server.keep_alive_secs {
            0 => actix_web::http::KeepAlive::Disabled,
            n => actix_web::http::KeepAlive::Timeout(std::time::Duration::from_secs(n)),
        })
        // Signals are handled by the binary (first: graceful stop, second: exit at once).
        .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|e| StartupError::Io(e.to_string()))?
            .run();

        // Started last, once nothing can fail any more: a failed build leaves no task behind.
        let scheduler = scheduler.spawn(&tasks, shutdown.child_token());
        spawn_link_hooks(
            &tasks,
            shutdown.child_token(),
            link_events,
            webhooks.clone(),
        );
        if linking.refreshes_tokens() {
            spawn_refresher(
                &tasks,
                shutdown.child_token(),
                linking,
                account_ids.iter().map(ToString::to_string).collect(),
                Duration::from_secs(settings.threads.refresh_interval_secs),
            );
        }
        queue_worker.spawn(&tasks, shutdown.child_token());
        webhooks.spawn(&tasks, shutdown.child_token());

        Ok(Self {
            port,
            server,
            store,
            scheduler,
            tasks,
            shutdown,
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            generated_api_key,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the HTTP server alone; [`Application::run_until_stopped`] then stops
    /// the rest as after [`Application::shutdown_token`].
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The gateway's one stop switch: cancelling it stops accepting requests, lets in-flight
    /// ones finish (`server.shutdown_grace_secs`), then stops the scheduler and waits for the
    /// background tasks ([`Application::run_until_stopped`]). The binary cancels it on
    /// SIGTERM/SIGINT.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled or the server is stopped through its
    /// handle. Then, within one more `server.shutdown_grace_secs`: the scheduler starts no
    /// further post and its publishes in flight are recorded, and the deletes detached from
    /// their requests finish and record. A delete still running after that is finished by
    /// the next start's recovery. Last, the store is flushed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let server_handle = self.server.handle();
        let server = self.server;
        tokio::pin!(server);
        let result = tokio::select! {
            r = &mut server => r,
            _ = self.shutdown.cancelled() => {
                // The server future handles the stop command itself: poll both together.
                tokio::join!(server_handle.stop(true), server).1
            }
        };
        self.shutdown.cancel();
        // One budget for what is left: the scheduler's publishes and the detached deletes.
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        self.scheduler.stop(self.shutdown_grace).await;
        self.tasks.close();
        if tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = self.shutdown_grace.as_secs_f64(),
                "deletes still running at shutdown are finished by the next start's recovery"
            );
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final store flush failed");
        }
        result
    }
}
