//! Resolving merge operands in reads: the configured
//! [`MergeOperator`](lsmkit_compaction::MergeOperator) folds the operands a
//! read collected (newest first) onto the base it found.

use lsmkit_compaction::{MergeOperator, full_merge_newest_first};

use crate::error::{Error, Result};

/// The value of `key` whose visible merge operands are `newest_first`
/// (at least one) over `base` (`None`: a deletion or nothing).
pub(crate) fn resolve<T: AsRef<[u8]>>(
    operator: Option<&dyn MergeOperator>,
    key: &[u8],
    base: Option<&[u8]>,
    newest_first: &[T],
) -> Result<Vec<u8>> {
    let operator = operator.ok_or_else(|| Error::NoMergeOperator {
        key: Some(key.to_vec()),
    })?;
    full_merge_newest_first(operator, key, base, newest_first).ok_or_else(|| Error::MergeFailed {
        key: key.to_vec(),
        operator: operator.name().to_string(),
    })
}
