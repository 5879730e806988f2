//! `docs/benchmarks.md`: method, machine, tables, targets.

use std::fmt::Write;

use crate::chart::thousands;
use crate::{Client, Machine, Series, ratio, seconds};

/// The CLI's default `--concurrency`, at which the 0 ms targets are judged.
pub const DEFAULT_CONCURRENCY: u16 = 4;

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
    /// The speed runs: every client at every latency.
    pub speed: Vec<Series>,
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

/// One target of issue 5 and how this run did.
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

    /// The targets of issue 5, judged on this run's numbers.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let events = thousands(self.events);
        let wall = |client, latency| self.find(client, latency).map(Series::wall);
        let ours = Client::Export {
            concurrency: DEFAULT_CONCURRENCY,
        };
        let mut compare = |what: String, ours: Option<f64>, theirs: Option<f64>, bar: f64| {
            let (measured, met) = match (ours, theirs) {
                (Some(a), Some(b)) => (ratio(a, b), Some(a / b <= bar)),
                _ => ("not measured".into(), None),
            };
            targets.push(Target {
                what,
                measured,
                bar: format!("≤ {bar}×"),
                met,
            });
        };
        compare(
            format!(
                "{events} events, 0 ms: activitylog (concurrency {DEFAULT_CONCURRENCY}) ÷ plain sequential client"
            ),
            wall(ours, 0),
            wall(Client::Plain, 0),
            0.5,
        );
        compare(
            format!(
                "{events} events, 0 ms: activitylog (concurrency {DEFAULT_CONCURRENCY}) ÷ transfer floor"
            ),
            wall(ours, 0),
            wall(Client::Floor, 0),
            4.0,
        );
        let slow = self.latencies.iter().copied().max().filter(|l| *l > 0);
        let pages = self.events.div_ceil(1000);
        compare(
            format!(
                "{pages} pages, {} ms: activitylog (concurrency 8) ÷ plain sequential client",
                slow.unwrap_or(50)
            ),
            slow.and_then(|l| wall(Client::Export { concurrency: 8 }, l)),
            slow.and_then(|l| wall(Client::Plain, l)),
            0.2,
        );
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
            "- The server is the sandbox (`activitylog sandbox --events N --latency-ms L`), a separate \
             process on 127.0.0.1 serving N events of contract 31721060 spread over 90 days, with L ms \
             added to every request ({}). It runs on the same machine as the clients and competes with \
             them for the CPUs.",
            latencies.join(" and ")
        );
        let _ = writeln!(
            out,
            "- Every client downloads all N events (one fixed range a little longer than the data) \
             and is a separate release-built process. Wall time runs from spawn to exit; peak RSS \
             (`ru_maxrss`) and CPU time (user + system) come from `wait4`."
        );
        let _ = writeln!(
            out,
            "- **activitylog**: `activitylog entries 31721060 --since S --until U --format ndjson \
             --out FILE --concurrency C` for C in {}. It writes a temporary file, fsyncs and renames it.",
            concurrency.join(", ")
        );
        let _ = writeln!(
            out,
            "- **plain sequential client** (`bench/src/bin/baseline-plain.rs`): reqwest, one request \
             at a time, each page parsed into a `serde_json::Value`, each `_source` written as an \
             NDJSON line; it walks the range day by day (halving a day that holds more than the \
             10,000-entry result window) and pages with offset and limit=1000. It fsyncs its file too."
        );
        let _ = writeln!(
            out,
            "- **transfer floor** (`bench/src/bin/baseline-floor.rs`): reqwest on one keep-alive \
             connection, every page of 1,000 sequentially, bodies read and dropped, nothing parsed. \
             Its windows are planned beforehand from per-day counts; only the transfer is timed, so \
             it is a lower bound for any sequential client."
        );
        let _ = writeln!(
            out,
            "- The two exports' files are checked after every run: each must hold exactly N lines."
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
            "| latency | client | wall (median) | min–max | CPU | peak RSS | ÷ plain | ÷ floor |"
        );
        let _ = writeln!(
            out,
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
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
                    "| {latency} ms | {} | {} | {:.2}–{:.2} | {} | {:.1} MiB | {} | {} |",
                    client.label(),
                    seconds(series.wall()),
                    fastest,
                    slowest,
                    seconds(series.cpu()),
                    series.rss_mib(),
                    versus(plain),
                    versus(floor),
                );
            }
        }
        let _ = writeln!(
            out,
            "\nThe floor's wall time is its transfer alone (its planning requests excluded); its CPU \
             time and RSS cover the whole process.\n"
        );
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
        let _ = writeln!(out, "## Targets (issue 5)\n");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;

    fn series(client: Client, events: usize, latency_ms: u64, wall: f64, rss_mib: u64) -> Series {
        Series {
            client,
            events,
            latency_ms,
            samples: vec![Sample {
                wall,
                cpu: wall,
                rss_kib: rss_mib * 1024,
            }],
        }
    }

    fn report() -> Report {
        let mut speed = Vec::new();
        for (latency, plain, floor, ours) in [(0, 10.0, 2.0, 4.0), (50, 20.0, 15.0, 5.0)] {
            speed.push(series(Client::Plain, 200_000, latency, plain, 30));
            speed.push(series(Client::Floor, 200_000, latency, floor, 10));
            for concurrency in [1, 4, 8] {
                speed.push(series(
                    Client::Export { concurrency },
                    200_000,
                    latency,
                    ours,
                    20,
                ));
            }
        }
        Report {
            runs: 1,
            events: 200_000,
            latencies: vec![0, 50],
            concurrency: vec![1, 4, 8],
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
        let verdicts: Vec<(String, Option<bool>)> = targets
            .iter()
            .map(|t| (t.measured.clone(), t.met))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("0.40×".to_string(), Some(true)),
                ("2.0×".to_string(), Some(true)),
                ("0.25×".to_string(), Some(false)),
                ("30.0 MiB".to_string(), Some(true)),
                ("1.50".to_string(), Some(false)),
            ]
        );
    }

    #[test]
    fn missing_measurements_are_not_judged() {
        let report = Report {
            events: 1000,
            latencies: vec![0],
            ..Report::default()
        };
        assert!(report.targets().iter().all(|t| t.met.is_none()));
    }

    #[test]
    fn the_markdown_and_the_chart_hold_every_setting() {
        let report = report();
        let markdown = report.markdown();
        assert!(markdown.contains("| 50 ms | activitylog, concurrency 8 | 5.00 s |"));
        assert!(markdown.contains("| 1,000,000 | 4 | 30.0 MiB | 1.50 |"));
        let svg = crate::chart::svg(&report);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 6);
    }
}
