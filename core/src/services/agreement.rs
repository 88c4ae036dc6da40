//! How far a project's annotators agree (see `domain::agreement`).
use crate::domain::agreement::{
    fleiss_kappa, krippendorff_alpha, leave_one_out, units_with_two_or_more, Metric, Rating,
};
use crate::services::auth::require_admin;
use crate::storage::projects::Project;
use crate::storage::users::User;
use crate::storage::{export, Db};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alpha {
    pub ordinal: Option<f64>,
    pub interval: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotatorAgreement {
    pub annotator: String,
    /// Votes compared with the others' strict majority.
    pub n: u64,
    pub agreement: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// On the 7-point canonical choice; pairs with one vote left out.
    pub krippendorff_alpha: Alpha,
    /// On three classes: A, tie, B.
    pub fleiss_kappa: Option<f64>,
    /// Pairs with at least two votes.
    pub units: u64,
    pub annotators: Vec<AnnotatorAgreement>,
    /// Pairs imported with a preference (TRL, HH-RLHF, Arena files): how
    /// often the annotators here agree with it. Absent when there are none.
    pub imported_preference: Option<PriorAgreement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorAgreement {
    /// Annotated pairs that came with a preference.
    pub pairs: u64,
    /// Of those, how many the annotators' summed votes agree with (same winner, or both a tie).
    pub agree: u64,
    pub rate: Option<f64>,
}

pub async fn project(db: &Db, reader: &User, project: &Project) -> Result<Agreement> {
    require_admin(reader)?;
    compute(db, project).await
}

pub(crate) async fn compute(db: &Db, project: &Project) -> Result<Agreement> {
    let (db2, id) = (db.clone(), project.id);
    let ratings: Vec<Rating> = tokio::task::spawn_blocking(move || {
        let mut snapshot = export::Snapshot::open(&db2)?;
        export::ratings(&mut snapshot, id)
    })
    .await
    .map_err(|e| crate::Error::Internal(e.into()))??
    .into_iter()
    .map(|(unit, coder, value)| Rating { unit, coder, value })
    .collect();
    let names: HashMap<i64, String> = export::annotator_names(&db.read, project.id).await?.into_iter().collect();
    // Counted on the ratings in pair order: no map of a million pairs.
    let units = units_with_two_or_more(&ratings);
    let mut seen = HashSet::new();
    let mut annotators: Vec<AnnotatorAgreement> = leave_one_out(&ratings)
        .into_iter()
        .filter(|a| seen.insert(a.coder))
        .map(|a| AnnotatorAgreement {
            annotator: names.get(&a.coder).cloned().unwrap_or_else(|| a.coder.to_string()),
            n: a.n,
            agreement: a.agreement,
        })
        .collect();
    annotators.sort_by(|a, b| a.annotator.cmp(&b.annotator));
    Ok(Agreement {
        krippendorff_alpha: Alpha {
            ordinal: krippendorff_alpha(&ratings, Metric::Ordinal),
            interval: krippendorff_alpha(&ratings, Metric::Interval),
        },
        fleiss_kappa: fleiss_kappa(&ratings),
        units,
        annotators,
        imported_preference: prior_agreement(db, project).await?,
    })
}

async fn prior_agreement(db: &Db, project: &Project) -> Result<Option<PriorAgreement>> {
    let (pairs, agree) = export::prior_agreement(&db.read, project.id).await?;
    Ok((pairs > 0).then(|| PriorAgreement {
        pairs: pairs as u64,
        agree: agree as u64,
        rate: Some(crate::domain::verdict::round3(agree as f64 / pairs as f64)),
    }))
}
