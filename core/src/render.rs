//! Markdown → sanitized HTML, done on the server so the browser only ever
//! inserts markup that has been through ammonia.
use pulldown_cmark::{html, Options, Parser};
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // Keep fenced-code languages (class="language-rust") for styling.
        b.add_tag_attributes("code", &["class"]);
        b.link_rel(Some("noopener noreferrer nofollow"));
        b
    })
}

pub fn markdown(src: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut out = String::with_capacity(src.len() + src.len() / 4);
    html::push_html(&mut out, Parser::new_ext(src, opts));
    sanitizer().clean(&out).to_string()
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn renders_lists_code_and_tables() {
        let html = markdown("- one\n- two\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<code class=\"language-rust\">"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn strips_scripts_and_event_handlers() {
        let html = markdown("hi <script>alert(1)</script> <img src=x onerror=\"alert(2)\"> [x](javascript:alert(3))");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
