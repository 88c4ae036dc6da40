//! What several annotations of one pair add up to (the "normalized" label).
use super::choice::score;

/// Sufficient statistics of a pair's annotations, in canonical order. SQL can
/// count these directly, so an export never needs one row per annotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairTally {
    /// Votes per canonical choice, index `choice + 3` (−3..=3).
    pub counts: [i64; 7],
    pub both_bad: i64,
    /// Votes that carry at least one flag.
    pub flagged: i64,
    /// An admin's final label (canonical: 1 A, −1 B, 0 a tie), which the
    /// verdict follows over the votes.
    pub adjudicated: Option<i8>,
}

impl PairTally {
    pub fn add(&mut self, canonical: i8, both_bad: bool, flagged: bool) {
        self.counts[(canonical + 3) as usize] += 1;
        self.both_bad += i64::from(both_bad);
        self.flagged += i64::from(flagged);
    }

    pub fn votes(&self) -> i64 {
        self.counts.iter().sum()
    }

    pub fn sum_choice(&self) -> i64 {
        self.counts.iter().zip(-3i64..).map(|(n, c)| n * c).sum()
    }

    pub fn for_a(&self) -> i64 {
        self.counts[4..].iter().sum()
    }

    pub fn for_b(&self) -> i64 {
        self.counts[..3].iter().sum()
    }

    pub fn ties(&self) -> i64 {
        self.counts[3]
    }

    /// Mean score in [−1, 1]; positive means A is preferred.
    pub fn mean_score(&self) -> f64 {
        let votes = self.votes();
        if votes == 0 {
            return 0.0;
        }
        score(1) * self.sum_choice() as f64 / votes as f64
    }

    /// The mean score seen from `winner`'s side (negative when the votes
    /// lean the other way, as they may on an adjudicated pair).
    pub fn toward(&self, winner: Winner) -> f64 {
        match winner {
            Winner::A => self.mean_score(),
            Winner::B => -self.mean_score(),
        }
    }

    /// Share of votes on the majority side (A, B or tie).
    pub fn agreement(&self) -> f64 {
        let votes = self.votes();
        if votes == 0 {
            return 0.0;
        }
        self.for_a().max(self.for_b()).max(self.ties()) as f64 / votes as f64
    }

    /// The strength (1 slightly, 2 better, 3 much better) most of the
    /// winner's votes gave; a tie between strengths goes to the weaker.
    pub fn majority_level(&self, winner: Winner) -> u8 {
        let at = |level: usize| match winner {
            Winner::A => self.counts[3 + level],
            Winner::B => self.counts[3 - level],
        };
        let mut best = (0i64, 0u8);
        for level in 1..=3usize {
            if at(level) > best.0 {
                best = (at(level), level as u8);
            }
        }
        best.1
    }

    pub fn verdict(&self) -> Verdict {
        if let Some(label) = self.adjudicated {
            let toward = |w: Winner| self.toward(w).max(0.0);
            return match label.signum() {
                1 => Verdict::Chosen { winner: Winner::A, margin: toward(Winner::A) },
                -1 => Verdict::Chosen { winner: Winner::B, margin: toward(Winner::B) },
                _ => Verdict::Tie,
            };
        }
        if self.votes() == 0 {
            return Verdict::Unlabelled;
        }
        // A strict majority: two of four saying "both bad" is not a majority.
        if self.both_bad * 2 > self.votes() {
            return Verdict::BothBad;
        }
        self.verdict_ignoring_both_bad()
    }

    /// What the votes say about A against B, whatever "both bad" says.
    pub fn verdict_ignoring_both_bad(&self) -> Verdict {
        if self.votes() == 0 {
            return Verdict::Unlabelled;
        }
        match self.sum_choice().signum() {
            1 => Verdict::Chosen { winner: Winner::A, margin: self.mean_score().abs() },
            -1 => Verdict::Chosen { winner: Winner::B, margin: self.mean_score().abs() },
            _ => Verdict::Tie,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    A,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Chosen { winner: Winner, margin: f64 },
    Tie,
    BothBad,
    Unlabelled,
}

/// A tally of (canonical choice, both bad) votes, for tests.
#[cfg(test)]
pub(crate) fn tally_of(votes: &[(i8, bool)]) -> PairTally {
    let mut t = PairTally::default();
    for &(c, bad) in votes {
        t.add(c, bad, false);
    }
    t
}

/// Round for output so 2/3 prints as 0.667, not 0.6666666666666666.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::tally_of as tally;

    #[test]
    fn an_adjudicated_label_overrides_the_votes() {
        let mut t = tally(&[(2, false), (-1, false), (-3, false)]);
        assert!(matches!(t.verdict(), Verdict::Chosen { winner: Winner::B, .. }));
        t.adjudicated = Some(1);
        match t.verdict() {
            Verdict::Chosen { winner: Winner::A, margin } => assert_eq!(margin, 0.0, "the votes leaned to B"),
            other => panic!("{other:?}"),
        }
        t.adjudicated = Some(0);
        assert_eq!(t.verdict(), Verdict::Tie);
        let mut bad = tally(&[(1, true), (1, true)]);
        bad.adjudicated = Some(-1);
        assert!(matches!(bad.verdict(), Verdict::Chosen { winner: Winner::B, .. }), "over both bad too");
    }

    #[test]
    fn single_vote_margins_follow_the_llama2_levels() {
        for (c, m) in [(3, 1.0), (2, 0.667), (1, 0.333)] {
            match tally(&[(c, false)]).verdict() {
                Verdict::Chosen { winner: Winner::A, margin } => assert_eq!(round3(margin), m),
                other => panic!("{c}: {other:?}"),
            }
            match tally(&[(-c, false)]).verdict() {
                Verdict::Chosen { winner: Winner::B, margin } => assert_eq!(round3(margin), m),
                other => panic!("{c}: {other:?}"),
            }
        }
    }

    #[test]
    fn mean_decides_the_winner_and_the_margin() {
        // +3, +1, −1 → mean 1/3 → A by 0.333
        let t = tally(&[(3, false), (1, false), (-1, false)]);
        assert_eq!(t.verdict(), Verdict::Chosen { winner: Winner::A, margin: t.mean_score() });
        assert_eq!(round3(t.mean_score()), 0.333);
        assert_eq!(round3(t.agreement()), 0.667);
    }

    #[test]
    fn opposite_votes_cancel_into_a_tie() {
        assert_eq!(tally(&[(2, false), (-2, false)]).verdict(), Verdict::Tie);
        assert_eq!(tally(&[(0, false)]).verdict(), Verdict::Tie);
    }

    #[test]
    fn both_bad_needs_a_strict_majority() {
        assert_eq!(tally(&[(1, true), (2, true), (1, false)]).verdict(), Verdict::BothBad);
        assert!(matches!(tally(&[(1, true), (1, false)]).verdict(), Verdict::Chosen { .. }));
    }
}
