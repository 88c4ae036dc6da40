#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A signal for browser tests (and curious humans) that the keys work now.
    if let Some(w) = web_sys::window() {
        let _ = js_sys::Reflect::set(&w, &"__arbiter_hydrated".into(), &true.into());
    }
}
