//! The engine run whole (its own loop, its own task) against a scripted
//! service: entries at fixed times, an Elasticsearch-like result window,
//! and a latency per request. On a paused clock the pages come back in the
//! order the latencies say, the same on every run, so an interleaving that
//! a real service produces only now and then is produced every time.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::Future;
use tokio::sync::mpsc;

use super::{Batch, Plan, Source, spawn};
use crate::download::learned::Learned;
use crate::download::page::{Page, PageRequest};
use crate::download::window::Window;
use crate::error::{Error, Result};
use crate::event::RawEvent;

/// A service of fixed entries that pages like Elasticsearch.
#[derive(Clone)]
struct Script {
    inner: Arc<Service>,
}

/// How long the service takes to answer a request.
type Latency = Arc<dyn Fn(&PageRequest) -> Duration + Send + Sync>;

struct Service {
    /// Entries in time order: their time and their text.
    entries: Vec<(DateTime<Utc>, String)>,
    /// The deepest `offset + limit` it answers; deeper is a 400.
    result_window: u64,
    /// Whether the 400 says how deep it pages (Elasticsearch does).
    states_window: bool,
    /// The highest count it reports (claiming it exact).
    total_cap: u64,
    latency: Latency,
    /// Every request, in the order they were answered, and whether it was refused.
    answered: Mutex<Vec<(PageRequest, bool)>>,
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// For each request as it came, the requests in flight with it.
    crowds: Mutex<Vec<usize>>,
}

impl Script {
    fn uuids(&self) -> Vec<String> {
        (0..self.inner.entries.len())
            .map(|n| format!("e-{n}"))
            .collect()
    }

    fn refusals(&self) -> usize {
        let answered = self.inner.answered.lock().unwrap();
        answered.iter().filter(|(_, refused)| *refused).count()
    }
}

impl Service {
    /// From the start of `range`, day after day, each day's entries
    /// evenly spread over it; pages to 10,000, exact counts, 5 ms a request.
    fn new(range: Window, per_day: &[u32]) -> Self {
        let mut times = Vec::new();
        for (day, &count) in per_day.iter().enumerate() {
            let start = range.start + TimeDelta::days(day as i64);
            for i in 0..count {
                times.push(start + TimeDelta::seconds(i64::from(i) * 86_400 / i64::from(count)));
            }
        }
        Service::at(times)
    }

    /// `count` entries at random over `days` from `start` (the same for a
    /// seed), fewer at night than in office hours, like the sandbox's.
    fn office_hours(start: DateTime<Utc>, days: i64, count: usize, seed: u64) -> Self {
        let mut random = fastrand::Rng::with_seed(seed);
        let span = days * 86_400_000;
        let times = (0..count)
            .map(|_| {
                loop {
                    let at = random.i64(0..span);
                    let weight = match at / 3_600_000 % 24 {
                        0..=5 => 0.25,
                        6..=7 | 18..=20 => 0.6,
                        8..=17 => 1.0,
                        _ => 0.4,
                    };
                    if random.f64() < weight {
                        break start + TimeDelta::milliseconds(at);
                    }
                }
            })
            .collect();
        Service::at(times)
    }

    /// Entries at `times`; pages to 10,000, exact counts, 5 ms a request.
    fn at(mut times: Vec<DateTime<Utc>>) -> Self {
        times.sort();
        let entries = times
            .into_iter()
            .enumerate()
            .map(|(n, time)| {
                let text = format!(
                    r#"{{"@uuid":"e-{n}","meta":{{"time":"{}"}}}}"#,
                    time.to_rfc3339()
                );
                (time, text)
            })
            .collect();
        Service {
            entries,
            result_window: 10_000,
            states_window: true,
            total_cap: u64::MAX,
            latency: Arc::new(|_| Duration::from_millis(5)),
            answered: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            crowds: Mutex::new(Vec::new()),
        }
    }

    fn result_window(mut self, window: u64, stated: bool) -> Self {
        (self.result_window, self.states_window) = (window, stated);
        self
    }

    fn total_cap(mut self, cap: u64) -> Self {
        self.total_cap = cap;
        self
    }

    fn latency(
        mut self,
        latency: impl Fn(&PageRequest) -> Duration + Send + Sync + 'static,
    ) -> Self {
        self.latency = Arc::new(latency);
        self
    }

    fn start(self) -> Script {
        Script {
            inner: Arc::new(self),
        }
    }

    fn answer(&self, request: PageRequest) -> Result<Page> {
        let depth = request.offset + request.limit;
        let refused = depth > self.result_window;
        self.answered.lock().unwrap().push((request, refused));
        if refused {
            let message = if self.states_window {
                format!(
                    "Result window is too large, from + size must be less than or equal to: \
                     [{}] but was [{depth}].",
                    self.result_window
                )
            } else {
                "Result window is too large".to_string()
            };
            return Err(Error::BadRequest {
                status: 400,
                messages: vec![message],
            });
        }
        let from = self
            .entries
            .partition_point(|(time, _)| *time < request.window.start);
        let to = self
            .entries
            .partition_point(|(time, _)| *time < request.window.end);
        let matching = &self.entries[from..to];
        let events = matching
            .iter()
            .skip(request.offset as usize)
            .take(request.limit as usize)
            .map(|(_, text)| RawEvent::parse(text).unwrap())
            .collect();
        Ok(Page {
            total: (matching.len() as u64).min(self.total_cap),
            total_is_lower_bound: false,
            events,
        })
    }
}

impl Source for Script {
    fn page(&self, request: PageRequest) -> impl Future<Output = Result<Page>> + Send + 'static {
        let service = Arc::clone(&self.inner);
        async move {
            let crowd = service.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            service.crowds.lock().unwrap().push(crowd);
            tokio::time::sleep((service.latency)(&request)).await;
            service.in_flight.fetch_sub(1, Ordering::SeqCst);
            service.answer(request)
        }
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Runs a whole download of `range` from `script` in one-day windows and
/// pages of 100, assuming a result window of 1,000: the `@uuid`s in the
/// order sent, or the error the download ended with.
async fn download(
    script: &Script,
    range: Window,
    concurrency: usize,
) -> std::result::Result<Vec<String>, Error> {
    let plan = Plan {
        contract: 1,
        range,
        page_size: 100,
        concurrency,
        result_window: 1_000,
        max_span: Duration::from_secs(86_400),
        max_rereads: 3,
        learned: Arc::new(Learned::default()),
    };
    run(script, plan).await
}

/// Runs the engine on its own task: the `@uuid`s in the order sent, or the
/// error the download ended with.
async fn run(script: &Script, plan: Plan) -> std::result::Result<Vec<String>, Error> {
    let (mut receiver, _engine): (mpsc::Receiver<Result<Batch>>, _) = spawn(script.clone(), plan);
    let mut uuids = Vec::new();
    while let Some(batch) = receiver.recv().await {
        match batch? {
            Batch::Events(events) => {
                uuids.extend(events.iter().map(|e| e.uuid().unwrap().into_owned()));
            }
            Batch::Done(_) => {}
            Batch::Finished => return Ok(uuids),
        }
    }
    panic!("the engine ended without Finished or an error");
}

/// The window learned from one window's refusal binds every window: one
/// already paged to the new depth, its next page not yet asked (the
/// budget was the front's), is split like any window that reaches it.
///
/// Two days of 740 entries, a service that pages to 300 (and says so, or
/// not: then the engine learns 200, half the depth refused), concurrency 3;
/// the first day's first page comes back last. The second day is probed
/// and paged to 300 (pages 0, 100, 200) while the first waits for its
/// first page; then the first day takes every request the budget frees
/// and one of its pages is refused at 400: the engine learns 300. The
/// second day, read to 300 with its end not in sight, can ask nothing
/// deeper: before the fix it waited for a page it would never ask, and the
/// download ended in "the download stalled with nothing left to ask".
#[tokio::test(start_paused = true)]
async fn a_window_paged_to_a_depth_learned_later_is_split_not_stalled() {
    let range = Window {
        start: at("2024-01-01T00:00:00Z"),
        end: at("2024-01-03T00:00:00Z"),
    };
    for states_window in [true, false] {
        // First pages of the first day take 7 ms, every other request 5 ms.
        let script = Service::new(range, &[740, 740])
            .result_window(300, states_window)
            .latency(|request| {
                let first_day = request.window.end <= at("2024-01-02T00:00:00Z");
                let slow = first_day && request.offset == 0;
                Duration::from_millis(if slow { 7 } else { 5 })
            })
            .start();
        let sent = download(&script, range, 3)
            .await
            .unwrap_or_else(|error| panic!("states its window {states_window}: {error}"));
        assert!(script.refusals() > 0, "the service never refused");
        assert_sent_once(
            &script,
            &sent,
            &format!("states its window {states_window}"),
        );
    }
}

/// Every entry of `script`, each once.
fn assert_sent_once(script: &Script, sent: &[String], case: &str) {
    let mut once = sent.to_vec();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), sent.len(), "{case}: an entry was sent twice");
    let mut want = script.uuids();
    want.sort();
    assert_eq!(once, want, "{case}");
}

/// Many orders in which pages come back (latencies of 1 to 12 ms drawn
/// per request from a seed), over services that refuse depth (saying how
/// deep, or not) and lie about their count: every download completes,
/// each entry once. Each seed's order is the same on every run.
#[tokio::test(start_paused = true)]
async fn no_order_of_answers_stalls_a_download() {
    let range = Window {
        start: at("2024-01-01T00:00:00Z"),
        end: at("2024-01-05T00:00:00Z"),
    };
    for seed in 0..240_u64 {
        let window = [(300, true), (300, false), (10_000, true)][seed as usize % 3];
        let cap = [u64::MAX, 120, 0][seed as usize / 3 % 3];
        let concurrency = 1 + seed as usize % 6;
        let script = Service::new(range, &[740, 0, 90, 1_300])
            .result_window(window.0, window.1)
            .total_cap(cap)
            .latency(move |request| {
                let mut hasher = DefaultHasher::new();
                (seed, request.window.start, request.offset, request.limit).hash(&mut hasher);
                Duration::from_millis(1 + hasher.finish() % 12)
            })
            .start();
        let case = format!("seed {seed}: window {window:?}, cap {cap}, concurrency {concurrency}");
        let sent = download(&script, range, concurrency)
            .await
            .unwrap_or_else(|error| panic!("{case}: {error}"));
        assert_sent_once(&script, &sent, &case);
    }
}

/// The benchmark's export at 50 ms, on a paused clock: ten years around
/// one year of 200,000 entries (at random, fewer at night), pages of 1,000,
/// a result window of 10,000, 90-day windows, 8 requests in flight, 50 ms a
/// request. Every window asked costs one request when it is empty or too
/// large to page (its first page is spent on the count), and otherwise
/// its pages: one per 1,000 entries and one more for the rest, short or
/// empty, that shows its end; nothing else. The budget stays full, so the
/// round trips are the requests over 8.
#[tokio::test(start_paused = true)]
async fn ten_years_around_a_year_of_entries_cost_their_pages_and_few_round_trips() {
    let range = Window {
        start: at("2020-01-01T00:00:00Z"),
        end: at("2030-01-01T00:00:00Z"),
    };
    let script = Service::office_hours(at("2021-01-01T00:00:00Z"), 365, 200_000, 2021)
        .latency(|_| Duration::from_millis(50))
        .start();
    let plan = Plan {
        contract: 1,
        range,
        page_size: 1_000,
        concurrency: 8,
        result_window: 10_000,
        max_span: Duration::from_secs(90 * 86_400),
        max_rereads: 3,
        learned: Arc::new(Learned::default()),
    };
    let started = tokio::time::Instant::now();
    let sent = run(&script, plan).await.unwrap();
    let round_trips = started.elapsed().as_millis().div_ceil(50) as usize;
    assert_eq!(sent.len(), 200_000);
    let answered = script.inner.answered.lock().unwrap();
    let mut asked: HashMap<(DateTime<Utc>, DateTime<Utc>), usize> = HashMap::new();
    for (request, _) in answered.iter() {
        *asked
            .entry((request.window.start, request.window.end))
            .or_default() += 1;
    }
    let (mut empty, mut large, mut leaves) = (0, 0, 0);
    for (&(start, end), &requests) in &asked {
        let from = script.inner.entries.partition_point(|(t, _)| *t < start);
        let to = script.inner.entries.partition_point(|(t, _)| *t < end);
        let entries = to - from;
        let pages = match entries {
            0 => {
                empty += 1;
                1
            }
            10_000.. => {
                large += 1;
                1
            }
            _ => {
                leaves += 1;
                entries / 1_000 + 1
            }
        };
        assert_eq!(requests, pages, "{entries} entries from {start} to {end}");
    }
    // The 36 windows of 90 days outside 2021, the 4 within it, and its
    // parts, each at 3/4 of the result window or less.
    assert_eq!((empty, large), (36, 4));
    assert_eq!(leaves, 29);
    assert_eq!(answered.len(), 256);
    assert!(
        round_trips <= 256_usize.div_ceil(8) + 1,
        "{round_trips} round trips"
    );
}

/// A reader slower than the service (20 ms a page, pages in 1 ms): once
/// that shows, half the requests are in flight, so at most those, the
/// queue's two batches and the one being sent wait for it (each page held
/// in memory), not the whole concurrency's. A reader that keeps up gets
/// every request in flight: 90 pages take the round trips of 8 at a time.
/// Either way every entry arrives once.
#[tokio::test(start_paused = true)]
async fn a_reader_slower_than_the_service_has_fewer_pages_waiting_for_it() {
    let range = Window {
        start: at("2024-01-01T00:00:00Z"),
        end: at("2024-01-02T00:00:00Z"),
    };
    let mut runs = Vec::new();
    for pause in [Duration::from_millis(20), Duration::ZERO] {
        let script = Service::new(range, &[9_000])
            .latency(|_| Duration::from_millis(1))
            .start();
        let plan = Plan {
            contract: 1,
            range,
            page_size: 100,
            concurrency: 8,
            result_window: 10_000,
            max_span: Duration::from_secs(86_400),
            max_rereads: 3,
            learned: Arc::new(Learned::default()),
        };
        let started = tokio::time::Instant::now();
        let (mut receiver, _engine) = spawn(script.clone(), plan);
        let (mut sent, mut pages, mut most_waiting) = (Vec::new(), 0, 0);
        loop {
            match receiver.recv().await.unwrap().unwrap() {
                Batch::Events(events) => {
                    sent.extend(events.iter().map(|e| e.uuid().unwrap().into_owned()));
                    pages += 1;
                    // Pages answered and not yet taken, past the first 20.
                    let answered = script.inner.answered.lock().unwrap().len();
                    if pages > 20 {
                        most_waiting = most_waiting.max(answered - pages);
                    }
                    tokio::time::sleep(pause).await;
                }
                Batch::Done(_) => {}
                Batch::Finished => break,
            }
        }
        assert_sent_once(&script, &sent, &format!("a reader pausing {pause:?}"));
        runs.push((most_waiting, started.elapsed()));
    }
    let [(slow_waiting, _), (_, fast_took)] = runs[..] else {
        unreachable!()
    };
    assert!(slow_waiting <= 8 / 2 + 2 + 1, "{runs:?}");
    assert!(fast_took <= Duration::from_millis(90 / 8 + 3), "{runs:?}");
}
