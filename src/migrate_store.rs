//! `postgate migrate-store --from <sled path> --to <postgres url>`: the way from one gateway on
//! the embedded store to several on PostgreSQL. Copies profiles (with their key hashes),
//! linked accounts, posts with every platform's state (the schedule and the recovery index
//! follow from the posts), idempotency keys, quota windows and blocks, and metadata (the
//! generated API key's hash).
//!
//! Restartable: what the target already holds is left as it is and counted as "already
//! there", so a run cut short is simply run again, and nothing is ever copied twice. At the
//! end every record of the source is looked up in the target; a missing one fails the run.
//! The gateway using the sled directory must be stopped first (sled locks it).

use crate::configuration::redact_password;
use crate::domain::PostId;
use crate::store::{IdempotencyRecord, PostgresStore, SledStore, Store, StoreError};
use sqlx::postgres::PgConnectOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

/// Posts read from the source at once.
const PAGE: usize = 500;

/// Arguments of `postgate migrate-store`.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// Directory of the sled store to copy (`store.path`); its gateway must be stopped.
    #[arg(long)]
    pub from: PathBuf,
    /// PostgreSQL URL of the target (`postgres://user:password@host:port/db`); its schema is
    /// created or brought up to date first. Taken from `POSTGATE__STORE__URL` when not given
    /// (which keeps the password off the command line).
    #[arg(long, env = "POSTGATE__STORE__URL", hide_env_values = true)]
    pub to: String,
}

/// How one kind of record fared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records in the source.
    pub source: usize,
    /// Copied by this run.
    pub copied: usize,
    /// Found in the target already (an earlier run, or written there since), left as is.
    pub present: usize,
    /// Source records the final check did not find in the target.
    pub missing: usize,
}

/// What a run did, per kind of record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Profiles (primary and user profiles, with their key hashes).
    pub profiles: Tally,
    /// Linked accounts.
    pub linked_accounts: Tally,
    /// Posts with their per-platform entries (and so the schedule).
    pub posts: Tally,
    /// Idempotency keys (claims and answers).
    pub idempotency_keys: Tally,
    /// Quota buckets (counted calls and network blocks).
    pub quotas: Tally,
    /// Metadata values.
    pub meta: Tally,
}

impl Report {
    fn rows(&self) -> [(&'static str, Tally); 6] {
        [
            ("profiles", self.profiles),
            ("linked accounts", self.linked_accounts),
            ("posts", self.posts),
            ("idempotency keys", self.idempotency_keys),
            ("quotas", self.quotas),
            ("meta", self.meta),
        ]
    }

    /// Whether the final check found every source record in the target.
    pub fn verified(&self) -> bool {
        self.rows().iter().all(|(_, t)| t.missing == 0)
    }

    /// The summary printed at the end, one line per kind.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, t) in self.rows() {
            out.push_str(&format!(
                "  {name:<17} {:>8} in source, {:>8} copied, {:>8} already there, {:>4} missing\n",
                t.source, t.copied, t.present, t.missing
            ));
        }
        out
    }
}

fn count(tally: &mut Tally, copied: bool) {
    tally.source += 1;
    if copied {
        tally.copied += 1;
    } else {
        tally.present += 1;
    }
}

/// Copies everything of `from` that `to` does not hold yet, then checks that `to` holds
/// every record of `from`.
pub async fn migrate(from: &dyn Store, to: &dyn Store) -> Result<Report, StoreError> {
    let mut r = Report::default();

    let profiles = from.all_profiles().await?;
    for p in &profiles {
        let copied = match to.get_profile(&p.id).await? {
            Some(_) => false,
            None => {
                to.create_profile(p.clone()).await?;
                true
            }
        };
        count(&mut r.profiles, copied);
        for account in from.linked_accounts(&p.id).await? {
            let copied = match to.linked_account(&p.id, &account.platform).await? {
                Some(_) => false,
                None => {
                    to.link_account(&p.id, account).await?;
                    true
                }
            };
            count(&mut r.linked_accounts, copied);
        }
    }

    let mut after: Option<PostId> = None;
    loop {
        let page = from.posts_after(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for post in &page {
            let copied = match to.insert_post(post).await {
                Ok(()) => true,
                Err(StoreError::DuplicatePost(_)) => false,
                Err(e) => return Err(e),
            };
            count(&mut r.posts, copied);
        }
    }

    let keys = from.all_idempotency_keys().await?;
    for k in &keys {
        let copied = match &k.record {
            IdempotencyRecord::Claimed {
                post_id,
                claimed_at,
            } => to
                .claim_idempotency_key(&k.profile_id, &k.key, post_id, *claimed_at)
                .await?
                .is_none(),
            IdempotencyRecord::Answered(answer) => {
                match to.idempotency_record(&k.profile_id, &k.key).await? {
                    Some(_) => false,
                    None => {
                        to.remember_answer(&k.profile_id, &k.key, answer).await?;
                        true
                    }
                }
            }
        };
        count(&mut r.idempotency_keys, copied);
    }

    let quotas = from.all_quotas().await?;
    let there: std::collections::HashSet<String> = to
        .all_quotas()
        .await?
        .into_iter()
        .map(|q| q.bucket)
        .collect();
    for q in &quotas {
        let copied = !there.contains(&q.bucket);
        if copied {
            to.restore_quota(q).await?;
        }
        count(&mut r.quotas, copied);
    }

    let meta = from.all_meta().await?;
    for (key, value) in &meta {
        let copied = match to.get_meta(key).await? {
            Some(_) => false,
            None => {
                to.set_meta(key, value).await?;
                true
            }
        };
        count(&mut r.meta, copied);
    }
    to.flush().await?;

    // The check: every source record, looked up in the target.
    for p in &profiles {
        if to.get_profile(&p.id).await?.is_none() {
            r.profiles.missing += 1;
        }
        for account in from.linked_accounts(&p.id).await? {
            if to.linked_account(&p.id, &account.platform).await?.is_none() {
                r.linked_accounts.missing += 1;
            }
        }
    }
    let mut after: Option<PostId> = None;
    loop {
        let page = from.posts_after(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for post in &page {
            if to.get_post(&post.id).await?.is_none() {
                r.posts.missing += 1;
            }
        }
    }
    for k in &keys {
        if to
            .idempotency_record(&k.profile_id, &k.key)
            .await?
            .is_none()
        {
            r.idempotency_keys.missing += 1;
        }
    }
    let there: std::collections::HashSet<String> = to
        .all_quotas()
        .await?
        .into_iter()
        .map(|q| q.bucket)
        .collect();
    r.quotas.missing = quotas.iter().filter(|q| !there.contains(&q.bucket)).count();
    for (key, _) in &meta {
        if to.get_meta(key).await?.is_none() {
            r.meta.missing += 1;
        }
    }
    Ok(r)
}

/// The subcommand: opens both stores, copies, prints the counts. Exit code 0 when every
/// record was verified in the target, 1 when some are missing or the copy failed, 2 when a
/// store could not be opened.
pub async fn run(args: MigrateArgs) -> ExitCode {
    let target = redact_password(&args.to);
    // Opening a missing directory would create an empty store and "copy" nothing.
    if !args.from.is_dir() {
        eprintln!(
            "postgate migrate-store: no sled store at {}",
            args.from.display()
        );
        return ExitCode::from(2);
    }
    let from = match SledStore::open(&args.from) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "postgate migrate-store: cannot open the sled store at {} (is its gateway still running?): {e}",
                args.from.display()
            );
            return ExitCode::from(2);
        }
    };
    let options = match PgConnectOptions::from_str(&args.to) {
        Ok(o) => o,
        Err(_) => {
            eprintln!("postgate migrate-store: --to {target} is not a PostgreSQL URL");
            return ExitCode::from(2);
        }
    };
    let to = match PostgresStore::connect_with(options, 4, Duration::from_secs(60)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("postgate migrate-store: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "postgate migrate-store: {} -> {target}",
        args.from.display()
    );
    match migrate(&from, &to).await {
        Ok(report) => {
            print!("{}", report.render());
            if report.verified() {
                println!("verified: every record of the source is in the target");
                ExitCode::SUCCESS
            } else {
                eprintln!("postgate migrate-store: verification failed: records of the source are missing in the target (see above); run it again");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("postgate migrate-store: the copy stopped: {e}; run it again to go on (what was copied is kept)");
            ExitCode::FAILURE
        }
    }
}
