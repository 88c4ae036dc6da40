//! Shared by the benchmark binaries: start a real `arbiter` release binary on
//! a temporary database, set it up through its CLI, and summarize latencies.
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub url: String,
    pub db_url: String,
    pub child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cli(bin: &Path, db_url: &str, args: &[&str], stdin: &str) -> anyhow::Result<String> {
    let mut child = Command::new(bin)
        .arg("--database")
        .arg(db_url)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("Failed to start {}", bin.display()))?;
    child.stdin.take().unwrap().write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("arbiter {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Starts `arbiter serve` on port 0 and reads the URL it prints.
pub fn serve(bin: &Path, db_url: &str, site_root: &Path) -> anyhow::Result<Server> {
    let mut child = Command::new(bin)
        .arg("--database")
        .arg(db_url)
        .args(["serve", "--addr", "127.0.0.1:0", "--site-root"])
        .arg(site_root)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("Failed to start {}", bin.display()))?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().context("server printed nothing")??;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .context("no URL in the server's first line")?
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { url, db_url: db_url.to_owned(), child })
}

/// `n` annotators (`{prefix}0`, `{prefix}1`, …) who are members of `project`,
/// each with an API token; returns the tokens.
pub fn annotators(bin: &Path, db_url: &str, project: &str, prefix: &str, n: usize) -> anyhow::Result<Vec<String>> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i}");
            cli(
                bin,
                db_url,
                &["user", "add", &name, "--role", "annotator", "--project", project],
                "benchmark password\n",
            )?;
            cli(bin, db_url, &["token", "create", &name], "")
        })
        .collect()
}

pub fn default_bin() -> PathBuf {
    PathBuf::from("target/release/arbiter")
}

/// `n` prompts of two completions each (one pair each), four models in rotation.
pub fn dataset(n: usize) -> String {
    let models = ["atlas", "boreal", "cinder", "dune"];
    let filler = "This answer explains the idea step by step, with an example and a short summary at the end. ";
    (0..n)
        .map(|i| {
            let (a, b) = (models[i % 4], models[(i + 1) % 4]);
            format!(
                "{{\"id\":\"b{i}\",\"prompt\":\"Benchmark question number {i}: explain something useful.\",\"completions\":[{{\"model\":\"{a}\",\"text\":\"{a} {i}. {}\"}},{{\"model\":\"{b}\",\"text\":\"{b} {i}. {}\"}}]}}\n",
                filler.repeat(3),
                filler.repeat(2)
            )
        })
        .collect()
}

/// `n` sequential GETs of `url` (each body read whole, more than 1 KB):
/// their latencies.
pub async fn timed_gets(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<Stats> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let body = client.get(url).send().await?.bytes().await?;
        times.push(t.elapsed());
        anyhow::ensure!(body.len() > 1000, "{url} answered {} bytes", body.len());
    }
    Ok(stats(times))
}

pub struct Stats {
    pub n: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

pub fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let at = |q: f64| v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or_default();
    Stats { n: v.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: v.last().copied().unwrap_or_default() }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "n={} p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms",
            self.n,
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// CPU seconds (user + system) a process has used, from /proc (Linux).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
