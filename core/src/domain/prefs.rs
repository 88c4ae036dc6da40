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

/// Text size in percent of the default, in steps of 10.
pub const TEXT_SIZES: std::ops::RangeInclusive<i64> = 80..=160;
pub const TEXT_STEP: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    pub theme: Theme,
    pub text_size: i64,
}

impl Default for Prefs {
    fn default() -> Prefs {
        Prefs { theme: Theme::Auto, text_size: 100 }
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
}
