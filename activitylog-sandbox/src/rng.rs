//! Tiny deterministic hashing and random numbers (SplitMix64).
//!
//! Everything the sandbox invents is a pure function of the seed and a few
//! integers, so the same configuration always yields the same bytes.

/// The SplitMix64 finaliser: a fast, well-mixing bijection on `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes three integers into one well-distributed `u64`.
pub(crate) fn hash3(a: u64, b: u64, c: u64) -> u64 {
    mix(a ^ mix(b ^ mix(c)))
}

/// Maps a hash onto `[0, 1)`.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks an index below `len` (which must be non-zero) from a hash.
pub(crate) fn pick(h: u64, len: usize) -> usize {
    ((u128::from(h) * len as u128) >> 64) as usize
}

/// A seeded SplitMix64 stream, for places that need several draws in a row.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix {
    state: u64,
}

impl SplitMix {
    /// Starts a stream from a seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// The next number in `[0, 1)`.
    pub(crate) fn next_unit(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_in_range_and_pick_is_bounded() {
        let mut rng = SplitMix::new(1);
        for _ in 0..10_000 {
            let u = rng.next_unit();
            assert!((0.0..1.0).contains(&u));
            assert!(pick(rng.next_u64(), 7) < 7);
        }
        assert_eq!(pick(u64::MAX, 3), 2);
    }

    #[test]
    fn streams_are_reproducible() {
        let a: Vec<u64> = (0..5).map(|i| hash3(7, i, 1)).collect();
        let b: Vec<u64> = (0..5).map(|i| hash3(7, i, 1)).collect();
        assert_eq!(a, b);
        assert_ne!(hash3(7, 0, 1), hash3(8, 0, 1));
    }
}
