use clap::{Parser, Subcommand};
use postgate::configuration::Settings;
use postgate::startup::Application;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// postgate: a self-hosted gateway that speaks the Ayrshare REST API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve {
        /// A settings file read on top of the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Send posts exported from Ayrshare (JSON array, {"history": [...]} or NDJSON) to a
    /// running gateway, in batches.
    Import(postgate::import_cli::ImportArgs),
    /// Run simulated Threads and X APIs on loopback (one port each) to try, test and
    /// benchmark postgate without real accounts. Prints the URLs, the fake accounts and the
    /// settings that point `postgate serve` at them.
    Sandbox(Box<postgate_sandbox::SandboxOptions>),
    /// Copy a sled store into a PostgreSQL database (profiles, keys, linked accounts, posts,
    /// schedules, idempotency keys, quotas), to run several gateways on it. Restartable: run it
    /// again after an interruption; what is there already is skipped. Verifies at the end.
    MigrateStore(postgate::migrate_store::MigrateArgs),
    /// The round trip in one command: sandbox + gateway on a temporary store, link, publish,
    /// delete, printing every step.
    Demo,
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Serve { config } => {
            let default = PathBuf::from("settings.toml");
            let file = config.or_else(|| default.exists().then_some(default));
            let settings = match Settings::load(file.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("postgate: {e}");
                    return ExitCode::from(2);
                }
            };
            postgate::telemetry::init(&settings.log);
            runtime.block_on(serve(settings))
        }
        Command::Import(args) => runtime.block_on(postgate::import_cli::import(args)),
        Command::Demo => runtime.block_on(postgate::demo::run()),
        Command::MigrateStore(args) => runtime.block_on(postgate::migrate_store::run(args)),
        Command::Sandbox(opts) => match runtime.block_on(async {
            let mut signals = Signals::install()?;
            postgate_sandbox::run(*opts, signals.next()).await
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("postgate sandbox: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Caps glibc's allocator at two arenas and fixes its mmap threshold at 256 KiB, unless the
/// operator set `MALLOC_*` or `GLIBC_TUNABLES` (theirs win).
///
/// Why: glibc gives each thread that allocates its own arena, up to 8 per core, and each one
/// keeps the memory freed into it. The gateway has ~20 threads (HTTP workers, the runtime,
/// sled's I/O threads, the flusher), so a busy minute left ~20 MiB more resident than the work
/// needs. Its threshold for serving big blocks straight from `mmap` also grows with every
/// such block freed (up to 32 MiB), after which sled's 8 MiB segment buffers and large
/// import bodies are carved from the arenas and fragment them. Measured in bench/README.md
/// (issue 15): peak RSS of the delete benchmark 139–146 MiB → ~121 MiB, CPU unchanged.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    let operator_set = std::env::vars_os().any(|(k, _)| {
        k.to_str()
            .is_some_and(|k| k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES")
    });
    if operator_set {
        return;
    }
    // SAFETY: `mallopt` only changes the allocator's parameters; it is called first thing in
    // `main`, before any thread of ours exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

async fn serve(settings: Settings) -> ExitCode {
    let sled_path = (settings.store.backend == postgate::configuration::StoreBackend::Sled
        && settings.store.checkpoint_on_stop_secs > 0)
        .then(|| {
            (
                settings.store.path.clone(),
                std::time::Duration::from_secs(settings.store.checkpoint_on_stop_secs),
            )
        });
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("postgate: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some((key, path)) = &app.generated_api_key {
        // Printed once, on stdout, never logged: only its hash is stored.
        println!(
            "postgate: generated API key (shown once, also written to {}): {key}",
            path.display()
        );
    }
    // The handlers are installed before "listening" is said: a signal sent the moment the port
    // is announced must stop the gateway gracefully, not kill it with the default action.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("postgate: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(port = app.port(), "postgate listening");
    let shutdown = app.shutdown_token();
    tokio::spawn(async move {
        signals.next().await;
        tracing::info!("shutdown signal: no new requests; finishing in-flight ones (a second signal exits at once)");
        shutdown.cancel();
        signals.next().await;
        let _ = writeln!(
            std::io::stderr(),
            "postgate: second signal, exiting now; interrupted deletes are finished on the next start"
        );
        std::process::exit(130);
    });
    match app.run_until_stopped().await {
        Ok(()) => {
            if let Some((path, limit)) = sled_path {
                checkpoint_sled(path, limit).await;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("postgate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// After a clean stop: lets sled write its page-table snapshot now, so the next start
/// reads it instead of replaying what this run wrote ([`postgate::store::SledStore::checkpoint`]).
/// Bounded by `store.checkpoint_on_stop_secs`: past it the process exits anyway (sled writes
/// its snapshot to a temporary file and renames it, so an exit mid-checkpoint leaves the
/// store as it was). A failure or a cut only costs the next start that replay.
async fn checkpoint_sled(path: PathBuf, limit: std::time::Duration) {
    // A plain thread, not `spawn_blocking`: the runtime's drop waits for its blocking tasks,
    // and a cut checkpoint must not hold the exit.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(postgate::store::SledStore::checkpoint(&path, limit));
    });
    let done = tokio::time::timeout(limit, rx).await;
    match done {
        Ok(Ok(Ok(took))) => tracing::info!(
            ms = took.as_millis() as u64,
            "store checkpointed for a quick next start"
        ),
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "store checkpoint skipped; the next start replays sled's log")
        }
        Ok(Err(_)) => tracing::warn!("store checkpoint thread failed"),
        Err(_) => tracing::warn!(
            secs = limit.as_secs(),
            "store checkpoint cut at store.checkpoint_on_stop_secs; the next start replays sled's log"
        ),
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened to from the moment they are installed: the one
/// signal listener of the binary, for `serve` (first signal drains, second exits) and for
/// `sandbox`.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the next SIGTERM or SIGINT.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
