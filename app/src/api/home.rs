#[cfg(feature = "ssr")]
use super::ctx;
use arbiter_core::domain::views::MyProgress;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCard {
    pub slug: String,
    pub title: String,
    pub progress: MyProgress,
    pub today: i64,
    /// "83%", or empty before any vote could be compared.
    pub agreement: String,
    pub compared: i64,
}

#[server(prefix = "/sfn", output = crate::api::codec::Json)]
pub async fn my_projects() -> Result<Vec<ProjectCard>, ServerFnError> {
    use arbiter_core::services::{dashboard, projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let mut out = Vec::new();
    for p in projects::list_for(&db, &user).await.map_err(ctx::fail)? {
        let progress = tasks::progress(&db, &p, &user).await.map_err(ctx::fail)?;
        let mine = dashboard::mine(&db, &user, &p).await.map_err(ctx::fail)?;
        out.push(ProjectCard {
            slug: p.slug,
            title: p.title,
            progress,
            today: mine.today,
            agreement: mine.agreement.map(|a| format!("{:.0}%", a * 100.0)).unwrap_or_default(),
            compared: mine.compared,
        });
    }
    Ok(out)
}
