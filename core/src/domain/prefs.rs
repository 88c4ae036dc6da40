//! A user's display preferences (issue 13): colour theme and text size.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follows the browser's `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn parse(s: &str) -> Option<Theme> {
        match s {
            "auto" => Some(Theme::Auto),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// An interface language Arbiter speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// `de`, `de-DE`, `DE_at`… → German; unknown → None.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().split(['-', '_']).next()? {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The first language of an `Accept-Language` header Arbiter speaks
    /// (by the header's weights), else English.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut offers: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut bits = part.split(';');
                let lang = Lang::parse(bits.next()?)?;
                let q =
                    bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        offers.sort_by(|a, b| b.0.total_cmp(&a.0));
        offers.first().map(|o| o.1).unwrap_or_default()
    }
}

/// Text size in percent of the default, in steps of 10.
pub const TEXT_SIZES: std::ops::RangeInclusive<i64> = 80..=160;
pub const TEXT_STEP: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    pub theme: Theme,
    pub text_size: i64,
    /// None: the browser's language.
    pub language: Option<Lang>,
}

impl Default for Prefs {
    fn default() -> Prefs {
        Prefs { theme: Theme::Auto, text_size: 100, language: None }
    }
}

impl Prefs {
    /// One step larger (`+1`) or smaller (`-1`), within `TEXT_SIZES`.
    pub fn step(self, by: i64) -> Prefs {
        let size = (self.text_size + by * TEXT_STEP).clamp(*TEXT_SIZES.start(), *TEXT_SIZES.end());
        Prefs { text_size: size - size % TEXT_STEP, ..self }
    }

    /// The `<html>` class that sets the text size.
    pub fn size_class(self) -> String {
        format!("text-{}", self.text_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_size_steps_stay_in_range() {
        let p = Prefs::default();
        assert_eq!(p.step(1).text_size, 110);
        assert_eq!(p.step(-1).step(-1).step(-1).text_size, 80);
        assert_eq!(Prefs { text_size: 160, ..p }.step(1).text_size, 160);
        assert_eq!(p.size_class(), "text-100");
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
        assert_eq!(Theme::parse("blue"), None);
    }

    #[test]
    fn accept_language_picks_the_first_language_arbiter_speaks() {
        assert_eq!(Lang::from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Lang::De);
        assert_eq!(Lang::from_accept_language("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.6"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.1, de"), Lang::De);
        assert_eq!(Lang::parse("DE_at"), Some(Lang::De));
    }
}
