//! Opening a database: lock it, read the manifest, open its tables, replay
//! the WAL batches not yet flushed, write a fresh manifest, and delete the
//! files no version references. The reading half ([`read`]) writes
//! nothing, and is shared with the read-only open (`read_only`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use lsmkit_memtable::Memtable;
use lsmkit_sstable::{BlockCache, ReaderOptions, SeqNo, SstReader};
use lsmkit_vfs::{FileLock, Fs};
use lsmkit_wal::{RecoveryMode, SyncPolicy, WalOptions, WalReader};

use crate::background::Background;
use crate::db::{Inner, WriteState, apply_batch};
use crate::error::{Error, Result};
use crate::format::{self, FileKind, LOCK, TableRecord, WAL_DIR};
use crate::keyspace::{Tree, Trees};
use crate::manifest::{Manifest, ManifestState, RecoveredManifest};
use crate::options::Options;
use crate::snapshot::SnapshotList;
use crate::stats::Counters;
use crate::table_deletions::TableDeletions;
use crate::version::{Frozen, Run, Table, Version, overlapping};

/// One keyspace as recovered: its tables, and its WAL ops above its
/// flushed sequence number in a memtable.
pub(crate) struct RecoveredTree {
    pub id: u64,
    pub name: String,
    /// The database's options with the keyspace's own
    /// ([`Options::keyspace`]) applied.
    pub options: Options,
    /// Newest first (see `version`).
    pub runs: Vec<Arc<Run>>,
    pub mem: Memtable,
    /// The sequence number of the first batch replayed into `mem`.
    pub mem_first: Option<SeqNo>,
}

impl RecoveredTree {
    /// The tree, its memtable frozen when it is already full, and the
    /// first sequence number in its mutable memtable, if that holds any.
    pub fn into_tree(self, last_seqno: SeqNo) -> Result<(Tree, Option<SeqNo>)> {
        crate::merge::check_operator(&self.runs, self.options.merge_operator.as_deref())?;
        let mut mutable_first = self.mem_first;
        let version = match self.mem_first {
            Some(first) if self.mem.approximate_memory() >= self.options.write_buffer_size => {
                mutable_first = None;
                self.mem.freeze();
                Version {
                    mem: Arc::new(Memtable::new()),
                    frozen: vec![Arc::new(Frozen {
                        mem: Arc::new(self.mem),
                        first_seqno: first,
                        last_seqno,
                    })],
                    runs: self.runs,
                }
            }
            _ => Version {
                mem: Arc::new(self.mem),
                frozen: Vec::new(),
                runs: self.runs,
            },
        };
        Ok((
            Tree::new(self.id, self.name, self.options, version),
            mutable_first,
        ))
    }
}

/// What a database directory holds, read without changing anything: the
/// manifest's state with its tables open, and the WAL batches above the
/// flushed sequence number replayed into the keyspaces' memtables.
pub(crate) struct Recovered {
    /// The directory's engine files, by name.
    pub files: Vec<(String, FileKind)>,
    pub state: ManifestState,
    /// The number of the manifest CURRENT names, if there is one.
    pub manifest: Option<u64>,
    /// The lowest file number neither the manifest nor a file name uses.
    pub next_file: u64,
    pub reader_options: ReaderOptions,
    /// The default keyspace first, then the others by id.
    pub trees: Vec<RecoveredTree>,
    /// The newest sequence number recovered (tables or WAL).
    pub last_seqno: SeqNo,
    /// Per WAL segment, the largest sequence number of a batch in it.
    pub segment_max: BTreeMap<u64, SeqNo>,
    /// The WAL reader, every record read.
    pub wal: WalReader,
}

/// Reads the database in `dir` as `manifest` describes it, replaying the
/// WAL under `mode` (`beside_writer`: a writer may still be appending to
/// it, see [`WalReader::beside_writer`]). Makes no mutating filesystem
/// call.
pub(crate) fn read(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    options: &Options,
    manifest: Option<RecoveredManifest>,
    mode: RecoveryMode,
    beside_writer: bool,
) -> Result<Recovered> {
    let names = fs.list(dir).map_err(|e| Error::io(dir, e))?;
    let files: Vec<(String, FileKind)> = names
        .into_iter()
        .filter_map(|name| format::parse_file_name(&name).map(|kind| (name, kind)))
        .collect();
    let (state, old_manifest) = match manifest {
        Some(recovered) => (recovered.state, Some(recovered.number)),
        None => {
            if let Some((name, _)) = files.iter().find(|(_, k)| matches!(k, FileKind::Table(_))) {
                return Err(Error::corruption(
                    dir.join(format::CURRENT),
                    0,
                    "CURRENT",
                    format!("missing, but the directory holds table {name}"),
                ));
            }
            (ManifestState::default(), None)
        }
    };
    // Numbers of files a crash left unrecorded are never handed out again.
    let highest = files
        .iter()
        .filter_map(|(name, kind)| match kind {
            FileKind::Table(n) | FileKind::Manifest(n) => Some((*n, name)),
            _ => None,
        })
        .max();
    let after_highest = match highest {
        None => 0,
        Some((n, name)) => n.checked_add(1).ok_or_else(|| {
            Error::corruption(
                dir.join(name),
                0,
                "file name",
                "its number leaves none to hand out after it",
            )
        })?,
    };
    let next_file = state.next_file_number.max(after_highest).max(1);

    let reader_options = match options.block_cache_size {
        0 => ReaderOptions::default(),
        bytes => ReaderOptions::default().block_cache(Arc::new(BlockCache::new(bytes))),
    };
    let manifest_path = dir.join(match old_manifest {
        Some(number) => format::manifest_file_name(number),
        None => format::CURRENT.to_string(),
    });
    let keyspaces = std::iter::once((
        format::DEFAULT_KEYSPACE,
        crate::keyspace::DEFAULT_KEYSPACE_NAME.to_string(),
    ))
    .chain(state.keyspaces.iter().map(|(id, name)| (*id, name.clone())));
    let mut trees = Vec::with_capacity(state.keyspaces.len() + 1);
    for (id, name) in keyspaces {
        // A keyspace without options of its own takes the database's.
        let tree_options = options
            .keyspaces
            .get(&name)
            .cloned()
            .unwrap_or_default()
            .apply(options)?;
        trees.push(RecoveredTree {
            runs: open_runs(&**fs, dir, &manifest_path, &state, id, &reader_options)?,
            id,
            name,
            options: tree_options,
            mem: Memtable::new(),
            mem_first: None,
        });
    }

    // Replay the WAL batches that no table holds.
    let wal_dir = dir.join(WAL_DIR);
    let mut reader = WalReader::open(Arc::clone(fs), &wal_dir, mode)?;
    if beside_writer {
        reader = reader.beside_writer();
    }
    // Writes resume after what was recovered, not after the manifest's
    // `last_seqno`, which may count writes a crash lost: a gap left in the
    // sequence numbers would look like a lost record at the next open.
    // No table holds a sequence number above its keyspace's flushed one.
    let mut last_seqno = trees
        .iter()
        .map(|t| state.flushed_of(t.id))
        .max()
        .unwrap_or(state.flushed_seqno);
    // The sequence number the next replayed batch must start at: every
    // write after the flushed ones is in the WAL, in order, so a batch
    // starting above it means a record before it was lost (a WAL segment
    // or a manifest edit whose synced data the disk did not keep).
    let mut expected = state.flushed_seqno + 1;
    let mut segment_max: BTreeMap<u64, u64> = BTreeMap::new();
    for record in reader.by_ref() {
        let record = record?;
        let path = wal_dir.join(lsmkit_wal::format::segment_file_name(
            record.position.segment,
        ));
        let at = |offset: usize| record.position.offset + offset as u64;
        let batch = format::decode_batch(&record.data)
            .map_err(|e| Error::corruption(&path, at(e.offset), "write batch", e.what))?;
        let Some(batch_last) = (batch.seqno + batch.ops.len() as u64).checked_sub(1) else {
            continue;
        };
        let max = segment_max.entry(record.position.segment).or_default();
        *max = (*max).max(batch_last);
        if batch_last <= state.flushed_seqno {
            continue;
        }
        if batch.seqno > expected && mode != RecoveryMode::SkipCorrupted {
            return Err(Error::corruption(
                &path,
                at(0),
                "write batch",
                format!(
                    "starts at sequence number {}, but the writes {expected}..{} are in no \
                     table and no earlier WAL record: a synced write was lost",
                    batch.seqno,
                    batch.seqno - 1
                ),
            ));
        }
        if batch.seqno < expected {
            return Err(Error::corruption(
                &path,
                at(0),
                "write batch",
                format!(
                    "sequence numbers {}..={batch_last} overlap ones already recovered",
                    batch.seqno
                ),
            ));
        }
        let mut unknown = None;
        let mut touched: Vec<u64> = Vec::new();
        apply_batch(&batch, |keyspace, seqno| {
            let Some(tree) = trees.iter().find(|t| t.id == keyspace) else {
                // Ids come from the file-number counter: one below it
                // that the manifest no longer lists was dropped.
                if keyspace >= state.next_file_number {
                    unknown.get_or_insert(keyspace);
                }
                return None;
            };
            if seqno <= state.flushed_of(keyspace) {
                return None;
            }
            if !touched.contains(&keyspace) {
                touched.push(keyspace);
            }
            Some(&tree.mem)
        })?;
        if let Some(keyspace) = unknown {
            return Err(Error::corruption(
                &path,
                at(0),
                "write batch",
                format!("writes to keyspace {keyspace}, which the manifest never created"),
            ));
        }
        for tree in trees.iter_mut().filter(|t| touched.contains(&t.id)) {
            tree.mem_first.get_or_insert(batch.seqno);
        }
        last_seqno = last_seqno.max(batch_last);
        expected = batch_last + 1;
    }
    Ok(Recovered {
        files,
        state,
        manifest: old_manifest,
        next_file,
        reader_options,
        trees,
        last_seqno,
        segment_max,
        wal: reader,
    })
}

/// Opens (creating or recovering) the database in `dir`.
pub(crate) fn open(dir: &Path, options: Options) -> Result<(Inner, Box<dyn FileLock>)> {
    options.validate()?;
    let fs = Arc::clone(&options.fs);
    fs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock_path = dir.join(LOCK);
    let lock = fs.lock(&lock_path).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => Error::Locked {
            path: dir.to_path_buf(),
        },
        _ => Error::io(&lock_path, e),
    })?;
    let manifest = RecoveredManifest::read(&*fs, dir)?;
    let Recovered {
        files,
        mut state,
        manifest: old_manifest,
        next_file,
        reader_options,
        trees,
        last_seqno,
        mut segment_max,
        wal: reader,
    } = read(
        &fs,
        dir,
        &options,
        manifest,
        options.wal_recovery_mode,
        false,
    )?;
    let next_file = Arc::new(AtomicU64::new(next_file));

    let wal_options = WalOptions {
        segment_size: options.write_buffer_size as u64,
        sync: if options.manual_wal_flush {
            SyncPolicy::Buffered
        } else {
            SyncPolicy::Never
        },
        preallocate: options.wal_preallocate,
    };
    let (wal, _report) = reader.into_wal(wal_options)?;

    state.last_seqno = last_seqno;
    let flushed_seqno = state.flushed_seqno;
    let live_tables: Vec<u64> = state.tables.keys().copied().collect();
    let manifest = Manifest::create(
        Arc::clone(&fs),
        dir,
        state,
        Arc::clone(&next_file),
        options.max_manifest_size,
        old_manifest,
    )?;
    remove_orphans(&*fs, dir, &files, &live_tables, manifest.number())?;
    let keep = wal
        .segments()
        .into_iter()
        .find(|s| segment_max.get(s).is_some_and(|&max| max > flushed_seqno))
        .unwrap_or_else(|| wal.current_segment());
    wal.remove_segments_before(keep)?;
    segment_max.retain(|&s, _| s >= keep);

    let mut mem_first = BTreeMap::new();
    let mut built = Vec::with_capacity(trees.len());
    for tree in trees {
        let (tree, first) = tree.into_tree(last_seqno)?;
        if let Some(first) = first {
            mem_first.insert(tree.id, first);
        }
        built.push(Arc::new(tree));
    }
    let default = built.remove(0);
    let inner = Inner {
        fs,
        dir: dir.to_path_buf(),
        reader_options,
        wal,
        write: Mutex::new(WriteState {
            last_seqno,
            mem_first,
            segment_max,
        }),
        visible: AtomicU64::new(last_seqno),
        trees: Trees::new(default, built),
        manifest: Mutex::new(manifest),
        next_file,
        snapshots: SnapshotList::default(),
        table_deletions: TableDeletions::default(),
        bg: Background::default(),
        counters: Counters::default(),
        options,
    };
    Ok((inner, lock))
}

/// Opens every table the manifest lists and groups them into runs, newest
/// first; two tables of a run that overlap are a corruption of `manifest`.
fn open_runs(
    fs: &dyn Fs,
    dir: &Path,
    manifest: &Path,
    state: &ManifestState,
    keyspace: u64,
    reader_options: &ReaderOptions,
) -> Result<Vec<Arc<Run>>> {
    let mut by_run: BTreeMap<u64, Vec<Arc<Table>>> = BTreeMap::new();
    for record in state.tables.values().filter(|t| t.keyspace == keyspace) {
        let path = dir.join(format::table_file_name(record.number));
        let options = match record.global_seqno {
            Some(seqno) => reader_options.clone().global_seqno(seqno),
            None => reader_options.clone(),
        };
        let reader =
            SstReader::open_with(fs, &path, options).map_err(|source| Error::MissingTable {
                number: record.number,
                source,
            })?;
        by_run.entry(record.run).or_default().push(Arc::new(Table {
            record: record.clone(),
            reader,
        }));
    }
    let corrupt = |what: String| Error::corruption(manifest, 0, "manifest", what);
    let mut runs = Vec::with_capacity(by_run.len());
    for (run_id, tables) in by_run {
        let run = Run::new(tables);
        let records: Vec<&TableRecord> = run.tables.iter().map(|t| &t.record).collect();
        if let Some((a, b)) = overlapping(&records) {
            return Err(corrupt(format!(
                "tables {a} and {b} of run {run_id} overlap"
            )));
        }
        if let Some(t) = records.iter().find(|t| t.level != run.level) {
            return Err(corrupt(format!(
                "table {} of run {run_id} is at level {}, the run at level {}",
                t.number, t.level, run.level
            )));
        }
        runs.push(Arc::new(run));
    }
    // The L0 (or tiered) runs, newest first by their disjoint sequence
    // numbers, then the levels, level 1 first: see `version`.
    runs.sort_by_key(|r| (r.level, std::cmp::Reverse(r.max_seqno)));
    if let Some(pair) = runs
        .windows(2)
        .find(|p| p[0].level > 0 && p[0].level == p[1].level)
    {
        return Err(corrupt(format!(
            "runs {} and {} are both level {}",
            pair[0].id, pair[1].id, pair[0].level
        )));
    }
    if let Some(what) = seqno_disorder(&runs, state.last_seqno, state.flushed_of(keyspace)) {
        return Err(corrupt(what));
    }
    Ok(runs)
}

/// How the runs' sequence numbers (`runs` sorted as `open_runs` sorts
/// them) break the ordering invariant of `version`, if they do: a lookup
/// that stops at the first run answering would then return an older
/// version of a key, and a WAL replayed after `flushed_seqno` would reuse
/// sequence numbers a table holds.
///
/// - No table holds a sequence number above the manifest's last or
///   flushed sequence number.
/// - Each level-0 (tiered or L0) run holds only sequence numbers above
///   every older level-0 run's.
/// - The oldest level-0 run's are above every level's: L0 compacts all of
///   its runs at once, so whatever reached a level is older than every
///   run flushed since. Levels are not ordered against each other (a
///   level's tables cover no common range of sequence numbers).
fn seqno_disorder(runs: &[Arc<Run>], last: SeqNo, flushed: SeqNo) -> Option<String> {
    let tables = runs.iter().flat_map(|r| r.tables.iter());
    for (bound, name) in [(last, "last"), (flushed, "flushed")] {
        if let Some(t) = tables.clone().find(|t| t.record.max_seqno > bound) {
            return Some(format!(
                "table {} holds sequence numbers up to {}, above the manifest's {name} \
                 sequence number {bound}",
                t.record.number, t.record.max_seqno
            ));
        }
    }
    let l0 = runs.iter().take_while(|r| r.level == 0).count();
    let describe = |r: &Run| {
        format!(
            "run {} (level {}, sequence numbers {}..={})",
            r.id, r.level, r.min_seqno, r.max_seqno
        )
    };
    if let Some(pair) = runs[..l0]
        .windows(2)
        .find(|p| p[0].min_seqno <= p[1].max_seqno)
    {
        return Some(format!(
            "{} is newer than {} but does not hold only higher sequence numbers",
            describe(&pair[0]),
            describe(&pair[1])
        ));
    }
    let oldest_l0 = l0.checked_sub(1).map(|i| &runs[i])?;
    let newest_level = runs[l0..].iter().max_by_key(|r| r.max_seqno)?;
    (newest_level.max_seqno >= oldest_l0.min_seqno).then(|| {
        format!(
            "level-0 {} does not hold only sequence numbers above {}",
            describe(oldest_l0),
            describe(newest_level)
        )
    })
}

/// Removes the files of the database directory that no version
/// references: unrecorded or retired tables, unfinished tables, old
/// manifests, an unfinished CURRENT.
fn remove_orphans(
    fs: &dyn Fs,
    dir: &Path,
    files: &[(String, FileKind)],
    live_tables: &[u64],
    manifest: u64,
) -> Result<()> {
    let mut removed = false;
    for (name, kind) in files {
        let orphan = match kind {
            FileKind::Table(n) => live_tables.binary_search(n).is_err(),
            FileKind::Manifest(n) => *n != manifest,
            FileKind::TableTmp | FileKind::CurrentTmp => true,
        };
        if orphan {
            let path = dir.join(name);
            match fs.remove(&path) {
                Ok(()) => removed = true,
                // Already gone (the previous manifest, removed just now).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
    if removed {
        fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}
