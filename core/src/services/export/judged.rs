//! Exports of ranking and rating projects (issue 9). Every format works:
//! each judgement is read as the pairwise outcomes it implies (a ranking:
//! the better-ranked completion wins, equal ranks tie; a rating: the
//! completion with the higher sum over the aspects wins), which feed the
//! filters, agreement, per-annotation rows (`raw`, `arena`) and each pair's
//! tally; the rewards of the prompt's completions (Bradley–Terry for
//! rankings, z-scored ratings averaged for ratings) decide which answer a
//! pair-level row calls chosen, and its `margin` is the reward difference
//! scaled by the prompt's reward range, in [0, 1].
use super::{parse_messages, pseudonym, push_pair_row, push_rewards, Job, Outputs, Page, Plan};
use crate::domain::dataset::{decide_annotation, pair_gate, Counts, DropReason, Format, Keep, MarginMode, Outcome};
use crate::domain::rows::{self, PairTexts};
use crate::domain::settings::TaskType;
use crate::domain::verdict::{PairTally, Verdict, Winner};
use crate::domain::{raw, reward};
use crate::storage::export::{Judgement, PromptJudgements};
use crate::storage::rfc3339;
use crate::Result;
use std::collections::HashMap;

/// One judgement's outcome on one pair (indices into the prompt's completions
/// and pairs): canonical choice, ±3 or 0.
struct Derived {
    pair: usize,
    a: usize,
    b: usize,
    choice: i64,
}

fn derived(p: &PromptJudgements, j: &Judgement, at: &HashMap<i64, usize>) -> Vec<Derived> {
    // A value per completion: its rank (lower is better, so negated) or its
    // ratings' sum.
    let mut value: HashMap<usize, i64> = HashMap::new();
    for &(c, rank) in &j.ranks {
        if let Some(&i) = at.get(&c) {
            value.insert(i, -rank);
        }
    }
    for (c, _, v) in &j.ratings {
        if let Some(&i) = at.get(c) {
            *value.entry(i).or_default() += v;
        }
    }
    p.pairs
        .iter()
        .enumerate()
        .filter_map(|(n, &(_, a, b))| {
            let (a, b) = (*at.get(&a)?, *at.get(&b)?);
            let (va, vb) = (value.get(&a)?, value.get(&b)?);
            Some(Derived { pair: n, a, b, choice: 3 * (va - vb).signum() })
        })
        .collect()
}

fn flagged(j: &Judgement) -> bool {
    j.flags != "[]"
}

/// An outcome is flagged when its judgement is, or either of its two
/// answers was flagged on its own.
fn vote_flagged(p: &PromptJudgements, j: &Judgement, v: &Derived) -> bool {
    let (a, b) = (p.completions[v.a].0, p.completions[v.b].0);
    flagged(j) || j.completion_flags.iter().any(|(c, _)| *c == a || *c == b)
}

impl Job {
    pub(super) fn judged_rows(
        &self,
        pages: impl Iterator<Item = Result<Page<PromptJudgements>>>,
        scales: &HashMap<(i64, String), (f64, f64)>,
        plan: &Plan,
        out: &mut Outputs,
        counts: &mut Counts,
    ) -> Result<bool> {
        let o = &self.options;
        let aspects = &self.project.aspects;
        for page in pages {
            for p in page?.iter() {
                let at: HashMap<i64, usize> = p.completions.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
                let votes: Vec<(usize, Vec<Derived>)> =
                    p.judgements.iter().enumerate().map(|(n, j)| (n, derived(p, j, &at))).collect();
                let mut tallies = vec![PairTally::default(); p.pairs.len()];
                for (n, vs) in &votes {
                    let j = &p.judgements[*n];
                    for v in vs {
                        tallies[v.pair].add(v.choice as i8, j.both_bad, vote_flagged(p, j, v));
                    }
                }
                // The filters, vote by vote (as `raw` and `rewards` apply them).
                let keep = |j: &Judgement, v: &Derived| {
                    pair_gate(&tallies[v.pair], &o.filters)
                        .and_then(|()| decide_annotation(v.choice, j.both_bad, vote_flagged(p, j, v), &o.filters))
                };
                let messages = parse_messages(&p.messages)?;
                let split = out.split_of(p.label(), o.test_share);
                if o.format.per_annotation() {
                    for (n, vs) in &votes {
                        let j = &p.judgements[*n];
                        for v in vs {
                            if let Err(reason) = keep(j, v) {
                                counts.drop(reason);
                                continue;
                            }
                            let row = self.annotation_row(p, j, v, &messages);
                            out.pick(split).push(&row)?;
                            counts.rows += 1;
                            let (ma, mb) = (&p.completions[v.a].2, &p.completions[v.b].2);
                            counts.record(ma, mb, if j.both_bad { 0 } else { v.choice });
                            if !out.flush(split) {
                                return Ok(false);
                            }
                        }
                    }
                    continue;
                }
                // The prompt's rewards from the judgements the filters keep.
                let k = p.completions.len();
                let mut n = vec![0i64; k];
                let fit: Vec<reward::Reward> = if self.project.task_type == TaskType::Rating {
                    let mut ratings = Vec::new();
                    let mut local: HashMap<i64, (f64, f64)> = HashMap::new();
                    for j in &p.judgements {
                        let any_flag = flagged(j) || !j.completion_flags.is_empty();
                        if let Err(reason) = decide_annotation(1, j.both_bad, any_flag, &o.filters) {
                            counts.drop(reason);
                            continue;
                        }
                        for (c, aspect, v) in &j.ratings {
                            let (Some(&i), Some(a)) = (at.get(c), aspects.iter().position(|x| x == aspect)) else {
                                continue;
                            };
                            // One scale per annotator and aspect.
                            let key = j.annotator_id * 64 + a as i64;
                            local.insert(
                                key,
                                scales.get(&(j.annotator_id, aspect.clone())).copied().unwrap_or((0.0, 0.0)),
                            );
                            ratings.push(reward::Rating { annotator: key, completion: i, value: *v as f64 });
                            n[i] += 1;
                        }
                    }
                    reward::from_ratings(k, &ratings, &local)
                } else {
                    let mut comparisons = Vec::new();
                    for (j, vs) in &votes {
                        for v in vs {
                            if let Err(reason) = keep(&p.judgements[*j], v) {
                                if o.format == Format::Rewards {
                                    counts.drop(reason);
                                }
                                continue;
                            }
                            comparisons.push(reward::from_vote(v.a, v.b, v.choice));
                            n[v.a] += 1;
                            n[v.b] += 1;
                        }
                    }
                    reward::bradley_terry(k, &comparisons)
                };
                if o.format == Format::Rewards {
                    // Completions nobody judged (in scope) have no reward.
                    let judged: Vec<usize> = (0..k).filter(|&i| n[i] > 0).collect();
                    let rows: Vec<(&str, &str, reward::Reward, i64)> = judged
                        .iter()
                        .map(|&i| (p.completions[i].3.as_str(), p.completions[i].2.as_str(), fit[i], n[i]))
                        .collect();
                    if !push_rewards(out, split, plan.form, &messages, p.is_chat, &rows, counts)? {
                        return Ok(false);
                    }
                    continue;
                }
                let rated: Vec<f64> = (0..k).filter(|&i| n[i] > 0).map(|i| fit[i].reward).collect();
                let range = rated.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - rated.iter().cloned().fold(f64::INFINITY, f64::min);
                for (pair, &(ref uuid, ca, cb)) in p.pairs.iter().enumerate() {
                    let tally = tallies[pair];
                    if tally.votes() == 0 {
                        continue;
                    }
                    let (Some(&a), Some(&b)) = (at.get(&ca), at.get(&cb)) else { continue };
                    let outcome =
                        match self.judged_outcome(&tally, fit[a].reward - fit[b].reward, range, n[a] > 0 && n[b] > 0) {
                            Ok(outcome) => outcome,
                            Err(reason) => {
                                counts.drop(reason);
                                continue;
                            }
                        };
                    let texts = PairTexts {
                        messages: &messages,
                        is_chat: p.is_chat,
                        a: &p.completions[a].3,
                        b: &p.completions[b].3,
                    };
                    let record = rows::PairRecord {
                        pair_id: uuid,
                        prompt_id: &p.prompt_uuid,
                        external_id: p.external_id.as_deref(),
                        model_a: &p.completions[a].2,
                        model_b: &p.completions[b].2,
                        tally: &tally,
                        prior: None,
                    };
                    push_pair_row(out.pick(split), o.format, plan.form, &texts, outcome, None, &record)?;
                    counts.rows += 1;
                    let sign = match outcome {
                        Outcome::Chosen { winner: Winner::A, .. } => 1,
                        Outcome::Chosen { .. } => -1,
                        _ => 0,
                    };
                    counts.record(&p.completions[a].2, &p.completions[b].2, sign);
                    if !out.flush(split) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// A pair-level row of a ranking or rating project: the tally passes
    /// the pair filters as for pairwise votes; the rewards decide the order
    /// (`diff` = reward of A − reward of B) and the margin.
    fn judged_outcome(
        &self,
        tally: &PairTally,
        diff: f64,
        range: f64,
        both_judged: bool,
    ) -> std::result::Result<Outcome, DropReason> {
        let o = &self.options;
        // The pair filters and the both-bad rule, as for pairwise votes.
        pair_gate(tally, &o.filters)?;
        if o.filters.flagged == Keep::Drop && tally.flagged > 0 {
            return Err(DropReason::Flagged);
        }
        if tally.verdict() == Verdict::BothBad {
            if o.filters.both_bad == Keep::Drop {
                return Err(DropReason::BothBad);
            }
            if !o.format.is_training() {
                return Ok(Outcome::BothBad);
            }
        }
        if !both_judged {
            return Err(DropReason::MinAnnotations);
        }
        let margin = |d: f64| {
            (o.margin != MarginMode::None).then(|| if range > 1e-12 { (d.abs() / range).clamp(0.0, 1.0) } else { 0.0 })
        };
        if diff.abs() < 1e-9 {
            if o.filters.ties == Keep::Drop {
                return Err(DropReason::Tie);
            }
            if !o.format.holds_ties(o.margin) {
                return Err(DropReason::TieNotRepresentable);
            }
            return Ok(Outcome::Tie { margin: margin(0.0) });
        }
        Ok(Outcome::Chosen { winner: if diff > 0.0 { Winner::A } else { Winner::B }, margin: margin(diff) })
    }

    /// A `raw` or `arena` row: one pairwise outcome of a ranking or rating.
    fn annotation_row(
        &self,
        p: &PromptJudgements,
        j: &Judgement,
        v: &Derived,
        messages: &[crate::domain::import::Message],
    ) -> serde_json::Value {
        let o = &self.options;
        let annotator =
            if o.annotator_names { j.annotator_name.clone() } else { pseudonym(&self.project.uuid, &j.annotator_uuid) };
        let (a, b) = (&p.completions[v.a], &p.completions[v.b]);
        if o.format == Format::Arena {
            let texts = PairTexts { messages, is_chat: p.is_chat, a: &a.3, b: &b.3 };
            return rows::arena(
                &texts,
                &rows::Battle {
                    question_id: p.label(),
                    model_a: &a.2,
                    model_b: &b.2,
                    choice: v.choice,
                    both_bad: j.both_bad,
                    judge: &annotator,
                    tstamp_ms: j.submitted_at,
                },
            );
        }
        // B "on the left" when it was shown before A.
        let shown: Vec<i64> = serde_json::from_str(&j.shown).unwrap_or_default();
        let place = |id: i64| shown.iter().position(|&s| s == id).unwrap_or(usize::MAX);
        let swapped = place(b.0) < place(a.0);
        raw::row(&raw::RawRow {
            annotation_id: &j.uuid,
            pair_id: &p.pairs[v.pair].0,
            prompt_id: &p.prompt_uuid,
            external_id: p.external_id.as_deref(),
            completion_a_id: &a.1,
            completion_b_id: &b.1,
            model_a: &a.2,
            model_b: &b.2,
            annotator: &annotator,
            choice_shown: if swapped { v.choice } else { -v.choice },
            choice: v.choice,
            swapped,
            both_bad: j.both_bad,
            flags: {
                // The judgement's flags, then those on either answer.
                let mut flags: Vec<String> = serde_json::from_str(&j.flags).unwrap_or_default();
                for (c, f) in &j.completion_flags {
                    if (*c == a.0 || *c == b.0) && !flags.contains(f) {
                        flags.push(f.clone());
                    }
                }
                flags
            },
            rationale: &j.rationale,
            time_ms: j.time_ms,
            leased_at: rfc3339(j.leased_at),
            submitted_at: rfc3339(j.submitted_at),
            late: j.late,
            meta: p.meta.as_deref(),
            version: j.version,
            latest: true,
        })
    }
}
