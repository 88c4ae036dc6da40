//! A judgement as the annotator gave it (relative to what was shown) and in
//! canonical A/B order (what exports and statistics use).
use serde::{Deserialize, Serialize};

/// The 7-point scale as shown: −3 = left much better … 0 = tie … +3 = right much better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "super::integral::Integral", into = "i64")]
pub struct Choice(i8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("choice must be an integer from -3 to 3, got {0}")]
pub struct ChoiceOutOfRange(pub i64);

impl Choice {
    pub const TIE: Choice = Choice(0);

    pub fn new(value: i64) -> Result<Self, ChoiceOutOfRange> {
        if (-3..=3).contains(&value) {
            Ok(Choice(value as i8))
        } else {
            Err(ChoiceOutOfRange(value))
        }
    }

    /// Keys 1–7 on the annotator page: 1 = left much better, 4 = tie, 7 = right much better.
    pub fn from_key(key: u8) -> Option<Self> {
        (1..=7).contains(&key).then(|| Choice(key as i8 - 4))
    }

    pub fn key(self) -> u8 {
        (self.0 + 4) as u8
    }

    pub fn value(self) -> i8 {
        self.0
    }

    /// The same judgement in canonical order, where positive favours
    /// completion A. `swapped` = B was shown on the left.
    pub fn canonical(self, swapped: bool) -> i8 {
        if swapped {
            self.0
        } else {
            -self.0
        }
    }

    pub fn label(self) -> &'static str {
        match self.0 {
            -3 => "A much better",
            -2 => "A better",
            -1 => "A slightly better",
            0 => "Tie / can't tell",
            1 => "B slightly better",
            2 => "B better",
            _ => "B much better",
        }
    }

    pub fn all() -> impl Iterator<Item = Choice> {
        (-3..=3).map(Choice)
    }
}

impl TryFrom<i64> for Choice {
    type Error = ChoiceOutOfRange;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Choice::new(value)
    }
}

impl TryFrom<super::integral::Integral> for Choice {
    type Error = ChoiceOutOfRange;
    fn try_from(value: super::integral::Integral) -> Result<Self, Self::Error> {
        Choice::new(value.0)
    }
}

impl From<Choice> for i64 {
    fn from(c: Choice) -> i64 {
        c.0 as i64
    }
}

/// A side as shown to the annotator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// Canonical choice → score in [−1, 1]: ±3, ±2, ±1, 0 → ±1, ±2/3, ±1/3, 0.
pub fn score(canonical: i8) -> f64 {
    f64::from(canonical) / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_the_seven_points_in_order() {
        let values: Vec<i8> = (1..=7).map(|k| Choice::from_key(k).unwrap().value()).collect();
        assert_eq!(values, vec![-3, -2, -1, 0, 1, 2, 3]);
        assert_eq!(Choice::from_key(0), None);
        assert_eq!(Choice::from_key(8), None);
        assert_eq!(Choice::from_key(6).unwrap().key(), 6);
    }

    #[test]
    fn left_preference_favours_a_when_a_was_on_the_left() {
        let left_much_better = Choice::new(-3).unwrap();
        assert_eq!(left_much_better.canonical(false), 3);
        assert_eq!(left_much_better.canonical(true), -3);
    }

    #[test]
    fn right_preference_favours_a_when_a_was_on_the_right() {
        let right_slightly = Choice::new(1).unwrap();
        assert_eq!(right_slightly.canonical(true), 1);
        assert_eq!(right_slightly.canonical(false), -1);
        assert_eq!(Choice::TIE.canonical(true), 0);
        assert_eq!(Choice::TIE.canonical(false), 0);
    }

    #[test]
    fn out_of_range_choices_are_rejected() {
        assert_eq!(Choice::new(4), Err(ChoiceOutOfRange(4)));
        assert_eq!(Choice::new(-4), Err(ChoiceOutOfRange(-4)));
        assert!(serde_json::from_str::<Choice>("7").is_err());
        assert_eq!(serde_json::from_str::<Choice>("-2").unwrap().value(), -2);
        assert_eq!(serde_json::from_str::<Choice>("3.0").unwrap().value(), 3);
    }

    #[test]
    fn scores_are_thirds() {
        assert_eq!(score(3), 1.0);
        assert_eq!(score(-3), -1.0);
        assert!((score(2) - 2.0 / 3.0).abs() < 1e-12);
        assert!((score(-1) + 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(score(0), 0.0);
    }
}
