//! `FILE.checkpoint`: the state of a resumable export, and the rule that
//! decides what a rerun does with what an earlier run left.
//!
//! Layout version 2 records, besides the job, its resolved range and how far
//! it got: when the export started (`started`), the entries that could not
//! be shown so far (`omitted`), and `finished`, set just before `FILE.part`
//! is renamed to FILE. Version 1 checkpoints (no such fields) are still
//! read: the start time then comes from `FILE.part`'s creation time where
//! the system knows it. Version 3 (this one) adds the exports of several
//! contracts: the job's further contracts (`job.more_contracts`,
//! `job.all_contracts`) and the contract `through` belongs to (`contract`;
//! the ones before it in the job are done). Version 2 checkpoints are
//! version 3 checkpoints of one contract; the next one written is version 3.
//! A job records where it reads from (`job.source`: an archive's URL, or
//! absent for the API, as in checkpoints written before the field
//! existed): an export resumes only from the same source.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::paths::{beside, io_failure, sync_dir};
use crate::error::Failure;
use crate::filter::Filter;
use crate::omitted::Omitted;
use crate::output::Format;
use crate::output::View;

/// The layout version this tool writes.
pub const VERSION: u32 = 3;

/// The layout versions this tool reads.
const READS: [u32; 3] = [1, 2, 3];

/// What an export was asked for: a checkpoint only resumes the same job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The contract, or the first of several.
    pub contract: u64,
    /// The contracts after the first, in the order they are read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_contracts: Vec<u64>,
    /// `--all-contracts`: the contracts are every readable one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_contracts: bool,
    /// `--since` as written (`30d` means 30 days before the first run).
    pub since: Option<String>,
    /// `--until` as written.
    pub until: Option<String>,
    /// The output format.
    pub format: Format,
    /// The filters.
    pub filter: Filter,
    /// How a table or CSV shows the entries (`--columns`, `--tz`/`--local`),
    /// when not the usual way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<JobView>,
    /// `--follow`: a tail with no end (absent in checkpoints of exports).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow: bool,
    /// Where the entries are read from: absent for the API (so checkpoints
    /// written before the field existed are read as exports from the API).
    #[serde(default, skip_serializing_if = "JobSource::is_api")]
    pub source: JobSource,
}

/// Where an export reads its entries: a checkpoint resumes only from the
/// same place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobSource {
    /// The Activity Log API.
    #[default]
    Api,
    /// An archive (`--db`): its URL, any password hidden, a SQLite file's
    /// path made absolute.
    Archive(String),
}

impl JobSource {
    /// The source of an archive at `location` (its URL, password hidden).
    pub fn archive(location: &str) -> JobSource {
        let absolute = location.strip_prefix("sqlite:").and_then(|rest| {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let path = path.strip_prefix("//").unwrap_or(path);
            let path = std::path::absolute(path).ok()?;
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            Some(format!("sqlite:{}{query}", path.display()))
        });
        JobSource::Archive(absolute.unwrap_or_else(|| location.to_string()))
    }

    fn is_api(&self) -> bool {
        *self == JobSource::Api
    }

    /// For messages: `the API`, or `the archive URL` (`the lake URL`).
    pub fn describe(&self) -> String {
        match self {
            JobSource::Api => "the API".to_string(),
            JobSource::Archive(location) => {
                format!("the {} {location}", crate::stored::kind(location))
            }
        }
    }
}

/// `--columns` and `--tz`/`--local` of a table or CSV export, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// `--columns`, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<String>,
    /// The zone's name, or `local` for `--local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl JobView {
    /// What `view` changes in `format`'s output: `None` for the usual
    /// view, and always for NDJSON and JSON, which it does not change.
    pub fn of(format: Format, view: &View) -> Option<JobView> {
        if !format.needs_decoding() || (view.columns.is_none() && view.zone.is_utc()) {
            return None;
        }
        Some(JobView {
            columns: view.columns.as_ref().map(ToString::to_string),
            zone: (!view.zone.is_utc()).then(|| view.zone.label()),
        })
    }
}

impl Job {
    /// The contracts, in the order they are read.
    pub fn contracts(&self) -> Vec<u64> {
        let mut all = vec![self.contract];
        all.extend(&self.more_contracts);
        all
    }

    /// The arguments that repeat this job, for messages.
    pub fn command(&self, path: &Path) -> String {
        let contracts = if self.all_contracts {
            "--all-contracts".to_string()
        } else {
            crate::text::list(&self.contracts()).replace(", ", " ")
        };
        let mut words = vec![format!("activitylog entries {contracts}")];
        if let JobSource::Archive(location) = &self.source {
            words.push(format!("--db {}", shell_quote(location)));
        }
        if let Some(since) = &self.since {
            words.push(format!("--since {since}"));
        }
        if let Some(until) = &self.until {
            words.push(format!("--until {until}"));
        }
        if self.follow {
            words.push("--follow".to_string());
        }
        words.push(format!("--format {}", self.format.name()));
        let filter = &self.filter;
        for (flag, values) in [
            ("--type", &filter.types),
            ("--exclude-type", &filter.exclude_types),
            ("--user", &filter.users),
            ("--status", &filter.statuses),
            ("--resource-type", &filter.resource_types),
            ("--action", &filter.actions),
            ("--resource-id", &filter.resource_ids),
            ("--request-id", &filter.request_ids),
            ("--exclude-user", &filter.exclude_users),
        ] {
            if !values.is_empty() {
                words.push(format!("{flag} {}", values.join(",")));
            }
        }
        if !filter.source_ips.is_empty() {
            let blocks: Vec<String> = filter.source_ips.iter().map(|n| n.to_string()).collect();
            words.push(format!("--source-ip {}", blocks.join(",")));
        }
        // A pattern may hold commas and spaces: one quoted flag each.
        for pattern in &filter.grep {
            words.push(format!("--grep {}", shell_quote(pattern.as_str())));
        }
        if let Some(view) = &self.view {
            if let Some(columns) = &view.columns {
                words.push(format!("--columns {columns}"));
            }
            match view.zone.as_deref() {
                Some("local") => words.push("--local".to_string()),
                Some(zone) => words.push(format!("--tz {zone}")),
                None => {}
            }
        }
        words.push(format!("--out {} --resume", path.display()));
        words.join(" ")
    }
}

/// `text` as one shell word: as is when plain, else in single quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The state of a resumable export, as stored in `FILE.checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Layout version.
    pub version: u32,
    /// The arguments.
    pub job: Job,
    /// Start of the resolved range, inclusive.
    pub since: DateTime<Utc>,
    /// End of the resolved range, exclusive: kept, never resolved again.
    pub until: DateTime<Utc>,
    /// The contract being read, when not the job's first: the ones before
    /// it in the job are complete in `FILE.part`, `through` is its progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<u64>,
    /// Every matching entry of the contract being read before this instant
    /// is in `FILE.part`.
    pub through: DateTime<Utc>,
    /// Length of `FILE.part` at that moment.
    pub bytes: u64,
    /// Entries in `FILE.part` at that moment.
    pub events: u64,
    /// When the export's first run started (`None`: unknown, from version 1).
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    /// Entries before `through` that could not be shown in the format.
    #[serde(default)]
    pub omitted: Omitted,
    /// `FILE.part` is complete (`bytes` long, trailer included) and is being
    /// renamed to FILE.
    #[serde(default)]
    pub finished: bool,
    /// What the format needs to continue `FILE.part` after `bytes` (a
    /// Parquet file's row groups, [`crate::output::Settled`]); absent for
    /// the formats that need nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<String>,
}

impl Checkpoint {
    /// A new export of `job` over `[since, until)`, started `started`.
    pub fn new(
        job: Job,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        started: DateTime<Utc>,
    ) -> Self {
        Checkpoint {
            version: VERSION,
            job,
            since,
            until,
            contract: None,
            through: since,
            bytes: 0,
            events: 0,
            started: Some(started),
            omitted: Omitted::default(),
            finished: false,
            encoder: None,
        }
    }
}

impl Checkpoint {
    /// The contracts not complete yet: the one `through` belongs to, and those after it.
    pub fn pending(&self) -> Vec<u64> {
        let all = self.job.contracts();
        let current = self.contract.unwrap_or(self.job.contract);
        let at = all.iter().position(|&c| c == current).unwrap_or(0);
        all[at..].to_vec()
    }
}

/// What a rerun found beside FILE: the lengths of `FILE.part` and FILE,
/// where they exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Length of `FILE.part`.
    pub part: Option<u64>,
    /// Length of FILE.
    pub file: Option<u64>,
}

/// What a rerun does with a checkpoint of its own job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Cut `FILE.part` to the checkpoint's length and download from `through`.
    Continue,
    /// `FILE.part` is complete: cut it to the checkpoint's length (anything
    /// after it was never part of the export) and rename it to FILE.
    Rename,
    /// FILE is complete already: the earlier run stopped after renaming
    /// `FILE.part`; only the checkpoint is left to remove.
    Done,
    /// `FILE.part` is gone, and FILE is not this export's result.
    PartMissing,
    /// `FILE.part` is shorter than recorded (this long).
    PartShort(u64),
}

/// The rule for a rerun. The export's last steps are: write a `finished`
/// checkpoint (after `FILE.part` is complete and fsynced), rename
/// `FILE.part` to FILE, remove the checkpoint. Whatever step a crash
/// interrupts, the rerun completes without fetching, writing or duplicating
/// anything:
///
/// - before the `finished` checkpoint: an ordinary resume ([`Next::Continue`]);
/// - between it and the rename: `FILE.part` is complete ([`Next::Rename`]);
/// - between the rename and the removal: `FILE.part` is gone and FILE has
///   the recorded length ([`Next::Done`]). A version 1 checkpoint has no
///   `finished`; there, a missing `FILE.part` with a checkpoint through the
///   end of the range and a FILE at least that long means the same (version
///   1 renamed, then removed the checkpoint, and only the rename takes
///   `FILE.part` away).
pub fn next(state: &Checkpoint, found: Found) -> Next {
    match found.part {
        Some(length) if length < state.bytes => Next::PartShort(length),
        Some(_) if state.finished => Next::Rename,
        Some(_) => Next::Continue,
        None => {
            let renamed = if state.finished {
                found.file == Some(state.bytes)
            } else {
                state.version == 1
                    && state.through >= state.until
                    && found.file.is_some_and(|length| length >= state.bytes)
            };
            if renamed {
                Next::Done
            } else {
                Next::PartMissing
            }
        }
    }
}

/// Reads the checkpoint at `path`, if there is one.
pub fn read(path: &Path) -> Result<Option<Checkpoint>, Failure> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::other(format!(
                "could not read {}: {e}",
                path.display()
            )));
        }
    };
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let unreadable = |e: serde_json::Error| {
        Failure::other(format!(
            "{} is not a checkpoint this version can read ({e}); delete it to start over",
            path.display()
        ))
    };
    let version = serde_json::from_str::<Version>(&text)
        .map_err(unreadable)?
        .version;
    if !READS.contains(&version) {
        return Err(Failure::other(format!(
            "{} has checkpoint version {version}, this tool reads versions 1 to {VERSION}; \
             delete it to start over",
            path.display(),
        )));
    }
    serde_json::from_str(&text).map(Some).map_err(unreadable)
}

/// Writes the checkpoint atomically, as the current version: a temporary
/// file, fsynced, renamed over it.
pub fn write(path: &Path, state: &Checkpoint) -> Result<(), Failure> {
    let state = Checkpoint {
        version: VERSION,
        ..state.clone()
    };
    let temporary = beside(path, ".tmp", false);
    let text = serde_json::to_string_pretty(&state)
        .map_err(|e| Failure::other(format!("could not encode the checkpoint: {e}")))?;
    let result = File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temporary, path));
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(io_failure(path, error));
    }
    sync_dir(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Checkpoint {
        let job = Job {
            contract: 31721060,
            more_contracts: Vec::new(),
            all_contracts: false,
            since: Some("30d".into()),
            until: None,
            format: Format::Ndjson,
            filter: Filter::default(),
            view: None,
            follow: false,
            source: JobSource::Api,
        };
        let since = "2024-01-01T00:00:00Z".parse().unwrap();
        let until = "2024-02-01T00:00:00Z".parse().unwrap();
        let mut state = Checkpoint::new(job, since, until, until);
        state.bytes = 100;
        state
    }

    #[test]
    fn the_command_repeats_every_filter_and_parses_back() {
        use clap::Parser;
        let filter = Filter {
            users: vec!["a@example.com".into()],
            resource_ids: vec!["r-1".into(), "r-2".into()],
            source_ips: vec![
                "192.0.2.0/24".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ],
            request_ids: vec!["q".into()],
            exclude_users: vec!["b@example.com".into()],
            grep: vec!["it's a,b".parse().unwrap(), "^/x$".parse().unwrap()],
            ..Filter::default()
        };
        let job = Job {
            filter: filter.clone(),
            ..state().job
        };
        let command = job.command(Path::new("out.ndjson"));
        assert!(
            command.contains(
                "--resource-id r-1,r-2 --request-id q --exclude-user b@example.com \
                 --source-ip 192.0.2.0/24,2001:db8::1 --grep 'it'\\''s a,b' --grep '^/x$'"
            ),
            "{command}"
        );
        // What a shell would pass for those words.
        let words = [
            "activitylog",
            "entries",
            "31721060",
            "--user",
            "a@example.com",
            "--resource-id",
            "r-1,r-2",
            "--request-id",
            "q",
            "--exclude-user",
            "b@example.com",
            "--source-ip",
            "192.0.2.0/24,2001:db8::1",
            "--grep",
            "it's a,b",
            "--grep",
            "^/x$",
        ];
        let cli = crate::args::Cli::try_parse_from(words).unwrap();
        let crate::args::Command::Entries(args) = cli.command else {
            panic!("not entries")
        };
        assert_eq!(args.filters.to_filter(), filter);
    }

    #[test]
    fn a_table_or_csv_view_is_part_of_the_job_and_repeated() {
        let view = View {
            columns: Some("time,uri".parse().unwrap()),
            zone: crate::output::zone::Zone::named("Asia/Tokyo").unwrap(),
            contract: false,
        };
        assert_eq!(
            JobView::of(Format::Ndjson, &view),
            None,
            "NDJSON is as received"
        );
        assert_eq!(JobView::of(Format::Csv, &View::default()), None);
        let job = Job {
            format: Format::Csv,
            view: JobView::of(Format::Csv, &view),
            ..state().job
        };
        let command = job.command(Path::new("out.csv"));
        assert!(
            command.contains("--format csv --columns time,uri --tz Asia/Tokyo --out"),
            "{command}"
        );
        let local = View {
            zone: crate::output::zone::Zone::Local,
            ..View::default()
        };
        let job = Job {
            view: JobView::of(Format::Table, &local),
            ..job
        };
        assert!(job.command(Path::new("t")).contains(" --local --out"));
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
        let old = serde_json::to_string(&state().job).unwrap();
        assert!(!old.contains("view"), "{old}");
    }

    #[test]
    fn a_job_of_several_contracts_repeats_them_and_knows_which_are_pending() {
        let several = |contracts: &[u64], all_contracts| Job {
            contract: contracts[0],
            more_contracts: contracts[1..].to_vec(),
            all_contracts,
            ..state().job
        };
        let job = several(&[12345678, 31721060, 98765432], false);
        assert_eq!(job.contracts(), [12345678, 31721060, 98765432]);
        let command = job.command(Path::new("out.ndjson"));
        assert!(
            command.starts_with("activitylog entries 12345678 31721060 98765432 --since 30d"),
            "{command}"
        );
        let all = several(&[12345678, 31721060], true);
        assert!(
            all.command(Path::new("o"))
                .starts_with("activitylog entries --all-contracts --since")
        );
        assert_ne!(
            all,
            several(&[12345678], true),
            "another list is another job"
        );

        let mut progress = Checkpoint { job, ..state() };
        assert_eq!(progress.pending(), [12345678, 31721060, 98765432]);
        progress.contract = Some(31721060);
        assert_eq!(progress.pending(), [31721060, 98765432]);
        let json = serde_json::to_string(&progress).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), progress);
        let one = serde_json::to_string(&state()).unwrap();
        assert!(
            !one.contains("contracts") && !one.contains("\"contract\":null"),
            "one contract's checkpoint reads as version 2 did: {one}"
        );
    }

    const fn found(part: Option<u64>, file: Option<u64>) -> Found {
        Found { part, file }
    }

    #[test]
    fn an_unfinished_checkpoint_continues_from_its_part() {
        let state = state();
        assert_eq!(next(&state, found(Some(100), None)), Next::Continue);
        assert_eq!(next(&state, found(Some(150), Some(7))), Next::Continue);
        assert_eq!(next(&state, found(Some(99), None)), Next::PartShort(99));
        assert_eq!(next(&state, found(None, None)), Next::PartMissing);
        assert_eq!(
            next(&state, found(None, Some(100))),
            Next::PartMissing,
            "a FILE beside an unfinished version 2 checkpoint is an older export's"
        );
    }

    #[test]
    fn a_finished_checkpoint_renames_or_is_done() {
        let state = Checkpoint {
            finished: true,
            ..state()
        };
        assert_eq!(next(&state, found(Some(100), Some(5))), Next::Rename);
        assert_eq!(next(&state, found(Some(120), None)), Next::Rename);
        assert_eq!(next(&state, found(None, Some(100))), Next::Done);
        assert_eq!(next(&state, found(None, Some(101))), Next::PartMissing);
        assert_eq!(next(&state, found(None, None)), Next::PartMissing);
    }

    #[test]
    fn a_version_1_checkpoint_left_after_the_rename_is_done() {
        let mut state = Checkpoint {
            version: 1,
            started: None,
            ..state()
        };
        assert_eq!(next(&state, found(None, Some(100))), Next::PartMissing);
        state.through = state.until;
        assert_eq!(
            next(&state, found(None, Some(103))),
            Next::Done,
            "a json trailer"
        );
        assert_eq!(next(&state, found(None, Some(99))), Next::PartMissing);
        assert_eq!(next(&state, found(Some(100), Some(100))), Next::Continue);
    }

    #[test]
    fn version_1_checkpoints_are_read_and_rewritten_as_version_2() {
        let dir =
            std::env::temp_dir().join(format!("activitylog-checkpoint-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.ndjson.checkpoint");
        let mut old = serde_json::to_value(state()).unwrap();
        let object = old.as_object_mut().unwrap();
        for field in ["started", "omitted", "finished"] {
            object.remove(field);
        }
        object.insert("version".into(), 1.into());
        fs::write(&path, old.to_string()).unwrap();
        let read_back = read(&path).unwrap().unwrap();
        assert_eq!((read_back.version, read_back.started), (1, None));
        assert!(!read_back.finished && read_back.omitted.is_empty());

        write(&path, &read_back).unwrap();
        assert_eq!(read(&path).unwrap().unwrap().version, VERSION);

        fs::write(&path, r#"{"version": 9}"#).unwrap();
        let message = read(&path).unwrap_err().message();
        assert!(message.contains("version 9"), "{message}");
        let _ = fs::remove_dir_all(&dir);
    }
}
