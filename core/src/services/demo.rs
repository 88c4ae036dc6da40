//! The demo project and logins that `arbiter serve --demo` loads on first start.
use crate::domain::{Role, SettingsInput};
use crate::services::{auth, import, projects};
use crate::storage::Db;
use crate::Result;

pub const DEMO_JSONL: &str = include_str!("demo.jsonl");
pub const DEMO_SLUG: &str = "demo";
/// (username, password, role). Demo mode only: never on a real deployment.
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("admin", "demo-admin-password", Role::Admin),
    ("annotator", "demo-annotator-password", Role::Annotator),
    ("annotator2", "demo-annotator2-password", Role::Annotator),
];

const GUIDELINES: &str = "\
Pick the response that **helps the user more**, honestly and safely.

- Correctness beats style: a wrong answer loses to a plain right one.
- Prefer answers that do what was asked (format, length, language).
- Use *tie* when you really cannot tell; use **both bad** when neither is acceptable.
- Flag anything unsafe or factually wrong, whichever side wins.

Keys: `1`–`7` choose, `b` both bad, `s` skip, `Enter` submit.";

/// Loads the demo on an empty database; returns false (and does nothing)
/// when there is any project already.
pub async fn seed_if_empty(db: &Db) -> Result<bool> {
    if projects::count(db).await? > 0 {
        return Ok(false);
    }
    let mut settings = SettingsInput::titled("Demo: general assistant quality");
    settings.guidelines = Some(GUIDELINES.to_owned());
    let project = projects::create(db, "system", DEMO_SLUG, settings).await?;
    for (name, password, role) in DEMO_USERS {
        let found = crate::storage::users::by_username(&db.read, name).await?;
        if found.is_none() {
            auth::create_user(db, "system", name, password, role).await?;
        }
        projects::add_member(db, "system", &project, name).await?;
    }
    let report = import::import_jsonl(db, &project, None, "demo.jsonl", DEMO_JSONL.as_bytes().to_vec()).await?;
    if !report.ok {
        return Err(crate::Error::Internal(anyhow::anyhow!("demo data has bad lines: {:?}", report.errors)));
    }
    Ok(true)
}
