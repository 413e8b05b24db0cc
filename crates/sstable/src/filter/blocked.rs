//! Version 2's blocked bloom filter: every probe of one key lands in one
//! 64-byte line, so a lookup that misses costs one cache miss, not one per
//! probe.
//!
//! The shape is RocksDB's FastLocalBloom: the upper 32 bits of the key's
//! xxh3-64 digest pick a line (by multiply-shift, not modulo), the lower 32
//! bits seed the probes, each taking the top 9 bits of a 32-bit value that
//! is multiplied by the golden ratio between probes. Confining a key to 512
//! bits costs a little accuracy against a classic bloom filter of the same
//! size (0.96% against 0.82% false positives at 10 bits per key, by the
//! formula in the tests) and is worth it: a probe touches one line.
//! The layout is under [`FILTER_POLICY_BLOCKED`](crate::format::FILTER_POLICY_BLOCKED).

use crate::format::{FILTER_BLOCKED_HEADER_LEN, FILTER_LINE_LEN, FILTER_PROBE_MULTIPLIER};

/// Bits in a line.
const LINE_BITS: u32 = (FILTER_LINE_LEN * 8) as u32;

/// The most probes a reader accepts: a crafted filter cannot make a probe
/// loop for long.
pub(crate) const MAX_PROBES: u8 = 32;

/// The probes a writer uses at `bits_per_key`: about 0.6 per bit per key,
/// within 1% of the best count for a 512-bit line up to 24 bits per key
/// (found by the formula in the tests), and fewer probes are cheaper.
pub(crate) fn probes_for(bits_per_key: u32) -> u8 {
    ((bits_per_key * 3 + 2) / 5).clamp(1, 24) as u8
}

/// One line, aligned so that it is one cache line in memory too.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

/// The line of `digest` among `lines`.
#[inline]
fn line_of(digest: u64, lines: u32) -> usize {
    (((digest >> 32) * u64::from(lines)) >> 32) as usize
}

/// Calls `f` with the bit (0..512) of each of `probes` probes of `digest`.
#[inline]
fn for_each_bit(digest: u64, probes: u8, mut f: impl FnMut(u32) -> bool) -> bool {
    let mut h = digest as u32;
    for _ in 0..probes {
        if !f(h >> (32 - 9)) {
            return false;
        }
        h = h.wrapping_mul(FILTER_PROBE_MULTIPLIER);
    }
    true
}

/// The serialized filter of `digests` (one per distinct user key) at
/// `bits_per_key` (at least 1); `None` if there are none or the filter
/// would need more than `u32::MAX` lines.
pub(crate) fn build(digests: &[u64], bits_per_key: u32) -> Option<Vec<u8>> {
    if digests.is_empty() {
        return None;
    }
    let bits = (digests.len() as u64).saturating_mul(u64::from(bits_per_key.max(1)));
    let lines = u32::try_from(bits.div_ceil(u64::from(LINE_BITS)))
        .ok()?
        .max(1);
    let probes = probes_for(bits_per_key);
    let mut out = vec![0u8; FILTER_BLOCKED_HEADER_LEN + lines as usize * FILTER_LINE_LEN];
    out[0] = probes;
    out[1..5].copy_from_slice(&lines.to_le_bytes());
    let body = &mut out[FILTER_BLOCKED_HEADER_LEN..];
    for &d in digests {
        let line = line_of(d, lines) * FILTER_LINE_LEN;
        for_each_bit(d, probes, |bit| {
            body[line + (bit / 8) as usize] |= 1 << (bit % 8);
            true
        });
    }
    Some(out)
}

/// A loaded blocked filter, its lines copied into aligned memory.
pub(crate) struct BlockedFilter {
    lines: Vec<Line>,
    probes: u8,
}

impl BlockedFilter {
    /// Parses a serialized filter: a header, then exactly as many whole
    /// lines as it says (at least one), and between 1 and [`MAX_PROBES`]
    /// probes.
    pub(crate) fn parse(bytes: &[u8]) -> Result<BlockedFilter, &'static str> {
        let (header, body) = bytes
            .split_at_checked(FILTER_BLOCKED_HEADER_LEN)
            .ok_or("blocked filter is shorter than its header")?;
        let probes = header[0];
        if probes == 0 || probes > MAX_PROBES {
            return Err("blocked filter probe count is out of range");
        }
        let lines = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
        if lines == 0 {
            return Err("blocked filter has no lines");
        }
        // Checked before allocating: the lines must be in the input.
        if body.len() as u64 != u64::from(lines) * FILTER_LINE_LEN as u64 {
            return Err("blocked filter length disagrees with its line count");
        }
        let lines = body
            .chunks_exact(FILTER_LINE_LEN)
            .map(|chunk| {
                let mut line = Line::default();
                for (word, bytes) in line.0.iter_mut().zip(chunk.chunks_exact(8)) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(bytes);
                    *word = u64::from_le_bytes(w);
                }
                line
            })
            .collect();
        Ok(BlockedFilter { lines, probes })
    }

    /// Whether the table may hold a key with this digest.
    #[inline]
    pub(crate) fn may_contain(&self, digest: u64) -> bool {
        // `lines` is non-empty and below 2^32 (checked by parse).
        let Some(line) = self.lines.get(line_of(digest, self.lines.len() as u32)) else {
            return true;
        };
        for_each_bit(digest, self.probes, |bit| {
            line.0[(bit / 64) as usize] & (1 << (bit % 64)) != 0
        })
    }

    /// The filter's size in memory and on disk, without its header.
    #[cfg(test)]
    pub(crate) fn len_bytes(&self) -> usize {
        self.lines.len() * FILTER_LINE_LEN
    }

    /// Probes per key.
    #[cfg(test)]
    pub(crate) fn probes(&self) -> u8 {
        self.probes
    }
}

impl std::fmt::Debug for BlockedFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockedFilter")
            .field("lines", &self.lines.len())
            .field("probes", &self.probes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64;

    /// The false-positive rate of a blocked bloom filter with 512-bit lines
    /// at `bits_per_key` and `probes`: a line holds a Poisson number of
    /// keys, and a line with `i` keys answers a stranger yes with the
    /// probability of `probes` set bits among `probes * i` random ones.
    fn expected_fp_rate(bits_per_key: f64, probes: u32) -> f64 {
        let mean = f64::from(LINE_BITS) / bits_per_key;
        let mut p_keys = (-mean).exp();
        let mut rate = 0.0;
        for i in 0..2000u32 {
            if i > 0 {
                p_keys *= mean / f64::from(i);
            }
            let unset = (1.0 - 1.0 / f64::from(LINE_BITS)).powf(f64::from(probes * i));
            rate += p_keys * (1.0 - unset).powf(f64::from(probes));
        }
        rate
    }

    fn digests(prefix: &str, n: u32) -> Vec<u64> {
        (0..n)
            .map(|i| xxh3_64(format!("{prefix}{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn no_false_negatives() {
        let keys = digests("key", 10_000);
        let f = BlockedFilter::parse(&build(&keys, 10).unwrap()).unwrap();
        assert!(keys.iter().all(|&d| f.may_contain(d)));
    }

    #[test]
    fn false_positive_rate_is_within_20_percent_of_the_formula() {
        for bits_per_key in [6u32, 10, 16] {
            let f = BlockedFilter::parse(&build(&digests("key", 100_000), bits_per_key).unwrap())
                .unwrap();
            let trials = 1_000_000u32;
            let hits = digests("absent", trials)
                .into_iter()
                .filter(|&d| f.may_contain(d))
                .count();
            let measured = hits as f64 / f64::from(trials);
            let expected = expected_fp_rate(f64::from(bits_per_key), u32::from(f.probes()));
            let off = (measured - expected).abs() / expected;
            assert!(
                off < 0.2,
                "{bits_per_key} bits/key: measured {measured:.5}, formula {expected:.5}"
            );
        }
    }

    #[test]
    fn the_probe_count_is_near_the_best_for_the_formula() {
        for bits_per_key in 1..=24u32 {
            let bpk = f64::from(bits_per_key);
            let best = (1..=30)
                .map(|k| expected_fp_rate(bpk, k))
                .fold(f64::INFINITY, f64::min);
            let ours = expected_fp_rate(bpk, u32::from(probes_for(bits_per_key)));
            assert!(ours <= best * 1.07, "{bits_per_key}: {ours} vs {best}");
        }
    }

    #[test]
    fn bits_follow_the_documented_layout() {
        // docs/FORMAT.md, "Filter block (version 2)", step by step.
        let keys = digests("user-", 300);
        let bytes = build(&keys, 10).unwrap();
        assert_eq!(bytes[0], 6);
        let lines = u32::from_le_bytes(bytes[1..5].try_into().unwrap());
        assert_eq!(lines, (300 * 10u32).div_ceil(512));
        let mut expected = vec![0u8; lines as usize * 64];
        for &h in &keys {
            let line = (((h >> 32) * u64::from(lines)) >> 32) as usize;
            let mut p = h as u32;
            for _ in 0..6 {
                let bit = (p >> 23) as usize;
                expected[line * 64 + bit / 8] |= 1 << (bit % 8);
                p = p.wrapping_mul(0x9e37_79b9);
            }
        }
        assert_eq!(&bytes[5..], &expected[..]);
        assert_eq!(
            BlockedFilter::parse(&bytes).unwrap().len_bytes(),
            expected.len()
        );
    }

    #[test]
    fn parse_refuses_malformed_filters() {
        let good = build(&digests("k", 100), 10).unwrap();
        assert!(BlockedFilter::parse(&good[..4]).is_err());
        assert!(BlockedFilter::parse(&good[..good.len() - 1]).is_err());
        let mut zero_probes = good.clone();
        zero_probes[0] = 0;
        assert!(BlockedFilter::parse(&zero_probes).is_err());
        let mut runaway = good.clone();
        runaway[0] = MAX_PROBES + 1;
        assert!(BlockedFilter::parse(&runaway).is_err());
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(BlockedFilter::parse(&huge).is_err());
        let mut none = good[..5].to_vec();
        none[1..5].copy_from_slice(&0u32.to_le_bytes());
        assert!(BlockedFilter::parse(&none).is_err());
        assert_eq!(build(&[], 10), None);
    }
}
