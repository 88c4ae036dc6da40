//! The order an annotator builds on a ranking task, key by key: completions
//! (by their shown position) in groups, best group first; a group of more
//! than one is a tie. Pure, so every key's effect is tested here.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranking {
    groups: Vec<Vec<usize>>,
    /// `=` was pressed: the next completion joins the last group.
    tie_next: bool,
    /// What was added, in order, so Backspace undoes it.
    history: Vec<usize>,
}

impl Ranking {
    /// Completion `i` (0-based shown position) goes next in the order, or
    /// into the last group after `=`. A completion already placed is left
    /// where it is.
    pub fn press(&mut self, i: usize) {
        if self.position(i).is_some() {
            return;
        }
        match self.groups.last_mut() {
            Some(last) if self.tie_next => last.push(i),
            _ => self.groups.push(vec![i]),
        }
        self.tie_next = false;
        self.history.push(i);
    }

    /// `=`: ties the next completion with the last one placed.
    pub fn tie(&mut self) {
        self.tie_next = !self.groups.is_empty();
    }

    pub fn groups(&self) -> &[Vec<usize>] {
        &self.groups
    }

    pub fn ties_next(&self) -> bool {
        self.tie_next
    }

    /// Backspace: takes back a pending `=`, else the last completion placed.
    pub fn undo(&mut self) {
        if self.tie_next {
            self.tie_next = false;
            return;
        }
        let Some(i) = self.history.pop() else { return };
        for g in &mut self.groups {
            g.retain(|&x| x != i);
        }
        self.groups.retain(|g| !g.is_empty());
    }

    fn position(&self, i: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(&i))
    }

    /// Each of `k` completions' rank (1 = best; a tie shares the better
    /// rank, the next group starts after the tied ones), None if not placed.
    pub fn ranks(&self, k: usize) -> Vec<Option<i64>> {
        let mut out = vec![None; k];
        let mut rank = 1;
        for g in &self.groups {
            for &i in g {
                if i < k {
                    out[i] = Some(rank);
                }
            }
            rank += g.len() as i64;
        }
        out
    }

    /// The full ranks when every completion is placed; with one left, it
    /// goes last (typing `3 1 4` of four says where 2 is).
    pub fn complete(&self, k: usize) -> Option<Vec<i64>> {
        let mut r = self.clone();
        let open: Vec<usize> = (0..k).filter(|&i| r.position(i).is_none()).collect();
        if open.len() == 1 {
            // After a pending `=` it ties with the last one placed.
            r.press(open[0]);
        }
        r.ranks(k).into_iter().collect()
    }

    /// A rank selector: completion `i` moves to the place where its rank
    /// is `rank` (the others keep their order; unplaced ones are placed in
    /// shown order first). Ties are typed with `=`;
    /// the plain form (no JavaScript) posts the numbers as chosen, where
    /// equal numbers tie.
    pub fn set_rank(&mut self, i: usize, rank: i64, k: usize) {
        // The answers not placed yet take their places in shown order
        // first, so each selector's number means a place in one order.
        for j in 0..k {
            if j != i && self.position(j).is_none() {
                self.groups.push(vec![j]);
            }
        }
        for g in &mut self.groups {
            g.retain(|&x| x != i);
        }
        self.groups.retain(|g| !g.is_empty());
        let before = usize::try_from(rank - 1).unwrap_or(0);
        let (mut seen, mut at) = (0, self.groups.len());
        for (n, g) in self.groups.iter().enumerate() {
            if seen >= before {
                at = n;
                break;
            }
            seen += g.len();
        }
        self.groups.insert(at, vec![i]);
        self.tie_next = false;
        self.history.retain(|&x| x != i);
        self.history.push(i);
    }

    /// Drag and drop: `i` goes just before `target`'s place (everything
    /// unplaced counts as placed in shown order after the placed ones).
    pub fn move_before(&mut self, i: usize, target: usize, k: usize) {
        if i == target {
            return;
        }
        let mut order: Vec<Vec<usize>> = self.groups.clone();
        for j in 0..k {
            if self.position(j).is_none() {
                order.push(vec![j]);
            }
        }
        for g in &mut order {
            g.retain(|&x| x != i);
        }
        order.retain(|g| !g.is_empty());
        let at = order.iter().position(|g| g.contains(&target)).unwrap_or(order.len());
        order.insert(at, vec![i]);
        self.groups = order;
        self.tie_next = false;
        self.history = self.groups.iter().flatten().copied().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(keys: &str) -> Ranking {
        let mut r = Ranking::default();
        for c in keys.chars() {
            match c {
                '=' => r.tie(),
                '<' => r.undo(),
                d if d.is_ascii_digit() => r.press(d as usize - '1' as usize),
                _ => {}
            }
        }
        r
    }

    #[test]
    fn typed_numbers_rank_best_to_worst() {
        assert_eq!(typed("3142").complete(4), Some(vec![2, 4, 1, 3]));
    }

    #[test]
    fn equals_ties_and_the_next_group_starts_after_the_tie() {
        // 1 best; 2 and 3 tied second; 4 last: ranks 1, 2, 2, 4.
        assert_eq!(typed("12=34").complete(4), Some(vec![1, 2, 2, 4]));
    }

    #[test]
    fn backspace_undoes_the_last_key() {
        assert_eq!(typed("12<3").ranks(3), vec![Some(1), None, Some(2)]);
        let pending = typed("1=<2");
        assert_eq!(pending.ranks(2), vec![Some(1), Some(2)], "the undone = does not tie");
    }

    #[test]
    fn the_last_one_left_goes_last_and_two_left_is_not_complete() {
        assert_eq!(typed("314").complete(4), Some(vec![2, 4, 1, 3]));
        assert_eq!(typed("31").complete(4), None);
    }

    #[test]
    fn a_pending_tie_holds_for_the_last_one_left() {
        assert_eq!(typed("1=").complete(2), Some(vec![1, 1]));
    }

    #[test]
    fn a_repeated_number_is_ignored() {
        assert_eq!(typed("1121").ranks(2), vec![Some(1), Some(2)]);
    }

    #[test]
    fn selectors_and_drops_reorder() {
        // Selectors move an answer to a place, one after another.
        let mut r = typed("123");
        r.set_rank(0, 3, 3);
        r.set_rank(1, 2, 3);
        r.set_rank(2, 1, 3);
        assert_eq!(r.ranks(3), vec![Some(3), Some(2), Some(1)]);
        // From nothing: 2 → 3, 1 → 2, 3 → 1 gives exactly that.
        let mut r = Ranking::default();
        r.set_rank(1, 3, 3);
        r.set_rank(0, 2, 3);
        r.set_rank(2, 1, 3);
        assert_eq!(r.ranks(3), vec![Some(2), Some(3), Some(1)]);
        let mut r = Ranking::default();
        r.move_before(2, 0, 3);
        assert_eq!(r.complete(3), Some(vec![2, 3, 1]));
    }
}
