//! The annotator page. Server-rendered as a plain form that works without
//! JavaScript (posts to `/annotate/{slug}/submit`); once hydrated, keys 1–7,
//! b, s and Enter drive it, submissions go through `submit_and_next` with a
//! client key, drafts survive in local storage until the server acknowledges
//! them, and failed sends are retried with the same key.
mod client;

use crate::api::{load_annotate, prefetch_task, skip_and_next, submit_and_next, AnnotateData, NextData};
use std::collections::VecDeque;
use crate::components::{loaded, message, Flash, Nav};
use arbiter_core::domain::import::Role;
use arbiter_core::domain::views::{AnnotationInput, MyProgress, TaskView};
use arbiter_core::domain::Choice;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnError;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AnnotatePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let data = Resource::new(slug, load_annotate);
    view! {
        <Title text="Annotate · Arbiter" />
        <Nav />
        <main class="page wide">
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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

/// A network failure (worth retrying with the same key), as opposed to the
/// server saying no.
fn is_transient(e: &ServerFnError) -> bool {
    matches!(e, ServerFnError::Request(_) | ServerFnError::Response(_))
}

#[component]
fn Annotator(data: AnnotateData) -> impl IntoView {
    let slug = StoredValue::new(data.slug.clone());
    let all_flags = data.flags.clone();
    let task = RwSignal::new(data.task.clone());
    let progress = RwSignal::new(data.progress);
    let client_key = RwSignal::new(data.client_key.clone());
    let choice = RwSignal::new(None::<i8>);
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
        both_bad.set(false);
        flags.set(Vec::new());
        rationale.set(String::new());
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
                            if let Ok(next) = load_annotate(slug.get_value()).await {
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
        let Some(t) = task.get_untracked() else { return };
        let input = match action {
            Action::Skip => None,
            Action::Submit => {
                let Some(c) = choice.get_untracked() else {
                    status.set(Status::Failed("Choose 1–7 first.".into()));
                    return;
                };
                Some(AnnotationInput {
                    choice: Choice::new(i64::from(c)).unwrap_or(Choice::TIE),
                    both_bad: both_bad.get_untracked(),
                    flags: flags.get_untracked(),
                    rationale: rationale.get_untracked(),
                    time_ms: Some((client::now_ms() - started.get_value()).max(0.0) as i64),
                })
            }
        };
        let draft = client::Draft { task_id: t.task_id.to_string(), client_key: client_key.get_untracked(), input };
        generation.update_value(|g| *g += 1);
        outbox.update_value(|q| q.push_back(draft));
        persist();
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

    let apply_key = move |key: client::Key| match key {
        client::Key::Choice(c) => choice.set(Some(c)),
        client::Key::BothBad => both_bad.update(|b| *b = !*b),
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
    client::on_keys(move |key| {
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
        </div>
        <details class="guidelines">
            <summary>"Guidelines"</summary>
            <div class="md" inner_html=data.guidelines_html.clone()></div>
        </details>
        {move || match task.get() {
            None if waiting.get() => view! {
                <div class="panel" data-testid="loading-next"><p>"Loading the next pair…"</p></div>
            }.into_any(),
            None => view! {
                <div class="panel done" data-testid="all-done">
                    <h2>"All done"</h2>
                    <p>"Nothing is left for you in this project right now. Thank you!"</p>
                    <a href="/">"Back to the projects"</a>
                </div>
            }.into_any(),
            Some(t) => {
                let all_flags = all_flags.clone();
                view! {
                    <form method="post" action=format!("/annotate/{}/submit", slug.get_value()) class="annotate" on:submit=on_submit>
                        <input type="hidden" name="task_id" value=t.task_id.to_string() />
                        <input type="hidden" name="client_key" value=move || client_key.get() />
                        <Thread task=t.clone() />
                        <div class="sides">
                            <article class="side" data-side="left">
                                <h2>"A"</h2>
                                <div class="md" inner_html=t.left.html.clone()></div>
                            </article>
                            <article class="side" data-side="right">
                                <h2>"B"</h2>
                                <div class="md" inner_html=t.right.html.clone()></div>
                            </article>
                        </div>
                        <fieldset class="scale">
                            <legend>"Which response is better?"</legend>
                            {Choice::all().map(|c| {
                                let v = c.value();
                                view! {
                                    <label class="opt" class:picked=move || choice.get() == Some(v)>
                                        <input type="radio" name="choice" value=v.to_string() required
                                            prop:checked=move || choice.get() == Some(v)
                                            on:change=move |_| choice.set(Some(v)) />
                                        <kbd>{c.key().to_string()}</kbd>
                                        <span>{c.label()}</span>
                                    </label>
                                }
                            }).collect_view()}
                        </fieldset>
                        <div class="extras">
                            <label class="check">
                                <input type="checkbox" name="both_bad" value="true"
                                    prop:checked=move || both_bad.get()
                                    on:change=move |ev| both_bad.set(event_target_checked(&ev)) />
                                <kbd>"b"</kbd> " Both are bad"
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
                            "Rationale (optional)"
                            <textarea name="rationale" rows="2" prop:value=move || rationale.get()
                                on:input=move |ev| rationale.set(event_target_value(&ev))></textarea>
                        </label>
                        <div class="actions">
                            <button type="submit" name="action" value="submit" class="primary">"Submit " <kbd>"Enter"</kbd></button>
                            <button type="submit" name="action" value="skip" formnovalidate>"Skip " <kbd>"s"</kbd></button>
                            <StatusLine status />
                        </div>
                    </form>
                }.into_any()
            }
        }}
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
            {move || { let p = progress.get(); format!("{} done · {} to go", p.done, p.remaining) }}
        </p>
    }
}

#[component]
fn StatusLine(status: RwSignal<Status>) -> impl IntoView {
    view! {
        <span class="status" role="status" aria-live="polite" data-testid="save-status">
            {move || match status.get() {
                Status::Idle => String::new(),
                Status::Saving => "Saving…".into(),
                Status::Saved => "Saved ✓".into(),
                Status::Retrying(n) => format!("Connection lost, retrying ({n})… your answer is kept"),
                Status::Failed(m) => m,
            }}
        </span>
    }
}
