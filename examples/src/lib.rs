//! What lsmkit's example engines share: a way to fail loudly.
//!
//! The examples in `examples/` are small storage engines, each built from a
//! different subset of lsmkit's crates. CI runs every one of them, so each
//! checks its own results and exits with an error on a mismatch rather than
//! only printing them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt::Debug;

/// The error an example returns: anything boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Fails with a message naming `what`, `expected` and `found` unless they
/// are equal.
pub fn check_eq<T: PartialEq + Debug>(what: &str, found: T, expected: T) -> Result<(), Error> {
    if found == expected {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, found {found:?}").into())
    }
}

/// Fails with `what` unless `condition` holds.
pub fn check(what: &str, condition: bool) -> Result<(), Error> {
    if condition {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}
