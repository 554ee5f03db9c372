//! Order statistics over a sample.

/// Percentiles of a sample, computed once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    sorted: Vec<u64>,
}

impl Summary {
    /// Takes the sample (any order).
    pub fn new(mut xs: Vec<u64>) -> Self {
        xs.sort_unstable();
        Summary { sorted: xs }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile `p` in 0..=1 (0 for an empty sample).
    pub fn pct(&self, p: f64) -> u64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0;
        }
        let i = (p.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize;
        self.sorted[i]
    }

    /// The largest value (0 for an empty sample).
    pub fn max(&self) -> u64 {
        self.sorted.last().copied().unwrap_or(0)
    }

    /// The arithmetic mean (0 for an empty sample).
    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        self.sorted.iter().map(|&x| x as f64).sum::<f64>() / self.sorted.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_hundred() {
        let s = Summary::new((1..=100).rev().collect());
        assert_eq!(s.pct(0.0), 1);
        assert_eq!(s.pct(0.5), 51); // rank round(0.5 * 99) = 50 (0-based)
        assert_eq!(s.pct(0.99), 99);
        assert_eq!(s.max(), 100);
        assert_eq!(s.mean(), 50.5);
    }

    #[test]
    fn empty_sample_is_zero() {
        let s = Summary::new(Vec::new());
        assert_eq!((s.pct(0.5), s.max(), s.mean(), s.len()), (0, 0, 0.0, 0));
    }
}
