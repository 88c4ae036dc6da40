//! Small statistics the dashboard needs.

/// Two-sided exact binomial test of `k` successes in `n` trials against
/// p = 1/2: the probability of an outcome at least as far from n/2
/// (scipy's `binomtest(k, n).pvalue`). 1 when n = 0.
pub fn binomial_two_sided(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let m = k.min(n - k);
    // P(X ≤ m), summed in log space: ln C(n, i) built up term by term.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let (mut ln_c, mut tail) = (0.0f64, 0.0f64);
    for i in 0..=m {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_c + ln_half_n).exp();
    }
    // Both tails, the middle counted once when k = n/2.
    if 2 * m == n {
        1.0
    } else {
        (2.0 * tail).min(1.0)
    }
}

/// The median of sorted values (the mean of the middle two for an even count).
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from scipy.stats.binomtest(k, n, 0.5).pvalue.
    #[test]
    fn the_binomial_test_matches_scipy() {
        assert_eq!(binomial_two_sided(5, 10), 1.0);
        assert!((binomial_two_sided(8, 10) - 0.109375).abs() < 1e-12);
        assert!((binomial_two_sided(2, 10) - 0.109375).abs() < 1e-12);
        assert!((binomial_two_sided(0, 5) - 0.0625).abs() < 1e-12);
        assert!((binomial_two_sided(60, 100) - 0.05688793364098089).abs() < 1e-12);
        assert!((binomial_two_sided(700, 1000) / 1.7665678007949568e-37 - 1.0).abs() < 1e-9);
        assert_eq!(binomial_two_sided(0, 0), 1.0);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3]), Some(3.0));
        assert_eq!(median(&[1, 2, 10]), Some(2.0));
        assert_eq!(median(&[1, 2, 4, 10]), Some(3.0));
    }
}
