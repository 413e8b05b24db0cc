//! The executor: runs one compaction from input tables to output tables.
//!
//! [`execute`] reads the input tables with [`SstReader`], merges their
//! entries ([`MergingIterator`]) through a [`CompactionStream`], and writes
//! what the stream keeps with [`SstWriter`]s, cutting a new table once the
//! current one reaches the target size *and* the user key changes (the
//! versions of one user key never straddle two tables). The range
//! tombstones the stream keeps are known only at its end, so every output
//! writer stays open until then; each gets the tombstone pieces that fall in
//! its key range, and is then finished (written under a temporary name,
//! synced, renamed, directory synced: see [`SstWriter::finish`]).
//!
//! The inputs are read as few sequences of tables that follow each other
//! as their key ranges allow (one per input run, where the inputs are
//! whole runs of non-overlapping tables), each through a [`ConcatIter`]
//! that reads one table at a time: a merge of eight runs of twenty tables
//! holds eight table cursors, not 160, and compares among eight. Given
//! paths ([`execute`]), the executor opens each input once up front for
//! its key range and range tombstones, lets it go, and opens it again when
//! the merge reaches it: it holds one reader (index, filter) per sequence,
//! not one per input.
//!
//! The output tables partition the job's key range (`lower..upper`, by
//! default the whole user-key space): table `i` answers for the keys in
//! `[lower_i, lower_(i+1))`, the first from the job's `lower`, the last to
//! its `upper`. A reader of the output run looks a key up
//! in the one table whose range holds it, and finds there every range
//! tombstone over the key, even where the table has no point entry.
//!
//! # Failure
//!
//! Any error (reading an input, writing, syncing or renaming an output)
//! leaves the inputs untouched and no output behind: unfinished writers
//! remove their temporary files, and outputs already published are
//! removed before the error is returned. The inputs are never removed by
//! the executor: the engine removes them (the [`CompactionOutcome::removed`]
//! list) once it has durably recorded the change. A crash in the middle
//! can leave output files that no record names; the engine deletes such
//! orphans when it opens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_sstable::key::{self, SeqNo};
use lsmkit_sstable::{
    ConcatIter, ConcatTable, RangeTombstone, SstOptions, SstReader, SstWriter, TableMeta,
};
use lsmkit_vfs::Fs;

use crate::filter::{CompactionFilter, FilterStats, Filtering};
use crate::stream::StreamStats;
use crate::{CompactionStream, Error, MergeOperator, MergingIterator};

/// What to compact and how.
#[derive(Clone, Debug)]
pub struct CompactionJob {
    /// The input tables: every table of the runs being merged, in any order.
    pub inputs: Vec<PathBuf>,
    /// The live snapshots (see [`CompactionStream`]).
    pub snapshots: Vec<SeqNo>,
    /// Whether the output is the oldest data (the task includes the oldest
    /// run): tombstones may then be dropped.
    pub bottommost: bool,
    /// Output tables are cut once they reach about this many bytes.
    pub target_file_size: u64,
    /// How to write the output tables.
    pub table_options: SstOptions,
    /// The first user key the outputs answer for (the first output's
    /// `lower`): empty for the whole key space. A leveled compaction
    /// writing into a stretch of a level passes the end of the table
    /// before the stretch, so that its outputs fit between the tables it
    /// leaves in place.
    pub lower: Vec<u8>,
    /// The first user key the outputs no longer answer for (the last
    /// output's `upper`); `None` for the whole key space. Range tombstones
    /// are cut at it. Every input key must lie in `[lower, upper)`.
    pub upper: Option<Vec<u8>>,
    /// The rule consulted for each value only the newest state reads, if
    /// any: see [`filter`](crate::filter) for which values it sees and how
    /// its output must be installed.
    pub filter: Option<Arc<dyn CompactionFilter>>,
    /// Folds merge operands (see [`CompactionStream::with_merge_operator`]);
    /// `None` keeps them as they are.
    pub merge_operator: Option<Arc<dyn MergeOperator>>,
}

/// One output table and the keys it answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputTable {
    /// The table as written.
    pub meta: TableMeta,
    /// The first user key it answers for; empty for the first table (it
    /// answers from the smallest key).
    pub lower: Vec<u8>,
    /// The first user key it no longer answers for (the next table's
    /// `lower`); `None` for the last table.
    pub upper: Option<Vec<u8>>,
}

/// The change a finished compaction makes: the engine records it, then
/// removes the inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// The input tables, to remove once the change is durable.
    pub removed: Vec<PathBuf>,
    /// The output tables in key order: together, the new run. Empty when
    /// nothing survived the compaction.
    pub added: Vec<OutputTable>,
    /// What the compaction stream did.
    pub stats: StreamStats,
    /// What the job's [`filter`](CompactionJob::filter) did.
    pub filter: FilterStats,
    /// The key-range parts it ran in: 1, or more from
    /// [`execute_tables_split`].
    pub parts: usize,
}

/// An output table being written, with the first user key it answers for.
struct Output {
    writer: SstWriter,
    lower: Vec<u8>,
}

/// The output tables of a job, cut as entries arrive.
struct Outputs<'a> {
    fs: &'a Arc<dyn Fs>,
    job: &'a CompactionJob,
    /// The range the outputs answer for: the job's, or a part's.
    lower: &'a [u8],
    upper: Option<&'a [u8]>,
    next_path: &'a mut dyn FnMut() -> PathBuf,
    tables: Vec<Output>,
    last_user_key: Vec<u8>,
}

impl Outputs<'_> {
    /// Adds one entry, in a new table if the current one is full and the
    /// user key changes.
    fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<(), Error> {
        let job = self.job;
        let user_key = key::user_key(internal_key);
        // No key is below an empty `lower`; and comparing with an empty
        // slice costs a microcode assist on some machines (see the
        // engine's `version::answers_for`), once per entry here.
        let below = !self.lower.is_empty() && user_key < self.lower;
        if below || self.upper.is_some_and(|u| user_key >= u) {
            return Err(Error::KeyOutOfBounds {
                key: user_key.to_vec(),
                lower: job.lower.clone(),
                upper: job.upper.clone(),
            });
        }
        if self.tables.is_empty() || user_key != self.last_user_key.as_slice() {
            let full = self
                .tables
                .last()
                .is_none_or(|o| o.writer.file_size() >= job.target_file_size);
            if full {
                let lower = if self.tables.is_empty() {
                    self.lower.to_vec()
                } else {
                    user_key.to_vec()
                };
                let path = (self.next_path)();
                let writer = SstWriter::create(self.fs.clone(), path, job.table_options.clone())?;
                self.tables.push(Output { writer, lower });
            }
            self.last_user_key.clear();
            self.last_user_key.extend_from_slice(user_key);
        }
        if let Some(out) = self.tables.last_mut() {
            out.writer.add(internal_key, value)?;
        }
        Ok(())
    }
}

/// Runs `job` on `fs`, naming each output table with `next_path` (called
/// once per output, in key order). See the [module docs](self).
pub fn execute(
    fs: &Arc<dyn Fs>,
    job: &CompactionJob,
    next_path: impl FnMut() -> PathBuf,
) -> Result<CompactionOutcome, Error> {
    let mut inputs = Vec::with_capacity(job.inputs.len());
    for path in &job.inputs {
        let reader = SstReader::open(&**fs, path.clone())?;
        // Only what the merge needs before it reads the table is kept.
        inputs.push(Input::of(
            &reader,
            AtPath {
                fs: &**fs,
                path: path.as_path(),
            },
        ));
    }
    execute_whole(fs, job, &inputs, next_path)
}

/// Runs `job` over its input tables opened already: `readers[i]` reads
/// `job.inputs[i]`. For an engine that holds its tables open (through its
/// block cache, which the compaction reads but does not fill, or at a
/// global sequence number: see
/// [`ReaderOptions::global_seqno`](lsmkit_sstable::ReaderOptions::global_seqno)).
pub fn execute_tables(
    fs: &Arc<dyn Fs>,
    job: &CompactionJob,
    readers: &[Arc<SstReader>],
    next_path: impl FnMut() -> PathBuf,
) -> Result<CompactionOutcome, Error> {
    check_readers(job, readers)?;
    execute_whole(fs, job, &open_inputs(readers), next_path)
}

/// Runs `job` as one part.
fn execute_whole<S: Source>(
    fs: &Arc<dyn Fs>,
    job: &CompactionJob,
    inputs: &[Input<S>],
    mut next_path: impl FnMut() -> PathBuf,
) -> Result<CompactionOutcome, Error> {
    let part = execute_part(fs, job, inputs, &Part::whole(job), &mut next_path)?;
    Ok(CompactionOutcome {
        removed: job.inputs.clone(),
        added: part.added,
        stats: part.stats,
        filter: part.filter,
        parts: 1,
    })
}

/// Like [`execute_tables`], but split by key range into up to
/// `subcompactions` parts of about equal size, each merged on a thread of
/// its own (RocksDB's subcompactions): a large compaction then uses more
/// than one core. The outcome is the one [`execute_tables`] would give but
/// for where the output tables are cut (also at the parts' boundaries).
/// `next_path` is called from those threads.
///
/// The boundaries are user keys from the inputs' block indexes
/// ([`SstReader::split_keys`]), so every version of a key, and so every
/// merge and shadowing decision, stays within one part. If any part fails,
/// the outputs of the others are removed too and the first error is
/// returned: as with [`execute_tables`], no output is left behind.
pub fn execute_tables_split(
    fs: &Arc<dyn Fs>,
    job: &CompactionJob,
    readers: &[Arc<SstReader>],
    subcompactions: usize,
    next_path: impl Fn() -> PathBuf + Sync,
) -> Result<CompactionOutcome, Error> {
    check_readers(job, readers)?;
    let parts = Part::split(job, readers, subcompactions);
    if parts.len() <= 1 {
        return execute_tables(fs, job, readers, next_path);
    }
    let inputs = open_inputs(readers);
    let inputs = &inputs;
    let results: Vec<Result<PartOutcome, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let next_path = &next_path;
                scope.spawn(move || execute_part(fs, job, inputs, part, &mut || next_path()))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut outcome = CompactionOutcome {
        removed: job.inputs.clone(),
        added: Vec::new(),
        stats: StreamStats::default(),
        filter: FilterStats::default(),
        parts: parts.len(),
    };
    let mut first_error = None;
    for result in results {
        match result {
            Ok(part) => {
                outcome.added.extend(part.added);
                outcome.stats.absorb(&part.stats);
                outcome.filter.absorb(&part.filter);
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        for table in &outcome.added {
            let _ = fs.remove(&table.meta.path);
        }
        return Err(error);
    }
    // Each part was given every tombstone over its range: one spanning
    // parts came in once.
    outcome.stats.range_tombstones_in = inputs.iter().map(|i| i.tombstones.len() as u64).sum();
    // A part that kept nothing has no table: its range goes to the table
    // before it (holding no key or tombstone there, a wider range answers
    // the same), so that the outputs still tile the job's range.
    let lowers: Vec<Vec<u8>> = outcome
        .added
        .iter()
        .skip(1)
        .map(|t| t.lower.clone())
        .collect();
    for (table, next_lower) in outcome.added.iter_mut().zip(lowers) {
        table.upper = Some(next_lower);
    }
    if let Some(first) = outcome.added.first_mut() {
        first.lower = job.lower.clone();
    }
    if let Some(last) = outcome.added.last_mut() {
        last.upper = job.upper.clone();
    }
    Ok(outcome)
}

fn check_readers(job: &CompactionJob, readers: &[Arc<SstReader>]) -> Result<(), Error> {
    if readers.len() != job.inputs.len() {
        return Err(Error::InvalidOption {
            option: "readers",
            what: "one reader per input table, in the order of the inputs",
        });
    }
    Ok(())
}

/// One key range of a job: the outputs answer for `[lower, upper)`, and
/// the inputs are read from `from` up to `to` (`None`: from their start,
/// to their end). The first part reads from the inputs' start and the last
/// to their end, so that an input key outside the job's range still meets
/// the bounds check of [`Outputs::add`].
#[derive(Debug)]
struct Part {
    lower: Vec<u8>,
    upper: Option<Vec<u8>>,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
}

impl Part {
    fn whole(job: &CompactionJob) -> Part {
        Part {
            lower: job.lower.clone(),
            upper: job.upper.clone(),
            from: None,
            to: None,
        }
    }

    /// Up to `parts` parts of about equal size: the inputs' split keys,
    /// each input giving a number proportional to its size, sorted, and
    /// taken at even steps.
    fn split(job: &CompactionJob, readers: &[Arc<SstReader>], parts: usize) -> Vec<Part> {
        if parts <= 1 {
            return vec![Part::whole(job)];
        }
        // Candidates per part, so that the even steps even out the sizes.
        const CANDIDATES: u64 = 8;
        let total = readers.iter().map(|r| r.file_size()).sum::<u64>().max(1);
        let budget = parts as u64 * CANDIDATES;
        let mut candidates: Vec<Vec<u8>> = readers
            .iter()
            .flat_map(|r| r.split_keys((r.file_size() * budget / total + 1) as usize))
            .filter(|k| k.as_slice() > job.lower.as_slice())
            .filter(|k| job.upper.as_ref().is_none_or(|u| k < u))
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut cuts: Vec<Vec<u8>> = (1..parts)
            .filter_map(|i| candidates.get(i * candidates.len() / parts).cloned())
            .collect();
        cuts.dedup();
        let mut out = Vec::with_capacity(cuts.len() + 1);
        let mut lower = job.lower.clone();
        let mut from = None;
        for cut in cuts {
            out.push(Part {
                lower: std::mem::replace(&mut lower, cut.clone()),
                upper: Some(cut.clone()),
                from: from.replace(cut.clone()),
                to: Some(cut),
            });
        }
        out.push(Part {
            lower,
            upper: job.upper.clone(),
            from,
            to: None,
        });
        out
    }
}

/// What one part wrote.
struct PartOutcome {
    added: Vec<OutputTable>,
    stats: StreamStats,
    filter: FilterStats,
}

/// What the merge needs of an input before it reads it: its user-key
/// range (from its properties; `None` if they have none), its range
/// tombstones, and where its reader comes from.
struct Input<S> {
    range: Option<(Vec<u8>, Vec<u8>)>,
    tombstones: Vec<RangeTombstone>,
    source: S,
}

impl<S> Input<S> {
    fn of(reader: &SstReader, source: S) -> Input<S> {
        let props = reader.properties();
        Input {
            range: props.min_user_key.clone().zip(props.max_user_key.clone()),
            tombstones: reader.range_tombstones().to_vec(),
            source,
        }
    }
}

/// Where the merge gets an input's reader when it reaches the input.
trait Source: Sync {
    fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error>;
}

/// A table held open by the caller.
impl Source for Arc<SstReader> {
    fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error> {
        Ok(Arc::clone(self))
    }
}

/// A table opened when the merge reaches it, and dropped when it moves on.
struct AtPath<'a> {
    fs: &'a dyn Fs,
    path: &'a Path,
}

impl Source for AtPath<'_> {
    fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error> {
        SstReader::open(self.fs, self.path)
    }
}

fn open_inputs(readers: &[Arc<SstReader>]) -> Vec<Input<Arc<SstReader>>> {
    readers
        .iter()
        .map(|r| Input::of(r, Arc::clone(r)))
        .collect()
}

/// Merges the inputs' entries in `part` into output tables answering for
/// the part's range.
fn execute_part<S: Source>(
    fs: &Arc<dyn Fs>,
    job: &CompactionJob,
    inputs: &[Input<S>],
    part: &Part,
    next_path: &mut dyn FnMut() -> PathBuf,
) -> Result<PartOutcome, Error> {
    // The tombstones that may cover the part's keys (one over several
    // parts is given to each; the split outcome counts it once).
    let tombstones: Vec<RangeTombstone> = inputs
        .iter()
        .flat_map(|input| input.tombstones.iter())
        .filter(|t| part.from.as_ref().is_none_or(|from| t.end > *from))
        .filter(|t| part.to.as_ref().is_none_or(|to| t.start < *to))
        .cloned()
        .collect();
    let merge = MergingIterator::new(
        sequences(inputs)
            .into_iter()
            .map(|tables| {
                ConcatIter::new(tables, part.from.as_deref(), part.to.as_deref()).fill_cache(false)
            })
            .collect(),
    );
    let mut stream = CompactionStream::new(merge, &tombstones, &job.snapshots, job.bottommost)
        .with_merge_operator(job.merge_operator.clone());

    let mut filtering = Filtering::new(job.filter.as_deref(), &job.snapshots, job.bottommost);
    // On any error below, dropping `outputs` aborts the unfinished writers.
    let mut outputs = Outputs {
        fs,
        job,
        lower: &part.lower,
        upper: part.upper.as_deref(),
        next_path,
        tables: Vec::new(),
        last_user_key: Vec::new(),
    };
    let mut sink = |key: &[u8], value: &[u8]| outputs.add(key, value);
    while let Some((internal_key, value)) = stream.next() {
        filtering.entry(internal_key, value, &mut sink)?;
    }
    let next_path = outputs.next_path;
    let mut outputs = outputs.tables;
    let (mut kept, mut stats) = stream.finish()?;
    // Only the pieces in this part's range are its to write.
    kept.retain(|t| {
        t.end.as_slice() > part.lower.as_slice() && part.upper.as_ref().is_none_or(|u| t.start < *u)
    });
    stats.range_tombstones_out = kept.len() as u64;
    if outputs.is_empty() && !kept.is_empty() {
        outputs.push(Output {
            writer: SstWriter::create(fs.clone(), next_path(), job.table_options.clone())?,
            lower: part.lower.clone(),
        });
    }
    add_tombstones(&mut outputs, &kept, part.upper.as_deref())?;

    let uppers: Vec<Option<Vec<u8>>> = outputs
        .iter()
        .skip(1)
        .map(|o| Some(o.lower.clone()))
        .chain([part.upper.clone()])
        .collect();
    let mut added: Vec<OutputTable> = Vec::with_capacity(outputs.len());
    for (out, upper) in outputs.into_iter().zip(uppers) {
        match out.writer.finish() {
            Ok(meta) => added.push(OutputTable {
                meta,
                lower: out.lower,
                upper,
            }),
            Err(error) => {
                // The writers not yet finished are dropped with the
                // iterator, which aborts them.
                for table in &added {
                    let _ = fs.remove(&table.meta.path);
                }
                return Err(error.into());
            }
        }
    }
    Ok(PartOutcome {
        added,
        stats,
        filter: filtering.stats(),
    })
}

/// An input table in a sequence of tables that follow each other: where
/// its reader comes from, and its smallest user key as the first it
/// answers for.
struct Sequenced<'a, S> {
    source: &'a S,
    lower: &'a [u8],
}

impl<S: Source> ConcatTable for Sequenced<'_, S> {
    fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error> {
        self.source.reader()
    }

    fn lower(&self) -> &[u8] {
        self.lower
    }
}

/// The tables of `readers` as few sequences as their user-key ranges
/// allow, each of tables that follow each other: the merge then reads one table of each sequence at a time
/// (one per input run, where the inputs are whole runs) instead of every
/// input table at once.
///
/// Tables in order of their smallest key each join the first sequence
/// whose last table ends below it: for intervals taken by their starts,
/// that needs as many sequences as the most ranges that share a key. The
/// ranges come from the tables' properties; a table without them (it holds
/// no point entry, or is of a writer that did not record them) reads as a
/// sequence of its own. Were the properties wrong, the merged keys would
/// come out of order, and the output writer refuses that
/// ([`lsmkit_sstable::Error::OutOfOrder`]) rather than write it.
fn sequences<S>(inputs: &[Input<S>]) -> Vec<Vec<Sequenced<'_, S>>> {
    let mut ranged: Vec<(&[u8], &[u8], &S)> = Vec::new();
    let mut sequences: Vec<Vec<Sequenced<'_, S>>> = Vec::new();
    for input in inputs {
        match &input.range {
            Some((min, max)) => ranged.push((min, max, &input.source)),
            None => sequences.push(vec![Sequenced {
                source: &input.source,
                lower: &[],
            }]),
        }
    }
    ranged.sort_by(|a, b| a.0.cmp(b.0));
    let mut ends: Vec<&[u8]> = Vec::new();
    let first = sequences.len();
    for (min, max, source) in ranged {
        let table = Sequenced { source, lower: min };
        match ends.iter().position(|end| *end < min) {
            Some(i) => {
                ends[i] = max;
                sequences[first + i].push(table);
            }
            None => {
                ends.push(max);
                sequences.push(vec![table]);
            }
        }
    }
    sequences
}

/// Gives each output the pieces of `tombstones` in its key range (the
/// last one's ends at `last_upper`).
fn add_tombstones(
    outputs: &mut [Output],
    tombstones: &[RangeTombstone],
    last_upper: Option<&[u8]>,
) -> Result<(), Error> {
    for i in 0..outputs.len() {
        let upper = outputs
            .get(i + 1)
            .map(|o| o.lower.clone())
            .or_else(|| last_upper.map(<[u8]>::to_vec));
        let out = &mut outputs[i];
        for t in tombstones {
            let start = t.start.as_slice().max(out.lower.as_slice());
            let end = match &upper {
                Some(upper) => t.end.as_slice().min(upper.as_slice()),
                None => t.end.as_slice(),
            };
            if start < end {
                out.writer
                    .add_range_tombstone(&RangeTombstone::new(start, end, t.seqno))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lsmkit_vfs::MemFs;

    /// A table holding the user keys `keys`, each at seqno 1.
    fn table(fs: &Arc<dyn Fs>, name: &str, keys: &[&str]) -> Arc<SstReader> {
        let path = PathBuf::from(format!("/{name}.sst"));
        let mut w = SstWriter::create(fs.clone(), &path, SstOptions::default()).unwrap();
        for k in keys {
            w.put(k.as_bytes(), 1, b"v").unwrap();
        }
        w.finish().unwrap();
        SstReader::open(&**fs, path).unwrap()
    }

    /// Opens its table at each call, as [`AtPath`] does, and records how
    /// many of the readers it handed out were alive at most at once.
    struct Watched<'a> {
        fs: &'a dyn Fs,
        path: PathBuf,
        opened: &'a std::sync::Mutex<Vec<std::sync::Weak<SstReader>>>,
        most: &'a std::sync::atomic::AtomicUsize,
    }

    impl Source for Watched<'_> {
        fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error> {
            let reader = SstReader::open(self.fs, &self.path)?;
            let mut opened = self.opened.lock().unwrap();
            opened.retain(|r| r.strong_count() > 0);
            opened.push(Arc::downgrade(&reader));
            self.most
                .fetch_max(opened.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(reader)
        }
    }

    #[test]
    fn inputs_given_by_path_are_read_one_table_per_sequence_at_a_time() {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        // Two runs of six tables, interleaved: two sequences.
        let mut readers = Vec::new();
        for run in ["a", "b"] {
            for t in 0..6 {
                let keys: Vec<String> = (0..4).map(|k| format!("k{t}{k}{run}")).collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                readers.push(table(&fs, &format!("{run}{t}"), &keys));
            }
        }
        let opened = std::sync::Mutex::new(Vec::new());
        let most = std::sync::atomic::AtomicUsize::new(0);
        let inputs: Vec<Input<Watched<'_>>> = readers
            .iter()
            .map(|r| {
                Input::of(
                    r,
                    Watched {
                        fs: &*fs,
                        path: r.path().to_path_buf(),
                        opened: &opened,
                        most: &most,
                    },
                )
            })
            .collect();
        let job = CompactionJob {
            inputs: readers.iter().map(|r| r.path().to_path_buf()).collect(),
            snapshots: Vec::new(),
            bottommost: true,
            target_file_size: 1 << 20,
            table_options: SstOptions::default(),
            lower: Vec::new(),
            upper: None,
            filter: None,
            merge_operator: None,
        };
        let mut n = 0;
        let mut next_path = || {
            n += 1;
            PathBuf::from(format!("/out{n}.sst"))
        };
        let part = execute_part(&fs, &job, &inputs, &Part::whole(&job), &mut next_path).unwrap();
        assert_eq!(part.added.len(), 1);
        let out = SstReader::open(&*fs, &part.added[0].meta.path).unwrap();
        assert_eq!(out.properties().num_entries, 48);
        assert_eq!(most.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn tables_form_as_few_sequences_as_their_ranges_allow() {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        // Two runs of three tables and one of one, interleaved: at most
        // three ranges share a key ("a0"), and a table without keys.
        let readers = vec![
            table(&fs, "a1", &["a", "b"]),
            table(&fs, "b1", &["a0", "c"]),
            table(&fs, "a2", &["d", "e"]),
            table(&fs, "c1", &["a", "z"]),
            table(&fs, "b2", &["d0", "f"]),
            table(&fs, "a3", &["g"]),
            table(&fs, "b3", &["g0"]),
            table(&fs, "empty", &[]),
        ];
        let inputs = open_inputs(&readers);
        let names: Vec<Vec<String>> = sequences(&inputs)
            .iter()
            .map(|s| {
                s.iter()
                    .map(|t| t.source.path().display().to_string())
                    .collect()
            })
            .collect();
        // First fit by smallest key: "b3" follows "a3" in the first
        // sequence, as "g0" follows "g".
        assert_eq!(
            names,
            [
                vec!["/empty.sst"],
                vec!["/a1.sst", "/a2.sst", "/a3.sst", "/b3.sst"],
                vec!["/c1.sst"],
                vec!["/b1.sst", "/b2.sst"],
            ]
        );
    }
}
