//! One scalar reward per completion, from every kind of judgement of a
//! prompt's completions (issue 9).
//!
//! - Pairwise votes and rankings → Bradley–Terry by maximum a posteriori:
//!   P(i beats j) = σ(θᵢ − θⱼ). A pairwise vote on the 7-point canonical
//!   scale c ∈ {−3…3} is a win of the favoured side with weight |c|/3 (a
//!   slight preference counts a third of a clear one); c = 0 is a tie of
//!   weight 1. A tie counts half a win each way. A ranking of K answers is
//!   its K·(K−1)/2 pairwise outcomes, each of weight 1 (equal ranks: ties).
//!   A Gaussian prior θ ~ N(0, 1/λ) with `PRIOR_PRECISION` λ keeps perfect
//!   separation (one answer always preferred) finite; it also centres the
//!   rewards (their sum is 0 at the optimum). Standard errors are those of
//!   the centred rewards, from the inverse of the negative Hessian there.
//! - Ratings → each annotator's ratings z-scored over all their ratings in
//!   the project (removing personal offset and spread), averaged per
//!   completion, centred to mean 0 within the prompt.
//!
//! Solved by Newton's method: K ≤ 16 completions per prompt, so the K×K
//! system is tiny and converges in a handful of steps.

/// The prior's precision λ (θ ~ N(0, 1/λ), i.e. a standard deviation of
/// about 3.2 on the log-odds scale): weak next to a few votes, enough to
/// keep an unbeaten answer's reward finite.
pub const PRIOR_PRECISION: f64 = 0.1;

/// One pairwise outcome between completions `i` and `j` (indices within the
/// prompt).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    /// `winner` preferred to `loser`, with a weight (strength).
    Win { winner: usize, loser: usize, weight: f64 },
    /// Judged equal.
    Tie { i: usize, j: usize, weight: f64 },
}

/// A pairwise vote on the canonical scale (positive favours `a`).
pub fn from_vote(a: usize, b: usize, choice: i64) -> Comparison {
    match choice {
        0 => Comparison::Tie { i: a, j: b, weight: 1.0 },
        c if c > 0 => Comparison::Win { winner: a, loser: b, weight: c.min(3) as f64 / 3.0 },
        c => Comparison::Win { winner: b, loser: a, weight: (-c).min(3) as f64 / 3.0 },
    }
}

/// A ranking (`ranks[i]` = rank of completion i; 1 = best; equal = tie) as
/// its K·(K−1)/2 pairwise outcomes.
pub fn from_ranking(ranks: &[u32]) -> Vec<Comparison> {
    let mut out = Vec::with_capacity(ranks.len() * ranks.len().saturating_sub(1) / 2);
    for i in 0..ranks.len() {
        for j in i + 1..ranks.len() {
            out.push(match ranks[i].cmp(&ranks[j]) {
                std::cmp::Ordering::Less => Comparison::Win { winner: i, loser: j, weight: 1.0 },
                std::cmp::Ordering::Greater => Comparison::Win { winner: j, loser: i, weight: 1.0 },
                std::cmp::Ordering::Equal => Comparison::Tie { i, j, weight: 1.0 },
            });
        }
    }
    out
}

/// A completion's reward and its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reward {
    pub reward: f64,
    pub stderr: f64,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// (i, j, weight of "i beats j") terms: a tie is half a win each way.
fn terms(comparisons: &[Comparison]) -> Vec<(usize, usize, f64)> {
    let mut t = Vec::with_capacity(comparisons.len() * 2);
    for c in comparisons {
        match *c {
            Comparison::Win { winner, loser, weight } => t.push((winner, loser, weight)),
            Comparison::Tie { i, j, weight } => {
                t.push((i, j, weight / 2.0));
                t.push((j, i, weight / 2.0));
            }
        }
    }
    t
}

/// A Bradley–Terry fit: centred rewards with standard errors, and the
/// covariances that say how certain an order is.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub rewards: Vec<Reward>,
    /// The inverse of the information at the fit.
    pub covariance: Vec<Vec<f64>>,
    /// The inverse of the information at θ = 0 (no preference): what the
    /// votes' number and spread alone say. At the fit, a unanimous pair's
    /// information vanishes as its strengths part (p(1−p) → 0), so a clear
    /// order would never count as settled by it.
    pub null_covariance: Vec<Vec<f64>>,
}

fn z(rewards: &[Reward], c: &[Vec<f64>], i: usize, j: usize) -> f64 {
    let var = (c[i][i] + c[j][j] - 2.0 * c[i][j]).max(1e-300);
    (rewards[i].reward - rewards[j].reward).abs() / var.sqrt()
}

impl Fit {
    /// How sure the fit is of the order of `i` and `j`: the difference of
    /// their strengths in standard errors of that difference (≥ 0).
    pub fn certainty(&self, i: usize, j: usize) -> f64 {
        z(&self.rewards, &self.covariance, i, j)
    }

    /// The same with the errors taken at no preference (for `settled`).
    pub fn evidence(&self, i: usize, j: usize) -> f64 {
        z(&self.rewards, &self.null_covariance, i, j)
    }
}

/// Bradley–Terry rewards of `k` completions from their comparisons.
/// Comparisons naming an index ≥ k are ignored.
pub fn bradley_terry(k: usize, comparisons: &[Comparison]) -> Vec<Reward> {
    fit(k, comparisons).rewards
}

/// Minus the Hessian of the log posterior at `theta` (positive definite).
fn information(k: usize, terms: &[(usize, usize, f64)], theta: &[f64], precision: f64) -> Vec<Vec<f64>> {
    let mut h = vec![vec![0.0; k]; k];
    for (r, row) in h.iter_mut().enumerate() {
        row[r] = precision;
    }
    for &(i, j, w) in terms {
        let p = sigmoid(theta[i] - theta[j]);
        let v = w * p * (1.0 - p);
        h[i][i] += v;
        h[j][j] += v;
        h[i][j] -= v;
        h[j][i] -= v;
    }
    h
}

fn valid_terms(k: usize, comparisons: &[Comparison]) -> Vec<(usize, usize, f64)> {
    terms(comparisons).into_iter().filter(|&(i, j, w)| i < k && j < k && i != j && w > 0.0).collect()
}

/// The strengths θ maximizing the log-likelihood of `comparisons` minus
/// `precision`/2·|θ|² (a Gaussian prior; a tiny one is a plain maximum
/// likelihood kept finite), by Newton's method. Their sum is 0.
pub fn strengths(k: usize, comparisons: &[Comparison], precision: f64) -> Vec<f64> {
    newton(k, &valid_terms(k, comparisons), precision)
}

fn newton(k: usize, terms: &[(usize, usize, f64)], precision: f64) -> Vec<f64> {
    let mut theta = vec![0.0; k];
    for _ in 0..100 {
        let mut grad: Vec<f64> = theta.iter().map(|t| -precision * t).collect();
        for &(i, j, w) in terms {
            let p = sigmoid(theta[i] - theta[j]);
            grad[i] += w * (1.0 - p);
            grad[j] -= w * (1.0 - p);
        }
        let step = solve(&information(k, terms, &theta, precision), &grad);
        // Converged when the step's change of the differences is tiny: with
        // a tiny prior a shift of all strengths alike costs almost nothing,
        // and rounding keeps moving it without changing any difference.
        let shift = step.iter().sum::<f64>() / k.max(1) as f64;
        let mut biggest: f64 = 0.0;
        for (t, s) in theta.iter_mut().zip(&step) {
            *t += s;
            biggest = biggest.max((s - shift).abs());
        }
        if biggest < 1e-13 {
            break;
        }
    }
    theta
}

/// The maximum a posteriori fit, by Newton's method.
pub fn fit(k: usize, comparisons: &[Comparison]) -> Fit {
    let terms = valid_terms(k, comparisons);
    let theta = newton(k, &terms, PRIOR_PRECISION);
    let inverse = |info: &[Vec<f64>]| -> Vec<Vec<f64>> {
        (0..k)
            .map(|i| {
                let mut e = vec![0.0; k];
                e[i] = 1.0;
                solve(info, &e) // symmetric: column i is row i
            })
            .collect()
    };
    let covariance = inverse(&information(k, &terms, &theta, PRIOR_PRECISION));
    let at_no_preference = inverse(&information(k, &terms, &vec![0.0; k], PRIOR_PRECISION));
    let mean = theta.iter().sum::<f64>() / k.max(1) as f64;
    // The rewards are centred, so their errors are those of θᵢ − mean(θ):
    // Cᵢᵢ − 2·meanⱼ Cᵢⱼ + mean Cⱼₗ. (Cᵢᵢ alone keeps the prior's uncertainty
    // about the common level, which no vote can reduce.)
    let kf = k.max(1) as f64;
    let row_means: Vec<f64> = covariance.iter().map(|row| row.iter().sum::<f64>() / kf).collect();
    let all_mean = row_means.iter().sum::<f64>() / kf;
    let rewards = (0..k)
        .map(|i| Reward {
            reward: theta[i] - mean,
            stderr: (covariance[i][i] - 2.0 * row_means[i] + all_mean).max(0.0).sqrt(),
        })
        .collect();
    Fit { rewards, covariance, null_covariance: at_no_preference }
}

/// A prompt's order is settled when every two neighbours in the fitted
/// order are this many standard errors apart (errors at no preference; one
/// standard error: one-sided 84%). Chosen with `rankbench`: at 1.645 a
/// prompt of four answers almost never settled within N = 3 votes a pair,
/// so nothing was saved by stopping; at 1.0 adaptive pairs end higher than
/// all pairs (ρ 0.90 against 0.88) with fewer judgements (16.3 against 18)
/// and reach all pairs' ρ with a third fewer (docs/benchmarks.md).
pub const SETTLED_AT: f64 = 1.0;

/// Whether the fitted order of all `k` completions is settled.
pub fn settled(fit: &Fit) -> bool {
    let mut order: Vec<usize> = (0..fit.rewards.len()).collect();
    order.sort_by(|&a, &b| fit.rewards[b].reward.total_cmp(&fit.rewards[a].reward));
    order.windows(2).all(|w| fit.evidence(w[0], w[1]) >= SETTLED_AT)
}

/// How much `next_pair` leans towards the pair least known: its score is
/// the certainty minus this times the variance of the pair's difference.
/// Among pairs about equally uncertain the one with fewer votes goes first
/// (chosen with `rankbench`: at K = 4 it moved the saving over `all` pairs
/// from 24–31% to 30–34% over four seeds of 4,000 prompts; docs/benchmarks.md).
pub const EXPLORE: f64 = 0.05;

/// Adaptive pair selection: the pair whose order is least certain under the
/// fit (leaning towards the least known, `EXPLORE`), among the pairs
/// `allowed` (e.g. not yet judged by this annotator); None when the order
/// is settled or no pair is allowed.
pub fn next_pair(fit: &Fit, allowed: impl Fn(usize, usize) -> bool) -> Option<(usize, usize)> {
    if settled(fit) {
        return None;
    }
    let k = fit.rewards.len();
    let c = &fit.covariance;
    let score = |i: usize, j: usize| fit.certainty(i, j) - EXPLORE * (c[i][i] + c[j][j] - 2.0 * c[i][j]);
    (0..k)
        .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
        .filter(|&(i, j)| allowed(i, j))
        .min_by(|&(a, b), &(x, y)| score(a, b).total_cmp(&score(x, y)))
}

/// Solves `a x = b` for a small symmetric positive definite `a` (Gaussian
/// elimination with partial pivoting).
// Elimination reads one row while writing another of the same matrix.
#[allow(clippy::needless_range_loop)]
pub(crate) fn solve(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = a.iter().zip(b).map(|(row, &v)| row.iter().copied().chain([v]).collect()).collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs())).unwrap_or(col);
        m.swap(col, pivot);
        let p = m[col][col];
        if p.abs() < 1e-300 {
            continue;
        }
        for row in col + 1..n {
            let f = m[row][col] / p;
            if f != 0.0 {
                for c in col..=n {
                    m[row][c] -= f * m[col][c];
                }
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| m[row][c] * x[c]).sum();
        x[row] = if m[row][row].abs() < 1e-300 { 0.0 } else { (m[row][n] - s) / m[row][row] };
    }
    x
}

/// One rating: by `annotator`, of completion `completion`, on one aspect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    pub annotator: i64,
    pub completion: usize,
    pub value: f64,
}

/// Each annotator's (mean, standard deviation) over all their ratings in
/// the project.
pub fn annotator_scales(all: &[Rating]) -> std::collections::HashMap<i64, (f64, f64)> {
    let mut sums: std::collections::HashMap<i64, (f64, f64, f64)> = std::collections::HashMap::new();
    for r in all {
        let e = sums.entry(r.annotator).or_default();
        e.0 += 1.0;
        e.1 += r.value;
        e.2 += r.value * r.value;
    }
    sums.into_iter()
        .map(|(a, (n, s, ss))| {
            let mean = s / n;
            let var = (ss / n - mean * mean).max(0.0);
            (a, (mean, var.sqrt()))
        })
        .collect()
}

/// Rewards of `k` completions from their ratings, z-scored with each
/// annotator's scale (an annotator who always gives the same value says
/// nothing about order: z = 0), averaged per completion and centred.
/// A completion without ratings gets 0 with an infinite standard error.
pub fn from_ratings(k: usize, ratings: &[Rating], scales: &std::collections::HashMap<i64, (f64, f64)>) -> Vec<Reward> {
    let mut z: Vec<Vec<f64>> = vec![Vec::new(); k];
    for r in ratings.iter().filter(|r| r.completion < k) {
        let (mean, sd) = scales.get(&r.annotator).copied().unwrap_or((r.value, 0.0));
        z[r.completion].push(if sd > 0.0 { (r.value - mean) / sd } else { 0.0 });
    }
    let means: Vec<Option<f64>> =
        z.iter().map(|v| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)).collect();
    let rated: Vec<f64> = means.iter().flatten().copied().collect();
    let centre = if rated.is_empty() { 0.0 } else { rated.iter().sum::<f64>() / rated.len() as f64 };
    z.iter()
        .zip(&means)
        .map(|(v, m)| match m {
            Some(m) => {
                let n = v.len() as f64;
                let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 1.0 };
                Reward { reward: m - centre, stderr: (var / n).sqrt() }
            }
            None => Reward { reward: 0.0, stderr: f64::INFINITY },
        })
        .collect()
}

/// Ranks (1 = best) of rewards; equal rewards share the better rank.
pub fn ranks(rewards: &[Reward]) -> Vec<u32> {
    rewards.iter().map(|r| 1 + rewards.iter().filter(|o| o.reward > r.reward + 1e-12).count() as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain reference, independent of the fit's gradient and Hessian:
    /// the log posterior written out, climbed by gradient ascent with
    /// numerical derivatives.
    fn reference(k: usize, comparisons: &[Comparison]) -> Vec<f64> {
        let log_posterior = |theta: &[f64]| -> f64 {
            let mut l = -PRIOR_PRECISION / 2.0 * theta.iter().map(|t| t * t).sum::<f64>();
            for c in comparisons {
                l += match *c {
                    Comparison::Win { winner, loser, weight } => weight * sigmoid(theta[winner] - theta[loser]).ln(),
                    Comparison::Tie { i, j, weight } => {
                        weight / 2.0 * (sigmoid(theta[i] - theta[j]).ln() + sigmoid(theta[j] - theta[i]).ln())
                    }
                };
            }
            l
        };
        let mut theta = vec![0.0; k];
        let h = 1e-6;
        for _ in 0..200_000 {
            let grad: Vec<f64> = (0..k)
                .map(|i| {
                    let (mut up, mut down) = (theta.clone(), theta.clone());
                    up[i] += h;
                    down[i] -= h;
                    (log_posterior(&up) - log_posterior(&down)) / (2.0 * h)
                })
                .collect();
            if grad.iter().all(|g| g.abs() < 1e-10) {
                break;
            }
            for (t, g) in theta.iter_mut().zip(&grad) {
                *t += 0.05 * g;
            }
        }
        theta
    }

    /// A small deterministic generator (no extra dependency for tests).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn newton_agrees_with_gradient_ascent_on_random_data() {
        let mut rng = Lcg(7);
        for round in 0..20 {
            let k = 2 + round % 8;
            let mut comparisons = Vec::new();
            for _ in 0..(3 + round * 2) {
                let i = (rng.next() * k as f64) as usize;
                let j = (i + 1 + (rng.next() * (k - 1) as f64) as usize) % k;
                let choice = (rng.next() * 7.0) as i64 - 3;
                comparisons.push(from_vote(i, j, choice));
            }
            let fast = bradley_terry(k, &comparisons);
            let slow = reference(k, &comparisons);
            for (f, s) in fast.iter().zip(&slow) {
                assert!((f.reward - s).abs() < 1e-6, "round {round}: {} vs {s}", f.reward);
            }
        }
    }

    #[test]
    fn rewards_are_centred_and_follow_the_votes() {
        let c = [from_vote(0, 1, 3), from_vote(1, 2, 2), from_vote(0, 2, 1)];
        let r = bradley_terry(3, &c);
        assert!(r.iter().map(|x| x.reward).sum::<f64>().abs() < 1e-9);
        assert!(r[0].reward > r[1].reward && r[1].reward > r[2].reward, "{r:?}");
        assert_eq!(ranks(&r), vec![1, 2, 3]);
    }

    #[test]
    fn perfect_separation_stays_finite() {
        let c: Vec<Comparison> = (0..50).map(|_| from_vote(0, 1, 3)).collect();
        let r = bradley_terry(2, &c);
        assert!(r[0].reward.is_finite() && r[0].reward > 1.0 && r[0].reward < 20.0, "{r:?}");
        assert!(r[0].stderr.is_finite() && r[0].stderr > 0.0);
    }

    #[test]
    fn ties_pull_together_and_no_votes_mean_zero() {
        let r = bradley_terry(2, &[from_vote(0, 1, 0), from_vote(0, 1, 0)]);
        assert!(r[0].reward.abs() < 1e-12 && r[1].reward.abs() < 1e-12);
        let r = bradley_terry(3, &[]);
        assert!(r.iter().all(|x| x.reward == 0.0));
        // No data: the prior's spread of a centred value, (1/λ)(1 − 1/k).
        assert!((r[0].stderr - (2.0 / 3.0 / PRIOR_PRECISION).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn standard_errors_shrink_as_votes_come_in() {
        let few = bradley_terry(2, &[from_vote(0, 1, 0); 4]);
        let many = bradley_terry(2, &[from_vote(0, 1, 0); 4000]);
        assert!(many[0].stderr < few[0].stderr / 10.0, "{} vs {}", many[0].stderr, few[0].stderr);
        // 4000 ties: Fisher information 4000·¼ on θ0 − θ1; each centred reward is half of it.
        assert!((many[0].stderr - 0.5 * (1.0f64 / 1000.0).sqrt()).abs() < 1e-3, "{}", many[0].stderr);
    }

    #[test]
    fn a_stronger_vote_weighs_more() {
        let slight = bradley_terry(2, &[from_vote(0, 1, 1)]);
        let clear = bradley_terry(2, &[from_vote(0, 1, 3)]);
        assert!(clear[0].reward > slight[0].reward && slight[0].reward > 0.0);
        assert_eq!(from_vote(3, 5, -2), Comparison::Win { winner: 5, loser: 3, weight: 2.0 / 3.0 });
    }

    #[test]
    fn a_ranking_is_all_its_pairs_with_ties_for_equal_ranks() {
        let c = from_ranking(&[2, 1, 2, 4]);
        assert_eq!(c.len(), 6);
        assert!(c.contains(&Comparison::Win { winner: 1, loser: 0, weight: 1.0 }));
        assert!(c.contains(&Comparison::Tie { i: 0, j: 2, weight: 1.0 }));
        assert!(c.contains(&Comparison::Win { winner: 2, loser: 3, weight: 1.0 }));
        let r = bradley_terry(4, &c);
        assert_eq!(ranks(&r), vec![2, 1, 2, 4]);
        assert!((r[0].reward - r[2].reward).abs() < 1e-9);
    }

    #[test]
    fn adaptive_asks_the_closest_pair_and_stops_when_the_order_is_settled() {
        // 0 clearly beats 1 and 2; 1 and 2 are close.
        let mut c: Vec<Comparison> = Vec::new();
        for _ in 0..6 {
            c.push(from_vote(0, 1, 3));
            c.push(from_vote(0, 2, 3));
        }
        c.push(from_vote(1, 2, 1));
        let f = fit(3, &c);
        assert!(!settled(&f));
        assert_eq!(next_pair(&f, |_, _| true), Some((1, 2)));
        let other = next_pair(&f, |i, j| (i, j) != (1, 2));
        assert!(matches!(other, Some((0, 1)) | Some((0, 2))), "an excluded pair is never offered: {other:?}");
        for _ in 0..30 {
            c.push(from_vote(1, 2, 3));
        }
        let f = fit(3, &c);
        assert!(settled(&f), "{:?}", f.rewards);
        assert_eq!(next_pair(&f, |_, _| true), None);
    }

    #[test]
    fn z_scores_remove_an_annotators_offset_and_spread() {
        // Annotator 1 rates harshly on a narrow range, annotator 2 generously
        // on a wide one; both order the completions the same way.
        let mut all = Vec::new();
        for (c, v) in [(0, 2.0), (1, 3.0), (2, 1.0)] {
            all.push(Rating { annotator: 1, completion: c, value: v });
        }
        for (c, v) in [(0, 5.0), (1, 7.0), (2, 3.0)] {
            all.push(Rating { annotator: 2, completion: c, value: v });
        }
        let scales = annotator_scales(&all);
        let (m1, s1) = scales[&1];
        assert!((m1 - 2.0).abs() < 1e-12 && (s1 - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let r = from_ratings(3, &all, &scales);
        // Both annotators' z-scores agree exactly: no spread within a completion.
        assert!(r.iter().all(|x| x.stderr.abs() < 1e-12), "{r:?}");
        assert!((r[1].reward - (1.0 / s1)).abs() < 1e-9, "{r:?}");
        assert!(r.iter().map(|x| x.reward).sum::<f64>().abs() < 1e-9);
        assert_eq!(ranks(&r), vec![2, 1, 3]);
    }

    #[test]
    fn a_constant_rater_says_nothing_and_unrated_completions_are_unknown() {
        let all = vec![
            Rating { annotator: 1, completion: 0, value: 4.0 },
            Rating { annotator: 1, completion: 1, value: 4.0 },
        ];
        let r = from_ratings(3, &all, &annotator_scales(&all));
        assert_eq!((r[0].reward, r[1].reward), (0.0, 0.0));
        assert!(r[2].stderr.is_infinite());
    }
}
