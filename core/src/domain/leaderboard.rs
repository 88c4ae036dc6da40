//! The model leaderboard (issue 10): online Elo and Bradley–Terry ratings
//! with bootstrap intervals, on FastChat's scale.
//!
//! - A battle is one judgement between two models: A wins, B wins or a tie
//!   (a pairwise vote's sign; a ranking or rating gives one battle per two
//!   of its completions).
//! - Elo (FastChat `compute_elo`): online in the order the judgements were
//!   stored, K = 4, base 10, scale 400, every model starting at 1000.
//! - Bradley–Terry (FastChat `compute_mle_elo`): the maximum-likelihood fit
//!   of P(A beats B) = 1 / (1 + 10^((R_B − R_A)/400)), a tie half a win each
//!   way, no prior (a ridge of 1e-8 on the log-odds keeps an unbeaten
//!   model finite and changes well-posed fits by far less than 1e-6),
//!   shifted so the mean rating over models is 1000.
//! - Bootstrap: `rounds` resamples of all battles with replacement, each
//!   refitted; the interval is the 2.5 % and 97.5 % quantiles. A resample of
//!   N battles from the tally is a multinomial draw over its cells (model
//!   pair × outcome), drawn cell by cell as binomials: the same law as
//!   drawing N battles one by one, at the cost of the tally's size. Round r
//!   uses its own generator seeded from (seed, r), so the result does not
//!   depend on how rounds are spread over threads.
use super::reward::{self, Comparison};

pub const ELO_K: f64 = 4.0;
pub const SCALE: f64 = 400.0;
pub const INIT: f64 = 1000.0;
/// The ridge on the log-odds strengths (see the module text).
const RIDGE: f64 = 1e-8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    A,
    B,
    Tie,
}

impl Outcome {
    /// From a canonical score: positive favours A, 0 is a tie.
    pub fn of(score: i64) -> Outcome {
        match score.signum() {
            1 => Outcome::A,
            -1 => Outcome::B,
            _ => Outcome::Tie,
        }
    }
    fn score(self) -> f64 {
        match self {
            Outcome::A => 1.0,
            Outcome::B => 0.0,
            Outcome::Tie => 0.5,
        }
    }
}

/// One battle between models `a` and `b` (indices into the model list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Battle {
    pub a: u32,
    pub b: u32,
    pub outcome: Outcome,
}

/// Online Elo of `n` models over `battles` in order (FastChat's parameters).
pub fn elo(n: usize, battles: impl IntoIterator<Item = Battle>) -> Vec<f64> {
    let mut r = vec![INIT; n];
    for Battle { a, b, outcome } in battles {
        let (a, b) = (a as usize, b as usize);
        if a == b || a >= n || b >= n {
            continue;
        }
        let ea = 1.0 / (1.0 + 10f64.powf((r[b] - r[a]) / SCALE));
        let sa = outcome.score();
        r[a] += ELO_K * (sa - ea);
        r[b] += ELO_K * ((1.0 - sa) - (1.0 - ea));
    }
    r
}

/// The battles of each two models: `wins[0]` of the lower index, `wins[1]`
/// of the higher, and ties; counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tally {
    pub n: usize,
    /// (i, j) with i < j, and [wins of i, wins of j, ties].
    pub cells: Vec<((u32, u32), [u64; 3])>,
}

impl Tally {
    pub fn of(n: usize, battles: impl IntoIterator<Item = Battle>) -> Tally {
        let mut map: std::collections::BTreeMap<(u32, u32), [u64; 3]> = std::collections::BTreeMap::new();
        for Battle { a, b, outcome } in battles {
            if a == b || a as usize >= n || b as usize >= n {
                continue;
            }
            let (key, flip) = if a < b { ((a, b), false) } else { ((b, a), true) };
            let c = map.entry(key).or_default();
            match (outcome, flip) {
                (Outcome::Tie, _) => c[2] += 1,
                (Outcome::A, false) | (Outcome::B, true) => c[0] += 1,
                _ => c[1] += 1,
            }
        }
        Tally { n, cells: map.into_iter().collect() }
    }

    pub fn battles(&self) -> u64 {
        self.cells.iter().map(|(_, c)| c.iter().sum::<u64>()).sum()
    }

    /// Per model: (wins, ties, losses).
    pub fn records(&self) -> Vec<(u64, u64, u64)> {
        let mut out = vec![(0, 0, 0); self.n];
        for &((i, j), [wi, wj, t]) in &self.cells {
            let (i, j) = (i as usize, j as usize);
            out[i].0 += wi;
            out[i].1 += t;
            out[i].2 += wj;
            out[j].0 += wj;
            out[j].1 += t;
            out[j].2 += wi;
        }
        out
    }

    /// Battle counts and win rates ((wins + ties/2) / battles of the row
    /// model against the column model; `None` where they never met).
    pub fn matrices(&self) -> (Vec<Vec<u64>>, Vec<Vec<Option<f64>>>) {
        let mut count = vec![vec![0u64; self.n]; self.n];
        let mut rate = vec![vec![None; self.n]; self.n];
        for &((i, j), [wi, wj, t]) in &self.cells {
            let (i, j) = (i as usize, j as usize);
            let total = wi + wj + t;
            count[i][j] = total;
            count[j][i] = total;
            if total > 0 {
                rate[i][j] = Some((wi as f64 + t as f64 / 2.0) / total as f64);
                rate[j][i] = Some((wj as f64 + t as f64 / 2.0) / total as f64);
            }
        }
        (count, rate)
    }
}

/// Bradley–Terry ratings (mean 1000) from tallied counts (any non-negative
/// weights: a bootstrap round passes its resampled counts).
pub fn bradley_terry(n: usize, cells: &[((u32, u32), [f64; 3])]) -> Vec<f64> {
    let comparisons: Vec<Comparison> = cells
        .iter()
        .flat_map(|&((i, j), [wi, wj, t])| {
            let (i, j) = (i as usize, j as usize);
            [
                Comparison::Win { winner: i, loser: j, weight: wi },
                Comparison::Win { winner: j, loser: i, weight: wj },
                Comparison::Tie { i, j, weight: t },
            ]
        })
        .collect();
    let theta = reward::strengths(n, &comparisons, RIDGE);
    // Only models with battles here count (a bootstrap resample may miss
    // one): the others are NaN, and the mean is over the rest.
    let mut played = vec![false; n];
    for &((i, j), w) in cells {
        if w.iter().sum::<f64>() > 0.0 {
            played[i as usize] = true;
            played[j as usize] = true;
        }
    }
    let per_unit = SCALE / std::f64::consts::LN_10;
    let count = played.iter().filter(|p| **p).count().max(1) as f64;
    let mean = theta.iter().zip(&played).filter(|(_, p)| **p).map(|(t, _)| t).sum::<f64>() / count;
    theta.iter().zip(&played).map(|(t, p)| if *p { per_unit * (t - mean) + INIT } else { f64::NAN }).collect()
}

fn as_weights(cells: &[((u32, u32), [u64; 3])]) -> Vec<((u32, u32), [f64; 3])> {
    cells.iter().map(|&(k, [a, b, t])| (k, [a as f64, b as f64, t as f64])).collect()
}

/// The ratings of a tally.
pub fn fit(tally: &Tally) -> Vec<f64> {
    bradley_terry(tally.n, &as_weights(&tally.cells))
}

/// The `q` quantile (0..=1) of sorted values, linear between neighbours
/// (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// 95 % bootstrap intervals per model: `rounds` multinomial resamples of
/// the tally, refitted; (2.5 %, 97.5 %) quantiles over the rounds whose
/// resample has the model. Uses up to `threads`.
#[cfg(feature = "server")]
pub fn bootstrap(tally: &Tally, rounds: usize, seed: u64, threads: usize) -> Vec<(f64, f64)> {
    use rand::SeedableRng;
    use rand_distr::{Binomial, Distribution};
    let total = tally.battles();
    let flat: Vec<((u32, u32), usize, u64)> =
        tally.cells.iter().flat_map(|&(k, c)| (0..3).map(move |o| (k, o, c[o]))).filter(|c| c.2 > 0).collect();
    let round = |r: usize| -> Vec<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (r as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (mut left, mut mass) = (total, total);
        let mut cells: Vec<((u32, u32), [f64; 3])> = Vec::with_capacity(tally.cells.len());
        for &(k, o, c) in &flat {
            let x = if left == 0 || c == 0 {
                0
            } else if c >= mass {
                left
            } else {
                Binomial::new(left, c as f64 / mass as f64).map(|d| d.sample(&mut rng)).unwrap_or(0)
            };
            left -= x;
            mass -= c;
            match cells.last_mut() {
                Some((key, w)) if *key == k => w[o] = x as f64,
                _ => {
                    let mut w = [0.0; 3];
                    w[o] = x as f64;
                    cells.push((k, w));
                }
            }
        }
        bradley_terry(tally.n, &cells)
    };
    let threads = threads.clamp(1, rounds.max(1));
    let fits: Vec<Vec<f64>> = std::thread::scope(|s| {
        let round = &round;
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t..rounds).step_by(threads).map(|r| (r, round(r))).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<(usize, Vec<f64>)> =
            handles.into_iter().flat_map(|h| h.join().expect("a bootstrap round panicked")).collect();
        all.sort_by_key(|(r, _)| *r);
        all.into_iter().map(|(_, f)| f).collect()
    });
    (0..tally.n)
        .map(|m| {
            // Rounds whose resample missed the model say nothing about it.
            let mut v: Vec<f64> = fits.iter().map(|f| f[m]).filter(|r| !r.is_nan()).collect();
            v.sort_by(f64::total_cmp);
            (quantile(&v, 0.025), quantile(&v, 0.975))
        })
        .collect()
}

/// A model name split at its last `@` into family and version
/// (`policy@v3` → (`policy`, `v3`)); `None` without one.
pub fn version_of(model: &str) -> Option<(&str, &str)> {
    let (family, version) = model.rsplit_once('@')?;
    (!family.is_empty() && !version.is_empty()).then_some((family, version))
}

/// Versions in a natural order: digit runs compare as numbers (`v2` < `v10`).
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let digit = ch.is_ascii_digit();
            match out.last_mut() {
                Some((d, run)) if *d == digit => run.push(ch),
                _ => out.push((digit, ch.to_string())),
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = if x.0 && y.0 {
            let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            x.1.cmp(&y.1)
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// One model's standing (the JSON shape of `GET …/leaderboard`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standing {
    pub model: String,
    /// Bradley–Terry, FastChat's scale, mean 1000 over the listed models.
    pub rating: f64,
    /// The bootstrap 95 % interval of `rating`.
    pub ci: [f64; 2],
    pub elo: f64,
    pub battles: u64,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
}

/// The versions of one model family (`policy@v1`, `policy@v2`, …) in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Family {
    pub family: String,
    /// (version, model, rating, ci) oldest first.
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    pub version: String,
    pub model: String,
    pub rating: f64,
    pub ci: [f64; 2],
}

/// A leaderboard: standings by rating, the battle and win-rate matrices in
/// the same order, and the version timelines.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Board {
    pub models: Vec<Standing>,
    pub rounds: usize,
    pub seed: u64,
    pub battles: u64,
    /// `battle_counts[i][j]`: battles of models i and j (order of `models`).
    pub battle_counts: Vec<Vec<u64>>,
    /// `win_rate[i][j]`: (wins + ties/2) / battles of model i against j.
    pub win_rate: Vec<Vec<Option<f64>>>,
    pub versions: Vec<Family>,
}

/// The leaderboard of `models` from `battles` (in stored order). Only
/// models that battled are listed (and averaged to 1000).
#[cfg(feature = "server")]
pub fn board(models: &[String], battles: &[Battle], rounds: usize, seed: u64, threads: usize) -> Board {
    // Compact indices over the models that battled.
    let mut seen = vec![u32::MAX; models.len()];
    let mut names: Vec<&str> = Vec::new();
    let mut compact = |m: u32| -> u32 {
        let slot = &mut seen[m as usize];
        if *slot == u32::MAX {
            *slot = names.len() as u32;
            names.push(&models[m as usize]);
        }
        *slot
    };
    let battles: Vec<Battle> = battles
        .iter()
        .filter(|b| b.a != b.b && (b.a as usize) < models.len() && (b.b as usize) < models.len())
        .map(|b| Battle { a: compact(b.a), b: compact(b.b), outcome: b.outcome })
        .collect();
    let n = names.len();
    let elo = elo(n, battles.iter().copied());
    let tally = Tally::of(n, battles.iter().copied());
    let rating = fit(&tally);
    let ci =
        if rounds > 0 { bootstrap(&tally, rounds, seed, threads) } else { rating.iter().map(|&r| (r, r)).collect() };
    let records = tally.records();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| rating[y].total_cmp(&rating[x]).then_with(|| names[x].cmp(names[y])));
    let (count, rate) = tally.matrices();
    let standings: Vec<Standing> = order
        .iter()
        .map(|&m| {
            let (wins, ties, losses) = records[m];
            Standing {
                model: names[m].to_owned(),
                rating: rating[m],
                ci: [ci[m].0, ci[m].1],
                elo: elo[m],
                battles: wins + ties + losses,
                wins,
                ties,
                losses,
            }
        })
        .collect();
    let mut families: std::collections::BTreeMap<&str, Vec<Version>> = std::collections::BTreeMap::new();
    for s in &standings {
        if let Some((family, version)) = version_of(&s.model) {
            families.entry(family).or_default().push(Version {
                version: version.to_owned(),
                model: s.model.clone(),
                rating: s.rating,
                ci: s.ci,
            });
        }
    }
    let versions = families
        .into_iter()
        .map(|(family, mut versions)| {
            versions.sort_by(|a, b| version_order(&a.version, &b.version));
            Family { family: family.to_owned(), versions }
        })
        .collect();
    Board {
        models: standings,
        rounds,
        seed,
        battles: tally.battles(),
        battle_counts: order.iter().map(|&i| order.iter().map(|&j| count[i][j]).collect()).collect(),
        win_rate: order.iter().map(|&i| order.iter().map(|&j| rate[i][j]).collect()).collect(),
        versions,
    }
}

/// Model pairs to serve first under active selection, most useful first:
/// how much one more battle between them would shrink the sum of the
/// ratings' variances (A-optimal design). With the Fisher information I
/// of the current fit (Σ battlesᵢⱼ · pᵢⱼ(1 − pᵢⱼ) over the model pairs, p
/// the fitted chance of winning) and C its inverse, a battle on (i, j)
/// adds w·d·dᵀ with d = eᵢ − eⱼ and w = p(1 − p), and lowers the trace of
/// C by w·‖C·d‖² / (1 + w·dᵀC·d) (Sherman–Morrison): large for two models
/// whose order is uncertain (w near ¼) and whose ratings are poorly known
/// (few battles between them or around them). Pairs with a model not on
/// the board yet (no battles) score infinity: first of all. (Scores in
/// log-odds².)
pub fn priorities(board: &Board, models: &[String]) -> Vec<((String, String), f64)> {
    // Models: the board's, then the others (no battles: rating 1000).
    let mut all: Vec<(&str, f64)> = board.models.iter().map(|s| (s.model.as_str(), s.rating)).collect();
    for m in models {
        if !all.iter().any(|(x, _)| x == m) {
            all.push((m.as_str(), INIT));
        }
    }
    let n = all.len();
    let theta: Vec<f64> = all.iter().map(|(_, r)| r * std::f64::consts::LN_10 / SCALE).collect();
    let p = |i: usize, j: usize| 1.0 / (1.0 + (theta[j] - theta[i]).exp());
    // A tiny ridge makes I invertible (the common level is free; a model
    // without battles has none): it leaves the differences' variances alone
    // for linked models and makes an unlinked one's huge.
    let mut info = vec![vec![0.0; n]; n];
    for (r, row) in info.iter_mut().enumerate() {
        row[r] = 1e-4;
    }
    let listed = board.models.len();
    for i in 0..listed {
        for j in i + 1..listed {
            let c = board.battle_counts[i][j] as f64;
            if c > 0.0 {
                let v = c * p(i, j) * (1.0 - p(i, j));
                info[i][i] += v;
                info[j][j] += v;
                info[i][j] -= v;
                info[j][i] -= v;
            }
        }
    }
    let cov: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut e = vec![0.0; n];
            e[i] = 1.0;
            super::reward::solve(&info, &e)
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if !models.iter().any(|m| m == all[i].0) || !models.iter().any(|m| m == all[j].0) {
                continue;
            }
            let score = if i >= listed || j >= listed {
                f64::INFINITY // a model without battles: first of all
            } else {
                let w = p(i, j) * (1.0 - p(i, j));
                let cd: Vec<f64> = (0..n).map(|k| cov[k][i] - cov[k][j]).collect();
                let dcd = cd[i] - cd[j];
                w * cd.iter().map(|x| x * x).sum::<f64>() / (1.0 + w * dcd)
            };
            let (a, b) = (all[i].0.to_owned(), all[j].0.to_owned());
            out.push((if a <= b { (a, b) } else { (b, a) }, score));
        }
    }
    out.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    out
}

/// The chances active selection gives model pairs: their `priorities`
/// squared, so votes lean harder to the most useful pairs than in plain
/// proportion (in the simulation of `leaderbench`, squares narrowed the
/// intervals a little more than the plain scores, and fourth powers no
/// more than squares).
pub fn serving_weights(scores: &[f64]) -> Vec<f64> {
    scores.iter().map(|s| s * s).collect()
}

/// The order to try model pairs in, drawn at random with chances
/// proportional to their scores (Efraimidis–Spirakis: the largest
/// u^(1/score) first, u uniform in (0, 1)): votes spread over the useful
/// pairs in proportion instead of all going to the first until the next
/// refit. Infinite scores come first; zero scores last. Indices into `scores`.
pub fn weighted_order(scores: &[f64], mut uniform: impl FnMut() -> f64) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let key = if w.is_infinite() {
                f64::INFINITY
            } else if w > 0.0 {
                uniform().max(f64::MIN_POSITIVE).ln() / w
            } else {
                f64::NEG_INFINITY
            };
            (key, i)
        })
        .collect();
    keyed.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    keyed.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn battle(a: u32, b: u32, outcome: Outcome) -> Battle {
        Battle { a, b, outcome }
    }

    /// Worked by hand: from 1000/1000 an A win moves A by K·(1 − 1/2) = 2.
    /// Then A (1002) vs B (998): E_A = 1/(1 + 10^(−4/400)) = 0.5057555…,
    /// a tie moves A by 4·(0.5 − 0.5057555) = −0.023022.
    #[test]
    fn elo_follows_fastchat_online_updates() {
        let r = elo(2, [battle(0, 1, Outcome::A)]);
        assert_eq!(r, vec![1002.0, 998.0]);
        let r = elo(2, [battle(0, 1, Outcome::A), battle(0, 1, Outcome::Tie)]);
        let ea = 1.0 / (1.0 + 10f64.powf(-4.0 / 400.0));
        assert!((ea - 0.505_755_5).abs() < 1e-6);
        assert!((r[0] - (1002.0 + 4.0 * (0.5 - ea))).abs() < 1e-12);
        assert!((r[0] + r[1] - 2000.0).abs() < 1e-9, "Elo is zero-sum");
        // Order matters: online, not a fit.
        let late = elo(2, [battle(0, 1, Outcome::Tie), battle(0, 1, Outcome::A)]);
        assert!((late[0] - r[0]).abs() > 1e-3);
    }

    /// Two models, A wins 3 of 4 against B: the MLE has P = 3/4, so
    /// R_A − R_B = 400·log10(3) = 190.848…, centred on 1000.
    #[test]
    fn bradley_terry_matches_the_closed_form_for_two_models() {
        let t = Tally::of(2, [0, 0, 0, 1].map(|w| battle(0, 1, if w == 0 { Outcome::A } else { Outcome::B })));
        let r = fit(&t);
        let gap = 400.0 * 3f64.log10();
        assert!((r[0] - (1000.0 + gap / 2.0)).abs() < 1e-6, "{r:?}");
        assert!((r[1] - (1000.0 - gap / 2.0)).abs() < 1e-6, "{r:?}");
        // A tie is half a win each way: 2 wins + 2 ties of 4 is P = 3/4 again.
        let t = Tally::of(2, [Outcome::A, Outcome::A, Outcome::Tie, Outcome::Tie].map(|o| battle(0, 1, o)));
        assert!((fit(&t)[0] - (1000.0 + gap / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn the_tally_counts_each_side_and_the_matrices_agree() {
        let t = Tally::of(3, [battle(0, 1, Outcome::A), battle(1, 0, Outcome::A), battle(2, 0, Outcome::Tie)]);
        assert_eq!(t.cells, vec![((0, 1), [1, 1, 0]), ((0, 2), [0, 0, 1])]);
        assert_eq!(t.records(), vec![(1, 1, 1), (1, 0, 1), (0, 1, 0)]);
        let (count, rate) = t.matrices();
        assert_eq!(count[0][1], 2);
        assert_eq!(rate[0][2], Some(0.5));
        assert_eq!(rate[1][2], None);
        assert_eq!(t.battles(), 3);
    }

    #[test]
    fn an_unbeaten_model_gets_a_finite_rating_on_top() {
        let t = Tally::of(3, [battle(0, 1, Outcome::A), battle(1, 2, Outcome::A), battle(2, 1, Outcome::A)]);
        let r = fit(&t);
        assert!(r.iter().all(|x| x.is_finite()), "{r:?}");
        assert!(r[0] > r[1] && r[0] > r[2]);
        assert!(((r.iter().sum::<f64>() / 3.0) - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn bootstrap_is_reproducible_and_independent_of_threads() {
        let battles: Vec<Battle> =
            (0..300u32).map(|i| battle(i % 3, (i + 1) % 3, if i % 5 < 3 { Outcome::A } else { Outcome::B })).collect();
        let t = Tally::of(3, battles);
        let one = bootstrap(&t, 40, 7, 1);
        assert_eq!(one, bootstrap(&t, 40, 7, 2));
        assert_ne!(one, bootstrap(&t, 40, 8, 2), "another seed, other intervals");
        let r = fit(&t);
        for (m, (lo, hi)) in one.iter().enumerate() {
            assert!(lo < hi && *lo <= r[m] + 1e-9 && r[m] <= *hi + 1e-9, "{m}: {lo} {} {hi}", r[m]);
        }
    }

    #[test]
    fn versions_split_at_the_last_at_and_sort_naturally() {
        assert_eq!(version_of("policy@v3"), Some(("policy", "v3")));
        assert_eq!(version_of("a@b@rc1"), Some(("a@b", "rc1")));
        assert_eq!(version_of("gpt-4"), None);
        assert_eq!(version_of("@v1"), None);
        let mut v = vec!["v10", "v2", "v1", "v2b"];
        v.sort_by(|a, b| version_order(a, b));
        assert_eq!(v, vec!["v1", "v2", "v2b", "v10"]);
    }

    #[test]
    fn a_board_lists_the_models_that_battled_by_rating() {
        let models: Vec<String> = ["a@v1", "a@v2", "idle", "b"].map(String::from).to_vec();
        let mut battles = Vec::new();
        for i in 0..60u32 {
            // a@v2 beats a@v1 2:1, b beats a@v2 2:1; "idle" never plays.
            battles.push(battle(1, 0, if i % 3 < 2 { Outcome::A } else { Outcome::B }));
            battles.push(battle(3, 1, if i % 3 < 2 { Outcome::A } else { Outcome::B }));
        }
        let b = board(&models, &battles, 20, 1, 2);
        let names: Vec<&str> = b.models.iter().map(|s| s.model.as_str()).collect();
        assert_eq!(names, vec!["b", "a@v2", "a@v1"]);
        assert!((b.models.iter().map(|s| s.rating).sum::<f64>() / 3.0 - 1000.0).abs() < 1e-6);
        assert_eq!(b.battles, 120);
        assert_eq!(b.models[1].battles, 120);
        assert_eq!((b.models[0].wins, b.models[0].losses), (40, 20));
        assert_eq!(b.battle_counts[0][1], 60);
        assert_eq!(b.battle_counts[0][2], 0);
        assert_eq!(b.win_rate[0][1], Some(40.0 / 60.0));
        assert_eq!(b.versions.len(), 1);
        let v: Vec<&str> = b.versions[0].versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(v, vec!["v1", "v2"]);
    }

    /// Battles drawn from known ratings (FastChat's model of them, ties
    /// left out): the fit recovers the true order, and the 95 % intervals
    /// cover the true rating about 95 % of the time.
    #[test]
    fn synthetic_battles_give_back_the_true_order_and_intervals_cover_the_truth() {
        use rand::{Rng, SeedableRng};
        let truth = [1150.0, 1100.0, 1040.0, 1000.0, 980.0, 930.0, 900.0, 900.0];
        let n = truth.len();
        let mean = truth.iter().sum::<f64>() / n as f64;
        let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
        let draw = |rng: &mut rand::rngs::StdRng, count: usize| -> Vec<Battle> {
            (0..count)
                .map(|_| {
                    let a = rng.gen_range(0..n as u32);
                    let b = (a + rng.gen_range(1..n as u32)) % n as u32;
                    let p = 1.0 / (1.0 + 10f64.powf((truth[b as usize] - truth[a as usize]) / SCALE));
                    Battle { a, b, outcome: if rng.gen::<f64>() < p { Outcome::A } else { Outcome::B } }
                })
                .collect()
        };
        let big = fit(&Tally::of(n, draw(&mut rng, 200_000)));
        for m in 0..n - 2 {
            assert!(big[m] > big[m + 1], "order at {m}: {big:?}");
        }
        for m in 0..n {
            assert!((big[m] - (truth[m] - mean + 1000.0)).abs() < 6.0, "{m}: {} vs {}", big[m], truth[m]);
        }
        let (mut covered, mut total) = (0, 0);
        for _ in 0..30 {
            let t = Tally::of(n, draw(&mut rng, 3000));
            for (m, (lo, hi)) in bootstrap(&t, 100, rng.gen(), 2).iter().enumerate() {
                let want = truth[m] - mean + 1000.0;
                covered += usize::from(*lo <= want && want <= *hi);
                total += 1;
            }
        }
        let rate = covered as f64 / total as f64;
        assert!((0.88..=0.99).contains(&rate), "coverage {rate} of {total}");
    }

    #[test]
    fn the_weighted_order_draws_in_proportion_to_the_scores() {
        let mut seed: u64 = 9;
        let mut uniform = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut first = [0usize; 4];
        for _ in 0..20_000 {
            let order = weighted_order(&[1.0, 3.0, 0.0, 6.0], &mut uniform);
            assert_eq!(order.len(), 4);
            assert_eq!(order[3], 2, "a zero score comes last");
            first[order[0]] += 1;
        }
        // Chances 1/10, 3/10, 0, 6/10.
        assert!((first[0] as f64 / 20_000.0 - 0.1).abs() < 0.015, "{first:?}");
        assert!((first[3] as f64 / 20_000.0 - 0.6).abs() < 0.015, "{first:?}");
        assert_eq!(weighted_order(&[1.0, f64::INFINITY], || 0.5)[0], 1, "an unrated pair first");
    }

    #[test]
    fn active_selection_puts_unrated_and_rarely_met_model_pairs_first() {
        let models: Vec<String> = ["a", "b", "c", "new"].map(String::from).to_vec();
        let mut battles = Vec::new();
        for i in 0..300u32 {
            // a beats c almost always; a and b are close; b and c met rarely.
            battles.push(battle(0, 2, if i % 20 == 0 { Outcome::B } else { Outcome::A }));
            battles.push(battle(0, 1, if i % 2 == 0 { Outcome::A } else { Outcome::B }));
            if i % 30 == 0 {
                battles.push(battle(1, 2, Outcome::A));
            }
        }
        let b = board(&models[..3], &battles, 50, 1, 1);
        let order: Vec<(String, String)> = priorities(&b, &models).into_iter().map(|(k, _)| k).collect();
        let pos = |x: &str, y: &str| order.iter().position(|k| k == &(x.to_string(), y.to_string())).unwrap();
        assert!(pos("a", "new") < 3 && pos("b", "new") < 3 && pos("c", "new") < 3, "unrated models first: {order:?}");
        assert!(pos("b", "c") < pos("a", "b") && pos("b", "c") < pos("a", "c"), "the rarely met pair first: {order:?}");
        // A chain a – b – c (even battles): a and c never met, their
        // difference is known only through b, so a vote between them
        // narrows the intervals most.
        let chain: Vec<Battle> = (0..400u32)
            .flat_map(|i| {
                [
                    battle(0, 1, if i % 2 == 0 { Outcome::A } else { Outcome::B }),
                    battle(1, 2, if i % 2 == 0 { Outcome::A } else { Outcome::B }),
                ]
            })
            .collect();
        let b = board(&models[..3], &chain, 20, 1, 1);
        let scores: std::collections::HashMap<(String, String), f64> =
            priorities(&b, &models[..3]).into_iter().collect();
        let s = |x: &str, y: &str| scores[&(x.to_string(), y.to_string())];
        assert!(s("a", "c") > s("a", "b"), "the unlinked pair of the chain gains most: {scores:?}");
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }
}
