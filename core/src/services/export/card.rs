//! The dataset card: what a file holds and how it was made, as JSON and as
//! markdown (with the YAML header Hugging Face `datasets` reads, for a
//! dataset folder).
use super::{Options, Plan, Split};
use crate::domain::dataset::{columns, Col, Counts, Format};
use crate::services::agreement::{self, Agreement};
use crate::storage::projects::Project;
use crate::storage::{now_ms, rfc3339, Db};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitFile {
    pub split: Split,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl<'de> Deserialize<'de> for Split {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "test" => Ok(Split::Test),
            _ => Ok(Split::Train),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub arbiter_version: String,
    pub project: String,
    pub title: String,
    pub created_at: String,
    pub format: String,
    #[serde(rename = "as")]
    pub as_: String,
    pub form: String,
    pub form_reason: String,
    pub options: serde_json::Value,
    pub counts: Counts,
    pub files: Vec<SplitFile>,
    pub agreement: Agreement,
}

pub(super) async fn build(
    db: &Db,
    project: &Project,
    options: &Options,
    plan: &Plan,
    counts: Counts,
    files: Vec<SplitFile>,
) -> Result<Card> {
    Ok(Card {
        arbiter_version: env!("CARGO_PKG_VERSION").into(),
        project: project.slug.clone(),
        title: project.title.clone(),
        created_at: rfc3339(now_ms()),
        format: plan.format.name().into(),
        as_: plan.as_.extension().into(),
        form: plan.form.to_string(),
        form_reason: plan.form_reason.clone(),
        options: serde_json::to_value(options).unwrap_or_default(),
        counts,
        files,
        agreement: agreement::compute(db, project).await?,
    })
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "—".into())
}

/// The card as markdown (without a YAML header).
pub fn card_markdown(card: &Card) -> String {
    let mut s = String::new();
    let c = &card.counts;
    let _ = writeln!(s, "# {} — `{}` export\n", card.title, card.format);
    let _ = writeln!(
        s,
        "Exported from Arbiter {} project `{}` at {} as {} ({} form: {}).\n",
        card.arbiter_version, card.project, card.created_at, card.as_, card.form, card.form_reason
    );
    let _ = writeln!(s, "## Rows\n\n| | count |\n|---|---:|\n| written | {} |", c.rows);
    if c.adjudicated > 0 {
        let _ = writeln!(s, "| of those labelled by an admin (adjudicated) | {} |", c.adjudicated);
    }
    for (reason, n) in &c.dropped {
        let _ = writeln!(s, "| left out: {reason} | {n} |");
    }
    let _ = writeln!(s, "\n{} annotations by {} annotators counted", c.annotations, c.annotators);
    if c.annotations_out_of_scope > 0 {
        let _ = writeln!(s, "({} more outside the annotator and time filters)", c.annotations_out_of_scope);
    }
    let _ = writeln!(s, "\n## Files\n\n| split | rows | bytes | sha256 |\n|---|---:|---:|---|");
    for f in &card.files {
        let split = if f.split == Split::Test { "test" } else { "train" };
        let _ = writeln!(s, "| {split} | {} | {} | `{}` |", f.rows, f.bytes, f.sha256);
    }
    let _ = writeln!(s, "\n## Models\n\n| model | wins | ties | losses |\n|---|---:|---:|---:|");
    for (m, r) in &c.models {
        let _ = writeln!(s, "| {m} | {} | {} | {} |", r.wins, r.ties, r.losses);
    }
    let a = &card.agreement;
    let _ = writeln!(
        s,
        "\n## Agreement\n\nKrippendorff's α ordinal {}, interval {}; Fleiss' κ {}; {} pairs with two or more votes.",
        opt(a.krippendorff_alpha.ordinal),
        opt(a.krippendorff_alpha.interval),
        opt(a.fleiss_kappa),
        a.units
    );
    if let Some(p) = &card.agreement.imported_preference {
        let _ = writeln!(
            s,
            "\nThe annotators agree with the imported preference on {} of {} pairs ({}).",
            p.agree,
            p.pairs,
            opt(p.rate)
        );
    }
    let _ = writeln!(
        s,
        "\n## Options\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&card.options).unwrap_or_default()
    );
    s
}

fn feature(out: &mut String, indent: usize, name: &str, col: Col) {
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}- name: {name}");
    let message = |out: &mut String, pad: &str| {
        let _ = writeln!(
            out,
            "{pad}  - name: role\n{pad}    dtype: string\n{pad}  - name: content\n{pad}    dtype: string"
        );
    };
    match col {
        Col::Str => drop(writeln!(out, "{pad}  dtype: string")),
        Col::Int => drop(writeln!(out, "{pad}  dtype: int64")),
        Col::Float => drop(writeln!(out, "{pad}  dtype: float64")),
        Col::Bool => drop(writeln!(out, "{pad}  dtype: bool")),
        Col::Strs => drop(writeln!(out, "{pad}  sequence: string")),
        Col::Messages => {
            let _ = writeln!(out, "{pad}  list:");
            message(out, &pad);
        }
        Col::Input => {
            let _ = writeln!(out, "{pad}  struct:\n{pad}  - name: messages\n{pad}    list:");
            message(out, &format!("{pad}  "));
        }
    }
}

/// README.md of a Hugging Face dataset folder: the YAML header `datasets`
/// reads (config, splits and their files, features), then the card.
pub fn hf_readme(card: &Card, format: Format, margin: crate::domain::dataset::MarginMode) -> String {
    let form = if card.form == "conversational" {
        crate::domain::form::Form::Conversational
    } else {
        crate::domain::form::Form::Standard
    };
    let mut y = String::from("---\nconfigs:\n- config_name: default\n  data_files:\n");
    for f in &card.files {
        let name = if f.split == Split::Test { "test" } else { "train" };
        let _ = writeln!(y, "  - split: {name}\n    path: data/{name}-*");
    }
    y.push_str("dataset_info:\n  features:\n");
    for (name, col) in columns(format, form, margin) {
        feature(&mut y, 2, name, col);
    }
    y.push_str("  splits:\n");
    for f in &card.files {
        let name = if f.split == Split::Test { "test" } else { "train" };
        let _ = writeln!(y, "  - name: {name}\n    num_bytes: {}\n    num_examples: {}", f.bytes, f.rows);
    }
    y.push_str("tags:\n- rlhf\n- preference\n- arbiter\n---\n\n");
    y + &card_markdown(card)
}
