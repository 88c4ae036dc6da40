use arbiter_core::domain::views::MyProgress;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use super::ctx;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectCard {
    pub slug: String,
    pub title: String,
    pub progress: MyProgress,
}

#[server(prefix = "/sfn")]
pub async fn my_projects() -> Result<Vec<ProjectCard>, ServerFnError> {
    use arbiter_core::services::{projects, tasks};
    let (db, user) = (ctx::db()?, ctx::require_user()?);
    let mut out = Vec::new();
    for p in projects::list_for(&db, &user).await.map_err(ctx::fail)? {
        let progress = tasks::progress(&db, &p, &user).await.map_err(ctx::fail)?;
        out.push(ProjectCard { slug: p.slug, title: p.title, progress });
    }
    Ok(out)
}
