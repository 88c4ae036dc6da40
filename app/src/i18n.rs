//! Interface text in English and German (issue 13). Views never hold their
//! text: they ask the catalog by key (`t("annotate.submit")`). The catalogs
//! are `locales/en.txt` and `locales/de.txt`, `key = text` lines, compiled
//! in; a test fails when a key is in one and not the other, or when a view
//! asks for a key neither has. The language is the user's choice (kept per
//! user), else the browser's `Accept-Language`, else English; the server
//! writes it on `<html lang>` and the browser reads it from there.
use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use arbiter_core::domain::prefs::Lang;

const EN: &str = include_str!("../locales/en.txt");
const DE: &str = include_str!("../locales/de.txt");

fn parse(text: &'static str) -> HashMap<&'static str, &'static str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v))
        .collect()
}

fn catalog(lang: Lang) -> &'static HashMap<&'static str, &'static str> {
    static EN_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    static DE_MAP: OnceLock<HashMap<&str, &str>> = OnceLock::new();
    match lang {
        Lang::En => EN_MAP.get_or_init(|| parse(EN)),
        Lang::De => DE_MAP.get_or_init(|| parse(DE)),
    }
}

/// The text of `key` in `lang` (English when the key is missing there, the
/// key itself when it is missing everywhere: the tests catch both).
pub fn tr(lang: Lang, key: &str) -> &'static str {
    tr_opt(lang, key).unwrap_or("??")
}

/// The text of `key` in `lang` (or English), if the catalog has the key.
pub fn tr_opt(lang: Lang, key: &str) -> Option<&'static str> {
    catalog(lang).get(key).or_else(|| catalog(Lang::En).get(key)).copied()
}

/// `text` with `{name}` placeholders filled in.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut s = text.to_owned();
    for (name, value) in values {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// The language of this page (provided by `App`).
pub fn lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// The text of `key` in this page's language.
pub fn t(key: &str) -> &'static str {
    tr(lang(), key)
}

/// The same with `{name}` placeholders filled in.
pub fn tf(key: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut s = t(key).to_owned();
    for (name, value) in values {
        s = s.replace(&format!("{{{name}}}"), &value.to_string());
    }
    s
}

/// The page's language: on the server the user's choice or the request's
/// `Accept-Language`; in the browser what the server wrote on `<html lang>`.
pub fn current() -> Lang {
    #[cfg(feature = "ssr")]
    {
        let chosen = crate::api::ctx::user().and_then(|u| u.prefs.language);
        chosen.unwrap_or_else(|| {
            use_context::<http::request::Parts>()
                .and_then(|p| {
                    p.headers.get(http::header::ACCEPT_LANGUAGE)?.to_str().ok().map(Lang::from_accept_language)
                })
                .unwrap_or_default()
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        #[cfg(feature = "hydrate")]
        {
            web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
                .and_then(|e| e.get_attribute("lang"))
                .and_then(|l| Lang::parse(&l))
                .unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys_and_no_empty_text() {
        let (en, de) = (parse(EN), parse(DE));
        let missing_de: Vec<&&str> = en.keys().filter(|k| !de.contains_key(*k)).collect();
        let missing_en: Vec<&&str> = de.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_de.is_empty(), "missing in de.txt: {missing_de:?}");
        assert!(missing_en.is_empty(), "missing in en.txt: {missing_en:?}");
        for (lang, map) in [("en", &en), ("de", &de)] {
            let empty: Vec<&&str> = map.iter().filter(|(_, v)| v.trim().is_empty()).map(|(k, _)| k).collect();
            assert!(empty.is_empty(), "empty in {lang}: {empty:?}");
        }
    }

    /// Every `t("…")` / `tf("…"` in the views names a key of the catalog.
    #[test]
    fn every_key_a_view_asks_for_exists() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let en = parse(EN);
        let mut unknown = Vec::new();
        let mut asked = 0;
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap();
            for call in ["t(\"", "tf(\"", "tr(lang, \""] {
                for (at, _) in src.match_indices(call) {
                    let before = src[..at].chars().last().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' || before == '.' {
                        continue;
                    }
                    let rest = &src[at + call.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if key.contains('.') && !key.contains(' ') {
                        asked += 1;
                        if !en.contains_key(key) {
                            unknown.push(format!("{}: {key}", f.display()));
                        }
                    }
                }
            }
        }
        assert!(asked > 50, "the scan found the views' keys ({asked})");
        assert!(unknown.is_empty(), "keys the catalog does not have:\n{}", unknown.join("\n"));
    }

    /// Every message key the form handlers send back (`"ok", "key"`,
    /// `"error", "key"`, `?ok=key`, the activation pair) is in the catalog.
    #[test]
    fn every_message_key_the_server_sends_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/forms");
        let en = parse(EN);
        let (mut sent, mut unknown) = (0, Vec::new());
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let src = std::fs::read_to_string(e.path()).unwrap();
            for marker in ["\"ok\", \"", "\"error\", \"", "?ok=", "(\"ok\", if active { \"", "} else { \""] {
                for (at, _) in src.match_indices(marker) {
                    let rest = &src[at + marker.len()..];
                    let key: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    let closed = rest[key.len()..].starts_with(['"', ')', ' ']);
                    let line = src[..at].rsplit('\n').next().unwrap_or("");
                    if key.is_empty() || !closed || (marker.starts_with('}') && !line.contains("if active")) {
                        continue;
                    }
                    sent += 1;
                    if !en.contains_key(format!("flash.{key}").as_str()) {
                        unknown.push(key);
                    }
                }
            }
        }
        assert!(sent >= 15, "the scan found the handlers' keys ({sent})");
        assert!(unknown.is_empty(), "flash keys the catalog does not have: {unknown:?}");
    }

    #[test]
    fn lookups_fall_back_to_english() {
        assert_eq!(tr(Lang::De, "annotate.submit"), "Absenden");
        assert_eq!(tr(Lang::En, "annotate.submit"), "Submit");
    }
}
