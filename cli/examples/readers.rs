//! Readers and memory on a growing log (issue 19; figures in BENCHMARKS.md):
//!
//! * `memory`: the peak resident memory (max RSS) of an appending process and of
//!   `sealtrail verify --log` as the log grows to 100k and then 1M entries. The appending
//!   processes are a library appender (this example run again as a child: it opens the log and
//!   appends from 2 threads in batches until the log reaches the size, then reports its own
//!   `VmHWM`) and `sealtrail append` of 2,000 JSON events into the log of that size. The
//!   binaries' peaks are read by `/usr/bin/time` (Debian's `time` package). Beside them, the same
//!   run's `verify-bundle` of the whole log exported: its peak and both commands' entries/s.
//!   Target: every peak under 64 MiB at 1M entries.
//! * `latency`: `sealtrail verify --log` of a 100k-entry log and `sealtrail show --session` of
//!   one session, spawn to exit, first with nothing else running, then while another process
//!   (this example as a child) appends from 16 threads with Immediate durability.
//!
//! ```sh
//! cargo build --release -p sealtrail-cli --bins
//! cargo run --release -p sealtrail-cli --example readers -- memory 100000 1000000
//! cargo run --release -p sealtrail-cli --example readers -- latency 100000
//! ```
//!
//! The binaries are the ones beside this example's (target/release or target/debug). The logs
//! are built in a temporary directory and removed at the end (1M entries: about 600 MB), unless
//! `READERS_KEEP=DIR` names where `memory` moves its directory (log, keys, `log.vkey`) instead.

#![forbid(unsafe_code)]

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sealtrail::event::{CommandRun, Event};
use sealtrail::{Durability, Log, Record, SecretKey, SessionId};

const ORIGIN: &str = "bench.example/readers";
/// Sessions the entries are spread over.
const SESSIONS: u64 = 64;
/// The session `show` lists.
const SHOWN: &str = "session-3";
/// Appender threads of the writer beside the readers.
const WRITERS: usize = 16;
/// Runs of each reader command in `latency`.
const RUNS: usize = 3;
/// Events `sealtrail append` appends in `memory`.
const CLI_EVENTS: usize = 2_000;

fn bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/readers -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no target directory")?;
    let path = dir.join(name);
    ensure!(
        path.exists(),
        "{}: build it first (cargo build [--release] -p sealtrail-cli --bins)",
        path.display()
    );
    Ok(path)
}

fn run(dir: &Path, name: &str, args: &[&str]) -> Result<std::process::Output> {
    let o = Command::new(bin(name)?)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !o.status.success() {
        bail!(
            "{name} {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(o)
}

/// Runs a binary under `/usr/bin/time`: its peak resident memory in KiB and its wall time.
fn peak_of(dir: &Path, name: &str, args: &[&str]) -> Result<(u64, Duration)> {
    let time = Path::new("/usr/bin/time");
    ensure!(
        time.exists(),
        "/usr/bin/time is missing: install it (apt-get install -y time)"
    );
    let report = dir.join("time.out");
    let started = Instant::now();
    let o = Command::new(time)
        .current_dir(dir)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(bin(name)?)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()?;
    let took = started.elapsed();
    if !o.status.success() {
        bail!("{name} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let kib = std::fs::read_to_string(&report)?
        .trim()
        .parse()
        .context("/usr/bin/time's %M")?;
    Ok((kib, took))
}

/// This process's peak resident size in KiB (`VmHWM`, Linux).
fn own_peak() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM")?.parse()?)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A realistic entry: a command run with a ~250-byte command line.
fn command(n: u64) -> Event {
    Event::CommandRun(CommandRun {
        command: format!(
            "cargo test --workspace --all-features -- --test-threads 2 --nocapture \
             readers::verify_beside_writers::case_{n:08} {}",
            "x".repeat(150)
        ),
        exit_code: Some(0),
        duration_ms: 41_000 + n % 1000,
        ..CommandRun::default()
    })
}

fn record(n: u64) -> Result<Record> {
    let session = SessionId::new(&format!("session-{}", n % SESSIONS))?;
    Ok(command(n).to_record()?.session(&session))
}

/// A fresh log with a registered recorder; returns the directory holding `log`, the keys and
/// `log.vkey`.
fn new_log() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    run(d, "sealtrail", &["keygen", "--out", "owner.key"])?;
    run(d, "sealtrail", &["keygen", "--out", "rec.key"])?;
    run(
        d,
        "sealtrail",
        &[
            "init",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--origin",
            ORIGIN,
            "--vkey-out",
            "log.vkey",
        ],
    )?;
    run(
        d,
        "sealtrail",
        &[
            "keys",
            "add",
            "--log",
            "log",
            "--owner-key",
            "owner.key",
            "--pub",
            "rec.key.pub",
            "--role",
            "recorder",
        ],
    )?;
    Ok(dir)
}

/// Child: appends until the log holds `to` entries (2 threads, batches of 500, Buffered, one
/// flush per batch), then prints its peak resident size in KiB.
fn append_child(dir: &Path, to: u64) -> Result<()> {
    let key = SecretKey::load(&dir.join("rec.key"))?.key;
    let log = Log::builder()
        .durability(Durability::Buffered)
        .open(&dir.join("log"))?;
    // Batches take sessions in turn, so every session holds entries (the log's length at a
    // batch's start would not: two appenders can skip a session every time).
    let batches = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (log, key, batches) = (&log, &key, &batches);
                s.spawn(move || -> Result<()> {
                    loop {
                        let len = log.len();
                        if len >= to {
                            return Ok(());
                        }
                        let n = (to - len).min(500);
                        let batch = batches.fetch_add(1, Ordering::Relaxed);
                        let session = SessionId::new(&format!("session-{}", batch % SESSIONS))?;
                        let batch = (0..n)
                            .map(|i| Ok(command(len + i).to_record()?.session(&session)))
                            .collect::<Result<Vec<Record>>>()?;
                        log.append_batch(key, batch)?;
                        log.flush()?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("an appender panicked"))??;
        }
        Ok(())
    })?;
    drop(log);
    println!("{}", own_peak()?);
    Ok(())
}

/// Child: appends from [`WRITERS`] threads, Immediate, until its standard input closes; prints
/// how many entries it appended.
fn write_child(dir: &Path) -> Result<()> {
    let key = Arc::new(SecretKey::load(&dir.join("rec.key"))?.key);
    let log = Log::builder()
        .durability(Durability::Immediate)
        .open(&dir.join("log"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..WRITERS as u64)
        .map(|t| {
            let (log, key, stop, count) = (log.clone(), key.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || -> Result<()> {
                let mut n = t << 40;
                while !stop.load(Ordering::Relaxed) {
                    log.append(&key, record(n)?)?;
                    count.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                Ok(())
            })
        })
        .collect();
    println!("writing");
    std::io::stdout().flush()?;
    // Until the parent closes our standard input.
    let mut sink = String::new();
    while std::io::stdin().lock().read_line(&mut sink)? > 0 {}
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    println!("{}", count.load(Ordering::Relaxed));
    Ok(())
}

/// Runs this example as a child in `mode`; its last line of output.
fn child(dir: &Path, mode: &str, args: &[String]) -> Result<String> {
    let o = Command::new(std::env::current_exe()?)
        .arg(mode)
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !o.status.success() {
        bail!("child {mode}: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(String::from_utf8(o.stdout)?
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned())
}

fn entries_verified(stdout: &[u8]) -> Result<u64> {
    let report: serde_json::Value = serde_json::from_slice(stdout)?;
    ensure!(report["verdict"] == "valid", "verify --log: {report}");
    report["entries"].as_u64().context("entries")
}

fn memory(sizes: &[u64]) -> Result<()> {
    let dir = new_log()?;
    let d = dir.path();
    let events: String = (0..CLI_EVENTS as u64)
        .map(|n| {
            let Event::CommandRun(c) = command(n) else {
                unreachable!()
            };
            format!(
                "{}\n",
                serde_json::json!({"kind": "command_run", "command": c.command,
                    "exit_code": 0, "duration_ms": c.duration_ms})
            )
        })
        .collect();
    std::fs::write(d.join("events.jsonl"), events)?;
    let mut rows = Vec::new();
    for &size in sizes {
        let started = Instant::now();
        let appender: u64 = child(d, "--append-child", &[size.to_string()])?.parse()?;
        let built = started.elapsed();
        // Each figure as soon as it is known: a 1M-entry run takes long on a loaded machine.
        eprintln!("{size}: library appender peak {}", mib(appender));
        let (append, _) = peak_of(
            d,
            "sealtrail",
            &[
                "append",
                "--log",
                "log",
                "--key",
                "rec.key",
                "--session",
                "cli",
                "--file",
                "events.jsonl",
            ],
        )?;
        eprintln!("{size}: `sealtrail append` peak {}", mib(append));
        let (verify, took) = peak_of(d, "sealtrail", &["verify", "--log", "log"])?;
        eprintln!("{size}: `sealtrail verify --log` peak {}", mib(verify));
        let entries =
            entries_verified(&run(d, "sealtrail", &["verify", "--log", "log", "--json"])?.stdout)?;
        let _ = std::fs::remove_file(d.join("log.bundle"));
        run(
            d,
            "sealtrail",
            &[
                "export",
                "--log",
                "log",
                "--owner-key",
                "owner.key",
                "--out",
                "log.bundle",
            ],
        )?;
        let (bundle, bundle_took) = peak_of(
            d,
            "verify-bundle",
            &["log.bundle", "--trusted-key", "log.vkey"],
        )?;
        let _ = std::fs::remove_file(d.join("log.bundle"));
        eprintln!(
            "{entries} entries (appender grew it in {:.0} s)",
            built.as_secs_f64()
        );
        rows.push((
            entries,
            appender,
            append,
            verify,
            entries as f64 / took.as_secs_f64(),
            bundle,
            entries as f64 / bundle_took.as_secs_f64(),
        ));
    }
    println!(
        "| entries | library appender (grew the log to this size) | `sealtrail append` of {CLI_EVENTS} events | `sealtrail verify --log` | `verify-bundle` of the whole log exported | `verify --log` / `verify-bundle`, entries/s (spawn to exit) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for (entries, appender, append, verify, vrate, bundle, brate) in rows {
        println!(
            "| {entries} | {} | {} | {} | {} | {vrate:.0} / {brate:.0} = **{:.2}×** |",
            mib(appender),
            mib(append),
            mib(verify),
            mib(bundle),
            vrate / brate
        );
    }
    // For profiling the readers on the largest log: `READERS_KEEP=DIR` keeps it (with its keys).
    if let Some(keep) = std::env::var_os("READERS_KEEP") {
        std::fs::rename(d, &keep)?;
        eprintln!("kept the log in {}", Path::new(&keep).display());
    }
    Ok(())
}

/// Runs `args` [`RUNS`] times; the wall times sorted, and the last run's output.
fn timed(d: &Path, args: &[&str]) -> Result<(Vec<Duration>, Vec<u8>)> {
    let mut times = Vec::new();
    let mut last = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let o = run(d, "sealtrail", args)?;
        times.push(started.elapsed());
        last = o.stdout;
    }
    times.sort();
    Ok((times, last))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn latency(size: u64) -> Result<()> {
    let dir = new_log()?;
    let d = dir.path();
    child(d, "--append-child", &[size.to_string()])?;
    let verify = ["verify", "--log", "log", "--json"];
    let show = ["show", "--log", "log", "--session", SHOWN, "--json"];
    let (v_idle, out) = timed(d, &verify)?;
    let idle_entries = entries_verified(&out)?;
    let (s_idle, out) = timed(d, &show)?;
    let idle_shown = out.lines().count();
    ensure!(
        idle_shown > 0,
        "{SHOWN} holds no entries: the figure would time an empty answer"
    );
    // The writer: another process, 16 appenders, until we close its standard input.
    let mut writer = Command::new(std::env::current_exe()?)
        .arg("--write-child")
        .arg(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = std::io::BufReader::new(writer.stdout.take().context("stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    ensure!(line.trim() == "writing", "the writer did not start: {line}");
    let started = Instant::now();
    let mut v_busy = Vec::new();
    let mut s_busy = Vec::new();
    let (mut first, mut last_entries) = (None, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let o = run(d, "sealtrail", &verify)?;
        v_busy.push(t.elapsed());
        last_entries = entries_verified(&o.stdout)?;
        first.get_or_insert(last_entries);
        let t = Instant::now();
        run(d, "sealtrail", &show)?;
        s_busy.push(t.elapsed());
    }
    let busy_for = started.elapsed();
    drop(writer.stdin.take());
    line.clear();
    out.read_line(&mut line)?;
    let appended: u64 = line.trim().parse().context("the writer's count")?;
    ensure!(writer.wait()?.success(), "the writer failed");
    v_busy.sort();
    s_busy.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    let max = |v: &[Duration]| v[v.len() - 1];
    println!(
        "| command ({RUNS} runs each, spawn to exit) | no writer: median / max | 16 appenders writing in another process: median / max | ratio of medians |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| `sealtrail verify --log` ({idle_entries} entries idle; {} → {last_entries} beside the writer) | {} / {} | {} / {} | {:.2}× |",
        first.unwrap_or(0),
        ms(median(&v_idle)),
        ms(max(&v_idle)),
        ms(median(&v_busy)),
        ms(max(&v_busy)),
        median(&v_busy).as_secs_f64() / median(&v_idle).as_secs_f64()
    );
    println!(
        "| `sealtrail show --session {SHOWN}` ({idle_shown} entries idle) | {} / {} | {} / {} | {:.2}× |",
        ms(median(&s_idle)),
        ms(max(&s_idle)),
        ms(median(&s_busy)),
        ms(max(&s_busy)),
        median(&s_busy).as_secs_f64() / median(&s_idle).as_secs_f64()
    );
    println!(
        "\nthe writer appended {appended} entries in {:.1} s beside the readers ({:.0}/s)",
        busy_for.as_secs_f64(),
        appended as f64 / busy_for.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = |i: usize| args.get(i..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("--append-child") => {
            let dir = PathBuf::from(args.get(1).context("dir")?);
            append_child(&dir, args.get(2).context("size")?.parse()?)
        }
        Some("--write-child") => write_child(Path::new(args.get(1).context("dir")?)),
        Some("memory") => {
            let sizes: Vec<u64> = if rest(1).is_empty() {
                vec![100_000, 1_000_000]
            } else {
                rest(1)
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()?
            };
            memory(&sizes)
        }
        Some("latency") => latency(rest(1).first().map_or(Ok(100_000), |s| s.parse())?),
        _ => bail!("usage: readers memory [ENTRIES…] | readers latency [ENTRIES]"),
    }
}
