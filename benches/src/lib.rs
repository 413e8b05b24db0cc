//! Shared workload data for lsmkit's benchmarks: one deterministic key and
//! value generator, so that every benchmark and every engine in the
//! comparison sees the same bytes.
#![forbid(unsafe_code)]

/// A small, fast, seedable pseudo-random generator (SplitMix64).
///
/// Benchmarks need reproducible data, not cryptographic randomness.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound > 0`), with negligible bias for the
    /// bounds benchmarks use.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// The key for index `i`: its decimal digits, zero-padded to `len` bytes
/// (db_bench's layout), so that keys sort in index order.
pub fn key(i: u64, len: usize) -> Vec<u8> {
    let digits = format!("{i:0len$}");
    let bytes = digits.as_bytes();
    // An index with more digits than `len` keeps its low-order digits.
    bytes[bytes.len().saturating_sub(len)..].to_vec()
}

/// A value of `len` bytes, half of it pseudo-random and half a repeat of
/// that random half, so that a compressor would roughly halve it
/// (db_bench's compression ratio 0.5).
pub fn value(rng: &mut Rng, len: usize) -> Vec<u8> {
    let random = len.div_ceil(2);
    let mut v = Vec::with_capacity(len);
    while v.len() < random {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(random);
    let mut i = 0;
    while v.len() < len {
        v.push(v[i]);
        i += 1;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_index_order() {
        assert_eq!(key(42, 16), b"0000000000000042");
        assert!(key(9, 16) < key(10, 16));
        assert_eq!(key(123_456, 4), b"3456");
    }

    #[test]
    fn values_are_reproducible_and_half_repeated() {
        let a = value(&mut Rng::new(7), 100);
        let b = value(&mut Rng::new(7), 100);
        assert_eq!(a, b);
        assert_eq!(a.len(), 100);
        assert_eq!(a[50..], a[..50]);
        assert_ne!(a, value(&mut Rng::new(8), 100));
    }

    #[test]
    fn below_stays_in_bounds() {
        let mut rng = Rng::new(1);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }
}
