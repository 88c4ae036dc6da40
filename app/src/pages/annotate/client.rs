//! What only the browser can do: clocks, timers, local storage, keys.
//! The server build gets inert stand-ins (these paths never run there).
use arbiter_core::domain::views::AnnotationInput;
use serde::{Deserialize, Serialize};

/// A submission (or skip, when `input` is None) not yet acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub task_id: String,
    pub client_key: String,
    pub input: Option<AnnotationInput>,
    /// A change of an earlier judgement (undo, history), not a first submission.
    #[serde(default)]
    pub edit: bool,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// 0–9: a point of the pairwise scale (1–7), a completion to rank next,
    /// or a rating.
    Digit(u8),
    /// Ties the next ranked completion with the one before.
    Equals,
    /// Undoes the last ranked completion.
    Undo,
    /// Tab / arrows: the next or previous completion (rating).
    Next,
    Prev,
    BothBad,
    /// Marks the words that differ between the two answers.
    Diff,
    Skip,
    Submit,
}

#[cfg(feature = "hydrate")]
mod imp {
    use super::{Draft, Key};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    fn outbox_key(slug: &str) -> String {
        format!("arbiter.outbox.{slug}")
    }

    /// Where a single unsent draft was kept before the outbox (older pages).
    fn old_draft_key(slug: &str) -> String {
        format!("arbiter.draft.{slug}")
    }

    pub fn now_ms() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
    }

    pub fn new_key() -> String {
        web_sys::window().and_then(|w| w.crypto().ok()).map(|c| c.random_uuid()).unwrap_or_default()
    }

    pub async fn sleep_ms(ms: u64) {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = tx.send(());
            },
            std::time::Duration::from_millis(ms),
        );
        let _ = rx.await;
    }

    /// Keeps the unsent judgements, oldest first; none left clears the key.
    pub fn save_outbox(slug: &str, drafts: &[Draft]) {
        let Some(s) = storage() else { return };
        if drafts.is_empty() {
            let _ = s.remove_item(&outbox_key(slug));
        } else if let Ok(json) = serde_json::to_string(drafts) {
            let _ = s.set_item(&outbox_key(slug), &json);
        }
    }

    pub fn load_outbox(slug: &str) -> Vec<Draft> {
        let Some(s) = storage() else { return Vec::new() };
        let mut drafts: Vec<Draft> = s
            .get_item(&outbox_key(slug))
            .ok()
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        if let Some(old) = s.get_item(&old_draft_key(slug)).ok().flatten() {
            if let Ok(d) = serde_json::from_str::<Draft>(&old) {
                drafts.insert(0, d);
            }
            let _ = s.remove_item(&old_draft_key(slug));
        }
        drafts
    }

    pub fn submitter_value(ev: &leptos::ev::SubmitEvent) -> Option<String> {
        ev.submitter().and_then(|el| el.get_attribute("value"))
    }

    /// Keys act unless the annotator is typing (a textarea or text field);
    /// there Ctrl/⌘+Enter still submits and Escape leaves the field.
    /// `tabs`: Tab and the arrows move between completions (rating tasks)
    /// instead of the browser's focus.
    pub fn on_keys(tabs: impl Fn() -> bool + 'static, handler: impl Fn(Key) + 'static) {
        let handle = window_event_listener(leptos::ev::keydown, move |e: web_sys::KeyboardEvent| {
            let typing = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()).map(|el| {
                let tag = el.tag_name();
                tag == "TEXTAREA" || (tag == "INPUT" && el.get_attribute("type").as_deref() == Some("text"))
            });
            let modified = e.ctrl_key() || e.meta_key();
            if typing == Some(true) {
                if e.key() == "Enter" && modified {
                    e.prevent_default();
                    handler(Key::Submit);
                } else if e.key() == "Escape" {
                    if let Some(el) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                        let _ = el.blur();
                    }
                }
                return;
            }
            if modified || e.alt_key() {
                return;
            }
            let focused = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()).map(|el| el.tag_name());
            // A selector keeps its own keys (digits pick, arrows move); Tab
            // leaves any control as the browser would.
            let on_select = focused.as_deref() == Some("SELECT");
            let on_control =
                focused.as_deref().is_some_and(|t| matches!(t, "SELECT" | "BUTTON" | "SUMMARY" | "A" | "INPUT"));
            if on_select && e.key() != "Enter" {
                return;
            }
            let key = match e.key().as_str() {
                k if k.len() == 1 && k.as_bytes()[0].is_ascii_digit() => Key::Digit(k.as_bytes()[0] - b'0'),
                "=" => Key::Equals,
                "Backspace" => Key::Undo,
                "Tab" if tabs() && !on_control && e.shift_key() => Key::Prev,
                "Tab" | "ArrowDown" | "ArrowRight" if tabs() && !on_control => Key::Next,
                "ArrowUp" | "ArrowLeft" if tabs() && !on_control => Key::Prev,
                "b" | "B" => Key::BothBad,
                "d" | "D" => Key::Diff,
                "s" | "S" => Key::Skip,
                "Enter" => Key::Submit,
                _ => return,
            };
            // Enter on a focused radio or button would also submit the form natively.
            e.prevent_default();
            handler(key);
        });
        on_cleanup(move || handle.remove());
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::{Draft, Key};

    pub fn now_ms() -> f64 {
        0.0
    }
    pub fn new_key() -> String {
        String::new()
    }
    pub async fn sleep_ms(_ms: u64) {}
    pub fn save_outbox(_slug: &str, _drafts: &[Draft]) {}
    pub fn load_outbox(_slug: &str) -> Vec<Draft> {
        Vec::new()
    }
    pub fn submitter_value(_ev: &leptos::ev::SubmitEvent) -> Option<String> {
        None
    }
    pub fn on_keys(_tabs: impl Fn() -> bool + 'static, _handler: impl Fn(Key) + 'static) {}
}

pub use imp::*;
