//! What several annotations of one pair add up to (the "normalized" label).
use super::choice::score;

/// Sufficient statistics of a pair's annotations, in canonical order. SQL can
/// sum these directly, so an export never needs one row per annotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairTally {
    /// Sum of canonical choices (each −3..=3).
    pub sum_choice: i64,
    pub votes: i64,
    pub both_bad: i64,
    pub for_a: i64,
    pub for_b: i64,
}

impl PairTally {
    pub fn add(&mut self, canonical: i8, both_bad: bool) {
        self.sum_choice += i64::from(canonical);
        self.votes += 1;
        self.both_bad += i64::from(both_bad);
        self.for_a += i64::from(canonical > 0);
        self.for_b += i64::from(canonical < 0);
    }

    /// Mean score in [−1, 1]; positive means A is preferred.
    pub fn mean_score(&self) -> f64 {
        if self.votes == 0 {
            return 0.0;
        }
        score(1) * self.sum_choice as f64 / self.votes as f64
    }

    /// Share of votes on the majority side (A, B or tie).
    pub fn agreement(&self) -> f64 {
        if self.votes == 0 {
            return 0.0;
        }
        let ties = self.votes - self.for_a - self.for_b;
        self.for_a.max(self.for_b).max(ties) as f64 / self.votes as f64
    }

    pub fn verdict(&self) -> Verdict {
        if self.votes == 0 {
            return Verdict::Unlabelled;
        }
        // A strict majority: two of four saying "both bad" is not a majority.
        if self.both_bad * 2 > self.votes {
            return Verdict::BothBad;
        }
        match self.sum_choice.signum() {
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

/// How many pairs an export wrote and why it left the others out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    pub written: u64,
    pub ties: u64,
    pub both_bad: u64,
    pub annotations: u64,
}

impl ExportSummary {
    pub fn count(&mut self, tally: &PairTally) {
        self.annotations += tally.votes as u64;
        match tally.verdict() {
            Verdict::Chosen { .. } => self.written += 1,
            Verdict::Tie => self.ties += 1,
            Verdict::BothBad => self.both_bad += 1,
            Verdict::Unlabelled => {}
        }
    }
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exported {} pairs from {} annotations; left out {} ties and {} pairs judged both bad by a majority",
            self.written, self.annotations, self.ties, self.both_bad
        )
    }
}

/// Round for output so 2/3 prints as 0.667, not 0.6666666666666666.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(votes: &[(i8, bool)]) -> PairTally {
        let mut t = PairTally::default();
        for &(c, bad) in votes {
            t.add(c, bad);
        }
        t
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

    #[test]
    fn summary_counts_every_pair_once() {
        let mut s = ExportSummary::default();
        s.count(&tally(&[(1, false)]));
        s.count(&tally(&[(0, false), (0, false)]));
        s.count(&tally(&[(1, true)]));
        s.count(&PairTally::default());
        assert_eq!(s, ExportSummary { written: 1, ties: 1, both_bad: 1, annotations: 4 });
        assert!(s.to_string().contains("1 ties"));
    }
}
