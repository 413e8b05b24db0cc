//! Version 1's bloom filter over a table's user keys.
//!
//! The filter's items are not the user keys but the 8 little-endian bytes
//! of `xxh3_64(user_key)`. The writer then keeps 8 bytes per distinct user
//! key until it knows how many keys there are (a bloom filter's size
//! depends on it), instead of the keys themselves; and a probe hashes a long
//! key once with xxh3 rather than twice with SipHash. The `bloomfilter`
//! crate does the rest; `docs/FORMAT.md` spells out its hashing so that
//! another language can probe a filter.

use std::hash::{Hash, Hasher};

use bloomfilter::Bloom;

use crate::format::{FILTER_SEED, MAX_FILTER_HASHES};

/// What a filter item hashes as: exactly its 8 bytes, with no length
/// prefix (the `Hash` of a slice or integer would add or vary one).
struct Digest(u64);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0.to_le_bytes());
    }
}

/// The serialized filter of `digests` (one per distinct user key) at
/// `bits_per_key`; `None` if there are none.
pub(crate) fn build(digests: &[u64], bits_per_key: u32) -> Option<Vec<u8>> {
    let items = digests.len();
    if items == 0 {
        return None;
    }
    let bits = (items as u64).saturating_mul(u64::from(bits_per_key));
    let bytes = usize::try_from(bits.div_ceil(8)).ok()?.max(1);
    let mut bloom = Bloom::<Digest>::new_with_seed(bytes, items, &FILTER_SEED).ok()?;
    for &d in digests {
        bloom.set(&Digest(d));
    }
    Some(bloom.into_bytes())
}

/// A loaded version-1 filter.
pub(crate) struct BloomFilter {
    bloom: Bloom<Digest>,
}

impl BloomFilter {
    /// Parses a serialized filter. Beyond what `bloomfilter` checks, it
    /// refuses an empty bitmap (a probe would divide by zero) and more than
    /// [`MAX_FILTER_HASHES`] hash functions.
    pub fn parse(bytes: &[u8]) -> Result<BloomFilter, &'static str> {
        let bloom = Bloom::<Digest>::from_slice(bytes)?;
        // Bloom::is_empty means "no bit set", not "no bits".
        #[allow(clippy::len_zero)]
        if bloom.len() == 0 {
            return Err("filter bitmap is empty");
        }
        if bloom.number_of_hash_functions() > MAX_FILTER_HASHES {
            return Err("filter has too many hash functions");
        }
        Ok(BloomFilter { bloom })
    }

    /// Whether the table may hold a version of the key with this digest.
    pub fn may_contain(&self, digest: u64) -> bool {
        self.bloom.check(&Digest(digest))
    }
}

impl std::fmt::Debug for BloomFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BloomFilter")
            .field("bits", &self.bloom.len())
            .field("hashes", &self.bloom.number_of_hash_functions())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64;

    fn digests(keys: impl IntoIterator<Item = Vec<u8>>) -> Vec<u64> {
        keys.into_iter().map(|k| xxh3_64(&k)).collect()
    }

    fn digest(key: &[u8]) -> u64 {
        xxh3_64(key)
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys = (0..1000u32).map(|i| format!("key{i}").into_bytes());
        let f = BloomFilter::parse(&build(&digests(keys), 10).unwrap()).unwrap();
        for i in 0..1000u32 {
            assert!(f.may_contain(digest(format!("key{i}").as_bytes())));
        }
        let false_positives = (0..10_000u32)
            .filter(|i| f.may_contain(digest(format!("absent{i}").as_bytes())))
            .count();
        // 10 bits per key gives about 1%; allow a wide margin.
        assert!(false_positives < 300, "{false_positives}");
    }

    #[test]
    fn the_same_keys_give_the_same_bytes() {
        let two = || build(&digests([b"a".to_vec(), b"b".to_vec()]), 7).unwrap();
        assert_eq!(two(), two());
        assert_eq!(build(&[], 7), None);
    }

    /// SipHash-1-3 of a 16-byte key and an 8-byte message, written from
    /// the SipHash paper, not from the `siphasher` crate.
    fn sip13(key: &[u8], message: [u8; 8]) -> u64 {
        let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
        let k1 = u64::from_le_bytes(key[8..16].try_into().unwrap());
        let mut v = [
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ];
        let round = |v: &mut [u64; 4]| {
            v[0] = v[0].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(13) ^ v[0];
            v[0] = v[0].rotate_left(32);
            v[2] = v[2].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(16) ^ v[2];
            v[0] = v[0].wrapping_add(v[3]);
            v[3] = v[3].rotate_left(21) ^ v[0];
            v[2] = v[2].wrapping_add(v[1]);
            v[1] = v[1].rotate_left(17) ^ v[2];
            v[2] = v[2].rotate_left(32);
        };
        for m in [u64::from_le_bytes(message), 8u64 << 56] {
            v[3] ^= m;
            round(&mut v);
            v[0] ^= m;
        }
        v[2] ^= 0xff;
        for _ in 0..3 {
            round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }

    #[test]
    fn filter_bits_follow_the_documented_hashing() {
        // docs/FORMAT.md, "Filter block", step by step.
        let keys: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("user-{i}").into_bytes())
            .collect();
        let bytes = build(&digests(keys.iter().cloned()), 10).unwrap();
        assert_eq!(bytes[0], 1);
        let m = u64::from_le_bytes(bytes[1..9].try_into().unwrap());
        let k = u32::from_le_bytes(bytes[9..13].try_into().unwrap());
        let seed = &bytes[13..45];
        assert_eq!(seed, FILTER_SEED);
        assert_eq!(m, (300 * 10u64).div_ceil(8));
        assert_eq!(
            k,
            (8.0 * m as f64 / 300.0 * std::f64::consts::LN_2).round() as u32
        );
        let mut bitmap = vec![0u8; m as usize];
        for key in &keys {
            let item = xxh3_64(key).to_le_bytes();
            let (h0, h1) = (sip13(&seed[..16], item), sip13(&seed[16..], item));
            for i in 0..u64::from(k) {
                let h = match i {
                    0 => h0,
                    1 => h1,
                    _ => h0.wrapping_add(i.wrapping_mul(h1)) % 0xFFFF_FFFF_FFFF_FFC5,
                };
                let bit = h % (8 * m);
                bitmap[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        assert_eq!(&bytes[45..], &bitmap[..]);
    }

    #[test]
    fn parse_refuses_empty_bitmaps_and_runaway_hash_counts() {
        let mut bytes = build(&digests([b"a".to_vec()]), 10).unwrap();
        // bloomfilter header: version u8, bitmap length u64, k u32, seed.
        let mut empty = bytes[..45].to_vec();
        empty[1..9].copy_from_slice(&0u64.to_le_bytes());
        assert!(BloomFilter::parse(&empty).is_err());
        bytes[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(BloomFilter::parse(&bytes).is_err());
    }
}
