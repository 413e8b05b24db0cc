//! [`Progress`]: how far a reader that ends at its first error has got.

use crate::error::Error;

/// Where a reader that yields `Result`s one step at a time stands: it
/// returns nothing more once it has finished or failed, so an error is
/// reported once and never followed by records read past the damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Reading,
    Finished,
    Failed,
}

impl Progress {
    /// Takes the outcome of one step and turns it into the iterator's
    /// item: `Ok(None)` finishes the reader, an error fails it.
    ///
    /// REQUIRES: `self` is [`Progress::Reading`]; callers check before
    /// they take the step.
    pub(crate) fn settle<T>(&mut self, step: Result<Option<T>, Error>) -> Option<Result<T, Error>> {
        match step {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                *self = Progress::Finished;
                None
            }
            Err(error) => {
                *self = Progress::Failed;
                Some(Err(error))
            }
        }
    }
}
