//! Folding merge operands: what the operands of one stripe and the version
//! under them become in a compaction output (the rules are in the
//! [stream docs](crate::stream), "Merge operands").

use lsmkit_sstable::key;
use lsmkit_sstable::{SeqNo, ValueKind};

use crate::Error;
use crate::merge_operator::MergeOperator;
use crate::stream::Owned;

/// One version of the key being folded, as read or as it is to be written.
#[derive(Clone, Debug)]
pub(crate) struct Folded {
    pub entry: Owned,
    pub seqno: SeqNo,
    pub kind: ValueKind,
}

/// What lies under the operands, as every reader of their stripe sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    /// The last version folded is a value.
    Value,
    /// The key is deleted under the operands: by the last version folded
    /// (a point tombstone), or by a range tombstone of the stripe.
    Deleted,
    /// The stripe holds nothing more of the key. `oldest`: nothing older
    /// exists anywhere, so no base is the base; otherwise an older stripe
    /// or an older run may hold one.
    Open { oldest: bool },
}

/// What `versions` (newest first: merge operands of one stripe of
/// `user_key`, then the value or tombstone the fold stopped at, if any)
/// become: one value where the base is known, one merge operand where
/// `partial_merge` can combine them, else the versions as they are (and
/// so without an operator).
pub(crate) fn fold(
    operator: Option<&dyn MergeOperator>,
    user_key: &[u8],
    versions: Vec<Folded>,
    base: Base,
) -> Result<Vec<Folded>, Error> {
    let (Some(operator), Some(newest)) = (operator, versions.first().map(|v| v.seqno)) else {
        return Ok(versions);
    };
    let operands: Vec<&[u8]> = versions
        .iter()
        .rev()
        .filter(|v| v.kind == ValueKind::Merge)
        .map(|v| v.entry.value.as_slice())
        .collect();
    let failed = || Error::MergeFailed {
        key: user_key.to_vec(),
        operator: operator.name().to_string(),
    };
    let existing = match base {
        Base::Value => versions.last().map(|v| v.entry.value.as_slice()),
        Base::Deleted | Base::Open { oldest: true } => None,
        Base::Open { oldest: false } => {
            let combined = (operands.len() >= 2)
                .then(|| operator.partial_merge(user_key, &operands))
                .flatten();
            return Ok(match combined {
                Some(value) => vec![version(user_key, newest, ValueKind::Merge, value)],
                None => versions,
            });
        }
    };
    let value = operator
        .full_merge(user_key, existing, &operands)
        .ok_or_else(failed)?;
    Ok(vec![version(user_key, newest, ValueKind::Put, value)])
}

fn version(user_key: &[u8], seqno: SeqNo, kind: ValueKind, value: Vec<u8>) -> Folded {
    let mut internal_key = Vec::with_capacity(user_key.len() + key::TRAILER_LEN);
    key::encode(user_key, seqno, kind, &mut internal_key);
    Folded {
        entry: Owned {
            key: internal_key,
            value,
        },
        seqno,
        kind,
    }
}
