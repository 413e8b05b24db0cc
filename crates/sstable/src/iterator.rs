//! The one iterator contract of lsmkit's sorted sources.
//!
//! Tables, memtables and merging iterators are cursors over entries in
//! internal-key order (see [`crate::key`]). A cursor is positioned by one of
//! the `seek*` methods, moved by `next`/`prev`, and read by `key`/`value`
//! while `valid()` is true. It composes: a merging iterator holds any number
//! of `Box<dyn InternalIterator>` and is one itself.
//!
//! Errors: a cursor that fails to read (an I/O error, a corrupt block)
//! becomes invalid and keeps the first error, which `status()` returns from
//! then on. A loop must therefore check `status()` once `valid()` turns
//! false: an exhausted cursor and a failed one look alike until it does.
//!
//! ```text
//! it.seek_to_first();
//! while it.valid() { use(it.key(), it.value()); it.next(); }
//! it.status()?;
//! ```

use crate::Error;

/// A cursor over entries in internal-key order. See the [module docs](self).
pub trait InternalIterator: Send {
    /// Whether the cursor is on an entry.
    fn valid(&self) -> bool;

    /// Positions on the first entry (invalid when there is none).
    fn seek_to_first(&mut self);

    /// Positions on the last entry (invalid when there is none).
    fn seek_to_last(&mut self);

    /// Positions on the first entry whose key is `>= target` in internal-key
    /// order (invalid when there is none). `target` is an internal key, for
    /// example one made by [`crate::key::encode_seek`].
    fn seek(&mut self, target: &[u8]);

    /// Moves to the next entry. REQUIRES: `valid()`.
    fn next(&mut self);

    /// Moves to the previous entry. REQUIRES: `valid()`.
    fn prev(&mut self);

    /// The current entry's internal key. REQUIRES: `valid()`.
    fn key(&self) -> &[u8];

    /// The current entry's value. REQUIRES: `valid()`.
    fn value(&self) -> &[u8];

    /// The first error this cursor met, if any.
    fn status(&self) -> Result<(), Error>;
}

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn seek_to_first(&mut self) {
        (**self).seek_to_first()
    }
    fn seek_to_last(&mut self) {
        (**self).seek_to_last()
    }
    fn seek(&mut self, target: &[u8]) {
        (**self).seek(target)
    }
    fn next(&mut self) {
        (**self).next()
    }
    fn prev(&mut self) {
        (**self).prev()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn status(&self) -> Result<(), Error> {
        (**self).status()
    }
}
