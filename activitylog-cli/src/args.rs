//! The command line: flags, subcommands and their help texts.

use std::path::PathBuf;
use std::time::Duration;

use activitylog_client::{ActivityLog, DateBound, Entries, RangeError, SyncOptions};
use activitylog_sandbox::TotalForm;
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::error::Failure;
use crate::filter::{Filter, Network, Pattern};
use crate::output::columns::Columns;
use crate::output::zone::Zone;
use crate::output::{Format, View};
use crate::when::When;

const ABOUT: &str =
    "Read the IONOS Cloud Activity Log: who did what, when, from where, to which resource.";

const LONG_ABOUT: &str = "\
Read the IONOS Cloud Activity Log: who did what, when, from where, to which resource.

Credentials come from the environment (or --token-stdin), never from a flag:
  IONOS_TOKEN                     a token (works with 2-factor authentication), or
  IONOS_USERNAME, IONOS_PASSWORD  Basic auth (not for 2-factor accounts)
  IONOS_API_URL                   the API (default https://api.ionos.com)
  IONOS_LOG_LEVEL                 off, debug or trace (headers, Authorization redacted, and
                                  bodies): the SDK's log on stderr (without -v)
  IONOS_PINNED_CERT               SHA-256 (hex) of a server certificate to trust
  HTTPS_PROXY, NO_PROXY           proxies, as curl reads them (plain http via a proxy: refused)
  IONOS_CONTRACT_NUMBER           the contract `entries` reads when given none (a CONTRACT wins)
or else from a profile of the IONOS config file (the one ionosctl and the IONOS SDKs read):
  IONOS_CONFIG_FILE               the file (default ~/.ionos/config, or ~/.ionos/config.yaml)
  IONOS_CURRENT_PROFILE           the profile, unless --profile names one (else currentProfile)
  (its environment's certificateAuthData adds a trusted CA; skipTlsVerify: true warns each run)
Flags win over the environment, the environment over the file. `activitylog config` shows what
is in force and where each setting comes from.

Try it without an account: --sandbox runs every command against a built-in fake of the API.";

const EXAMPLES: &str = "\
Examples:
  activitylog --sandbox entries 31721060 --since 30d       try it on the built-in sandbox
  activitylog contracts                                    the contracts you can read
  activitylog entries 31721060 --since 7d                  last week's events, as a table
  activitylog entries 31721060 --since 2024-01-01 --until 2024-04-01 --out q1.ndjson --resume
  activitylog entries 31721060 --since 24h --action vr.server --status FAILED
  activitylog entries 111 222 --since 30d --out both.ndjson    several contracts, one file
  activitylog entries --all-contracts --since 7d               every contract you can read
  activitylog summary 31721060 --since 30d --by user,day --html report.html
  echo \"$TOKEN\" | activitylog --token-stdin info

Exit codes: 0 success, 2 bad usage (flags, dates, contract numbers, an --out FILE another run is
writing), 1 anything else, 130 Ctrl-C (SIGINT), 143 SIGTERM.";

const ENTRIES_LONG_ABOUT: &str = "\
List or export the entries of one or more contracts' activity logs in a time range.

The contracts: the CONTRACT numbers given, in that order, or --all-contracts (every one
`activitylog contracts` lists, in ascending order). Given none, IONOS_CONTRACT_NUMBER names it,
else the only contract the credentials can read is used (stderr says which); when they can read
several, the run exits 2 listing them. Several contracts make one output (NDJSON as each alone,
one after the other; one JSON array; one CSV header; one table, with a CONTRACT column; -n counts
across them), and are checked first: one the credentials cannot read fails the run before anything
is written. --follow tails one contract.

Every entry in the range is fetched exactly once, however many there are: the range is cut into
windows the API can page through, pages are fetched in parallel and retried when they fail, and a
download that cannot be made complete fails with a message saying what is missing.

WHEN is a date (2024-05-01, midnight UTC), an RFC 3339 instant (2024-05-01T12:00:00Z), a duration
back from now (7d, 12h, 30m, 2w) or `now`. --since is inclusive, --until exclusive; without
--since the last 90 days are read.

Entries become visible a while after their timestamp, so without --until the range ends --settle
(2 minutes) before now: an entry still on its way is not missed, and a checkpoint never covers time
that may still fill in. Run again later (or --resume a new file) for what came after. An explicit
--until is honoured as given.

Output goes to stdout (a table on a terminal, NDJSON when piped), page by page as the entries
arrive (`| head` stops the download), or, with --out FILE, to a temporary file renamed to FILE
when the export is complete: a FILE that exists is complete. One run at a time writes a FILE
(FILE.lock); a second one exits 2. Ctrl-C or SIGTERM stops an export and removes what it wrote.
With --resume, an interrupted export (Ctrl-C, SIGTERM, a network failure, a crash) keeps FILE.part
and FILE.checkpoint; running the same command again says so and continues where it stopped.

An entry that cannot be shown (it does not decode, and the table, CSV or a filter needs it
decoded) is never dropped silently: the others are written, then the run fails naming it.

Filters are applied to the downloaded entries: repeat a filter (or separate values with commas)
to accept any of its values; entries must pass every filter given; case is ignored. -n stops
after that many entries, fetching no more.

--tz, --local and --columns change only the table and CSV: NDJSON and JSON stay exactly as
received.";

/// `activitylog`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "activitylog",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The API's base URL [default: $IONOS_API_URL, else the config file profile's endpoint,
    /// else https://api.ionos.com].
    #[arg(long, global = true, value_name = "URL", conflicts_with = "sandbox")]
    pub api_url: Option<String>,

    /// Read a token from the first line of stdin instead of IONOS_TOKEN.
    #[arg(long, global = true, conflicts_with = "sandbox")]
    pub token_stdin: bool,

    /// The profile of the IONOS config file to use [default: $IONOS_CURRENT_PROFILE, else the
    /// file's currentProfile].
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "sandbox")]
    pub profile: Option<String>,

    /// Start the built-in sandbox on 127.0.0.1 and run the command against it
    /// (10,000 generated entries in contract 31721060; see `activitylog sandbox`).
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// Output format [default: table on a terminal, else ndjson; with --out, from FILE's
    /// extension].
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Log to stderr: -v what happens (retries included), -vv details (windows, checkpoints), -vvv HTTP internals.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Show the API's name and version (a quick check of URL and credentials).
    Info,
    /// List the contracts the credentials may read.
    Contracts,
    /// List or export the entries of one or more contracts in a time range.
    #[command(long_about = ENTRIES_LONG_ABOUT)]
    Entries(EntriesArgs),
    /// Count a contract's entries in a time range by user, action, day, ...
    #[command(long_about = SUMMARY_LONG_ABOUT)]
    Summary(SummaryArgs),
    /// Archive contracts' entries into a database (SQLite, PostgreSQL) or a lake, incrementally.
    #[command(long_about = SYNC_LONG_ABOUT)]
    Sync(SyncArgs),
    /// Check a lake against its manifest chain: every object as committed, none missing, none added.
    #[cfg(feature = "lake")]
    Verify(VerifyArgs),
    /// Serve the sandbox (a local fake of the API) until Ctrl-C.
    #[command(
        long_about = "Serve the sandbox, a local fake of the Activity Log API with generated \
                      entries, until Ctrl-C. Prints `export` lines with its URL and credentials, \
                      so that other tools \
                      (or another shell) can use it."
    )]
    Sandbox(SandboxArgs),
    /// Show the settings in force (URL, profile, credentials redacted) and where each comes from.
    Config,
    /// Answer AI assistants' questions about the entries over the Model Context Protocol (read-only).
    #[cfg(feature = "mcp")]
    #[command(long_about = MCP_LONG_ABOUT)]
    Mcp(McpArgs),
    /// Print a shell completion script (e.g. `activitylog completions bash > /etc/bash_completion.d/activitylog`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

const SYNC_LONG_ABOUT: &str = "\
Archive the entries of one or more contracts into a database, to keep them longer than the
service does and query them offline (`activitylog entries CONTRACT --db URL` reads them back).

--db is sqlite:PATH (a file, created when missing) or postgres://USER[:PASSWORD]@HOST/DATABASE.
Without --db the archive is $XDG_DATA_HOME/activitylog/archive.sqlite (or the platform's data
directory); its path is printed when it is created.

Each contract's archive records the instant it is complete up to (never later than --settle
before now); the next sync starts there, one hour earlier to catch late entries. The first sync
takes the last 90 days unless --since says otherwise. An entry is stored once however often it is
fetched, and every download window commits together with its progress: an interrupted sync
(Ctrl-C, a crash, a lost network) keeps what it committed, and the next one goes on from there.

A lake (file:///DIR or s3://BUCKET/PREFIX; built with --features lake) is Parquet under
contract=N/day=YYYY-MM-DD/ that DuckDB and Spark read as it is. Every commit writes new objects
only, recorded in a hash chain under _manifest/ (`activitylog verify --db LAKE` checks it); an
object is visible to readers only once committed, so each entry is seen once, even after a
crash.";

#[cfg(feature = "mcp")]
const MCP_LONG_ABOUT: &str = "\
Serve the Model Context Protocol to an AI assistant: over stdio (the assistant starts
`activitylog mcp` and talks on its stdin and stdout), or over streamable HTTP on this machine with
--listen 127.0.0.1:PORT. Read-only: its tools list contracts, search and count entries, fetch one
entry and describe one user's activity, from the API (credentials, profile and TLS as for every
command) or from an archive (--db). Every answer fits --max-answer-bytes and says when it was cut.";

/// `activitylog mcp`.
#[cfg(feature = "mcp")]
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Answer from this archive (sqlite:PATH or postgres://...) instead of the API.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Serve streamable HTTP on this loopback address (127.0.0.1:PORT; port 0 picks one) instead
    /// of stdio.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// The largest answer a tool gives, in bytes of JSON; longer answers are cut and say how to
    /// narrow the question.
    #[arg(long, value_name = "BYTES", default_value_t = 32_000, value_parser = clap::value_parser!(u32).range(2_000..))]
    pub max_answer_bytes: u32,
}

/// `activitylog verify`.
#[cfg(feature = "lake")]
#[derive(Debug, Args)]
#[command(mut_arg("db", |arg| arg.required(true).help(
    "The lake: file:///DIR or s3://BUCKET/PREFIX"
)))]
pub struct VerifyArgs {
    /// The lake: file:///DIR or s3://BUCKET/PREFIX.
    #[command(flatten)]
    pub archive: ArchiveArgs,
}

/// `activitylog sync`.
#[derive(Debug, Args)]
#[command(
    mut_arg("db", |arg| arg.help(
        "The archive: sqlite:PATH or postgres://..., or a lake: file:///DIR or \
         s3://BUCKET/PREFIX [default: archive.sqlite in the user's data directory]"
    )),
    mut_arg("since", |arg| arg.help(
        "Start of the range, inclusive [default: where the archive is complete up to, minus an \
         hour; the first time, 90 days before the end]"
    ))
)]
pub struct SyncArgs {
    /// Which contracts, synced in this order.
    #[command(flatten)]
    pub contracts: ContractArgs,

    /// The archive written.
    #[command(flatten)]
    pub archive: ArchiveArgs,

    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,

    /// How it downloads.
    #[command(flatten)]
    pub download: DownloadArgs,

    /// With a lake: entries held before each commit (what memory holds, and what a killed sync
    /// downloads again) [default: 50000]
    #[cfg(feature = "lake")]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub commit_every: Option<u64>,
}

/// `activitylog entries`.
#[derive(Debug, Args)]
pub struct EntriesArgs {
    /// Which contracts.
    #[command(flatten)]
    pub contracts: ContractArgs,

    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,

    /// After the range, keep polling for new entries until Ctrl-C (each poll
    /// reads up to now minus --settle; `--since now` shows only new ones); with
    /// --out FILE --resume, a rerun continues where a stopped one left off.
    /// One contract only.
    #[arg(long, short, conflicts_with_all = ["all_contracts", "until", "db"])]
    pub follow: bool,

    /// How often --follow polls (10s, 500ms, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval, requires = "follow")]
    pub interval: Duration,

    /// How it downloads.
    #[command(flatten)]
    pub download: DownloadArgs,

    /// The archive read instead of the API.
    #[command(flatten)]
    pub archive: ArchiveArgs,

    /// With --db: read a range that reaches past where the archive is complete (what is
    /// missing is said on stderr) instead of exiting 1.
    #[arg(long, requires = "db")]
    pub partial: bool,

    /// Write to FILE (complete or not at all) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Keep FILE.part and FILE.checkpoint while exporting, and continue an
    /// interrupted export of the same command instead of starting over.
    #[arg(long, requires = "out")]
    pub resume: bool,

    /// Parquet: at most N entries per row group [default: 65536] (a row group
    /// also ends at 4 MiB in memory; --resume checkpoints where one ends).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub row_group_size: Option<u64>,

    /// Stop after writing N entries (after filtering), fetching no more; not with --resume.
    #[arg(short = 'n', long, value_name = "N", conflicts_with = "resume",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Which entries to keep.
    #[command(flatten)]
    pub filters: FilterArgs,

    /// How the table and CSV show them.
    #[command(flatten)]
    pub view: ViewArgs,
}

const SUMMARY_LONG_ABOUT: &str = "\
Count a contract's entries in a time range, grouped by KEYS, over the complete download (the
same engine, range, --settle and filters as `entries`), counting as the entries arrive: memory
grows with the number of groups, never with the entries. WHEN is as for `entries` (2024-05-01,
an RFC 3339 instant, 7d back from now, or now); without --since the last 90 days are counted.

KEYS (comma-separated): user (principal.identity.username), type (event.type), status
(event.status), method (event.param.action, the HTTP method), resource-type and action
(event.resources[].type and .action[]), source-ip (principal.sourceIP), service
(principal.sourceService: the IONOS service used, e.g. PUBLIC_REST_V6 or DCD), day
(2024-05-01) and hour (2024-05-01T13:00), both in UTC unless --tz or --local. A missing value is
its own group (null in JSON, empty in CSV, - in the table). An entry with several resources (or
actions) counts once under each, so with resource-type or action the counts can add up to more
than the entries; the share is of the entries counted.

Each group has its count, its share, how many FAILED (event.status is FAILED; RUNNING or QUEUED
are not failures), and the first and last meta.time seen: RFC 3339 UTC in json, csv and ndjson,
in --tz in the table. Groups are sorted by count, largest first, ties by their values; by day
or hour alone, they are in time order (--top keeps the largest). On a terminal, a summary with
day or hour also draws a bar chart of the entries per day or hour.

--chart FILE.svg writes a timeline of the entries per day or hour, stacked by status; --html
FILE.html a report that needs no network (timeline, top users, top actions, failed requests,
source IPs per user). Their bucket is hour when --by has hour, or the range is at most 72 hours,
else day. Files are written completely or not at all.";

/// `activitylog summary`.
#[derive(Debug, Args)]
#[command(mut_arg("db", |arg| arg.help(
    "Count from an archive written by `activitylog sync` (sqlite:PATH or postgres://...) \
     instead of the API: offline, any range up to where the archive is complete (see \
     `entries --db`)"
)))]
pub struct SummaryArgs {
    /// Which contracts (several are counted together).
    #[command(flatten)]
    pub contracts: ContractArgs,

    /// The archive read instead of the API.
    #[command(flatten)]
    pub archive: ArchiveArgs,

    /// With --db: count a range that reaches past where the archive is complete (what is
    /// missing is said on stderr) instead of exiting 1.
    #[arg(long, requires = "db")]
    pub partial: bool,

    /// What to group by, comma-separated: user, type, status, method, resource-type, action,
    /// source-ip, service, day, hour.
    #[arg(long, value_name = "KEYS", required = true, value_parser = parse_keys)]
    pub by: Keys,

    /// Keep only the N largest groups.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,

    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,

    /// How it downloads.
    #[command(flatten)]
    pub download: DownloadArgs,

    /// Days, hours and the table's times in this IANA time zone (Europe/Berlin) instead of UTC.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub tz: Option<Zone>,

    /// Days, hours and the table's times in this machine's time zone instead of UTC.
    #[arg(long, conflicts_with = "tz")]
    pub local: bool,

    /// Also write an SVG timeline of the entries per day or hour, stacked by status.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,

    /// Also write a one-file HTML report (no network needed to open it).
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// Which entries to count.
    #[command(flatten)]
    pub filters: FilterArgs,
}

impl SummaryArgs {
    /// The zone of days, hours and table times.
    pub fn zone(&self) -> Zone {
        match (self.tz, self.local) {
            (Some(zone), _) => zone,
            (None, true) => Zone::Local,
            (None, false) => Zone::Utc,
        }
    }
}

/// The keys of `--by`, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys(pub Vec<activitylog_client::summary::Key>);

fn parse_keys(text: &str) -> Result<Keys, String> {
    activitylog_client::summary::Key::list(text).map(Keys)
}

/// The range a command reads: `--since` and `--until`.
#[derive(Debug, Args, Clone, Default)]
pub struct RangeArgs {
    /// Start of the range, inclusive [default: 90 days before the end].
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<When>,

    /// End of the range, exclusive [default: now minus --settle].
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<When>,
}

impl RangeArgs {
    /// `--since` and `--until` against `now` (a usage error when one does
    /// not resolve).
    pub fn bounds(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Option<DateBound>, Option<DateBound>), Failure> {
        Ok((
            resolve(self.since.as_ref(), now)?,
            resolve(self.until.as_ref(), now)?,
        ))
    }

    /// The words for a range the SDK's [`RangeRule`](activitylog_client::RangeRule)
    /// refuses: in terms of these flags and `--settle`.
    pub fn refusal(&self, error: RangeError, settle: Duration) -> Failure {
        match error {
            RangeError::NotSettled { .. } => Failure::usage(format!(
                "--since {} is less than --settle {} ago, and entries that young may not be \
                 visible yet: use an earlier --since, a shorter --settle, or an explicit --until",
                self.since.as_ref().map(When::text).unwrap_or_default(),
                humantime::format_duration(settle)
            )),
            RangeError::SettleTooFar { .. } => Failure::usage(format!(
                "--settle {} reaches back too far: the earliest moment is 0000-01-01",
                humantime::format_duration(settle)
            )),
            other => Failure::from(activitylog_client::Error::from(other)),
        }
    }
}

/// Resolves a `WHEN` argument against the command's `now`.
fn resolve(when: Option<&When>, now: DateTime<Utc>) -> Result<Option<DateBound>, Failure> {
    when.map(|w| w.resolve(now).map_err(Failure::usage))
        .transpose()
}

fn parse_when(text: &str) -> Result<When, String> {
    text.parse()
}

/// How a command downloads from the API: `--settle`, `--page-size` and
/// `--concurrency`.
#[derive(Debug, Args, Clone)]
pub struct DownloadArgs {
    /// How long entries take to become visible after their timestamp (30s, 2m, 1h): without
    /// --until the range ends this long before now.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_settle)]
    pub settle: Duration,

    /// Entries asked for per request (the API sends at most 1000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: Option<u32>,

    /// Requests in flight at once [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: Option<u16>,
}

impl DownloadArgs {
    /// The download of `contract` these flags configure, its range still
    /// to set.
    pub fn entries(&self, log: &ActivityLog, contract: u64) -> Entries {
        let mut entries = log.entries(contract).settle(self.settle);
        if let Some(size) = self.page_size {
            entries = entries.page_size(size);
        }
        if let Some(pages) = self.concurrency {
            entries = entries.concurrency(usize::from(pages));
        }
        entries
    }

    /// What a sync of any store is asked by these flags, its range still
    /// to set.
    pub fn sync_options(&self) -> SyncOptions {
        let mut options = SyncOptions::default().settle(self.settle);
        if let Some(size) = self.page_size {
            options = options.page_size(size);
        }
        if let Some(pages) = self.concurrency {
            options = options.concurrency(usize::from(pages));
        }
        options
    }
}

fn parse_settle(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        format!("`{text}` is not a duration: use e.g. 2m, 30s or 1h (0 reads up to now)")
    })
}

/// Where the archive is: `--db URL` (`activitylog sync` writes it,
/// `entries` and `summary` read it).
#[derive(Debug, Args, Clone, Default)]
pub struct ArchiveArgs {
    /// Read the entries from an archive (sqlite:PATH or postgres://...) or a lake (file:///DIR or
    /// s3://BUCKET/PREFIX), see `activitylog sync`, instead of the API: offline, any range up to where the archive is complete (without
    /// --since, everything archived, entries without a readable time last; without --until, up
    /// to where it is complete).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,

    /// How an `s3://` lake is reached.
    #[cfg(feature = "lake")]
    #[command(flatten)]
    pub s3: S3Args,
}

/// Where an `s3://` lake's endpoint is; the credentials come from
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or an `AWS_PROFILE`.
#[cfg(feature = "lake")]
#[derive(Debug, Args, Clone, Default)]
pub struct S3Args {
    /// The S3 endpoint of an s3:// lake (e.g. http://127.0.0.1:3900) [default: $AWS_ENDPOINT_URL,
    /// else IONOS Object Storage in --s3-region]
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// The S3 region: signs the requests and names the IONOS endpoint (eu-central-1 is
    /// https://s3.eu-central-1.ionoscloud.com; also eu-central-2, eu-central-3, eu-south-2)
    /// [default: $AWS_REGION, else eu-central-1]
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
}

#[cfg(feature = "lake")]
impl S3Args {
    /// The lake's S3 options.
    pub fn options(&self) -> activitylog_lake::S3Options {
        activitylog_lake::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
        }
    }
}

/// The contracts a command reads: CONTRACT arguments or `--all-contracts`;
/// neither means `IONOS_CONTRACT_NUMBER`, else the only contract the
/// credentials can read (`crate::which_contracts::readable_by`).
#[derive(Debug, Args, Clone, Default)]
pub struct ContractArgs {
    /// The contract numbers, read in this order (`activitylog contracts` lists them)
    /// [default: $IONOS_CONTRACT_NUMBER, else the only contract the credentials can read].
    #[arg(value_name = "CONTRACT", value_parser = parse_contract)]
    pub numbers: Vec<u64>,
    /// Read every contract the credentials can read, in ascending order.
    #[arg(long, conflicts_with = "numbers")]
    pub all_contracts: bool,
}

/// How the table and CSV show entries; NDJSON and JSON stay exactly as received.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "View (table and CSV)")]
pub struct ViewArgs {
    /// Show times in this IANA time zone (Europe/Berlin, Asia/Tokyo) instead of UTC.
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub tz: Option<Zone>,
    /// Show times in this machine's time zone instead of UTC.
    #[arg(long, conflicts_with = "tz")]
    pub local: bool,
    /// Show these columns, in this order, by their CSV names (time,user,uri,...; `--help`
    /// lists them).
    #[arg(long, value_name = "NAME,...", value_parser = parse_columns)]
    pub columns: Option<Columns>,
}

impl ViewArgs {
    /// The view these flags describe.
    pub fn to_view(&self) -> View {
        let zone = match (self.tz, self.local) {
            (Some(zone), _) => zone,
            (None, true) => Zone::Local,
            (None, false) => Zone::Utc,
        };
        View {
            columns: self.columns.clone(),
            zone,
            contract: false,
        }
    }
}

/// Client-side filters. Values of one flag are alternatives (repeat the flag
/// or separate with commas); different flags must all match; case is ignored.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Keep entries of this event type (RequestAccepted, RequestStatusUpdate, Provision, ...).
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Drop entries of this event type.
    #[arg(long = "exclude-type", value_name = "TYPE", value_delimiter = ',')]
    pub exclude_types: Vec<String>,
    /// Keep entries by this user name (e-mail address).
    #[arg(long = "user", value_name = "USER", value_delimiter = ',')]
    pub users: Vec<String>,
    /// Keep entries with this status (DONE, FAILED, RUNNING, QUEUED, ...).
    #[arg(long = "status", value_name = "STATUS", value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Keep entries touching a resource of this type (server, datacenter, ...).
    #[arg(long = "resource-type", value_name = "TYPE", value_delimiter = ',')]
    pub resource_types: Vec<String>,
    /// Keep entries with a resource action starting with this (`vr.` or `sec.user.create`).
    #[arg(long = "action", value_name = "PREFIX", value_delimiter = ',')]
    pub actions: Vec<String>,
    /// Keep entries touching the resource with this id.
    #[arg(long = "resource-id", value_name = "ID", value_delimiter = ',')]
    pub resource_ids: Vec<String>,
    /// Keep entries sent from this address or CIDR block (192.0.2.7, 192.0.2.0/24, 2001:db8::/32).
    #[arg(long = "source-ip", value_name = "ADDR|CIDR", value_delimiter = ',', value_parser = parse_network)]
    pub source_ips: Vec<Network>,
    /// Keep entries of this request id (meta.requestId).
    #[arg(long = "request-id", value_name = "ID", value_delimiter = ',')]
    pub request_ids: Vec<String>,
    /// Drop entries by this user name.
    #[arg(long = "exclude-user", value_name = "USER", value_delimiter = ',')]
    pub exclude_users: Vec<String>,
    /// Keep entries whose URI or message matches this regular expression (case ignored;
    /// commas are part of it: repeat the flag for alternatives).
    #[arg(long = "grep", value_name = "REGEX", value_parser = parse_pattern)]
    pub grep: Vec<Pattern>,
}

impl FilterArgs {
    /// The filter these flags describe (empty values are ignored).
    pub fn to_filter(&self) -> Filter {
        let clean = |values: &[String]| {
            values
                .iter()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        Filter {
            types: clean(&self.types),
            exclude_types: clean(&self.exclude_types),
            users: clean(&self.users),
            statuses: clean(&self.statuses),
            resource_types: clean(&self.resource_types),
            actions: clean(&self.actions),
            resource_ids: clean(&self.resource_ids),
            source_ips: self.source_ips.clone(),
            request_ids: clean(&self.request_ids),
            exclude_users: clean(&self.exclude_users),
            grep: self.grep.clone(),
        }
    }
}

/// `activitylog sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Entries in the main contract 31721060 (12345678 gets a fifth, 98765432 a tenth).
    #[arg(long, value_name = "N", default_value_t = activitylog_sandbox::DEFAULT_EVENTS)]
    pub events: usize,
    /// Fraction of requests that fail on purpose (429, 5xx, resets, cut bodies), 0 to 1.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub faults: f64,
    /// Delay added to every response, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Seed of the generated data.
    #[arg(long, value_name = "N", default_value_t = activitylog_sandbox::DEFAULT_SEED)]
    pub seed: u64,
    /// Report at most N as a page's total, as Elasticsearch stops counting at 10,000 (the entries are still served).
    #[arg(long, value_name = "N")]
    pub total_cap: Option<usize>,
    /// How a page's total is written: a number (Elasticsearch 6) or {value, relation} (Elasticsearch 7 and later).
    #[arg(long, value_enum, value_name = "FORM", default_value_t = TotalFormArg::Integer)]
    pub total_form: TotalFormArg,
    /// Make each page's total off the true count by up to N either way, still as exact, as a live count that changes between pages.
    #[arg(long, value_name = "N")]
    pub total_jitter: Option<usize>,
    /// Refuse pages past offset + limit = N with Elasticsearch's 400 ("Result window is too large … [N]").
    #[arg(long, value_name = "N", default_value_t = activitylog_sandbox::DEFAULT_RESULT_WINDOW)]
    pub result_window: usize,
    /// Refuse pages past the result window without saying how deep the service pages.
    #[arg(long)]
    pub result_window_unstated: bool,
    /// Fraction of entry pages answered 200 with something else (maintenance HTML, {}, no hits, no total, text/plain), as a gateway or broken backend does, 0 to 1.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub bad_pages: f64,
    /// Serve entries in index order instead of by time, as Elasticsearch does without a sort.
    #[arg(long)]
    pub unordered: bool,
    /// Show each entry only after its own delay of up to DURATION (30s, 2m), as the ingestion pipeline delays entries.
    #[arg(long, value_name = "DURATION", value_parser = parse_lag)]
    pub ingestion_lag: Option<std::time::Duration>,
    /// Ignore fractions of seconds in dateStart and dateEnd, as a service with second precision would.
    #[arg(long)]
    pub whole_second_dates: bool,
    /// Add an entry stamped now to contract 31721060 at this interval (1s, 50ms), as a live
    /// log grows: something for `entries --follow` to show.
    #[arg(long, value_name = "DURATION", value_parser = parse_live)]
    pub live: Option<std::time::Duration>,
    /// Serve HTTPS with a CA and certificate generated at start; prints the pin (IONOS_PINNED_CERT) and the CA (base64, for certificateAuthData). Needs a build with `--features sandbox-tls`.
    #[arg(long)]
    pub tls: bool,
    /// Add COUNT entries to contract 31721060 within the second of INSTANT (RFC 3339), as a burst of automation would; repeatable.
    #[arg(long, value_name = "INSTANT=COUNT", value_parser = parse_burst)]
    pub burst: Vec<Burst>,
    /// End of the generated entries (RFC 3339, e.g. 2022-01-01T00:00:00Z) [default: now].
    #[arg(long, value_name = "INSTANT", value_parser = parse_end)]
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// How long before --end the generated entries begin (e.g. 365d, 12h).
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_span)]
    pub span: chrono::TimeDelta,
    /// Run the service's clock DURATION ahead of this machine's (-5m: behind): its Date header, live entries, the ingestion lag and the default --end.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_clock_offset)]
    pub clock_offset: Option<chrono::TimeDelta>,
    /// Send TEXT as Retry-After with the 429 and 503 answers of --faults (which then fail only so): a number of seconds, an HTTP date, anything.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub retry_after: Option<String>,
}

/// `--total-form`: how the sandbox writes a page's `hits.total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TotalFormArg {
    /// `"total": 1234`, as the live service answers today.
    Integer,
    /// `"total": {"value": 1234, "relation": "eq"}` (`gte` when capped by --total-cap).
    Tracked,
}

impl From<TotalFormArg> for TotalForm {
    fn from(form: TotalFormArg) -> Self {
        match form {
            TotalFormArg::Integer => TotalForm::Integer,
            TotalFormArg::Tracked => TotalForm::Tracked,
        }
    }
}

/// `--burst INSTANT=COUNT`: COUNT extra entries inside the second of INSTANT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Any instant in the crowded second.
    pub at: DateTime<Utc>,
    /// How many entries it gets.
    pub count: usize,
}

/// Parses `--ingestion-lag`: a duration such as `300ms`, `30s` or `2m`.
pub fn parse_lag(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): use e.g. 300ms, 30s or 2m"))
}

/// Parses `--burst`: an RFC 3339 instant, `=`, and a positive count.
pub fn parse_burst(text: &str) -> Result<Burst, String> {
    let usage = || format!("`{text}` is not INSTANT=COUNT: use e.g. 2024-05-01T10:00:00Z=5000");
    let (instant, count) = text.rsplit_once('=').ok_or_else(usage)?;
    let at = DateTime::parse_from_rfc3339(instant.trim())
        .map_err(|e| {
            format!(
                "`{instant}` is not an RFC 3339 instant ({e}): use e.g. 2024-05-01T10:00:00Z=5000"
            )
        })?
        .with_timezone(&Utc);
    match count.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(Burst { at, count }),
        _ => Err(format!(
            "`{count}` is not a count: use a positive number, e.g. 2024-05-01T10:00:00Z=5000"
        )),
    }
}

/// Parses `--end`: an RFC 3339 instant.
pub fn parse_end(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|end| end.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 instant ({e}): use e.g. 2022-01-01T00:00:00Z")
        })
}

/// Parses `--span`: a positive duration such as `365d` or `12h`.
pub fn parse_span(text: &str) -> Result<TimeDelta, String> {
    let usage = "use a positive duration, e.g. 365d or 12h";
    let span = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): {usage}"))?;
    match TimeDelta::from_std(span) {
        Ok(span) if span.is_zero() => Err(format!("`{text}` is no time: {usage}")),
        Ok(span) if span <= TimeDelta::days(365 * 1000) => Ok(span),
        _ => Err(format!("`{text}` is too long: {usage}, at most 1000 years")),
    }
}

/// Parses `--clock-offset`: a duration such as `5m`, or `-5m` for a service
/// clock behind this machine's.
pub fn parse_clock_offset(text: &str) -> Result<TimeDelta, String> {
    let usage = "use a duration, e.g. 5m, or -5m for a service clock behind this machine's";
    let trimmed = text.trim();
    let (behind, amount) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let offset = humantime::parse_duration(amount.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): {usage}"))?;
    match TimeDelta::from_std(offset) {
        Ok(offset) if offset <= TimeDelta::days(365 * 100) => {
            Ok(if behind { -offset } else { offset })
        }
        _ => Err(format!("`{text}` is too far: {usage}, at most 100 years")),
    }
}

/// Parses a contract number: a positive integer.
pub fn parse_contract(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(format!(
            "`{text}` is not a contract number: use a positive number such as 31721060 \
             (`activitylog contracts` lists yours)"
        )),
    }
}

fn parse_network(text: &str) -> Result<Network, String> {
    text.parse()
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    text.parse()
}

fn parse_zone(text: &str) -> Result<Zone, String> {
    Zone::named(text)
}

fn parse_columns(text: &str) -> Result<Columns, String> {
    text.parse()
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(interval) if interval >= Duration::from_millis(100) => Ok(interval),
        Ok(_) => Err(format!("`{text}` is too short: poll at most every 100ms")),
        Err(_) => Err(format!(
            "`{text}` is not a duration: use e.g. 10s, 500ms or 1m"
        )),
    }
}

fn parse_live(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(every) if every >= Duration::from_millis(1) => Ok(every),
        Ok(_) => Err(format!("`{text}` is too short: use at least 1ms")),
        Err(_) => Err(format!("`{text}` is not a duration: use e.g. 1s or 50ms")),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate: use a number from 0 to 1, e.g. 0.1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn contract_numbers_are_positive_integers() {
        assert_eq!(parse_contract("31721060"), Ok(31721060));
        for bad in ["abc", "0", "-5", "3.5", ""] {
            assert!(
                parse_contract(bad).unwrap_err().contains("contract number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn filters_split_commas_and_drop_blanks() {
        let cli = Cli::try_parse_from([
            "activitylog",
            "entries",
            "1",
            "--type",
            "A,B",
            "--type",
            "C",
            "--user",
            " ",
            "--action",
            "vr.",
        ])
        .unwrap();
        let Command::Entries(args) = cli.command else {
            panic!("not entries")
        };
        let filter = args.filters.to_filter();
        assert_eq!(filter.types, ["A", "B", "C"]);
        assert!(filter.users.is_empty());
        assert_eq!(filter.actions, ["vr."]);
    }

    #[test]
    fn settle_defaults_to_the_sdk_settle_time() {
        let cli = Cli::try_parse_from(["activitylog", "entries", "1"]).unwrap();
        let Command::Entries(args) = cli.command else {
            panic!("not entries")
        };
        assert_eq!(args.download.settle, activitylog_client::DEFAULT_SETTLE);
        assert_eq!(parse_settle("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_settle("0"), Ok(Duration::ZERO));
        assert!(parse_settle("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn limit_is_positive_and_not_for_resumed_exports() {
        let cli = Cli::try_parse_from(["activitylog", "entries", "1", "-n", "5"]).unwrap();
        let Command::Entries(args) = cli.command else {
            panic!("not entries")
        };
        assert_eq!(args.limit, Some(5));
        for bad in [
            &["-n", "0"][..],
            &["--limit", "-1"],
            &["--limit", "5", "--out", "x.ndjson", "--resume"],
        ] {
            let words = ["activitylog", "entries", "1"].iter().chain(bad);
            assert!(Cli::try_parse_from(words).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resume_needs_an_output_file() {
        let error = Cli::try_parse_from(["activitylog", "entries", "1", "--resume"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn follow_polls_every_10s_by_default_and_takes_no_until() {
        let cli = Cli::try_parse_from(["activitylog", "entries", "1", "-f"]).unwrap();
        let Command::Entries(args) = cli.command else {
            panic!("not entries")
        };
        assert!(args.follow);
        assert_eq!(args.interval, Duration::from_secs(10));
        let with_until =
            Cli::try_parse_from(["activitylog", "entries", "1", "--follow", "--until", "now"]);
        assert_eq!(
            with_until.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let without_follow =
            Cli::try_parse_from(["activitylog", "entries", "1", "--interval", "1s"]);
        assert!(without_follow.is_err());
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_interval("1ms").unwrap_err().contains("too short"));
        assert!(
            parse_interval("often")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
