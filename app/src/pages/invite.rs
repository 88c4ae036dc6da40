use crate::api::invite_info;
use crate::components::{loaded, Flash};
use crate::i18n::{t, tf};
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
        <Title text=t("invite.title") />
        <main class="page narrow">
            <h1>"Arbiter"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>{t("common.loading")}</p> }>
                {move || Suspend::new(async move {
                    loaded(info.await, move |i| match i {
                        None => view! {
                            <p class="flash error" role="alert">{t("invite.bad_link")}</p>
                        }.into_any(),
                        Some(i) => {
                            let action = format!("/invite/{}", token());
                            let reset = i.reset_for.clone();
                            view! {
                                <p>{match &reset {
                                    Some(name) => tf("invite.reset", &[("name", &name)]),
                                    None => if i.projects.is_empty() {
                                        tf("invite.as", &[("role", &i.role)])
                                    } else {
                                        tf("invite.as_to", &[("role", &i.role), ("projects", &i.projects.join(", "))])
                                    },
                                }}</p>
                                <form method="post" action=action class="panel stack">
                                    {reset.is_none().then(|| view! {
                                        <label>{t("invite.username")} " " <input name="username" autocomplete="username" required /></label>
                                    })}
                                    <label>{t("invite.password")}
                                        <input name="password" type="password" minlength="12" autocomplete="new-password" required />
                                    </label>
                                    <button type="submit" class="primary">{if reset.is_some() { t("invite.set_password") } else { t("invite.create") }}</button>
                                </form>
                            }.into_any()
                        }
                    })
                })}
            </Suspense>
        </main>
    }
}
