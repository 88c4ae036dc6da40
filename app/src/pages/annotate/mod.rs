//! The annotator page. Server-rendered as a plain form that works without
//! JavaScript (posts to `/annotate/{slug}/submit`); once hydrated, keys 1–7,
//! b, s and Enter drive it, submissions go through `submit_and_next` with a
//! client key, drafts survive in local storage until the server acknowledges
//! them, and failed sends are retried with the same key.
mod client;
mod diff;
mod ranking;

use crate::api::{
    edit_and_next, load_annotate, prefetch_task, skip_and_next, submit_and_next, undo_last, AnnotateData, NextData,
};
use crate::components::{loaded, message, Flash, Nav};
use crate::i18n::{t, tf};
use arbiter_core::domain::import::Role;
use arbiter_core::domain::views::{AnnotationInput, Entries, MyProgress, ShownCompletion, TaskView};
use arbiter_core::domain::{Choice, Scale, TaskType};
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnError;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ranking::Ranking;
use std::collections::BTreeMap;
use std::collections::VecDeque;

#[component]
pub fn AnnotatePage() -> impl IntoView {
    let params = use_params_map();
    let query = leptos_router::hooks::use_query_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    // `?edit=<task>`: one of your judgements, opened from the history to change it.
    let edit = move || query.read().get("edit");
    let data = Resource::new(move || (slug(), edit()), |(slug, edit)| load_annotate(slug, edit));
    view! {
        <Title text=t("annotate.title") />
        <Nav />
        <main class="page wide">
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move { loaded(data.await, |d| view! { <Annotator data=d /> }) })}
            </Suspense>
        </main>
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Saving,
    Saved,
    Retrying(u32),
    Failed(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Submit,
    Skip,
}

/// An answer that did not come (worth sending again with the same key), as
/// opposed to the server saying no: the network failed, the server was
/// away for a moment (its 503 is a `Response` error, see `api::ctx::fail`),
/// or something in between answered instead of Arbiter (a proxy's 502
/// page does not decode).
fn is_transient(e: &ServerFnError) -> bool {
    matches!(e, ServerFnError::Request(_) | ServerFnError::Response(_) | ServerFnError::Deserialization(_))
}

#[component]
fn Annotator(data: AnnotateData) -> impl IntoView {
    let slug = StoredValue::new(data.slug.clone());
    let all_flags = data.flags.clone();
    let data_flags = data.flags.clone();
    let task = RwSignal::new(data.task.clone());
    let progress = RwSignal::new(data.progress);
    let client_key = RwSignal::new(data.client_key.clone());
    let choice = RwSignal::new(None::<i8>);
    // Reading aids for pairs: the differing words marked (key `d`), and the
    // two answers scrolled together.
    let show_diff = RwSignal::new(false);
    let linked = RwSignal::new(false);
    // Ranking tasks: the order typed so far. Rating tasks: the values given
    // per (completion, aspect), and the (completion, aspect) keys go to.
    let ranking = RwSignal::new(Ranking::default());
    let ratings = RwSignal::new(BTreeMap::<(usize, usize), i64>::new());
    let cursor = RwSignal::new(0usize);
    // Flags on single answers (ranking and rating), by shown position.
    let cflags = RwSignal::new(BTreeMap::<usize, Vec<String>>::new());
    // The task shown is an earlier judgement being changed: (its task id,
    // whether it can still be changed). `resume` keeps the task that was
    // shown before Backspace, to go back to.
    let editing =
        RwSignal::new(data.editing.as_ref().zip(data.task.as_ref()).map(|((_, ok), t)| (t.task_id.to_string(), *ok)));
    let resume = StoredValue::new(None::<TaskView>);
    let both_bad = RwSignal::new(false);
    let flags = RwSignal::new(Vec::<String>::new());
    let rationale = RwSignal::new(String::new());
    let status = RwSignal::new(Status::Idle);
    let started = StoredValue::new(client::now_ms());
    // The task after this one, leased ahead so Enter shows it at once.
    let upcoming = RwSignal::new(None::<TaskView>);
    // Judgements not yet acknowledged, oldest first; sent one at a time, in
    // order, by one sender. Mirrored in local storage until acknowledged.
    let outbox = StoredValue::new(VecDeque::<client::Draft>::new());
    let sending = StoredValue::new(false);
    // The shown pair was just submitted and the next one is on its way.
    let waiting = RwSignal::new(false);
    // Counts submissions: a prefetch asked for before the latest one may
    // name a pair two ahead (the server leased the next one meanwhile), so
    // its answer is dropped; the server's answer to the submit decides.
    let generation = StoredValue::new(0u64);
    // Keys pressed while waiting: they belong to the next pair, and are
    // applied to it, in order, the moment it shows (every keypress counts).
    let typeahead = StoredValue::new(VecDeque::<client::Key>::new());
    // Set below: applying queued keys and sending the outbox call each other.
    let drain_keys: StoredValue<Option<Callback<()>>> = StoredValue::new(None);
    let pump: StoredValue<Option<Callback<()>>> = StoredValue::new(None);
    let run = |cb: StoredValue<Option<Callback<()>>>| {
        if let Some(cb) = cb.get_value() {
            cb.run(());
        }
    };

    let show = move |next: Option<TaskView>| {
        task.set(next);
        choice.set(None);
        ranking.set(Ranking::default());
        ratings.set(BTreeMap::new());
        cursor.set(0);
        cflags.set(BTreeMap::new());
        both_bad.set(false);
        flags.set(Vec::new());
        rationale.set(String::new());
        editing.set(None);
        client_key.set(client::new_key());
        started.set_value(client::now_ms());
        waiting.set(false);
        run(drain_keys);
    };

    let persist = move || {
        let drafts: Vec<client::Draft> = outbox.with_value(|q| q.iter().cloned().collect());
        client::save_outbox(&slug.get_value(), &drafts);
    };

    let fetch_ahead = move || {
        if upcoming.get_untracked().is_some() || task.get_untracked().is_none() || sending.get_value() {
            return;
        }
        let asked_at = generation.get_value();
        leptos::task::spawn_local(async move {
            if let Ok(Some(t)) = prefetch_task(slug.get_value()).await {
                if generation.get_value() != asked_at {
                    return;
                }
                let shown = task.get_untracked().map(|c| c.task_id);
                if waiting.get_untracked() {
                    show(Some(t));
                } else if shown != Some(t.task_id) {
                    upcoming.set(Some(t));
                }
            }
        });
    };

    // The server's word once everything queued is acknowledged: it knows
    // which pair comes next. If the page already shows it (the prefetched
    // one), keep what the annotator has started on it.
    let settle = move |next: NextData| {
        progress.set(next.progress);
        let shown = task.get_untracked().map(|t| t.task_id);
        if waiting.get_untracked() || next.task.as_ref().map(|t| t.task_id) != shown {
            upcoming.set(None);
            show(next.task);
        }
    };

    let send = move |draft: client::Draft| async move {
        match &draft.input {
            Some(input) if draft.edit => {
                edit_and_next(slug.get_value(), draft.task_id, draft.client_key, input.clone()).await
            }
            Some(input) => submit_and_next(slug.get_value(), draft.task_id, draft.client_key, input.clone()).await,
            None => skip_and_next(slug.get_value(), draft.task_id, None).await,
        }
    };

    // The one sender: a lost connection is retried with the same key (so it
    // is stored once), a refusal is shown, and the next draft goes on.
    pump.set_value(Some(Callback::new(move |_| {
        if sending.get_value() {
            return;
        }
        sending.set_value(true);
        leptos::task::spawn_local(async move {
            let mut failed = None;
            while let Some(draft) = outbox.with_value(|q| q.front().cloned()) {
                let mut tries = 0u32;
                let sent = loop {
                    status.set(if tries == 0 { Status::Saving } else { Status::Retrying(tries) });
                    match send(draft.clone()).await {
                        Err(e) if is_transient(&e) => {
                            tries += 1;
                            client::sleep_ms(u64::from(500 * tries.min(8))).await;
                        }
                        other => break other,
                    }
                };
                outbox.update_value(|q| {
                    q.pop_front();
                });
                persist();
                match sent {
                    Ok(next) if outbox.with_value(VecDeque::is_empty) => settle(next),
                    Ok(_) => {}
                    Err(e) => {
                        failed = Some(message(&e));
                        if waiting.get_untracked() && outbox.with_value(VecDeque::is_empty) {
                            // Nothing else will bring the next pair: ask for it.
                            if let Ok(next) = load_annotate(slug.get_value(), None).await {
                                show(next.task);
                            }
                        }
                    }
                }
            }
            sending.set_value(false);
            status.set(match failed {
                Some(m) => Status::Failed(m),
                None => Status::Saved,
            });
            fetch_ahead();
        });
    })));

    let act = move |action: Action| {
        let Some(shown) = task.get_untracked() else { return };
        let edit = editing.get_untracked();
        if let Some((_, ok)) = &edit {
            if action == Action::Skip || !ok {
                // Leaving an earlier judgement as it is: back to the task before.
                if action == Action::Submit {
                    status.set(Status::Failed(t("error.closed").into()));
                    return;
                }
                let back = resume.try_update_value(Option::take).flatten().or_else(|| upcoming.get_untracked());
                upcoming.set(None);
                match back {
                    Some(next) => show(Some(next)),
                    None => {
                        task.set(None);
                        waiting.set(true);
                        leptos::task::spawn_local(async move {
                            if let Ok(next) = load_annotate(slug.get_value(), None).await {
                                show(next.task);
                            }
                        });
                    }
                }
                return;
            }
        }
        let input = match action {
            Action::Skip => None,
            Action::Submit => {
                let mut input = AnnotationInput {
                    choice: None,
                    ranks: None,
                    ratings: None,
                    completion_flags: None,
                    both_bad: both_bad.get_untracked(),
                    flags: flags.get_untracked(),
                    rationale: rationale.get_untracked(),
                    time_ms: Some((client::now_ms() - started.get_value()).max(0.0) as i64),
                };
                let ids: Vec<String> = shown.completions.iter().map(|c| c.id.clone()).collect();
                let marked: BTreeMap<String, Vec<String>> = cflags
                    .get_untracked()
                    .into_iter()
                    .filter(|(i, f)| !f.is_empty() && *i < ids.len())
                    .map(|(i, f)| (ids[i].clone(), f))
                    .collect();
                if !marked.is_empty() {
                    input.completion_flags = Some(Entries(marked));
                }
                let missing = match shown.task_type {
                    TaskType::Pairwise => match choice.get_untracked() {
                        Some(c) => {
                            input.choice = Some(Choice::new(i64::from(c)).unwrap_or(Choice::TIE));
                            None
                        }
                        None => Some(t("error.choose")),
                    },
                    TaskType::Ranking => match ranking.get_untracked().complete(ids.len()) {
                        Some(ranks) => {
                            input.ranks = Some(Entries(ids.into_iter().zip(ranks).collect()));
                            None
                        }
                        None => Some(t("error.rank_all")),
                    },
                    TaskType::Rating => {
                        let aspects = shown.aspects.clone().unwrap_or_default();
                        let given = ratings.get_untracked();
                        let mut all = BTreeMap::new();
                        for (i, id) in ids.iter().enumerate() {
                            let mut per = BTreeMap::new();
                            for (a, name) in aspects.iter().enumerate() {
                                if let Some(v) = given.get(&(i, a)) {
                                    per.insert(name.clone(), *v);
                                }
                            }
                            all.insert(id.clone(), Entries(per));
                        }
                        if given.len() == ids.len() * aspects.len() {
                            input.ratings = Some(Entries(all));
                            None
                        } else {
                            Some(t("error.rate_all"))
                        }
                    }
                };
                if let Some(m) = missing {
                    status.set(Status::Failed(m.into()));
                    return;
                }
                Some(input)
            }
        };
        let draft = client::Draft {
            task_id: shown.task_id.to_string(),
            client_key: client_key.get_untracked(),
            input,
            edit: edit.is_some(),
        };
        generation.update_value(|g| *g += 1);
        outbox.update_value(|q| q.push_back(draft));
        persist();
        // A change saved: back to the task shown before Backspace.
        if edit.is_some() {
            if let Some(back) = resume.try_update_value(Option::take).flatten() {
                show(Some(back));
                run(pump);
                return;
            }
        }
        // Show the prefetched pair now; the answer is saved meanwhile. With
        // none at hand, wait for the server's next one.
        match upcoming.get_untracked() {
            Some(next) => {
                upcoming.set(None);
                show(Some(next));
            }
            None => {
                task.set(None);
                waiting.set(true);
            }
        }
        run(pump);
    };

    // Backspace: bring back the judgement just submitted (pressing again,
    // the one before), as it was, to change it. Waits for what is still
    // being saved: the server must know it first.
    let preload = move |t: &TaskView, input: &AnnotationInput| {
        choice.set(input.choice.map(|c| c.value()));
        both_bad.set(input.both_bad);
        flags.set(input.flags.clone());
        rationale.set(input.rationale.clone());
        let ids: Vec<&str> = t.completions.iter().map(|c| c.id.as_str()).collect();
        let at = |id: &str| ids.iter().position(|x| *x == id);
        if let Some(Entries(ranks)) = &input.ranks {
            let mut r = Ranking::default();
            let mut by_rank: Vec<(i64, usize)> = ranks.iter().filter_map(|(id, k)| Some((*k, at(id)?))).collect();
            by_rank.sort();
            let mut last = None;
            for (k, i) in by_rank {
                if last == Some(k) {
                    r.tie();
                }
                r.press(i);
                last = Some(k);
            }
            ranking.set(r);
        }
        if let Some(Entries(rated)) = &input.ratings {
            let aspects = t.aspects.clone().unwrap_or_default();
            let mut m = BTreeMap::new();
            for (id, Entries(values)) in rated {
                for (a, name) in aspects.iter().enumerate() {
                    if let (Some(i), Some(v)) = (at(id), values.get(name)) {
                        m.insert((i, a), *v);
                    }
                }
            }
            ratings.set(m);
        }
        if let Some(Entries(per)) = &input.completion_flags {
            cflags.set(per.iter().filter_map(|(id, f)| Some((at(id)?, f.clone()))).collect());
        }
    };
    let undo = move || {
        if sending.get_value() || !outbox.with_value(VecDeque::is_empty) {
            status.set(Status::Failed(t("error.still_saving").into()));
            return;
        }
        let before = editing.get_untracked().map(|(id, _)| id);
        leptos::task::spawn_local(async move {
            match undo_last(slug.get_value(), before.clone()).await {
                Ok(Some(j)) => {
                    if before.is_none() {
                        // Keep the task shown now, to come back to.
                        resume.set_value(task.get_untracked());
                    }
                    let id = j.task.task_id.to_string();
                    task.set(Some(j.task.clone()));
                    choice.set(None);
                    ranking.set(Ranking::default());
                    ratings.set(BTreeMap::new());
                    cflags.set(BTreeMap::new());
                    cursor.set(0);
                    client_key.set(client::new_key());
                    started.set_value(client::now_ms());
                    preload(&j.task, &j.input);
                    editing.set(Some((id, j.editable)));
                    status.set(if j.editable { Status::Idle } else { Status::Failed(t("error.closed").into()) });
                }
                Ok(None) => status.set(Status::Failed(t("error.nothing_earlier").into())),
                Err(e) => status.set(Status::Failed(message(&e))),
            }
        });
    };
    // Opened from the history: what was answered.
    if let (Some((input, _)), Some(t)) = (data.editing.clone(), data.task.clone()) {
        preload(&t, &input);
    }

    // What a key does depends on the task shown.
    let cells = move || {
        task.with_untracked(|t| t.as_ref().map(|t| (t.completions.len(), t.aspects.as_ref().map_or(0, Vec::len))))
            .unwrap_or_default()
    };
    let apply_key = move |key: client::Key| match key {
        client::Key::Digit(d) => match task.with_untracked(|t| t.as_ref().map(|t| (t.task_type, t.scale.clone()))) {
            Some((TaskType::Pairwise, _)) if (1..=7).contains(&d) => choice.set(Some(d as i8 - 4)),
            Some((TaskType::Ranking, _)) if d >= 1 && usize::from(d) <= cells().0 => {
                ranking.update(|r| r.press(usize::from(d) - 1))
            }
            Some((TaskType::Rating, Some(scale))) => {
                let (k, aspects) = cells();
                if let (Some(v), true) = (scale.from_key(d), aspects > 0) {
                    let at = cursor.get_untracked();
                    ratings.update(|r| {
                        r.insert((at / aspects, at % aspects), v);
                    });
                    cursor.set((at + 1).min(k * aspects - 1));
                }
            }
            _ => {}
        },
        client::Key::Equals => ranking.update(Ranking::tie),
        client::Key::Undo => {
            let typed = ranking.with_untracked(|r| !r.groups().is_empty() || r.ties_next());
            if typed {
                ranking.update(Ranking::undo);
            } else {
                undo();
            }
        }
        client::Key::Next => {
            let (k, aspects) = cells();
            cursor.update(|c| *c = (*c + 1).min((k * aspects).saturating_sub(1)));
        }
        client::Key::Prev => cursor.update(|c| *c = c.saturating_sub(1)),
        client::Key::BothBad => both_bad.update(|b| *b = !*b),
        client::Key::Diff => show_diff.update(|d| *d = !*d),
        client::Key::Skip => act(Action::Skip),
        client::Key::Submit => act(Action::Submit),
    };
    drain_keys.set_value(Some(Callback::new(move |_| {
        while !waiting.get_untracked() {
            let Some(key) = typeahead.try_update_value(VecDeque::pop_front).flatten() else { break };
            apply_key(key);
        }
    })));

    // After hydration: resend what a crash or closed tab left unsent, and
    // listen for the keyboard.
    Effect::new(move |_| {
        let left = client::load_outbox(&slug.get_value());
        if left.is_empty() {
            fetch_ahead();
        } else {
            // The shown pair may be one of them: wait for the server's next.
            let shown = task.get_untracked().map(|t| t.task_id.to_string());
            if left.iter().any(|d| Some(&d.task_id) == shown.as_ref()) {
                task.set(None);
                waiting.set(true);
            }
            outbox.set_value(left.into());
            run(pump);
        }
    });
    let tabs = move || task.with_untracked(|t| t.as_ref().is_some_and(|t| t.task_type == TaskType::Rating));
    client::on_keys(tabs, move |key| {
        typeahead.update_value(|q| q.push_back(key));
        run(drain_keys);
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let skip = client::submitter_value(&ev).as_deref() == Some("skip");
        act(if skip { Action::Skip } else { Action::Submit });
    };

    view! {
        <div class="annotate-head">
            <h1>{data.title.clone()}</h1>
            <ProgressLine progress />
            <a class="history-link" href=format!("/annotate/{}/history", data.slug)>{t("annotate.history")}</a>
        </div>
        <details class="guidelines">
            <summary>{t("annotate.guidelines")}</summary>
            <div class="md" inner_html=data.guidelines_html.clone()></div>
        </details>
        {move || match task.get() {
            None if waiting.get() => view! {
                <div class="panel" data-testid="loading-next"><p>{t("annotate.loading_next")}</p></div>
            }.into_any(),
            None => view! {
                <div class="panel done" data-testid="all-done">
                    <h2>{t("annotate.done_heading")}</h2>
                    <p>{t("annotate.done_text")}</p>
                    <a href="/">{t("annotate.back_to_projects")}</a>
                </div>
            }.into_any(),
            Some(task) => {
                let all_flags = all_flags.clone();
                view! {
                    <form method="post" action=format!("/annotate/{}/submit", slug.get_value()) class="annotate" on:submit=on_submit>
                        <input type="hidden" name="task_id" value=task.task_id.to_string() />
                        <input type="hidden" name="client_key" value=move || client_key.get() />
                        {move || editing.get().map(|(_, ok)| view! {
                            <input type="hidden" name="edit" value="1" />
                            <p class="editing" data-testid="editing">
                                {if ok { t("annotate.editing") } else { t("annotate.editing_closed") }}
                            </p>
                        })}
                        <Thread task=task.clone() />
                        {match task.task_type {
                            TaskType::Pairwise => view! { <PairSides task=task.clone() choice show_diff linked /> }.into_any(),
                            TaskType::Ranking => view! {
                                <RankCards completions=task.completions.clone() ranking flags=data_flags.clone() cflags />
                            }.into_any(),
                            TaskType::Rating => view! {
                                <RateCards
                                    completions=task.completions.clone()
                                    aspects=task.aspects.clone().unwrap_or_default()
                                    scale=task.scale.clone().unwrap_or_default()
                                    ratings
                                    cursor
                                    flags=data_flags.clone()
                                    cflags
                                />
                            }.into_any(),
                        }}
                        <div class="extras">
                            <label class="check">
                                <input type="checkbox" name="both_bad" value="true"
                                    prop:checked=move || both_bad.get()
                                    on:change=move |ev| both_bad.set(event_target_checked(&ev)) />
                                <kbd>"b"</kbd> " " {if task.task_type == TaskType::Pairwise { t("annotate.both_bad") } else { t("annotate.all_bad") }}
                            </label>
                            {all_flags.into_iter().map(|f| {
                                let name = f.clone();
                                let name2 = f.clone();
                                view! {
                                    <label class="check">
                                        <input type="checkbox" name="flags" value=f.clone()
                                            prop:checked=move || flags.read().contains(&name)
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                flags.update(|fs| {
                                                    fs.retain(|x| x != &name2);
                                                    if on { fs.push(name2.clone()); }
                                                });
                                            } />
                                        " " {f}
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                        <label class="rationale">
                            {t("annotate.rationale")}
                            <textarea name="rationale" rows="2" prop:value=move || rationale.get()
                                on:input=move |ev| rationale.set(event_target_value(&ev))></textarea>
                        </label>
                        <div class="actions">
                            <button type="submit" name="action" value="submit" class="primary">{t("annotate.submit")} " " <kbd>"Enter"</kbd></button>
                            <button type="submit" name="action" value="skip" formnovalidate>{t("annotate.skip")} " " <kbd>"s"</kbd></button>
                            <StatusLine status />
                        </div>
                    </form>
                }.into_any()
            }
        }}
    }
}

/// A pairwise task: the two answers side by side and the 7-point scale.
#[component]
fn PairSides(
    task: TaskView,
    choice: RwSignal<Option<i8>>,
    show_diff: RwSignal<bool>,
    linked: RwSignal<bool>,
) -> impl IntoView {
    let html = |s: Option<arbiter_core::domain::views::Shown>| s.map(|s| s.html).unwrap_or_default();
    let (left, right) = (html(task.left), html(task.right));
    let (left_md, right_md) = (NodeRef::<leptos::html::Div>::new(), NodeRef::<leptos::html::Div>::new());
    let (left_side, right_side) = (NodeRef::<leptos::html::Article>::new(), NodeRef::<leptos::html::Article>::new());
    // Differences on: mark the words; off: the answers as rendered.
    let (left_html, right_html) = (StoredValue::new(left.clone()), StoredValue::new(right.clone()));
    Effect::new(move |was: Option<bool>| {
        let on = show_diff.get();
        #[cfg(feature = "hydrate")]
        if let (Some(l), Some(r)) = (left_md.get(), right_md.get()) {
            if on {
                diff::mark(&l, &r);
            } else if was == Some(true) {
                diff::unmark(&l, &left_html.get_value());
                diff::unmark(&r, &right_html.get_value());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (was, left_md, right_md, left_html, right_html);
        on
    });
    // Linked scrolling: the other answer follows to the same share of its length.
    let follow = move |from: NodeRef<leptos::html::Article>, to: NodeRef<leptos::html::Article>| {
        if !linked.get_untracked() {
            return;
        }
        #[cfg(feature = "hydrate")]
        if let (Some(a), Some(b)) = (from.get_untracked(), to.get_untracked()) {
            let room = |e: &web_sys::HtmlElement| (e.scroll_height() - e.client_height()).max(1) as f64;
            let share = f64::from(a.scroll_top()) / room(&a);
            let target = (share * room(&b)).round() as i32;
            if (b.scroll_top() - target).abs() > 2 {
                b.set_scroll_top(target);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (from, to);
    };
    view! {
                        <div class="reading">
                            <label class="check">
                                <input type="checkbox" prop:checked=move || show_diff.get()
                                    on:change=move |ev| show_diff.set(event_target_checked(&ev)) />
                                <kbd>"d"</kbd> " " {t("annotate.differences")}
                            </label>
                            <label class="check">
                                <input type="checkbox" prop:checked=move || linked.get()
                                    on:change=move |ev| linked.set(event_target_checked(&ev)) />
                                " " {t("annotate.scroll_together")}
                            </label>
                        </div>
                        <div class="sides">
                            <article class="side" data-side="left" node_ref=left_side on:scroll=move |_| follow(left_side, right_side)>
                                <h2>"A"</h2>
                                <div class="md" node_ref=left_md inner_html=left></div>
                            </article>
                            <article class="side" data-side="right" node_ref=right_side on:scroll=move |_| follow(right_side, left_side)>
                                <h2>"B"</h2>
                                <div class="md" node_ref=right_md inner_html=right></div>
                            </article>
                        </div>
                        <fieldset class="scale">
                            <legend>{t("annotate.question")}</legend>
                            {Choice::all().map(|c| {
                                let v = c.value();
                                view! {
                                    <label class="opt" class:picked=move || choice.get() == Some(v)>
                                        <input type="radio" name="choice" value=v.to_string() required
                                            prop:checked=move || choice.get() == Some(v)
                                            on:change=move |_| choice.set(Some(v)) />
                                        <kbd>{c.key().to_string()}</kbd>
                                        <span>{t(&format!("choice.{}", c.value()))}</span>
                                    </label>
                                }
                            }).collect_view()}
                        </fieldset>
    }
}

/// A ranking task: every answer numbered in the shown order. Keys type the
/// order (`3 1 4 2`, `=` ties, Backspace undoes); a card can be dragged
/// onto another's place; without JavaScript each card's rank selector
/// posts the order.
#[component]
fn RankCards(
    completions: Vec<ShownCompletion>,
    ranking: RwSignal<Ranking>,
    flags: Vec<String>,
    cflags: RwSignal<BTreeMap<usize, Vec<String>>>,
) -> impl IntoView {
    let k = completions.len();
    let dragged = StoredValue::new(None::<usize>);
    let order_line = move || {
        let r = ranking.get();
        let mut text: Vec<String> =
            r.groups().iter().map(|g| g.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(" = ")).collect();
        if r.ties_next() {
            if let Some(last) = text.last_mut() {
                last.push_str(" = …");
            }
        }
        if text.is_empty() {
            t("annotate.rank_prompt").to_owned()
        } else {
            text.join("  ›  ")
        }
    };
    view! {
        <p class="order-line" data-testid="order"><kbd>"1"</kbd>"–"<kbd>{k.to_string()}</kbd>" " {tf("annotate.rank_help", &[("eq", &"="), ("bs", &"⌫")])}<strong>{order_line}</strong></p>
        <div class="answers">
            {completions.into_iter().enumerate().map(|(i, c)| {
                let rank = move || ranking.with(|r| r.ranks(k)[i]);
                view! {
                    <article class="side card" data-testid="completion" data-id=c.id.clone() draggable="true"
                        class:ranked=move || rank().is_some()
                        on:dragstart=move |_| dragged.set_value(Some(i))
                        on:dragover=move |ev| ev.prevent_default()
                        on:drop=move |ev| {
                            ev.prevent_default();
                            if let Some(from) = dragged.get_value() {
                                ranking.update(|r| r.move_before(from, i, k));
                            }
                            dragged.set_value(None);
                        }>
                        <h2>
                            <kbd>{(i + 1).to_string()}</kbd>
                            <span class="rank-badge" data-testid="rank">{move || rank().map(|r| format!("#{r}")).unwrap_or_default()}</span>
                        </h2>
                        <div class="md" inner_html=c.html.clone()></div>
                        <label class="rank-select">{t("annotate.rank")} " "
                            <select name=format!("rank_{}", c.id) required
                                prop:value=move || rank().map(|r| r.to_string()).unwrap_or_default()
                                on:change=move |ev| {
                                    if let Ok(r) = event_target_value(&ev).parse::<i64>() {
                                        ranking.update(|x| x.set_rank(i, r, k));
                                    }
                                }>
                                <option value="">"–"</option>
                                {(1..=k).map(|r| view! { <option value=r.to_string()>{r.to_string()}</option> }).collect_view()}
                            </select>
                        </label>
                        <CardFlags id=c.id.clone() at=i flags=flags.clone() cflags />
                    </article>
                }
            }).collect_view()}
        </div>
    }
}

/// A rating task: each answer rated on each aspect. Tab and the arrows move
/// between answers (and aspects), a digit rates the one in focus and moves
/// on; without JavaScript the radio buttons post the ratings.
#[component]
fn RateCards(
    completions: Vec<ShownCompletion>,
    aspects: Vec<String>,
    scale: Scale,
    ratings: RwSignal<BTreeMap<(usize, usize), i64>>,
    cursor: RwSignal<usize>,
    flags: Vec<String>,
    cflags: RwSignal<BTreeMap<usize, Vec<String>>>,
) -> impl IntoView {
    let n = aspects.len().max(1);
    let key = |v: i64| if v == 10 { "0".to_owned() } else { v.to_string() };
    view! {
        <p class="order-line">{t("annotate.rate_help")}</p>
        <div class="answers">
            {completions.into_iter().enumerate().map(|(i, c)| {
                let aspects = aspects.clone();
                let scale = scale.clone();
                view! {
                    <article class="side card" data-testid="completion" data-id=c.id.clone()
                        class:focused=move || cursor.get() / n == i>
                        <h2><kbd>{(i + 1).to_string()}</kbd></h2>
                        <div class="md" inner_html=c.html.clone()></div>
                        {aspects.into_iter().enumerate().map(|(a, aspect)| {
                            let scale = scale.clone();
                            view! {
                                <fieldset class="scale rate" class:focused=move || cursor.get() == i * n + a>
                                    <legend>{aspect}</legend>
                                    {(scale.min..=scale.max).map(|v| {
                                        let picked = move || ratings.with(|r| r.get(&(i, a)) == Some(&v));
                                        view! {
                                            <label class="opt" class:picked=picked>
                                                <input type="radio" name=format!("rate_{}_{}", c.id, a) value=v.to_string() required
                                                    prop:checked=picked
                                                    on:change=move |_| {
                                                        ratings.update(|r| { r.insert((i, a), v); });
                                                        cursor.set(i * n + a);
                                                    } />
                                                <kbd>{key(v)}</kbd>
                                                <span>{scale.label(v).map(str::to_owned).unwrap_or_else(|| v.to_string())}</span>
                                            </label>
                                        }
                                    }).collect_view()}
                                </fieldset>
                            }
                        }).collect_view()}
                        <CardFlags id=c.id.clone() at=i flags=flags.clone() cflags />
                    </article>
                }
            }).collect_view()}
        </div>
    }
}

/// The project's flags for one answer of a ranking or rating task (posted
/// as `cflag_<id>` by the plain form).
#[component]
fn CardFlags(
    id: String,
    at: usize,
    flags: Vec<String>,
    cflags: RwSignal<BTreeMap<usize, Vec<String>>>,
) -> impl IntoView {
    view! {
        <div class="card-flags">
            {flags.into_iter().map(|f| {
                let (name, name2) = (f.clone(), f.clone());
                view! {
                    <label class="check small">
                        <input type="checkbox" name=format!("cflag_{id}") value=f.clone()
                            prop:checked=move || cflags.with(|m| m.get(&at).is_some_and(|v| v.contains(&name)))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                cflags.update(|m| {
                                    let v = m.entry(at).or_default();
                                    v.retain(|x| x != &name2);
                                    if on { v.push(name2.clone()); }
                                });
                            } />
                        " " {f}
                    </label>
                }
            }).collect_view()}
        </div>
    }
}

#[component]
fn Thread(task: TaskView) -> impl IntoView {
    let turns = task.thread.len();
    view! {
        <section class="thread" aria-label="Prompt">
            {task.thread.into_iter().enumerate().map(|(i, turn)| {
                let role = match turn.role { Role::System => "system", Role::User => "user", Role::Assistant => "assistant" };
                let last = i + 1 == turns;
                view! {
                    <div class=format!("turn {role}") class:current=last>
                        <span class="role">{role}</span>
                        <div class="md" inner_html=turn.html></div>
                    </div>
                }
            }).collect_view()}
        </section>
    }
}

#[component]
fn ProgressLine(progress: RwSignal<MyProgress>) -> impl IntoView {
    view! {
        <p class="progress" data-testid="progress">
            {move || { let p = progress.get(); tf("progress.line", &[("done", &p.done), ("left", &p.remaining)]) }}
        </p>
    }
}

#[component]
fn StatusLine(status: RwSignal<Status>) -> impl IntoView {
    view! {
        <span class="status" role="status" aria-live="polite" data-testid="save-status">
            {move || match status.get() {
                Status::Idle => String::new(),
                Status::Saving => t("status.saving").into(),
                Status::Saved => t("status.saved").into(),
                Status::Retrying(n) => tf("status.retrying", &[("n", &n)]),
                Status::Failed(m) => m,
            }}
        </span>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::is_transient;
    use arbiter_core::Error;
    use leptos::server_fn::error::{FromServerFnError, ServerFnError};

    /// What the page gets back when a server function fails with `e`.
    fn answer(e: Error) -> ServerFnError {
        ServerFnError::de(crate::api::ctx::fail(e).ser())
    }

    #[test]
    fn a_503_or_a_proxys_page_is_sent_again_and_a_refusal_is_not() {
        let unavailable = || Error::Unavailable("the database is unavailable for a moment; try again".into());
        // The body end2end/tests/retry.spec.ts answers with, as the server writes it.
        assert_eq!(
            &crate::api::ctx::fail(unavailable()).ser()[..],
            b"Response|the database is unavailable for a moment; try again"
        );
        let away = answer(unavailable());
        assert!(is_transient(&away), "{away:?}");
        assert_eq!(crate::components::message(&away), "the database is unavailable for a moment; try again");
        for no in [Error::bad("choice: missing"), Error::Conflict("taken".into()), Error::not_found("no such task")] {
            let no = answer(no);
            assert!(!is_transient(&no), "{no:?}");
        }
        // Something between the page and Arbiter answered instead (a proxy's 502).
        let proxy = ServerFnError::de("<html><body>502 Bad Gateway</body></html>".into());
        assert!(is_transient(&proxy), "{proxy:?}");
    }
}
