use crate::api::invite_info;
use crate::components::{loaded, Flash};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Where an invite or reset link lands: choose a name (new accounts) and a password.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, invite_info);
    view! {
        <Title text="Join · Arbiter" />
        <main class="page narrow">
            <h1>"Arbiter"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    loaded(info.await, move |i| match i {
                        None => view! {
                            <p class="flash error" role="alert">"This link is used, expired or unknown. Ask an admin for a new one."</p>
                        }.into_any(),
                        Some(i) => {
                            let action = format!("/invite/{}", token());
                            let reset = i.reset_for.clone();
                            view! {
                                <p>{match &reset {
                                    Some(name) => format!("Set a new password for {name}."),
                                    None => format!("You are invited as {}{}.", i.role,
                                        if i.projects.is_empty() { String::new() } else { format!(" to {}", i.projects.join(", ")) }),
                                }}</p>
                                <form method="post" action=action class="panel stack">
                                    {reset.is_none().then(|| view! {
                                        <label>"Choose a username" <input name="username" autocomplete="username" required /></label>
                                    })}
                                    <label>"Password (12+ characters)"
                                        <input name="password" type="password" minlength="12" autocomplete="new-password" required />
                                    </label>
                                    <button type="submit" class="primary">{if reset.is_some() { "Set password" } else { "Create account" }}</button>
                                </form>
                            }.into_any()
                        }
                    })
                })}
            </Suspense>
        </main>
    }
}
