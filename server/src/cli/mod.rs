//! `arbiter`: serve, and the admin tasks for scripts and shells.
mod commands;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use commands::run;

#[derive(Parser, Debug)]
#[command(name = "arbiter", version, about = "Collect pairwise human preference judgements for reward models and DPO.")]
pub struct Cli {
    /// Database URL: sqlite://path/to/file.db (the file is created when
    /// missing) or postgres://user:password@host:5432/db; migrated at start.
    /// Other schemes are refused.
    #[arg(long, global = true, env = "ARBITER_DATABASE", default_value = "sqlite://data/arbiter.db")]
    pub database: String,
    /// PostgreSQL: threads (each with its own connection) that run this
    /// instance's claims, submissions and other write jobs, each committing
    /// the jobs queued behind it together. About as many as the database's
    /// cores over all instances; SQLite ignores it.
    #[arg(long, global = true, env = "ARBITER_PG_WRITE_THREADS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub pg_write_threads: u16,
    /// Log lines as text (for people) or json (one object per line, for log collectors).
    #[arg(long, global = true, env = "ARBITER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app and the REST API.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Import a file into a project (nothing is imported if any line is bad, unless --skip-bad).
    Import {
        /// Project slug.
        project: String,
        /// JSONL, CSV or Parquet file (by its extension / content); `-` reads standard input.
        file: PathBuf,
        /// native, csv, trl, hh-rlhf or arena (default: guessed from the first record).
        #[arg(long)]
        format: Option<String>,
        /// Import the good lines and report the bad ones.
        #[arg(long)]
        skip_bad: bool,
    },
    /// Export a project's dataset (streamed; see README "Export formats").
    Export(ExportArgs),
    /// Mark a pair as gold with its known answer (a, b or tie), or none to unmark it.
    Gold {
        /// Project slug.
        project: String,
        /// The pair's id (`pair_id` in the `pairs` and `raw` exports).
        pair: String,
        /// a, b, tie or none.
        answer: String,
    },
    /// Print a model leaderboard (Bradley–Terry with bootstrap intervals, Elo).
    Leaderboard {
        /// Project slugs; several: one leaderboard across them (same model name = same model).
        #[arg(required = true)]
        projects: Vec<String>,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
        /// Bootstrap rounds (0 to 1000).
        #[arg(long, default_value_t = arbiter_core::services::leaderboard::DEFAULT_ROUNDS)]
        rounds: usize,
        /// Seed of the bootstrap (the same seed gives the same intervals).
        #[arg(long, default_value_t = arbiter_core::services::leaderboard::DEFAULT_SEED)]
        seed: u64,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy a whole installation into an empty database of either backend
    /// (SQLite ↔ PostgreSQL), then check every table's rows and checksum.
    Copy {
        /// The source, e.g. sqlite://data/arbiter.db.
        #[arg(long)]
        from: String,
        /// The target, e.g. postgres://arbiter@db:5432/arbiter (must be empty).
        #[arg(long)]
        to: String,
    },
    /// Write a consistent copy of the database, safe while the server runs.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Project slug.
    pub project: String,
    /// trl, trl-implicit, openai-dpo, hh-rlhf, arena, raw, pairs or rewards.
    #[arg(long, default_value = "trl")]
    pub format: String,
    /// File type: jsonl, csv (raw, pairs, rewards) or parquet. Default: by the -o
    /// file's extension, else jsonl.
    #[arg(long = "as")]
    pub as_: Option<String>,
    /// auto (conversational as soon as one exported prompt is a
    /// conversation, else standard), standard (text; conversations
    /// flattened HH-RLHF style) or conversational (message lists).
    #[arg(long, default_value = "auto")]
    pub form: String,
    /// Real usernames instead of stable pseudonyms (raw, arena).
    #[arg(long)]
    pub annotator_names: bool,
    /// Leave out pairs with fewer annotations.
    #[arg(long)]
    pub min_annotations: Option<u32>,
    /// Leave out pairs whose majority share of votes is below this (0–1).
    #[arg(long)]
    pub min_agreement: Option<f64>,
    /// drop or keep ties (kept ties get margin 0 where the format has one).
    #[arg(long)]
    pub ties: Option<String>,
    /// drop or keep pairs (annotations) judged both bad.
    #[arg(long)]
    pub both_bad: Option<String>,
    /// drop or keep pairs (annotations) with flags.
    #[arg(long)]
    pub flagged: Option<String>,
    /// Only these annotators' annotations count (usernames or pseudonyms, comma-separated).
    #[arg(long)]
    pub annotators: Option<String>,
    /// These annotators' annotations do not count.
    #[arg(long)]
    pub exclude_annotators: Option<String>,
    /// Leave out the annotators the dashboard flags (side bias, low agreement, skips, gold accuracy).
    #[arg(long)]
    pub exclude_flagged_annotators: bool,
    /// Annotations submitted at or after this time (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Annotations submitted before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// TRL margin column: score (|mean normalized score|), levels (Llama-2 levels) or none.
    #[arg(long)]
    pub margin: Option<String>,
    /// Output file (default: standard output).
    #[arg(short, long, conflicts_with = "hf_dir")]
    pub output: Option<PathBuf>,
    /// Write a Hugging Face dataset folder: DIR/data/*.parquet and DIR/README.md (the card).
    #[arg(long)]
    pub hf_dir: Option<PathBuf>,
    /// With --hf-dir: test=SHARE puts that share of prompts in a test split.
    #[arg(long, requires = "hf_dir")]
    pub split: Option<String>,
    /// Also write the dataset card: FILE.json and FILE.md (FILE without extension).
    #[arg(long)]
    pub card: Option<PathBuf>,
}

impl ExportArgs {
    pub fn input(&self) -> arbiter_core::services::export::OptionsInput {
        arbiter_core::services::export::OptionsInput {
            format: Some(self.format.clone()),
            as_: self.as_.clone(),
            form: Some(self.form.clone()),
            annotator_names: self.annotator_names,
            min_annotations: self.min_annotations,
            min_agreement: self.min_agreement,
            ties: self.ties.clone(),
            both_bad: self.both_bad.clone(),
            flagged: self.flagged.clone(),
            annotators: self.annotators.clone(),
            exclude_annotators: self.exclude_annotators.clone(),
            exclude_flagged_annotators: self.exclude_flagged_annotators,
            since: self.since.clone(),
            until: self.until.clone(),
            margin: self.margin.clone(),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ARBITER_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory with the built site (pkg/arbiter.js, .wasm, .css). Default:
    /// `site` next to the binary's folder (target/site for target/*/arbiter),
    /// else ./target/site, else ./site.
    #[arg(long, env = "ARBITER_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Load the demo project and demo logins on an empty database.
    #[arg(long, env = "ARBITER_DEMO")]
    pub demo: bool,
    /// Mark the session cookie Secure (implied by an https --public-url).
    #[arg(long, env = "ARBITER_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// How users reach the site, for invite links (default: http://ADDR).
    #[arg(long, env = "ARBITER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest import upload in MiB.
    #[arg(long, env = "ARBITER_MAX_IMPORT_MB", default_value_t = 256)]
    pub max_import_mb: usize,
    /// A reverse proxy (address or CIDR; repeat, or separate with commas)
    /// whose X-Forwarded-For names the client, for the login throttle and
    /// the audit log. Without it the peer address is the client.
    #[arg(long = "trusted-proxy", env = "ARBITER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a separate listener,
    /// e.g. 127.0.0.1:9100). Without it there are no metrics.
    #[arg(long, env = "ARBITER_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (first line).
    Add {
        name: String,
        #[arg(long, value_parser = ["admin", "annotator"])]
        role: String,
        /// Projects (slugs) the user joins.
        #[arg(long = "project")]
        projects: Vec<String>,
    },
    /// Print a single-use invite link (the invitee chooses name and password).
    Invite {
        #[arg(long, value_parser = ["admin", "annotator"], default_value = "annotator")]
        role: String,
        /// Projects (slugs) the new user joins.
        #[arg(long = "project")]
        projects: Vec<String>,
        /// Hours until the link expires.
        #[arg(long, default_value_t = 72)]
        hours: i64,
        /// The site's public URL, to build the link.
        #[arg(long, env = "ARBITER_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
        public_url: String,
    },
}

// Parsed once per run: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project.
    Create {
        slug: String,
        #[arg(long)]
        title: String,
        /// Annotations wanted per pair.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_ANNOTATIONS_PER_PAIR)]
        annotations_per_pair: i64,
        /// Lease length for a task, in seconds.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_LEASE_SECONDS)]
        lease_seconds: i64,
        /// Markdown file with the annotation guidelines.
        #[arg(long)]
        guidelines: Option<PathBuf>,
        /// Flags annotators can set (repeat the option); default: unsafe, factually wrong, off-topic.
        #[arg(long = "flag")]
        flags: Vec<String>,
        /// Which pairs are offered: all (each N times) or adaptive (per prompt the
        /// least certain pair, until the prompt's order is settled).
        #[arg(long, default_value = "all")]
        pair_selection: String,
        /// What annotators do: pairwise (the better of two answers), ranking
        /// (order all answers of a prompt) or rating (rate each answer).
        #[arg(long, default_value = "pairwise")]
        task_type: String,
        /// Rating projects: the aspects rated, comma-separated (default: overall).
        #[arg(long)]
        aspects: Option<String>,
        /// Rating projects: the scale, MIN-MAX with 0 <= MIN < MAX <= 10.
        #[arg(long, default_value = "1-7")]
        scale: String,
        /// Rating projects: one label per point of the scale, comma-separated.
        #[arg(long)]
        scale_labels: Option<String>,
        /// Undo window: how many of their latest judgements an annotator may change (0: no undo).
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_UNDO_JUDGEMENTS)]
        undo_judgements: i64,
        /// Undo window: for how many minutes after submitting (0: no undo).
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_UNDO_MINUTES)]
        undo_minutes: i64,
        /// Percent of an annotator's pairwise tasks drawn from the gold pairs (0-50).
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_GOLD_PERCENT)]
        gold_percent: i64,
        /// Flag annotators whose gold accuracy is under this percent.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_GOLD_ACCURACY_MIN)]
        gold_accuracy_min: i64,
        /// Which model pairs come first: uniform (round robin) or active (the least certain on the leaderboard).
        #[arg(long, default_value = "uniform")]
        selection: String,
        /// Dashboard: flag annotators whose agreement with the others is under this percent.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_FLAG_AGREEMENT_MIN)]
        flag_agreement_min: i64,
        /// Dashboard: flag annotators who skip more than this percent of their tasks.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_FLAG_SKIP_MAX)]
        flag_skip_max: i64,
        /// Dashboard: flag a left-side bias at a binomial p under this / 1000.
        #[arg(long, default_value_t = arbiter_core::domain::settings::DEFAULT_FLAG_BIAS_PERMILLE)]
        flag_bias_permille: i64,
    },
    /// Let users work on a project.
    AddMember { project: String, users: Vec<String> },
    /// Take users off a project.
    RemoveMember { project: String, users: Vec<String> },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user; prints only the token (shown once).
    Create {
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// Where the site assets are when no flag says: beside the binary's folder
/// first (target/release/arbiter → target/site), then the working directory.
pub fn default_site_root() -> PathBuf {
    let beside_binary =
        std::env::current_exe().ok().and_then(|exe| exe.parent().and_then(|d| d.parent()).map(|d| d.join("site")));
    let candidates = beside_binary.into_iter().chain([PathBuf::from("target/site"), PathBuf::from("site")]);
    for c in candidates {
        if c.join("pkg").is_dir() {
            return c;
        }
    }
    PathBuf::from("target/site")
}
