//! Merge operands in the engine: the configured
//! [`MergeOperator`](lsmkit_compaction::MergeOperator) folds the operands a
//! read collected (newest first) onto the base it found; its name is
//! recorded in the tables the engine writes and checked when it opens.

use std::sync::Arc;

use lsmkit_compaction::{MergeOperator, full_merge_newest_first};
use lsmkit_sstable::SstOptions;

use crate::error::{Error, Result};
use crate::version::Run;

/// The user property (`user.` + this in the properties block) naming the
/// merge operator configured when the table was written.
pub(crate) const OPERATOR_PROPERTY: &str = "lsmkit.merge_operator";

/// `options` recording the name of `operator`, if there is one.
pub(crate) fn record_operator(
    options: SstOptions,
    operator: Option<&dyn MergeOperator>,
) -> SstOptions {
    match operator {
        Some(operator) => options.user_property(OPERATOR_PROPERTY, operator.name()),
        None => options,
    }
}

/// Refuses a table holding merge operands that records an operator other
/// than the configured one. Without an operator configured every table
/// opens (reads that meet an operand then fail); a table that records no
/// name was written without one.
pub(crate) fn check_operator(
    runs: &[Arc<Run>],
    operator: Option<&dyn MergeOperator>,
) -> Result<()> {
    let Some(operator) = operator else {
        return Ok(());
    };
    for table in runs.iter().flat_map(|r| &r.tables) {
        let properties = table.reader.properties();
        let recorded = properties.user.get(OPERATOR_PROPERTY);
        if let Some(recorded) = recorded.filter(|_| properties.num_merge_operands > 0)
            && recorded.as_slice() != operator.name().as_bytes()
        {
            return Err(Error::MergeOperatorMismatch {
                file: table.reader.path().to_path_buf(),
                recorded: String::from_utf8_lossy(recorded).into_owned(),
                configured: operator.name().to_string(),
            });
        }
    }
    Ok(())
}

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
