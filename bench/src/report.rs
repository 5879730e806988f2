//! `docs/benchmarks.md`: method, machine, tables, targets.

use std::fmt::Write;

use crate::chart::thousands;
use crate::{
    CONTRACT, Client, DATA_END, DATA_SPAN, Machine, RANGE_SINCE, RANGE_UNTIL, Series, ratio,
    seconds,
};

/// The concurrency at which the latency target is judged.
pub const LATENCY_CONCURRENCY: u16 = 8;

/// The latency target: activitylog's wall time at most this share of the
/// plain sequential client's.
pub const LATENCY_BAR: f64 = 0.12;

/// The no-latency target: activitylog's wall time at most this multiple of
/// the transfer floor's, at its best concurrency.
pub const FLOOR_BAR: f64 = 1.5;

/// Everything one benchmark run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// `--quick`: a smoke test, not the published configuration.
    pub quick: bool,
    /// Runs per setting.
    pub runs: usize,
    /// Events in the sandbox for the speed runs.
    pub events: usize,
    /// Added latencies of the speed runs, in milliseconds.
    pub latencies: Vec<u64>,
    /// `--concurrency` values of the speed runs.
    pub concurrency: Vec<u16>,
    /// Windows in the plan both baselines page.
    pub windows: usize,
    /// Requests each baseline sends to page them (checked on every run).
    pub requests: u64,
    /// The speed runs: every client at every latency.
    pub speed: Vec<Series>,
    /// What activitylog asked the service for, counted once.
    pub traffic: Option<Traffic>,
    /// The memory runs: exports of different sizes at 0 ms.
    pub memory: Vec<Series>,
    /// Where and when.
    pub machine: Machine,
    /// The command that produced the report.
    pub command: String,
    /// The chart's file name, beside the report.
    pub chart: String,
    /// How long the whole benchmark took, in seconds.
    pub duration: f64,
}

/// The requests of one activitylog export, counted from its `-vv` log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Pages asked for (`getByContract` answered).
    pub requests: u64,
    /// Of those, empty pages that only showed where a window ends: what the
    /// end-of-window check costs in requests.
    pub end_only: u64,
}

impl Traffic {
    /// Counts the lines of a `-vv` log.
    pub fn from_log(log: &str) -> Traffic {
        let count = |pattern: &dyn Fn(&str) -> bool| log.lines().filter(|l| pattern(l)).count();
        Traffic {
            requests: count(&|line| {
                line.contains("answered") && line.contains("operation=\"getByContract\"")
            }) as u64,
            end_only: count(&|line| line.contains("an empty page showed the window's end")) as u64,
        }
    }
}

/// One target and how this run did.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// What is compared.
    pub what: String,
    /// The measured value.
    pub measured: String,
    /// The bar to meet.
    pub bar: String,
    /// Whether it was met (`None`: not measured in this run).
    pub met: Option<bool>,
}

impl Report {
    /// The speed series of `client` at `latency_ms`.
    pub fn find(&self, client: Client, latency_ms: u64) -> Option<&Series> {
        self.speed
            .iter()
            .find(|s| s.client == client && s.latency_ms == latency_ms)
    }

    fn memory_series(&self, events: usize, concurrency: u16) -> Option<&Series> {
        self.memory
            .iter()
            .find(|s| s.events == events && s.client == Client::Export { concurrency })
    }

    fn memory_sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self.memory.iter().map(|s| s.events).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    fn memory_concurrency(&self) -> Vec<u16> {
        let mut values: Vec<u16> = self
            .memory
            .iter()
            .filter_map(|s| match s.client {
                Client::Export { concurrency } => Some(concurrency),
                _ => None,
            })
            .collect();
        values.sort_unstable();
        values.dedup();
        values
    }

    /// The targets, judged on this run's numbers: the speed targets of the
    /// issue "Exactly once, or a loud error" and the memory targets.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = vec![self.latency_target(), self.floor_target()];
        targets.extend(self.memory_targets());
        targets
    }

    /// (a) At the highest latency, concurrency 8: ours ÷ plain ≤ 0.12×.
    fn latency_target(&self) -> Target {
        let slow = self.latencies.iter().copied().max().filter(|l| *l > 0);
        let wall = |client| {
            slow.and_then(|latency| self.find(client, latency))
                .map(Series::wall)
        };
        judge(
            format!(
                "{} entries, {} ms: activitylog (concurrency {LATENCY_CONCURRENCY}) ÷ plain sequential client",
                thousands(self.events),
                slow.unwrap_or(50)
            ),
            wall(Client::Export {
                concurrency: LATENCY_CONCURRENCY,
            }),
            wall(Client::Plain),
            LATENCY_BAR,
        )
    }

    /// (b) At 0 ms: ours at its best concurrency ÷ floor ≤ 1.5×, quoting
    /// every concurrency.
    fn floor_target(&self) -> Target {
        let floor = self.find(Client::Floor, 0).map(Series::wall);
        let ours: Vec<(u16, f64)> = self
            .concurrency
            .iter()
            .filter_map(|&concurrency| {
                let series = self.find(Client::Export { concurrency }, 0)?;
                Some((concurrency, series.wall()))
            })
            .collect();
        let best = ours.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
        let each: Vec<String> = ours
            .iter()
            .map(|&(concurrency, wall)| {
                format!(
                    "{concurrency}: {}",
                    floor.map_or("n/a".into(), |f| ratio(wall, f))
                )
            })
            .collect();
        let mut what = format!(
            "{} entries, 0 ms: activitylog at its best concurrency",
            thousands(self.events)
        );
        if let Some((concurrency, _)) = best {
            let _ = write!(what, " ({concurrency})");
        }
        what.push_str(" ÷ transfer floor");
        if floor.is_some() && !each.is_empty() {
            let _ = write!(what, " (each concurrency: {})", each.join(", "));
        }
        judge(what, best.map(|b| b.1), floor, FLOOR_BAR)
    }

    /// Peak RSS of the largest export and its growth from the smallest.
    fn memory_targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let sizes = self.memory_sizes();
        if let (Some(&small), Some(&large)) = (sizes.first(), sizes.last()) {
            for concurrency in self.memory_concurrency() {
                let small_rss = self.memory_series(small, concurrency).map(Series::rss_mib);
                let large_rss = self.memory_series(large, concurrency).map(Series::rss_mib);
                targets.push(Target {
                    what: format!(
                        "peak RSS exporting {} events (concurrency {concurrency})",
                        thousands(large)
                    ),
                    measured: large_rss.map_or("not measured".into(), |m| format!("{m:.1} MiB")),
                    bar: "≤ 64 MiB".into(),
                    met: large_rss.map(|m| m <= 64.0),
                });
                targets.push(Target {
                    what: format!(
                        "peak RSS at {} ÷ at {} events (concurrency {concurrency})",
                        thousands(large),
                        thousands(small)
                    ),
                    measured: match (large_rss, small_rss) {
                        (Some(l), Some(s)) => format!("{:.2}", l / s),
                        _ => "not measured".into(),
                    },
                    bar: "≤ 1.3".into(),
                    met: large_rss.zip(small_rss).map(|(l, s)| l / s <= 1.3),
                });
            }
        }
        targets
    }

    /// The whole report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Generated by `{}` on {} (commit `{}`, {:.0} minutes). Do not edit by hand: run the command again.\n",
            self.command,
            m.date,
            m.commit,
            self.duration / 60.0
        );
        if self.quick {
            let _ = writeln!(
                out,
                "**Quick mode: a smoke test with small sizes and one run; these numbers say nothing about the targets.**\n"
            );
        }
        self.method(&mut out);
        self.machine_section(&mut out);
        self.speed_section(&mut out);
        self.memory_section(&mut out);
        self.targets_section(&mut out);
        out
    }

    fn method(&self, out: &mut String) {
        let concurrency: Vec<String> = self.concurrency.iter().map(u16::to_string).collect();
        let latencies: Vec<String> = self.latencies.iter().map(|l| format!("{l} ms")).collect();
        let _ = writeln!(out, "## Method\n");
        let _ = writeln!(
            out,
            "- The server is the sandbox (`activitylog sandbox --events N --latency-ms L --end {DATA_END} \
             --span {DATA_SPAN}`), a separate process on 127.0.0.1 serving N entries of contract \
             {CONTRACT}, all in 2021, with L ms added to every request ({}). It runs on the same \
             machine as the clients and competes with them for the CPUs.",
            latencies.join(" and ")
        );
        let _ = writeln!(
            out,
            "- Every client exports all N entries over one range, {RANGE_SINCE} to {RANGE_UNTIL}: ten \
             years around the one year of data, as someone who does not know where the entries lie \
             would ask. Each client is a separate release-built process. Wall time runs from spawn \
             to exit; peak RSS (`ru_maxrss`) and CPU time (user + system) come from `wait4`."
        );
        let _ = writeln!(
            out,
            "- **activitylog**: `activitylog entries {CONTRACT} --since {RANGE_SINCE} --until \
             {RANGE_UNTIL} --format ndjson --out FILE --concurrency C` for C in {}. It finds where \
             the entries lie on its own, and that search is timed. It writes a temporary file, \
             fsyncs and renames it.",
            concurrency.join(", ")
        );
        let _ = writeln!(
            out,
            "- **The baselines page the same windows.** Once, before the timed runs and untimed, \
             `baseline-floor plan` counts the entries of each 90-day block of the range (of each day \
             of a block over the 10,000-entry result window, of each hour of a day over it) and \
             merges consecutive pieces into windows that fit the result window and the 90-day range: \
             {} windows. Both baselines are handed that plan file and page every window with offset \
             and limit=1000, {} requests each; both report the requests they sent, and every run is \
             checked to have sent exactly the plan's.",
            thousands(self.windows),
            thousands(self.requests as usize)
        );
        let _ = writeln!(
            out,
            "- **plain sequential client** (`bench/src/bin/baseline-plain.rs`): what a typical user \
             would write, minus the planning it is handed: reqwest, one request at a time, each page \
             parsed into a `serde_json::Value`, each `_source` written as an NDJSON line, paging a \
             window until its `hits.total`. It fsyncs its file too."
        );
        let _ = writeln!(
            out,
            "- **transfer floor** (`bench/src/bin/baseline-floor.rs`): reqwest on one keep-alive \
             connection, the same requests one after another, bodies read and dropped, nothing \
             parsed. Only the transfer is timed (not the process's start-up), so it is a lower bound \
             for any sequential client that knows the windows."
        );
        let _ = writeln!(
            out,
            "- The two exports' files (activitylog's and the plain client's) are checked after every \
             run: each must hold exactly N lines."
        );
        let _ = writeln!(
            out,
            "- The memory runs export the same placement and range with activitylog alone, at 0 ms."
        );
        let _ = writeln!(
            out,
            "- {} run{} of every setting, interleaved (each round runs every client once, so load \
             changes hit all of them alike). The tables quote medians; ratios divide medians.\n",
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        );
    }

    fn machine_section(&self, out: &mut String) {
        let m = &self.machine;
        let _ = writeln!(out, "## Machine\n");
        let _ = writeln!(out, "| | |\n| --- | --- |");
        let _ = writeln!(out, "| CPUs (`nproc`) | {} |", m.cpus);
        let _ = writeln!(out, "| CPU | {} |", m.cpu_model);
        let _ = writeln!(out, "| memory | {} MiB |", thousands(m.memory_mib as usize));
        let _ = writeln!(out, "| kernel | {} |", m.kernel);
        let _ = writeln!(out, "| compiler | {} |", m.rustc);
        let _ = writeln!(
            out,
            "| load average (1 min) | {:.2} before building, {:.2} at the end, {:.2} at most (the \
             benchmark's own sandbox and client count) |",
            m.load_before, m.load_after, m.load_max
        );
        let _ = writeln!(
            out,
            "| CPU used by other processes while measuring | {:.0} CPU-seconds in {:.0} s: {:.2} of \
             the {} CPUs on average |\n",
            m.other_cpu_seconds.max(0.0),
            m.measured_seconds,
            m.other_cpus(),
            m.cpus
        );
        if m.other_cpus() > 0.1 * m.cpus as f64 {
            let _ = writeln!(
                out,
                "The machine was shared with other work during the run (other processes kept {:.2} \
                 of its {} CPUs busy on average): absolute times are slower and noisier than on an \
                 idle machine; the ratios, measured interleaved, less so.\n",
                m.other_cpus(),
                m.cpus
            );
        }
    }

    fn speed_section(&self, out: &mut String) {
        let _ = writeln!(out, "## Export speed: {} events\n", thousands(self.events));
        let _ = writeln!(
            out,
            "![wall time against concurrency and latency]({})\n",
            self.chart
        );
        let _ = writeln!(
            out,
            "| latency | client | wall (median) | min–max | CPU | peak RSS | ÷ plain | ÷ floor | requests |"
        );
        let _ = writeln!(
            out,
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for &latency in &self.latencies {
            let plain = self.find(Client::Plain, latency).map(Series::wall);
            let floor = self.find(Client::Floor, latency).map(Series::wall);
            let clients = [Client::Floor, Client::Plain].into_iter().chain(
                self.concurrency
                    .iter()
                    .map(|&concurrency| Client::Export { concurrency }),
            );
            for client in clients {
                let Some(series) = self.find(client, latency) else {
                    continue;
                };
                let (fastest, slowest) = series.wall_range();
                let versus =
                    |base: Option<f64>| base.map_or("".into(), |b| ratio(series.wall(), b));
                let _ = writeln!(
                    out,
                    "| {latency} ms | {} | {} | {:.2}–{:.2} | {} | {:.1} MiB | {} | {} | {} |",
                    client.label(),
                    seconds(series.wall()),
                    fastest,
                    slowest,
                    seconds(series.cpu()),
                    series.rss_mib(),
                    versus(plain),
                    versus(floor),
                    series
                        .requests()
                        .map_or("".into(), |r| thousands(r as usize)),
                );
            }
        }
        let _ = writeln!(
            out,
            "\nThe floor's wall time is its transfer alone (not its start-up); its CPU time and RSS \
             cover the whole process. The planning of the baselines' windows is in no row.\n"
        );
        if let Some(traffic) = self.traffic {
            let _ = writeln!(
                out,
                "activitylog, counted once from its `-vv` log (concurrency {LATENCY_CONCURRENCY}, \
                 untimed): {} requests, the search of the ten years included, against the \
                 baselines' {} over windows planned for them. The end-of-window check (a window \
                 is complete only when the service has shown its end, never on `hits.total`) \
                 cost {} of them: empty pages asked only to see an end, for windows whose last \
                 page was full. Its other part, counting each window's distinct entries, rides on \
                 the deduplication every window needs anyway.\n",
                thousands(traffic.requests as usize),
                thousands(self.requests as usize),
                thousands(traffic.end_only as usize),
            );
        }
    }

    fn memory_section(&self, out: &mut String) {
        let sizes = self.memory_sizes();
        let Some(&small) = sizes.first() else {
            return;
        };
        let _ = writeln!(out, "## Memory: exports of different sizes, 0 ms\n");
        let _ = writeln!(
            out,
            "| events | concurrency | peak RSS (median) | ÷ at {} | wall (median) | events/s |",
            thousands(small)
        );
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: |");
        for concurrency in self.memory_concurrency() {
            let base = self.memory_series(small, concurrency).map(Series::rss_mib);
            for &events in &sizes {
                let Some(series) = self.memory_series(events, concurrency) else {
                    continue;
                };
                let rss = series.rss_mib();
                let _ = writeln!(
                    out,
                    "| {} | {concurrency} | {rss:.1} MiB | {} | {} | {} |",
                    thousands(events),
                    base.map_or("".into(), |b| format!("{:.2}", rss / b)),
                    seconds(series.wall()),
                    thousands((events as f64 / series.wall()) as usize),
                );
            }
        }
        let _ = writeln!(out);
    }

    fn targets_section(&self, out: &mut String) {
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | measured | bar | met |");
        let _ = writeln!(out, "| --- | ---: | ---: | :---: |");
        for target in self.targets() {
            let met = match target.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {met} |",
                target.what, target.measured, target.bar
            );
        }
        let _ = writeln!(out);
    }
}

/// `ours ÷ theirs` against `≤ bar×`; not judged when either is missing.
fn judge(what: String, ours: Option<f64>, theirs: Option<f64>, bar: f64) -> Target {
    let (measured, met) = match (ours, theirs) {
        (Some(a), Some(b)) => (ratio(a, b), Some(a / b <= bar)),
        _ => ("not measured".into(), None),
    };
    Target {
        what,
        measured,
        bar: format!("≤ {bar}×"),
        met,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    fn series(client: Client, events: usize, latency_ms: u64, wall: f64, rss_mib: u64) -> Series {
        let baseline = matches!(client, Client::Floor | Client::Plain);
        Series {
            client,
            events,
            latency_ms,
            samples: vec![Sample {
                wall,
                cpu: wall,
                rss_kib: rss_mib * 1024,
                requests: baseline.then_some(210),
            }],
        }
    }

    /// Floor, plain and activitylog at concurrency 1, 4 and 8 per latency.
    fn report() -> Report {
        let mut speed = Vec::new();
        for (latency, plain, floor, ours) in [
            (0, 10.0, 2.0, [6.0, 4.4, 3.8]),
            (50, 20.0, 15.0, [15.0, 7.0, 5.0]),
        ] {
            speed.push(series(Client::Plain, 200_000, latency, plain, 30));
            speed.push(series(Client::Floor, 200_000, latency, floor, 10));
            for (concurrency, wall) in [1, 4, 8].into_iter().zip(ours) {
                speed.push(series(
                    Client::Export { concurrency },
                    200_000,
                    latency,
                    wall,
                    20,
                ));
            }
        }
        Report {
            runs: 1,
            events: 200_000,
            latencies: vec![0, 50],
            concurrency: vec![1, 4, 8],
            windows: 21,
            requests: 210,
            speed,
            memory: vec![
                series(Client::Export { concurrency: 4 }, 100_000, 0, 1.0, 20),
                series(Client::Export { concurrency: 4 }, 1_000_000, 0, 10.0, 30),
            ],
            chart: "benchmarks.svg".into(),
            ..Report::default()
        }
    }

    #[test]
    fn targets_are_judged_on_medians() {
        let targets = report().targets();
        let verdicts: Vec<(&str, &str, Option<bool>)> = targets
            .iter()
            .map(|t| (t.measured.as_str(), t.bar.as_str(), t.met))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("0.25×", "≤ 0.12×", Some(false)),
                ("1.9×", "≤ 1.5×", Some(false)),
                ("30.0 MiB", "≤ 64 MiB", Some(true)),
                ("1.50", "≤ 1.3", Some(false)),
            ]
        );
        assert_eq!(
            targets[0].what,
            "200,000 entries, 50 ms: activitylog (concurrency 8) ÷ plain sequential client"
        );
        assert_eq!(
            targets[1].what,
            "200,000 entries, 0 ms: activitylog at its best concurrency (8) ÷ transfer floor \
             (each concurrency: 1: 3.0×, 4: 2.2×, 8: 1.9×)"
        );
    }

    #[test]
    fn the_requests_and_the_end_checks_are_counted_from_the_log() {
        let log = "\
DEBUG activitylog_client::hooks: answered operation=\"getInfo\" method=GET status=200
DEBUG activitylog_client::hooks: answered operation=\"getByContract\" method=GET status=200
DEBUG activitylog_client::hooks: answered operation=\"getByContract\" method=GET status=200
DEBUG activitylog_client::download::engine: an empty page showed the window's end window=a offset=1000
";
        let traffic = Traffic::from_log(log);
        assert_eq!(
            traffic,
            Traffic {
                requests: 2,
                end_only: 1
            }
        );
        let report = Report {
            traffic: Some(traffic),
            ..report()
        };
        assert!(report.markdown().contains(
            "2 requests, the search of the ten years included, against the baselines' 210"
        ));
    }

    #[test]
    fn missing_measurements_are_not_judged() {
        let report = Report {
            events: 1000,
            latencies: vec![0],
            ..Report::default()
        };
        assert!(report.targets().iter().all(|t| t.met.is_none()));
        let mut no_floor = self::report();
        no_floor.speed.retain(|s| s.client != Client::Floor);
        assert_eq!(no_floor.targets()[1].met, None);
    }

    #[test]
    fn the_markdown_and_the_chart_hold_every_setting() {
        let report = report();
        let markdown = report.markdown();
        assert!(markdown.contains("| 50 ms | activitylog, concurrency 8 | 5.00 s |"));
        assert!(markdown.contains("| 0 ms | plain sequential client | 10.0 s |"));
        assert!(markdown.contains("| 1.0× | 5.0× | 210 |"), "{markdown}");
        assert!(markdown.contains("| 1,000,000 | 4 | 30.0 MiB | 1.50 |"));
        assert!(markdown.contains("--end 2022-01-01T00:00:00Z --span 365d"));
        assert!(markdown.contains("2020-01-01T00:00:00Z to 2030-01-01T00:00:00Z"));
        assert!(markdown.contains("21 windows") && markdown.contains("210 requests each"));
        let svg = crate::chart::svg(&report);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 6);
    }
}
