//! Markdown → sanitized HTML, done on the server so the browser only ever
//! inserts markup that has been through ammonia.
//!
//! Imported text is someone else's: nothing in it may make the viewer's
//! browser send a request on its own. So no images at all (an image is a
//! GET with the viewer's cookie: `![x](/api/v1/projects/p/export)`); a
//! markdown image with an `https:` address becomes a plain link to it, any
//! other becomes its alt text. Links keep only absolute `http(s):` and
//! `mailto:` addresses: relative and same-origin-looking URLs are dropped.
use pulldown_cmark::{html, CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // Keep fenced-code languages (class="language-rust") and the
        // highlighter's classes (`hl-…`) for styling.
        b.add_tag_attributes("code", &["class"]);
        b.add_tag_attributes("span", &["class"]);
        b.rm_tags(&["img"]);
        b.url_schemes(HashSet::from(["http", "https", "mailto"]));
        b.url_relative(ammonia::UrlRelative::Deny);
        b.link_rel(Some(LINK_REL));
        b
    })
}

/// Addresses a link may keep: absolute http(s) and mailto only.
fn allowed_link(dest: &str, link_type: LinkType) -> bool {
    // As written: a leading space would make the written href relative.
    let d = dest.to_ascii_lowercase();
    link_type == LinkType::Email || d.starts_with("http://") || d.starts_with("https://") || d.starts_with("mailto:")
}

const LINK_REL: &str = "noopener noreferrer nofollow";

/// Code blocks longer than this are shown plain: highlighting costs time on
/// the request's thread, and such blocks are rare.
const HIGHLIGHT_MAX_BYTES: usize = 64 * 1024;

fn syntaxes() -> &'static syntect::parsing::SyntaxSet {
    static SET: OnceLock<syntect::parsing::SyntaxSet> = OnceLock::new();
    SET.get_or_init(syntect::parsing::SyntaxSet::load_defaults_newlines)
}

/// A fenced code block in a language the highlighter knows, as HTML whose
/// spans carry `hl-` classes (the stylesheet colours them, light and dark);
/// None for anything else (the block is rendered plain).
fn highlight(lang: &str, code: &str) -> Option<String> {
    let lang = lang.split_whitespace().next()?;
    if code.len() > HIGHLIGHT_MAX_BYTES {
        return None;
    }
    let set = syntaxes();
    let syntax = set.find_syntax_by_token(lang)?;
    let mut gen = syntect::html::ClassedHTMLGenerator::new_with_class_style(
        syntax,
        set,
        syntect::html::ClassStyle::SpacedPrefixed { prefix: "hl-" },
    );
    for line in syntect::util::LinesWithEndings::from(code) {
        gen.parse_html_for_line_which_includes_newline(line).ok()?;
    }
    let mut class = String::new();
    let _ = pulldown_cmark_escape::escape_html(&mut class, lang);
    Some(format!("<pre><code class=\"language-{class}\">{}</code></pre>\n", gen.finalize()))
}

/// Replaces each fenced code block whose language is known by its
/// highlighted HTML.
fn highlighted<'a>(events: Vec<Event<'a>>) -> Vec<Event<'a>> {
    let mut out = Vec::with_capacity(events.len());
    let mut block: Option<(CowStr<'a>, String, Vec<Event<'a>>)> = None;
    for ev in events {
        match (block.as_mut(), ev) {
            (None, Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang)))) if !lang.is_empty() => {
                let start = Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang.clone())));
                block = Some((lang, String::new(), vec![start]));
            }
            (Some((_, code, raw)), Event::Text(t)) => {
                code.push_str(&t);
                raw.push(Event::Text(t));
            }
            (Some(_), Event::End(TagEnd::CodeBlock)) => {
                let Some((lang, code, mut raw)) = block.take() else { continue };
                match highlight(&lang, &code) {
                    Some(html) => out.push(Event::Html(html.into())),
                    None => {
                        raw.push(Event::End(TagEnd::CodeBlock));
                        out.extend(raw);
                    }
                }
            }
            (Some((_, _, raw)), other) => raw.push(other),
            (None, other) => out.push(other),
        }
    }
    if let Some((_, _, raw)) = block {
        out.extend(raw);
    }
    out
}

pub fn markdown(src: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    // For each open image: did it become a link?
    let mut images: Vec<bool> = Vec::new();
    let events: Vec<Event<'_>> = Parser::new_ext(src, opts)
        .filter_map(|ev| match ev {
            Event::Start(Tag::Image { dest_url, title, id, .. }) => {
                let link = dest_url.starts_with("https://");
                images.push(link);
                link.then_some(Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url, title, id }))
            }
            Event::End(TagEnd::Image) => images.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
            other => Some(other),
        })
        .collect();
    let mut out = String::with_capacity(src.len() + src.len() / 4);
    let raw_html = events.iter().any(|ev| matches!(ev, Event::Html(_) | Event::InlineHtml(_)));
    // The highlighter's output is escaped text in `<span class>`: trusted,
    // and it goes through the sanitizer with everything else when the text
    // has raw HTML of its own.
    let events = highlighted(events);
    if raw_html {
        // Raw HTML in the text: the sanitizer decides what of it may stay.
        html::push_html(&mut out, events.into_iter());
        return sanitizer().clean(&out).to_string();
    }
    // Markdown alone: pulldown-cmark escapes every text and attribute it
    // writes, so the only thing left to police is where links point (the
    // same rules as the sanitizer's), and no sanitizer pass is needed.
    let mut links: Vec<bool> = Vec::new();
    let events = events.into_iter().filter_map(|ev| match ev {
        Event::Start(Tag::Link { link_type, dest_url, .. }) => {
            let keep = allowed_link(&dest_url, link_type);
            links.push(keep);
            keep.then(|| {
                let mut a = String::from("<a href=\"");
                let href =
                    if link_type == LinkType::Email { format!("mailto:{dest_url}") } else { dest_url.to_string() };
                let _ = pulldown_cmark_escape::escape_href(&mut a, &href);
                a.push_str("\" rel=\"");
                a.push_str(LINK_REL);
                a.push_str("\">");
                Event::InlineHtml(a.into())
            })
        }
        Event::End(TagEnd::Link) => links.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
        other => Some(other),
    });
    html::push_html(&mut out, events);
    out
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
    fn known_languages_are_highlighted_and_stay_escaped() {
        let html = markdown("```rust\nfn main() { let s = \"<b>\"; }\n```\n");
        assert!(html.contains("<code class=\"language-rust\">"), "{html}");
        assert!(html.contains("class=\"hl-"), "spans with highlighter classes: {html}");
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"), "{html}");
        // With raw HTML elsewhere the sanitizer keeps the classes.
        let mixed = markdown("<em>x</em>\n\n```python\nprint(1)\n```\n");
        assert!(mixed.contains("class=\"hl-"), "{mixed}");
        // Unknown languages and plain blocks are left as they were.
        assert!(markdown("```nolang\nx\n```\n").contains("<code class=\"language-nolang\">x\n</code>"));
        assert!(markdown("    indented\n").contains("<pre><code>indented"));
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
    fn markdown_without_html_takes_the_fast_path_with_the_same_rules() {
        let html =
            markdown("**bold** [ok](https://x.example/a?b=\"c\") [bad](javascript:alert(1)) <https://y.example> `<b>`");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(
            html.contains("<a href=\"https://x.example/a?b=%22c%22\" rel=\"noopener noreferrer nofollow\">ok</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains(">bad<") || html.contains(" bad "), "the text stays: {html}");
        assert!(html.contains("href=\"https://y.example\""), "{html}");
        assert!(html.contains("<code>&lt;b&gt;</code>"), "{html}");
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
