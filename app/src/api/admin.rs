#[cfg(feature = "ssr")]
use super::ctx;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRow {
    pub slug: String,
    pub title: String,
    pub pairs: i64,
    pub complete_pairs: i64,
    pub annotations: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminProjectData {
    pub slug: String,
    pub title: String,
    pub guidelines: String,
    pub annotations_per_pair: i64,
    pub lease_seconds: i64,
    pub flags: Vec<String>,
    /// `all` or `adaptive`.
    pub pair_selection: String,
    /// `uniform` or `active`.
    pub selection: String,
    /// `pairwise`, `ranking` or `rating`.
    pub task_type: String,
    pub aspects: Vec<String>,
    /// `MIN-MAX`.
    pub scale: String,
    pub scale_labels: Vec<String>,
    pub undo_judgements: i64,
    pub undo_minutes: i64,
    pub gold_percent: i64,
    pub gold_accuracy_min: i64,
    pub flag_agreement_min: i64,
    pub flag_skip_max: i64,
    pub flag_bias_permille: i64,
    /// What a task is: `pairs` or `prompts`.
    pub unit: String,
    pub prompts: i64,
    pub pairs: i64,
    pub complete_pairs: i64,
    pub annotations: i64,
    pub live_leases: i64,
    pub over_covered_pairs: i64,
    pub annotators: Vec<(String, i64, i64)>,
    pub members: Vec<String>,
    pub import: Option<ImportView>,
    pub agreement: AgreementView,
    /// The latest export's card, in words.
    pub last_export: Option<ExportView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportView {
    pub when: String,
    pub format: String,
    pub summary: String,
    /// (model, wins, ties, losses)
    pub models: Vec<(String, u64, u64, u64)>,
    pub sha256: String,
}

/// Agreement figures, formatted for the page ("–" when there is too little data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementView {
    pub units: u64,
    pub alpha_ordinal: String,
    pub alpha_interval: String,
    pub fleiss_kappa: String,
    /// (annotator, votes compared, agreement with the others' majority)
    pub annotators: Vec<(String, u64, String)>,
    /// How often the annotators agree with an imported dataset's preference.
    pub imported_preference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportView {
    pub filename: String,
    pub ok: bool,
    pub summary: String,
    pub errors: Vec<String>,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn admin_projects() -> Result<Vec<ProjectRow>, ServerFnError> {
    use arbiter_core::services::projects;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    Ok(projects::overview(&db, &user)
        .await
        .map_err(ctx::fail)?
        .into_iter()
        .map(|(p, c)| ProjectRow {
            slug: p.slug,
            title: p.title,
            pairs: c.pairs,
            complete_pairs: c.complete_pairs,
            annotations: c.annotations,
        })
        .collect())
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn admin_project(slug: String, import_id: Option<String>) -> Result<AdminProjectData, ServerFnError> {
    use arbiter_core::services::projects;
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let d = projects::detail(&db, &user, &slug, import_id.as_deref()).await.map_err(ctx::fail)?;
    let a = arbiter_core::services::agreement::project(&db, &user, &d.project).await.map_err(ctx::fail)?;
    let fmt = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into());
    let agreement = AgreementView {
        units: a.units,
        alpha_ordinal: fmt(a.krippendorff_alpha.ordinal),
        alpha_interval: fmt(a.krippendorff_alpha.interval),
        fleiss_kappa: fmt(a.fleiss_kappa),
        annotators: a.annotators.into_iter().map(|x| (x.annotator, x.n, fmt(x.agreement))).collect(),
        imported_preference: a.imported_preference.map(|p| {
            format!(
                "The annotators agree with the imported preference on {} of {} pairs ({}).",
                p.agree,
                p.pairs,
                fmt(p.rate)
            )
        }),
    };
    let last_export = arbiter_core::services::export::cards(&db, &user, &d.project)
        .await
        .map_err(ctx::fail)?
        .into_iter()
        .next()
        .and_then(|c| serde_json::from_value::<arbiter_core::services::export::Card>(c).ok())
        .map(|c| ExportView {
            when: c.created_at.clone(),
            format: format!("{} ({}, {})", c.format, c.as_, c.form),
            summary: c.counts.to_string(),
            models: c.counts.models.iter().map(|(m, r)| (m.clone(), r.wins, r.ties, r.losses)).collect(),
            sha256: c.files.first().map(|f| f.sha256.clone()).unwrap_or_default(),
        });
    let (p, c) = (d.project, d.counts);
    Ok(AdminProjectData {
        slug: p.slug,
        title: p.title,
        guidelines: p.guidelines,
        annotations_per_pair: p.annotations_per_pair,
        lease_seconds: p.lease_seconds,
        flags: p.flags,
        pair_selection: p.pair_selection.name().to_owned(),
        selection: p.selection.name().to_owned(),
        task_type: p.task_type.name().to_owned(),
        aspects: p.aspects.clone(),
        scale: p.scale.to_string(),
        scale_labels: p.scale.labels.clone(),
        undo_judgements: p.undo_judgements,
        undo_minutes: p.undo_minutes,
        gold_percent: p.gold_percent,
        gold_accuracy_min: p.gold_accuracy_min,
        flag_agreement_min: p.flag_agreement_min,
        flag_skip_max: p.flag_skip_max,
        flag_bias_permille: p.flag_bias_permille,
        unit: c.unit.clone(),
        prompts: c.prompts,
        pairs: c.pairs,
        complete_pairs: c.complete_pairs,
        annotations: c.annotations,
        live_leases: c.live_leases,
        over_covered_pairs: c.over_covered_pairs,
        annotators: d.annotators.into_iter().map(|a| (a.username, a.annotations, a.skipped)).collect(),
        members: d.members,
        import: d.import.map(import_view),
        agreement,
        last_export,
    })
}

#[cfg(feature = "ssr")]
fn import_view((filename, ok, report): (String, bool, serde_json::Value)) -> ImportView {
    use arbiter_core::services::import::ImportReport;
    match serde_json::from_value::<ImportReport>(report) {
        Ok(r) => ImportView {
            filename,
            ok,
            summary: if ok {
                format!(
                    "Imported {} lines ({}{}): {} new prompts ({} already there), {} completions, {} pairs{}.",
                    r.lines - r.skipped,
                    r.format,
                    if r.format_guessed { ", guessed from the first record" } else { "" },
                    r.added.prompts,
                    r.added.prompts_existing,
                    r.added.completions,
                    r.added.pairs,
                    if r.skipped > 0 { format!("; {} bad lines skipped", r.skipped) } else { String::new() }
                )
            } else {
                format!("{} bad line(s) in {} lines; nothing was imported.", r.error_count, r.lines)
            },
            errors: r.errors.iter().map(|e| e.to_string()).collect(),
        },
        Err(_) => ImportView { filename, ok, summary: "report unreadable".into(), errors: vec![] },
    }
}
