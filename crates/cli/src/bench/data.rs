//! The workload data: one deterministic key and value generator, so that
//! every engine and every benchmark sees the same bytes for the same seed.

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
        mix(self.0)
    }

    /// A value in `0..bound` (`bound > 0`), with negligible bias for the
    /// bounds benchmarks use.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// SplitMix64's finalizer: a bijection of `u64` that scatters bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key for index `i`: its decimal digits, zero-padded to `len` bytes
/// (db_bench's layout), so that keys sort in index order.
pub fn key(i: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    key_into(i, len, &mut out);
    out
}

/// [`key`] written into `out` (cleared first), without allocating once
/// `out` has room. An index with more digits than `len` keeps its
/// low-order digits.
pub fn key_into(mut i: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.resize(len, b'0');
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (i % 10) as u8;
        i /= 10;
    }
}

/// A key of `len` bytes that sorts between [`key`]`(i, len)` and
/// `key(i + 1, len)` and is never one of them: db_bench's "missing" key,
/// the key of `i` with its last digit replaced by `'.'` (which sorts below
/// `'0'`). Lookups of it go past bloom filters and index blocks rather
/// than falling off the end of the key range. REQUIRES: `len > 1`.
pub fn missing_key_into(i: u64, len: usize, out: &mut Vec<u8>) {
    key_into(i, len.saturating_sub(1), out);
    out.push(b'.');
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

/// About 1 MiB of [`value`]s made once and handed out in turn, as
/// db_bench's `RandomGenerator` does, so that producing a value costs no
/// allocation inside a timed loop.
#[derive(Clone, Debug)]
pub struct ValuePool {
    bytes: Vec<u8>,
    len: usize,
    count: usize,
}

impl ValuePool {
    /// The bytes every pool holds before it repeats.
    const TARGET_BYTES: usize = 1 << 20;

    /// A pool of values of `len` bytes made by a generator seeded `seed`.
    pub fn new(seed: u64, len: usize) -> ValuePool {
        let count = (ValuePool::TARGET_BYTES / len.max(1)).max(1);
        let mut rng = Rng::new(seed);
        let mut bytes = Vec::with_capacity(count * len);
        for _ in 0..count {
            bytes.extend_from_slice(&value(&mut rng, len));
        }
        ValuePool { bytes, len, count }
    }

    /// The `n`-th value (the pool repeats after its last one).
    pub fn get(&self, n: u64) -> &[u8] {
        let at = (n % self.count as u64) as usize * self.len;
        &self.bytes[at..at + self.len]
    }

    /// The length of every value.
    pub fn value_len(&self) -> usize {
        self.len
    }
}

/// A pseudo-random permutation of `0..n`, computed per index without a
/// table: a four-round Feistel network over the smallest even number of
/// bits that covers `n`, walking the cycle until it lands below `n`
/// (fewer than four steps on average). Random fills and deletes use it so
/// that every key is written exactly once, in an order no engine can
/// predict.
#[derive(Clone, Debug)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Permutation {
    /// A permutation of `0..n` chosen by `seed`.
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut rng = Rng::new(seed);
        let keys = [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ];
        Permutation { n, half_bits, keys }
    }

    /// The image of `i`. REQUIRES: `i < n`.
    pub fn get(&self, i: u64) -> u64 {
        let mut x = i;
        loop {
            x = self.feistel(x);
            if x < self.n {
                return x;
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for key in self.keys {
            let next = left ^ (mix(right ^ key) & mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_index_order() {
        assert_eq!(key(42, 16), b"0000000000000042");
        assert!(key(9, 16) < key(10, 16));
        assert_eq!(key(123_456, 4), b"3456");
        assert_eq!(key(7, 0), b"");
    }

    #[test]
    fn missing_keys_sort_between_present_ones() {
        let mut missing = Vec::new();
        missing_key_into(41, 16, &mut missing);
        assert_eq!(missing, b"000000000000041.");
        assert!(key(410, 16) > missing && missing > key(409, 16));
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
    fn pool_hands_out_the_generator_values_in_turn() {
        let pool = ValuePool::new(3, 100);
        let mut rng = Rng::new(3);
        assert_eq!(pool.get(0), value(&mut rng, 100));
        assert_eq!(pool.get(1), value(&mut rng, 100));
        assert_eq!(pool.get(pool.count as u64), pool.get(0));
        assert_eq!(ValuePool::new(1, 0).get(5), b"");
    }

    #[test]
    fn below_stays_in_bounds() {
        let mut rng = Rng::new(1);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }

    #[test]
    fn permutations_are_bijections() {
        for n in [1u64, 2, 3, 5, 16, 17, 1000, 4097] {
            let p = Permutation::new(n, n * 31);
            let mut seen: Vec<u64> = (0..n).map(|i| p.get(i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
        let p = Permutation::new(1000, 9);
        let identity = (0..1000).filter(|&i| p.get(i) == i).count();
        assert!(identity < 20, "{identity} fixed points");
    }
}
