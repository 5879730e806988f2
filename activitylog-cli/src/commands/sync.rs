//! `activitylog sync`: archive contracts into a database with
//! [`activitylog_archive`], and where the archive is by default.

use std::path::PathBuf;

use activitylog_archive::{Archive, Synced};
use activitylog_client::{ActivityLog, DateBound, SyncOptions};

use crate::args::{Global, SyncArgs};
use crate::connect;
use crate::error::{EXIT_USAGE, Failure};
use crate::signals::Signals;
use crate::text::rfc3339;
use crate::which_contracts;

/// Runs `sync`: opens the archive (`--db`, else the default file),
/// connects, and syncs the contracts asked for.
pub async fn run(global: &Global, args: &SyncArgs, signals: &Signals) -> Result<(), Failure> {
    let url = archive_url(args.archive.db.as_deref())?;
    if crate::stored::is_lake(&url) {
        return signals.or_stop(lake::run(global, args, &url)).await;
    }
    signals
        .or_stop(async {
            let archive = Archive::open(&url).await?;
            let connection = connect::connect(global).await?;
            let contracts = which_contracts::readable_by(&args.contracts, &connection).await?;
            let synced = sync(&connection.log, &archive, &contracts, args).await;
            // The connections end before the process does (PostgreSQL
            // sessions end cleanly rather than by a dropped socket).
            archive.close().await;
            synced
        })
        .await
}

/// The archive's URL, from `--db` or the default file (whose directory is
/// created, and whose path is printed when the file is new).
fn archive_url(db: Option<&str>) -> Result<String, Failure> {
    if let Some(url) = db {
        return Ok(url.to_string());
    }
    let path = default_path().ok_or_else(|| {
        Failure::usage(
            "no data directory to keep the archive in (neither XDG_DATA_HOME nor HOME is set): \
             pass --db sqlite:PATH",
        )
    })?;
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::other(format!(
                    "could not create {} for the archive: {e}; pass --db sqlite:PATH",
                    dir.display()
                ))
            })?;
        }
        eprintln!("creating the archive {}", path.display());
    }
    Ok(format!("sqlite:{}", path.display()))
}

/// `$XDG_DATA_HOME/activitylog/archive.sqlite`, else the platform's data directory.
fn default_path() -> Option<PathBuf> {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = if let Some(xdg) = nonempty("XDG_DATA_HOME") {
        PathBuf::from(xdg)
    } else if cfg!(windows) {
        PathBuf::from(nonempty("LOCALAPPDATA")?)
    } else if cfg!(target_os = "macos") {
        PathBuf::from(nonempty("HOME")?).join("Library/Application Support")
    } else {
        PathBuf::from(nonempty("HOME")?).join(".local/share")
    };
    Some(base.join("activitylog").join("archive.sqlite"))
}

/// Syncing into a lake.
#[cfg(feature = "lake")]
mod lake {
    use activitylog_lake::{Lake, Synced};

    use super::{kept, options, rfc3339};
    use crate::args::{Global, SyncArgs};
    use crate::connect;
    use crate::error::Failure;
    use crate::stored::lake_failure;
    use crate::which_contracts;

    /// Opens the lake, connects, and syncs each contract in turn; stops at
    /// the first that fails (what it committed stays).
    pub async fn run(global: &Global, args: &SyncArgs, url: &str) -> Result<(), Failure> {
        let lake = Lake::open(url, &args.archive.s3.options()).map_err(lake_failure)?;
        let connection = connect::connect(global).await?;
        let log = &connection.log;
        let contracts = which_contracts::readable_by(&args.contracts, &connection).await?;
        let options = options(args, log).await?;
        for &contract in &contracts {
            let mut run = lake.sync(log, contract).options(options.clone());
            if let Some(entries) = args.commit_every {
                run = run.batch(usize::try_from(entries).unwrap_or(usize::MAX));
            }
            match run.run().await {
                Ok(synced) => eprintln!("{}", report(&synced, &lake)),
                Err(error) => {
                    let through = lake.through(contract).await.ok().flatten();
                    return Err(kept(contract, lake_failure(error), through, "lake"));
                }
            }
        }
        Ok(())
    }

    /// One line per contract synced.
    fn report(synced: &Synced, lake: &Lake) -> String {
        let through = match synced.through {
            Some(t) => format!("complete up to {}", rfc3339(t)),
            None => "not complete over any range yet".to_string(),
        };
        format!(
            "contract {}: fetched {} entries from {} to {}, {} new in {} objects; {} is {through}",
            synced.contract,
            synced.fetched,
            rfc3339(synced.since),
            rfc3339(synced.until),
            synced.added,
            synced.objects,
            lake.location(),
        )
    }
}

/// Without lakes: one line saying how to build them.
#[cfg(not(feature = "lake"))]
mod lake {
    use crate::args::{Global, SyncArgs};
    use crate::error::Failure;

    pub async fn run(_: &Global, _: &SyncArgs, url: &str) -> Result<(), Failure> {
        Err(crate::stored::lake_not_built(url))
    }
}

/// The failure of a sync of `contract`, saying what the store kept.
fn kept(
    contract: u64,
    failure: Failure,
    through: Option<chrono::DateTime<chrono::Utc>>,
    store: &str,
) -> Failure {
    let kept = match through {
        Some(t) => format!("the {store} stays complete up to {}", rfc3339(t)),
        None => "what was committed stays".to_string(),
    };
    let message = format!(
        "contract {contract}: {}; {kept}: run the same sync again to go on",
        failure.message()
    );
    if failure.code() == EXIT_USAGE {
        Failure::usage(message)
    } else {
        Failure::other(message)
    }
}

/// Syncs each contract in turn; stops at the first that fails (what it
/// committed stays).
async fn sync(
    log: &ActivityLog,
    archive: &Archive,
    contracts: &[u64],
    args: &SyncArgs,
) -> Result<(), Failure> {
    let options = options(args, log).await?;
    for &contract in contracts {
        match archive
            .sync(log, contract)
            .options(options.clone())
            .run()
            .await
        {
            Ok(synced) => eprintln!("{}", report(&synced, archive)),
            Err(error) => {
                let through = archive.through(contract).await.ok().flatten();
                return Err(kept(contract, Failure::from(error), through, "archive"));
            }
        }
    }
    Ok(())
}

/// What every contract's sync is asked, for any store. Usage errors come
/// first (by this machine's clock), before any request; then `--since 2h`
/// counts back from the service's now, as a sync closes an open end by it.
async fn options(args: &SyncArgs, log: &ActivityLog) -> Result<SyncOptions, Failure> {
    let machine_now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    bounds(args, machine_now)?;
    let (since, until) = bounds(args, crate::clock::service_now(log).await)?;
    let mut options = args.download.sync_options();
    if let Some(since) = since {
        options = options.since(since);
    }
    if let Some(until) = until {
        options = options.until(until);
    }
    Ok(options)
}

/// `--since` and `--until` against `now`, checked.
fn bounds(
    args: &SyncArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Option<DateBound>, Option<DateBound>), Failure> {
    let (since, until) = args.range.bounds(now)?;
    if let (Some(since), Some(until)) = (since, until)
        && since.instant() >= until.instant()
    {
        return Err(Failure::usage(
            "--since is not before --until: give a range that holds time",
        ));
    }
    Ok((since, until))
}

/// One line per contract synced.
fn report(synced: &Synced, archive: &Archive) -> String {
    let through = match synced.through {
        Some(t) => format!("complete up to {}", rfc3339(t)),
        None => "not complete over any range yet".to_string(),
    };
    format!(
        "contract {}: fetched {} entries from {} to {}, {} new; {} is {through}",
        synced.contract,
        synced.fetched,
        rfc3339(synced.since),
        rfc3339(synced.until),
        synced.added,
        archive.location(),
    )
}
