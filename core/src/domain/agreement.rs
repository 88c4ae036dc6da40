//! How much annotators agree: Krippendorff's α (nominal, ordinal, interval)
//! on the 7-point canonical choice, Fleiss' κ on three classes (A / tie /
//! B), and each annotator's agreement with the leave-one-out majority.
//! Units are pairs, coders are annotators; a pair with one vote says nothing
//! about agreement and is left out.
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The ratings of each unit, as slices. Sorted by unit first unless they are
/// already (storage reads them in pair order), so a million ratings cost no
/// map of a million small vectors.
fn units(ratings: &[Rating]) -> (Cow<'_, [Rating]>, fn(&Rating, &Rating) -> bool) {
    let sorted = if ratings.is_sorted_by_key(|r| r.unit) {
        Cow::Borrowed(ratings)
    } else {
        let mut v = ratings.to_vec();
        v.sort_by_key(|r| r.unit);
        Cow::Owned(v)
    };
    (sorted, |a, b| a.unit == b.unit)
}

/// Units with at least two ratings (the ones agreement can speak of).
pub fn units_with_two_or_more(ratings: &[Rating]) -> u64 {
    let (sorted, same) = units(ratings);
    sorted.chunk_by(same).filter(|u| u.len() >= 2).count() as u64
}

/// One judgement: which unit (pair), which coder (annotator), what value
/// (canonical choice, −3..=3; any small integer scale works).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    pub unit: i64,
    pub coder: i64,
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Nominal,
    Ordinal,
    Interval,
}

/// Krippendorff's α from the coincidence matrix (Krippendorff 2011,
/// "Computing Krippendorff's Alpha-Reliability"). `None` when there is
/// nothing to compare (fewer than two pairable values, or no variation).
pub fn krippendorff_alpha(ratings: &[Rating], metric: Metric) -> Option<f64> {
    let (sorted, same) = units(ratings);
    // Coincidences o[c][k], each unit's pairs weighted 1 / (m_u − 1).
    let mut o: BTreeMap<(i64, i64), f64> = BTreeMap::new();
    for values in sorted.chunk_by(same).filter(|v| v.len() >= 2) {
        let w = 1.0 / (values.len() as f64 - 1.0);
        for (i, c) in values.iter().enumerate() {
            for (j, k) in values.iter().enumerate() {
                if i != j {
                    *o.entry((c.value, k.value)).or_insert(0.0) += w;
                }
            }
        }
    }
    let mut n_c: BTreeMap<i64, f64> = BTreeMap::new();
    for (&(c, _), &v) in &o {
        *n_c.entry(c).or_insert(0.0) += v;
    }
    let n: f64 = n_c.values().sum();
    if n < 2.0 {
        return None;
    }
    let values: Vec<i64> = n_c.keys().copied().collect();
    let delta2 = |c: i64, k: i64| -> f64 {
        match metric {
            Metric::Nominal => f64::from(u8::from(c != k)),
            Metric::Interval => ((c - k) as f64).powi(2),
            Metric::Ordinal => {
                let (lo, hi) = if c <= k { (c, k) } else { (k, c) };
                let between: f64 = values.iter().filter(|&&g| g >= lo && g <= hi).map(|g| n_c[g]).sum();
                (between - (n_c[&c] + n_c[&k]) / 2.0).powi(2)
            }
        }
    };
    let observed: f64 = o.iter().map(|(&(c, k), &v)| v * delta2(c, k)).sum::<f64>() / n;
    let mut expected = 0.0;
    for &c in &values {
        for &k in &values {
            expected += n_c[&c] * n_c[&k] * delta2(c, k);
        }
    }
    expected /= n * (n - 1.0);
    if expected == 0.0 {
        return None;
    }
    Some(1.0 - observed / expected)
}

/// The three classes of a canonical choice.
pub fn class_of(value: i64) -> usize {
    match value.signum() {
        1 => 0, // A
        0 => 1, // tie
        _ => 2, // B
    }
}

/// Fleiss' κ over three classes, for units rated by different numbers of
/// coders: P_i = Σ_j n_ij (n_ij − 1) / (n_i (n_i − 1)) per unit with n_i ≥ 2,
/// P̄ their mean, p_j each class's share of all those ratings, P_e = Σ p_j².
pub fn fleiss_kappa(ratings: &[Rating]) -> Option<f64> {
    let (sorted, same) = units(ratings);
    let rated = sorted.chunk_by(same).filter(|u| u.len() >= 2).map(|u| {
        let mut counts = [0.0f64; 3];
        for r in u {
            counts[class_of(r.value)] += 1.0;
        }
        counts
    });
    let mut totals = [0.0; 3];
    let mut p_bar = 0.0;
    let mut n_units = 0usize;
    for counts in rated {
        n_units += 1;
        let n_i: f64 = counts.iter().sum();
        p_bar += counts.iter().map(|n| n * (n - 1.0)).sum::<f64>() / (n_i * (n_i - 1.0));
        for j in 0..3 {
            totals[j] += counts[j];
        }
    }
    if n_units == 0 {
        return None;
    }
    p_bar /= n_units as f64;
    let all: f64 = totals.iter().sum();
    let p_e: f64 = totals.iter().map(|t| (t / all).powi(2)).sum();
    if (1.0 - p_e).abs() < 1e-12 {
        return None;
    }
    Some((p_bar - p_e) / (1.0 - p_e))
}

/// An annotator's agreement with the others: of their votes on pairs where
/// the *other* votes have a strict majority class (A, tie or B), the share
/// that is in that class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoderAgreement {
    pub coder: i64,
    /// Votes compared (pairs where the others had a strict majority).
    pub n: u64,
    pub agreement: Option<f64>,
}

pub fn leave_one_out(ratings: &[Rating]) -> Vec<CoderAgreement> {
    let (sorted, same) = units(ratings);
    let mut per: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for r in ratings {
        per.entry(r.coder).or_default();
    }
    for votes in sorted.chunk_by(same).filter(|v| v.len() >= 2) {
        let mut counts = [0u64; 3];
        for v in votes {
            counts[class_of(v.value)] += 1;
        }
        for v in votes {
            let mut others = counts;
            others[class_of(v.value)] -= 1;
            let max = *others.iter().max().unwrap_or(&0);
            let winners: Vec<usize> = (0..3).filter(|&j| others[j] == max).collect();
            if max == 0 || winners.len() != 1 {
                continue;
            }
            let e = per.entry(v.coder).or_default();
            e.0 += 1;
            e.1 += u64::from(winners[0] == class_of(v.value));
        }
    }
    per.into_iter()
        .map(|(coder, (n, agreed))| CoderAgreement { coder, n, agreement: (n > 0).then(|| agreed as f64 / n as f64) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Krippendorff (2011), the example of 4 coders and 12 units with missing values.
    fn textbook() -> Vec<Rating> {
        let table: [[Option<i64>; 12]; 4] = [
            [Some(1), Some(2), Some(3), Some(3), Some(2), Some(1), Some(4), Some(1), Some(2), None, None, None],
            [Some(1), Some(2), Some(3), Some(3), Some(2), Some(2), Some(4), Some(1), Some(2), Some(5), None, Some(3)],
            [None, Some(3), Some(3), Some(3), Some(2), Some(3), Some(4), Some(2), Some(2), Some(5), Some(1), None],
            [Some(1), Some(2), Some(3), Some(3), Some(2), Some(4), Some(4), Some(1), Some(2), Some(5), Some(1), None],
        ];
        let mut out = Vec::new();
        for (coder, row) in table.iter().enumerate() {
            for (unit, v) in row.iter().enumerate() {
                if let Some(value) = v {
                    out.push(Rating { unit: unit as i64, coder: coder as i64, value: *value });
                }
            }
        }
        out
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 5e-4)
    }

    #[test]
    fn krippendorff_alpha_matches_the_textbook_example() {
        let r = textbook();
        assert!(close(krippendorff_alpha(&r, Metric::Nominal), 0.743), "{:?}", krippendorff_alpha(&r, Metric::Nominal));
        assert!(close(krippendorff_alpha(&r, Metric::Ordinal), 0.815), "{:?}", krippendorff_alpha(&r, Metric::Ordinal));
        assert!(
            close(krippendorff_alpha(&r, Metric::Interval), 0.849),
            "{:?}",
            krippendorff_alpha(&r, Metric::Interval)
        );
    }

    #[test]
    fn perfect_agreement_is_one_and_single_votes_say_nothing() {
        let r: Vec<Rating> =
            (0..5).flat_map(|u| (0..3).map(move |c| Rating { unit: u, coder: c, value: (u % 3) - 1 })).collect();
        assert!(close(krippendorff_alpha(&r, Metric::Interval), 1.0));
        assert!(close(fleiss_kappa(&r), 1.0));
        let single = [Rating { unit: 1, coder: 1, value: 2 }, Rating { unit: 2, coder: 1, value: -2 }];
        assert_eq!(krippendorff_alpha(&single, Metric::Ordinal), None);
        assert_eq!(fleiss_kappa(&single), None);
    }

    #[test]
    fn units_with_two_or_more_count_sorted_or_not() {
        let r = |unit, coder| Rating { unit, coder, value: 0 };
        assert_eq!(units_with_two_or_more(&[r(1, 1), r(1, 2), r(2, 1), r(3, 1), r(3, 2), r(3, 3)]), 2);
        assert_eq!(units_with_two_or_more(&[r(3, 1), r(1, 1), r(3, 2), r(2, 1), r(1, 2)]), 2);
        assert_eq!(units_with_two_or_more(&[]), 0);
    }

    #[test]
    fn fleiss_kappa_matches_a_hand_computation() {
        // Two units, three raters each: (A, A, B) and (tie, tie, tie).
        // P1 = (2·1 + 0 + 0) / 6 = 1/3, P2 = 6/6 = 1 → P̄ = 2/3.
        // p = (2/6, 3/6, 1/6) → Pe = (4 + 9 + 1) / 36 = 14/36.
        // κ = (2/3 − 14/36) / (1 − 14/36) = (10/36) / (22/36) = 5/11.
        let r = [
            Rating { unit: 1, coder: 1, value: 3 },
            Rating { unit: 1, coder: 2, value: 1 },
            Rating { unit: 1, coder: 3, value: -2 },
            Rating { unit: 2, coder: 1, value: 0 },
            Rating { unit: 2, coder: 2, value: 0 },
            Rating { unit: 2, coder: 3, value: 0 },
        ];
        assert!(close(fleiss_kappa(&r), 5.0 / 11.0), "{:?}", fleiss_kappa(&r));
    }

    #[test]
    fn leave_one_out_majority_counts_only_clear_majorities() {
        // Unit 1: A, A, B → coder 1 vs (A, B): no majority; coder 3 vs (A, A): disagrees.
        // Unit 2: A, A, A → everyone agrees with (A, A).
        let r = [
            Rating { unit: 1, coder: 1, value: 2 },
            Rating { unit: 1, coder: 2, value: 1 },
            Rating { unit: 1, coder: 3, value: -1 },
            Rating { unit: 2, coder: 1, value: 3 },
            Rating { unit: 2, coder: 2, value: 3 },
            Rating { unit: 2, coder: 3, value: 1 },
        ];
        let got = leave_one_out(&r);
        assert_eq!(got[0], CoderAgreement { coder: 1, n: 1, agreement: Some(1.0) });
        assert_eq!(got[2], CoderAgreement { coder: 3, n: 2, agreement: Some(0.5) });
    }
}
