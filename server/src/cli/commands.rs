use super::{Cli, Command, ProjectCommand, ServeArgs, TokenCommand, UserCommand};
use crate::security::TrustedProxies;
use crate::startup::{Application, Config};
use anyhow::{bail, Context};
use arbiter_core::domain::SettingsInput;
use arbiter_core::services::{accounts, auth, demo, export, import, projects, Role};
use arbiter_core::storage::Db;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // `copy` names its two databases itself.
    if let Command::Copy { from, to } = &cli.command {
        let report = arbiter_core::services::maintenance::copy(from, to).await?;
        for t in &report.tables {
            eprintln!("{:<22} {:>10} rows  sha256 {}", t.table, t.rows, &t.sha256[..16]);
        }
        eprintln!("copied {} rows; every table's row count and checksum match", report.rows);
        return Ok(ExitCode::SUCCESS);
    }
    let db = Db::connect_with(&cli.database, usize::from(cli.pg_write_threads)).await?;
    let code = match cli.command {
        Command::Serve(args) => serve(&cli.database, db.clone(), args).await?,
        Command::User(UserCommand::Add { name, role, projects: slugs }) => {
            let role = Role::parse(&role)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).context("Failed to read the password from stdin")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let user = auth::create_user(&db, "cli", &name, password, role).await?;
            for slug in slugs {
                let project = projects::administered(&db, &system_admin(), &slug).await?;
                projects::add_member(&db, "cli", &project, &user.username).await?;
            }
            eprintln!("added {} ({})", user.username, role.as_str());
            ExitCode::SUCCESS
        }
        Command::Project(ProjectCommand::Create {
            slug,
            title,
            annotations_per_pair,
            lease_seconds,
            guidelines,
            flags,
            pair_selection,
            task_type,
            aspects,
            scale,
            scale_labels,
            undo_judgements,
            undo_minutes,
            gold_percent,
            gold_accuracy_min,
            selection,
            flag_agreement_min,
            flag_skip_max,
            flag_bias_permille,
        }) => {
            let list = |s: &str| s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect();
            let mut s = SettingsInput::titled(&title);
            s.pair_selection = Some(pair_selection);
            s.task_type = Some(task_type);
            s.aspects = aspects.as_deref().map(list);
            s.scale = Some(scale);
            s.scale_labels = scale_labels.as_deref().map(list);
            s.undo_judgements = Some(undo_judgements);
            s.undo_minutes = Some(undo_minutes);
            s.gold_percent = Some(gold_percent);
            s.gold_accuracy_min = Some(gold_accuracy_min);
            s.selection = Some(selection);
            s.flag_agreement_min = Some(flag_agreement_min);
            s.flag_skip_max = Some(flag_skip_max);
            s.flag_bias_permille = Some(flag_bias_permille);
            s.annotations_per_pair = Some(annotations_per_pair);
            s.lease_seconds = Some(lease_seconds);
            if let Some(path) = guidelines {
                s.guidelines =
                    Some(std::fs::read_to_string(&path).with_context(|| format!("Failed to read {}", path.display()))?);
            }
            if !flags.is_empty() {
                s.flags = Some(flags);
            }
            let p = projects::create(&db, "cli", &slug, s).await?;
            eprintln!("created project {} ({}, {} tasks)", p.slug, p.title, p.task_type.name());
            ExitCode::SUCCESS
        }
        Command::User(UserCommand::Invite { role, projects: slugs, hours, public_url }) => {
            let role = Role::parse(&role)?;
            let token = accounts::invite(&db, None, role, slugs, hours).await?;
            println!("{}/invite/{token}", public_url.trim_end_matches('/'));
            ExitCode::SUCCESS
        }
        Command::Project(ProjectCommand::RemoveMember { project, users }) => {
            for u in users {
                accounts::remove_member(&db, "cli", &project, &u).await?;
                eprintln!("{u} is off {project}");
            }
            ExitCode::SUCCESS
        }
        Command::Project(ProjectCommand::AddMember { project, users }) => {
            let p = projects::administered(&db, &system_admin(), &project).await?;
            for u in users {
                projects::add_member(&db, "cli", &p, &u).await?;
                eprintln!("{u} can now work on {}", p.slug);
            }
            ExitCode::SUCCESS
        }
        Command::Import { project, file, format, skip_bad } => {
            import_file(&db, &project, &file, format.as_deref(), skip_bad).await?
        }
        Command::Export(args) => export_file(&db, &args).await?,
        Command::Gold { project, pair, answer } => {
            use arbiter_core::services::dashboard::{self, Answer};
            let gold = if answer == "none" { None } else { Some(Answer::parse("gold", &answer)?) };
            let p = projects::administered(&db, &system_admin(), &project).await?;
            dashboard::set_gold(&db, &system_admin(), &p, &pair, gold).await?;
            eprintln!("pair {pair} of {project}: gold {}", gold.map_or("none", Answer::name));
            ExitCode::SUCCESS
        }
        Command::Leaderboard { projects: slugs, format, rounds, seed } => {
            use arbiter_core::services::leaderboard;
            if format != "json" && format != "csv" {
                bail!("--format {format:?}: expected json or csv");
            }
            let options = leaderboard::Options::parse(Some(&rounds.to_string()), Some(&seed.to_string()))?;
            let (projects, current) = leaderboard::across(&db, &system_admin(), &slugs, options, true).await?;
            if format == "csv" {
                print!("{}", leaderboard::csv(&current.board));
            } else {
                let mut v = serde_json::to_value(&*current.board)?;
                v["projects"] = serde_json::json!(projects.iter().map(|p| &p.slug).collect::<Vec<_>>());
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            ExitCode::SUCCESS
        }
        Command::Token(TokenCommand::Create { user, name }) => {
            let token = accounts::create_token(&db, "cli", &user, &name).await?;
            println!("{token}");
            ExitCode::SUCCESS
        }
        Command::Copy { .. } => unreachable!("handled before the database is opened"),
        Command::Backup { file } => {
            backup(&db, &file).await?;
            eprintln!("backup written to {}", file.display());
            ExitCode::SUCCESS
        }
    };
    db.close().await;
    Ok(code)
}

/// The CLI acts with the machine owner's authority: whoever can run it can
/// open the database file anyway.
fn system_admin() -> arbiter_core::services::User {
    arbiter_core::services::User {
        id: 0,
        uuid: String::new(),
        username: "cli".into(),
        role: Role::Admin,
        active: true,
        prefs: Default::default(),
    }
}

async fn serve(database: &str, db: Db, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let site_root = args.site_root.unwrap_or_else(super::default_site_root);
    if !site_root.join("pkg").is_dir() {
        tracing::warn!(site_root = %site_root.display(), "no pkg/ in the site root: pages will load without style or script (build with `cargo leptos build`)");
    }
    let seeded = if args.demo { demo::seed_if_empty(&db).await? } else { false };
    let config = Config {
        addr: args.addr,
        database_url: database.to_owned(),
        site_root,
        secure_cookies: args.secure_cookies,
        public_url: args.public_url.clone().unwrap_or_default(),
        max_import_bytes: args.max_import_mb * 1024 * 1024,
        trusted_proxies: TrustedProxies::parse(&args.trusted_proxies)?,
        metrics_addr: args.metrics_addr,
    };
    let app = Application::with_db(config, db).await?;
    let url = format!("http://{}", app.local_addr());
    let public_url = app.public_url();
    println!("Arbiter is running at {url}  (database {database})");
    if args.demo {
        if seeded {
            println!("Loaded the demo project: {url}/annotate/{}", demo::DEMO_SLUG);
        }
        println!("Demo logins (demo mode only):");
        for (name, password, role) in demo::DEMO_USERS {
            println!("  {:<11} {:<26} {}", name, password, role.as_str());
        }
    } else if !accounts::has_admin(&app.db).await? {
        // First run: a one-time link to create the first admin. Each start
        // mints a new one and voids the last; none works once an admin exists.
        let token = accounts::first_admin_invite(&app.db).await?;
        println!(
            "No admin yet. Create the first one here (single use, 24 hours): {}/invite/{token}",
            public_url.trim_end_matches('/')
        );
    }
    if let Some(addr) = app.metrics_addr() {
        println!("Metrics (Prometheus): http://{addr}/metrics");
    }
    std::io::stdout().flush().ok();
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

async fn import_file(
    db: &Db,
    slug: &str,
    file: &std::path::Path,
    format: Option<&str>,
    skip_bad: bool,
) -> anyhow::Result<ExitCode> {
    let project = projects::administered(db, &system_admin(), slug).await?;
    let options = import::ImportOptions {
        format: format.map(arbiter_core::domain::preference::ImportFormat::parse).transpose()?,
        skip_bad,
        yield_cpu: false,
    };
    let source = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
        import::Source::Bytes(std::sync::Arc::new(v))
    } else {
        std::fs::metadata(file).with_context(|| format!("Failed to read {}", file.display()))?;
        import::Source::File(file.to_path_buf())
    };
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "stdin".into());
    let report = import::import(db, &project, None, &name, source, options).await?;
    if report.format_guessed {
        eprintln!("format: {} (guessed from the first record; give --format to choose)", report.format);
    }
    for e in &report.errors {
        eprintln!("{}: {e}", file.display());
    }
    if report.error_count as usize > report.errors.len() {
        eprintln!("… and {} more", report.error_count as usize - report.errors.len());
    }
    if report.ok {
        let a = report.added;
        eprintln!(
            "imported {} lines into {}: {} new prompts ({} already there), {} completions, {} pairs{}",
            report.lines - report.skipped,
            project.slug,
            a.prompts,
            a.prompts_existing,
            a.completions,
            a.pairs,
            if report.skipped > 0 { format!("; skipped {} bad lines", report.skipped) } else { String::new() }
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} bad line(s); nothing was imported", report.error_count);
        Ok(ExitCode::from(1))
    }
}

async fn export_file(db: &Db, args: &super::ExportArgs) -> anyhow::Result<ExitCode> {
    let project = projects::administered(db, &system_admin(), &args.project).await?;
    let mut input = args.input();
    if args.hf_dir.is_some() {
        if input.as_.as_deref().is_some_and(|a| a != "parquet") {
            bail!("--hf-dir writes Parquet; leave out --as");
        }
        input.as_ = Some("parquet".into());
    }
    let out_name = args.output.as_ref().map(|p| p.to_string_lossy().to_string());
    let mut options = export::Options::parse(&input, out_name.as_deref())?;
    if let Some(split) = &args.split {
        options = options.with_split(split)?;
    }
    let (format, margin) = (options.format, options.margin);
    let mut running = export::start(db, "cli", &project, options).await?;
    // Every file is written under a temporary name and renamed at the end:
    // a failed export never leaves a half file under the real name.
    let targets: Vec<(export::Split, Option<PathBuf>)> = match &args.hf_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir.join("data")).with_context(|| format!("Failed to create {}", dir.display()))?;
            let mut t = vec![(export::Split::Train, Some(dir.join("data/train-00000-of-00001.parquet")))];
            if args.split.is_some() {
                t.push((export::Split::Test, Some(dir.join("data/test-00000-of-00001.parquet"))));
            }
            t
        }
        None => vec![(export::Split::Train, args.output.clone())],
    };
    let written = write_export(&mut running, &targets).await;
    let card: anyhow::Result<export::Card> = match written {
        Ok(()) => running.done.await?.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let card = match card {
        Ok(card) => card,
        Err(e) => {
            // Nothing half-written stays behind.
            for (_, path) in &targets {
                if let Some(path) = path {
                    let _ = std::fs::remove_file(tmp_name(path));
                }
            }
            return Err(e);
        }
    };
    for (_, path) in &targets {
        let Some(path) = path else { continue };
        std::fs::rename(tmp_name(path), path).with_context(|| format!("Failed to write {}", path.display()))?;
    }
    if let Some(dir) = &args.hf_dir {
        std::fs::write(dir.join("README.md"), export::hf_readme(&card, format, margin))?;
        std::fs::write(dir.join("arbiter-card.json"), serde_json::to_string_pretty(&card)? + "\n")?;
    }
    if let Some(path) = &args.card {
        std::fs::write(path.with_extension("json"), serde_json::to_string_pretty(&card)? + "\n")?;
        std::fs::write(path.with_extension("md"), export::card_markdown(&card))?;
    }
    eprintln!("{}", card.counts);
    if format.has_form() {
        eprintln!("form: {} ({})", card.form, card.form_reason);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every chunk to its split's file (under its temporary name) or to
/// standard output.
async fn write_export(
    running: &mut export::Export,
    targets: &[(export::Split, Option<PathBuf>)],
) -> anyhow::Result<()> {
    let mut sinks: Vec<(export::Split, Box<dyn Write + Send>)> = Vec::new();
    for (split, path) in targets {
        let sink: Box<dyn Write + Send> = match path {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(tmp_name(path))
                    .with_context(|| format!("Failed to create {}", path.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        sinks.push((*split, sink));
    }
    while let Some(chunk) = running.chunks.recv().await {
        let sink = sinks.iter_mut().find(|(s, _)| *s == chunk.split).map(|(_, w)| w).context("no file for a split")?;
        sink.write_all(&chunk.bytes).context("Failed to write the export")?;
    }
    for (_, sink) in &mut sinks {
        sink.flush().context("Failed to write the export")?;
    }
    Ok(())
}

fn tmp_name(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    name.into()
}

async fn backup(db: &Db, file: &std::path::Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} exists already; choose a new file", file.display());
    }
    let target = file.to_str().context("backup path must be UTF-8")?;
    arbiter_core::services::maintenance::backup(db, target).await.context("Failed to write the backup")?;
    Ok(())
}
