//! The auditor's page in a real browser: `verify-bundle --html` and `sealtrail report --html`
//! write one self-contained HTML file; Debian's chromium renders it headless (`--dump-dom`,
//! `--screenshot`) with every request sent to a proxy in the test, which must see none from the
//! page.
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`; `.ci/run` installs it): without it
//! these tests fail, saying so.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sealtrail::event::{Event, SessionStarted};
use sealtrail::log::{ExportOptions, Selection};
use sealtrail::query::session_events;
use sealtrail::{Durability, Log, SessionId, Suite};
use sealtrail_testkit::fixtures::*;
use sealtrail_testkit::scenario::{ScenarioKeys, record_xbrl_session};

const INSTALL: &str = "install Debian's chromium: apt-get install -y chromium";

/// Hosts Chromium itself calls at start-up whatever page it shows (its component updater and
/// Google account list; seen with Debian's chromium 156 and these flags). A connection to any
/// other host while the page renders fails the test.
const BROWSER_OWN_HOSTS: [&str; 2] = ["update.googleapis.com", "accounts.google.com"];

/// The most a browser run may take before the test gives up on it (a hang guard, not a
/// measurement).
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

fn run(bin: &str, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut c = Command::new(bin);
    c.args(args);
    if let Some(path) = stdin {
        c.stdin(std::fs::File::open(path).unwrap());
    }
    c.output().unwrap()
}

fn verify_bundle(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_verify-bundle"), args, None)
}

fn sealtrail(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_sealtrail"), args, None)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Fixture {
    dir: tempfile::TempDir,
    log: Log,
    xbrl: SessionId,
}

impl Fixture {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

// A log on disk with `populate`'s history (an approval, an erasure), the XBRL session and a
// session whose goal is markup; a whole-log bundle; the verifier key file to pin.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let log = Log::builder()
        .suite(Suite::Blake3)
        .durability(Durability::Buffered)
        .create(&dir.path().join("log"), &k.owner, ORIGIN)
        .unwrap();
    populate(&log, &k);
    let keys = ScenarioKeys::new(&k.owner, &k.recorder, &k.approver, "Release Approver");
    let xbrl = SessionId::new("xbrl").unwrap();
    record_xbrl_session(&log, &keys, &xbrl).unwrap();
    log.session_writer(&k.recorder, &SessionId::new("hostile").unwrap())
        .append(&Event::SessionStarted(SessionStarted {
            objective: "<img src=\"http://example.com/x.png\"><script>fetch('http://example.com/')</script>".into(),
            agent_name: "test agent".into(),
            ..SessionStarted::default()
        }))
        .unwrap();
    log.flush().unwrap();
    let mut bundle = Vec::new();
    log.export(
        &k.owner,
        &ExportOptions::new(Selection::Log),
        &mut bundle,
        &mut |_, _| {},
    )
    .unwrap();
    std::fs::write(dir.path().join("all.bundle"), &bundle).unwrap();
    let vkeys: String = owner_vkeys(&k)
        .iter()
        .map(|key| format!("{}\n", key.to_vkey()))
        .collect();
    std::fs::write(dir.path().join("log.vkey"), vkeys).unwrap();
    Fixture { dir, log, xbrl }
}

// Text as the browser serializes it in a text node.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A proxy that only listens: it records the request line of every connection and answers
/// nothing.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

const STOP: &str = "STOP sealtrail-test";

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                let line = line.trim_end().to_owned();
                if line == STOP {
                    return;
                }
                record.lock().unwrap().push(if line.is_empty() {
                    "(a connection that sent nothing)".to_owned()
                } else {
                    line
                });
            }
        });
        Proxy {
            port,
            seen,
            thread: Some(thread),
        }
    }

    /// Stops listening and returns every request line received.
    fn finish(mut self) -> Vec<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        writeln!(s, "{STOP}").unwrap();
        drop(s);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

// The host a proxied request is for: `CONNECT host:443 …` or `GET http://host/path …`.
fn request_host(line: &str) -> Option<String> {
    let target = line.split_whitespace().nth(1)?;
    let authority = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
        .map_or(target, |rest| rest.split('/').next().unwrap_or(rest));
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_owned(),
    )
}

fn chromium_installed() {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chromium is not installed: {INSTALL}");
}

/// Runs Debian's chromium headless on `page` with `mode` (`--dump-dom` or `--screenshot=…`),
/// every request sent to `proxy`; returns its standard output.
fn chromium(page: &Path, mode: &str, proxy: &Proxy) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-features=NetworkTimeServiceQuerying",
            "--window-size=1200,1600",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--proxy-server=http://127.0.0.1:{}", proxy.port),
            "--proxy-bypass-list=<-loopback>",
            mode,
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run chromium ({e}): {INSTALL}"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {mode} did not finish within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap();
    let errors = err_reader.join().unwrap();
    assert!(
        status.success(),
        "chromium {mode} failed: {status}\n{errors}"
    );
    out
}

/// Renders the page headless, as DOM and as a screenshot, through a listening proxy; returns
/// the DOM. Fails if the page made the browser connect anywhere.
fn render(page: &Path, shot: &Path) -> String {
    chromium_installed();
    let proxy = Proxy::start();
    let dom = chromium(page, "--dump-dom", &proxy);
    chromium(page, &format!("--screenshot={}", shot.display()), &proxy);
    let seen = proxy.finish();
    let from_page: Vec<&String> = seen
        .iter()
        .filter(|line| request_host(line).is_none_or(|h| !BROWSER_OWN_HOSTS.contains(&h.as_str())))
        .collect();
    assert!(
        from_page.is_empty(),
        "the page made the browser connect: {from_page:?} (all connections: {seen:?})"
    );
    let png = std::fs::read(shot).unwrap();
    assert!(png.len() > 1000, "screenshot of {} bytes", png.len());
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    dom
}

// Statically: nothing on the page points outside it.
fn assert_inert(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(lower.contains("content-security-policy"));
    for bad in ["<script", "<link", "<iframe", "<img", "@import", "url("] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
    for attr in [" src=\"", " href=\"", " srcset=\"", " action=\""] {
        for (i, _) in lower.match_indices(attr) {
            let value = &lower[i + attr.len()..];
            assert!(
                value.starts_with('#') || value.starts_with("data:"),
                "{attr}{} points outside the page",
                &value[..value.find('"').unwrap_or(value.len()).min(60)]
            );
        }
    }
}

#[test]
fn verify_bundle_html_renders_in_a_browser_without_a_request() {
    let f = fixture();
    let page = f.path("evidence.html");
    let o = verify_bundle(&[
        &f.path("all.bundle"),
        "--trusted-key",
        &f.path("log.vkey"),
        "--html",
        &page,
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("verdict:     VALID"));
    assert!(err(&o).contains(&format!("wrote {page}")), "{}", err(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_inert(&html);

    let dom = render(Path::new(&page), &f.dir.path().join("evidence.png"));
    assert!(dom.contains("<strong>VALID</strong>"));
    assert!(
        dom.contains("Release Approver"),
        "the approver's printed name"
    );
    let mut decisions = 0;
    for s in ["sess-1", "xbrl"] {
        for e in session_events(&f.log, &SessionId::new(s).unwrap()).unwrap() {
            if let Some(Event::Decision(d)) = e.event {
                decisions += 1;
                assert!(dom.contains(&dom_text(&d.question)), "{}", d.question);
                assert!(dom.contains(&dom_text(&d.chosen)), "{}", d.chosen);
            }
        }
    }
    assert_eq!(decisions, 2, "sess-1 and xbrl decide once each");
    // The hostile goal is text in the rendered page, not an element.
    assert!(dom.contains("&lt;img src=\"http://example.com/x.png\"&gt;&lt;script&gt;"));
    assert!(!dom.contains("<img"));
    // The session's approvals link to what they approve.
    assert!(dom.contains("href=\"#seq-"));
    let _ = &f.xbrl;
}

#[test]
fn an_invalid_bundle_still_gets_a_page_showing_invalid() {
    let f = fixture();
    let mut bundle = std::fs::read(f.path("all.bundle")).unwrap();
    let at = bundle.len() / 2;
    bundle[at] ^= 0x01;
    std::fs::write(f.path("bad.bundle"), &bundle).unwrap();
    let page = f.path("bad.html");
    let o = verify_bundle(&[
        &f.path("bad.bundle"),
        "--trusted-key",
        &f.path("log.vkey"),
        "--html",
        &page,
    ]);
    assert_eq!(code(&o), 1, "the exit status is the verdict's: {}", err(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_inert(&html);
    let dom = render(Path::new(&page), &f.dir.path().join("bad.png"));
    assert!(dom.contains("<strong>INVALID</strong>"));
    assert!(dom.contains("<h2>Findings</h2>"));
    for absent in ["Release Approver", "id=\"seq-", "Add XBRL export"] {
        assert!(
            !dom.contains(absent),
            "{absent} on an invalid bundle's page"
        );
    }
}

#[test]
fn a_bundle_on_standard_input_with_json() {
    let f = fixture();
    let page = f.path("stdin.html");
    let o = run(
        env!("CARGO_BIN_EXE_verify-bundle"),
        &[
            "-",
            "--trusted-key",
            &f.path("log.vkey"),
            "--html",
            &page,
            "--json",
        ],
        Some(Path::new(&f.path("all.bundle"))),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["verdict"], "valid");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<title>sealtrail evidence: bundle standard input</title>"));
    // The page and the JSON come from the same verification.
    for a in json["approvals"].as_array().unwrap() {
        let seq = a["seq"].as_u64().unwrap();
        assert!(html.contains(&format!(
            "<tr class=\"approval\"><td><a href=\"#seq-{seq}\">"
        )));
    }
}

#[test]
fn an_existing_page_is_refused_unless_forced_and_a_query_cannot_write_one() {
    let f = fixture();
    let page = f.path("exists.html");
    std::fs::write(&page, "keep me").unwrap();
    let args = [
        f.path("all.bundle"),
        "--trusted-key".into(),
        f.path("log.vkey"),
        "--html".into(),
        page.clone(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = verify_bundle(&args);
    assert_eq!(code(&o), 2);
    assert!(
        err(&o).contains("exists; choose another --html or pass --force"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(&page).unwrap(), "keep me");
    let mut forced = args.clone();
    forced.push("--force");
    let o = verify_bundle(&forced);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("<strong>VALID</strong>")
    );
    let mut query = forced.clone();
    query.extend(["show", "--session", "xbrl"]);
    let o = verify_bundle(&query);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("not by a query"), "{}", err(&o));
}

#[test]
fn sealtrail_report_html_for_the_local_log() {
    let f = fixture();
    let log_dir: PathBuf = f.dir.path().join("log");
    let page = f.path("local.html");
    // The log is opened by one process at a time.
    drop(f.log);
    let o = sealtrail(&[
        "report",
        "--log",
        log_dir.to_str().unwrap(),
        "--html",
        &page,
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("verdict:     VALID"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_inert(&html);
    assert!(html.contains(&format!(
        "<title>sealtrail evidence: log {}</title>",
        log_dir.display()
    )));
    assert!(html.contains("Release Approver"));
    assert!(html.contains("How should the XBRL instance document be written?"));
    assert!(html.contains("test erasure"), "the erasure's reason");
    // The page is what --html asks for: without it, a usage error.
    let o = sealtrail(&["report", "--log", log_dir.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("--html"), "{}", err(&o));
}

// Makes a commit in `repo` by `author` at `seconds` and returns its id.
fn commit(repo: &Path, file: &str, author: (&str, &str), seconds: u64) -> String {
    let git = |args: &[&str]| {
        let date = format!("@{seconds} +0000");
        let o = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", author.0)
            .env("GIT_AUTHOR_EMAIL", author.1)
            .env("GIT_COMMITTER_NAME", author.0)
            .env("GIT_COMMITTER_EMAIL", author.1)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap_or_else(|e| panic!("git is needed for this test (apt-get install git): {e}"));
        assert!(o.status.success(), "git {args:?}: {}", err(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    std::fs::write(repo.join(file), format!("{file}\n")).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", file]);
    git(&["rev-parse", "HEAD"])
}

// `sealtrail report --html --repo`: the defect-rate charts are inline SVG that the browser
// draws, with no request, beside the verified record.
#[test]
fn the_defect_rate_chart_renders_in_a_browser_without_a_request() {
    let f = fixture();
    let repo = f.dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let init = Command::new("git")
        .args(["init", "-q"])
        .arg(&repo)
        .output()
        .expect("git is needed for this test (apt-get install git)");
    assert!(init.status.success());
    let t0 = 1_767_571_200u64; // 2026-01-05T00:00:00Z
    commit(&repo, "human.txt", ("Dev", "dev@example.com"), t0);
    let agent = commit(
        &repo,
        "agent.txt",
        ("Claude", "noreply@anthropic.com"),
        t0 + 86_400,
    );
    let k = keys();
    f.log
        .append_event(
            &k.approver,
            &SessionId::new("ops").unwrap(),
            &Event::Incident(sealtrail::event::Incident {
                id: "INC-7".into(),
                severity: "sev2".into(),
                detected_at: (t0 + 10 * 86_400) * 1_000_000_000,
                description: "exports broke".into(),
                commits: vec![agent],
                sessions: Vec::new(),
            }),
            &[],
        )
        .unwrap();
    let log_dir: PathBuf = f.dir.path().join("log");
    let page = f.path("defects.html");
    drop(f.log);
    let o = sealtrail(&[
        "report",
        "--log",
        log_dir.to_str().unwrap(),
        "--html",
        &page,
        "--repo",
        repo.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_inert(&html);
    let dom = render(Path::new(&page), &f.dir.path().join("defects.png"));
    assert!(dom.contains("<strong>VALID</strong>"));
    assert!(dom.contains("Defect rate by code origin"));
    assert!(
        dom.contains("<svg id=\"defects-chart-0\""),
        "the chart is in the DOM"
    );
    // The agent's commit carries the one incident: a full-height bar, and its table row.
    assert!(dom.contains("data-period=\"2026-Q1\" data-group=\"agent\" data-rate=\"1.000\""));
    assert!(dom.contains("data-period=\"2026-Q1\" data-group=\"human\" data-rate=\"0.000\""));
    assert!(dom.contains("<td>2026-Q1</td><td>agent</td><td>1</td>"));
}
