//! How well each way of judging recovers the truth (issue 9): simulated
//! annotators with known true utilities per completion, noise, and a
//! personal scale bias; the Spearman correlation between the rewards
//! Arbiter would export and the true utilities as judgements grow, for
//! `all` pairs, `adaptive` pairs, `ranking` and `rating` (raw and z-scored).
//!
//!     cargo run --release -p bench --bin rankbench -- --svg docs/rankbench.svg
//!
//! No database: the same domain code (`arbiter_core::domain::reward`) the
//! export uses, on generated judgements.
use arbiter_core::domain::reward::{self, Comparison, Rating};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::fmt::Write;

#[derive(Parser)]
struct Args {
    /// Prompts per simulated project (the savings are read where both
    /// curves flatten: fewer prompts make them noisy).
    #[arg(long, default_value_t = 4000)]
    prompts: usize,
    /// Annotators in the project.
    #[arg(long, default_value_t = 12)]
    annotators: usize,
    /// Votes per pair for `all` (the project's N).
    #[arg(long, default_value_t = 3)]
    n: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Simulated projects (each its own annotators and prompts); curves are
    /// averaged over them: how much adaptive pairs save depends on who
    /// annotates.
    #[arg(long, default_value_t = 4)]
    worlds: u64,
    /// Write the curves as an SVG here.
    #[arg(long)]
    svg: Option<std::path::PathBuf>,
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An annotator: how noisy, and (for ratings) where and how wide on the scale.
struct Annotator {
    noise: f64,
    offset: f64,
    scale: f64,
}

impl Annotator {
    /// A pairwise vote on the 7-point canonical scale (positive favours i).
    fn vote(&self, rng: &mut StdRng, ui: f64, uj: f64) -> i64 {
        let d = ui - uj + self.noise * normal(rng);
        let level = match d.abs() {
            x if x < 0.25 => 0,
            x if x < 0.75 => 1,
            x if x < 1.5 => 2,
            _ => 3,
        };
        level * d.signum() as i64
    }

    /// Ranks (1 = best) of the completions as this annotator sees them.
    fn rank(&self, rng: &mut StdRng, u: &[f64]) -> Vec<u32> {
        let seen: Vec<f64> = u.iter().map(|x| x + self.noise * normal(rng)).collect();
        seen.iter().map(|s| 1 + seen.iter().filter(|o| *o > s).count() as u32).collect()
    }

    /// A rating on 1–7: the annotator's offset and spread applied to what
    /// they perceive.
    fn rate(&self, rng: &mut StdRng, u: f64) -> f64 {
        (4.0 + self.offset + self.scale * (u + self.noise * normal(rng))).round().clamp(1.0, 7.0)
    }
}

fn average_ranks(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|x| {
            let below = v.iter().filter(|o| *o < x).count() as f64;
            let equal = v.iter().filter(|o| *o == x).count() as f64;
            below + (equal + 1.0) / 2.0
        })
        .collect()
}

/// Spearman's ρ (Pearson on average ranks); 0 when either side is constant.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (average_ranks(a), average_ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

fn rewards_of(fit: &[reward::Reward]) -> Vec<f64> {
    fit.iter().map(|r| r.reward).collect()
}

struct World {
    truth: Vec<Vec<f64>>,
    people: Vec<Annotator>,
}

fn world(args: &Args, k: usize, rng: &mut StdRng) -> World {
    let truth = (0..args.prompts).map(|_| (0..k).map(|_| normal(rng)).collect()).collect();
    let people = (0..args.annotators)
        .map(|_| Annotator {
            noise: rng.gen_range(0.5..1.2),
            offset: rng.gen_range(-1.5..1.5),
            // Spread from a quarter to three times the scale, log-uniform.
            scale: (rng.gen_range((0.25f64).ln()..(3.0f64).ln())).exp(),
        })
        .collect();
    World { truth, people }
}

/// Mean Spearman over prompts after each number of judgements 1..=budget
/// (and the mean number of judgements actually used, for adaptive).
struct Curve {
    name: &'static str,
    points: Vec<(f64, f64)>,
}

/// Pairwise judgements, `all` pairs in turn (each pair N times, by
/// different annotators) or `adaptive`ly; returns (mean judgements used,
/// mean ρ) per budget.
fn pairwise(w: &World, k: usize, budget: usize, adaptive: bool, rng: &mut StdRng) -> Vec<(f64, f64)> {
    let pairs: Vec<(usize, usize)> = (0..k).flat_map(|i| (i + 1..k).map(move |j| (i, j))).collect();
    let mut rho = vec![0.0; budget];
    let mut used = vec![0.0; budget];
    for truth in &w.truth {
        let mut order = pairs.clone();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(0..=i));
        }
        let mut comparisons: Vec<Comparison> = Vec::new();
        let mut judged: HashSet<(usize, usize, usize)> = HashSet::new();
        let mut stopped = false;
        for step in 0..budget {
            if !stopped {
                let who = rng.gen_range(0..w.people.len());
                let pick = if adaptive {
                    let fit = reward::fit(k, &comparisons);
                    reward::next_pair(&fit, |i, j| !judged.contains(&(who, i, j)))
                } else {
                    Some(order[step % order.len()])
                };
                match pick {
                    Some((i, j)) => {
                        judged.insert((who, i, j));
                        let c = w.people[who].vote(rng, truth[i], truth[j]);
                        comparisons.push(reward::from_vote(i, j, c));
                    }
                    None => stopped = true,
                }
            }
            let fit = reward::bradley_terry(k, &comparisons);
            rho[step] += spearman(&rewards_of(&fit), truth);
            used[step] += comparisons.len() as f64;
        }
    }
    let p = w.truth.len() as f64;
    used.iter().zip(&rho).map(|(u, r)| (u / p, r / p)).collect()
}

/// Each judgement a whole ranking of the K completions by one annotator.
fn ranking(w: &World, k: usize, budget: usize, rng: &mut StdRng) -> Vec<(f64, f64)> {
    let mut rho = vec![0.0; budget];
    for truth in &w.truth {
        let mut comparisons = Vec::new();
        for r in rho.iter_mut() {
            let who = rng.gen_range(0..w.people.len());
            comparisons.extend(reward::from_ranking(&w.people[who].rank(rng, truth)));
            *r += spearman(&rewards_of(&reward::bradley_terry(k, &comparisons)), truth);
        }
    }
    let p = w.truth.len() as f64;
    rho.iter().enumerate().map(|(b, r)| ((b + 1) as f64, r / p)).collect()
}

/// (judgements, error) points of one method's curve.
type Points = Vec<(f64, f64)>;

/// One world's curves: all pairs, adaptive pairs, rankings, and ratings.
type Run = (Points, Points, Points, Ratings);

/// Each judgement one annotator rating all K completions; rewards from the
/// raw mean rating and from z-scored ratings (each annotator's scale taken
/// over all their ratings in the project at that point), on the same
/// judgements. Returns both curves and, per task count, the mean per-prompt
/// difference ρ(z) − ρ(raw) with its standard error (paired over prompts).
struct Ratings {
    raw: Vec<(f64, f64)>,
    z: Vec<(f64, f64)>,
    diff: Vec<(f64, f64)>,
    /// Per task count, (raw, z-scored): Pearson's r over every completion of
    /// every prompt between the exported reward (centred within its prompt)
    /// and the true utility centred within its prompt: whether rewards of
    /// different prompts are on one scale, as a reward model trained on
    /// them needs.
    pooled: Vec<(f64, f64)>,
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

fn rating(w: &World, k: usize, budget: usize, rng: &mut StdRng) -> Ratings {
    // Every prompt's judgements, made first, so annotators' scales can be
    // estimated over the project after b judgements per prompt.
    let all: Vec<Vec<Vec<Rating>>> = w
        .truth
        .iter()
        .map(|truth| {
            (0..budget)
                .map(|_| {
                    let who = rng.gen_range(0..w.people.len());
                    (0..k)
                        .map(|c| Rating {
                            annotator: who as i64,
                            completion: c,
                            value: w.people[who].rate(rng, truth[c]),
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let p = w.truth.len() as f64;
    let mut out = Ratings { raw: Vec::new(), z: Vec::new(), diff: Vec::new(), pooled: Vec::new() };
    let centred = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| x - m).collect::<Vec<f64>>()
    };
    let truth: Vec<f64> = w.truth.iter().flat_map(|t| centred(t)).collect();
    for b in 0..budget {
        let upto = |p: &Vec<Vec<Rating>>| p[..=b].iter().flatten().copied().collect::<Vec<Rating>>();
        let project: Vec<Rating> = all.iter().flat_map(upto).collect();
        let scales = reward::annotator_scales(&project);
        // Raw: every annotator taken as (0, 1), i.e. ratings as they are.
        let unit: std::collections::HashMap<i64, (f64, f64)> =
            project.iter().map(|r| (r.annotator, (0.0, 1.0))).collect();
        let (mut raw, mut z, mut d, mut dd) = (0.0, 0.0, 0.0, 0.0);
        let (mut pooled_raw, mut pooled_z) = (Vec::new(), Vec::new());
        for (prompt, truth) in all.iter().zip(&w.truth) {
            let (raw_rewards, z_rewards) = (
                rewards_of(&reward::from_ratings(k, &upto(prompt), &unit)),
                rewards_of(&reward::from_ratings(k, &upto(prompt), &scales)),
            );
            let r = spearman(&raw_rewards, truth);
            let s = spearman(&z_rewards, truth);
            pooled_raw.extend(raw_rewards);
            pooled_z.extend(z_rewards);
            raw += r;
            z += s;
            d += s - r;
            dd += (s - r) * (s - r);
        }
        let x = (b + 1) as f64;
        let mean = d / p;
        let se = ((dd / p - mean * mean).max(0.0) / (p - 1.0).max(1.0)).sqrt();
        out.raw.push((x, raw / p));
        out.z.push((x, z / p));
        out.diff.push((mean, se));
        out.pooled.push((pearson(&pooled_raw, &truth), pearson(&pooled_z, &truth)));
    }
    out
}

/// The judgements `curve` needs to reach ρ ≥ target (linear between points).
fn reaches(points: &[(f64, f64)], target: f64) -> Option<f64> {
    let mut prev = (0.0, 0.0);
    for &(x, y) in points {
        if y >= target {
            let t = if y > prev.1 { (target - prev.1) / (y - prev.1) } else { 1.0 };
            return Some(prev.0 + t * (x - prev.0));
        }
        prev = (x, y);
    }
    None
}

fn svg(panels: &[(String, Vec<Curve>)]) -> String {
    let (w, h, pad) = (420.0, 300.0, 45.0);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
    let mut s = String::new();
    let total_w = w * panels.len() as f64;
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{}" font-family="sans-serif" font-size="11">"#,
        h + 40.0
    );
    for (p, (title, curves)) in panels.iter().enumerate() {
        let x0 = p as f64 * w;
        let max_x = curves.iter().flat_map(|c| c.points.iter().map(|q| q.0)).fold(1.0, f64::max);
        let px = |x: f64| x0 + pad + (x / max_x) * (w - 2.0 * pad);
        let py = |y: f64| h - pad - y.clamp(0.0, 1.0) * (h - 2.0 * pad);
        let _ = write!(s, r#"<text x="{}" y="18" font-size="13">{title}</text>"#, x0 + pad);
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
            px(0.0),
            py(0.0),
            px(max_x),
            py(0.0),
            px(0.0),
            py(0.0),
            px(0.0),
            py(1.0)
        );
        for t in 0..=5 {
            let y = t as f64 / 5.0;
            let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end">{y:.1}</text>"#, px(0.0) - 4.0, py(y) + 4.0);
        }
        for t in 0..=4 {
            let x = max_x * t as f64 / 4.0;
            let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="middle">{x:.0}</text>"#, px(x), py(0.0) + 14.0);
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">judgements per prompt</text>"#,
            x0 + w / 2.0,
            h - 8.0
        );
        for (c, curve) in curves.iter().enumerate() {
            let pts: Vec<String> = curve.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                colors[c % colors.len()],
                pts.join(" ")
            );
            let ly = py(0.0) - 12.0 - 14.0 * (curves.len() - 1 - c) as f64;
            let _ = write!(
                s,
                r#"<text x="{}" y="{ly}" fill="{}">{}</text>"#,
                px(max_x) - 90.0,
                colors[c % colors.len()],
                curve.name
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut panels = Vec::new();
    let mut pooled_panel = Vec::new();
    for k in [4usize, 8] {
        // A random stream per method, so one method's draws never shift
        // another's; raw and z-scored ratings share theirs: the same
        // judgements, normalized two ways.
        let budget = args.n * k * (k - 1) / 2;
        let tasks = 12;
        // The worlds run side by side (one thread each).
        let runs: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..args.worlds)
                .map(|world_no| {
                    let args = &args;
                    scope.spawn(move || {
                        let stream = |method: u64| {
                            StdRng::seed_from_u64(
                                args.seed.wrapping_mul(1000) + 10 * k as u64 + method + 100_000 * world_no,
                            )
                        };
                        let w = world(args, k, &mut stream(0));
                        let all = pairwise(&w, k, budget, false, &mut stream(1));
                        let adaptive = pairwise(&w, k, budget, true, &mut stream(2));
                        let ranked = ranking(&w, k, tasks, &mut stream(3));
                        (all, adaptive, ranked, rating(&w, k, tasks, &mut stream(4)))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a world's thread")).collect()
        });
        let n = runs.len() as f64;
        let average = |curve: &dyn Fn(&Run) -> &Points| {
            let first = curve(&runs[0]);
            (0..first.len())
                .map(|i| {
                    let (x, y) = runs.iter().map(|r| curve(r)[i]).fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
                    (x / n, y / n)
                })
                .collect::<Vec<(f64, f64)>>()
        };
        let (all, adaptive, ranked) = (average(&|r| &r.0), average(&|r| &r.1), average(&|r| &r.2));
        let (raw, z, pooled) = (average(&|r| &r.3.raw), average(&|r| &r.3.z), average(&|r| &r.3.pooled));
        // Paired differences: means averaged, standard errors combined.
        let diff: Vec<(f64, f64)> = (0..tasks)
            .map(|i| {
                let m = runs.iter().map(|r| r.3.diff[i].0).sum::<f64>() / n;
                let se = runs.iter().map(|r| r.3.diff[i].1.powi(2)).sum::<f64>().sqrt() / n;
                (m, se)
            })
            .collect();
        let per_world: Vec<String> = runs
            .iter()
            .map(|r| match reaches(&r.1, r.0.last().map(|p| p.1).unwrap_or(0.0)) {
                Some(j) => format!("{:.0}%", 100.0 * (1.0 - j / budget as f64)),
                None => "never".to_owned(),
            })
            .collect();
        let target = all.last().map(|p| p.1).unwrap_or(0.0);
        println!(
            "K = {k}, {} worlds × {} prompts, {} annotators each, N = {} (curves averaged over the worlds):",
            args.worlds, args.prompts, args.annotators, args.n
        );
        println!("  adaptive's saving in each world: {}", per_world.join(", "));
        println!(
            "  all pairs: ρ = {target:.3} after {budget} judgements per prompt ({} pairs × {})",
            budget / args.n,
            args.n
        );
        match reaches(&adaptive, target) {
            Some(j) => println!(
                "  adaptive: reaches ρ = {target:.3} after {j:.1} judgements per prompt: {:.0}% fewer (final ρ = {:.3} after {:.1})",
                100.0 * (1.0 - j / budget as f64),
                adaptive.last().map(|p| p.1).unwrap_or(0.0),
                adaptive.last().map(|p| p.0).unwrap_or(0.0)
            ),
            None => println!(
                "  adaptive: never reaches ρ = {target:.3} (final ρ = {:.3} after {:.1} judgements)",
                adaptive.last().map(|p| p.1).unwrap_or(0.0),
                adaptive.last().map(|p| p.0).unwrap_or(0.0)
            ),
        }
        for (name, c) in [("ranking", &ranked), ("rating, raw", &raw), ("rating, z-scored", &z)] {
            let at = |b: usize| c.get(b - 1).map(|p| p.1).unwrap_or(0.0);
            println!(
                "  {name}: ρ after 1 / 3 / 6 / 12 tasks = {:.3} / {:.3} / {:.3} / {:.3}",
                at(1),
                at(3),
                at(6),
                at(12)
            );
        }
        // Significant: the paired difference over two standard errors.
        let z_wins = diff.iter().filter(|(d, se)| *d > 2.0 * se).count();
        let z_loses = diff.iter().filter(|(d, se)| *d < -2.0 * se).count();
        let shown: Vec<String> = diff.iter().map(|(d, se)| format!("{d:+.3}±{se:.3}")).collect();
        println!("  ρ(z-scored) − ρ(raw) per prompt, mean ± s.e., after 1…{tasks} tasks: {}", shown.join(" "));
        println!(
            "  z-scored beats raw (difference > 2 s.e.) at {z_wins} of {tasks} task counts, loses at {z_loses} (one task: identical by construction)"
        );
        let at = |b: usize| pooled[b - 1];
        println!(
            "  one scale across prompts (Pearson r of centred rewards with centred utilities), raw → z-scored, after 1 / 3 / 6 / 12 tasks: {:.3} → {:.3} / {:.3} → {:.3} / {:.3} → {:.3} / {:.3} → {:.3}",
            at(1).0, at(1).1, at(3).0, at(3).1, at(6).0, at(6).1, at(12).0, at(12).1
        );
        let series =
            |pick: fn(&(f64, f64)) -> f64| pooled.iter().enumerate().map(|(b, p)| ((b + 1) as f64, pick(p))).collect();
        pooled_panel.push(Curve { name: if k == 4 { "raw, K = 4" } else { "raw, K = 8" }, points: series(|p| p.0) });
        pooled_panel
            .push(Curve { name: if k == 4 { "z-scored, K = 4" } else { "z-scored, K = 8" }, points: series(|p| p.1) });
        panels.push((
            format!("K = {k}: Spearman ρ with the true utilities (per prompt)"),
            vec![
                Curve { name: "all pairs", points: all },
                Curve { name: "adaptive pairs", points: adaptive },
                Curve { name: "ranking", points: ranked },
                Curve { name: "rating (raw)", points: raw },
                Curve { name: "rating (z-scored)", points: z },
            ],
        ));
    }
    panels.push(("Ratings across prompts: Pearson r, centred rewards vs utilities".to_owned(), pooled_panel));
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&panels))?;
        println!("curves: {}", path.display());
    }
    Ok(())
}
