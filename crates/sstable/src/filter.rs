//! The filter over a table's user keys: the writer's collection of key
//! digests, and the loaded filter a lookup consults first.
//!
//! Both filter kinds work on `xxh3_64(user_key)`, so the writer keeps 8
//! bytes per distinct user key until it knows how many there are (a
//! filter's size depends on it), and a probe hashes a long key once.
//! Version 1 tables hold a classic bloom filter ([`bloom`], the
//! `bloomfilter` crate); version 2 tables a blocked one ([`blocked`]), each
//! probe within one cache line.

mod blocked;
mod bloom;

use xxhash_rust::xxh3::xxh3_64;

use crate::format::{FILTER_POLICY, FILTER_POLICY_BLOCKED, FormatVersion};

/// The digest a filter stores for `user_key`.
pub(crate) fn digest(user_key: &[u8]) -> u64 {
    xxh3_64(user_key)
}

/// The filter policy a table of `version` is written with, and read back.
pub(crate) fn policy(version: FormatVersion) -> &'static [u8] {
    match version {
        FormatVersion::V1 => FILTER_POLICY,
        _ => FILTER_POLICY_BLOCKED,
    }
}

/// Collects the digests of a table's distinct user keys, then builds its
/// filter.
#[derive(Debug)]
pub(crate) struct FilterBuilder {
    version: FormatVersion,
    bits_per_key: u32,
    digests: Vec<u64>,
}

impl FilterBuilder {
    /// REQUIRES: `bits_per_key > 0`.
    pub fn new(bits_per_key: u32, version: FormatVersion) -> FilterBuilder {
        FilterBuilder {
            version,
            bits_per_key,
            digests: Vec::new(),
        }
    }

    /// Records a user key. Versions of one key arrive together, so the
    /// caller adds each distinct key once.
    pub fn add(&mut self, user_key: &[u8]) {
        self.digests.push(digest(user_key));
    }

    /// The serialized filter, `None` if no key was added.
    pub fn finish(&self) -> Option<Vec<u8>> {
        match self.version {
            FormatVersion::V1 => bloom::build(&self.digests, self.bits_per_key),
            _ => blocked::build(&self.digests, self.bits_per_key),
        }
    }
}

/// A loaded filter.
#[derive(Debug)]
pub(crate) enum Filter {
    /// A version-1 table's.
    Bloom(bloom::BloomFilter),
    /// A version-2 table's.
    Blocked(blocked::BlockedFilter),
}

impl Filter {
    /// Parses the filter of a table of `version`, stored under `policy`.
    pub fn parse(
        version: FormatVersion,
        policy_name: &[u8],
        bytes: &[u8],
    ) -> Result<Filter, &'static str> {
        if policy_name != policy(version) {
            return Err("filter policy is not the one of the table's format version");
        }
        match version {
            FormatVersion::V1 => bloom::BloomFilter::parse(bytes).map(Filter::Bloom),
            _ => blocked::BlockedFilter::parse(bytes).map(Filter::Blocked),
        }
    }

    /// Whether the table may hold a version of the key with this digest.
    #[inline]
    pub fn may_contain(&self, digest: u64) -> bool {
        match self {
            Filter::Bloom(f) => f.may_contain(digest),
            Filter::Blocked(f) => f.may_contain(digest),
        }
    }
}
