//! Where a login may send the browser afterwards: only a path on this site.
use url::Url;

/// `next` if it is a same-origin relative path, else `/`. The value is
/// parsed as a URL relative to this site, never prefix-matched: browsers
/// drop tabs and newlines and read `\` as `/`, so `/\t/evil.example` or
/// `/\evil.example` would otherwise leave the site.
pub fn safe_next(next: &str) -> String {
    const BASE: &str = "http://arbiter.invalid/";
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c.is_control() || c == '\\' || c.is_whitespace());
    if !plain {
        return "/".into();
    }
    let Ok(base) = Url::parse(BASE) else { return "/".into() };
    match base.join(next) {
        // `/x/..//evil.example` normalizes to `//evil.example`: refused too.
        Ok(u) if u.origin() == base.origin() && !u.path().starts_with("//") => {
            let mut out = u.path().to_owned();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            out
        }
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn same_site_paths_pass() {
        assert_eq!(safe_next("/annotate/demo"), "/annotate/demo");
        assert_eq!(safe_next("/admin/users?reveal=x"), "/admin/users?reveal=x");
        assert_eq!(safe_next("/"), "/");
    }

    #[test]
    fn anything_that_could_leave_the_site_becomes_home() {
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
            " /x",
            "/\u{0}/x",
            "/x/..//evil.example",
            "/./..//evil.example",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        // Percent-escapes stay escaped: a path on this site, not another host.
        assert_eq!(safe_next("/%09/evil.example"), "/%09/evil.example");
    }
}
