//! The pure parts of the end-to-end benchmark: statistics, the targets,
//! the windows both baselines page, and the report
//! (`docs/benchmarks.md` and its SVG chart).
//!
//! The driver (`src/main.rs`) runs the processes and fills a [`Report`];
//! everything here only computes and formats, so it is unit-tested.

pub mod chart;
pub mod plan;
pub mod report;

/// The contract every client exports.
pub const CONTRACT: &str = "31721060";

/// `activitylog sandbox --end`: where the sandbox's entries end.
pub const DATA_END: &str = "2022-01-01T00:00:00Z";

/// `activitylog sandbox --span`: how long before [`DATA_END`] they begin,
/// so that they all lie in 2021.
pub const DATA_SPAN: &str = "365d";

/// The start of the range every client exports (`--since`): ten years
/// around the one year of data, as a user who does not know where the
/// entries lie would ask.
pub const RANGE_SINCE: &str = "2020-01-01T00:00:00Z";

/// The end of that range (`--until`).
pub const RANGE_UNTIL: &str = "2030-01-01T00:00:00Z";

/// One timed run of one client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Wall time in seconds (for the transfer floor: its transfer only).
    pub wall: f64,
    /// User plus system CPU time of the client process, in seconds.
    pub cpu: f64,
    /// Peak resident set size of the client process, in KiB.
    pub rss_kib: u64,
    /// Requests the client says it sent (the baselines only).
    pub requests: Option<u64>,
}

/// Which program downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `baseline-floor`: every page's bytes, sequentially, parsed by nobody.
    Floor,
    /// `baseline-plain`: sequential pages through `serde_json::Value`.
    Plain,
    /// `activitylog entries --format ndjson --out FILE --concurrency N`.
    Export {
        /// `--concurrency`.
        concurrency: u16,
    },
}

impl Client {
    /// The name in tables and the chart.
    pub fn label(self) -> String {
        match self {
            Client::Floor => "transfer floor".into(),
            Client::Plain => "plain sequential client".into(),
            Client::Export { concurrency } => format!("activitylog, concurrency {concurrency}"),
        }
    }
}

/// The runs of one client in one setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Who downloaded.
    pub client: Client,
    /// Events in the sandbox (all of them are downloaded).
    pub events: usize,
    /// Latency the sandbox added to every request, in milliseconds.
    pub latency_ms: u64,
    /// One sample per run.
    pub samples: Vec<Sample>,
}

impl Series {
    /// Median wall time in seconds.
    pub fn wall(&self) -> f64 {
        median(self.samples.iter().map(|s| s.wall))
    }

    /// Median CPU time in seconds.
    pub fn cpu(&self) -> f64 {
        median(self.samples.iter().map(|s| s.cpu))
    }

    /// Median peak RSS in MiB.
    pub fn rss_mib(&self) -> f64 {
        median(self.samples.iter().map(|s| s.rss_kib as f64 / 1024.0))
    }

    /// The requests every run sent, when the client counts them and every
    /// run sent as many.
    pub fn requests(&self) -> Option<u64> {
        let first = self.samples.first()?.requests?;
        self.samples
            .iter()
            .all(|s| s.requests == Some(first))
            .then_some(first)
    }

    /// Fastest and slowest wall time.
    pub fn wall_range(&self) -> (f64, f64) {
        self.samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                (lo.min(s.wall), hi.max(s.wall))
            })
    }
}

/// The median (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// `ours / theirs` as `0.42×` (two significant digits below 10, none above);
/// `n/a` when either side is missing or zero.
pub fn ratio(ours: f64, theirs: f64) -> String {
    let r = ours / theirs;
    if !r.is_finite() || theirs == 0.0 {
        return "n/a".into();
    }
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// Seconds with a precision that suits them: `0.412 s`, `3.41 s`, `41.2 s`.
pub fn seconds(value: f64) -> String {
    if !value.is_finite() {
        "n/a".into()
    } else if value < 1.0 {
        format!("{value:.3} s")
    } else if value < 10.0 {
        format!("{value:.2} s")
    } else {
        format!("{value:.1} s")
    }
}

/// The machine and the conditions of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory in MiB.
    pub memory_mib: u64,
    /// `uname -sr`.
    pub kernel: String,
    /// `rustc -V`.
    pub rustc: String,
    /// The commit measured (`+dirty` when the tree had changes).
    pub commit: String,
    /// When the run started (UTC).
    pub date: String,
    /// `/proc/loadavg`'s 1-minute average when the run started and ended.
    pub load_before: f64,
    /// See `load_before`.
    pub load_after: f64,
    /// The highest 1-minute load average seen between runs.
    pub load_max: f64,
    /// Seconds from the first measured run to the last.
    pub measured_seconds: f64,
    /// CPU seconds the machine spent on other processes meanwhile: all busy
    /// time (`/proc/stat`, steal included) minus the benchmark's own
    /// (clients, sandboxes, driver).
    pub other_cpu_seconds: f64,
}

impl Machine {
    /// How many CPUs other processes kept busy on average while measuring.
    pub fn other_cpus(&self) -> f64 {
        if self.measured_seconds > 0.0 {
            (self.other_cpu_seconds / self.measured_seconds).max(0.0)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median([7.0]), 7.0);
        assert!(median([]).is_nan());
    }

    #[test]
    fn ratios_read_well() {
        assert_eq!(ratio(1.0, 4.0), "0.25×");
        assert_eq!(ratio(3.0, 2.0), "1.5×");
        assert_eq!(ratio(50.0, 2.0), "25×");
        assert_eq!(ratio(1.0, 0.0), "n/a");
        assert_eq!(ratio(f64::NAN, 1.0), "n/a");
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(seconds(0.4123), "0.412 s");
        assert_eq!(seconds(3.413), "3.41 s");
        assert_eq!(seconds(41.23), "41.2 s");
    }

    #[test]
    fn series_medians() {
        let series = Series {
            client: Client::Plain,
            events: 10,
            latency_ms: 0,
            samples: [(3.0, 2048), (1.0, 1024), (2.0, 4096)]
                .map(|(wall, rss_kib)| Sample {
                    wall,
                    cpu: wall / 2.0,
                    rss_kib,
                    requests: Some(21),
                })
                .to_vec(),
        };
        assert_eq!(series.requests(), Some(21));
        assert_eq!(series.wall(), 2.0);
        assert_eq!(series.cpu(), 1.0);
        assert_eq!(series.rss_mib(), 2.0);
        assert_eq!(series.wall_range(), (1.0, 3.0));
        let mut uneven = series.clone();
        uneven.samples[1].requests = Some(22);
        assert_eq!(uneven.requests(), None);
    }
}
