//! Markdown → sanitized HTML, done on the server so the browser only ever
//! inserts markup that has been through ammonia.
//!
//! Imported text is someone else's: nothing in it may make the viewer's
//! browser send a request on its own. So no images at all (an image is a
//! GET with the viewer's cookie: `![x](/api/v1/projects/p/export)`); a
//! markdown image with an `https:` address becomes a plain link to it, any
//! other becomes its alt text. Links keep only absolute `http(s):` and
//! `mailto:` addresses: relative and same-origin-looking URLs are dropped.
use pulldown_cmark::{html, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // Keep fenced-code languages (class="language-rust") for styling.
        b.add_tag_attributes("code", &["class"]);
        b.rm_tags(&["img"]);
        b.url_schemes(HashSet::from(["http", "https", "mailto"]));
        b.url_relative(ammonia::UrlRelative::Deny);
        b.link_rel(Some("noopener noreferrer nofollow"));
        b
    })
}

pub fn markdown(src: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    // For each open image: did it become a link?
    let mut images: Vec<bool> = Vec::new();
    let events = Parser::new_ext(src, opts).filter_map(|ev| match ev {
        Event::Start(Tag::Image { dest_url, title, id, .. }) => {
            let link = dest_url.starts_with("https://");
            images.push(link);
            link.then_some(Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url, title, id }))
        }
        Event::End(TagEnd::Image) => images.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
        other => Some(other),
    });
    let mut out = String::with_capacity(src.len() + src.len() / 4);
    html::push_html(&mut out, events);
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

    #[test]
    fn no_image_survives_so_the_viewer_sends_no_request() {
        for src in [
            "![x](/annotate/other-project)",
            "![x](/api/v1/projects/p/export)",
            "![x](x)",
            "![x](//evil.example/a.png)",
            "<img src=\"/api/v1/projects/p/export\">",
            "<img src=\"https://evil.example/a.png\">",
            "<p><img srcset=\"/x 1x\"></p>",
        ] {
            let html = markdown(src);
            assert!(!html.contains("<img"), "{src} → {html}");
            assert!(!html.contains("src="), "{src} → {html}");
        }
        // A markdown image with an https address is a link the viewer may follow.
        let html = markdown("![chart](https://example.org/c.png)");
        assert!(html.contains("<a href=\"https://example.org/c.png\""), "{html}");
        assert!(html.contains(">chart</a>"), "{html}");
        assert_eq!(markdown("![alt text](/x.png)").trim(), "<p>alt text</p>");
    }

    #[test]
    fn relative_and_scheme_relative_links_are_dropped() {
        for src in ["[a](/admin/users)", "[a](../x)", "[a](//evil.example)", "<a href=\"/logout\">a</a>"] {
            let html = markdown(src);
            assert!(!html.contains("href"), "{src} → {html}");
        }
        let html = markdown("[docs](https://example.org/docs) and <mailto:a@example.org>");
        assert!(html.contains("href=\"https://example.org/docs\""), "{html}");
        assert!(html.contains("href=\"mailto:a@example.org\""), "{html}");
    }
}
