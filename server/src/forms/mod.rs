//! Plain HTML form posts: the no-JavaScript path of every page. Each calls
//! the same service as the REST API and answers with a redirect, carrying
//! an `?error=` or `?ok=` message for the page to show.
use crate::auth::{session_cookie, SESSION_COOKIE};
use crate::error::{from_rejection, PageError};
use crate::security::ClientAddr;
use crate::startup::AppState;
use arbiter_core::domain::redirect::safe_next;
use arbiter_core::domain::settings::parse_int_field;
use arbiter_core::domain::views::{AnnotationInput, Entries};
use arbiter_core::domain::{Choice, ClientKey, SettingsInput, TaskId};
use arbiter_core::services::{auth, import, projects, tasks, Role, User};
use arbiter_core::Error;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{post, MethodRouter};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

mod accounts;

/// Every form route (all POST): the one list the router is built from and
/// the authorization matrix test walks.
pub fn routes(max_import: usize) -> Vec<(&'static str, MethodRouter<AppState>)> {
    let small = || DefaultBodyLimit::max(crate::api::JSON_LIMIT);
    vec![
        ("/login", post(login).layer(small())),
        ("/logout", post(logout).layer(small())),
        ("/invite/{token}", post(accounts::accept_invite).layer(small())),
        ("/annotate/{slug}/submit", post(annotate).layer(small())),
        ("/account/tokens", post(accounts::create_token).layer(small())),
        ("/account/display", post(accounts::display).layer(small())),
        ("/account/tokens/{uuid}/revoke", post(accounts::revoke_token).layer(small())),
        ("/account/logout-everywhere", post(accounts::logout_everywhere).layer(small())),
        ("/admin/projects", post(create_project).layer(small())),
        ("/admin/projects/{slug}/settings", post(project_settings).layer(small())),
        ("/admin/projects/{slug}/members", post(add_member).layer(small())),
        ("/admin/projects/{slug}/members/remove", post(accounts::remove_member).layer(small())),
        ("/admin/projects/{slug}/pairs/{pair}/gold", post(set_gold).layer(small())),
        ("/admin/projects/{slug}/pairs/{pair}/adjudicate", post(adjudicate).layer(small())),
        ("/admin/projects/{slug}/import", post(upload).layer(DefaultBodyLimit::max(max_import))),
        ("/admin/users", post(add_user).layer(small())),
        ("/admin/invites", post(accounts::create_invite).layer(small())),
        ("/admin/users/{username}/role", post(accounts::set_role).layer(small())),
        ("/admin/users/{username}/active", post(accounts::set_active).layer(small())),
        ("/admin/users/{username}/reset", post(accounts::reset_password).layer(small())),
    ]
}

pub fn router(max_import: usize) -> Router<AppState> {
    routes(max_import).into_iter().fold(Router::new(), |r, (path, handler)| r.route(path, handler))
}

pub(crate) fn back(to: &str, key: &str, msg: &str) -> Response {
    back_with(to, &[(key, msg)])
}

/// Back to `to` with these query values. A message the page shows is a
/// catalog key (`ok=settings_saved` → `flash.settings_saved` in
/// `app/locales`, in the reader's language) plus the values it names
/// (`name=…`); an error text from the core is shown as it is.
pub(crate) fn back_with(to: &str, query: &[(&str, &str)]) -> Response {
    let q = serde_urlencoded::to_string(query).unwrap_or_default();
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}{q}")).into_response()
}

/// Back to `page` with the `ok` message (a catalog key and its values) on
/// success, or with the error.
pub(crate) fn answer(page: &str, result: Result<(), Error>, ok: &[(&str, &str)]) -> Response {
    match result {
        Ok(()) => back_with(page, ok),
        Err(e) => back_err(page, e),
    }
}

/// Back to the page with the error's public message; what must not be
/// shown as a message on a page (a 404, 413 or 429) gets its own page.
pub(crate) fn back_err(to: &str, e: Error) -> Response {
    match e.status() {
        400 | 409 | 422 => back(to, "error", &e.public_message()),
        _ => PageError(e).into_response(),
    }
}

/// A form body; a malformed or oversized one gets the error page (400/413).
pub(crate) struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    axum_extra::extract::Form<T>: FromRequest<S, Rejection = axum_extra::extract::FormRejection>,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match axum_extra::extract::Form::<T>::from_request(req, state).await {
            Ok(axum_extra::extract::Form(v)) => Ok(Form(v)),
            Err(r) => Err(PageError(from_rejection(r.status(), r.body_text()))),
        }
    }
}

/// The logged-in user of a form post; without a session, the login page.
pub(crate) struct FormUser(pub User);

/// An admin's form post: others get 404 (the admin area does not announce
/// itself), the logged-out the login page.
pub(crate) struct FormAdmin(pub User);

impl<S: Send + Sync> FromRequestParts<S> for FormUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts.extensions.get::<User>().cloned().map(FormUser).ok_or_else(|| Redirect::to("/login").into_response())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<User>() {
            Some(u) if u.role == Role::Admin => Ok(FormAdmin(u.clone())),
            Some(_) => Err(PageError(Error::Forbidden("admins only".into())).into_response()),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Logs in (throttled; 429 with Retry-After past the limit), ends any
/// session the browser already had (a new id at every login), sets the new
/// session cookie and goes to `next` if that is a path on this site.
async fn login(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientAddr>>,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Response {
    let ip = client.and_then(|c| c.0 .0);
    match auth::login(&state.db, &state.throttle, &f.username, &f.password, ip).await {
        Ok(session) => {
            if let Some(old) = jar.get(SESSION_COOKIE) {
                let _ = auth::logout(&state.db, old.value()).await;
            }
            let jar = jar.add(session_cookie(session.token, state.secure_cookies()));
            (jar, Redirect::to(&safe_next(&f.next))).into_response()
        }
        Err(Error::Unauthorized(_)) => back("/login", "error", "login_failed"),
        Err(e) => back_err("/login", e),
    }
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        if let Err(e) = auth::logout(&state.db, c.value()).await {
            return back_err("/login", e);
        }
    }
    let jar = jar.remove(axum_extra::extract::cookie::Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/login?ok=logged_out")).into_response()
}

/// The annotator page's plain form (no JavaScript): `choice` for a pairwise
/// task, `rank_<id>` per completion for a ranking, `rate_<id>_<aspect
/// number>` per completion and aspect for a rating; read as a list because
/// those names depend on the task.
#[derive(Default)]
struct AnnotateForm {
    task_id: String,
    client_key: String,
    choice: Option<String>,
    both_bad: bool,
    flags: Vec<String>,
    rationale: String,
    action: String,
    /// The task is an earlier judgement being changed.
    edit: bool,
    ranks: Vec<(String, String)>,
    ratings: Vec<(String, usize, String)>,
    completion_flags: Vec<(String, String)>,
}

impl AnnotateForm {
    fn read(fields: Vec<(String, String)>) -> AnnotateForm {
        let mut f = AnnotateForm::default();
        for (k, v) in fields {
            match k.as_str() {
                "task_id" => f.task_id = v,
                "client_key" => f.client_key = v,
                "choice" => f.choice = Some(v),
                "both_bad" => f.both_bad = true,
                "flags" => f.flags.push(v),
                "rationale" => f.rationale = v,
                "action" => f.action = v,
                "edit" => f.edit = true,
                _ => {
                    if let Some(id) = k.strip_prefix("cflag_") {
                        f.completion_flags.push((id.to_owned(), v));
                    } else if let Some(id) = k.strip_prefix("rank_") {
                        f.ranks.push((id.to_owned(), v));
                    } else if let Some((id, aspect)) = k.strip_prefix("rate_").and_then(|r| r.rsplit_once('_')) {
                        if let Ok(a) = aspect.parse() {
                            f.ratings.push((id.to_owned(), a, v));
                        }
                    }
                }
            }
        }
        f
    }

    /// The judgement the form carries, for the task type it came from.
    fn judgement(&self, project: &arbiter_core::storage::projects::Project) -> Result<AnnotationInput, String> {
        let number =
            |field: &str, v: &str| v.trim().parse::<i64>().map_err(|_| format!("{field}: {v:?} is not a number"));
        let mut input = AnnotationInput {
            choice: None,
            ranks: None,
            ratings: None,
            completion_flags: None,
            both_bad: self.both_bad,
            flags: self.flags.clone(),
            rationale: self.rationale.clone(),
            time_ms: None,
        };
        if !self.completion_flags.is_empty() {
            let mut per: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (id, flag) in &self.completion_flags {
                per.entry(id.clone()).or_default().push(flag.clone());
            }
            input.completion_flags = Some(Entries(per));
        }
        if !self.ranks.is_empty() {
            let mut ranks = std::collections::BTreeMap::new();
            for (id, v) in &self.ranks {
                ranks.insert(id.clone(), number("ranks", v)?);
            }
            input.ranks = Some(Entries(ranks));
        } else if !self.ratings.is_empty() {
            let mut all: std::collections::BTreeMap<String, Entries<i64>> = Default::default();
            for (id, a, v) in &self.ratings {
                let aspect = project.aspects.get(*a).ok_or_else(|| format!("ratings: no aspect number {a}"))?;
                all.entry(id.clone()).or_default().0.insert(aspect.clone(), number("ratings", v)?);
            }
            input.ratings = Some(Entries(all));
        } else if project.task_type == arbiter_core::domain::TaskType::Ranking {
            return Err("ranks: give every answer a rank".into());
        } else if project.task_type == arbiter_core::domain::TaskType::Rating {
            return Err("ratings: rate every answer".into());
        } else {
            input.choice = match self.choice.as_deref().map(str::parse::<i64>) {
                Some(Ok(c)) => Some(Choice::new(c).map_err(|e| format!("choice: {e}"))?),
                _ => return Err("choice: pick one of the seven options".into()),
            };
        }
        Ok(input)
    }
}

async fn annotate(
    State(state): State<AppState>,
    FormUser(user): FormUser,
    Path(slug): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let f = AnnotateForm::read(fields);
    let page = format!("/annotate/{slug}");
    let project = match projects::visible(&state.db, &user, &slug).await {
        Ok(p) => p,
        Err(e) => return PageError(e).into_response(),
    };
    let Some(task_id) = TaskId::parse(&f.task_id) else {
        return back(&page, "error", "no_such_task");
    };
    if f.action == "skip" {
        return match tasks::skip(&state.db, &user, Some(&project), task_id, None).await {
            Ok(()) => Redirect::to(&page).into_response(),
            Err(e) => back_err(&page, e),
        };
    }
    let key = match ClientKey::parse(&f.client_key) {
        Ok(k) => k,
        Err(e) => return back(&page, "error", &e.to_string()),
    };
    let input = match f.judgement(&project) {
        Ok(i) => i,
        Err(m) => return back(&page, "error", &m),
    };
    let saved = if f.edit {
        tasks::edit(&state.db, &user, Some(&project), tasks::EditTarget::Task(task_id), &key, &input).await
    } else {
        tasks::submit(&state.db, &user, Some(&project), task_id, &key, &input).await
    };
    match saved {
        Ok(_) => back(&page, "ok", "saved"),
        Err(e) => back_err(&page, e),
    }
}

#[derive(Deserialize)]
struct NewProjectForm {
    slug: String,
    title: String,
    annotations_per_pair: Option<String>,
    task_type: Option<String>,
}

async fn create_project(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Form(f): Form<NewProjectForm>,
) -> Response {
    let result = async {
        let mut settings = SettingsInput::titled(&f.title);
        settings.annotations_per_pair = parse_int_field("annotations_per_pair", f.annotations_per_pair.as_deref())?;
        settings.task_type = f.task_type.filter(|t| !t.trim().is_empty());
        projects::create(&state.db, &admin.username, f.slug.trim(), settings).await
    }
    .await;
    match result {
        Ok(p) => back(&format!("/admin/projects/{}", p.slug), "ok", "project_created"),
        Err(e) => back_err("/admin", e),
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    title: String,
    #[serde(default)]
    guidelines: String,
    annotations_per_pair: Option<String>,
    lease_seconds: Option<String>,
    #[serde(default)]
    flags: String,
    pair_selection: Option<String>,
    task_type: Option<String>,
    /// Comma-separated.
    aspects: Option<String>,
    scale: Option<String>,
    /// Comma-separated, one per point of the scale (or empty).
    scale_labels: Option<String>,
    undo_judgements: Option<String>,
    undo_minutes: Option<String>,
    gold_percent: Option<String>,
    gold_accuracy_min: Option<String>,
    selection: Option<String>,
    flag_agreement_min: Option<String>,
    flag_skip_max: Option<String>,
    flag_bias_permille: Option<String>,
}

/// A comma-separated form field as a list (blanks dropped).
fn comma_list(s: &str) -> Vec<String> {
    s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect()
}

async fn project_settings(
    State(state): State<AppState>,
    FormAdmin(user): FormAdmin,
    Path(slug): Path<String>,
    Form(f): Form<SettingsForm>,
) -> Response {
    let page = format!("/admin/projects/{slug}");
    let result = async {
        let project = projects::administered(&state.db, &user, &slug).await?;
        let settings = SettingsInput {
            title: f.title,
            guidelines: Some(f.guidelines),
            annotations_per_pair: parse_int_field("annotations_per_pair", f.annotations_per_pair.as_deref())?,
            lease_seconds: parse_int_field("lease_seconds", f.lease_seconds.as_deref())?,
            flags: Some(f.flags.lines().map(str::to_owned).collect()),
            // A form without the field keeps what the project has.
            pair_selection: Some(f.pair_selection.unwrap_or_else(|| project.pair_selection.name().to_owned())),
            selection: Some(f.selection.unwrap_or_else(|| project.selection.name().to_owned())),
            flag_agreement_min: Some(
                parse_int_field("flag_agreement_min", f.flag_agreement_min.as_deref())?
                    .unwrap_or(project.flag_agreement_min),
            ),
            flag_skip_max: Some(
                parse_int_field("flag_skip_max", f.flag_skip_max.as_deref())?.unwrap_or(project.flag_skip_max),
            ),
            flag_bias_permille: Some(
                parse_int_field("flag_bias_permille", f.flag_bias_permille.as_deref())?
                    .unwrap_or(project.flag_bias_permille),
            ),
            task_type: Some(f.task_type.unwrap_or_else(|| project.task_type.name().to_owned())),
            aspects: Some(f.aspects.as_deref().map(comma_list).unwrap_or_else(|| project.aspects.clone())),
            scale: Some(f.scale.unwrap_or_else(|| project.scale.to_string())),
            scale_labels: Some(
                f.scale_labels.as_deref().map(comma_list).unwrap_or_else(|| project.scale.labels.clone()),
            ),
            undo_judgements: Some(
                parse_int_field("undo_judgements", f.undo_judgements.as_deref())?.unwrap_or(project.undo_judgements),
            ),
            undo_minutes: Some(
                parse_int_field("undo_minutes", f.undo_minutes.as_deref())?.unwrap_or(project.undo_minutes),
            ),
            gold_percent: Some(
                parse_int_field("gold_percent", f.gold_percent.as_deref())?.unwrap_or(project.gold_percent),
            ),
            gold_accuracy_min: Some(
                parse_int_field("gold_accuracy_min", f.gold_accuracy_min.as_deref())?
                    .unwrap_or(project.gold_accuracy_min),
            ),
        };
        projects::update(&state.db, &user.username, &project, settings).await
    }
    .await;
    answer(&page, result, &[("ok", "settings_saved")])
}

#[derive(Deserialize)]
struct MemberForm {
    username: String,
}

async fn add_member(
    State(state): State<AppState>,
    FormAdmin(user): FormAdmin,
    Path(slug): Path<String>,
    Form(f): Form<MemberForm>,
) -> Response {
    let page = format!("/admin/projects/{slug}");
    let result = async {
        let project = projects::administered(&state.db, &user, &slug).await?;
        projects::add_member(&state.db, &user.username, &project, f.username.trim()).await
    }
    .await;
    answer(&page, result, &[("ok", "member_added")])
}

#[derive(Deserialize)]
struct UserForm {
    username: String,
    password: String,
    role: String,
    #[serde(default)]
    project: String,
}

async fn add_user(State(state): State<AppState>, FormAdmin(admin): FormAdmin, Form(f): Form<UserForm>) -> Response {
    let result = async {
        let role = Role::parse(&f.role).map_err(|e| Error::bad(e.to_string()))?;
        let created = auth::create_user(&state.db, &admin.username, &f.username, &f.password, role).await?;
        if !f.project.trim().is_empty() {
            let project = projects::administered(&state.db, &admin, f.project.trim()).await?;
            projects::add_member(&state.db, &admin.username, &project, &created.username).await?;
        }
        Ok::<_, Error>(created)
    }
    .await;
    match result {
        Ok(u) => back_with("/admin/users", &[("ok", "user_added"), ("name", &u.username)]),
        Err(e) => back_err("/admin/users", e),
    }
}

/// The upload form: the report is stored with the import and shown on the
/// project page, good or bad.
async fn upload(
    State(state): State<AppState>,
    FormAdmin(user): FormAdmin,
    Path(slug): Path<String>,
    mut form: Multipart,
) -> Response {
    let page = format!("/admin/projects/{slug}");
    let project = match projects::administered(&state.db, &user, &slug).await {
        Ok(p) => p,
        Err(e) => return PageError(e).into_response(),
    };
    let mut file = None;
    let mut options = import::ImportOptions { yield_cpu: true, ..Default::default() };
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("format") => match field.text().await {
                Ok(f) if f.is_empty() || f == "auto" => {}
                Ok(f) => match arbiter_core::domain::preference::ImportFormat::parse(&f) {
                    Ok(f) => options.format = Some(f),
                    Err(e) => return back_err(&page, e.into()),
                },
                Err(e) => return PageError(from_rejection(e.status(), e.body_text())).into_response(),
            },
            Ok(Some(field)) if field.name() == Some("skip_bad") => {
                options.skip_bad = true;
                let _ = field.bytes().await;
            }
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("upload.jsonl").to_owned();
                match field.bytes().await {
                    // Handed on, not copied: the file is held in memory once.
                    Ok(bytes) => file = Some((name, Vec::from(bytes))),
                    Err(e) => return PageError(from_rejection(e.status(), e.body_text())).into_response(),
                }
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return PageError(from_rejection(e.status(), e.body_text())).into_response(),
        }
    }
    let Some((name, data)) = file else {
        return back(&page, "error", "choose_file");
    };
    let source = import::Source::Bytes(std::sync::Arc::new(data));
    match import::import(&state.db, &project, Some(&user), &name, source, options).await {
        Ok(report) => back(&page, "import", &report.import_id),
        Err(e) => back_err(&page, e),
    }
}

#[derive(Deserialize)]
struct GoldForm {
    /// `a`, `b`, `tie` or `none`.
    gold: String,
}

/// The pair page's gold form.
async fn set_gold(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path((slug, pair)): Path<(String, String)>,
    Form(f): Form<GoldForm>,
) -> Response {
    use arbiter_core::services::dashboard::{self, Answer};
    let page = format!("/admin/projects/{slug}/pairs/{pair}");
    let result = async {
        let gold = match f.gold.as_str() {
            "none" => None,
            other => Some(Answer::parse("gold", other)?),
        };
        let project = projects::administered(&state.db, &admin, &slug).await?;
        dashboard::set_gold(&state.db, &admin, &project, &pair, gold).await
    }
    .await;
    answer(&page, result, &[("ok", "gold_saved")])
}

#[derive(Deserialize)]
struct AdjudicateForm {
    /// `a`, `b`, `tie` or `none`.
    label: String,
    /// `pair` to return to the pair's page, else the adjudication page.
    #[serde(default)]
    from: String,
}

/// The adjudication page's (and the pair page's) final-label form.
async fn adjudicate(
    State(state): State<AppState>,
    FormAdmin(admin): FormAdmin,
    Path((slug, pair)): Path<(String, String)>,
    Form(f): Form<AdjudicateForm>,
) -> Response {
    use arbiter_core::services::dashboard::{self, Answer};
    let page = if f.from == "pair" {
        format!("/admin/projects/{slug}/pairs/{pair}")
    } else {
        format!("/admin/projects/{slug}/adjudicate")
    };
    let result = async {
        let label = match f.label.as_str() {
            "none" => None,
            other => Some(Answer::parse("label", other)?),
        };
        let project = projects::administered(&state.db, &admin, &slug).await?;
        dashboard::adjudicate(&state.db, &admin, &project, &pair, label).await
    }
    .await;
    answer(&page, result, &[("ok", "adjudicated")])
}
