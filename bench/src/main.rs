//! `activitylog-bench`: the end-to-end benchmark.
//!
//! `cargo run --release -p activitylog-bench [-- --quick]` builds the release
//! binaries, starts the sandbox as a separate process with its entries all in
//! 2021, plans (once, untimed) the windows both baselines page, times NDJSON
//! exports of 2020-01-01 to 2030-01-01 through the CLI and the two baselines
//! (`baseline-floor`, `baseline-plain`) at every concurrency and latency,
//! then exports growing sizes for peak memory, and writes
//! `docs/benchmarks.md` and `docs/benchmarks.svg` (`--quick`: small sizes,
//! one run, written to `target/activitylog-bench/`).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::Instant;

use activitylog_bench::report::{LATENCY_CONCURRENCY, Report, Traffic};
use activitylog_bench::{
    CONTRACT, Client, DATA_END, DATA_SPAN, Machine, RANGE_SINCE, RANGE_UNTIL, Sample, Series,
    chart, plan, seconds,
};
use chrono::Utc;

const TOKEN: &str = "sandbox-token";

const USAGE: &str = "\
usage: cargo run --release -p activitylog-bench -- [options]

  --quick                    smoke test: 20,000 events, 0 and 10 ms, memory at 10,000 and
                             50,000 events, one run, report in target/activitylog-bench/
  --runs N                   runs of every setting (default 3)
  --events N                 events for the speed runs (default 200000)
  --latencies MS,MS          added server latencies (default 0,50)
  --concurrency C,C          export concurrencies (default 1,4,8)
  --memory-events N,N        export sizes for peak memory (default 100000,1000000; none: -)
  --memory-concurrency C,C   concurrencies of the memory runs (default 4,8)
  --out DIR                  where benchmarks.md and benchmarks.svg go (default docs)
  --no-build                 use the release binaries as they are
";

#[derive(Debug)]
struct Options {
    quick: bool,
    runs: usize,
    events: usize,
    latencies: Vec<u64>,
    concurrency: Vec<u16>,
    memory_events: Vec<usize>,
    memory_concurrency: Vec<u16>,
    out: Option<PathBuf>,
    build: bool,
    /// The arguments as given, for the report.
    args: Vec<String>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            runs: 3,
            events: 200_000,
            latencies: vec![0, 50],
            concurrency: vec![1, 4, 8],
            memory_events: vec![100_000, 1_000_000],
            memory_concurrency: vec![4, 8],
            out: None,
            build: true,
            args: Vec::new(),
        };
        let given: Vec<String> = args.into_iter().collect();
        options.args.clone_from(&given);
        let mut explicit = Vec::new();
        let mut args = given.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-build" => options.build = false,
                "--runs" => options.runs = number(&value()?)?,
                "--events" => options.events = number(&value()?)?,
                "--latencies" => options.latencies = list(&value()?)?,
                "--concurrency" => options.concurrency = list(&value()?)?,
                "--memory-events" => options.memory_events = list(&value()?)?,
                "--memory-concurrency" => options.memory_concurrency = list(&value()?)?,
                "--out" => options.out = Some(value()?.into()),
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
            explicit.push(arg);
        }
        if options.quick {
            let given = |flag: &str| explicit.iter().any(|a| a == flag);
            if !given("--runs") {
                options.runs = 1;
            }
            if !given("--events") {
                options.events = 20_000;
            }
            if !given("--latencies") {
                options.latencies = vec![0, 10];
            }
            if !given("--memory-events") {
                options.memory_events = vec![10_000, 50_000];
            }
        }
        if options.runs == 0 || options.events == 0 || options.concurrency.is_empty() {
            return Err("--runs, --events and --concurrency must not be zero or empty".into());
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))
}

fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    if text == "-" {
        return Ok(Vec::new());
    }
    text.split(',').map(|item| number(item.trim())).collect()
}

/// Marks where the hand-measured sections of `benchmarks.md` start; the
/// generator keeps them.
const HAND_MEASURED: &str = "<!-- measured by hand: kept when this file is generated -->";
fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate lives in `bench/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn run(options: &Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        return Err(
            "build the benchmark in release mode: cargo run --release -p activitylog-bench".into(),
        );
    }
    let started = Instant::now();
    let mut load = Load::new();
    let load_before = load.now();
    let root = workspace();
    if options.build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // One package per build, as `cargo run`/`cargo install` would: the
        // CLI is measured with the features it has on its own.
        for package in ["activitylog-cli", "activitylog-bench"] {
            eprintln!("building {package} (release)");
            let status = Command::new(&cargo)
                .current_dir(&root)
                .args(["build", "--release", "--bins", "-p", package])
                .status()
                .map_err(|e| format!("could not run cargo: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build -p {package} failed ({status})"));
            }
        }
    }
    let bins = std::env::current_exe()
        .map_err(|e| format!("where am I: {e}"))?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no directory around the benchmark binary")?;
    let tools = Tools {
        cli: bins.join("activitylog"),
        floor: bins.join("baseline-floor"),
        plain: bins.join("baseline-plain"),
    };
    for tool in [&tools.cli, &tools.floor, &tools.plain] {
        if !tool.exists() {
            return Err(format!(
                "{} is missing: build it, or drop --no-build",
                tool.display()
            ));
        }
    }
    let out_dir = options.out.clone().unwrap_or_else(|| {
        if options.quick {
            root.join("target/activitylog-bench")
        } else {
            root.join("docs")
        }
    });
    let work = root.join("target/activitylog-bench/work");
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;

    let mut machine = machine(&root);
    machine.load_before = load_before;
    eprintln!(
        "{} CPUs ({}), load average {:.2}",
        machine.cpus, machine.cpu_model, machine.load_before
    );
    let plan = if options.latencies.is_empty() {
        None
    } else {
        Some(Plan::make(&tools, options.events, &work)?)
    };
    let measuring = Instant::now();
    let busy_before = cpu_busy_seconds();
    // CPU time of the benchmark's own processes, to tell other work apart.
    let mut own_cpu = 0.0;

    let mut speed = Vec::new();
    let mut traffic = None;
    for &latency in &options.latencies {
        let plan = plan.as_ref().ok_or("no plan for the speed runs")?;
        let sandbox = Sandbox::start(&tools.cli, options.events, latency)?;
        let mut clients = vec![Client::Floor, Client::Plain];
        clients.extend(
            options
                .concurrency
                .iter()
                .map(|&concurrency| Client::Export { concurrency }),
        );
        let mut series: Vec<Series> = clients
            .iter()
            .map(|&client| Series {
                client,
                events: options.events,
                latency_ms: latency,
                samples: Vec::new(),
            })
            .collect();
        if traffic.is_none() {
            traffic = Some(count_traffic(&tools, &sandbox, &work)?);
        }
        for round in 1..=options.runs {
            for series in &mut series {
                let sample = measure(&tools, &sandbox, Some(plan), series.client, &work)?;
                own_cpu += sample.cpu;
                load.sample();
                eprintln!(
                    "{latency:>3} ms  run {round}/{}  {:<32} {:>9}  CPU {:>9}  RSS {:>6.1} MiB{}",
                    options.runs,
                    series.client.label(),
                    seconds(sample.wall),
                    seconds(sample.cpu),
                    sample.rss_kib as f64 / 1024.0,
                    sample
                        .requests
                        .map_or(String::new(), |r| format!("  {r} requests"))
                );
                series.samples.push(sample);
            }
        }
        own_cpu += sandbox.stop();
        speed.extend(series);
    }

    let mut memory = Vec::new();
    for &events in &options.memory_events {
        let sandbox = Sandbox::start(&tools.cli, events, 0)?;
        let mut series: Vec<Series> = options
            .memory_concurrency
            .iter()
            .map(|&concurrency| Series {
                client: Client::Export { concurrency },
                events,
                latency_ms: 0,
                samples: Vec::new(),
            })
            .collect();
        for round in 1..=options.runs {
            for series in &mut series {
                let sample = measure(&tools, &sandbox, None, series.client, &work)?;
                own_cpu += sample.cpu;
                load.sample();
                eprintln!(
                    "{events:>9} events  run {round}/{}  {:<32} {:>9}  RSS {:>6.1} MiB",
                    options.runs,
                    series.client.label(),
                    seconds(sample.wall),
                    sample.rss_kib as f64 / 1024.0
                );
                series.samples.push(sample);
            }
        }
        own_cpu += sandbox.stop();
        memory.extend(series);
    }
    if let Some(plan) = &plan {
        let _ = fs::remove_file(&plan.path);
    }
    let _ = fs::remove_file(work.join("stderr.txt"));
    let _ = fs::remove_dir(&work);

    machine.load_after = load.now();
    machine.load_max = load.max;
    machine.measured_seconds = measuring.elapsed().as_secs_f64();
    if let (Some(before), Some(after)) = (busy_before, cpu_busy_seconds()) {
        machine.other_cpu_seconds = after - before - own_cpu - own_cpu_seconds();
    }
    let mut command = String::from("cargo run --release -p activitylog-bench");
    if !options.args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&options.args.join(" "));
    }
    let report = Report {
        quick: options.quick,
        runs: options.runs,
        events: options.events,
        latencies: options.latencies.clone(),
        concurrency: options.concurrency.clone(),
        windows: plan.as_ref().map_or(0, |p| p.windows),
        requests: plan.as_ref().map_or(0, |p| p.requests),
        speed,
        traffic,
        memory,
        machine,
        command,
        chart: "benchmarks.svg".into(),
        duration: started.elapsed().as_secs_f64(),
    };
    let markdown_path = out_dir.join("benchmarks.md");
    let chart_path = out_dir.join(&report.chart);
    // Sections measured by hand (the archive's) follow a marker and are kept.
    let kept = fs::read_to_string(&markdown_path)
        .ok()
        .and_then(|old| old.find(HAND_MEASURED).map(|at| old[at..].to_string()))
        .unwrap_or_default();
    let markdown = match kept.is_empty() {
        true => report.markdown(),
        false => format!("{}\n{kept}", report.markdown().trim_end()),
    };
    fs::write(&markdown_path, markdown).map_err(|e| format!("{}: {e}", markdown_path.display()))?;
    fs::write(&chart_path, chart::svg(&report))
        .map_err(|e| format!("{}: {e}", chart_path.display()))?;
    println!();
    for target in report.targets() {
        let verdict = match target.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        println!(
            "{:<80} {:>10} (bar {}) {verdict}",
            target.what, target.measured, target.bar
        );
    }
    for &latency in &report.latencies {
        let requests = |client| report.find(client, latency).and_then(Series::requests);
        println!(
            "{latency} ms: requests per export: transfer floor {}, plain sequential client {} (the plan: {})",
            requests(Client::Floor).map_or("-".into(), |r| r.to_string()),
            requests(Client::Plain).map_or("-".into(), |r| r.to_string()),
            report.requests
        );
    }
    println!(
        "wrote {} and {}",
        markdown_path.display(),
        chart_path.display()
    );
    Ok(())
}

struct Tools {
    cli: PathBuf,
    floor: PathBuf,
    plain: PathBuf,
}

/// A sandbox process serving one configuration.
struct Sandbox {
    child: Child,
    url: String,
    events: usize,
    /// Set once `stop` has reaped the process.
    stopped: bool,
}

impl Sandbox {
    /// Starts a sandbox with `events` entries, all in 2021 ([`DATA_END`],
    /// [`DATA_SPAN`]): the same data every time.
    fn start(cli: &Path, events: usize, latency_ms: u64) -> Result<Sandbox, String> {
        eprintln!(
            "starting the sandbox: {events} events in the {DATA_SPAN} before {DATA_END}, {latency_ms} ms latency"
        );
        let mut child = Command::new(cli)
            .args(["sandbox", "--port", "0", "--events"])
            .arg(events.to_string())
            .arg("--latency-ms")
            .arg(latency_ms.to_string())
            .args(["--end", DATA_END, "--span", DATA_SPAN])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start the sandbox: {e}"))?;
        let stdout = child.stdout.take().ok_or("no sandbox stdout")?;
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading the sandbox: {e}"))?;
            if let Some(value) = line.strip_prefix("export IONOS_API_URL=") {
                url = Some(value.to_string());
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the sandbox did not say where it listens".into());
        };
        Ok(Sandbox {
            child,
            url,
            events,
            stopped: false,
        })
    }

    /// Stops the sandbox; returns the CPU seconds it used.
    fn stop(mut self) -> f64 {
        self.stopped = true;
        let _ = self.child.kill();
        match wait4(&self.child) {
            Ok((_, usage)) => timeval(usage.ru_utime) + timeval(usage.ru_stime),
            Err(_) => 0.0,
        }
    }
}

impl Drop for Sandbox {
    /// A benchmark that fails half-way leaves no sandbox behind.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The windows both baselines page, planned once and untimed.
struct Plan {
    /// The plan file both baselines read.
    path: PathBuf,
    /// Windows in the plan.
    windows: usize,
    /// Requests of 1,000 entries that page through them: what each baseline
    /// must send.
    requests: u64,
}

impl Plan {
    /// Plans the windows of [`RANGE_SINCE`]..[`RANGE_UNTIL`] with
    /// `baseline-floor plan` against a sandbox of its own (no latency; the
    /// data are those of every other sandbox with `events` entries), and
    /// checks that they hold every entry.
    fn make(tools: &Tools, events: usize, work: &Path) -> Result<Plan, String> {
        let sandbox = Sandbox::start(&tools.cli, events, 0)?;
        let path = work.join("plan.txt");
        let mut command = client_command(&tools.floor, &sandbox);
        command
            .arg("plan")
            .args([CONTRACT, RANGE_SINCE, RANGE_UNTIL])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let output = command
            .output()
            .map_err(|e| format!("could not start {}: {e}", tools.floor.display()))?;
        sandbox.stop();
        if !output.status.success() {
            return Err(format!(
                "planning the baselines' windows failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let said = report_of("the planner", &String::from_utf8_lossy(&output.stdout))?;
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let windows = plan::parse(&text)?;
        let plan = Plan {
            path,
            windows: windows.len(),
            requests: plan::requests(&windows),
        };
        if plan::entries(&windows) != events as u64 || said["requests"] != plan.requests {
            return Err(format!(
                "the plan holds {} entries in {} requests, not {events} ({said})",
                plan::entries(&windows),
                plan.requests
            ));
        }
        eprintln!(
            "planned {} windows, {} requests of 1,000 for each baseline ({} counting requests, {}, untimed)",
            plan.windows,
            plan.requests,
            said["count_requests"],
            seconds(started.elapsed().as_secs_f64())
        );
        Ok(plan)
    }
}

/// `program` with the sandbox's URL and token and nothing else of ours.
fn client_command(program: &Path, sandbox: &Sandbox) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("IONOS_USERNAME")
        .env_remove("IONOS_PASSWORD")
        .env_remove("RUST_LOG")
        .env("IONOS_API_URL", &sandbox.url)
        .env("IONOS_TOKEN", TOKEN)
        .stdin(Stdio::null());
    command
}

/// Exports once with `-vv`, untimed, at the latency target's concurrency,
/// and counts from the log the pages activitylog asked for and those that
/// only showed a window's end.
fn count_traffic(tools: &Tools, sandbox: &Sandbox, work: &Path) -> Result<Traffic, String> {
    let out = work.join("traffic.ndjson");
    let log_path = work.join("traffic.log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut command = client_command(&tools.cli, sandbox);
    command
        .args([
            "-vv",
            "entries",
            CONTRACT,
            "--since",
            RANGE_SINCE,
            "--until",
            RANGE_UNTIL,
        ])
        .args(["--format", "ndjson", "--concurrency"])
        .arg(LATENCY_CONCURRENCY.to_string())
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(log);
    let status = command
        .status()
        .map_err(|e| format!("could not start {}: {e}", tools.cli.display()))?;
    let _ = fs::remove_file(&out);
    let said = fs::read_to_string(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let _ = fs::remove_file(&log_path);
    if !status.success() {
        return Err(format!("the counted export failed ({status})"));
    }
    let traffic = Traffic::from_log(&said);
    eprintln!(
        "activitylog: {} requests, {} of them empty pages that showed a window's end",
        traffic.requests, traffic.end_only
    );
    Ok(traffic)
}

/// Runs one client against the sandbox and checks what it downloaded; the
/// baselines need the `plan` (the memory runs, CLI only, have none).
fn measure(
    tools: &Tools,
    sandbox: &Sandbox,
    plan: Option<&Plan>,
    client: Client,
    work: &Path,
) -> Result<Sample, String> {
    let out = work.join("export.ndjson");
    let plan_path = || {
        plan.map(|p| OsString::from(&p.path))
            .ok_or_else(|| format!("{} needs a plan", client.label()))
    };
    let (program, args): (&Path, Vec<OsString>) = match client {
        Client::Floor => (&tools.floor, vec![CONTRACT.into(), plan_path()?]),
        Client::Plain => (
            &tools.plain,
            vec![CONTRACT.into(), plan_path()?, out.clone().into()],
        ),
        Client::Export { concurrency } => (
            &tools.cli,
            vec![
                "entries".into(),
                CONTRACT.into(),
                "--since".into(),
                RANGE_SINCE.into(),
                "--until".into(),
                RANGE_UNTIL.into(),
                "--format".into(),
                "ndjson".into(),
                "--out".into(),
                out.clone().into(),
                "--concurrency".into(),
                concurrency.to_string().into(),
            ],
        ),
    };
    let baseline = matches!(client, Client::Floor | Client::Plain);
    let stderr_path = work.join("stderr.txt");
    let stderr =
        File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let mut command = client_command(program, sandbox);
    command
        .args(&args)
        .stdout(if baseline {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(stderr);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    let mut stdout = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut stdout)
            .map_err(|e| format!("reading {}: {e}", program.display()))?;
    }
    let (status, usage) = wait4(&child)?;
    let mut wall = started.elapsed().as_secs_f64();
    if !status.success() {
        let said = fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!(
            "{} failed ({status}): {}",
            client.label(),
            said.trim()
        ));
    }
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    let rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let mut requests = None;
    if let Some(plan) = plan.filter(|_| baseline) {
        let said = report_of(&client.label(), &stdout)?;
        requests = Some(check_requests(client, &said, plan.requests)?);
        if client == Client::Floor {
            wall = floor_seconds(&said)?;
        }
    }
    if client != Client::Floor {
        let lines = count_lines(&out)?;
        let _ = fs::remove_file(&out);
        if lines != sandbox.events as u64 {
            return Err(format!(
                "{} wrote {lines} lines, not {}",
                client.label(),
                sandbox.events
            ));
        }
    }
    Ok(Sample {
        wall,
        cpu,
        rss_kib,
        requests,
    })
}

/// The one-line JSON report a baseline prints on stdout.
fn report_of(who: &str, stdout: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(stdout.trim())
        .map_err(|e| format!("the report of {who}, `{}`: {e}", stdout.trim()))
}

/// The requests a baseline reports, which must be those of the plan: both
/// baselines page the same windows, so they must send as many requests.
fn check_requests(client: Client, report: &serde_json::Value, planned: u64) -> Result<u64, String> {
    match report["requests"].as_u64() {
        Some(sent) if sent == planned => Ok(sent),
        sent => Err(format!(
            "the {} sent {} requests, but the plan both baselines page needs {planned}: \
             the baselines do not compare like with like ({report})",
            client.label(),
            sent.map_or("an unknown number of".into(), |s| s.to_string())
        )),
    }
}

/// The floor's transfer time from its report, after checking it moved bytes.
fn floor_seconds(report: &serde_json::Value) -> Result<f64, String> {
    if report["bytes"].as_u64().unwrap_or(0) == 0 {
        return Err(format!("the floor fetched nothing: {report}"));
    }
    report["seconds"]
        .as_f64()
        .ok_or_else(|| format!("the floor's report has no seconds: {report}"))
}

/// Waits for `child` and returns its status and resource usage.
fn wait4(child: &Child) -> Result<(ExitStatus, libc::rusage), String> {
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; all zeros is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; status and usage are valid for writes.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {error}"));
        }
    }
}

fn timeval(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Busy CPU seconds of the whole machine since boot (`/proc/stat`: user,
/// nice, system, irq, softirq and steal).
fn cpu_busy_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let busy: f64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| fields.get(i).copied().unwrap_or(0.0))
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| busy / ticks as f64)
}

/// CPU seconds of this driver process.
fn own_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain old data; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: usage is valid for writes.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn count_lines(path: &Path) -> Result<u64, String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if read == 0 {
            return Ok(lines);
        }
        lines += buffer[..read].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// The 1-minute load average, watched over the run.
struct Load {
    max: f64,
}

impl Load {
    fn new() -> Load {
        Load { max: 0.0 }
    }

    fn now(&mut self) -> f64 {
        let load = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN);
        if load > self.max {
            self.max = load;
        }
        load
    }

    fn sample(&mut self) {
        self.now();
    }
}

fn machine(root: &Path) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown".into(), |(_, model)| model.trim().to_string());
    let memory_mib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024);
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let mut commit = output("git", &["rev-parse", "--short", "HEAD"]);
    if dirty {
        commit.push_str("+dirty");
    }
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model,
        memory_mib,
        kernel: output("uname", &["-sr"]),
        rustc: output("rustc", &["-V"]),
        commit,
        date: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ..Machine::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_are_the_published_configuration() {
        let options = parse(&[]).unwrap();
        assert_eq!((options.runs, options.events), (3, 200_000));
        assert_eq!(options.latencies, [0, 50]);
        assert_eq!(options.memory_events, [100_000, 1_000_000]);
    }

    #[test]
    fn quick_shrinks_what_was_not_given() {
        let options = parse(&["--quick", "--runs", "2"]).unwrap();
        assert_eq!((options.runs, options.events), (2, 20_000));
        let options = parse(&["--memory-events", "-", "--latencies", "5"]).unwrap();
        assert!(options.memory_events.is_empty());
        assert_eq!(options.latencies, [5]);
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn the_baselines_must_send_the_planned_requests() {
        let floor = report_of("floor", r#"{"requests":210,"bytes":5,"seconds":1.5}"#).unwrap();
        assert_eq!(check_requests(Client::Floor, &floor, 210), Ok(210));
        assert_eq!(floor_seconds(&floor), Ok(1.5));
        let plain = report_of("plain", r#"{"requests":211,"entries":200000}"#).unwrap();
        let error = check_requests(Client::Plain, &plain, 210).unwrap_err();
        assert!(
            error.contains("sent 211 requests") && error.contains("needs 210"),
            "{error}"
        );
        assert!(check_requests(Client::Plain, &serde_json::json!({}), 210).is_err());
        assert!(floor_seconds(&serde_json::json!({"requests": 210, "bytes": 0})).is_err());
        assert!(report_of("floor", "nonsense").is_err());
    }
}
